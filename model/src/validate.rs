//! PRR validation: every rule yields a [`Finding`] with a stable dotted code
//! and the field it concerns. Messages never repeat a personal value.
//!
//! Two severities, as in the samples' README: `invalid` (cannot be printed as
//! it stands) and `needs_approval` (well-formed but inconsistent in a way real
//! registries contain; a district officer may approve it).

use base64::Engine;
use serde_json::{Map, Value};
use time::{Date, Month};

use crate::prr::{Card, KodeWilayah, Priority, Prr, RawPrr, RequestType};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Invalid,
    NeedsApproval,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::NeedsApproval => "needs_approval",
        }
    }
}

/// One rule that a record broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Stable dotted code such as `nik.length`.
    pub code: String,
    /// The field concerned, as named in the PRR (`card.` prefix omitted).
    pub field: &'static str,
    pub severity: Severity,
}

/// All findings of one record, and the typed PRR when nothing is `invalid`.
#[derive(Debug)]
pub struct Validation {
    pub findings: Vec<Finding>,
    /// Present when no finding is `invalid` (it may still need approval).
    pub prr: Option<Prr>,
}

impl Validation {
    /// The reason recorded for a rejected record: the first `invalid`
    /// finding, else the first `needs_approval` one.
    pub fn reason(&self) -> Option<&Finding> {
        self.findings
            .iter()
            .find(|f| f.severity == Severity::Invalid)
            .or_else(|| self.findings.iter().find(|f| f.severity == Severity::NeedsApproval))
    }

    pub fn needs_approval(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::NeedsApproval)
    }
}

/// Longest photo accepted, in bytes.
pub const MAX_PHOTO_BYTES: usize = 256 * 1024;
/// Smallest and largest photo side, in pixels.
pub const PHOTO_SIDE: std::ops::RangeInclusive<u32> = 100..=1200;
/// Longest signature accepted, in bytes.
pub const MAX_SIGNATURE_BYTES: usize = 128 * 1024;
/// Largest signature side, in pixels.
pub const MAX_SIGNATURE_SIDE: u32 = 1200;
const MAX_FIELD: usize = 60;
const MAX_ADDRESS: usize = 120;
/// Memory a decoder may allocate for one image.
const DECODE_ALLOC_LIMIT: u64 = 16 * 1024 * 1024;

/// Card text fields in the order they are checked (and printed), with
/// their length limits.
const TEXT_FIELDS: &[(&str, usize)] = &[
    ("provinsi", MAX_FIELD),
    ("kabupaten_kota", MAX_FIELD),
    ("nama", MAX_FIELD),
    ("tempat_lahir", MAX_FIELD),
    ("jenis_kelamin", MAX_FIELD),
    ("golongan_darah", MAX_FIELD),
    ("alamat", MAX_ADDRESS),
    ("rt", MAX_FIELD),
    ("rw", MAX_FIELD),
    ("kelurahan_desa", MAX_FIELD),
    ("kecamatan", MAX_FIELD),
    ("agama", MAX_FIELD),
    ("status_perkawinan", MAX_FIELD),
    ("pekerjaan", MAX_FIELD),
    ("kewarganegaraan", MAX_FIELD),
    ("berlaku_hingga", MAX_FIELD),
    ("tempat_terbit", MAX_FIELD),
];

struct Checker {
    findings: Vec<Finding>,
}

impl Checker {
    fn invalid(&mut self, code: impl Into<String>, field: &'static str) {
        self.findings.push(Finding { code: code.into(), field, severity: Severity::Invalid });
    }
    fn approval(&mut self, code: impl Into<String>, field: &'static str) {
        self.findings.push(Finding { code: code.into(), field, severity: Severity::NeedsApproval });
    }

    /// A required string: absent, mistyped, blank, too long or holding a
    /// control character each give their own finding.
    fn string<'a>(&mut self, obj: Option<&'a Map<String, Value>>, field: &'static str, max: usize) -> Option<&'a str> {
        let Some(value) = obj.and_then(|o| o.get(field)) else {
            self.push_code(field, "missing");
            return None;
        };
        let Some(s) = value.as_str() else {
            if value.is_null() {
                self.push_code(field, "missing");
            } else {
                self.push_code(field, "type");
            }
            return None;
        };
        if s.trim().is_empty() {
            self.push_code(field, "empty");
            return None;
        }
        if s.chars().any(char::is_control) {
            self.push_code(field, "control_char");
            return None;
        }
        if s.chars().count() > max {
            self.push_code(field, "too_long");
            return None;
        }
        Some(s)
    }

    fn push_code(&mut self, field: &'static str, what: &'static str) {
        self.invalid(field_code(field, what), field);
    }
}

/// The dotted code `field.what`.
fn field_code(field: &str, what: &str) -> String {
    format!("{field}.{what}")
}

/// Validates a raw PRR against the rules of the samples README. `today` is
/// the station's (skew-corrected) date: a birth after it is impossible.
pub fn validate(raw: &RawPrr, today: Date) -> Validation {
    let mut c = Checker { findings: Vec::new() };
    let top = Some(&raw.fields);

    let job_id = c.string(top, "job_id", 64);
    let job_id = job_id.filter(|id| {
        let ok = id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            c.invalid("job_id.format", "job_id");
        }
        ok
    });
    let kode = c.string(top, "kode_wilayah", 13).and_then(|s| {
        let k = KodeWilayah::parse(s);
        if k.is_none() {
            c.invalid("kode_wilayah.format", "kode_wilayah");
        }
        k
    });
    // A too-long code is also a malformed code.
    if let Some(f) = c.findings.iter_mut().find(|f| f.code == "kode_wilayah.too_long") {
        f.code = "kode_wilayah.format".into();
    }
    let request_type = c.string(top, "request_type", MAX_FIELD).and_then(|s| {
        let r = RequestType::parse(s);
        if r.is_none() {
            c.invalid("request_type.unknown", "request_type");
        }
        r
    });
    let priority = c.string(top, "priority", MAX_FIELD).and_then(|s| {
        let p = Priority::parse(s);
        if p.is_none() {
            c.invalid("priority.unknown", "priority");
        }
        p
    });
    if priority == Some(Priority::Urgent) {
        let reason = raw.top("priority_reason");
        match reason.and_then(Value::as_str) {
            Some(r) if !r.trim().is_empty() => {
                if r.chars().any(char::is_control) {
                    c.invalid("priority_reason.control_char", "priority_reason");
                } else if r.chars().count() > MAX_FIELD * 2 {
                    c.invalid("priority_reason.too_long", "priority_reason");
                }
            }
            _ => c.invalid("priority_reason.missing", "priority_reason"),
        }
    }

    let card_obj = raw.card();
    if card_obj.is_none() {
        c.invalid("card.missing", "card");
    }
    let card = card_obj.and_then(|obj| check_card(&mut c, obj, today));

    let prr = match (job_id, kode, request_type, priority, card) {
        (Some(job_id), Some(kode_wilayah), Some(request_type), Some(priority), Some(card))
            if !c.findings.iter().any(|f| f.severity == Severity::Invalid) =>
        {
            Some(Prr { job_id: job_id.to_string(), kode_wilayah, request_type, priority, card })
        }
        _ => None,
    };
    Validation { findings: c.findings, prr }
}

fn check_card(c: &mut Checker, obj: &Map<String, Value>, today: Date) -> Option<Card> {
    let o = Some(obj);
    let nik = c.string(o, "nik", 16);
    if let Some(f) = c.findings.iter_mut().find(|f| f.code == "nik.too_long") {
        f.code = "nik.length".into();
    }
    let nik = nik.and_then(|n| {
        if n.chars().count() != 16 {
            c.invalid("nik.length", "nik");
            None
        } else if !n.bytes().all(|b| b.is_ascii_digit()) {
            c.invalid("nik.digits", "nik");
            None
        } else {
            Some(n)
        }
    });

    let mut text = std::collections::HashMap::new();
    for &(field, max) in TEXT_FIELDS {
        if let Some(v) = c.string(o, field, max) {
            text.insert(field, v.to_string());
        }
    }
    let enum_field = |c: &mut Checker, field: &'static str, allowed: &[&str]| {
        if let Some(v) = text.get(field) {
            if !allowed.contains(&v.as_str()) {
                c.invalid(field_code(field, "unknown"), field);
            }
        }
    };
    enum_field(c, "jenis_kelamin", &["LAKI-LAKI", "PEREMPUAN"]);
    enum_field(c, "golongan_darah", &["A", "B", "AB", "O", "-", "A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"]);
    enum_field(c, "kewarganegaraan", &["WNI", "WNA"]);
    for field in ["rt", "rw"] {
        if let Some(v) = text.get(field) {
            if v.len() > 3 || !v.bytes().all(|b| b.is_ascii_digit()) {
                c.invalid(field_code(field, "format"), field);
            }
        }
    }

    let tanggal_lahir = date_field(c, o, "tanggal_lahir");
    if let Some(d) = tanggal_lahir {
        if d > today {
            c.invalid("tanggal_lahir.future", "tanggal_lahir");
        }
    }
    let tanggal_terbit = date_field(c, o, "tanggal_terbit");
    if let (Some(birth), Some(issue)) = (tanggal_lahir, tanggal_terbit) {
        if issue < birth {
            c.invalid("tanggal_terbit.before_birth", "tanggal_terbit");
        }
    }
    let berlaku = text.get("berlaku_hingga").and_then(|v| {
        if v == "SEUMUR HIDUP" {
            Some(v.clone())
        } else if let Some(d) = parse_iso_date(v) {
            d.ok().map(crate::prr::card_date)
        } else {
            None
        }
    });
    if text.contains_key("berlaku_hingga") && berlaku.is_none() {
        c.invalid("berlaku_hingga.format", "berlaku_hingga");
    }

    if let Some(n) = nik {
        check_nik(c, n, tanggal_lahir, text.get("jenis_kelamin").map(String::as_str));
    }

    let foto = image_field(c, o, "foto_jpeg_base64", ImageKind::Jpeg);
    let ttd = image_field(c, o, "tanda_tangan_png_base64", ImageKind::Png);

    let mut take = |k: &str| text.remove(k).unwrap_or_default();
    let card = Card {
        provinsi: take("provinsi"),
        kabupaten_kota: take("kabupaten_kota"),
        nik: nik.unwrap_or_default().to_string(),
        nama: take("nama"),
        tempat_lahir: take("tempat_lahir"),
        tanggal_lahir: tanggal_lahir?,
        jenis_kelamin: take("jenis_kelamin"),
        golongan_darah: take("golongan_darah"),
        alamat: take("alamat"),
        rt: take("rt"),
        rw: take("rw"),
        kelurahan_desa: take("kelurahan_desa"),
        kecamatan: take("kecamatan"),
        agama: take("agama"),
        status_perkawinan: take("status_perkawinan"),
        pekerjaan: take("pekerjaan"),
        kewarganegaraan: take("kewarganegaraan"),
        berlaku_hingga: berlaku?,
        tempat_terbit: take("tempat_terbit"),
        tanggal_terbit: tanggal_terbit?,
        foto_jpeg: foto?,
        tanda_tangan_png: ttd?,
    };
    Some(card)
}

/// NIK digits 7-12 are the birth date DDMMYY, with 40 added to the day for
/// women. An impossible date is invalid; a date or sex that disagrees with
/// the record needs an officer's approval (registries do contain these).
fn check_nik(c: &mut Checker, nik: &str, birth: Option<Date>, sex: Option<&str>) {
    let num = |r: std::ops::Range<usize>| nik[r].parse::<u32>().unwrap_or(0);
    let (raw_day, month, yy, serial) = (num(6..8), num(8..10), num(10..12), num(12..16));
    if serial == 0 {
        c.invalid("nik.serial", "nik");
    }
    let female = raw_day > 40;
    let day = if female { raw_day - 40 } else { raw_day };
    // The year has no century: the date must exist in 19YY or 20YY.
    let possible = [1900, 2000].iter().any(|century| {
        let Ok(m) = Month::try_from(month as u8) else { return false };
        Date::from_calendar_date(century + yy as i32, m, day as u8).is_ok()
    });
    if !possible || day == 0 {
        c.invalid("nik.birth_date", "nik");
        return;
    }
    if let Some(b) = birth {
        if u32::from(b.day()) != day || u32::from(u8::from(b.month())) != month || b.year().rem_euclid(100) as u32 != yy {
            c.approval("nik.birth_date_mismatch", "nik");
        }
    }
    if let Some(s) = sex {
        let record_female = s == "PEREMPUAN";
        if (s == "PEREMPUAN" || s == "LAKI-LAKI") && record_female != female {
            c.approval("nik.sex_mismatch", "nik");
        }
    }
}

/// `None` when the text is not shaped `YYYY-MM-DD`; `Some(Err)` when it is
/// shaped right but names no real day.
fn parse_iso_date(s: &str) -> Option<Result<Date, ()>> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &s[r];
        part.bytes().all(|x| x.is_ascii_digit()).then(|| part.parse().ok()).flatten()
    };
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    Some(Month::try_from(m as u8).ok().and_then(|m| Date::from_calendar_date(y as i32, m, d as u8).ok()).ok_or(()))
}

fn date_field(c: &mut Checker, o: Option<&Map<String, Value>>, field: &'static str) -> Option<Date> {
    let s = c.string(o, field, 10)?;
    match parse_iso_date(s) {
        None => {
            c.invalid(field_code(field, "format"), field);
            None
        }
        Some(Err(())) => {
            c.invalid(field_code(field, "impossible"), field);
            None
        }
        Some(Ok(d)) => Some(d),
    }
}

#[derive(Clone, Copy)]
enum ImageKind {
    Jpeg,
    Png,
}

/// Decodes the base64 image and checks its format, size and dimensions,
/// decoding it fully under a memory limit so a truncated or hostile image is
/// caught here and not in the renderer.
fn image_field(c: &mut Checker, o: Option<&Map<String, Value>>, field: &'static str, kind: ImageKind) -> Option<Vec<u8>> {
    let short = match kind {
        ImageKind::Jpeg => "foto",
        ImageKind::Png => "tanda_tangan",
    };
    let value = o.and_then(|o| o.get(field)).and_then(Value::as_str).filter(|s| !s.is_empty());
    let Some(b64) = value else {
        c.invalid(field_code(short, "missing"), field);
        return None;
    };
    let (max_bytes, format) = match kind {
        ImageKind::Jpeg => (MAX_PHOTO_BYTES, image::ImageFormat::Jpeg),
        ImageKind::Png => (MAX_SIGNATURE_BYTES, image::ImageFormat::Png),
    };
    // Base64 is 4/3 of the bytes: refuse before decoding anything huge.
    if b64.len() > max_bytes / 3 * 4 + 4 {
        c.invalid(field_code(short, "too_large"), field);
        return None;
    }
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) else {
        c.invalid(field_code(short, "base64"), field);
        return None;
    };
    if bytes.len() > max_bytes {
        c.invalid(field_code(short, "too_large"), field);
        return None;
    }
    let magic_ok = match kind {
        ImageKind::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        ImageKind::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
    };
    if !magic_ok {
        let code = match kind {
            ImageKind::Jpeg => "not_jpeg",
            ImageKind::Png => "not_png",
        };
        c.invalid(field_code(short, code), field);
        return None;
    }
    // Decoders fill a truncated image in silently: insist on the end
    // marker (JPEG EOI, PNG IEND) as well as a clean decode.
    let ends_right = match kind {
        ImageKind::Jpeg => bytes.trim_ascii_end().ends_with(&[0xFF, 0xD9]) || bytes.ends_with(&[0xFF, 0xD9]),
        ImageKind::Png => bytes.len() >= 12 && &bytes[bytes.len() - 8..bytes.len() - 4] == b"IEND",
    };
    if !ends_right {
        c.invalid(field_code(short, "corrupt"), field);
        return None;
    }
    match decode_dimensions(&bytes, format) {
        Err(()) => {
            c.invalid(field_code(short, "corrupt"), field);
            None
        }
        Ok((w, h)) => {
            let ok = match kind {
                ImageKind::Jpeg => PHOTO_SIDE.contains(&w) && PHOTO_SIDE.contains(&h),
                ImageKind::Png => w >= 1 && h >= 1 && w <= MAX_SIGNATURE_SIDE && h <= MAX_SIGNATURE_SIDE,
            };
            if !ok {
                c.invalid(field_code(short, "dimensions"), field);
                return None;
            }
            if decode_fully(&bytes, format).is_err() {
                c.invalid(field_code(short, "corrupt"), field);
                return None;
            }
            Some(bytes)
        }
    }
}

fn reader(bytes: &[u8], format: image::ImageFormat) -> image::ImageReader<std::io::Cursor<&[u8]>> {
    let mut r = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(8192);
    limits.max_image_height = Some(8192);
    limits.max_alloc = Some(DECODE_ALLOC_LIMIT);
    r.limits(limits);
    r
}

fn decode_dimensions(bytes: &[u8], format: image::ImageFormat) -> Result<(u32, u32), ()> {
    reader(bytes, format).into_dimensions().map_err(|_| ())
}

/// Decodes the whole image (bounded by the reader's limits) and returns it.
pub fn decode_fully(bytes: &[u8], format: image::ImageFormat) -> Result<image::DynamicImage, image::ImageError> {
    reader(bytes, format).decode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert!(matches!(parse_iso_date("2024-02-29"), Some(Ok(_))));
        assert!(matches!(parse_iso_date("2023-02-29"), Some(Err(()))));
        assert!(parse_iso_date("29-02-2024").is_none());
        assert!(parse_iso_date("2024-2-29").is_none());
    }
}
