//! The admin home page over HTTP: what needs attention as subscriptions end.

use crate::rest_helpers::*;
use reqwest::StatusCode;
use serde_json::json;

async fn home(srv: &crate::common::Srv) -> String {
    let r = reqwest::Client::new()
        .get(format!("{}/", srv.url))
        .header(
            "cookie",
            format!("sk_session={}", srv.admin_session().await),
        )
        .send()
        .await
        .expect("get /");
    assert_eq!(r.status(), StatusCode::OK);
    r.text().await.expect("page")
}

backends!(
    home_lists_subscriptions_ending_expired_and_products_used_up,
    |srv| async move {
        let s = buy(&srv, "PROJECTS_PLAN3", 1, "monthly").await;
        let id = s["id"].as_str().expect("id").to_string();
        let commerce = s["commerceSubscriptionId"]
            .as_str()
            .expect("commerce id")
            .to_string();
        let page = home(&srv).await;
        assert!(page.contains("Licenses at a glance"), "{page}");
        assert!(page.contains("Nothing needs your attention"), "{page}");

        // Every license assigned: the product needs attention, linked to its users.
        let people = users(&srv, "home", 1).await;
        let got = assign(&srv, "PROJECTS_PLAN3", &people, &[]).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let page = home(&srv).await;
        assert!(page.contains("No licenses left"), "{page}");
        assert!(
            page.contains(&format!("/licenses/{}", srv.sku("PROJECTS_PLAN3"))),
            "{page}"
        );

        // Recurring billing off on a monthly subscription: ten days before its term ends (a
        // month can be 31 days), it is ending soon.
        let got = srv
            .patch(
                &format!("/api/v1/subscriptions/{id}"),
                json!({"recurringBilling": false}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let end = t(&sub(&srv, &id).await["termEndDateTime"]);
        set_clock(&srv, end - chrono::Duration::days(10)).await;
        let page = home(&srv).await;
        assert!(page.contains("Ending soon"), "{page}");
        assert!(page.contains(&commerce), "{page}");
        assert!(page.contains("recurring billing is off"), "{page}");

        // Past its term end the subscription is Expired.
        set_clock(&srv, end + chrono::Duration::hours(1)).await;
        run_jobs(&srv).await;
        assert_eq!(sub(&srv, &id).await["status"], "Expired");
        let page = home(&srv).await;
        assert!(page.contains("users keep access for now"), "{page}");
        assert!(!page.contains("Ending soon"), "{page}");
    }
);

backends!(signed_in_pages_are_never_cached, |srv| async move {
    let client = reqwest::Client::new();
    let cookie = format!("sk_session={}", srv.admin_session().await);
    for path in ["/", "/users", "/licenses", "/settings"] {
        let r = client
            .get(format!("{}{path}", srv.url))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(
            r.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{path}: after sign-out, Back must not show it from the cache"
        );
    }
    // Static files stay cacheable.
    let r = client
        .get(format!("{}/static/app.css", srv.url))
        .send()
        .await
        .expect("css");
    assert_ne!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
});

backends!(
    a_form_posted_after_sign_out_returns_to_its_page,
    |srv| async move {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let host = srv.url.trim_start_matches("http://").to_string();
        // No session (signed out in another tab): the post from Settings leads to sign-in and back to
        // Settings, not to the form's post-only address.
        let r = client
            .post(format!("{}/settings/tokens", srv.url))
            .header("referer", format!("http://{host}/settings"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("name=x&csrf=y")
            .send()
            .await
            .expect("post");
        assert!(r.status().is_redirection(), "{}", r.status());
        let to = r.headers()["location"]
            .to_str()
            .expect("location")
            .to_string();
        assert_eq!(to, "/sign-in?next=%2Fsettings");
        // A referer from another site is not followed.
        let r = client
            .post(format!("{}/settings/tokens", srv.url))
            .header("referer", "http://evil.example/settings")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("name=x&csrf=y")
            .send()
            .await
            .expect("post");
        assert_eq!(
            r.headers()["location"].to_str().expect("location"),
            "/sign-in"
        );
    }
);
