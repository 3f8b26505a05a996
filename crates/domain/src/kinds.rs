//! Small closed sets of states, stored as text and written as these words in every interface.

use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $s)] $v),* }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            /// The stored and displayed word.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),* }
            }
            /// Reads the word exactly as [`Self::as_str`] writes it.
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($s => Some($name::$v),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Graph's `userType`.
    UserType {
        /// A person of the organization.
        Member => "Member",
        /// An invited outsider: licensed only by a Global admin (L5).
        Guest => "Guest",
    }
);

text_enum!(
    /// Who bought a subscription (SPEC section 2).
    Origin {
        /// Bought centrally by an admin: its licenses are in the product's central pool.
        Admin => "admin",
        /// Bought by an end user, its purchaser: a pool of its own (SS1).
        SelfService => "self-service",
    }
);

text_enum!(
    /// Where a pool's seats come from (SPEC section 2).
    PoolKind {
        /// All admin-origin subscriptions of one product in one tenant.
        Central => "central",
        /// One self-service subscription.
        SelfService => "self-service",
    }
);

text_enum!(
    /// Which e-mail an outbox message is (MAIL1).
    MailKind {
        /// A subscription without recurring billing ends soon (to Global and Billing admins).
        SubscriptionExpiring => "subscription.expiring",
        /// A subscription was disabled: its users lost access (to Global and Billing admins).
        SubscriptionDisabled => "subscription.disabled",
    }
);

text_enum!(
    /// Where an outbox message is in its delivery (MAIL1).
    OutboxStatus {
        /// Waiting for (another) delivery attempt.
        Pending => "pending",
        /// Delivered to the transport.
        Sent => "sent",
        /// Given up after the last retry.
        Failed => "failed",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for t in UserType::ALL {
            assert_eq!(UserType::parse(t.as_str()), Some(*t));
        }
        for o in Origin::ALL {
            assert_eq!(Origin::parse(o.as_str()), Some(*o));
        }
        for k in PoolKind::ALL {
            assert_eq!(PoolKind::parse(k.as_str()), Some(*k));
        }
        for k in MailKind::ALL {
            assert_eq!(MailKind::parse(k.as_str()), Some(*k));
        }
        for k in OutboxStatus::ALL {
            assert_eq!(OutboxStatus::parse(k.as_str()), Some(*k));
        }
        assert_eq!(UserType::parse("guest"), None);
        assert_eq!(
            serde_json::to_string(&Origin::SelfService).unwrap(),
            "\"self-service\""
        );
    }
}
