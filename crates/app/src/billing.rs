//! Cards, billing accounts and billing profiles (BILL1, BILL2).
//!
//! Every user manages their own cards (`/me/payment-methods`) and their own billing profile;
//! Global and Billing admins manage the organization's central account and its cards, and any
//! profile; a Global reader reads them (SPEC section 6). Cards go through the payment provider
//! ([`crate::payments`]); the number and the security code are never stored, logged, audited or
//! returned.

use crate::payments::{CardInput, Refusal};
use crate::views;
use crate::{Actor, App, AppError, AppResult, audit};
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::payment::CardProblem;
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::{BillingProfileId, PaymentMethodId, TenantId, Time, UserId};
use seatkeeper_store::billing as store;
pub use seatkeeper_store::billing::{Address, BillingAccount, BillingProfile, PaymentMethod};
use seatkeeper_store::{Conn, directory, subscriptions, tenants};
use serde_json::json;

/// Whose cards: the caller's own, or the organization's central account's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardOwner {
    /// The signed-in user's own cards (any user).
    Me,
    /// The organization's central account (Global or Billing admin; Global reader reads).
    Central,
}

/// An address as given; every field is required.
#[derive(Debug, Clone, Default)]
pub struct AddressInput {
    pub line1: Option<String>,
    pub city: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

/// A card to add. `Debug` hides the number and the security code.
#[derive(Debug, Clone)]
pub struct NewCard {
    pub card: CardInput,
    pub billing_address: AddressInput,
}

/// Changes to a card: expiry, name, address; the security code verifies it and is not stored.
#[derive(Clone, Default)]
pub struct CardPatch {
    pub expiry_month: Option<i64>,
    pub expiry_year: Option<i64>,
    pub name_on_card: Option<String>,
    pub billing_address: Option<AddressInput>,
    pub security_code: Option<String>,
}

impl std::fmt::Debug for CardPatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardPatch")
            .field("expiry_month", &self.expiry_month)
            .field("expiry_year", &self.expiry_year)
            .field("name_on_card", &self.name_on_card)
            .field("billing_address", &self.billing_address)
            .field("security_code", &self.security_code.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Changes to a billing profile.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub name: Option<String>,
    pub bill_to: Option<AddressInput>,
    pub invoice_email: Option<String>,
    /// `Some(None)` leaves the profile without a card.
    pub payment_method_id: Option<Option<String>>,
}

/// The 400 for a card field, with a code per field.
fn card_problem(p: CardProblem) -> AppError {
    let code = match p.field {
        "cardNumber" => "invalidCardNumber",
        "expiryMonth" | "expiryYear" => "invalidExpiry",
        "securityCode" => "invalidSecurityCode",
        _ => "invalidCard",
    };
    AppError::invalid(code, p.message)
}

fn refusal(r: Refusal) -> AppError {
    match r {
        Refusal::Declined(reason) => AppError::PaymentDeclined(reason),
        Refusal::Invalid(p) => card_problem(p),
    }
}

/// A required text field: trimmed, 1 to `max` characters, no control characters; each
/// problem said in its own words.
fn text(field: &str, v: Option<&str>, max: usize) -> AppResult<String> {
    let v = v.map(str::trim).unwrap_or_default();
    let problem = if v.is_empty() {
        format!("{field} is required: 1 to {max} characters.")
    } else if v.chars().count() > max {
        format!(
            "{field} must be at most {max} characters (it has {}).",
            v.chars().count()
        )
    } else if v.chars().any(char::is_control) {
        format!("{field} must be one line: remove line breaks and other control characters.")
    } else {
        return Ok(v.to_string());
    };
    Err(AppError::invalid("invalidProperty", problem))
}

/// Checks an address; `prefix` names it in messages (`billingAddress`, `billTo`).
pub fn address(prefix: &str, a: &AddressInput) -> AppResult<Address> {
    let field = format!("{prefix}.country");
    let given = a.country.as_deref().map(str::trim).unwrap_or_default();
    let country = if given.is_empty() {
        Err(format!(
            "{field} is required: a two-letter ISO 3166-1 alpha-2 country code, like US or DK."
        ))
    } else {
        seatkeeper_domain::location::UsageLocation::parse(given).map_err(|_| {
            let shown: String = given.chars().take(10).collect();
            format!(
                "{field} '{shown}' is not an ISO 3166-1 alpha-2 country code: use two letters, like US or DK."
            )
        })
    }
    .map_err(|m| AppError::invalid("invalidProperty", m))?;
    Ok(Address {
        line1: text(&format!("{prefix}.line1"), a.line1.as_deref(), 200)?,
        city: text(&format!("{prefix}.city"), a.city.as_deref(), 100)?,
        postal_code: text(
            &format!("{prefix}.postalCode"),
            a.postal_code.as_deref(),
            20,
        )?,
        country: country.to_string(),
    })
}

fn invoice_email(v: &str) -> AppResult<String> {
    let v = v.trim();
    let ok = v.len() <= 254
        && !v.chars().any(|c| c.is_whitespace() || c.is_control())
        && v.split_once('@').is_some_and(|(a, d)| {
            !a.is_empty()
                && d.contains('.')
                && !d.contains('@')
                && !d.starts_with('.')
                && !d.ends_with('.')
        });
    if !ok {
        return Err(AppError::invalid(
            "invalidProperty",
            "invoiceEmail must be an e-mail address, like billing@contoso.com.",
        ));
    }
    Ok(v.to_string())
}

/// A card in words: "Visa ending 4242".
pub(crate) fn card_words(m: &PaymentMethod) -> String {
    format!("{} ending {}", m.brand, m.last4)
}

/// What the audit log keeps of a card: brand, last four digits and expiry.
fn card_audit(m: &PaymentMethod) -> serde_json::Value {
    json!({"brand": m.brand, "last4": m.last4, "expiryMonth": m.expiry_month, "expiryYear": m.expiry_year})
}

fn no_card(id: &str) -> AppError {
    AppError::not_found(format!(
        "There is no card {id} among the cards of this account: list your own with GET /api/v1/me/payment-methods (the organization's with GET /api/v1/billing/payment-methods)."
    ))
}

fn parse_method_id(id: &str) -> AppResult<PaymentMethodId> {
    PaymentMethodId::parse(id).ok_or_else(|| no_card(id))
}

/// The account owner a caller acts for, after the permission check.
fn owner_of(actor: &Actor, owner: CardOwner, change: bool) -> AppResult<Option<UserId>> {
    match owner {
        CardOwner::Me => actor.user_id.map(Some).ok_or_else(|| {
            AppError::invalid(
                "noUser",
                "This token does not belong to a user: sign in as the user whose cards these are.",
            )
        }),
        CardOwner::Central => {
            actor.require(if change {
                Action::ManageBilling
            } else {
                Action::ReadBilling
            })?;
            Ok(None)
        }
    }
}

/// A stable id derived from `base` (the tenant's for the central account, the purchaser's for
/// theirs) and `salt`: an account that does not exist yet has the id it will get when it is
/// opened, so a read can show it and a later change can name it.
fn derived_id(base: uuid::Uuid, salt: u128) -> uuid::Uuid {
    uuid::Builder::from_random_bytes((base.as_u128() ^ salt).to_be_bytes()).into_uuid()
}

const ACCOUNT_SALT: u128 = 0x6163_636f_756e_745f_6269_6c6c_696e_6721;
const PROFILE_SALT: u128 = 0x7072_6f66_696c_655f_6269_6c6c_696e_6721;

/// The billing account of `owner` (None: the organization's central account) with its
/// profile as it is, or as it would be opened (with defaults: the purchaser's display name and
/// e-mail or the organization's name, and the organization's currency) and `false`. Writes
/// nothing: a read shows an account that is opened on the first change.
pub(crate) async fn account_or_default(
    tx: &mut Conn,
    tenant: TenantId,
    owner: Option<UserId>,
    now: Time,
) -> AppResult<(BillingAccount, BillingProfile, bool)> {
    if let Some(a) = store::get_account(tx, tenant, owner).await?
        && let Some(p) = store::profile_of_account(tx, tenant, a.id).await?
    {
        return Ok((a, p, true));
    }
    let t = tenants::get(tx, tenant)
        .await?
        .ok_or_else(|| AppError::not_found("The organization does not exist."))?;
    let (name, email, base) = match owner {
        None => (t.name.clone(), String::new(), tenant.0),
        Some(u) => {
            let user = directory::get_user(tx, tenant, u)
                .await?
                .ok_or_else(|| AppError::not_found(format!("There is no user {u}.")))?;
            let email = user.mail.clone().unwrap_or_else(|| user.upn.clone());
            (user.display_name, email, u.0)
        }
    };
    let account = BillingAccount {
        id: derived_id(base, ACCOUNT_SALT).into(),
        tenant_id: tenant,
        owner,
        created_at: now,
    };
    let profile = BillingProfile {
        id: derived_id(base, PROFILE_SALT).into(),
        tenant_id: tenant,
        account_id: account.id,
        name,
        bill_to: Address::default(),
        currency: t.currency.clone(),
        invoice_email: email,
        payment_method_id: None,
        created_at: now,
    };
    Ok((account, profile, false))
}

/// The billing account of `owner` (None: the organization's central account) with its
/// profile, opened (and audited) with the defaults of [`account_or_default`] on the first
/// change that needs it. Safe under concurrency: two first requests end with one account.
pub(crate) async fn ensure_account(
    tx: &mut Conn,
    actor: &Actor,
    owner: Option<UserId>,
    now: Time,
) -> AppResult<(BillingAccount, BillingProfile)> {
    let tenant = actor.tenant_id;
    let (account, profile, exists) = account_or_default(tx, tenant, owner, now).await?;
    if exists {
        return Ok((account, profile));
    }
    if store::insert_account(tx, &account).await? {
        store::insert_profile(tx, &profile).await?;
        let whose = match owner {
            None => "the organization's central billing account".to_string(),
            Some(_) => format!("the billing account of {}", profile.name),
        };
        audit::record(
            tx,
            actor,
            now,
            AuditAction::BillingAccountCreate,
            "billing-account",
            account.id,
            format!("Opened {whose}"),
            None,
            Some(json!({"ownerId": owner, "profileId": profile.id, "currency": profile.currency})),
        )
        .await?;
        return Ok((account, profile));
    }
    // Created by a concurrent request that committed first.
    let a = store::get_account(tx, tenant, owner)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("billing account vanished")))?;
    let p = store::profile_of_account(tx, tenant, a.id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("billing profile missing")))?;
    Ok((a, p))
}

/// After a purchase with card `method`: the purchaser's billing profile, opened if needed,
/// takes the card's billing address when it has no address yet, and the name on the card
/// when its name is still the owner's display name (audited as a profile change). Its payment method is left as it is: the card stays free to be replaced
/// and deleted.
pub(crate) async fn fill_profile_from_card(
    tx: &mut Conn,
    actor: &Actor,
    owner: UserId,
    method: PaymentMethodId,
    now: Time,
) -> AppResult<()> {
    let (_, before) = ensure_account(tx, actor, Some(owner), now).await?;
    let Some(card) = store::get_method(tx, actor.tenant_id, Some(owner), method).await? else {
        return Ok(());
    };
    // The name the profile was opened with (the owner's display name): a name the owner
    // chose is kept.
    let default_name = directory::get_user(tx, actor.tenant_id, owner)
        .await?
        .map(|u| u.display_name);
    let mut after = before.clone();
    if after.bill_to == Address::default() {
        after.bill_to = card.address.clone();
        if !card.name_on_card.trim().is_empty() && Some(&after.name) == default_name.as_ref() {
            after.name = card.name_on_card.clone();
        }
    }
    if after == before {
        return Ok(());
    }
    store::update_profile(tx, &after).await?;
    let b = profile_view(tx, actor.tenant_id, &before).await?;
    let a = profile_view(tx, actor.tenant_id, &after).await?;
    let snap = |v: &views::BillingProfile| json!({"name": v.name, "billTo": v.bill_to});
    audit::record(
        tx,
        actor,
        now,
        AuditAction::BillingProfileUpdate,
        "billing-profile",
        after.id,
        format!(
            "Billing profile '{}' took the {} of the card {} used for a purchase",
            after.name,
            if after.name != before.name {
                "name and billing address"
            } else {
                "billing address"
            },
            card_words(&card)
        ),
        Some(snap(&b)),
        Some(snap(&a)),
    )
    .await?;
    Ok(())
}

async fn profile_view(
    tx: &mut Conn,
    tenant: TenantId,
    p: &BillingProfile,
) -> AppResult<views::BillingProfile> {
    let method = match p.payment_method_id {
        Some(id) => store::get_method_any_owner(tx, tenant, id).await?,
        None => None,
    };
    Ok(views::BillingProfile::new(p, method.as_ref()))
}

impl App {
    /// The cards of `owner`, oldest first.
    pub async fn payment_methods(
        &self,
        actor: &Actor,
        owner: CardOwner,
    ) -> AppResult<Vec<PaymentMethod>> {
        let owner = owner_of(actor, owner, false)?;
        let mut conn = self.read().await?;
        Ok(store::list_methods(&mut conn, actor.tenant_id, owner).await?)
    }

    /// Adds a card: checks the fields, has the provider tokenize it (a declined card is a 402
    /// `PaymentDeclined`, a wrong field a 400 naming it; nothing is stored either way), then
    /// stores brand, last four digits, expiry, name, address and the token; audited with brand
    /// and last four digits only.
    pub async fn add_payment_method(
        &self,
        actor: &Actor,
        owner: CardOwner,
        new: &NewCard,
    ) -> AppResult<PaymentMethod> {
        let owner = owner_of(actor, owner, true)?;
        let name_on_card = text("nameOnCard", Some(&new.card.name_on_card), 100)?;
        let addr = address("billingAddress", &new.billing_address)?;
        let now = self.now();
        let tokenized = self
            .payments
            .tokenize(&new.card, now)
            .await
            .map_err(refusal)?;
        let m = PaymentMethod {
            id: PaymentMethodId::new(),
            tenant_id: actor.tenant_id,
            owner,
            brand: tokenized.brand,
            last4: tokenized.last4,
            expiry_month: new.card.expiry_month,
            expiry_year: new.card.expiry_year,
            name_on_card,
            address: addr,
            provider_token: tokenized.token,
            created_at: now,
        };
        let m = &m;
        self.transact(move |tx| {
            Box::pin(async move {
                store::insert_method(tx, m).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::PaymentMethodAdd,
                    "payment-method",
                    m.id,
                    format!("Card {} added", card_words(m)),
                    None,
                    Some(card_audit(m)),
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(m.clone())
    }

    /// Changes a card's expiry, name or billing address. The security code is required and the
    /// provider verifies the card with it (and the new expiry); it is not stored.
    pub async fn update_payment_method(
        &self,
        actor: &Actor,
        owner: CardOwner,
        id: &str,
        patch: &CardPatch,
    ) -> AppResult<PaymentMethod> {
        let owner = owner_of(actor, owner, true)?;
        let id = parse_method_id(id)?;
        let Some(code) = patch.security_code.as_deref() else {
            return Err(AppError::invalid(
                "missingProperty",
                "securityCode is required to change a card: the 3 or 4 digits printed on it (not stored).",
            ));
        };
        let name = patch
            .name_on_card
            .as_deref()
            .map(|n| text("nameOnCard", Some(n), 100))
            .transpose()?;
        let addr = patch
            .billing_address
            .as_ref()
            .map(|a| address("billingAddress", a))
            .transpose()?;
        let now = self.now();
        let before = {
            let mut conn = self.read().await?;
            store::get_method(&mut conn, actor.tenant_id, owner, id)
                .await?
                .ok_or_else(|| no_card(&id.to_string()))?
        };
        let mut after = before.clone();
        if let Some(m) = patch.expiry_month {
            after.expiry_month = m;
        }
        if let Some(y) = patch.expiry_year {
            after.expiry_year = y;
        }
        if let Some(n) = name {
            after.name_on_card = n;
        }
        if let Some(a) = addr {
            after.address = a;
        }
        self.payments
            .verify(
                &before.provider_token,
                code,
                after.expiry_month,
                after.expiry_year,
                now,
            )
            .await
            .map_err(refusal)?;
        let (before, after) = (&before, &after);
        self.transact(move |tx| {
            Box::pin(async move {
                if !store::lock_method(tx, actor.tenant_id, after.id).await? {
                    return Err(no_card(&after.id.to_string()));
                }
                store::update_method(tx, after).await?;
                let mut changed = Vec::new();
                if (before.expiry_month, before.expiry_year)
                    != (after.expiry_month, after.expiry_year)
                {
                    changed.push("expiry");
                }
                if before.name_on_card != after.name_on_card {
                    changed.push("name on card");
                }
                if before.address != after.address {
                    changed.push("billing address");
                }
                let what = if changed.is_empty() {
                    "verified, nothing changed".to_string()
                } else {
                    format!("changed: {}", changed.join(", "))
                };
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::PaymentMethodUpdate,
                    "payment-method",
                    after.id,
                    format!("Card {} {what}", card_words(after)),
                    Some(card_audit(before)),
                    Some(card_audit(after)),
                )
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(after.clone())
    }

    /// Deletes a card, refused with a 409 `paymentMethodInUse` while something uses it (see
    /// [`store::payment_method_in_use`]).
    pub async fn delete_payment_method(
        &self,
        actor: &Actor,
        owner: CardOwner,
        id: &str,
    ) -> AppResult<()> {
        let owner = owner_of(actor, owner, true)?;
        let id = parse_method_id(id)?;
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let m = store::get_method(tx, actor.tenant_id, owner, id)
                    .await?
                    .ok_or_else(|| no_card(&id.to_string()))?;
                store::lock_method(tx, actor.tenant_id, id).await?;
                if let Some(user) = store::payment_method_in_use(tx, actor.tenant_id, id).await? {
                    let message = match user {
                        store::CardUse::Profile(name) => format!(
                            "The card {} is the payment method of the billing profile '{name}': choose another card there first, then delete this one.",
                            card_words(&m)
                        ),
                        store::CardUse::Subscription { commerce_id, sku_id } => {
                            let product = self
                                .catalog()
                                .product(sku_id)
                                .map(|p| p.name.clone())
                                .unwrap_or_else(|| sku_id.to_string());
                            let whose = if owner.is_some() { "your" } else { "the organization's" };
                            format!(
                                "Used by {whose} {product} subscription ({commerce_id}) — change its payment method first, then delete the card {}.",
                                card_words(&m)
                            )
                        }
                    };
                    return Err(AppError::conflict("paymentMethodInUse", message));
                }
                store::delete_method(tx, actor.tenant_id, id).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::PaymentMethodDelete,
                    "payment-method",
                    id,
                    format!("Card {} deleted", card_words(&m)),
                    Some(card_audit(&m)),
                    None,
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Charges one of `owner`'s cards through the payment provider, inside the caller's
    /// transaction (for purchases). A card that is not `owner`'s is a 404; a declined charge is
    /// an [`AppError::PaymentDeclined`] (HTTP 402 `PaymentDeclined`) saying why. The same
    /// `idempotency_key` charges once however often the transaction is retried. Returns the
    /// provider's charge reference.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn charge_payment_method(
        &self,
        tx: &mut Conn,
        tenant: TenantId,
        owner: UserId,
        method: PaymentMethodId,
        (amount_minor, valid_at): (i64, Time),
        currency: &str,
        description: &str,
        idempotency_key: &str,
    ) -> AppResult<String> {
        let m = store::get_method(tx, tenant, Some(owner), method)
            .await?
            .ok_or_else(|| no_card(&method.to_string()))?;
        // A stored card is good through its expiry month (BILL2): an expired one is never
        // charged. `valid_at` is when the charge was due (a renewal's term end, even when the
        // jobs run later), else now.
        seatkeeper_domain::payment::check_expiry(m.expiry_month, m.expiry_year, valid_at).map_err(
            |p| {
                card_problem(CardProblem {
                    message: format!("{}: {}", card_words(&m), p.message),
                    ..p
                })
            },
        )?;
        self.payments
            .charge(
                &m.provider_token,
                amount_minor,
                currency,
                description,
                idempotency_key,
            )
            .await
            .map_err(refusal)
    }

    /// Refunds `amount_minor` to one of `owner`'s cards through the payment provider, inside
    /// the caller's transaction; returns the provider's reference. A card that is gone is a
    /// 404; a refused refund a 402.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn refund_payment_method(
        &self,
        tx: &mut Conn,
        tenant: TenantId,
        owner: UserId,
        method: PaymentMethodId,
        amount_minor: i64,
        currency: &str,
        description: &str,
        idempotency_key: &str,
    ) -> AppResult<(String, String)> {
        let m = store::get_method(tx, tenant, Some(owner), method)
            .await?
            .ok_or_else(|| no_card(&method.to_string()))?;
        let reference = self
            .payments
            .refund(
                &m.provider_token,
                amount_minor,
                currency,
                description,
                idempotency_key,
            )
            .await
            .map_err(refusal)?;
        Ok((reference, card_words(&m)))
    }

    /// That `method` is one of `owner`'s cards (a trial that converts later names it now):
    /// else a 404 that says where to add one.
    pub(crate) async fn check_payment_method(
        &self,
        tx: &mut Conn,
        tenant: TenantId,
        owner: UserId,
        method: PaymentMethodId,
    ) -> AppResult<()> {
        store::get_method(tx, tenant, Some(owner), method)
            .await?
            .map(|_| ())
            .ok_or_else(|| no_card(&method.to_string()))
    }

    /// The words of `owner`'s cards `old` and `new` ("Visa ending 4242") when a subscription
    /// moves from `old` to `new`: `new` must be one of `owner`'s cards (else 404) and not
    /// expired (400), as a purchase needs.
    pub(crate) async fn card_for_subscription(
        &self,
        tx: &mut Conn,
        tenant: TenantId,
        owner: UserId,
        old: PaymentMethodId,
        new: PaymentMethodId,
        now: Time,
    ) -> AppResult<(String, String)> {
        let card = store::get_method(tx, tenant, Some(owner), new)
            .await?
            .ok_or_else(|| no_card(&new.to_string()))?;
        if let Err(p) =
            seatkeeper_domain::payment::check_expiry(card.expiry_month, card.expiry_year, now)
        {
            return Err(AppError::invalid(
                "cardExpired",
                format!(
                    "The card {} cannot be used: {} Update its expiry under Payment methods, or choose another card.",
                    card_words(&card),
                    p.message
                ),
            ));
        }
        let old = store::get_method_any_owner(tx, tenant, old)
            .await?
            .map(|m| card_words(&m))
            .unwrap_or_else(|| "a deleted card".into());
        Ok((old, card_words(&card)))
    }

    /// The caller's own billing profile, or the one they would get (with defaults) when they
    /// have none yet: a read opens nothing; the first change does.
    pub async fn my_billing_profile(&self, actor: &Actor) -> AppResult<views::BillingProfile> {
        let owner = owner_of(actor, CardOwner::Me, false)?;
        let now = self.now();
        let mut conn = self.read().await?;
        let (_, p, _) = account_or_default(&mut conn, actor.tenant_id, owner, now).await?;
        profile_view(&mut conn, actor.tenant_id, &p).await
    }

    /// Changes the caller's own billing profile.
    pub async fn update_my_billing_profile(
        &self,
        actor: &Actor,
        patch: &ProfilePatch,
    ) -> AppResult<views::BillingProfile> {
        let owner = owner_of(actor, CardOwner::Me, true)?;
        self.change_profile(actor, ProfileKey::Owner(owner), patch)
            .await
    }

    /// The organization's billing accounts with their profiles: the central one (opened on
    /// first need) first, then the purchasers'.
    pub async fn billing_accounts(&self, actor: &Actor) -> AppResult<Vec<views::BillingAccount>> {
        actor.require(Action::ReadBilling)?;
        let now = self.now();
        let mut conn = self.read().await?;
        let tx = &mut conn;
        let mut accounts = store::list_accounts(tx, actor.tenant_id).await?;
        let mut would_be = None;
        if !accounts.iter().any(|a| a.owner.is_none()) {
            // Not opened yet: shown as it will be opened by the first change.
            let (a, p, _) = account_or_default(tx, actor.tenant_id, None, now).await?;
            accounts.insert(0, a);
            would_be = Some(p);
        }
        let mut out = Vec::new();
        for a in accounts {
            let p = match &would_be {
                Some(p) if p.account_id == a.id => p.clone(),
                _ => match store::profile_of_account(tx, actor.tenant_id, a.id).await? {
                    Some(p) => p,
                    None => continue,
                },
            };
            // (userPrincipalName, display name, deleted) of the owner; a deleted owner as kept.
            let owner = match a.owner {
                Some(u) => match directory::get_user(tx, actor.tenant_id, u).await? {
                    Some(u) => (Some(u.upn), Some(u.display_name), Some(false)),
                    None => match subscriptions::deleted_purchasers(tx, actor.tenant_id, &[u])
                        .await?
                        .pop()
                    {
                        Some((_, name, upn)) => (Some(upn), Some(name), Some(true)),
                        None => (None, None, Some(true)),
                    },
                },
                None => (None, None, None),
            };
            out.push(views::BillingAccount {
                id: a.id.to_string(),
                kind: if a.owner.is_some() {
                    views::BillingAccountKind::Purchaser
                } else {
                    views::BillingAccountKind::Central
                },
                owner_id: a.owner.map(|u| u.to_string()),
                owner_user_principal_name: owner.0,
                owner_display_name: owner.1,
                owner_deleted: owner.2,
                profile: profile_view(tx, actor.tenant_id, &p).await?,
                created_date_time: crate::export::time(a.created_at),
            });
        }
        Ok(out)
    }

    /// One billing profile of the organization (Global admin, Billing admin, Global reader).
    pub async fn billing_profile(
        &self,
        actor: &Actor,
        id: &str,
    ) -> AppResult<views::BillingProfile> {
        actor.require(Action::ReadBilling)?;
        let mut conn = self.read().await?;
        let p = match load_profile(&mut conn, actor.tenant_id, id).await {
            Err(AppError::NotFound(m)) => {
                let (_, p, exists) =
                    account_or_default(&mut conn, actor.tenant_id, None, self.now()).await?;
                if exists || Some(p.id) != BillingProfileId::parse(id) {
                    return Err(AppError::NotFound(m));
                }
                p
            }
            other => other?,
        };
        profile_view(&mut conn, actor.tenant_id, &p).await
    }

    /// Changes any billing profile of the organization (Global or Billing admin). A card given
    /// must be one of the account's own: the central account's for the central profile, the
    /// purchaser's for theirs.
    pub async fn update_billing_profile(
        &self,
        actor: &Actor,
        id: &str,
        patch: &ProfilePatch,
    ) -> AppResult<views::BillingProfile> {
        actor.require(Action::ManageBilling)?;
        let id = BillingProfileId::parse(id).ok_or_else(|| no_profile(id))?;
        self.change_profile(actor, ProfileKey::Id(id), patch).await
    }

    async fn change_profile(
        &self,
        actor: &Actor,
        key: ProfileKey,
        patch: &ProfilePatch,
    ) -> AppResult<views::BillingProfile> {
        let name = patch
            .name
            .as_deref()
            .map(|n| text("name", Some(n), 256))
            .transpose()?;
        let bill_to = patch
            .bill_to
            .as_ref()
            .map(|a| address("billTo", a))
            .transpose()?;
        let email = patch
            .invoice_email
            .as_deref()
            .map(invoice_email)
            .transpose()?;
        let method = match &patch.payment_method_id {
            None => None,
            Some(None) => Some(None),
            Some(Some(m)) => Some(Some(parse_method_id(m)?)),
        };
        let now = self.now();
        let (name, bill_to, email, method) = (&name, &bill_to, &email, &method);
        self.transact(move |tx| {
            Box::pin(async move {
                let tenant = actor.tenant_id;
                let before = match key {
                    ProfileKey::Owner(owner) => ensure_account(tx, actor, owner, now).await?.1,
                    ProfileKey::Id(id) => match store::get_profile(tx, tenant, id).await? {
                        Some(p) => p,
                        None => {
                            // The central profile a read showed before it was opened.
                            let (_, p, exists) = account_or_default(tx, tenant, None, now).await?;
                            if exists || p.id != id {
                                return Err(no_profile(&id.to_string()));
                            }
                            ensure_account(tx, actor, None, now).await?.1
                        }
                    },
                };
                let account = store::get_account_by_id(tx, tenant, before.account_id)
                    .await?
                    .ok_or_else(|| no_profile(&before.id.to_string()))?;
                let mut after = before.clone();
                if let Some(n) = name {
                    after.name = n.clone();
                }
                if let Some(a) = bill_to {
                    after.bill_to = a.clone();
                }
                if let Some(e) = email {
                    after.invoice_email = e.clone();
                }
                if let Some(m) = method {
                    if let Some(m) = m {
                        let card = if store::lock_method(tx, tenant, *m).await? {
                            store::get_method(tx, tenant, account.owner, *m).await?
                        } else {
                            None
                        };
                        let Some(card) = card else {
                            return Err(no_card(&m.to_string()));
                        };
                        // A profile pays with a card that is good now (BILL2).
                        if m != &before.payment_method_id.unwrap_or_default()
                            && let Err(p) = seatkeeper_domain::payment::check_expiry(
                                card.expiry_month,
                                card.expiry_year,
                                now,
                            )
                        {
                            return Err(AppError::invalid(
                                "cardExpired",
                                format!(
                                    "The card {} cannot be used: {} Update its expiry under Payment methods, or choose another card.",
                                    card_words(&card),
                                    p.message
                                ),
                            ));
                        }
                    }
                    after.payment_method_id = *m;
                }
                store::update_profile(tx, &after).await?;
                let b = profile_view(tx, tenant, &before).await?;
                let a = profile_view(tx, tenant, &after).await?;
                let snap = |v: &views::BillingProfile| {
                    json!({
                        "name": v.name, "billTo": v.bill_to, "invoiceEmail": v.invoice_email,
                        "paymentMethodId": v.payment_method_id, "paymentMethod": v.payment_method,
                    })
                };
                let summary = match (&b.payment_method, &a.payment_method) {
                    (x, y) if x != y => format!(
                        "Billing profile '{}' changed; card {} → {}",
                        a.name,
                        x.as_deref().unwrap_or("none"),
                        y.as_deref().unwrap_or("none")
                    ),
                    _ => format!("Billing profile '{}' changed", a.name),
                };
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::BillingProfileUpdate,
                    "billing-profile",
                    after.id,
                    summary,
                    Some(snap(&b)),
                    Some(snap(&a)),
                )
                .await?;
                Ok(a)
            })
        })
        .await
    }
}

/// Which profile a change is for.
#[derive(Debug, Clone, Copy)]
enum ProfileKey {
    /// The profile of this owner's account (None: central), opened on first need.
    Owner(Option<UserId>),
    Id(BillingProfileId),
}

fn no_profile(id: &str) -> AppError {
    AppError::not_found(format!(
        "There is no billing profile {id} in the organization: list them with GET /billing/accounts."
    ))
}

async fn load_profile(conn: &mut Conn, tenant: TenantId, id: &str) -> AppResult<BillingProfile> {
    let pid = BillingProfileId::parse(id).ok_or_else(|| no_profile(id))?;
    store::get_profile(conn, tenant, pid)
        .await?
        .ok_or_else(|| no_profile(id))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::mail::{MailConfig, Transport};
    use crate::{Config, payments::TEST_CHARGE_DECLINED};

    async fn app() -> (App, std::path::PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("sk-billing-{}", uuid::Uuid::new_v4().simple()));
        let db = seatkeeper_store::Db::open_dir(&dir).await.unwrap();
        let app = App::new(
            db,
            Config {
                mail: MailConfig {
                    from: "t@localhost".into(),
                    transport: Transport::EmlDir(dir.join("mail")),
                },
                dev_clock: false,
                public_url: None,
            },
        )
        .await
        .unwrap();
        (app, dir)
    }

    fn card(number: &str) -> NewCard {
        NewCard {
            card: CardInput {
                number: number.into(),
                expiry_month: 12,
                expiry_year: 2099,
                security_code: "123".into(),
                name_on_card: "Mia".into(),
            },
            billing_address: AddressInput {
                line1: Some("1 Main Street".into()),
                city: Some("Springfield".into()),
                postal_code: Some("12345".into()),
                country: Some("US".into()),
            },
        }
    }

    #[tokio::test]
    async fn purchases_charge_the_owners_card_and_learn_when_it_is_declined() {
        let (app, dir) = app().await;
        let b = app
            .create_tenant("Contoso", "admin@contoso.test", Some("US"), Some("EUR"))
            .await
            .unwrap();
        let admin = Actor::operator(b.tenant_id);
        let mut mia = admin.clone();
        mia.user_id = Some(b.admin_user_id);
        let good = app
            .add_payment_method(&mia, CardOwner::Me, &card("4242424242424242"))
            .await
            .unwrap();
        let bad = app
            .add_payment_method(&mia, CardOwner::Me, &card(TEST_CHARGE_DECLINED))
            .await
            .unwrap();
        let central = app
            .add_payment_method(&admin, CardOwner::Central, &card("4242424242424242"))
            .await
            .unwrap();
        let (app, owner, tenant) = (&app, b.admin_user_id, b.tenant_id);
        let charge = |m: PaymentMethodId| async move {
            app.transact(move |tx| {
                Box::pin(async move {
                    app.charge_payment_method(
                        tx,
                        tenant,
                        owner,
                        m,
                        (1500, app.now()),
                        "EUR",
                        "Suite Basic × 1",
                        "t1",
                    )
                    .await
                })
            })
            .await
        };
        let reference = charge(good.id).await.unwrap();
        assert!(reference.starts_with("ch_test_"), "{reference}");
        match charge(bad.id).await {
            Err(AppError::PaymentDeclined(m)) => {
                assert!(m.contains("declined when charged 15.00 EUR"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        // The central account's card is not the purchaser's: 404.
        assert!(matches!(
            charge(central.id).await,
            Err(AppError::NotFound(_))
        ));
        assert!(matches!(
            charge(PaymentMethodId::new()).await,
            Err(AppError::NotFound(_))
        ));
        let _ = std::fs::remove_dir_all(dir);
    }
}
