//! Which holders of a pool have working licenses (SUB3).
//!
//! A pool's licenses come from its subscriptions: Active ones work, Expired ones still work
//! (with a warning), Disabled ones do not. When the working licenses no longer cover every
//! holder, the holders beyond them lose access, latest-assigned first; they get it back when
//! licenses are bought or a subscription is reactivated. Holders are ranked by when they were
//! assigned (oldest first), so the ones who lose access are the newest.

use serde::Serialize;

/// How one held license works now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum SeatState {
    /// Covered by an Active subscription.
    Active,
    /// Covered only by an Expired subscription: it works, the admin is warned.
    Warning,
    /// Not covered by a working subscription: the user has lost access.
    Suspended,
}

impl SeatState {
    /// Graph's `assignedPlans[].capabilityStatus` for a plan this license turns on.
    pub fn capability_status(self) -> &'static str {
        match self {
            SeatState::Active => "Enabled",
            SeatState::Warning => "Warning",
            SeatState::Suspended => "Suspended",
        }
    }

    /// Graph's `licenseAssignmentStates[].state`.
    pub fn assignment_state(self) -> &'static str {
        match self {
            SeatState::Active | SeatState::Warning => "Active",
            SeatState::Suspended => "Disabled",
        }
    }

    /// Graph's `licenseDetails` `servicePlans[].provisioningStatus` for a plan left on.
    pub fn provisioning_status(self) -> &'static str {
        match self {
            SeatState::Active | SeatState::Warning => "Success",
            SeatState::Suspended => "Disabled",
        }
    }
}

/// A pool's working licenses against its holders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Coverage {
    /// Licenses of the pool's Active subscriptions.
    pub active: i64,
    /// Licenses of the pool's Expired subscriptions.
    pub expired: i64,
    /// Holders (assignments) of the pool.
    pub assigned: i64,
}

impl Coverage {
    /// How many of the newest holders are not covered by Active subscriptions (they are
    /// [`SeatState::Warning`] or [`SeatState::Suspended`]).
    pub fn newest_not_active(&self) -> i64 {
        (self.assigned - self.active).max(0)
    }

    /// How many of the newest holders are covered by no working subscription
    /// ([`SeatState::Suspended`]).
    pub fn newest_suspended(&self) -> i64 {
        (self.assigned - self.active - self.expired).max(0)
    }

    /// The state of the holder ranked `rank` (0 = the oldest assignment).
    pub fn state_of_rank(&self, rank: i64) -> SeatState {
        if rank < self.active {
            SeatState::Active
        } else if rank < self.active + self.expired {
            SeatState::Warning
        } else {
            SeatState::Suspended
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_newest_holders_lose_access_first() {
        let c = Coverage {
            active: 2,
            expired: 1,
            assigned: 5,
        };
        let states: Vec<SeatState> = (0..5).map(|r| c.state_of_rank(r)).collect();
        assert_eq!(
            states,
            [
                SeatState::Active,
                SeatState::Active,
                SeatState::Warning,
                SeatState::Suspended,
                SeatState::Suspended
            ]
        );
        assert_eq!(c.newest_not_active(), 3);
        assert_eq!(c.newest_suspended(), 2);
    }

    proptest! {
        #[test]
        fn counts_match_the_ranks(active in 0i64..20, expired in 0i64..20, assigned in 0i64..50) {
            let c = Coverage { active, expired, assigned };
            let states: Vec<SeatState> = (0..assigned).map(|r| c.state_of_rank(r)).collect();
            let suspended = states.iter().filter(|s| **s == SeatState::Suspended).count() as i64;
            let not_active = states.iter().filter(|s| **s != SeatState::Active).count() as i64;
            prop_assert_eq!(suspended, c.newest_suspended());
            prop_assert_eq!(not_active, c.newest_not_active());
            // Never more working holders than working licenses.
            prop_assert!(assigned - suspended <= active + expired);
        }
    }
}
