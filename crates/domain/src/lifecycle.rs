//! Subscription lifecycle (SUB2, SUB3): Active → Expired (30 d) → Disabled (90 d) → Deleted,
//! renewals, the 7-day cancellation and license-removal windows. Time is always a parameter.

use crate::{DomainError, Time};
use chrono::{Duration, Months};
use serde::{Deserialize, Serialize};

pub const CANCEL_WINDOW_DAYS: i64 = 7;
pub const REMOVAL_WINDOW_DAYS: i64 = 7;
pub const EXPIRED_DAYS: i64 = 30;
pub const DISABLED_DAYS: i64 = 90;
/// Admins are warned this long before a subscription without recurring billing ends.
pub const EXPIRING_NOTICE_DAYS: i64 = 7;
pub const MAX_QUANTITY: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    Active,
    Expired,
    Disabled,
    Deleted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::Expired => "Expired",
            Status::Disabled => "Disabled",
            Status::Deleted => "Deleted",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "Active" => Status::Active,
            "Expired" => Status::Expired,
            "Disabled" => Status::Disabled,
            "Deleted" => Status::Deleted,
            _ => return None,
        })
    }
    /// Licenses of Active and Expired subscriptions can be used and assigned.
    pub fn counts_as_enabled(self) -> bool {
        matches!(self, Status::Active | Status::Expired)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BillingFrequency {
    Monthly,
    Annual,
}

impl BillingFrequency {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingFrequency::Monthly => "monthly",
            BillingFrequency::Annual => "annual",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "monthly" | "month" => Some(Self::Monthly),
            "annual" | "annually" | "yearly" | "year" => Some(Self::Annual),
            _ => None,
        }
    }
    /// The end of a term that starts at `start`.
    pub fn term_end(self, start: Time) -> Time {
        let months = match self {
            BillingFrequency::Monthly => 1,
            BillingFrequency::Annual => 12,
        };
        start
            .checked_add_months(Months::new(months))
            .unwrap_or(start)
    }
}

/// The lifecycle-relevant state of one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub status: Status,
    /// When the current status began.
    pub status_since: Time,
    pub frequency: BillingFrequency,
    pub recurring: bool,
    /// Cancelled by the customer (reads `LockedOut` in Graph while Disabled).
    pub cancelled: bool,
    /// Start of the current term: purchase, renewal or reactivation.
    pub term_start: Time,
    pub term_end: Time,
    /// Last purchase, renewal or addition of licenses: opens the removal window.
    pub last_added_at: Time,
}

/// What the background job does to a subscription whose time has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Recurring billing: a new term begins at the old term's end.
    Renew {
        at: Time,
    },
    Expire {
        at: Time,
    },
    Disable {
        at: Time,
    },
    Delete {
        at: Time,
    },
}

/// What a cancellation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// Inside the 7-day window: disabled at once (a prorated refund follows).
    DisabledNow,
    /// After the window: recurring billing is off; it runs to the end of its term.
    EndsAtTermEnd,
}

impl Lifecycle {
    pub fn new(now: Time, frequency: BillingFrequency) -> Lifecycle {
        Lifecycle {
            status: Status::Active,
            status_since: now,
            frequency,
            recurring: true,
            cancelled: false,
            term_start: now,
            term_end: frequency.term_end(now),
            last_added_at: now,
        }
    }

    /// When the next automatic transition is due, for `nextLifecycleDateTime`.
    pub fn next_lifecycle_at(&self) -> Option<Time> {
        match self.status {
            Status::Active => Some(self.term_end),
            Status::Expired => Some(self.status_since + Duration::days(EXPIRED_DAYS)),
            Status::Disabled => Some(self.status_since + Duration::days(DISABLED_DAYS)),
            Status::Deleted => None,
        }
    }

    /// The transition due at `now`, if any, dated when it was due (not when the job ran).
    pub fn due(&self, now: Time) -> Option<Transition> {
        let at = self.next_lifecycle_at()?;
        if now < at {
            return None;
        }
        Some(match self.status {
            Status::Active if self.recurring => Transition::Renew { at },
            Status::Active => Transition::Expire { at },
            Status::Expired => Transition::Disable { at },
            Status::Disabled => Transition::Delete { at },
            Status::Deleted => return None,
        })
    }

    pub fn apply(&mut self, t: Transition) {
        match t {
            Transition::Renew { at } => {
                self.term_start = at;
                self.term_end = self.frequency.term_end(at);
                self.last_added_at = at;
            }
            Transition::Expire { at } => self.set_status(Status::Expired, at),
            Transition::Disable { at } => self.set_status(Status::Disabled, at),
            Transition::Delete { at } => self.set_status(Status::Deleted, at),
        }
    }

    fn set_status(&mut self, s: Status, at: Time) {
        self.status = s;
        self.status_since = at;
    }

    pub fn in_cancel_window(&self, now: Time) -> bool {
        now < self.term_start + Duration::days(CANCEL_WINDOW_DAYS)
    }

    pub fn removal_window_end(&self) -> Time {
        self.term_start.max(self.last_added_at) + Duration::days(REMOVAL_WINDOW_DAYS)
    }

    fn refuse(&self, what: &str) -> DomainError {
        DomainError::InvalidTransition {
            status: self.status.as_str().to_string(),
            what: what.to_string(),
        }
    }

    /// Changing the number of licenses: only while Active; removing only inside the window.
    pub fn check_quantity_change(&self, now: Time, old: i64, new: i64) -> Result<(), DomainError> {
        check_quantity(new)?;
        if self.status != Status::Active {
            return Err(self.refuse("reactivate it before changing the number of licenses"));
        }
        if new < old && now >= self.removal_window_end() {
            return Err(DomainError::RemovalWindowClosed {
                window_end: self.removal_window_end().to_rfc3339(),
                term_end: self.term_end.to_rfc3339(),
            });
        }
        Ok(())
    }

    pub fn add_licenses(&mut self, now: Time) {
        self.last_added_at = now;
    }

    pub fn cancel(&mut self, now: Time) -> Result<CancelOutcome, DomainError> {
        match self.status {
            Status::Active if self.in_cancel_window(now) => {
                self.cancelled = true;
                self.recurring = false;
                self.set_status(Status::Disabled, now);
                Ok(CancelOutcome::DisabledNow)
            }
            Status::Active => {
                if !self.recurring && self.cancelled {
                    return Err(
                        self.refuse("it is already cancelled and ends at the end of its term")
                    );
                }
                self.recurring = false;
                self.cancelled = true;
                Ok(CancelOutcome::EndsAtTermEnd)
            }
            Status::Expired => {
                self.cancelled = true;
                self.recurring = false;
                self.set_status(Status::Disabled, now);
                Ok(CancelOutcome::DisabledNow)
            }
            Status::Disabled | Status::Deleted => Err(self.refuse("it cannot be cancelled again")),
        }
    }

    pub fn set_recurring(&mut self, on: bool) -> Result<(), DomainError> {
        if self.status != Status::Active {
            return Err(self.refuse("reactivate it to change recurring billing"));
        }
        self.recurring = on;
        if on {
            self.cancelled = false;
        }
        Ok(())
    }

    /// Expired or Disabled back to Active with a new term starting now and recurring billing on.
    pub fn reactivate(&mut self, now: Time) -> Result<(), DomainError> {
        match self.status {
            Status::Expired | Status::Disabled => {
                self.set_status(Status::Active, now);
                self.recurring = true;
                self.cancelled = false;
                self.term_start = now;
                self.term_end = self.frequency.term_end(now);
                self.last_added_at = now;
                Ok(())
            }
            Status::Active => Err(self.refuse("it is already active")),
            Status::Deleted => {
                Err(self.refuse("a deleted subscription cannot be reactivated; buy a new one"))
            }
        }
    }

    /// The status as Graph names it (companySubscription.status, capabilityStatus).
    pub fn graph_status(&self) -> &'static str {
        match self.status {
            Status::Active => "Enabled",
            Status::Expired => "Warning",
            Status::Disabled if self.cancelled => "LockedOut",
            Status::Disabled => "Suspended",
            Status::Deleted => "Deleted",
        }
    }
}

pub fn check_quantity(q: i64) -> Result<(), DomainError> {
    if q < 1 {
        return Err(DomainError::InvalidQuantity {
            quantity: q,
            reason: "a subscription needs at least 1 license; to stop paying, cancel it or turn off recurring billing".into(),
        });
    }
    if q > MAX_QUANTITY {
        return Err(DomainError::InvalidQuantity {
            quantity: q,
            reason: format!("at most {MAX_QUANTITY} licenses per subscription"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t0() -> Time {
        chrono::Utc.with_ymd_and_hms(2026, 1, 31, 12, 0, 0).unwrap()
    }

    fn run_jobs(l: &mut Lifecycle, now: Time) {
        while let Some(t) = l.due(now) {
            l.apply(t);
        }
    }

    #[test]
    fn walks_expired_disabled_deleted_without_recurring_billing() {
        let mut l = Lifecycle::new(t0(), BillingFrequency::Monthly);
        l.set_recurring(false).unwrap();
        assert_eq!(
            l.term_end,
            chrono::Utc.with_ymd_and_hms(2026, 2, 28, 12, 0, 0).unwrap()
        );
        let end = l.term_end;
        run_jobs(&mut l, end - Duration::seconds(1));
        assert_eq!(l.status, Status::Active);
        run_jobs(&mut l, end);
        assert_eq!(l.status, Status::Expired);
        assert_eq!(l.graph_status(), "Warning");
        let expired_at = l.status_since;
        run_jobs(&mut l, expired_at + Duration::days(30));
        assert_eq!(l.status, Status::Disabled);
        assert_eq!(l.graph_status(), "Suspended");
        run_jobs(&mut l, expired_at + Duration::days(120));
        assert_eq!(l.status, Status::Deleted);
        assert_eq!(l.next_lifecycle_at(), None);
    }

    #[test]
    fn recurring_billing_renews_each_term() {
        let mut l = Lifecycle::new(t0(), BillingFrequency::Annual);
        run_jobs(&mut l, t0() + Duration::days(800));
        assert_eq!(l.status, Status::Active);
        assert_eq!(
            l.term_start,
            chrono::Utc.with_ymd_and_hms(2028, 1, 31, 12, 0, 0).unwrap()
        );
    }

    #[test]
    fn cancel_inside_window_disables_at_once_outside_runs_to_term_end() {
        let mut l = Lifecycle::new(t0(), BillingFrequency::Monthly);
        assert_eq!(
            l.cancel(t0() + Duration::days(6)).unwrap(),
            CancelOutcome::DisabledNow
        );
        assert_eq!(l.graph_status(), "LockedOut");
        let mut l = Lifecycle::new(t0(), BillingFrequency::Monthly);
        assert_eq!(
            l.cancel(t0() + Duration::days(7)).unwrap(),
            CancelOutcome::EndsAtTermEnd
        );
        assert_eq!(l.status, Status::Active);
        assert!(!l.recurring);
        assert!(l.cancel(t0() + Duration::days(8)).is_err());
    }

    #[test]
    fn removal_window_reopens_when_licenses_are_added() {
        let mut l = Lifecycle::new(t0(), BillingFrequency::Monthly);
        assert!(
            l.check_quantity_change(t0() + Duration::days(3), 10, 5)
                .is_ok()
        );
        assert!(matches!(
            l.check_quantity_change(t0() + Duration::days(8), 10, 5),
            Err(DomainError::RemovalWindowClosed { .. })
        ));
        assert!(
            l.check_quantity_change(t0() + Duration::days(8), 10, 15)
                .is_ok()
        );
        l.add_licenses(t0() + Duration::days(8));
        assert!(
            l.check_quantity_change(t0() + Duration::days(9), 15, 12)
                .is_ok()
        );
        assert!(l.check_quantity_change(t0(), 15, 0).is_err());
    }

    #[test]
    fn reactivation_returns_to_active() {
        let mut l = Lifecycle::new(t0(), BillingFrequency::Monthly);
        l.cancel(t0()).unwrap();
        l.reactivate(t0() + Duration::days(10)).unwrap();
        assert_eq!(l.status, Status::Active);
        assert!(l.recurring && !l.cancelled);
        assert!(l.reactivate(t0()).is_err());
    }

    proptest! {
        // Whatever happens, the machine only takes legal steps: Deleted is terminal,
        // statuses only move forward without an explicit reactivation, and time is monotone.
        #[test]
        fn only_legal_states(ops in proptest::collection::vec((0u8..5, 0i64..200), 1..40)) {
            let mut l = Lifecycle::new(t0(), BillingFrequency::Monthly);
            let mut now = t0();
            for (op, days) in ops {
                now += Duration::days(days);
                let before = l.clone();
                match op {
                    0 => { let _ = l.cancel(now); }
                    1 => { let _ = l.reactivate(now); }
                    2 => { let _ = l.set_recurring(days % 2 == 0); }
                    _ => { while let Some(t) = l.due(now) { l.apply(t); } }
                }
                if before.status == Status::Deleted { prop_assert_eq!(&l, &before); }
                if op != 1 && l.status != before.status {
                    let rank = |s: Status| match s { Status::Active => 0, Status::Expired => 1, Status::Disabled => 2, Status::Deleted => 3 };
                    prop_assert!(rank(l.status) > rank(before.status));
                }
                prop_assert!(l.term_end > l.term_start);
                if l.status == Status::Active { prop_assert!(l.due(now).is_none() || now >= l.term_end); }
            }
        }
    }
}
