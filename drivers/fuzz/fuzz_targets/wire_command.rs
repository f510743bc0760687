//! The emulator's command reader and panel decoders: whatever the bytes,
//! no panic and bounded memory.
#![no_main]

use cetak_drivers::emulator::wire::{decode_compressed, read_command};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut cursor = std::io::Cursor::new(data);
    while let Ok(Some(cmd)) = read_command(&mut cursor) {
        if let Some(d) = cmd.data.as_deref() {
            for levels in [2, 32, 64, 128] {
                let _ = decode_compressed(d, levels);
            }
        }
    }
});
