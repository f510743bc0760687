//! The config loader: whatever the text, it loads or is refused with a
//! reason, and a refusal's line is inside the file. Nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(err) = cetak::config::Config::parse(std::path::Path::new("cetak.toml"), text) {
        assert!(!err.reason.is_empty(), "a refusal without a reason");
        if let Some(line) = err.line {
            assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "line {line} outside the file");
        }
    }
});
