//! Use cases behind REST endpoints that the other modules do not cover: the development clock
//! and job runs.

use crate::jobs::JobReport;
use crate::{Actor, App, AppError, AppResult, audit};
use seatkeeper_domain::Time;
use seatkeeper_domain::roles::Action;
use serde_json::json;

fn no_dev_clock() -> AppError {
    AppError::not_found(
        "The development clock is off: start the server with --dev-clock to move time.",
    )
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
        let before = self.now();
        if !self.clock.set(to) {
            return Err(no_dev_clock());
        }
        let now = self.now();
        crate::write!(self, tx => {
            audit::record(
                tx,
                actor,
                now,
                "clock.set",
                "clock",
                "dev",
                format!("Development clock set to {}", to.to_rfc3339()),
                Some(json!({"now": before.to_rfc3339()})),
                Some(json!({"now": to.to_rfc3339()})),
            )
            .await?;
            Ok(())
        })?;
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
