//! The PRR parser and validator: whatever the line, a record is valid or
//! refused with a reason, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    if let Ok(raw) = cetak_model::RawPrr::parse(line) {
        let v = cetak_model::validate(&raw, time::macros::date!(2026 - 11 - 24));
        assert!(v.prr.is_some() || v.reason().is_some(), "neither valid nor refused with a reason");
    }
});
