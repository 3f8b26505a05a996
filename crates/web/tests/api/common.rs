//! Integration-test harness: a real server on 127.0.0.1 (port 0) over a fresh database, on
//! SQLite or on the PostgreSQL named by `SEATKEEPER_TEST_PG_URL` (an admin URL; each test gets
//! its own database). `backends!` writes a test once and runs it on both.
#![allow(dead_code)]

use reqwest::StatusCode;
use seatkeeper_app::mail::{MailConfig, Transport};
use seatkeeper_app::{Actor, App, Config};
use seatkeeper_domain::roles::Role;
use seatkeeper_domain::{TenantId, UserId};
use seatkeeper_store::Db;
use serde_json::Value;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Srv {
    pub url: String,
    pub app: App,
    pub tenant: TenantId,
    pub admin: UserId,
    pub token: String,
    pub dir: PathBuf,
    pub backend: Backend,
    /// The database URL, for a second server on the same database.
    pub db_url: String,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    stop_jobs: tokio::sync::watch::Sender<bool>,
    jobs: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Srv {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = self.stop_jobs.send(true);
        // The server's files (the SQLite database, mail): tests leave nothing behind.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The PostgreSQL admin URL for tests; in CI a missing one is a failure, not a skip.
pub fn pg_url() -> Option<String> {
    match std::env::var("SEATKEEPER_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("SEATKEEPER_TEST_PG_URL must be set in CI")
        }
        _ => None,
    }
}

/// A fresh database on `backend`; None when PostgreSQL is not configured (outside CI).
pub async fn fresh_db(backend: Backend, dir: &std::path::Path) -> Option<Db> {
    Some(fresh_db_url(backend, dir).await?.0)
}

/// [`fresh_db`] and its URL.
pub async fn fresh_db_url(backend: Backend, dir: &std::path::Path) -> Option<(Db, String)> {
    match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}?mode=rwc", dir.join("seatkeeper.db").display());
            Some((Db::connect(&url).await.expect("open sqlite"), url))
        }
        Backend::Postgres => {
            let admin = pg_url()?;
            seatkeeper_store::sqlx::any::install_default_drivers();
            let name = format!("sk_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = <seatkeeper_store::sqlx::AnyConnection as seatkeeper_store::sqlx::Connection>::connect(&admin).await.expect("connect to test PostgreSQL");
            seatkeeper_store::sqlx::query(seatkeeper_store::sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {name}"
            )))
            .execute(&mut conn)
            .await
            .expect("create test database");
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or(admin.clone());
            let url = format!("{base}/{name}");
            Some((Db::connect(&url).await.expect("connect test database"), url))
        }
    }
}

pub fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("seatkeeper-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

impl Srv {
    /// Signs the tenant's Global admin in to the admin center (giving it a password first) and
    /// returns the session cookie's value, as a browser would hold it after the sign-in page.
    pub async fn admin_session(&self) -> String {
        self.session_of(self.admin).await
    }

    /// Signs user `id` in to the admin center (giving them a password first) and returns the
    /// session cookie's value.
    pub async fn session_of(&self, id: UserId) -> String {
        let id = id.to_string();
        let actor = seatkeeper_app::Actor::operator(self.tenant);
        let password = "Admin-session-1";
        self.app
            .set_password(&actor, &id, password, false)
            .await
            .expect("set the user's password");
        let upn = self.app.get_user(&actor, &id).await.expect("the user").upn;
        self.app
            .sign_in(&upn, password, None, &Default::default())
            .await
            .expect("sign in")
            .secret
    }

    /// Starts a server with the demo catalog and one tenant (usage location US) whose Global
    /// admin's token is `self.token`. None when the backend is not available here.
    pub async fn start(backend: Backend) -> Option<Srv> {
        Srv::start_with(backend, None).await
    }

    pub async fn start_with(backend: Backend, catalog: Option<&str>) -> Option<Srv> {
        Srv::start_full(backend, catalog, None).await
    }

    /// A server that sends its mail to the SMTP server at `smtp_port` on 127.0.0.1 (plain SMTP,
    /// no auth), e.g. an [`SmtpSink`].
    pub async fn start_with_smtp(backend: Backend, smtp_port: u16) -> Option<Srv> {
        Srv::start_full(backend, None, Some(smtp_port)).await
    }

    async fn start_full(
        backend: Backend,
        catalog: Option<&str>,
        smtp_port: Option<u16>,
    ) -> Option<Srv> {
        let dir = temp_dir();
        let (db, db_url) = fresh_db_url(backend, &dir).await?;
        let app = Srv::app_on(db, &dir, smtp_port).await;
        if let Some(src) = catalog {
            app.import_catalog(
                &seatkeeper_app::operator::Operator::cli(),
                "test-catalog.toml",
                src,
            )
            .await
            .expect("import test catalog");
        }
        let b = app
            .create_tenant(
                "Contoso Test",
                "admin@contoso.test",
                Some("US"),
                Some("USD"),
            )
            .await
            .expect("tenant");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // The server's license job runner (group-based licensing), as `serve` runs it.
        let (stop_jobs, jobs_rx) = tokio::sync::watch::channel(false);
        let jobs = Some(tokio::spawn(app.clone().license_job_loop(jobs_rx)));
        let served = app.clone();
        tokio::spawn(async move {
            let _ = seatkeeper_web::serve(served, listener, async move {
                let _ = rx.await;
            })
            .await;
        });
        Some(Srv {
            url,
            app,
            tenant: b.tenant_id,
            admin: b.admin_user_id,
            token: b.token,
            dir,
            backend,
            db_url,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("client"),
            stop: Some(tx),
            stop_jobs,
            jobs,
        })
    }

    /// The app of a server with the test configuration, over `db`: mail is written to files
    /// under `dir`, or sent to the SMTP server at `smtp_port` on 127.0.0.1 (plain SMTP, no
    /// auth).
    async fn app_on(db: Db, dir: &std::path::Path, smtp_port: Option<u16>) -> App {
        let mail = MailConfig {
            from: "seatkeeper@test.example".into(),
            transport: match smtp_port {
                None => Transport::EmlDir(dir.join("mail")),
                Some(port) => Transport::Smtp {
                    host: "127.0.0.1".into(),
                    port,
                    security: seatkeeper_app::mail::SmtpSecurity::None,
                    username: None,
                    password: None,
                },
            },
        };
        App::new(
            db,
            Config {
                mail,
                dev_clock: true,
                public_url: None,
            },
        )
        .await
        .expect("app")
    }

    /// Another server's app on this server's database (as several servers share one
    /// PostgreSQL), with its own connections.
    /// PostgreSQL: begins a transaction that holds the row of user `upn`, as a license batch
    /// of another server holds its users before it locks pools.
    pub async fn hold_user(&self, upn: &str) -> seatkeeper_store::Tx {
        let mut tx = self.app.db.begin().await.expect("begin");
        seatkeeper_store::sqlx::query("SELECT id FROM users WHERE upn = $1 FOR UPDATE")
            .bind(upn)
            .execute(&mut *tx)
            .await
            .expect("hold the user");
        tx
    }

    /// PostgreSQL: waits until another session of the test's database waits for a row lock in
    /// a statement about users. Panics with `what` after 20 s, or as soon as `ended()` says the
    /// work under test ended without waiting.
    pub async fn wait_for_a_user_lock(&self, ended: impl Fn() -> bool, what: &str) {
        let waited = std::time::Instant::now();
        loop {
            let waiting: i64 = seatkeeper_store::sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query ILIKE '%users%'",
            )
            .fetch_one(self.app.db.reader())
            .await
            .expect("activity");
            if waiting > 0 {
                return;
            }
            assert!(
                !ended() && waited.elapsed() < std::time::Duration::from_secs(20),
                "{what}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// PostgreSQL: locks the organization's central pool of `part` in `tx` as a license batch
    /// locks it ([`seatkeeper_store::subscriptions::POOL_LOCK`]), without waiting: the pool's
    /// id, or the database's error (`lock_not_available`) when another transaction holds it.
    pub async fn lock_central_pool_nowait(
        &self,
        tx: &mut seatkeeper_store::Tx,
        part: &str,
    ) -> Result<Option<String>, seatkeeper_store::sqlx::Error> {
        seatkeeper_store::sqlx::query_scalar(seatkeeper_store::sqlx::AssertSqlSafe(format!(
            "SELECT id FROM pools WHERE tenant_id = $1 AND sku_id = $2 AND kind = 'central' {} NOWAIT",
            seatkeeper_store::subscriptions::POOL_LOCK
        )))
        .bind(self.tenant.to_string())
        .bind(self.sku(part).to_string())
        .fetch_optional(&mut **tx)
        .await
    }

    pub async fn second_app(&self) -> App {
        let db = Db::connect(&self.db_url).await.expect("connect again");
        Srv::app_on(db, &self.dir, None).await
    }

    pub fn operator(&self) -> Actor {
        Actor::operator(self.tenant)
    }

    /// Sends a request as `token`; returns the status and the JSON body (Null if none).
    pub async fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .client
            .request(m, format!("{}{}", self.url, path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_as(&self.token.clone(), method, path, body).await
    }
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call("GET", path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("PATCH", path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("PUT", path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call("DELETE", path, None).await
    }

    /// Raw request for bodies that are not JSON values.
    pub fn raw(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.url, path))
            .bearer_auth(&self.token)
    }

    /// Creates a member user through the app (usage location `loc`), returns its id.
    pub async fn user(&self, upn: &str, loc: Option<&str>) -> UserId {
        let input = seatkeeper_app::directory::UserInput {
            user_principal_name: Some(upn.to_string()),
            display_name: Some(upn.split('@').next().unwrap_or(upn).to_string()),
            usage_location: Some(loc.map(str::to_string)),
            ..Default::default()
        };
        self.app
            .create_user(&self.operator(), &input)
            .await
            .expect("create user")
            .id
    }

    /// A user with `roles` and a token for them.
    pub async fn token_with_roles(&self, upn: &str, roles: &[Role]) -> String {
        let id = self.user_with_roles(upn, roles).await;
        self.app
            .create_token(&self.operator(), id, "test", None)
            .await
            .expect("token")
            .token
    }

    /// A new user (usage location US) holding `roles`.
    pub async fn user_with_roles(&self, upn: &str, roles: &[Role]) -> UserId {
        let id = self.user(upn, Some("US")).await;
        self.app
            .set_user_roles(&self.operator(), &id.to_string(), roles)
            .await
            .expect("roles");
        id
    }

    /// A new guest user (userType Guest, usage location GB).
    pub async fn guest(&self, upn: &str, name: &str) -> seatkeeper_domain::directory::User {
        self.app
            .create_user(
                &self.operator(),
                &seatkeeper_app::directory::UserInput {
                    user_principal_name: Some(upn.into()),
                    display_name: Some(name.into()),
                    user_type: Some("Guest".into()),
                    usage_location: Some(Some("GB".into())),
                    ..Default::default()
                },
            )
            .await
            .expect("guest")
    }

    /// Stops the server's license job runner and waits until it has stopped: no transaction
    /// of its own (it claims jobs once a second) comes between the test's.
    pub async fn stop_license_jobs(&mut self) {
        let _ = self.stop_jobs.send(true);
        if let Some(jobs) = self.jobs.take() {
            let _ = jobs.await;
        }
    }

    /// Buys `n` licenses of a demo-catalog product by part number; returns the subscription id.
    pub async fn buy(&self, part: &str, n: i64) -> String {
        let sku = self.sku(part);
        let s = self
            .app
            .buy(
                &self.operator(),
                sku,
                n,
                seatkeeper_domain::lifecycle::BillingFrequency::Monthly,
            )
            .await
            .expect("buy");
        s.id.to_string()
    }

    pub fn sku(&self, part: &str) -> seatkeeper_domain::SkuId {
        self.app
            .catalog()
            .find_product(part)
            .unwrap_or_else(|| panic!("no product {part}"))
            .sku_id
    }

    pub fn plan(&self, name: &str) -> String {
        self.app
            .catalog()
            .plans
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no plan {name}"))
            .id
            .to_string()
    }
}

/// Asserts an error envelope: status, and that the message contains `needle`.
/// Sets the organization's self-service purchase policy for the product `sku` (part number
/// or id) through `PUT /api/v1/policies/AllowSelfServicePurchase/products/{productId}`.
pub async fn set_policy(srv: &Srv, sku: &str, value: &str) {
    let product_id = srv
        .app
        .catalog()
        .find_product(sku)
        .expect("product")
        .product_id
        .clone();
    let got = srv
        .put(
            &format!("/api/v1/policies/AllowSelfServicePurchase/products/{product_id}"),
            serde_json::json!({"policyValue": value}),
        )
        .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
}

/// The error code of an API answer (`error.code`), empty when there is none.
pub fn code(got: &(StatusCode, Value)) -> String {
    got.1["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn assert_error(got: &(StatusCode, Value), status: StatusCode, needle: &str) {
    assert_eq!(got.0, status, "body: {}", got.1);
    let msg = got.1["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error envelope: {}", got.1));
    assert!(
        msg.contains(needle),
        "message {msg:?} does not contain {needle:?}"
    );
    assert!(got.1["error"]["code"].is_string(), "no code: {}", got.1);
    assert!(
        got.1["error"]["innerError"]["request-id"].is_string(),
        "no request-id: {}",
        got.1
    );
}

/// Writes a test once and runs it on SQLite and on PostgreSQL:
/// `backends!(name, |srv| async move { ... });`
#[macro_export]
macro_rules! backends {
    ($name:ident, |$srv:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let Some($srv) = $crate::common::Srv::start($crate::common::Backend::Sqlite).await
                else {
                    return;
                };
                $body.await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($srv) =
                    $crate::common::Srv::start($crate::common::Backend::Postgres).await
                else {
                    eprintln!("skipped: SEATKEEPER_TEST_PG_URL is not set");
                    return;
                };
                $body.await
            }
        }
    };
}

/// One message an [`SmtpSink`] received.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    /// The message with quoted-printable soft breaks and escapes undone.
    pub data: String,
}

impl Received {
    /// The Subject header (unfolded).
    pub fn subject(&self) -> String {
        let mut out = String::new();
        let mut inside = false;
        for line in self.data.lines() {
            if inside {
                if line.starts_with(' ') || line.starts_with('\t') {
                    out.push_str(line.trim_start_matches(['\t']));
                    continue;
                }
                break;
            }
            if let Some(v) = line.strip_prefix("Subject: ") {
                out.push_str(v);
                inside = true;
            }
        }
        out
    }
}

/// A minimal SMTP server on 127.0.0.1 that accepts every message (no TLS, no auth).
pub struct SmtpSink {
    pub port: u16,
    received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

fn unquote_printable(s: &str) -> String {
    let s = s.replace("=\r\n", "").replace("=\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Some(v) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let store = received.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let (r, mut w) = sock.into_split();
                    let mut r = BufReader::new(r);
                    let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                    let mut to = Vec::new();
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let cmd = line.trim_end().to_ascii_uppercase();
                        let reply: &[u8] = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                            b"250 sink\r\n"
                        } else if cmd.starts_with("RCPT TO:") {
                            let a = line.trim_end()[8..]
                                .trim()
                                .trim_start_matches('<')
                                .trim_end_matches('>')
                                .to_string();
                            to.push(a);
                            b"250 OK\r\n"
                        } else if cmd == "DATA" {
                            let _ = w.write_all(b"354 go on\r\n").await;
                            let mut data = String::new();
                            loop {
                                line.clear();
                                if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                                    return;
                                }
                                if line == ".\r\n" || line == ".\n" {
                                    break;
                                }
                                data.push_str(&line);
                            }
                            store.lock().expect("sink").push(Received {
                                to: std::mem::take(&mut to),
                                data: unquote_printable(&data),
                            });
                            b"250 queued\r\n"
                        } else if cmd == "QUIT" {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 OK\r\n"
                        };
                        if w.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        SmtpSink { port, received }
    }

    /// Everything received so far.
    pub fn all(&self) -> Vec<Received> {
        self.received.lock().expect("sink").clone()
    }

    /// What was received for `to`.
    pub fn to(&self, to: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
            .collect()
    }
}

/// [`backends!`] with an [`SmtpSink`] the server sends its mail to:
/// `backends_smtp!(name, |srv, sink| async move { ... });`
#[macro_export]
macro_rules! backends_smtp {
    ($name:ident, |$srv:ident, $sink:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $sink = $crate::common::SmtpSink::start().await;
                let Some($srv) = $crate::common::Srv::start_with_smtp(
                    $crate::common::Backend::Sqlite,
                    $sink.port,
                )
                .await
                else {
                    return;
                };
                $body.await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $sink = $crate::common::SmtpSink::start().await;
                let Some($srv) = $crate::common::Srv::start_with_smtp(
                    $crate::common::Backend::Postgres,
                    $sink.port,
                )
                .await
                else {
                    eprintln!("skipped: SEATKEEPER_TEST_PG_URL is not set");
                    return;
                };
                $body.await
            }
        }
    };
}
