//! What the pages say when what they act on is gone or has nothing to give: a user or group
//! another tab deleted is named in the admin center's words (404, a link back to its list); a
//! product whose subscriptions are cancelled is not offered for assigning and Home lists it
//! once; the Active users page counts at most 1,000 users; a new API token's page can be
//! reloaded without creating another.

use crate::common::*;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn get(srv: &Srv, cookie: &str, path: &str) -> (StatusCode, String) {
    let r = browser()
        .get(format!("{}{path}", srv.url))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("get");
    (r.status(), r.text().await.expect("text"))
}

async fn post(srv: &Srv, cookie: &str, path: &str, body: String) -> reqwest::Response {
    browser()
        .post(format!("{}{path}", srv.url))
        .header(COOKIE, cookie)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("post")
}

fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').expect("end")].to_string()
}

backends!(
    a_deleted_user_or_group_is_named_in_our_words,
    |srv| async move {
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let (_, u) = srv
        .post(
            "/v1.0/users",
            serde_json::json!({"displayName": "Adele Vance", "userPrincipalName": "adele@contoso.test",
                "accountEnabled": true, "mailNickname": "adele", "usageLocation": "US"}),
        )
        .await;
        let id = u["id"].as_str().expect("id").to_string();
        let (status, page) = get(&srv, &cookie, &format!("/users/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        let token = csrf(&page);
        // Another tab deletes her; this one saves her usage location.
        assert_eq!(
            srv.delete(&format!("/v1.0/users/{id}")).await.0,
            StatusCode::NO_CONTENT
        );
        let r = post(
            &srv,
            &cookie,
            &format!("/users/{id}/location"),
            format!("csrf={token}&usage_location=NO"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let text = r.text().await.expect("text");
        assert!(
            text.contains("Adele Vance was deleted; nothing was saved."),
            "{text}"
        );
        assert!(
            text.contains("href=\"/users\">Back to Active users</a>"),
            "{text}"
        );
        assert!(!text.contains("does not exist or one of its"), "{text}");
        // Her page itself, opened again.
        let (status, text) = get(&srv, &cookie, &format!("/users/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(text.contains("Adele Vance was deleted."), "{text}");

        // A group deleted in another tab while a member is added.
        let g = srv
            .app
            .create_group(&srv.operator(), "Sales team", None, None)
            .await
            .expect("group");
        let member = srv.user("member@contoso.test", Some("US")).await;
        srv.app
            .delete_group(&srv.operator(), &g.id.to_string())
            .await
            .expect("delete group");
        let r = post(
            &srv,
            &cookie,
            &format!("/groups/{}/members", g.id),
            format!("csrf={token}&user={member}"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let text = r.text().await.expect("text");
        assert!(
            text.contains("Sales team was deleted; nothing was saved."),
            "{text}"
        );
        assert!(
            text.contains("href=\"/groups\">Back to Groups</a>"),
            "{text}"
        );
    }
);

backends!(
    a_product_without_licenses_to_give_is_not_offered,
    |srv| async move {
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let live = srv.buy("SUITE_BASIC", 5).await;
        let gone = srv.buy("MAIL_PLAN1", 3).await;
        let _ = live;
        srv.app
            .cancel(&srv.operator(), &gone, "NoLongerNeeded", None)
            .await
            .expect("cancel in the window");
        let mail = srv.sku("MAIL_PLAN1");
        let suite = srv.sku("SUITE_BASIC");
        let mail_name = srv
            .app
            .catalog()
            .product(mail)
            .expect("product")
            .name
            .clone();

        // Add a user, Manage product licenses and a user's Licenses and apps offer the live one only.
        let someone = srv.user("someone@contoso.test", Some("US")).await;
        for path in [
            "/users/new".to_string(),
            format!("/users/manage?user={someone}"),
            format!("/users/{someone}"),
        ] {
            let (status, html) = get(&srv, &cookie, &path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(
                html.contains(&format!("value=\"{suite}\"")),
                "{path}: {html}"
            );
            assert!(
                !html.contains(&format!("value=\"{mail}\"")),
                "{path} offers the cancelled product"
            );
        }
        // Its Licenses page has no Assign licenses button, and the form says why.
        let (_, html) = get(&srv, &cookie, &format!("/licenses/{mail}")).await;
        assert!(
            !html.contains(&format!("href=\"/licenses/{mail}/assign\"")),
            "{html}"
        );
        assert!(html.contains("No licenses to assign"), "{html}");
        let (status, html) = get(&srv, &cookie, &format!("/licenses/{mail}/assign")).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(html.contains("has no licenses to assign"), "{html}");
        let (_, html) = get(&srv, &cookie, &format!("/licenses/{suite}")).await;
        assert!(html.contains(&format!("href=\"/licenses/{suite}/assign\"")));

        // Home names the cancelled product once among what needs attention.
        let (_, home) = get(&srv, &cookie, "/").await;
        let attention = &home[home.find("id=\"attention-h\"").expect("attention")
            ..home.find("id=\"glance-h\"").expect("glance")];
        assert_eq!(
            attention.matches(mail_name.as_str()).count(),
            1,
            "{attention}"
        );
    }
);

backends!(active_users_counts_at_most_a_thousand, |srv| async move {
    let cookie = format!("sk_session={}", srv.admin_session().await);
    let (_, html) = get(&srv, &cookie, "/users").await;
    assert!(html.contains(" in the organization."), "{html}");
    assert!(!html.contains("More than"), "{html}");
    let actor = srv.operator();
    for i in 0..1000 {
        srv.app
            .create_user(
                &actor,
                &seatkeeper_app::directory::UserInput {
                    display_name: Some(format!("Counted {i:04}")),
                    user_principal_name: Some(format!("counted{i}@contoso.test")),
                    ..Default::default()
                },
            )
            .await
            .expect("user");
    }
    let (_, html) = get(&srv, &cookie, "/users").await;
    assert!(
        html.contains("More than 1,000 users in the organization."),
        "{html}"
    );
});

backends!(
    reloading_after_creating_a_token_creates_nothing,
    |srv| async move {
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let (_, html) = get(&srv, &cookie, "/settings").await;
        let token = csrf(&html);
        let before = html.matches("aria-label=\"Revoke ").count();
        let r = post(
            &srv,
            &cookie,
            "/settings/tokens",
            format!("csrf={token}&name=deploy"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "post, redirect, get");
        assert_eq!(r.headers()[LOCATION], "/settings");
        let flash = r
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("sk_new_token="))
            .expect("the new token travels to the page")
            .split(';')
            .next()
            .expect("pair")
            .to_string();
        let with_flash = format!("{cookie}; {flash}");
        let r = browser()
            .get(format!("{}/settings", srv.url))
            .header(COOKIE, &with_flash)
            .send()
            .await
            .expect("get");
        assert!(
            r.headers()
                .get_all(SET_COOKIE)
                .iter()
                .any(|v| v.to_str().unwrap_or("").starts_with("sk_new_token=;")),
            "cleared after showing"
        );
        assert_eq!(r.headers()["cache-control"], "no-store");
        let html = r.text().await.expect("text");
        assert!(
            html.contains("Token 'deploy' was created. Copy it now"),
            "{html}"
        );
        assert_eq!(html.matches("aria-label=\"Revoke ").count(), before + 1);
        // The reload (the flash cookie is gone): no secret, no new token.
        let (_, html) = get(&srv, &cookie, "/settings").await;
        assert!(!html.contains("Copy it now"));
        assert_eq!(html.matches("aria-label=\"Revoke ").count(), before + 1);
    }
);

/// The value the response sets for cookie `name`, if it sets it.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
}

async fn opened(srv: &Srv, cookie: &str, path: &str) -> reqwest::Response {
    browser()
        .get(format!("{}{path}", srv.url))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("get")
}

backends!(
    the_sign_in_page_says_why_the_session_ended,
    |srv| async move {
        // Signed out in another tab: this tab's next post lands on the sign-in page, which
        // says so.
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let (_, page) = get(&srv, &cookie, "/products").await;
        let token = csrf(&page);
        let r = post(&srv, &cookie, "/sign-out", format!("csrf={token}")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let marker = set_cookie(&r, "sk_ended").expect("a reason");
        let cookie = format!("sk_ended={marker}");
        let r = post(&srv, &cookie, "/users/new", format!("csrf={token}")).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(
            r.headers()[LOCATION]
                .to_str()
                .unwrap()
                .starts_with("/sign-in")
        );
        let (_, text) = get(&srv, &cookie, "/sign-in").await;
        assert!(
            text.contains("You were signed out. Sign in again to continue."),
            "{text}"
        );
        // A first visit says nothing.
        let r = opened(&srv, "", "/products").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(set_cookie(&r, "sk_ended"), None);
        let (_, text) = get(&srv, "", "/sign-in").await;
        assert!(!text.contains("sign-in-ended"), "{text}");
        // A session the server does not know: no more than that it has ended.
        let r = opened(&srv, "sk_session=sks_unknown", "/products").await;
        let cookie = format!("sk_ended={}", set_cookie(&r, "sk_ended").expect("a reason"));
        let (_, text) = get(&srv, &cookie, "/sign-in").await;
        assert!(
            text.contains("Your session has ended. Sign in again to continue."),
            "{text}"
        );
        // A disabled account: disabling ends its sessions, so the server no longer knows whose
        // the cookie was and says no more than that the session has ended.
        let (_, u) = srv
            .post(
                "/v1.0/users",
                serde_json::json!({"displayName": "Dora", "userPrincipalName": "dora@contoso.test",
                    "accountEnabled": true, "mailNickname": "dora", "usageLocation": "US"}),
            )
            .await;
        let id = u["id"].as_str().expect("id").to_string();
        srv.app
            .set_password(&srv.operator(), &id, "Dora-password-1", false)
            .await
            .unwrap();
        let secret = srv
            .app
            .sign_in(
                "dora@contoso.test",
                "Dora-password-1",
                None,
                &Default::default(),
            )
            .await
            .unwrap()
            .secret;
        let dora = format!("sk_session={secret}");
        assert_eq!(get(&srv, &dora, "/").await.0, StatusCode::OK);
        srv.patch(
            &format!("/v1.0/users/{id}"),
            serde_json::json!({"accountEnabled": false}),
        )
        .await;
        let r = opened(&srv, &dora, "/").await;
        let cookie = format!("sk_ended={}", set_cookie(&r, "sk_ended").expect("a reason"));
        let (_, text) = get(&srv, &cookie, "/sign-in").await;
        assert!(
            text.contains("Your session has ended. Sign in again to continue."),
            "{text}"
        );
        assert!(!text.contains("dora"), "{text}");
        // Eight hours without activity.
        let cookie = format!("sk_session={}", srv.admin_session().await);
        assert!(
            srv.app
                .clock
                .set(srv.app.now() + chrono::Duration::minutes(8 * 60 + 1))
        );
        let r = opened(&srv, &cookie, "/products").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let cookie = format!("sk_ended={}", set_cookie(&r, "sk_ended").expect("a reason"));
        let (_, text) = get(&srv, &cookie, "/sign-in").await;
        assert!(
            text.contains("Your session expired after 8 hours without activity."),
            "{text}"
        );
    }
);

backends!(
    a_second_tab_confirming_a_cancel_hears_it_is_already_cancelled,
    |srv| async move {
        let sub = srv.buy("SUITE_STANDARD", 2).await;
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let (_, page) = get(&srv, &cookie, &format!("/products/{sub}")).await;
        let token = csrf(&page);
        let body = format!("csrf={token}&reason=NoLongerNeeded&confirmed=yes");
        let first = post(
            &srv,
            &cookie,
            &format!("/products/{sub}/cancel"),
            body.clone(),
        )
        .await;
        assert_eq!(first.status(), StatusCode::SEE_OTHER);
        let second = post(&srv, &cookie, &format!("/products/{sub}/cancel"), body).await;
        assert_eq!(second.status(), StatusCode::SEE_OTHER);
        let notice = set_cookie(&second, "sk_notice").expect("a notice");
        let (_, text) = get(
            &srv,
            &format!("{cookie}; sk_notice={notice}"),
            &format!("/products/{sub}"),
        )
        .await;
        assert!(
            text.contains(
                "is already cancelled (in another tab or by another admin): nothing changed."
            ),
            "{text}"
        );
    }
);
