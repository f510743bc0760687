//! The printer reply parser: never panics, and reads nothing but `OK` NUL
//! as success.
#![no_main]

use cetak_drivers::evolis::reply::{parse, Reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse(data) {
        if r == Reply::Ok {
            assert_eq!(data, b"OK\0");
        }
        let _ = r.number();
    }
});
