//! Users, groups, group members and admin roles.

use crate::{Conn, Result, bulk, flag, get_bool, get_i64, get_id, get_opt, get_str, get_time, us};
pub use seatkeeper_domain::directory::{Group, User, UserField, UserFilter, Value};
use seatkeeper_domain::kinds::UserType;
use seatkeeper_domain::roles::Role;
use seatkeeper_domain::{GroupId, SkuId, TenantId, Time, UserId};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

/// What users are ordered and searched by: the display name in lower case (Unicode rules),
/// stored as `users.name_lower`. Written only by this module.
fn name_key(display_name: &str) -> String {
    display_name.to_lowercase()
}

/// The words a user is found by (see `user_words`): each word of the display name in lower
/// case, and the mail address in lower case.
pub(crate) fn search_words(display_name: &str, mail: Option<&str>) -> Vec<String> {
    let mut words: Vec<String> = name_key(display_name)
        .split(|c: char| c.is_whitespace() || matches!(c, '-' | ',' | '(' | ')' | '/' | '.' | '"'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(m) = mail.map(str::trim).filter(|m| !m.is_empty()) {
        words.push(m.to_lowercase());
    }
    words.sort();
    words.dedup();
    words
}

/// Writes the words `u` is found by, replacing any earlier ones.
async fn write_words(conn: &mut Conn, u: &User) -> Result<()> {
    sqlx::query("DELETE FROM user_words WHERE user_id = $1")
        .bind(u.id.to_string())
        .execute(&mut *conn)
        .await?;
    insert_words(
        conn,
        &[(
            u.tenant_id.to_string(),
            u.id.to_string(),
            search_words(&u.display_name, u.mail.as_deref()),
        )],
    )
    .await
}

/// Inserts the words of many users at once: (tenant id, user id, words).
pub(crate) async fn insert_words(
    conn: &mut Conn,
    users: &[(String, String, Vec<String>)],
) -> Result<()> {
    let rows: Vec<(&str, &str, &str)> = users
        .iter()
        .flat_map(|(t, u, ws)| ws.iter().map(move |w| (t.as_str(), u.as_str(), w.as_str())))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO user_words (tenant_id, user_id, word) {} ON CONFLICT DO NOTHING",
        bulk::rows(conn, 1, &[bulk::Col::Text; 3])
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(bulk::row_list(rows.iter()))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) fn map_user(r: &impl crate::Fields) -> Result<User> {
    Ok(User {
        id: get_id(r, "id")?,
        tenant_id: get_id(r, "tenant_id")?,
        upn: get_str(r, "upn")?,
        display_name: get_str(r, "display_name")?,
        given_name: get_opt(r, "given_name")?,
        surname: get_opt(r, "surname")?,
        mail: get_opt(r, "mail")?,
        mail_nickname: get_opt(r, "mail_nickname")?,
        job_title: get_opt(r, "job_title")?,
        department: get_opt(r, "department")?,
        user_type: UserType::parse(&get_str(r, "user_type")?)
            .ok_or_else(|| sqlx::Error::Decode("bad user_type in users row".into()))?,
        usage_location: get_opt(r, "usage_location")?,
        account_enabled: get_bool(r, "account_enabled")?,
        created_at: get_time(r, "created_at")?,
    })
}

pub async fn insert_user(conn: &mut Conn, u: &User) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (id, tenant_id, upn, upn_lower, display_name, given_name, surname, mail, mail_nickname, job_title, department, user_type, usage_location, account_enabled, created_at, name_lower)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(u.id.to_string())
    .bind(u.tenant_id.to_string())
    .bind(&u.upn)
    .bind(u.upn.to_lowercase())
    .bind(&u.display_name)
    .bind(u.given_name.clone())
    .bind(u.surname.clone())
    .bind(u.mail.clone())
    .bind(u.mail_nickname.clone())
    .bind(u.job_title.clone())
    .bind(u.department.clone())
    .bind(u.user_type.as_str())
    .bind(u.usage_location.clone())
    .bind(flag(u.account_enabled))
    .bind(us(u.created_at))
    .bind(name_key(&u.display_name))
    .execute(&mut *conn)
    .await?;
    write_words(conn, u).await
}

pub async fn update_user(conn: &mut Conn, u: &User) -> Result<()> {
    sqlx::query(
        "UPDATE users SET upn = $3, upn_lower = $4, display_name = $5, given_name = $6, surname = $7, mail = $8, mail_nickname = $9,
         job_title = $10, department = $11, user_type = $12, usage_location = $13, account_enabled = $14, name_lower = $15, version = version + 1
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(u.tenant_id.to_string())
    .bind(u.id.to_string())
    .bind(&u.upn)
    .bind(u.upn.to_lowercase())
    .bind(&u.display_name)
    .bind(u.given_name.clone())
    .bind(u.surname.clone())
    .bind(u.mail.clone())
    .bind(u.mail_nickname.clone())
    .bind(u.job_title.clone())
    .bind(u.department.clone())
    .bind(u.user_type.as_str())
    .bind(u.usage_location.clone())
    .bind(flag(u.account_enabled))
    .bind(name_key(&u.display_name))
    .execute(&mut *conn)
    .await?;
    write_words(conn, u).await
}

/// Locks the user's row for the rest of the transaction (PostgreSQL row lock; SQLite
/// transactions are serialized anyway), so that concurrent license changes of one user queue.
pub async fn lock_user(conn: &mut Conn, tenant: TenantId, id: UserId) -> Result<bool> {
    let r = sqlx::query("UPDATE users SET version = version + 1 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete_user(conn: &mut Conn, tenant: TenantId, id: UserId) -> Result<bool> {
    sqlx::query("DELETE FROM user_words WHERE user_id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    let r = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The statement of [`get_user`]: binds the tenant at `$1` and the user's id at `$2`.
pub const USER_BY_ID: &str = "SELECT * FROM users WHERE tenant_id = $1 AND id = $2";

pub async fn get_user(conn: &mut Conn, tenant: TenantId, id: UserId) -> Result<Option<User>> {
    let r = sqlx::query(USER_BY_ID)
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map_user).transpose()
}

/// Users of a tenant by id, in one query (ids not found are left out).
pub async fn users_by_ids(conn: &mut Conn, tenant: TenantId, ids: &[UserId]) -> Result<Vec<User>> {
    users_in(conn, tenant, ids, "").await
}

/// [`users_by_ids`] for a change of their licenses: on PostgreSQL each row is locked for the
/// rest of the transaction, in id order, so that a job and a direct change of one user queue
/// ([`lock_user`] takes the same lock); SQLite transactions are serialized anyway.
pub async fn users_by_ids_locked(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[UserId],
) -> Result<Vec<User>> {
    let lock = lock_in_id_order(conn);
    users_in(conn, tenant, ids, lock).await
}

/// The columns of a user that [`map_user`] reads.
pub(crate) const USER_COLS: &[&str] = &[
    "id",
    "tenant_id",
    "upn",
    "display_name",
    "given_name",
    "surname",
    "mail",
    "mail_nickname",
    "job_title",
    "department",
    "user_type",
    "usage_location",
    "account_enabled",
    "created_at",
];

/// The read of [`users_in`] ([`bulk::json_rows`], columns [`USER_COLS`]): binds the tenant at
/// `$1` and the ids as a JSON list at `$2`; `lock` ends the inner query.
pub(crate) fn users_part(conn: &Conn, lock: &str) -> String {
    let inner = format!(
        "SELECT {} FROM users WHERE tenant_id = $1 AND id IN ({}){lock}",
        USER_COLS.join(", "),
        bulk::texts(conn, 2)
    );
    bulk::json_rows(conn, &inner, USER_COLS, "id")
}

/// The lock [`users_by_ids_locked`] takes: none on SQLite (its one writer excludes the
/// others), `FOR UPDATE` in id order on PostgreSQL.
pub(crate) fn lock_in_id_order(conn: &Conn) -> &'static str {
    if bulk::sqlite(conn) {
        ""
    } else {
        " ORDER BY id FOR UPDATE"
    }
}

/// The users of `tenant` among `ids`, in id order, read as one value ([`bulk::json_rows`]);
/// `lock` ends the inner query.
async fn users_in(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[UserId],
    lock: &str,
) -> Result<Vec<User>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = users_part(conn, lock);
    let q = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(bulk::text_list(ids));
    bulk::fetch_rows(conn, q, USER_COLS)
        .await?
        .iter()
        .map(map_user)
        .collect()
}

pub async fn get_user_by_upn(conn: &mut Conn, tenant: TenantId, upn: &str) -> Result<Option<User>> {
    let r = sqlx::query("SELECT * FROM users WHERE tenant_id = $1 AND upn_lower = $2")
        .bind(tenant.to_string())
        .bind(upn.trim().to_lowercase())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map_user).transpose()
}

/// Ids of users by user principal name (any case), in one query per 1,000 names: (name as
/// stored lower-case, id).
///
/// With `begin` (SQLite, on a connection with no transaction open) the statement begins the
/// transaction first ([`crate::SQLITE_BEGIN`]), in the same round trip, and `begin` is set to
/// false; with no names it is left as it is and no statement runs.
pub async fn ids_by_upns(
    conn: &mut Conn,
    tenant: TenantId,
    upns: &[String],
    begin: &mut bool,
) -> Result<Vec<(String, UserId)>> {
    if upns.is_empty() {
        return Ok(Vec::new());
    }
    let sql = crate::begun(
        format!(
            "SELECT upn_lower, id FROM users WHERE tenant_id = $1 AND upn_lower IN ({})",
            bulk::texts(conn, 2)
        ),
        begin,
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(bulk::text_list(
            upns.iter().map(|u| u.trim().to_lowercase()),
        ))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((get_str(r, "upn_lower")?, get_id(r, "id")?)))
        .collect()
}

/// Adds many members with a few multi-row statements (those already members are skipped);
/// `added_at` is `at` plus each one's position in microseconds, so they keep the given order.
pub async fn add_members(
    conn: &mut Conn,
    tenant: TenantId,
    group: GroupId,
    users: &[UserId],
    at: Time,
) -> Result<u64> {
    use bulk::Col::{Int, Text};
    if users.is_empty() {
        return Ok(0);
    }
    let base = us(at);
    let sql = format!(
        "INSERT INTO group_members (group_id, user_id, tenant_id, added_at) {} ON CONFLICT DO NOTHING",
        bulk::rows(conn, 1, &[Text, Text, Text, Int])
    );
    let rows = bulk::row_list(users.iter().enumerate().map(|(i, u)| {
        (
            group.to_string(),
            u.to_string(),
            tenant.to_string(),
            base + i as i64,
        )
    }));
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(rows)
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// The column a filter on `field` tests.
fn column(field: UserField) -> &'static str {
    match field {
        UserField::Id => "u.id",
        UserField::UserPrincipalName => "u.upn_lower",
        UserField::DisplayName => "u.display_name",
        UserField::GivenName => "u.given_name",
        UserField::Surname => "u.surname",
        UserField::Mail => "u.mail",
        UserField::UserType => "u.user_type",
        UserField::UsageLocation => "u.usage_location",
        UserField::AccountEnabled => "u.account_enabled",
        UserField::JobTitle => "u.job_title",
        UserField::Department => "u.department",
    }
}

/// A `LIKE … ESCAPE '\\'` pattern for text starting with `prefix`, ignoring case (compare with
/// `lower(column)`): its wildcards are escaped.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

enum Bind {
    Text(String),
    Int(i64),
}

/// Whether user `u` holds no license, as a condition: one probe of the primary key of
/// `unlicensed_users` (`$1` is the tenant in every query a filter is compiled into).
const UNLICENSED: &str =
    "EXISTS (SELECT 1 FROM unlicensed_users x WHERE x.tenant_id = $1 AND x.user_id = u.id)";

/// `f` as a condition on the users row `u`, its values pushed to `binds`. `binds` starts with
/// the tenant (`$1`), which some conditions use.
fn compile(f: &UserFilter, binds: &mut Vec<Bind>) -> String {
    let mut push = |b: Bind| {
        binds.push(b);
        format!("${}", binds.len())
    };
    match f {
        UserFilter::True => "1 = 1".into(),
        UserFilter::And(v) if v.is_empty() => "1 = 1".into(),
        UserFilter::Or(v) if v.is_empty() => "1 = 0".into(),
        UserFilter::And(v) => format!(
            "({})",
            v.iter()
                .map(|x| compile(x, binds))
                .collect::<Vec<_>>()
                .join(" AND ")
        ),
        UserFilter::Or(v) => format!(
            "({})",
            v.iter()
                .map(|x| compile(x, binds))
                .collect::<Vec<_>>()
                .join(" OR ")
        ),
        // Licensed: not listed as unlicensed. The first, uncorrelated test is answered once
        // per query (before any user is read) through the `(tenant_id, sku_id, user_id)` index
        // of assignments, so an organization without licenses answers at once.
        UserFilter::Not(x) if **x == UserFilter::LicenseCount(0) => format!(
            "(EXISTS (SELECT 1 FROM assignments a WHERE a.tenant_id = $1) AND NOT {})",
            UNLICENSED
        ),
        UserFilter::Not(x) => format!("(NOT {})", compile(x, binds)),
        UserFilter::Eq(field, Value::Null) => format!("{} IS NULL", column(*field)),
        UserFilter::Eq(UserField::UserPrincipalName, Value::Text(s)) => {
            format!("u.upn_lower = {}", push(Bind::Text(s.to_lowercase())))
        }
        // Ids are stored as lowercase hyphenated UUIDs: compare the column itself so the
        // primary-key index is used.
        UserFilter::Eq(UserField::Id, Value::Text(s)) => {
            format!("u.id = {}", push(Bind::Text(s.trim().to_lowercase())))
        }
        UserFilter::Eq(UserField::DisplayName, Value::Text(s)) => {
            format!("u.name_lower = {}", push(Bind::Text(name_key(s))))
        }
        // User types are stored as spelled by `UserType`: compare the column itself so that the
        // (tenant_id, user_type, name_lower, id) index serves "guests" in name order.
        UserFilter::Eq(UserField::UserType, Value::Text(s)) => {
            let wanted = s.to_lowercase();
            match UserType::ALL
                .iter()
                .find(|t| t.as_str().to_lowercase() == wanted)
            {
                Some(t) => format!("u.user_type = {}", push(Bind::Text(t.as_str().into()))),
                None => "1 = 0".into(),
            }
        }
        UserFilter::Eq(field, Value::Text(s)) => {
            format!(
                "lower({}) = {}",
                column(*field),
                push(Bind::Text(s.to_lowercase()))
            )
        }
        UserFilter::Eq(field, Value::Int(i)) => {
            format!("{} = {}", column(*field), push(Bind::Int(*i)))
        }
        UserFilter::StartsWith(UserField::DisplayName, prefix) => {
            format!(
                "u.name_lower LIKE {} ESCAPE '\\'",
                push(Bind::Text(like_prefix(prefix)))
            )
        }
        UserFilter::StartsWith(field, prefix) => {
            format!(
                "lower({}) LIKE {} ESCAPE '\\'",
                column(*field),
                push(Bind::Text(like_prefix(prefix)))
            )
        }
        UserFilter::HasSku(sku) => format!(
            "EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = u.id AND a.sku_id = {})",
            push(Bind::Text(sku.to_string()))
        ),
        // Unlicensed: listed in `unlicensed_users`, which the database keeps with every change
        // of users and licenses (migration 0017). The first, uncorrelated test is answered once
        // per query, before any user is read: when nobody is unlicensed, no user is read.
        UserFilter::LicenseCount(0) => format!(
            "(EXISTS (SELECT 1 FROM unlicensed_users x WHERE x.tenant_id = $1) AND {})",
            UNLICENSED
        ),
        // Another exact count (only Graph's `assignedLicenses/$count eq n` asks): counted from
        // the user's licenses through the `(user_id, sku_id)` key of assignments.
        UserFilter::LicenseCount(n) => {
            format!("(SELECT COUNT(*) FROM assignments a WHERE a.user_id = u.id) = {n}")
        }
        UserFilter::MemberOf(g) => format!(
            "EXISTS (SELECT 1 FROM group_members m WHERE m.user_id = u.id AND m.group_id = {})",
            push(Bind::Text(g.to_string()))
        ),
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    binds: Vec<Bind>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s),
            Bind::Int(i) => q.bind(i),
        };
    }
    q
}

/// One page of users in id order, after `after` (keyset paging).
pub async fn list_users(
    conn: &mut Conn,
    tenant: TenantId,
    filter: &UserFilter,
    after: Option<UserId>,
    limit: i64,
) -> Result<Vec<User>> {
    let mut binds = vec![Bind::Text(tenant.to_string())];
    let mut sql = String::from("SELECT u.* FROM users u WHERE u.tenant_id = $1");
    if let Some(a) = after {
        binds.push(Bind::Text(a.to_string()));
        sql.push_str(&format!(" AND u.id > ${}", binds.len()));
    }
    let cond = compile(filter, &mut binds);
    binds.push(Bind::Int(limit));
    sql.push_str(&format!(" AND {cond} ORDER BY u.id LIMIT ${}", binds.len()));
    let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(map_user).collect()
}

/// Where a user is in name order: their `(name_lower, id)`, the key that
/// [`list_users_by_name`] and [`search_users`] page after. `None` if the user is gone.
pub async fn name_cursor(
    conn: &mut Conn,
    tenant: TenantId,
    id: UserId,
) -> Result<Option<(String, UserId)>> {
    let r = sqlx::query("SELECT name_lower FROM users WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.map(|r| Ok((get_str(&r, "name_lower")?, id))).transpose()
}

/// `AND` conditions for "after `(name_lower, id)`" in name order, with `start` as the lowest
/// name the range may begin at: the `>=` bound starts the index range, the rest skips the
/// ties already shown.
fn after_name(
    sql: &mut String,
    binds: &mut Vec<Bind>,
    start: Option<&str>,
    after: Option<(&str, UserId)>,
) {
    let lo = match (start, after) {
        (Some(s), Some((n, _))) => Some(if n > s { n } else { s }),
        (s, a) => s.or(a.map(|(n, _)| n)),
    };
    if let Some(lo) = lo {
        binds.push(Bind::Text(lo.to_string()));
        sql.push_str(&format!(" AND u.name_lower >= ${}", binds.len()));
    }
    if let Some((name, id)) = after {
        binds.push(Bind::Text(name.to_string()));
        let n = binds.len();
        binds.push(Bind::Text(id.to_string()));
        sql.push_str(&format!(
            " AND (u.name_lower > ${n} OR (u.name_lower = ${n} AND u.id > ${}))",
            n + 1
        ));
    }
}

/// The most unlicensed users that [`list_users_by_name`] reads from `unlicensed_users` and
/// sorts itself; above it, users are read in name order and each checked.
const FEW_UNLICENSED: i64 = 2000;

/// One page of users in name order, case-insensitive (`name_lower`, ties by id), after the
/// user at `after` (a [`name_cursor`]). Keyset paging over the `(tenant_id, name_lower, id)`
/// index (or `(tenant_id, user_type, name_lower, id)` for the user type), each user read
/// tested against the filter until the page is full. The filters of the Active users page
/// stay fast whatever share of users match: licensed users (`Not(LicenseCount(0))`) are
/// checked by one probe of `unlicensed_users` each, and unlicensed users (`LicenseCount(0)`),
/// when at most [`FEW_UNLICENSED`], are read from `unlicensed_users` and sorted here.
pub async fn list_users_by_name(
    conn: &mut Conn,
    tenant: TenantId,
    filter: &UserFilter,
    after: Option<(&str, UserId)>,
    limit: i64,
) -> Result<Vec<User>> {
    if *filter == UserFilter::LicenseCount(0) {
        let rows =
            sqlx::query("SELECT user_id FROM unlicensed_users WHERE tenant_id = $1 LIMIT $2")
                .bind(tenant.to_string())
                .bind(FEW_UNLICENSED + 1)
                .fetch_all(&mut *conn)
                .await?;
        if rows.len() as i64 <= FEW_UNLICENSED {
            let ids = rows
                .iter()
                .map(|r| get_id(r, "user_id"))
                .collect::<Result<Vec<UserId>>>()?;
            return among_by_name(conn, tenant, &ids, after, limit).await;
        }
    }
    let mut binds = vec![Bind::Text(tenant.to_string())];
    let mut sql = String::from("SELECT u.* FROM users u WHERE u.tenant_id = $1");
    after_name(&mut sql, &mut binds, None, after);
    let cond = compile(filter, &mut binds);
    binds.push(Bind::Int(limit));
    sql.push_str(&format!(
        " AND {cond} ORDER BY u.name_lower, u.id LIMIT ${}",
        binds.len()
    ));
    let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(map_user).collect()
}

/// The most holders of a product that [`holders_by_name`] sorts itself; above it, users are
/// read in name order and each checked for the product.
const FEW_HOLDERS: i64 = 2000;

/// Users holding `sku`, in name order after the user at `after` (a [`name_cursor`]), at most
/// `limit`. Fast whatever share of users hold the product: up to [`FEW_HOLDERS`] holders are
/// read through the `(tenant_id, sku_id, user_id)` index and sorted here; with more, the
/// `(tenant_id, name_lower, id)` index is read in order and each user checked through the
/// `(user_id, sku_id)` key of assignments, which finds a page after about
/// `limit × users ÷ holders` users.
pub async fn holders_by_name(
    conn: &mut Conn,
    tenant: TenantId,
    sku: SkuId,
    after: Option<(&str, UserId)>,
    limit: i64,
) -> Result<Vec<User>> {
    let rows = sqlx::query(
        "SELECT user_id FROM assignments WHERE tenant_id = $1 AND sku_id = $2 LIMIT $3",
    )
    .bind(tenant.to_string())
    .bind(sku.to_string())
    .bind(FEW_HOLDERS + 1)
    .fetch_all(&mut *conn)
    .await?;
    if rows.len() as i64 > FEW_HOLDERS {
        return list_users_by_name(conn, tenant, &UserFilter::HasSku(sku), after, limit).await;
    }
    let ids = rows
        .iter()
        .map(|r| get_id(r, "user_id"))
        .collect::<Result<Vec<UserId>>>()?;
    among_by_name(conn, tenant, &ids, after, limit).await
}

/// The users of `ids` (a few thousand at most), in name order after the user at `after`, at
/// most `limit`: read by id and sorted here.
async fn among_by_name(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[UserId],
    after: Option<(&str, UserId)>,
    limit: i64,
) -> Result<Vec<User>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT * FROM users WHERE tenant_id = $1 AND id IN ({})",
        bulk::texts(conn, 2)
    );
    let mut found: Vec<(String, User)> = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(bulk::text_list(ids))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((get_str(r, "name_lower")?, map_user(r)?)))
        .collect::<Result<_>>()?;
    // Byte order of the lower-cased names: the order of SQLite and of the C collation that
    // `name_lower` has on PostgreSQL.
    found.retain(|(n, u)| match after {
        Some((an, aid)) => (n.as_str(), u.id) > (an, aid),
        None => true,
    });
    found.sort_by(|(n1, u1), (n2, u2)| (n1, u1.id).cmp(&(n2, u2.id)));
    found.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(found.into_iter().map(|(_, u)| u).collect())
}

/// Up to this many users with a matching word are read from `user_words` and sorted by name;
/// more, and users are read in name order instead (see [`search_users_where`]).
const WORD_MATCHES: i64 = 2000;

/// The largest character: `prefix` followed by it is above every text that starts with
/// `prefix` (code point order, as in SQLite and in the C collation of `name_lower`).
const ABOVE: char = '\u{10FFFF}';

/// Users whose display name starts with `term` (case-insensitive, Unicode), or whose user name
/// does, in name order after the user at `after` (a [`name_cursor`]), at most `limit`; with
/// `holding`, only users who hold that product.
///
/// Index-backed at any size: one range over `(tenant_id, name_lower, id)` read in order that
/// stops after `limit` matches (a holder is checked through the `(user_id, sku_id)` key of
/// assignments), and one over `(tenant_id, upn_lower)`; the two pages are merged here.
pub async fn search_users(
    conn: &mut Conn,
    tenant: TenantId,
    term: &str,
    holding: Option<SkuId>,
    after: Option<(&str, UserId)>,
    limit: i64,
) -> Result<Vec<User>> {
    let filter = match holding {
        Some(sku) => UserFilter::HasSku(sku),
        None => UserFilter::True,
    };
    search_users_where(conn, tenant, term, &filter, after, limit).await
}

/// [`search_users`] for users who also match `filter` (tested on each user the ranges yield,
/// or part of the index range for the filters [`list_users_by_name`] names).
pub async fn search_users_where(
    conn: &mut Conn,
    tenant: TenantId,
    term: &str,
    filter: &UserFilter,
    after: Option<(&str, UserId)>,
    limit: i64,
) -> Result<Vec<User>> {
    let term = term.trim();
    if term.is_empty() {
        return Ok(Vec::new());
    }
    let name = name_key(term);
    let upn = term.to_lowercase();
    let mut found: Vec<(String, User)> = Vec::new();
    for column in ["name_lower", "upn_lower", "word"] {
        // No LIKE beside the range: PostgreSQL would misjudge how many rows it keeps and sort
        // every match instead of reading the index in order and stopping at `limit`.
        let lo = if column == "name_lower" { &name } else { &upn };
        let mut binds = vec![
            Bind::Text(tenant.to_string()),
            Bind::Text(format!("{lo}{ABOVE}")),
        ];
        let mut sql = if column == "word" {
            // Any word of the display name, or the mail address, by the (tenant_id, word)
            // key of user_words. Few matches (a surname): read them there and sort those
            // users. Many (a common first letter): read users in name order and keep those
            // with a matching word, which stops at `limit` soon.
            let few = sqlx::query(
                "SELECT user_id FROM user_words WHERE tenant_id = $1 AND word >= $2 AND word < $3 LIMIT $4",
            )
            .bind(tenant.to_string())
            .bind(lo.clone())
            .bind(format!("{lo}{ABOVE}"))
            .bind(WORD_MATCHES + 1)
            .fetch_all(&mut *conn)
            .await?;
            if few.is_empty() {
                continue;
            }
            if few.len() as i64 <= WORD_MATCHES {
                binds.pop();
                let mut marks = Vec::with_capacity(few.len());
                for r in &few {
                    binds.push(Bind::Text(get_str(r, "user_id")?));
                    marks.push(format!("${}", binds.len()));
                }
                format!(
                    "SELECT u.* FROM users u WHERE u.tenant_id = $1 AND u.id IN ({})",
                    marks.join(", ")
                )
            } else {
                binds.push(Bind::Text(lo.clone()));
                format!(
                    "SELECT u.* FROM users u WHERE u.tenant_id = $1 AND EXISTS (SELECT 1 FROM user_words w WHERE w.user_id = u.id AND w.tenant_id = $1 AND w.word < $2 AND w.word >= ${})",
                    binds.len()
                )
            }
        } else {
            format!("SELECT u.* FROM users u WHERE u.tenant_id = $1 AND u.{column} < $2")
        };
        if column == "word" {
            after_name(&mut sql, &mut binds, None, after);
        } else if column == "name_lower" {
            after_name(&mut sql, &mut binds, Some(lo), after);
        } else {
            binds.push(Bind::Text(lo.clone()));
            sql.push_str(&format!(" AND u.upn_lower >= ${}", binds.len()));
            after_name(&mut sql, &mut binds, None, after);
        }
        if *filter != UserFilter::True {
            let cond = compile(filter, &mut binds);
            sql.push_str(&format!(" AND {cond}"));
        }
        binds.push(Bind::Int(limit));
        sql.push_str(&format!(
            " ORDER BY u.name_lower, u.id LIMIT ${}",
            binds.len()
        ));
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
            .fetch_all(&mut *conn)
            .await?;
        for r in &rows {
            found.push((get_str(r, "name_lower")?, map_user(r)?));
        }
    }
    found.sort_by(|(n1, u1), (n2, u2)| (n1, u1.id).cmp(&(n2, u2.id)));
    found.dedup_by_key(|(_, u)| u.id);
    found.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(found.into_iter().map(|(_, u)| u).collect())
}

pub async fn count_users(conn: &mut Conn, tenant: TenantId, filter: &UserFilter) -> Result<i64> {
    let mut binds = vec![Bind::Text(tenant.to_string())];
    let cond = compile(filter, &mut binds);
    let sql = format!("SELECT COUNT(*) AS n FROM users u WHERE u.tenant_id = $1 AND {cond}");
    let row = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
        .fetch_one(&mut *conn)
        .await?;
    row.try_get::<i64, _>("n")
}

/// The organization's users counted up to `upto`: `min(users, upto)`. Reads at most `upto`
/// entries of the `(tenant_id, id)` index, whatever the organization's size (a full
/// `COUNT(*)` reads every user: 68 ms at 100,000 users on PostgreSQL).
pub async fn count_users_upto(conn: &mut Conn, tenant: TenantId, upto: i64) -> Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM (SELECT u.id FROM users u WHERE u.tenant_id = $1 ORDER BY u.tenant_id, u.id LIMIT $2) t",
    )
    .bind(tenant.to_string())
    .bind(upto)
    .fetch_one(&mut *conn)
    .await?;
    row.try_get::<i64, _>("n")
}

// ----- roles -----

pub async fn roles_of(conn: &mut Conn, user: UserId) -> Result<Vec<Role>> {
    let rows = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1")
        .bind(user.to_string())
        .fetch_all(&mut *conn)
        .await?;
    let mut out: Vec<Role> = rows
        .iter()
        .filter_map(|r| get_str(r, "role").ok().and_then(|s| Role::parse(&s)))
        .collect();
    out.sort();
    Ok(out)
}

pub async fn set_roles(
    conn: &mut Conn,
    tenant: TenantId,
    user: UserId,
    roles: &[Role],
) -> Result<()> {
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    for r in roles {
        sqlx::query("INSERT INTO user_roles (user_id, tenant_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(user.to_string())
            .bind(tenant.to_string())
            .bind(r.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Users of a tenant holding any of `roles`, for notices.
pub async fn users_with_roles(
    conn: &mut Conn,
    tenant: TenantId,
    roles: &[Role],
) -> Result<Vec<User>> {
    let names: Vec<String> = roles.iter().map(|r| format!("'{}'", r.as_str())).collect();
    // Role names are fixed identifiers from the enum above, not user input.
    let sql = format!(
        "SELECT DISTINCT u.* FROM users u JOIN user_roles r ON r.user_id = u.id WHERE u.tenant_id = $1 AND r.role IN ({}) ORDER BY u.upn_lower",
        names.join(", ")
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(map_user).collect()
}

/// How many enabled users of a tenant hold `role`.
pub async fn count_enabled_with_role(conn: &mut Conn, tenant: TenantId, role: Role) -> Result<i64> {
    let r = sqlx::query(
        "SELECT COUNT(*) AS n FROM users u JOIN user_roles r ON r.user_id = u.id
         WHERE u.tenant_id = $1 AND r.role = $2 AND u.account_enabled = 1",
    )
    .bind(tenant.to_string())
    .bind(role.as_str())
    .fetch_one(&mut *conn)
    .await?;
    get_i64(&r, "n")
}

// ----- groups -----

pub(crate) fn map_group(r: &AnyRow) -> Result<Group> {
    Ok(Group {
        id: get_id(r, "id")?,
        tenant_id: get_id(r, "tenant_id")?,
        display_name: get_str(r, "display_name")?,
        description: get_opt(r, "description")?,
        mail_nickname: get_opt(r, "mail_nickname")?,
        mail_enabled: get_bool(r, "mail_enabled")?,
        security_enabled: get_bool(r, "security_enabled")?,
        created_at: get_time(r, "created_at")?,
    })
}

pub async fn insert_group(conn: &mut Conn, g: &Group) -> Result<()> {
    sqlx::query(
        "INSERT INTO groups (id, tenant_id, display_name, description, mail_nickname, mail_enabled, security_enabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(g.id.to_string())
    .bind(g.tenant_id.to_string())
    .bind(&g.display_name)
    .bind(g.description.clone())
    .bind(g.mail_nickname.clone())
    .bind(flag(g.mail_enabled))
    .bind(flag(g.security_enabled))
    .bind(us(g.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn update_group(conn: &mut Conn, g: &Group) -> Result<()> {
    sqlx::query("UPDATE groups SET display_name = $3, description = $4, mail_nickname = $5, mail_enabled = $6, security_enabled = $7 WHERE tenant_id = $1 AND id = $2")
        .bind(g.tenant_id.to_string())
        .bind(g.id.to_string())
        .bind(&g.display_name)
        .bind(g.description.clone())
        .bind(g.mail_nickname.clone())
        .bind(flag(g.mail_enabled))
        .bind(flag(g.security_enabled))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn delete_group(conn: &mut Conn, tenant: TenantId, id: GroupId) -> Result<bool> {
    let r = sqlx::query("DELETE FROM groups WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn get_group(conn: &mut Conn, tenant: TenantId, id: GroupId) -> Result<Option<Group>> {
    let r = sqlx::query("SELECT * FROM groups WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    r.as_ref().map(map_group).transpose()
}

/// Groups of a tenant by id, in one query (ids not found are left out).
pub async fn groups_by_ids(
    conn: &mut Conn,
    tenant: TenantId,
    ids: &[GroupId],
) -> Result<Vec<Group>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT * FROM groups WHERE tenant_id = $1 AND id IN ({})",
        bulk::texts(conn, 2)
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(tenant.to_string())
        .bind(bulk::text_list(ids))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(map_group).collect()
}

/// One page of groups in id order; `name_prefix` filters on displayName (case-insensitive).
pub async fn list_groups(
    conn: &mut Conn,
    tenant: TenantId,
    name_prefix: Option<&str>,
    after: Option<GroupId>,
    limit: i64,
) -> Result<Vec<Group>> {
    let prefix = name_prefix.map(like_prefix);
    let rows = sqlx::query(
        "SELECT * FROM groups WHERE tenant_id = $1 AND ($2 IS NULL OR id > $2) AND ($3 IS NULL OR lower(display_name) LIKE $3 ESCAPE '\\') ORDER BY id LIMIT $4",
    )
    .bind(tenant.to_string())
    .bind(after.map(|a| a.to_string()))
    .bind(prefix)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(map_group).collect()
}

pub async fn count_groups(conn: &mut Conn, tenant: TenantId) -> Result<i64> {
    let r = sqlx::query("SELECT COUNT(*) AS n FROM groups WHERE tenant_id = $1")
        .bind(tenant.to_string())
        .fetch_one(&mut *conn)
        .await?;
    r.try_get::<i64, _>("n")
}

/// Adds a member; false if it was one already.
pub async fn add_member(
    conn: &mut Conn,
    tenant: TenantId,
    group: GroupId,
    user: UserId,
    at: Time,
) -> Result<bool> {
    let r = sqlx::query("INSERT INTO group_members (group_id, user_id, tenant_id, added_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
        .bind(group.to_string())
        .bind(user.to_string())
        .bind(tenant.to_string())
        .bind(us(at))
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn remove_member(conn: &mut Conn, group: GroupId, user: UserId) -> Result<bool> {
    let r = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
        .bind(group.to_string())
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected() == 1)
}
