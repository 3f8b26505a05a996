//! `seatkeeper operator …`: the operator's tokens and audit log.

use crate::commands::OrCli;
use crate::opts::JsonArg;
use crate::output::{self, Table};
use anyhow::{Context, bail};
use clap::Subcommand;
use seatkeeper_app::App;
use seatkeeper_app::operator::Operator;
use serde_json::json;

#[derive(Subcommand, Debug)]
pub enum OperatorCmd {
    /// Operator tokens: they replace the catalog over HTTP (PUT /api/v1/catalog), nothing else.
    #[command(subcommand)]
    Token(OperatorTokenCmd),
    /// Show the operator's audit log (catalog imports, operator tokens, new organizations),
    /// newest first. It is separate from the organizations' audit logs.
    ///
    /// Example: seatkeeper operator audit --action catalog. --json
    Audit {
        /// Only actions starting with this, e.g. "catalog." or "operator.token".
        #[arg(long)]
        action: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[command(flatten)]
        json: JsonArg,
    },
}

#[derive(Subcommand, Debug)]
pub enum OperatorTokenCmd {
    /// Issue an operator token; the secret is printed once.
    ///
    /// Example: seatkeeper operator token create --name "catalog deploy" --expires-in-days 30
    Create {
        /// A name that says what the token is for.
        #[arg(long)]
        name: String,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires_in_days: Option<i64>,
        /// Print one JSON object (id, name, token, expiresAt) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List operator tokens (never the secrets).
    ///
    /// Example: seatkeeper operator token list
    List {
        #[command(flatten)]
        json: JsonArg,
    },
    /// Revoke an operator token by id; it stops working at once.
    ///
    /// Example: seatkeeper operator token revoke 0b6f…
    Revoke {
        /// Token id (from `operator token list`).
        id: String,
    },
}

pub async fn run(app: App, cmd: OperatorCmd) -> anyhow::Result<()> {
    let me = Operator::cli();
    match cmd {
        OperatorCmd::Token(OperatorTokenCmd::Create {
            name,
            expires_in_days,
            json,
        }) => {
            let expires = match expires_in_days {
                Some(d) if !(1..=36_500).contains(&d) => {
                    bail!("--expires-in-days must be between 1 and 36500, got {d}")
                }
                Some(d) => Some(app.now() + chrono::Duration::days(d)),
                None => None,
            };
            let t = app.create_operator_token(&me, &name, expires).await.cli()?;
            if json {
                output::lines([serde_json::to_string(&t)?])
            } else {
                output::lines([
                    format!("Operator token {} ('{}'): {}", t.id, t.name, t.token),
                    "It replaces the catalog: curl -X PUT -H 'Authorization: Bearer <token>' -H 'Content-Type: application/toml' --data-binary @catalog.toml http://HOST/api/v1/catalog".into(),
                ])
            }
        }
        OperatorCmd::Token(OperatorTokenCmd::List { json }) => {
            let list = app.list_operator_tokens().await.cli()?;
            if json.json {
                let v: Vec<_> = list.iter().map(|t| json!({"id": t.id, "name": t.name, "createdDateTime": t.created_at, "expiresDateTime": t.expires_at, "revokedDateTime": t.revoked_at})).collect();
                return output::json(&v);
            }
            let now = app.now();
            let mut table = Table::new(&["TOKEN ID", "STATE", "NAME", "CREATED", "EXPIRES"]);
            for t in list {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else if t.expires_at.is_some_and(|e| e <= now) {
                    "expired"
                } else {
                    "active"
                };
                table.row(vec![
                    t.id.to_string(),
                    state.into(),
                    t.name,
                    output::when(t.created_at),
                    t.expires_at
                        .map(output::when)
                        .unwrap_or_else(|| "never".into()),
                ]);
            }
            table.print(
                "No operator tokens: issue one with `seatkeeper operator token create --name NAME`.",
            )
        }
        OperatorCmd::Token(OperatorTokenCmd::Revoke { id }) => {
            let parsed = uuid::Uuid::parse_str(id.trim()).with_context(|| {
                format!("'{id}' is not a token id; see `seatkeeper operator token list`")
            })?;
            app.revoke_operator_token(&me, parsed).await.cli()?;
            output::lines([format!("Operator token {parsed} revoked")])
        }
        OperatorCmd::Audit {
            action,
            limit,
            json,
        } => {
            let list = app
                .operator_audit(action.as_deref().filter(|a| !a.trim().is_empty()), limit)
                .await
                .cli()?;
            if json.json {
                let v: Vec<_> = list.iter().map(|e| json!({"id": e.id, "dateTime": e.at, "actor": e.actor, "actorId": e.actor_id, "action": e.action, "targetType": e.target_type, "targetId": e.target_id, "summary": e.summary})).collect();
                return output::json(&v);
            }
            let mut table = Table::new(&["WHEN", "ACTOR", "ACTION", "SUMMARY"]);
            for e in list {
                table.row(vec![output::when(e.at), e.actor, e.action, e.summary]);
            }
            table.print("The operator's audit log is empty.")
        }
    }
}
