//! Newtype ids so that a user id can never be passed where a SKU id is expected.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new id: a time-ordered GUID (UUID version 7, RFC 9562), so that ids made one
            /// after the other sort, and are stored, next to each other.
            pub fn new() -> Self { Self(Uuid::now_v7()) }
            /// Parses a GUID in its usual hyphenated text form (case-insensitive).
            pub fn parse(s: &str) -> Option<Self> { Uuid::parse_str(s.trim()).ok().map(Self) }
        }
        impl Default for $name { fn default() -> Self { Self::new() } }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { self.0.hyphenated().fmt(f) }
        }
        impl From<Uuid> for $name { fn from(u: Uuid) -> Self { Self(u) } }
    )*};
}

id_type!(
    TenantId,
    UserId,
    GroupId,
    SubscriptionId,
    SkuId,
    PlanId,
    PoolId,
    TokenId,
    AssignmentId,
    SessionId,
    PaymentMethodId,
    BillingAccountId,
    BillingProfileId,
    LicenseRequestId
);
