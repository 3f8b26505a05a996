//! `seatkeeper-bench`: seeds a large tenant straight into the database, starts the real server
//! on 127.0.0.1, and measures it over HTTP the way clients use it.
//!
//!   cargo run --release -p seatkeeper-bench -- --backend sqlite
//!   cargo run --release -p seatkeeper-bench -- --backend postgres --database-url postgres://…

use anyhow::Context;
use clap::Parser;
use seatkeeper_app::mail::{MailConfig, Transport};
use seatkeeper_app::{App, Config};
use seatkeeper_store::sqlx::{self, AssertSqlSafe};
use seatkeeper_store::{Backend, Db, us};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server's allocator (see the `seatkeeper` binary), so that the server measured here
/// runs as it does in production.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Benchmarks Seatkeeper over HTTP on loopback")]
struct Args {
    /// sqlite or postgres.
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// PostgreSQL admin URL (a fresh database is created on it) for --backend postgres.
    #[arg(long, env = "SEATKEEPER_BENCH_PG_URL")]
    database_url: Option<String>,
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    #[arg(long, default_value_t = 50)]
    products: usize,
    #[arg(long, default_value_t = 1_000_000)]
    assignments: usize,
    /// Requests for the Licenses-page benchmark.
    #[arg(long, default_value_t = 2000)]
    page_requests: usize,
    /// Concurrent clients for the assignLicense benchmark.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds the assignLicense benchmark runs.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Only the group-based licensing benchmark: a product assigned to a group of every user,
    /// then removed again.
    #[arg(long)]
    group_only: bool,
    /// Only the assignLicense benchmarks: 32 clients (--clients), one client, and the
    /// database alone writing the same rows.
    #[arg(long)]
    assign_only: bool,
    /// Also drive the concurrent assignLicense load from `wrk` (Debian's `wrk`, a separate
    /// process: `--clients` connections on 2 threads, at most `--seconds` long), to the server
    /// in this process, on users of its own (3/5 of the concurrent phases' users, the other
    /// 2/5 for the clients in this process): the server's rate when the load generator costs
    /// little.
    #[arg(long)]
    wrk: bool,
    /// Every this many milliseconds (0: never), print the license writer's counts to stderr
    /// (`progress <unix ms> <changes> <batches>`, changes and batches counted since the server
    /// started), from the start of the assignLicense phases to the end of the run, so that an
    /// outside tool can measure the rate in short intervals, for example while it switches a
    /// setting back and forth. Not with `--group-only`.
    #[arg(long, default_value_t = 0)]
    progress: u64,
    /// Licenses per transaction for the database-alone batched ceiling.
    #[arg(long, default_value_t = 32)]
    ceiling_batch: usize,
}

mod ceiling;
mod raw;

fn catalog(products: usize) -> String {
    let mut s = String::new();
    for p in 0..products {
        for k in 0..3 {
            s.push_str(&format!(
                "[[plan]]\nid = \"{}\"\nname = \"P{p}_S{k}\"\ndisplay_name = \"Product {p} service {k}\"\n\n",
                uuid::Uuid::from_u128(0x1000_0000 + (p as u128) * 16 + k)
            ));
        }
    }
    for p in 0..products {
        s.push_str(&format!(
            "[[product]]\nsku_id = \"{}\"\nsku_part_number = \"BENCH_{p}\"\nproduct_id = \"CFQ7TTC0{p:04}\"\nname = \"Bench product {p}\"\napplies_to = \"User\"\nself_service = false\nplans = [\"P{p}_S0\", \"P{p}_S1\", \"P{p}_S2\"]\nprices = [{{ currency = \"USD\", monthly = 1000, annual = 10000 }}]\n\n",
            sku(p)
        ));
    }
    s
}

fn sku(p: usize) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x2000_0000 + p as u128)
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

async fn exec(db: &Db, sql: String) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Users and assignments go in with multi-row inserts of generated (not user-supplied) values.
async fn seed(
    app: &App,
    db: &Db,
    tenant: seatkeeper_domain::TenantId,
    args: &Args,
) -> anyhow::Result<Vec<String>> {
    let t0 = Instant::now();
    let now = us(app.now());
    let op = seatkeeper_app::Actor::operator(tenant);
    let per_product = args.assignments.div_ceil(args.products);
    // Subscriptions: bought through the app; the last product is left with room for the write benchmark.
    for p in 0..args.products {
        let q = if p + 1 == args.products {
            (per_product + args.users) as i64
        } else {
            per_product as i64 + 1000
        };
        app.buy(
            &op,
            seatkeeper_domain::SkuId(sku(p)),
            q,
            seatkeeper_domain::lifecycle::BillingFrequency::Annual,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let user_ids: Vec<String> = (0..args.users)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    for chunk in user_ids.chunks(2000).enumerate() {
        let (c, ids) = chunk;
        let rows: Vec<String> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let n = c * 2000 + i;
                format!("('{id}', '{tenant}', 'user{n}@bench.example', 'user{n}@bench.example', 'User {n}', 'user {n}', 'Member', 'US', 1, {now})")
            })
            .collect();
        exec(db, format!("INSERT INTO users (id, tenant_id, upn, upn_lower, display_name, name_lower, user_type, usage_location, account_enabled, created_at) VALUES {}", rows.join(","))).await?;
        // The words each user is found by ("user", "{n}"), as the store writes them.
        let words: Vec<String> = ids
            .iter()
            .enumerate()
            .flat_map(|(i, id)| {
                let n = c * 2000 + i;
                [
                    format!("('{tenant}', 'user', '{id}')"),
                    format!("('{tenant}', '{n}', '{id}')"),
                ]
            })
            .collect();
        exec(
            db,
            format!(
                "INSERT INTO user_words (tenant_id, word, user_id) VALUES {}",
                words.join(",")
            ),
        )
        .await?;
    }
    eprintln!("seeded {} users in {:.1?}", args.users, t0.elapsed());
    // Assignments: product p goes to users [p*k .. p*k+per_product) (wrapping), skipping the last product.
    let mut pools = Vec::new();
    {
        let mut conn = db.reader().acquire().await?;
        for p in 0..args.products {
            let pool = seatkeeper_store::subscriptions::central_pool(
                &mut conn,
                tenant,
                seatkeeper_domain::SkuId(sku(p)),
            )
            .await?
            .context("pool")?;
            pools.push(pool.id.to_string());
        }
    }
    let seeded_products = args.products - 1;
    let mut done = 0usize;
    let per = args.assignments / seeded_products.max(1);
    for (p, pool) in pools.iter().enumerate().take(seeded_products) {
        let start = (p * 7919) % args.users;
        let mut rows = Vec::with_capacity(2000);
        for k in 0..per.min(args.users) {
            let u = &user_ids[(start + k) % args.users];
            rows.push(format!(
                "('{}', '{tenant}', '{u}', '{}', '{}', '', 1, {now}, {now}, '')",
                uuid::Uuid::new_v4(),
                sku(p),
                pool
            ));
            if rows.len() == 2000 {
                exec(db, format!("INSERT INTO assignments (id, tenant_id, user_id, sku_id, pool_id, disabled_plans, direct, assigned_at, updated_at, direct_disabled_plans) VALUES {}", rows.join(","))).await?;
                done += rows.len();
                rows.clear();
            }
        }
        if !rows.is_empty() {
            done += rows.len();
            exec(db, format!("INSERT INTO assignments (id, tenant_id, user_id, sku_id, pool_id, disabled_plans, direct, assigned_at, updated_at, direct_disabled_plans) VALUES {}", rows.join(","))).await?;
        }
        exec(db, format!("UPDATE pools SET assigned = (SELECT COUNT(*) FROM assignments a WHERE a.pool_id = pools.id) WHERE id = '{pool}'")).await?;
    }
    // Which users hold no license (`unlicensed_users`) follows these inserts by itself: the
    // database's triggers keep it (migration 0017).
    if db.backend() == Backend::Postgres {
        // The seeding's rows vacuumed (hint bits and visibility map set) and analyzed, and its
        // WAL checkpointed, before anything is measured: otherwise autovacuum (due after
        // 1,000,000 inserts) and the checkpoint of about a gigabyte of WAL run during the
        // measurement, on the same two cores (a cost of loading the data, not of the license
        // changes measured).
        sqlx::query("VACUUM ANALYZE").execute(db.reader()).await?;
        if let Err(e) = sqlx::query("CHECKPOINT").execute(db.reader()).await {
            eprintln!(
                "the seeding's WAL was not checkpointed (CHECKPOINT needs a superuser or pg_checkpoint): {e}"
            );
        }
    } else {
        exec(db, "ANALYZE".into()).await?;
        // The seeding's WAL (hundreds of MB) copied back and emptied now, before anything is
        // measured: the server's background checkpoint would otherwise still be copying it when
        // the load starts, and hold the writer off for seconds (a cost of loading the data, not
        // of the license changes measured).
        // It waits for the server's own checkpoints; "busy" means one still held the WAL.
        for attempt in 1.. {
            let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(db.reader())
                .await?;
            let busy: i64 = sqlx::Row::try_get(&row, "busy")?;
            if busy == 0 {
                break;
            }
            anyhow::ensure!(attempt < 60, "the seeding's WAL could not be checkpointed");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    eprintln!(
        "seeded {done} assignments over {seeded_products} products in {:.1?}",
        t0.elapsed()
    );
    Ok(user_ids)
}

/// Gives the organization's Global admin a password and signs it in, as the sign-in page
/// would; returns the session cookie's value.
async fn admin_session(
    app: &App,
    tenant: seatkeeper_domain::TenantId,
    upn: &str,
) -> anyhow::Result<String> {
    let password = "Bench-admin-1";
    app.set_password(
        &seatkeeper_app::Actor::operator(tenant),
        upn,
        password,
        false,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(app
        .sign_in(upn, password, None, &Default::default())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .secret)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The server's warnings and errors (a failed request is logged with its error id).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let dir = std::env::temp_dir().join(format!(
        "seatkeeper-bench-{}",
        uuid::Uuid::new_v4().simple()
    ));
    // PostgreSQL: the admin URL and the benchmark's own database, dropped at the end.
    let mut made = None;
    let db = match args.backend.as_str() {
        "sqlite" => Db::open_dir(&dir).await?,
        "postgres" => {
            let admin = args.database_url.clone().context(
                "--database-url (a PostgreSQL admin URL) is needed for --backend postgres",
            )?;
            sqlx::any::install_default_drivers();
            let name = format!("sk_bench_{}", uuid::Uuid::new_v4().simple());
            let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await?;
            sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut c)
                .await?;
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_string())
                .unwrap_or(admin.clone());
            let db = Db::connect(&format!("{base}/{name}")).await?;
            made = Some((admin, name));
            db
        }
        other => anyhow::bail!("--backend is sqlite or postgres, not {other}"),
    };
    let mail = MailConfig {
        from: "bench@localhost".into(),
        transport: Transport::EmlDir(dir.join("mail")),
    };
    let app = App::new(
        db.clone(),
        Config {
            mail,
            dev_clock: false,
            public_url: None,
        },
    )
    .await?;
    app.import_catalog(
        &seatkeeper_app::operator::Operator::cli(),
        "bench.toml",
        &catalog(args.products),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let b = app
        .create_tenant("Bench", "admin@bench.example", Some("US"), None)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let users = seed(&app, &db, b.tenant_id, &args).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(seatkeeper_web::serve(app.clone(), listener, async move {
        let _ = stop_rx.await;
    }));
    let (stop_jobs, jobs_rx) = tokio::sync::watch::channel(false);
    let job_runner = tokio::spawn(app.clone().license_job_loop(jobs_rx));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients * 2)
        .build()?;
    let auth = format!("Bearer {}", b.token);

    // 0. Group-based licensing: the last product (licenses for every user) to a group of all.
    if !args.assign_only {
        group_bench(
            &db,
            &client,
            &base,
            &auth,
            b.tenant_id,
            &users,
            &args,
            us(app.now()),
        )
        .await?;
    }
    if args.group_only {
        let _ = stop_jobs.send(true);
        let _ = job_runner.await;
        let _ = stop_tx.send(());
        let _ = server.await;
        db.close().await;
        let _ = std::fs::remove_dir_all(&dir);
        return drop_database(made).await;
    }

    // 1. Licenses page data.
    if !args.assign_only {
        let url = format!("{base}/v1.0/subscribedSkus");
        for _ in 0..50 {
            client
                .get(&url)
                .header("Authorization", &auth)
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?;
        }
        let mut lat = Vec::with_capacity(args.page_requests);
        let t = Instant::now();
        let mut skus = 0;
        for _ in 0..args.page_requests {
            let s = Instant::now();
            let body: serde_json::Value = client
                .get(&url)
                .header("Authorization", &auth)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            lat.push(s.elapsed());
            skus = body["value"].as_array().map(|v| v.len()).unwrap_or(0);
        }
        let wall = t.elapsed();
        lat.sort();
        println!(
            "GET /v1.0/subscribedSkus ({} users, {} products, {} assignments, {} SKUs in answer): {} requests, mean {:.2} ms, p50 {:.2} ms, p99 {:.2} ms",
            args.users,
            args.products,
            args.assignments,
            skus,
            args.page_requests,
            wall.as_secs_f64() * 1000.0 / args.page_requests as f64,
            percentile(&lat, 0.5).as_secs_f64() * 1000.0,
            percentile(&lat, 0.99).as_secs_f64() * 1000.0
        );

        // 2. The admin center's pages, as a signed-in admin's browser asks for them (one at a time:
        //    the time is the server's rendering plus a loopback round trip).
        let cookie = admin_session(&app, b.tenant_id, &b.admin_user_principal_name).await?;
        let product = sku(0);
        let pages = [
            ("Licenses", "/licenses".to_string()),
            (
                "a product's first page of users",
                format!("/licenses/{product}"),
            ),
            (
                "a product's users searched by name",
                format!("/licenses/{product}?search=User%2012"),
            ),
            ("Active users", "/users".to_string()),
            (
                "Active users searched by name",
                "/users?q=User%204711".to_string(),
            ),
            (
                "Active users, licensed",
                "/users?filter=licensed".to_string(),
            ),
            (
                "Active users, unlicensed",
                "/users?filter=unlicensed".to_string(),
            ),
        ];
        for (what, path) in &pages {
            let url = format!("{base}{path}");
            let get = || async {
                let r = client
                    .get(&url)
                    .header("cookie", format!("sk_session={cookie}"))
                    .send()
                    .await?;
                anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
                Ok::<usize, anyhow::Error>(r.bytes().await?.len())
            };
            for _ in 0..20 {
                get().await?;
            }
            let n = args.page_requests.min(500);
            let mut lat = Vec::with_capacity(n);
            let mut size = 0;
            for _ in 0..n {
                let s = Instant::now();
                size = get().await?;
                lat.push(s.elapsed());
            }
            lat.sort();
            println!(
                "page {what} (GET {path}, {} KB): {n} requests, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                size / 1024,
                percentile(&lat, 0.5).as_secs_f64() * 1000.0,
                percentile(&lat, 0.99).as_secs_f64() * 1000.0,
                lat.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
            );
        }
    }

    // 3. assignLicense with N concurrent clients, then one client, each to its own users; then
    //    the database alone writing the same rows.
    if args.progress > 0 {
        // A thread of its own, off the server's runtime.
        let (app, every) = (app.clone(), Duration::from_millis(args.progress));
        std::thread::spawn(move || {
            loop {
                let s = app.license_writer_stats();
                // The system's clock, not the app's: the outside tool lines the counts up
                // with its own switches by it.
                #[allow(clippy::disallowed_methods)]
                let ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis();
                eprintln!("progress {ms} {} {}", s.changes, s.batches);
                std::thread::sleep(every);
            }
        });
    }
    let last = sku(args.products - 1).to_string();
    let n = users.len();
    let (busy, rest) = users.split_at(n * 65 / 100);
    let (single, alone) = rest.split_at(n / 10);
    let (busy, by_wrk) = if args.wrk {
        busy.split_at(busy.len() * 2 / 5)
    } else {
        (busy, &[][..])
    };
    assign_phase(
        &client,
        &base,
        &auth,
        &last,
        busy,
        args.clients,
        args.seconds,
        &args.backend,
    )
    .await?;
    if args.wrk {
        wrk_phase(
            &app,
            &dir,
            &base,
            &auth,
            &last,
            by_wrk,
            args.clients,
            args.seconds,
        )
        .await?;
    }
    assign_phase(&client, &base, &auth, &last, single, 1, 5, &args.backend).await?;
    let stats = app.license_writer_stats();
    println!(
        "License writer: {} changes in {} batches ({:.1} per batch on average, at most {})",
        stats.changes,
        stats.batches,
        stats.changes as f64 / stats.batches.max(1) as f64,
        stats.largest
    );
    let sqlite_file = (db.backend() == Backend::Sqlite).then(|| Db::file_in(&dir));
    ceiling::report(
        &db,
        sqlite_file.as_deref(),
        b.tenant_id,
        alone,
        &last,
        args.ceiling_batch,
        5,
        app.now(),
    )
    .await?;
    let _ = stop_jobs.send(true);
    let _ = job_runner.await;
    let _ = stop_tx.send(());
    let _ = server.await;
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    drop_database(made).await
}

/// Drops the benchmark's PostgreSQL database (about 1 GB with the defaults), if it made one,
/// closing the connections the server still holds to it (PostgreSQL 13 and later).
async fn drop_database(made: Option<(String, String)>) -> anyhow::Result<()> {
    if let Some((admin, name)) = made {
        let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await?;
        sqlx::query(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
            .execute(&mut c)
            .await
            .with_context(|| format!("cannot drop the benchmark's database {name}"))?;
    }
    Ok(())
}

/// `POST /v1.0/users/{id}/assignLicense` from `clients` concurrent keep-alive clients for
/// `seconds`, each assigning `sku` to its own users of `users`; prints throughput and latency.
#[allow(clippy::too_many_arguments)]
async fn assign_phase(
    client: &reqwest::Client,
    base: &str,
    auth: &str,
    sku: &str,
    users: &[String],
    clients: usize,
    seconds: u64,
    backend: &str,
) -> anyhow::Result<()> {
    let users = Arc::new(users.to_vec());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, auth, base, sku, users) = (
            client.clone(),
            auth.to_string(),
            base.to_string(),
            sku.to_string(),
            users.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut i = c;
            while Instant::now() < deadline && i < users.len() {
                let body = serde_json::json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []});
                let s = Instant::now();
                let r = client
                    .post(format!("{base}/v1.0/users/{}/assignLicense", users[i]))
                    .header("Authorization", &auth)
                    .json(&body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(s.elapsed());
                    }
                    Ok(r) => {
                        errors += 1;
                        if errors < 3 {
                            eprintln!("assignLicense {}: {}", r.status(), r.text().await.unwrap_or_default());
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        if errors < 3 {
                            eprintln!("assignLicense: {e}");
                        }
                    }
                }
                i += clients;
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let wall = t.elapsed();
    all.sort();
    println!(
        "POST /v1.0/users/{{id}}/assignLicense, {clients} clients, {backend} backend: {} assignments in {:.1} s = {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, {errors} errors",
        all.len(),
        wall.as_secs_f64(),
        all.len() as f64 / wall.as_secs_f64(),
        percentile(&all, 0.5).as_secs_f64() * 1000.0,
        percentile(&all, 0.99).as_secs_f64() * 1000.0,
    );
    Ok(())
}

/// The concurrent assignLicense load from `wrk`, a separate process: each of its `clients`
/// connections assigns `sku` to users of `users` in turn (2 threads, each on its own half),
/// for `seconds` or until each user has been sent one request (a thread stops then: a second
/// assignment of the same license would change nothing and cost less); prints the rate of
/// changes the server's license writer answered until then and wrk's latencies.
#[allow(clippy::too_many_arguments)]
async fn wrk_phase(
    app: &App,
    dir: &std::path::Path,
    base: &str,
    auth: &str,
    sku: &str,
    users: &[String],
    clients: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let list: Vec<String> = users.iter().map(|u| format!("\"{u}\"")).collect();
    let script = format!(
        r#"local users = {{{}}}
local n = 0
local step = 1
local body = '{{"addLicenses": [{{"skuId": "{sku}", "disabledPlans": []}}], "removeLicenses": []}}'
local count = 0
function setup(thread)
  count = count + 1
  thread:set("first", count)
end
function init(args)
  n = first
  step = 2
  -- wrk calls the first thread's request() once more, to check the script, and never
  -- sends that request: it must not use up a user.
  checked = first ~= 1
end
function request()
  local u = users[n]
  if not checked then
    checked = true
  elseif u == nil then
    -- Every user of this thread has been sent its request: a second request for a user
    -- would be a no-op, cheaper than an assignment, so the thread stops. The connections
    -- that ask for a request before it has stopped get one the license writer never sees.
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  else
    n = n + step
  end
  return wrk.format("POST", "/v1.0/users/" .. u .. "/assignLicense",
    {{["Authorization"] = "{auth}", ["Content-Type"] = "application/json"}}, body)
end
function done(summary, latency, requests)
  io.write(string.format("wrk: %d answers, %d errors (status), p50 %.2f ms, p99 %.2f ms\n",
    summary.requests, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"#,
        list.join(",")
    );
    std::fs::create_dir_all(dir)?;
    let path = dir.join("assign.lua");
    std::fs::write(&path, script)?;
    let base = base.to_string();
    // wrk runs for the whole `-d` even when its threads have stopped: the rate is taken from
    // the server's license writer instead, up to the answer of the last user's change.
    let from = app.license_writer_stats().changes;
    let until = from + users.len() as u64;
    let t = Instant::now();
    let cpu_from = process_cpu();
    let wrk = tokio::task::spawn_blocking(move || {
        std::process::Command::new("wrk")
            .args([
                "-t2",
                &format!("-c{clients}"),
                &format!("-d{seconds}s"),
                "-s",
            ])
            .arg(&path)
            .arg(&base)
            .output()
    });
    // Until the last user's change is answered; if a request failed and that never comes,
    // until the last change answered.
    let mut done = None;
    let mut last = (from, t.elapsed(), cpu_from);
    while !wrk.is_finished() {
        let changes = app.license_writer_stats().changes;
        if done.is_none() && changes > last.0 {
            last = (changes, t.elapsed(), process_cpu());
            if changes >= until {
                done = Some((last.1, last.2));
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let out = wrk.await?.context("cannot run wrk (apt-get install wrk)")?;
    let made = app.license_writer_stats().changes.min(until) - from;
    let (took, cpu_until) = done.unwrap_or((last.1.max(Duration::from_millis(1)), last.2));
    // The server's CPU time per change (this process: the server, its database connections
    // and this polling loop; nothing of wrk's), steadier from run to run than the rate on a
    // shared machine.
    let cpu = match (cpu_from, cpu_until) {
        (Some(a), Some(b)) if made > 0 => {
            format!(
                ", {:.0} µs of server CPU each",
                (b - a).as_secs_f64() * 1e6 / made as f64
            )
        }
        _ => String::new(),
    };
    let report = String::from_utf8_lossy(&out.stdout);
    match report.lines().find(|l| l.starts_with("wrk: ")) {
        Some(line) => println!(
            "POST /v1.0/users/{{id}}/assignLicense, {clients} connections from wrk (a separate process): {made} assignments in {:.1} s = {:.0}/s{cpu}; wrk: {}",
            took.as_secs_f64(),
            made as f64 / took.as_secs_f64(),
            &line[5..]
        ),
        None => anyhow::bail!(
            "wrk failed: {report}{}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
    Ok(())
}

/// The CPU time this process has used (user and system, from `/proc/self/stat`, in the
/// kernel's clock ticks of 10 ms), where there is a `/proc`.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (in parentheses, which may hold spaces): utime and
    // stime are the 12th and 13th of them.
    let rest = stat.rsplit_once(')')?.1;
    let mut f = rest.split_whitespace().skip(11);
    let ticks: u64 = f.next()?.parse::<u64>().ok()? + f.next()?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Polls a group until its members are processed; returns the time from `start`.
async fn until_processed(
    client: &reqwest::Client,
    base: &str,
    auth: &str,
    gid: &str,
    start: Instant,
) -> anyhow::Result<Duration> {
    loop {
        let g: serde_json::Value = client
            .get(format!(
                "{base}/v1.0/groups/{gid}?$select=licenseProcessingState"
            ))
            .header("Authorization", auth)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if g["licenseProcessingState"]["state"] == "ProcessingComplete" {
            return Ok(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A product assigned to a group of every user, from the 202 until every member holds it;
/// then removed again. Members go in straight to the database (as `seed` does).
#[allow(clippy::too_many_arguments)]
async fn group_bench(
    db: &Db,
    client: &reqwest::Client,
    base: &str,
    auth: &str,
    tenant: seatkeeper_domain::TenantId,
    users: &[String],
    args: &Args,
    now: i64,
) -> anyhow::Result<()> {
    let g: serde_json::Value = client
        .post(format!("{base}/v1.0/groups"))
        .header("Authorization", auth)
        .json(&serde_json::json!({"displayName": "Everyone", "mailEnabled": false, "mailNickname": "everyone", "securityEnabled": true}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let gid = g["id"].as_str().context("group id")?.to_string();
    for (c, chunk) in users.chunks(2000).enumerate() {
        let rows: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(i, u)| {
                format!(
                    "('{gid}', '{u}', '{tenant}', {})",
                    now + (c * 2000 + i) as i64
                )
            })
            .collect();
        exec(
            db,
            format!(
                "INSERT INTO group_members (group_id, user_id, tenant_id, added_at) VALUES {}",
                rows.join(",")
            ),
        )
        .await?;
    }
    let sku = sku(args.products - 1).to_string();
    let t = Instant::now();
    let r = client
        .post(format!("{base}/v1.0/groups/{gid}/assignLicense"))
        .header("Authorization", auth)
        .json(&serde_json::json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []}))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 202, "assignLicense answered {}", r.status());
    let took = until_processed(client, base, auth, &gid, t).await?;
    // Visible through Graph: a member's licenseAssignmentStates names the group.
    let last = users.last().context("users")?;
    let u: serde_json::Value = client
        .get(format!("{base}/v1.0/users/{last}"))
        .header("Authorization", auth)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    anyhow::ensure!(
        u["licenseAssignmentStates"].as_array().is_some_and(|a| a
            .iter()
            .any(|s| s["assignedByGroup"] == gid.as_str() && s["state"] == "Active")),
        "the last member does not hold the group's product: {u}"
    );
    println!(
        "Group of {} members: product assigned, every member active in {:.2} s ({:.0} members/s)",
        users.len(),
        took.as_secs_f64(),
        users.len() as f64 / took.as_secs_f64()
    );
    let t = Instant::now();
    let r = client
        .post(format!("{base}/v1.0/groups/{gid}/assignLicense"))
        .header("Authorization", auth)
        .json(&serde_json::json!({"addLicenses": [], "removeLicenses": [sku]}))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 202, "assignLicense answered {}", r.status());
    let took = until_processed(client, base, auth, &gid, t).await?;
    println!(
        "Group of {} members: product removed, every seat freed in {:.2} s ({:.0} members/s)",
        users.len(),
        took.as_secs_f64(),
        users.len() as f64 / took.as_secs_f64()
    );
    joiners_bench(client, base, auth, users, &sku).await?;
    database_alone(db, tenant, users, &sku, now).await
}

/// Every user added at once (`POST /api/v1/groups/{id}/members`) to a group that already gives
/// the product, from the 202 until the job has licensed every new member; then the product is
/// removed again.
async fn joiners_bench(
    client: &reqwest::Client,
    base: &str,
    auth: &str,
    users: &[String],
    sku: &str,
) -> anyhow::Result<()> {
    let g: serde_json::Value = client
        .post(format!("{base}/v1.0/groups"))
        .header("Authorization", auth)
        .json(&serde_json::json!({"displayName": "Joiners", "mailEnabled": false, "mailNickname": "joiners", "securityEnabled": true}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let gid = g["id"].as_str().context("group id")?.to_string();
    let r = client
        .post(format!("{base}/v1.0/groups/{gid}/assignLicense"))
        .header("Authorization", auth)
        .json(&serde_json::json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []}))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 202, "assignLicense answered {}", r.status());
    until_processed(client, base, auth, &gid, Instant::now()).await?;
    let t = Instant::now();
    let mut jobs = Vec::new();
    for chunk in users.chunks(100_000) {
        let j: serde_json::Value = client
            .post(format!("{base}/api/v1/groups/{gid}/members"))
            .header("Authorization", auth)
            .json(&serde_json::json!({ "members": chunk }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        jobs.push(j["id"].as_str().context("job id")?.to_string());
    }
    for id in &jobs {
        loop {
            let j: serde_json::Value = client
                .get(format!("{base}/api/v1/jobs/{id}"))
                .header("Authorization", auth)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            match j["state"].as_str() {
                Some("Completed") => break,
                Some("Failed") => anyhow::bail!("the member job failed: {j}"),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
    let took = t.elapsed();
    println!(
        "{} members added to a licensed group, every one licensed in {:.2} s ({:.0} members/s)",
        users.len(),
        took.as_secs_f64(),
        users.len() as f64 / took.as_secs_f64()
    );
    let r = client
        .post(format!("{base}/v1.0/groups/{gid}/assignLicense"))
        .header("Authorization", auth)
        .json(&serde_json::json!({"addLicenses": [], "removeLicenses": [sku]}))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 202, "assignLicense answered {}", r.status());
    until_processed(client, base, auth, &gid, Instant::now()).await?;
    Ok(())
}

/// The database alone: the same rows a group assignment writes for each member (the license,
/// its group source, and through the database's triggers the member's entry in
/// `unlicensed_users` removed) and the seat count, inserted straight with
/// 5,000 members per transaction as the job's steps are, in the members' order, with no server.
/// Rolled back afterwards.
async fn database_alone(
    db: &Db,
    tenant: seatkeeper_domain::TenantId,
    users: &[String],
    sku: &str,
    now: i64,
) -> anyhow::Result<()> {
    let mut conn = db.reader().acquire().await?;
    let pool = seatkeeper_store::subscriptions::central_pool(
        &mut conn,
        tenant,
        seatkeeper_domain::SkuId(uuid::Uuid::parse_str(sku)?),
    )
    .await?
    .context("pool")?
    .id
    .to_string();
    drop(conn);
    let group = uuid::Uuid::new_v4().to_string();
    let t = Instant::now();
    for chunk in users.chunks(5000) {
        let mut tx = db.begin().await?;
        let licenses: Vec<String> = chunk
            .iter()
            .map(|u| {
                format!(
                    "('{}', '{tenant}', '{u}', '{sku}', '{pool}', '[]', 0, {now}, {now}, '[]')",
                    uuid::Uuid::new_v4()
                )
            })
            .collect();
        let sources: Vec<String> = chunk
            .iter()
            .map(|u| {
                format!("('{u}', '{group}', '{sku}', '{tenant}', 'Active', NULL, '[]', {now})")
            })
            .collect();
        for sql in [
            format!(
                "INSERT INTO assignments (id, tenant_id, user_id, sku_id, pool_id, disabled_plans, direct, assigned_at, updated_at, direct_disabled_plans) VALUES {}",
                licenses.join(",")
            ),
            format!(
                "INSERT INTO license_sources (user_id, group_id, sku_id, tenant_id, state, error, disabled_plans, updated_at) VALUES {}",
                sources.join(",")
            ),
            format!(
                "UPDATE pools SET assigned = assigned + {} WHERE id = '{pool}'",
                chunk.len()
            ),
        ] {
            sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    let took = t.elapsed();
    println!(
        "The database alone writing the same rows for {} members (5,000 per transaction): {:.2} s ({:.0} members/s)",
        users.len(),
        took.as_secs_f64(),
        users.len() as f64 / took.as_secs_f64()
    );
    let mut tx = db.begin().await?;
    for sql in [
        format!("DELETE FROM license_sources WHERE group_id = '{group}'"),
        format!("DELETE FROM assignments WHERE pool_id = '{pool}' AND assigned_at = {now}"),
        format!(
            "UPDATE pools SET assigned = (SELECT COUNT(*) FROM assignments a WHERE a.pool_id = pools.id) WHERE id = '{pool}'"
        ),
    ] {
        sqlx::query(AssertSqlSafe(sql)).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}
