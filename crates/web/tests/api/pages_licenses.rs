//! The Licenses pages' forms over HTTP: a post without the session's CSRF token is refused and
//! changes nothing; the same post with the page's token assigns.

use crate::rest_helpers::*;
use reqwest::StatusCode;

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

backends!(
    assign_form_without_csrf_token_is_refused,
    |srv| async move {
        buy(&srv, "SUITE_BASIC", 2, "monthly").await;
        let people = users(&srv, "csrf", 1).await;
        let upn = &people[0];
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let url = format!("{}/licenses/SUITE_BASIC/assign", srv.url);
        let post = |body: String| {
            browser()
                .post(&url)
                .header("cookie", &cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
        };
        let user = format!(
            "user={}",
            form_urlencoded::byte_serialize(upn.as_bytes()).collect::<String>()
        );

        for body in [user.clone(), format!("csrf=forged&{user}")] {
            let r = post(body).await.expect("post");
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
            let text = r.text().await.expect("body");
            assert!(
                text.contains("did not come from Seatkeeper"),
                "refusal not in words: {text}"
            );
        }
        assert!(held(&srv, upn).await.is_empty(), "{upn} got a license");
        let row = license_row(&srv, "SUITE_BASIC").await.expect("row");
        assert_eq!(row["assigned"].as_i64(), Some(0));

        // The same form with the token of the page it came from is accepted.
        let page = browser()
            .get(&url)
            .header("cookie", &cookie)
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("page");
        let token = page
            .split("data-csrf=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("the page carries its CSRF token");
        let r = post(format!("csrf={token}&{user}")).await.expect("post");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(held(&srv, upn).await, vec!["SUITE_BASIC".to_string()]);
    }
);

backends!(
    product_users_search_by_name_in_name_order_with_paging,
    |srv| async move {
        buy(&srv, "SUITE_BASIC", 5, "monthly").await;
        let mut holders = Vec::new();
        for (upn, name) in [
            ("lovelace@contoso.test", "Ada Lovelace"),
            ("king@contoso.test", "ada King"),
            ("yonath@contoso.test", "Ada Yonath"),
            ("bob@contoso.test", "Bob Ada"),
            ("other@contoso.test", "Ada Not-holding"),
        ] {
            let input = seatkeeper_app::directory::UserInput {
                user_principal_name: Some(upn.to_string()),
                display_name: Some(name.to_string()),
                usage_location: Some(Some("US".to_string())),
                ..Default::default()
            };
            srv.app
                .create_user(&srv.operator(), &input)
                .await
                .expect("user");
            if !name.contains("Not-holding") {
                holders.push(upn.to_string());
            }
        }
        let got = assign(&srv, "SUITE_BASIC", &holders, &[]).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);

        let names = |v: &serde_json::Value| -> Vec<String> {
            v["value"]
                .as_array()
                .expect("value")
                .iter()
                .map(|u| u["displayName"].as_str().unwrap_or_default().to_string())
                .collect()
        };
        // Case-insensitive, any word of the display name, holders only, in name order
        // (ignoring case).
        let got = srv
            .get("/api/v1/licenses/SUITE_BASIC/users?search=ADA")
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            names(&got.1),
            ["ada King", "Ada Lovelace", "Ada Yonath", "Bob Ada"]
        );
        // Paging goes on after the last name shown.
        let got = srv
            .get("/api/v1/licenses/SUITE_BASIC/users?search=ada&top=2")
            .await;
        assert_eq!(names(&got.1), ["ada King", "Ada Lovelace"]);
        let next = got.1["nextLink"].as_str().expect("nextLink").to_string();
        let got = srv.get(&next).await;
        assert_eq!(names(&got.1), ["Ada Yonath", "Bob Ada"]);
        assert!(got.1["nextLink"].is_null(), "{}", got.1);
        // A surname finds its holder.
        let got = srv
            .get("/api/v1/licenses/SUITE_BASIC/users?search=lovel")
            .await;
        assert_eq!(names(&got.1), ["Ada Lovelace"]);
        // A user name is searched when it looks like one.
        let got = srv
            .get("/api/v1/licenses/SUITE_BASIC/users?search=yonath%40")
            .await;
        assert_eq!(names(&got.1), ["Ada Yonath"]);
        // Text that could be a LIKE pattern is plain text.
        let got = srv
            .get("/api/v1/licenses/SUITE_BASIC/users?search=%25")
            .await;
        assert_eq!(names(&got.1), Vec::<String>::new());
    }
);

backends!(
    too_few_licenses_is_said_with_the_products_name,
    |srv| async move {
        buy(&srv, "SUITE_BASIC", 1, "monthly").await;
        let people = users(&srv, "short", 2).await;
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let url = format!("{}/licenses/SUITE_BASIC/assign", srv.url);
        let page = browser()
            .get(&url)
            .header("cookie", &cookie)
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("page");
        let token = page
            .split("data-csrf=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("the page carries its CSRF token");
        let picked: String = people
            .iter()
            .map(|u| {
                format!(
                    "&user={}",
                    form_urlencoded::byte_serialize(u.as_bytes()).collect::<String>()
                )
            })
            .collect();
        let r = browser()
            .post(&url)
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf={token}{picked}"))
            .send()
            .await
            .expect("post");
        assert!(r.status().is_client_error(), "{}", r.status());
        let text = r.text().await.expect("body");
        assert!(
            text.contains(
                "Suite Basic does not have enough available licenses: 2 licenses needed, 1 available — buy 1 more or unassign someone."
            ),
            "{text}"
        );
        assert!(!text.contains("Subscription with SKU"), "{text}");
        assert!(!text.contains("SUITE_BASIC:"), "{text}");
    }
);
