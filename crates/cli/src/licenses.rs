//! `seatkeeper licenses …`: the Licenses page, assign, unassign, a product's users (L1–L3, L7).

use crate::commands::{OrCli, operator};
use crate::opts::LicensesCmd;
use crate::output::{self, Table};
use crate::subscriptions::product;
use anyhow::Context;
use seatkeeper_app::App;
use seatkeeper_app::views;
use seatkeeper_domain::PlanId;
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::catalog::{Catalog, Product};
use seatkeeper_domain::directory::User;
use seatkeeper_domain::plans::enabled_plans;
use std::io::Write;

const PAGE: i64 = 500;

/// Plan names or ids to plan ids; the app checks that they belong to the product.
pub(crate) fn plans(
    catalog: &Catalog,
    p: &Product,
    keys: &[String],
) -> anyhow::Result<Vec<PlanId>> {
    keys.iter()
        .map(|k| k.trim())
        .filter(|k| !k.is_empty())
        .map(|k| {
            PlanId::parse(k)
                .or_else(|| {
                    catalog
                        .plans
                        .iter()
                        .find(|x| x.name.eq_ignore_ascii_case(k))
                        .map(|x| x.id)
                })
                .with_context(|| {
                    format!(
                        "no service plan '{k}'; the plans of {} are {}",
                        p.sku_part_number,
                        names(catalog, &p.plans)
                    )
                })
        })
        .collect()
}

fn names(catalog: &Catalog, ids: &[PlanId]) -> String {
    if ids.is_empty() {
        return "-".into();
    }
    ids.iter()
        .map(|i| catalog.plan_name(*i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The users a change was about, with their licenses afterwards: the REST API's body.
async fn result_json(
    app: &App,
    actor: &seatkeeper_app::Actor,
    catalog: &Catalog,
    out: &[(User, Vec<Assignment>)],
) -> anyhow::Result<views::UserLicensesList> {
    let ids: Vec<_> = out.iter().map(|(u, _)| u.id).collect();
    let groups = app.named_license_sources(actor, &ids).await.cli()?;
    Ok(views::UserLicensesList {
        value: out
            .iter()
            .map(|(u, held)| views::UserLicenses::new(catalog, u, held, &groups))
            .collect(),
    })
}

pub async fn run(app: App, cmd: LicensesCmd) -> anyhow::Result<()> {
    let catalog = app.catalog();
    match cmd {
        LicensesCmd::List { tenant, json } => {
            let actor = operator(&app, &tenant).await?;
            let rows = app.licenses_page(&actor).await.cli()?;
            if json.json {
                return output::json(&views::ProductLicensesList {
                    value: rows.iter().map(views::ProductLicenses::from).collect(),
                });
            }
            let mut t = Table::new(&["PRODUCT", "SKU", "ASSIGNED/TOTAL", "AVAILABLE", "STATUS"])
                .right(&[2, 3]);
            for r in rows {
                t.row(vec![
                    r.product_name,
                    r.sku_part_number,
                    format!("{}/{}", r.assigned, r.total),
                    r.available.to_string(),
                    r.capability_status.into(),
                ]);
            }
            t.print(
                "The organization has no licenses: buy some with `seatkeeper subscriptions buy`.",
            )
        }
        LicensesCmd::Assign {
            tenant,
            sku,
            users,
            disable,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let p = product(&catalog, &sku)?;
            let disabled = plans(&catalog, p, &disable)?;
            let users = clean(users);
            let out = app
                .assign_product(&actor, p.sku_id, &users, &disabled)
                .await
                .cli()?;
            if json.json {
                return output::json(&result_json(&app, &actor, &catalog, &out).await?);
            }
            let off = if disabled.is_empty() {
                String::new()
            } else {
                format!(" with {} off", names(&catalog, &disabled))
            };
            output::lines([format!(
                "{} assigned to {} {}{off}: {}",
                p.sku_part_number,
                out.len(),
                if out.len() == 1 { "user" } else { "users" },
                out.iter()
                    .map(|(u, _)| u.upn.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )])
        }
        LicensesCmd::Unassign {
            tenant,
            sku,
            users,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let p = product(&catalog, &sku)?;
            let users = clean(users);
            let out = app.unassign_product(&actor, p.sku_id, &users).await.cli()?;
            if json.json {
                return output::json(&result_json(&app, &actor, &catalog, &out).await?);
            }
            output::lines([format!(
                "{} unassigned from {} {}: {}",
                p.sku_part_number,
                out.len(),
                if out.len() == 1 { "user" } else { "users" },
                out.iter()
                    .map(|(u, _)| u.upn.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )])
        }
        LicensesCmd::Users {
            tenant,
            sku,
            output: path,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let p = product(&catalog, &sku)?;
            let mut rows = Vec::new();
            let mut after = None;
            loop {
                let page = app
                    .product_users(&actor, p.sku_id, None, after, PAGE)
                    .await
                    .cli()?;
                let full = page.len() as i64 == PAGE;
                after = page.last().map(|(_, a)| a.user_id);
                rows.extend(page);
                if !full {
                    break;
                }
            }
            let mut groups = seatkeeper_app::group_licensing::NamedSources::default();
            for page in rows.chunks(PAGE as usize) {
                let ids: Vec<_> = page.iter().map(|(u, _)| u.id).collect();
                groups.extend(app.named_license_sources(&actor, &ids).await.cli()?);
            }
            let mut sink = output::sink(path.as_deref())?;
            if json {
                let v = views::ProductUserPage {
                    value: rows
                        .iter()
                        .map(|(u, a)| views::ProductUser::new(&catalog, u, a, &groups))
                        .collect(),
                    next_link: None,
                };
                serde_json::to_writer_pretty(&mut sink, &v)?;
                writeln!(sink)?;
                sink.flush()?;
            } else {
                let mut w = csv::Writer::from_writer(sink);
                w.write_record([
                    "userPrincipalName",
                    "displayName",
                    "userId",
                    "usageLocation",
                    "enabledPlans",
                    "disabledPlans",
                    "source",
                    "assignedDateTime",
                ])?;
                let join = |ids: &[PlanId]| {
                    ids.iter()
                        .map(|i| catalog.plan_name(*i))
                        .collect::<Vec<_>>()
                        .join(";")
                };
                for (u, a) in &rows {
                    w.write_record([
                        u.upn.clone(),
                        u.display_name.clone(),
                        u.id.to_string(),
                        u.usage_location.clone().unwrap_or_default(),
                        join(&enabled_plans(p, &a.disabled_plans)),
                        join(&a.disabled_plans),
                        views::sources_in_words(a, &groups),
                        a.assigned_at.to_rfc3339(),
                    ])?;
                }
                w.flush()?;
            }
            if let Some(path) = &path {
                eprintln!(
                    "{} users of {} written to {}",
                    rows.len(),
                    p.sku_part_number,
                    path.display()
                );
            }
            Ok(())
        }
    }
}

fn clean(users: Vec<String>) -> Vec<String> {
    users
        .into_iter()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .collect()
}
