//! Property test of the seat rules against a real SQLite database: whatever sequence of
//! purchases, quantity changes, cancellations, reactivations, assignments and time jumps
//! happens, the counters match the rows, pools carry exactly the licenses of their usable
//! subscriptions, and no assignment is ever accepted beyond what was bought. With groups in the
//! mix (members joining and leaving, products assigned to and removed from groups, users
//! deleted), every license is what its sources say (L6).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use seatkeeper_app::licenses::LicenseSpec;
use seatkeeper_app::mail::{MailConfig, Transport};
use seatkeeper_app::{Actor, App, Config};
use seatkeeper_domain::lifecycle::{BillingFrequency, Status};
use seatkeeper_domain::seats::SeatState;
use seatkeeper_store::{Db, assignments, subscriptions};

#[derive(Debug, Clone)]
enum Op {
    Buy {
        product: usize,
        quantity: i64,
    },
    SetQuantity {
        sub: usize,
        quantity: i64,
    },
    Cancel {
        sub: usize,
    },
    Reactivate {
        sub: usize,
    },
    Recurring {
        sub: usize,
        on: bool,
    },
    Assign {
        user: usize,
        product: usize,
    },
    Unassign {
        user: usize,
        product: usize,
    },
    /// One product to several users at once; the same user may appear twice (by name and by id).
    AssignBatch {
        users: Vec<usize>,
        by_id: bool,
        product: usize,
    },
    UnassignBatch {
        users: Vec<usize>,
        by_id: bool,
        product: usize,
    },
    UnassignAll {
        users: Vec<usize>,
        by_id: bool,
    },
    Days(i64),
    /// Group-based licensing (L6): membership and the groups' products.
    Join {
        user: usize,
        group: usize,
    },
    Leave {
        user: usize,
        group: usize,
    },
    GroupAssign {
        group: usize,
        product: usize,
        plan_off: bool,
    },
    GroupRemove {
        group: usize,
        product: usize,
    },
    DeleteUser {
        user: usize,
    },
}

const GROUPS: usize = 2;

const PRODUCTS: [&str; 3] = ["SUITE_BASIC", "MAIL_PLAN2", "CHAT_ESSENTIALS"];
const USERS: usize = 8;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 1..4i64).prop_map(|(product, quantity)| Op::Buy { product, quantity }),
        (0..6usize, 1..6i64).prop_map(|(sub, quantity)| Op::SetQuantity { sub, quantity }),
        (0..6usize).prop_map(|sub| Op::Cancel { sub }),
        (0..6usize).prop_map(|sub| Op::Reactivate { sub }),
        (0..6usize, any::<bool>()).prop_map(|(sub, on)| Op::Recurring { sub, on }),
        (0..USERS, 0..3usize).prop_map(|(user, product)| Op::Assign { user, product }),
        (0..USERS, 0..3usize).prop_map(|(user, product)| Op::Unassign { user, product }),
        (
            proptest::collection::vec(0..USERS, 1..5),
            any::<bool>(),
            0..3usize
        )
            .prop_map(|(users, by_id, product)| Op::AssignBatch {
                users,
                by_id,
                product
            }),
        (
            proptest::collection::vec(0..USERS, 1..5),
            any::<bool>(),
            0..3usize
        )
            .prop_map(|(users, by_id, product)| Op::UnassignBatch {
                users,
                by_id,
                product
            }),
        (proptest::collection::vec(0..USERS, 1..4), any::<bool>())
            .prop_map(|(users, by_id)| Op::UnassignAll { users, by_id }),
        (1..80i64).prop_map(Op::Days),
        (0..USERS, 0..GROUPS).prop_map(|(user, group)| Op::Join { user, group }),
        (0..USERS, 0..GROUPS).prop_map(|(user, group)| Op::Leave { user, group }),
        (0..GROUPS, 0..3usize, any::<bool>()).prop_map(|(group, product, plan_off)| {
            Op::GroupAssign {
                group,
                product,
                plan_off,
            }
        }),
        (0..GROUPS, 0..3usize).prop_map(|(group, product)| Op::GroupRemove { group, product }),
        (0..USERS).prop_map(|user| Op::DeleteUser { user }),
    ]
}

/// `took_seat`: the product of which the last step (an accepted assignment) gave someone a
/// new license.
async fn check(app: &App, actor: &Actor, took_seat: Option<seatkeeper_domain::SkuId>) {
    let mut conn = app.read().await.expect("conn");
    let subs = subscriptions::list(&mut conn, actor.tenant_id, true)
        .await
        .expect("subs");
    for pool in subscriptions::pools_of_tenant(&mut conn, actor.tenant_id)
        .await
        .expect("pools")
    {
        let rows = assignments::count_in_pool(&mut conn, pool.id)
            .await
            .expect("count");
        assert_eq!(pool.assigned, rows, "counter matches rows");
        let usable: i64 = subs
            .iter()
            .filter(|s| s.pool_id == pool.id && s.life.status.counts_as_enabled())
            .map(|s| s.quantity)
            .sum();
        assert_eq!(
            pool.total, usable,
            "pool total is the licenses of its Active and Expired subscriptions"
        );
        let bought: i64 = subs
            .iter()
            .filter(|s| s.pool_id == pool.id && s.life.status != Status::Deleted)
            .map(|s| s.quantity)
            .sum();
        assert!(
            pool.assigned <= bought,
            "assigned {} > bought {bought}",
            pool.assigned
        );
        if took_seat == Some(pool.sku_id) {
            assert!(
                pool.assigned <= pool.total,
                "an accepted assignment took a seat beyond the working licenses"
            );
        }
        // Holders with access never exceed the working licenses.
        let held = assignments::of_pool(&mut conn, pool.id)
            .await
            .expect("rows");
        let states = app.seat_states(actor, &held).await.expect("states");
        let working = held
            .iter()
            .filter(|a| states[&a.id] != SeatState::Suspended)
            .count() as i64;
        assert!(
            working <= pool.total,
            "{working} holders with access, {} working licenses",
            pool.total
        );
        assert_eq!(
            working,
            pool.assigned.min(pool.total),
            "the holders beyond the working licenses are suspended, no others"
        );
    }
}

/// L6: every license is what its sources say — held when assigned directly or given by an
/// active group source, with the plans off that every such source turns off — and every
/// active group source has its license.
async fn check_sources(app: &App, actor: &Actor) {
    let mut conn = app.read().await.expect("conn");
    let pools = subscriptions::pools_of_tenant(&mut conn, actor.tenant_id)
        .await
        .expect("pools");
    let mut rows = Vec::new();
    for p in &pools {
        rows.extend(assignments::of_pool(&mut conn, p.id).await.expect("rows"));
    }
    let users: Vec<seatkeeper_domain::UserId> = rows.iter().map(|a| a.user_id).collect();
    let sources_all = seatkeeper_store::group_licenses::sources_of_users(&mut conn, &users)
        .await
        .expect("sources");
    for a in &rows {
        let active: Vec<_> = sources_all
            .iter()
            .filter(|s| s.user_id == a.user_id && s.sku_id == a.sku_id && s.state == "Active")
            .collect();
        assert!(
            a.direct || !active.is_empty(),
            "a license with no source: {a:?}"
        );
        let mut want: Option<Vec<seatkeeper_domain::PlanId>> =
            a.direct.then(|| a.direct_disabled_plans.clone());
        for s in &active {
            want = Some(match want {
                None => s.disabled_plans.clone(),
                Some(w) => w
                    .into_iter()
                    .filter(|p| s.disabled_plans.contains(p))
                    .collect(),
            });
        }
        let mut want = want.unwrap_or_default();
        want.sort();
        let mut got = a.disabled_plans.clone();
        got.sort();
        assert_eq!(
            got, want,
            "plans off are those every source turns off: {a:?}"
        );
    }
    // Every active source has its license (sources of users holding nothing included).
    let q = seatkeeper_store::sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM license_sources s WHERE s.state = 'Active' AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.user_id = s.user_id AND a.sku_id = s.sku_id)",
    )
    .fetch_one(&mut *conn)
    .await
    .expect("orphans");
    assert_eq!(q, 0, "an active group source without its license");
}

/// Whether a user holds a product (an accepted assignment of a product held already takes no
/// seat: it only sets the disabled plans).
async fn holds(app: &App, actor: &Actor, user: &str, sku: seatkeeper_domain::SkuId) -> bool {
    // A deleted user holds nothing.
    app.user_licenses(actor, user)
        .await
        .is_ok_and(|(_, held)| held.iter().any(|a| a.sku_id == sku))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn seat_counts_hold(ops in proptest::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async move {
            let dir = std::env::temp_dir().join(format!("seatkeeper-prop-{}", uuid::Uuid::new_v4().simple()));
            let db = Db::open_dir(&dir).await.expect("db");
            let mail = MailConfig { from: "t@localhost".into(), transport: Transport::EmlDir(dir.join("mail")) };
            let app = App::new(db, Config { mail, dev_clock: true, public_url: None }).await.expect("app");
            let b = app.create_tenant("Prop", "admin@prop.test", Some("DK"), None).await.expect("tenant");
            let actor = Actor::operator(b.tenant_id);
            let mut users = Vec::new();
            let mut ids = Vec::new();
            for i in 0..USERS {
                let input = seatkeeper_app::directory::UserInput {
                    user_principal_name: Some(format!("u{i}@prop.test")),
                    display_name: Some(format!("U{i}")),
                    ..Default::default()
                };
                let u = app.create_user(&actor, &input).await.expect("user");
                users.push(u.upn);
                ids.push(u.id.to_string());
            }
            // Names a batch: the first by id when `by_id`, the rest by name.
            let names = |list: &[usize], by_id: bool| -> Vec<String> {
                list.iter()
                    .enumerate()
                    .map(|(i, u)| if by_id && i == 0 { ids[*u].clone() } else { users[*u].clone() })
                    .collect()
            };
            let sku = |p: usize| app.catalog().find_product(PRODUCTS[p]).expect("product").sku_id;
            let mut groups = Vec::new();
            for g in 0..GROUPS {
                let grp = app.create_group(&actor, &format!("G{g}"), None, None).await.expect("group");
                groups.push(grp.id.to_string());
            }
            let mut deleted = [false; USERS];
            let mut subs: Vec<String> = Vec::new();
            for op in ops {
                let mut assign_ok = None;
                match op {
                    Op::Buy { product, quantity } => {
                        let s = app.buy(&actor, sku(product), quantity, BillingFrequency::Monthly).await.expect("buy");
                        subs.push(s.id.to_string());
                    }
                    Op::SetQuantity { sub, quantity } => if let Some(id) = subs.get(sub) { let _ = app.set_quantity(&actor, id, quantity).await; },
                    Op::Cancel { sub } => if let Some(id) = subs.get(sub) { let _ = app.cancel(&actor, id, "Other", None).await; },
                    Op::Reactivate { sub } => if let Some(id) = subs.get(sub) { let _ = app.reactivate(&actor, id).await; },
                    Op::Recurring { sub, on } => if let Some(id) = subs.get(sub) { let _ = app.set_recurring(&actor, id, on).await; },
                    Op::Assign { user, product } => {
                        let new_holder = !holds(&app, &actor, &users[user], sku(product)).await;
                        let ok = app.assign_license(&actor, &users[user], vec![LicenseSpec { sku_id: sku(product), disabled_plans: vec![] }], vec![]).await.is_ok();
                        assign_ok = (ok && new_holder).then(|| sku(product));
                    }
                    Op::Unassign { user, product } => { let _ = app.assign_license(&actor, &users[user], vec![], vec![sku(product)]).await; }
                    Op::AssignBatch { users: list, by_id, product } => {
                        let mut new_holder = false;
                        for u in &list {
                            new_holder |= !holds(&app, &actor, &users[*u], sku(product)).await;
                        }
                        let r = app.assign_product(&actor, sku(product), &names(&list, by_id), &[]).await;
                        let mut distinct = list.clone();
                        distinct.sort();
                        distinct.dedup();
                        if distinct.len() < list.len() {
                            assert!(r.is_err(), "a batch naming a user twice is refused");
                        }
                        assign_ok = (r.is_ok() && new_holder).then(|| sku(product));
                    }
                    Op::UnassignBatch { users: list, by_id, product } => {
                        let _ = app.unassign_product(&actor, sku(product), &names(&list, by_id)).await;
                    }
                    Op::UnassignAll { users: list, by_id } => {
                        let _ = app.bulk(&actor, seatkeeper_app::licenses::BulkMode::UnassignAll, &names(&list, by_id), vec![]).await;
                    }
                    Op::Days(d) => {
                        app.clock.set(app.now() + chrono::Duration::days(d));
                        app.run_jobs().await.expect("jobs");
                    }
                    Op::Join { user, group } => {
                        if !deleted[user] {
                            let _ = app.add_group_member(&actor, &groups[group], &ids[user]).await;
                        }
                    }
                    Op::Leave { user, group } => {
                        if !deleted[user] {
                            let _ = app.remove_group_member(&actor, &groups[group], &ids[user]).await;
                        }
                    }
                    Op::GroupAssign { group, product, plan_off } => {
                        let catalog = app.catalog();
                        let p = catalog.product(sku(product)).expect("product");
                        let off = if plan_off { vec![p.plans[0]] } else { vec![] };
                        if app.assign_group_license(&actor, &groups[group], vec![LicenseSpec { sku_id: sku(product), disabled_plans: off }], vec![]).await.is_ok() {
                            app.run_license_jobs().await.expect("license jobs");
                        }
                    }
                    Op::GroupRemove { group, product } => {
                        if app.assign_group_license(&actor, &groups[group], vec![], vec![sku(product)]).await.is_ok() {
                            app.run_license_jobs().await.expect("license jobs");
                        }
                    }
                    Op::DeleteUser { user } => {
                        if !deleted[user] && app.delete_user(&actor, &ids[user]).await.is_ok() {
                            deleted[user] = true;
                        }
                    }
                }
                check(&app, &actor, assign_ok).await;
                check_sources(&app, &actor).await;
            }
            app.db.close().await;
            let _ = std::fs::remove_dir_all(&dir);
        });
    }
}
