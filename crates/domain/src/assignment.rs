//! A license held by a user.

use crate::{AssignmentId, PlanId, PoolId, SkuId, TenantId, Time, UserId};

/// A license held by a user: one product, from one pool, with some of its plans turned off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The assignment's id.
    pub id: AssignmentId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The user holding the license.
    pub user_id: UserId,
    /// The product.
    pub sku_id: SkuId,
    /// The pool the seat is taken from.
    pub pool_id: PoolId,
    /// Service plans of the product turned off for this user.
    pub disabled_plans: Vec<PlanId>,
    /// Assigned to the user directly (rather than through a group).
    pub direct: bool,
    /// When the license was assigned.
    pub assigned_at: Time,
    /// When the assignment last changed.
    pub updated_at: Time,
}
