//! Organizations: created whole or not at all, with names unique regardless of case (old
//! databases with duplicate names upgrade without failing).

use crate::common::*;
use crate::rest_helpers::*;
use reqwest::StatusCode;
use seatkeeper_app::AppError;
use seatkeeper_store::sqlx::{self, AssertSqlSafe, Connection};
use seatkeeper_store::{Backend as DbBackend, Db};
use serde_json::json;

backends!(
    organization_names_are_unique_regardless_of_case,
    |srv| async move {
        let err = srv
            .app
            .create_tenant("  contoso TEST ", "admin@other.test", None, None)
            .await
            .expect_err("a second Contoso Test");
        match &err {
            AppError::Conflict { code, message } => {
                assert_eq!(*code, "tenantExists");
                assert!(
                    message.contains("'Contoso Test'") && message.contains(&srv.tenant.to_string()),
                    "{message}"
                );
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(srv.app.list_tenants().await.expect("list").len(), 1);

        // Renaming an organization to a taken name is a 409 over HTTP, too.
        let other = srv
            .app
            .create_tenant("Fabrikam", "admin@fabrikam.test", Some("US"), None)
            .await
            .expect("tenant");
        let got = srv
            .call_as(
                &other.token,
                "PATCH",
                &format!("{API}/tenant"),
                Some(json!({"name": "CONTOSO test"})),
            )
            .await;
        assert_error(&got, StatusCode::CONFLICT, "already");
        assert_eq!(got.1["error"]["code"], "tenantExists");
        // Its own name in another case is fine.
        let got = srv
            .call_as(
                &other.token,
                "PATCH",
                &format!("{API}/tenant"),
                Some(json!({"name": "FABRIKAM"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    }
);

backends!(
    a_failed_organization_creation_leaves_nothing_behind,
    |srv| async move {
        // The bootstrap token cannot be written: the last step of creating an organization fails.
        let (create, drop) = match srv.backend {
            Backend::Sqlite => (
                vec![
                    "CREATE TRIGGER fail_tokens BEFORE INSERT ON tokens BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
                ],
                vec!["DROP TRIGGER fail_tokens"],
            ),
            Backend::Postgres => (
                vec![
                    "CREATE FUNCTION fail_tokens() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END; $$",
                    "CREATE TRIGGER fail_tokens BEFORE INSERT ON tokens FOR EACH ROW EXECUTE FUNCTION fail_tokens()",
                ],
                vec!["DROP TRIGGER fail_tokens ON tokens"],
            ),
        };
        let run = |stmts: Vec<&'static str>| {
            let app = srv.app.clone();
            async move {
                let mut tx = app.db.begin().await.expect("begin");
                for s in stmts {
                    sqlx::query(AssertSqlSafe(s))
                        .execute(&mut *tx)
                        .await
                        .expect("DDL");
                }
                tx.commit().await.expect("commit");
            }
        };
        run(create).await;
        srv.app
            .create_tenant("Fabrikam", "admin@fabrikam.test", Some("US"), None)
            .await
            .expect_err("the token cannot be stored");
        let names: Vec<String> = srv
            .app
            .list_tenants()
            .await
            .expect("list")
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["Contoso Test"]);
        run(drop).await;
        // Nothing half-made blocks the name: the next attempt creates all of it.
        let b = srv
            .app
            .create_tenant("Fabrikam", "admin@fabrikam.test", Some("US"), None)
            .await
            .expect("tenant");
        let got = srv
            .call_as(&b.token, "GET", &format!("{API}/me"), None)
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["roles"], json!(["GlobalAdmin"]));
    }
);

/// A database with only the first migration applied, as an older Seatkeeper left it; its URL.
async fn old_database(backend: DbBackend, dir: &std::path::Path) -> Option<String> {
    let (url, sql) = match backend {
        DbBackend::Sqlite => (
            format!("sqlite://{}?mode=rwc", dir.join("old.db").display()),
            include_str!("../../../store/migrations/sqlite/0001_init.sql"),
        ),
        DbBackend::Postgres => {
            let admin = pg_url()?;
            sqlx::any::install_default_drivers();
            let name = format!("sk_old_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::AnyConnection::connect(&admin).await.expect("connect");
            sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create database");
            let base = admin.rsplit_once('/').map(|(b, _)| b.to_string())?;
            (
                format!("{base}/{name}"),
                include_str!("../../../store/migrations/postgres/0001_init.sql"),
            )
        }
    };
    sqlx::any::install_default_drivers();
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    let first = Migrator {
        migrations: vec![Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            sqlx::SqlSafeStr::into_sql_str(sql),
            false,
        )]
        .into(),
        ..Migrator::DEFAULT
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
    first.run(&mut conn).await.expect("first migration");
    // Three spellings of one name, and another name.
    for (id, name, at) in [
        ("00000000-0000-4000-8000-000000000001", "Contoso", 1),
        ("00000000-0000-4000-8000-000000000002", "contoso", 2),
        ("00000000-0000-4000-8000-000000000003", "CONTOSO ", 3),
        ("00000000-0000-4000-8000-000000000004", "Fabrikam", 1),
    ] {
        sqlx::query(
            "INSERT INTO tenants (id, name, currency, created_at) VALUES ($1, $2, 'USD', $3)",
        )
        .bind(id)
        .bind(name)
        .bind(at as i64)
        .execute(&mut conn)
        .await
        .expect("insert tenant");
    }
    let _ = conn.close().await;
    Some(url)
}

async fn upgrades_with_duplicate_names(backend: DbBackend) {
    let dir = temp_dir();
    let Some(url) = old_database(backend, &dir).await else {
        eprintln!("skipped: SEATKEEPER_TEST_PG_URL is not set");
        return;
    };
    let db = Db::connect(&url).await.expect("the upgrade does not fail");
    let app = seatkeeper_app::App::new(
        db,
        seatkeeper_app::Config {
            mail: seatkeeper_app::mail::MailConfig {
                from: "seatkeeper@test.example".into(),
                transport: seatkeeper_app::mail::Transport::EmlDir(dir.join("mail")),
            },
            dev_clock: false,
            public_url: None,
        },
    )
    .await
    .expect("app");
    let mut names: Vec<String> = app
        .list_tenants()
        .await
        .expect("list")
        .into_iter()
        .map(|t| t.name)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "CONTOSO  (00000000-0000-4000-8000-000000000003)",
            "Contoso",
            "Fabrikam",
            "contoso (00000000-0000-4000-8000-000000000002)",
        ]
    );
    // Each rename is in that organization's audit log.
    let renamed = seatkeeper_app::Actor::operator(
        seatkeeper_domain::TenantId::parse("00000000-0000-4000-8000-000000000002").expect("id"),
    );
    let log = app
        .audit_log(
            &renamed,
            &seatkeeper_store::audit::AuditQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("audit");
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].summary.contains("names are unique"), "{log:?}");
    // And the name stays unique from now on.
    let err = app
        .create_tenant("contoso", "admin@x.test", None, None)
        .await
        .expect_err("taken");
    assert!(matches!(err, AppError::Conflict { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_sqlite_database_with_duplicate_names_upgrades() {
    upgrades_with_duplicate_names(DbBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_postgres_database_with_duplicate_names_upgrades() {
    upgrades_with_duplicate_names(DbBackend::Postgres).await;
}
