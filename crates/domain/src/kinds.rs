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

pub(crate) use text_enum as text_enum_pub;

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
    /// The self-service purchase policy of one product in one tenant (POL1), with the
    /// commerce module's `PolicyId` `AllowSelfServicePurchase`.
    PolicyValue {
        /// Users may buy the product and start its trials.
        Enabled => "Enabled",
        /// Users may only start trials that need no payment method, and cannot buy after such
        /// a trial ends.
        OnlyTrialsWithoutPaymentMethod => "OnlyTrialsWithoutPaymentMethod",
        /// Users may neither buy nor start trials.
        Disabled => "Disabled",
    }
);

text_enum!(
    /// A card's brand, told by its number (BILL2).
    CardBrand {
        /// Numbers starting with 4.
        Visa => "Visa",
        /// Numbers starting with 51–55 or 2221–2720.
        Mastercard => "Mastercard",
        /// Numbers starting with 34 or 37.
        Amex => "Amex",
        /// Any other number that passes the Luhn check.
        Other => "Other",
    }
);

text_enum!(
    /// Which e-mail an outbox message is (MAIL1).
    MailKind {
        /// A subscription without recurring billing ends soon (to Global and Billing admins;
        /// for a self-service one, to its purchaser, or to admins when the purchaser has left).
        SubscriptionExpiring => "subscription.expiring",
        /// A subscription was disabled: its users lost access (to Global and Billing admins).
        SubscriptionDisabled => "subscription.disabled",
        /// A self-service subscription or trial reached the end of its term (to its purchaser;
        /// to Global and Billing admins when the purchaser has left).
        SubscriptionExpired => "subscription.expired",
        /// A self-service subscription was deleted at the end of its life: its users lost
        /// its licenses (to its purchaser; to admins when the purchaser has left).
        SubscriptionDeleted => "subscription.deleted",
        /// An admin took over a self-service subscription, moving its users or cancelling it
        /// (to its purchaser; SS4).
        SubscriptionTakenOver => "subscription.taken-over",
        /// An admin who holds the product centrally asks the purchaser to cancel (SS5).
        AskToCancel => "subscription.ask-to-cancel",
        /// A trial could not convert to paid because the charge failed (to its purchaser).
        PaymentFailed => "payment.failed",
        /// A license request was decided: approved or denied (to each user on it; REQ4).
        RequestDecided => "request.decided",
        /// An admin shared a license request for a recommendation (to each recipient; REQ5).
        RequestShared => "request.shared",
        /// A trial converted to a paid subscription and its card was charged (to its
        /// purchaser).
        TrialConverted => "subscription.trial-converted",
        /// The purchaser of a self-service subscription left the organization (account
        /// disabled or deleted): it keeps running until its term ends and does not renew
        /// (to Global and Billing admins; SS4).
        PurchaserLeft => "subscription.purchaser-left",
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

text_enum!(
    /// What an audit log entry records (AUD1): a dotted verb, stored and shown as this text.
    AuditAction {
        /// A user was created.
        UserCreate => "user.create",
        /// A user's properties changed.
        UserUpdate => "user.update",
        /// A user was deleted.
        UserDelete => "user.delete",
        /// A user's admin roles were set.
        UserRoles => "user.roles",
        /// A partner's delegated roles in this organization were set or revoked.
        PartnerRoles => "partner.roles",
        /// An admin set a user's password (never recorded itself).
        UserPasswordSet => "user.password.set",
        /// A user changed their own password.
        UserPasswordChange => "user.password.change",
        /// A user's sessions were ended.
        UserSessionsEnd => "user.sessions.end",
        /// A sign-in to the admin center, successful or refused (`after.result`).
        SignIn => "sign-in",
        /// A user signed out of the admin center.
        SignOut => "sign-out",
        /// A group was created.
        GroupCreate => "group.create",
        /// A group's properties changed.
        GroupUpdate => "group.update",
        /// A group was deleted.
        GroupDelete => "group.delete",
        /// A user was added to a group.
        GroupMemberAdd => "group.member.add",
        /// A user was removed from a group.
        GroupMemberRemove => "group.member.remove",
        /// Products were assigned to or removed from a group (L6).
        GroupLicense => "group.license",
        /// A step of a background license job (L6): what it did to how many members.
        LicenseJobStep => "license.job.step",
        /// A user's or group's licenses were processed again (L6 reprocess).
        LicenseReprocess => "license.reprocess",
        /// Licenses were assigned to a user (perhaps with other changes).
        LicenseAssign => "license.assign",
        /// Licenses were removed from a user.
        LicenseUnassign => "license.unassign",
        /// The service plans of a user's licenses changed.
        LicensePlans => "license.plans",
        /// A subscription was bought.
        SubscriptionBuy => "subscription.buy",
        /// A subscription's quantity changed.
        SubscriptionQuantity => "subscription.quantity",
        /// Recurring billing was turned on or off.
        SubscriptionRecurring => "subscription.recurring",
        /// The purchaser replaced the card a self-service subscription is charged to.
        SubscriptionPaymentMethod => "subscription.payment-method",
        /// A subscription was cancelled.
        SubscriptionCancel => "subscription.cancel",
        /// A subscription was reactivated.
        SubscriptionReactivate => "subscription.reactivate",
        /// A subscription renewed for another term.
        SubscriptionRenew => "subscription.renew",
        /// A subscription expired.
        SubscriptionExpire => "subscription.expire",
        /// A subscription was disabled.
        SubscriptionDisable => "subscription.disable",
        /// A subscription was deleted.
        SubscriptionDelete => "subscription.delete",
        /// A user started a trial of a product (SUB4, SS1).
        SubscriptionTrial => "subscription.trial",
        /// A trial converted to a paid subscription, or could not (SUB4).
        SubscriptionConvert => "subscription.convert",
        /// An admin took over a self-service subscription (SS4).
        SubscriptionTakeOver => "subscription.take-over",
        /// An admin asked a purchaser to cancel their subscription (SS5).
        SubscriptionAskToCancel => "subscription.ask-to-cancel",
        /// The organization was created.
        TenantCreate => "tenant.create",
        /// The organization's settings changed.
        TenantUpdate => "tenant.update",
        /// An API token was issued.
        TokenCreate => "token.create",
        /// An API token was revoked.
        TokenRevoke => "token.revoke",
        /// The development clock was moved.
        ClockSet => "clock.set",
        /// The organization's default self-service purchase policy changed (POL1).
        PolicyDefault => "policy.default",
        /// A product's self-service purchase policy was set (POL1).
        PolicyProduct => "policy.product",
        /// A card was added (BILL2); recorded with brand and last four digits only.
        PaymentMethodAdd => "payment-method.add",
        /// A card's expiry, name or billing address changed (BILL2).
        PaymentMethodUpdate => "payment-method.update",
        /// A card was deleted (BILL2).
        PaymentMethodDelete => "payment-method.delete",
        /// A billing account was opened: the organization's central one or a purchaser's (BILL1).
        BillingAccountCreate => "billing-account.create",
        /// A billing profile's name, address, invoice e-mail or card changed (BILL1).
        BillingProfileUpdate => "billing-profile.update",
        /// A user submitted a license request (REQ1).
        RequestSubmit => "request.submit",
        /// An admin approved or denied a license request (REQ4).
        RequestDecide => "request.decide",
        /// An admin shared a license request by e-mail (REQ5).
        RequestShare => "request.share",
        /// A recipient of a shared request recommended approving or denying it (REQ5).
        RequestRecommend => "request.recommend",
        /// A license request passed its retention and was deleted (REQ6): how it ended.
        RequestPurge => "request.purge",
        /// The organization's license request settings changed (REQ2, REQ5, REQ6).
        RequestSettings => "request.settings",
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
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(*a));
        }
        assert_eq!(UserType::parse("guest"), None);
        assert_eq!(
            serde_json::to_string(&Origin::SelfService).unwrap(),
            "\"self-service\""
        );
    }
}
