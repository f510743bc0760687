//! Rendering: structural checks that do not depend on a picture the code
//! drew itself, the fitting order, and golden images of a few samples.

use cetak::render::{Fit, RenderError, Renderer};
use cetak_drivers::{Capabilities, CardImage};
use serde_json::Value;

use crate::support::sample_lines;

fn caps() -> Capabilities {
    Capabilities::evolis_ymcko(false)
}

fn prr_from(v: &Value) -> cetak_model::Prr {
    let raw = cetak_model::RawPrr::from_value(v.clone()).expect("object");
    let r = cetak_model::validate(&raw, cetak::clock::today());
    r.prr.unwrap_or_else(|| panic!("invalid: {:?}", r.findings))
}

fn sample(i: usize) -> Value {
    serde_json::from_str(&sample_lines("prr-valid.jsonl")[i]).expect("json")
}

fn inside(b: (u32, u32, u32, u32), x: u32, y: u32, margin: u32) -> bool {
    x + margin >= b.0 && x < b.0 + b.2 + margin && y + margin >= b.1 && y < b.1 + b.3 + margin
}

fn ink(img: &CardImage) -> impl Iterator<Item = (u32, u32)> + '_ {
    (0..img.height).flat_map(move |y| (0..img.width).map(move |x| (x, y))).filter(move |&(x, y)| img.get(x, y) != 0)
}

#[test]
fn ink_stays_in_its_boxes_on_each_panel() {
    let renderer = Renderer::embedded().expect("layout");
    for i in [0, 5, 17, 33] {
        let r = renderer.render(&prr_from(&sample(i)), &caps()).expect("render");
        // K: every inked dot lies in a text box (2 dots of anti-aliasing
        // margin) or the signature box; none in the photo box.
        for (x, y) in ink(&r.k) {
            let ok = r.boxes.iter().any(|(_, b, _)| inside(*b, x, y, 2)) || inside(r.signature_box, x, y, 0);
            assert!(ok, "sample {i}: K ink at ({x},{y}) outside every box");
            assert!(!inside(r.photo_box, x, y, 0), "sample {i}: K ink in the photo box");
        }
        // Every text box holds ink (a value was printed in each).
        for (name, b, _) in &r.boxes {
            let has = (b.1..b.1 + b.3).any(|y| (b.0..b.0 + b.2).any(|x| r.k.get(x, y) != 0));
            assert!(has, "sample {i}: no ink in the box of {name}");
        }
        // Y, M, C: the photo, covering its box, nothing outside it.
        let area = (r.photo_box.2 * r.photo_box.3) as usize;
        for (name, layer) in [("Y", &r.y), ("M", &r.m), ("C", &r.c)] {
            let mut within = 0;
            for (x, y) in ink(layer) {
                assert!(inside(r.photo_box, x, y, 0), "sample {i}: {name} ink outside the photo box at ({x},{y})");
                within += 1;
            }
            if name != "C" {
                assert!(within * 10 >= area * 9, "sample {i}: {name} covers {within} of {area} dots of the photo box");
            }
        }
        // O: absent in the no-print areas, present elsewhere.
        for &b in &r.no_print {
            assert!((b.1..b.1 + b.3).all(|y| (b.0..b.0 + b.2).all(|x| r.o.get(x, y) == 0)), "sample {i}: overlay in a no-print area");
        }
        assert_eq!(r.o.get(500, 10), 1);
    }
}

#[test]
fn the_template_boxes_do_not_overlap() {
    let r = Renderer::embedded().expect("layout").render(&prr_from(&sample(0)), &caps()).expect("render");
    let overlap =
        |a: (u32, u32, u32, u32), b: (u32, u32, u32, u32)| a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3;
    for (i, (na, a, _)) in r.boxes.iter().enumerate() {
        for (nb, b, _) in &r.boxes[i + 1..] {
            assert!(!overlap(*a, *b), "{na} overlaps {nb}");
        }
        assert!(!overlap(*a, r.photo_box), "{na} overlaps the photo");
    }
}

fn fit_of_name(name: &str) -> Result<Fit, RenderError> {
    let mut v = sample(0);
    v["card"]["nama"] = name.into();
    let r = Renderer::embedded().expect("layout").render(&prr_from(&v), &caps())?;
    Ok(r.boxes.iter().find(|(n, _, _)| n == "nama").map(|(_, _, f)| *f).expect("nama box"))
}

#[test]
fn long_values_go_tighter_then_smaller_then_wrapped_then_rejected() {
    let words = ["MUHAMMAD", "RIZKY", "PRATAMA", "WIJAYA", "KUSUMA", "NINGRAT", "SASTRO", "DIHARJO", "BIN", "ABDULLAH"];
    let mut seen = Vec::new();
    for n in 1..=words.len() {
        let name = words[..n].join(" ");
        if name.len() > 60 {
            break;
        }
        let fit = fit_of_name(&name).expect("fits");
        if seen.last() != Some(&fit) {
            seen.push(fit);
        }
    }
    for w in seen.windows(2) {
        assert!(w[0] < w[1], "fitting went {:?}", seen);
    }
    assert!(seen.contains(&Fit::Nominal) && seen.contains(&Fit::Smaller) && seen.contains(&Fit::Wrapped), "{seen:?}");
    // One long word cannot wrap: rejected, never clipped.
    assert_eq!(fit_of_name(&"W".repeat(55)), Err(RenderError::DoesNotFit { field: "nama".into() }));
    // Tighter sits between nominal and smaller.
    let mut found_tighter = false;
    let mut name = String::from("MUHAMMAD RIZKY PRATAMA WIJAYA");
    while name.len() < 60 {
        if fit_of_name(&name) == Ok(Fit::Tighter) {
            found_tighter = true;
            break;
        }
        name.push('A');
    }
    assert!(found_tighter, "no length was set tighter");
}

#[test]
fn a_character_the_font_cannot_draw_is_named() {
    let mut v = sample(0);
    v["card"]["nama"] = "SITI \u{4E2D}".into();
    let r = Renderer::embedded().expect("layout").render(&prr_from(&v), &caps());
    assert_eq!(r.err(), Some(RenderError::Glyph { field: "nama".into(), code: 0x4E2D }));
}

#[test]
fn a_value_that_does_not_fit_rejects_the_job_before_ready() {
    let mut rig = crate::support::Rig::new();
    let mut v = sample(0);
    v["card"]["nama"] = "W".repeat(55).into();
    rig.import_lines(&[v.to_string()]);
    rig.station.prepare_assigned().expect("prepare");
    let job = rig.journal().job(v["job_id"].as_str().expect("id")).expect("journal").expect("job");
    assert_eq!((job.state, job.reject_code.as_deref()), (cetak::journal::JobState::Rejected, Some("nama.does_not_fit")));
}

/// Golden images of the first sample, the longest address (sample 0) and
/// the longest name (sample 17), made with the embedded font. Regenerate
/// with CETAK_BLESS=1 and look at them before committing.
#[test]
fn golden_images() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let renderer = Renderer::embedded().expect("layout");
    for i in [0, 4, 17] {
        let r = renderer.render(&prr_from(&sample(i)), &caps()).expect("render");
        let img = cetak::render::preview(&r);
        let path = dir.join(format!("sample-{i}.png"));
        if std::env::var_os("CETAK_BLESS").is_some() {
            img.save(&path).expect("bless");
            continue;
        }
        let golden = image::open(&path).unwrap_or_else(|e| panic!("{}: {e} (bless with CETAK_BLESS=1)", path.display())).to_rgb8();
        assert_eq!(golden.dimensions(), img.dimensions());
        let differ = golden.pixels().zip(img.pixels()).filter(|(a, b)| a != b).count();
        assert_eq!(differ, 0, "sample {i}: {differ} pixels differ from {}", path.display());
    }
}
