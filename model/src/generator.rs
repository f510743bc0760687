//! Synthetic PRRs: invented people with NIKs built by the real rules and a
//! different generated photo and signature per person. Deterministic for a
//! seed, so demos and tests can be replayed. No real person's data.

use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// A village the generator issues cards for.
struct Village {
    kode: &'static str,
    provinsi: &'static str,
    kabupaten: &'static str,
    kecamatan: &'static str,
    desa: &'static str,
    kota: &'static str,
}

const VILLAGES: &[Village] = &[
    Village {
        kode: "17.71.01.1001",
        provinsi: "BENGKULU",
        kabupaten: "KOTA BENGKULU",
        kecamatan: "GADING CEMPAKA",
        desa: "JALAN GEDANG",
        kota: "BENGKULU",
    },
    Village {
        kode: "17.71.02.1002",
        provinsi: "BENGKULU",
        kabupaten: "KOTA BENGKULU",
        kecamatan: "RATU AGUNG",
        desa: "SAWAH LEBAR",
        kota: "BENGKULU",
    },
    Village {
        kode: "18.09.02.2002",
        provinsi: "LAMPUNG",
        kabupaten: "KABUPATEN PESAWARAN",
        kecamatan: "NEGERI KATON",
        desa: "TRIMULYO",
        kota: "PESAWARAN",
    },
    Village {
        kode: "32.01.14.2001",
        provinsi: "JAWA BARAT",
        kabupaten: "KABUPATEN BOGOR",
        kecamatan: "BOJONGGEDE",
        desa: "BOJONGGEDE",
        kota: "BOGOR",
    },
    Village { kode: "32.76.02.1001", provinsi: "JAWA BARAT", kabupaten: "KOTA DEPOK", kecamatan: "BEJI", desa: "BEJI", kota: "DEPOK" },
    Village {
        kode: "73.09.03.1001",
        provinsi: "SULAWESI SELATAN",
        kabupaten: "KABUPATEN MAROS",
        kecamatan: "TURIKALE",
        desa: "PETTUADAE",
        kota: "MAROS",
    },
];

const GIVEN: &[&str] = &[
    "AGUS", "BUDI", "CITRA", "DEWI", "EKO", "FITRI", "GILANG", "HENDRA", "INDAH", "JOKO", "KARTIKA", "LESTARI", "MADE", "NUR", "PUTRI",
    "RATNA", "SITI", "TAUFIK", "WAHYU", "YOHANA",
];
const FAMILY: &[&str] = &[
    "PRATAMA",
    "SARAGIH",
    "NUGROHO",
    "HIDAYAT",
    "SIMANJUNTAK",
    "WIJAYA",
    "LUBIS",
    "SETIAWAN",
    "HARAHAP",
    "PANGARIBUAN",
    "SAPUTRA",
    "KURNIAWAN",
];
const STREETS: &[&str] =
    &["JL. MERDEKA", "JL. NUSANTARA", "JL. SUDIRMAN", "JL. KH. AHMAD DAHLAN GG. MELATI", "JL. PAHLAWAN", "JL. CEMPAKA"];
const AGAMA: &[&str] = &["ISLAM", "KRISTEN", "KATHOLIK", "HINDU", "BUDDHA", "KHONGHUCU"];
const KAWIN: &[&str] = &["BELUM KAWIN", "KAWIN", "CERAI HIDUP", "CERAI MATI"];
const KERJA: &[&str] =
    &["PELAJAR/MAHASISWA", "WIRASWASTA", "KARYAWAN SWASTA", "PETANI/PEKEBUN", "NELAYAN/PERIKANAN", "MENGURUS RUMAH TANGGA"];
const DARAH: &[&str] = &["A", "B", "AB", "O", "-"];
const REQUESTS: &[&str] = &["baru", "rusak", "hilang", "perubahan_data", "pindah"];
const URGENT_REASONS: &[&str] = &["berobat (health care)", "pendaftaran kuliah (university registration)"];

/// Generates `count` valid PRRs as JSON values in the samples' format.
/// `issued` is the issue date written on every card (`YYYY-MM-DD`).
pub fn generate(seed: u64, count: usize, issued: time::Date) -> Vec<Value> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count).map(|i| person(&mut rng, seed, i, issued)).collect()
}

fn pick<'a>(rng: &mut StdRng, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

fn person(rng: &mut StdRng, seed: u64, index: usize, issued: time::Date) -> Value {
    let v = &VILLAGES[rng.random_range(0..VILLAGES.len())];
    let female = rng.random_bool(0.5);
    let year = rng.random_range(1950..=2008);
    let month = rng.random_range(1..=12u8);
    let day = rng.random_range(1..=28u8);
    let region: String = v.kode[..8].replace('.', "");
    let nik_day = if female { day + 40 } else { day };
    let nik = format!("{region}{nik_day:02}{month:02}{:02}{:04}", year % 100, rng.random_range(1..=9999));
    let urgent = rng.random_bool(0.2);
    let name = format!("{} {}", pick(rng, GIVEN), pick(rng, FAMILY));
    let kode_prefix: String = v.kode[..5].replace('.', "");
    json!({
        "job_id": format!("gen-{kode_prefix}-{seed:x}-{index:06}"),
        "kode_wilayah": v.kode,
        "request_type": pick(rng, REQUESTS),
        "priority": if urgent { "urgent" } else { "normal" },
        "priority_reason": if urgent { Value::from(pick(rng, URGENT_REASONS)) } else { Value::Null },
        "card": {
            "provinsi": v.provinsi,
            "kabupaten_kota": v.kabupaten,
            "nik": nik,
            "nama": name,
            "tempat_lahir": v.kota,
            "tanggal_lahir": format!("{year:04}-{month:02}-{day:02}"),
            "jenis_kelamin": if female { "PEREMPUAN" } else { "LAKI-LAKI" },
            "golongan_darah": pick(rng, DARAH),
            "alamat": format!("{} NO. {}", pick(rng, STREETS), rng.random_range(1..200)),
            "rt": format!("{:03}", rng.random_range(1..20)),
            "rw": format!("{:03}", rng.random_range(1..15)),
            "kelurahan_desa": v.desa,
            "kecamatan": v.kecamatan,
            "agama": pick(rng, AGAMA),
            "status_perkawinan": pick(rng, KAWIN),
            "pekerjaan": pick(rng, KERJA),
            "kewarganegaraan": "WNI",
            "berlaku_hingga": "SEUMUR HIDUP",
            "tempat_terbit": v.kota,
            "tanggal_terbit": format!("{:04}-{:02}-{:02}", issued.year(), u8::from(issued.month()), issued.day()),
            "foto_jpeg_base64": base64::engine::general_purpose::STANDARD.encode(photo(rng)),
            "tanda_tangan_png_base64": base64::engine::general_purpose::STANDARD.encode(signature(rng)),
        }
    })
}

/// A 200 x 250 passport-style picture on the card's red background: a head
/// and shoulders in a per-person skin and clothing tone.
pub fn photo(rng: &mut StdRng) -> Vec<u8> {
    let (w, h) = (200u32, 250u32);
    let skin = [rng.random_range(150..230u8), rng.random_range(110..180u8), rng.random_range(80..140u8)];
    let cloth = [rng.random_range(0..120u8), rng.random_range(0..120u8), rng.random_range(0..160u8)];
    let head_r = rng.random_range(45..60) as f32;
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let head = ((fx - 100.0) / head_r).powi(2) + ((fy - 105.0) / (head_r * 1.25)).powi(2) <= 1.0;
        let body = fy > 185.0 && ((fx - 100.0).abs() < 90.0 - (250.0 - fy) * 0.5);
        if head {
            image::Rgb(skin)
        } else if body {
            image::Rgb(cloth)
        } else {
            image::Rgb([200, 20, 30])
        }
    });
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80);
    // Encoding an in-memory RGB buffer of a fixed size cannot fail.
    let _ = img.write_with_encoder(enc);
    out
}

/// A 300 x 100 signature: a few random pen strokes on white.
pub fn signature(rng: &mut StdRng) -> Vec<u8> {
    let (w, h) = (300u32, 100u32);
    let mut img = image::GrayImage::from_pixel(w, h, image::Luma([255]));
    let mut x = 20.0f32;
    let mut y = 50.0f32;
    for _ in 0..400 {
        x += rng.random_range(0.2..1.0);
        y = (y + rng.random_range(-3.0..3.0)).clamp(10.0, 90.0);
        if x >= (w - 2) as f32 {
            break;
        }
        for dx in 0..2 {
            for dy in 0..2 {
                img.put_pixel(x as u32 + dx, y as u32 + dy, image::Luma([0]));
            }
        }
    }
    let mut out = Vec::new();
    let _ = img.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prr::RawPrr;
    use crate::validate::validate;

    #[test]
    fn generated_records_validate_cleanly_and_differ() {
        let today = time::macros::date!(2026 - 11 - 23);
        let people = generate(7, 30, today);
        let mut photos = std::collections::HashSet::new();
        for p in &people {
            let raw = RawPrr::from_value(p.clone()).expect("object");
            let v = validate(&raw, today);
            assert!(v.findings.is_empty(), "{:?}", v.findings);
            photos.insert(p["card"]["foto_jpeg_base64"].as_str().map(str::to_string));
        }
        assert_eq!(photos.len(), people.len(), "each person gets a different photo");
        assert_eq!(generate(7, 3, today), generate(7, 3, today), "same seed, same people");
    }
}
