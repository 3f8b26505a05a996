//! `seatkeeper policy …`: the self-service purchase policy (POL3), like the commerce PowerShell
//! module's Get-MSCommerceProductPolicies, Get-MSCommerceProductPolicy and
//! Update-MSCommerceProductPolicy.

use crate::commands::{OrCli, operator};
use crate::opts::{JsonArg, TenantArg};
use crate::output::{self, Table};
use clap::Subcommand;
use seatkeeper_app::App;
use seatkeeper_app::policies::parse_value;
use seatkeeper_app::views::{ProductPolicy, ProductPolicyList};

#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// List every self-service-eligible product with its purchase policy value.
    ///
    /// Products the organization has not set show its default (see `policy set-default`).
    ///
    /// Example: seatkeeper policy list --tenant Contoso
    List {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Show one product's purchase policy value.
    ///
    /// Example: seatkeeper policy get --tenant Contoso --product-id CFQ7TTC0LH18
    Get {
        #[command(flatten)]
        tenant: TenantArg,
        /// The product's 12-character productId (see `seatkeeper policy list`).
        #[arg(long)]
        product_id: String,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Set one product's purchase policy value: Enabled (users may buy and start trials),
    /// OnlyTrialsWithoutPaymentMethod (only trials that need no card), or Disabled.
    ///
    /// Applies from now on: purchases and trials that exist are not touched.
    ///
    /// Example: seatkeeper policy set --tenant Contoso --product-id CFQ7TTC0LH18 --value Disabled
    Set {
        #[command(flatten)]
        tenant: TenantArg,
        /// The product's 12-character productId (see `seatkeeper policy list`).
        #[arg(long)]
        product_id: String,
        /// Enabled, OnlyTrialsWithoutPaymentMethod or Disabled.
        #[arg(long)]
        value: String,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Set the value of every eligible product the organization has not set itself.
    ///
    /// Example: seatkeeper policy set-default --tenant Contoso --value OnlyTrialsWithoutPaymentMethod
    SetDefault {
        #[command(flatten)]
        tenant: TenantArg,
        /// Enabled, OnlyTrialsWithoutPaymentMethod or Disabled.
        #[arg(long)]
        value: String,
        #[command(flatten)]
        json: JsonArg,
    },
}

fn table(rows: &[ProductPolicy]) -> anyhow::Result<()> {
    let mut t = Table::new(&["PolicyId", "ProductName", "ProductId", "PolicyValue"]);
    for r in rows {
        t.row(vec![
            r.policy_id.clone(),
            r.product_name.clone(),
            r.product_id.clone(),
            r.policy_value.to_string(),
        ]);
    }
    t.print("The catalog has no self-service-eligible products.")
}

fn one(r: ProductPolicy, json: bool) -> anyhow::Result<()> {
    if json { output::json(&r) } else { table(&[r]) }
}

pub async fn run(app: App, cmd: PolicyCmd) -> anyhow::Result<()> {
    match cmd {
        PolicyCmd::List { tenant, json } => {
            let actor = operator(&app, &tenant).await?;
            let items = app.product_policies(&actor).await.cli()?;
            if json.json {
                output::json(&ProductPolicyList { items })
            } else {
                table(&items)
            }
        }
        PolicyCmd::Get {
            tenant,
            product_id,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            one(
                app.product_policy(&actor, &product_id).await.cli()?,
                json.json,
            )
        }
        PolicyCmd::Set {
            tenant,
            product_id,
            value,
            json,
        } => {
            let value = parse_value("--value", &value).cli()?;
            let actor = operator(&app, &tenant).await?;
            one(
                app.set_product_policy(&actor, &product_id, value)
                    .await
                    .cli()?,
                json.json,
            )
        }
        PolicyCmd::SetDefault {
            tenant,
            value,
            json,
        } => {
            let value = parse_value("--value", &value).cli()?;
            let actor = operator(&app, &tenant).await?;
            let p = app.set_policy_default(&actor, value).await.cli()?;
            if json.json {
                output::json(&p)
            } else {
                output::lines([format!(
                    "{}: default value {} for products the organization has not set",
                    p.policy_id, p.default_value
                )])
            }
        }
    }
}
