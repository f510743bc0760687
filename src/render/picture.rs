//! The photo onto Y, M and C, the signature's ink onto K.

use cetak_drivers::CardImage;
use image::imageops::FilterType;

/// A box in dots: x, y, width, height.
pub type DotBox = (u32, u32, u32, u32);

/// Scales the photo to fill its box without distortion (cropping the
/// overflow evenly) and writes cyan, magenta and yellow at `levels`.
pub fn photo(jpeg: &[u8], bx: DotBox, levels: u16, y: &mut CardImage, m: &mut CardImage, c: &mut CardImage) -> Result<(), String> {
    let img = cetak_model::validate::decode_fully(jpeg, image::ImageFormat::Jpeg).map_err(|e| e.to_string())?.to_rgb8();
    let (bw, bh) = (bx.2, bx.3);
    let scale = (bw as f32 / img.width() as f32).max(bh as f32 / img.height() as f32);
    let (sw, sh) = (((img.width() as f32 * scale).ceil() as u32).max(bw), ((img.height() as f32 * scale).ceil() as u32).max(bh));
    let scaled = image::imageops::resize(&img, sw, sh, FilterType::Triangle);
    let (ox, oy) = ((sw - bw) / 2, (sh - bh) / 2);
    let max = f32::from(levels - 1);
    for dy in 0..bh {
        for dx in 0..bw {
            let p = scaled.get_pixel(ox + dx, oy + dy).0;
            let ink = |v: u8| ((255.0 - f32::from(v)) / 255.0 * max).round() as u8;
            let (x, yy) = (bx.0 + dx, bx.1 + dy);
            c.set(x, yy, ink(p[0]));
            m.set(x, yy, ink(p[1]));
            y.set(x, yy, ink(p[2]));
        }
    }
    Ok(())
}

/// Fits the signature inside its box (no distortion, centred) and inks the
/// dark strokes on K; its white stays transparent.
pub fn signature(png: &[u8], bx: DotBox, k: &mut CardImage) -> Result<(), String> {
    let img = cetak_model::validate::decode_fully(png, image::ImageFormat::Png).map_err(|e| e.to_string())?.to_luma_alpha8();
    let scale = (bx.2 as f32 / img.width() as f32).min(bx.3 as f32 / img.height() as f32);
    let (sw, sh) = (((img.width() as f32 * scale) as u32).max(1), ((img.height() as f32 * scale) as u32).max(1));
    let scaled = image::imageops::resize(&img, sw, sh, FilterType::Triangle);
    let (ox, oy) = (bx.0 + (bx.2 - sw) / 2, bx.1 + (bx.3 - sh) / 2);
    for (x, y, p) in scaled.enumerate_pixels() {
        let [luma, alpha] = p.0;
        if alpha > 127 && luma < 128 {
            k.set(ox + x, oy + y, 1);
        }
    }
    Ok(())
}
