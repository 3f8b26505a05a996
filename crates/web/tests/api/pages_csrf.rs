//! The admin pages' forms refuse a post without the session's CSRF token, and change nothing.

use crate::common::*;
use reqwest::StatusCode;

const FORM: &str = "application/x-www-form-urlencoded";

/// The CSRF token a page's form carries (`<input type="hidden" name="csrf" value="…">`).
fn csrf_in(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let end = html[start..].find('"').expect("end of the value");
    html[start..start + end].to_string()
}

async fn group_names(srv: &Srv) -> Vec<String> {
    let (status, body) = srv.get("/v1.0/groups?$top=999").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["value"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["displayName"].as_str().unwrap_or_default().to_string())
        .collect()
}

backends!(
    a_form_post_without_the_csrf_token_is_refused_and_changes_nothing,
    |srv| async move {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let cookie = format!("sk_session={}", srv.admin_session().await);
        let before = group_names(&srv).await;

        // Without the token, and with another session's token: 403, our page, nothing created.
        for form in [
            "name=Forged+group",
            "name=Forged+group&csrf=c0123456789abcdef0123456789abcdef01234567",
        ] {
            let resp = client
                .post(format!("{}/groups", srv.url))
                .header("cookie", &cookie)
                .header("content-type", FORM)
                .body(form)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::FORBIDDEN);
            let html = resp.text().await.unwrap();
            assert!(html.contains("did not come from Seatkeeper"), "{html}");
        }
        // A forged cancellation changes nothing either.
        let sub = srv.buy("SUITE_STANDARD", 3).await;
        let resp = client
            .post(format!("{}/products/{sub}/cancel", srv.url))
            .header("cookie", &cookie)
            .header("content-type", FORM)
            .body("reason=Other")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let (_, s) = srv.get(&format!("/api/v1/subscriptions/{sub}")).await;
        assert_eq!(s["status"], "Active", "{s}");
        assert_eq!(group_names(&srv).await, before);
        let (_, audit) = srv.get("/api/v1/audit?action=group.").await;
        assert_eq!(audit["value"].as_array().map(Vec::len), Some(0), "{audit}");

        // The same post with the token the page gave: the group is created.
        let page = client
            .get(format!("{}/groups", srv.url))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let csrf = csrf_in(&page.text().await.unwrap());
        let resp = client
            .post(format!("{}/groups", srv.url))
            .header("cookie", &cookie)
            .header("content-type", FORM)
            .body(format!("name=Real+group&csrf={csrf}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert!(group_names(&srv).await.contains(&"Real group".to_string()));
    }
);
