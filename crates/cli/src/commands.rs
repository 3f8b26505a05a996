//! Command implementations.

use crate::opts::{Cli, Command, DbArgs, MailArgs, ServeArgs, TenantCmd, TokenCmd};
use anyhow::{Context, bail};
use seatkeeper_app::mail::{MailConfig, SmtpSecurity, Transport};
use seatkeeper_app::store::{Db, redact_url};
use seatkeeper_app::{Actor, App, Config};
use seatkeeper_domain::TenantId;

pub async fn open_db(db: &DbArgs) -> anyhow::Result<Db> {
    match &db.database_url {
        Some(url) => Db::connect(url).await,
        None => Db::open_dir(&db.data_dir).await,
    }
}

pub fn mail_config(db: &DbArgs, m: &MailArgs) -> anyhow::Result<MailConfig> {
    let transport = match &m.smtp_url {
        Some(url) => parse_smtp_url(url)?,
        None => Transport::EmlDir(
            m.mail_dir
                .clone()
                .unwrap_or_else(|| db.data_dir.join("mail")),
        ),
    };
    Ok(MailConfig {
        from: m.mail_from.clone(),
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

pub async fn open_app(db: &DbArgs, mail: MailConfig, dev_clock: bool) -> anyhow::Result<App> {
    let db = open_db(db).await?;
    App::new(db, Config { mail, dev_clock }).await
}

/// The operator's app for commands that do not serve.
async fn cli_app(db: &DbArgs) -> anyhow::Result<App> {
    let mail = MailConfig {
        from: "seatkeeper@localhost".into(),
        transport: Transport::EmlDir(db.data_dir.join("mail")),
    };
    open_app(db, mail, false).await
}

/// Resolves a tenant by id or exact name.
pub async fn tenant_id(app: &App, key: &str) -> anyhow::Result<TenantId> {
    let all = app.list_tenants().await?;
    if let Some(id) = TenantId::parse(key)
        && all.iter().any(|t| t.id == id)
    {
        return Ok(id);
    }
    let matches: Vec<_> = all.iter().filter(|t| t.name == key.trim()).collect();
    match matches.as_slice() {
        [t] => Ok(t.id),
        [] => bail!("no organization with id or name '{key}' (see `seatkeeper tenant list`)"),
        _ => bail!(
            "{} organizations are named '{key}': use the tenant id",
            matches.len()
        ),
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(&cli.db, args).await,
        Command::Migrate => {
            let db = open_db(&cli.db).await?;
            db.close().await;
            println!("database is up to date");
            Ok(())
        }
        Command::Tenant(cmd) => tenant(&cli.db, cmd).await,
        Command::Token(cmd) => token(&cli.db, cmd).await,
    }
}

async fn serve(dbargs: &DbArgs, args: ServeArgs) -> anyhow::Result<()> {
    let mail = mail_config(dbargs, &args.mail)?;
    let app = open_app(dbargs, mail, args.dev_clock).await?;
    if let Some(path) = &args.catalog {
        let src = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read catalog {}", path.display()))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("catalog.toml");
        let s = app
            .import_catalog(name, &src)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
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
    println!("Seatkeeper is listening on http://{addr} ({where_})");
    if args.demo {
        let d = crate::demo::ensure_demo(&app).await?;
        println!();
        println!(
            "Demo organization: {} (tenant {})",
            d.tenant_name, d.tenant_id
        );
        println!("Global admin:      {}", d.admin_user_principal_name);
        println!("Bearer token:      {}", d.token);
        println!();
        println!("Try it:");
        println!(
            "  curl -H 'Authorization: Bearer {}' http://{addr}/v1.0/subscribedSkus",
            d.token
        );
        println!(
            "  curl -H 'Authorization: Bearer {}' http://{addr}/api/v1/licenses",
            d.token
        );
    }
    if args.dev_clock {
        println!(
            "Development clock on: PUT http://{addr}/api/v1/dev/clock {{\"now\": \"2030-01-01T00:00:00Z\"}}"
        );
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let jobs = (!args.no_jobs).then(|| tokio::spawn(app.clone().job_loop(stop_rx)));
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop_tx.send(true);
    };
    seatkeeper_web::serve(app.clone(), listener, shutdown).await?;
    if let Some(j) = jobs {
        let _ = j.await;
    }
    app.db.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

async fn tenant(db: &DbArgs, cmd: TenantCmd) -> anyhow::Result<()> {
    let app = cli_app(db).await?;
    match cmd {
        TenantCmd::Create {
            name,
            admin,
            usage_location,
            currency,
            json,
        } => {
            let b = app
                .create_tenant(&name, &admin, usage_location.as_deref(), Some(&currency))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                println!("{}", serde_json::to_string(&b)?);
            } else {
                println!(
                    "Organization '{}' created: tenant {}",
                    b.tenant_name, b.tenant_id
                );
                println!(
                    "Global admin {} ({})",
                    b.admin_user_principal_name, b.admin_user_id
                );
                println!("Bearer token: {}", b.token);
            }
        }
        TenantCmd::List { json } => {
            let list = app.list_tenants().await?;
            if json {
                let v: Vec<_> = list
                    .iter()
                    .map(|t| serde_json::json!({"tenantId": t.id, "name": t.name, "defaultUsageLocation": t.default_usage_location, "currency": t.currency, "createdDateTime": t.created_at}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for t in list {
                    println!("{}  {}  {}", t.id, t.currency, t.name);
                }
            }
        }
    }
    app.db.close().await;
    Ok(())
}

async fn token(db: &DbArgs, cmd: TokenCmd) -> anyhow::Result<()> {
    let app = cli_app(db).await?;
    match cmd {
        TokenCmd::Create {
            tenant,
            user,
            name,
            expires_in_days,
            json,
        } => {
            let actor = Actor::operator(tenant_id(&app, &tenant).await?);
            let u = app
                .get_user(&actor, &user)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let expires = expires_in_days.map(|d| app.now() + chrono::Duration::days(d));
            let t = app
                .create_token(&actor, u.id, &name, expires)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                println!("{}", serde_json::to_string(&t)?);
            } else {
                println!("Token {} for {}: {}", t.id, u.upn, t.token);
            }
        }
        TokenCmd::List { tenant, user, json } => {
            let actor = Actor::operator(tenant_id(&app, &tenant).await?);
            let u = app
                .get_user(&actor, &user)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let list = app
                .list_tokens(&actor, u.id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                let v: Vec<_> = list.iter().map(|t| serde_json::json!({"id": t.id, "name": t.name, "createdDateTime": t.created_at, "expiresDateTime": t.expires_at, "revokedDateTime": t.revoked_at})).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for t in list {
                    let state = if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!("{}  {:8}  {}", t.id, state, t.name);
                }
            }
        }
        TokenCmd::Revoke { tenant, id } => {
            let actor = Actor::operator(tenant_id(&app, &tenant).await?);
            let id = seatkeeper_domain::TokenId::parse(&id)
                .with_context(|| format!("'{id}' is not a token id"))?;
            app.revoke_token(&actor, id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("Token {id} revoked");
        }
    }
    app.db.close().await;
    Ok(())
}
