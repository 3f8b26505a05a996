//! `seatkeeper catalog …`

use crate::commands::OrCli;
use crate::opts::CatalogCmd;
use crate::output::{self, Table};
use anyhow::Context;
use seatkeeper_app::App;
use seatkeeper_app::operator::Operator;
use seatkeeper_domain::catalog::Catalog;
use serde_json::json;
use std::io::Write;

pub async fn run(app: App, cmd: CatalogCmd) -> anyhow::Result<()> {
    match cmd {
        CatalogCmd::Import { file, json } => {
            let src = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let name = file.display().to_string();
            let s = app
                .import_catalog(&Operator::cli(), &name, &src)
                .await
                .cli()?;
            if json.json {
                output::json(&s)
            } else {
                output::lines([format!(
                    "Catalog {name} imported: {} products, {} service plans (version {})",
                    s.products, s.plans, s.version
                )])
            }
        }
        CatalogCmd::Show { json } => {
            app.refresh_catalog().await?;
            let c = app.catalog();
            if json.json {
                output::json(&catalog_json(&c))
            } else {
                show(&c)
            }
        }
        CatalogCmd::Export => {
            let doc = app
                .catalog_document()
                .await
                .cli()?
                .context("no catalog has been stored yet")?;
            let mut out = output::stdout();
            out.write_all(doc.source.as_bytes())?;
            if !doc.source.ends_with('\n') {
                writeln!(out)?;
            }
            out.flush()?;
            Ok(())
        }
    }
}

fn plan_ref(c: &Catalog, id: seatkeeper_domain::PlanId) -> serde_json::Value {
    match c.plan(id) {
        Some(p) => {
            json!({"servicePlanId": p.id, "servicePlanName": p.name, "displayName": p.display_name})
        }
        None => json!({"servicePlanId": id}),
    }
}

fn catalog_json(c: &Catalog) -> serde_json::Value {
    let names = |ids: &[seatkeeper_domain::PlanId]| -> Vec<String> {
        ids.iter().map(|i| c.plan_name(*i)).collect()
    };
    json!({
        "products": c.products.iter().map(|p| json!({
            "skuId": p.sku_id,
            "skuPartNumber": p.sku_part_number,
            "productId": p.product_id,
            "name": p.name,
            "appliesTo": p.applies_to.as_str(),
            "selfService": p.self_service,
            "servicePlans": p.plans.iter().map(|id| plan_ref(c, *id)).collect::<Vec<_>>(),
            "trial": p.trial,
            "prices": p.prices,
        })).collect::<Vec<_>>(),
        "plans": c.plans.iter().map(|p| json!({
            "servicePlanId": p.id,
            "servicePlanName": p.name,
            "displayName": p.display_name,
            "requires": names(&p.requires),
            "excludes": names(&p.excludes),
            "products": c.products.iter().filter(|x| x.plans.contains(&p.id)).map(|x| x.sku_part_number.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn show(c: &Catalog) -> anyhow::Result<()> {
    let list = |ids: &[seatkeeper_domain::PlanId]| -> String {
        if ids.is_empty() {
            "-".into()
        } else {
            ids.iter()
                .map(|i| c.plan_name(*i))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let mut products = Table::new(&[
        "PRODUCT",
        "NAME",
        "SKU ID",
        "APPLIES TO",
        "SELF-SERVICE",
        "TRIAL",
        "PRICES (MONTHLY/ANNUAL)",
        "SERVICE PLANS",
    ]);
    for p in &c.products {
        let trial = match &p.trial {
            Some(t) => format!(
                "{} days, {} licenses{}",
                t.days,
                t.licenses,
                if t.needs_payment_method {
                    ", needs card"
                } else {
                    ""
                }
            ),
            None => "-".into(),
        };
        let prices = if p.prices.is_empty() {
            "-".into()
        } else {
            p.prices
                .iter()
                .map(|x| format!("{} {}/{}", x.currency, minor(x.monthly), minor(x.annual)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        products.row(vec![
            p.sku_part_number.clone(),
            p.name.clone(),
            p.sku_id.to_string(),
            p.applies_to.as_str().into(),
            output::yes_no(p.self_service),
            trial,
            prices,
            list(&p.plans),
        ]);
    }
    let mut plans = Table::new(&["SERVICE PLAN", "DISPLAY NAME", "ID", "REQUIRES", "EXCLUDES"]);
    for p in &c.plans {
        plans.row(vec![
            p.name.clone(),
            p.display_name.clone(),
            p.id.to_string(),
            list(&p.requires),
            list(&p.excludes),
        ]);
    }
    let mut out = output::stdout();
    products.write(&mut out)?;
    writeln!(out)?;
    plans.write(&mut out)?;
    out.flush()?;
    Ok(())
}

/// Minor units as a decimal amount: 1250 → "12.50".
fn minor(v: i64) -> String {
    format!("{}.{:02}", v / 100, (v % 100).abs())
}
