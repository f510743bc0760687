//! A sentence for every code a record is refused with, in Bahasa Indonesia
//! and English: what an officer or a clerk reads beside the code (which
//! stays for IT). A code is `field.what` ([`crate::validate`]); its
//! sentence is the code's own where it has one, else the `what`'s with the
//! field named. The words keep to the agent's glossary (a test there holds
//! them to it).

/// The language of a sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Id,
    En,
}

/// Every `what` a validation code ends with, and every whole code that has
/// a sentence of its own: a test checks each has a sentence in both
/// languages.
pub const KNOWN: &[&str] = &[
    "missing",
    "type",
    "empty",
    "control_char",
    "too_long",
    "unknown",
    "format",
    "impossible",
    "too_large",
    "base64",
    "corrupt",
    "dimensions",
    "not_jpeg",
    "not_png",
    "does_not_fit",
    "glyph",
    "unusable",
    "layout.invalid",
    "payload.tampered",
    "nik.length",
    "nik.digits",
    "nik.serial",
    "nik.birth_date",
    "nik.birth_date_mismatch",
    "nik.sex_mismatch",
    "tanggal_lahir.future",
    "tanggal_terbit.before_birth",
    "card.missing",
    "envelope.altered",
    "envelope.bad_signature",
    "envelope.expired",
    "envelope.foreign_region",
    "envelope.from_the_future",
    "envelope.malformed",
    "envelope.missing",
    "envelope.revoked_key",
    "envelope.unknown_key",
];

/// The sentence for `code` in `lang`, or `None` for a code it does not
/// know (shown as the bare code, never hidden).
pub fn sentence(code: &str, lang: Language) -> Option<String> {
    if let Some(s) = whole(code, lang) {
        return Some(s.to_string());
    }
    let (field, what) = code.split_once('.')?;
    let field = field_name(field, lang);
    let s = match (lang, what) {
        (Language::Id, "missing") => format!("{field} tidak ada"),
        (Language::En, "missing") => format!("{field} is missing"),
        (Language::Id, "type") => format!("{field} bukan jenis isian yang benar"),
        (Language::En, "type") => format!("{field} is not the right kind of value"),
        (Language::Id, "empty") => format!("{field} kosong"),
        (Language::En, "empty") => format!("{field} is empty"),
        (Language::Id, "control_char") => format!("{field} memuat karakter kendali"),
        (Language::En, "control_char") => format!("{field} holds a control character"),
        (Language::Id, "too_long") => format!("{field} terlalu panjang"),
        (Language::En, "too_long") => format!("{field} is too long"),
        (Language::Id, "unknown") => format!("{field} tidak dikenal"),
        (Language::En, "unknown") => format!("{field} is not a known value"),
        (Language::Id, "format") => format!("{field} tidak sesuai format"),
        (Language::En, "format") => format!("{field} is not in the expected format"),
        (Language::Id, "impossible") => format!("{field} bukan tanggal yang ada"),
        (Language::En, "impossible") => format!("{field} is a date that does not exist"),
        (Language::Id, "too_large") => format!("berkas {field} terlalu besar"),
        (Language::En, "too_large") => format!("the {field} file is too large"),
        (Language::Id, "base64") => format!("{field} tidak terbaca (bukan base64)"),
        (Language::En, "base64") => format!("{field} cannot be read (not base64)"),
        (Language::Id, "corrupt") => format!("gambar {field} rusak"),
        (Language::En, "corrupt") => format!("the {field} image is damaged"),
        (Language::Id, "dimensions") => format!("ukuran gambar {field} tidak sesuai"),
        (Language::En, "dimensions") => format!("the {field} image has the wrong size"),
        (Language::Id, "not_jpeg") => format!("{field} bukan gambar JPEG"),
        (Language::En, "not_jpeg") => format!("{field} is not a JPEG image"),
        (Language::Id, "not_png") => format!("{field} bukan gambar PNG"),
        (Language::En, "not_png") => format!("{field} is not a PNG image"),
        (Language::Id, "does_not_fit") => format!("{field} tidak muat di kartu"),
        (Language::En, "does_not_fit") => format!("{field} does not fit on the card"),
        (Language::Id, "glyph") => format!("{field} memuat huruf yang tidak dapat dicetak"),
        (Language::En, "glyph") => format!("{field} holds a letter the card's font cannot print"),
        (Language::Id, "unusable") => format!("gambar {field} tidak dapat dipakai di kartu"),
        (Language::En, "unusable") => format!("the {field} image cannot be used on the card"),
        // A station's own copy of a job it can no longer read: given back.
        (Language::Id, _) if field_is(code, "payload") => {
            "salinan pekerjaan di stasiun ini tidak dapat dibaca: pekerjaan dikembalikan ke Disdukcapil".to_string()
        }
        (Language::En, _) if field_is(code, "payload") => {
            "this station's copy of the job cannot be read: the job is given back to the district".to_string()
        }
        _ => return None,
    };
    Some(s)
}

/// The sentence shown in a list: the sentence, then the code for IT
/// (`NIK tidak 16 digit [nik.length]`), or the code alone.
pub fn shown(code: &str, lang: Language) -> String {
    match sentence(code, lang) {
        Some(s) => format!("{s} [{code}]"),
        None => code.to_string(),
    }
}

fn whole(code: &str, lang: Language) -> Option<&'static str> {
    use Language::{En, Id};
    Some(match (code, lang) {
        ("nik.length", Id) => "NIK harus 16 digit",
        ("nik.length", En) => "the NIK must have 16 digits",
        ("nik.digits", Id) => "NIK hanya boleh berisi angka",
        ("nik.digits", En) => "the NIK may hold digits only",
        ("nik.serial", Id) => "nomor urut NIK tidak boleh 0000",
        ("nik.serial", En) => "the NIK's serial part cannot be 0000",
        ("nik.birth_date", Id) => "tanggal lahir di dalam NIK bukan tanggal yang ada",
        ("nik.birth_date", En) => "the birth date inside the NIK does not exist",
        ("nik.birth_date_mismatch", Id) => "tanggal lahir di NIK berbeda dengan tanggal lahir: perlu persetujuan petugas",
        ("nik.birth_date_mismatch", En) => "the NIK's birth date differs from the birth date: an officer must approve",
        ("nik.sex_mismatch", Id) => "jenis kelamin di NIK berbeda dengan jenis kelamin: perlu persetujuan petugas",
        ("nik.sex_mismatch", En) => "the NIK's sex differs from the sex given: an officer must approve",
        ("tanggal_lahir.future", Id) => "tanggal lahir ada di masa depan",
        ("tanggal_lahir.future", En) => "the birth date is in the future",
        ("tanggal_terbit.before_birth", Id) => "tanggal terbit sebelum tanggal lahir",
        ("tanggal_terbit.before_birth", En) => "the issue date is before the birth date",
        ("layout.invalid", Id) => "tata letak kartu di stasiun ini rusak: hubungi TI Disdukcapil",
        ("layout.invalid", En) => "this station's card layout is broken: call district IT",
        ("card.missing", Id) => "data kartu tidak ada",
        ("card.missing", En) => "the card data is missing",
        ("envelope.altered", Id) => "isi pekerjaan diubah setelah ditandatangani Disdukcapil",
        ("envelope.altered", En) => "the job was changed after the district signed it",
        ("envelope.bad_signature", Id) => "tanda tangan Disdukcapil pada pekerjaan tidak sah",
        ("envelope.bad_signature", En) => "the district's signature on the job is not valid",
        ("envelope.expired", Id) => "pekerjaan sudah kedaluwarsa: minta Disdukcapil mengirim ulang",
        ("envelope.expired", En) => "the job has expired: ask the district to send it again",
        ("envelope.foreign_region", Id) => "pekerjaan untuk wilayah lain, bukan wilayah stasiun ini",
        ("envelope.foreign_region", En) => "the job is for another region than this station's",
        ("envelope.from_the_future", Id) => "pekerjaan bertanggal di masa depan: periksa jam PC ini",
        ("envelope.from_the_future", En) => "the job is dated in the future: check this PC's clock",
        ("envelope.malformed", Id) => "tanda tangan pekerjaan tidak terbaca",
        ("envelope.malformed", En) => "the job's signature cannot be read",
        ("envelope.missing", Id) => "pekerjaan tidak ditandatangani Disdukcapil",
        ("envelope.missing", En) => "the job is not signed by the district",
        ("envelope.revoked_key", Id) => "pekerjaan ditandatangani dengan kunci yang sudah dicabut",
        ("envelope.revoked_key", En) => "the job is signed with a key that was revoked",
        ("envelope.unknown_key", Id) => "pekerjaan ditandatangani dengan kunci yang tidak dikenal stasiun ini",
        ("envelope.unknown_key", En) => "the job is signed with a key this station does not know",
        _ => return None,
    })
}

fn field_is(code: &str, field: &str) -> bool {
    code.split_once('.').is_some_and(|(f, _)| f == field)
}

/// A field as a person names it.
fn field_name(field: &str, lang: Language) -> String {
    match (field, lang) {
        ("nik", _) => "NIK".into(),
        ("foto", Language::En) => "the photo".into(),
        ("tanda_tangan", Language::En) => "the signature".into(),
        ("tanggal_lahir", Language::En) => "the birth date".into(),
        ("tanggal_terbit", Language::En) => "the issue date".into(),
        ("berlaku_hingga", Language::En) => "the valid-until date".into(),
        ("job_id", Language::Id) => "nomor pekerjaan".into(),
        ("job_id", Language::En) => "the job id".into(),
        ("priority", Language::Id) => "prioritas".into(),
        ("priority_reason", Language::Id) => "alasan prioritas".into(),
        ("request_type", Language::Id) => "jenis permohonan".into(),
        ("kode_wilayah", Language::En) => "the region code".into(),
        (other, Language::Id) => other.replace('_', " "),
        (other, Language::En) => format!("the field {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_has_a_sentence_in_both_languages() {
        for k in KNOWN {
            let code = if k.contains('.') { k.to_string() } else { format!("nama.{k}") };
            for lang in [Language::Id, Language::En] {
                assert!(sentence(&code, lang).is_some_and(|s| !s.is_empty()), "{code} in {lang:?}");
            }
        }
        assert_eq!(shown("nik.length", Language::Id), "NIK harus 16 digit [nik.length]");
        assert_eq!(shown("foto.not_jpeg", Language::En), "the photo is not a JPEG image [foto.not_jpeg]");
        assert_eq!(shown("what.ever_new", Language::En), "what.ever_new", "an unknown code is shown bare, never hidden");
    }

    /// Every code the validator gives for the invalid samples has a
    /// sentence (a new rule without one fails here).
    #[test]
    fn every_code_of_the_invalid_samples_has_a_sentence() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/prr-invalid.jsonl");
        let text = std::fs::read_to_string(&path).expect("the workspace's invalid samples");
        let today = time::macros::date!(2026 - 12 - 01);
        let mut codes = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(raw) = crate::RawPrr::parse(line) else { continue };
            for f in crate::validate(&raw, today).findings {
                codes += 1;
                assert!(sentence(&f.code, Language::Id).is_some(), "{} has no sentence", f.code);
            }
        }
        assert!(codes >= 8, "the samples give codes: {codes}");
    }
}
