//! The audit log: append-only (the database refuses updates and deletes).

use crate::{Conn, Result, get_i64, get_opt, get_opt_id, get_str, get_time, us};
use seatkeeper_domain::TenantId;
pub use seatkeeper_domain::audit::{AuditAction, AuditEntry, AuditQuery};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

fn map(r: &AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: get_i64(r, "id")?,
        tenant_id: crate::get_id(r, "tenant_id")?,
        at: get_time(r, "at")?,
        actor_id: get_opt_id(r, "actor_id")?,
        actor: get_str(r, "actor")?,
        action: AuditAction::parse(&get_str(r, "action")?)
            .ok_or_else(|| sqlx::Error::Decode("bad action in audit_log row".into()))?,
        target_type: get_str(r, "target_type")?,
        target_id: get_str(r, "target_id")?,
        summary: get_str(r, "summary")?,
        before: get_opt(r, "before_json")?,
        after: get_opt(r, "after_json")?,
    })
}

/// The statement of [`append`]: binds tenant, time (UTC microseconds), actor id (or NULL),
/// actor, action, target type, target id, summary, before and after at `$1`…`$10`.
pub const APPEND: &str = "INSERT INTO audit_log (tenant_id, at, actor_id, actor, action, target_type, target_id, summary, before_json, after_json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub async fn append(conn: &mut Conn, e: &AuditEntry) -> Result<()> {
    sqlx::query(APPEND)
        .bind(e.tenant_id.to_string())
        .bind(us(e.at))
        .bind(e.actor_id.map(|a| a.to_string()))
        .bind(&e.actor)
        .bind(e.action.as_str())
        .bind(&e.target_type)
        .bind(&e.target_id)
        .bind(&e.summary)
        .bind(e.before.clone())
        .bind(e.after.clone())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Appends many entries in one statement, so that a step that changes thousands of users
/// costs one statement rather than one per user. Entries keep their order.
pub async fn append_many(conn: &mut Conn, entries: &[AuditEntry]) -> Result<()> {
    let mut w = crate::bulk::Writes::new(conn);
    append_part(&mut w, entries);
    w.run(conn).await?;
    Ok(())
}

/// [`append_many`] as a part of `w`; nothing for no entries.
pub fn append_part(w: &mut crate::bulk::Writes, entries: &[AuditEntry]) {
    use crate::bulk::{self, Col::Int, Col::Text};
    if entries.is_empty() {
        return;
    }
    let sql = format!(
        "INSERT INTO audit_log (tenant_id, at, actor_id, actor, action, target_type, target_id, summary, before_json, after_json) {}",
        w.rows(
            w.param(),
            &[Text, Int, Text, Text, Text, Text, Text, Text, Text, Text]
        )
    );
    let rows = bulk::row_list(entries.iter().map(|e| {
        (
            e.tenant_id.to_string(),
            us(e.at),
            e.actor_id.map(|a| a.to_string()),
            &e.actor,
            e.action.as_str(),
            &e.target_type,
            &e.target_id,
            &e.summary,
            &e.before,
            &e.after,
        )
    }));
    w.push(sql, vec![rows]);
}

/// Newest first. The actor matches when it starts with `q.actor` (ignoring case); the target
/// when its id is one of `targets` (the target filter resolved to ids by the caller; `None`
/// means any target). Read along the `(tenant_id, id)` index, newest first, up to the limit.
pub async fn list(
    conn: &mut Conn,
    tenant: TenantId,
    q: &AuditQuery,
    targets: Option<&[String]>,
) -> Result<Vec<AuditEntry>> {
    // The actions are a closed set of fixed words (not user text): one placeholder each; so
    // are the target ids.
    let mut next = 6;
    let mut placeholders = |n: usize| {
        let list = (0..n)
            .map(|i| format!("${}", next + 1 + i))
            .collect::<Vec<_>>()
            .join(", ");
        next += n;
        list
    };
    let actions = match &q.action {
        None => "1 = 1".to_string(),
        Some(a) if a.is_empty() => "1 = 0".to_string(),
        Some(a) => format!("action IN ({})", placeholders(a.len())),
    };
    let target = match targets {
        None => "1 = 1".to_string(),
        Some([]) => "1 = 0".to_string(),
        Some(t) => format!("target_id IN ({})", placeholders(t.len())),
    };
    let sql = format!(
        "SELECT * FROM audit_log WHERE tenant_id = $1
        AND ($2 IS NULL OR lower(actor) LIKE $2 ESCAPE '\\')
        AND ($3 IS NULL OR at >= $3)
        AND ($4 IS NULL OR at < $4)
        AND ($5 IS NULL OR id < $5)
        AND {actions}
        AND {target}
        ORDER BY id DESC LIMIT $6"
    );
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(q.actor.as_deref().map(crate::directory::like_prefix))
        .bind(q.since.map(us))
        .bind(q.until.map(us))
        .bind(q.before_id)
        .bind(q.limit);
    for a in q.action.iter().flatten() {
        query = query.bind(a.as_str());
    }
    for t in targets.into_iter().flatten() {
        query = query.bind(t.clone());
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter().map(map).collect()
}
