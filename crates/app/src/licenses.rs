//! Assigning licenses (L1–L5, L7, L8): every check of L5, seats taken with a conditional update
//! in the same transaction as the assignment rows, all-or-nothing for a batch.

use crate::directory::find_user;
use crate::{Actor, App, AppError, AppResult, audit};
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::catalog::Catalog;
use seatkeeper_domain::change;
use seatkeeper_domain::directory::User;
use seatkeeper_domain::lifecycle::Status;
use seatkeeper_domain::plans::License;
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::seats::{Coverage, SeatState};
use seatkeeper_domain::{
    AssignmentId, DomainError, MAX_BATCH_USERS, PlanId, PoolId, SkuId, Time, UserId, UserProblem,
};
use seatkeeper_store::assignments;
use seatkeeper_store::directory as dir;
use seatkeeper_store::{Conn, subscriptions, tenants};
use serde_json::json;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A product to hold, with the service plans that stay off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseSpec {
    pub sku_id: SkuId,
    pub disabled_plans: Vec<PlanId>,
}

impl From<&LicenseSpec> for License {
    fn from(l: &LicenseSpec) -> License {
        License {
            sku_id: l.sku_id,
            disabled_plans: l.disabled_plans.clone(),
        }
    }
}

/// One user's change: licenses to add (or whose plans to change) and products to remove.
#[derive(Debug, Clone)]
pub struct UserChange {
    /// User id or userPrincipalName.
    pub user: String,
    pub add: Vec<LicenseSpec>,
    pub remove: Remove,
}

/// Which held licenses a [`UserChange`] removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remove {
    /// These products; each must be one the user holds.
    These(Vec<SkuId>),
    /// Every held product not in the licenses to add (L4 Replace, Unassign all).
    AllOthers,
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
#[derive(Debug, Clone)]
pub struct ProductLicenses {
    pub sku_id: SkuId,
    pub sku_part_number: String,
    pub product_name: String,
    pub applies_to: &'static str,
    pub total: i64,
    pub assigned: i64,
    pub available: i64,
    /// Holders beyond the working licenses (assigned − total, at least 0): they have lost
    /// access (SUB3).
    pub holders_without_access: i64,
    /// Licenses by subscription status, as Graph's prepaidUnits.
    pub enabled: i64,
    pub warning: i64,
    pub suspended: i64,
    pub locked_out: i64,
    pub capability_status: &'static str,
    pub subscription_ids: Vec<String>,
}

impl ProductLicenses {
    /// Whether the product has licenses to give: an Active or Expired subscription (SUB3). A
    /// product whose subscriptions are all cancelled, disabled or deleted is listed (its holders
    /// are shown) but offered for no assignment.
    pub fn has_licenses_to_give(&self) -> bool {
        self.enabled + self.warning > 0
    }
}

/// Which pools a change may take seats from and whose licenses it may change or remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Admins (L1–L5): seats of the central pools; licenses from a self-service subscription
    /// are its purchaser's to change (SS3).
    Central,
    /// A purchaser in their own self-service subscription (SS2): its seats only, and only the
    /// licenses it gave.
    Purchase(PoolId),
    /// Take-over (SS4): seats of the central pools, and the licenses of central pools and of
    /// this self-service subscription.
    TakeOver(PoolId),
}

/// What earlier changes of the same transaction wrote but did not flush yet (see
/// [`App::plan_writes`]): users and the licenses they hold, read from here instead of the
/// database. Empty for a change on its own.
#[derive(Default)]
pub(crate) struct Seen {
    users: BTreeMap<UserId, User>,
    /// The ids of `users` by lower-cased userPrincipalName.
    by_name: std::collections::HashMap<String, UserId>,
    licenses: BTreeMap<UserId, Vec<Assignment>>,
    sources: BTreeMap<UserId, Vec<seatkeeper_store::group_licenses::Source>>,
    /// How the pools read so far stood when read (on PostgreSQL the rows of those asked for
    /// are locked).
    pub(crate) pools: BTreeMap<PoolId, seatkeeper_store::subscriptions::PoolCoverage>,
    /// Users whose rows this transaction has locked already (PostgreSQL).
    locked: std::collections::BTreeSet<UserId>,
}

impl Seen {
    /// Reads, in one statement (two with names to look up, one more on PostgreSQL), the users
    /// that `changes` name in `tenant` (by id or userPrincipalName), their licenses, their
    /// licenses' group sources, and how the pools of those licenses and `pools` stand. On PostgreSQL the users' rows,
    /// then the rows of `pools`, are locked first, in id order, for the rest of the
    /// transaction, in a statement of their own: the read then sees what another server
    /// committed while this one waited (see [`seatkeeper_store::holders::read`]). A name that
    /// matches nobody is left to the change to report.
    ///
    /// With `begin` (SQLite, no transaction open yet) the first statement run begins the
    /// transaction too, and `begin` is set to false (see [`seatkeeper_store::holders::read`]).
    ///
    /// Returns the credentials of the tokens stored under `hashes`, read in the same statement
    /// as the users (by hash; hashes of no token are left out).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn preload<'a>(
        &mut self,
        conn: &mut Conn,
        tenant: seatkeeper_domain::TenantId,
        keys: impl Iterator<Item = &'a str>,
        pools: &[PoolId],
        postgres: bool,
        begin: &mut bool,
        hashes: &[&str],
    ) -> AppResult<seatkeeper_store::tokens::Credentials> {
        let mut ids = Vec::new();
        let mut names = Vec::new();
        for k in keys {
            match UserId::parse(k.trim()) {
                Some(id) => ids.push(id),
                None => names.push(k.trim().to_lowercase()),
            }
        }
        ids.extend(
            dir::ids_by_upns(conn, tenant, &names, begin)
                .await?
                .into_iter()
                .map(|(_, id)| id),
        );
        ids.sort();
        ids.dedup();
        ids.retain(|id| !self.users.contains_key(id));
        let pools: Vec<PoolId> = pools
            .iter()
            .filter(|p| !self.pools.contains_key(p))
            .copied()
            .collect();
        let read =
            seatkeeper_store::holders::read(conn, tenant, &ids, &pools, postgres, begin, hashes)
                .await?;
        for p in read.pools {
            self.pools.entry(p.id).or_insert(p);
        }
        for u in read.users {
            self.licenses.insert(u.id, Vec::new());
            self.sources.insert(u.id, Vec::new());
            if postgres {
                self.locked.insert(u.id);
            }
            self.keep_user(u);
        }
        for a in read.licenses {
            self.licenses.entry(a.user_id).or_default().push(a);
        }
        for s in read.sources {
            self.sources.entry(s.user_id).or_default().push(s);
        }
        Ok(read.credentials)
    }

    /// Keeps `u` (replacing what was kept of them), findable by id and by name.
    fn keep_user(&mut self, u: User) {
        if let Some(old) = self.users.get(&u.id) {
            self.by_name.remove(&old.upn.to_lowercase());
        }
        self.by_name.insert(u.upn.to_lowercase(), u.id);
        self.users.insert(u.id, u);
    }

    /// A user by id or userPrincipalName, if an earlier change wrote them.
    fn user(&self, tenant: seatkeeper_domain::TenantId, key: &str) -> Option<&User> {
        let id = match UserId::parse(key) {
            Some(id) => id,
            None => *self.by_name.get(&key.to_lowercase())?,
        };
        self.users.get(&id).filter(|u| u.tenant_id == tenant)
    }

    /// The group sources of these users' licenses, if every one of them was read.
    pub(crate) fn sources_of(
        &self,
        users: &[UserId],
    ) -> Option<Vec<seatkeeper_store::group_licenses::Source>> {
        let mut out = Vec::new();
        for u in users {
            out.extend(self.sources.get(u)?.iter().cloned());
        }
        Some(out)
    }

    /// Remembers what a change's users now hold.
    pub(crate) fn record(&mut self, out: &[(User, Vec<Assignment>)]) {
        for (u, list) in out {
            self.keep_user(u.clone());
            self.licenses.insert(u.id, list.clone());
        }
    }
}

/// What happens to one license row.
#[derive(Debug, Clone)]
pub(crate) enum RowWrite {
    Insert(Assignment),
    /// Its sources and plans change to these (`disabled_plans`, `direct`,
    /// `direct_disabled_plans`, `updated_at`).
    Update(Assignment),
    Delete(Assignment),
}

/// License writes worked out but not made yet: made by [`WriteSet::flush`], or merged with
/// other changes' writes first ([`WriteSet::merge`], group commit).
#[derive(Debug, Default)]
pub(crate) struct WriteSet {
    rows: BTreeMap<AssignmentId, RowWrite>,
    /// Users whose usage location is set.
    users: Vec<User>,
    audit: Vec<seatkeeper_domain::audit::AuditEntry>,
    /// Net seats taken (positive) or given back (negative) per pool.
    pub(crate) seats: BTreeMap<PoolId, (SkuId, i64)>,
}

impl WriteSet {
    /// Adds a row write, combined with an earlier one of the same row: an inserted row that is
    /// then changed is inserted as changed, and one that is then deleted is never written.
    fn row(&mut self, w: RowWrite) {
        let id = match &w {
            RowWrite::Insert(a) | RowWrite::Update(a) | RowWrite::Delete(a) => a.id,
        };
        let combined = match (self.rows.remove(&id), w) {
            (None, w) => Some(w),
            (Some(RowWrite::Insert(_)), RowWrite::Update(a)) => Some(RowWrite::Insert(a)),
            (Some(RowWrite::Insert(_)), RowWrite::Delete(_)) => None,
            (Some(RowWrite::Update(_)), w) => Some(w),
            (Some(earlier), _) => Some(earlier),
        };
        if let Some(w) = combined {
            self.rows.insert(id, w);
        }
    }

    /// Adds another change's writes after these.
    pub(crate) fn merge(&mut self, other: WriteSet) {
        for (_, w) in other.rows {
            self.row(w);
        }
        for u in other.users {
            self.users.retain(|x| x.id != u.id);
            self.users.push(u);
        }
        self.audit.extend(other.audit);
        for (pool, (sku, n)) in other.seats {
            self.seats.entry(pool).or_insert((sku, 0)).1 += n;
        }
    }

    /// Makes the writes in a few statements: rows changed (one statement each), rows
    /// deleted (one statement), users updated, then the new rows, the audit entries and the seats in one
    /// statement ([`seatkeeper_store::Writes`]), the seats last. Errors:
    /// [`DomainError::NotEnoughLicenses`] when a pool has fewer licenses free than taken (the
    /// caller rolls the transaction back).
    pub(crate) async fn flush(self, tx: &mut Conn, catalog: &Catalog) -> AppResult<()> {
        let mut inserts = Vec::new();
        let mut deletes = Vec::new();
        let mut seats = self.seats;
        for (_, w) in self.rows {
            match w {
                RowWrite::Insert(a) => inserts.push(a),
                RowWrite::Delete(a) => deletes.push(a),
                RowWrite::Update(a) => {
                    let direct = a.direct.then_some(a.direct_disabled_plans.as_slice());
                    assignments::set_sources(tx, a.id, &a.disabled_plans, direct, a.updated_at)
                        .await?;
                }
            }
        }
        if !deletes.is_empty() {
            let ids: Vec<AssignmentId> = deletes.iter().map(|a| a.id).collect();
            let gone = assignments::delete_many(tx, &ids).await?;
            // A row a concurrent change deleted first had its seat given back by that change.
            for a in &deletes {
                if !gone.iter().any(|g| g.id == a.id) {
                    seats.entry(a.pool_id).or_insert((a.sku_id, 0)).1 += 1;
                }
            }
        }
        for u in &self.users {
            dir::update_user(tx, u).await?;
        }
        // The new licenses, the audit entries and the seats in one statement (one round
        // trip); the seats last, so that their check sees the pools as the rest left them.
        let seats: Vec<(PoolId, SkuId, i64)> = seats
            .into_iter()
            .filter(|(_, (_, n))| *n != 0)
            .map(|(pool, (sku, n))| (pool, sku, n))
            .collect();
        let mut w = seatkeeper_store::Writes::new(tx);
        assignments::insert_part(&mut w, &inserts);
        seatkeeper_store::audit::append_part(&mut w, &self.audit);
        subscriptions::seats_part(
            &mut w,
            &seats.iter().map(|(p, _, n)| (*p, *n)).collect::<Vec<_>>(),
        );
        let changed = w.run(tx).await?;
        if let Some((pool, sku, n)) = seats
            .iter()
            .find(|(p, _, n)| *n > 0 && !changed.contains(&p.to_string()))
        {
            let current = subscriptions::get_pool(tx, *pool).await?;
            return Err(DomainError::NotEnoughLicenses {
                sku_id: *sku,
                product: catalog.part_number(*sku),
                needed: *n,
                available: current.map(|c| (c.total - c.assigned).max(0)).unwrap_or(0),
            }
            .into());
        }
        Ok(())
    }
}

struct Planned {
    user: User,
    /// Licenses held directly (the plan's indices refer to these).
    before: Vec<Assignment>,
    /// Licenses held only through groups (L6).
    inherited: Vec<Assignment>,
    /// Per product, the plans each active group source turns off.
    group_plans: BTreeMap<SkuId, Vec<Vec<PlanId>>>,
    plan: change::Plan,
    set_location: Option<String>,
}

impl Planned {
    /// The plans the user holds off in `sku` with these direct plans (None: not direct).
    fn effective(&self, sku: SkuId, direct: Option<&[PlanId]>) -> Vec<PlanId> {
        crate::group_licensing::effective_plans(
            direct,
            self.group_plans.get(&sku).map(Vec::as_slice).unwrap_or(&[]),
        )
    }
}

/// A user's licenses as the audit log records them before and after a change (AUD1): per
/// license `{"disabledPlans": [plan names], "sku": part number, "skuId": …}`.
pub fn licenses_json(catalog: &Catalog, list: &[Assignment]) -> serde_json::Value {
    serde_json::to_value(snapshot(catalog, list)).unwrap_or_default()
}

/// [`licenses_json`] as text, serialized straight from the licenses (the same bytes): the
/// license writer records two of these for every change.
pub fn licenses_text(catalog: &Catalog, list: &[Assignment]) -> String {
    serde_json::to_string(&snapshot(catalog, list)).unwrap_or_default()
}

/// One license in [`licenses_json`], its fields in the order of a [`serde_json::Value`]'s
/// (sorted) keys.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot<'a> {
    disabled_plans: Vec<Cow<'a, str>>,
    sku: Cow<'a, str>,
    sku_id: SkuId,
}

fn snapshot<'a>(catalog: &'a Catalog, list: &[Assignment]) -> Vec<Snapshot<'a>> {
    list.iter()
        .map(|a| Snapshot {
            disabled_plans: a
                .disabled_plans
                .iter()
                .map(|p| catalog.plan_name_ref(*p))
                .collect(),
            sku: catalog.part_number_ref(a.sku_id),
            sku_id: a.sku_id,
        })
        .collect()
}

/// What a user holds, as licenses with the plans they hold off.
fn held_licenses(list: &[Assignment]) -> Vec<License> {
    list.iter()
        .map(|a| License {
            sku_id: a.sku_id,
            disabled_plans: a.disabled_plans.clone(),
        })
        .collect()
}

/// What a user holds directly, with the plans the direct assignment turns off.
fn direct_licenses(list: &[Assignment]) -> Vec<License> {
    list.iter()
        .map(|a| License {
            sku_id: a.sku_id,
            disabled_plans: a.direct_disabled_plans.clone(),
        })
        .collect()
}

impl App {
    /// Plans one user's change and checks every rule of L5; writes nothing. `Err` inside
    /// `Ok` is the user's problem (reported with the others of a batch).
    async fn plan_change(
        &self,
        conn: &mut Conn,
        actor: &Actor,
        default_location: &mut Option<Option<String>>,
        user: User,
        change: &UserChange,
        seen: &Seen,
    ) -> AppResult<Result<Planned, UserProblem>> {
        let catalog = self.catalog();
        let problem = |e: DomainError| UserProblem {
            user_id: user.id,
            user: user.upn.clone(),
            error: e,
        };
        let rows = match seen.licenses.get(&user.id) {
            Some(list) => list.clone(),
            None => assignments::of_user(conn, user.id).await?,
        };
        let mut group_plans: BTreeMap<SkuId, Vec<Vec<PlanId>>> = BTreeMap::new();
        let mut source_groups: BTreeMap<SkuId, Vec<seatkeeper_domain::GroupId>> = BTreeMap::new();
        let sources = match seen.sources.get(&user.id) {
            Some(list) => list.clone(),
            None => seatkeeper_store::group_licenses::sources_of_users(conn, &[user.id]).await?,
        };
        for s in sources {
            if s.state == "Active" {
                group_plans
                    .entry(s.sku_id)
                    .or_default()
                    .push(s.disabled_plans);
                source_groups.entry(s.sku_id).or_default().push(s.group_id);
            }
        }
        let (before, inherited): (Vec<Assignment>, Vec<Assignment>) =
            rows.into_iter().partition(|a| a.direct);
        // L6: a product only groups give cannot be removed through the user (Graph's error).
        if let Remove::These(list) = &change.remove
            && let Some(a) = inherited.iter().find(|a| list.contains(&a.sku_id))
        {
            let mut names = Vec::new();
            for g in source_groups
                .get(&a.sku_id)
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                if let Some(g) = dir::get_group(conn, actor.tenant_id, *g).await? {
                    names.push(g.display_name);
                }
            }
            return Ok(Err(problem(DomainError::LicenseInherited {
                user_id: user.id,
                user: user.upn.clone(),
                product: catalog.part_number(a.sku_id),
                groups: if names.is_empty() {
                    "a group".into()
                } else {
                    format!("the group {}", names.join(", "))
                },
            })));
        }
        let held = direct_licenses(&before);
        let add: Vec<License> = change.add.iter().map(License::from).collect();
        // Which named products the organization owns (a pool of them exists).
        let mut owned = Vec::new();
        if let Remove::These(list) = &change.remove {
            for sku in list {
                if !held.iter().any(|h| h.sku_id == *sku)
                    && self
                        .central_pool_id(conn, actor.tenant_id, *sku)
                        .await?
                        .is_some()
                {
                    owned.push(*sku);
                }
            }
        }
        let request = change::Request {
            add: &add,
            remove: match &change.remove {
                Remove::These(list) => change::Removal::These(list),
                Remove::AllOthers => change::Removal::AllOthers,
            },
        };
        let plan = match change::plan(&catalog, user.id, &user.upn, &held, request, |s| {
            owned.contains(&s)
        }) {
            Ok(p) => p,
            Err(e) => return Ok(Err(problem(e))),
        };
        // With group sources, the plan rules hold for what the user ends up holding: the
        // direct licenses merged with every active group source (L6).
        if !group_plans.is_empty() {
            let mut after = plan.after.clone();
            for (sku, list) in &group_plans {
                for d in list {
                    seatkeeper_domain::sources::merge(
                        &mut after,
                        &License {
                            sku_id: *sku,
                            disabled_plans: d.clone(),
                        },
                    );
                }
            }
            let mut all = before.clone();
            all.extend(inherited.iter().cloned());
            if let Err(e) = seatkeeper_domain::plans::check_change(
                &catalog,
                user.id,
                &user.upn,
                &held_licenses(&all),
                &after,
            ) {
                return Ok(Err(problem(e)));
            }
        }
        if plan.adds_something() && user.is_guest() && !actor.can(Action::LicenseGuests) {
            return Ok(Err(problem(DomainError::GuestNeedsGlobalAdmin {
                user_id: user.id,
                user: user.upn.clone(),
            })));
        }
        let mut set_location = None;
        if plan.adds_something() && user.usage_location.is_none() {
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
        Ok(Ok(Planned {
            user,
            before,
            inherited,
            group_plans,
            plan,
            set_location,
        }))
    }

    /// Resolves the users of a batch, each once: the same user named twice (by id and by
    /// name, or with other spacing or case) is refused, naming both. On PostgreSQL the users'
    /// rows are locked in id order, so concurrent changes of one user queue and never deadlock.
    async fn resolve_users(
        &self,
        conn: &mut Conn,
        actor: &Actor,
        changes: &[UserChange],
        seen: &Seen,
    ) -> AppResult<Vec<User>> {
        // An empty name, or the same text twice, is refused before anything is looked up.
        for (i, c) in changes.iter().enumerate() {
            if c.user.trim().is_empty() {
                return Err(AppError::invalid(
                    "missingUser",
                    format!(
                        "User {} of {} is empty: give each user's id or userPrincipalName.",
                        i + 1,
                        changes.len()
                    ),
                ));
            }
            let key = c.user.trim().to_lowercase();
            if let Some(j) = changes[..i]
                .iter()
                .position(|o| o.user.trim().to_lowercase() == key)
            {
                return Err(DomainError::DuplicateUser {
                    user: c.user.trim().to_string(),
                    first: changes[j].user.clone(),
                    second: c.user.clone(),
                }
                .into());
            }
        }
        let mut users: Vec<User> = Vec::with_capacity(changes.len());
        for (i, c) in changes.iter().enumerate() {
            let u = match seen.user(actor.tenant_id, c.user.trim()) {
                Some(u) => u.clone(),
                None => find_user(conn, actor.tenant_id, c.user.trim()).await?,
            };
            if let Some(j) = users.iter().position(|x| x.id == u.id) {
                return Err(DomainError::DuplicateUser {
                    user: u.upn,
                    first: changes[j].user.clone(),
                    second: changes[i].user.clone(),
                }
                .into());
            }
            users.push(u);
        }
        if self.db.backend() == seatkeeper_store::Backend::Postgres {
            let mut ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
            ids.sort();
            for id in ids {
                if !seen.locked.contains(&id) {
                    dir::lock_user(conn, actor.tenant_id, id).await?;
                }
            }
        }
        Ok(users)
    }

    /// Applies several users' changes in one transaction: all or nothing.
    pub(crate) async fn apply_changes(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        changes: &[UserChange],
        now: Time,
    ) -> AppResult<Vec<(User, Vec<Assignment>)>> {
        self.apply_scoped(tx, actor, changes, now, Scope::Central)
            .await
    }

    /// [`App::apply_changes`] within `scope`: where seats come from and which held licenses
    /// may be changed or removed. Plans every change ([`App::plan_writes`]) and makes its
    /// writes ([`WriteSet::flush`]); a pool without the licenses needed refuses the whole.
    pub(crate) async fn apply_scoped(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        changes: &[UserChange],
        now: Time,
        scope: Scope,
    ) -> AppResult<Vec<(User, Vec<Assignment>)>> {
        let (out, writes) = self
            .plan_writes(tx, actor, changes, now, scope, &mut Seen::default())
            .await?;
        writes.flush(tx, &self.catalog()).await?;
        Ok(out)
    }

    /// Checks every rule of L5 for several users' changes and works out what to write: the
    /// users with the licenses they will hold, and the writes that get them there (not made:
    /// see [`WriteSet::flush`]). Reads the database through `seen`, which holds what earlier
    /// changes of the same transaction wrote but did not flush yet. Errors: the first user's
    /// refusal, or all of them as [`DomainError::Batch`].
    pub(crate) async fn plan_writes(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        changes: &[UserChange],
        now: Time,
        scope: Scope,
        seen: &mut Seen,
    ) -> AppResult<(Vec<(User, Vec<Assignment>)>, WriteSet)> {
        let catalog = self.catalog();
        let users = self.resolve_users(tx, actor, changes, seen).await?;
        let mut default_location = None;
        let mut planned = Vec::with_capacity(changes.len());
        let mut problems = Vec::new();
        for (c, u) in changes.iter().zip(users) {
            match self
                .plan_change(tx, actor, &mut default_location, u, c, seen)
                .await?
            {
                Ok(p) => match self.check_scope(tx, actor, &p, c, scope).await? {
                    Ok(()) => planned.push(p),
                    Err(problem) => problems.push(problem),
                },
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
            for l in &p.plan.inserts {
                if let std::collections::btree_map::Entry::Vacant(e) = pools.entry(l.sku_id) {
                    let pool = match scope {
                        Scope::Purchase(pool) => pool,
                        Scope::Central | Scope::TakeOver(_) => self
                            .central_pool_id(tx, actor.tenant_id, l.sku_id)
                            .await?
                            .ok_or(DomainError::ProductNotOwned {
                                sku_id: l.sku_id,
                                product: catalog.part_number(l.sku_id),
                            })?,
                    };
                    e.insert(pool);
                }
            }
        }

        let mut writes = WriteSet::default();
        let mut out = Vec::with_capacity(planned.len());
        for p in planned {
            let mut user = p.user.clone();
            if let Some(loc) = &p.set_location {
                user.usage_location = Some(loc.clone());
                writes.users.push(user.clone());
                writes.audit.push(audit::entry(
                    actor,
                    now,
                    AuditAction::UserUpdate,
                    "user",
                    user.id,
                    format!(
                        "Usage location of {} set to the organization's default {loc}",
                        user.upn
                    ),
                    Some(json!({"usageLocation": null})),
                    Some(json!({"usageLocation": loc})),
                ));
            }
            let mut all_before = p.before.clone();
            all_before.extend(p.inherited.iter().cloned());
            let mut after: Vec<Assignment> = p
                .before
                .iter()
                .enumerate()
                .filter(|(i, _)| !p.plan.deletes.contains(i))
                .map(|(_, a)| a.clone())
                .chain(p.inherited.iter().cloned())
                .collect();
            for i in &p.plan.deletes {
                let a = &p.before[*i];
                if p.group_plans.contains_key(&a.sku_id) {
                    // Groups keep it: only the direct source goes (L6).
                    let mut kept = a.clone();
                    kept.direct = false;
                    kept.direct_disabled_plans = Vec::new();
                    kept.disabled_plans = p.effective(a.sku_id, None);
                    kept.updated_at = now;
                    writes.row(RowWrite::Update(kept.clone()));
                    after.push(kept);
                } else {
                    writes.row(RowWrite::Delete(a.clone()));
                    writes.seats.entry(a.pool_id).or_insert((a.sku_id, 0)).1 -= 1;
                }
            }
            for (i, disabled) in &p.plan.updates {
                let a = &p.before[*i];
                let effective = p.effective(a.sku_id, Some(disabled));
                if let Some(x) = after.iter_mut().find(|x| x.id == a.id) {
                    x.disabled_plans = effective;
                    x.direct_disabled_plans = disabled.clone();
                    x.updated_at = now;
                    writes.row(RowWrite::Update(x.clone()));
                }
            }
            for l in &p.plan.inserts {
                if let Some(r) = p.inherited.iter().find(|r| r.sku_id == l.sku_id) {
                    // Held through groups: it becomes direct too, on the same seat (L6).
                    let effective = p.effective(l.sku_id, Some(&l.disabled_plans));
                    if let Some(x) = after.iter_mut().find(|x| x.id == r.id) {
                        x.direct = true;
                        x.direct_disabled_plans = l.disabled_plans.clone();
                        x.disabled_plans = effective;
                        x.updated_at = now;
                        writes.row(RowWrite::Update(x.clone()));
                    }
                    continue;
                }
                let pool = pools
                    .get(&l.sku_id)
                    .copied()
                    .ok_or_else(|| anyhow::anyhow!("no pool resolved for {}", l.sku_id))?;
                let a = Assignment {
                    id: AssignmentId::new(),
                    tenant_id: actor.tenant_id,
                    user_id: user.id,
                    sku_id: l.sku_id,
                    pool_id: pool,
                    disabled_plans: l.disabled_plans.clone(),
                    direct: true,
                    direct_disabled_plans: l.disabled_plans.clone(),
                    assigned_at: now,
                    updated_at: now,
                };
                writes.row(RowWrite::Insert(a.clone()));
                writes.seats.entry(pool).or_insert((l.sku_id, 0)).1 += 1;
                after.push(a);
            }
            if !p.plan.is_empty() {
                let names = |skus: &mut dyn Iterator<Item = SkuId>| {
                    skus.map(|s| catalog.part_number(s))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut parts = Vec::new();
                if !p.plan.inserts.is_empty() {
                    parts.push(format!(
                        "assigned {}",
                        names(&mut p.plan.inserts.iter().map(|l| l.sku_id))
                    ));
                }
                if !p.plan.updates.is_empty() {
                    parts.push(format!(
                        "changed plans of {}",
                        names(&mut p.plan.updates.iter().map(|(i, _)| p.before[*i].sku_id))
                    ));
                }
                if !p.plan.deletes.is_empty() {
                    parts.push(format!(
                        "unassigned {}",
                        names(&mut p.plan.deletes.iter().map(|i| p.before[*i].sku_id))
                    ));
                }
                let action = if !p.plan.inserts.is_empty() {
                    AuditAction::LicenseAssign
                } else if !p.plan.deletes.is_empty() {
                    AuditAction::LicenseUnassign
                } else {
                    AuditAction::LicensePlans
                };
                let mut entry = audit::entry(
                    actor,
                    now,
                    action,
                    "user",
                    user.id,
                    format!("{}: {}", user.upn, parts.join("; ")),
                    None,
                    None,
                );
                entry.before = Some(licenses_text(&catalog, &all_before));
                entry.after = Some(licenses_text(&catalog, &after));
                writes.audit.push(entry);
            }
            out.push((user, after));
        }
        Ok((out, writes))
    }

    /// Whether a planned change stays inside `scope`: every license it changes or removes
    /// comes from a pool the scope may touch.
    async fn check_scope(
        &self,
        conn: &mut Conn,
        actor: &Actor,
        p: &Planned,
        change: &UserChange,
        scope: Scope,
    ) -> AppResult<Result<(), UserProblem>> {
        // A purchaser's subscription gives a product only to users who do not hold it yet:
        // one held from another pool is not theirs to change, and is not silently kept.
        if let Scope::Purchase(pool) = scope
            && let Some(a) = p
                .before
                .iter()
                .chain(p.inherited.iter())
                .find(|a| a.pool_id != pool && change.add.iter().any(|l| l.sku_id == a.sku_id))
        {
            return Ok(Err(UserProblem {
                user_id: p.user.id,
                user: p.user.upn.clone(),
                error: DomainError::HeldElsewhere {
                    user_id: p.user.id,
                    user: p.user.upn.clone(),
                    product: self.catalog().part_number(a.sku_id),
                },
            }));
        }
        let touched = p
            .plan
            .deletes
            .iter()
            .chain(p.plan.updates.iter().map(|(i, _)| i));
        for i in touched {
            let a = &p.before[*i];
            let central = self
                .central_pool_id(conn, actor.tenant_id, a.sku_id)
                .await?
                == Some(a.pool_id);
            let allowed = match scope {
                Scope::Central => central,
                Scope::Purchase(pool) => a.pool_id == pool,
                Scope::TakeOver(pool) => central || a.pool_id == pool,
            };
            if allowed {
                continue;
            }
            let product = self.catalog().part_number(a.sku_id);
            let error = match scope {
                Scope::Purchase(_) => DomainError::HeldElsewhere {
                    user_id: p.user.id,
                    user: p.user.upn.clone(),
                    product,
                },
                _ => DomainError::SelfServiceLicense {
                    user_id: p.user.id,
                    user: p.user.upn.clone(),
                    product,
                },
            };
            return Ok(Err(UserProblem {
                user_id: p.user.id,
                user: p.user.upn.clone(),
                error,
            }));
        }
        Ok(Ok(()))
    }

    /// The tenant's central pool of a product if this server has seen it (a central pool's id
    /// never changes), without reading.
    pub(crate) fn known_central_pool(
        &self,
        tenant: seatkeeper_domain::TenantId,
        sku: SkuId,
    ) -> Option<PoolId> {
        self.pool_ids
            .read()
            .ok()
            .and_then(|m| m.get(&(tenant, sku)).copied())
    }

    /// The tenant's central pool of a product, from memory once seen.
    pub(crate) async fn central_pool_id(
        &self,
        conn: &mut Conn,
        tenant: seatkeeper_domain::TenantId,
        sku: SkuId,
    ) -> AppResult<Option<PoolId>> {
        if let Some(id) = self.known_central_pool(tenant, sku) {
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

    /// An admin's license change for one or more users, all or nothing, through the license
    /// writer (group commit, see [`crate::commit`]).
    async fn change(
        &self,
        actor: &Actor,
        changes: Vec<UserChange>,
    ) -> AppResult<Vec<(User, Vec<Assignment>)>> {
        actor.require(Action::AssignLicenses)?;
        Ok(self.write_licenses(actor, changes).await?.users)
    }

    /// [`App::assign_license`] answered as Graph answers it: the user, their licenses, how each
    /// works and the group sources, read in the change's own transaction.
    pub async fn assign_license_answered(
        &self,
        actor: &Actor,
        user: &str,
        add: Vec<LicenseSpec>,
        remove: Vec<SkuId>,
    ) -> AppResult<crate::commit::Answered> {
        actor.require(Action::AssignLicenses)?;
        self.write_licenses(
            actor,
            vec![UserChange {
                user: user.to_string(),
                add,
                remove: Remove::These(remove),
            }],
        )
        .await
    }

    /// [`App::assign_license_answered`] for the bearer of `token`, who is authenticated in the
    /// change's own batch ([`crate::commit::Acting::Token`]) rather than with a read of its
    /// own first, once the writer knows the token. A token it does not know (new to it, or
    /// refused in its last batch) is authenticated here first, as [`App::authenticate`] does,
    /// and only queued if it works and its bearer may change licenses: a token that does not
    /// work does not take a place in a batch. Errors: as
    /// [`App::authenticate`] (401) for a token that does not work, 403 for a bearer whose
    /// roles do not let them change licenses, then as [`App::assign_license_answered`].
    pub async fn assign_license_as(
        &self,
        token: &str,
        user: &str,
        add: Vec<LicenseSpec>,
        remove: Vec<SkuId>,
    ) -> AppResult<crate::commit::Answered> {
        let hash = crate::auth::bearer_hash(token)?;
        if !self.license_writer.knows(&hash) {
            self.authenticate(token)
                .await?
                .require(seatkeeper_domain::roles::Action::AssignLicenses)?;
        }
        self.write_licenses_as(
            crate::commit::Acting::Token(hash),
            vec![UserChange {
                user: user.to_string(),
                add,
                remove: Remove::These(remove),
            }],
        )
        .await
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
            .assign_license_answered(actor, user, add, remove)
            .await?
            .users;
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
            remove: Remove::These(vec![]),
        };
        let change = &change;
        let mut out = self.transact(move |tx| Box::pin(async move {
            let u = find_user(tx, actor.tenant_id, user).await?;
            dir::lock_user(tx, actor.tenant_id, u.id).await?;
            if !assignments::of_user(tx, u.id).await?.iter().any(|a| a.sku_id == sku) {
                let product = self.catalog().part_number(sku);
                return Err(AppError::not_found(format!(
                    "{} does not hold {product}: assign it first (POST /api/v1/licenses/{product}/assign).",
                    u.upn
                )));
            }
            self.apply_changes(tx, actor, std::slice::from_ref(change), now).await
        })).await?;
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
        check_licenses(&self.catalog(), std::slice::from_ref(&spec))?;
        self.change(
            actor,
            users
                .iter()
                .map(|u| UserChange {
                    user: u.clone(),
                    add: vec![spec.clone()],
                    remove: Remove::These(vec![]),
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
                    remove: Remove::These(vec![sku]),
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
        self.bulk_unchecked(actor, BulkMode::Replace, &[user.to_string()], licenses)
            .await?
            .pop()
            .ok_or_else(|| anyhow::anyhow!("no result").into())
    }

    /// L4 for several users: Assign more (keep existing licenses, add these), Replace (remove
    /// the existing ones, assign these) or Unassign all (`licenses` must be empty). All or
    /// nothing.
    pub async fn bulk(
        &self,
        actor: &Actor,
        mode: BulkMode,
        users: &[String],
        licenses: Vec<LicenseSpec>,
    ) -> AppResult<Vec<(User, Vec<Assignment>)>> {
        match mode {
            BulkMode::UnassignAll if !licenses.is_empty() => {
                return Err(AppError::invalid(
                    "unexpectedLicenses",
                    "mode unassignAll removes every license: leave licenses out.",
                ));
            }
            BulkMode::AssignMore | BulkMode::Replace if licenses.is_empty() => {
                return Err(AppError::invalid(
                    "missingProperty",
                    "licenses is required for assignMore and replace: [{\"skuId\": ..., \"disabledPlans\": [...]}]; to remove every license use mode unassignAll.",
                ));
            }
            _ => {}
        }
        check_licenses(&self.catalog(), &licenses)?;
        self.bulk_unchecked(actor, mode, users, licenses).await
    }

    /// [`App::bulk`] without the check that Assign more and Replace name licenses (setting one
    /// user's licenses to none is a Replace with none).
    async fn bulk_unchecked(
        &self,
        actor: &Actor,
        mode: BulkMode,
        users: &[String],
        licenses: Vec<LicenseSpec>,
    ) -> AppResult<Vec<(User, Vec<Assignment>)>> {
        check_batch(users)?;
        let (add, remove) = match mode {
            BulkMode::AssignMore => (licenses, Remove::These(vec![])),
            BulkMode::Replace | BulkMode::UnassignAll => (licenses, Remove::AllOthers),
        };
        self.change(
            actor,
            users
                .iter()
                .map(|u| UserChange {
                    user: u.clone(),
                    add: add.clone(),
                    remove: remove.clone(),
                })
                .collect(),
        )
        .await
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

    /// SUB3: how each of `held` works now — covered by an Active subscription, only by an
    /// Expired one (a warning), or by none (suspended: the latest-assigned holders beyond the
    /// pool's working licenses). Costs two queries for the organization's pools, plus two per
    /// pool whose Active subscriptions do not cover every holder.
    pub async fn seat_states(
        &self,
        actor: &Actor,
        held: &[Assignment],
    ) -> AppResult<std::collections::HashMap<AssignmentId, SeatState>> {
        if held.is_empty() {
            return Ok(held.iter().map(|a| (a.id, SeatState::Active)).collect());
        }
        let mut conn = self.read().await?;
        seat_states_on(&mut conn, actor.tenant_id, held).await
    }
}

/// [`App::seat_states`] read through `conn` (a transaction's, to answer with what it wrote).
pub(crate) async fn seat_states_on(
    conn: &mut Conn,
    tenant: seatkeeper_domain::TenantId,
    held: &[Assignment],
) -> AppResult<std::collections::HashMap<AssignmentId, SeatState>> {
    seat_states_with(conn, tenant, held, &BTreeMap::new()).await
}

/// [`seat_states_on`] knowing already how the pools of `known` stand: only the other pools
/// are read, and only pools whose newest holders are not all covered by Active subscriptions
/// cost more (two reads each).
pub(crate) async fn seat_states_with(
    conn: &mut Conn,
    tenant: seatkeeper_domain::TenantId,
    held: &[Assignment],
    known: &BTreeMap<PoolId, Coverage>,
) -> AppResult<std::collections::HashMap<AssignmentId, SeatState>> {
    let mut out: std::collections::HashMap<AssignmentId, SeatState> =
        held.iter().map(|a| (a.id, SeatState::Active)).collect();
    if held.is_empty() {
        return Ok(out);
    }
    let mut by_pool: BTreeMap<PoolId, Vec<AssignmentId>> = BTreeMap::new();
    for a in held {
        by_pool.entry(a.pool_id).or_default().push(a.id);
    }
    let unknown: Vec<PoolId> = by_pool
        .keys()
        .filter(|p| !known.contains_key(p))
        .copied()
        .collect();
    let mut coverage = known.clone();
    for p in subscriptions::coverage_of(conn, tenant, &unknown).await? {
        coverage.insert(
            p.id,
            Coverage {
                assigned: p.assigned,
                active: p.active,
                expired: p.expired,
            },
        );
    }
    for (pool, ids) in by_pool {
        let c = coverage.get(&pool).copied().unwrap_or_default();
        for (n, state) in [
            (c.newest_not_active(), SeatState::Warning),
            (c.newest_suspended(), SeatState::Suspended),
        ] {
            if n <= 0 {
                continue;
            }
            let Some(from) = assignments::nth_newest_in_pool(conn, pool, n).await? else {
                continue;
            };
            for id in assignments::at_or_after_in_pool(conn, pool, from, &ids).await? {
                out.insert(id, state);
            }
        }
    }
    Ok(out)
}

impl App {
    /// L1: the Licenses page, one row per product with a central pool.
    pub async fn licenses_page(&self, actor: &Actor) -> AppResult<Vec<ProductLicenses>> {
        actor.require(Action::Read)?;
        let catalog = self.catalog();
        let mut conn = self.read().await?;
        let pools = subscriptions::pools_of_tenant(&mut conn, actor.tenant_id).await?;
        let sums = subscriptions::sums_by_sku(&mut conn, actor.tenant_id).await?;
        let subs = subscriptions::list(&mut conn, actor.tenant_id, false).await?;
        let mut rows = Vec::new();
        for pool in pools
            .iter()
            .filter(|p| p.kind == seatkeeper_domain::kinds::PoolKind::Central)
        {
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
                holders_without_access: (pool.assigned - pool.total).max(0),
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
    ///
    /// In name order (case-insensitive), after the user `after`: every holder (see
    /// `store::directory::holders_by_name`), or with `search` the holders whose display name or
    /// user name starts with it (see `store::directory::search_users`). Either way only one
    /// page is read, at any size.
    pub async fn product_users(
        &self,
        actor: &Actor,
        sku: SkuId,
        search: Option<&str>,
        after: Option<UserId>,
        limit: i64,
    ) -> AppResult<Vec<(User, Assignment)>> {
        actor.require(Action::Read)?;
        if self.catalog().product(sku).is_none() {
            return Err(DomainError::UnknownSku { sku_id: sku }.into());
        }
        let mut conn = self.read().await?;
        let after = match after {
            Some(id) => dir::name_cursor(&mut conn, actor.tenant_id, id).await?,
            None => None,
        };
        let after = after.as_ref().map(|(n, id)| (n.as_str(), *id));
        let users = match search.map(str::trim).filter(|t| !t.is_empty()) {
            Some(term) => {
                dir::search_users(&mut conn, actor.tenant_id, term, Some(sku), after, limit).await?
            }
            None => dir::holders_by_name(&mut conn, actor.tenant_id, sku, after, limit).await?,
        };
        let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
        let mut held: BTreeMap<UserId, Assignment> =
            assignments::of_users(&mut conn, actor.tenant_id, &ids)
                .await?
                .into_iter()
                .filter(|a| a.sku_id == sku)
                .map(|a| (a.user_id, a))
                .collect();
        Ok(users
            .into_iter()
            .filter_map(|u| held.remove(&u.id).map(|a| (u, a)))
            .collect())
    }

    /// Users whose display name or user name starts with `term` (case-insensitive), in
    /// name order, at most `limit` (1 to 50): the people picker of the pages (type a
    /// name, pick the user). Read by admins.
    pub async fn find_users(&self, actor: &Actor, term: &str, limit: i64) -> AppResult<Vec<User>> {
        actor.require(Action::Read)?;
        let term = term.trim();
        if term.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.read().await?;
        Ok(dir::search_users(
            &mut conn,
            actor.tenant_id,
            term,
            None,
            None,
            limit.clamp(1, 50),
        )
        .await?)
    }
}

/// Checks licenses given to every user of a batch once, so that a problem with the request
/// itself is reported once rather than per user; returns them with each license's disabled
/// plans sorted and named once. Errors: an unknown product or plan, a product named twice, a
/// product for the whole organization.
pub(crate) fn check_licenses(
    catalog: &Catalog,
    licenses: &[LicenseSpec],
) -> AppResult<Vec<LicenseSpec>> {
    let add: Vec<License> = licenses.iter().map(License::from).collect();
    Ok(change::check_additions(catalog, &add)?
        .into_iter()
        .map(|l| LicenseSpec {
            sku_id: l.sku_id,
            disabled_plans: l.disabled_plans,
        })
        .collect())
}

/// A batch names 1 to [`MAX_BATCH_USERS`] users (the seed's "up to 20 users at a time").
pub(crate) fn check_batch(users: &[String]) -> AppResult<()> {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use seatkeeper_domain::{AssignmentId, PoolId, TenantId};

    /// The audit's text is the JSON of [`licenses_json`], byte for byte: plan and product
    /// names from the catalog, ids where the catalog no longer has them.
    #[test]
    fn the_audit_text_of_licenses_is_their_json() {
        let catalog = Catalog::demo();
        let p = &catalog.products[0];
        let gone = SkuId(uuid::Uuid::from_u128(7));
        let license = |sku: SkuId, disabled: Vec<PlanId>| Assignment {
            id: AssignmentId::new(),
            tenant_id: TenantId::new(),
            user_id: UserId::new(),
            sku_id: sku,
            pool_id: PoolId::new(),
            disabled_plans: disabled.clone(),
            direct: true,
            direct_disabled_plans: disabled,
            assigned_at: Time::default(),
            updated_at: Time::default(),
        };
        let list = [
            license(p.sku_id, vec![p.plans[0]]),
            license(gone, vec![PlanId(uuid::Uuid::from_u128(9))]),
        ];
        let value = licenses_json(&catalog, &list);
        assert_eq!(licenses_text(&catalog, &list), value.to_string());
        assert_eq!(value[0]["sku"], json!(p.sku_part_number));
        assert_eq!(
            value[0]["disabledPlans"][0],
            json!(catalog.plan_name(p.plans[0]))
        );
        assert_eq!(value[1]["sku"], json!(gone.to_string()));
        assert_eq!(
            value[1]["disabledPlans"][0],
            json!("00000000-0000-0000-0000-000000000009")
        );
    }
}
