//! The watchdog's supervisor. systemd restarts the agent when `WATCHDOG=1`
//! stops coming; a bare timer would keep feeding it while a station loop
//! hangs. So each station loop owns a [`Beat`]: it marks progress every
//! turn, and before a call with a deadline of its own (a card, whose panels
//! take minutes on a slow serial line) it says how long it may take. The
//! supervisor feeds the watchdog only while every loop made progress within
//! the stall limit or is inside such a declared wait. A loop waiting for a
//! person (a jam, an empty feeder) still turns, so it still beats.

use std::sync::Arc;
use std::time::Duration;

pub use crate::station::beat::Beat;

/// Judges every station loop's beat.
pub struct Supervisor {
    beats: Vec<Arc<Beat>>,
    stall: Duration,
}

impl Supervisor {
    pub fn new(beats: Vec<Arc<Beat>>, stall: Duration) -> Self {
        Self { beats, stall }
    }

    /// The names of the loops that are hung (empty: feed the watchdog).
    pub fn stuck(&self) -> Vec<&str> {
        self.beats.iter().filter(|b| b.stuck(self.stall)).map(|b| b.name()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_loop_is_stuck_unless_inside_a_declared_wait() {
        let b = Beat::new("p1");
        b.alive();
        let sup = Supervisor::new(vec![Arc::clone(&b)], Duration::from_millis(30));
        assert!(sup.stuck().is_empty());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(sup.stuck(), ["p1"], "silent past the stall limit");
        b.busy_for(Duration::from_millis(200));
        std::thread::sleep(Duration::from_millis(60));
        assert!(sup.stuck().is_empty(), "a card's own deadline covers the silence");
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(sup.stuck(), ["p1"], "past the card's deadline");
        b.alive();
        assert!(sup.stuck().is_empty());
    }
}
