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

        // Recurring billing off on a monthly subscription: it ends within 30 days.
        let got = srv
            .patch(
                &format!("/api/v1/subscriptions/{id}"),
                json!({"recurringBilling": false}),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let page = home(&srv).await;
        assert!(page.contains("Ending soon"), "{page}");
        assert!(page.contains(&commerce), "{page}");
        assert!(page.contains("recurring billing is off"), "{page}");

        // Past its term end the subscription is Expired.
        let end = t(&sub(&srv, &id).await["termEndDateTime"]);
        set_clock(&srv, end + chrono::Duration::hours(1)).await;
        run_jobs(&srv).await;
        assert_eq!(sub(&srv, &id).await["status"], "Expired");
        let page = home(&srv).await;
        assert!(page.contains("users keep access for now"), "{page}");
        assert!(!page.contains("Ending soon"), "{page}");
    }
);
