//! Evolis replies, parsed strictly. Our convention (`evolis.md`): every
//! command gets exactly one reply, ASCII, ended by a NUL byte. A set or
//! sequence command answers `OK`; a query its value; a failure `ERR` and a
//! condition. Anything else is a typed error: never a panic, and never read
//! as a success.

/// A condition an `ERR` reply names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrCode {
    /// Unknown command.
    Command,
    /// Bad parameter.
    Parameter,
    Feeder,
    Ribbon,
    Cover,
    Mechanical,
    HeadTemp,
    Busy,
    /// `Rlr;p`: the last feed found no card.
    NoCard,
    /// `Rlr;p`: a card is stuck inside.
    Card,
}

impl ErrCode {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "CDE" => Self::Command,
            "PAR" => Self::Parameter,
            "FEEDER" => Self::Feeder,
            "RIBBON" => Self::Ribbon,
            "COVER" => Self::Cover,
            "MECHANICAL" => Self::Mechanical,
            "HEAD TEMP" => Self::HeadTemp,
            "BUSY" => Self::Busy,
            "CARD" => Self::Card,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Command => "CDE",
            Self::Parameter => "PAR",
            Self::Feeder => "FEEDER",
            Self::Ribbon => "RIBBON",
            Self::Cover => "COVER",
            Self::Mechanical => "MECHANICAL",
            Self::HeadTemp => "HEAD TEMP",
            Self::Busy => "BUSY",
            Self::NoCard => "NO CARD",
            Self::Card => "CARD",
        }
    }
}

/// One reply, its terminator removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Ok,
    Err(ErrCode),
    /// A query's answer: printable ASCII.
    Value(String),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("reply is not ended by NUL (cut short)")]
    Unterminated,
    #[error("reply has bytes after its NUL terminator")]
    Trailing,
    #[error("reply holds a byte that is not printable ASCII (0x{0:02x})")]
    Garbled(u8),
    #[error("reply is empty")]
    Empty,
    #[error("unknown error condition {0:?}")]
    UnknownErr(String),
    #[error("expected {expected}, got {got:?}")]
    Unexpected { expected: &'static str, got: String },
}

/// Parses one complete reply (its bytes up to and including the NUL).
pub fn parse(bytes: &[u8]) -> Result<Reply, ReplyError> {
    let Some(end) = bytes.iter().position(|&b| b == 0) else { return Err(ReplyError::Unterminated) };
    if end + 1 != bytes.len() {
        return Err(ReplyError::Trailing);
    }
    let body = &bytes[..end];
    if let Some(&b) = body.iter().find(|&&b| !(0x20..0x7F).contains(&b)) {
        return Err(ReplyError::Garbled(b));
    }
    // Every byte is printable ASCII, so this is valid UTF-8.
    let text = String::from_utf8_lossy(body).to_string();
    if text.is_empty() {
        return Err(ReplyError::Empty);
    }
    if text == "OK" {
        return Ok(Reply::Ok);
    }
    if text == "NO CARD" {
        return Ok(Reply::Err(ErrCode::NoCard));
    }
    if let Some(cond) = text.strip_prefix("ERR ") {
        return ErrCode::parse(cond).map(Reply::Err).ok_or_else(|| ReplyError::UnknownErr(cond.to_string()));
    }
    if text.starts_with("ERR") {
        return Err(ReplyError::UnknownErr(text));
    }
    Ok(Reply::Value(text))
}

impl Reply {
    /// `OK`, or the error it carries.
    pub fn ok(self) -> Result<(), Reply> {
        match self {
            Reply::Ok => Ok(()),
            other => Err(other),
        }
    }

    /// A decimal number (counters).
    pub fn number(&self) -> Result<u64, ReplyError> {
        match self {
            Reply::Value(v) if !v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit()) => {
                v.parse().map_err(|_| ReplyError::Unexpected { expected: "a number", got: v.clone() })
            }
            other => Err(ReplyError::Unexpected { expected: "a number", got: format!("{other:?}") }),
        }
    }

    pub fn text(&self) -> Result<&str, ReplyError> {
        match self {
            Reply::Value(v) => Ok(v),
            other => Err(ReplyError::Unexpected { expected: "a value", got: format!("{other:?}") }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_replies() {
        assert_eq!(parse(b"OK\0"), Ok(Reply::Ok));
        assert_eq!(parse(b"ERR FEEDER\0"), Ok(Reply::Err(ErrCode::Feeder)));
        assert_eq!(parse(b"ERR HEAD TEMP\0"), Ok(Reply::Err(ErrCode::HeadTemp)));
        assert_eq!(parse(b"NO CARD\0"), Ok(Reply::Err(ErrCode::NoCard)));
        assert_eq!(parse(b"1234\0").map(|r| r.number()), Ok(Ok(1234)));
    }

    #[test]
    fn broken_replies_are_errors() {
        assert_eq!(parse(b"OK"), Err(ReplyError::Unterminated));
        assert_eq!(parse(b"OK\0X"), Err(ReplyError::Trailing));
        assert_eq!(parse(b"O\xffK\0"), Err(ReplyError::Garbled(0xff)));
        assert_eq!(parse(b"\0"), Err(ReplyError::Empty));
        assert_eq!(parse(b"ERR SMOKE\0"), Err(ReplyError::UnknownErr("SMOKE".into())));
        assert!(parse(b"12a\0").and_then(|r| r.number()).is_err());
        assert!(parse(b"OK\0").and_then(|r| r.number()).is_err(), "OK is not a counter");
    }
}
