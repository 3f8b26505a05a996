//! Assigning licenses (L1–L5, L7, L8): every check of L5, seats taken with a conditional update
//! in the same transaction as the assignment rows, all-or-nothing for a batch.

use crate::directory::find_user;
use crate::{Actor, App, AppError, AppResult, audit};
use seatkeeper_domain::catalog::{Catalog, Product};
use seatkeeper_domain::lifecycle::Status;
use seatkeeper_domain::plans::{self, License};
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::{
    AssignmentId, DomainError, MAX_BATCH_USERS, PlanId, PoolId, SkuId, Time, UserId, UserProblem,
};
use seatkeeper_store::assignments::{self, Assignment};
use seatkeeper_store::directory::{self as dir, User};
use seatkeeper_store::{Conn, subscriptions, tenants};
use serde_json::json;
use std::collections::BTreeMap;

/// A product to hold, with the service plans that stay off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseSpec {
    pub sku_id: SkuId,
    pub disabled_plans: Vec<PlanId>,
}

/// One user's change: licenses to add (or whose plans to change) and products to remove.
#[derive(Debug, Clone)]
pub struct UserChange {
    /// User id or userPrincipalName.
    pub user: String,
    pub add: Vec<LicenseSpec>,
    pub remove: Vec<SkuId>,
}

/// How a bulk change treats the licenses users already hold (L4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkMode {
    /// Keep existing licenses, add these.
    AssignMore,
    /// Remove existing licenses, assign these.
    Replace,
    /// Remove every license.
    UnassignAll,
}

impl BulkMode {
    pub fn parse(s: &str) -> Option<BulkMode> {
        match s.to_ascii_lowercase().replace(['-', '_', ' '], "").as_str() {
            "assignmore" | "add" => Some(BulkMode::AssignMore),
            "replace" => Some(BulkMode::Replace),
            "unassignall" | "removeall" => Some(BulkMode::UnassignAll),
            _ => None,
        }
    }
}

/// Licenses page row (L1): one per product the tenant owns, summed over the central pool.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductLicenses {
    pub sku_id: SkuId,
    pub sku_part_number: String,
    pub product_name: String,
    pub applies_to: &'static str,
    pub total: i64,
    pub assigned: i64,
    pub available: i64,
    /// Licenses by subscription status, as Graph's prepaidUnits.
    pub enabled: i64,
    pub warning: i64,
    pub suspended: i64,
    pub locked_out: i64,
    pub capability_status: &'static str,
    pub subscription_ids: Vec<String>,
}

struct Planned {
    user: User,
    before: Vec<Assignment>,
    /// New assignments: product, disabled plans.
    inserts: Vec<(SkuId, Vec<PlanId>)>,
    /// Held products whose disabled plans change.
    updates: Vec<(Assignment, Vec<PlanId>)>,
    deletes: Vec<Assignment>,
    set_location: Option<String>,
}

fn product(catalog: &Catalog, sku: SkuId) -> Result<&Product, DomainError> {
    catalog
        .product(sku)
        .ok_or(DomainError::UnknownSku { sku_id: sku })
}

fn part(catalog: &Catalog, sku: SkuId) -> String {
    catalog
        .product(sku)
        .map(|p| p.sku_part_number.clone())
        .unwrap_or_else(|| sku.to_string())
}

pub fn licenses_json(catalog: &Catalog, list: &[Assignment]) -> serde_json::Value {
    json!(list
        .iter()
        .map(|a| json!({"sku": part(catalog, a.sku_id), "skuId": a.sku_id, "disabledPlans": a.disabled_plans.iter().map(|p| catalog.plan_name(*p)).collect::<Vec<_>>()}))
        .collect::<Vec<_>>())
}

impl App {
    /// Plans one user's change and checks every rule of L5; writes nothing.
    async fn plan_change(
        &self,
        conn: &mut Conn,
        actor: &Actor,
        default_location: &mut Option<Option<String>>,
        change: &UserChange,
    ) -> AppResult<Result<Planned, UserProblem>> {
        let catalog = self.catalog();
        let user = find_user(conn, actor.tenant_id, &change.user).await?;
        // PostgreSQL: queue concurrent changes of one user. SQLite write transactions are
        // serialized already.
        if self.db.backend() == seatkeeper_store::Backend::Postgres {
            dir::lock_user(conn, actor.tenant_id, user.id).await?;
        }
        let problem = |e: DomainError| UserProblem {
            user_id: user.id,
            user: user.upn.clone(),
            error: e,
        };
        let before = assignments::of_user(conn, user.id).await?;

        let mut inserts = Vec::new();
        let mut updates = Vec::new();
        let mut deletes = Vec::new();
        let mut after: Vec<License> = Vec::new();
        for a in &before {
            if change.remove.contains(&a.sku_id) {
                deletes.push(a.clone());
            } else {
                after.push(License {
                    sku_id: a.sku_id,
                    disabled_plans: a.disabled_plans.clone(),
                });
            }
        }
        for r in &change.remove {
            if let Err(e) = product(&catalog, *r) {
                return Ok(Err(problem(e)));
            }
        }
        for (i, spec) in change.add.iter().enumerate() {
            let p = match product(&catalog, spec.sku_id) {
                Ok(p) => p,
                Err(e) => return Ok(Err(problem(e))),
            };
            if change.add[..i].iter().any(|o| o.sku_id == spec.sku_id) {
                return Ok(Err(problem(DomainError::ContradictoryChange {
                    product: p.sku_part_number.clone(),
                    problem: "is named twice in the licenses to add".into(),
                })));
            }
            if let Err(e) = plans::check_user_product(p) {
                return Ok(Err(problem(e)));
            }
            let disabled = match plans::normalize_disabled(&catalog, p, &spec.disabled_plans) {
                Ok(d) => d,
                Err(e) => return Ok(Err(problem(e))),
            };
            if change.remove.contains(&spec.sku_id) {
                return Ok(Err(problem(DomainError::ContradictoryChange {
                    product: p.sku_part_number.clone(),
                    problem: "is both added and removed".into(),
                })));
            }
            match before.iter().find(|a| a.sku_id == spec.sku_id) {
                Some(held) if held.disabled_plans == disabled => {}
                Some(held) => updates.push((held.clone(), disabled.clone())),
                None => inserts.push((spec.sku_id, disabled.clone())),
            }
            after.retain(|l| l.sku_id != spec.sku_id);
            after.push(License {
                sku_id: spec.sku_id,
                disabled_plans: disabled,
            });
        }
        let adds_something = !inserts.is_empty() || !updates.is_empty();
        if adds_something && user.is_guest() && !actor.can(Action::LicenseGuests) {
            return Ok(Err(problem(DomainError::GuestNeedsGlobalAdmin {
                user_id: user.id,
                user: user.upn.clone(),
            })));
        }
        let mut set_location = None;
        if adds_something && user.usage_location.is_none() {
            if default_location.is_none() {
                let t = tenants::get(conn, actor.tenant_id)
                    .await?
                    .ok_or_else(|| AppError::not_found("The organization does not exist."))?;
                *default_location = Some(t.default_usage_location);
            }
            match default_location.clone().flatten() {
                Some(l) => set_location = Some(l),
                None => {
                    return Ok(Err(problem(DomainError::UsageLocationMissing {
                        user_id: user.id,
                        user: user.upn.clone(),
                    })));
                }
            }
        }
        let before_l: Vec<License> = before
            .iter()
            .map(|a| License {
                sku_id: a.sku_id,
                disabled_plans: a.disabled_plans.clone(),
            })
            .collect();
        if let Err(e) = plans::check_change(&catalog, user.id, &user.upn, &before_l, &after) {
            return Ok(Err(problem(e)));
        }
        Ok(Ok(Planned {
            user,
            before,
            inserts,
            updates,
            deletes,
            set_location,
        }))
    }

    /// Applies several users' changes in one transaction: all or nothing.
    async fn apply_changes(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        changes: &[UserChange],
        now: Time,
    ) -> AppResult<Vec<(User, Vec<Assignment>)>> {
        let catalog = self.catalog();
        let mut default_location = None;
        let mut planned = Vec::with_capacity(changes.len());
        let mut problems = Vec::new();
        for c in changes {
            match self
                .plan_change(tx, actor, &mut default_location, c)
                .await?
            {
                Ok(p) => planned.push(p),
                Err(problem) => problems.push(problem),
            }
        }
        if !problems.is_empty() {
            if changes.len() == 1 && problems.len() == 1 {
                return Err(problems.remove(0).error.into());
            }
            return Err(DomainError::Batch { problems }.into());
        }

        // Pools of the products being assigned (central pools; their ids never change).
        let mut pools: BTreeMap<SkuId, PoolId> = BTreeMap::new();
        for p in &planned {
            for (sku, _) in &p.inserts {
                if !pools.contains_key(sku) {
                    let pool = self
                        .central_pool_id(tx, actor.tenant_id, *sku)
                        .await?
                        .ok_or(DomainError::ProductNotOwned {
                            sku_id: *sku,
                            product: part(&catalog, *sku),
                        })?;
                    pools.insert(*sku, pool);
                }
            }
        }

        // The net seat change per pool.
        let mut seat_delta: BTreeMap<PoolId, (SkuId, i64)> = BTreeMap::new();
        for p in &planned {
            for (sku, _) in &p.inserts {
                if let Some(pool) = pools.get(sku) {
                    seat_delta.entry(*pool).or_insert((*sku, 0)).1 += 1;
                }
            }
            for a in &p.deletes {
                seat_delta.entry(a.pool_id).or_insert((a.sku_id, 0)).1 -= 1;
            }
        }

        let mut out = Vec::with_capacity(planned.len());
        for p in planned {
            let mut user = p.user;
            if let Some(loc) = &p.set_location {
                user.usage_location = Some(loc.clone());
                dir::update_user(tx, &user).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    "user.update",
                    "user",
                    user.id,
                    format!(
                        "Usage location of {} set to the organization's default {loc}",
                        user.upn
                    ),
                    Some(json!({"usageLocation": null})),
                    Some(json!({"usageLocation": loc})),
                )
                .await?;
            }
            let mut after: Vec<Assignment> = p
                .before
                .iter()
                .filter(|a| !p.deletes.iter().any(|d| d.id == a.id))
                .cloned()
                .collect();
            for a in &p.deletes {
                assignments::delete(tx, a.id).await?;
            }
            for (a, disabled) in &p.updates {
                assignments::set_disabled_plans(tx, a.id, disabled, now).await?;
                if let Some(x) = after.iter_mut().find(|x| x.id == a.id) {
                    x.disabled_plans = disabled.clone();
                    x.updated_at = now;
                }
            }
            for (sku, disabled) in &p.inserts {
                let pool = pools
                    .get(sku)
                    .copied()
                    .ok_or_else(|| anyhow::anyhow!("no pool resolved for {sku}"))?;
                let a = Assignment {
                    id: AssignmentId::new(),
                    tenant_id: actor.tenant_id,
                    user_id: user.id,
                    sku_id: *sku,
                    pool_id: pool,
                    disabled_plans: disabled.clone(),
                    direct: true,
                    assigned_at: now,
                    updated_at: now,
                };
                assignments::insert(tx, &a).await?;
                after.push(a);
            }
            if !p.inserts.is_empty() || !p.updates.is_empty() || !p.deletes.is_empty() {
                let mut parts = Vec::new();
                if !p.inserts.is_empty() {
                    parts.push(format!(
                        "assigned {}",
                        p.inserts
                            .iter()
                            .map(|(s, _)| part(&catalog, *s))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if !p.updates.is_empty() {
                    parts.push(format!(
                        "changed plans of {}",
                        p.updates
                            .iter()
                            .map(|(a, _)| part(&catalog, a.sku_id))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if !p.deletes.is_empty() {
                    parts.push(format!(
                        "unassigned {}",
                        p.deletes
                            .iter()
                            .map(|a| part(&catalog, a.sku_id))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                let action = if !p.inserts.is_empty() {
                    "license.assign"
                } else if !p.deletes.is_empty() {
                    "license.unassign"
                } else {
                    "license.plans"
                };
                audit::record(
                    tx,
                    actor,
                    now,
                    action,
                    "user",
                    user.id,
                    format!("{}: {}", user.upn, parts.join("; ")),
                    Some(licenses_json(&catalog, &p.before)),
                    Some(licenses_json(&catalog, &after)),
                )
                .await?;
            }
            out.push((user, after));
        }

        // Seats last: the pool rows are the contended ones, so they are locked only for the
        // rest of the transaction, in a fixed order. The check and the update are one statement.
        for (pool, (sku, n)) in &seat_delta {
            if *n > 0 && !subscriptions::take_seats(tx, *pool, *n).await? {
                let current = subscriptions::get_pool(tx, *pool).await?;
                return Err(DomainError::NotEnoughLicenses {
                    sku_id: *sku,
                    product: part(&catalog, *sku),
                    needed: *n,
                    available: current.map(|c| (c.total - c.assigned).max(0)).unwrap_or(0),
                }
                .into());
            }
            if *n < 0 {
                subscriptions::release_seats(tx, *pool, -n).await?;
            }
        }
        Ok(out)
    }

    /// The tenant's central pool of a product, from memory once seen.
    async fn central_pool_id(
        &self,
        conn: &mut Conn,
        tenant: seatkeeper_domain::TenantId,
        sku: SkuId,
    ) -> AppResult<Option<PoolId>> {
        if let Some(id) = self
            .pool_ids
            .read()
            .ok()
            .and_then(|m| m.get(&(tenant, sku)).copied())
        {
            return Ok(Some(id));
        }
        let found = subscriptions::central_pool(conn, tenant, sku)
            .await?
            .map(|p| p.id);
        if let (Some(id), Ok(mut m)) = (found, self.pool_ids.write()) {
            m.insert((tenant, sku), id);
        }
        Ok(found)
    }

    async fn change(
        &self,
        actor: &Actor,
        changes: Vec<UserChange>,
    ) -> AppResult<Vec<(User, Vec<Assignment>)>> {
        actor.require(Action::AssignLicenses)?;
        let now = self.now();
        crate::write!(self, tx => self.apply_changes(tx, actor, &changes, now).await)
    }

    /// Graph's assignLicense for one user: adds (or changes plans of) and removes, atomically.
    /// Repeating it changes nothing more.
    pub async fn assign_license(
        &self,
        actor: &Actor,
        user: &str,
        add: Vec<LicenseSpec>,
        remove: Vec<SkuId>,
    ) -> AppResult<(User, Vec<Assignment>)> {
        let mut out = self
            .change(
                actor,
                vec![UserChange {
                    user: user.to_string(),
                    add,
                    remove,
                }],
            )
            .await?;
        out.pop().ok_or_else(|| anyhow::anyhow!("no result").into())
    }

    /// L3: changes which plans are off in a license the user holds; a user who does not hold
    /// the product is refused (checked in the same transaction as the change).
    pub async fn change_plans(
        &self,
        actor: &Actor,
        user: &str,
        sku: SkuId,
        disabled_plans: Vec<PlanId>,
    ) -> AppResult<(User, Vec<Assignment>)> {
        actor.require(Action::AssignLicenses)?;
        let now = self.now();
        let change = UserChange {
            user: user.to_string(),
            add: vec![LicenseSpec {
                sku_id: sku,
                disabled_plans,
            }],
            remove: vec![],
        };
        let mut out = crate::write!(self, tx => {
            let u = find_user(tx, actor.tenant_id, user).await?;
            dir::lock_user(tx, actor.tenant_id, u.id).await?;
            if !assignments::of_user(tx, u.id).await?.iter().any(|a| a.sku_id == sku) {
                let product = part(&self.catalog(), sku);
                return Err(AppError::not_found(format!(
                    "{} does not hold {product}: assign it first (POST /api/v1/licenses/{product}/assign).",
                    u.upn
                )));
            }
            self.apply_changes(tx, actor, std::slice::from_ref(&change), now).await
        })?;
        out.pop().ok_or_else(|| anyhow::anyhow!("no result").into())
    }

    /// L2: assigns one product to up to 20 users, with the same plans off. All or nothing.
    pub async fn assign_product(
        &self,
        actor: &Actor,
        sku: SkuId,
        users: &[String],
        disabled_plans: &[PlanId],
    ) -> AppResult<Vec<(User, Vec<Assignment>)>> {
        check_batch(users)?;
        let spec = LicenseSpec {
            sku_id: sku,
            disabled_plans: disabled_plans.to_vec(),
        };
        self.change(
            actor,
            users
                .iter()
                .map(|u| UserChange {
                    user: u.clone(),
                    add: vec![spec.clone()],
                    remove: vec![],
                })
                .collect(),
        )
        .await
    }

    /// L3: removes a product from users who hold it.
    pub async fn unassign_product(
        &self,
        actor: &Actor,
        sku: SkuId,
        users: &[String],
    ) -> AppResult<Vec<(User, Vec<Assignment>)>> {
        check_batch(users)?;
        self.change(
            actor,
            users
                .iter()
                .map(|u| UserChange {
                    user: u.clone(),
                    add: vec![],
                    remove: vec![sku],
                })
                .collect(),
        )
        .await
    }

    /// L4 for one user: the user ends up holding exactly `licenses`.
    pub async fn set_user_licenses(
        &self,
        actor: &Actor,
        user: &str,
        licenses: Vec<LicenseSpec>,
    ) -> AppResult<(User, Vec<Assignment>)> {
        self.bulk(actor, BulkMode::Replace, &[user.to_string()], licenses)
            .await?
            .pop()
            .ok_or_else(|| anyhow::anyhow!("no result").into())
    }

    /// L4 for several users: Assign more, Replace or Unassign all.
    pub async fn bulk(
        &self,
        actor: &Actor,
        mode: BulkMode,
        users: &[String],
        licenses: Vec<LicenseSpec>,
    ) -> AppResult<Vec<(User, Vec<Assignment>)>> {
        check_batch(users)?;
        actor.require(Action::AssignLicenses)?;
        let now = self.now();
        crate::write!(self, tx => {
            let mut changes = Vec::with_capacity(users.len());
            for u in users {
                let held = match mode {
                    BulkMode::AssignMore => vec![],
                    _ => {
                        let user = find_user(tx, actor.tenant_id, u).await?;
                        assignments::of_user(tx, user.id).await?.into_iter().map(|a| a.sku_id).collect()
                    }
                };
                let (add, remove) = match mode {
                    BulkMode::AssignMore => (licenses.clone(), vec![]),
                    BulkMode::Replace => (licenses.clone(), held.into_iter().filter(|s| !licenses.iter().any(|l| l.sku_id == *s)).collect()),
                    BulkMode::UnassignAll => (vec![], held),
                };
                changes.push(UserChange { user: u.clone(), add, remove });
            }
            self.apply_changes(tx, actor, &changes, now).await
        })
    }

    /// A user's licenses (read by admins, or by the user themselves).
    pub async fn user_licenses(
        &self,
        actor: &Actor,
        user: &str,
    ) -> AppResult<(User, Vec<Assignment>)> {
        let mut conn = self.read().await?;
        let u = find_user(&mut conn, actor.tenant_id, user).await?;
        if actor.user_id != Some(u.id) {
            actor.require(Action::Read)?;
        }
        let a = assignments::of_user(&mut conn, u.id).await?;
        Ok((u, a))
    }

    /// Licenses of many users in one query.
    pub async fn licenses_of_users(
        &self,
        actor: &Actor,
        users: &[UserId],
    ) -> AppResult<Vec<Assignment>> {
        let mut conn = self.read().await?;
        Ok(assignments::of_users(&mut conn, actor.tenant_id, users).await?)
    }

    /// L1: the Licenses page, one row per product with a central pool.
    pub async fn licenses_page(&self, actor: &Actor) -> AppResult<Vec<ProductLicenses>> {
        actor.require(Action::Read)?;
        let catalog = self.catalog();
        let mut conn = self.read().await?;
        let pools = subscriptions::pools_of_tenant(&mut conn, actor.tenant_id).await?;
        let sums = subscriptions::sums_by_sku(&mut conn, actor.tenant_id).await?;
        let subs = subscriptions::list(&mut conn, actor.tenant_id, false).await?;
        let mut rows = Vec::new();
        for pool in pools.iter().filter(|p| p.kind == "central") {
            let Some(p) = catalog.product(pool.sku_id) else {
                continue;
            };
            let mut row = ProductLicenses {
                sku_id: p.sku_id,
                sku_part_number: p.sku_part_number.clone(),
                product_name: p.name.clone(),
                applies_to: p.applies_to.as_str(),
                total: pool.total,
                assigned: pool.assigned,
                available: (pool.total - pool.assigned).max(0),
                enabled: 0,
                warning: 0,
                suspended: 0,
                locked_out: 0,
                capability_status: "Suspended",
                subscription_ids: subs
                    .iter()
                    .filter(|s| s.pool_id == pool.id)
                    .map(|s| s.commerce_id.clone())
                    .collect(),
            };
            for s in sums.iter().filter(|s| s.sku_id == pool.sku_id) {
                match (s.status, s.cancelled) {
                    (Status::Active, _) => row.enabled += s.quantity,
                    (Status::Expired, _) => row.warning += s.quantity,
                    (Status::Disabled, true) => row.locked_out += s.quantity,
                    (Status::Disabled, false) => row.suspended += s.quantity,
                    (Status::Deleted, _) => {}
                }
            }
            if row.enabled == 0
                && row.warning == 0
                && row.suspended == 0
                && row.locked_out == 0
                && row.assigned == 0
            {
                continue;
            }
            row.capability_status = if row.enabled > 0 {
                "Enabled"
            } else if row.warning > 0 {
                "Warning"
            } else if row.suspended > 0 {
                "Suspended"
            } else {
                "LockedOut"
            };
            rows.push(row);
        }
        rows.sort_by(|a, b| a.product_name.cmp(&b.product_name));
        Ok(rows)
    }

    /// L7: the users holding a product, a page at a time (for the detail page and CSV export).
    pub async fn product_users(
        &self,
        actor: &Actor,
        sku: SkuId,
        after: Option<UserId>,
        limit: i64,
    ) -> AppResult<Vec<(User, Assignment)>> {
        actor.require(Action::Read)?;
        if self.catalog().product(sku).is_none() {
            return Err(DomainError::UnknownSku { sku_id: sku }.into());
        }
        let mut conn = self.read().await?;
        let list = assignments::of_sku(&mut conn, actor.tenant_id, sku, after, limit).await?;
        let ids: Vec<UserId> = list.iter().map(|a| a.user_id).collect();
        let mut users = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            users.extend(dir::users_by_ids(&mut conn, actor.tenant_id, chunk).await?);
        }
        let by_id: BTreeMap<UserId, User> = users.into_iter().map(|u| (u.id, u)).collect();
        Ok(list
            .into_iter()
            .filter_map(|a| by_id.get(&a.user_id).cloned().map(|u| (u, a)))
            .collect())
    }
}

fn check_batch(users: &[String]) -> AppResult<()> {
    if users.is_empty() {
        return Err(AppError::invalid(
            "noUsers",
            "Name at least one user (id or userPrincipalName).",
        ));
    }
    if users.len() > MAX_BATCH_USERS {
        return Err(DomainError::BatchTooLarge {
            count: users.len(),
            max: MAX_BATCH_USERS,
        }
        .into());
    }
    let mut seen = std::collections::HashSet::new();
    for u in users {
        if !seen.insert(u.to_lowercase()) {
            return Err(AppError::invalid(
                "duplicateUser",
                format!("{u} is named twice."),
            ));
        }
    }
    Ok(())
}
