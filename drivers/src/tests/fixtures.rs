//! Byte-exact vectors for tiny patterns, computed by hand from `evolis.md`
//! (not by our encoder), checked against the driver's encoder and,
//! separately, the emulator's decoder: a bug both sides share cannot hide.

use crate::emulator::wire::{decode_compressed, decode_full, DOTS_PER_LINE, LINES};
use crate::evolis::bitmap::{encode_compressed, encode_full};
use crate::panel::{Panel, PanelKind};

fn panel(kind: PanelKind, levels: u16, dots: Vec<u8>) -> Panel {
    Panel { kind, levels, dots_per_line: DOTS_PER_LINE as u32, lines: LINES as u32, dots }
}

fn blank() -> Vec<u8> {
    vec![0; DOTS_PER_LINE * LINES]
}

/// Both directions: the encoder makes `bytes` from `dots`, and the
/// emulator's decoder makes `dots` from `bytes`.
fn both_ways(p: &Panel, bytes: &[u8], compressed: bool) {
    let encoded = if compressed { encode_compressed(p) } else { encode_full(p) };
    assert_eq!(encoded.as_deref(), Ok(bytes), "encoder disagrees with the hand-made vector");
    let decoded = if compressed { decode_compressed(bytes, p.levels) } else { decode_full(bytes, p.levels) };
    assert!(decoded.as_deref() == Some(p.dots.as_slice()), "decoder disagrees with the hand-made vector");
}

#[test]
fn a_dot_at_each_corner_of_a_k_panel() {
    let mut dots = blank();
    for (line, dot) in [(0, 0), (0, 647), (1015, 0), (1015, 647)] {
        dots[line * DOTS_PER_LINE + dot] = 1;
    }
    // 81 bytes a line; dot 0 is the top bit of a line's first byte, dot 647
    // the bottom bit of its 81st.
    let mut bytes = vec![0u8; 82_296];
    bytes[0] = 0x80;
    bytes[80] = 0x01;
    bytes[1015 * 81] = 0x80;
    bytes[1015 * 81 + 80] = 0x01;
    both_ways(&panel(PanelKind::K, 2, dots), &bytes, false);
}

#[test]
fn a_five_bit_gradient_row() {
    let mut dots = blank();
    for v in 0..32u8 {
        dots[v as usize] = v;
    }
    // Eight 5-bit values make five bytes: 0..7, 8..15, 16..23, 24..31.
    let mut bytes = vec![0u8; 411_480];
    bytes[..20].copy_from_slice(&[
        0x00, 0x44, 0x32, 0x14, 0xC7, //
        0x42, 0x54, 0xB6, 0x35, 0xCF, //
        0x84, 0x65, 0x3A, 0x56, 0xD7, //
        0xC6, 0x75, 0xBE, 0x77, 0xDF,
    ]);
    both_ways(&panel(PanelKind::Y, 32, dots), &bytes, false);
}

#[test]
fn compressed_k_lines() {
    let mut dots = blank();
    dots[0] = 1; // line 0, dot 0: top bit of byte 0
    dots[31] = 1; // line 0, dot 31: bottom bit of byte 3
    for d in dots.iter_mut().skip(DOTS_PER_LINE).take(DOTS_PER_LINE) {
        *d = 1; // line 1 all black
    }
    // Line 0: four useful bytes; line 1: black; the rest: white.
    let mut bytes = vec![0x04, 0x80, 0x00, 0x00, 0x01, 0xFF];
    bytes.extend(std::iter::repeat_n(0x00, LINES - 2));
    both_ways(&panel(PanelKind::K, 2, dots), &bytes, true);
}

#[test]
fn compressed_y_runs() {
    let mut dots = blank();
    for d in dots.iter_mut().take(300) {
        *d = 7; // line 0: 300 dots of 7, then blank
    }
    for d in dots.iter_mut().skip(DOTS_PER_LINE).take(DOTS_PER_LINE) {
        *d = 5; // line 1: 648 dots of 5
    }
    dots[2 * DOTS_PER_LINE] = 3; // line 2: one dot of 3, then blank
                                 // Line 0: 1|01|00111 (value 7, 256 in the spare bits), then 44: 300
                                 // dots; 0x80 0x00 ends the line. Line 1: 1|10|00101, 136: 648 dots of
                                 // 5. Line 2: the single dot 0x03, then the end. Other lines: the end.
    let mut bytes = vec![0xA7, 0x2C, 0x80, 0x00, 0xC5, 0x88, 0x03, 0x80, 0x00];
    for _ in 3..LINES {
        bytes.extend([0x80, 0x00]);
    }
    both_ways(&panel(PanelKind::Y, 32, dots), &bytes, true);
}

#[test]
fn the_decoder_refuses_a_short_or_overlong_download() {
    assert!(decode_full(&[0u8; 100], 2).is_none());
    assert!(decode_compressed(&[0x05, 0x80], 2).is_none(), "a line that promises more bytes than it has");
    let mut run_too_long = vec![0xC5, 0xFF]; // 767 dots of 5 on a 648-dot line
    run_too_long.extend(std::iter::repeat_n(0x00, 10));
    assert!(decode_compressed(&run_too_long, 32).is_none());
}
