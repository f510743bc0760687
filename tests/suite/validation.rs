//! PRR validation against the samples, with the expected codes kept here.

use base64::Engine;
use cetak_model::{validate, RawPrr, Severity};
use serde_json::Value;

use crate::support::sample_lines;

fn today() -> time::Date {
    time::macros::date!(2026 - 11 - 23)
}

fn check(v: &Value) -> cetak_model::Validation {
    validate(&RawPrr::from_value(v.clone()).expect("object"), today())
}

/// Each broken sample: the code and field of the reason recorded.
const EXPECTED: &[(&str, &str, &str, Severity)] = &[
    ("prr-1809-000000-bad", "nik.length", "nik", Severity::Invalid),
    ("prr-1771-000001-bad", "nik.birth_date_mismatch", "nik", Severity::NeedsApproval),
    ("prr-1809-000002-bad", "foto.missing", "foto_jpeg_base64", Severity::Invalid),
    ("prr-1771-000003-bad", "foto.not_jpeg", "foto_jpeg_base64", Severity::Invalid),
    ("prr-3276-000004-bad", "tanggal_lahir.impossible", "tanggal_lahir", Severity::Invalid),
    ("prr-7309-000005-bad", "nama.empty", "nama", Severity::Invalid),
    ("prr-7309-000006-bad", "request_type.unknown", "request_type", Severity::Invalid),
    ("prr-1771-000012-bad", "kode_wilayah.format", "kode_wilayah", Severity::Invalid),
];

#[test]
fn every_invalid_sample_gets_its_code_and_field() {
    let lines = sample_lines("prr-invalid.jsonl");
    assert_eq!(lines.len(), EXPECTED.len());
    for line in lines {
        let v: Value = serde_json::from_str(&line).expect("json");
        let id = v["job_id"].as_str().expect("id").to_string();
        let (_, code, field, sev) = EXPECTED.iter().find(|e| e.0 == id).unwrap_or_else(|| panic!("{id} not in the table"));
        let r = check(&v);
        let reason = r.reason().unwrap_or_else(|| panic!("{id} passed validation"));
        assert_eq!((reason.code.as_str(), reason.field, reason.severity), (*code, *field, *sev), "{id}: {:?}", r.findings);
        assert_eq!(r.prr.is_some(), *sev == Severity::NeedsApproval, "{id}: a typed PRR only when nothing is invalid");
    }
}

#[test]
fn every_valid_sample_passes_with_no_finding() {
    for line in sample_lines("prr-valid.jsonl") {
        let v: Value = serde_json::from_str(&line).expect("json");
        let r = check(&v);
        assert!(r.findings.is_empty(), "{}: {:?}", v["job_id"], r.findings);
        assert!(r.prr.is_some());
    }
}

fn a_valid_sample() -> Value {
    serde_json::from_str(&sample_lines("prr-valid.jsonl")[1]).expect("json")
}

fn reason_of(v: &Value) -> (String, &'static str) {
    let r = check(v);
    let f = r.reason().unwrap_or_else(|| panic!("passed: {:?}", r.findings)).clone();
    (f.code, f.field)
}

fn jpeg(w: u32, h: u32, noise: bool) -> Vec<u8> {
    let mut seed = 12345u32;
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        if noise {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let b = (seed >> 16) as u8;
            image::Rgb([b, b.wrapping_mul(3), b.wrapping_mul(7)])
        } else {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 40])
        }
    });
    let mut out = Vec::new();
    img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 100)).expect("encode");
    out
}

fn with_photo(bytes: &[u8]) -> Value {
    let mut v = a_valid_sample();
    v["card"]["foto_jpeg_base64"] = Value::from(base64::engine::general_purpose::STANDARD.encode(bytes));
    v
}

#[test]
fn a_truncated_jpeg_is_corrupt() {
    let good = jpeg(200, 250, false);
    let v = with_photo(&good[..good.len() / 2]);
    assert_eq!(reason_of(&v), ("foto.corrupt".into(), "foto_jpeg_base64"));
    assert!(check(&with_photo(&good)).findings.is_empty(), "the untruncated photo is fine");
}

#[test]
fn an_oversized_jpeg_is_refused() {
    // Too many pixels a side.
    let big = jpeg(1600, 300, false);
    assert!(big.len() < 256 * 1024, "made to be small in bytes: {}", big.len());
    assert_eq!(reason_of(&with_photo(&big)), ("foto.dimensions".into(), "foto_jpeg_base64"));
    // Too many bytes.
    let heavy = jpeg(900, 900, true);
    assert!(heavy.len() > 256 * 1024, "made to be large in bytes: {}", heavy.len());
    assert_eq!(reason_of(&with_photo(&heavy)), ("foto.too_large".into(), "foto_jpeg_base64"));
    // Too small.
    assert_eq!(reason_of(&with_photo(&jpeg(60, 80, false))), ("foto.dimensions".into(), "foto_jpeg_base64"));
}

#[test]
fn more_rules_each_with_a_code() {
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Mutation, &str, &str)> = vec![
        (Box::new(|v| v["priority"] = "urgent".into()), "priority_reason.missing", "priority_reason"),
        (Box::new(|v| v["priority"] = "segera".into()), "priority.unknown", "priority"),
        (Box::new(|v| v["card"]["tanggal_lahir"] = "2030-01-01".into()), "tanggal_lahir.future", "tanggal_lahir"),
        (Box::new(|v| v["card"]["tanggal_terbit"] = "1901-01-01".into()), "tanggal_terbit.before_birth", "tanggal_terbit"),
        (Box::new(|v| v["card"]["nama"] = "A\u{7}B".into()), "nama.control_char", "nama"),
        (Box::new(|v| v["card"]["nama"] = "X".repeat(61).into()), "nama.too_long", "nama"),
        (Box::new(|v| v["card"]["alamat"] = "X".repeat(121).into()), "alamat.too_long", "alamat"),
        (Box::new(|v| v["card"]["berlaku_hingga"] = "SELAMANYA".into()), "berlaku_hingga.format", "berlaku_hingga"),
        (Box::new(|v| v["card"]["nik"] = "32760203050A9076".into()), "nik.digits", "nik"),
        (Box::new(|v| v["card"]["nik"] = "3276023305060001".into()), "nik.birth_date", "nik"),
        (Box::new(|v| v["card"]["tanda_tangan_png_base64"] = "/9j/4AAQ".into()), "tanda_tangan.not_png", "tanda_tangan_png_base64"),
        (Box::new(|v| v["card"]["rt"] = 5.into()), "rt.type", "rt"),
        (Box::new(|v| v["kode_wilayah"] = "32.76.02.3001".into()), "kode_wilayah.format", "kode_wilayah"),
    ];
    for (mutate, code, field) in cases {
        let mut v = a_valid_sample();
        mutate(&mut v);
        assert_eq!(reason_of(&v), (code.to_string(), field), "{code}");
    }
}

#[test]
fn a_nik_sex_mismatch_needs_approval_and_a_region_difference_does_not() {
    let mut v = a_valid_sample();
    let sex = v["card"]["jenis_kelamin"].as_str().expect("sex").to_string();
    v["card"]["jenis_kelamin"] = if sex == "PEREMPUAN" { "LAKI-LAKI" } else { "PEREMPUAN" }.into();
    let r = check(&v);
    let f = r.reason().expect("finding");
    assert_eq!((f.code.as_str(), f.severity), ("nik.sex_mismatch", Severity::NeedsApproval));
    // A resident who moved keeps the NIK of the first registration.
    let mut v = a_valid_sample();
    v["kode_wilayah"] = "73.09.03.1001".into();
    assert!(check(&v).findings.is_empty());
}

#[test]
fn no_finding_or_error_repeats_a_personal_value() {
    let mut v = a_valid_sample();
    v["card"]["nama"] = "RAHASIA\u{1}PRIBADI".into();
    v["card"]["nik"] = "99999".into();
    let r = check(&v);
    let shown = format!("{:?} {:?}", r.findings, r.prr);
    assert!(!shown.contains("RAHASIA") && !shown.contains("99999"), "{shown}");
    let ok = check(&a_valid_sample());
    let shown = format!("{:?}", ok.prr);
    let nik = a_valid_sample()["card"]["nik"].as_str().expect("nik").to_string();
    assert!(!shown.contains(&nik), "Debug of a validated PRR shows the NIK: {shown}");
    let err = RawPrr::parse("{\"job_id\": \"x\", \"nik\": ").expect_err("truncated JSON is an error");
    assert!(!err.to_string().contains("nik"), "{err}");
}
