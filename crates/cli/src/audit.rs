//! `seatkeeper audit export` and `seatkeeper jobs run`.

use crate::commands::{OrCli, operator};
use crate::opts::AuditCmd;
use crate::output;
use anyhow::Context;
use seatkeeper_app::App;
use seatkeeper_app::export::{AUDIT_CSV_COLUMNS, audit_csv_record};
use seatkeeper_app::views;
use seatkeeper_domain::Time;
use seatkeeper_domain::audit::{AuditAction, AuditQuery};
use std::io::Write;

const PAGE: i64 = 1000;

/// RFC 3339, or a date (midnight UTC).
fn parse_time(s: &str) -> anyhow::Result<Time> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .with_context(|| {
            format!("--since '{s}' is not a time: use RFC 3339 like 2030-01-01T00:00:00Z, or a date like 2030-01-01")
        })
}

pub async fn run(app: App, cmd: AuditCmd) -> anyhow::Result<()> {
    match cmd {
        AuditCmd::Export {
            tenant,
            action,
            since,
            output: path,
            json,
        } => {
            let since = since.as_deref().map(parse_time).transpose()?;
            let actor = operator(&app, &tenant).await?;
            let mut q = AuditQuery {
                action: action
                    .filter(|a| !a.trim().is_empty())
                    .map(|a| AuditAction::matching(&a))
                    .transpose()?,
                since,
                limit: PAGE,
                ..Default::default()
            };
            let sink = output::sink(path.as_deref())?;
            let mut count = 0usize;
            if json {
                let mut all = Vec::new();
                loop {
                    let page = app.audit_log(&actor, &q).await.cli()?;
                    let full = page.len() as i64 == PAGE;
                    q.before_id = page.last().map(|e| e.id);
                    all.extend(page.iter().map(views::AuditEntry::from));
                    if !full {
                        break;
                    }
                }
                count = all.len();
                let mut sink = sink;
                let all = views::AuditPage {
                    value: all,
                    next_link: None,
                };
                serde_json::to_writer_pretty(&mut sink, &all)?;
                writeln!(sink)?;
                sink.flush()?;
            } else {
                let mut w = csv::Writer::from_writer(sink);
                w.write_record(AUDIT_CSV_COLUMNS)?;
                loop {
                    let page = app.audit_log(&actor, &q).await.cli()?;
                    let full = page.len() as i64 == PAGE;
                    q.before_id = page.last().map(|e| e.id);
                    for e in &page {
                        w.write_record(audit_csv_record(e))?;
                    }
                    count += page.len();
                    if !full {
                        break;
                    }
                }
                w.flush()?;
            }
            if let Some(p) = &path {
                eprintln!("{count} audit entries written to {}", p.display());
            }
            Ok(())
        }
    }
}

pub async fn run_jobs(app: &App, json: bool) -> anyhow::Result<()> {
    let r = app.run_jobs().await.cli()?;
    if json {
        return output::json(&r);
    }
    let mut lines = vec![
        format!("Jobs run for {}", r.now),
        format!(
            "Subscriptions: {} renewed, {} expired, {} disabled, {} deleted",
            r.renewed, r.expired, r.disabled, r.deleted
        ),
    ];
    lines.extend(r.purged_text());
    lines.push(format!(
        "E-mail: {} sent, {} failed (failed ones are retried later)",
        r.mails_sent, r.mails_failed
    ));
    output::lines(lines)
}
