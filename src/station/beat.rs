//! A station loop's sign of life: the loop says when it made progress and
//! how long a call it starts may block; the service's watchdog reads it
//! (`service::watchdog`) and feeds systemd only while every loop beats.

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
