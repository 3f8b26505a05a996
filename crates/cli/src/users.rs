//! `seatkeeper users …`: CSV import and export, list, create, delete, roles.

use crate::commands::{OrCli, operator};
use crate::opts::UsersCmd;
use crate::output::{self, Table};
use anyhow::{Context, bail};
use seatkeeper_app::directory::UserInput;
use seatkeeper_app::import::{Col, IMPORT_COLUMNS, UsersCsv};
use seatkeeper_app::views;
use seatkeeper_app::{Actor, App};
use seatkeeper_domain::UserId;
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::catalog::Catalog;
use seatkeeper_domain::directory::{User, UserFilter};
use seatkeeper_domain::roles::Role;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

/// Users read per query when listing or exporting.
const PAGE: i64 = 500;
/// Bad rows listed before "and K more".
const MAX_LISTED_PROBLEMS: usize = 20;

pub async fn run(app: App, cmd: UsersCmd) -> anyhow::Result<()> {
    match cmd {
        UsersCmd::Import {
            tenant,
            file,
            update_existing,
            no_wait,
            quiet,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            import(
                &app,
                &actor,
                &file,
                update_existing,
                !no_wait,
                quiet,
                json.json,
            )
            .await
        }
        UsersCmd::Export { tenant, output } => {
            let actor = operator(&app, &tenant).await?;
            export(&app, &actor, output.as_deref()).await
        }
        UsersCmd::List { tenant, json } => {
            let actor = operator(&app, &tenant).await?;
            list(&app, &actor, json.json).await
        }
        UsersCmd::Create {
            tenant,
            upn,
            display_name,
            given_name,
            surname,
            mail,
            job_title,
            department,
            user_type,
            usage_location,
            disabled,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let input = UserInput {
                user_principal_name: Some(upn),
                display_name: Some(display_name),
                given_name: given_name.map(Some),
                surname: surname.map(Some),
                mail: mail.map(Some),
                job_title: job_title.map(Some),
                department: department.map(Some),
                user_type: Some(user_type),
                usage_location: usage_location.map(Some),
                account_enabled: Some(!disabled),
                ..Default::default()
            };
            let u = app.create_user(&actor, &input).await.cli()?;
            if json.json {
                output::json(&views::User::from(&u))
            } else {
                output::lines([format!("User {} created: id {}", u.upn, u.id)])
            }
        }
        UsersCmd::Delete { tenant, user } => {
            let actor = operator(&app, &tenant).await?;
            let (u, held) = app.user_licenses(&actor, &user).await.cli()?;
            app.delete_user(&actor, &u.id.to_string()).await.cli()?;
            let catalog = app.catalog();
            let freed = licenses_cell(&catalog, held.iter());
            output::lines([if held.is_empty() {
                format!("User {} deleted", u.upn)
            } else {
                format!("User {} deleted; licenses freed: {freed}", u.upn)
            }])
        }
        UsersCmd::SetRoles {
            tenant,
            user,
            roles,
        } => {
            let actor = operator(&app, &tenant).await?;
            let roles = parse_roles(&roles)?;
            let (u, _) = app.user_roles(&actor, &user).await.cli()?;
            let set = app
                .set_user_roles(&actor, &u.id.to_string(), &roles)
                .await
                .cli()?;
            let names: Vec<&str> = set.iter().map(|r| r.as_str()).collect();
            output::lines([if names.is_empty() {
                format!("{} has no admin roles now", u.upn)
            } else {
                format!("Roles of {}: {}", u.upn, names.join(", "))
            }])
        }
        UsersCmd::SetPassword {
            tenant,
            user,
            password_stdin: _,
            force_change,
        } => {
            let actor = operator(&app, &tenant).await?;
            let password = crate::commands::read_password_stdin()?;
            let u = app.get_user(&actor, &user).await.cli()?;
            app.set_password(&actor, &u.id.to_string(), &password, force_change)
                .await
                .cli()?;
            output::lines([format!(
                "Password of {} set{}; their sessions have ended",
                u.upn,
                if force_change {
                    " (must be changed at the next sign-in)"
                } else {
                    ""
                }
            )])
        }
    }
}

fn parse_roles(list: &[String]) -> anyhow::Result<Vec<Role>> {
    let list: Vec<&str> = list
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if list.len() == 1 && list[0].eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    list.iter()
        .map(|s| {
            Role::parse(s).with_context(|| {
                format!(
                    "unknown role '{s}': use {} (comma-separated), or none",
                    Role::ALL.map(|r| r.as_str()).join(", ")
                )
            })
        })
        .collect()
}

/// SKU part numbers of `held`, ';'-separated.
fn licenses_cell<'a>(catalog: &Catalog, held: impl Iterator<Item = &'a Assignment>) -> String {
    held.map(|a| catalog.part_number(a.sku_id))
        .collect::<Vec<_>>()
        .join(";")
}

/// Every user of the tenant, a page at a time, with their licenses.
async fn for_each_page<F>(app: &App, actor: &Actor, mut f: F) -> anyhow::Result<()>
where
    F: FnMut(Vec<User>, HashMap<UserId, Vec<Assignment>>) -> anyhow::Result<()>,
{
    let mut after = None;
    loop {
        let page = app
            .list_users(actor, &UserFilter::True, after, PAGE)
            .await
            .cli()?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        let ids: Vec<UserId> = page.iter().map(|u| u.id).collect();
        let mut held: HashMap<UserId, Vec<Assignment>> = HashMap::new();
        for a in app.licenses_of_users(actor, &ids).await.cli()? {
            held.entry(a.user_id).or_default().push(a);
        }
        let full = page.len() as i64 == PAGE;
        f(page, held)?;
        if !full {
            break;
        }
    }
    Ok(())
}

async fn list(app: &App, actor: &Actor, json: bool) -> anyhow::Result<()> {
    let catalog = app.catalog();
    let mut rows = Vec::new();
    let mut table = Table::new(&[
        "USER PRINCIPAL NAME",
        "DISPLAY NAME",
        "TYPE",
        "USAGE LOCATION",
        "ENABLED",
        "LICENSES",
        "ID",
    ]);
    for_each_page(app, actor, |page, held| {
        for u in page {
            let mine = held.get(&u.id).map(Vec::as_slice).unwrap_or_default();
            if json {
                rows.push(views::User::from(&u));
            } else {
                let lic = licenses_cell(&catalog, mine.iter()).replace(';', ", ");
                table.row(vec![
                    u.upn,
                    u.display_name,
                    u.user_type.to_string(),
                    output::cell(&u.usage_location),
                    output::yes_no(u.account_enabled),
                    if lic.is_empty() { "-".into() } else { lic },
                    u.id.to_string(),
                ]);
            }
        }
        Ok(())
    })
    .await?;
    if json {
        output::json(&views::UserList { value: rows })
    } else {
        table.print("No users.")
    }
}

async fn export(app: &App, actor: &Actor, path: Option<&Path>) -> anyhow::Result<()> {
    let catalog = app.catalog();
    let mut w = csv::Writer::from_writer(output::sink(path)?);
    let mut head = vec![Col::Id.name()];
    head.extend(IMPORT_COLUMNS.iter().map(|c| c.name()));
    head.push(Col::Licenses.name());
    w.write_record(&head)?;
    let mut n = 0usize;
    for_each_page(app, actor, |page, held| {
        for u in page {
            let mine = held.get(&u.id).map(Vec::as_slice).unwrap_or_default();
            let o = |v: &Option<String>| v.clone().unwrap_or_default();
            w.write_record([
                u.id.to_string(),
                u.upn.clone(),
                u.display_name.clone(),
                o(&u.given_name),
                o(&u.surname),
                o(&u.mail),
                o(&u.job_title),
                o(&u.department),
                u.user_type.to_string(),
                o(&u.usage_location),
                u.account_enabled.to_string(),
                licenses_cell(&catalog, mine.iter()),
            ])?;
            n += 1;
        }
        Ok(())
    })
    .await?;
    w.flush()?;
    if let Some(p) = path {
        eprintln!("{n} users written to {}", p.display());
    }
    Ok(())
}

/// Reads and checks the whole file; returns the good rows and every problem found, by line.
fn read_csv(app: &App, actor: &Actor, file: &Path) -> anyhow::Result<UsersCsv> {
    let shown = file.display();
    let data = std::fs::read(file).with_context(|| format!("cannot read {shown}"))?;
    app.read_users_csv(actor, &data)
        .map_err(|e| anyhow::anyhow!("{shown}: {e}"))
}

pub(crate) fn progress_bar(len: u64, quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta} left)")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message("Importing users");
    pb
}

async fn import(
    app: &App,
    actor: &Actor,
    file: &Path,
    update_existing: bool,
    wait: bool,
    quiet: bool,
    json: bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let shown = file.display();
    let parsed = read_csv(app, actor, file)?;
    let ignored = parsed.has_ignored_columns();
    let UsersCsv {
        rows, mut problems, ..
    } = parsed;
    if !update_existing {
        let upns: Vec<String> = rows
            .iter()
            .filter_map(|r| r.input.user_principal_name.clone())
            .collect();
        let existing = app.existing_upns(actor, &upns).await.cli()?;
        for r in &rows {
            let upn = r.input.user_principal_name.clone().unwrap_or_default();
            if existing.contains(&upn.to_lowercase()) {
                problems.push((
                    r.line,
                    format!(
                        "user {upn} already exists; use --update-existing to update existing users"
                    ),
                ));
            }
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|(line, _)| *line);
        let mut msg = format!(
            "{shown}: {}; nothing was imported:",
            seatkeeper_app::import::problems_in_words(&problems)
        );
        for (line, p) in problems.iter().take(MAX_LISTED_PROBLEMS) {
            msg.push_str(&format!("\n  line {line}: {p}"));
        }
        if problems.len() > MAX_LISTED_PROBLEMS {
            msg.push_str(&format!(
                "\n  and {} more",
                problems.len() - MAX_LISTED_PROBLEMS
            ));
        }
        bail!(msg);
    }
    if rows.is_empty() {
        bail!("{shown} has a header but no users");
    }
    if ignored {
        eprintln!("note: the id and licenses columns are ignored on import");
    }
    let job = app
        .queue_users_import(actor, &rows, update_existing)
        .await
        .map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    if !wait {
        if json {
            return output::json(&views::LicenseJobView::new(&job));
        }
        return output::lines([format!(
            "{} users of {shown} queued for import (job {}); a running server imports them, or run this without --no-wait.",
            rows.len(),
            job.id
        )]);
    }
    let pb = progress_bar(rows.len() as u64, quiet);
    let runner = {
        let app = app.clone();
        tokio::spawn(async move { app.run_license_jobs().await })
    };
    let id = job.id.to_string();
    let last = loop {
        let j = app.license_job(actor, &id).await.cli()?;
        pb.set_position(j.processed as u64);
        if j.state == "Completed" || j.state == "Failed" {
            break j;
        }
        // Another process may hold the job (a running server): keep following it.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let _ = runner.await;
    if last.state == "Failed" {
        pb.abandon();
        bail!(
            "{shown}: {}",
            last.message.as_deref().unwrap_or("the import stopped")
        );
    }
    let total = seatkeeper_app::import::ImportOutcome::of_job(&last);
    pb.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    if json {
        output::json(&serde_json::json!({
            "job": last.id.to_string(),
            "created": total.created,
            "updated": total.updated,
            "unchanged": total.unchanged,
            "elapsedSeconds": (elapsed * 1000.0).round() / 1000.0,
        }))
    } else {
        output::lines([format!(
            "Imported {} users from {shown} in {elapsed:.2} s: {} created, {} updated, {} unchanged",
            rows.len(),
            total.created,
            total.updated,
            total.unchanged
        )])
    }
}
