//! Rendering: from a validated PRR to the e-KTP face and the panels a
//! printer prints, at the canvas and levels its `capabilities` give.
//!
//! - K (resin black): every text element of the layout template and the
//!   signature's ink;
//! - Y, M, C: the photo, scaled and cropped into its box without distortion;
//! - O: the overlay everywhere but the template's no-print areas.
//!
//! The landscape card is handed to the driver's panel type, which maps it
//! onto the printer's line order. A value too long for its box is set
//! tighter, then smaller, then wrapped where the template allows; if it still
//! does not fit, rendering fails and the job is rejected before `ready`.
//! Nothing is clipped silently, and a character the font cannot draw is an
//! error that names it.

pub mod layout;
mod picture;
pub mod text;

use cetak_drivers::{Capabilities, CardImage, CardPanels, PanelKind};
use cetak_model::prr::card_date;
use cetak_model::Prr;

use layout::{Align, Layout, Weight};
pub use picture::DotBox;
pub use text::Fit;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    /// The value does not fit its box even wrapped: the job is rejected.
    #[error("{field} does not fit on the card")]
    DoesNotFit { field: String },
    #[error("{field} holds a character the font cannot draw: U+{code:04X}")]
    Glyph { field: String, code: u32 },
    #[error("{field}: {reason}")]
    Picture { field: String, reason: String },
    #[error("card layout: {0}")]
    Layout(String),
}

impl RenderError {
    /// Stable code and field for a rejection.
    pub fn code(&self) -> (String, String) {
        match self {
            Self::DoesNotFit { field } => (format!("{field}.does_not_fit"), field.clone()),
            Self::Glyph { field, .. } => (format!("{field}.glyph"), field.clone()),
            Self::Picture { field, .. } => (format!("{field}.unusable"), field.clone()),
            Self::Layout(_) => ("layout.invalid".into(), "layout".into()),
        }
    }
}

/// The card's layers before they become panels (previews and tests use
/// them), and where each element went.
#[derive(Clone)]
pub struct Rendered {
    pub panels: CardPanels,
    pub k: CardImage,
    pub y: CardImage,
    pub m: CardImage,
    pub c: CardImage,
    pub o: CardImage,
    /// Each text element's box in dots, and how its value was fitted.
    pub boxes: Vec<(String, DotBox, Fit)>,
    pub photo_box: DotBox,
    pub signature_box: DotBox,
    pub no_print: Vec<DotBox>,
    pub levels: u16,
}

/// A layout template and its fonts: a value the daemon makes from the
/// config and hands to each station, so rendering is a function of the
/// renderer, the PRR and the printer's capabilities, and nothing else.
pub struct Renderer {
    layout: Layout,
    fonts: text::Fonts,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renderer")
    }
}

impl Renderer {
    /// The shipped template with the embedded DejaVu Sans.
    pub fn embedded() -> Result<Self, RenderError> {
        Self::new(layout::EMBEDDED, None)
    }

    /// A template, and optionally an office's own font file (used for both
    /// weights, for example an Arial-metric font from fonts-liberation2).
    pub fn new(layout_toml: &str, font: Option<Vec<u8>>) -> Result<Self, RenderError> {
        let layout: Layout = toml::from_str(layout_toml).map_err(|e| RenderError::Layout(e.message().to_string()))?;
        layout.check().map_err(RenderError::Layout)?;
        let mut fonts = text::Fonts::embedded();
        if let Some(bytes) = font {
            let f = ab_glyph::FontArc::try_from_vec(bytes)
                .map_err(|_| RenderError::Layout("the font file is not a TrueType/OpenType font".into()))?;
            fonts = text::Fonts { regular: f.clone(), bold: f };
        }
        Ok(Self { layout, fonts })
    }

    /// The shipped template and font, for a station whose office names
    /// none (and the demo, the bench, `cetak render`). The shipped template
    /// is checked by a test; failing here is a build defect.
    pub fn shipped() -> Self {
        Renderer::embedded().unwrap_or_else(|e| broken(&e))
    }

    /// Renders a card for a printer with `caps`.
    pub fn render(&self, prr: &Prr, caps: &Capabilities) -> Result<Rendered, RenderError> {
        let (w, h) = caps.canvas;
        let dpmm = caps.dpi as f32 / 25.4;
        let to_box = |b: [f32; 4]| -> DotBox {
            ((b[0] * dpmm).round() as u32, (b[1] * dpmm).round() as u32, (b[2] * dpmm).round() as u32, (b[3] * dpmm).round() as u32)
        };
        let pt_px = caps.dpi as f32 / 72.0;
        let levels = caps.panels.iter().find(|(k, _)| *k == PanelKind::Y).map_or(32, |p| p.1);
        let mut k = CardImage::blank(w, h);
        let mut boxes = Vec::new();
        for el in self.layout.elements() {
            let value = fill(&el.value, prr);
            let font = match el.font {
                Weight::Regular => &self.fonts.regular,
                Weight::Bold => &self.fonts.bold,
            };
            if let Some(ch) = text::missing_glyph(font, &value) {
                return Err(RenderError::Glyph { field: el.name, code: ch as u32 });
            }
            let bx = to_box(el.bx);
            let setting = text::fit(font, &value, el.pt * pt_px, el.min_pt * pt_px, bx.2 as f32, el.lines)
                .ok_or_else(|| RenderError::DoesNotFit { field: el.name.clone() })?;
            let step = text::line_height(font, setting.px);
            if setting.lines.len() as f32 * step > bx.3 as f32 + 1.0 {
                return Err(RenderError::DoesNotFit { field: el.name });
            }
            for (i, line) in setting.lines.iter().enumerate() {
                let lw = text::width(font, line, setting.px, setting.tracking);
                let x = match el.align {
                    Align::Left => bx.0 as f32,
                    Align::Center => bx.0 as f32 + (bx.2 as f32 - lw) / 2.0,
                };
                text::draw(&mut k, font, line, x, bx.1 as f32 + i as f32 * step, setting.px, setting.tracking);
            }
            boxes.push((el.name, bx, setting.fit));
        }
        let photo_box = to_box(self.layout.photo.bx);
        let (mut y, mut m, mut c) = (CardImage::blank(w, h), CardImage::blank(w, h), CardImage::blank(w, h));
        picture::photo(&prr.card.foto_jpeg, photo_box, levels, &mut y, &mut m, &mut c)
            .map_err(|reason| RenderError::Picture { field: "foto_jpeg_base64".into(), reason })?;
        let signature_box = to_box(self.layout.signature.bx);
        picture::signature(&prr.card.tanda_tangan_png, signature_box, &mut k)
            .map_err(|reason| RenderError::Picture { field: "tanda_tangan_png_base64".into(), reason })?;
        let no_print: Vec<DotBox> = self.layout.no_print.iter().map(|b| to_box(b.bx)).collect();
        let mut o = CardImage { width: w, height: h, dots: vec![1; (w * h) as usize] };
        for &(x0, y0, bw, bh) in &no_print {
            for yy in y0..(y0 + bh).min(h) {
                for xx in x0..(x0 + bw).min(w) {
                    o.set(xx, yy, 0);
                }
            }
        }
        let mut panels = Vec::new();
        for &(kind, lv) in &caps.panels {
            let layer = match kind {
                PanelKind::Y => &y,
                PanelKind::M => &m,
                PanelKind::C => &c,
                PanelKind::K => &k,
                PanelKind::O => &o,
            };
            panels.push(layer.clone().into_panel(kind, lv, caps.orientation));
        }
        Ok(Rendered { panels: CardPanels { panels }, k, y, m, c, o, boxes, photo_box, signature_box, no_print, levels })
    }
}

#[allow(clippy::panic)]
fn broken(e: &RenderError) -> Renderer {
    panic!("the shipped card layout does not load: {e}")
}

/// Replaces each `{field}` with the card's value (dates as DD-MM-YYYY).
fn fill(template: &str, prr: &Prr) -> String {
    let c = &prr.card;
    let fields: [(&str, String); 20] = [
        ("provinsi", c.provinsi.clone()),
        ("kabupaten_kota", c.kabupaten_kota.clone()),
        ("nik", c.nik.clone()),
        ("nama", c.nama.clone()),
        ("tempat_lahir", c.tempat_lahir.clone()),
        ("tanggal_lahir", card_date(c.tanggal_lahir)),
        ("jenis_kelamin", c.jenis_kelamin.clone()),
        ("golongan_darah", c.golongan_darah.clone()),
        ("alamat", c.alamat.clone()),
        ("rt", c.rt.clone()),
        ("rw", c.rw.clone()),
        ("kelurahan_desa", c.kelurahan_desa.clone()),
        ("kecamatan", c.kecamatan.clone()),
        ("agama", c.agama.clone()),
        ("status_perkawinan", c.status_perkawinan.clone()),
        ("pekerjaan", c.pekerjaan.clone()),
        ("kewarganegaraan", c.kewarganegaraan.clone()),
        ("berlaku_hingga", c.berlaku_hingga.clone()),
        ("tempat_terbit", c.tempat_terbit.clone()),
        ("tanggal_terbit", card_date(c.tanggal_terbit)),
    ];
    let mut out = template.to_string();
    for (name, value) in fields {
        out = out.replace(&format!("{{{name}}}"), &value);
    }
    out
}

impl Renderer {
    /// The panels alone, for the printer.
    pub fn panels(&self, prr: &Prr, caps: &Capabilities) -> Result<CardPanels, RenderError> {
        self.render(prr, caps).map(|r| r.panels)
    }
}

/// The panels of a card in the shipped template and font (tests, the
/// bench): a function of the PRR and the capabilities alone.
pub fn render(prr: &Prr, caps: &Capabilities) -> Result<CardPanels, RenderError> {
    Renderer::shipped().panels(prr, caps)
}

/// The composite card as a person sees it: the photo's colours, black text
/// on white, at one dot a pixel.
pub fn preview(r: &Rendered) -> image::RgbImage {
    let max = f32::from(r.levels.saturating_sub(1).max(1));
    image::RgbImage::from_fn(r.k.width, r.k.height, |x, y| {
        if r.k.get(x, y) != 0 {
            return image::Rgb([0, 0, 0]);
        }
        let ch = |v: u8| 255 - (f32::from(v) / max * 255.0) as u8;
        image::Rgb([ch(r.c.get(x, y)), ch(r.m.get(x, y)), ch(r.y.get(x, y))])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_layout_loads() {
        let r = Renderer::embedded();
        assert!(r.is_ok(), "{:?}", r.err());
    }

    #[test]
    fn text_on_a_colour_panel_is_refused() {
        let bad = layout::EMBEDDED.replacen("panel = \"k\"\nfont = \"bold\"", "panel = \"ymc\"\nfont = \"bold\"", 1);
        assert_ne!(bad, layout::EMBEDDED, "the test must change the template");
        assert!(matches!(Renderer::new(&bad, None), Err(RenderError::Layout(m)) if m.contains("k only")));
    }
}
