//! Group-based licensing (L6): products assigned to groups, groups as sources of members'
//! licenses, and the background jobs that process them.

use crate::assignments::{decode_plans, encode_plans};
use crate::{Conn, Result, bulk, get_i64, get_id, get_opt, get_opt_id, get_str, get_time, us};
use seatkeeper_domain::{GroupId, PlanId, SkuId, TenantId, Time, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A product assigned to a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLicense {
    pub group_id: GroupId,
    pub sku_id: SkuId,
    /// Plans the group turns off.
    pub disabled_plans: Vec<PlanId>,
    pub assigned_at: Time,
}

fn map_license(r: &AnyRow) -> Result<GroupLicense> {
    Ok(GroupLicense {
        group_id: get_id(r, "group_id")?,
        sku_id: get_id(r, "sku_id")?,
        disabled_plans: decode_plans(&get_str(r, "disabled_plans")?),
        assigned_at: get_time(r, "assigned_at")?,
    })
}

/// The products of a group, in the order they were assigned.
pub async fn of_group(conn: &mut Conn, group: GroupId) -> Result<Vec<GroupLicense>> {
    let rows = sqlx::query(
        "SELECT * FROM group_licenses WHERE group_id = $1 ORDER BY assigned_at, sku_id",
    )
    .bind(group.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(map_license).collect()
}

/// Up to `limit` guest members of a group (their user principal names, in name order), and
/// how many it has in all.
pub async fn guest_members(
    conn: &mut Conn,
    group: GroupId,
    limit: i64,
) -> Result<(Vec<String>, i64)> {
    let rows = sqlx::query(
        "SELECT u.upn FROM group_members m JOIN users u ON u.id = m.user_id
         WHERE m.group_id = $1 AND u.user_type = 'Guest' ORDER BY u.upn_lower LIMIT $2",
    )
    .bind(group.to_string())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let names = rows
        .iter()
        .map(|r| get_str(r, "upn"))
        .collect::<Result<Vec<_>>>()?;
    if (names.len() as i64) < limit {
        let n = names.len() as i64;
        return Ok((names, n));
    }
    let r = sqlx::query(
        "SELECT COUNT(*) AS n FROM group_members m JOIN users u ON u.id = m.user_id
         WHERE m.group_id = $1 AND u.user_type = 'Guest'",
    )
    .bind(group.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok((names, get_i64(&r, "n")?))
}

/// The products of many groups (a page of groups).
pub async fn of_groups(conn: &mut Conn, groups: &[GroupId]) -> Result<Vec<GroupLicense>> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT * FROM group_licenses WHERE group_id IN ({}) ORDER BY assigned_at, sku_id",
        bulk::texts(conn, 1)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(bulk::text_list(groups))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(map_license).collect()
}

/// Adds a product to a group or changes its disabled plans.
pub async fn upsert(
    conn: &mut Conn,
    tenant: TenantId,
    group: GroupId,
    sku: SkuId,
    disabled: &[PlanId],
    at: Time,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO group_licenses (group_id, tenant_id, sku_id, disabled_plans, assigned_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (group_id, sku_id) DO UPDATE SET disabled_plans = excluded.disabled_plans",
    )
    .bind(group.to_string())
    .bind(tenant.to_string())
    .bind(sku.to_string())
    .bind(encode_plans(disabled))
    .bind(us(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes a product from a group; false if the group did not have it.
pub async fn remove(conn: &mut Conn, group: GroupId, sku: SkuId) -> Result<bool> {
    let r = sqlx::query("DELETE FROM group_licenses WHERE group_id = $1 AND sku_id = $2")
        .bind(group.to_string())
        .bind(sku.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// A licensed group one of `users` is a member of, with one of its products.
#[derive(Debug, Clone)]
pub struct MemberGrant {
    pub user_id: UserId,
    pub group_id: GroupId,
    pub joined_at: Time,
    pub sku_id: SkuId,
    pub disabled_plans: Vec<PlanId>,
}

/// Every (licensed group, product) each of `users` gets through membership, in one query.
pub async fn grants_of_users(conn: &mut Conn, users: &[UserId]) -> Result<Vec<MemberGrant>> {
    const COLS: &[&str] = &[
        "user_id",
        "group_id",
        "added_at",
        "sku_id",
        "disabled_plans",
    ];
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let inner = format!(
        "SELECT m.user_id, m.group_id, m.added_at, l.sku_id, l.disabled_plans FROM group_members m
         JOIN group_licenses l ON l.group_id = m.group_id WHERE m.user_id IN ({})",
        bulk::texts(conn, 1)
    );
    let sql = bulk::json_rows(conn, &inner, COLS, "user_id, group_id, sku_id");
    let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(bulk::text_list(users));
    bulk::fetch_rows(conn, q, COLS)
        .await?
        .iter()
        .map(|r| {
            Ok(MemberGrant {
                user_id: get_id(r, "user_id")?,
                group_id: get_id(r, "group_id")?,
                joined_at: get_time(r, "added_at")?,
                sku_id: get_id(r, "sku_id")?,
                disabled_plans: decode_plans(&get_str(r, "disabled_plans")?),
            })
        })
        .collect()
}

/// A group as the source of a member's license (Graph's `licenseAssignmentStates` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub user_id: UserId,
    pub group_id: GroupId,
    pub sku_id: SkuId,
    /// `Active` or `Error`.
    pub state: String,
    /// Graph's error name when `state` is `Error`.
    pub error: Option<String>,
    /// Which plans are at odds, in words, for a plan error (else `None`).
    pub error_detail: Option<String>,
    /// Plans the group turns off.
    pub disabled_plans: Vec<PlanId>,
    pub updated_at: Time,
}

/// The columns of a source that [`map_source`] reads.
pub(crate) const SOURCE_COLS: &[&str] = &[
    "user_id",
    "group_id",
    "sku_id",
    "state",
    "error",
    "error_detail",
    "disabled_plans",
    "updated_at",
];

pub(crate) fn map_source(r: &impl crate::Fields) -> Result<Source> {
    Ok(Source {
        user_id: get_id(r, "user_id")?,
        group_id: get_id(r, "group_id")?,
        sku_id: get_id(r, "sku_id")?,
        state: get_str(r, "state")?,
        error: get_opt(r, "error")?,
        error_detail: get_opt(r, "error_detail")?,
        disabled_plans: decode_plans(&get_str(r, "disabled_plans")?),
        updated_at: get_time(r, "updated_at")?,
    })
}

/// The read of [`sources_of_users`] ([`bulk::json_rows`], columns [`SOURCE_COLS`]): binds the
/// users' ids as a JSON list at `$n`.
pub(crate) fn sources_part(conn: &Conn, n: usize) -> String {
    let inner = format!(
        "SELECT {} FROM license_sources WHERE user_id IN ({})",
        SOURCE_COLS.join(", "),
        bulk::texts(conn, n)
    );
    bulk::json_rows(conn, &inner, SOURCE_COLS, "user_id, sku_id, group_id")
}

/// The group sources of `users`' licenses.
pub async fn sources_of_users(conn: &mut Conn, users: &[UserId]) -> Result<Vec<Source>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let sql = sources_part(conn, 1);
    let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(bulk::text_list(users));
    bulk::fetch_rows(conn, q, SOURCE_COLS)
        .await?
        .iter()
        .map(map_source)
        .collect()
}

/// Deletes the group sources of `users` (before writing them again, or when a user is deleted).
pub async fn delete_sources_of_users(conn: &mut Conn, users: &[UserId]) -> Result<()> {
    if users.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "DELETE FROM license_sources WHERE user_id IN ({})",
        bulk::texts(conn, 1)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(bulk::text_list(users))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts group sources with a few multi-row statements.
pub async fn insert_sources(conn: &mut Conn, tenant: TenantId, list: &[Source]) -> Result<()> {
    use bulk::Col::{Int, Text};
    if list.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO license_sources (user_id, group_id, sku_id, tenant_id, state, error, error_detail, disabled_plans, updated_at) {}",
        bulk::rows(
            conn,
            1,
            &[Text, Text, Text, Text, Text, Text, Text, Text, Int]
        )
    );
    let rows = bulk::row_list(list.iter().map(|s| {
        (
            s.user_id.to_string(),
            s.group_id.to_string(),
            s.sku_id.to_string(),
            tenant.to_string(),
            &s.state,
            &s.error,
            &s.error_detail,
            encode_plans(&s.disabled_plans),
            us(s.updated_at),
        )
    }));
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(rows)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Members of a group in the order they joined (earliest first, then by id), after `after`.
pub async fn members_in_join_order(
    conn: &mut Conn,
    group: GroupId,
    after: Option<(Time, UserId)>,
    limit: i64,
) -> Result<Vec<(UserId, Time)>> {
    // Two statements rather than one with `$2 IS NULL OR …`, so that each reads the
    // `(group_id, added_at, user_id)` index from the cursor on instead of from its start.
    let rows = match after {
        None => {
            sqlx::query(
                "SELECT user_id, added_at FROM group_members WHERE group_id = $1
                 ORDER BY added_at, user_id LIMIT $2",
            )
            .bind(group.to_string())
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?
        }
        Some((t, u)) => {
            sqlx::query(
                "SELECT user_id, added_at FROM group_members WHERE group_id = $1
                   AND (added_at, user_id) > ($2, $3)
                 ORDER BY added_at, user_id LIMIT $4",
            )
            .bind(group.to_string())
            .bind(us(t))
            .bind(u.to_string())
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    rows.iter()
        .map(|r| Ok((get_id(r, "user_id")?, get_time(r, "added_at")?)))
        .collect()
}

/// The next `limit` members of a group in user-id order, after `after` (a user id), by the
/// `(group_id, user_id)` primary key: a job takes members in this order when seats cannot run
/// short, so that each step writes one stretch of the user-keyed indexes.
pub async fn members_in_id_order(
    conn: &mut Conn,
    group: GroupId,
    after: Option<UserId>,
    limit: i64,
) -> Result<Vec<UserId>> {
    const COLS: &[&str] = &["user_id"];
    // Two texts rather than `$2 IS NULL OR …`, which would keep the planners from starting
    // the scan of the primary key at `after`.
    let (inner, after) = match after {
        None => (
            "SELECT user_id FROM group_members WHERE group_id = $1 AND $2 IS NULL ORDER BY user_id LIMIT $3",
            None,
        ),
        Some(u) => (
            "SELECT user_id FROM group_members WHERE group_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3",
            Some(u.to_string()),
        ),
    };
    let sql = bulk::json_rows(conn, inner, COLS, "user_id");
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(group.to_string())
        .bind(after)
        .bind(limit);
    bulk::fetch_rows(conn, q, COLS)
        .await?
        .iter()
        .map(|r| get_id(r, "user_id"))
        .collect()
}

/// Members of a group whose user id sorts after `after` (how many).
pub async fn count_members_after(conn: &mut Conn, group: GroupId, after: UserId) -> Result<i64> {
    let r =
        sqlx::query("SELECT COUNT(*) AS n FROM group_members WHERE group_id = $1 AND user_id > $2")
            .bind(group.to_string())
            .bind(after.to_string())
            .fetch_one(&mut *conn)
            .await?;
    get_i64(&r, "n")
}

/// Members of a group (how many).
pub async fn count_members(conn: &mut Conn, group: GroupId) -> Result<i64> {
    let r = sqlx::query("SELECT COUNT(*) AS n FROM group_members WHERE group_id = $1")
        .bind(group.to_string())
        .fetch_one(&mut *conn)
        .await?;
    get_i64(&r, "n")
}

/// Users a group is a source for but who are no longer members (left while a job ran).
pub async fn former_members_with_sources(
    conn: &mut Conn,
    group: GroupId,
    limit: i64,
) -> Result<Vec<UserId>> {
    let rows = sqlx::query(
        "SELECT DISTINCT s.user_id FROM license_sources s WHERE s.group_id = $1
           AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = s.group_id AND m.user_id = s.user_id)
         ORDER BY s.user_id LIMIT $2",
    )
    .bind(group.to_string())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| get_id(r, "user_id")).collect()
}

/// Members of a group whose group license is in error, in user id order after `after`.
pub async fn members_with_errors(
    conn: &mut Conn,
    group: GroupId,
    after: Option<UserId>,
    limit: i64,
) -> Result<Vec<UserId>> {
    let rows = sqlx::query(
        "SELECT DISTINCT user_id FROM license_sources WHERE group_id = $1 AND state = 'Error'
           AND ($2 IS NULL OR user_id > $2) ORDER BY user_id LIMIT $3",
    )
    .bind(group.to_string())
    .bind(after.map(|a| a.to_string()))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| get_id(r, "user_id")).collect()
}

/// Per group of the tenant with members in error: (group, members in error).
pub async fn groups_with_errors(conn: &mut Conn, tenant: TenantId) -> Result<Vec<(GroupId, i64)>> {
    let rows = sqlx::query(
        "SELECT group_id, COUNT(DISTINCT user_id) AS n FROM license_sources WHERE tenant_id = $1 AND state = 'Error' GROUP BY group_id",
    )
    .bind(tenant.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((get_id(r, "group_id")?, get_i64(r, "n")?)))
        .collect()
}

/// How many members of each of `groups` have a group license in error (groups without
/// errors are left out).
pub async fn error_counts_of_groups(
    conn: &mut Conn,
    groups: &[GroupId],
) -> Result<Vec<(GroupId, i64)>> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT group_id, COUNT(DISTINCT user_id) AS n FROM license_sources
          WHERE group_id IN ({}) AND state = 'Error' GROUP BY group_id",
        bulk::texts(conn, 1)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(bulk::text_list(groups))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((get_id(r, "group_id")?, get_i64(r, "n")?)))
        .collect()
}

/// Groups of a tenant a Graph `$filter` on groups selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupsWhere {
    /// Groups with members whose group licenses are in error (`hasMembersWithLicenseErrors eq true`).
    LicenseErrors,
    /// Groups that give any of these products (`assignedLicenses/any(x:x/skuId eq …)`).
    GiveAny(Vec<SkuId>),
}

/// A page of the tenant's groups that `which` selects, by id after `after`, and how many there
/// are in all.
pub async fn groups_where_page(
    conn: &mut Conn,
    tenant: TenantId,
    which: &GroupsWhere,
    after: Option<GroupId>,
    limit: i64,
) -> Result<(Vec<seatkeeper_domain::directory::Group>, i64)> {
    // The condition's list, if any, is bound last: `$4` in the page, `$2` in the count.
    let (cond, list) = match which {
        GroupsWhere::LicenseErrors => (
            "EXISTS (SELECT 1 FROM license_sources s WHERE s.group_id = g.id AND s.state = 'Error')"
                .to_string(),
            None,
        ),
        GroupsWhere::GiveAny(skus) => (
            format!(
                "EXISTS (SELECT 1 FROM group_licenses l WHERE l.group_id = g.id AND l.sku_id IN ({}))",
                bulk::texts(conn, 4)
            ),
            Some(bulk::text_list(skus)),
        ),
    };
    let mut page = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT g.* FROM groups g WHERE g.tenant_id = $1 AND ($2 IS NULL OR g.id > $2) AND {cond}
         ORDER BY g.id LIMIT $3"
    )))
    .bind(tenant.to_string())
    .bind(after.map(|a| a.to_string()))
    .bind(limit);
    if let Some(l) = &list {
        page = page.bind(l.clone());
    }
    let rows = page.fetch_all(&mut *conn).await?;
    let mut count = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n FROM groups g WHERE g.tenant_id = $1 AND {}",
        cond.replace("$4", "$2")
    )))
    .bind(tenant.to_string());
    if let Some(l) = list {
        count = count.bind(l);
    }
    let total = count.fetch_one(&mut *conn).await?;
    Ok((
        rows.iter()
            .map(crate::directory::map_group)
            .collect::<Result<_>>()?,
        get_i64(&total, "n")?,
    ))
}

/// A background license job (group processing, bulk membership, reprocess).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: uuid::Uuid,
    pub tenant_id: TenantId,
    /// `groupLicenses` (process a group's members), `usersImport` (create users from a
    /// file, no group) or `groupMembers` (add members, then
    /// process them).
    pub kind: String,
    pub group_id: Option<GroupId>,
    pub actor_id: Option<UserId>,
    pub actor: String,
    /// `Queued`, `Running`, `Completed` or `Failed`.
    pub state: String,
    pub total: i64,
    pub processed: i64,
    pub errors: i64,
    pub cursor: Option<(Time, UserId)>,
    /// Kind-specific input (JSON); only the job runner's reads (`job_by_id`, `claim_next`)
    /// carry it, `None` elsewhere.
    pub payload: Option<String>,
    pub message: Option<String>,
    pub created_at: Time,
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
}

/// The columns of a job but its payload (which holds up to every member of a group or every
/// row of an import: megabytes, read only by the job runner).
const JOB_VIEW: &str = "id, tenant_id, kind, group_id, actor_id, actor, state, total, processed, errors, cursor_at, cursor_user, message, created_at, started_at, finished_at";

/// A job from its row; `payload` says whether the row has that column (else `None`).
fn map_job(r: &AnyRow, payload: bool) -> Result<Job> {
    let cursor = match (
        r.try_get::<Option<i64>, _>("cursor_at")?,
        get_opt_id::<UserId>(r, "cursor_user")?,
    ) {
        (Some(at), Some(u)) => Some((crate::from_us(at), u)),
        _ => None,
    };
    let opt_time = |c: &str| -> Result<Option<Time>> {
        Ok(r.try_get::<Option<i64>, _>(c)?.map(crate::from_us))
    };
    Ok(Job {
        id: get_id(r, "id")?,
        tenant_id: get_id(r, "tenant_id")?,
        kind: get_str(r, "kind")?,
        group_id: get_opt_id(r, "group_id")?,
        actor_id: get_opt_id(r, "actor_id")?,
        actor: get_str(r, "actor")?,
        state: get_str(r, "state")?,
        total: get_i64(r, "total")?,
        processed: get_i64(r, "processed")?,
        errors: get_i64(r, "errors")?,
        cursor,
        payload: if payload {
            get_opt(r, "payload")?
        } else {
            None
        },
        message: get_opt(r, "message")?,
        created_at: get_time(r, "created_at")?,
        started_at: opt_time("started_at")?,
        finished_at: opt_time("finished_at")?,
    })
}

/// Queues a job.
pub async fn insert_job(conn: &mut Conn, j: &Job) -> Result<()> {
    sqlx::query(
        "INSERT INTO license_jobs (id, tenant_id, kind, group_id, actor_id, actor, state, total, processed, errors, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, $9, $10)",
    )
    .bind(j.id.to_string())
    .bind(j.tenant_id.to_string())
    .bind(j.kind.clone())
    .bind(j.group_id.map(|g| g.to_string()))
    .bind(j.actor_id.map(|g| g.to_string()))
    .bind(j.actor.clone())
    .bind(j.state.clone())
    .bind(j.total)
    .bind(j.payload.clone())
    .bind(us(j.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One job of a tenant, without its payload.
pub async fn get_job(conn: &mut Conn, tenant: TenantId, id: uuid::Uuid) -> Result<Option<Job>> {
    let sql = format!("SELECT {JOB_VIEW} FROM license_jobs WHERE tenant_id = $1 AND id = $2");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(|r| map_job(r, false)).transpose()
}

/// A job by id with its payload, whatever its tenant (the job runner).
pub async fn job_by_id(conn: &mut Conn, id: uuid::Uuid) -> Result<Option<Job>> {
    let r = sqlx::query("SELECT * FROM license_jobs WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(|r| map_job(r, true)).transpose()
}

/// A tenant's jobs without their payloads, newest first (by creation time, then id, both
/// descending); `before` pages after a job: its (creation time, id).
pub async fn list_jobs(
    conn: &mut Conn,
    tenant: TenantId,
    group: Option<GroupId>,
    before: Option<(Time, uuid::Uuid)>,
    limit: i64,
) -> Result<Vec<Job>> {
    let sql = format!(
        "SELECT {JOB_VIEW} FROM license_jobs WHERE tenant_id = $1 AND ($2 IS NULL OR group_id = $2)
           AND ($3 IS NULL OR created_at < $3 OR (created_at = $3 AND id < $4))
         ORDER BY created_at DESC, id DESC LIMIT $5"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(group.map(|g| g.to_string()))
        .bind(before.map(|b| us(b.0)))
        .bind(before.map(|b| b.1.to_string()))
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| map_job(r, false)).collect()
}

/// The latest job of each of `groups` (for their processing state), without payloads.
pub async fn latest_of_groups(conn: &mut Conn, groups: &[GroupId]) -> Result<Vec<Job>> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {JOB_VIEW} FROM (SELECT {JOB_VIEW}, ROW_NUMBER() OVER (PARTITION BY group_id ORDER BY created_at DESC, id DESC) AS latest
           FROM license_jobs WHERE group_id IN ({})) x WHERE latest = 1",
        bulk::texts(conn, 1)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(bulk::text_list(groups))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| map_job(r, false)).collect()
}

/// Whether a group has a job not finished yet.
pub async fn group_has_open_job(conn: &mut Conn, group: GroupId) -> Result<bool> {
    let r = sqlx::query(
        "SELECT COUNT(*) AS n FROM license_jobs WHERE group_id = $1 AND state IN ('Queued', 'Running')",
    )
    .bind(group.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok(get_i64(&r, "n")? > 0)
}

/// Claims the oldest open job whose claim is free (never claimed, or its lease ran out: the
/// server running it stopped) and that is the oldest open job of its group (a group's jobs run
/// one after another), until `lease_until` under `token`. None when there is nothing to do.
pub async fn claim_next(
    conn: &mut Conn,
    now_wall: i64,
    lease_until: i64,
    token: &str,
    at: Time,
) -> Result<Option<Job>> {
    let candidates = sqlx::query(
        "SELECT j.id FROM license_jobs j WHERE j.state IN ('Queued', 'Running')
           AND (j.claimed_until IS NULL OR j.claimed_until < $1)
           AND NOT EXISTS (SELECT 1 FROM license_jobs o WHERE o.group_id = j.group_id
               AND o.state IN ('Queued', 'Running') AND (o.created_at < j.created_at OR (o.created_at = j.created_at AND o.id < j.id)))
         ORDER BY j.created_at, j.id LIMIT 5",
    )
    .bind(now_wall)
    .fetch_all(&mut *conn)
    .await?;
    for c in candidates {
        let id = get_str(&c, "id")?;
        let r = sqlx::query(
            "UPDATE license_jobs SET claim_token = $2, claimed_until = $3, state = 'Running', started_at = COALESCE(started_at, $5)
             WHERE id = $1 AND state IN ('Queued', 'Running') AND (claimed_until IS NULL OR claimed_until < $4) RETURNING *",
        )
        .bind(&id)
        .bind(token)
        .bind(lease_until)
        .bind(now_wall)
        .bind(us(at))
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = r {
            return Ok(Some(map_job(&r, true)?));
        }
    }
    Ok(None)
}

/// Records a step of a claimed job: the new cursor and counts, and a renewed lease. False when
/// the claim was lost (the caller's transaction must then roll back).
#[allow(clippy::too_many_arguments)]
pub async fn advance(
    conn: &mut Conn,
    id: uuid::Uuid,
    token: &str,
    lease_until: i64,
    cursor: Option<(Time, UserId)>,
    processed: i64,
    errors: i64,
    total: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE license_jobs SET cursor_at = $3, cursor_user = $4, processed = $5, errors = $6, total = $7, claimed_until = $8
         WHERE id = $1 AND claim_token = $2 AND state = 'Running'",
    )
    .bind(id.to_string())
    .bind(token)
    .bind(cursor.map(|c| us(c.0)))
    .bind(cursor.map(|c| c.1.to_string()))
    .bind(processed)
    .bind(errors)
    .bind(total)
    .bind(lease_until)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets the kind-specific input of a claimed, running job (for example the order its
/// members are taken in), so that a resumed job keeps it. False when the claim was lost.
pub async fn set_payload(
    conn: &mut Conn,
    id: uuid::Uuid,
    token: &str,
    payload: &str,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE license_jobs SET payload = $3 WHERE id = $1 AND claim_token = $2 AND state = 'Running'",
    )
    .bind(id.to_string())
    .bind(token)
    .bind(payload)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Gives a claimed job back (the server is stopping), so another can take it at once.
pub async fn release(conn: &mut Conn, id: uuid::Uuid, token: &str) -> Result<()> {
    sqlx::query(
        "UPDATE license_jobs SET claim_token = NULL, claimed_until = NULL WHERE id = $1 AND claim_token = $2",
    )
    .bind(id.to_string())
    .bind(token)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Finishes a claimed job (`Completed` or `Failed`, with a message). False when the claim was
/// lost.
pub async fn finish(
    conn: &mut Conn,
    id: uuid::Uuid,
    token: &str,
    state: &str,
    message: Option<&str>,
    at: Time,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE license_jobs SET state = $3, message = $4, finished_at = $5, claim_token = NULL, claimed_until = NULL
         WHERE id = $1 AND claim_token = $2 AND state = 'Running'",
    )
    .bind(id.to_string())
    .bind(token)
    .bind(state)
    .bind(message)
    .bind(us(at))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets the message of a claimed, running job (what its steps did so far). False when the
/// claim was lost.
pub async fn set_message(
    conn: &mut Conn,
    id: uuid::Uuid,
    token: &str,
    message: &str,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE license_jobs SET message = $3 WHERE id = $1 AND claim_token = $2 AND state = 'Running'",
    )
    .bind(id.to_string())
    .bind(token)
    .bind(message)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
