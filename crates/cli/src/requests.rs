//! `seatkeeper requests …`: license requests (REQ3, REQ4): list, show one, decide.

use crate::commands::{OrCli, operator};
use crate::opts::{JsonArg, TenantArg};
use crate::output::{self, Table};
use anyhow::bail;
use clap::Subcommand;
use seatkeeper_app::App;
use seatkeeper_app::requests::{AssignVia, DecisionInput, RequestDetail};
use seatkeeper_app::views::{LicenseRequest, LicenseRequestList, LicenseRequestSummary};
use seatkeeper_domain::requests::RequestStatus;

#[derive(Subcommand, Debug)]
pub enum RequestsCmd {
    /// List license requests, newest first: product, requester, date requested, status, users.
    ///
    /// Example: seatkeeper requests list --tenant Contoso --status pending
    List {
        #[command(flatten)]
        tenant: TenantArg,
        /// pending or completed (default: both).
        #[arg(long)]
        status: Option<String>,
        /// At most this many (default 200).
        #[arg(long, default_value_t = 200)]
        top: i64,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Show one request: every user on it with their current licenses, the recommendations
    /// and the decision.
    ///
    /// Example: seatkeeper requests show --tenant Contoso 6f1c0a52-1e47-4a8e-9c39-2b1f5d7e9a10
    Show {
        #[command(flatten)]
        tenant: TenantArg,
        /// The request's id (see `seatkeeper requests list`).
        id: String,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Approve and deny the users on a pending request: each user in exactly one list.
    /// Approved users get the product directly (every assignment check, all or nothing) or
    /// by joining a security group that carries it; everyone on the request is e-mailed.
    ///
    /// Example: seatkeeper requests decide --tenant Contoso 6f1c0a52-1e47-4a8e-9c39-2b1f5d7e9a10 --approve adele@contoso.com --deny alex@contoso.com --sku SUITE_STANDARD
    Decide {
        #[command(flatten)]
        tenant: TenantArg,
        /// The request's id.
        id: String,
        /// Users to approve (user names or ids, comma-separated).
        #[arg(long, value_delimiter = ',', num_args = 1..)]
        approve: Vec<String>,
        /// Users to deny.
        #[arg(long, value_delimiter = ',', num_args = 1..)]
        deny: Vec<String>,
        /// The product to license with (skuPartNumber or skuId), when more than one serves.
        #[arg(long)]
        sku: Option<String>,
        /// Apps and services to turn off (plan names or ids; direct assignment only).
        #[arg(long, value_delimiter = ',')]
        disabled_plans: Vec<String>,
        /// Add the approved users to this security group (name or id) instead of assigning
        /// directly.
        #[arg(long)]
        via_group: Option<String>,
        /// Sent to everyone on the request instead of the default text.
        #[arg(long)]
        message: Option<String>,
        #[command(flatten)]
        json: JsonArg,
    },
}

fn table(rows: &[LicenseRequestSummary]) -> anyhow::Result<()> {
    let mut t = Table::new(&[
        "Id",
        "Product",
        "Requester",
        "Requested",
        "Status",
        "Outcome",
        "Users",
    ])
    .right(&[6]);
    for r in rows {
        t.row(vec![
            r.id.clone(),
            r.sku_part_number.clone(),
            r.requester.clone(),
            r.requested_date_time
                .get(..10)
                .unwrap_or_default()
                .to_string(),
            r.status.to_string(),
            r.outcome.unwrap_or("").to_string(),
            r.user_count.to_string(),
        ]);
    }
    t.print("No license requests.")
}

fn detail(app: &App, d: &RequestDetail, json: bool) -> anyhow::Result<()> {
    let v = LicenseRequest::new(&app.catalog(), d);
    if json {
        return output::json(&v);
    }
    let s = &v.summary;
    let mut lines = vec![
        format!("Request     {}", s.id),
        format!("Product     {} ({})", s.product_name, s.sku_part_number),
        format!("Requester   {}", s.requester),
        format!("Requested   {}", s.requested_date_time),
        format!(
            "Status      {}{}",
            s.status,
            s.outcome.map(|o| format!(": {o}")).unwrap_or_default()
        ),
    ];
    if let Some(n) = &s.note {
        lines.push(format!("Note        {n}"));
    }
    if let Some(d) = &v.decision {
        lines.push(format!(
            "Decided     {} by {}{}{}",
            d.decided_date_time,
            d.decided_by,
            d.sku_part_number
                .as_ref()
                .map(|p| format!(", licensed with {p}"))
                .unwrap_or_default(),
            d.group
                .as_ref()
                .map(|g| format!(" through group {}", g.display_name))
                .unwrap_or_default()
        ));
    }
    output::lines(lines)?;
    let mut t = Table::new(&["User", "Licenses", "Decision"]);
    for u in &v.users {
        t.row(vec![
            if u.exists {
                u.user_principal_name.clone()
            } else {
                format!("{} (deleted)", u.user_principal_name)
            },
            u.licenses
                .iter()
                .map(|l| l.sku_part_number.clone())
                .collect::<Vec<_>>()
                .join(", "),
            u.decision.unwrap_or("").to_string(),
        ]);
    }
    t.print("No users.")?;
    if !v.recommendations.is_empty() {
        let mut t = Table::new(&["Recommended by", "Recommendation", "Comment", "When"]);
        for r in &v.recommendations {
            t.row(vec![
                r.recipient.clone(),
                r.recommendation.to_string(),
                r.comment.clone().unwrap_or_default(),
                r.recommended_date_time.clone(),
            ]);
        }
        t.print("")?;
    }
    if !v.shares.is_empty() {
        let mut t = Table::new(&["Shared with", "Shared by", "Shared", "Expires", "Answered"]);
        for sh in &v.shares {
            t.row(vec![
                sh.recipient.clone(),
                sh.shared_by.clone(),
                sh.shared_date_time.clone(),
                sh.expires_date_time.clone(),
                if sh.answered { "yes" } else { "no" }.to_string(),
            ]);
        }
        t.print("")?;
    }
    if !v.notices.is_empty() {
        output::lines(v.notices.clone())?;
    }
    Ok(())
}

pub async fn run(app: App, cmd: RequestsCmd) -> anyhow::Result<()> {
    match cmd {
        RequestsCmd::List {
            tenant,
            status,
            top,
            json,
        } => {
            let status = match status.as_deref().map(str::to_ascii_lowercase).as_deref() {
                None => None,
                Some("pending") => Some(RequestStatus::Pending),
                Some("completed") => Some(RequestStatus::Completed),
                Some(s) => bail!("--status '{s}' is not one of: pending, completed."),
            };
            let actor = operator(&app, &tenant).await?;
            let page = app
                .list_requests(&actor, status, top.clamp(1, 10_000), 0)
                .await
                .cli()?;
            let catalog = app.catalog();
            let value: Vec<LicenseRequestSummary> = page
                .requests
                .iter()
                .map(|r| LicenseRequestSummary::new(&catalog, r))
                .collect();
            if json.json {
                output::json(&LicenseRequestList {
                    value,
                    count: page.total,
                    next_link: None,
                })
            } else {
                table(&value)
            }
        }
        RequestsCmd::Show { tenant, id, json } => {
            let actor = operator(&app, &tenant).await?;
            let d = app.get_request(&actor, &id).await.cli()?;
            detail(&app, &d, json.json)
        }
        RequestsCmd::Decide {
            tenant,
            id,
            approve,
            deny,
            sku,
            disabled_plans,
            via_group,
            message,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let catalog = app.catalog();
            let sku = match sku.as_deref() {
                None => None,
                Some(k) => match catalog.find_product(k) {
                    Some(p) => Some(p),
                    None => bail!(
                        "--sku '{k}' is not a product of the catalog (see `seatkeeper catalog show`)."
                    ),
                },
            };
            let disabled = if disabled_plans.is_empty() {
                Vec::new()
            } else {
                let product = match sku {
                    Some(p) => p,
                    None => {
                        let d = app.get_request(&actor, &id).await.cli()?;
                        match catalog.product(d.request.sku_id) {
                            Some(p) => p,
                            None => bail!(
                                "the requested product is no longer in the catalog: name one with --sku."
                            ),
                        }
                    }
                };
                crate::licenses::plans(&catalog, product, &disabled_plans)?
            };
            let via = match via_group.as_deref() {
                None => AssignVia::Direct,
                Some(g) => {
                    AssignVia::Group(crate::groups::find(&app, &actor, g).await?.id.to_string())
                }
            };
            let d = app
                .decide_request(
                    &actor,
                    &id,
                    &DecisionInput {
                        approve,
                        deny,
                        sku_id: sku.map(|p| p.sku_id),
                        disabled_plans: disabled,
                        via,
                        message,
                    },
                )
                .await
                .cli()?;
            detail(&app, &d, json.json)
        }
    }
}
