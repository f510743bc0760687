//! PRR types: the lenient input form and the validated form.

use std::fmt;

use serde_json::{Map, Value};

/// A PRR exactly as it arrived: any JSON object. Every field is optional
/// here, so that a missing or mistyped value becomes a validation finding
/// with a code and a field instead of a bare parse error.
#[derive(Clone)]
pub struct RawPrr {
    pub(crate) fields: Map<String, Value>,
}

/// Why a line could not even be read as a PRR.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("not valid JSON (column {column})")]
    NotJson { column: usize },
    #[error("a PRR must be a JSON object")]
    NotObject,
}

impl RawPrr {
    /// Parses one JSON line. The error never quotes the input.
    pub fn parse(line: &str) -> Result<Self, ParseError> {
        let value: Value = serde_json::from_str(line).map_err(|e| ParseError::NotJson { column: e.column() })?;
        match value {
            Value::Object(fields) => Ok(Self { fields }),
            _ => Err(ParseError::NotObject),
        }
    }

    pub fn from_value(value: Value) -> Result<Self, ParseError> {
        match value {
            Value::Object(fields) => Ok(Self { fields }),
            _ => Err(ParseError::NotObject),
        }
    }

    /// The job id, if it is present and a string. Job ids are not personal.
    pub fn job_id(&self) -> Option<&str> {
        self.fields.get("job_id").and_then(Value::as_str)
    }

    /// A top-level string field (`kode_wilayah`, `priority`: not personal).
    pub fn top_str(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }

    pub(crate) fn top(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    pub(crate) fn card(&self) -> Option<&Map<String, Value>> {
        self.fields.get("card").and_then(Value::as_object)
    }
}

impl fmt::Debug for RawPrr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawPrr").field("job_id", &self.job_id()).finish_non_exhaustive()
    }
}

/// The village code `PP.KK.CC.DDDD` where the card is issued.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KodeWilayah(String);

impl KodeWilayah {
    /// Parses `PP.KK.CC.DDDD` (digits; the village part starts with 1 for a
    /// kelurahan or 2 for a desa).
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split('.').collect();
        let lens = [2, 2, 2, 4];
        if parts.len() != 4 {
            return None;
        }
        for (part, len) in parts.iter().zip(lens) {
            if part.len() != len || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
        }
        if !matches!(parts[3].as_bytes()[0], b'1' | b'2') {
            return None;
        }
        Some(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The regency/city part, `PP.KK`.
    pub fn regency(&self) -> &str {
        &self.0[..5]
    }
}

impl fmt::Display for KodeWilayah {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    /// Printed first: health care, university registration.
    Urgent,
    Normal,
}

impl Priority {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "urgent" => Some(Self::Urgent),
            "normal" => Some(Self::Normal),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Urgent => "urgent",
            Self::Normal => "normal",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestType {
    Baru,
    Rusak,
    Hilang,
    PerubahanData,
    Pindah,
}

impl RequestType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "baru" => Self::Baru,
            "rusak" => Self::Rusak,
            "hilang" => Self::Hilang,
            "perubahan_data" => Self::PerubahanData,
            "pindah" => Self::Pindah,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Baru => "baru",
            Self::Rusak => "rusak",
            Self::Hilang => "hilang",
            Self::PerubahanData => "perubahan_data",
            Self::Pindah => "pindah",
        }
    }
}

/// A validated PRR. Its card holds personal data and prints redacted.
#[derive(Clone, Debug)]
pub struct Prr {
    pub job_id: String,
    pub kode_wilayah: KodeWilayah,
    pub request_type: RequestType,
    pub priority: Priority,
    pub card: Card,
}

/// The fields printed on the e-KTP front, with the decoded photo and
/// signature bytes. `Debug` shows none of them.
#[derive(Clone)]
pub struct Card {
    pub provinsi: String,
    pub kabupaten_kota: String,
    pub nik: String,
    pub nama: String,
    pub tempat_lahir: String,
    pub tanggal_lahir: time::Date,
    pub jenis_kelamin: String,
    pub golongan_darah: String,
    pub alamat: String,
    pub rt: String,
    pub rw: String,
    pub kelurahan_desa: String,
    pub kecamatan: String,
    pub agama: String,
    pub status_perkawinan: String,
    pub pekerjaan: String,
    pub kewarganegaraan: String,
    /// `SEUMUR HIDUP` or a date as `DD-MM-YYYY`.
    pub berlaku_hingga: String,
    pub tempat_terbit: String,
    pub tanggal_terbit: time::Date,
    pub foto_jpeg: Vec<u8>,
    pub tanda_tangan_png: Vec<u8>,
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Card { <redacted> }")
    }
}

/// Formats a date as printed on the card: `DD-MM-YYYY`.
pub fn card_date(d: time::Date) -> String {
    format!("{:02}-{:02}-{:04}", d.day(), u8::from(d.month()), d.year())
}

#[cfg(test)]
mod tests {
    /// Debug output of PRR types names the job, never a personal value.
    #[test]
    fn debug_is_redacted() {
        let people = crate::generator::generate(3, 1, time::macros::date!(2026 - 11 - 24));
        let person = &people[0];
        let raw = super::RawPrr::from_value(person.clone()).expect("parses");
        let prr = crate::validate(&raw, time::macros::date!(2026 - 11 - 24)).prr.expect("valid");
        let card = &person["card"];
        let secrets = ["nik", "nama", "tempat_lahir", "alamat"].map(|k| card[k].as_str().expect(k).to_string());
        let photo = card["foto_jpeg_base64"].as_str().expect("photo")[200..240].to_string();
        for shown in [format!("{raw:?}"), format!("{prr:?}"), format!("{:#?}", prr)] {
            for s in secrets.iter().chain(std::iter::once(&photo)) {
                assert!(!shown.contains(s.as_str()), "{s:?} in {shown}");
            }
        }
        assert!(format!("{raw:?}").contains(person["job_id"].as_str().expect("id")), "the job id is shown");
    }
}
