//! The Active users pages' forms: a post without the session's CSRF token is refused (403) and
//! changes nothing; the same post with the token works.

use crate::common::*;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE};
use serde_json::json;

/// A browser-like client that does not follow redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The CSRF token the page's forms carry.
async fn csrf_of(srv: &Srv, c: &reqwest::Client, cookie: &str, path: &str) -> String {
    let html = c
        .get(format!("{}{path}", srv.url))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("get page")
        .text()
        .await
        .expect("page text");
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("the form has a csrf field");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').expect("end of value")].to_string()
}

async fn exists(srv: &Srv, upn: &str) -> bool {
    srv.get(&format!("/v1.0/users/{upn}")).await.0 == StatusCode::OK
}

backends!(users_forms_refuse_a_post_without_csrf, |srv| async move {
    let c = browser();
    let cookie = format!("sk_session={}", srv.admin_session().await);
    let form = |extra: &str| {
        format!("display_name=Forged&user_name=forged%40contoso.test&usage_location=US{extra}")
    };
    let post = |path: &str, body: String| {
        c.post(format!("{}{path}", srv.url))
            .header(COOKIE, &cookie)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
    };

    // Add a user: no token, then a wrong one.
    for body in [form(""), form("&csrf=not-the-token")] {
        let r = post("/users/new", body).send().await.expect("post");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let text = r.text().await.expect("text");
        assert!(text.contains("did not come from Seatkeeper"), "{text}");
    }
    assert!(!exists(&srv, "forged@contoso.test").await);

    // Delete a user and change licenses: refused, the user and their licenses stay.
    let victim = srv.user("victim@contoso.test", Some("US")).await;
    for path in [
        format!("/users/{victim}/delete"),
        format!("/users/{victim}/location"),
    ] {
        let r = post(&path, "usage_location=NO".into())
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let (_, u) = srv.get("/v1.0/users/victim@contoso.test").await;
    assert_eq!(u["usageLocation"], "US");

    // Manage product licenses for the victim: refused.
    let r = post("/users/manage", format!("user={victim}&mode=unassignAll"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Upload users (CSV) without the token: refused, nobody imported.
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"u.csv\"\r\nContent-Type: text/csv\r\n\r\nuserPrincipalName,displayName\r\nuploaded@contoso.test,Uploaded\r\n--XyZ--\r\n";
    let r = c
        .post(format!("{}/users/import", srv.url))
        .header(COOKIE, &cookie)
        .header(CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!exists(&srv, "uploaded@contoso.test").await);

    // With the page's token the same post works: the refusals were the token's.
    let token = csrf_of(&srv, &c, &cookie, "/users/new").await;
    let r = post("/users/new", form(&format!("&csrf={token}")))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(exists(&srv, "forged@contoso.test").await);
    // Deleting asks first: the first post only shows what will happen.
    let r = post(&format!("/users/{victim}/delete"), format!("csrf={token}"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.expect("text");
    assert!(text.contains("This cannot be undone."), "{text}");
    assert!(text.contains("name=\"confirmed\" value=\"yes\""), "{text}");
    assert!(exists(&srv, "victim@contoso.test").await);
    let r = post(
        &format!("/users/{victim}/delete"),
        format!("csrf={token}&confirmed=yes"),
    )
    .send()
    .await
    .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!exists(&srv, "victim@contoso.test").await);
});

backends!(
    unassign_all_acts_only_on_the_confirming_post,
    |srv| async move {
        let c = browser();
        let cookie = format!("sk_session={}", srv.admin_session().await);
        srv.buy("SUITE_BASIC", 1).await;
        let sku = srv.sku("SUITE_BASIC");
        let held = srv.user("held@contoso.test", Some("US")).await;
        let (st, body) = srv
        .post(
            "/v1.0/users/held@contoso.test/assignLicense",
            serde_json::json!({"addLicenses": [{"skuId": sku.to_string(), "disabledPlans": []}], "removeLicenses": []}),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let token = csrf_of(&srv, &c, &cookie, "/users/new").await;
        let post = |extra: &str| {
            c.post(format!("{}/users/manage", srv.url))
                .header(COOKIE, &cookie)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(format!("csrf={token}&user={held}&mode=unassignAll{extra}"))
        };
        let r = post("").send().await.expect("post");
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().await.expect("text");
        assert!(text.contains("Remove all 1 license from"), "{text}");
        let (_, d) = srv
            .get("/v1.0/users/held@contoso.test/licenseDetails")
            .await;
        assert_eq!(d["value"].as_array().map(Vec::len), Some(1), "{d}");
        let r = post("&confirmed=yes").send().await.expect("post");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, d) = srv
            .get("/v1.0/users/held@contoso.test/licenseDetails")
            .await;
        assert_eq!(d["value"].as_array().map(Vec::len), Some(0), "{d}");
    }
);

backends!(
    add_a_user_with_a_license_is_all_or_nothing,
    |srv| async move {
        let c = browser();
        let cookie = format!("sk_session={}", srv.admin_session().await);
        srv.buy("SUITE_BASIC", 1).await;
        let sku = srv.sku("SUITE_BASIC");
        let token = csrf_of(&srv, &c, &cookie, "/users/new").await;
        let add = |upn: &str| {
            c.post(format!("{}/users/new", srv.url))
                .header(COOKIE, &cookie)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(format!(
                    "csrf={token}&display_name=New&user_name={}&usage_location=US&sku={sku}",
                    upn.replace('@', "%40")
                ))
        };
        // The one license goes to the first user, with the user.
        let r = add("first@contoso.test").send().await.expect("post");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let (_, d) = srv
            .get("/v1.0/users/first@contoso.test/licenseDetails")
            .await;
        assert_eq!(d["value"][0]["skuPartNumber"], "SUITE_BASIC");
        // None is left: the second user is refused whole, in the API's words, and not created.
        let r = add("second@contoso.test").send().await.expect("post");
        assert!(r.status().is_client_error(), "{}", r.status());
        let text = r.text().await.expect("text");
        assert!(text.contains("role=\"alert\""), "{text}");
        assert!(
            text.contains("Suite Basic") || text.contains("SUITE_BASIC"),
            "{text}"
        );
        assert!(!exists(&srv, "second@contoso.test").await);
    }
);

/// The user ids linked from an Active users page, and its Next page link.
fn rows_and_next(html: &str) -> (Vec<String>, Option<String>) {
    let ids = html
        .match_indices("<a href=\"/users/")
        .map(|(i, m)| html[i + m.len()..].chars().take(36).collect::<String>())
        .filter(|id| seatkeeper_domain::UserId::parse(id).is_some())
        .collect();
    let next = html.find("\">Next page</a>").map(|end| {
        let start = html[..end].rfind("href=\"").expect("href") + "href=\"".len();
        html[start..end].replace("&amp;", "&").replace("&#38;", "&")
    });
    (ids, next)
}

backends!(
    active_users_pages_through_users_with_one_name,
    |srv| async move {
        // 60 users share one display name (ties across the page boundary) and 5 others follow it.
        for i in 0..60 {
            let id = srv.user(&format!("same{i}@contoso.test"), Some("US")).await;
            let (s, _) = srv
                .patch(
                    &format!("/v1.0/users/{id}"),
                    serde_json::json!({"displayName": "Same"}),
                )
                .await;
            assert_eq!(s, StatusCode::NO_CONTENT);
        }
        for i in 0..5 {
            let id = srv
                .user(&format!("later{i}@contoso.test"), Some("US"))
                .await;
            let (s, _) = srv
                .patch(
                    &format!("/v1.0/users/{id}"),
                    serde_json::json!({"displayName": format!("samf {i}")}),
                )
                .await;
            assert_eq!(s, StatusCode::NO_CONTENT);
        }
        let c = browser();
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let mut seen = Vec::new();
        let mut path = Some("/users?q=sam".to_string());
        let mut pages = 0;
        while let Some(p) = path {
            let html = c
                .get(format!("{}{p}", srv.url))
                .header(COOKIE, &cookie)
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("text");
            let (ids, next) = rows_and_next(&html);
            assert!(ids.len() <= 50, "{}", ids.len());
            seen.extend(ids);
            path = next;
            pages += 1;
            assert!(pages < 5, "paging does not end");
        }
        assert_eq!(pages, 2);
        let n = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!((n, seen.len()), (65, 65), "every user once");
        // The filters: all 65 are unlicensed; none is a guest.
        let html = c
            .get(format!("{}/users?q=sam&filter=guests", srv.url))
            .header(COOKIE, &cookie)
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("text");
        assert!(rows_and_next(&html).0.is_empty());
        assert!(html.contains("No users match"));
    }
);

backends!(
    an_upload_over_the_limit_says_so_not_that_the_form_expired,
    |srv| async move {
        let c = browser();
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let token = csrf_of(&srv, &c, &cookie, "/users/import").await;
        let mut body = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"u.csv\"\r\nContent-Type: text/csv\r\n\r\nuserPrincipalName,displayName\r\n"
        );
        let row = "someone@contoso.test,Someone Somebody\r\n";
        while body.len() < 6 * 1024 * 1024 {
            body.push_str(row);
        }
        body.push_str("--XyZ--\r\n");
        let r = c
            .post(format!("{}/users/import", srv.url))
            .header(COOKIE, &cookie)
            .header(CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(body)
            .send()
            .await
            .expect("post");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let text = r.text().await.expect("text");
        assert!(text.contains("larger than 5 MB"), "{text}");
    }
);

backends!(
    active_users_search_finds_any_word_of_the_name_and_the_start_of_user_name_or_mail,
    |srv| async move {
        let got = srv
            .post(
                "/v1.0/users",
                json!({"accountEnabled": true, "displayName": "Ada Lovelace", "mailNickname": "ada",
                       "userPrincipalName": "ada.l@contoso.test", "mail": "countess@analytical.test",
                       "usageLocation": "GB"}),
            )
            .await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let other = srv
            .post(
                "/v1.0/users",
                json!({"accountEnabled": true, "displayName": "Charles Babbage", "mailNickname": "cb",
                       "userPrincipalName": "charles@contoso.test", "usageLocation": "GB"}),
            )
            .await;
        assert_eq!(other.0, StatusCode::CREATED, "{}", other.1);
        let c = browser();
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let page = |q: &str| {
            let c = c.clone();
            let cookie = cookie.clone();
            let url = format!("{}/users?q={}", srv.url, q);
            async move {
                let r = c.get(url).header(COOKIE, cookie).send().await.expect("get");
                assert_eq!(r.status(), StatusCode::OK);
                r.text().await.expect("page")
            }
        };
        for q in [
            "Lovelace",
            "lovelace",
            "LOVE",
            "Ada",
            "ada.l",
            "countess",
            "COUNTESS%40ana",
        ] {
            let html = page(q).await;
            assert!(
                html.contains("ada.l@contoso.test"),
                "{q} must find Ada: {html}"
            );
            assert!(
                !html.contains("charles@contoso.test"),
                "{q} must not find Charles"
            );
        }
        // Not the middle of a word, and not another user's words.
        for q in ["velace", "babbage"] {
            let html = page(q).await;
            assert!(
                !html.contains("ada.l@contoso.test"),
                "{q} must not find Ada"
            );
        }
        assert!(page("babbage").await.contains("charles@contoso.test"));
        // A renamed user is found by the new words only; a deleted one by none.
        let got = srv
            .patch(
                "/v1.0/users/ada.l@contoso.test",
                json!({"displayName": "Ada King"}),
            )
            .await;
        assert!(got.0.is_success(), "{}", got.1);
        assert!(!page("lovelace").await.contains("ada.l@contoso.test"));
        assert!(page("king").await.contains("ada.l@contoso.test"));
        let got = srv.delete("/v1.0/users/ada.l@contoso.test").await;
        assert!(got.0.is_success(), "{}", got.1);
        assert!(!page("king").await.contains("ada.l@contoso.test"));
    }
);

/// A database from before the word search: users created then are found by their surnames
/// once the migration that adds `user_words` has run (it writes their words).
#[tokio::test]
async fn users_of_an_older_database_are_found_by_surname_after_the_upgrade() {
    let Some(srv) = Srv::start(Backend::Sqlite).await else {
        return;
    };
    let got = srv
        .post(
            "/v1.0/users",
            json!({"accountEnabled": true, "displayName": "Grace Hopper", "mailNickname": "gh",
                   "userPrincipalName": "grace@contoso.test", "usageLocation": "US"}),
        )
        .await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    // Back to the database as it was before migration 11.
    let db = seatkeeper_store::Db::open_dir(&srv.dir).await.expect("db");
    let mut tx = db.begin().await.expect("tx");
    for sql in [
        "DROP TABLE user_words",
        "DROP TABLE deleted_purchasers",
        "DELETE FROM _sqlx_migrations WHERE version = 11",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.expect(sql);
    }
    tx.commit().await.expect("commit");
    // Upgrading runs migration 11 again and writes every user's words.
    let db = seatkeeper_store::Db::open_dir(&srv.dir)
        .await
        .expect("upgrade");
    drop(db);
    let c = reqwest::Client::new();
    let cookie = format!("sk_session={}", srv.admin_session().await);
    let html = c
        .get(format!("{}/users?q=hopper", srv.url))
        .header(COOKIE, cookie)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("page");
    assert!(html.contains("grace@contoso.test"), "{html}");
}
