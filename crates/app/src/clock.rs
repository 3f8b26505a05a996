//! The one clock everything time-driven reads. With `--dev-clock` it can be set forward (or
//! back) without restarting; it then keeps running from the time it was set to.

use crate::jobs::JobReport;
use crate::{Actor, App, AppError, AppResult, audit};
use seatkeeper_domain::Time;
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::roles::Action;
use serde_json::json;
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

    /// The current time, to the microsecond: as precise as PostgreSQL stores it, so that what a
    /// change returns equals what is read back later.
    pub fn now(&self) -> Time {
        use chrono::SubsecRound;
        let off = match self.offset.read() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        };
        #[allow(clippy::disallowed_methods)] // the one place the system time is read
        let now = chrono::Utc::now();
        (now + off).trunc_subsecs(6)
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

// ----- the development clock's use cases (REST /api/v1/dev/*) -----

fn no_dev_clock() -> AppError {
    AppError::not_found(
        "The development clock is off: start the server with --dev-clock to move time.",
    )
}

/// The development clock moves within 1970 up to (not including) year 9999: before it the
/// times stored would be negative, after it terms could not be computed and the dates could not
/// be written back in RFC 3339.
fn check_dev_clock(to: Time) -> AppResult<()> {
    let earliest = chrono::DateTime::UNIX_EPOCH;
    let limit = chrono::NaiveDate::from_ymd_opt(9999, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
    if to < earliest || to >= limit {
        return Err(AppError::invalid(
            "clockOutOfRange",
            format!(
                "The development clock can be set from 1970-01-01T00:00:00Z up to, not including, 9999-01-01T00:00:00Z; {} is outside that range.",
                crate::export::time(to)
            ),
        ));
    }
    Ok(())
}

impl App {
    /// The development clock's current time (Global admin only).
    pub fn dev_clock(&self, actor: &Actor) -> AppResult<Time> {
        actor.require(Action::ManageTenant)?;
        if !self.clock.is_dev() {
            return Err(no_dev_clock());
        }
        Ok(self.now())
    }

    /// Sets the development clock (Global admin only); the jobs act on the new time at once.
    pub async fn set_dev_clock(&self, actor: &Actor, to: Time) -> AppResult<Time> {
        actor.require(Action::ManageTenant)?;
        if !self.clock.is_dev() {
            return Err(no_dev_clock());
        }
        check_dev_clock(to)?;
        let before = self.now();
        if !self.clock.set(to) {
            return Err(no_dev_clock());
        }
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::ClockSet,
                    "clock",
                    "dev",
                    format!("Development clock set to {}", to.to_rfc3339()),
                    Some(json!({"now": before.to_rfc3339()})),
                    Some(json!({"now": to.to_rfc3339()})),
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(now)
    }

    /// Runs the background jobs once, now (Global admin only; development clock only).
    pub async fn run_jobs_as(&self, actor: &Actor) -> AppResult<JobReport> {
        actor.require(Action::ManageTenant)?;
        if !self.clock.is_dev() {
            return Err(no_dev_clock());
        }
        self.run_jobs().await
    }
}
