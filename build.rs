//! Records when the agent was built (or `SOURCE_DATE_EPOCH` for a
//! reproducible build): certificate checks never run at a time before it,
//! so a PC whose clock fell back years still reaches its district
//! (DESIGN §9).

use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    let built = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0));
    println!("cargo:rustc-env=CETAK_BUILD_UNIX={built}");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=build.rs");
}
