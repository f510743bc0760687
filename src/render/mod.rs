//! A minimal renderer: the card's text on the K (resin black) panel from
//! the PRR's fields, in an 8x8 bitmap font scaled up. Enough to print, hash
//! and fit-check a card; the rendering issue replaces it with the e-KTP
//! layout template, real fonts and the photo on Y/M/C.
//!
//! Y, M and C are sent blank and O as a full overlay, so a card uses the
//! ribbon exactly as a colour card does.

use cetak_drivers::{Capabilities, CardImage, CardPanels, PanelKind};
use cetak_model::prr::card_date;
use cetak_model::Prr;
use font8x8::UnicodeFonts;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    /// The value does not fit its box even wrapped: the job is rejected.
    #[error("{field} does not fit on the card")]
    DoesNotFit { field: &'static str },
    #[error("{field} holds a character the font cannot draw: U+{code:04X}")]
    Glyph { field: &'static str, code: u32 },
}

impl RenderError {
    /// Stable code and field for a rejection.
    pub fn code(&self) -> (String, &'static str) {
        match self {
            Self::DoesNotFit { field } => (format!("{field}.does_not_fit"), field),
            Self::Glyph { field, .. } => (format!("{field}.glyph"), field),
        }
    }
}

const LABEL_X: u32 = 24;
const VALUE_X: u32 = 250;
const PHOTO_X: u32 = 760;

struct Painter {
    img: CardImage,
}

impl Painter {
    /// Draws `text` at (x, y) with glyphs `scale` times 8 dots.
    fn text(&mut self, field: &'static str, text: &str, x: u32, y: u32, scale: u32) -> Result<(), RenderError> {
        self.text_scaled(field, text, x, y, scale, scale)
    }

    /// Draws `text` with glyphs `sx` times 8 dots wide, `sy` times 8 high.
    fn text_scaled(&mut self, field: &'static str, text: &str, x: u32, y: u32, sx: u32, sy: u32) -> Result<(), RenderError> {
        for (i, ch) in text.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS.get(ch).ok_or(RenderError::Glyph { field, code: ch as u32 })?;
            let gx = x + i as u32 * 8 * sx;
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        for dy in 0..sy {
                            for dx in 0..sx {
                                self.img.set(gx + col * sx + dx, y + row as u32 * sy + dy, 1);
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Lays out a value in a box of `width` dots: one line, or wrapped at
    /// spaces onto at most `lines` lines. Returns the lines used.
    fn fitted(&mut self, field: &'static str, value: &str, x: u32, y: u32, width: u32, lines: usize) -> Result<u32, RenderError> {
        let scale = 2;
        let per_line = (width / (8 * scale)) as usize;
        let wrapped = wrap(value, per_line);
        if wrapped.len() > lines || wrapped.iter().any(|l| l.chars().count() > per_line) {
            return Err(RenderError::DoesNotFit { field });
        }
        for (i, line) in wrapped.iter().enumerate() {
            self.text(field, line, x, y + i as u32 * 18, scale)?;
        }
        Ok(wrapped.len() as u32)
    }
}

fn wrap(value: &str, per_line: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in value.split_whitespace() {
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + word.chars().count() <= per_line => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// Renders the card's panels for a printer with `caps`.
pub fn render(prr: &Prr, caps: &Capabilities) -> Result<CardPanels, RenderError> {
    let (w, h) = caps.canvas;
    let mut p = Painter { img: CardImage::blank(w, h) };
    let c = &prr.card;
    let header_w = w - 2 * LABEL_X;
    p.fitted("provinsi", &format!("PROVINSI {}", c.provinsi), LABEL_X, 16, header_w, 1)?;
    p.fitted("kabupaten_kota", &c.kabupaten_kota, LABEL_X, 38, header_w, 1)?;
    p.text("nik", "NIK", LABEL_X, 80, 3)?;
    p.text("nik", &format!(": {}", c.nik), VALUE_X - 40, 80, 3)?;
    let value_w = PHOTO_X - VALUE_X - 16;
    let rows: [(&str, &'static str, String, usize); 13] = [
        ("Nama", "nama", c.nama.clone(), 2),
        ("Tempat/Tgl Lahir", "tempat_lahir", format!("{}, {}", c.tempat_lahir, card_date(c.tanggal_lahir)), 1),
        ("Jenis Kelamin", "jenis_kelamin", format!("{}  GOL. DARAH: {}", c.jenis_kelamin, c.golongan_darah), 1),
        ("Alamat", "alamat", c.alamat.clone(), 2),
        ("RT/RW", "rt", format!("{}/{}", c.rt, c.rw), 1),
        ("Kel/Desa", "kelurahan_desa", c.kelurahan_desa.clone(), 1),
        ("Kecamatan", "kecamatan", c.kecamatan.clone(), 1),
        ("Agama", "agama", c.agama.clone(), 1),
        ("Status Perkawinan", "status_perkawinan", c.status_perkawinan.clone(), 1),
        ("Pekerjaan", "pekerjaan", c.pekerjaan.clone(), 1),
        ("Kewarganegaraan", "kewarganegaraan", c.kewarganegaraan.clone(), 1),
        ("Berlaku Hingga", "berlaku_hingga", c.berlaku_hingga.clone(), 1),
        ("", "", String::new(), 0),
    ];
    let mut y = 130;
    for (label, field, value, lines) in rows.iter().filter(|r| r.3 > 0) {
        // Labels condensed to half width, so the longest fits its column.
        p.text_scaled(field, label, LABEL_X, y, 1, 2)?;
        p.text(field, ":", VALUE_X - 20, y, 2)?;
        let used = p.fitted(field, value, VALUE_X, y, value_w, *lines)?;
        y += 18 * used + 20;
    }
    let side_w = w - PHOTO_X - 16;
    p.fitted("tempat_terbit", &c.tempat_terbit, PHOTO_X, 470, side_w, 1)?;
    p.fitted("tanggal_terbit", &card_date(c.tanggal_terbit), PHOTO_X, 492, side_w, 1)?;

    let mut panels = Vec::new();
    for &(kind, levels) in &caps.panels {
        let img = match kind {
            PanelKind::K => p.img.clone(),
            PanelKind::O => CardImage { width: w, height: h, dots: vec![1; (w * h) as usize] },
            _ => CardImage::blank(w, h),
        };
        panels.push(img.into_panel(kind, levels, caps.orientation));
    }
    Ok(CardPanels { panels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(wrap("JL. KH. AHMAD DAHLAN", 10), vec!["JL. KH.", "AHMAD", "DAHLAN"]);
        assert_eq!(wrap("ABCDEFGHIJKL", 10), vec!["ABCDEFGHIJKL"]);
    }
}
