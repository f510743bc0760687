//! Panels as the printer receives them, and the landscape card image they
//! are cut from. A panel is packed in the wire's line order, so the agent,
//! the driver and the emulator all hash the same bytes.

use sha2::{Digest, Sha256};

use crate::printer::LineOrientation;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PanelKind {
    Y,
    M,
    C,
    /// Resin black: text and NIK.
    K,
    /// Clear overlay.
    O,
}

impl PanelKind {
    pub fn letter(self) -> char {
        match self {
            Self::Y => 'y',
            Self::M => 'm',
            Self::C => 'c',
            Self::K => 'k',
            Self::O => 'o',
        }
    }
}

/// One panel: `lines` lines of `dots_per_line` dots, one byte a dot holding
/// the level (0 = no ink). Bit packing for a wire happens in the protocol.
#[derive(Clone, PartialEq, Eq)]
pub struct Panel {
    pub kind: PanelKind,
    pub levels: u16,
    pub dots_per_line: u32,
    pub lines: u32,
    pub dots: Vec<u8>,
}

impl std::fmt::Debug for Panel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Panel({:?}, {}x{}, {} levels)", self.kind, self.dots_per_line, self.lines, self.levels)
    }
}

impl Panel {
    /// SHA-256 of the dots in wire line order, hex.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(&self.dots))
    }
}

/// The panels of one card side, in print order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardPanels {
    pub panels: Vec<Panel>,
}

impl CardPanels {
    pub fn panel(&self, kind: PanelKind) -> Option<&Panel> {
        self.panels.iter().find(|p| p.kind == kind)
    }

    /// Hash of the K panel: what the physical log records for each card.
    pub fn k_hash(&self) -> Option<String> {
        self.panel(PanelKind::K).map(Panel::hash)
    }
}

/// One panel of the landscape card as the renderer draws it: `width` dots
/// along the long side, `height` along the short side, row after row.
#[derive(Clone, PartialEq, Eq)]
pub struct CardImage {
    pub width: u32,
    pub height: u32,
    pub dots: Vec<u8>,
}

impl CardImage {
    pub fn blank(width: u32, height: u32) -> Self {
        Self { width, height, dots: vec![0; (width * height) as usize] }
    }

    pub fn get(&self, x: u32, y: u32) -> u8 {
        self.dots[(y * self.width + x) as usize]
    }

    pub fn set(&mut self, x: u32, y: u32, level: u8) {
        if x < self.width && y < self.height {
            self.dots[(y * self.width + x) as usize] = level;
        }
    }

    /// Maps the landscape image onto a printer's line order. Across the
    /// short side: line `i` is column `i` of the card, its first dot at the
    /// card's top edge.
    pub fn into_panel(self, kind: PanelKind, levels: u16, orientation: LineOrientation) -> Panel {
        match orientation {
            LineOrientation::AlongLongSide => Panel { kind, levels, dots_per_line: self.width, lines: self.height, dots: self.dots },
            LineOrientation::AcrossShortSide => {
                let mut dots = Vec::with_capacity(self.dots.len());
                for x in 0..self.width {
                    for y in 0..self.height {
                        dots.push(self.get(x, y));
                    }
                }
                Panel { kind, levels, dots_per_line: self.height, lines: self.width, dots }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn across_short_side_puts_card_columns_on_lines() {
        let mut img = CardImage::blank(4, 2);
        img.set(3, 0, 1); // top-right corner of the landscape card
        let p = img.into_panel(PanelKind::K, 2, LineOrientation::AcrossShortSide);
        assert_eq!((p.dots_per_line, p.lines), (2, 4));
        // last line (column 3), first dot (top edge)
        assert_eq!(p.dots, vec![0, 0, 0, 0, 0, 0, 1, 0]);
    }
}
