//! Property tests: no input makes the reply parser panic or read as `OK`
//! unless it is exactly `OK` and its NUL; no reply to the eject but a clean
//! `OK` lets a print count as done.

use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;

use crate::evolis::reply::{parse, Reply};
use crate::evolis::EvolisPrinter;
use crate::panel::{CardPanels, Panel, PanelKind};
use crate::printer::Printer;
use crate::transport::{Transport, TransportError};

proptest! {
    #[test]
    fn the_parser_never_panics_and_only_ok_is_ok(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let r = parse(&bytes);
        if r == Ok(Reply::Ok) {
            prop_assert_eq!(bytes.as_slice(), b"OK\0");
        }
    }

    #[test]
    fn a_reply_with_text_around_ok_is_not_ok(prefix in "[ -~]{0,4}", suffix in "[ -~]{0,4}") {
        let text = format!("{prefix}OK{suffix}\0");
        let r = parse(text.as_bytes());
        prop_assert_eq!(r == Ok(Reply::Ok), prefix.is_empty() && suffix.is_empty());
    }
}

/// A printer that answers every command properly except `Se`, whose reply
/// is whatever the test says.
struct Scripted {
    se_reply: Vec<u8>,
    pending: VecDeque<u8>,
    counter: u64,
}

impl Transport for Scripted {
    fn open(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
    fn write_all(&mut self, data: &[u8], _t: Duration) -> Result<(), TransportError> {
        let end = data.iter().position(|&b| b == b';' || b == b'\r').unwrap_or(data.len());
        let name = String::from_utf8_lossy(&data[1..end]).to_string();
        let full = String::from_utf8_lossy(&data[1..data.len().min(16)]).to_string();
        let reply: Vec<u8> = match name.as_str() {
            "Rco" if full.starts_with("Rco;c") => format!("{}\0", self.counter).into_bytes(),
            "Rco" => b"0\0".to_vec(),
            "Sk" => b"0\0".to_vec(),
            "Ss" => {
                self.counter += 1;
                b"OK\0".to_vec()
            }
            "Se" => self.se_reply.clone(),
            "Rlr" => b"OK\0".to_vec(),
            _ => b"OK\0".to_vec(),
        };
        self.pending.extend(reply);
        Ok(())
    }
    fn read(&mut self, buf: &mut [u8], t: Duration) -> Result<usize, TransportError> {
        if self.pending.is_empty() {
            return Err(TransportError::Timeout(t));
        }
        let n = buf.len().min(self.pending.len());
        for b in buf.iter_mut().take(n) {
            *b = self.pending.pop_front().unwrap_or(0);
        }
        Ok(n)
    }
    fn drain(&mut self) {
        self.pending.clear();
    }
    fn close(&mut self) {}
    fn describe(&self) -> String {
        "scripted".into()
    }
    fn bytes_per_second(&self) -> Option<u64> {
        None
    }
}

fn tiny_card() -> CardPanels {
    let k = Panel { kind: PanelKind::K, levels: 2, dots_per_line: 648, lines: 1016, dots: vec![0; 648 * 1016] };
    CardPanels { panels: vec![k] }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn garbage_at_the_eject_is_never_a_printed_card(reply in proptest::collection::vec(any::<u8>(), 0..12)) {
        let t = Scripted { se_reply: reply.clone(), pending: VecDeque::new(), counter: 0 };
        let mut p = EvolisPrinter::new(t, true).with_mechanical(Duration::ZERO);
        let done = p.print(&tiny_card(), &mut || true).is_ok();
        prop_assert_eq!(done, reply.as_slice() == b"OK\0", "reply {:?}", reply);
    }
}
