//! Partners: users of other organizations acting for a customer organization with the roles
//! its Global admin delegated to them there (`partner_roles`).

use crate::{Conn, Result, get_id, get_str, get_time, us};
use seatkeeper_domain::roles::Role;
use seatkeeper_domain::{TenantId, Time, UserId};
use sqlx::Row;

/// One partner of a customer organization with the roles delegated to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    pub user_id: UserId,
    pub upn: String,
    pub display_name: String,
    /// The partner's own organization.
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub roles: Vec<Role>,
    /// When the latest role was granted.
    pub granted_at: Time,
}

/// Replaces the roles `user` holds in `customer` with `roles` (none: the delegation ends).
pub async fn set_roles(
    conn: &mut Conn,
    customer: TenantId,
    user: UserId,
    roles: &[Role],
    at: Time,
) -> Result<()> {
    sqlx::query("DELETE FROM partner_roles WHERE customer_tenant_id = $1 AND partner_user_id = $2")
        .bind(customer.to_string())
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    for r in roles {
        sqlx::query(
            "INSERT INTO partner_roles (customer_tenant_id, partner_user_id, role, granted_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(customer.to_string())
        .bind(user.to_string())
        .bind(r.as_str())
        .bind(us(at))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The roles `user` holds in `customer` as a partner (empty: none).
pub async fn roles_of(conn: &mut Conn, customer: TenantId, user: UserId) -> Result<Vec<Role>> {
    let rows = sqlx::query(
        "SELECT role FROM partner_roles WHERE customer_tenant_id = $1 AND partner_user_id = $2 ORDER BY role",
    )
    .bind(customer.to_string())
    .bind(user.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut roles: Vec<Role> = rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>("role").ok())
        .filter_map(|s| Role::parse(&s))
        .collect();
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// The partners of `customer`, by user name.
pub async fn list(conn: &mut Conn, customer: TenantId) -> Result<Vec<Partner>> {
    let rows = sqlx::query(
        "SELECT p.partner_user_id, p.role, p.granted_at, u.upn, u.display_name, u.tenant_id AS home_id, t.name AS home_name
         FROM partner_roles p JOIN users u ON u.id = p.partner_user_id JOIN tenants t ON t.id = u.tenant_id
         WHERE p.customer_tenant_id = $1
         ORDER BY u.upn_lower, p.partner_user_id, p.role",
    )
    .bind(customer.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<Partner> = Vec::new();
    for r in &rows {
        let user_id: UserId = get_id(r, "partner_user_id")?;
        let role = Role::parse(&get_str(r, "role")?);
        let granted = get_time(r, "granted_at")?;
        match out.last_mut() {
            Some(p) if p.user_id == user_id => {
                p.roles.extend(role);
                p.granted_at = p.granted_at.max(granted);
            }
            _ => out.push(Partner {
                user_id,
                upn: get_str(r, "upn")?,
                display_name: get_str(r, "display_name")?,
                tenant_id: get_id(r, "home_id")?,
                tenant_name: get_str(r, "home_name")?,
                roles: role.into_iter().collect(),
                granted_at: granted,
            }),
        }
    }
    for p in &mut out {
        p.roles.sort();
        p.roles.dedup();
    }
    Ok(out)
}

/// Users of any organization with this user name (any case): (user, their organization).
pub async fn users_named(conn: &mut Conn, upn: &str) -> Result<Vec<(UserId, TenantId)>> {
    let rows =
        sqlx::query("SELECT id, tenant_id FROM users WHERE upn_lower = $1 ORDER BY tenant_id")
            .bind(upn.trim().to_lowercase())
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|r| Ok((get_id(r, "id")?, get_id(r, "tenant_id")?)))
        .collect()
}
