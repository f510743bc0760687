//! The card layout template (`config/layout/ektp.toml`): what the printer
//! adds to a pre-printed blank, in millimetres from the top-left corner.

use serde::Deserialize;

/// A box in millimetres: x, y, width, height.
pub type MmBox = [f32; 4];

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    pub width_mm: f32,
    pub height_mm: f32,
    #[serde(default)]
    pub text: Vec<TextElement>,
    #[serde(default)]
    pub row: Vec<Row>,
    pub rows: RowsStyle,
    pub photo: BoxOnly,
    pub signature: BoxOnly,
    #[serde(default)]
    pub no_print: Vec<BoxOnly>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weight {
    Regular,
    Bold,
}

/// The panel an element is printed on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PanelName {
    /// Resin black: text, the NIK, the signature.
    #[default]
    K,
    /// Yellow, magenta and cyan together: the photo.
    Ymc,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    #[default]
    Left,
    Center,
}

/// A text element placed by its own box.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextElement {
    pub name: String,
    pub value: String,
    #[serde(rename = "box")]
    pub bx: MmBox,
    pub font: Weight,
    pub pt: f32,
    pub min_pt: f32,
    #[serde(default)]
    pub align: Align,
    #[serde(default = "one")]
    pub lines: usize,
    #[serde(default)]
    pub panel: PanelName,
}

fn one() -> usize {
    1
}

/// A labelled line of the body: label, colon, value.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub label: String,
    pub name: String,
    pub value: String,
    #[serde(default = "one")]
    pub lines: usize,
    /// The value's width, when less than the rows' default.
    pub width: Option<f32>,
    /// A second label and value on the same line.
    pub also: Option<AlsoOnLine>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlsoOnLine {
    pub label: String,
    pub name: String,
    pub value: String,
    pub label_x: f32,
    pub value_x: f32,
    pub width: f32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowsStyle {
    pub top: f32,
    pub pitch: f32,
    pub line_pitch: f32,
    pub label_x: f32,
    pub label_width: f32,
    pub colon_x: f32,
    pub value_x: f32,
    pub value_width: f32,
    pub pt: f32,
    pub min_pt: f32,
    pub label_pt: f32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxOnly {
    #[serde(rename = "box")]
    pub bx: MmBox,
    /// The panel(s) it is printed on (the no-print mask has none).
    pub panel: Option<PanelName>,
}

/// The template shipped with cetak.
pub const EMBEDDED: &str = include_str!("../../config/layout/ektp.toml");

impl Layout {
    /// Refuses element/panel pairs this renderer cannot print, rather than
    /// quietly printing them elsewhere: text and the signature on K, the
    /// photo on Y, M and C.
    pub fn check(&self) -> Result<(), String> {
        if let Some(t) = self.text.iter().find(|t| t.panel != PanelName::K) {
            return Err(format!("text element {} on panel {:?}: text prints on k only", t.name, t.panel));
        }
        if self.photo.panel.unwrap_or(PanelName::Ymc) != PanelName::Ymc {
            return Err("the photo prints on ymc only".into());
        }
        if self.signature.panel.unwrap_or(PanelName::K) != PanelName::K {
            return Err("the signature prints on k only".into());
        }
        Ok(())
    }

    /// Every text element, rows expanded into boxes.
    pub fn elements(&self) -> Vec<TextElement> {
        let mut out = self.text.clone();
        let r = &self.rows;
        // Row elements differ only in name, text, box, sizes and lines.
        let el = |name: String, value: String, bx: MmBox, pt: f32, min_pt: f32, lines: usize| TextElement {
            name,
            value,
            bx,
            font: Weight::Regular,
            pt,
            min_pt,
            align: Align::Left,
            lines,
            panel: PanelName::K,
        };
        let mut y = r.top;
        for row in &self.row {
            let h = r.line_pitch * (row.lines as f32 - 1.0) + r.pitch;
            out.push(el(format!("label.{}", row.name), row.label.clone(), [r.label_x, y, r.label_width, r.pitch], r.label_pt, r.min_pt, 1));
            out.push(el(format!("colon.{}", row.name), ":".into(), [r.colon_x, y, 0.8, r.pitch], r.label_pt, r.label_pt, 1));
            let width = row.width.unwrap_or(r.value_width);
            out.push(el(row.name.clone(), row.value.clone(), [r.value_x, y, width, h], r.pt, r.min_pt, row.lines));
            if let Some(a) = &row.also {
                let label_box = [a.label_x, y, a.value_x - a.label_x - 0.3, r.pitch];
                out.push(el(format!("label.{}", a.name), a.label.clone(), label_box, r.label_pt, r.min_pt, 1));
                out.push(el(a.name.clone(), a.value.clone(), [a.value_x, y, a.width, r.pitch], r.pt, r.min_pt, 1));
            }
            y += h;
        }
        out
    }
}
