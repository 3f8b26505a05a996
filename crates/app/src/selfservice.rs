//! Self-service purchases (SS1–SS5): end users buy products and start trials under the
//! organization's purchase policy, manage their own subscriptions, and admins see them, take
//! them over, or ask their purchasers to cancel.

use crate::licenses::{LicenseSpec, Remove, Scope, UserChange};
use crate::subscriptions::subscription_json;
use crate::{Actor, App, AppError, AppResult, audit, mail};
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::catalog::Product;
use seatkeeper_domain::directory::User;
use seatkeeper_domain::kinds::{MailKind, Origin};
use seatkeeper_domain::lifecycle::{self, BillingFrequency, Lifecycle, Status};
use seatkeeper_domain::roles::Action;
use seatkeeper_domain::selfservice::{
    EarlierTrial, PlanOff, PurchaseRefusal, Start, check_prerequisites, check_start,
};
use seatkeeper_domain::subscription::{Money, Subscription};
use seatkeeper_domain::{
    DomainError, PaymentMethodId, PlanId, SkuId, SubscriptionId, TenantId, Time, UserId,
};
use seatkeeper_store::subscriptions as subs;
use seatkeeper_store::{Conn, assignments, directory as dir, outbox, tenants};
use serde_json::json;

/// What an admin does when taking over a self-service subscription (SS4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakeOver {
    /// Move every user to the organization's central licenses of `target` (the same product
    /// or another), keeping the apps and services turned off that `target` also has.
    Move { target: SkuId },
    /// Cancel it: its users lose these licenses. `reason` is one of
    /// [`crate::subscriptions::CANCEL_REASONS`].
    Cancel { reason: String },
}

/// One product's self-service purchases in one row (SS3): summed over every purchase.
#[derive(Debug, Clone)]
pub struct SelfServiceProduct {
    pub sku_id: SkuId,
    pub sku_part_number: String,
    pub product_name: String,
    /// Licenses of the purchases that work (Active and Expired).
    pub total: i64,
    pub assigned: i64,
    pub available: i64,
    /// Holders beyond the working licenses of their own purchase (a Disabled or cancelled
    /// purchase's users, or more users than an Expired one has): they have lost access, as
    /// on the central rows (SUB3).
    pub holders_without_access: i64,
    /// Licenses by the status of their purchases, as on the central rows.
    pub enabled: i64,
    pub warning: i64,
    pub suspended: i64,
    pub locked_out: i64,
    /// The purchases (subscriptions that are not Deleted), by commerce id.
    pub subscription_ids: Vec<String>,
    /// The users of these purchases, grouped by purchaser (purchaser first, then users by
    /// name).
    pub by_purchaser: Vec<PurchaserUsers>,
}

impl SelfServiceProduct {
    /// Graph's capabilityStatus of the row, from the best status of its purchases.
    pub fn capability_status(&self) -> &'static str {
        if self.enabled > 0 {
            "Enabled"
        } else if self.warning > 0 {
            "Warning"
        } else if self.suspended > 0 {
            "Suspended"
        } else {
            "LockedOut"
        }
    }
}

/// The users one purchaser gave licenses of a product to (SS3).
#[derive(Debug, Clone)]
pub struct PurchaserUsers {
    /// The purchaser; `None` when their account was deleted.
    pub purchaser: Option<User>,
    pub purchaser_id: Option<UserId>,
    /// Who the purchaser was, when their account was deleted.
    pub deleted_purchaser: Option<DeletedPurchaser>,
    pub users: Vec<User>,
}

/// The display name and user name a purchaser had when their account was deleted (SS3:
/// admins still see who bought a subscription).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedPurchaser {
    pub id: UserId,
    pub display_name: String,
    pub upn: String,
}

impl DeletedPurchaser {
    /// "Ada Lovelace (deleted user), ada@contoso.com".
    pub fn words(&self) -> String {
        format!("{} (deleted user), {}", self.display_name, self.upn)
    }
}

/// Money moved on a card for a self-service subscription: a charge or a refund, as the audit
/// log records it (amounts in minor units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardMove {
    /// The provider's reference (`ch_…` for a charge, `re_…` for a refund).
    pub reference: String,
    pub amount_minor: i64,
    pub currency: String,
    /// "Visa ending 4242".
    pub card: String,
}

impl CardMove {
    /// The audit log's record of it.
    pub fn json(&self) -> serde_json::Value {
        json!({"reference": self.reference, "amountMinor": self.amount_minor, "currency": self.currency, "card": self.card})
    }

    /// "30.00 USD to Visa ending 4242".
    pub fn words(&self) -> String {
        format!(
            "{} to {}",
            crate::payments::amount_words(self.amount_minor, &self.currency),
            self.card
        )
    }
}

/// A subscription with the people an admin or its purchaser sees on it (SS2, SS3).
#[derive(Debug, Clone)]
pub struct SubscriptionPeople {
    pub subscription: Subscription,
    /// The purchaser's account; `None` for central subscriptions and when it was deleted.
    pub purchaser: Option<User>,
    /// Whether the purchaser has left: their account is deleted or disabled (SS4: it keeps
    /// running, flagged for admins to take over).
    pub purchaser_left: bool,
    /// Who the purchaser was, when their account was deleted.
    pub deleted_purchaser: Option<DeletedPurchaser>,
    /// Who holds a license of it (self-service subscriptions only; empty for central ones).
    pub users: Vec<(User, Assignment)>,
}

/// SS4: that the users of a self-service purchase of `source` may move to `target` (see
/// [`seatkeeper_domain::selfservice::take_over_targets`]); otherwise a 400 `invalidTarget`
/// listing the products they can move to.
pub fn check_take_over_target(
    catalog: &seatkeeper_domain::catalog::Catalog,
    source: SkuId,
    target: SkuId,
) -> AppResult<()> {
    let Some(source) = catalog.product(source) else {
        return Ok(());
    };
    let valid = seatkeeper_domain::selfservice::take_over_targets(catalog, source);
    if valid.iter().any(|p| p.sku_id == target) {
        return Ok(());
    }
    Err(AppError::invalid(
        "invalidTarget",
        format!(
            "The users of {} cannot be moved to {}: it must be the same product, or one that includes all of its services and is not an add-on. Valid targets: {}.",
            source.sku_part_number,
            catalog.part_number(target),
            valid
                .iter()
                .map(|p| format!("{} ({})", p.sku_part_number, p.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

/// The 409 for any change of a deleted self-service subscription: what happened and when.
fn deleted_refusal(s: &Subscription) -> Option<AppError> {
    if s.origin != Origin::SelfService || s.life.status != Status::Deleted {
        return None;
    }
    let day = s.life.status_since.format("%Y-%m-%d");
    let taken_over = s.cancel_reason.as_deref() == Some("TakenOver");
    Some(AppError::conflict(
        "subscriptionDeleted",
        if taken_over {
            format!(
                "This subscription was taken over by an admin on {day} and is deleted; nothing can change it."
            )
        } else {
            format!("This subscription was deleted on {day}; nothing can change it.")
        },
    ))
}

fn not_found(key: &str) -> AppError {
    AppError::not_found(format!("Subscription '{key}' does not exist."))
}

/// Whether `actor` may change `s` as its purchaser (SS2): otherwise a 403. An admin is told to
/// take it over first (SS3); another user who bought it and that only they can change it.
async fn check_own_purchase(
    conn: &mut Conn,
    actor: &Actor,
    key: &str,
    s: &Subscription,
) -> AppResult<()> {
    if s.origin == Origin::SelfService
        && s.purchaser_id.is_some()
        && s.purchaser_id == actor.user_id
    {
        return Ok(());
    }
    if actor.can(Action::Read) {
        return Err(AppError::Forbidden(if s.origin == Origin::SelfService {
            if actor.can(Action::ManageSubscriptions) {
                format!(
                    "Subscription {key} was bought by a user (self-service): only its purchaser can change it. Take it over first."
                )
            } else {
                format!(
                    "Subscription {key} was bought by a user (self-service): only its purchaser can change it, until a Global or Billing admin takes it over."
                )
            }
        } else {
            format!("Subscription {key} was bought by an admin: only admins can change it.")
        }));
    }
    let purchaser = match s.purchaser_id {
        Some(p) => dir::get_user(conn, s.tenant_id, p)
            .await?
            .map(|u| format!("{} ({})", u.display_name, u.upn)),
        None => None,
    };
    Err(AppError::Forbidden(match purchaser {
        Some(who) => format!("This subscription was bought by {who}; only they can change it."),
        None if s.origin == Origin::SelfService => {
            "This subscription was bought by someone who has left the organization; only an admin can take it over.".into()
        }
        None => "This subscription was bought by your organization's admins; only they can change it.".into(),
    }))
}

/// The unit price of `product` in `currency` for `frequency`, in minor units per license per
/// billing period.
fn unit_price(
    product: &Product,
    currency: &str,
    frequency: BillingFrequency,
) -> Result<Money, PurchaseRefusal> {
    let price = product
        .prices
        .iter()
        .find(|p| p.currency.eq_ignore_ascii_case(currency))
        .ok_or_else(|| PurchaseRefusal::NotSoldInCurrency {
            product: product.name.clone(),
            currency: currency.to_uppercase(),
        })?;
    Ok(Money {
        minor: match frequency {
            BillingFrequency::Monthly => price.monthly,
            BillingFrequency::Annual => price.annual,
        },
        currency: currency.to_uppercase(),
    })
}

/// The plans a buyer asks to turn off in their own license of `product`, checked like an
/// assignment's `disabledPlans` (plans of the product; the additions' rules of L5).
fn buyer_disabled_plans(
    catalog: &seatkeeper_domain::catalog::Catalog,
    product: &Product,
    disabled: &[PlanId],
) -> AppResult<Vec<PlanId>> {
    let disabled = seatkeeper_domain::plans::normalize_disabled(catalog, product, disabled)?;
    crate::licenses::check_licenses(
        catalog,
        &[LicenseSpec {
            sku_id: product.sku_id,
            disabled_plans: disabled.clone(),
        }],
    )?;
    Ok(disabled)
}

/// The part of a term left at `now`, as a fraction of the whole term (for charging licenses
/// added mid-term).
fn prorate(amount: i64, life: &Lifecycle, now: Time) -> i64 {
    let whole = (life.term_end - life.term_start).num_seconds().max(1);
    let left = (life.term_end - now).num_seconds().clamp(0, whole);
    // Rounded up to the minor unit: never charge less than a started unit.
    let v = (i128::from(amount) * i128::from(left) + i128::from(whole) - 1) / i128::from(whole);
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl App {
    /// The signed-in user an end-user action is for; the operator and tokens without a user
    /// are refused.
    fn buyer(actor: &Actor) -> AppResult<UserId> {
        actor.user_id.ok_or_else(|| {
            AppError::Forbidden(
                "Only a signed-in user can buy products or start trials for themselves.".into(),
            )
        })
    }

    /// The buyer's account, locked for the rest of the transaction (PostgreSQL), so that one
    /// user's purchases and trials queue.
    async fn load_buyer(&self, tx: &mut Conn, actor: &Actor, me: UserId) -> AppResult<User> {
        if self.db.backend() == seatkeeper_store::Backend::Postgres {
            dir::lock_user(tx, actor.tenant_id, me).await?;
        }
        dir::get_user(tx, actor.tenant_id, me)
            .await?
            .ok_or_else(|| AppError::Unauthorized("Your account no longer exists.".into()))
    }

    pub(crate) async fn earlier_trial(
        &self,
        tx: &mut Conn,
        tenant: TenantId,
        me: UserId,
        sku: SkuId,
    ) -> AppResult<Option<EarlierTrial>> {
        let needs = self
            .catalog()
            .product(sku)
            .and_then(|p| p.trial.as_ref().map(|t| t.needs_payment_method))
            .unwrap_or(false);
        Ok(subs::trial_of(tx, tenant, me, sku)
            .await?
            .map(|t| EarlierTrial {
                needs_payment_method: t.payment_method_id.is_some() || needs,
            }))
    }

    /// The plans the buyer's own license of `product` gets turned off (SS1): those they asked
    /// for (`disabled`, checked like an assignment's) and those that must stay off because a
    /// plan they need comes with a product they do not hold; refused up front
    /// (`MissingPrerequisite`) when that leaves the product nothing that works. `None` when
    /// they hold the product already: they get no license of the new purchase.
    async fn buyer_plans(
        &self,
        tx: &mut Conn,
        me: UserId,
        product: &Product,
        disabled: &[PlanId],
    ) -> AppResult<Option<Vec<PlanId>>> {
        let held = assignments::of_user(tx, me).await?;
        if held.iter().any(|a| a.sku_id == product.sku_id) {
            return Ok(None);
        }
        let licenses: Vec<seatkeeper_domain::plans::License> = held
            .iter()
            .map(|a| seatkeeper_domain::plans::License {
                sku_id: a.sku_id,
                disabled_plans: a.disabled_plans.clone(),
            })
            .collect();
        let catalog = self.catalog();
        let off = check_prerequisites(&catalog, product, &licenses, disabled)?;
        let mut all: Vec<PlanId> = disabled.to_vec();
        all.extend(off.iter().map(|o| o.plan));
        all.sort();
        all.dedup();
        Ok(Some(all))
    }

    /// Gives the buyer one license of a new self-service subscription with `disabled` plans
    /// off (see [`App::buyer_plans`]); `None`: they hold the product already (then the
    /// purchase is for others).
    async fn license_buyer(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        me: UserId,
        s: &Subscription,
        disabled: Option<Vec<PlanId>>,
        now: Time,
    ) -> AppResult<()> {
        let Some(disabled) = disabled else {
            return Ok(());
        };
        let change = UserChange {
            user: me.to_string(),
            add: vec![LicenseSpec {
                sku_id: s.sku_id,
                disabled_plans: disabled,
            }],
            remove: Remove::These(vec![]),
        };
        self.apply_scoped(
            tx,
            actor,
            std::slice::from_ref(&change),
            now,
            Scope::Purchase(s.pool_id),
        )
        .await?;
        Ok(())
    }

    /// The buyer's own license of `sku` held from their trial of it while that trial is still
    /// a trial and not deleted: a purchase of the product moves it to the new subscription.
    async fn trial_license(
        &self,
        tx: &mut Conn,
        tenant: seatkeeper_domain::TenantId,
        me: UserId,
        sku: SkuId,
    ) -> AppResult<Option<Assignment>> {
        let Some(trial) = subs::trial_of(tx, tenant, me, sku).await? else {
            return Ok(None);
        };
        if !trial.is_trial || trial.life.status == Status::Deleted {
            return Ok(None);
        }
        Ok(assignments::of_user(tx, me)
            .await?
            .into_iter()
            .find(|a| a.sku_id == sku && a.pool_id == trial.pool_id))
    }

    /// Moves the buyer's license `a` from their trial's pool to the new subscription `s`: the
    /// seat is released in the trial's pool and taken in the new one, so the trial ending
    /// changes nothing for them; audited.
    async fn move_buyer_license(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        buyer: &User,
        a: &Assignment,
        s: &Subscription,
        now: Time,
    ) -> AppResult<()> {
        if !assignments::move_to_pool(tx, a.id, a.pool_id, s.pool_id, now).await? {
            return Ok(());
        }
        subs::release_seats(tx, a.pool_id, 1).await?;
        let catalog = self.catalog();
        if !subs::take_seats(tx, s.pool_id, 1).await? {
            return Err(DomainError::NotEnoughLicenses {
                sku_id: s.sku_id,
                product: catalog.part_number(s.sku_id),
                needed: 1,
                available: 0,
            }
            .into());
        }
        audit::record(
            tx,
            actor,
            now,
            AuditAction::LicenseAssign,
            "user",
            buyer.id,
            format!(
                "{}: {} license moved from their trial to the subscription they bought ({})",
                buyer.upn,
                catalog.part_number(s.sku_id),
                s.commerce_id
            ),
            Some(json!({"skuId": a.sku_id, "poolId": a.pool_id})),
            Some(json!({"skuId": a.sku_id, "poolId": s.pool_id, "subscriptionId": s.id})),
        )
        .await?;
        Ok(())
    }

    /// SS1: the signed-in end user buys `quantity` licenses of a product with one of their
    /// payment methods. They become its purchaser and get one of its licenses (unless they
    /// hold the product already); the card is charged `quantity` × the unit price of the
    /// organization's currency for one billing period.
    ///
    /// Refusals: [`PurchaseRefusal`] (a Guest, a product that is not self-service eligible,
    /// the policy, no price in the currency), `PaymentDeclined`, a payment method that is not
    /// the user's (404), L5 checks for the buyer's own license.
    #[allow(clippy::too_many_arguments)]
    pub async fn purchase(
        &self,
        actor: &Actor,
        sku: SkuId,
        quantity: i64,
        frequency: BillingFrequency,
        method: Option<PaymentMethodId>,
        disabled_plans: &[PlanId],
        idempotency_key: Option<&str>,
    ) -> AppResult<Subscription> {
        let me = Self::buyer(actor)?;
        let catalog = self.catalog();
        let product = catalog
            .product(sku)
            .ok_or(DomainError::UnknownSku { sku_id: sku })?;
        lifecycle::check_quantity(quantity)?;
        let disabled = buyer_disabled_plans(&catalog, product, disabled_plans)?;
        let disabled = &disabled;
        let now = self.now();
        // A retried purchase with the same key is the same purchase: the same subscription id
        // (and so the same charge key), answered with what the first one bought.
        let id = match idempotency_key {
            Some(k) => {
                use sha2::{Digest, Sha256};
                let d = Sha256::digest(format!("purchase:{}:{me}:{k}", actor.tenant_id).as_bytes());
                let mut b = [0u8; 16];
                b.copy_from_slice(&d[..16]);
                SubscriptionId(uuid::Builder::from_random_bytes(b).into_uuid())
            }
            None => SubscriptionId::new(),
        };
        self.transact(move |tx| {
            Box::pin(async move {
                if idempotency_key.is_some()
                    && let Some(done) = subs::get(tx, actor.tenant_id, id).await?
                {
                    if done.sku_id == sku && done.life.frequency == frequency {
                        return Ok(done);
                    }
                    return Err(AppError::conflict(
                        "idempotencyKeyReused",
                        "This Idempotency-Key was used for a different purchase: use a new key for a new purchase.",
                    ));
                }
                let buyer = self.load_buyer(tx, actor, me).await?;
                let policy = crate::policies::policy_value(tx, actor.tenant_id, sku).await?;
                let earlier = self.earlier_trial(tx, actor.tenant_id, me, sku).await?;
                check_start(
                    Start::Purchase,
                    buyer.user_type,
                    product,
                    policy,
                    earlier,
                    true,
                )?;
                // Who may buy is answered before what they pay with.
                let method = method.ok_or_else(|| {
                    AppError::invalid(
                        "missingProperty",
                        "paymentMethodId is required: one of your cards (add one with POST /api/v1/me/payment-methods).",
                    )
                })?;
                let from_trial = self.trial_license(tx, actor.tenant_id, me, sku).await?;
                let mine = self.buyer_plans(tx, me, product, disabled).await?;
                let currency = tenants::get(tx, actor.tenant_id)
                    .await?
                    .map(|t| t.currency)
                    .unwrap_or_else(|| "USD".into());
                let unit = unit_price(product, &currency, frequency)?;
                let pool = subs::create_self_service_pool(tx, actor.tenant_id, sku).await?;
                let s = Subscription {
                    id,
                    tenant_id: actor.tenant_id,
                    sku_id: sku,
                    pool_id: pool.id,
                    origin: Origin::SelfService,
                    purchaser_id: Some(me),
                    commerce_id: id.to_string(),
                    quantity,
                    is_trial: false,
                    cancel_reason: None,
                    created_at: now,
                    life: Lifecycle::new(now, frequency)?,
                    expiring_notice_for: None,
                    payment_method_id: Some(method),
                    price: Some(unit.clone()),
                    trial_policy: None,
                    cancel_feedback: None,
                };
                subs::insert(tx, &s).await?;
                subs::recount_total(tx, pool.id).await?;
                self.license_buyer(tx, actor, me, &s, mine, now).await?;
                if let Some(a) = from_trial {
                    self.move_buyer_license(tx, actor, &buyer, &a, &s, now)
                        .await?;
                }
                // BILL1: the purchaser's own billing account, opened on their first purchase,
                // with the card's name and billing address when it has none yet.
                crate::billing::fill_profile_from_card(tx, actor, me, method, now).await?;
                let amount = unit.minor.saturating_mul(quantity);
                let charge = self
                    .charge_payment_method(
                        tx,
                        actor.tenant_id,
                        me,
                        method,
                        (amount, now),
                        &unit.currency,
                        &format!("{} × {quantity}", product.name),
                        &format!("purchase:{id}"),
                    )
                    .await?;
                let mut after = subscription_json(&s);
                after["charge"] = CardMove {
                    reference: charge,
                    amount_minor: amount,
                    currency: unit.currency.clone(),
                    card: self.card_words_of(tx, actor.tenant_id, me, method).await?,
                }
                .json();
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::SubscriptionBuy,
                    "subscription",
                    s.id,
                    format!(
                        "{} bought {} (self-service), billed {}",
                        buyer.upn,
                        crate::counted(
                            quantity,
                            &format!("{} license", product.sku_part_number),
                            &format!("{} licenses", product.sku_part_number)
                        ),
                        frequency.as_str()
                    ),
                    None,
                    Some(after),
                )
                .await?;
                Ok(s)
            })
        })
        .await
    }

    /// SS1, SUB4: the signed-in end user starts the product's trial: its licenses for its
    /// days, the user holding one. A trial that needs a payment method converts to paid at its
    /// end (charged then); one without expires. One trial per user and product.
    pub async fn start_trial(
        &self,
        actor: &Actor,
        sku: SkuId,
        method: Option<PaymentMethodId>,
        disabled_plans: &[PlanId],
    ) -> AppResult<Subscription> {
        let me = Self::buyer(actor)?;
        let catalog = self.catalog();
        let product = catalog
            .product(sku)
            .ok_or(DomainError::UnknownSku { sku_id: sku })?;
        let disabled = buyer_disabled_plans(&catalog, product, disabled_plans)?;
        let disabled = &disabled;
        let now = self.now();
        let id = SubscriptionId::new();
        self.transact(move |tx| {
            Box::pin(async move {
                let buyer = self.load_buyer(tx, actor, me).await?;
                let policy = crate::policies::policy_value(tx, actor.tenant_id, sku).await?;
                let earlier = self.earlier_trial(tx, actor.tenant_id, me, sku).await?;
                check_start(
                    Start::Trial,
                    buyer.user_type,
                    product,
                    policy,
                    earlier,
                    method.is_some(),
                )?;
                let mine = self.buyer_plans(tx, me, product, disabled).await?;
                let offer =
                    product
                        .trial
                        .clone()
                        .ok_or_else(|| PurchaseRefusal::NoTrialOffered {
                            product: product.name.clone(),
                        })?;
                let method = if offer.needs_payment_method {
                    let m = method.ok_or_else(|| PurchaseRefusal::PaymentMethodRequired {
                        product: product.name.clone(),
                    })?;
                    self.check_payment_method(tx, actor.tenant_id, me, m)
                        .await?;
                    Some(m)
                } else {
                    None
                };
                let pool = subs::create_self_service_pool(tx, actor.tenant_id, sku).await?;
                let mut life = Lifecycle::new(now, BillingFrequency::Monthly)?;
                life.term_end = now + chrono::Duration::days(i64::from(offer.days));
                // Converts at its end (a renewal) only when it has a payment method.
                life.recurring = offer.needs_payment_method;
                let s = Subscription {
                    id,
                    tenant_id: actor.tenant_id,
                    sku_id: sku,
                    pool_id: pool.id,
                    origin: Origin::SelfService,
                    purchaser_id: Some(me),
                    commerce_id: id.to_string(),
                    quantity: i64::from(offer.licenses),
                    is_trial: true,
                    cancel_reason: None,
                    created_at: now,
                    life,
                    expiring_notice_for: None,
                    payment_method_id: method,
                    price: None,
                    trial_policy: Some(policy),
                    cancel_feedback: None,
                };
                subs::insert(tx, &s).await?;
                subs::recount_total(tx, pool.id).await?;
                self.license_buyer(tx, actor, me, &s, mine, now).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::SubscriptionTrial,
                    "subscription",
                    s.id,
                    format!(
                        "{} started a {}-day trial of {} with {}{}",
                        buyer.upn,
                        offer.days,
                        product.sku_part_number,
                        crate::counted(i64::from(offer.licenses), "license", "licenses"),
                        if offer.needs_payment_method {
                            ": it converts to paid at its end"
                        } else {
                            ": it expires at its end"
                        }
                    ),
                    None,
                    Some(subscription_json(&s)),
                )
                .await?;
                Ok(s)
            })
        })
        .await
    }

    /// SS2: the signed-in user's own purchases and trials, newest first.
    pub async fn my_subscriptions(
        &self,
        actor: &Actor,
        include_deleted: bool,
    ) -> AppResult<Vec<Subscription>> {
        let me = Self::buyer(actor)?;
        let mut conn = self.read().await?;
        Ok(subs::of_purchaser(&mut conn, actor.tenant_id, me, include_deleted).await?)
    }

    /// Loads a self-service subscription for its purchaser to change, locked for the rest of
    /// the transaction. Admins get a 403 that says to take it over first (SS3); other users a
    /// 403 that names the purchaser.
    pub(crate) async fn load_own_purchase(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        key: &str,
    ) -> AppResult<Subscription> {
        let found = subs::find(tx, actor.tenant_id, key)
            .await?
            .ok_or_else(|| not_found(key))?;
        subs::lock(tx, found.id).await?;
        let s = subs::get(tx, actor.tenant_id, found.id)
            .await?
            .ok_or_else(|| not_found(key))?;
        if let Some(e) = deleted_refusal(&s) {
            return Err(e);
        }
        check_own_purchase(tx, actor, key, &s).await?;
        Ok(s)
    }

    /// SS2: subscription `key` if the actor is its purchaser (they may change it), read
    /// without changing anything; otherwise the same 403 its changes get: admins are told to
    /// take it over first, other users who bought it.
    pub async fn own_purchase(&self, actor: &Actor, key: &str) -> AppResult<Subscription> {
        let mut conn = self.read().await?;
        let s = subs::find(&mut conn, actor.tenant_id, key)
            .await?
            .ok_or_else(|| not_found(key))?;
        check_own_purchase(&mut conn, actor, key, &s).await?;
        Ok(s)
    }

    /// SS2: the purchaser assigns licenses of their subscription to at most 20 Members, with
    /// the apps and services in `disabled_plans` turned off; every check of L5, all or
    /// nothing. Guests are refused: a purchaser licenses Members only.
    pub async fn assign_in_subscription(
        &self,
        actor: &Actor,
        key: &str,
        users: &[String],
        disabled_plans: &[PlanId],
    ) -> AppResult<Vec<(User, Vec<Assignment>)>> {
        crate::licenses::check_batch(users)?;
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let s = self.load_own_purchase(tx, actor, key).await?;
                if !s.life.status.counts_as_enabled() {
                    return Err(DomainError::InvalidTransition {
                        status: s.life.status.as_str().into(),
                        what: "its licenses cannot be assigned".into(),
                    }
                    .into());
                }
                let mut guests = Vec::new();
                for u in users {
                    let user = crate::directory::find_user(tx, actor.tenant_id, u.trim()).await?;
                    if user.is_guest() {
                        guests.push(user.upn);
                    }
                }
                if !guests.is_empty() {
                    return Err(AppError::invalid(
                        "membersOnly",
                        format!(
                            "Licenses of your subscription can be assigned to members of the organization only; {} {} a guest.",
                            guests.join(", "),
                            if guests.len() == 1 { "is" } else { "are" }
                        ),
                    ));
                }
                let changes: Vec<UserChange> = users
                    .iter()
                    .map(|u| UserChange {
                        user: u.clone(),
                        add: vec![LicenseSpec {
                            sku_id: s.sku_id,
                            disabled_plans: disabled_plans.to_vec(),
                        }],
                        remove: Remove::These(vec![]),
                    })
                    .collect();
                crate::licenses::check_licenses(&self.catalog(), &changes[0].add)?;
                self.apply_scoped(tx, actor, &changes, now, Scope::Purchase(s.pool_id))
                    .await
            })
        })
        .await
    }

    /// SS2: the purchaser removes their subscription's licenses from at most 20 users. A user
    /// who does not hold one of this subscription is refused, naming them.
    pub async fn unassign_in_subscription(
        &self,
        actor: &Actor,
        key: &str,
        users: &[String],
    ) -> AppResult<Vec<(User, Vec<Assignment>)>> {
        crate::licenses::check_batch(users)?;
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let s = self.load_own_purchase(tx, actor, key).await?;
                let held: std::collections::HashSet<UserId> =
                    assignments::of_pool(tx, s.pool_id)
                        .await?
                        .into_iter()
                        .map(|a| a.user_id)
                        .collect();
                let mut without = Vec::new();
                for u in users {
                    let user = crate::directory::find_user(tx, actor.tenant_id, u.trim()).await?;
                    if !held.contains(&user.id) {
                        without.push(format!("{} ({})", user.display_name, user.upn));
                    }
                }
                if !without.is_empty() {
                    return Err(AppError::conflict(
                        "licenseNotAssigned",
                        format!(
                            "{} {} no license from this subscription ({}): there is nothing to remove. Leave {} out and try again.",
                            without.join(", "),
                            if without.len() == 1 { "has" } else { "have" },
                            self.catalog()
                                .product(s.sku_id)
                                .map(|p| p.name.clone())
                                .unwrap_or_else(|| s.sku_id.to_string()),
                            if without.len() == 1 { "them" } else { "those users" },
                        ),
                    ));
                }
                let changes: Vec<UserChange> = users
                    .iter()
                    .map(|u| UserChange {
                        user: u.clone(),
                        add: vec![],
                        remove: Remove::These(vec![s.sku_id]),
                    })
                    .collect();
                self.apply_scoped(tx, actor, &changes, now, Scope::Purchase(s.pool_id))
                    .await
            })
        })
        .await
    }

    /// SS2, SS3: a subscription with its purchaser and the users holding its licenses. Read
    /// by admins, and by the purchaser for their own.
    pub async fn subscription_people(
        &self,
        actor: &Actor,
        key: &str,
    ) -> AppResult<SubscriptionPeople> {
        let s = self.get_subscription(actor, key).await?;
        let mut conn = self.read().await?;
        let mut list = self.people_of(&mut conn, std::slice::from_ref(&s)).await?;
        list.pop().ok_or_else(|| not_found(key))
    }

    /// [`App::people_of`] for subscriptions the actor has already read.
    pub async fn people_of_subscriptions(
        &self,
        list: &[Subscription],
    ) -> AppResult<Vec<SubscriptionPeople>> {
        let mut conn = self.read().await?;
        self.people_of(&mut conn, list).await
    }

    /// The purchaser and users of each subscription (users only for self-service ones, whose
    /// pools are small).
    pub(crate) async fn people_of(
        &self,
        conn: &mut Conn,
        list: &[Subscription],
    ) -> AppResult<Vec<SubscriptionPeople>> {
        let Some(tenant) = list.first().map(|s| s.tenant_id) else {
            return Ok(Vec::new());
        };
        let mut held: Vec<Assignment> = Vec::new();
        for s in list.iter().filter(|s| s.origin == Origin::SelfService) {
            held.extend(assignments::of_pool(conn, s.pool_id).await?);
        }
        let mut ids: Vec<UserId> = held.iter().map(|a| a.user_id).collect();
        ids.extend(list.iter().filter_map(|s| s.purchaser_id));
        ids.sort();
        ids.dedup();
        let mut users = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            for u in dir::users_by_ids(conn, tenant, chunk).await? {
                users.insert(u.id, u);
            }
        }
        let mut gone: Vec<UserId> = list
            .iter()
            .filter_map(|s| s.purchaser_id)
            .filter(|p| !users.contains_key(p))
            .collect();
        gone.sort();
        gone.dedup();
        let deleted: std::collections::HashMap<UserId, DeletedPurchaser> =
            subs::deleted_purchasers(conn, tenant, &gone)
                .await?
                .into_iter()
                .map(|(id, display_name, upn)| {
                    (
                        id,
                        DeletedPurchaser {
                            id,
                            display_name,
                            upn,
                        },
                    )
                })
                .collect();
        Ok(list
            .iter()
            .map(|s| {
                let purchaser = s.purchaser_id.and_then(|p| users.get(&p).cloned());
                let purchaser_left = s.origin == Origin::SelfService
                    && purchaser.as_ref().is_none_or(|p| !p.account_enabled);
                let mut people: Vec<(User, Assignment)> = held
                    .iter()
                    .filter(|a| a.pool_id == s.pool_id && s.origin == Origin::SelfService)
                    .filter_map(|a| users.get(&a.user_id).cloned().map(|u| (u, a.clone())))
                    .collect();
                people.sort_by(|a, b| {
                    (a.0.display_name.to_lowercase(), a.0.id)
                        .cmp(&(b.0.display_name.to_lowercase(), b.0.id))
                });
                SubscriptionPeople {
                    subscription: s.clone(),
                    purchaser,
                    purchaser_left,
                    deleted_purchaser: s.purchaser_id.and_then(|p| deleted.get(&p).cloned()),
                    users: people,
                }
            })
            .collect())
    }

    /// SS3: subscriptions with their purchasers and users, for admins (`origin` filters).
    pub async fn subscriptions_with_people(
        &self,
        actor: &Actor,
        origin: Option<Origin>,
        include_deleted: bool,
    ) -> AppResult<Vec<SubscriptionPeople>> {
        let list: Vec<Subscription> = self
            .list_subscriptions(actor, include_deleted)
            .await?
            .into_iter()
            .filter(|s| origin.is_none_or(|o| s.origin == o))
            .collect();
        let mut conn = self.read().await?;
        self.people_of(&mut conn, &list).await
    }

    /// SS3: the Licenses view filtered to self-service: one row per product, its purchases
    /// summed, users grouped by purchaser. Read by admins.
    pub async fn self_service_licenses(&self, actor: &Actor) -> AppResult<Vec<SelfServiceProduct>> {
        let people = self
            .subscriptions_with_people(actor, Some(Origin::SelfService), false)
            .await?;
        let catalog = self.catalog();
        let mut rows: Vec<SelfServiceProduct> = Vec::new();
        for p in people {
            let s = &p.subscription;
            let idx = match rows.iter().position(|r| r.sku_id == s.sku_id) {
                Some(i) => i,
                None => {
                    let (part, name) = catalog
                        .product(s.sku_id)
                        .map(|x| (x.sku_part_number.clone(), x.name.clone()))
                        .unwrap_or_else(|| (s.sku_id.to_string(), s.sku_id.to_string()));
                    rows.push(SelfServiceProduct {
                        sku_id: s.sku_id,
                        sku_part_number: part,
                        product_name: name,
                        total: 0,
                        assigned: 0,
                        available: 0,
                        holders_without_access: 0,
                        enabled: 0,
                        warning: 0,
                        suspended: 0,
                        locked_out: 0,
                        subscription_ids: Vec::new(),
                        by_purchaser: Vec::new(),
                    });
                    rows.len() - 1
                }
            };
            let row = &mut rows[idx];
            row.subscription_ids.push(s.commerce_id.clone());
            match (s.life.status, s.life.cancelled) {
                (Status::Active, _) => row.enabled += s.quantity,
                (Status::Expired, _) => row.warning += s.quantity,
                (Status::Disabled, true) => row.locked_out += s.quantity,
                (Status::Disabled, false) => row.suspended += s.quantity,
                (Status::Deleted, _) => {}
            }
            let working = if s.life.status.counts_as_enabled() {
                s.quantity
            } else {
                0
            };
            row.total += working;
            row.assigned += p.users.len() as i64;
            row.holders_without_access += (p.users.len() as i64 - working).max(0);
            let group = match row
                .by_purchaser
                .iter()
                .position(|g| g.purchaser_id == s.purchaser_id)
            {
                Some(i) => i,
                None => {
                    row.by_purchaser.push(PurchaserUsers {
                        purchaser: p.purchaser.clone(),
                        purchaser_id: s.purchaser_id,
                        deleted_purchaser: p.deleted_purchaser.clone(),
                        users: Vec::new(),
                    });
                    row.by_purchaser.len() - 1
                }
            };
            for (u, _) in &p.users {
                if !row.by_purchaser[group].users.iter().any(|x| x.id == u.id) {
                    row.by_purchaser[group].users.push(u.clone());
                }
            }
        }
        for r in &mut rows {
            r.available = (r.total - r.assigned).max(0);
        }
        rows.sort_by(|a, b| a.product_name.cmp(&b.product_name));
        Ok(rows)
    }

    /// SS3 **Export users**: the users of a product's self-service purchases as CSV, one row
    /// per user (columns: userPrincipalName, displayName, purchaser, purchaserDisplayName,
    /// subscriptionId, status, assignedDateTime); a deleted purchaser is named as they were,
    /// their display name marked "(deleted user)". Read by admins.
    pub async fn self_service_users_csv(&self, actor: &Actor, sku: SkuId) -> AppResult<Vec<u8>> {
        let people = self
            .subscriptions_with_people(actor, Some(Origin::SelfService), false)
            .await?;
        let mut w = csv::Writer::from_writer(Vec::new());
        let io = |e: csv::Error| AppError::Internal(anyhow::anyhow!("CSV: {e}"));
        w.write_record([
            "userPrincipalName",
            "displayName",
            "purchaser",
            "purchaserDisplayName",
            "subscriptionId",
            "status",
            "assignedDateTime",
        ])
        .map_err(io)?;
        use crate::export::csv_cell;
        for p in people.iter().filter(|p| p.subscription.sku_id == sku) {
            let (pu, pn) = p
                .purchaser
                .as_ref()
                .map(|u| (u.upn.clone(), u.display_name.clone()))
                .or_else(|| {
                    p.deleted_purchaser
                        .as_ref()
                        .map(|d| (d.upn.clone(), format!("{} (deleted user)", d.display_name)))
                })
                .unwrap_or_default();
            for (u, a) in &p.users {
                w.write_record([
                    csv_cell(&u.upn),
                    csv_cell(&u.display_name),
                    csv_cell(&pu),
                    csv_cell(&pn),
                    p.subscription.commerce_id.clone(),
                    p.subscription.life.status.as_str().to_string(),
                    crate::export::time(a.assigned_at),
                ])
                .map_err(io)?;
            }
        }
        w.into_inner()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("CSV: {e}")))
    }

    /// SS4: a Global or Billing admin takes over a self-service subscription: moves its users
    /// to the organization's central licenses, or cancels it. Either way it ends `Deleted`
    /// and its purchaser is e-mailed, in one transaction.
    ///
    /// A move needs one available central license of `target` per user: otherwise a 409 that
    /// says how many are needed and free, and nothing changes. Users keep the apps and
    /// services turned off that `target` also has; every check of L5 applies.
    pub async fn take_over(
        &self,
        actor: &Actor,
        key: &str,
        how: TakeOver,
    ) -> AppResult<Subscription> {
        actor.require(Action::ManageSubscriptions)?;
        let catalog = self.catalog();
        if let TakeOver::Move { target } = &how {
            catalog
                .product(*target)
                .ok_or(DomainError::UnknownSku { sku_id: *target })?;
        }
        let how = match how {
            TakeOver::Cancel { reason } => TakeOver::Cancel {
                reason: crate::subscriptions::canonical_reason(&reason)?,
            },
            m => m,
        };
        let now = self.now();
        let how = &how;
        let catalog = &catalog;
        self.transact(move |tx| {
            Box::pin(async move {
                let found = subs::find(tx, actor.tenant_id, key)
                    .await?
                    .ok_or_else(|| not_found(key))?;
                subs::lock(tx, found.id).await?;
                let before = subs::get(tx, actor.tenant_id, found.id)
                    .await?
                    .ok_or_else(|| not_found(key))?;
                if before.origin != Origin::SelfService {
                    return Err(AppError::conflict(
                        "notSelfService",
                        format!("Subscription {key} was bought by an admin: there is nothing to take over."),
                    ));
                }
                if let Some(e) = deleted_refusal(&before) {
                    return Err(e);
                }
                if let TakeOver::Move { target } = how {
                    check_take_over_target(catalog, before.sku_id, *target)?;
                }
                let held = assignments::of_pool(tx, before.pool_id).await?;
                if self.db.backend() == seatkeeper_store::Backend::Postgres {
                    // Every holder first, in id order, then the pools: the order a license
                    // batch locks them in (a pool first could deadlock with a batch).
                    let mut ids: Vec<UserId> = held.iter().map(|a| a.user_id).collect();
                    ids.sort();
                    ids.dedup();
                    for chunk in ids.chunks(500) {
                        dir::users_by_ids_locked(tx, actor.tenant_id, chunk).await?;
                    }
                }
                let source = catalog.part_number(before.sku_id);
                let users = held.len();
                match how {
                    TakeOver::Move { target } => {
                        self.move_users(tx, actor, &before, &held, *target, now).await?;
                    }
                    TakeOver::Cancel { .. } => {
                        let changes: Vec<UserChange> = held
                            .iter()
                            .map(|a| UserChange {
                                user: a.user_id.to_string(),
                                add: vec![],
                                remove: Remove::These(vec![before.sku_id]),
                            })
                            .collect();
                        for chunk in changes.chunks(500) {
                            self.apply_scoped(tx, actor, chunk, now, Scope::TakeOver(before.pool_id))
                                .await?;
                        }
                    }
                }
                // The purchaser paid for the term: the unused part of an active paid one goes
                // back to their card.
                let refund = if before.life.status == Status::Active {
                    let key = format!("take-over:{}", before.id);
                    self.refund_unused(tx, &before, before.quantity, now, "taken over", &key)
                        .await?
                } else {
                    None
                };
                let mut s = before.clone();
                s.life.cancelled = true;
                s.life.recurring = false;
                s.life.status = Status::Deleted;
                s.life.status_since = now;
                s.cancel_reason = Some(match how {
                    TakeOver::Move { .. } => "TakenOver".to_string(),
                    TakeOver::Cancel { reason } => reason.clone(),
                });
                if !subs::update(tx, &s, before.life.status).await? {
                    return Err(AppError::conflict(
                        "concurrentChange",
                        format!("Subscription {key} changed meanwhile; try again."),
                    ));
                }
                subs::recount_total(tx, s.pool_id).await?;
                let summary = match how {
                    TakeOver::Move { target } => format!(
                        "Took over {source} bought by a user: {} moved to the central {} licenses; the subscription is deleted",
                        crate::counted(users as i64, "user", "users"),
                        catalog.part_number(*target)
                    ),
                    TakeOver::Cancel { reason } => format!(
                        "Took over {source} bought by a user and cancelled it (reason: {reason}): {} lost it",
                        crate::counted(users as i64, "user", "users")
                    ),
                };
                let summary = match &refund {
                    Some(r) => format!("{summary}; refunded {} to its purchaser", r.words()),
                    None => summary,
                };
                let mut after = subscription_json(&s);
                if let Some(r) = &refund {
                    after["refund"] = r.json();
                }
                after["takeOver"] = match how {
                    TakeOver::Move { target } => json!({"action": "move", "targetSkuId": target, "users": users}),
                    TakeOver::Cancel { reason } => json!({"action": "cancel", "reason": reason, "users": users}),
                };
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::SubscriptionTakeOver,
                    "subscription",
                    s.id,
                    summary,
                    Some(subscription_json(&before)),
                    Some(after),
                )
                .await?;
                let target_name = match how {
                    TakeOver::Move { target } => catalog.part_number(*target),
                    TakeOver::Cancel { .. } => String::new(),
                };
                let notice = match how {
                    TakeOver::Move { .. } => mail::TakeOverNotice::Moved {
                        target: &target_name,
                        users,
                    },
                    TakeOver::Cancel { reason } => mail::TakeOverNotice::Cancelled { reason, users },
                };
                let refunded = refund.as_ref().map(CardMove::words);
                self.mail_purchaser(tx, actor, &s, MailKind::SubscriptionTakenOver, now, |tenant, product, admin| {
                    mail::taken_over(tenant, product, admin, &s, notice, refunded.as_deref())
                })
                .await?;
                Ok(s)
            })
        })
        .await
    }

    /// Moves every holder of a self-service pool to the central pool of `target`.
    async fn move_users(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        s: &Subscription,
        held: &[Assignment],
        target: SkuId,
        now: Time,
    ) -> AppResult<()> {
        let catalog = self.catalog();
        let target_product = catalog
            .product(target)
            .ok_or(DomainError::UnknownSku { sku_id: target })?;
        let needed = held.len() as i64;
        let central = subs::central_pool(tx, actor.tenant_id, target).await?;
        let free = match &central {
            Some(p) => {
                let p = subs::lock_pool(tx, p.id).await?.unwrap_or(p.clone());
                (p.total - p.assigned).max(0)
            }
            None => 0,
        };
        if needed > free {
            return Err(AppError::conflict(
                "notEnoughLicenses",
                format!(
                    "Moving these users needs {needed} available {} {}; the organization has {free}: buy {} more first, or cancel instead.",
                    target_product.sku_part_number,
                    if needed == 1 { "license" } else { "licenses" },
                    needed - free
                ),
            ));
        }
        if held.is_empty() {
            return Ok(());
        }
        // Each user: the self-service license out, the central one in, in one change (so a
        // swap to another product passes every check of L5 at once).
        let changes: Vec<UserChange> = held
            .iter()
            .map(|a| {
                let keep_off: Vec<PlanId> = a
                    .disabled_plans
                    .iter()
                    .copied()
                    .filter(|p| target_product.plans.contains(p))
                    .collect();
                if target == s.sku_id {
                    UserChange {
                        user: a.user_id.to_string(),
                        add: vec![],
                        remove: Remove::These(vec![s.sku_id]),
                    }
                } else {
                    UserChange {
                        user: a.user_id.to_string(),
                        add: vec![LicenseSpec {
                            sku_id: target,
                            disabled_plans: keep_off,
                        }],
                        remove: Remove::These(vec![s.sku_id]),
                    }
                }
            })
            .collect();
        for chunk in changes.chunks(500) {
            self.apply_scoped(tx, actor, chunk, now, Scope::TakeOver(s.pool_id))
                .await?;
        }
        if target == s.sku_id {
            // Same product: the removal above freed each user's self-service seat; give each
            // the central license with the same apps and services off.
            let again: Vec<UserChange> = held
                .iter()
                .map(|a| UserChange {
                    user: a.user_id.to_string(),
                    add: vec![LicenseSpec {
                        sku_id: target,
                        disabled_plans: a.disabled_plans.clone(),
                    }],
                    remove: Remove::These(vec![]),
                })
                .collect();
            for chunk in again.chunks(500) {
                self.apply_scoped(tx, actor, chunk, now, Scope::TakeOver(s.pool_id))
                    .await?;
            }
        }
        Ok(())
    }

    /// SS5: an admin who holds the product centrally asks the purchaser, by e-mail, to cancel
    /// their self-service subscription. Global or Billing admin.
    pub async fn ask_to_cancel(
        &self,
        actor: &Actor,
        key: &str,
        message: Option<&str>,
    ) -> AppResult<()> {
        actor.require(Action::ManageSubscriptions)?;
        let message = message.map(str::trim).filter(|m| !m.is_empty());
        if message.is_some_and(|m| m.chars().count() > 2000) {
            return Err(AppError::invalid(
                "messageTooLong",
                "The message may be at most 2000 characters.",
            ));
        }
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let s = subs::find(tx, actor.tenant_id, key)
                    .await?
                    .ok_or_else(|| not_found(key))?;
                if s.origin != Origin::SelfService {
                    return Err(AppError::conflict(
                        "notSelfService",
                        format!("Subscription {key} was bought by an admin: there is no purchaser to ask."),
                    ));
                }
                if !s.life.status.counts_as_enabled() || s.life.cancelled {
                    return Err(DomainError::InvalidTransition {
                        status: s.life.status.as_str().into(),
                        what: "it is already cancelled or no longer running".into(),
                    }
                    .into());
                }
                if let Err(who) = self.purchaser_to_tell(tx, &s).await? {
                    return Err(AppError::conflict(
                        "purchaserLeft",
                        format!("The purchaser of subscription {key}, {who}, has left the organization: there is nobody to ask. Take the subscription over instead."),
                    ));
                }
                let owns = subs::central_pool(tx, actor.tenant_id, s.sku_id)
                    .await?
                    .is_some_and(|p| p.total > 0);
                if !owns {
                    return Err(AppError::conflict(
                        "productNotOwned",
                        format!(
                            "The organization has no central {} licenses: buy them first, so that the purchaser's users can be given one when they cancel.",
                            self.catalog().part_number(s.sku_id)
                        ),
                    ));
                }
                let sent = self
                    .mail_purchaser(tx, actor, &s, MailKind::AskToCancel, now, |tenant, product, admin| {
                        mail::ask_to_cancel(tenant, product, admin, message, &s)
                    })
                    .await?;
                if !sent {
                    return Err(AppError::conflict(
                        "noPurchaser",
                        format!("Subscription {key} has no purchaser to ask: their account was deleted. Take it over instead."),
                    ));
                }
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::SubscriptionAskToCancel,
                    "subscription",
                    s.id,
                    format!(
                        "Asked the purchaser of {} to cancel it",
                        self.catalog().part_number(s.sku_id)
                    ),
                    None,
                    Some(json!({"message": message})),
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Writes an e-mail to the purchaser of `s` in the outbox; `false` when the purchaser's
    /// account no longer exists.
    async fn mail_purchaser(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        s: &Subscription,
        kind: MailKind,
        now: Time,
        content: impl FnOnce(&str, &str, &str) -> mail::Content,
    ) -> AppResult<bool> {
        let Some(pid) = s.purchaser_id else {
            return Ok(false);
        };
        // A purchaser who has left (account deleted or disabled) is not e-mailed (SS4).
        let Some(purchaser) = dir::get_user(tx, s.tenant_id, pid)
            .await?
            .filter(|u| u.account_enabled)
        else {
            return Ok(false);
        };
        let tenant = tenants::get(tx, s.tenant_id)
            .await?
            .map(|t| t.name)
            .unwrap_or_default();
        let product = self
            .catalog()
            .product(s.sku_id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| s.sku_id.to_string());
        let c = content(&tenant, &product, &actor.name);
        let to = purchaser.mail.clone().unwrap_or(purchaser.upn.clone());
        outbox::enqueue(
            tx,
            &mail::message(
                s.tenant_id,
                Some(format!("{kind}:{}:{}", s.id, uuid::Uuid::new_v4())),
                kind,
                &to,
                &c,
                now,
            ),
        )
        .await?;
        Ok(true)
    }

    /// SUB4: a trial that needs a payment method reached its end: it converts to a paid
    /// monthly subscription of as many licenses as are assigned (at least 1), charged to its
    /// card. Returns why it could not (the charge failed): it then expires instead, and the
    /// purchaser is e-mailed.
    pub(crate) async fn convert_trial(
        &self,
        tx: &mut Conn,
        s: &mut Subscription,
    ) -> AppResult<Result<CardMove, String>> {
        let catalog = self.catalog();
        let Some(product) = catalog.product(s.sku_id) else {
            return Ok(Err("the product is no longer in the catalog".into()));
        };
        let (Some(pid), Some(method)) = (s.purchaser_id, s.payment_method_id) else {
            return Ok(Err("the trial has no payment method".into()));
        };
        let currency = tenants::get(tx, s.tenant_id)
            .await?
            .map(|t| t.currency)
            .unwrap_or_else(|| "USD".into());
        let unit = match unit_price(product, &currency, BillingFrequency::Monthly) {
            Ok(u) => u,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let assigned = subs::get_pool(tx, s.pool_id)
            .await?
            .map(|p| p.assigned)
            .unwrap_or(0);
        let quantity = assigned.max(1);
        let amount = unit.minor.saturating_mul(quantity);
        match self
            .charge_payment_method(
                tx,
                s.tenant_id,
                pid,
                method,
                (amount, s.life.term_end),
                &unit.currency,
                &format!("{} × {quantity} (trial converted)", product.name),
                &format!("convert:{}:{}", s.id, s.life.term_end.timestamp()),
            )
            .await
        {
            Ok(reference) => {
                let charged = CardMove {
                    reference,
                    amount_minor: amount,
                    currency: unit.currency.clone(),
                    card: self.card_words_of(tx, s.tenant_id, pid, method).await?,
                };
                s.is_trial = false;
                s.quantity = quantity;
                s.price = Some(unit);
                Ok(Ok(charged))
            }
            Err(
                e @ (AppError::Store(_)
                | AppError::Busy(_)
                | AppError::StorageFull(_)
                | AppError::Internal(_)),
            ) => Err(e),
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    /// Charges the card of self-service subscription `s` for `terms` terms of its licenses at
    /// the price it was bought at: unit price (minor units per license per term) × quantity ×
    /// `terms`, with `key` as the provider's idempotency key; the card must be good at `at`
    /// (when the charge was due). A subscription without a price
    /// or a card (central ones, trials) is not charged: `Ok(None)`. Otherwise `Ok(Some(card))`
    /// with the card's words ("Visa ending 4242"). Errors: a declined charge (402), an expired
    /// card (400 `invalidExpiry`), a card that is gone (404).
    pub(crate) async fn charge_terms(
        &self,
        tx: &mut Conn,
        s: &Subscription,
        (terms, at): (i64, Time),
        what: &str,
        key: &str,
    ) -> AppResult<Option<CardMove>> {
        let (Some(pid), Some(method), Some(unit)) = (s.purchaser_id, s.payment_method_id, &s.price)
        else {
            return Ok(None);
        };
        if s.origin != Origin::SelfService || s.is_trial {
            return Ok(None);
        }
        let product = self
            .catalog()
            .product(s.sku_id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| s.sku_id.to_string());
        let amount = unit
            .minor
            .saturating_mul(s.quantity)
            .saturating_mul(terms.max(1));
        let reference = self
            .charge_payment_method(
                tx,
                s.tenant_id,
                pid,
                method,
                (amount, at),
                &unit.currency,
                &format!("{product} × {} ({what})", s.quantity),
                key,
            )
            .await?;
        Ok(Some(CardMove {
            reference,
            amount_minor: amount,
            currency: unit.currency.clone(),
            card: self.card_words_of(tx, s.tenant_id, pid, method).await?,
        }))
    }

    async fn card_words_of(
        &self,
        tx: &mut Conn,
        tenant: seatkeeper_domain::TenantId,
        owner: UserId,
        method: seatkeeper_domain::PaymentMethodId,
    ) -> AppResult<String> {
        Ok(
            seatkeeper_store::billing::get_method(tx, tenant, Some(owner), method)
                .await?
                .map(|m| crate::billing::card_words(&m))
                .unwrap_or_else(|| "the card".into()),
        )
    }

    /// Refunds to the card of paid self-service subscription `s` the unused part of its
    /// current term for `licenses` of its licenses at `now` (prorated like added licenses
    /// are charged), with `key` as the provider's idempotency key. `Ok(None)` when nothing
    /// is due: a trial, a central subscription, no card or price, or nothing left of the
    /// term. Errors: a card that is gone (404), a refused refund (402).
    pub(crate) async fn refund_unused(
        &self,
        tx: &mut Conn,
        s: &Subscription,
        licenses: i64,
        now: Time,
        what: &str,
        key: &str,
    ) -> AppResult<Option<CardMove>> {
        let (Some(pid), Some(method), Some(unit)) = (s.purchaser_id, s.payment_method_id, &s.price)
        else {
            return Ok(None);
        };
        if s.origin != Origin::SelfService || s.is_trial || licenses <= 0 {
            return Ok(None);
        }
        let amount = prorate(unit.minor.saturating_mul(licenses), &s.life, now);
        if amount <= 0 {
            return Ok(None);
        }
        let product = self.catalog().part_number(s.sku_id);
        let (reference, card) = self
            .refund_payment_method(
                tx,
                s.tenant_id,
                pid,
                method,
                amount,
                &unit.currency,
                &format!("{product} × {licenses} ({what})"),
                key,
            )
            .await?;
        Ok(Some(CardMove {
            reference,
            amount_minor: amount,
            currency: unit.currency.clone(),
            card,
        }))
    }

    /// SS4: when the account of `user` is disabled or deleted (`how`: "was disabled"), the
    /// Global and Billing admins hear at once about each self-service subscription they bought
    /// that has not been deleted: it keeps running with its users, will not renew or convert
    /// on their card, and when it ends, so they can take it over before then.
    ///
    /// Recurring billing of each one that still has it is turned off at once (audited as
    /// `actor`'s change): nothing renews or converts on a departed person's card, and every
    /// screen says when it ends. The purchaser, should they come back, can turn it on again.
    pub(crate) async fn tell_admins_purchaser_left(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        user: &User,
        how: &str,
        now: Time,
    ) -> AppResult<()> {
        let who = format!("{} ({})", user.display_name, user.upn);
        for found in subs::of_purchaser(tx, user.tenant_id, user.id, false).await? {
            // Lock, then read again: a change of the same subscription applies after this one.
            subs::lock(tx, found.id).await?;
            let Some(before) = subs::get(tx, user.tenant_id, found.id).await? else {
                continue;
            };
            let (tenant, product) = self.mail_names(tx, &before).await?;
            let content = mail::purchaser_left(&tenant, &product, &before, &who, how);
            let mut s = before.clone();
            if s.life.status == Status::Active && s.life.recurring {
                s.life.recurring = false;
                subs::update(tx, &s, before.life.status).await?;
                subs::set_stopped_for_departure(tx, s.id, true).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::SubscriptionRecurring,
                    "subscription",
                    s.id,
                    format!(
                        "{} recurring billing off: its purchaser, {who}, {how}",
                        self.catalog().part_number(s.sku_id)
                    ),
                    Some(subscription_json(&before)),
                    Some(subscription_json(&s)),
                )
                .await?;
            }
            self.notice_to_admins(tx, &s, MailKind::PurchaserLeft, &content, now)
                .await?;
        }
        Ok(())
    }

    /// SS4: when the account of `user` is enabled again, recurring billing comes back on for
    /// each of their active subscriptions it was turned off for when they left (unless it was
    /// changed since), audited as `actor`'s change, and the Global and Billing admins are told.
    pub(crate) async fn purchaser_returned(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        user: &User,
        now: Time,
    ) -> AppResult<()> {
        let who = format!("{} ({})", user.display_name, user.upn);
        for id in subs::stopped_for_departure(tx, user.tenant_id, user.id).await? {
            subs::lock(tx, id).await?;
            subs::set_stopped_for_departure(tx, id, false).await?;
            let Some(before) = subs::get(tx, user.tenant_id, id).await? else {
                continue;
            };
            if before.life.status != Status::Active || before.life.recurring {
                continue;
            }
            let mut s = before.clone();
            s.life.recurring = true;
            subs::update(tx, &s, before.life.status).await?;
            audit::record(
                tx,
                actor,
                now,
                AuditAction::SubscriptionRecurring,
                "subscription",
                s.id,
                format!(
                    "{} recurring billing back on: its purchaser, {who}, is back",
                    self.catalog().part_number(s.sku_id)
                ),
                Some(subscription_json(&before)),
                Some(subscription_json(&s)),
            )
            .await?;
            let (tenant, product) = self.mail_names(tx, &s).await?;
            let content = mail::purchaser_returned(&tenant, &product, &s, &who);
            self.notice_to_admins(tx, &s, MailKind::PurchaserLeft, &content, now)
                .await?;
        }
        Ok(())
    }

    /// A paid self-service subscription could not renew because its card's charge failed
    /// (`reason`): the purchaser's e-mail.
    pub(crate) async fn mail_renewal_failed(
        &self,
        tx: &mut Conn,
        s: &Subscription,
        reason: &str,
        now: Time,
    ) -> AppResult<()> {
        let Ok(u) = self.purchaser_to_tell(tx, s).await? else {
            return Ok(());
        };
        let (_, product) = self.mail_names(tx, s).await?;
        let content = mail::renewal_failed(&product, reason, s);
        self.enqueue_notice(tx, s, MailKind::PaymentFailed, &u, &content, now)
            .await
    }

    /// After a trial converted to paid: the purchaser's e-mail with the quantity, the price
    /// and the card charged (brand and last four digits only). Nobody is told when the
    /// purchaser has left the organization or the card is gone.
    pub(crate) async fn mail_trial_converted(
        &self,
        tx: &mut Conn,
        s: &Subscription,
        now: Time,
    ) -> AppResult<()> {
        let (Some(pid), Some(method), Some(unit)) = (s.purchaser_id, s.payment_method_id, &s.price)
        else {
            return Ok(());
        };
        let Ok(u) = self.purchaser_to_tell(tx, s).await? else {
            return Ok(());
        };
        let Some(card) =
            seatkeeper_store::billing::get_method(tx, s.tenant_id, Some(pid), method).await?
        else {
            return Ok(());
        };
        let (tenant, product) = self.mail_names(tx, s).await?;
        let period = match s.life.frequency {
            BillingFrequency::Annual => "year",
            _ => "month",
        };
        let content = mail::trial_converted(
            &tenant,
            &product,
            s,
            unit,
            period,
            (card.brand.as_str(), &card.last4),
        );
        self.enqueue_notice(tx, s, MailKind::TrialConverted, &u, &content, now)
            .await
    }

    /// A trial that was to convert ended unconverted because its purchaser (`who`) has left:
    /// the Global and Billing admins' e-mail.
    pub(crate) async fn mail_trial_ended_purchaser_left(
        &self,
        tx: &mut Conn,
        s: &Subscription,
        who: &str,
        now: Time,
    ) -> AppResult<()> {
        let (tenant, product) = self.mail_names(tx, s).await?;
        let content = mail::trial_ended_purchaser_left(&tenant, &product, s, who);
        self.notice_to_admins(tx, s, MailKind::SubscriptionExpired, &content, now)
            .await
    }

    /// A paid subscription that was to renew did not because its purchaser (`who`) has left:
    /// the Global and Billing admins' e-mail.
    pub(crate) async fn mail_renewal_stopped_purchaser_left(
        &self,
        tx: &mut Conn,
        s: &Subscription,
        who: &str,
        now: Time,
    ) -> AppResult<()> {
        let (tenant, product) = self.mail_names(tx, s).await?;
        let content = mail::renewal_stopped_purchaser_left(&tenant, &product, s, who);
        self.notice_to_admins(tx, s, MailKind::SubscriptionExpired, &content, now)
            .await
    }

    /// After a trial failed to convert: the purchaser's e-mail (the admins' when the purchaser
    /// has left the organization).
    pub(crate) async fn mail_payment_failed(
        &self,
        tx: &mut Conn,
        s: &Subscription,
        reason: &str,
        now: Time,
    ) -> AppResult<()> {
        let kind = MailKind::PaymentFailed;
        let product = self
            .catalog()
            .product(s.sku_id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| s.sku_id.to_string());
        match self.purchaser_to_tell(tx, s).await? {
            Ok(u) => {
                let content = mail::payment_failed(product.as_str(), reason, s, None);
                self.enqueue_notice(tx, s, kind, &u, &content, now).await
            }
            Err(who) => {
                let content = mail::payment_failed(product.as_str(), reason, s, Some(&who));
                self.notice_to_admins(tx, s, kind, &content, now).await
            }
        }
    }

    /// SS2: the charge for licenses a purchaser adds mid-term: the added licenses for the
    /// rest of the current term.
    pub(crate) async fn charge_added_licenses(
        &self,
        tx: &mut Conn,
        s: &Subscription,
        added: i64,
        now: Time,
    ) -> AppResult<Option<CardMove>> {
        let (Some(pid), Some(method), Some(unit)) = (s.purchaser_id, s.payment_method_id, &s.price)
        else {
            return Ok(None);
        };
        let amount = prorate(unit.minor.saturating_mul(added), &s.life, now);
        if amount <= 0 {
            return Ok(None);
        }
        let product = self.catalog().part_number(s.sku_id);
        let reference = self
            .charge_payment_method(
                tx,
                s.tenant_id,
                pid,
                method,
                (amount, now),
                &unit.currency,
                &format!("{product}: {added} more"),
                &format!("add:{}:{}:{}", s.id, s.quantity, now.timestamp_micros()),
            )
            .await?;
        Ok(Some(CardMove {
            reference,
            amount_minor: amount,
            currency: unit.currency.clone(),
            card: self.card_words_of(tx, s.tenant_id, pid, method).await?,
        }))
    }
}

/// A product an end user may buy or try themselves, as the Buy a product page shows it (SS1).
#[derive(Debug, Clone)]
pub struct PurchaseOffer {
    pub product: Product,
    /// The unit prices in the organization's currency: (per license per month when billed
    /// monthly, per license per year when billed annually); `None` when it is not sold in it.
    pub price: Option<(Money, Money)>,
    /// Why a paid purchase would be refused now (the same rule the purchase checks).
    pub purchase: Result<(), PurchaseRefusal>,
    /// Why starting its trial would be refused now (a missing payment method aside).
    pub trial: Result<(), PurchaseRefusal>,
    /// The plans the user's own license would have off because a plan they need comes with
    /// a product they do not hold (empty when every plan works, or when they hold the product
    /// already).
    pub plans_off: Vec<PlanOff>,
}

impl App {
    /// SS1: the self-service eligible products with their prices in the organization's
    /// currency and, for the signed-in user, whether they may buy or try each now and why
    /// not (a Guest, the purchase policy, an earlier trial). The purchase and the trial check
    /// the same rule again.
    pub async fn purchase_offers(&self, actor: &Actor) -> AppResult<Vec<PurchaseOffer>> {
        let me = Self::buyer(actor)?;
        let catalog = self.catalog();
        let mut conn = self.read().await?;
        let buyer = dir::get_user(&mut conn, actor.tenant_id, me)
            .await?
            .ok_or_else(|| AppError::Unauthorized("Your account no longer exists.".into()))?;
        let currency = tenants::get(&mut conn, actor.tenant_id)
            .await?
            .map(|t| t.currency)
            .unwrap_or_else(|| "USD".into());
        let held: Vec<seatkeeper_domain::plans::License> = assignments::of_user(&mut conn, me)
            .await?
            .into_iter()
            .map(|a| seatkeeper_domain::plans::License {
                sku_id: a.sku_id,
                disabled_plans: a.disabled_plans,
            })
            .collect();
        let mut out = Vec::new();
        for product in catalog.products.iter().filter(|p| p.self_service) {
            let prerequisites = if held.iter().any(|l| l.sku_id == product.sku_id) {
                Ok(Vec::new())
            } else {
                check_prerequisites(&catalog, product, &held, &[])
            };
            let policy =
                crate::policies::policy_value(&mut conn, actor.tenant_id, product.sku_id).await?;
            let earlier = self
                .earlier_trial(&mut conn, actor.tenant_id, me, product.sku_id)
                .await?;
            let check = |what| check_start(what, buyer.user_type, product, policy, earlier, true);
            let price = match (
                unit_price(product, &currency, BillingFrequency::Monthly),
                unit_price(product, &currency, BillingFrequency::Annual),
            ) {
                (Ok(m), Ok(a)) => Some((m, a)),
                _ => None,
            };
            let works = prerequisites.as_ref().map(|_| ()).map_err(Clone::clone);
            let purchase = check(Start::Purchase)
                .and_then(|()| {
                    unit_price(product, &currency, BillingFrequency::Monthly).map(|_| ())
                })
                .and_then(|()| works.clone());
            out.push(PurchaseOffer {
                product: product.clone(),
                price,
                purchase,
                trial: check(Start::Trial).and(works),
                plans_off: prerequisites.unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// SS2: the Members whose name or user name starts with `term` (at most `limit`), for
    /// the purchaser of self-service subscription `key` to pick whom to give its licenses.
    /// Only its purchaser may search (others get the 403 of changing it).
    pub async fn find_members_for(
        &self,
        actor: &Actor,
        key: &str,
        term: &str,
        limit: i64,
    ) -> AppResult<Vec<User>> {
        Self::buyer(actor)?;
        let mut conn = self.read().await?;
        let s = subs::find(&mut conn, actor.tenant_id, key)
            .await?
            .ok_or_else(|| not_found(key))?;
        check_own_purchase(&mut conn, actor, key, &s).await?;
        let term = term.trim();
        if term.is_empty() {
            return Ok(Vec::new());
        }
        let members = seatkeeper_domain::directory::UserFilter::Eq(
            seatkeeper_domain::directory::UserField::UserType,
            seatkeeper_domain::directory::Value::Text("Member".into()),
        );
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
}
