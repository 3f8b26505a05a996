//! The one clock everything time-driven reads. With `--dev-clock` it can be set forward (or
//! back) without restarting; it then keeps running from the time it was set to.

use seatkeeper_domain::Time;
use std::sync::RwLock;
use tokio::sync::Notify;

pub struct Clock {
    dev: bool,
    offset: RwLock<chrono::Duration>,
    /// Woken when the clock is moved, so the jobs act at once.
    pub moved: Notify,
}

impl Clock {
    pub fn new(dev: bool) -> Clock {
        Clock {
            dev,
            offset: RwLock::new(chrono::Duration::zero()),
            moved: Notify::new(),
        }
    }

    pub fn is_dev(&self) -> bool {
        self.dev
    }

    pub fn now(&self) -> Time {
        let off = match self.offset.read() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        };
        #[allow(clippy::disallowed_methods)] // the one place the system time is read
        let now = chrono::Utc::now();
        now + off
    }

    /// Sets the current time; only for a development clock.
    pub fn set(&self, to: Time) -> bool {
        if !self.dev {
            return false;
        }
        #[allow(clippy::disallowed_methods)] // the one place the system time is read
        let off = to - chrono::Utc::now();
        match self.offset.write() {
            Ok(mut g) => *g = off,
            Err(p) => *p.into_inner() = off,
        }
        self.moved.notify_waiters();
        true
    }
}
