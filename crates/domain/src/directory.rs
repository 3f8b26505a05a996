//! Users and groups of a tenant's directory, and the filter that selects users.

use crate::kinds::UserType;
use crate::{GroupId, SkuId, TenantId, Time, UserId};

/// A user of a tenant's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The tenant the user belongs to.
    pub tenant_id: TenantId,
    /// The sign-in name, unique in the tenant ignoring case.
    pub upn: String,
    /// The name shown for the user.
    pub display_name: String,
    /// First name.
    pub given_name: Option<String>,
    /// Last name.
    pub surname: Option<String>,
    /// E-mail address.
    pub mail: Option<String>,
    /// The alias part of the e-mail address.
    pub mail_nickname: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Member or guest.
    pub user_type: UserType,
    /// Two-letter country code where the user uses services; required to hold a license.
    pub usage_location: Option<String>,
    /// Whether the user may sign in.
    pub account_enabled: bool,
    /// When the user was created.
    pub created_at: Time,
}

impl User {
    /// Whether the user is an invited guest.
    pub fn is_guest(&self) -> bool {
        self.user_type == UserType::Guest
    }
}

/// A group of a tenant's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group's id.
    pub id: GroupId,
    /// The tenant the group belongs to.
    pub tenant_id: TenantId,
    /// The name shown for the group.
    pub display_name: String,
    /// Free text describing the group.
    pub description: Option<String>,
    /// The alias part of the group's e-mail address.
    pub mail_nickname: Option<String>,
    /// Whether the group has a mailbox.
    pub mail_enabled: bool,
    /// Whether the group is a security group.
    pub security_enabled: bool,
    /// When the group was created.
    pub created_at: Time,
}

/// A user property that filters can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserField {
    /// The user's id.
    Id,
    /// The sign-in name (compared ignoring case).
    UserPrincipalName,
    /// The display name.
    DisplayName,
    /// First name.
    GivenName,
    /// Last name.
    Surname,
    /// E-mail address.
    Mail,
    /// Member or guest.
    UserType,
    /// Usage location.
    UsageLocation,
    /// Whether the account is enabled.
    AccountEnabled,
    /// Job title.
    JobTitle,
    /// Department.
    Department,
}

/// A value a user property is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text, compared ignoring case.
    Text(String),
    /// A number (flags are 0 or 1).
    Int(i64),
    /// No value.
    Null,
}

/// A filter over users.
#[derive(Debug, Clone, PartialEq)]
pub enum UserFilter {
    /// Every user.
    True,
    /// Users matching all of these.
    And(Vec<UserFilter>),
    /// Users matching any of these.
    Or(Vec<UserFilter>),
    /// Users not matching this.
    Not(Box<UserFilter>),
    /// Equality; text comparison is case-insensitive as in Graph.
    Eq(UserField, Value),
    /// The property starts with this text, ignoring case.
    StartsWith(UserField, String),
    /// The user holds this product.
    HasSku(SkuId),
    /// The user holds exactly this many licenses (`assignedLicenses/$count eq n`).
    LicenseCount(i64),
    /// The user is a member of this group.
    MemberOf(GroupId),
}
