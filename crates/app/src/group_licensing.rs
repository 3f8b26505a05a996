//! Group-based licensing (L6): products assigned to groups, members' licenses recomputed from
//! their sources (`domain::sources`), and the durable background jobs that do it for large
//! groups.
//!
//! Every change of a user's licenses through groups goes through [`App::reconcile_users`]:
//! it reads what the users hold and every source, applies the rule, and writes the difference
//! (assignments, seats, `license_sources`) in the caller's transaction. Membership changes of
//! one user call it at once; a product assigned to a group is processed by a job, a chunk of
//! members per transaction, with the cursor committed together with the chunk, so a job
//! killed mid-way resumes where its last step committed.

use crate::directory::find_group;
use crate::licenses::{LicenseSpec, check_licenses};
use crate::{Actor, App, AppError, AppResult, audit};
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::directory::{Group, User};
use seatkeeper_domain::plans::License;
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::sources::{self, GroupSource, SeatBudget, SourceError, UserSources};
use seatkeeper_domain::{
    AssignmentId, DomainError, GroupId, PoolId, SkuId, TenantId, Time, UserId,
};
use seatkeeper_store::group_licenses as gl;
pub use seatkeeper_store::group_licenses::GroupsWhere;
pub use seatkeeper_store::group_licenses::{GroupLicense, Job, Source};
use seatkeeper_store::{Conn, assignments, directory as dir, subscriptions, tenants};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Members processed per job step (one transaction). Larger steps write each index page once
/// for more members (the writes of a step land on random pages of the user-keyed indexes), and
/// hold the write lock (SQLite) or the pool row (PostgreSQL) longer: 5,000 keeps a step around
/// half a second.
pub const JOB_CHUNK: i64 = 5000;

/// A step's members, the cursor after them and what processing them did.
type JobStep = (Vec<UserId>, Option<(Time, UserId)>, Reconciled);

/// Payload of a `groupLicenses` job taking members in user-id order (seats cannot run short).
const ORDER_BY_ID: &str = r#"{"order":"userId"}"#;
/// Payload of a `groupLicenses` job taking members in join order (earliest joined first).
const ORDER_JOINED: &str = r#"{"order":"joined"}"#;

/// Users one bulk membership call may add.
pub const MAX_BULK_MEMBERS: usize = 100_000;

/// How long a claimed job stays claimed without a step (a server that stopped loses it then).
const LEASE_SECS: i64 = 30;

/// Graph's `licenseProcessingState` of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessingState {
    QueuedForProcessing,
    ProcessingInProgress,
    ProcessingComplete,
}

impl Default for GroupLicensing {
    fn default() -> Self {
        GroupLicensing {
            licenses: Vec::new(),
            state: ProcessingState::ProcessingComplete,
            members_with_errors: 0,
            job: None,
        }
    }
}

impl ProcessingState {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessingState::QueuedForProcessing => "QueuedForProcessing",
            ProcessingState::ProcessingInProgress => "ProcessingInProgress",
            ProcessingState::ProcessingComplete => "ProcessingComplete",
        }
    }
}

/// A group's licensing as Graph and the pages show it.
#[derive(Debug, Clone)]
pub struct GroupLicensing {
    /// The group's products.
    pub licenses: Vec<GroupLicense>,
    pub state: ProcessingState,
    /// Members whose group licenses are in error.
    pub members_with_errors: i64,
    /// The latest job of the group.
    pub job: Option<Job>,
}

/// What a reconciliation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Users looked at.
    pub processed: i64,
    /// Users with at least one group license in error afterwards.
    pub errors: i64,
    /// Per group: the users looked at whose license from that group is in error afterwards
    /// (a job reports only its own group's).
    pub in_error: BTreeMap<GroupId, i64>,
    /// Licenses given (new seats taken).
    pub assigned: i64,
    /// Licenses taken away (seats freed).
    pub removed: i64,
    /// Licenses whose plans or sources changed.
    pub changed: i64,
}

impl Reconciled {
    /// The users looked at whose license from `group` is in error afterwards.
    pub fn errors_in(&self, group: GroupId) -> i64 {
        self.in_error.get(&group).copied().unwrap_or(0)
    }
}

/// One member's group license in error (Graph's `membersWithLicenseErrors` with the reason).
#[derive(Debug, Clone)]
pub struct MemberError {
    pub user: User,
    pub sku_id: SkuId,
    pub error: SourceError,
    /// Which plans are at odds, in words, for a plan error.
    pub detail: Option<String>,
    pub updated_at: Time,
}

impl MemberError {
    /// The error in words, with what to do (naming the plans at odds when known).
    pub fn advice(&self) -> String {
        self.error.advice_with(self.detail.as_deref())
    }
}

/// A group source of a user's license, with the group's name.
#[derive(Debug, Clone)]
pub struct NamedSource {
    pub source: Source,
    pub group_name: String,
}

/// The group sources of some users' licenses, by user and product
/// ([`App::named_license_sources`]); empty when none was read.
#[derive(Debug, Clone, Default)]
pub struct NamedSources {
    by_license: BTreeMap<(UserId, SkuId), Vec<NamedSource>>,
}

impl NamedSources {
    /// The groups that are sources of `user`'s license of `sku`, by group name.
    pub fn of(&self, user: UserId, sku: SkuId) -> &[NamedSource] {
        self.by_license
            .get(&(user, sku))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Whether no group is a source of any of the users' licenses.
    pub fn is_empty(&self) -> bool {
        self.by_license.is_empty()
    }

    /// Every group source read, by user, product and group name.
    pub fn all(&self) -> impl Iterator<Item = &NamedSource> {
        self.by_license.values().flatten()
    }

    /// Adds the sources of other users (read for another page).
    pub fn extend(&mut self, other: NamedSources) {
        self.by_license.extend(other.by_license);
    }
}

/// [`App::named_license_sources`] in the caller's connection or transaction.
pub(crate) async fn named_sources(
    conn: &mut Conn,
    tenant: TenantId,
    users: &[UserId],
) -> AppResult<NamedSources> {
    let sources = gl::sources_of_users(conn, users).await?;
    let ids: Vec<GroupId> = sources
        .iter()
        .map(|s| s.group_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let names: HashMap<GroupId, String> = dir::groups_by_ids(conn, tenant, &ids)
        .await?
        .into_iter()
        .map(|g| (g.id, g.display_name))
        .collect();
    let mut out = NamedSources::default();
    for s in sources {
        let Some(name) = names.get(&s.group_id) else {
            continue;
        };
        out.by_license
            .entry((s.user_id, s.sku_id))
            .or_default()
            .push(NamedSource {
                group_name: name.clone(),
                source: s,
            });
    }
    for list in out.by_license.values_mut() {
        list.sort_by(|a, b| {
            a.group_name
                .to_lowercase()
                .cmp(&b.group_name.to_lowercase())
                .then(a.source.group_id.cmp(&b.source.group_id))
        });
    }
    Ok(out)
}

struct Budget {
    available: HashMap<SkuId, i64>,
}

impl SeatBudget for Budget {
    fn try_take(&mut self, skus: &[SkuId]) -> bool {
        if skus
            .iter()
            .any(|s| self.available.get(s).copied().unwrap_or(0) < 1)
        {
            return false;
        }
        for s in skus {
            if let Some(n) = self.available.get_mut(s) {
                *n -= 1;
            }
        }
        true
    }
}

/// The plans the user holds off in a license, given the direct plans (if direct) and each
/// active group source's: see [`sources::disabled_by_every_source`].
pub(crate) fn effective_plans(
    direct: Option<&[seatkeeper_domain::PlanId]>,
    groups: &[Vec<seatkeeper_domain::PlanId>],
) -> Vec<seatkeeper_domain::PlanId> {
    sources::disabled_by_every_source(direct, groups)
}

/// L5 for groups: only a Global admin licenses guests, so only a Global admin may add guests
/// to a group that gives licenses. `guests`: the user principal names of the guests joining.
/// Errors: 403 naming them and the group.
pub(crate) async fn check_guests_joining(
    tx: &mut Conn,
    actor: &Actor,
    g: &Group,
    guests: &[String],
) -> AppResult<()> {
    if guests.is_empty()
        || actor.can(Action::LicenseGuests)
        || gl::of_group(tx, g.id).await?.is_empty()
    {
        return Ok(());
    }
    let shown: Vec<&str> = guests.iter().take(3).map(String::as_str).collect();
    let who = if guests.len() == 1 {
        format!("{} is a guest", guests[0])
    } else {
        format!(
            "{} of the users are guests ({}{})",
            guests.len(),
            shown.join(", "),
            if guests.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        )
    };
    Err(AppError::Forbidden(format!(
        "{who} and the group {} gives licenses: only a Global admin can license guest users, so only a Global admin can add guests to it.",
        g.display_name
    )))
}

impl App {
    /// Recomputes the licenses of `users` from their sources and writes the difference, in
    /// the caller's transaction (L6). Users are served in the order given when seats are
    /// short (jobs pass members in join order). Users that no longer exist are skipped.
    pub(crate) async fn reconcile_users(
        &self,
        tx: &mut Conn,
        tenant: TenantId,
        users: &[UserId],
        now: Time,
    ) -> AppResult<Reconciled> {
        Ok(self
            .reconcile_users_if_seats(tx, tenant, users, now, None)
            .await?
            .unwrap_or_default())
    }

    /// [`App::reconcile_users`], but when `needed` is given and, once the pools are locked,
    /// some product these users are given has fewer than `needed` licenses free, nothing is
    /// written and the answer is `None` (seats could run short, so the order users are
    /// served in matters).
    pub(crate) async fn reconcile_users_if_seats(
        &self,
        tx: &mut Conn,
        tenant: TenantId,
        users: &[UserId],
        now: Time,
        needed: Option<i64>,
    ) -> AppResult<Option<Reconciled>> {
        let mut out = Reconciled::default();
        if users.is_empty() {
            return Ok(Some(out));
        }
        let catalog = self.catalog();
        let found: HashMap<UserId, User> = dir::users_by_ids_locked(tx, tenant, users)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let mut held: HashMap<UserId, Vec<Assignment>> = HashMap::new();
        for a in assignments::of_users(tx, tenant, users).await? {
            held.entry(a.user_id).or_default().push(a);
        }
        let mut grants: HashMap<UserId, BTreeMap<GroupId, GroupSource>> = HashMap::new();
        let mut skus: BTreeSet<SkuId> = BTreeSet::new();
        for g in gl::grants_of_users(tx, users).await? {
            skus.insert(g.sku_id);
            grants
                .entry(g.user_id)
                .or_default()
                .entry(g.group_id)
                .or_insert_with(|| GroupSource {
                    group_id: g.group_id,
                    joined_at: g.joined_at,
                    licenses: Vec::new(),
                    was_active: false,
                })
                .licenses
                .push(License {
                    sku_id: g.sku_id,
                    disabled_plans: g.disabled_plans,
                });
        }
        let mut existing: HashMap<UserId, Vec<Source>> = HashMap::new();
        for s in gl::sources_of_users(tx, users).await? {
            existing.entry(s.user_id).or_default().push(s);
        }
        // Seats: the central pools of the products groups give, locked in id order.
        let mut pools: BTreeMap<SkuId, PoolId> = BTreeMap::new();
        for sku in &skus {
            if let Some(p) = subscriptions::central_pool(tx, tenant, *sku).await? {
                pools.insert(*sku, p.id);
            }
        }
        let mut budget = Budget {
            available: HashMap::new(),
        };
        let mut by_pool: Vec<(PoolId, SkuId)> = pools.iter().map(|(s, p)| (*p, *s)).collect();
        by_pool.sort();
        for (pool, sku) in &by_pool {
            if let Some(p) = subscriptions::lock_pool(tx, *pool).await? {
                budget.available.insert(*sku, (p.total - p.assigned).max(0));
            }
        }
        if let Some(n) = needed
            && budget.available.values().any(|free| *free < n)
        {
            return Ok(None);
        }
        let default_location = if found.values().any(|u| u.usage_location.is_none()) {
            tenants::get(tx, tenant)
                .await?
                .and_then(|t| t.default_usage_location)
        } else {
            None
        };

        let mut inserts: Vec<Assignment> = Vec::new();
        let mut deletes: Vec<AssignmentId> = Vec::new();
        let mut rewrite_users: Vec<UserId> = Vec::new();
        let mut new_sources: Vec<Source> = Vec::new();
        let mut seen: BTreeSet<UserId> = BTreeSet::new();
        for uid in users {
            if !seen.insert(*uid) {
                continue;
            }
            let Some(user) = found.get(uid) else {
                continue;
            };
            out.processed += 1;
            let rows = held.remove(uid).unwrap_or_default();
            let before_sources = existing.remove(uid).unwrap_or_default();
            let mut groups: Vec<GroupSource> = grants
                .remove(uid)
                .map(|m| m.into_values().collect())
                .unwrap_or_default();
            for g in &mut groups {
                let mine: Vec<&Source> = before_sources
                    .iter()
                    .filter(|s| s.group_id == g.group_id)
                    .collect();
                g.was_active = !mine.is_empty() && mine.iter().all(|s| s.state == "Active");
            }
            let input = UserSources {
                user_id: *uid,
                direct: rows
                    .iter()
                    .filter(|a| a.direct)
                    .map(|a| License {
                        sku_id: a.sku_id,
                        disabled_plans: a.direct_disabled_plans.clone(),
                    })
                    .collect(),
                groups: groups.clone(),
                held: rows.iter().map(|a| a.sku_id).collect(),
                has_usage_location: user.usage_location.is_some() || default_location.is_some(),
            };
            let resolution = sources::resolve(&catalog, &input, &mut budget);

            // Licenses: keep, change, add, remove.
            let mut gained = false;
            for a in &rows {
                match resolution.effective.iter().find(|l| l.sku_id == a.sku_id) {
                    Some(l) if l.disabled_plans != a.disabled_plans => {
                        let direct = a.direct.then_some(a.direct_disabled_plans.as_slice());
                        assignments::set_sources(tx, a.id, &l.disabled_plans, direct, now).await?;
                        out.changed += 1;
                    }
                    Some(_) => {}
                    None => deletes.push(a.id),
                }
            }
            for l in &resolution.effective {
                if rows.iter().any(|a| a.sku_id == l.sku_id) {
                    continue;
                }
                let Some(pool) = pools.get(&l.sku_id) else {
                    continue;
                };
                gained = true;
                inserts.push(Assignment {
                    // Time-ordered, so that the id index takes a step's rows at its end.
                    id: AssignmentId::from(uuid::Uuid::now_v7()),
                    tenant_id: tenant,
                    user_id: *uid,
                    sku_id: l.sku_id,
                    pool_id: *pool,
                    disabled_plans: l.disabled_plans.clone(),
                    direct: false,
                    direct_disabled_plans: Vec::new(),
                    assigned_at: now,
                    updated_at: now,
                });
            }
            if gained
                && user.usage_location.is_none()
                && let Some(loc) = &default_location
            {
                let mut u = user.clone();
                u.usage_location = Some(loc.clone());
                dir::update_user(tx, &u).await?;
            }

            // Sources: one row per group and product, Active or Error.
            let mut wanted: Vec<Source> = Vec::new();
            let mut in_error = false;
            for o in &resolution.groups {
                let Some(g) = groups.iter().find(|g| g.group_id == o.group_id) else {
                    continue;
                };
                if o.result.is_err() {
                    in_error = true;
                    *out.in_error.entry(o.group_id).or_default() += 1;
                }
                for l in &g.licenses {
                    let (state, error) = match o.result {
                        Ok(()) => ("Active".to_string(), None),
                        Err(e) => ("Error".to_string(), Some(e.as_str().to_string())),
                    };
                    let mut disabled = l.disabled_plans.clone();
                    disabled.sort();
                    let prior = before_sources
                        .iter()
                        .find(|s| s.group_id == g.group_id && s.sku_id == l.sku_id);
                    let updated_at = match prior {
                        Some(p)
                            if p.state == state
                                && p.error == error
                                && p.error_detail == o.detail
                                && p.disabled_plans == disabled =>
                        {
                            p.updated_at
                        }
                        _ => now,
                    };
                    wanted.push(Source {
                        user_id: *uid,
                        group_id: g.group_id,
                        sku_id: l.sku_id,
                        state,
                        error,
                        error_detail: o.detail.clone(),
                        disabled_plans: disabled,
                        updated_at,
                    });
                }
            }
            if in_error {
                out.errors += 1;
            }
            let mut a = wanted.clone();
            let mut b = before_sources.clone();
            a.sort_by_key(|s| (s.group_id, s.sku_id));
            b.sort_by_key(|s| (s.group_id, s.sku_id));
            if a != b {
                rewrite_users.push(*uid);
                new_sources.extend(wanted);
            }
        }

        // Writes: seats first freed, then taken, each pool once.
        let mut seat_delta: BTreeMap<PoolId, i64> = BTreeMap::new();
        if !deletes.is_empty() {
            for a in assignments::delete_many(tx, &deletes).await? {
                *seat_delta.entry(a.pool_id).or_default() -= 1;
                out.removed += 1;
            }
        }
        if !inserts.is_empty() {
            assignments::insert_many(tx, &inserts).await?;
            for a in &inserts {
                *seat_delta.entry(a.pool_id).or_default() += 1;
            }
            out.assigned += inserts.len() as i64;
        }
        for (pool, n) in &seat_delta {
            if *n > 0 {
                if !subscriptions::take_seats(tx, *pool, *n).await? {
                    return Err(AppError::conflict(
                        "seatsChanged",
                        "The licenses available changed while members were processed: try again.",
                    ));
                }
            } else if *n < 0 {
                subscriptions::release_seats(tx, *pool, -n).await?;
            }
        }
        if !rewrite_users.is_empty() {
            gl::delete_sources_of_users(tx, &rewrite_users).await?;
            gl::insert_sources(tx, tenant, &new_sources).await?;
        }
        Ok(Some(out))
    }

    /// L6: assigns products to a group and removes others, as Graph's
    /// `POST /groups/{id}/assignLicense`: the group's products change at once and its members
    /// are processed by a background job (the answer is Graph's 202 with the group). A product
    /// already on the group only changes its disabled plans. Errors: an unknown product or
    /// plan, a product named twice, one to remove that the group does not have
    /// (`licenseNotHeld`), a product the organization does not own.
    pub async fn assign_group_license(
        &self,
        actor: &Actor,
        group: &str,
        add: Vec<LicenseSpec>,
        remove: Vec<SkuId>,
    ) -> AppResult<(Group, Job)> {
        actor.require(Action::AssignLicenses)?;
        let catalog = self.catalog();
        // Each plan once, in order; a license no member could use is refused here, as Graph
        // refuses it, rather than put every member in error.
        let add = check_licenses(&catalog, &add)?;
        let added: Vec<License> = add.iter().map(License::from).collect();
        for l in &added {
            seatkeeper_domain::plans::check_license_alone(&catalog, l)?;
        }
        for (i, s) in remove.iter().enumerate() {
            if remove[..i].contains(s) || add.iter().any(|a| a.sku_id == *s) {
                return Err(DomainError::ContradictoryChange {
                    product: catalog.part_number(*s),
                    problem: if remove[..i].contains(s) {
                        "is named twice in the licenses to remove".into()
                    } else {
                        "is both added and removed".into()
                    },
                }
                .into());
            }
        }
        if add.is_empty() && remove.is_empty() {
            return Err(AppError::invalid(
                "noChange",
                "Name at least one product in addLicenses or removeLicenses.",
            ));
        }
        let now = self.now();
        let (add, remove, added) = (&add, &remove, &added);
        let out = self
            .transact(move |tx| {
                Box::pin(async move {
                    let g = find_group(tx, actor.tenant_id, group).await?;
                    let catalog = self.catalog();
                    let current = gl::of_group(tx, g.id).await?;
                    for s in remove {
                        if !current.iter().any(|c| c.sku_id == *s) {
                            return Err(AppError::invalid(
                                "licenseNotHeld",
                                format!(
                                    "The group {} does not have {}: there is nothing to remove.",
                                    g.display_name,
                                    catalog.part_number(*s)
                                ),
                            ));
                        }
                    }
                    // L5: only a Global admin licenses guests, through a group too.
                    if !add.is_empty() && !actor.can(Action::LicenseGuests) {
                        let (guests, n) = gl::guest_members(tx, g.id, 3).await?;
                        if n > 0 {
                            return Err(AppError::Forbidden(format!(
                                "The group {} has {n} guest member{} ({}{}): only a Global admin can license guest users. Remove them from the group, or ask a Global admin to assign its licenses.",
                                g.display_name,
                                if n == 1 { "" } else { "s" },
                                guests.join(", "),
                                if n > guests.len() as i64 { ", …" } else { "" }
                            )));
                        }
                    }
                    for l in add {
                        if subscriptions::central_pool(tx, actor.tenant_id, l.sku_id)
                            .await?
                            .is_none()
                        {
                            return Err(DomainError::NotACompanyLicense { sku_id: l.sku_id }.into());
                        }
                    }
                    if !add.is_empty() {
                        // What the group will give: its products kept, changed and added.
                        let mut set: Vec<License> = current
                            .iter()
                            .filter(|c| !remove.contains(&c.sku_id) && !add.iter().any(|a| a.sku_id == c.sku_id))
                            .map(|c| License { sku_id: c.sku_id, disabled_plans: c.disabled_plans.clone() })
                            .collect();
                        set.extend(added.iter().cloned());
                        seatkeeper_domain::plans::check_set_alone(&catalog, &set)?;
                    }
                    for l in add {
                        gl::upsert(tx, actor.tenant_id, g.id, l.sku_id, &l.disabled_plans, now)
                            .await?;
                    }
                    for s in remove {
                        gl::remove(tx, g.id, *s).await?;
                    }
                    let after = gl::of_group(tx, g.id).await?;
                    let lic = |list: &[GroupLicense]| {
                        json!(list.iter().map(|l| json!({"sku": catalog.part_number(l.sku_id), "skuId": l.sku_id, "disabledPlans": l.disabled_plans.iter().map(|p| catalog.plan_name(*p)).collect::<Vec<_>>()})).collect::<Vec<_>>())
                    };
                    let mut parts = Vec::new();
                    if !add.is_empty() {
                        parts.push(format!(
                            "assigned {}",
                            add.iter()
                                .map(|l| catalog.part_number(l.sku_id))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    if !remove.is_empty() {
                        parts.push(format!(
                            "removed {}",
                            remove
                                .iter()
                                .map(|s| catalog.part_number(*s))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    audit::record(
                        tx,
                        actor,
                        now,
                        AuditAction::GroupLicense,
                        "group",
                        g.id,
                        format!("Group {}: {}", g.display_name, parts.join("; ")),
                        Some(lic(&current)),
                        Some(lic(&after)),
                    )
                    .await?;
                    let job = self.queue_group_job(tx, actor, &g, now).await?;
                    Ok((g, job))
                })
            })
            .await?;
        self.license_jobs_wake.notify_one();
        Ok(out)
    }

    /// Queues a job that processes every member of `group` (and anyone it still is a source
    /// for), in the caller's transaction.
    async fn queue_group_job(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        group: &Group,
        now: Time,
    ) -> AppResult<Job> {
        let total = gl::count_members(tx, group.id).await?;
        let job = Job {
            id: uuid::Uuid::new_v4(),
            tenant_id: actor.tenant_id,
            kind: "groupLicenses".into(),
            group_id: Some(group.id),
            actor_id: actor.user_id,
            actor: actor.name.clone(),
            state: "Queued".into(),
            total,
            processed: 0,
            errors: 0,
            cursor: None,
            payload: None,
            message: None,
            created_at: now,
            started_at: None,
            finished_at: None,
        };
        gl::insert_job(tx, &job).await?;
        Ok(job)
    }

    /// L6 reprocess for a group: its members are processed again (after licenses were bought
    /// or plans fixed), by a job. Returns the job.
    pub async fn reprocess_group(&self, actor: &Actor, group: &str) -> AppResult<(Group, Job)> {
        actor.require(Action::AssignLicenses)?;
        let now = self.now();
        let out = self
            .transact(move |tx| {
                Box::pin(async move {
                    let g = find_group(tx, actor.tenant_id, group).await?;
                    audit::record(
                        tx,
                        actor,
                        now,
                        AuditAction::LicenseReprocess,
                        "group",
                        g.id,
                        format!(
                            "Group {}: members' licenses processed again",
                            g.display_name
                        ),
                        None,
                        None,
                    )
                    .await?;
                    let job = self.queue_group_job(tx, actor, &g, now).await?;
                    Ok((g, job))
                })
            })
            .await?;
        self.license_jobs_wake.notify_one();
        Ok(out)
    }

    /// L6 reprocess for one user (Graph's `reprocessLicenseAssignment`): their group licenses
    /// are recomputed now, in one transaction. Returns the user.
    pub async fn reprocess_user(&self, actor: &Actor, user: &str) -> AppResult<(User, Reconciled)> {
        actor.require(Action::AssignLicenses)?;
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let u = crate::directory::find_user(tx, actor.tenant_id, user).await?;
                let r = self.reconcile_users(tx, actor.tenant_id, &[u.id], now).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::LicenseReprocess,
                    "user",
                    u.id,
                    format!(
                        "{}: licenses processed again ({} given, {} removed, {} changed, {} in error)",
                        u.upn, r.assigned, r.removed, r.changed, r.errors
                    ),
                    None,
                    None,
                )
                .await?;
                let u = dir::get_user(tx, actor.tenant_id, u.id).await?.unwrap_or(u);
                Ok((u, r))
            })
        })
        .await
    }

    /// A group's products, processing state and error count (Graph's group properties).
    pub async fn group_licensing(
        &self,
        actor: &Actor,
        group: GroupId,
    ) -> AppResult<GroupLicensing> {
        let mut conn = self.read().await?;
        let mut all = self.groups_licensing(&mut conn, actor, &[group]).await?;
        Ok(all.remove(&group).unwrap_or(GroupLicensing {
            licenses: Vec::new(),
            state: ProcessingState::ProcessingComplete,
            members_with_errors: 0,
            job: None,
        }))
    }

    /// [`App::group_licensing`] for a page of groups, in one read.
    pub async fn licensing_of_groups(
        &self,
        actor: &Actor,
        groups: &[GroupId],
    ) -> AppResult<HashMap<GroupId, GroupLicensing>> {
        let mut conn = self.read().await?;
        self.groups_licensing(&mut conn, actor, groups).await
    }

    /// [`App::group_licensing`] for a page of groups.
    async fn groups_licensing(
        &self,
        conn: &mut Conn,
        actor: &Actor,
        groups: &[GroupId],
    ) -> AppResult<HashMap<GroupId, GroupLicensing>> {
        actor.require(Action::Read)?;
        let mut out: HashMap<GroupId, GroupLicensing> = groups
            .iter()
            .map(|g| {
                (
                    *g,
                    GroupLicensing {
                        licenses: Vec::new(),
                        state: ProcessingState::ProcessingComplete,
                        members_with_errors: 0,
                        job: None,
                    },
                )
            })
            .collect();
        for l in gl::of_groups(conn, groups).await? {
            if let Some(g) = out.get_mut(&l.group_id) {
                g.licenses.push(l);
            }
        }
        for j in gl::latest_of_groups(conn, groups).await? {
            if let Some(g) = j.group_id.and_then(|id| out.get_mut(&id)) {
                g.state = match j.state.as_str() {
                    "Queued" => ProcessingState::QueuedForProcessing,
                    "Running" => ProcessingState::ProcessingInProgress,
                    _ => ProcessingState::ProcessingComplete,
                };
                g.job = Some(j);
            }
        }
        for (g, n) in gl::error_counts_of_groups(conn, groups).await? {
            if let Some(x) = out.get_mut(&g) {
                x.members_with_errors = n;
            }
        }
        Ok(out)
    }

    /// Groups of the tenant with members whose group licenses are in error, with how many
    /// (the tenant's Errors & issues list, Graph's `hasMembersWithLicenseErrors eq true`).
    pub async fn groups_with_license_errors(
        &self,
        actor: &Actor,
    ) -> AppResult<Vec<(GroupId, i64)>> {
        actor.require(Action::Read)?;
        let mut conn = self.read().await?;
        Ok(gl::groups_with_errors(&mut conn, actor.tenant_id).await?)
    }

    /// A page of the groups a Graph `$filter` selects (members in error, or giving any of some
    /// products), in id order after `after`, up to `limit`, and how many there are in all.
    pub async fn groups_where_page(
        &self,
        actor: &Actor,
        which: &gl::GroupsWhere,
        after: Option<GroupId>,
        limit: i64,
    ) -> AppResult<(Vec<Group>, i64)> {
        actor.require(Action::Read)?;
        let mut conn = self.read().await?;
        Ok(gl::groups_where_page(&mut conn, actor.tenant_id, which, after, limit).await?)
    }

    /// Members of a group whose licenses from it are in error, a page at a time in id order
    /// after `after`, each with the product and the reason. `limit` is taken up to 1,000 (a
    /// page of the most a client may ask, 999, and one more to tell whether another follows).
    pub async fn members_with_license_errors(
        &self,
        actor: &Actor,
        group: &str,
        after: Option<UserId>,
        limit: i64,
    ) -> AppResult<(Group, Vec<MemberError>)> {
        actor.require(Action::Read)?;
        let mut conn = self.read().await?;
        let g = find_group(&mut conn, actor.tenant_id, group).await?;
        let ids = gl::members_with_errors(&mut conn, g.id, after, limit.clamp(1, 1000)).await?;
        let users: HashMap<UserId, User> = dir::users_by_ids(&mut conn, actor.tenant_id, &ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        let mut out = Vec::new();
        for s in gl::sources_of_users(&mut conn, &ids).await? {
            if s.group_id != g.id || s.state != "Error" {
                continue;
            }
            let Some(u) = users.get(&s.user_id) else {
                continue;
            };
            out.push(MemberError {
                user: u.clone(),
                sku_id: s.sku_id,
                error: s
                    .error
                    .as_deref()
                    .and_then(SourceError::parse)
                    .unwrap_or(SourceError::Other),
                detail: s.error_detail.clone(),
                updated_at: s.updated_at,
            });
        }
        out.sort_by(|a, b| a.user.id.cmp(&b.user.id).then(a.sku_id.cmp(&b.sku_id)));
        Ok((g, out))
    }

    /// The group sources of users' licenses (Graph's `licenseAssignmentStates`).
    pub async fn license_sources(&self, users: &[UserId]) -> AppResult<Vec<Source>> {
        let mut conn = self.read().await?;
        Ok(gl::sources_of_users(&mut conn, users).await?)
    }

    /// The sources of users' licenses with their groups' names, for the views that list them
    /// (a page of users in two reads, not one per user). The caller has checked that the actor
    /// may see these users' licenses; groups of other tenants are never named.
    pub async fn named_license_sources(
        &self,
        actor: &Actor,
        users: &[UserId],
    ) -> AppResult<NamedSources> {
        let mut conn = self.read().await?;
        named_sources(&mut conn, actor.tenant_id, users).await
    }

    /// A tenant's license jobs, newest first, optionally of one group; `after` pages past a job
    /// (its id, from the previous page); `limit` up to 201 (a page of 200 and one more to tell
    /// whether another follows). Errors: `after` not a job of the organization (400).
    pub async fn license_jobs(
        &self,
        actor: &Actor,
        group: Option<GroupId>,
        after: Option<uuid::Uuid>,
        limit: i64,
    ) -> AppResult<Vec<Job>> {
        actor.require(Action::Read)?;
        let mut conn = self.read().await?;
        let before = match after {
            None => None,
            Some(id) => {
                let j = gl::get_job(&mut conn, actor.tenant_id, id)
                    .await?
                    .ok_or_else(|| {
                        AppError::invalid(
                            "invalidParameter",
                            format!("after is {id}, not a job of this organization: use the nextLink of the previous page."),
                        )
                    })?;
                Some((j.created_at, id))
            }
        };
        Ok(gl::list_jobs(
            &mut conn,
            actor.tenant_id,
            group,
            before,
            limit.clamp(1, 201),
        )
        .await?)
    }

    /// One license job.
    pub async fn license_job(&self, actor: &Actor, id: &str) -> AppResult<Job> {
        actor.require(Action::Read)?;
        let Ok(uid) = uuid::Uuid::parse_str(id.trim()) else {
            return Err(AppError::not_found(format!(
                "No job has the id {id}: see GET /api/v1/jobs."
            )));
        };
        let mut conn = self.read().await?;
        gl::get_job(&mut conn, actor.tenant_id, uid)
            .await?
            .ok_or_else(|| {
                AppError::not_found(format!("No job has the id {id}: see GET /api/v1/jobs."))
            })
    }

    /// Runs license jobs until none is left to claim; returns how many steps ran. Several
    /// servers may run this at once: a job is claimed by one of them at a time, and its steps
    /// are guarded by the claim.
    pub async fn run_license_jobs(&self) -> AppResult<u64> {
        self.run_license_jobs_until(None).await
    }

    /// [`App::run_license_jobs`], giving the job back between steps once `stop` is set.
    async fn run_license_jobs_until(
        &self,
        stop: Option<&tokio::sync::watch::Receiver<bool>>,
    ) -> AppResult<u64> {
        let token = uuid::Uuid::new_v4().to_string();
        let mut steps = 0;
        loop {
            let wall = self.now().timestamp_micros();
            let now = self.now();
            let claimed = {
                let token = token.clone();
                self.transact(move |tx| {
                    let token = token.clone();
                    Box::pin(async move {
                        Ok(
                            gl::claim_next(tx, wall, wall + LEASE_SECS * 1_000_000, &token, now)
                                .await?,
                        )
                    })
                })
                .await?
            };
            let Some(job) = claimed else {
                return Ok(steps);
            };
            loop {
                if stop.is_some_and(|s| *s.borrow()) {
                    let (id, token) = (job.id, token.clone());
                    self.transact(move |tx| {
                        let token = token.clone();
                        Box::pin(async move { Ok(gl::release(tx, id, &token).await?) })
                    })
                    .await?;
                    return Ok(steps);
                }
                steps += 1;
                match self.job_step(&job.id, &token).await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(e) if job.kind == crate::import::IMPORT_JOB_KIND && e.is_refusal() => {
                        // A row that cannot be written stops the import there, saying why.
                        self.fail_import_job(job.id, &token, &e).await?;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!("license job {} step failed: {e}", job.id);
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                        break;
                    }
                }
            }
        }
    }

    /// One step of a claimed job, in one transaction: the next chunk of members processed,
    /// the cursor and counts advanced, an audit entry. Returns whether more remains (false
    /// when the job finished or the claim was lost).
    async fn job_step(&self, id: &uuid::Uuid, token: &str) -> AppResult<bool> {
        let now = self.now();
        let id = *id;
        self.transact(move |tx| {
            Box::pin(async move {
                let wall = self.now().timestamp_micros();
                let row = gl::job_by_id(tx, id).await?;
                let Some(job) = row else { return Ok(false) };
                if job.kind == crate::import::IMPORT_JOB_KIND {
                    let actor = Actor {
                        tenant_id: job.tenant_id,
                        user_id: job.actor_id,
                        name: job.actor.clone(),
                        roles: vec![seatkeeper_domain::roles::Role::GlobalAdmin],
                        partner: None,
                    };
                    let lease = wall + LEASE_SECS * 1_000_000;
                    return self.import_step(tx, &job, &actor, token, now, lease).await;
                }
                let Some(group_id) = job.group_id else {
                    gl::finish(tx, id, token, "Failed", Some("The job names no group."), now).await?;
                    return Ok(false);
                };
                let actor = Actor {
                    tenant_id: job.tenant_id,
                    user_id: job.actor_id,
                    name: job.actor.clone(),
                    roles: vec![seatkeeper_domain::roles::Role::GlobalAdmin],
                    partner: None,
                };
                let group = dir::get_group(tx, job.tenant_id, group_id).await?;
                let name = group
                    .as_ref()
                    .map(|g| g.display_name.clone())
                    .unwrap_or_else(|| group_id.to_string());
                if job.kind == "groupMembers" {
                    return self.members_step(tx, &job, &actor, group_id, &name, token, now, wall).await;
                }
                // Members are taken in user-id order while every product they are given has a
                // license free for each member still to process (nobody can then be refused
                // for want of seats, so the order cannot matter), and each step writes one
                // stretch of the user-keyed indexes. Otherwise in join order, from the first:
                // the earliest joined are served first. The payload keeps the order chosen.
                let by_id = match job.payload.as_deref() {
                    Some(ORDER_BY_ID) => true,
                    Some(_) => false,
                    None => job.cursor.is_none() && job.processed == 0,
                };
                let (mut base, mut errors_before) = (job.processed, job.errors);
                let mut step: Option<JobStep> = None;
                let mut done = false;
                if by_id {
                    let after = job.cursor.map(|c| c.1);
                    let ids = gl::members_in_id_order(tx, group_id, after, JOB_CHUNK).await?;
                    if ids.is_empty() {
                        done = true;
                    } else {
                        let remaining = match after {
                            None => gl::count_members(tx, group_id).await?,
                            Some(u) => gl::count_members_after(tx, group_id, u).await?,
                        };
                        match self
                            .reconcile_users_if_seats(tx, job.tenant_id, &ids, now, Some(remaining))
                            .await?
                        {
                            Some(r) => {
                                if job.payload.as_deref() != Some(ORDER_BY_ID)
                                    && !gl::set_payload(tx, id, token, ORDER_BY_ID).await?
                                {
                                    return Err(AppError::conflict("jobClaimLost", "Another server took this job over."));
                                }
                                let last = ids.last().map(|u| (chrono::DateTime::UNIX_EPOCH, *u));
                                step = Some((ids, last, r));
                            }
                            None => {
                                if !gl::set_payload(tx, id, token, ORDER_JOINED).await? {
                                    return Err(AppError::conflict("jobClaimLost", "Another server took this job over."));
                                }
                                (base, errors_before) = (0, 0);
                            }
                        }
                    }
                }
                if step.is_none() && !done {
                    let cursor = if by_id { None } else { job.cursor };
                    let members = gl::members_in_join_order(tx, group_id, cursor, JOB_CHUNK).await?;
                    if !members.is_empty() {
                        let ids: Vec<UserId> = members.iter().map(|m| m.0).collect();
                        let r = self.reconcile_users(tx, job.tenant_id, &ids, now).await?;
                        let last = members.last().map(|m| (m.1, m.0));
                        step = Some((ids, last, r));
                    }
                }
                let Some((members, last, r)) = step else {
                    // Former members the group is still a source for (they left mid-way).
                    let former = gl::former_members_with_sources(tx, group_id, JOB_CHUNK).await?;
                    let r = self.reconcile_users(tx, job.tenant_id, &former, now).await?;
                    let summary = format!(
                        "Group {name}: processing complete, {} of {} members processed, {} with errors",
                        job.processed, job.total.max(job.processed), job.errors
                    );
                    if r.processed > 0 {
                        tracing::debug!("{} former members of {name} processed", r.processed);
                    }
                    if !gl::finish(tx, id, token, "Completed", None, now).await? {
                        return Ok(false);
                    }
                    audit::record(tx, &actor, now, AuditAction::LicenseJobStep, "group", group_id, summary, None, Some(json!({"job": id, "processed": job.processed, "errors": job.errors}))).await?;
                    return Ok(false);
                };
                let processed = base + members.len() as i64;
                let step_errors = r.errors_in(group_id);
                let errors = errors_before + step_errors;
                let total = job.total.max(processed);
                if !gl::advance(tx, id, token, wall + LEASE_SECS * 1_000_000, last, processed, errors, total).await? {
                    return Err(AppError::conflict("jobClaimLost", "Another server took this job over."));
                }
                audit::record(
                    tx,
                    &actor,
                    now,
                    AuditAction::LicenseJobStep,
                    "group",
                    group_id,
                    format!(
                        "Group {name}: members {}–{} of {total} processed: {} licenses given, {} removed, {} changed, {} members with errors",
                        base + 1,
                        processed,
                        r.assigned,
                        r.removed,
                        r.changed,
                        step_errors
                    ),
                    None,
                    Some(json!({"job": id, "processed": processed, "errors": errors})),
                )
                .await?;
                Ok(true)
            })
        })
        .await
    }

    /// One step of a `groupMembers` job: the next chunk of the payload's users join the group
    /// and get its products. Returns whether more remains.
    #[allow(clippy::too_many_arguments)]
    async fn members_step(
        &self,
        tx: &mut Conn,
        job: &Job,
        actor: &Actor,
        group_id: GroupId,
        name: &str,
        token: &str,
        now: Time,
        wall: i64,
    ) -> AppResult<bool> {
        let mut ids: Vec<UserId> = job
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<Vec<UserId>>(p).ok())
            .unwrap_or_default();
        if job.processed == 0
            && ids.len() > JOB_CHUNK as usize
            && !ids.is_sorted()
            && self
                .seats_for_all(tx, job.tenant_id, group_id, ids.len() as i64)
                .await?
        {
            // Every joiner can have the group's products: they join in user-id order, so that
            // each step writes one stretch of the user-keyed indexes (those who join in a
            // later step still joined later). The sorted list is kept for a resumed job.
            ids.sort();
            let payload = serde_json::to_string(&ids).map_err(anyhow::Error::from)?;
            if !gl::set_payload(tx, job.id, token, &payload).await? {
                return Err(AppError::conflict(
                    "jobClaimLost",
                    "Another server took this job over.",
                ));
            }
        }
        let from = (job.processed.max(0) as usize).min(ids.len());
        let to = (from + JOB_CHUNK as usize).min(ids.len());
        if from == to {
            if !gl::finish(tx, job.id, token, "Completed", None, now).await? {
                return Ok(false);
            }
            audit::record(
                tx,
                actor,
                now,
                AuditAction::LicenseJobStep,
                "group",
                group_id,
                format!(
                    "Group {name}: adding members complete, {} added and processed, {} with license errors",
                    job.processed, job.errors
                ),
                None,
                Some(json!({"job": job.id, "processed": job.processed, "errors": job.errors})),
            )
            .await?;
            return Ok(false);
        }
        // Users deleted since the job was queued are skipped.
        let chunk: std::collections::HashSet<UserId> =
            dir::users_by_ids(tx, job.tenant_id, &ids[from..to])
                .await?
                .into_iter()
                .map(|u| u.id)
                .collect();
        let mut ordered: Vec<UserId> = ids[from..to].to_vec();
        ordered.retain(|u| chunk.contains(u));
        let added = dir::add_members(tx, job.tenant_id, group_id, &ordered, now).await?;
        let r = self
            .reconcile_users(tx, job.tenant_id, &ordered, now)
            .await?;
        let processed = to as i64;
        let errors = job.errors + r.errors_in(group_id);
        if !gl::advance(
            tx,
            job.id,
            token,
            wall + LEASE_SECS * 1_000_000,
            None,
            processed,
            errors,
            ids.len() as i64,
        )
        .await?
        {
            return Err(AppError::conflict(
                "jobClaimLost",
                "Another server took this job over.",
            ));
        }
        audit::record(
            tx,
            actor,
            now,
            AuditAction::GroupMemberAdd,
            "group",
            group_id,
            format!(
                "Group {name}: members {}–{processed} of {} added ({added} new): {} licenses given, {} members with license errors",
                from + 1,
                ids.len(),
                r.assigned,
                r.errors_in(group_id)
            ),
            None,
            Some(json!({"job": job.id, "processed": processed, "errors": errors})),
        )
        .await?;
        Ok(true)
    }

    /// Whether every product group `group` gives has at least `needed` licenses free in its
    /// central pool (a product without one cannot be given at all, so no order matters).
    async fn seats_for_all(
        &self,
        tx: &mut Conn,
        tenant: TenantId,
        group: GroupId,
        needed: i64,
    ) -> AppResult<bool> {
        for l in gl::of_group(tx, group).await? {
            if let Some(p) = subscriptions::central_pool(tx, tenant, l.sku_id).await?
                && p.total - p.assigned < needed
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// L6 bulk membership: adds many users to a group at once (ids or user principal names,
    /// up to [`MAX_BULK_MEMBERS`]), every name checked before anything changes; a job adds
    /// them a chunk per transaction and gives each the group's products, with progress.
    /// Errors: no names, too many, names that are not users of the organization (the first
    /// few listed, with how many).
    pub async fn add_group_members(
        &self,
        actor: &Actor,
        group: &str,
        names: &[String],
    ) -> AppResult<(Group, Job)> {
        actor.require(Action::ManageDirectory)?;
        let names: Vec<&str> = names
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty() {
            return Err(AppError::invalid(
                "noUsers",
                "Name at least one user (id or userPrincipalName).",
            ));
        }
        if names.len() > MAX_BULK_MEMBERS {
            return Err(AppError::invalid(
                "tooManyUsers",
                format!(
                    "{} users named; add at most {MAX_BULK_MEMBERS} at a time.",
                    names.len()
                ),
            ));
        }
        // Every name resolved before anything changes.
        let mut conn = self.read().await?;
        let guids: Vec<UserId> = names.iter().filter_map(|n| UserId::parse(n)).collect();
        let mut by_id: BTreeSet<UserId> = BTreeSet::new();
        for chunk in guids.chunks(1000) {
            for u in dir::users_by_ids(&mut conn, actor.tenant_id, chunk).await? {
                by_id.insert(u.id);
            }
        }
        let upns: Vec<String> = names
            .iter()
            .filter(|n| UserId::parse(n).is_none_or(|id| !by_id.contains(&id)))
            .map(|n| n.to_lowercase())
            .collect();
        let by_upn: HashMap<String, UserId> =
            dir::ids_by_upns(&mut conn, actor.tenant_id, &upns, &mut false)
                .await?
                .into_iter()
                .collect();
        drop(conn);
        let mut ids: Vec<UserId> = Vec::with_capacity(names.len());
        let mut seen: BTreeSet<UserId> = BTreeSet::new();
        let mut unknown: Vec<&str> = Vec::new();
        for n in &names {
            let id = UserId::parse(n)
                .filter(|id| by_id.contains(id))
                .or_else(|| by_upn.get(&n.to_lowercase()).copied());
            match id {
                Some(id) => {
                    if seen.insert(id) {
                        ids.push(id);
                    }
                }
                None => unknown.push(n),
            }
        }
        if !unknown.is_empty() {
            let shown: Vec<&str> = unknown.iter().take(10).copied().collect();
            return Err(AppError::invalid(
                "unknownUsers",
                format!(
                    "{} of {} names {} not {} of this organization{}: {}. Nothing was added.",
                    unknown.len(),
                    names.len(),
                    if unknown.len() == 1 { "is" } else { "are" },
                    if unknown.len() == 1 {
                        "a user"
                    } else {
                        "users"
                    },
                    if unknown.len() > shown.len() {
                        format!(" (the first {})", shown.len())
                    } else {
                        String::new()
                    },
                    shown.join(", ")
                ),
            ));
        }
        let now = self.now();
        let ids = &ids;
        let out = self
            .transact(move |tx| {
                Box::pin(async move {
                    let g = find_group(tx, actor.tenant_id, group).await?;
                    if !actor.can(Action::LicenseGuests)
                        && !gl::of_group(tx, g.id).await?.is_empty()
                    {
                        let mut guests = Vec::new();
                        for chunk in ids.chunks(5000) {
                            guests.extend(
                                dir::users_by_ids(tx, actor.tenant_id, chunk)
                                    .await?
                                    .into_iter()
                                    .filter(|u| u.is_guest())
                                    .map(|u| u.upn),
                            );
                        }
                        check_guests_joining(tx, actor, &g, &guests).await?;
                    }
                    let job = self.queue_group_members(tx, actor, &g, ids, now).await?;
                    Ok((g, job))
                })
            })
            .await?;
        self.license_jobs_wake.notify_one();
        Ok(out)
    }

    /// Queues a job that adds `ids` to group `g` and gives each the group's products (L6), in
    /// the caller's transaction; audited. The caller wakes the job runner after committing
    /// (`license_jobs_wake`).
    pub(crate) async fn queue_group_members(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        g: &Group,
        ids: &[UserId],
        now: Time,
    ) -> AppResult<Job> {
        let job = Job {
            id: uuid::Uuid::new_v4(),
            tenant_id: actor.tenant_id,
            kind: "groupMembers".into(),
            group_id: Some(g.id),
            actor_id: actor.user_id,
            actor: actor.name.clone(),
            state: "Queued".into(),
            total: ids.len() as i64,
            processed: 0,
            errors: 0,
            cursor: None,
            payload: Some(serde_json::to_string(ids).map_err(anyhow::Error::from)?),
            message: None,
            created_at: now,
            started_at: None,
            finished_at: None,
        };
        gl::insert_job(tx, &job).await?;
        audit::record(
            tx,
            actor,
            now,
            AuditAction::GroupMemberAdd,
            "group",
            g.id,
            format!(
                "{} users queued to join group '{}'",
                ids.len(),
                g.display_name
            ),
            None,
            Some(json!({"job": job.id, "users": ids.len()})),
        )
        .await?;
        Ok(job)
    }

    /// Runs license jobs whenever one is queued (woken at once on this server, within a second
    /// for jobs other servers queued), until `stop`.
    pub async fn license_job_loop(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.run_license_jobs_until(Some(&stop)).await {
                tracing::error!("license jobs failed: {e}");
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = self.license_jobs_wake.notified() => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}
