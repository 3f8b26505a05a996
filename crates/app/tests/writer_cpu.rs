//! On SQLite the license writer's thread and the thread that runs the write connection share
//! one CPU (a batch is a strict back and forth between the two), and the reading connections
//! are left to the scheduler. Checked through `/proc` after a license change.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(target_os = "linux")]

use seatkeeper_app::licenses::LicenseSpec;
use seatkeeper_app::mail::{MailConfig, Transport};
use seatkeeper_app::{Actor, App, Config};
use seatkeeper_domain::lifecycle::BillingFrequency;
use seatkeeper_store::Db;

/// The CPUs a process or thread may run on, as the `Cpus_allowed_list` of its `status` file
/// (under `/proc`) gives them ("0-3,6"; one CPU alone is a plain number); `None` when the file
/// cannot be read (the thread ended meanwhile).
fn cpus_allowed(status: impl AsRef<std::path::Path>) -> Option<String> {
    let status = std::fs::read_to_string(status).ok()?;
    let cpus = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list");
    Some(cpus.trim().to_string())
}

/// This process's threads: (name as the kernel keeps it, at most 15 bytes; the CPUs it may
/// run on, see [`cpus_allowed`]; its id).
fn threads() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir("/proc/self/task")
        .expect("tasks")
        .flatten()
    {
        let (Ok(name), Some(cpus)) = (
            std::fs::read_to_string(t.path().join("comm")),
            cpus_allowed(t.path().join("status")),
        ) else {
            continue; // the thread ended meanwhile
        };
        out.push((
            name.trim().to_string(),
            cpus,
            t.file_name().to_string_lossy().into_owned(),
        ));
    }
    out
}

#[test]
fn the_license_writer_and_sqlite_writes_share_one_cpu() {
    let allowed = cpus_allowed("/proc/self/status").expect("status");
    if allowed.parse::<usize>().is_ok() {
        eprintln!("one CPU only: nothing to share");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir =
            std::env::temp_dir().join(format!("seatkeeper-cpu-{}", uuid::Uuid::new_v4().simple()));
        let db = Db::open_dir(&dir).await.expect("db");
        let mail = MailConfig {
            from: "t@localhost".into(),
            transport: Transport::EmlDir(dir.join("mail")),
        };
        let app = App::new(
            db,
            Config {
                mail,
                dev_clock: true,
                public_url: None,
            },
        )
        .await
        .expect("app");
        let b = app
            .create_tenant("Cpu", "admin@cpu.test", Some("DK"), None)
            .await
            .expect("tenant");
        let actor = Actor::operator(b.tenant_id);
        let sku = app
            .catalog()
            .find_product("SUITE_BASIC")
            .expect("product")
            .sku_id;
        app.buy(&actor, sku, 5, BillingFrequency::Monthly)
            .await
            .expect("buy");
        assign(&app, &actor, "u@cpu.test", sku).await;
        // A purchase after the change goes through the same write connection.
        app.buy(&actor, sku, 1, BillingFrequency::Monthly)
            .await
            .expect("buy again");

        let first = shared_cpu();
        // More changes: the writer takes the same connection again, run by the same thread.
        for n in 0..2 {
            assign(&app, &actor, &format!("v{n}@cpu.test"), sku).await;
        }
        assert_eq!(shared_cpu(), first, "the connection was not opened again");
        // The connection closed, then opened again by a transaction on another thread (as
        // after a failure): the writer's next batch opens it again from its CPU.
        app.db.hold_write_connection().await.expect("held").close();
        let mut tx = app.db.begin().await.expect("begin");
        seatkeeper_store::sqlx::query("SELECT 1")
            .execute(&mut *tx)
            .await
            .expect("select");
        tx.commit().await.expect("commit");
        assign(&app, &actor, "w@cpu.test", sku).await;
        let again = shared_cpu();
        assert_eq!(again.0, first.0, "the writer stays on its CPU");
        assert_ne!(
            again.1, first.1,
            "a new SQLite thread for the new connection"
        );
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// Creates user `upn` and gives them `sku`.
async fn assign(app: &App, actor: &Actor, upn: &str, sku: seatkeeper_domain::SkuId) {
    let input = seatkeeper_app::directory::UserInput {
        user_principal_name: Some(upn.into()),
        display_name: Some(upn.into()),
        ..Default::default()
    };
    let u = app.create_user(actor, &input).await.expect("user");
    app.assign_license(
        actor,
        &u.upn,
        vec![LicenseSpec {
            sku_id: sku,
            disabled_plans: vec![],
        }],
        vec![],
    )
    .await
    .expect("assigned");
}

/// Checks that the license writer runs on one CPU and exactly one SQLite thread (the write
/// connection's: the writer opens no other) shares it, while every other SQLite thread (the
/// reading connections') may run wherever the process may. Returns that CPU and the id of
/// that SQLite thread.
fn shared_cpu() -> (String, String) {
    let all = threads();
    let writer = all
        .iter()
        .find(|(n, _, _)| n == "license-writer")
        .expect("the license writer's thread");
    assert!(
        writer.1.parse::<usize>().is_ok(),
        "the license writer runs on one CPU: {all:?}"
    );
    let sqlite: Vec<_> = all
        .iter()
        .filter(|(n, _, _)| n.starts_with("sqlx-sqlite-wor"))
        .collect();
    let shared: Vec<_> = sqlite.iter().filter(|(_, c, _)| *c == writer.1).collect();
    assert_eq!(
        shared.len(),
        1,
        "one SQLite thread shares the writer's CPU: {all:?}"
    );
    let process = cpus_allowed("/proc/self/status").expect("status");
    assert_ne!(writer.1, process, "{all:?}");
    assert!(
        sqlite
            .iter()
            .filter(|(_, c, _)| *c != writer.1)
            .all(|(_, c, _)| *c == process),
        "the reading connections may run on any of the process's CPUs ({process}): {all:?}"
    );
    assert!(sqlite.len() > 1, "the readers are there too: {all:?}");
    (writer.1.clone(), shared[0].2.clone())
}
