//! Tenants: the organizations served.

use crate::{TenantId, Time};

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant's id.
    pub id: TenantId,
    /// The organization's name, unique ignoring case and surrounding whitespace.
    pub name: String,
    /// The usage location new users get when none is given.
    pub default_usage_location: Option<String>,
    /// The currency prices are shown in.
    pub currency: String,
    /// When the tenant was created.
    pub created_at: Time,
}

/// What makes an organization's name unique: names differ in more than case and surrounding
/// whitespace.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}
