//! `seatkeeper partners …`: users of other organizations who act for this one with delegated
//! roles (list, grant, revoke).

use crate::commands::{OrCli, operator};
use crate::opts::{JsonArg, TenantArg};
use crate::output::{self, Table};
use anyhow::bail;
use clap::Subcommand;
use seatkeeper_app::App;
use seatkeeper_app::partners::Partner;
use seatkeeper_domain::roles::Role;
use serde_json::json;

#[derive(Subcommand, Debug)]
pub enum PartnersCmd {
    /// List the organization's partners and the roles delegated to them.
    ///
    /// Example: seatkeeper partners list --tenant Contoso
    List {
        #[command(flatten)]
        tenant: TenantArg,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Delegate roles to a user of another organization: they act for this one with a
    /// partner token (POST /api/v1/tokens with tenantId). Replaces the roles they held here.
    /// For a partner, license requests need GlobalAdmin.
    ///
    /// Example: seatkeeper partners grant --tenant Contoso --user pat@fabrikam.example --role LicenseAdmin --role UserAdmin
    Grant {
        #[command(flatten)]
        tenant: TenantArg,
        /// The partner's user name in their own organization.
        #[arg(long)]
        user: String,
        /// GlobalAdmin, BillingAdmin, LicenseAdmin, UserAdmin or GlobalReader (repeat or
        /// comma-separate for several).
        #[arg(long, value_delimiter = ',', num_args = 1.., required = true)]
        role: Vec<String>,
        #[command(flatten)]
        json: JsonArg,
    },
    /// End a partner's delegation: their partner tokens stop working at once.
    ///
    /// Example: seatkeeper partners revoke --tenant Contoso --user pat@fabrikam.example
    Revoke {
        #[command(flatten)]
        tenant: TenantArg,
        /// The partner's user name (or user id).
        #[arg(long)]
        user: String,
    },
}

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn to_json(p: &Partner) -> serde_json::Value {
    json!({
        "userId": p.user_id.to_string(),
        "userPrincipalName": p.upn,
        "displayName": p.display_name,
        "tenantId": p.tenant_id.to_string(),
        "tenantName": p.tenant_name,
        "roles": p.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "grantedDateTime": p.granted_at.to_rfc3339(),
    })
}

pub async fn run(app: App, cmd: PartnersCmd) -> anyhow::Result<()> {
    match cmd {
        PartnersCmd::List { tenant, json } => {
            let actor = operator(&app, &tenant).await?;
            let list = app.list_partners(&actor).await.cli()?;
            if json.json {
                return output::json(
                    &json!({"value": list.iter().map(to_json).collect::<Vec<_>>()}),
                );
            }
            let mut t = Table::new(&["Partner", "Organization", "Roles", "Granted"]);
            for p in &list {
                t.row(vec![
                    p.upn.clone(),
                    p.tenant_name.clone(),
                    roles_text(&p.roles),
                    p.granted_at.format("%Y-%m-%d").to_string(),
                ]);
            }
            t.print("No partners.")
        }
        PartnersCmd::Grant {
            tenant,
            user,
            role,
            json,
        } => {
            let mut roles = Vec::with_capacity(role.len());
            for r in &role {
                match Role::parse(r) {
                    Some(x) => roles.push(x),
                    None => bail!(
                        "--role '{r}' is not known: use GlobalAdmin, BillingAdmin, LicenseAdmin, UserAdmin or GlobalReader."
                    ),
                }
            }
            let actor = operator(&app, &tenant).await?;
            let p = app.set_partner(&actor, &user, &roles).await.cli()?;
            if json.json {
                return output::json(&to_json(&p));
            }
            output::lines([format!(
                "{} ({}) now acts for this organization as {}.",
                p.upn,
                p.tenant_name,
                roles_text(&p.roles)
            )])
        }
        PartnersCmd::Revoke { tenant, user } => {
            let actor = operator(&app, &tenant).await?;
            app.revoke_partner(&actor, &user).await.cli()?;
            output::lines([format!(
                "{user} no longer acts for this organization; their partner tokens stop working now."
            )])
        }
    }
}
