//! The Groups and Audit log pages page through long lists, 50 at a time; Settings shows the sent
//! mail to Global admins only.

use crate::common::*;
use reqwest::StatusCode;

async fn page(srv: &Srv, path: &str) -> String {
    let resp = reqwest::Client::new()
        .get(format!("{}{path}", srv.url))
        .header(
            "cookie",
            format!("sk_session={}", srv.admin_session().await),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.text().await.unwrap()
}

/// The href of the "Next page" link, unescaped.
fn next_link(html: &str) -> Option<String> {
    let end = html.find("\">Next page</a>")?;
    let start = html[..end].rfind("href=\"")? + 6;
    Some(html[start..end].replace("&#38;", "&").replace("&amp;", "&"))
}

backends!(groups_and_audit_pages_show_50_a_page, |srv| async move {
    for i in 0..60 {
        srv.app
            .create_group(&srv.operator(), &format!("Paged group {i:02}"), None, None)
            .await
            .unwrap();
    }
    let first = page(&srv, "/groups").await;
    assert!(first.contains("60 groups in the organization."));
    assert_eq!(first.matches("<td><a href=\"/groups/").count(), 50);
    let next = next_link(&first).expect("a next page");
    let second = page(&srv, &next).await;
    assert_eq!(second.matches("<td><a href=\"/groups/").count(), 10);
    assert!(next_link(&second).is_none());

    let first = page(&srv, "/audit?action=group.create").await;
    assert_eq!(first.matches("<td class=\"nowrap head\">").count(), 50);
    assert!(first.contains("Paged group 59"), "newest first");
    let next = next_link(&first).expect("a next page");
    assert!(next.contains("action=group.create"), "{next}");
    let second = page(&srv, &next).await;
    assert_eq!(second.matches("<td class=\"nowrap head\">").count(), 10);
    assert!(second.contains("Paged group 00"));
    assert!(next_link(&second).is_none());
});

backends!(
    settings_shows_sent_mail_to_global_admins_only,
    |srv| async move {
        let sub = srv.buy("SUITE_STANDARD", 2).await;
        let s = srv
            .app
            .set_recurring(&srv.operator(), &sub, false)
            .await
            .unwrap();
        // Three days before the term ends without renewal: the expiring notice is written.
        crate::rest_helpers::set_clock(&srv, s.life.term_end - chrono::Duration::days(3)).await;
        crate::rest_helpers::run_jobs(&srv).await;
        let (_, mail) = srv.get("/api/v1/mail").await;
        let to = mail["value"][0]["to"]
            .as_str()
            .expect("a message")
            .to_string();

        let html = page(&srv, "/settings").await;
        assert!(html.contains("Sent mail"));
        assert!(html.contains(&format!("<td>{to}</td>")), "{html}");
        assert!(
            html.contains(">Sent<") || html.contains(">Waiting<") || html.contains(">Retrying<")
        );

        // A Global reader gets no sent mail (the page leaves the section out when the use case
        // refuses).
        let reader = srv
            .token_with_roles(
                "reader-settings@contoso.test",
                &[seatkeeper_domain::roles::Role::GlobalReader],
            )
            .await;
        let got = srv.call_as(&reader, "GET", "/api/v1/mail", None).await;
        assert_eq!(got.0, StatusCode::FORBIDDEN);
    }
);

backends!(
    audit_filters_match_the_start_of_the_actor_and_a_target_by_name,
    |srv| async move {
        let uid = srv.user("filter.target@contoso.test", Some("US")).await;
        let (st, u) = srv
            .patch(
                &format!("/v1.0/users/{uid}"),
                serde_json::json!({"displayName": "Filter Target"}),
            )
            .await;
        assert!(st.is_success(), "{u}");
        let gid = srv
            .app
            .create_group(&srv.operator(), "Filter Group", None, None)
            .await
            .unwrap()
            .id;
        let rest = |q: &'static str| {
            let srv = &srv;
            async move {
                let (st, v) = srv.get(&format!("/api/v1/audit?{q}")).await;
                assert_eq!(st, StatusCode::OK, "{q}: {v}");
                v["value"].as_array().cloned().unwrap_or_default()
            }
        };
        // The actor: the start of what the log shows, ignoring case.
        let by_admin = rest("actor=ADMIN&action=user.update").await;
        assert_eq!(by_admin.len(), 1, "{by_admin:?}");
        assert_eq!(by_admin[0]["targetId"], uid.to_string());
        for q in [
            "actor=operator&action=group.create",
            "actor=Oper&action=group.create",
        ] {
            let got = rest(q).await;
            assert_eq!(got.len(), 1, "{q}: {got:?}");
            assert_eq!(got[0]["actor"], "operator (cli)");
        }
        assert!(
            rest("actor=min&action=user.update").await.is_empty(),
            "a start, not a part"
        );
        // The target: an id, a user name, a display name, or a group's name.
        for q in [
            "targetId=filter.target@contoso.test",
            "targetId=FILTER%20TARGET",
        ] {
            let got = rest(q).await;
            assert_eq!(got.len(), 2, "create and rename, {q}: {got:?}");
            assert!(
                got.iter().all(|e| e["targetId"] == uid.to_string()),
                "{got:?}"
            );
        }
        let got = rest("targetId=Filter%20Group").await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0]["targetId"], gid.to_string());
        assert!(
            rest("targetId=Filter").await.is_empty(),
            "a whole name, not a start"
        );
        // The page agrees, and says what each filter matches.
        let html = page(&srv, "/audit?actor=admin&target=Filter+Target").await;
        assert_eq!(
            html.matches("<td class=\"nowrap head\">").count(),
            1,
            "{html}"
        );
        assert!(html.contains("user.update"));
        assert!(html.contains("The start of a user name, operator or system."));
        assert!(html.contains("A user name, display name, group name or id."));
        let html = page(&srv, "/audit?actor=operator&target=filter+group").await;
        assert_eq!(
            html.matches("<td class=\"nowrap head\">").count(),
            1,
            "{html}"
        );
        assert!(html.contains("group.create"));
    }
);
