//! `seatkeeper subscriptions …`: central subscriptions (SUB1–SUB3).

use crate::commands::{OrCli, operator};
use crate::opts::{Billing, OnOff, SubscriptionsCmd};
use crate::output::{self, Table};
use anyhow::{Context, bail};
use seatkeeper_app::views;
use seatkeeper_app::{Actor, App};
use seatkeeper_domain::SubscriptionId;
use seatkeeper_domain::catalog::{Catalog, Product};
use seatkeeper_domain::lifecycle::{BillingFrequency, CancelOutcome};
use seatkeeper_domain::subscription::Subscription;

/// Finds a product by SKU id or part number.
pub fn product<'c>(catalog: &'c Catalog, key: &str) -> anyhow::Result<&'c Product> {
    catalog.find_product(key).with_context(|| {
        format!("no product '{key}' in the catalog; see `seatkeeper catalog show` for SKU ids and part numbers")
    })
}

/// A subscription id (or commerce id), or a part number of which the tenant has exactly one
/// subscription that is not deleted.
async fn resolve(app: &App, actor: &Actor, key: &str) -> anyhow::Result<String> {
    if SubscriptionId::parse(key).is_some() {
        return Ok(key.trim().to_string());
    }
    let catalog = app.catalog();
    let Some(p) = catalog.find_product(key) else {
        // A commerce id that is not a UUID; the app says if it does not exist.
        return Ok(key.trim().to_string());
    };
    let subs: Vec<Subscription> = app
        .list_subscriptions(actor, false)
        .await
        .cli()?
        .into_iter()
        .filter(|s| s.sku_id == p.sku_id && s.origin == seatkeeper_domain::kinds::Origin::Admin)
        .collect();
    match subs.as_slice() {
        [s] => Ok(s.id.to_string()),
        [] => bail!(
            "the organization has no subscription of {}; buy one with `seatkeeper subscriptions buy`",
            p.sku_part_number
        ),
        many => bail!(
            "the organization has {} subscriptions of {}: name one by id ({})",
            many.len(),
            p.sku_part_number,
            many.iter()
                .map(|s| s.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn status(s: &Subscription) -> String {
    if s.life.cancelled && s.life.status.as_str() == "Active" {
        "Active (cancelled)".into()
    } else {
        s.life.status.as_str().into()
    }
}

fn print_one(catalog: &Catalog, s: &Subscription, json: bool, what: &str) -> anyhow::Result<()> {
    if json {
        output::json(&views::Subscription::new(catalog, s))
    } else {
        output::lines([format!(
            "{what}: {} × {} ({}, billed {}, recurring billing {}, term ends {}), subscription {}",
            s.quantity,
            catalog.part_number(s.sku_id),
            status(s),
            s.life.frequency.as_str(),
            if s.life.recurring { "on" } else { "off" },
            output::when(s.life.term_end),
            s.id
        )])
    }
}

pub async fn run(app: App, cmd: SubscriptionsCmd) -> anyhow::Result<()> {
    let catalog = app.catalog();
    match cmd {
        SubscriptionsCmd::List { tenant, all, json } => {
            let actor = operator(&app, &tenant).await?;
            if json.json {
                let people = app
                    .subscriptions_with_people(&actor, None, all)
                    .await
                    .cli()?;
                return output::json(&views::SubscriptionList {
                    value: people
                        .iter()
                        .map(|p| views::Subscription::with_people(&catalog, p))
                        .collect(),
                });
            }
            let list = app.list_subscriptions(&actor, all).await.cli()?;
            let mut t = Table::new(&[
                "PRODUCT",
                "LICENSES",
                "STATUS",
                "BILLING",
                "RECURRING",
                "TERM END",
                "NEXT STEP",
                "ORIGIN",
                "ID",
            ])
            .right(&[1]);
            for s in &list {
                t.row(vec![
                    catalog.part_number(s.sku_id),
                    s.quantity.to_string(),
                    status(s),
                    s.life.frequency.as_str().into(),
                    output::yes_no(s.life.recurring),
                    output::when(s.life.term_end),
                    s.life
                        .next_lifecycle_at()
                        .map(output::when)
                        .unwrap_or_else(|| "-".into()),
                    s.origin.to_string(),
                    s.id.to_string(),
                ]);
            }
            t.print("No subscriptions: buy one with `seatkeeper subscriptions buy`.")
        }
        SubscriptionsCmd::Buy {
            tenant,
            sku,
            quantity,
            billing,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let p = product(&catalog, &sku)?;
            let f = match billing {
                Billing::Monthly => BillingFrequency::Monthly,
                Billing::Annual => BillingFrequency::Annual,
            };
            let s = app.buy(&actor, p.sku_id, quantity, f).await.cli()?;
            print_one(&catalog, &s, json.json, "Bought")
        }
        SubscriptionsCmd::SetQuantity {
            tenant,
            subscription,
            quantity,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let key = resolve(&app, &actor, &subscription).await?;
            let s = app.set_quantity(&actor, &key, quantity).await.cli()?;
            print_one(&catalog, &s, json.json, "Now")
        }
        SubscriptionsCmd::Recurring {
            tenant,
            subscription,
            state,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let key = resolve(&app, &actor, &subscription).await?;
            let s = app
                .set_recurring(&actor, &key, state == OnOff::On)
                .await
                .cli()?;
            print_one(&catalog, &s, json.json, "Now")
        }
        SubscriptionsCmd::Cancel {
            tenant,
            subscription,
            reason,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let key = resolve(&app, &actor, &subscription).await?;
            let (s, outcome) = app.cancel(&actor, &key, &reason, None).await.cli()?;
            if json.json {
                return output::json(&views::CancelResult::new(&catalog, &s, outcome));
            }
            let what = match outcome {
                CancelOutcome::DisabledNow if s.is_trial => {
                    "trial cancelled: disabled now; nothing was charged".to_string()
                }
                CancelOutcome::DisabledNow => "cancelled within the cancellation window: disabled now; a prorated refund is credited on the next invoice".to_string(),
                CancelOutcome::EndsAtTermEnd => format!(
                    "cancelled: recurring billing is off and it ends with its term on {}",
                    output::when(s.life.term_end)
                ),
            };
            output::lines([format!(
                "Subscription {} ({} × {}) {what}",
                s.id,
                s.quantity,
                catalog.part_number(s.sku_id)
            )])
        }
        SubscriptionsCmd::Reactivate {
            tenant,
            subscription,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let key = resolve(&app, &actor, &subscription).await?;
            let s = app.reactivate(&actor, &key).await.cli()?;
            print_one(&catalog, &s, json.json, "Reactivated")
        }
    }
}
