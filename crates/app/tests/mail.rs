//! The outbox over real SMTP: a notice written by a lifecycle step is delivered once to a real
//! SMTP listener on 127.0.0.1; while the server is down it is retried with back-off, never lost.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use seatkeeper_app::mail::{MailConfig, SmtpSecurity, Transport};
use seatkeeper_app::{Actor, App, Config};
use seatkeeper_domain::lifecycle::BillingFrequency;
use seatkeeper_domain::roles::Role;
use seatkeeper_store::{Db, outbox};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Messages received: (recipients, data).
type Inbox = Arc<Mutex<Vec<(Vec<String>, String)>>>;

/// A small SMTP server: accepts every message and keeps it.
async fn smtp_server(listener: TcpListener, inbox: Inbox) {
    slow_smtp_server(listener, inbox, None).await
}

/// Holds the first message's end of DATA: says so on `.0`, then answers only when `.1` is
/// notified — a slow mail server.
type Hold = (Arc<Notify>, Arc<Notify>);

async fn slow_smtp_server(listener: TcpListener, inbox: Inbox, hold: Option<Hold>) {
    let first = Arc::new(AtomicBool::new(true));
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            return;
        };
        let inbox = inbox.clone();
        let hold = hold.clone();
        let first = first.clone();
        tokio::spawn(async move {
            let (r, mut w) = sock.into_split();
            let mut lines = BufReader::new(r).lines();
            let _ = w.write_all(b"220 test ESMTP\r\n").await;
            let mut rcpt = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                let upper = line.to_ascii_uppercase();
                let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                    b"250 test\r\n"
                } else if upper.starts_with("RCPT TO:") {
                    rcpt.push(line[8..].trim().trim_matches(['<', '>']).to_string());
                    b"250 OK\r\n"
                } else if upper.starts_with("DATA") {
                    let _ = w.write_all(b"354 go ahead\r\n").await;
                    let mut data = String::new();
                    while let Ok(Some(l)) = lines.next_line().await {
                        if l == "." {
                            break;
                        }
                        data.push_str(&l);
                        data.push('\n');
                    }
                    if let Some((received, release)) = &hold
                        && first.swap(false, Ordering::SeqCst)
                    {
                        received.notify_one();
                        release.notified().await;
                    }
                    if let Ok(mut i) = inbox.lock() {
                        i.push((std::mem::take(&mut rcpt), data));
                    }
                    b"250 queued\r\n"
                } else if upper.starts_with("QUIT") {
                    let _ = w.write_all(b"221 bye\r\n").await;
                    return;
                } else {
                    b"250 OK\r\n"
                };
                let _ = w.write_all(reply).await;
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_notice_reaches_global_and_billing_admins_once_with_retries() {
    // Reserve a port, then leave it closed so the first attempt fails.
    let probe = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = probe.local_addr().expect("addr").port();
    drop(probe);

    let dir =
        std::env::temp_dir().join(format!("seatkeeper-mail-{}", uuid::Uuid::new_v4().simple()));
    let db = Db::open_dir(&dir).await.expect("db");
    let mail = MailConfig {
        from: "seatkeeper@test.example".into(),
        transport: Transport::Smtp {
            host: "127.0.0.1".into(),
            port,
            security: SmtpSecurity::None,
            username: None,
            password: None,
        },
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
        .create_tenant("Mailco", "admin@mail.test", Some("US"), None)
        .await
        .expect("tenant");
    let actor = Actor::operator(b.tenant_id);
    for (upn, role) in [
        ("billing@mail.test", Role::BillingAdmin),
        ("licenses@mail.test", Role::LicenseAdmin),
    ] {
        let input = seatkeeper_app::directory::UserInput {
            user_principal_name: Some(upn.into()),
            display_name: Some(upn.into()),
            ..Default::default()
        };
        app.create_user(&actor, &input).await.expect("user");
        app.set_user_roles(&actor, upn, &[role])
            .await
            .expect("roles");
    }
    let sku = app
        .catalog()
        .find_product("SUITE_BASIC")
        .expect("product")
        .sku_id;
    let s = app
        .buy(&actor, sku, 3, BillingFrequency::Monthly)
        .await
        .expect("buy");
    app.set_recurring(&actor, &s.id.to_string(), false)
        .await
        .expect("recurring off");

    // Five days before the term ends: the expiring notice is due, but SMTP is down.
    app.clock.set(s.life.term_end - chrono::Duration::days(5));
    let r = app.run_jobs().await.expect("jobs");
    assert_eq!((r.mails_sent, r.mails_failed), (0, 2), "{r:?}");
    let queued = app.list_mail(&actor, 10).await.expect("mail");
    assert_eq!(
        queued.len(),
        2,
        "one notice per Global and Billing admin, none for the License admin"
    );
    assert!(queued.iter().all(
        |m| m.status == seatkeeper_domain::kinds::OutboxStatus::Pending
            && m.attempts == 1
            && m.last_error.is_some()
    ));

    // The server comes up; a run before the back-off has passed sends nothing.
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("rebind");
    let inbox: Inbox = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(smtp_server(listener, inbox.clone()));
    let r = app.run_jobs().await.expect("jobs");
    assert_eq!(r.mails_sent, 0, "still backing off");

    app.clock.set(app.now() + chrono::Duration::minutes(2));
    let r = app.run_jobs().await.expect("jobs");
    assert_eq!(r.mails_sent, 2);
    // Running again neither sends again nor writes a second notice.
    app.clock.set(app.now() + chrono::Duration::hours(1));
    let r = app.run_jobs().await.expect("jobs");
    assert_eq!(r.mails_sent, 0);

    let got = inbox.lock().expect("inbox").clone();
    let mut to: Vec<String> = got.iter().flat_map(|(r, _)| r.clone()).collect();
    to.sort();
    assert_eq!(
        to,
        vec![
            "admin@mail.test".to_string(),
            "billing@mail.test".to_string()
        ]
    );
    for (_, data) in &got {
        assert!(data.contains("Subject: Suite Basic ends on"), "{data}");
        assert!(data.contains("recurring billing is off"), "{data}");
    }
    let sent = app.list_mail(&actor, 10).await.expect("mail");
    assert!(
        sent.iter().all(
            |m| m.status == seatkeeper_domain::kinds::OutboxStatus::Sent && m.sent_at.is_some()
        )
    );
    app.db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A database for a test: SQLite in `dir`, or a fresh database on the PostgreSQL named by
/// `SEATKEEPER_TEST_PG_URL` (None when that is not set, outside CI). Returns its URL.
async fn database_url(postgres: bool, dir: &std::path::Path) -> Option<String> {
    if !postgres {
        std::fs::create_dir_all(dir).expect("dir");
        return Some(format!(
            "sqlite://{}?mode=rwc",
            dir.join("seatkeeper.db").display()
        ));
    }
    let admin = match std::env::var("SEATKEEPER_TEST_PG_URL") {
        Ok(u) if !u.trim().is_empty() => u.trim().to_string(),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("SEATKEEPER_TEST_PG_URL must be set in CI")
        }
        _ => {
            eprintln!("skipped: SEATKEEPER_TEST_PG_URL is not set");
            return None;
        }
    };
    use seatkeeper_store::sqlx::{self, Connection};
    sqlx::any::install_default_drivers();
    let name = format!("sk_mail_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::AnyConnection::connect(&admin).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create database");
    let _ = conn.close().await;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Some(format!("{base}/{name}"))
}

async fn smtp_app(url: &str, port: u16) -> App {
    let mail = MailConfig {
        from: "seatkeeper@test.example".into(),
        transport: Transport::Smtp {
            host: "127.0.0.1".into(),
            port,
            security: SmtpSecurity::None,
            username: None,
            password: None,
        },
    };
    let db = Db::connect(url).await.expect("db");
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

/// Two servers deliver from one outbox while the mail server is slow: the first server is still
/// sending a message when the second runs its jobs minutes later; no message is sent twice.
async fn two_deliverers_with_a_slow_mail_server_send_each_message_once(postgres: bool) {
    let dir =
        std::env::temp_dir().join(format!("seatkeeper-mail-{}", uuid::Uuid::new_v4().simple()));
    let Some(url) = database_url(postgres, &dir).await else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let inbox: Inbox = Arc::new(Mutex::new(Vec::new()));
    let (received, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    tokio::spawn(slow_smtp_server(
        listener,
        inbox.clone(),
        Some((received.clone(), release.clone())),
    ));
    let a = smtp_app(&url, port).await;
    let b = smtp_app(&url, port).await;
    let t = a
        .create_tenant("Twoservers", "admin@two.test", Some("US"), None)
        .await
        .expect("tenant");
    for i in 0..3 {
        let content = seatkeeper_app::mail::Content {
            subject: format!("Notice {i}"),
            text: "text".into(),
            html: "<p>html</p>".into(),
        };
        let m = seatkeeper_app::mail::message(
            t.tenant_id,
            None,
            seatkeeper_domain::kinds::MailKind::SubscriptionExpiring,
            &format!("to{i}@two.test"),
            &content,
            a.now(),
        );
        let m = &m;
        a.transact(move |tx| Box::pin(async move { Ok(outbox::enqueue(tx, m).await?) }))
            .await
            .expect("enqueue");
    }

    let sending = tokio::spawn({
        let a = a.clone();
        async move { a.deliver_mail().await }
    });
    tokio::time::timeout(Duration::from_secs(20), received.notified())
        .await
        .expect("the first message reaches the mail server");
    // Six minutes later on both servers' clocks, the first message is still being sent.
    let later = a.now() + chrono::Duration::minutes(6);
    a.clock.set(later);
    b.clock.set(later);
    let (b_sent, b_failed) = b.deliver_mail().await.expect("second server delivers");
    release.notify_one();
    let (a_sent, a_failed) = sending.await.expect("task").expect("first server delivers");
    assert_eq!((a_failed, b_failed), (0, 0));
    assert_eq!(a_sent + b_sent, 3, "a: {a_sent}, b: {b_sent}");

    let got = inbox.lock().expect("inbox").clone();
    let mut ids: Vec<String> = got
        .iter()
        .filter_map(|(_, data)| {
            data.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
                .map(str::to_string)
        })
        .collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(n, 3, "three messages received: {ids:?}");
    assert_eq!(ids.len(), 3, "no message was sent twice");
    let actor = Actor::operator(t.tenant_id);
    let all = a.list_mail(&actor, 10).await.expect("mail");
    assert!(
        all.iter()
            .all(|m| m.status == seatkeeper_domain::kinds::OutboxStatus::Sent && m.attempts == 1),
        "{all:?}"
    );
    a.db.close().await;
    b.db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deliverers_with_a_slow_mail_server_send_each_message_once_sqlite() {
    two_deliverers_with_a_slow_mail_server_send_each_message_once(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_deliverers_with_a_slow_mail_server_send_each_message_once_postgres() {
    two_deliverers_with_a_slow_mail_server_send_each_message_once(true).await
}

/// A worker whose claim was taken over cannot mark the message sent or failed.
async fn a_stale_claim_marks_nothing(postgres: bool) {
    let dir =
        std::env::temp_dir().join(format!("seatkeeper-mail-{}", uuid::Uuid::new_v4().simple()));
    let Some(url) = database_url(postgres, &dir).await else {
        return;
    };
    let app = smtp_app(&url, 9).await;
    let t = app
        .create_tenant("Stale", "admin@stale.test", Some("US"), None)
        .await
        .expect("tenant");
    let content = seatkeeper_app::mail::Content {
        subject: "Notice".into(),
        text: "text".into(),
        html: "<p>html</p>".into(),
    };
    let now = app.now();
    let m = seatkeeper_app::mail::message(
        t.tenant_id,
        None,
        seatkeeper_domain::kinds::MailKind::SubscriptionExpiring,
        "x@stale.test",
        &content,
        now,
    );
    let id = m.id;
    let lease = chrono::Duration::seconds(60);
    let status = |app: &App| {
        let app = app.clone();
        async move {
            let all = app
                .list_mail(&Actor::operator(t.tenant_id), 10)
                .await
                .expect("mail");
            all[0].status
        }
    };
    let m = &m;
    app.transact(move |tx| {
        Box::pin(async move {
            outbox::enqueue(tx, m).await?;
            let first = outbox::claim(tx, id, "first", now, now + lease).await?;
            assert!(first.is_some());
            // Held: nobody else gets it before the lease runs out.
            assert!(
                outbox::claim(tx, id, "second", now, now + lease)
                    .await?
                    .is_none()
            );
            // The lease ran out; another worker claims it.
            let later = now + lease + chrono::Duration::seconds(1);
            assert!(
                outbox::claim(tx, id, "second", later, later + lease)
                    .await?
                    .is_some()
            );
            assert!(
                !outbox::mark_sent(tx, id, "first", later).await?,
                "the stale claim marks nothing"
            );
            assert!(!outbox::mark_failed(tx, id, "first", "boom", None).await?);
            Ok(())
        })
    })
    .await
    .expect("claims");
    assert_eq!(
        status(&app).await,
        seatkeeper_domain::kinds::OutboxStatus::Pending
    );
    let now = app.now();
    let held = app
        .transact(move |tx| {
            Box::pin(async move { Ok(outbox::mark_sent(tx, id, "second", now).await?) })
        })
        .await
        .expect("mark");
    assert!(held);
    assert_eq!(
        status(&app).await,
        seatkeeper_domain::kinds::OutboxStatus::Sent
    );
    app.db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_claim_marks_nothing_sqlite() {
    a_stale_claim_marks_nothing(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_claim_marks_nothing_postgres() {
    a_stale_claim_marks_nothing(true).await
}

/// Self-service e-mails (SS4, SS5, SUB4) arrive at a real SMTP listener: the purchaser gets the
/// take-over notice, the ask-to-cancel message with the admin's words, and the failed trial
/// conversion, each with the facts in the body.
async fn self_service_mails_reach_the_purchaser(postgres: bool) {
    use seatkeeper_app::billing::{AddressInput, CardOwner, NewCard};
    use seatkeeper_app::payments::CardInput;
    use seatkeeper_app::selfservice::TakeOver;

    let dir = std::env::temp_dir().join(format!(
        "seatkeeper-ssmail-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let Some(url) = database_url(postgres, &dir).await else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let inbox: Inbox = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(smtp_server(listener, inbox.clone()));
    let app = smtp_app(&url, port).await;
    let b = app
        .create_tenant("Selfco", "admin@self.test", Some("US"), Some("USD"))
        .await
        .expect("tenant");
    let op = Actor::operator(b.tenant_id);
    let mut buyers = Vec::new();
    for upn in ["buyer@self.test", "trier@self.test"] {
        let input = seatkeeper_app::directory::UserInput {
            user_principal_name: Some(upn.into()),
            display_name: Some(upn.into()),
            usage_location: Some(Some("US".into())),
            ..Default::default()
        };
        let u = app.create_user(&op, &input).await.expect("user");
        buyers.push(Actor {
            tenant_id: b.tenant_id,
            user_id: Some(u.id),
            name: upn.into(),
            roles: vec![],
            partner: None,
        });
    }
    let card = |number: &str| NewCard {
        card: CardInput {
            number: number.into(),
            expiry_month: 12,
            expiry_year: 2099,
            security_code: "123".into(),
            name_on_card: "Buyer".into(),
        },
        billing_address: AddressInput {
            line1: Some("1 Main St".into()),
            city: Some("Springfield".into()),
            postal_code: Some("12345".into()),
            country: Some("US".into()),
        },
    };
    let catalog = app.catalog();
    let sku = |part: &str| catalog.find_product(part).expect("product").sku_id;
    let good = app
        .add_payment_method(&buyers[0], CardOwner::Me, &card("4242424242424242"))
        .await
        .expect("card");
    let bad = app
        .add_payment_method(&buyers[1], CardOwner::Me, &card("4000000000000341"))
        .await
        .expect("card");
    let s = app
        .purchase(
            &buyers[0],
            sku("MAIL_PLAN1"),
            2,
            BillingFrequency::Monthly,
            seatkeeper_domain::PaymentMethodId::parse(&good.id.to_string()),
            &[],
            None,
        )
        .await
        .expect("purchase");
    app.buy(&op, sku("MAIL_PLAN1"), 5, BillingFrequency::Monthly)
        .await
        .expect("central");
    app.ask_to_cancel(&op, &s.id.to_string(), Some("Central licenses are here."))
        .await
        .expect("ask");
    app.take_over(
        &op,
        &s.id.to_string(),
        TakeOver::Move {
            target: sku("MAIL_PLAN1"),
        },
    )
    .await
    .expect("take over");
    app.start_trial(
        &buyers[1],
        sku("SUITE_STANDARD"),
        Some(seatkeeper_domain::PaymentMethodId::parse(&bad.id.to_string()).expect("id")),
        &[],
    )
    .await
    .expect("trial");
    app.set_dev_clock(&op, app.now() + chrono::Duration::days(31))
        .await
        .expect("clock");
    app.run_jobs().await.expect("jobs");

    let got = inbox.lock().expect("inbox").clone();
    let find = |to: &str, subject: &str| {
        got.iter()
            .find(|(rcpt, data)| rcpt.iter().any(|r| r == to) && data.contains(subject))
            .map(|(_, d)| d.replace("=\n", ""))
            .unwrap_or_else(|| panic!("no mail to {to} with '{subject}' in {got:?}"))
    };
    let ask = find(
        "buyer@self.test",
        "Please cancel your Mail (Plan 1) subscription",
    );
    assert!(ask.contains("Central licenses are here."), "{ask}");
    assert!(ask.contains("2 licenses"), "{ask}");
    let taken = find("buyer@self.test", "was taken over by your organization");
    assert!(
        taken.contains("moved the 1 users") || taken.contains("moved the 1 user"),
        "{taken}"
    );
    assert!(taken.contains("MAIL_PLAN1"), "{taken}");
    let failed = find("trier@self.test", "the payment failed");
    assert!(failed.contains("declined"), "{failed}");
    assert!(failed.contains("Suite Standard"), "{failed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_service_mails_reach_the_purchaser_sqlite() {
    self_service_mails_reach_the_purchaser(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_service_mails_reach_the_purchaser_postgres() {
    self_service_mails_reach_the_purchaser(true).await
}

/// A self-service subscription's lifecycle notices reach its purchaser at the SMTP listener
/// (the product, the dates), and the admins get none of them.
async fn lifecycle_mails_reach_the_purchaser(postgres: bool) {
    use seatkeeper_app::billing::{AddressInput, CardOwner, NewCard};
    use seatkeeper_app::payments::CardInput;

    let dir = std::env::temp_dir().join(format!(
        "seatkeeper-lifemail-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let Some(url) = database_url(postgres, &dir).await else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let inbox: Inbox = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(smtp_server(listener, inbox.clone()));
    let app = smtp_app(&url, port).await;
    let b = app
        .create_tenant("Lifeco", "admin@life.test", Some("US"), Some("USD"))
        .await
        .expect("tenant");
    let op = Actor::operator(b.tenant_id);
    let input = seatkeeper_app::directory::UserInput {
        user_principal_name: Some("buyer@life.test".into()),
        display_name: Some("Life Buyer".into()),
        usage_location: Some(Some("US".into())),
        ..Default::default()
    };
    let u = app.create_user(&op, &input).await.expect("user");
    let buyer = Actor {
        tenant_id: b.tenant_id,
        user_id: Some(u.id),
        name: "buyer@life.test".into(),
        roles: vec![],
        partner: None,
    };
    let card = app
        .add_payment_method(
            &buyer,
            CardOwner::Me,
            &NewCard {
                card: CardInput {
                    number: "4242424242424242".into(),
                    expiry_month: 12,
                    expiry_year: 2099,
                    security_code: "123".into(),
                    name_on_card: "Life Buyer".into(),
                },
                billing_address: AddressInput {
                    line1: Some("1 Main St".into()),
                    city: Some("Springfield".into()),
                    postal_code: Some("12345".into()),
                    country: Some("US".into()),
                },
            },
        )
        .await
        .expect("card");
    let sku = app
        .catalog()
        .find_product("MAIL_PLAN1")
        .expect("product")
        .sku_id;
    let s = app
        .purchase(
            &buyer,
            sku,
            2,
            BillingFrequency::Monthly,
            seatkeeper_domain::PaymentMethodId::parse(&card.id.to_string()),
            &[],
            None,
        )
        .await
        .expect("purchase");
    let s = app
        .set_recurring(&buyer, &s.id.to_string(), false)
        .await
        .expect("recurring off");
    let end = s.life.term_end;
    let day = end.format("%Y-%m-%d").to_string();
    let until = (end + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    app.set_dev_clock(&op, end - chrono::Duration::days(5))
        .await
        .expect("clock");
    app.run_jobs().await.expect("jobs");
    app.set_dev_clock(&op, end + chrono::Duration::hours(1))
        .await
        .expect("clock");
    app.run_jobs().await.expect("jobs");

    let got = inbox.lock().expect("inbox").clone();
    assert!(
        got.iter()
            .all(|(rcpt, _)| rcpt.iter().all(|r| r == "buyer@life.test")),
        "only the purchaser is told: {got:?}"
    );
    let find = |subject: &str| {
        got.iter()
            .find(|(_, data)| data.contains(subject))
            .map(|(_, d)| d.replace("=\n", ""))
            .unwrap_or_else(|| panic!("no mail with '{subject}' in {got:?}"))
    };
    let soon = find(&format!("Your Mail (Plan 1) subscription ends on {day}"));
    assert!(
        soon.contains("2 licenses of Mail (Plan 1)") && soon.contains(&until),
        "{soon}"
    );
    let ended = find(&format!("Your Mail (Plan 1) subscription ended on {day}"));
    assert!(
        ended.contains("Mail (Plan 1)") && ended.contains(&until),
        "{ended}"
    );
    assert_eq!(got.len(), 2, "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_mails_reach_the_purchaser_sqlite() {
    lifecycle_mails_reach_the_purchaser(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_mails_reach_the_purchaser_postgres() {
    lifecycle_mails_reach_the_purchaser(true).await
}

/// A trial that converts to paid tells its purchaser at the SMTP listener: that it is now a
/// paid subscription, the quantity, the price per license per month in the currency and the
/// card by brand and last four only.
async fn a_converted_trial_mails_the_purchaser_what_was_charged(postgres: bool) {
    use seatkeeper_app::billing::{AddressInput, CardOwner, NewCard};
    use seatkeeper_app::payments::CardInput;

    let dir = std::env::temp_dir().join(format!(
        "seatkeeper-convertmail-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let Some(url) = database_url(postgres, &dir).await else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let inbox: Inbox = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(smtp_server(listener, inbox.clone()));
    let app = smtp_app(&url, port).await;
    let b = app
        .create_tenant("Convertco", "admin@convert.test", Some("US"), Some("USD"))
        .await
        .expect("tenant");
    let op = Actor::operator(b.tenant_id);
    let input = seatkeeper_app::directory::UserInput {
        user_principal_name: Some("trier@convert.test".into()),
        display_name: Some("Tria Buyer".into()),
        usage_location: Some(Some("US".into())),
        ..Default::default()
    };
    let u = app.create_user(&op, &input).await.expect("user");
    let buyer = Actor {
        tenant_id: b.tenant_id,
        user_id: Some(u.id),
        name: "trier@convert.test".into(),
        roles: vec![],
        partner: None,
    };
    let card = app
        .add_payment_method(
            &buyer,
            CardOwner::Me,
            &NewCard {
                card: CardInput {
                    number: "5555555555554444".into(),
                    expiry_month: 12,
                    expiry_year: 2099,
                    security_code: "123".into(),
                    name_on_card: "Tria Buyer".into(),
                },
                billing_address: AddressInput {
                    line1: Some("1 Main St".into()),
                    city: Some("Springfield".into()),
                    postal_code: Some("12345".into()),
                    country: Some("US".into()),
                },
            },
        )
        .await
        .expect("card");
    let product = app
        .catalog()
        .find_product("SUITE_STANDARD")
        .expect("product")
        .clone();
    let trial = app
        .start_trial(
            &buyer,
            product.sku_id,
            Some(seatkeeper_domain::PaymentMethodId::parse(&card.id.to_string()).expect("id")),
            &[],
        )
        .await
        .expect("trial");
    app.set_dev_clock(&op, trial.life.term_end + chrono::Duration::hours(1))
        .await
        .expect("clock");
    app.run_jobs().await.expect("jobs");
    let s = app
        .get_subscription(&op, &trial.id.to_string())
        .await
        .expect("subscription");
    assert!(!s.is_trial, "{s:?}");
    let unit = s.price.clone().expect("a price");
    let price = format!("{}.{:02} USD", unit.minor / 100, unit.minor % 100);

    let got = inbox.lock().expect("inbox").clone();
    let mail = got
        .iter()
        .find(|(_, d)| d.contains("trial is now a paid subscription"))
        .map(|(rcpt, d)| (rcpt.clone(), d.replace("=\r\n", "").replace("=\n", "")))
        .unwrap_or_else(|| panic!("no conversion mail in {got:?}"));
    assert_eq!(mail.0, vec!["trier@convert.test".to_string()]);
    let body = mail.1;
    assert!(
        body.contains(&format!(
            "Your {} trial is now a paid subscription",
            product.name
        )),
        "{body}"
    );
    assert!(body.contains("Quantity: 1 license."), "{body}");
    assert!(
        body.contains(&format!("{price} per license per month")),
        "{price}: {body}"
    );
    assert!(body.contains("Mastercard card ending 4444"), "{body}");
    assert!(
        !body.contains("5555555555554444") && !body.contains("555555"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_converted_trial_mails_the_purchaser_what_was_charged_sqlite() {
    a_converted_trial_mails_the_purchaser_what_was_charged(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_converted_trial_mails_the_purchaser_what_was_charged_postgres() {
    a_converted_trial_mails_the_purchaser_what_was_charged(true).await
}
