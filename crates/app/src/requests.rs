//! License requests (REQ1–REQ6): end users blocked by the purchase policy request a license
//! (for themselves and colleagues); admins list, open, decide (directly or through a security
//! group) and share them for a recommendation by e-mail with signed single-use links; a job
//! purges them after the organization's retention.

use crate::directory::find_group;
use crate::licenses::{LicenseSpec, Remove, UserChange};
use crate::{Actor, App, AppError, AppResult, audit, mail};
use hmac::{Hmac, KeyInit, Mac};
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::catalog::Product;
use seatkeeper_domain::directory::{Group, User};
use seatkeeper_domain::kinds::{MailKind, UserType};
use seatkeeper_domain::requests::{
    self as rules, DecisionError, MAX_DECISION_USERS, MAX_LINK_EXPIRY_DAYS, MAX_OTHER_USERS,
    MAX_RETENTION_MONTHS, RequestStatus, Verdict, name_list,
};
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::selfservice::{Start, check_start};
use seatkeeper_domain::sources::SourceError;
use seatkeeper_domain::{DomainError, LicenseRequestId, PlanId, SkuId, TenantId, Time, UserId};
use seatkeeper_store::requests as store;
pub use seatkeeper_store::requests::{Filter, Link, Request, RequestUser, Settings};
use seatkeeper_store::{
    Conn, assignments, directory as dir, group_licenses as gl, outbox, tenants,
};
use serde_json::json;

/// The name of the share links' signing key among the deployment's secrets.
const LINK_SECRET: &str = "license-request-links";

/// The most recipients one share may have.
pub const MAX_RECIPIENTS: usize = 20;

/// The longest note, message, comment or subject (characters).
pub const MAX_TEXT: usize = 2000;

/// One user on a request as admins see it: who, what they hold now, and the decision.
#[derive(Debug, Clone)]
pub struct UserOnRequest {
    pub user_id: UserId,
    /// Their user name (the current one; the one on the request when the account is gone).
    pub upn: String,
    /// `None` when the account was deleted.
    pub user: Option<User>,
    /// The licenses they hold now.
    pub licenses: Vec<Assignment>,
    pub verdict: Option<Verdict>,
}

/// A request with everything its pane shows (REQ3): the users, their current licenses, the
/// recommendations and share links, and the decision.
#[derive(Debug, Clone)]
pub struct RequestDetail {
    pub request: Request,
    pub users: Vec<UserOnRequest>,
    /// Every share link (answered ones carry the recommendation), oldest first.
    pub links: Vec<Link>,
    /// The security group the approved users were added to.
    pub group: Option<Group>,
    /// The group sources of the users' licenses.
    pub sources: crate::group_licensing::NamedSources,
    /// Only in the answer to a decision: what it did not do that one might expect, e.g.
    /// "Ana Lee already has Microsoft 365 E3; nothing was assigned to them."
    pub notices: Vec<String>,
}

/// A page of requests.
#[derive(Debug, Clone)]
pub struct RequestPage {
    pub requests: Vec<Request>,
    /// How many match the filter in all.
    pub total: i64,
}

/// How approved users get their license (REQ4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignVia {
    /// Assigned directly, with every L5 check.
    Direct,
    /// By adding them to this security group (id or name), which carries the license through
    /// group-based licensing.
    Group(String),
}

/// An admin's decision on a request (REQ4).
#[derive(Debug, Clone)]
pub struct DecisionInput {
    /// Users to approve (ids or user names); with `deny`, every user on the request exactly once.
    pub approve: Vec<String>,
    pub deny: Vec<String>,
    /// The product to license with, when more than one could serve.
    pub sku_id: Option<SkuId>,
    /// Apps and services to turn off (direct assignment only).
    pub disabled_plans: Vec<PlanId>,
    pub via: AssignVia,
    /// Sent to every user on the request instead of the default text.
    pub message: Option<String>,
}

/// Whom to share a request with (REQ5).
#[derive(Debug, Clone)]
pub struct ShareInput {
    /// E-mail addresses (or user names) of users of the organization.
    pub recipients: Vec<String>,
    pub subject: Option<String>,
    pub message: Option<String>,
    /// The server's public address the links start with (`https://licenses.example.com`).
    pub base_url: String,
}

/// What an admin can choose from when deciding a request (REQ4): the products the
/// organization holds that serve it, with their free licenses, and the security groups that
/// carry one of them.
#[derive(Debug, Clone)]
pub struct DecisionOptions {
    /// (product, free licenses), the requested product first.
    pub products: Vec<(Product, i64)>,
    /// (group, the serving product it carries).
    pub groups: Vec<(Group, SkuId)>,
}

/// What an end user sees before requesting (REQ2): whether the organization uses its own
/// process, with its message and link.
#[derive(Debug, Clone)]
pub struct RequestProcess {
    pub use_organization_process: bool,
    pub message: Option<String>,
    pub documentation_url: Option<String>,
}

/// What a share link is worth (REQ5).
#[derive(Debug, Clone)]
pub enum LinkCheck {
    /// It works: the request as the recipient sees it.
    Valid(Box<SharedView>),
    /// The token was changed or is not one of ours.
    Tampered,
    /// It was used already (its recommendation is recorded).
    Used,
    /// It is past its expiry.
    Expired,
    /// The request was decided or no longer exists.
    Closed,
    /// The recipient's account was deleted or disabled since the request was shared.
    RecipientLeft,
}

/// A shared request as its recipient sees it on the recommendation page.
#[derive(Debug, Clone)]
pub struct SharedView {
    pub product: String,
    pub requester: String,
    pub users: Vec<String>,
    pub note: Option<String>,
    pub recipient: String,
    pub created_at: Time,
    pub expires_at: Time,
}

fn not_found(id: &str) -> AppError {
    AppError::not_found(format!(
        "There is no license request '{id}' in this organization: it may have been purged after the retention period. Open one from the list of requests."
    ))
}

/// A request id from a path or the CLI; anything else is a 404.
pub fn parse_id(id: &str) -> AppResult<LicenseRequestId> {
    LicenseRequestId::parse(id).ok_or_else(|| not_found(id))
}

fn text(field: &str, v: Option<&str>) -> AppResult<Option<String>> {
    let v = v.map(str::trim).filter(|v| !v.is_empty());
    if let Some(v) = v
        && v.chars().count() > MAX_TEXT
    {
        return Err(AppError::invalid(
            "textTooLong",
            format!("{field} is too long: at most {MAX_TEXT} characters."),
        ));
    }
    Ok(v.map(str::to_string))
}

/// Checks an http(s) documentation link.
fn check_url(v: &str) -> AppResult<()> {
    let lower = v.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty() && !host.starts_with('/') && !v.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(AppError::invalid(
            "invalidDocumentationUrl",
            format!(
                "documentationUrl '{v}' is not an http(s) address: give one like https://intranet.example.com/licenses."
            ),
        )),
    }
}

/// Where the user's e-mail goes.
fn address(u: &User) -> String {
    u.mail.clone().unwrap_or_else(|| u.upn.clone())
}

async fn find_user_opt(conn: &mut Conn, tenant: TenantId, key: &str) -> AppResult<Option<User>> {
    let key = key.trim();
    if let Some(id) = UserId::parse(key)
        && let Some(u) = dir::get_user(conn, tenant, id).await?
    {
        return Ok(Some(u));
    }
    Ok(dir::get_user_by_upn(conn, tenant, key).await?)
}

type HmacSha256 = Hmac<sha2::Sha256>;

fn signature(
    secret: &str,
    req: LicenseRequestId,
    to: UserId,
    link: uuid::Uuid,
    exp: i64,
) -> AppResult<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes())
        .map_err(|e| anyhow::anyhow!("signing key: {e}"))?;
    mac.update(format!("{req}|{to}|{link}|{exp}").as_bytes());
    Ok(mac)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A share link's token: `{request}.{recipient}.{link}.{expiry}.{signature}`, the signature an
/// HMAC-SHA256 over the four with the deployment's key.
pub fn sign_link(
    secret: &str,
    req: LicenseRequestId,
    to: UserId,
    link: uuid::Uuid,
    expires: Time,
) -> AppResult<String> {
    let exp = expires.timestamp();
    let mac = signature(secret, req, to, link, exp)?;
    Ok(format!(
        "{}.{}.{}.{exp}.{}",
        req.0.simple(),
        to.0.simple(),
        link.simple(),
        hex(&mac.finalize().into_bytes())
    ))
}

/// The parts of a token whose signature holds; `None` for anything else.
fn verify_link(secret: &str, token: &str) -> Option<(LicenseRequestId, UserId, uuid::Uuid, i64)> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [req, to, link, exp, sig] = parts.as_slice() else {
        return None;
    };
    let req = LicenseRequestId(uuid::Uuid::parse_str(req).ok()?);
    let to = UserId(uuid::Uuid::parse_str(to).ok()?);
    let link = uuid::Uuid::parse_str(link).ok()?;
    let exp: i64 = exp.parse().ok()?;
    let sig = unhex(sig)?;
    signature(secret, req, to, link, exp)
        .ok()?
        .verify_slice(&sig)
        .ok()?;
    Some((req, to, link, exp))
}

impl App {
    /// REQ2, REQ5, REQ6: the organization's request settings (Global reader and up).
    pub async fn request_settings(&self, actor: &Actor) -> AppResult<Settings> {
        actor.require(Action::ReadRequests)?;
        let mut conn = self.read().await?;
        Ok(store::settings(&mut conn, actor.tenant_id).await?)
    }

    /// Changes the organization's request settings (Global, License or User admin); audited.
    /// The message is required while the organization's own process is on; the link must be
    /// http(s).
    pub async fn set_request_settings(&self, actor: &Actor, s: Settings) -> AppResult<Settings> {
        actor.require(Action::ManageRequests)?;
        let mut s = s;
        s.message = text("message", s.message.as_deref())?;
        s.documentation_url = text("documentationUrl", s.documentation_url.as_deref())?;
        if let Some(u) = &s.documentation_url {
            check_url(u)?;
        }
        if s.use_organization_process && s.message.is_none() {
            return Err(AppError::invalid(
                "messageRequired",
                "message is required when useOrganizationProcess is on: write what users should do to get a license.",
            ));
        }
        if !(1..=MAX_LINK_EXPIRY_DAYS).contains(&s.link_expiry_days) {
            return Err(AppError::invalid(
                "invalidLinkExpiry",
                format!("linkExpiryDays must be 1 to {MAX_LINK_EXPIRY_DAYS}."),
            ));
        }
        if !(1..=MAX_RETENTION_MONTHS).contains(&s.retention_months) {
            return Err(AppError::invalid(
                "invalidRetention",
                format!("retentionMonths must be 1 to {MAX_RETENTION_MONTHS}."),
            ));
        }
        let now = self.now();
        let s = &s;
        self.transact(move |tx| {
            Box::pin(async move {
                let before = store::settings(tx, actor.tenant_id).await?;
                store::set_settings(tx, actor.tenant_id, s, now).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::RequestSettings,
                    "tenant",
                    actor.tenant_id,
                    format!(
                        "License request settings: own request process {}, links work {} days, requests kept {} months",
                        if s.use_organization_process { "on" } else { "off" },
                        s.link_expiry_days,
                        s.retention_months
                    ),
                    Some(settings_json(&before)),
                    Some(settings_json(s)),
                )
                .await?;
                Ok(s.clone())
            })
        })
        .await
    }

    /// REQ1: the signed-in end user, whom the purchase policy stops from buying `sku`, requests
    /// it for themselves and `others` (Members of the organization, by id or user name) with an
    /// optional note.
    ///
    /// Refusals: a Guest (403); the organization's own process is on (409
    /// `OrganizationRequestProcess`, with its message and link); the user may buy it (409
    /// `PurchaseAllowed`); others that are not Members (400 `invalidUsers`, each named); an open
    /// request for the product (409 `RequestAlreadyOpen`, with its id).
    pub async fn submit_request(
        &self,
        actor: &Actor,
        sku: SkuId,
        others: &[String],
        note: Option<&str>,
    ) -> AppResult<RequestDetail> {
        let me = actor.user_id.ok_or_else(|| {
            AppError::Forbidden(
                "Only a signed-in user can request a license for themselves.".into(),
            )
        })?;
        let catalog = self.catalog();
        let product = catalog
            .product(sku)
            .ok_or(DomainError::UnknownSku { sku_id: sku })?;
        let note = text("note", note)?;
        no_blanks("otherUserIds", others)?;
        if others.len() > MAX_OTHER_USERS {
            return Err(AppError::invalid(
                "tooManyUsers",
                format!(
                    "{} colleagues named; a request may name at most {MAX_OTHER_USERS}.",
                    others.len()
                ),
            ));
        }
        let now = self.now();
        let note = &note;
        let id = LicenseRequestId::new();
        let request = self
            .transact(move |tx| {
                Box::pin(async move {
                    if self.db.backend() == seatkeeper_store::Backend::Postgres {
                        dir::lock_user(tx, actor.tenant_id, me).await?;
                    }
                    let requester = self.may_request(tx, actor, me, product).await?;
                    let mut users = vec![RequestUser {
                        user_id: requester.id,
                        upn: requester.upn.clone(),
                        verdict: None,
                    }];
                    let mut bad = Vec::new();
                    for key in others.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
                        match find_user_opt(tx, actor.tenant_id, key).await? {
                            None => bad.push(format!("{key} (not a user of this organization)")),
                            Some(u) if u.user_type == UserType::Guest => {
                                bad.push(format!("{key} (a Guest; only Members can be named)"))
                            }
                            Some(u) => {
                                if !users.iter().any(|x| x.user_id == u.id) {
                                    users.push(RequestUser { user_id: u.id, upn: u.upn, verdict: None });
                                }
                            }
                        }
                    }
                    if !bad.is_empty() {
                        return Err(AppError::invalid(
                            "invalidUsers",
                            format!(
                                "Only Members of the organization can be named on a request: {}. Nothing was requested.",
                                name_list(&bad)
                            ),
                        ));
                    }
                    if let Some(open) = store::open_request(tx, actor.tenant_id, me, sku).await? {
                        return Err(AppError::ConflictWith {
                            code: "RequestAlreadyOpen",
                            message: format!(
                                "You already have an open request for {} ({open}): wait for your admin's decision.",
                                product.name
                            ),
                            detail: json!({"requestId": open}),
                        });
                    }
                    let r = Request {
                        id,
                        tenant_id: actor.tenant_id,
                        sku_id: sku,
                        requester_id: me,
                        requester_upn: requester.upn.clone(),
                        note: note.clone(),
                        status: RequestStatus::Pending,
                        created_at: now,
                        decided_at: None,
                        decided_by: None,
                        outcome: None,
                        decision_sku_id: None,
                        decision_message: None,
                        decision_group_id: None,
                        user_count: users.len() as i64,
                    };
                    store::insert(tx, &r, &users).await?;
                    let names: Vec<&str> = users.iter().map(|u| u.upn.as_str()).collect();
                    audit::record(
                        tx,
                        actor,
                        now,
                        AuditAction::RequestSubmit,
                        "licenseRequest",
                        id,
                        format!(
                            "{} requested {} for {}",
                            requester.upn,
                            product.sku_part_number,
                            names.join(", ")
                        ),
                        None,
                        Some(json!({"skuId": sku, "users": names, "note": note})),
                    )
                    .await?;
                    Ok(r)
                })
            })
            .await?;
        let mut conn = self.read().await?;
        self.detail(&mut conn, request).await
    }

    /// Whether the purchase policy stops `requester` from buying `product` (the same rule the
    /// purchase checks): a refusal by policy allows the request; a product they may buy is a
    /// 409 `PurchaseAllowed`; any other refusal is returned as it is.
    /// REQ1: whether the signed-in user may request `sku` now, before they fill in the form:
    /// the checks of [`App::submit_request`] up to the colleagues (a Guest, the organization's
    /// own process, a product they could buy, one nobody may buy themselves), with its errors.
    pub async fn check_may_request(&self, actor: &Actor, sku: SkuId) -> AppResult<()> {
        let me = actor.user_id.ok_or_else(|| {
            AppError::Forbidden(
                "Only a signed-in user can request a license for themselves.".into(),
            )
        })?;
        let catalog = self.catalog();
        let product = catalog
            .product(sku)
            .ok_or(DomainError::UnknownSku { sku_id: sku })?;
        let mut conn = self.read().await?;
        self.may_request(&mut conn, actor, me, product).await?;
        Ok(())
    }

    /// The requester, if they may request `product` (see [`App::check_may_request`]).
    async fn may_request(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        me: UserId,
        product: &Product,
    ) -> AppResult<User> {
        let requester = dir::get_user(tx, actor.tenant_id, me)
            .await?
            .ok_or_else(|| AppError::Unauthorized("Your account no longer exists.".into()))?;
        if requester.user_type == UserType::Guest {
            return Err(AppError::Forbidden(
                "Guest users cannot request licenses in this organization.".into(),
            ));
        }
        // In this order: a Guest, a product they hold, one they may buy, the organization's
        // own process (which only matters for a product they would otherwise request).
        if assignments::of_user(tx, requester.id)
            .await?
            .iter()
            .any(|a| a.sku_id == product.sku_id)
        {
            return Err(AppError::conflict(
                "AlreadyHeld",
                format!("You already have {}.", product.name),
            ));
        }
        self.check_request_allowed(tx, &requester, product).await?;
        let settings = store::settings(tx, actor.tenant_id).await?;
        if settings.use_organization_process {
            return Err(organization_process(&settings));
        }
        Ok(requester)
    }

    async fn check_request_allowed(
        &self,
        tx: &mut Conn,
        requester: &User,
        product: &Product,
    ) -> AppResult<()> {
        let policy = crate::policies::policy_value(tx, requester.tenant_id, product.sku_id).await?;
        let earlier = self
            .earlier_trial(tx, requester.tenant_id, requester.id, product.sku_id)
            .await?;
        match check_start(
            Start::Purchase,
            requester.user_type,
            product,
            policy,
            earlier,
            true,
        ) {
            Ok(()) => Err(AppError::conflict(
                "PurchaseAllowed",
                format!(
                    "Your organization lets you buy {} yourself: buy it under Buy a product instead of requesting it.",
                    product.name
                ),
            )),
            Err(e) if e.allows_request() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// REQ1: Members of the organization whose name or user name starts with `term` (at most
    /// `limit`), for a signed-in user to name colleagues on a request.
    pub async fn find_colleagues(
        &self,
        actor: &Actor,
        term: &str,
        limit: i64,
    ) -> AppResult<Vec<User>> {
        if actor.user_id.is_none() {
            return Err(AppError::Forbidden(
                "Only a signed-in user can request a license.".into(),
            ));
        }
        let term = term.trim();
        if term.is_empty() {
            return Ok(Vec::new());
        }
        let members = seatkeeper_domain::directory::UserFilter::Eq(
            seatkeeper_domain::directory::UserField::UserType,
            seatkeeper_domain::directory::Value::Text("Member".into()),
        );
        let mut conn = self.read().await?;
        Ok(dir::search_users_where(
            &mut conn,
            actor.tenant_id,
            term,
            &members,
            None,
            limit.clamp(1, 50),
        )
        .await?)
    }

    /// REQ1: the signed-in user's own requests, newest first.
    pub async fn my_requests(&self, actor: &Actor, top: i64, skip: i64) -> AppResult<RequestPage> {
        let me = actor.user_id.ok_or_else(|| {
            AppError::Forbidden("Only a signed-in user has requests of their own.".into())
        })?;
        let f = Filter {
            status: None,
            requester: Some(me),
        };
        let mut conn = self.read().await?;
        Ok(RequestPage {
            requests: store::list(&mut conn, actor.tenant_id, &f, top, skip).await?,
            total: store::count(&mut conn, actor.tenant_id, &f).await?,
        })
    }

    /// REQ3: the organization's requests, newest first, optionally only Pending or Completed
    /// (Global reader and up).
    pub async fn list_requests(
        &self,
        actor: &Actor,
        status: Option<RequestStatus>,
        top: i64,
        skip: i64,
    ) -> AppResult<RequestPage> {
        actor.require(Action::ReadRequests)?;
        let f = Filter {
            status,
            requester: None,
        };
        let mut conn = self.read().await?;
        Ok(RequestPage {
            requests: store::list(&mut conn, actor.tenant_id, &f, top, skip).await?,
            total: store::count(&mut conn, actor.tenant_id, &f).await?,
        })
    }

    /// REQ3: one request with its users, their current licenses, recommendations and decision.
    /// Admins (Global reader and up) see any; a requester sees their own (others are a 404).
    pub async fn get_request(&self, actor: &Actor, id: &str) -> AppResult<RequestDetail> {
        if actor.partner.is_some() {
            actor.require(Action::ReadRequests)?;
        }
        let rid = parse_id(id)?;
        let mut conn = self.read().await?;
        let r = store::get(&mut conn, actor.tenant_id, rid)
            .await?
            .ok_or_else(|| not_found(id))?;
        if !actor.can(Action::ReadRequests) && actor.user_id != Some(r.requester_id) {
            return Err(not_found(id));
        }
        self.detail(&mut conn, r).await
    }

    async fn detail(&self, conn: &mut Conn, r: Request) -> AppResult<RequestDetail> {
        let on = store::users_of(conn, r.id).await?;
        let ids: Vec<UserId> = on.iter().map(|u| u.user_id).collect();
        let found = dir::users_by_ids(conn, r.tenant_id, &ids).await?;
        let mut users = Vec::with_capacity(on.len());
        for u in on {
            let user = found.iter().find(|x| x.id == u.user_id).cloned();
            let licenses = if user.is_some() {
                assignments::of_user(conn, u.user_id).await?
            } else {
                Vec::new()
            };
            users.push(UserOnRequest {
                user_id: u.user_id,
                upn: user.as_ref().map(|x| x.upn.clone()).unwrap_or(u.upn),
                user,
                licenses,
                verdict: u.verdict,
            });
        }
        let links = store::links_of(conn, r.id).await?;
        let group = match r.decision_group_id {
            Some(g) => dir::get_group(conn, r.tenant_id, g).await?,
            None => None,
        };
        let sources = crate::group_licensing::named_sources(conn, r.tenant_id, &ids).await?;
        Ok(RequestDetail {
            request: r,
            users,
            links,
            group,
            sources,
            notices: Vec::new(),
        })
    }

    /// REQ4: approves and denies the users on a Pending request (every user in exactly one
    /// list). Approved users are licensed directly (every L5 check, all-or-nothing) or by
    /// joining a security group that carries a product serving the request; each user on the
    /// request is e-mailed the outcome. The request becomes Completed; deciding it again, or
    /// losing the race to another admin, is a 409 `RequestAlreadyDecided`.
    pub async fn decide_request(
        &self,
        actor: &Actor,
        id: &str,
        input: &DecisionInput,
    ) -> AppResult<RequestDetail> {
        actor.require(Action::ManageRequests)?;
        let rid = parse_id(id)?;
        let named = input.approve.len() + input.deny.len();
        if named > MAX_DECISION_USERS {
            return Err(AppError::invalid(
                "tooManyUsers",
                format!(
                    "approve and deny name {} users; a decision may name at most {}.",
                    rules::thousands(named),
                    rules::thousands(MAX_DECISION_USERS)
                ),
            ));
        }
        let message = text("message", input.message.as_deref())?;
        let message = &message;
        let now = self.now();
        let catalog = self.catalog();
        let catalog = &catalog;
        let (request, via_group, notices) = self
            .transact(move |tx| {
                Box::pin(async move {
                    let r = store::get(tx, actor.tenant_id, rid)
                        .await?
                        .ok_or_else(|| not_found(id))?;
                    if r.status != RequestStatus::Pending {
                        return Err(already_decided(&r));
                    }
                    let on = store::users_of(tx, rid).await?;
                    let approve = resolve(&on, &input.approve, "approve")?;
                    let deny = resolve(&on, &input.deny, "deny")?;
                    let ids: Vec<UserId> = on.iter().map(|u| u.user_id).collect();
                    let outcome = rules::check_decision(&ids, &approve, &deny)
                        .map_err(|e| decision_error(e, &on))?;
                    if !approve.is_empty() {
                        let present = dir::users_by_ids(tx, actor.tenant_id, &approve).await?;
                        let gone: Vec<&str> = on
                            .iter()
                            .filter(|u| approve.contains(&u.user_id) && !present.iter().any(|p| p.id == u.user_id))
                            .map(|u| u.upn.as_str())
                            .collect();
                        if !gone.is_empty() {
                            return Err(AppError::conflict(
                                "usersDeleted",
                                format!(
                                    "{} {} deleted after the request; deny {} instead.",
                                    name_list(&gone),
                                    if gone.len() == 1 { "was" } else { "were" },
                                    if gone.len() == 1 { "them" } else { "these users" },
                                ),
                            ));
                        }
                    }
                    let requested = catalog
                        .product(r.sku_id)
                        .ok_or(DomainError::UnknownSku { sku_id: r.sku_id })?;
                    let mut chosen: Option<SkuId> = None;
                    let mut group: Option<Group> = None;
                    if !approve.is_empty() {
                        match &input.via {
                            AssignVia::Direct => {
                                chosen = Some(self.direct_product(tx, actor, requested, input.sku_id).await?);
                            }
                            AssignVia::Group(key) => {
                                if !input.disabled_plans.is_empty() {
                                    return Err(AppError::invalid(
                                        "disabledPlansWithGroup",
                                        "The group decides which apps and services are on: leave disabledPlans empty when assigning through a group.",
                                    ));
                                }
                                let g = find_group(tx, actor.tenant_id, key).await?;
                                chosen = Some(group_product(tx, catalog, &g, requested, input.sku_id).await?);
                                group = Some(g);
                            }
                        }
                    }
                    let decided = store::Decision {
                        outcome,
                        decided_by: &actor.name,
                        decided_at: now,
                        sku_id: chosen,
                        message: message.as_deref(),
                        group_id: group.as_ref().map(|g| g.id),
                    };
                    // Guarded in the UPDATE: of two admins deciding at once, the second waits
                    // for the first to commit here and then finds the request decided.
                    if !store::complete(tx, actor.tenant_id, rid, &decided).await? {
                        return Err(already_decided(&r));
                    }
                    // Approved users who hold the requested or the chosen product already
                    // take no seat and join no group: the answer and their e-mail say so.
                    let mut already: Vec<(UserId, String)> = Vec::new();
                    let mut notices = Vec::new();
                    if let Some(sku) = chosen {
                        let people = dir::users_by_ids(tx, actor.tenant_id, &approve).await?;
                        for u in approve.iter().filter_map(|id| people.iter().find(|p| p.id == *id)) {
                            let held = assignments::of_user(tx, u.id).await?;
                            if let Some(a) = held.iter().find(|a| a.sku_id == sku || a.sku_id == r.sku_id) {
                                let name = catalog.product(a.sku_id).map(|p| p.name.clone()).unwrap_or_else(|| catalog.part_number(a.sku_id));
                                notices.push(format!("{} already has {name}; nothing was assigned to them.", u.display_name));
                                already.push((u.id, name));
                            }
                        }
                    }
                    let licensing: Vec<UserId> = approve.iter().filter(|u| !already.iter().any(|(a, _)| a == *u)).copied().collect();
                    if let Some(sku) = chosen.filter(|_| !licensing.is_empty()) {
                        let approve = &licensing;
                        self.check_free(tx, actor.tenant_id, sku, approve).await?;
                        match &group {
                            None => {
                                let spec = LicenseSpec { sku_id: sku, disabled_plans: input.disabled_plans.clone() };
                                crate::licenses::check_licenses(catalog, std::slice::from_ref(&spec))?;
                                let changes: Vec<UserChange> = approve
                                    .iter()
                                    .map(|u| UserChange {
                                        user: u.to_string(),
                                        add: vec![spec.clone()],
                                        remove: Remove::These(vec![]),
                                    })
                                    .collect();
                                self.apply_changes(tx, actor, &changes, now).await?;
                            }
                            Some(g) => {
                                let members = store::members_among(tx, g.id, approve).await?;
                                let joining: Vec<UserId> = approve.iter().filter(|u| !members.contains(u)).copied().collect();
                                self.license_through_group(tx, actor, g, approve, &joining, &on, now).await?;
                            }
                        }
                    }
                    for u in &on {
                        let v = if approve.contains(&u.user_id) { Verdict::Approve } else { Verdict::Deny };
                        store::set_verdict(tx, rid, u.user_id, v).await?;
                    }
                    let tenant_name = tenants::get(tx, actor.tenant_id).await?.map(|t| t.name).unwrap_or_default();
                    let licensed_with = chosen.and_then(|s| catalog.product(s)).map(|p| p.name.clone()).unwrap_or_else(|| requested.name.clone());
                    let people = dir::users_by_ids(tx, actor.tenant_id, &ids).await?;
                    for u in &people {
                        let approved = approve.contains(&u.id);
                        let held = already.iter().find(|(a, _)| *a == u.id).map(|(_, p)| p.as_str());
                        let c = mail::request_decided(&tenant_name, &requested.name, &licensed_with, approved, held, message.as_deref());
                        outbox::enqueue(
                            tx,
                            &mail::message(actor.tenant_id, Some(format!("request-decided:{rid}:{}", u.id)), MailKind::RequestDecided, &address(u), &c, now),
                        )
                        .await?;
                    }
                    let upn = |list: &[UserId]| -> Vec<String> {
                        list.iter().filter_map(|id| on.iter().find(|u| u.user_id == *id)).map(|u| u.upn.clone()).collect()
                    };
                    audit::record(
                        tx,
                        actor,
                        now,
                        AuditAction::RequestDecide,
                        "licenseRequest",
                        rid,
                        format!(
                            "Request for {} by {}: {}{}",
                            requested.sku_part_number,
                            r.requester_upn,
                            outcome.as_str(),
                            match (&group, chosen) {
                                (Some(g), _) => format!(", approved users added to group '{}'", g.display_name),
                                (None, Some(s)) => format!(", {} assigned directly", catalog.part_number(s)),
                                _ => String::new(),
                            }
                        ),
                        Some(json!({"status": "Pending"})),
                        Some(json!({
                            "status": "Completed", "outcome": outcome.as_str(),
                            "approved": upn(&approve), "denied": upn(&deny),
                            "skuId": chosen, "groupId": group.as_ref().map(|g| g.id), "message": message,
                            "alreadyLicensed": upn(&already.iter().map(|(u, _)| *u).collect::<Vec<_>>()),
                        })),
                    )
                    .await?;
                    let r = store::get(tx, actor.tenant_id, rid).await?.ok_or_else(|| not_found(id))?;
                    Ok((r, group.is_some() && !licensing.is_empty(), notices))
                })
            })
            .await?;
        if via_group {
            self.license_jobs_wake.notify_one();
        }
        let mut conn = self.read().await?;
        let mut d = self.detail(&mut conn, request).await?;
        d.notices = notices;
        Ok(d)
    }

    /// Adds `joining` to group `g` and processes the group licenses of `approve` right here, in
    /// the decision's transaction (locking the pools, taking the seats), so that approval
    /// through a group runs every L5 check as direct approval does: if any approved user cannot
    /// get the group's products (a plan conflict, a missing dependency, no usage location, no
    /// free seat), the decision is refused naming who and why, and the caller's transaction
    /// rolls back. Two approvals for the last seat serialize on the pool lock.
    #[allow(clippy::too_many_arguments)]
    async fn license_through_group(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        g: &Group,
        approve: &[UserId],
        joining: &[UserId],
        on: &[RequestUser],
        now: Time,
    ) -> AppResult<()> {
        if !joining.is_empty() {
            let guests: Vec<String> = dir::users_by_ids(tx, actor.tenant_id, joining)
                .await?
                .into_iter()
                .filter(|u| u.is_guest())
                .map(|u| u.upn)
                .collect();
            crate::group_licensing::check_guests_joining(tx, actor, g, &guests).await?;
            let added = dir::add_members(tx, actor.tenant_id, g.id, joining, now).await?;
            audit::record(
                tx,
                actor,
                now,
                AuditAction::GroupMemberAdd,
                "group",
                g.id,
                format!("{added} approved users added to group '{}'", g.display_name),
                None,
                Some(json!({"users": joining})),
            )
            .await?;
        }
        self.reconcile_users(tx, actor.tenant_id, approve, now)
            .await?;
        let failed: Vec<(UserId, SkuId, SourceError)> = gl::sources_of_users(tx, approve)
            .await?
            .into_iter()
            .filter(|s| s.group_id == g.id && s.state == "Error")
            .map(|s| {
                let e = s
                    .error
                    .as_deref()
                    .and_then(SourceError::parse)
                    .unwrap_or(SourceError::Other);
                (s.user_id, s.sku_id, e)
            })
            .collect();
        let Some((_, sku, first)) = failed.first().copied() else {
            return Ok(());
        };
        let upn = |id: &UserId| {
            on.iter()
                .find(|u| u.user_id == *id)
                .map(|u| u.upn.clone())
                .unwrap_or_else(|| id.to_string())
        };
        let mut users: Vec<UserId> = Vec::new();
        for (u, _, _) in &failed {
            if !users.contains(u) {
                users.push(*u);
            }
        }
        if first == SourceError::CountViolation {
            let short = failed
                .iter()
                .filter(|(_, _, e)| *e == SourceError::CountViolation)
                .map(|(u, _, _)| *u)
                .fold(Vec::new(), |mut v, u| {
                    if !v.contains(&u) {
                        v.push(u);
                    }
                    v
                });
            let needed = approve.len() as i64;
            let e = DomainError::NotEnoughLicenses {
                sku_id: sku,
                product: self.catalog().part_number(sku),
                needed,
                available: (needed - short.len() as i64).max(0),
            };
            return Err(AppError::conflict(e.code(), e.to_string()));
        }
        let mut reasons: Vec<String> = Vec::new();
        for u in &users {
            let why: Vec<&str> = failed
                .iter()
                .filter(|(x, _, _)| x == u)
                .map(|(_, _, e)| e.advice())
                .fold(Vec::new(), |mut v, a| {
                    if !v.contains(&a) {
                        v.push(a);
                    }
                    v
                });
            reasons.push(format!("{}: {}", upn(u), why.join(" ")));
        }
        let shown: Vec<String> = reasons.iter().take(10).cloned().collect();
        Err(AppError::conflict(
            match first {
                SourceError::MutuallyExclusiveViolation => "mutuallyExclusivePlans",
                SourceError::DependencyViolation => "planDependency",
                SourceError::ProhibitedInUsageLocationViolation => "usageLocationMissing",
                _ => "groupLicenseError",
            },
            format!(
                "Group '{}' cannot give {} to {}, so nothing was approved or changed. {}{}",
                g.display_name,
                self.catalog().part_number(sku),
                name_list(&users.iter().map(upn).collect::<Vec<_>>()),
                shown.join(" "),
                if reasons.len() > shown.len() {
                    format!(" … and {} more.", reasons.len() - shown.len())
                } else {
                    String::new()
                }
            ),
        ))
    }

    /// The product to assign directly: `given` (which must serve the request), else the one
    /// product the organization holds that serves it; with several, the admin chooses.
    async fn direct_product(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        requested: &Product,
        given: Option<SkuId>,
    ) -> AppResult<SkuId> {
        let catalog = self.catalog();
        let serving = rules::serving_products(&catalog, requested);
        let names = |list: &[&Product]| {
            list.iter()
                .map(|p| format!("{} ({})", p.sku_part_number, p.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(sku) = given
            && serving.iter().any(|p| p.sku_id == sku)
        {
            return Ok(sku);
        }
        let mut held = Vec::new();
        for p in serving {
            if let Some(pool) =
                seatkeeper_store::subscriptions::central_pool(tx, actor.tenant_id, p.sku_id).await?
                && pool.total > 0
            {
                held.push(p);
            }
        }
        if let Some(sku) = given {
            // Suggest only what the organization holds: anything else cannot be assigned.
            return Err(AppError::invalid(
                "productDoesNotServe",
                if held.is_empty() {
                    format!(
                        "{} does not include everything in {}, and the organization holds no product that does: buy {} first, or deny the request.",
                        catalog.part_number(sku),
                        requested.name,
                        requested.sku_part_number
                    )
                } else {
                    format!(
                        "{} does not include everything in {}: choose one the organization holds that does: {}.",
                        catalog.part_number(sku),
                        requested.name,
                        names(&held)
                    )
                },
            ));
        }
        match held.as_slice() {
            [] => Err(AppError::conflict(
                "noProductToAssign",
                format!(
                    "The organization holds no licenses of {} or of a product that includes it: buy some first, or deny the request.",
                    requested.name
                ),
            )),
            [one] => Ok(one.sku_id),
            many => Err(AppError::invalid(
                "chooseProduct",
                format!(
                    "More than one product the organization holds can serve this request: choose one with skuId: {}.",
                    names(many)
                ),
            )),
        }
    }

    /// Refuses approving more users than there are free licenses of `sku` (users who hold it
    /// already need none), saying how many are needed and free.
    async fn check_free(
        &self,
        tx: &mut Conn,
        tenant: TenantId,
        sku: SkuId,
        users: &[UserId],
    ) -> AppResult<()> {
        let catalog = self.catalog();
        let mut needed = 0i64;
        for u in users {
            if !assignments::of_user(tx, *u)
                .await?
                .iter()
                .any(|a| a.sku_id == sku)
            {
                needed += 1;
            }
        }
        if needed == 0 {
            return Ok(());
        }
        let pool = seatkeeper_store::subscriptions::central_pool(tx, tenant, sku).await?;
        let available = pool.map(|p| (p.total - p.assigned).max(0)).unwrap_or(0);
        if needed > available {
            // A conflict with the seats as they are now (409), as when another approval
            // takes the last seat while this one runs.
            let e = DomainError::NotEnoughLicenses {
                sku_id: sku,
                product: catalog.part_number(sku),
                needed,
                available,
            };
            return Err(AppError::conflict(e.code(), e.to_string()));
        }
        Ok(())
    }

    /// REQ4: the products and security groups an admin can license the approved users with
    /// (for the decision pane's choices); Global reader and up.
    pub async fn decision_options(&self, actor: &Actor, id: &str) -> AppResult<DecisionOptions> {
        actor.require(Action::ReadRequests)?;
        let rid = parse_id(id)?;
        let catalog = self.catalog();
        let mut conn = self.read().await?;
        let r = store::get(&mut conn, actor.tenant_id, rid)
            .await?
            .ok_or_else(|| not_found(id))?;
        let Some(requested) = catalog.product(r.sku_id) else {
            return Ok(DecisionOptions {
                products: Vec::new(),
                groups: Vec::new(),
            });
        };
        let mut products = Vec::new();
        let mut groups = Vec::new();
        for p in rules::serving_products(&catalog, requested) {
            if let Some(pool) =
                seatkeeper_store::subscriptions::central_pool(&mut conn, actor.tenant_id, p.sku_id)
                    .await?
                && pool.total > 0
            {
                products.push((p.clone(), (pool.total - pool.assigned).max(0)));
            }
            for g in store::groups_carrying(&mut conn, actor.tenant_id, p.sku_id, 200).await? {
                if let Some(g) = dir::get_group(&mut conn, actor.tenant_id, g).await?
                    && !groups.iter().any(|(x, _): &(Group, SkuId)| x.id == g.id)
                {
                    groups.push((g, p.sku_id));
                }
            }
        }
        groups.sort_by(|a, b| a.0.display_name.cmp(&b.0.display_name));
        Ok(DecisionOptions { products, groups })
    }

    /// REQ2: whether the signed-in user's organization uses its own request process, with its
    /// message and link (any signed-in user: the Request a license page shows it).
    pub async fn request_process(&self, actor: &Actor) -> AppResult<RequestProcess> {
        let mut conn = self.read().await?;
        let s = store::settings(&mut conn, actor.tenant_id).await?;
        Ok(RequestProcess {
            use_organization_process: s.use_organization_process,
            message: s.message,
            documentation_url: s.documentation_url,
        })
    }

    /// REQ5: e-mails a Pending request to users of the organization (by e-mail address or user
    /// name) with signed, single-use, expiring links to recommend approving or denying it. An
    /// address that is no user of the organization refuses the whole share (400, named).
    pub async fn share_request(
        &self,
        actor: &Actor,
        id: &str,
        input: &ShareInput,
    ) -> AppResult<RequestDetail> {
        actor.require(Action::ManageRequests)?;
        let rid = parse_id(id)?;
        no_blanks("recipients", &input.recipients)?;
        let recipients: Vec<&str> = input
            .recipients
            .iter()
            .map(|r| r.trim())
            .filter(|r| !r.is_empty())
            .collect();
        if recipients.is_empty() {
            return Err(AppError::invalid(
                "noRecipients",
                "Name at least one recipient: the e-mail address of a user of the organization.",
            ));
        }
        if recipients.len() > MAX_RECIPIENTS {
            return Err(AppError::invalid(
                "tooManyRecipients",
                format!(
                    "{} recipients; share with at most {MAX_RECIPIENTS} at a time.",
                    recipients.len()
                ),
            ));
        }
        let subject = text("subject", input.subject.as_deref())?;
        let message = text("message", input.message.as_deref())?;
        let (subject, message, recipients) = (&subject, &message, &recipients);
        let base = input.base_url.trim_end_matches('/').to_string();
        let base = &base;
        let now = self.now();
        let catalog = self.catalog();
        let catalog = &catalog;
        let candidate = crate::auth::random_secret("");
        let candidate = &candidate;
        let request = self
            .transact(move |tx| {
                Box::pin(async move {
                    let r = store::get(tx, actor.tenant_id, rid).await?.ok_or_else(|| not_found(id))?;
                    if r.status != RequestStatus::Pending {
                        return Err(already_decided(&r));
                    }
                    let mut found = Vec::new();
                    let mut bad = Vec::new();
                    for a in recipients.iter() {
                        match store::user_by_address(tx, actor.tenant_id, a).await? {
                            Some(u) => {
                                if let Some(u) = dir::get_user(tx, actor.tenant_id, u).await?
                                    && !found.iter().any(|x: &User| x.id == u.id)
                                {
                                    found.push(u);
                                }
                            }
                            None => bad.push(*a),
                        }
                    }
                    if !bad.is_empty() {
                        return Err(AppError::invalid(
                            "unknownRecipients",
                            format!(
                                "These addresses are not users of this organization: {}. Nothing was sent.",
                                name_list(&bad)
                            ),
                        ));
                    }
                    let settings = store::settings(tx, actor.tenant_id).await?;
                    let secret = store::secret(tx, LINK_SECRET, candidate, now).await?;
                    let expires = now + chrono::Duration::days(settings.link_expiry_days);
                    let on = store::users_of(tx, rid).await?;
                    let upns: Vec<String> = on.iter().map(|u| u.upn.clone()).collect();
                    let tenant_name = tenants::get(tx, actor.tenant_id).await?.map(|t| t.name).unwrap_or_default();
                    let product = catalog.product(r.sku_id).map(|p| p.name.clone()).unwrap_or_else(|| r.sku_id.to_string());
                    for u in &found {
                        let link = Link {
                            id: uuid::Uuid::new_v4(),
                            request_id: rid,
                            tenant_id: actor.tenant_id,
                            recipient_id: u.id,
                            recipient_upn: u.upn.clone(),
                            shared_by: actor.name.clone(),
                            shared_at: now,
                            expires_at: expires,
                            used_at: None,
                            verdict: None,
                            comment: None,
                        };
                        store::insert_link(tx, &link).await?;
                        let token = sign_link(&secret, rid, u.id, link.id, expires)?;
                        let url = format!("{base}/requests/recommend/{token}");
                        let approve_url = format!("{url}?recommend=approve");
                        let deny_url = format!("{url}?recommend=deny");
                        let c = mail::request_shared(&mail::SharedRequest {
                            tenant: &tenant_name,
                            product: &product,
                            requester: &r.requester_upn,
                            users: &upns,
                            note: r.note.as_deref(),
                            shared_by: &actor.name,
                            subject: subject.as_deref(),
                            message: message.as_deref(),
                            approve_url: &approve_url,
                            deny_url: &deny_url,
                            expires: &expires.format("%Y-%m-%d").to_string(),
                        });
                        outbox::enqueue(
                            tx,
                            &mail::message(actor.tenant_id, Some(format!("request-shared:{}", link.id)), MailKind::RequestShared, &address(u), &c, now),
                        )
                        .await?;
                    }
                    let names: Vec<&str> = found.iter().map(|u| u.upn.as_str()).collect();
                    audit::record(
                        tx,
                        actor,
                        now,
                        AuditAction::RequestShare,
                        "licenseRequest",
                        rid,
                        format!("Request for {} by {} shared with {}", catalog.part_number(r.sku_id), r.requester_upn, names.join(", ")),
                        None,
                        Some(json!({"recipients": names, "expiresAt": expires.to_rfc3339(), "subject": subject})),
                    )
                    .await?;
                    Ok(r)
                })
            })
            .await?;
        let mut conn = self.read().await?;
        self.detail(&mut conn, request).await
    }

    /// REQ5: what a share link is worth now; a valid one comes with the request as its
    /// recipient sees it. Needs no sign-in: the signed token is the authority.
    pub async fn check_share_link(&self, token: &str) -> AppResult<LinkCheck> {
        let mut conn = self.read().await?;
        Ok(match self.link_state(&mut conn, token).await? {
            Ok((_, view)) => LinkCheck::Valid(Box::new(view)),
            Err(c) => c,
        })
    }

    async fn link_state(
        &self,
        conn: &mut Conn,
        token: &str,
    ) -> AppResult<Result<(Link, SharedView), LinkCheck>> {
        let Some(secret) = store::get_secret(conn, LINK_SECRET).await? else {
            return Ok(Err(LinkCheck::Tampered));
        };
        let Some((rid, to, link_id, exp)) = verify_link(&secret, token) else {
            return Ok(Err(LinkCheck::Tampered));
        };
        let Some(link) = store::get_link(conn, link_id).await? else {
            // Signed by us but gone: its request was purged.
            return Ok(Err(LinkCheck::Closed));
        };
        if link.request_id != rid || link.recipient_id != to || link.expires_at.timestamp() != exp {
            return Ok(Err(LinkCheck::Tampered));
        }
        if link.used_at.is_some() {
            return Ok(Err(LinkCheck::Used));
        }
        if self.now() >= link.expires_at {
            return Ok(Err(LinkCheck::Expired));
        }
        let Some(r) = store::get_any(conn, rid).await? else {
            return Ok(Err(LinkCheck::Closed));
        };
        if r.status != RequestStatus::Pending {
            return Ok(Err(LinkCheck::Closed));
        }
        let recipient = seatkeeper_store::directory::get_user(conn, r.tenant_id, to).await?;
        if !recipient.is_some_and(|u| u.account_enabled) {
            return Ok(Err(LinkCheck::RecipientLeft));
        }
        let users = store::users_of(conn, rid).await?;
        let catalog = self.catalog();
        let view = SharedView {
            product: catalog
                .product(r.sku_id)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| r.sku_id.to_string()),
            requester: r.requester_upn.clone(),
            users: users.into_iter().map(|u| u.upn).collect(),
            note: r.note.clone(),
            recipient: link.recipient_upn.clone(),
            created_at: r.created_at,
            expires_at: link.expires_at,
        };
        Ok(Ok((link, view)))
    }

    /// REQ5: the recipient of a share link recommends approving or denying the request, with an
    /// optional comment. The link is spent (a second use, even a racing one, finds it used);
    /// a tampered, used or expired link changes nothing and says which it is.
    pub async fn recommend(
        &self,
        token: &str,
        verdict: Verdict,
        comment: Option<&str>,
    ) -> AppResult<Result<SharedView, LinkCheck>> {
        let comment = text("comment", comment)?;
        let comment = &comment;
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let (link, view) = match self.link_state(tx, token).await? {
                    Ok(v) => v,
                    Err(c) => return Ok(Err(c)),
                };
                if !store::use_link(tx, link.id, verdict, comment.as_deref(), now).await? {
                    return Ok(Err(LinkCheck::Used));
                }
                let actor = Actor {
                    tenant_id: link.tenant_id,
                    user_id: Some(link.recipient_id),
                    name: link.recipient_upn.clone(),
                    roles: vec![],
                    partner: None,
                };
                audit::record(
                    tx,
                    &actor,
                    now,
                    AuditAction::RequestRecommend,
                    "licenseRequest",
                    link.request_id,
                    format!(
                        "{} recommended {} the request for {} by {}",
                        link.recipient_upn,
                        if verdict == Verdict::Approve { "approving" } else { "denying" },
                        view.product,
                        view.requester
                    ),
                    None,
                    Some(json!({"recommendation": verdict.as_str(), "comment": comment, "linkId": link.id})),
                )
                .await?;
                Ok(Ok(view))
            })
        })
        .await
    }

    /// REQ6: deletes the requests older than their organization's retention, each with an
    /// audit entry saying that it existed and how it ended. Returns how many went, per
    /// retention (fewest months first; none when nothing went).
    pub async fn purge_requests(&self) -> AppResult<Vec<crate::jobs::PurgedRequests>> {
        let now = self.now();
        let tenants_list = {
            let mut conn = self.read().await?;
            store::tenants_with_requests(&mut conn).await?
        };
        let catalog = self.catalog();
        let catalog = &catalog;
        let mut purged: Vec<crate::jobs::PurgedRequests> = Vec::new();
        for tenant in tenants_list {
            loop {
                let n = self
                    .transact(move |tx| {
                        Box::pin(async move {
                            let settings = store::settings(tx, tenant).await?;
                            let before = rules::purge_before(now, settings.retention_months);
                            let old = store::older_than(tx, tenant, before, 200).await?;
                            let actor = Actor::system(tenant);
                            let mut n = 0u64;
                            for r in &old {
                                let users = store::users_of(tx, r.id).await?;
                                let links = store::links_of(tx, r.id).await?;
                                if !store::delete(tx, r.id).await? {
                                    continue;
                                }
                                n += 1;
                                let ended = match r.outcome {
                                    Some(o) => o.as_str(),
                                    None => "never decided",
                                };
                                audit::record(
                                    tx,
                                    &actor,
                                    now,
                                    AuditAction::RequestPurge,
                                    "licenseRequest",
                                    r.id,
                                    format!(
                                        "Request for {} by {} (made {}) purged after {} months; it ended: {ended}",
                                        catalog.part_number(r.sku_id),
                                        r.requester_upn,
                                        r.created_at.format("%Y-%m-%d"),
                                        settings.retention_months
                                    ),
                                    Some(json!({
                                        "skuId": r.sku_id, "requester": r.requester_upn,
                                        "createdAt": r.created_at.to_rfc3339(), "status": r.status.as_str(),
                                        "outcome": r.outcome.map(|o| o.as_str()),
                                        "decidedAt": r.decided_at.map(|t| t.to_rfc3339()), "decidedBy": r.decided_by,
                                        "users": users.iter().map(|u| json!({"userPrincipalName": u.upn, "decision": u.verdict.map(|v| v.as_str())})).collect::<Vec<_>>(),
                                        "recommendations": links.iter().filter(|l| l.used_at.is_some()).count(),
                                    })),
                                    None,
                                )
                                .await?;
                            }
                            Ok((n, old.len(), settings.retention_months))
                        })
                    })
                    .await?;
                if n.0 > 0 {
                    match purged.iter_mut().find(|p| p.retention_months == n.2) {
                        Some(p) => p.requests += n.0,
                        None => purged.push(crate::jobs::PurgedRequests {
                            retention_months: n.2,
                            requests: n.0,
                        }),
                    }
                }
                if n.1 < 200 || n.0 == 0 {
                    break;
                }
            }
        }
        purged.sort_by_key(|p| p.retention_months);
        Ok(purged)
    }
}

/// Refuses an empty entry in a list of names, naming its position (`otherUserIds[2] is
/// empty`): a blank left in a list is a mistake, not something to skip silently.
fn no_blanks(field: &str, list: &[String]) -> AppResult<()> {
    match list.iter().position(|v| v.trim().is_empty()) {
        Some(i) => Err(AppError::invalid(
            "emptyEntry",
            format!("{field}[{i}] is empty: remove it or give a user name or e-mail address."),
        )),
        None => Ok(()),
    }
}

fn settings_json(s: &Settings) -> serde_json::Value {
    json!({
        "useOrganizationProcess": s.use_organization_process,
        "message": s.message,
        "documentationUrl": s.documentation_url,
        "linkExpiryDays": s.link_expiry_days,
        "retentionMonths": s.retention_months,
    })
}

/// The 409 while the organization's own request process is on: its message and link.
fn organization_process(s: &Settings) -> AppError {
    let message = s.message.clone().unwrap_or_default();
    AppError::ConflictWith {
        code: "OrganizationRequestProcess",
        message: match &s.documentation_url {
            Some(u) => {
                format!("Your organization has its own license request process: {message} ({u})")
            }
            None => format!("Your organization has its own license request process: {message}"),
        },
        detail: json!({"message": message, "documentationUrl": s.documentation_url}),
    }
}

fn already_decided(r: &Request) -> AppError {
    AppError::conflict(
        "RequestAlreadyDecided",
        format!(
            "This request was already decided{}{}: {}.",
            r.decided_by
                .as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default(),
            r.decided_at
                .map(|t| format!(" on {}", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default(),
            r.outcome.map(|o| o.as_str()).unwrap_or("Completed")
        ),
    )
}

/// The users named in a decision list (ids or user names of users on the request).
fn resolve(on: &[RequestUser], names: &[String], field: &str) -> AppResult<Vec<UserId>> {
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for n in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let id = UserId::parse(n)
            .filter(|id| on.iter().any(|u| u.user_id == *id))
            .or_else(|| {
                on.iter()
                    .find(|u| u.upn.eq_ignore_ascii_case(n))
                    .map(|u| u.user_id)
            });
        match id {
            Some(id) if !out.contains(&id) => out.push(id),
            Some(_) => {}
            None => unknown.push(n.to_string()),
        }
    }
    if !unknown.is_empty() {
        return Err(AppError::invalid(
            "usersNotOnRequest",
            format!(
                "{field} names users who are not on this request: {}. The users on it: {}.",
                name_list(&unknown),
                name_list(&on.iter().map(|u| u.upn.as_str()).collect::<Vec<_>>())
            ),
        ));
    }
    Ok(out)
}

fn decision_error(e: DecisionError, on: &[RequestUser]) -> AppError {
    let names = |ids: &[UserId]| {
        name_list(
            &ids.iter()
                .map(|id| {
                    on.iter()
                        .find(|u| u.user_id == *id)
                        .map(|u| u.upn.clone())
                        .unwrap_or_else(|| id.to_string())
                })
                .collect::<Vec<_>>(),
        )
    };
    match e {
        DecisionError::Missing(ids) => AppError::invalid(
            "undecidedUsers",
            format!(
                "Approve or deny every user on the request: {} is in neither list.",
                names(&ids)
            ),
        ),
        DecisionError::Both(ids) => AppError::invalid(
            "usersInBothLists",
            format!(
                "{} is in both approve and deny: put each user in one list.",
                names(&ids)
            ),
        ),
        DecisionError::NotOnRequest(ids) => AppError::invalid(
            "usersNotOnRequest",
            format!("{} is not on this request.", names(&ids)),
        ),
    }
}

/// The product a group carries that serves a request for `requested` (`given` when named).
async fn group_product(
    tx: &mut Conn,
    catalog: &seatkeeper_domain::catalog::Catalog,
    g: &Group,
    requested: &Product,
    given: Option<SkuId>,
) -> AppResult<SkuId> {
    if !g.security_enabled {
        return Err(AppError::invalid(
            "notSecurityGroup",
            format!(
                "'{}' is not a security group: licenses are assigned only through security groups.",
                g.display_name
            ),
        ));
    }
    let carried = gl::of_group(tx, g.id).await?;
    let serving: Vec<SkuId> = carried
        .iter()
        .map(|l| l.sku_id)
        .filter(|s| rules::serves(catalog, requested, *s) && given.is_none_or(|x| x == *s))
        .collect();
    match serving.as_slice() {
        [] => Err(AppError::invalid(
            "groupCarriesNoProduct",
            match given {
                Some(s) => format!(
                    "Group '{}' does not carry {}: assign it to the group first, or choose another group.",
                    g.display_name,
                    catalog.part_number(s)
                ),
                None => format!(
                    "Group '{}' carries no product that serves a request for {}: assign {} (or a product that includes it) to the group first, or choose another group.",
                    g.display_name, requested.name, requested.sku_part_number
                ),
            },
        )),
        [one] => Ok(*one),
        many => Err(AppError::invalid(
            "chooseProduct",
            format!(
                "Group '{}' carries more than one product that serves this request: choose one with skuId: {}.",
                g.display_name,
                many.iter()
                    .map(|s| catalog.part_number(*s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_link_verifies_and_any_change_breaks_it() {
        let (req, to, link) = (LicenseRequestId::new(), UserId::new(), uuid::Uuid::new_v4());
        let exp = chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        let token = sign_link("secret-1", req, to, link, exp).unwrap();
        assert_eq!(
            verify_link("secret-1", &token),
            Some((req, to, link, 1_900_000_000))
        );
        assert_eq!(verify_link("secret-2", &token), None, "another key");
        let parts: Vec<&str> = token.split('.').collect();
        for i in 0..5 {
            let mut changed: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
            changed[i] = if i == 3 {
                "1900000001".into()
            } else {
                let mut c = changed[i].clone();
                let last = c.pop().unwrap();
                c.push(if last == 'a' { 'b' } else { 'a' });
                c
            };
            assert_eq!(
                verify_link("secret-1", &changed.join(".")),
                None,
                "part {i}"
            );
        }
        assert_eq!(verify_link("secret-1", "a.b.c"), None);
        assert_eq!(verify_link("secret-1", ""), None);
    }

    #[test]
    fn documentation_links_are_http_or_https() {
        assert!(check_url("https://intranet.example.com/licenses").is_ok());
        assert!(check_url("http://wiki/x").is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "intranet",
            "https:///x",
            "https://a b",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
