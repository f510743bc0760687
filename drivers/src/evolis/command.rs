//! Evolis commands and their framing: `ESC`, the name, each parameter after
//! `;`, then `CR`. A download carries its raw bitmap after the last `;`,
//! before the `CR`.

/// A command the driver may send. The commands that make a printer print by
/// itself (`Sc` repeat last sequence, `St` test card) are deliberately not
/// here: the driver cannot send them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Model.
    Rtp,
    /// Serial number.
    Rsn,
    /// Firmware version.
    Rfv,
    /// Card counter (`Rco;c`), panel counter (`Rco;p`), cards left on the
    /// ribbon (`Rco;l`).
    Rco(char),
    /// `OK` unless the ribbon is at its end mark.
    Rcr,
    /// Last card result (`Rlr;p`).
    Rlr,
    /// Feeder empty (`Sk;f`).
    SkF,
    /// Set the error-handling mode (`Pem;18`: host-managed, no retries).
    Pem(u8),
    /// Read the error-handling mode.
    Rem,
    /// Ribbon type for the next sequence (`Pr;ymcko`).
    Pr(String),
    /// Sequence start: a card is taken from the feeder.
    Ss,
    /// Front side.
    Sr,
    /// Full panel download: panel letter, levels, bitmap.
    Db(char, u16, Vec<u8>),
    /// Compressed panel download.
    Dbc(char, u16, Vec<u8>),
    /// Sequence end: the card is ejected.
    Se,
    /// Eject the card inside to the reject box.
    Ser,
    /// Move the card to the smart-card contact station.
    Sis,
    /// Move the card to the contactless station.
    Sic,
    /// Clear a stored bitmap (`Wcb;k;0`).
    Wcb(char),
}

impl Command {
    /// The bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let head = |s: &str| {
            let mut v = vec![0x1B];
            v.extend_from_slice(s.as_bytes());
            v
        };
        let mut out = match self {
            Self::Rtp => head("Rtp"),
            Self::Rsn => head("Rsn"),
            Self::Rfv => head("Rfv"),
            Self::Rco(c) => head(&format!("Rco;{c}")),
            Self::Rcr => head("Rcr"),
            Self::Rlr => head("Rlr;p"),
            Self::SkF => head("Sk;f"),
            Self::Pem(m) => head(&format!("Pem;{m}")),
            Self::Rem => head("Rem"),
            Self::Pr(t) => head(&format!("Pr;{t}")),
            Self::Ss => head("Ss"),
            Self::Sr => head("Sr"),
            Self::Db(p, l, data) => {
                let mut v = head(&format!("Db;{p};{l};"));
                v.extend_from_slice(data);
                v
            }
            Self::Dbc(p, l, data) => {
                let mut v = head(&format!("Dbc;{p};{l};{};", data.len()));
                v.extend_from_slice(data);
                v
            }
            Self::Se => head("Se"),
            Self::Ser => head("Ser"),
            Self::Sis => head("Sis"),
            Self::Sic => head("Sic"),
            Self::Wcb(p) => head(&format!("Wcb;{p};0")),
        };
        out.push(0x0D);
        out
    }

    /// Bytes of payload, for scaling the command's deadline.
    pub fn payload_len(&self) -> usize {
        match self {
            Self::Db(_, _, d) | Self::Dbc(_, _, d) => d.len(),
            _ => 0,
        }
    }

    /// A short name for logs (never the payload).
    pub fn name(&self) -> String {
        match self {
            Self::Db(p, l, d) => format!("Db;{p};{l} ({} bytes)", d.len()),
            Self::Dbc(p, l, d) => format!("Dbc;{p};{l} ({} bytes)", d.len()),
            other => {
                let bytes = other.encode();
                String::from_utf8_lossy(&bytes[1..bytes.len() - 1]).to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_matches_the_guide() {
        assert_eq!(Command::Pr("ymcko".into()).encode(), b"\x1bPr;ymcko\r");
        assert_eq!(Command::Rco('c').encode(), b"\x1bRco;c\r");
        assert_eq!(Command::Dbc('k', 2, vec![0x00, 0x0d]).encode(), b"\x1bDbc;k;2;2;\x00\x0d\r");
    }
}
