//! `seatkeeper groups …`

use crate::commands::{OrCli, operator};
use crate::opts::GroupsCmd;
use crate::output::{self, Table};
use anyhow::bail;
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
async fn find(app: &App, actor: &Actor, key: &str) -> anyhow::Result<Group> {
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
        GroupsCmd::Members {
            tenant,
            group,
            json,
        } => {
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
