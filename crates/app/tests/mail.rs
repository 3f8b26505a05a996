//! The outbox over real SMTP: a notice written by a lifecycle step is delivered once to a real
//! SMTP listener on 127.0.0.1; while the server is down it is retried with back-off, never lost.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use seatkeeper_app::mail::{MailConfig, SmtpSecurity, Transport};
use seatkeeper_app::{Actor, App, Config};
use seatkeeper_domain::lifecycle::BillingFrequency;
use seatkeeper_domain::roles::Role;
use seatkeeper_store::Db;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Messages received: (recipients, data).
type Inbox = Arc<Mutex<Vec<(Vec<String>, String)>>>;

/// A small SMTP server: accepts every message and keeps it.
async fn smtp_server(listener: TcpListener, inbox: Inbox) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            return;
        };
        let inbox = inbox.clone();
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
    assert!(
        queued
            .iter()
            .all(|m| m.status == "pending" && m.attempts == 1 && m.last_error.is_some())
    );

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
        sent.iter()
            .all(|m| m.status == "sent" && m.sent_at.is_some())
    );
    app.db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
