//! The CSV export of a product's users at 100,000 users (L7). Ignored by default because seeding
//! takes a while; run with `cargo test -p seatkeeper-web --test api rest_scale -- --ignored --nocapture`.

use crate::common::*;
use seatkeeper_domain::{AssignmentId, UserId};
use seatkeeper_store::assignments::{self, Assignment};
use seatkeeper_store::directory::{self as dir, User};
use seatkeeper_store::subscriptions as subs;

const USERS: usize = 100_000;

async fn export_at_scale(srv: Srv) {
    let sku = srv.sku("SUITE_BASIC");
    srv.buy("SUITE_BASIC", USERS as i64).await;
    let seeding = std::time::Instant::now();
    let mut tx = srv.app.db.begin().await.expect("tx");
    let pool = subs::central_pool(&mut tx, srv.tenant, sku)
        .await
        .expect("pool")
        .expect("pool");
    let now = srv.app.now();
    for i in 0..USERS {
        let u = User {
            id: UserId::new(),
            tenant_id: srv.tenant,
            upn: format!("u{i}@contoso.test"),
            display_name: format!("User {i}"),
            given_name: None,
            surname: None,
            mail: None,
            mail_nickname: None,
            job_title: None,
            department: None,
            user_type: seatkeeper_domain::kinds::UserType::Member,
            usage_location: Some("US".into()),
            account_enabled: true,
            created_at: now,
        };
        dir::insert_user(&mut tx, &u).await.expect("user");
        let a = Assignment {
            id: AssignmentId::new(),
            tenant_id: srv.tenant,
            user_id: u.id,
            sku_id: sku,
            pool_id: pool.id,
            disabled_plans: vec![],
            direct: true,
            direct_disabled_plans: vec![],
            assigned_at: now,
            updated_at: now,
        };
        assignments::insert(&mut tx, &a).await.expect("assignment");
    }
    assert!(
        subs::take_seats(&mut tx, pool.id, USERS as i64)
            .await
            .expect("seats")
    );
    tx.commit().await.expect("commit");
    eprintln!(
        "{:?}: seeded {USERS} users in {:?}",
        srv.backend,
        seeding.elapsed()
    );

    let export = std::time::Instant::now();
    let resp = srv
        .raw(
            reqwest::Method::GET,
            "/api/v1/licenses/SUITE_BASIC/users.csv",
        )
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    let text = resp.text().await.expect("body");
    eprintln!(
        "{:?}: exported {} bytes in {:?}",
        srv.backend,
        text.len(),
        export.elapsed()
    );
    assert_eq!(text.lines().count(), USERS + 1);
    let upns: std::collections::HashSet<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(upns.len(), USERS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn csv_export_of_100k_users_sqlite() {
    if let Some(srv) = Srv::start(Backend::Sqlite).await {
        export_at_scale(srv).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn csv_export_of_100k_users_postgres() {
    if let Some(srv) = Srv::start(Backend::Postgres).await {
        export_at_scale(srv).await;
    }
}
