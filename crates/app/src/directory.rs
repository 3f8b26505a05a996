//! Users, groups, members and roles (DIR1, DIR2).

use crate::{Actor, App, AppError, AppResult, audit};
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::directory::{Group, User, UserField, UserFilter, Value};
use seatkeeper_domain::kinds::UserType;
use seatkeeper_domain::location::UsageLocation;
use seatkeeper_domain::roles::{Action, Role};
use seatkeeper_domain::{GroupId, TenantId, UserId};
use seatkeeper_store::directory as dir;
use seatkeeper_store::{Conn, assignments, subscriptions};
use serde_json::json;

/// Fields of a user to create or change; `None` leaves a field as it is (or unset on create).
/// `Some(None)` clears an optional field.
#[derive(Debug, Clone, Default)]
pub struct UserInput {
    pub user_principal_name: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<Option<String>>,
    pub surname: Option<Option<String>>,
    pub mail: Option<Option<String>>,
    pub mail_nickname: Option<Option<String>>,
    pub job_title: Option<Option<String>>,
    pub department: Option<Option<String>>,
    pub user_type: Option<String>,
    pub usage_location: Option<Option<String>>,
    pub account_enabled: Option<bool>,
    /// A password to set (Graph's `passwordProfile`); never stored in the user, never audited.
    pub password_profile: Option<crate::passwords::PasswordProfile>,
}

impl UserInput {
    /// Whether only the usage location is being changed (a License admin may do that).
    fn only_usage_location(&self) -> bool {
        let UserInput {
            user_principal_name,
            display_name,
            given_name,
            surname,
            mail,
            mail_nickname,
            job_title,
            department,
            user_type,
            usage_location: _,
            account_enabled,
            password_profile,
        } = self;
        user_principal_name.is_none()
            && display_name.is_none()
            && given_name.is_none()
            && surname.is_none()
            && mail.is_none()
            && mail_nickname.is_none()
            && job_title.is_none()
            && department.is_none()
            && user_type.is_none()
            && account_enabled.is_none()
            && password_profile.is_none()
    }
}

pub fn validate_upn(upn: &str) -> AppResult<String> {
    let upn = upn.trim();
    let ok = upn.len() <= 113
        && upn.split('@').count() == 2
        && upn.split('@').all(|p| !p.is_empty())
        && upn
            .rsplit('@')
            .next()
            .is_some_and(|d| d.contains('.') && !d.starts_with('.') && !d.ends_with('.'))
        && upn.split_once('@').is_some_and(|(local, domain)| {
            // Entra's user name characters (a guest's is like `ann_fabrikam.com#EXT#@…`).
            local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-+'#!^~".contains(c))
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        });
    if ok {
        Ok(upn.to_string())
    } else {
        Err(AppError::invalid(
            "invalidUserPrincipalName",
            format!(
                "userPrincipalName '{upn}' is not valid: use name@domain.tld: letters, digits and . _ - + ' # ! ^ ~ before the @, letters, digits, dots and hyphens after it (at most 113 characters)."
            ),
        ))
    }
}

fn text(field: &str, v: &str, max: usize) -> AppResult<String> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(|c| c.is_control()) {
        return Err(AppError::invalid(
            "invalidValue",
            format!("{field} must be 1 to {max} characters, without control characters."),
        ));
    }
    Ok(v.to_string())
}

fn opt_text(field: &str, v: &Option<String>, max: usize) -> AppResult<Option<String>> {
    match v {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => text(field, s, max).map(Some),
    }
}

fn user_type(v: &str) -> AppResult<UserType> {
    match v.to_ascii_lowercase().as_str() {
        "member" => Ok(UserType::Member),
        "guest" => Ok(UserType::Guest),
        _ => Err(AppError::invalid(
            "invalidUserType",
            format!("userType '{v}' is not valid: use \"Member\" or \"Guest\"."),
        )),
    }
}

pub fn usage_location(v: &Option<String>) -> AppResult<Option<String>> {
    match v {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => UsageLocation::parse(s)
            .map(|u| Some(u.to_string()))
            .map_err(|e| AppError::invalid("invalidUsageLocation", format!("usageLocation {e}."))),
    }
}

pub(crate) fn apply(u: &mut User, input: &UserInput) -> AppResult<()> {
    if let Some(v) = &input.user_principal_name {
        u.upn = validate_upn(v)?;
    }
    if let Some(v) = &input.display_name {
        u.display_name = text("displayName", v, 256)?;
    }
    if let Some(v) = &input.given_name {
        u.given_name = opt_text("givenName", v, 64)?;
    }
    if let Some(v) = &input.surname {
        u.surname = opt_text("surname", v, 64)?;
    }
    if let Some(v) = &input.mail {
        u.mail = match opt_text("mail", v, 254)? {
            Some(m) => Some(validate_upn(&m).map_err(|_| {
                AppError::invalid(
                    "invalidMail",
                    format!("mail '{m}' is not an e-mail address."),
                )
            })?),
            None => None,
        };
    }
    if let Some(v) = &input.mail_nickname {
        u.mail_nickname = opt_text("mailNickname", v, 64)?;
    }
    if let Some(v) = &input.job_title {
        u.job_title = opt_text("jobTitle", v, 128)?;
    }
    if let Some(v) = &input.department {
        u.department = opt_text("department", v, 64)?;
    }
    if let Some(v) = &input.user_type {
        u.user_type = user_type(v)?;
    }
    if let Some(v) = &input.usage_location {
        u.usage_location = usage_location(v)?;
    }
    if let Some(v) = input.account_enabled {
        u.account_enabled = v;
    }
    Ok(())
}

/// The audit log's snapshot of a user.
pub(crate) fn user_json(u: &User) -> serde_json::Value {
    json!({
        "id": u.id, "userPrincipalName": u.upn, "displayName": u.display_name, "mail": u.mail,
        "userType": u.user_type, "usageLocation": u.usage_location, "accountEnabled": u.account_enabled,
        "givenName": u.given_name, "surname": u.surname, "jobTitle": u.job_title, "department": u.department,
    })
}

fn group_json(g: &Group) -> serde_json::Value {
    json!({ "id": g.id, "displayName": g.display_name, "description": g.description, "mailNickname": g.mail_nickname,
            "securityEnabled": g.security_enabled, "mailEnabled": g.mail_enabled })
}

pub(crate) fn upn_taken(upn: &str) -> AppError {
    AppError::conflict(
        "userExists",
        format!(
            "Another object with the same value for property userPrincipalName already exists: {upn}."
        ),
    )
}

fn blank_user(tenant_id: TenantId, now: seatkeeper_domain::Time) -> User {
    User {
        id: UserId::new(),
        tenant_id,
        upn: String::new(),
        display_name: String::new(),
        given_name: None,
        surname: None,
        mail: None,
        mail_nickname: None,
        job_title: None,
        department: None,
        user_type: UserType::Member,
        usage_location: None,
        account_enabled: true,
        created_at: now,
    }
}

/// Builds the user that `input` creates, checking every field. Needs displayName and
/// userPrincipalName.
pub(crate) fn new_user(
    actor: &Actor,
    input: &UserInput,
    now: seatkeeper_domain::Time,
) -> AppResult<User> {
    let upn = input.user_principal_name.as_deref().ok_or_else(|| {
        AppError::invalid(
            "missingProperty",
            "userPrincipalName is required, e.g. \"adele@contoso.com\".",
        )
    })?;
    if input
        .display_name
        .as_deref()
        .is_none_or(|d| d.trim().is_empty())
    {
        return Err(AppError::invalid(
            "missingProperty",
            "displayName is required.",
        ));
    }
    let mut u = blank_user(actor.tenant_id, now);
    apply(&mut u, input)?;
    if u.mail.is_none() && u.user_type == UserType::Member {
        u.mail = Some(validate_upn(upn)?);
    }
    Ok(u)
}

/// Every problem of the fields `input` sets, each field checked on its own as [`apply`]
/// checks it (the required fields are the caller's to check): for a file of users, where
/// each row lists all its problems at once.
pub(crate) fn field_problems(input: &UserInput, now: seatkeeper_domain::Time) -> Vec<AppError> {
    let blank = UserInput::default();
    let one = |f: &dyn Fn(&mut UserInput)| {
        let mut i = blank.clone();
        f(&mut i);
        i
    };
    let singles = [
        one(&|i| i.user_principal_name = input.user_principal_name.clone()),
        one(&|i| i.display_name = input.display_name.clone()),
        one(&|i| i.given_name = input.given_name.clone()),
        one(&|i| i.surname = input.surname.clone()),
        one(&|i| i.mail = input.mail.clone()),
        one(&|i| i.mail_nickname = input.mail_nickname.clone()),
        one(&|i| i.job_title = input.job_title.clone()),
        one(&|i| i.department = input.department.clone()),
        one(&|i| i.user_type = input.user_type.clone()),
        one(&|i| i.usage_location = input.usage_location.clone()),
    ];
    let mut u = blank_user(TenantId::from(uuid::Uuid::nil()), now);
    singles
        .iter()
        .filter_map(|i| apply(&mut u, i).err())
        .collect()
}

/// Inserts a new user with `roles`, audited, inside the caller's transaction. A taken
/// userPrincipalName is a conflict that names it.
pub(crate) async fn insert_user(
    tx: &mut Conn,
    actor: &Actor,
    u: &User,
    roles: &[Role],
    now: seatkeeper_domain::Time,
) -> AppResult<()> {
    if dir::get_user_by_upn(tx, actor.tenant_id, &u.upn)
        .await?
        .is_some()
    {
        return Err(upn_taken(&u.upn));
    }
    dir::insert_user(tx, u).await.map_err(|e| {
        if seatkeeper_store::is_unique_violation(&e) {
            upn_taken(&u.upn)
        } else {
            e.into()
        }
    })?;
    if !roles.is_empty() {
        dir::set_roles(tx, actor.tenant_id, u.id, roles).await?;
    }
    audit::record(
        tx,
        actor,
        now,
        AuditAction::UserCreate,
        "user",
        u.id,
        format!("User {} created", u.upn),
        None,
        Some(user_json(u)),
    )
    .await?;
    Ok(())
}

// ----- Global admins are protected -----

/// What a use case is about to do to a user, as far as the Global admin rule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AdminChange {
    /// Change fields other than accountEnabled.
    Edit,
    /// Set accountEnabled to false.
    Disable,
    Delete,
    /// Take the Global admin role away.
    Demote,
}

impl AdminChange {
    /// Whether the change can leave the organization without an enabled Global admin.
    fn may_remove_admin(self) -> bool {
        !matches!(self, AdminChange::Edit)
    }
}

/// The one rule that protects Global admins, for every surface (Graph, REST, CLI): only a
/// Global admin may change, disable, delete or demote a Global admin, and the organization's
/// last enabled Global admin cannot be disabled, deleted or demoted.
///
/// Call it in the transaction of the change, before the change. For a change that may remove
/// an admin it first locks the tenant's row, so concurrent removals in one organization queue
/// and each counts the admins that the others left (PostgreSQL; SQLite write transactions are
/// serialized anyway); it then reads the user afresh.
pub(crate) async fn guard_admin_change(
    tx: &mut Conn,
    actor: &Actor,
    user: UserId,
    change: AdminChange,
) -> AppResult<()> {
    if change.may_remove_admin() {
        seatkeeper_store::tenants::lock(tx, actor.tenant_id).await?;
    }
    let Some(u) = dir::get_user(tx, actor.tenant_id, user).await? else {
        return Ok(());
    };
    if !dir::roles_of(tx, u.id).await?.contains(&Role::GlobalAdmin) {
        return Ok(());
    }
    if !actor.roles.contains(&Role::GlobalAdmin) {
        return Err(AppError::Forbidden(format!(
            "{} is a Global admin: only a Global admin may change, disable, delete or remove the role of a Global admin.",
            u.upn
        )));
    }
    if !(change.may_remove_admin() && u.account_enabled) {
        return Ok(());
    }
    let enabled = dir::count_enabled_with_role(tx, actor.tenant_id, Role::GlobalAdmin).await?;
    if enabled > 1 {
        return Ok(());
    }
    let what = match change {
        AdminChange::Disable => "cannot be disabled",
        AdminChange::Delete => "cannot be deleted",
        AdminChange::Demote | AdminChange::Edit => "keeps that role",
    };
    Err(AppError::conflict(
        "lastGlobalAdmin",
        format!(
            "{} is the organization's last enabled Global admin and {what}: make another enabled user Global admin first.",
            u.upn
        ),
    ))
}

/// Looks a user up by id or userPrincipalName.
/// How a membership change moved licenses, for its audit summary ("" when none moved).
fn licenses_followed(r: &crate::group_licensing::Reconciled) -> String {
    let n = |k: i64| format!("{k} license{}", if k == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    if r.assigned > 0 {
        parts.push(format!("{} given", n(r.assigned)));
    }
    if r.removed > 0 {
        parts.push(format!("{} removed", n(r.removed)));
    }
    if r.changed > 0 {
        parts.push(format!("{} changed", n(r.changed)));
    }
    if r.errors > 0 {
        parts.push("group licenses in error".to_string());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {}", parts.join(", "))
    }
}

pub async fn find_user(conn: &mut Conn, tenant: TenantId, key: &str) -> AppResult<User> {
    let found = match UserId::parse(key) {
        Some(id) => dir::get_user(conn, tenant, id).await?,
        None => dir::get_user_by_upn(conn, tenant, key).await?,
    };
    found.ok_or_else(|| AppError::not_found(format!("Resource '{key}' does not exist or one of its queried reference-property objects are not present.")))
}

pub async fn find_group(conn: &mut Conn, tenant: TenantId, id: &str) -> AppResult<Group> {
    let nf = || {
        AppError::not_found(format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ))
    };
    let gid = GroupId::parse(id).ok_or_else(nf)?;
    dir::get_group(conn, tenant, gid).await?.ok_or_else(nf)
}

/// L5: only a Global admin licenses guests, so only a Global admin may make a user who holds
/// licenses (directly or through a group that gives products) a guest. Errors: 403 naming the
/// user.
pub(crate) async fn check_becoming_guest(
    tx: &mut Conn,
    actor: &Actor,
    before: &User,
    after: &User,
) -> AppResult<()> {
    if !after.is_guest() || before.is_guest() || actor.can(Action::LicenseGuests) {
        return Ok(());
    }
    let holds = !assignments::of_user(tx, after.id).await?.is_empty()
        || !seatkeeper_store::group_licenses::grants_of_users(tx, &[after.id])
            .await?
            .is_empty();
    if holds {
        return Err(AppError::Forbidden(format!(
            "{} holds licenses (directly or through a group): only a Global admin can license guest users, so only a Global admin can make them a guest.",
            before.upn
        )));
    }
    Ok(())
}

/// Whether a user the people picker found ([`App::search_users_for_group`]) can be added to
/// the group by the admin searching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joining {
    /// A member already.
    Member,
    /// Can be added.
    Addable,
    /// A guest, the group gives licenses, and the admin is not a Global admin: only a Global
    /// admin licenses guests, so adding them would be refused (L6).
    GuestRefused,
}

impl App {
    /// Creates a user. Needs displayName and userPrincipalName.
    pub async fn create_user(&self, actor: &Actor, input: &UserInput) -> AppResult<User> {
        actor.require(Action::ManageDirectory)?;
        let now = self.now();
        let u = new_user(actor, input, now)?;
        let password = match &input.password_profile {
            Some(p) => Some(p.prepare().await?),
            None => None,
        };
        let (u, password) = (&u, &password);
        self.transact(move |tx| {
            Box::pin(async move {
                insert_user(tx, actor, u, &[], now).await?;
                if let Some(p) = password {
                    crate::passwords::store_password(tx, actor, u, p, now).await?;
                }
                Ok(())
            })
        })
        .await?;
        Ok(u.clone())
    }

    pub async fn get_user(&self, actor: &Actor, key: &str) -> AppResult<User> {
        let mut conn = self.read().await?;
        let u = find_user(&mut conn, actor.tenant_id, key).await?;
        if actor.user_id != Some(u.id) {
            actor.require(Action::Read)?;
        }
        Ok(u)
    }

    pub async fn update_user(
        &self,
        actor: &Actor,
        key: &str,
        input: &UserInput,
    ) -> AppResult<User> {
        if input.only_usage_location() {
            actor.require(Action::SetUsageLocation)?;
        } else {
            actor.require(Action::ManageDirectory)?;
        }
        let now = self.now();
        let change = if input.account_enabled == Some(false) {
            AdminChange::Disable
        } else {
            AdminChange::Edit
        };
        let password = match &input.password_profile {
            Some(p) => Some(p.prepare().await?),
            None => None,
        };
        let password = &password;
        self.transact(move |tx| {
            Box::pin(async move {
                let id = find_user(tx, actor.tenant_id, key).await?.id;
                guard_admin_change(tx, actor, id, change).await?;
                let before = find_user(tx, actor.tenant_id, &id.to_string()).await?;
                let mut u = before.clone();
                apply(&mut u, input)?;
                if u.upn.to_lowercase() != before.upn.to_lowercase()
                    && dir::get_user_by_upn(tx, actor.tenant_id, &u.upn)
                        .await?
                        .is_some()
                {
                    return Err(upn_taken(&u.upn));
                }
                check_becoming_guest(tx, actor, &before, &u).await?;
                if let Some(p) = password {
                    crate::passwords::store_password(tx, actor, &before, p, now).await?;
                }
                if u == before {
                    return Ok(u);
                }
                dir::update_user(tx, &u).await?;
                if before.account_enabled && !u.account_enabled {
                    // A disabled account's sessions end at once (its tokens are refused when used).
                    crate::sessions::end_sessions_of(tx, u.id).await?;
                    self.tell_admins_purchaser_left(tx, actor, &u, "was disabled", now)
                        .await?;
                }
                if !before.account_enabled && u.account_enabled {
                    self.purchaser_returned(tx, actor, &u, now).await?;
                }
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::UserUpdate,
                    "user",
                    u.id,
                    format!("User {} changed", u.upn),
                    Some(user_json(&before)),
                    Some(user_json(&u)),
                )
                .await?;
                Ok(u)
            })
        })
        .await
    }

    /// Deletes a user and frees their licenses (DIR2).
    pub async fn delete_user(&self, actor: &Actor, key: &str) -> AppResult<()> {
        actor.require(Action::ManageDirectory)?;
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let id = find_user(tx, actor.tenant_id, key).await?.id;
                // The tenant's row (for the Global admin rule), then the user's, then pools: the
                // same order as license changes, which lock users and pools.
                guard_admin_change(tx, actor, id, AdminChange::Delete).await?;
                let u = find_user(tx, actor.tenant_id, &id.to_string()).await?;
                dir::lock_user(tx, actor.tenant_id, u.id).await?;
                let held = assignments::of_user(tx, u.id).await?;
                for a in &held {
                    if assignments::delete(tx, a.id).await? {
                        subscriptions::release_seats(tx, a.pool_id, 1).await?;
                    }
                }
                seatkeeper_store::group_licenses::delete_sources_of_users(tx, &[u.id]).await?;
                self.tell_admins_purchaser_left(tx, actor, &u, "was deleted", now)
                    .await?;
                subscriptions::keep_deleted_purchaser(
                    tx,
                    actor.tenant_id,
                    u.id,
                    &u.display_name,
                    &u.upn,
                    now,
                )
                .await?;
                dir::delete_user(tx, actor.tenant_id, u.id).await?;
                let freed: Vec<String> = held
                    .iter()
                    .map(|a| self.catalog().part_number(a.sku_id))
                    .collect();
                let summary = if freed.is_empty() {
                    format!("User {} deleted", u.upn)
                } else {
                    format!(
                        "User {} deleted; licenses freed: {}",
                        u.upn,
                        freed.join(", ")
                    )
                };
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::UserDelete,
                    "user",
                    u.id,
                    summary,
                    Some(user_json(&u)),
                    None,
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    pub async fn list_users(
        &self,
        actor: &Actor,
        filter: &UserFilter,
        after: Option<UserId>,
        limit: i64,
    ) -> AppResult<Vec<User>> {
        actor.require(Action::Read)?;
        let mut conn = self.read().await?;
        Ok(dir::list_users(&mut conn, actor.tenant_id, filter, after, limit).await?)
    }

    /// The people picker ([`App::find_users`]) for adding members to `group`: each user found,
    /// and whether they can be added ([`Joining`]).
    pub async fn search_users_for_group(
        &self,
        actor: &Actor,
        group: &str,
        text: &str,
        limit: i64,
    ) -> AppResult<Vec<(User, Joining)>> {
        let g = self.get_group(actor, group).await?;
        let found = self.find_users(actor, text, limit).await?;
        if found.is_empty() {
            return Ok(Vec::new());
        }
        // The members among those found, by their ids.
        let among = UserFilter::And(vec![
            UserFilter::MemberOf(g.id),
            UserFilter::Or(
                found
                    .iter()
                    .map(|u| UserFilter::Eq(UserField::Id, Value::Text(u.id.to_string())))
                    .collect(),
            ),
        ]);
        let mut conn = self.read().await?;
        let members: std::collections::HashSet<UserId> =
            dir::list_users(&mut conn, actor.tenant_id, &among, None, found.len() as i64)
                .await?
                .into_iter()
                .map(|u| u.id)
                .collect();
        // The rule adding a member checks (L6): guests join a group that gives licenses only
        // by a Global admin's hand.
        let guests_refused = found.iter().any(|u| u.is_guest())
            && !actor.can(Action::LicenseGuests)
            && !seatkeeper_store::group_licenses::of_group(&mut conn, g.id)
                .await?
                .is_empty();
        Ok(found
            .into_iter()
            .map(|u| {
                let joining = if members.contains(&u.id) {
                    Joining::Member
                } else if guests_refused && u.is_guest() {
                    Joining::GuestRefused
                } else {
                    Joining::Addable
                };
                (u, joining)
            })
            .collect())
    }

    pub async fn count_users(&self, actor: &Actor, filter: &UserFilter) -> AppResult<i64> {
        actor.require(Action::Read)?;
        let mut conn = self.read().await?;
        Ok(dir::count_users(&mut conn, actor.tenant_id, filter).await?)
    }

    pub async fn user_roles(&self, actor: &Actor, key: &str) -> AppResult<(User, Vec<Role>)> {
        let mut conn = self.read().await?;
        let u = find_user(&mut conn, actor.tenant_id, key).await?;
        if actor.user_id != Some(u.id) {
            actor.require(Action::Read)?;
        }
        let roles = dir::roles_of(&mut conn, u.id).await?;
        Ok((u, roles))
    }

    /// Replaces a user's admin roles (Global admin only). The last enabled Global admin keeps
    /// the role.
    pub async fn set_user_roles(
        &self,
        actor: &Actor,
        key: &str,
        roles: &[Role],
    ) -> AppResult<Vec<Role>> {
        actor.require(Action::ManageTenant)?;
        let now = self.now();
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        let roles = &roles;
        self.transact(move |tx| {
            Box::pin(async move {
                let u = find_user(tx, actor.tenant_id, key).await?;
                let change = if roles.contains(&Role::GlobalAdmin) {
                    AdminChange::Edit
                } else {
                    AdminChange::Demote
                };
                guard_admin_change(tx, actor, u.id, change).await?;
                let before = dir::roles_of(tx, u.id).await?;
                if u.is_guest() && !roles.is_empty() {
                    return Err(AppError::invalid(
                        "guestRoles",
                        format!("{} is a guest; admin roles go to members only.", u.upn),
                    ));
                }
                dir::set_roles(tx, actor.tenant_id, u.id, roles).await?;
                let names = |r: &[Role]| r.iter().map(|x| x.as_str()).collect::<Vec<_>>();
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::UserRoles,
                    "user",
                    u.id,
                    format!("Roles of {} set to [{}]", u.upn, names(roles).join(", ")),
                    Some(json!(names(&before))),
                    Some(json!(names(roles))),
                )
                .await?;
                Ok(roles.clone())
            })
        })
        .await
    }

    // ----- groups -----

    pub async fn create_group(
        &self,
        actor: &Actor,
        display_name: &str,
        description: Option<String>,
        mail_nickname: Option<String>,
    ) -> AppResult<Group> {
        actor.require(Action::ManageDirectory)?;
        let now = self.now();
        let g = Group {
            id: GroupId::new(),
            tenant_id: actor.tenant_id,
            display_name: text("displayName", display_name, 256)?,
            description: opt_text("description", &description, 1024)?,
            mail_nickname: opt_text("mailNickname", &mail_nickname, 64)?,
            mail_enabled: false,
            security_enabled: true,
            created_at: now,
        };
        let g = &g;
        self.transact(move |tx| {
            Box::pin(async move {
                dir::insert_group(tx, g).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::GroupCreate,
                    "group",
                    g.id,
                    format!("Group '{}' created", g.display_name),
                    None,
                    Some(group_json(g)),
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(g.clone())
    }

    pub async fn get_group(&self, actor: &Actor, id: &str) -> AppResult<Group> {
        actor.require(Action::Read)?;
        let mut conn = self.read().await?;
        find_group(&mut conn, actor.tenant_id, id).await
    }

    pub async fn update_group(
        &self,
        actor: &Actor,
        id: &str,
        display_name: Option<String>,
        description: Option<Option<String>>,
    ) -> AppResult<Group> {
        actor.require(Action::ManageDirectory)?;
        let now = self.now();
        let (display_name, description) = (&display_name, &description);
        self.transact(move |tx| {
            Box::pin(async move {
                let before = find_group(tx, actor.tenant_id, id).await?;
                let mut g = before.clone();
                if let Some(n) = &display_name {
                    g.display_name = text("displayName", n, 256)?;
                }
                if let Some(d) = &description {
                    g.description = opt_text("description", d, 1024)?;
                }
                dir::update_group(tx, &g).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::GroupUpdate,
                    "group",
                    g.id,
                    format!("Group '{}' changed", g.display_name),
                    Some(group_json(&before)),
                    Some(group_json(&g)),
                )
                .await?;
                Ok(g)
            })
        })
        .await
    }

    pub async fn delete_group(&self, actor: &Actor, id: &str) -> AppResult<()> {
        actor.require(Action::ManageDirectory)?;
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let g = find_group(tx, actor.tenant_id, id).await?;
                // Graph refuses to delete a group that still gives licenses (L6).
                let products = seatkeeper_store::group_licenses::of_group(tx, g.id).await?;
                if !products.is_empty() {
                    let catalog = self.catalog();
                    return Err(AppError::invalid(
                        "groupHasLicenses",
                        format!(
                            "The group '{}' still has licenses assigned ({}): remove them from the group first (assignLicense with removeLicenses), then delete it.",
                            g.display_name,
                            products.iter().map(|l| catalog.part_number(l.sku_id)).collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                if seatkeeper_store::group_licenses::group_has_open_job(tx, g.id).await? {
                    return Err(AppError::conflict(
                        "groupProcessing",
                        format!(
                            "The group '{}' is still being processed (its members' licenses are changing): delete it when processing is complete.",
                            g.display_name
                        ),
                    ));
                }
                dir::delete_group(tx, actor.tenant_id, g.id).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::GroupDelete,
                    "group",
                    g.id,
                    format!("Group '{}' deleted", g.display_name),
                    Some(group_json(&g)),
                    None,
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    pub async fn list_groups(
        &self,
        actor: &Actor,
        name_prefix: Option<&str>,
        after: Option<GroupId>,
        limit: i64,
    ) -> AppResult<Vec<Group>> {
        actor.require(Action::Read)?;
        let mut conn = self.read().await?;
        Ok(dir::list_groups(&mut conn, actor.tenant_id, name_prefix, after, limit).await?)
    }

    pub async fn count_groups(&self, actor: &Actor) -> AppResult<i64> {
        actor.require(Action::Read)?;
        let mut conn = self.read().await?;
        Ok(dir::count_groups(&mut conn, actor.tenant_id).await?)
    }

    /// Adds a user to a group. Adding an existing member is a conflict, as in Graph.
    pub async fn add_group_member(&self, actor: &Actor, group: &str, user: &str) -> AppResult<()> {
        actor.require(Action::ManageDirectory)?;
        let now = self.now();
        self.transact(move |tx| Box::pin(async move {
            let g = find_group(tx, actor.tenant_id, group).await?;
            let u = find_user(tx, actor.tenant_id, user).await?;
            if u.is_guest() {
                crate::group_licensing::check_guests_joining(tx, actor, &g, std::slice::from_ref(&u.upn)).await?;
            }
            if !dir::add_member(tx, actor.tenant_id, g.id, u.id, now).await? {
                return Err(AppError::invalid("memberExists", "One or more added object references already exist for the following modified properties: 'members'."));
            }
            // The group's products follow the new member (L6).
            let r = self.reconcile_users(tx, actor.tenant_id, &[u.id], now).await?;
            audit::record(tx, actor, now, AuditAction::GroupMemberAdd, "group", g.id, format!("{} added to group '{}'{}", u.upn, g.display_name, licenses_followed(&r)), None, Some(json!({"userId": u.id}))).await?;
            Ok(())
        })).await
    }

    pub async fn remove_group_member(
        &self,
        actor: &Actor,
        group: &str,
        user: &str,
    ) -> AppResult<()> {
        actor.require(Action::ManageDirectory)?;
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let g = find_group(tx, actor.tenant_id, group).await?;
                let u = find_user(tx, actor.tenant_id, user).await?;
                if !dir::remove_member(tx, g.id, u.id).await? {
                    return Err(AppError::not_found(format!(
                        "{} is not a member of group '{}'.",
                        u.upn, g.display_name
                    )));
                }
                // Licenses only this group gave go (L6).
                let r = self
                    .reconcile_users(tx, actor.tenant_id, &[u.id], now)
                    .await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::GroupMemberRemove,
                    "group",
                    g.id,
                    format!(
                        "{} removed from group '{}'{}",
                        u.upn,
                        g.display_name,
                        licenses_followed(&r)
                    ),
                    Some(json!({"userId": u.id})),
                    None,
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    pub async fn group_members(
        &self,
        actor: &Actor,
        group: &str,
        after: Option<UserId>,
        limit: i64,
    ) -> AppResult<Vec<User>> {
        actor.require(Action::Read)?;
        let mut conn = self.read().await?;
        let g = find_group(&mut conn, actor.tenant_id, group).await?;
        Ok(dir::list_users(
            &mut conn,
            actor.tenant_id,
            &UserFilter::MemberOf(g.id),
            after,
            limit,
        )
        .await?)
    }
}
