//! Admin roles and what each may do (SPEC section 6).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    GlobalAdmin,
    BillingAdmin,
    LicenseAdmin,
    UserAdmin,
    GlobalReader,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::GlobalAdmin,
        Role::BillingAdmin,
        Role::LicenseAdmin,
        Role::UserAdmin,
        Role::GlobalReader,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::GlobalAdmin => "GlobalAdmin",
            Role::BillingAdmin => "BillingAdmin",
            Role::LicenseAdmin => "LicenseAdmin",
            Role::UserAdmin => "UserAdmin",
            Role::GlobalReader => "GlobalReader",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        let k: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        Some(match k.as_str() {
            "globaladmin" | "global" | "globaladministrator" => Role::GlobalAdmin,
            "billingadmin" | "billing" | "billingadministrator" => Role::BillingAdmin,
            "licenseadmin" | "license" | "licenseadministrator" => Role::LicenseAdmin,
            "useradmin" | "user" | "useradministrator" => Role::UserAdmin,
            "globalreader" | "reader" => Role::GlobalReader,
            _ => return None,
        })
    }
}

/// Everything a caller may be allowed to do; checked by the app layer on every use case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Licenses, subscriptions, audit, directory: reading.
    Read,
    /// Assign / unassign licenses and change plans.
    AssignLicenses,
    /// Buy, change quantity, cancel, reactivate, recurring billing (central subscriptions).
    ManageSubscriptions,
    /// Create, change and delete users and groups.
    ManageDirectory,
    /// Change a user's usage location only.
    SetUsageLocation,
    /// License a guest user.
    LicenseGuests,
    /// Roles, tokens of other users, catalog, clock.
    ManageTenant,
    /// Read the self-service purchase policy, billing accounts, billing profiles and the
    /// organization's payment methods (section 6: Global, Billing admin, Global reader).
    ReadBilling,
    /// Change the self-service purchase policy, billing profiles and the organization's payment
    /// methods (section 6: Global and Billing admin).
    ManageBilling,
    /// Decide and share license requests and change the request-process setting (section 6:
    /// Global, License and User admin).
    ManageRequests,
    /// List and open the organization's license requests and read their settings (every
    /// admin role, as `Read`).
    ReadRequests,
}

impl Action {
    /// Whether this is about license requests: a partner needs the Global admin role for it.
    pub fn is_license_requests(self) -> bool {
        matches!(self, Action::ManageRequests | Action::ReadRequests)
    }
}

/// Whether any of `roles` permits `action`.
pub fn permits(roles: &[Role], action: Action) -> bool {
    roles.iter().any(|r| role_permits(*r, action))
}

/// Whether an actor with `roles` may do `action`; `partner` when they act for a customer
/// organization as its partner (section 6: managing license requests as a partner needs
/// Global admin there; everything else follows the delegated roles as for a member).
pub fn permits_as(roles: &[Role], partner: bool, action: Action) -> bool {
    if partner && action.is_license_requests() {
        return roles.contains(&Role::GlobalAdmin);
    }
    permits(roles, action)
}

fn role_permits(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match role {
        GlobalAdmin => true,
        BillingAdmin => matches!(
            action,
            Read | ReadRequests | ManageSubscriptions | ReadBilling | ManageBilling
        ),
        LicenseAdmin => matches!(
            action,
            Read | ReadRequests | AssignLicenses | SetUsageLocation | ManageRequests
        ),
        UserAdmin => matches!(
            action,
            Read | ReadRequests
                | AssignLicenses
                | ManageDirectory
                | SetUsageLocation
                | ManageRequests
        ),
        GlobalReader => matches!(action, Read | ReadRequests | ReadBilling),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_of_section_6() {
        assert!(permits(&[Role::BillingAdmin], Action::ManageSubscriptions));
        assert!(!permits(&[Role::BillingAdmin], Action::AssignLicenses));
        assert!(permits(&[Role::LicenseAdmin], Action::AssignLicenses));
        assert!(!permits(&[Role::LicenseAdmin], Action::ManageDirectory));
        assert!(permits(&[Role::LicenseAdmin], Action::SetUsageLocation));
        assert!(permits(&[Role::UserAdmin], Action::ManageDirectory));
        assert!(!permits(&[Role::UserAdmin], Action::LicenseGuests));
        assert!(!permits(&[Role::GlobalReader], Action::AssignLicenses));
        assert!(permits(&[Role::GlobalReader], Action::Read));
        assert!(!permits(&[], Action::Read));
        assert!(permits(&[Role::GlobalAdmin], Action::LicenseGuests));
    }

    #[test]
    fn policy_and_billing_rows_of_section_6() {
        for (role, read, manage) in [
            (Role::GlobalAdmin, true, true),
            (Role::BillingAdmin, true, true),
            (Role::LicenseAdmin, false, false),
            (Role::UserAdmin, false, false),
            (Role::GlobalReader, true, false),
        ] {
            assert_eq!(permits(&[role], Action::ReadBilling), read, "{role:?}");
            assert_eq!(permits(&[role], Action::ManageBilling), manage, "{role:?}");
        }
        assert!(!permits(&[], Action::ReadBilling));
    }

    #[test]
    fn a_partner_needs_global_admin_for_license_requests_only() {
        for action in [Action::ReadRequests, Action::ManageRequests] {
            assert!(permits(&[Role::LicenseAdmin], action));
            assert!(!permits_as(&[Role::LicenseAdmin], true, action));
            assert!(!permits_as(
                &[Role::UserAdmin, Role::GlobalReader],
                true,
                action
            ));
            assert!(permits_as(&[Role::GlobalAdmin], true, action));
            assert!(permits_as(&[Role::LicenseAdmin], false, action));
        }
        assert!(permits_as(
            &[Role::LicenseAdmin],
            true,
            Action::AssignLicenses
        ));
        assert!(!permits_as(
            &[Role::LicenseAdmin],
            true,
            Action::ManageDirectory
        ));
        assert!(permits_as(&[Role::GlobalReader], true, Action::Read));
    }

    #[test]
    fn parse_is_forgiving_about_spelling() {
        assert_eq!(Role::parse("Global admin"), Some(Role::GlobalAdmin));
        assert_eq!(Role::parse("license-admin"), Some(Role::LicenseAdmin));
        assert_eq!(Role::parse("owner"), None);
    }
}
