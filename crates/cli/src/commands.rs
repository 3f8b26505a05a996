//! Command implementations.

use crate::config::Settings;
use crate::opts::{Cli, Command, TenantArg, TenantCmd, TokenCmd};
use crate::output::{self, Table};
use anyhow::{Context, bail};
use seatkeeper_app::database::redact_url;
use seatkeeper_app::mail::{MailConfig, SmtpSecurity, Transport};
use seatkeeper_app::{Actor, App, AppResult, Config};
use seatkeeper_domain::TenantId;
use std::io::Write;

/// Turns an app error into a command error with the app's own (user-readable) message.
pub trait OrCli<T> {
    fn cli(self) -> anyhow::Result<T>;
}

impl<T> OrCli<T> for AppResult<T> {
    fn cli(self) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// Prints a line on standard output; a closed pipe is not worth failing the server for.
macro_rules! say {
    ($($t:tt)*) => {{
        let mut o = std::io::stdout();
        let _ = writeln!(o, $($t)*);
        let _ = o.flush();
    }};
}

pub fn mail_config(s: &Settings) -> anyhow::Result<MailConfig> {
    let transport = match &s.smtp_url {
        Some(url) => parse_smtp_url(url)?,
        None => Transport::EmlDir(
            s.mail_dir
                .clone()
                .unwrap_or_else(|| s.data_dir.join("mail")),
        ),
    };
    Ok(MailConfig {
        from: s.mail_from.clone(),
        transport,
    })
}

/// smtp://[user:password@]host[:port][?security=none|starttls|tls]
pub fn parse_smtp_url(url: &str) -> anyhow::Result<Transport> {
    let rest = url
        .strip_prefix("smtp://")
        .with_context(|| format!("SMTP URL must start with smtp://, got {}", redact_url(url)))?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (creds, hostport) = match rest.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, rest),
    };
    let (username, password) = match creds.map(|c| c.split_once(':').unwrap_or((c, ""))) {
        Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
        None => (None, None),
    };
    let mut security = SmtpSecurity::StartTls;
    for kv in query.split('&').filter(|s| !s.is_empty()) {
        match kv.split_once('=') {
            Some(("security", "none")) => security = SmtpSecurity::None,
            Some(("security", "starttls")) => security = SmtpSecurity::StartTls,
            Some(("security", "tls")) => security = SmtpSecurity::Tls,
            _ => bail!("unknown SMTP URL option '{kv}': use security=none|starttls|tls"),
        }
    }
    let default_port = match security {
        SmtpSecurity::Tls => 465,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::None => 25,
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            p.parse()
                .with_context(|| format!("SMTP port '{p}' is not a number"))?,
        ),
        None => (hostport.to_string(), default_port),
    };
    if host.is_empty() {
        bail!("SMTP URL has no host");
    }
    Ok(Transport::Smtp {
        host,
        port,
        security,
        username,
        password,
    })
}

pub async fn open_app(db: &Settings, mail: MailConfig, dev_clock: bool) -> anyhow::Result<App> {
    App::open(
        db.database_url.as_deref(),
        &db.data_dir,
        Config {
            mail,
            dev_clock,
            public_url: db.public_url.clone(),
        },
    )
    .await
}

/// The operator's app for commands that do not serve.
pub async fn cli_app(db: &Settings) -> anyhow::Result<App> {
    let mail = MailConfig {
        from: "seatkeeper@localhost".into(),
        transport: Transport::EmlDir(db.data_dir.join("mail")),
    };
    open_app(db, mail, false).await
}

/// Resolves a tenant by id or by name (names are unique regardless of case).
pub async fn tenant_id(app: &App, key: &str) -> anyhow::Result<TenantId> {
    let all = app.list_tenants().await.cli()?;
    if let Some(id) = TenantId::parse(key)
        && all.iter().any(|t| t.id == id)
    {
        return Ok(id);
    }
    let wanted = seatkeeper_domain::tenant::name_key(key);
    match all
        .iter()
        .find(|t| seatkeeper_domain::tenant::name_key(&t.name) == wanted)
    {
        Some(t) => Ok(t.id),
        None => bail!("no organization with id or name '{key}'; see `seatkeeper tenant list`"),
    }
}

/// The operator acting in the organization named by `--tenant`.
pub async fn operator(app: &App, t: &TenantArg) -> anyhow::Result<Actor> {
    Ok(Actor::operator(tenant_id(app, &t.tenant).await?))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = crate::config::load(&cli)?;
    tracing::debug!(?settings, "configuration");
    let db = &settings;
    match cli.command {
        Command::Serve(_) => serve(db).await,
        Command::Migrate => {
            seatkeeper_app::database::migrate(db.database_url.as_deref(), &db.data_dir).await?;
            say!("database is up to date");
            Ok(())
        }
        Command::Tenant(cmd) => with_app(db, |app| tenant(app, cmd)).await,
        Command::Token(cmd) => with_app(db, |app| token(app, cmd)).await,
        Command::Catalog(cmd) => with_app(db, |app| crate::catalog::run(app, cmd)).await,
        Command::Operator(cmd) => with_app(db, |app| crate::operator::run(app, cmd)).await,
        Command::Users(cmd) => with_app(db, |app| crate::users::run(app, cmd)).await,
        Command::Groups(cmd) => with_app(db, |app| crate::groups::run(app, cmd)).await,
        Command::Subscriptions(cmd) => {
            with_app(db, |app| crate::subscriptions::run(app, cmd)).await
        }
        Command::Licenses(cmd) => with_app(db, |app| crate::licenses::run(app, cmd)).await,
        Command::Policy(cmd) => with_app(db, |app| crate::policy::run(app, cmd)).await,
        Command::Requests(cmd) => with_app(db, |app| crate::requests::run(app, cmd)).await,
        Command::Partners(cmd) => with_app(db, |app| crate::partners::run(app, cmd)).await,
        Command::Audit(cmd) => with_app(db, |app| crate::audit::run(app, cmd)).await,
        Command::Jobs(crate::opts::JobsCmd::Run { json, .. }) => {
            let app = open_app(db, mail_config(db)?, false).await?;
            let result = crate::audit::run_jobs(&app, json.json).await;
            app.close().await;
            result
        }
    }
}

/// Opens the operator's app, runs `f`, and closes the database whatever `f` returned.
async fn with_app<F, Fut>(db: &Settings, f: F) -> anyhow::Result<()>
where
    F: FnOnce(App) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let app = cli_app(db).await?;
    let result = f(app.clone()).await;
    app.close().await;
    result
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let (dbargs, args) = (settings, settings);
    let signal = shutdown_signal()?;
    let mail = mail_config(dbargs)?;
    let app = open_app(dbargs, mail, args.dev_clock).await?;
    if let Some(path) = &args.catalog {
        let src = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read catalog {}", path.display()))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("catalog.toml");
        let s = app
            .import_catalog(&seatkeeper_app::operator::Operator::cli(), name, &src)
            .await
            .cli()?;
        tracing::info!(
            "catalog {} loaded: {} products, {} plans (version {})",
            path.display(),
            s.products,
            s.plans,
            s.version
        );
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let where_ = match &dbargs.database_url {
        Some(u) => redact_url(u),
        None => format!("SQLite in {}", dbargs.data_dir.display()),
    };
    say!("Seatkeeper is listening on http://{addr} ({where_})");
    if args.demo {
        let demo = crate::demo::ensure_demo(&app).await?;
        let d = &demo.bootstrap;
        say!();
        say!(
            "Demo organization: {} (tenant {})",
            d.tenant_name,
            d.tenant_id
        );
        say!("Admin center:      http://{addr}/ (sign in with this user name and password)");
        say!("Global admin:      {}", d.admin_user_principal_name);
        match demo.password {
            crate::demo::DemoPassword::Works(p) => {
                say!("Password:          {p} (the demo's well-known password)")
            }
            crate::demo::DemoPassword::Changed => say!(
                "Password:          changed since the demo set it (set one with `seatkeeper users set-password --tenant '{}' --user {} --password-stdin`)",
                d.tenant_name,
                d.admin_user_principal_name
            ),
        }
        say!("Bearer token:      {}", d.token);
        say!();
        say!("Try it:");
        say!(
            "  curl -H 'Authorization: Bearer {}' http://{addr}/v1.0/subscribedSkus",
            d.token
        );
        say!(
            "  curl -H 'Authorization: Bearer {}' http://{addr}/api/v1/licenses",
            d.token
        );
    }
    if args.dev_clock {
        say!(
            "Development clock on: PUT http://{addr}/api/v1/dev/clock {{\"now\": \"2030-01-01T00:00:00Z\"}}"
        );
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let license_jobs = if args.no_jobs {
        None
    } else {
        Some(tokio::spawn(app.clone().license_job_loop(stop_rx.clone())))
    };
    let jobs = if args.no_jobs {
        tokio::spawn(app.clone().catalog_watch(stop_rx))
    } else {
        tokio::spawn(app.clone().job_loop(stop_rx))
    };
    let shutdown = async move {
        signal.await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop_tx.send(true);
    };
    let limits = seatkeeper_web::Limits {
        request_timeout: std::time::Duration::from_secs(args.request_timeout),
        max_concurrent_requests: args.max_concurrent_requests,
    };
    seatkeeper_web::serve_with(app.clone(), listener, shutdown, limits).await?;
    let _ = jobs.await;
    if let Some(j) = license_jobs {
        let _ = j.await;
    }
    app.close().await;
    Ok(())
}

/// Reads a password from standard input: the first line, without its line break. Refuses a
/// terminal (so the password never echoes there) and an empty line.
pub fn read_password_stdin() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        anyhow::bail!(
            "--password-stdin reads the password from a pipe, e.g. printf '%s\\n' \"$PASSWORD\" | seatkeeper …"
        );
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        anyhow::bail!("--password-stdin: standard input held no password (an empty first line)");
    }
    Ok(password)
}

/// Waits for Ctrl-C or SIGTERM. The handlers are installed when this is called, so call it
/// before anything slow: a signal that arrives early still shuts down gracefully.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    Ok(async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async move {
            term.recv().await;
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {}
            _ = term => {}
        }
    })
}

async fn tenant(app: App, cmd: TenantCmd) -> anyhow::Result<()> {
    match cmd {
        TenantCmd::Create {
            name,
            admin,
            usage_location,
            currency,
            password_stdin,
            json,
        } => {
            let password = if password_stdin {
                Some(read_password_stdin()?)
            } else {
                None
            };
            let b = app
                .create_tenant_with_password(
                    &name,
                    &admin,
                    usage_location.as_deref(),
                    Some(&currency),
                    password.as_deref(),
                )
                .await
                .cli()?;
            if json {
                output::lines([serde_json::to_string(&b)?])
            } else {
                let mut lines = vec![
                    format!(
                        "Organization '{}' created: tenant {}",
                        b.tenant_name, b.tenant_id
                    ),
                    format!(
                        "Global admin {} ({})",
                        b.admin_user_principal_name, b.admin_user_id
                    ),
                    format!("Bearer token: {}", b.token),
                ];
                if let Some(p) = &b.initial_password {
                    lines.push(format!(
                        "Initial password: {p} (must be changed at the first sign-in)"
                    ));
                }
                output::lines(lines)
            }
        }
        TenantCmd::List { json } => {
            let list = app.list_tenants().await.cli()?;
            if json.json {
                let v: Vec<_> = list
                    .iter()
                    .map(|t| serde_json::json!({"tenantId": t.id, "name": t.name, "defaultUsageLocation": t.default_usage_location, "currency": t.currency, "createdDateTime": t.created_at}))
                    .collect();
                output::json(&v)
            } else {
                let mut t =
                    Table::new(&["TENANT ID", "NAME", "USAGE LOCATION", "CURRENCY", "CREATED"]);
                for x in list {
                    t.row(vec![
                        x.id.to_string(),
                        x.name,
                        output::cell(&x.default_usage_location),
                        x.currency,
                        output::when(x.created_at),
                    ]);
                }
                t.print("No organizations yet: create one with `seatkeeper tenant create`.")
            }
        }
    }
}

async fn token(app: App, cmd: TokenCmd) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::Create {
            tenant,
            user,
            name,
            expires_in_days,
            json,
        } => {
            let actor = operator(&app, &tenant).await?;
            let u = app.get_user(&actor, &user).await.cli()?;
            let expires = match expires_in_days {
                Some(d) if !(1..=36_500).contains(&d) => {
                    bail!("--expires-in-days must be between 1 and 36500, got {d}")
                }
                Some(d) => Some(app.now() + chrono::Duration::days(d)),
                None => None,
            };
            let t = app.create_token(&actor, u.id, &name, expires).await.cli()?;
            if json {
                output::lines([serde_json::to_string(&t)?])
            } else {
                output::lines([format!("Token {} for {}: {}", t.id, u.upn, t.token)])
            }
        }
        TokenCmd::List { tenant, user, json } => {
            let actor = operator(&app, &tenant).await?;
            let u = app.get_user(&actor, &user).await.cli()?;
            let list = app.list_tokens(&actor, u.id).await.cli()?;
            if json.json {
                let v: Vec<_> = list.iter().map(|t| serde_json::json!({"id": t.id, "name": t.name, "createdDateTime": t.created_at, "expiresDateTime": t.expires_at, "revokedDateTime": t.revoked_at})).collect();
                output::json(&v)
            } else {
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
                table.print(&format!("{} has no tokens.", u.upn))
            }
        }
        TokenCmd::Revoke { tenant, id } => {
            let actor = operator(&app, &tenant).await?;
            let id = seatkeeper_domain::TokenId::parse(&id).with_context(|| {
                format!("'{id}' is not a token id; see `seatkeeper token list`")
            })?;
            app.revoke_token(&actor, id).await.cli()?;
            output::lines([format!("Token {id} revoked")])
        }
    }
}
