//! Evolis panel encodings (`evolis.md`, "Bitmaps and downloads"): the full
//! bitmap for `Db`, and the compressed forms for `Dbc`.
//!
//! A panel is 1016 lines of 648 dots, sent line after line, first dot
//! first. Each dot takes the level's bit count (1 at 2 levels, 5 at 32, 6 at
//! 64, 7 at 128), bits concatenated with no padding, most significant bit
//! first. A dot's value is its ink (0: none); at 2 levels 1 is ink.
//!
//! Compressed K and O, line by line: 0x00 a white line, 0xFF a black line,
//! or N (1..=81) followed by the first N bytes of the packed line (N is the
//! index of the last non-white byte, plus one), the rest white.
//!
//! Compressed Y, M and C, line by line: a byte with the top bit clear is one
//! dot's value; a byte with the top bit set carries a value in its low
//! `bits` bits, its spare bits (between the top bit and the value) times 256
//! plus the next byte give how many dots have that value (our convention:
//! the count is the number of dots, at least 1). A run of value 0 with a
//! count of 0 ends the line: the rest is blank.

use crate::panel::Panel;

/// Bits a dot takes at `levels` grey levels.
pub fn bits_per_dot(levels: u16) -> Option<u32> {
    match levels {
        2 => Some(1),
        32 => Some(5),
        64 => Some(6),
        128 => Some(7),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BitmapError {
    #[error("unsupported level count {0}")]
    Levels(u16),
    #[error("dot value {value} does not fit {levels} levels")]
    Value { value: u8, levels: u16 },
}

/// Packs dots MSB first, `bits` bits each, with no padding.
fn pack(dots: &[u8], bits: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((dots.len() * bits as usize).div_ceil(8));
    let mut acc: u32 = 0;
    let mut n = 0;
    for &d in dots {
        acc = (acc << bits) | u32::from(d);
        n += bits;
        while n >= 8 {
            n -= 8;
            out.push((acc >> n) as u8);
            acc &= (1 << n) - 1;
        }
    }
    if n > 0 {
        out.push((acc << (8 - n)) as u8);
    }
    out
}

fn check(panel: &Panel) -> Result<u32, BitmapError> {
    let bits = bits_per_dot(panel.levels).ok_or(BitmapError::Levels(panel.levels))?;
    if let Some(&value) = panel.dots.iter().find(|&&d| u16::from(d) >= panel.levels) {
        return Err(BitmapError::Value { value, levels: panel.levels });
    }
    Ok(bits)
}

/// The full bitmap of a panel, as `Db` sends it.
pub fn encode_full(panel: &Panel) -> Result<Vec<u8>, BitmapError> {
    let bits = check(panel)?;
    Ok(pack(&panel.dots, bits))
}

/// The compressed bitmap of a panel, as `Dbc` sends it.
pub fn encode_compressed(panel: &Panel) -> Result<Vec<u8>, BitmapError> {
    let bits = check(panel)?;
    let width = panel.dots_per_line as usize;
    let mut out = Vec::new();
    for line in panel.dots.chunks(width) {
        if bits == 1 {
            compress_mono_line(&pack(line, 1), &mut out);
        } else {
            compress_colour_line(line, bits, &mut out);
        }
    }
    Ok(out)
}

fn compress_mono_line(packed: &[u8], out: &mut Vec<u8>) {
    if packed.iter().all(|&b| b == 0) {
        out.push(0x00);
    } else if packed.iter().all(|&b| b == 0xFF) && packed.len() == 81 {
        out.push(0xFF);
    } else {
        let n = packed.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        out.push(n as u8);
        out.extend_from_slice(&packed[..n]);
    }
}

/// Largest run one compressed Y/M/C pair can carry at `bits` bits a value.
pub fn max_run(bits: u32) -> usize {
    let spare = 7 - bits; // bits between the top bit and the value
                          // The guide's maxima: 767 at 5 bits, 511 at 6, 255 at 7.
    ((1usize << spare) - 1).min(2) * 256 + 255
}

fn compress_colour_line(line: &[u8], bits: u32, out: &mut Vec<u8>) {
    let end = line.iter().rposition(|&d| d != 0).map_or(0, |i| i + 1);
    let mut i = 0;
    while i < end {
        let v = line[i];
        let mut run = 1;
        while i + run < end && line[i + run] == v && run < max_run(bits) {
            run += 1;
        }
        if run == 1 && v < 0x80 {
            out.push(v);
        } else {
            out.push(0x80 | (((run >> 8) as u8) << bits) | v);
            out.push(run as u8);
        }
        i += run;
    }
    if end < line.len() {
        out.push(0x80);
        out.push(0x00);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::panel::PanelKind;

    fn panel(kind: PanelKind, levels: u16, dots: Vec<u8>) -> Panel {
        Panel { kind, levels, dots_per_line: 648, lines: (dots.len() / 648) as u32, dots }
    }

    #[test]
    fn panel_sizes_follow_648_by_1016() {
        for (levels, bytes) in [(2, 82_296), (32, 411_480), (64, 493_776), (128, 576_072)] {
            let p = panel(PanelKind::Y, levels, vec![0; 648 * 1016]);
            assert_eq!(encode_full(&p).map(|v| v.len()), Ok(bytes), "{levels} levels");
        }
    }

    #[test]
    fn a_value_too_large_for_the_levels_is_refused() {
        let p = panel(PanelKind::K, 2, vec![2; 648]);
        assert_eq!(encode_full(&p), Err(BitmapError::Value { value: 2, levels: 2 }));
    }

    #[test]
    fn run_maxima_match_the_guide() {
        assert_eq!((max_run(5), max_run(6), max_run(7)), (767, 511, 255));
    }
}
