//! The watchdog's supervisor. systemd restarts the agent when `WATCHDOG=1`
//! stops coming; a bare timer would keep feeding it while a station loop
//! hangs. So each station loop owns a [`Beat`]: it marks progress every
//! turn, and before a call with a deadline of its own (a card, whose panels
//! take minutes on a slow serial line) it says how long it may take. The
//! supervisor feeds the watchdog only while every loop made progress within
//! the stall limit or is inside such a declared wait. A loop waiting for a
//! person (a jam, an empty feeder) still turns, so it still beats.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One station loop's sign of life.
#[derive(Debug)]
pub struct Beat {
    name: String,
    epoch: Instant,
    /// Milliseconds since `epoch` of the last progress.
    last_ms: AtomicU64,
    /// Milliseconds since `epoch` until which a declared wait may last.
    busy_until_ms: AtomicU64,
}

impl Beat {
    pub fn new(name: &str) -> Arc<Self> {
        Arc::new(Self { name: name.to_string(), epoch: Instant::now(), last_ms: AtomicU64::new(0), busy_until_ms: AtomicU64::new(0) })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The loop made progress; any declared wait is over.
    pub fn alive(&self) {
        self.last_ms.store(self.now_ms(), Ordering::SeqCst);
        self.busy_until_ms.store(0, Ordering::SeqCst);
    }

    /// A call that may legitimately block for up to `deadline` starts now.
    pub fn busy_for(&self, deadline: Duration) {
        self.last_ms.store(self.now_ms(), Ordering::SeqCst);
        self.busy_until_ms.store(self.now_ms() + deadline.as_millis() as u64, Ordering::SeqCst);
    }

    /// Whether the loop is hung: silent longer than `stall` and outside a
    /// declared wait.
    pub fn stuck(&self, stall: Duration) -> bool {
        let now = self.now_ms();
        let silent = now.saturating_sub(self.last_ms.load(Ordering::SeqCst));
        silent > stall.as_millis() as u64 && now > self.busy_until_ms.load(Ordering::SeqCst)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

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
