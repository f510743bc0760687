//! A request's JSON body, read the way the OpenAPI document describes it.
//! JSON Schema calls `14655.0` an integer, so a whole-number float (within
//! ±2^53) is taken where an integer is expected; a string never holds U+0000 (PostgreSQL's
//! text cannot store it, and no station sends it), so one anywhere in the
//! body is a `400`. Every refusal is an [`ApiError`] with the district's
//! time: `bad_request` (400) for a body that is not JSON of the route's
//! schema or comes without `Content-Type: application/json`, `too_large`
//! (413) past [`MAX_BODY`].

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::{Number, Value};

use crate::server::ApiError;

/// The largest request body taken: a batch of results or a stock report
/// is a few kilobytes; anything near this is not a station speaking.
pub const MAX_BODY: usize = 1024 * 1024;

/// A route's body, parsed as above.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mut value = match Json::<Value>::from_request(req, state).await {
            Ok(Json(v)) => v,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => return Err(bad_request(e.body_text())),
        };
        if holds_nul(&value) {
            return Err(bad_request("a string holds U+0000".into()));
        }
        whole_floats_to_integers(&mut value);
        serde_path_to_error::deserialize(value).map(Body).map_err(|e| bad_request(format!("{}: {}", e.path(), e.inner())))
    }
}

/// Reads a request's whole body (up to [`MAX_BODY`]) before any answer
/// is given. An answer given while the client still sends (a `401` for a
/// missing token, a `413` for a body past the bound) closes the
/// connection under it, and the client sees a broken pipe instead of the
/// answer (schemathesis did, once in a few runs, on `/v1/results` without
/// a token; the suite did on a `413`). So a body past the bound is read
/// on and thrown away, up to [`DRAIN_LIMIT`] and for at most
/// [`DRAIN_TIME`], and then refused; past those the connection is closed
/// unanswered: no station sends that much.
pub async fn read_first(req: Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = req.into_parts();
    let mut body = body;
    let mut taken = Vec::new();
    let mut read = 0usize;
    let started = tokio::time::Instant::now();
    loop {
        let frame = match tokio::time::timeout_at(started + DRAIN_TIME, http_body_util::BodyExt::frame(&mut body)).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => break,
            Ok(Some(Err(e))) => return bad_request(format!("the body could not be read: {e}")).into_response(),
            Err(_) => return closing(bad_request(format!("the body did not arrive within {} s", DRAIN_TIME.as_secs()))),
        };
        let Ok(data) = frame.into_data() else { continue };
        read = read.saturating_add(data.len());
        if read > DRAIN_LIMIT {
            return closing(too_large());
        }
        if read <= MAX_BODY {
            taken.extend_from_slice(&data);
        }
    }
    if read > MAX_BODY {
        return too_large().into_response();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(taken))).await
}

/// How much of a body past [`MAX_BODY`] is read (and thrown away) so its
/// sender hears the `413`.
pub const DRAIN_LIMIT: usize = 4 * MAX_BODY;

/// How long a body may take to arrive: a megabyte is well under a second
/// on an office's line; a body that trickles holds a connection.
pub const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(30);

/// An answer after which the connection is closed: the body is too
/// large or too slow to be read through.
fn closing(e: ApiError) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut r = e.into_response();
    r.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    r
}

fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("request bodies are at most {MAX_BODY} bytes"))
}

fn bad_request(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
}

/// Whether any string or key in `v` holds U+0000.
fn holds_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Floats at most this far from zero are whole exactly when their text is:
/// every integer up to 2^53 is a float of its own, so no rounding of the
/// text can make one up. (Beyond it, `-9223372036854775809` would read as
/// `i64::MIN`.)
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// Rewrites each float with no fraction within ±2^53 (`3215.0`,
/// `-82975367312.0`) as that integer; other numbers stay as they are and
/// meet the type's own check.
fn whole_floats_to_integers(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(whole) = n.as_f64().filter(|f| n.is_f64() && f.abs() <= EXACT_INTEGERS && f.fract() == 0.0) {
                // The float's own digits, so no cast can round them.
                let digits = format!("{whole:.0}");
                if let Some(i) = digits.parse::<i64>().ok().map(Number::from).or_else(|| digits.parse::<u64>().ok().map(Number::from)) {
                    *n = i;
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_floats_to_integers),
        Value::Object(m) => m.values_mut().for_each(whole_floats_to_integers),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_floats_become_integers_and_fractions_stay() {
        let mut v: Value =
            serde_json::from_str(r#"{"a": 3215.0, "b": [-82975367312.0, 1.5, 7], "c": 1e300, "d": 18446744073709551615.0}"#).expect("json");
        whole_floats_to_integers(&mut v);
        assert_eq!(v["a"], Value::from(3215));
        assert_eq!(v["b"], serde_json::json!([-82975367312_i64, 1.5, 7]));
        assert!(v["c"].is_f64(), "out of every integer's range: {}", v["c"]);
        assert!(v["d"].is_f64(), "{}", v["d"]);
    }

    #[test]
    fn an_integer_past_i64_is_not_rounded_into_range() {
        let mut v: Value = serde_json::from_str(r#"{"a": -9223372036854775809, "b": 4365738469235422.0}"#).expect("json");
        whole_floats_to_integers(&mut v);
        assert!(v["a"].is_f64(), "read as a float, and not made i64::MIN: {}", v["a"]);
        assert_eq!(v["b"], Value::from(4_365_738_469_235_422_i64), "read exactly (serde_json's float_roundtrip)");
    }

    #[test]
    fn a_nul_anywhere_is_found() {
        for text in [r#"{"a": "x\u0000"}"#, r#"{"a": [{"k\u0000": 1}]}"#, r#"["\u0000"]"#] {
            assert!(holds_nul(&serde_json::from_str(text).expect("json")), "{text}");
        }
        assert!(!holds_nul(&serde_json::json!({"a": ["b", {"c": 0}]})));
    }
}
