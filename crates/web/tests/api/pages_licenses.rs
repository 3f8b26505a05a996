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
        let cookie = format!("sk_session={}", srv.token);
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
