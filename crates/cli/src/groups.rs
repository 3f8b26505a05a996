//! `seatkeeper groups …`

use crate::commands::{OrCli, operator};
use crate::opts::{GroupsCmd, MembersCmd};
use crate::output::{self, Table};
use anyhow::bail;
use seatkeeper_app::licenses::LicenseSpec;
use seatkeeper_app::views::UserList;
use seatkeeper_app::{Actor, App};
use seatkeeper_domain::GroupId;
use seatkeeper_domain::directory::Group;
use serde_json::json;

const PAGE: i64 = 500;

fn group_json(g: &Group) -> serde_json::Value {
    json!({
        "id": g.id, "displayName": g.display_name, "description": g.description,
        "securityEnabled": g.security_enabled, "mailEnabled": g.mail_enabled,
        "createdDateTime": g.created_at,
    })
}

/// Every group whose name starts with `prefix` (all groups without one).
async fn groups(app: &App, actor: &Actor, prefix: Option<&str>) -> anyhow::Result<Vec<Group>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = app.list_groups(actor, prefix, after, PAGE).await.cli()?;
        let full = page.len() as i64 == PAGE;
        after = page.last().map(|g| g.id);
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

/// Finds a group by id or exact name (case-insensitive).
pub(crate) async fn find(app: &App, actor: &Actor, key: &str) -> anyhow::Result<Group> {
    if GroupId::parse(key).is_some()
        && let Ok(g) = app.get_group(actor, key).await
    {
        return Ok(g);
    }
    let name = key.trim();
    let found: Vec<Group> = groups(app, actor, Some(name))
        .await?
        .into_iter()
        .filter(|g| g.display_name.eq_ignore_ascii_case(name))
        .collect();
    match found.as_slice() {
        [g] => Ok(g.clone()),
        [] => bail!("no group with id or name '{key}'; see `seatkeeper groups list`"),
        many => bail!(
            "{} groups are named '{name}': use the group id ({})",
            many.len(),
            many.iter()
                .map(|g| g.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub async fn run(app: App, cmd: GroupsCmd) -> anyhow::Result<()> {
    match cmd {
        GroupsCmd::List { tenant, json } => {
            let actor = operator(&app, &tenant).await?;
            let list = groups(&app, &actor, None).await?;
            if json.json {
                output::json(&list.iter().map(group_json).collect::<Vec<_>>())
            } else {
                let mut t = Table::new(&["NAME", "DESCRIPTION", "ID", "CREATED"]);
                for g in list {
                    t.row(vec![
                        g.display_name,
                        output::cell(&g.description),
                        g.id.to_string(),
                        output::when(g.created_at),
                    ]);
                }
                t.print("No groups.")
            }
        }
        GroupsCmd::Create {
            tenant,
            name,
            description,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let g = app
                .create_group(&actor, &name, description, None)
                .await
                .cli()?;
            if json.json {
                output::json(&group_json(&g))
            } else {
                output::lines([format!("Group '{}' created: id {}", g.display_name, g.id)])
            }
        }
        GroupsCmd::Delete { tenant, group } => {
            let actor = operator(&app, &tenant).await?;
            let g = find(&app, &actor, &group).await?;
            app.delete_group(&actor, &g.id.to_string()).await.cli()?;
            output::lines([format!("Group '{}' deleted", g.display_name)])
        }
        GroupsCmd::AddMember {
            tenant,
            group,
            users,
        } => {
            let actor = operator(&app, &tenant).await?;
            let g = find(&app, &actor, &group).await?;
            let mut done = Vec::new();
            for u in users.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
                let user = app.get_user(&actor, u).await.cli()?;
                app.add_group_member(&actor, &g.id.to_string(), &user.id.to_string())
                    .await
                    .map_err(|e| anyhow::anyhow!("{}: {e}", user.upn))?;
                done.push(format!("{} added to '{}'", user.upn, g.display_name));
            }
            output::lines(done)
        }
        GroupsCmd::RemoveMember {
            tenant,
            group,
            users,
        } => {
            let actor = operator(&app, &tenant).await?;
            let g = find(&app, &actor, &group).await?;
            let mut done = Vec::new();
            for u in users.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
                let user = app.get_user(&actor, u).await.cli()?;
                app.remove_group_member(&actor, &g.id.to_string(), &user.id.to_string())
                    .await
                    .cli()?;
                done.push(format!("{} removed from '{}'", user.upn, g.display_name));
            }
            output::lines(done)
        }
        GroupsCmd::AssignLicense {
            tenant,
            group,
            add,
            disabled_plans,
            remove,
            wait,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let g = find(&app, &actor, &group).await?;
            let catalog = app.catalog();
            let (add, remove) = license_args(&catalog, &add, &disabled_plans, &remove)?;
            let (g, job) = app
                .assign_group_license(&actor, &g.id.to_string(), add, remove)
                .await
                .cli()?;
            finish_job(&app, &actor, &g, job, wait, json.json).await
        }
        GroupsCmd::Reprocess {
            tenant,
            group,
            wait,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let g = find(&app, &actor, &group).await?;
            let (g, job) = app.reprocess_group(&actor, &g.id.to_string()).await.cli()?;
            finish_job(&app, &actor, &g, job, wait, json.json).await
        }
        GroupsCmd::LicenseErrors {
            tenant,
            group,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let g = find(&app, &actor, &group).await?;
            let catalog = app.catalog();
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let (_, page) = app
                    .members_with_license_errors(&actor, &g.id.to_string(), after, 500)
                    .await
                    .cli()?;
                let users: std::collections::BTreeSet<_> = page.iter().map(|e| e.user.id).collect();
                after = users.iter().next_back().copied();
                let full = users.len() == 500;
                all.extend(page);
                if !full {
                    break;
                }
            }
            if json.json {
                output::json(
                    &all.iter()
                        .map(|e| seatkeeper_app::views::MemberLicenseError::new(&catalog, e))
                        .collect::<Vec<_>>(),
                )
            } else {
                let mut t = Table::new(&["USER PRINCIPAL NAME", "PRODUCT", "ERROR", "WHAT TO DO"]);
                for e in &all {
                    t.row(vec![
                        e.user.upn.clone(),
                        catalog.part_number(e.sku_id),
                        e.error.as_str().to_string(),
                        e.advice(),
                    ]);
                }
                t.print(&format!("No member of '{}' is in error.", g.display_name))
            }
        }
        GroupsCmd::Members {
            cmd:
                Some(MembersCmd::Add {
                    tenant,
                    group,
                    file,
                    wait,
                    json,
                }),
            ..
        } => {
            let actor = operator(&app, &tenant).await?;
            let g = find(&app, &actor, &group).await?;
            let names = read_member_file(&file)?;
            let (g, job) = app
                .add_group_members(&actor, &g.id.to_string(), &names)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            finish_job(&app, &actor, &g, job, wait, json.json).await
        }
        GroupsCmd::Members {
            tenant,
            group,
            json,
            cmd: None,
        } => {
            let (Some(tenant), Some(group)) = (tenant, group) else {
                bail!("name the organization (--tenant) and the group");
            };
            let actor = operator(&app, &tenant).await?;
            let g = find(&app, &actor, &group).await?;
            let mut members = Vec::new();
            let mut after = None;
            loop {
                let page = app
                    .group_members(&actor, &g.id.to_string(), after, PAGE)
                    .await
                    .cli()?;
                let full = page.len() as i64 == PAGE;
                after = page.last().map(|u| u.id);
                members.extend(page);
                if !full {
                    break;
                }
            }
            if json.json {
                output::json(&UserList::new(&members))
            } else {
                let mut t = Table::new(&["USER PRINCIPAL NAME", "DISPLAY NAME", "TYPE", "ID"]);
                for u in members {
                    t.row(vec![
                        u.upn,
                        u.display_name,
                        u.user_type.to_string(),
                        u.id.to_string(),
                    ]);
                }
                t.print(&format!("Group '{}' has no members.", g.display_name))
            }
        }
    }
}

/// Reads `--add`, `--disabled-plans` and `--remove`: each plan turned off in every added
/// product that has it, and a plan that none of them has is an error.
fn license_args(
    catalog: &seatkeeper_domain::catalog::Catalog,
    add: &[String],
    disabled: &[String],
    remove: &[String],
) -> anyhow::Result<(Vec<LicenseSpec>, Vec<seatkeeper_domain::SkuId>)> {
    let product = |key: &str| {
        catalog.find_product(key.trim()).ok_or_else(|| {
            anyhow::anyhow!(
                "no product '{}' in the catalog; see `seatkeeper catalog show`",
                key.trim()
            )
        })
    };
    let mut specs = Vec::new();
    for a in add.iter().filter(|a| !a.trim().is_empty()) {
        specs.push(LicenseSpec {
            sku_id: product(a)?.sku_id,
            disabled_plans: Vec::new(),
        });
    }
    for name in disabled.iter().map(|d| d.trim()).filter(|d| !d.is_empty()) {
        let plan = catalog
            .plans
            .iter()
            .find(|p| {
                p.name.eq_ignore_ascii_case(name) || p.id.to_string().eq_ignore_ascii_case(name)
            })
            .ok_or_else(|| anyhow::anyhow!("no service plan '{name}' in the catalog"))?;
        let mut used = false;
        for s in &mut specs {
            if catalog
                .product(s.sku_id)
                .is_some_and(|p| p.plans.contains(&plan.id))
            {
                s.disabled_plans.push(plan.id);
                used = true;
            }
        }
        if !used {
            bail!(
                "service plan {} is in none of the products added ({})",
                plan.name,
                specs
                    .iter()
                    .map(|s| catalog.part_number(s.sku_id))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let mut out_remove = Vec::new();
    for r in remove.iter().filter(|r| !r.trim().is_empty()) {
        out_remove.push(product(r)?.sku_id);
    }
    if specs.is_empty() && out_remove.is_empty() {
        bail!("name products with --add or --remove");
    }
    Ok((specs, out_remove))
}

/// Prints a queued job, or with `wait` runs it here with a progress bar until it finishes.
async fn finish_job(
    app: &App,
    actor: &Actor,
    g: &Group,
    job: seatkeeper_app::group_licensing::Job,
    wait: bool,
    json: bool,
) -> anyhow::Result<()> {
    if !wait {
        if json {
            return output::json(&seatkeeper_app::views::LicenseJobView::new(&job));
        }
        return output::lines([format!(
            "Group '{}': {} queued for processing (job {}); a running server processes them, or run this with --wait.",
            g.display_name,
            if job.total == 1 {
                "1 member".to_string()
            } else {
                format!("{} members", job.total)
            },
            job.id
        )]);
    }
    let pb = crate::users::progress_bar(job.total.max(0) as u64, json);
    pb.set_message(format!("Processing '{}'", g.display_name));
    let runner = {
        let app = app.clone();
        tokio::spawn(async move { app.run_license_jobs().await })
    };
    let id = job.id.to_string();
    let last = loop {
        let j = app.license_job(actor, &id).await.cli()?;
        pb.set_length(j.total.max(j.processed) as u64);
        pb.set_position(j.processed as u64);
        if j.state == "Completed" || j.state == "Failed" {
            break j;
        }
        if runner.is_finished() {
            // Another process holds the job: keep following it.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        } else {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    pb.finish_and_clear();
    let _ = runner.await;
    if json {
        return output::json(&seatkeeper_app::views::LicenseJobView::new(&last));
    }
    output::lines([format!(
        "Group '{}': {} of {} members processed, {} in error{}",
        g.display_name,
        last.processed,
        last.total.max(last.processed),
        last.errors,
        if last.errors > 0 {
            format!(
                " (see `seatkeeper groups license-errors --tenant … {}`)",
                g.display_name
            )
        } else {
            String::new()
        }
    )])
}

/// The users of a member file: the first column of each line, a header line
/// (userPrincipalName, id, user) skipped, blank lines ignored.
fn read_member_file(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let data =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data.as_slice());
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| anyhow::anyhow!("{}: line {}: {e}", path.display(), i + 1))?;
        let v = rec
            .get(0)
            .unwrap_or("")
            .trim()
            .trim_start_matches('\u{feff}')
            .to_string();
        if v.is_empty() {
            continue;
        }
        if i == 0 && ["userprincipalname", "id", "user", "upn"].contains(&v.to_lowercase().as_str())
        {
            continue;
        }
        out.push(v);
    }
    if out.is_empty() {
        bail!(
            "{} names no users: one user principal name or id per line",
            path.display()
        );
    }
    Ok(out)
}
