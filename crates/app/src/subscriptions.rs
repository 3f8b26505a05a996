//! Central subscriptions (SUB1–SUB3): buy, change the number of licenses, recurring billing,
//! cancel, reactivate, and the lifecycle steps the background job takes.

use crate::{Actor, App, AppError, AppResult, audit, mail};
use seatkeeper_domain::audit::AuditAction;
use seatkeeper_domain::kinds::{MailKind, Origin};
use seatkeeper_domain::lifecycle::{
    self, BillingFrequency, CancelOutcome, Lifecycle, Status, Transition,
};
use seatkeeper_domain::roles::{Action, Role};
use seatkeeper_domain::subscription::Subscription;
use seatkeeper_domain::{DomainError, SkuId, SubscriptionId, Time};
use seatkeeper_store::subscriptions as subs;
use seatkeeper_store::{Conn, assignments, directory, outbox};
use serde_json::json;

/// Reasons a customer may give when cancelling (SS2 uses the same list).
pub const CANCEL_REASONS: &[&str] = &[
    "NoLongerNeeded",
    "TooExpensive",
    "SwitchingToAnotherProduct",
    "MissingFeatures",
    "BoughtByMistake",
    "Other",
];

/// A cancellation reason as stored: one of [`CANCEL_REASONS`] (any case), for central and
/// self-service subscriptions alike (SUB2, SS2). Anything else is a 400 that lists them.
pub(crate) fn canonical_reason(reason: &str) -> AppResult<String> {
    let reason = reason.trim();
    CANCEL_REASONS
        .iter()
        .find(|r| r.eq_ignore_ascii_case(reason))
        .map(|r| r.to_string())
        .ok_or_else(|| {
            AppError::invalid(
                if reason.is_empty() {
                    "missingReason"
                } else {
                    "invalidReason"
                },
                format!(
                    "Give a reason for cancelling: one of {}.",
                    CANCEL_REASONS.join(", ")
                ),
            )
        })
}

/// The audit log's snapshot of a subscription.
pub(crate) fn subscription_json(s: &Subscription) -> serde_json::Value {
    json!({
        "id": s.id, "commerceSubscriptionId": s.commerce_id, "skuId": s.sku_id, "quantity": s.quantity,
        "status": s.life.status.as_str(), "billingFrequency": s.life.frequency.as_str(), "recurringBilling": s.life.recurring,
        "cancelled": s.life.cancelled, "termStart": s.life.term_start, "termEnd": s.life.term_end,
    })
}

fn not_found(key: &str) -> AppError {
    AppError::not_found(format!("Subscription '{key}' does not exist."))
}

impl App {
    /// SUB1: buys `quantity` licenses of a product for the organization's central pool.
    pub async fn buy(
        &self,
        actor: &Actor,
        sku: SkuId,
        quantity: i64,
        frequency: BillingFrequency,
    ) -> AppResult<Subscription> {
        actor.require(Action::ManageSubscriptions)?;
        let catalog = self.catalog();
        let p = catalog
            .product(sku)
            .ok_or(DomainError::UnknownSku { sku_id: sku })?;
        lifecycle::check_quantity(quantity)?;
        let now = self.now();
        let part = p.sku_part_number.clone();
        let part = &part;
        self.transact(move |tx| {
            Box::pin(async move {
                let pool = subs::ensure_central_pool(tx, actor.tenant_id, sku).await?;
                let id = SubscriptionId::new();
                let s = Subscription {
                    id,
                    tenant_id: actor.tenant_id,
                    sku_id: sku,
                    pool_id: pool.id,
                    origin: Origin::Admin,
                    purchaser_id: None,
                    commerce_id: id.to_string(),
                    quantity,
                    is_trial: false,
                    cancel_reason: None,
                    created_at: now,
                    life: Lifecycle::new(now, frequency)?,
                    expiring_notice_for: None,
                    payment_method_id: None,
                    price: None,
                    trial_policy: None,
                    cancel_feedback: None,
                };
                subs::insert(tx, &s).await?;
                subs::recount_total(tx, pool.id).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::SubscriptionBuy,
                    "subscription",
                    s.id,
                    format!(
                        "Bought {}, billed {}",
                        crate::counted(
                            quantity,
                            &format!("{part} license"),
                            &format!("{part} licenses")
                        ),
                        frequency.as_str()
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

    /// One subscription, by id or commerce id. Admins read every one; an end user only those
    /// they bought (SS2), others are a 403.
    pub async fn get_subscription(&self, actor: &Actor, key: &str) -> AppResult<Subscription> {
        let mut conn = self.read().await?;
        let s = subs::find(&mut conn, actor.tenant_id, key)
            .await?
            .ok_or_else(|| not_found(key))?;
        if s.purchaser_id.is_none() || s.purchaser_id != actor.user_id {
            actor.require(Action::Read)?;
        }
        Ok(s)
    }

    /// Products page: one row per subscription.
    pub async fn list_subscriptions(
        &self,
        actor: &Actor,
        include_deleted: bool,
    ) -> AppResult<Vec<Subscription>> {
        actor.require(Action::Read)?;
        let mut conn = self.read().await?;
        Ok(subs::list(&mut conn, actor.tenant_id, include_deleted).await?)
    }

    /// Loads a subscription to change, locked for the rest of the transaction: a central one
    /// for a Global or Billing admin, a self-service one for its purchaser only (SS2; admins
    /// get a 403 that says to take it over first).
    pub(crate) async fn load_for_change(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        key: &str,
    ) -> AppResult<Subscription> {
        let found = subs::find(tx, actor.tenant_id, key)
            .await?
            .ok_or_else(|| not_found(key))?;
        if found.origin == Origin::SelfService {
            return self.load_own_purchase(tx, actor, key).await;
        }
        actor.require(Action::ManageSubscriptions)?;
        // Lock, then read again: concurrent changes of one subscription apply one after the other.
        subs::lock(tx, found.id).await?;
        subs::get(tx, actor.tenant_id, found.id)
            .await?
            .ok_or_else(|| not_found(key))
    }

    /// SUB1/L8: sets a new total number of licenses ("you have 100 and want 5 more: enter 105").
    pub async fn set_quantity(
        &self,
        actor: &Actor,
        key: &str,
        quantity: i64,
    ) -> AppResult<Subscription> {
        self.update_subscription(actor, key, Some(quantity), None)
            .await
    }

    pub async fn set_recurring(
        &self,
        actor: &Actor,
        key: &str,
        on: bool,
    ) -> AppResult<Subscription> {
        self.update_subscription(actor, key, None, Some(on)).await
    }

    /// Changes the number of licenses, recurring billing, or both in one transaction: either
    /// every change is made or none. Each change that happens gets its own audit entry.
    pub async fn update_subscription(
        &self,
        actor: &Actor,
        key: &str,
        quantity: Option<i64>,
        recurring: Option<bool>,
    ) -> AppResult<Subscription> {
        self.change_subscription(actor, key, quantity, recurring, None)
            .await
    }

    /// SS2: the purchaser of self-service subscription `key` has it charged to another of
    /// their cards from now on (renewals, added licenses, a trial's conversion). The card
    /// must be theirs and not expired, as at purchase; after that the old card can be deleted.
    pub async fn set_payment_method(
        &self,
        actor: &Actor,
        key: &str,
        method: &str,
    ) -> AppResult<Subscription> {
        self.change_subscription(actor, key, None, None, Some(method))
            .await
    }

    /// [`App::update_subscription`] with, for a self-service subscription, the card it is
    /// charged to (`payment_method`, its purchaser's own): every change is made or none.
    pub async fn change_subscription(
        &self,
        actor: &Actor,
        key: &str,
        quantity: Option<i64>,
        recurring: Option<bool>,
        payment_method: Option<&str>,
    ) -> AppResult<Subscription> {
        if quantity.is_none() && recurring.is_none() && payment_method.is_none() {
            return Err(AppError::invalid(
                "nothingToChange",
                "Give quantity (the new total number of licenses), recurringBilling (true or false), paymentMethodId (self-service subscriptions), or several.",
            ));
        }
        let method = payment_method
            .map(|m| {
                seatkeeper_domain::PaymentMethodId::parse(m).ok_or_else(|| {
                    AppError::invalid(
                        "invalidPaymentMethodId",
                        format!(
                            "paymentMethodId '{}' is not a payment method id (a GUID): see GET /api/v1/me/payment-methods.",
                            m.trim()
                        ),
                    )
                })
            })
            .transpose()?;
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let before = self.load_for_change(tx, actor, key).await?;
                let part = self.catalog().part_number(before.sku_id);
                let mut s = before.clone();
                if let Some(method) = method {
                    self.replace_card(tx, actor, &before, &mut s, method, now)
                        .await?;
                }
                if let Some(quantity) = quantity {
                    if s.is_trial && quantity != s.quantity {
                        return Err(DomainError::InvalidTransition {
                            status: "a trial".into(),
                            what: "its number of licenses is fixed; buy the product to choose how many".into(),
                        }
                        .into());
                    }
                    s.life.check_quantity_change(now, s.quantity, quantity)?;
                    let delta = quantity - s.quantity;
                    let mut moved = None;
                    if delta > 0 && s.origin == Origin::SelfService {
                        moved = self
                            .charge_added_licenses(tx, &s, delta, now)
                            .await?
                            .map(|c| ("charge", c));
                    }
                    if delta < 0 && s.origin == Origin::SelfService {
                        // SS2: licenses removed within the window are refunded for the rest
                        // of the term.
                        let key = format!("remove:{}:{}:{}", s.id, s.quantity, now.timestamp_micros());
                        moved = self
                            .refund_unused(tx, &s, -delta, now, "licenses removed", &key)
                            .await?
                            .map(|c| ("refund", c));
                    }
                    if delta != 0 {
                        if delta < 0 {
                            self.check_removal_leaves_assigned(tx, &s, delta, &part)
                                .await?;
                        }
                        s.life.licenses_changed(now, s.quantity, quantity);
                        s.quantity = quantity;
                        let verb = if delta > 0 {
                            format!("Added {}", crate::counted(delta, &format!("{part} license"), &format!("{part} licenses")))
                        } else {
                            format!("Removed {}", crate::counted(-delta, &format!("{part} license"), &format!("{part} licenses")))
                        };
                        audit::record(
                            tx,
                            actor,
                            now,
                            AuditAction::SubscriptionQuantity,
                            "subscription",
                            s.id,
                            match &moved {
                                Some(("charge", c)) => format!("{verb}: {} → {quantity}; charged {}", before.quantity, c.words()),
                                Some((_, c)) => format!("{verb}: {} → {quantity}; refunded {}", before.quantity, c.words()),
                                None => format!("{verb}: {} → {quantity}", before.quantity),
                            },
                            Some(subscription_json(&before)),
                            Some({
                                let mut after = subscription_json(&s);
                                if let Some((what, c)) = &moved {
                                    after[*what] = c.json();
                                }
                                after
                            }),
                        )
                        .await?;
                    }
                }
                if let Some(on) = recurring {
                    let mid = s.clone();
                    s.life.set_recurring(on)?;
                    // Chosen by someone now: it no longer comes back on by itself (SS4).
                    subs::set_stopped_for_departure(tx, s.id, false).await?;
                    if !s.life.cancelled {
                        // Turning recurring billing back on takes the cancellation back.
                        s.cancel_reason = None;
                    }
                    if s != mid {
                        audit::record(
                            tx,
                            actor,
                            now,
                            AuditAction::SubscriptionRecurring,
                            "subscription",
                            s.id,
                            format!(
                                "Recurring billing {} for {part}",
                                if on { "on" } else { "off" }
                            ),
                            Some(subscription_json(&mid)),
                            Some(subscription_json(&s)),
                        )
                        .await?;
                    }
                }
                if s != before {
                    subs::update(tx, &s, before.life.status).await?;
                    if s.quantity != before.quantity {
                        subs::recount_total(tx, s.pool_id).await?;
                    }
                }
                Ok(s)
            })
        })
        .await
    }

    /// The card change of [`App::change_subscription`]: only a self-service subscription
    /// that is charged to a card (a paid one, or a trial that converts), not Deleted; the
    /// purchaser's own card, not expired. Audited.
    async fn replace_card(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        before: &Subscription,
        s: &mut Subscription,
        method: seatkeeper_domain::PaymentMethodId,
        now: Time,
    ) -> AppResult<()> {
        let product = self.catalog().part_number(before.sku_id);
        let (Origin::SelfService, Some(owner), Some(old)) =
            (before.origin, before.purchaser_id, before.payment_method_id)
        else {
            return Err(AppError::invalid(
                "noPaymentMethod",
                format!(
                    "Subscription {} is not charged to a card: there is no payment method to change.",
                    before.commerce_id
                ),
            ));
        };
        if before.life.status == Status::Deleted {
            return Err(DomainError::InvalidTransition {
                status: "Deleted".into(),
                what: "it is no longer charged".into(),
            }
            .into());
        }
        let (old_card, new_card) = self
            .card_for_subscription(tx, actor.tenant_id, owner, old, method, now)
            .await?;
        if method == old {
            return Ok(());
        }
        s.payment_method_id = Some(method);
        audit::record(
            tx,
            actor,
            now,
            AuditAction::SubscriptionPaymentMethod,
            "subscription",
            s.id,
            format!("{product} is charged to the card {new_card} instead of {old_card}"),
            Some(json!({"paymentMethodId": old, "paymentMethod": old_card})),
            Some(json!({"paymentMethodId": method, "paymentMethod": new_card})),
        )
        .await?;
        Ok(())
    }

    /// L8: a decrease of `delta` (< 0) licenses of `s` must leave the pool's working licenses
    /// at or above what is assigned. Locks the pool row for the rest of the transaction.
    async fn check_removal_leaves_assigned(
        &self,
        tx: &mut Conn,
        s: &Subscription,
        delta: i64,
        part: &str,
    ) -> AppResult<()> {
        let pool = subs::lock_pool(tx, s.pool_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("pool of subscription {} is missing", s.id))?;
        let total_after = if s.life.status.counts_as_enabled() {
            pool.total + delta
        } else {
            pool.total
        };
        if total_after < pool.assigned {
            return Err(DomainError::BelowAssigned {
                product: part.to_string(),
                assigned: pool.assigned,
                total_after,
                minimum: s.quantity - (pool.total - pool.assigned),
            }
            .into());
        }
        Ok(())
    }

    /// SUB2, SS2: cancels. Inside the 7-day window it is disabled at once; after it, recurring
    /// billing turns off and it runs to the end of its term. Central subscriptions: Global or
    /// Billing admin, any reason up to 500 characters. Self-service ones: only the purchaser,
    /// with a reason from [`CANCEL_REASONS`] and optional `feedback` (up to 2000 characters).
    pub async fn cancel(
        &self,
        actor: &Actor,
        key: &str,
        reason: &str,
        feedback: Option<&str>,
    ) -> AppResult<(Subscription, CancelOutcome)> {
        let reason = reason.trim();
        if reason.is_empty() {
            // Refused with the list of reasons.
            canonical_reason(reason)?;
        }
        if reason.chars().count() > 500 {
            return Err(AppError::invalid(
                "invalidReason",
                "The reason may be at most 500 characters.",
            ));
        }
        let feedback = feedback.map(str::trim).filter(|f| !f.is_empty());
        if feedback.is_some_and(|f| f.chars().count() > 2000) {
            return Err(AppError::invalid(
                "feedbackTooLong",
                "The feedback may be at most 2000 characters.",
            ));
        }
        let now = self.now();
        self.transact(move |tx| Box::pin(async move {
            let before = self.load_for_change(tx, actor, key).await?;
            let reason = match before.origin {
                Origin::SelfService => canonical_reason(reason)?,
                Origin::Admin => CANCEL_REASONS
                    .iter()
                    .find(|r| r.eq_ignore_ascii_case(reason))
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| reason.to_string()),
            };
            let mut s = before.clone();
            let outcome = s.life.cancel(now)?;
            s.cancel_reason = Some(reason.clone());
            s.cancel_feedback = feedback.map(str::to_string);
            // SS2: a paid self-service subscription cancelled within the window has the
            // unused part of its term refunded to its card at once.
            let refund = match outcome {
                CancelOutcome::DisabledNow if before.life.status == Status::Active => {
                    let key = format!("cancel:{}:{}", s.id, before.life.term_end.timestamp());
                    self.refund_unused(tx, &before, before.quantity, now, "cancelled", &key).await?
                }
                _ => None,
            };
            subs::update(tx, &s, before.life.status).await?;
            subs::recount_total(tx, s.pool_id).await?;
            let what = match (outcome, &refund) {
                (CancelOutcome::DisabledNow, _) if s.is_trial => "trial cancelled: disabled now, nothing was charged".to_string(),
                (CancelOutcome::DisabledNow, Some(r)) => format!("cancelled within the cancellation window: disabled now, refunded {}", r.words()),
                (CancelOutcome::DisabledNow, None) if s.origin == Origin::SelfService => "cancelled: disabled now, nothing to refund".to_string(),
                (CancelOutcome::DisabledNow, None) => "cancelled within the cancellation window: disabled now, prorated refund on the next invoice".to_string(),
                (CancelOutcome::EndsAtTermEnd, _) => "cancelled: recurring billing off, it ends with its term".to_string(),
            };
            let mut after = subscription_json(&s);
            if let Some(r) = &refund {
                after["refund"] = r.json();
            }
            audit::record(tx, actor, now, AuditAction::SubscriptionCancel, "subscription", s.id, format!("{} {what} (reason: {reason})", self.catalog().part_number(s.sku_id)), Some(subscription_json(&before)), Some(after)).await?;
            Ok((s, outcome))
        })).await
    }

    /// SUB3: Expired or Disabled back to Active.
    ///
    /// A self-service subscription is reactivated by its purchaser, and its card is charged
    /// for the new term at the price it was bought at (a declined or expired card refuses the
    /// reactivation and changes nothing). Central ones need the Global or Billing admin role.
    pub async fn reactivate(&self, actor: &Actor, key: &str) -> AppResult<Subscription> {
        let now = self.now();
        self.transact(move |tx| {
            Box::pin(async move {
                let before = self.load_for_change(tx, actor, key).await?;
                if before.is_trial {
                    return Err(AppError::conflict(
                        "trialNotReactivated",
                        format!(
                            "Subscription {key} is a trial: a trial cannot be reactivated. Buy {} instead.",
                            self.catalog().product(before.sku_id).map(|p| p.name.clone()).unwrap_or_else(|| before.sku_id.to_string())
                        ),
                    ));
                }
                let mut s = before.clone();
                s.life.reactivate(now)?;
                s.cancel_reason = None;
                let charge_key = format!("reactivate:{}:{}", s.id, now.timestamp_micros());
                let charged = self
                    .charge_terms(tx, &s, (1, now), "reactivated", &charge_key)
                    .await?;
                subs::update(tx, &s, before.life.status).await?;
                subs::recount_total(tx, s.pool_id).await?;
                audit::record(
                    tx,
                    actor,
                    now,
                    AuditAction::SubscriptionReactivate,
                    "subscription",
                    s.id,
                    match &charged {
                        Some(c) => format!("{} reactivated; charged {}", self.catalog().part_number(s.sku_id), c.words()),
                        None => format!("{} reactivated", self.catalog().part_number(s.sku_id)),
                    },
                    Some(subscription_json(&before)),
                    Some({
                        let mut after = subscription_json(&s);
                        if let Some(c) = &charged {
                            after["charge"] = c.json();
                        }
                        after
                    }),
                )
                .await?;
                Ok(s)
            })
        })
        .await
    }

    /// Takes every lifecycle step due for one subscription at `now`, and sends the expiring
    /// notice when it is due. Returns the steps taken.
    pub(crate) async fn advance_subscription(
        &self,
        tx: &mut Conn,
        id: SubscriptionId,
        tenant: seatkeeper_domain::TenantId,
        now: Time,
    ) -> AppResult<Vec<Transition>> {
        let actor = Actor::system(tenant);
        subs::lock(tx, id).await?;
        let Some(before) = subs::get(tx, tenant, id).await? else {
            return Ok(vec![]);
        };
        let mut s = before.clone();
        let mut steps = Vec::new();
        let mut told_ended = false;
        // A trial that converts in this run paid for its first term when it was charged.
        let mut converted = false;
        // What the renewal taken in this run charged, for its audit entry.
        let mut renewal_charge: Option<crate::selfservice::CardMove> = None;
        let mut conversion_charge: Option<crate::selfservice::CardMove> = None;
        let part = self.catalog().part_number(s.sku_id);
        // Each step moves the status or the term end forward (apply refuses one that would
        // not), and one renewal covers every term that ended by now: this ends quickly.
        while let Some(t) = s.life.due(now)? {
            if s.is_trial
                && let Transition::Renew { .. } = t
            {
                // SUB4: a trial with a payment method converts to paid instead of renewing;
                // when the charge fails it expires, and its purchaser is told. A purchaser
                // who has left is never charged: the trial ends as one without a card does,
                // and the admins are told why and what they can do.
                let left = self.purchaser_to_tell(tx, &s).await?.err();
                let summary = if let Some(who) = left {
                    s.life.recurring = false;
                    // That e-mail says the trial ended: no separate expired notice.
                    told_ended = true;
                    self.mail_trial_ended_purchaser_left(tx, &s, &who, now)
                        .await?;
                    format!(
                        "{part} trial did not convert to paid: its purchaser, {who}, has left the organization"
                    )
                } else {
                    match self.convert_trial(tx, &mut s).await? {
                        Ok(c) => {
                            converted = true;
                            self.mail_trial_converted(tx, &s, now).await?;
                            let words = format!(
                                "{part} trial converted to a paid subscription of {}; charged {}",
                                crate::counted(s.quantity, "license", "licenses"),
                                c.words()
                            );
                            conversion_charge = Some(c);
                            words
                        }
                        Err(reason) => {
                            s.life.recurring = false;
                            // That e-mail says the trial ended: no separate expired notice.
                            told_ended = true;
                            self.mail_payment_failed(tx, &s, &reason, now).await?;
                            format!("{part} trial could not convert to paid: {reason}")
                        }
                    }
                };
                audit::record(
                    tx,
                    &actor,
                    now,
                    AuditAction::SubscriptionConvert,
                    "subscription",
                    s.id,
                    summary,
                    Some(subscription_json(&before)),
                    Some({
                        let mut after = subscription_json(&s);
                        if let Some(c) = conversion_charge.take() {
                            after["charge"] = c.json();
                        }
                        after
                    }),
                )
                .await?;
                if s.is_trial {
                    // Not converted: the loop takes the expiry next.
                    continue;
                }
            }
            if !s.is_trial
                && s.origin == Origin::SelfService
                && let Transition::Renew { .. } = t
                && let Err(who) = self.purchaser_to_tell(tx, &s).await?
            {
                // SS4: a paid self-service subscription whose purchaser has left does not
                // renew on their card: recurring billing stops, it ends with its term unless an
                // admin takes it over, and the admins are told.
                s.life.recurring = false;
                told_ended = true;
                self.mail_renewal_stopped_purchaser_left(tx, &s, &who, now)
                    .await?;
                audit::record(
                    tx,
                    &actor,
                    now,
                    AuditAction::SubscriptionRecurring,
                    "subscription",
                    s.id,
                    format!(
                        "{part} did not renew: its purchaser, {who}, has left the organization; recurring billing is off"
                    ),
                    Some(subscription_json(&before)),
                    Some(subscription_json(&s)),
                )
                .await?;
                continue;
            }
            if let Transition::Renew {
                at,
                renewals,
                term_end,
                ..
            } = t
                && !converted
            {
                // A paid self-service subscription renews only when its card is charged for
                // the terms it renews for; when the charge fails, recurring billing stops, it
                // expires, and the purchaser is told.
                let key = format!("renew:{}:{}", s.id, term_end.timestamp());
                match self
                    .charge_terms(tx, &s, (renewals, at), "renewal", &key)
                    .await
                {
                    Ok(c) => renewal_charge = c,
                    Err(
                        e @ (AppError::Store(_)
                        | AppError::Busy(_)
                        | AppError::StorageFull(_)
                        | AppError::Internal(_)),
                    ) => {
                        return Err(e);
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        s.life.recurring = false;
                        told_ended = true;
                        self.mail_renewal_failed(tx, &s, &reason, now).await?;
                        audit::record(
                            tx,
                            &actor,
                            now,
                            AuditAction::SubscriptionRecurring,
                            "subscription",
                            s.id,
                            format!(
                                "{part} did not renew: the charge failed ({reason}); recurring billing is off"
                            ),
                            Some(subscription_json(&before)),
                            Some(subscription_json(&s)),
                        )
                        .await?;
                        continue;
                    }
                }
            }
            let was = s.life.status;
            s.life.apply(t)?;
            steps.push(t);
            let self_service = s.origin == Origin::SelfService;
            match t {
                Transition::Disable { .. } if was.counts_as_enabled() => {
                    self.notify_lifecycle(tx, &s, MailKind::SubscriptionDisabled, now)
                        .await?;
                }
                Transition::Expire { .. } if self_service => {
                    // The purchaser hears that it ended (not a reminder that it ends soon),
                    // once.
                    s.expiring_notice_for = Some(s.life.term_end);
                    if !told_ended {
                        self.notify_lifecycle(tx, &s, MailKind::SubscriptionExpired, now)
                            .await?;
                    }
                }
                Transition::Expire { .. } if s.expiring_notice_for != Some(s.life.term_end) => {
                    s.expiring_notice_for = Some(s.life.term_end);
                    self.notify_admins(tx, &s, MailKind::SubscriptionExpiring, now)
                        .await?;
                }
                Transition::Delete { .. } if self_service => {
                    self.notify_lifecycle(tx, &s, MailKind::SubscriptionDeleted, now)
                        .await?;
                }
                _ => {}
            }
            let (action, summary) = match t {
                Transition::Renew {
                    at,
                    renewals: 1,
                    term_end,
                    ..
                } => (
                    AuditAction::SubscriptionRenew,
                    format!(
                        "{part} renewed at {} until {}",
                        at.to_rfc3339(),
                        term_end.to_rfc3339()
                    ),
                ),
                Transition::Renew {
                    at,
                    renewals,
                    term_start,
                    term_end,
                    ..
                } => (
                    AuditAction::SubscriptionRenew,
                    format!(
                        "{part} renewed {renewals} times, the first at {}: the current term runs from {} until {}",
                        at.to_rfc3339(),
                        term_start.to_rfc3339(),
                        term_end.to_rfc3339()
                    ),
                ),
                Transition::Expire { .. } => (
                    AuditAction::SubscriptionExpire,
                    format!(
                        "{part} expired: licenses keep working for {} days",
                        lifecycle::EXPIRED_DAYS
                    ),
                ),
                Transition::Disable { .. } => (
                    AuditAction::SubscriptionDisable,
                    format!(
                        "{part} disabled: users lost access; it is deleted after {} days",
                        lifecycle::DISABLED_DAYS
                    ),
                ),
                Transition::Delete { .. } => {
                    (AuditAction::SubscriptionDelete, format!("{part} deleted"))
                }
            };
            let mut after = subscription_json(&s);
            let mut summary = summary;
            if let Transition::Renew { renewals, .. } = t {
                after["renewals"] = json!(renewals);
                if let Some(c) = renewal_charge.take() {
                    summary.push_str(&format!("; charged {}", c.words()));
                    after["charge"] = c.json();
                }
            }
            audit::record(
                tx,
                &actor,
                now,
                action,
                "subscription",
                s.id,
                summary,
                None,
                Some(after),
            )
            .await?;
        }
        // Warn before the end of a term that will not renew, never for one that ends in this
        // run (the loop above has taken its expiry, and said so).
        if s.life.status == Status::Active
            && !s.life.recurring
            && s.life.term_end > now
            && s.life.term_end <= now + chrono::Duration::days(lifecycle::EXPIRING_NOTICE_DAYS)
            && s.expiring_notice_for != Some(s.life.term_end)
        {
            s.expiring_notice_for = Some(s.life.term_end);
            self.notify_lifecycle(tx, &s, MailKind::SubscriptionExpiring, now)
                .await?;
        }
        if s != before {
            if !subs::update(tx, &s, before.life.status).await? {
                // Another process moved it first: roll this attempt back; the next run looks again.
                return Err(AppError::conflict(
                    "concurrentChange",
                    format!("subscription {id} changed while its lifecycle step ran"),
                ));
            }
            if s.life.status == Status::Deleted {
                // The holders who will lose their licenses are locked before the pool (which
                // the recount locks), in the order a license batch locks them.
                self.lock_trimmed_holders(tx, &s).await?;
            }
            if s.life.status != before.life.status || s.quantity != before.quantity {
                subs::recount_total(tx, s.pool_id).await?;
            }
            if s.life.status == Status::Deleted {
                self.trim_pool(tx, &actor, &s, now).await?;
            }
        }
        Ok(steps)
    }

    /// PostgreSQL: before the pool of deleted subscription `s` is locked, locks the holders
    /// of the licenses [`App::trim_pool`] will take back, as the pool stands now (unlocked).
    /// `trim_pool` counts again with the pool locked; it locks any other holder then, which
    /// happens only if licenses of the pool were given in between.
    async fn lock_trimmed_holders(&self, tx: &mut Conn, s: &Subscription) -> AppResult<()> {
        if self.db.backend() != seatkeeper_store::Backend::Postgres {
            return Ok(());
        }
        let Some(pool) = subs::get_pool(tx, s.pool_id).await? else {
            return Ok(());
        };
        let excess = pool.assigned - subs::reactivatable_licenses(tx, pool.id).await?;
        assignments::lock_newest_holders(tx, pool.id, excess).await?;
        Ok(())
    }

    /// SUB3: after a subscription is deleted, removes at most what the pool's remaining
    /// Active, Expired and Disabled subscriptions no longer cover, latest-assigned first, in
    /// one statement; seats are given back for exactly the rows it deleted.
    async fn trim_pool(
        &self,
        tx: &mut Conn,
        actor: &Actor,
        s: &Subscription,
        now: Time,
    ) -> AppResult<()> {
        let Some(pool) = subs::lock_pool(tx, s.pool_id).await? else {
            return Ok(());
        };
        let excess = pool.assigned - subs::reactivatable_licenses(tx, pool.id).await?;
        if excess <= 0 {
            return Ok(());
        }
        let removed = assignments::delete_newest_in_pool(tx, pool.id, excess).await?;
        subs::release_seats(tx, pool.id, removed.len() as i64).await?;
        let catalog = self.catalog();
        let part = self.catalog().part_number(s.sku_id);
        let ids: Vec<seatkeeper_domain::UserId> = removed.iter().map(|a| a.user_id).collect();
        let mut names = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            for u in directory::users_by_ids(tx, s.tenant_id, chunk).await? {
                names.insert(u.id, u.upn);
            }
        }
        let entries: Vec<audit::NewEntry> = removed
            .iter()
            .map(|a| audit::NewEntry {
                action: AuditAction::LicenseUnassign,
                target_type: "user",
                target_id: a.user_id.to_string(),
                summary: format!(
                    "{}: {part} removed because its subscription {} was deleted",
                    names
                        .get(&a.user_id)
                        .cloned()
                        .unwrap_or_else(|| a.user_id.to_string()),
                    s.commerce_id
                ),
                before: Some(crate::licenses::licenses_json(
                    &catalog,
                    std::slice::from_ref(a),
                )),
                after: None,
            })
            .collect();
        audit::record_many(tx, actor, now, &entries).await?;
        // Groups that gave these licenses now show the members in error (L6).
        self.reconcile_users(tx, s.tenant_id, &ids, now).await?;
        Ok(())
    }

    /// The organization's name and the product's name, for e-mails about `s`.
    pub(crate) async fn mail_names(
        &self,
        tx: &mut Conn,
        s: &Subscription,
    ) -> AppResult<(String, String)> {
        let tenant = seatkeeper_store::tenants::get(tx, s.tenant_id)
            .await?
            .map(|t| t.name)
            .unwrap_or_default();
        let product = self
            .catalog()
            .product(s.sku_id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| s.sku_id.to_string());
        Ok((tenant, product))
    }

    /// Who hears about a self-service subscription's life: `Ok(user)` its purchaser while
    /// they are in the organization (account enabled), else `Err(words naming them)` and the
    /// Global and Billing admins hear instead.
    pub(crate) async fn purchaser_to_tell(
        &self,
        tx: &mut Conn,
        s: &Subscription,
    ) -> AppResult<Result<seatkeeper_domain::directory::User, String>> {
        let purchaser = match s.purchaser_id {
            Some(p) => directory::get_user(tx, s.tenant_id, p).await?,
            None => None,
        };
        Ok(match purchaser {
            Some(u) if u.account_enabled => Ok(u),
            Some(u) => Err(format!("{} ({})", u.display_name, u.upn)),
            None => match s.purchaser_id {
                Some(p) => match subs::deleted_purchasers(tx, s.tenant_id, &[p]).await?.pop() {
                    Some((_, name, upn)) => Err(format!("{name} ({upn})")),
                    None => Err("a user whose account was deleted".into()),
                },
                None => Err("a user whose account was deleted".into()),
            },
        })
    }

    /// A lifecycle notice about `s`: for a central subscription to every Global and Billing
    /// admin; for a self-service one to its purchaser only (admins see it read-only and get
    /// none), or to those admins when the purchaser has left the organization.
    pub(crate) async fn notify_lifecycle(
        &self,
        tx: &mut Conn,
        s: &Subscription,
        kind: MailKind,
        now: Time,
    ) -> AppResult<()> {
        if s.origin != Origin::SelfService {
            return self.notify_admins(tx, s, kind, now).await;
        }
        let (tenant, product) = self.mail_names(tx, s).await?;
        match self.purchaser_to_tell(tx, s).await? {
            Ok(u) => {
                let bought = s.is_trial
                    && seatkeeper_store::subscriptions::of_purchaser(tx, s.tenant_id, u.id, false)
                        .await?
                        .iter()
                        .any(|o| {
                            o.sku_id == s.sku_id
                                && !o.is_trial
                                && o.id != s.id
                                && matches!(o.life.status, Status::Active | Status::Expired)
                        });
                let content = mail::self_service_notice(
                    kind,
                    &tenant,
                    &product,
                    s,
                    mail::Audience::Purchaser { bought },
                );
                self.enqueue_notice(tx, s, kind, &u, &content, now).await
            }
            Err(who) => {
                let content = mail::self_service_notice(
                    kind,
                    &tenant,
                    &product,
                    s,
                    mail::Audience::AdminsPurchaserLeft { purchaser: &who },
                );
                self.notice_to_admins(tx, s, kind, &content, now).await
            }
        }
    }

    /// Writes `content` about `s` to one user in the outbox, once per kind, term, status and
    /// user; a purchaser leaving is told each time it happens.
    pub(crate) async fn enqueue_notice(
        &self,
        tx: &mut Conn,
        s: &Subscription,
        kind: MailKind,
        to: &seatkeeper_domain::directory::User,
        content: &mail::Content,
        now: Time,
    ) -> AppResult<()> {
        let address = to.mail.clone().unwrap_or(to.upn.clone());
        let mut key = format!(
            "{kind}:{}:{}:{}:{}",
            s.id,
            s.life.term_end.timestamp(),
            s.life.status.as_str(),
            to.id
        );
        if kind == MailKind::PurchaserLeft {
            key.push_str(&format!(":{}", now.timestamp_micros()));
        }
        outbox::enqueue(
            tx,
            &mail::message(s.tenant_id, Some(key), kind, &address, content, now),
        )
        .await?;
        Ok(())
    }

    /// Writes `content` about `s` to every Global and Billing admin, in the outbox.
    pub(crate) async fn notice_to_admins(
        &self,
        tx: &mut Conn,
        s: &Subscription,
        kind: MailKind,
        content: &mail::Content,
        now: Time,
    ) -> AppResult<()> {
        let admins =
            directory::users_with_roles(tx, s.tenant_id, &[Role::GlobalAdmin, Role::BillingAdmin])
                .await?;
        for a in admins {
            self.enqueue_notice(tx, s, kind, &a, content, now).await?;
        }
        Ok(())
    }

    /// Writes a notice about central subscription `s` to every Global and Billing admin, in
    /// the outbox.
    async fn notify_admins(
        &self,
        tx: &mut Conn,
        s: &Subscription,
        kind: MailKind,
        now: Time,
    ) -> AppResult<()> {
        let admins =
            directory::users_with_roles(tx, s.tenant_id, &[Role::GlobalAdmin, Role::BillingAdmin])
                .await?;
        let (tenant, product) = self.mail_names(tx, s).await?;
        let content = mail::subscription_notice(kind, &tenant, &product, s);
        for a in admins {
            let to = a.mail.clone().unwrap_or(a.upn.clone());
            let key = format!("{kind}:{}:{}:{}", s.id, s.life.term_end.timestamp(), a.id);
            outbox::enqueue(
                tx,
                &mail::message(s.tenant_id, Some(key), kind, &to, &content, now),
            )
            .await?;
        }
        Ok(())
    }
}
