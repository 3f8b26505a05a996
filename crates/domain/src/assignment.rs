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
    /// Service plans of the product turned off for this user: those every source of the
    /// license turns off (L6: a plan is on when any source turns it on).
    pub disabled_plans: Vec<PlanId>,
    /// Assigned to the user directly (also or only through groups when false: see
    /// `license_sources`).
    pub direct: bool,
    /// The plans the direct assignment turns off (empty when not `direct`).
    pub direct_disabled_plans: Vec<PlanId>,
    /// When the license was assigned.
    pub assigned_at: Time,
    /// When the assignment last changed.
    pub updated_at: Time,
}
