//! Subscription lifecycle (SUB2, SUB3): Active → Expired (30 d) → Disabled (90 d) → Deleted,
//! renewals, the 7-day cancellation and license-removal windows. Time is always a parameter.
//!
//! Terms are counted from an anchor, the purchase or the reactivation: term `n` ends `n` billing
//! periods after it. A monthly subscription bought on January 31 therefore renews on February 28
//! (29 in a leap year), then on March 31, April 30 and so on, never drifting to the 28th; an
//! annual one bought on February 29 renews on February 28, and on February 29 again in leap
//! years. Reactivation starts a new term on its day and re-anchors there.

use crate::{DomainError, Time};
use chrono::{DateTime, Datelike, Duration, Months, Utc};
use serde::{Deserialize, Serialize};

pub const CANCEL_WINDOW_DAYS: i64 = 7;
pub const REMOVAL_WINDOW_DAYS: i64 = 7;
pub const EXPIRED_DAYS: i64 = 30;
pub const DISABLED_DAYS: i64 = 90;
/// Admins are warned this long before a subscription without recurring billing ends.
pub const EXPIRING_NOTICE_DAYS: i64 = 7;
pub const MAX_QUANTITY: i64 = 1_000_000;

/// `t` plus `days`; the last representable time if that overflows (not in practice: the clock
/// stays before year 9999).
fn after_days(t: Time, days: i64) -> Time {
    t.checked_add_signed(Duration::days(days))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A time as messages show it: `2026-11-20 14:03 UTC`.
pub fn utc(t: Time) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

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

    /// Months in one billing period.
    pub fn months(self) -> u32 {
        match self {
            BillingFrequency::Monthly => 1,
            BillingFrequency::Annual => 12,
        }
    }

    /// The end of term `n` counted from `anchor`: `n` billing periods after it, on the anchor's
    /// day of the month, or on the last day of a month too short for it. Term 0 "ends" at the
    /// anchor itself. An error past the end of the calendar chrono can represent.
    pub fn nth_term_end(self, anchor: Time, n: i64) -> Result<Time, DomainError> {
        u32::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(self.months()))
            .and_then(|m| anchor.checked_add_months(Months::new(m)))
            .ok_or_else(|| DomainError::TermNotAdvancing {
                detail: format!(
                    "{n} {} terms after {} is beyond the supported calendar",
                    self.as_str(),
                    utc(anchor)
                ),
            })
    }

    /// The number of whole terms from `anchor` to `t`: the largest `n` whose term end is at or
    /// before `t` (0 when `t` is before the first term end). Computed, not counted, so a jump of
    /// decades costs as little as a day.
    pub fn terms_until(self, anchor: Time, t: Time) -> Result<i64, DomainError> {
        if t <= anchor {
            return Ok(0);
        }
        let months = (i64::from(t.year()) - i64::from(anchor.year())) * 12 + i64::from(t.month())
            - i64::from(anchor.month());
        // Term `n` ends in t's month (monthly) or in a month of t's last 12 (annual): the
        // estimate is at most one term too far, and never one too short.
        let mut n = months.div_euclid(i64::from(self.months())).max(0);
        if n > 0 && self.nth_term_end(anchor, n)? > t {
            n -= 1;
        }
        if self.nth_term_end(anchor, n + 1)? <= t {
            n += 1;
        }
        Ok(n)
    }
}

/// Licenses added to a subscription at one time: they can be removed again for 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addition {
    pub at: Time,
    pub count: i64,
}

impl Addition {
    /// Until when these licenses can be removed.
    pub fn removable_until(&self) -> Time {
        after_days(self.at, REMOVAL_WINDOW_DAYS)
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
    /// What terms are counted from: the purchase or the last reactivation. Every term ends a
    /// whole number of billing periods after it (see [`BillingFrequency::nth_term_end`]).
    pub anchor: Time,
    /// Start of the current term: purchase, renewal or reactivation.
    pub term_start: Time,
    pub term_end: Time,
    /// Last purchase, renewal, reactivation or addition of licenses.
    pub last_added_at: Time,
    /// Licenses added recently, oldest first, less those removed again since. Only the ones
    /// added in the last 7 days matter; older ones are dropped at the next change.
    pub additions: Vec<Addition>,
}

/// What the background job does to a subscription whose time has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Recurring billing: every term that ended by now renews. `at` is when the first of them
    /// ended; `renewals` is how many renewed (more than one when the job ran late, say after
    /// the clock was moved ahead); the current term runs from `term_start` to `term_end`, both
    /// counted from `anchor`.
    Renew {
        at: Time,
        renewals: i64,
        anchor: Time,
        term_start: Time,
        term_end: Time,
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
    /// A subscription bought at `now`: Active, recurring, its first term anchored at `now`.
    pub fn new(now: Time, frequency: BillingFrequency) -> Result<Lifecycle, DomainError> {
        Ok(Lifecycle {
            status: Status::Active,
            status_since: now,
            frequency,
            recurring: true,
            cancelled: false,
            anchor: now,
            term_start: now,
            term_end: frequency.nth_term_end(now, 1)?,
            last_added_at: now,
            additions: Vec::new(),
        })
    }

    /// When the next automatic transition is due, for `nextLifecycleDateTime`.
    pub fn next_lifecycle_at(&self) -> Option<Time> {
        match self.status {
            Status::Active => Some(self.term_end),
            Status::Expired => Some(after_days(self.status_since, EXPIRED_DAYS)),
            Status::Disabled => Some(after_days(self.status_since, DISABLED_DAYS)),
            Status::Deleted => None,
        }
    }

    /// The transition due at `now`, if any, dated when it was due (not when the job ran). A
    /// renewal covers every term that ended by `now` at once. An error when the next term
    /// cannot be computed.
    pub fn due(&self, now: Time) -> Result<Option<Transition>, DomainError> {
        let Some(at) = self.next_lifecycle_at() else {
            return Ok(None);
        };
        if now < at {
            return Ok(None);
        }
        Ok(Some(match self.status {
            Status::Active if self.recurring => self.renewal(now)?,
            Status::Active => Transition::Expire { at },
            Status::Expired => Transition::Disable { at },
            Status::Disabled => Transition::Delete { at },
            Status::Deleted => return Ok(None),
        }))
    }

    /// The renewal of every term that ended by `now` (which is at or after `term_end`).
    fn renewal(&self, now: Time) -> Result<Transition, DomainError> {
        let f = self.frequency;
        let ending = f.terms_until(self.anchor, self.term_end)?;
        // A term end that is not on the anchor's grid (rows written before terms had an
        // anchor) anchors the following terms at itself.
        let (anchor, ending) = if f.nth_term_end(self.anchor, ending)? == self.term_end {
            (self.anchor, ending)
        } else {
            (self.term_end, 0)
        };
        let current = f.terms_until(anchor, now)?.max(ending);
        Ok(Transition::Renew {
            at: self.term_end,
            renewals: current - ending + 1,
            anchor,
            term_start: f.nth_term_end(anchor, current)?,
            term_end: f.nth_term_end(anchor, current + 1)?,
        })
    }

    /// Takes a step [`Lifecycle::due`] returned. Every step moves the lifecycle forward (a
    /// later status, or a later term end), so taking due steps until none is left ends; a
    /// step that would not is refused.
    pub fn apply(&mut self, t: Transition) -> Result<(), DomainError> {
        match t {
            Transition::Renew {
                anchor,
                term_start,
                term_end,
                ..
            } => {
                if self.status != Status::Active {
                    return Err(self.refuse("only an active subscription renews"));
                }
                if term_end <= self.term_end || term_start >= term_end {
                    return Err(DomainError::TermNotAdvancing {
                        detail: format!(
                            "a renewal from {} to {} does not end after the current term end {}",
                            utc(term_start),
                            utc(term_end),
                            utc(self.term_end)
                        ),
                    });
                }
                self.anchor = anchor;
                self.term_start = term_start;
                self.term_end = term_end;
                self.last_added_at = self.last_added_at.max(term_start);
            }
            Transition::Expire { at } if self.status == Status::Active => {
                self.set_status(Status::Expired, at)
            }
            Transition::Disable { at } if self.status == Status::Expired => {
                self.set_status(Status::Disabled, at)
            }
            Transition::Delete { at } if self.status == Status::Disabled => {
                self.set_status(Status::Deleted, at)
            }
            Transition::Expire { .. } | Transition::Disable { .. } | Transition::Delete { .. } => {
                return Err(self.refuse("this lifecycle step does not apply to it"));
            }
        }
        Ok(())
    }

    fn set_status(&mut self, s: Status, at: Time) {
        self.status = s;
        self.status_since = at;
    }

    /// When the cancellation window of the current term closes: 7 days after its purchase,
    /// renewal or reactivation. Inside it a cancellation disables at once with a refund.
    pub fn cancel_window_end(&self) -> Time {
        after_days(self.term_start, CANCEL_WINDOW_DAYS)
    }

    pub fn in_cancel_window(&self, now: Time) -> bool {
        now < self.cancel_window_end()
    }

    /// Until when any number of licenses can be removed: 7 days after the purchase, renewal or
    /// reactivation that started the current term.
    pub fn term_removal_window_end(&self) -> Time {
        after_days(self.term_start, REMOVAL_WINDOW_DAYS)
    }

    /// The last moment some licenses can still be removed: the end of the term's window or of
    /// the window of the latest addition, whichever is later.
    pub fn removal_window_end(&self) -> Time {
        self.additions
            .iter()
            .map(Addition::removable_until)
            .fold(self.term_removal_window_end(), Time::max)
    }

    /// The additions that can still be removed at `now`.
    pub fn open_additions(&self, now: Time) -> impl Iterator<Item = &Addition> {
        self.additions
            .iter()
            .filter(move |a| now < a.removable_until())
    }

    /// The fewest licenses a subscription of `quantity` licenses may keep at `now` by the
    /// removal windows (assigned licenses are checked separately): 1 within 7 days of purchase
    /// or renewal; after that, `quantity` less the licenses added in the last 7 days.
    pub fn minimum_quantity(&self, now: Time, quantity: i64) -> i64 {
        if now < self.term_removal_window_end() {
            return 1;
        }
        let recent: i64 = self.open_additions(now).map(|a| a.count).sum();
        (quantity - recent).max(1)
    }

    fn refuse(&self, what: &str) -> DomainError {
        DomainError::InvalidTransition {
            status: self.status.as_str().to_string(),
            what: what.to_string(),
        }
    }

    /// Changing the number of licenses: only while Active; removing only within 7 days of
    /// purchase or renewal, or down to the licenses there were before the additions of the
    /// last 7 days.
    pub fn check_quantity_change(&self, now: Time, old: i64, new: i64) -> Result<(), DomainError> {
        check_quantity(new)?;
        if self.status != Status::Active {
            return Err(self.refuse("reactivate it before changing the number of licenses"));
        }
        let minimum = self.minimum_quantity(now, old);
        if new >= old || new >= minimum {
            return Ok(());
        }
        // Additions as messages show them: those within the same minute as one.
        let mut open: Vec<(String, String, i64)> = Vec::new();
        for a in self.open_additions(now) {
            match open.last_mut() {
                Some(last) if last.0 == utc(a.at) => last.2 += a.count,
                _ => open.push((utc(a.at), utc(a.removable_until()), a.count)),
            }
        }
        let added = old - minimum;
        let detail = match open.as_slice() {
            [] => format!(
                "for this subscription the last window closed on {}, so it keeps its {old} licenses. To stop paying at the end of the term ({}), turn off recurring billing.",
                utc(self.removal_window_end()),
                utc(self.term_end)
            ),
            [(at, until, _)] => format!(
                "{added} of these {old} {} added on {at} and can be removed until {until}; the minimum now is {minimum}.",
                if added == 1 { "was" } else { "were" },
            ),
            many => format!(
                "{added} of these {old} were added in the last {REMOVAL_WINDOW_DAYS} days ({}); the minimum now is {minimum}.",
                many.iter()
                    .map(|(at, until, count)| format!("{count} on {at}, removable until {until}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        Err(DomainError::RemovalWindowClosed {
            quantity: old,
            minimum,
            detail,
        })
    }

    /// Records a change of the number of licenses from `old` to `new` at `now` (checked with
    /// [`Lifecycle::check_quantity_change`]): an addition opens its own 7-day removal window;
    /// a removal takes back the most recent additions first, so they can no longer be removed
    /// twice.
    pub fn licenses_changed(&mut self, now: Time, old: i64, new: i64) {
        self.additions.retain(|a| now < a.removable_until());
        if new > old {
            self.additions.push(Addition {
                at: now,
                count: new - old,
            });
            self.last_added_at = now;
        }
        let mut take = old - new;
        while take > 0 {
            let Some(last) = self.additions.last_mut() else {
                break;
            };
            if last.count > take {
                last.count -= take;
                take = 0;
            } else {
                take -= last.count;
                self.additions.pop();
            }
        }
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

    /// Expired or Disabled back to Active with recurring billing on. Reactivating is a new
    /// purchase of the same licenses: a new term starts now and the terms after it are counted
    /// from today (the anchor moves here), with fresh cancellation and removal windows.
    pub fn reactivate(&mut self, now: Time) -> Result<(), DomainError> {
        match self.status {
            Status::Expired | Status::Disabled => {
                let term_end = self.frequency.nth_term_end(now, 1)?;
                self.set_status(Status::Active, now);
                self.recurring = true;
                self.cancelled = false;
                self.anchor = now;
                self.term_start = now;
                self.term_end = term_end;
                self.last_added_at = now;
                self.additions.clear();
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

    fn at(y: i32, m: u32, d: u32) -> Time {
        chrono::Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    fn new(now: Time, f: BillingFrequency) -> Lifecycle {
        Lifecycle::new(now, f).unwrap()
    }

    /// Takes every due step; returns how many were taken.
    fn run_jobs(l: &mut Lifecycle, now: Time) -> usize {
        let mut steps = 0;
        while let Some(t) = l.due(now).unwrap() {
            l.apply(t).unwrap();
            steps += 1;
            assert!(steps <= 4, "more steps than statuses: {l:?}");
        }
        steps
    }

    #[test]
    fn walks_expired_disabled_deleted_without_recurring_billing() {
        let mut l = new(t0(), BillingFrequency::Monthly);
        l.set_recurring(false).unwrap();
        assert_eq!(l.term_end, at(2026, 2, 28));
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
        let mut l = new(t0(), BillingFrequency::Annual);
        run_jobs(&mut l, t0() + Duration::days(800));
        assert_eq!(l.status, Status::Active);
        assert_eq!(l.term_start, at(2028, 1, 31));
        assert_eq!(l.term_end, at(2029, 1, 31));
    }

    /// The term ends seen when the job runs every day for `days` days.
    fn daily_term_ends(start: Time, f: BillingFrequency, days: i64) -> Vec<Time> {
        let mut l = new(start, f);
        let mut ends = vec![l.term_end];
        for d in 1..=days {
            run_jobs(&mut l, start + Duration::days(d));
            if ends.last() != Some(&l.term_end) {
                ends.push(l.term_end);
            }
        }
        ends
    }

    #[test]
    fn monthly_renewals_keep_the_day_of_purchase() {
        let ends = daily_term_ends(at(2026, 1, 31), BillingFrequency::Monthly, 130);
        assert_eq!(
            ends,
            vec![
                at(2026, 2, 28),
                at(2026, 3, 31),
                at(2026, 4, 30),
                at(2026, 5, 31),
                at(2026, 6, 30),
            ]
        );
        let ends = daily_term_ends(at(2028, 1, 31), BillingFrequency::Monthly, 40);
        assert_eq!(ends, vec![at(2028, 2, 29), at(2028, 3, 31)]);
        let ends = daily_term_ends(at(2026, 1, 30), BillingFrequency::Monthly, 40);
        assert_eq!(ends, vec![at(2026, 2, 28), at(2026, 3, 30)]);
    }

    #[test]
    fn annual_renewals_from_february_29() {
        let mut l = new(at(2028, 2, 29), BillingFrequency::Annual);
        assert_eq!(l.term_end, at(2029, 2, 28));
        let mut ends = vec![];
        for y in 2029..=2032 {
            run_jobs(&mut l, at(y, 3, 1));
            ends.push(l.term_start);
        }
        assert_eq!(
            ends,
            vec![
                at(2029, 2, 28),
                at(2030, 2, 28),
                at(2031, 2, 28),
                at(2032, 2, 29)
            ]
        );
        assert_eq!(l.term_end, at(2033, 2, 28));
    }

    #[test]
    fn fifty_years_ahead_is_one_step_that_counts_the_renewals() {
        let mut l = new(t0(), BillingFrequency::Monthly);
        let t = l.due(at(2076, 3, 15)).unwrap();
        assert_eq!(
            t,
            Some(Transition::Renew {
                at: at(2026, 2, 28),
                renewals: 601,
                anchor: t0(),
                term_start: at(2076, 2, 29),
                term_end: at(2076, 3, 31),
            })
        );
        assert_eq!(run_jobs(&mut l, at(2076, 3, 15)), 1);
        assert_eq!(
            (l.term_start, l.term_end),
            (at(2076, 2, 29), at(2076, 3, 31))
        );
        // A term end exactly now renews it too.
        assert_eq!(run_jobs(&mut l, at(2076, 3, 31)), 1);
        assert_eq!(l.term_end, at(2076, 4, 30));
    }

    #[test]
    fn rows_without_an_anchor_on_the_grid_anchor_at_their_term_end() {
        // A term written by chaining month additions (Jan 31 → Feb 28 → Mar 28).
        let mut l = new(at(2026, 2, 28), BillingFrequency::Monthly);
        l.anchor = at(2026, 1, 31);
        l.term_end = at(2026, 3, 28);
        run_jobs(&mut l, at(2026, 5, 1));
        assert_eq!(l.anchor, at(2026, 3, 28));
        assert_eq!(
            (l.term_start, l.term_end),
            (at(2026, 4, 28), at(2026, 5, 28))
        );
    }

    #[test]
    fn terms_past_the_calendar_are_an_error_not_a_loop() {
        let far = DateTime::<Utc>::MAX_UTC - Duration::days(20);
        assert!(matches!(
            Lifecycle::new(far, BillingFrequency::Monthly),
            Err(DomainError::TermNotAdvancing { .. })
        ));
        let mut l = new(t0(), BillingFrequency::Annual);
        l.term_end = far;
        l.anchor = far;
        let err = l.due(DateTime::<Utc>::MAX_UTC).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("The subscription's term cannot move forward: "),
            "{err}"
        );
        // A renewal that does not move the term end forward is refused.
        let l = new(t0(), BillingFrequency::Monthly);
        let mut m = l.clone();
        let stuck = Transition::Renew {
            at: l.term_end,
            renewals: 1,
            anchor: l.anchor,
            term_start: l.term_start,
            term_end: l.term_end,
        };
        assert!(matches!(
            m.apply(stuck),
            Err(DomainError::TermNotAdvancing { .. })
        ));
        assert_eq!(m, l);
        // Steps that do not fit the status are refused as well.
        assert!(m.apply(Transition::Delete { at: t0() }).is_err());
        assert_eq!(m, l);
    }

    #[test]
    fn cancel_inside_window_disables_at_once_outside_runs_to_term_end() {
        let mut l = new(t0(), BillingFrequency::Monthly);
        assert_eq!(l.cancel_window_end(), t0() + Duration::days(7));
        assert_eq!(
            l.cancel(t0() + Duration::days(6)).unwrap(),
            CancelOutcome::DisabledNow
        );
        assert_eq!(l.graph_status(), "LockedOut");
        let mut l = new(t0(), BillingFrequency::Monthly);
        assert_eq!(
            l.cancel(t0() + Duration::days(7)).unwrap(),
            CancelOutcome::EndsAtTermEnd
        );
        assert_eq!(l.status, Status::Active);
        assert!(!l.recurring);
        assert!(l.cancel(t0() + Duration::days(8)).is_err());
    }

    #[test]
    fn renewal_opens_the_cancellation_window_again() {
        let mut l = new(t0(), BillingFrequency::Monthly);
        run_jobs(&mut l, at(2026, 3, 2));
        assert_eq!(l.cancel_window_end(), at(2026, 3, 7));
        assert!(l.in_cancel_window(at(2026, 3, 6)));
        assert!(!l.in_cancel_window(at(2026, 3, 7)));
    }

    /// Changes the quantity the way the app does: check, then record.
    fn change(l: &mut Lifecycle, now: Time, old: i64, new: i64) -> Result<i64, DomainError> {
        l.check_quantity_change(now, old, new)?;
        l.licenses_changed(now, old, new);
        Ok(new)
    }

    #[test]
    fn only_recently_added_licenses_can_be_removed_after_the_purchase_window() {
        let mut l = new(t0(), BillingFrequency::Monthly);
        let day = |d: i64| t0() + Duration::days(d);
        // Within 7 days of purchase: any number, down to 1.
        assert_eq!(change(&mut l, day(3), 10, 100), Ok(100));
        assert_eq!(change(&mut l, day(4), 100, 1), Ok(1));
        assert_eq!(change(&mut l, day(5), 1, 100), Ok(100));
        // Those additions were taken back or bought in the purchase window: after it closes,
        // only the 100 − 1 added on day 5 may go, until day 12.
        assert_eq!(l.minimum_quantity(day(8), 100), 1);
        assert_eq!(l.minimum_quantity(day(12), 100), 100);
        let mut l = new(t0(), BillingFrequency::Monthly);
        assert_eq!(change(&mut l, day(1), 1, 100), Ok(100));
        // Day 8: the purchase window is closed, and the window of the 99 added on day 1 as well.
        let err = change(&mut l, day(8), 100, 99).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Licenses can be removed only within 7 days of purchase, renewal or adding them: for this subscription the last window closed on 2026-02-08 12:00 UTC, so it keeps its 100 licenses. To stop paying at the end of the term (2026-02-28 12:00 UTC), turn off recurring billing."
        );
        assert_eq!(err.code(), "removalWindowClosed");
        // Adding 5 opens a window for those 5 only.
        assert_eq!(change(&mut l, day(10), 100, 105), Ok(105));
        let err = change(&mut l, day(11), 105, 99).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Licenses can be removed only within 7 days of purchase, renewal or adding them: 5 of these 105 were added on 2026-02-10 12:00 UTC and can be removed until 2026-02-17 12:00 UTC; the minimum now is 100."
        );
        assert_eq!(change(&mut l, day(11), 105, 100), Ok(100));
        assert_eq!(l.minimum_quantity(day(11), 100), 100);
        assert!(l.check_quantity_change(day(11), 100, 99).is_err());
        assert!(l.check_quantity_change(day(11), 100, 0).is_err());
        assert!(l.check_quantity_change(day(11), 100, 120).is_ok());
    }

    #[test]
    fn removals_take_back_the_latest_additions_first() {
        let mut l = new(t0(), BillingFrequency::Monthly);
        let day = |d: i64| t0() + Duration::days(d);
        assert_eq!(change(&mut l, day(10), 100, 105), Ok(105));
        assert_eq!(change(&mut l, day(12), 105, 108), Ok(108));
        let err = change(&mut l, day(13), 108, 99).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Licenses can be removed only within 7 days of purchase, renewal or adding them: 8 of these 108 were added in the last 7 days (5 on 2026-02-10 12:00 UTC, removable until 2026-02-17 12:00 UTC; 3 on 2026-02-12 12:00 UTC, removable until 2026-02-19 12:00 UTC); the minimum now is 100."
        );
        // Removing 4 takes the 3 of day 12 and 1 of day 10: 4 of day 10 remain until day 17.
        assert_eq!(change(&mut l, day(13), 108, 104), Ok(104));
        assert_eq!(
            l.additions,
            vec![Addition {
                at: day(10),
                count: 4
            }]
        );
        assert_eq!(l.minimum_quantity(day(16), 104), 100);
        assert_eq!(l.removal_window_end(), day(17));
        assert_eq!(l.minimum_quantity(day(17), 104), 104);
        // The next change drops additions whose window closed.
        assert_eq!(change(&mut l, day(18), 104, 105), Ok(105));
        assert_eq!(
            l.additions,
            vec![Addition {
                at: day(18),
                count: 1
            }]
        );
    }

    #[test]
    fn additions_within_one_minute_read_as_one() {
        let mut l = new(t0(), BillingFrequency::Monthly);
        let d10 = t0() + Duration::days(10);
        assert_eq!(change(&mut l, d10, 100, 102), Ok(102));
        assert_eq!(
            change(&mut l, d10 + Duration::seconds(5), 102, 105),
            Ok(105)
        );
        let err = change(&mut l, d10 + Duration::seconds(9), 105, 1).unwrap_err();
        assert!(
            err.to_string().ends_with(": 5 of these 105 were added on 2026-02-10 12:00 UTC and can be removed until 2026-02-17 12:00 UTC; the minimum now is 100."),
            "{err}"
        );
    }

    #[test]
    fn renewal_opens_the_removal_window_for_every_license() {
        let mut l = new(t0(), BillingFrequency::Monthly);
        run_jobs(&mut l, at(2026, 3, 1));
        assert_eq!(l.minimum_quantity(at(2026, 3, 1), 50), 1);
        assert_eq!(l.minimum_quantity(at(2026, 3, 7), 50), 50);
    }

    #[test]
    fn reactivation_starts_a_new_term_anchored_that_day() {
        let mut l = new(t0(), BillingFrequency::Monthly);
        l.cancel(t0()).unwrap();
        l.reactivate(at(2026, 3, 10)).unwrap();
        assert_eq!(l.status, Status::Active);
        assert!(l.recurring && !l.cancelled);
        assert_eq!(l.anchor, at(2026, 3, 10));
        assert_eq!(
            (l.term_start, l.term_end),
            (at(2026, 3, 10), at(2026, 4, 10))
        );
        assert_eq!(l.cancel_window_end(), at(2026, 3, 17));
        assert!(l.reactivate(t0()).is_err());
    }

    fn any_time() -> impl Strategy<Value = Time> {
        // 1970 up to about 2300, at any second.
        (0i64..10_400_000_000).prop_map(|s| chrono::DateTime::from_timestamp(s, 0).unwrap())
    }

    fn any_frequency() -> impl Strategy<Value = BillingFrequency> {
        prop_oneof![
            Just(BillingFrequency::Monthly),
            Just(BillingFrequency::Annual)
        ]
    }

    proptest! {
        // Whatever happens, the machine only takes legal steps: Deleted is terminal,
        // statuses only move forward without an explicit reactivation, and time is monotone.
        #[test]
        fn only_legal_states(ops in proptest::collection::vec((0u8..5, 0i64..200), 1..40)) {
            let mut l = new(t0(), BillingFrequency::Monthly);
            let mut now = t0();
            for (op, days) in ops {
                now += Duration::days(days);
                let before = l.clone();
                match op {
                    0 => { let _ = l.cancel(now); }
                    1 => { let _ = l.reactivate(now); }
                    2 => { let _ = l.set_recurring(days % 2 == 0); }
                    _ => { run_jobs(&mut l, now); }
                }
                if before.status == Status::Deleted { prop_assert_eq!(&l, &before); }
                if op != 1 && l.status != before.status {
                    let rank = |s: Status| match s { Status::Active => 0, Status::Expired => 1, Status::Disabled => 2, Status::Deleted => 3 };
                    prop_assert!(rank(l.status) > rank(before.status));
                }
                prop_assert!(l.term_end > l.term_start);
                if l.status == Status::Active { prop_assert!(l.due(now).unwrap().is_none() || now >= l.term_end); }
            }
        }

        // Every term end falls on the anchor's day of the month (or the month's last day), at
        // the anchor's time of day, and terms_until brackets any time between two of them.
        #[test]
        fn term_ends_keep_the_anchor_day(anchor in any_time(), f in any_frequency(), n in 0i64..1300, t in any_time()) {
            let end = f.nth_term_end(anchor, n).unwrap();
            let next = f.nth_term_end(anchor, n + 1).unwrap();
            prop_assert!(next > end);
            prop_assert_eq!(end.time(), anchor.time());
            let last_day = |d: Time| (28..=31).rev().find(|&day| d.with_day(day).is_some()).unwrap();
            prop_assert_eq!(end.day(), anchor.day().min(last_day(end)));
            let k = f.terms_until(anchor, t).unwrap();
            if t >= anchor {
                prop_assert!(f.nth_term_end(anchor, k).unwrap() <= t);
                prop_assert!(f.nth_term_end(anchor, k + 1).unwrap() > t);
            } else {
                prop_assert_eq!(k, 0);
            }
        }

        // Catching up in one jump ends in the same term as renewing step by step, and counts
        // the same number of renewals.
        #[test]
        fn one_jump_equals_many_steps(start in any_time(), f in any_frequency(), jumps in proptest::collection::vec(0i64..400, 1..12)) {
            let mut stepped = new(start, f);
            let mut renewals = 0;
            let mut now = start;
            for d in &jumps {
                now += Duration::days(*d);
                while let Some(t) = stepped.due(now).unwrap() {
                    if let Transition::Renew { renewals: r, .. } = t { renewals += r; }
                    stepped.apply(t).unwrap();
                }
            }
            let mut jumped = new(start, f);
            let t = jumped.due(now).unwrap();
            if let Some(t) = t { jumped.apply(t).unwrap(); }
            prop_assert!(jumped.due(now).unwrap().is_none());
            prop_assert_eq!((jumped.term_start, jumped.term_end), (stepped.term_start, stepped.term_end));
            let expected = match t { Some(Transition::Renew { renewals, .. }) => renewals, _ => 0 };
            prop_assert_eq!(renewals, expected);
            prop_assert!(jumped.term_start <= now && now < jumped.term_end);
        }

        // Outside the purchase window the removable licenses are exactly those added in the
        // last 7 days and not removed since, and never more than the subscription has.
        #[test]
        fn removable_licenses_are_the_recent_additions(ops in proptest::collection::vec((0i64..3, -50i64..50), 1..40)) {
            let mut l = new(t0(), BillingFrequency::Annual);
            let mut now = t0() + Duration::days(8);
            let mut q = 10i64;
            // (time, count) of every license added, newest last, less those removed.
            let mut model: Vec<(Time, i64)> = vec![];
            for (days, delta) in ops {
                now += Duration::days(days);
                let new = q + delta;
                model.retain(|(at, _)| now < *at + Duration::days(7));
                let recent: i64 = model.iter().map(|(_, c)| c).sum();
                let allowed = new >= 1 && (new >= q || new >= q - recent);
                prop_assert_eq!(l.check_quantity_change(now, q, new).is_ok(), allowed, "{} → {} with {} recent", q, new, recent);
                if allowed {
                    l.licenses_changed(now, q, new);
                    if new > q { model.push((now, new - q)); }
                    let mut take = q - new;
                    while take > 0 {
                        let Some(last) = model.last_mut() else { break };
                        let used = last.1.min(take);
                        last.1 -= used;
                        take -= used;
                        if last.1 == 0 { model.pop(); }
                    }
                    q = new;
                }
                let open: i64 = l.open_additions(now).map(|a| a.count).sum();
                prop_assert!(open < q || q == 1 && open <= 1 || open == 0);
                prop_assert_eq!(l.minimum_quantity(now, q), (q - open).max(1));
            }
        }
    }
}
