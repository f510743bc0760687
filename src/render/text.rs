//! Text on the K panel: glyphs rasterised by `ab_glyph` from the embedded
//! DejaVu Sans (or an office's own font file), and the fitting rule.
//!
//! Why ab_glyph: the card holds short runs of Latin text in one direction,
//! which need outlines, advances and kerning, not shaping; ab_glyph is small,
//! pure Rust, well kept, and rasterises glyph coverage itself, so no second
//! rasteriser is needed (the photo is resampled by `image`).

use ab_glyph::{Font, FontArc, PxScale, ScaleFont};

use cetak_drivers::CardImage;

/// How a value was made to fit its box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fit {
    Nominal,
    Tighter,
    Smaller,
    Wrapped,
}

/// Text set for drawing: lines, size in pixels, extra space between
/// letters in pixels (negative: tighter).
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub lines: Vec<String>,
    pub px: f32,
    pub tracking: f32,
    pub fit: Fit,
}

#[derive(Clone)]
pub struct Fonts {
    pub regular: FontArc,
    pub bold: FontArc,
}

impl Fonts {
    /// DejaVu Sans, compiled in: the demo renders on a fresh machine and
    /// golden images stay stable.
    pub fn embedded() -> Self {
        // The embedded fonts are known-good; a failure here is a build defect.
        let load = |b: &'static [u8]| FontArc::try_from_slice(b).ok();
        match (load(dejavu::sans::regular()), load(dejavu::sans::bold())) {
            (Some(regular), Some(bold)) => Self { regular, bold },
            _ => unreachable_fonts(),
        }
    }
}

#[allow(clippy::panic)]
fn unreachable_fonts() -> Fonts {
    panic!("the embedded DejaVu fonts do not load: the build is broken")
}

/// The first character the font cannot draw.
pub fn missing_glyph(font: &FontArc, text: &str) -> Option<char> {
    text.chars().find(|&c| !c.is_whitespace() && font.glyph_id(c).0 == 0)
}

/// Width of `text` at `px`, with `tracking` added between letters.
pub fn width(font: &FontArc, text: &str, px: f32, tracking: f32) -> f32 {
    let f = font.as_scaled(PxScale::from(px));
    let mut w = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            w += f.kern(p, id) + tracking;
        }
        w += f.h_advance(id);
        prev = Some(id);
    }
    w
}

/// Greedy wrap at spaces; `None` when a single word is too wide.
fn wrap(font: &FontArc, text: &str, px: f32, max_w: f32) -> Option<Vec<String>> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        if width(font, word, px, 0.0) > max_w {
            return None;
        }
        match lines.last_mut() {
            Some(l) if width(font, &format!("{l} {word}"), px, 0.0) <= max_w => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    Some(lines)
}

/// The fitting rule: nominal size; then tighter; then smaller down to the
/// minimum; then wrapped onto at most `max_lines` lines. `None`: it does
/// not fit, and the job must be rejected (never clipped).
pub fn fit(font: &FontArc, text: &str, px: f32, min_px: f32, max_w: f32, max_lines: usize) -> Option<Setting> {
    let one = |px: f32, tracking: f32, fit: Fit| Setting { lines: vec![text.to_string()], px, tracking, fit };
    if width(font, text, px, 0.0) <= max_w {
        return Some(one(px, 0.0, Fit::Nominal));
    }
    for step in 1..=3 {
        let tracking = -0.02 * step as f32 * px;
        if width(font, text, px, tracking) <= max_w {
            return Some(one(px, tracking, Fit::Tighter));
        }
    }
    let tight = -0.06;
    let mut size = px - 0.5;
    while size >= min_px - 0.01 {
        if width(font, text, size, tight * size) <= max_w {
            return Some(one(size, tight * size, Fit::Smaller));
        }
        size -= 0.5;
    }
    if max_lines > 1 {
        let mut size = px;
        while size >= min_px - 0.01 {
            if let Some(lines) = wrap(font, text, size, max_w).filter(|l| l.len() <= max_lines) {
                return Some(Setting { lines, px: size, tracking: 0.0, fit: Fit::Wrapped });
            }
            size -= 0.5;
        }
    }
    None
}

/// Draws one line with its top-left at (x, y) in dots; coverage of half or
/// more inks a dot (K is one bit a dot).
pub fn draw(img: &mut CardImage, font: &FontArc, text: &str, x: f32, y: f32, px: f32, tracking: f32) {
    let f = font.as_scaled(PxScale::from(px));
    let baseline = y + f.ascent();
    let mut pen = x;
    let mut prev = None;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            pen += f.kern(p, id) + tracking;
        }
        let glyph = id.with_scale_and_position(px, ab_glyph::point(pen, baseline));
        if let Some(outlined) = font.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                if coverage >= 0.5 {
                    let (dx, dy) = (b.min.x + gx as f32, b.min.y + gy as f32);
                    if dx >= 0.0 && dy >= 0.0 {
                        img.set(dx as u32, dy as u32, 1);
                    }
                }
            });
        }
        pen += f.h_advance(id);
        prev = Some(id);
    }
}

/// Height of one line of text at `px`.
pub fn line_height(font: &FontArc, px: f32) -> f32 {
    let f = font.as_scaled(PxScale::from(px));
    f.ascent() - f.descent()
}
