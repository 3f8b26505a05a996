//! License requests (REQ1–REQ6): the organization's request settings, the requests with their
//! users and decision, the share links with the recommendations they gave, and the deployment's
//! shared secrets.

use crate::{Conn, Result, flag, get_bool, get_i64, get_id, get_opt, get_str, get_time, us};
use seatkeeper_domain::requests::{
    DEFAULT_LINK_EXPIRY_DAYS, DEFAULT_RETENTION_MONTHS, Outcome, RequestStatus, Verdict,
};
use seatkeeper_domain::{GroupId, LicenseRequestId, SkuId, TenantId, Time, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

/// The organization's license request settings (REQ2, REQ5, REQ6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Requests go through the organization's own process: submitting shows `message`.
    pub use_organization_process: bool,
    pub message: Option<String>,
    pub documentation_url: Option<String>,
    /// How long a share link works.
    pub link_expiry_days: i64,
    /// How long requests are kept before the purge.
    pub retention_months: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            use_organization_process: false,
            message: None,
            documentation_url: None,
            link_expiry_days: DEFAULT_LINK_EXPIRY_DAYS,
            retention_months: DEFAULT_RETENTION_MONTHS,
        }
    }
}

/// A license request row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: LicenseRequestId,
    pub tenant_id: TenantId,
    /// The product asked for.
    pub sku_id: SkuId,
    pub requester_id: UserId,
    /// The requester's user name when they asked (kept if the account goes).
    pub requester_upn: String,
    pub note: Option<String>,
    pub status: RequestStatus,
    pub created_at: Time,
    pub decided_at: Option<Time>,
    /// Who decided (as the audit log names them).
    pub decided_by: Option<String>,
    pub outcome: Option<Outcome>,
    /// The product the approved users were licensed with.
    pub decision_sku_id: Option<SkuId>,
    pub decision_message: Option<String>,
    /// The security group the approved users were added to, if any.
    pub decision_group_id: Option<GroupId>,
    /// How many users are on it.
    pub user_count: i64,
}

/// One user on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUser {
    pub user_id: UserId,
    /// Their user name when the request was made.
    pub upn: String,
    /// The decision for them, once decided.
    pub verdict: Option<Verdict>,
}

/// A share link: one recipient of one share of one request (REQ5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The link id the signed token names; used once.
    pub id: Uuid,
    pub request_id: LicenseRequestId,
    pub tenant_id: TenantId,
    pub recipient_id: UserId,
    pub recipient_upn: String,
    /// Who shared it.
    pub shared_by: String,
    pub shared_at: Time,
    pub expires_at: Time,
    /// When the recipient recommended (the link is spent then).
    pub used_at: Option<Time>,
    pub verdict: Option<Verdict>,
    pub comment: Option<String>,
}

fn decode<T>(v: Option<String>, parse: fn(&str) -> Option<T>, what: &str) -> Result<Option<T>> {
    v.map(|s| {
        parse(&s).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown {what} '{s}' in the database").into())
        })
    })
    .transpose()
}

fn opt_time(r: &AnyRow, c: &str) -> Result<Option<Time>> {
    Ok(r.try_get::<Option<i64>, _>(c)?.map(crate::from_us))
}

fn opt_id<T: From<Uuid>>(r: &AnyRow, c: &str) -> Result<Option<T>> {
    Ok(get_opt(r, c)?
        .and_then(|s| Uuid::parse_str(&s).ok())
        .map(T::from))
}

const COLUMNS: &str = "r.id, r.tenant_id, r.sku_id, r.requester_id, r.requester_upn, r.note, r.status, \
     r.created_at, r.decided_at, r.decided_by, r.outcome, r.decision_sku_id, r.decision_message, \
     r.decision_group_id, (SELECT COUNT(*) FROM license_request_users u WHERE u.request_id = r.id) AS user_count";

fn map(r: &AnyRow) -> Result<Request> {
    let status = get_str(r, "status")?;
    Ok(Request {
        id: get_id(r, "id")?,
        tenant_id: get_id(r, "tenant_id")?,
        sku_id: get_id(r, "sku_id")?,
        requester_id: get_id(r, "requester_id")?,
        requester_upn: get_str(r, "requester_upn")?,
        note: get_opt(r, "note")?,
        status: RequestStatus::parse(&status).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown request status '{status}' in the database").into())
        })?,
        created_at: get_time(r, "created_at")?,
        decided_at: opt_time(r, "decided_at")?,
        decided_by: get_opt(r, "decided_by")?,
        outcome: decode(get_opt(r, "outcome")?, Outcome::parse, "request outcome")?,
        decision_sku_id: opt_id(r, "decision_sku_id")?,
        decision_message: get_opt(r, "decision_message")?,
        decision_group_id: opt_id(r, "decision_group_id")?,
        user_count: get_i64(r, "user_count")?,
    })
}

/// The organization's settings (the defaults when it set none).
pub async fn settings(conn: &mut Conn, tenant: TenantId) -> Result<Settings> {
    let r = sqlx::query(
        "SELECT use_organization_process, message, documentation_url, link_expiry_days, retention_months \
         FROM license_request_settings WHERE tenant_id = $1",
    )
    .bind(tenant.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = r else {
        return Ok(Settings::default());
    };
    Ok(Settings {
        use_organization_process: get_bool(&r, "use_organization_process")?,
        message: get_opt(&r, "message")?,
        documentation_url: get_opt(&r, "documentation_url")?,
        link_expiry_days: get_i64(&r, "link_expiry_days")?,
        retention_months: get_i64(&r, "retention_months")?,
    })
}

/// Stores the organization's settings.
pub async fn set_settings(conn: &mut Conn, tenant: TenantId, s: &Settings, at: Time) -> Result<()> {
    sqlx::query(
        "INSERT INTO license_request_settings (tenant_id, use_organization_process, message, documentation_url, link_expiry_days, retention_months, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id) DO UPDATE SET \
         use_organization_process = excluded.use_organization_process, message = excluded.message, \
         documentation_url = excluded.documentation_url, link_expiry_days = excluded.link_expiry_days, \
         retention_months = excluded.retention_months, updated_at = excluded.updated_at",
    )
    .bind(tenant.to_string())
    .bind(flag(s.use_organization_process))
    .bind(s.message.clone())
    .bind(s.documentation_url.clone())
    .bind(s.link_expiry_days)
    .bind(s.retention_months)
    .bind(us(at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes a new request with its users (in order; the requester first).
pub async fn insert(conn: &mut Conn, r: &Request, users: &[RequestUser]) -> Result<()> {
    sqlx::query(
        "INSERT INTO license_requests (id, tenant_id, sku_id, requester_id, requester_upn, note, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(r.id.to_string())
    .bind(r.tenant_id.to_string())
    .bind(r.sku_id.to_string())
    .bind(r.requester_id.to_string())
    .bind(&r.requester_upn)
    .bind(r.note.clone())
    .bind(r.status.as_str())
    .bind(us(r.created_at))
    .execute(&mut *conn)
    .await?;
    for (i, u) in users.iter().enumerate() {
        sqlx::query(
            "INSERT INTO license_request_users (request_id, user_id, upn, position) VALUES ($1, $2, $3, $4)",
        )
        .bind(r.id.to_string())
        .bind(u.user_id.to_string())
        .bind(&u.upn)
        .bind(i as i64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The requester's open (Pending) request for a product, if any.
pub async fn open_request(
    conn: &mut Conn,
    tenant: TenantId,
    requester: UserId,
    sku: SkuId,
) -> Result<Option<LicenseRequestId>> {
    let r = sqlx::query(
        "SELECT id FROM license_requests WHERE tenant_id = $1 AND requester_id = $2 AND sku_id = $3 AND status = 'Pending'",
    )
    .bind(tenant.to_string())
    .bind(requester.to_string())
    .bind(sku.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    r.map(|r| get_id(&r, "id")).transpose()
}

/// One request of the organization.
pub async fn get(
    conn: &mut Conn,
    tenant: TenantId,
    id: LicenseRequestId,
) -> Result<Option<Request>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM license_requests r WHERE r.tenant_id = $1 AND r.id = $2"
    )))
    .bind(tenant.to_string())
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    r.as_ref().map(map).transpose()
}

/// A request by id, whatever its organization (for share links, which carry no tenant).
pub async fn get_any(conn: &mut Conn, id: LicenseRequestId) -> Result<Option<Request>> {
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM license_requests r WHERE r.id = $1"
    )))
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    r.as_ref().map(map).transpose()
}

/// The users on a request, the requester first.
pub async fn users_of(conn: &mut Conn, id: LicenseRequestId) -> Result<Vec<RequestUser>> {
    let rows = sqlx::query(
        "SELECT user_id, upn, verdict FROM license_request_users WHERE request_id = $1 ORDER BY position",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RequestUser {
                user_id: get_id(r, "user_id")?,
                upn: get_str(r, "upn")?,
                verdict: decode(get_opt(r, "verdict")?, Verdict::parse, "verdict")?,
            })
        })
        .collect()
}

/// What to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    pub status: Option<RequestStatus>,
    /// Only this requester's requests.
    pub requester: Option<UserId>,
}

fn filter_sql(f: &Filter) -> String {
    let mut sql = String::from("r.tenant_id = $1");
    if f.status.is_some() {
        sql.push_str(" AND r.status = $2");
    }
    if f.requester.is_some() {
        sql.push_str(if f.status.is_some() {
            " AND r.requester_id = $3"
        } else {
            " AND r.requester_id = $2"
        });
    }
    sql
}

/// A page of requests, newest first.
pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    f: &Filter,
    top: i64,
    skip: i64,
) -> Result<Vec<Request>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM license_requests r WHERE {} ORDER BY r.created_at DESC, r.id DESC LIMIT {} OFFSET {}",
        filter_sql(f),
        top.max(0),
        skip.max(0)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.to_string());
    if let Some(s) = f.status {
        q = q.bind(s.as_str());
    }
    if let Some(u) = f.requester {
        q = q.bind(u.to_string());
    }
    let rows = q.fetch_all(&mut *conn).await?;
    rows.iter().map(map).collect()
}

/// How many requests match.
pub async fn count(conn: &mut Conn, tenant: TenantId, f: &Filter) -> Result<i64> {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM license_requests r WHERE {}",
        filter_sql(f)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.to_string());
    if let Some(s) = f.status {
        q = q.bind(s.as_str());
    }
    if let Some(u) = f.requester {
        q = q.bind(u.to_string());
    }
    let r = q.fetch_one(&mut *conn).await?;
    get_i64(&r, "n")
}

/// The decision, as written by [`complete`].
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    pub outcome: Outcome,
    pub decided_by: &'a str,
    pub decided_at: Time,
    pub sku_id: Option<SkuId>,
    pub message: Option<&'a str>,
    pub group_id: Option<GroupId>,
}

/// Completes a Pending request; false when it is not Pending any more (someone decided it
/// first): the status change is guarded in the UPDATE itself.
pub async fn complete(
    conn: &mut Conn,
    tenant: TenantId,
    id: LicenseRequestId,
    d: &Decision<'_>,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE license_requests SET status = 'Completed', outcome = $3, decided_by = $4, decided_at = $5, \
         decision_sku_id = $6, decision_message = $7, decision_group_id = $8 \
         WHERE tenant_id = $1 AND id = $2 AND status = 'Pending'",
    )
    .bind(tenant.to_string())
    .bind(id.to_string())
    .bind(d.outcome.as_str())
    .bind(d.decided_by)
    .bind(us(d.decided_at))
    .bind(d.sku_id.map(|s| s.to_string()))
    .bind(d.message.map(str::to_string))
    .bind(d.group_id.map(|g| g.to_string()))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records the decision for one user on a request.
pub async fn set_verdict(
    conn: &mut Conn,
    id: LicenseRequestId,
    user: UserId,
    v: Verdict,
) -> Result<()> {
    sqlx::query(
        "UPDATE license_request_users SET verdict = $3 WHERE request_id = $1 AND user_id = $2",
    )
    .bind(id.to_string())
    .bind(user.to_string())
    .bind(v.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn map_link(r: &AnyRow) -> Result<Link> {
    Ok(Link {
        id: get_id(r, "id")?,
        request_id: get_id(r, "request_id")?,
        tenant_id: get_id(r, "tenant_id")?,
        recipient_id: get_id(r, "recipient_id")?,
        recipient_upn: get_str(r, "recipient_upn")?,
        shared_by: get_str(r, "shared_by")?,
        shared_at: get_time(r, "shared_at")?,
        expires_at: get_time(r, "expires_at")?,
        used_at: opt_time(r, "used_at")?,
        verdict: decode(get_opt(r, "verdict")?, Verdict::parse, "verdict")?,
        comment: get_opt(r, "comment")?,
    })
}

/// Writes a share link.
pub async fn insert_link(conn: &mut Conn, l: &Link) -> Result<()> {
    sqlx::query(
        "INSERT INTO license_request_links (id, request_id, tenant_id, recipient_id, recipient_upn, shared_by, shared_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(l.id.to_string())
    .bind(l.request_id.to_string())
    .bind(l.tenant_id.to_string())
    .bind(l.recipient_id.to_string())
    .bind(&l.recipient_upn)
    .bind(&l.shared_by)
    .bind(us(l.shared_at))
    .bind(us(l.expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A share link by id.
pub async fn get_link(conn: &mut Conn, id: Uuid) -> Result<Option<Link>> {
    let r = sqlx::query("SELECT * FROM license_request_links WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map_link).transpose()
}

/// Spends a link with the recommendation it gives; false when it was spent already (guarded in
/// the UPDATE, so a link is used once even when two posts race).
pub async fn use_link(
    conn: &mut Conn,
    id: Uuid,
    v: Verdict,
    comment: Option<&str>,
    at: Time,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE license_request_links SET used_at = $2, verdict = $3, comment = $4 WHERE id = $1 AND used_at IS NULL",
    )
    .bind(id.to_string())
    .bind(us(at))
    .bind(v.as_str())
    .bind(comment.map(str::to_string))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The share links of a request, oldest first.
pub async fn links_of(conn: &mut Conn, id: LicenseRequestId) -> Result<Vec<Link>> {
    let rows = sqlx::query(
        "SELECT * FROM license_request_links WHERE request_id = $1 ORDER BY shared_at, id",
    )
    .bind(id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(map_link).collect()
}

/// The organizations that have requests.
pub async fn tenants_with_requests(conn: &mut Conn) -> Result<Vec<TenantId>> {
    let rows = sqlx::query("SELECT DISTINCT tenant_id FROM license_requests")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| get_id(r, "tenant_id")).collect()
}

/// Up to `limit` requests of the organization made before `before`, oldest first.
pub async fn older_than(
    conn: &mut Conn,
    tenant: TenantId,
    before: Time,
    limit: i64,
) -> Result<Vec<Request>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM license_requests r WHERE r.tenant_id = $1 AND r.created_at < $2 \
         ORDER BY r.created_at, r.id LIMIT {}",
        limit.max(0)
    )))
    .bind(tenant.to_string())
    .bind(us(before))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(map).collect()
}

/// Deletes a request with its users and links; false when it was gone already.
pub async fn delete(conn: &mut Conn, id: LicenseRequestId) -> Result<bool> {
    for table in ["license_request_links", "license_request_users"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE request_id = $1"
        )))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    }
    let r = sqlx::query("DELETE FROM license_requests WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The deployment's secret `name`: `candidate` is stored when there is none yet, and the stored
/// one is returned (every server of the deployment agrees on it). Call it inside a
/// transaction.
pub async fn secret(conn: &mut Conn, name: &str, candidate: &str, at: Time) -> Result<String> {
    sqlx::query(
        "INSERT INTO deployment_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(candidate)
    .bind(us(at))
    .execute(&mut *conn)
    .await?;
    let r = sqlx::query("SELECT value FROM deployment_secrets WHERE name = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    get_str(&r, "value")
}

/// The deployment's secret `name`, if it was created.
pub async fn get_secret(conn: &mut Conn, name: &str) -> Result<Option<String>> {
    let r = sqlx::query("SELECT value FROM deployment_secrets WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    r.map(|r| get_str(&r, "value")).transpose()
}

/// The user of the organization whose e-mail address or user name is `address` (ignoring
/// case).
pub async fn user_by_address(
    conn: &mut Conn,
    tenant: TenantId,
    address: &str,
) -> Result<Option<UserId>> {
    let a = address.trim().to_lowercase();
    let r = sqlx::query(
        "SELECT id FROM users WHERE tenant_id = $1 AND (upn_lower = $2 OR LOWER(mail) = $2) ORDER BY upn_lower LIMIT 1",
    )
    .bind(tenant.to_string())
    .bind(a)
    .fetch_optional(&mut *conn)
    .await?;
    r.map(|r| get_id(&r, "id")).transpose()
}

/// Which of `users` are members of `group`.
pub async fn members_among(
    conn: &mut Conn,
    group: GroupId,
    users: &[UserId],
) -> Result<Vec<UserId>> {
    let mut out = Vec::new();
    for u in users {
        let r =
            sqlx::query("SELECT user_id FROM group_members WHERE group_id = $1 AND user_id = $2")
                .bind(group.to_string())
                .bind(u.to_string())
                .fetch_optional(&mut *conn)
                .await?;
        if r.is_some() {
            out.push(*u);
        }
    }
    Ok(out)
}

/// The security groups of the organization that carry `sku` (group-based licensing), by name,
/// at most `limit`.
pub async fn groups_carrying(
    conn: &mut Conn,
    tenant: TenantId,
    sku: SkuId,
    limit: i64,
) -> Result<Vec<GroupId>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT g.id FROM group_licenses l JOIN groups g ON g.id = l.group_id \
         WHERE l.tenant_id = $1 AND l.sku_id = $2 AND g.security_enabled = 1 \
         ORDER BY g.display_name, g.id LIMIT {}",
        limit.max(0)
    )))
    .bind(tenant.to_string())
    .bind(sku.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| get_id(r, "id")).collect()
}
