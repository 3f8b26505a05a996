//! Passwords and sign-in sessions: hashes never leave the server, the policy says what is
//! missing, one message for wrong credentials, throttling, idle expiry, password changes,
//! disabled accounts, and who may set whose password.

use crate::common::{Srv, assert_error};
use reqwest::StatusCode;
use seatkeeper_app::AppError;
use seatkeeper_app::sessions::{ClientInfo, Session, WRONG_CREDENTIALS};
use seatkeeper_domain::roles::Role;
use serde_json::json;

const PW: &str = "Tr0ub4dor&3x";
const NEW_PW: &str = "Correct-horse-9";

fn client() -> ClientInfo {
    ClientInfo {
        ip: Some("192.0.2.7".into()),
        user_agent: Some("test".into()),
    }
}

async fn sign_in(srv: &Srv, user: &str, pw: &str) -> Result<(String, Session), AppError> {
    srv.app
        .sign_in(user, pw, None, &client())
        .await
        .map(|s| (s.secret, s.session))
}

fn message(r: Result<(String, Session), AppError>) -> String {
    match r {
        Err(e) => e.to_string(),
        Ok(_) => panic!("signed in, but should not have"),
    }
}

/// Creates a user with a password through Graph; returns its id.
async fn user_with_password(srv: &Srv, upn: &str, pw: &str, force: bool) -> String {
    let (s, v) = srv
        .post(
            "/v1.0/users",
            json!({"accountEnabled": true, "displayName": upn, "userPrincipalName": upn, "mailNickname": "x",
                   "passwordProfile": {"password": pw, "forceChangePasswordNextSignIn": force}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_string()
}

fn move_clock(srv: &Srv, by: chrono::Duration) {
    assert!(srv.app.clock.set(srv.app.now() + by));
}

backends!(
    the_password_and_its_hash_are_never_returned,
    |srv| async move {
        let id = user_with_password(&srv, "adele@contoso.test", PW, false).await;
        let (_, session) = sign_in(&srv, "ADELE@contoso.test", PW).await.unwrap();
        assert!(!session.must_change_password);
        let token = srv
            .app
            .create_token(&srv.operator(), session.actor.user_id.unwrap(), "t", None)
            .await
            .unwrap()
            .token;
        let mut seen = Vec::new();
        for path in [
            format!("/v1.0/users/{id}"),
            format!("/v1.0/users/{id}?$select=id,displayName"),
            "/v1.0/users".to_string(),
            format!("/api/v1/users/{id}/licenses"),
            format!("/api/v1/users/{id}/roles"),
            "/api/v1/audit?top=100".to_string(),
            "/api/v1/audit.csv".to_string(),
        ] {
            let r = srv.raw(reqwest::Method::GET, &path).send().await.unwrap();
            seen.push((path, r.status(), r.text().await.unwrap()));
        }
        let (_, me) = srv.call_as(&token, "GET", "/api/v1/me", None).await;
        seen.push(("/api/v1/me".into(), StatusCode::OK, me.to_string()));
        let (_, me) = srv.call_as(&token, "GET", "/v1.0/me", None).await;
        seen.push(("/v1.0/me".into(), StatusCode::OK, me.to_string()));
        for (path, status, body) in &seen {
            assert!(status.is_success(), "{path}: {status} {body}");
            assert!(!body.contains(PW), "{path} shows the password: {body}");
            assert!(!body.contains("argon2"), "{path} shows the hash: {body}");
            assert!(!body.contains("Tr0ub4dor"), "{path}: {body}");
        }
        // The audit log records that a password was set, and a sign-in, without either.
        let audit = &seen[5].2;
        assert!(audit.contains("user.password.set"), "{audit}");
        assert!(audit.contains("sign-in"), "{audit}");
    }
);

backends!(
    the_policy_says_what_is_missing_and_nothing_is_created,
    |srv| async move {
        let body = |pw: &str| {
            json!({"accountEnabled": true, "displayName": "Bo", "userPrincipalName": "bo@contoso.test", "mailNickname": "bo",
               "passwordProfile": {"password": pw, "forceChangePasswordNextSignIn": true}})
        };
        let r = srv.post("/v1.0/users", body("abcdefgh")).await;
        assert_error(
            &r,
            StatusCode::BAD_REQUEST,
            "It lacks upper-case letters, digits and symbols: add 2 of them.",
        );
        let r = srv.post("/v1.0/users", body("aB3!")).await;
        assert_error(
            &r,
            StatusCode::BAD_REQUEST,
            "must be 8 to 256 characters long; this one has 4",
        );
        let (s, _) = srv.get("/v1.0/users/bo@contoso.test").await;
        assert_eq!(
            s,
            StatusCode::NOT_FOUND,
            "a refused password creates no user"
        );
        // PATCH checks the same policy.
        let id = srv.user("cy@contoso.test", Some("US")).await;
        let r = srv
            .patch(
                &format!("/v1.0/users/{id}"),
                json!({"passwordProfile": {"password": "ABCDEFG1"}}),
            )
            .await;
        assert_error(
            &r,
            StatusCode::BAD_REQUEST,
            "It lacks lower-case letters and symbols: add one of them.",
        );
        let r = srv
            .patch(
                &format!("/v1.0/users/{id}"),
                json!({"passwordProfile": "x"}),
            )
            .await;
        assert_error(
            &r,
            StatusCode::BAD_REQUEST,
            "passwordProfile must be an object",
        );
        // A user without a password cannot sign in, with the same words as a wrong password.
        assert_eq!(
            message(sign_in(&srv, "cy@contoso.test", PW).await),
            WRONG_CREDENTIALS
        );
    }
);

backends!(
    wrong_user_name_and_wrong_password_get_one_message,
    |srv| async move {
        user_with_password(&srv, "dee@contoso.test", PW, false).await;
        let wrong_user = message(sign_in(&srv, "nobody@contoso.test", PW).await);
        let wrong_pw = message(sign_in(&srv, "dee@contoso.test", "Wrong-pass-1").await);
        assert_eq!(wrong_user, wrong_pw);
        assert_eq!(wrong_pw, "The user name or password is incorrect.");
        // The failure of a known account is in its organization's audit log, with the reason.
        let (_, audit) = srv.get("/api/v1/audit?action=sign-in").await;
        let text = audit.to_string();
        assert!(
            text.contains("Sign-in of dee@contoso.test failed from 192.0.2.7: wrong password"),
            "{text}"
        );
        assert!(
            !text.contains("Wrong-pass-1") && !text.contains("nobody@contoso.test"),
            "{text}"
        );
        let (_, s) = sign_in(&srv, "dee@contoso.test", PW).await.unwrap();
        assert_eq!(s.actor.name, "dee@contoso.test");
        assert!(s.actor.roles.is_empty());
    }
);

backends!(
    failures_are_slowed_down_and_the_wait_lifts,
    |srv| async move {
        user_with_password(&srv, "eve@contoso.test", PW, false).await;
        for _ in 0..5 {
            assert_eq!(
                message(sign_in(&srv, "eve@contoso.test", "Nope-nope-1").await),
                WRONG_CREDENTIALS
            );
        }
        // The sixth try is refused without checking the password, even the right one.
        match sign_in(&srv, "Eve@Contoso.test", PW).await {
            Err(AppError::TooManyRequests {
                message,
                retry_after_secs,
            }) => {
                assert_eq!(
                    message,
                    "Too many failed sign-ins for this user name: wait 30 seconds and try again."
                );
                assert_eq!(retry_after_secs, 30);
            }
            other => panic!("{other:?}"),
        }
        move_clock(&srv, chrono::Duration::seconds(31));
        // One more failure doubles the wait.
        assert_eq!(
            message(sign_in(&srv, "eve@contoso.test", "Nope-nope-1").await),
            WRONG_CREDENTIALS
        );
        match sign_in(&srv, "eve@contoso.test", PW).await {
            Err(AppError::TooManyRequests {
                retry_after_secs, ..
            }) => assert_eq!(retry_after_secs, 60),
            other => panic!("{other:?}"),
        }
        move_clock(&srv, chrono::Duration::seconds(61));
        let (_, s) = sign_in(&srv, "eve@contoso.test", PW).await.unwrap();
        assert_eq!(s.actor.name, "eve@contoso.test");
        // Success reset the count: four failures do not lock.
        for _ in 0..4 {
            assert_eq!(
                message(sign_in(&srv, "eve@contoso.test", "Nope-nope-1").await),
                WRONG_CREDENTIALS
            );
        }
        assert!(sign_in(&srv, "eve@contoso.test", PW).await.is_ok());
        // Unknown user names are slowed down too.
        for _ in 0..5 {
            let _ = sign_in(&srv, "ghost@contoso.test", PW).await;
        }
        assert!(matches!(
            sign_in(&srv, "ghost@contoso.test", PW).await,
            Err(AppError::TooManyRequests { .. })
        ));
    }
);

backends!(sessions_end_after_eight_idle_hours, |srv| async move {
    user_with_password(&srv, "fay@contoso.test", PW, false).await;
    let (secret, _) = sign_in(&srv, "fay@contoso.test", PW).await.unwrap();
    move_clock(&srv, chrono::Duration::minutes(7 * 60 + 59));
    let s = srv.app.session(&secret).await.unwrap();
    assert_eq!(s.actor.name, "fay@contoso.test");
    // Used just now: another 7 h 59 min later it still works.
    move_clock(&srv, chrono::Duration::minutes(7 * 60 + 59));
    srv.app.session(&secret).await.unwrap();
    move_clock(&srv, chrono::Duration::minutes(8 * 60 + 1));
    let e = srv.app.session(&secret).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Your session ended after 8 hours without activity: sign in again."
    );
    // Ended for good, not only while the clock is ahead.
    assert!(
        srv.app
            .clock
            .set(srv.app.now() - chrono::Duration::hours(24))
    );
    assert!(srv.app.session(&secret).await.is_err());
    // Sign-out ends a session.
    let (secret, _) = sign_in(&srv, "fay@contoso.test", PW).await.unwrap();
    srv.app.sign_out(&secret).await.unwrap();
    assert!(srv.app.session(&secret).await.is_err());
});

backends!(
    changing_ones_password_ends_the_other_sessions,
    |srv| async move {
        user_with_password(&srv, "gus@contoso.test", PW, false).await;
        let (a, _) = sign_in(&srv, "gus@contoso.test", PW).await.unwrap();
        let (b, _) = sign_in(&srv, "gus@contoso.test", PW).await.unwrap();
        let session = srv.app.session(&a).await.unwrap();
        let e = srv
            .app
            .change_own_password(&session, "Not-it-123", NEW_PW)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "The current password is incorrect.");
        let e = srv
            .app
            .change_own_password(&session, PW, "password")
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("It lacks upper-case letters, digits and symbols"),
            "{e}"
        );
        assert!(
            srv.app.session(&b).await.is_ok(),
            "a refused change ends nothing"
        );
        srv.app
            .change_own_password(&session, PW, NEW_PW)
            .await
            .unwrap();
        assert!(srv.app.session(&a).await.is_ok(), "this session goes on");
        assert!(
            srv.app.session(&b).await.is_err(),
            "the other session ended"
        );
        assert_eq!(
            message(sign_in(&srv, "gus@contoso.test", PW).await),
            WRONG_CREDENTIALS
        );
        assert!(sign_in(&srv, "gus@contoso.test", NEW_PW).await.is_ok());
        let (_, audit) = srv.get("/api/v1/audit?action=user.password.change").await;
        assert!(
            audit
                .to_string()
                .contains("gus@contoso.test changed their password; 1 other session(s) ended"),
            "{audit}"
        );
    }
);

backends!(
    a_disabled_account_cannot_sign_in_and_its_sessions_stop,
    |srv| async move {
        let id = user_with_password(&srv, "hal@contoso.test", PW, false).await;
        let (secret, session) = sign_in(&srv, "hal@contoso.test", PW).await.unwrap();
        let token = srv
            .app
            .create_token(&srv.operator(), session.actor.user_id.unwrap(), "t", None)
            .await
            .unwrap()
            .token;
        let (s, _) = srv
            .patch(
                &format!("/v1.0/users/{id}"),
                json!({"accountEnabled": false}),
            )
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert!(srv.app.session(&secret).await.is_err());
        assert_eq!(
            message(sign_in(&srv, "hal@contoso.test", "Wrong-pass-1").await),
            WRONG_CREDENTIALS
        );
        assert_eq!(
            message(sign_in(&srv, "hal@contoso.test", PW).await),
            "The account hal@contoso.test is disabled: ask an administrator to enable it."
        );
        let r = srv.call_as(&token, "GET", "/v1.0/me", None).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "disabled");
        // Enabled again: the old session stays ended; a new sign-in works.
        srv.patch(
            &format!("/v1.0/users/{id}"),
            json!({"accountEnabled": true}),
        )
        .await;
        assert!(srv.app.session(&secret).await.is_err());
        assert!(sign_in(&srv, "hal@contoso.test", PW).await.is_ok());
    }
);

backends!(admins_set_passwords_within_their_role, |srv| async move {
    let id = user_with_password(&srv, "ida@contoso.test", PW, false).await;
    let (old, _) = sign_in(&srv, "ida@contoso.test", PW).await.unwrap();
    // PATCH passwordProfile as Graph clients send it: the user's sessions end, and the new
    // password must be changed at the next sign-in.
    let (s, v) = srv
        .patch(
            &format!("/v1.0/users/{id}"),
            json!({"passwordProfile": {"forceChangePasswordNextSignIn": true, "password": NEW_PW}}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert!(srv.app.session(&old).await.is_err());
    let (_, s) = sign_in(&srv, "ida@contoso.test", NEW_PW).await.unwrap();
    assert!(s.must_change_password);
    // Only the flag: the user must change it again.
    srv.app.change_own_password(&s, NEW_PW, PW).await.unwrap();
    assert!(
        !srv.app
            .session(
                &srv.app
                    .sign_in("ida@contoso.test", PW, None, &client())
                    .await
                    .unwrap()
                    .secret
            )
            .await
            .unwrap()
            .must_change_password
    );
    let (st, _) = srv
        .patch(
            &format!("/v1.0/users/{id}"),
            json!({"passwordProfile": {"forceChangePasswordNextSignIn": true}}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, s) = sign_in(&srv, "ida@contoso.test", PW).await.unwrap();
    assert!(s.must_change_password);

    // A User admin sets a plain user's password, but not an admin's (nor their own).
    let ua = srv
        .token_with_roles("ua@contoso.test", &[Role::UserAdmin])
        .await;
    let r = srv
        .call_as(
            &ua,
            "PATCH",
            &format!("/v1.0/users/{id}"),
            Some(json!({"passwordProfile": {"password": NEW_PW}})),
        )
        .await;
    assert_eq!(r.0, StatusCode::NO_CONTENT, "{}", r.1);
    let r = srv
        .call_as(
            &ua,
            "PATCH",
            &format!("/v1.0/users/{}", srv.admin),
            Some(json!({"passwordProfile": {"password": NEW_PW}})),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "is a Global admin");
    srv.token_with_roles("bill@contoso.test", &[Role::BillingAdmin])
        .await;
    let r = srv
        .call_as(
            &ua,
            "PATCH",
            "/v1.0/users/bill@contoso.test",
            Some(json!({"passwordProfile": {"password": NEW_PW}})),
        )
        .await;
    assert_error(
        &r,
        StatusCode::FORBIDDEN,
        "only a Global admin may set an admin's password",
    );
    let r = srv
        .call_as(
            &ua,
            "PATCH",
            "/v1.0/users/ua@contoso.test",
            Some(json!({"passwordProfile": {"password": NEW_PW}})),
        )
        .await;
    assert_error(
        &r,
        StatusCode::FORBIDDEN,
        "change it on the change-password page",
    );
    // A Global reader sets nobody's.
    let gr = srv
        .token_with_roles("gr@contoso.test", &[Role::GlobalReader])
        .await;
    let r = srv
        .call_as(
            &gr,
            "PATCH",
            &format!("/v1.0/users/{id}"),
            Some(json!({"passwordProfile": {"password": NEW_PW}})),
        )
        .await;
    assert_eq!(r.0, StatusCode::FORBIDDEN, "{}", r.1);
});

backends!(
    a_new_organizations_initial_password_must_be_changed,
    |srv| async move {
        let b = srv
            .app
            .create_tenant("Fabrikam", "admin@fabrikam.test", Some("US"), None)
            .await
            .unwrap();
        let initial = b
            .initial_password
            .clone()
            .expect("a generated initial password");
        assert!(!format!("{b:?}").contains(&initial), "Debug hides it");
        let (secret, s) = sign_in(&srv, "admin@fabrikam.test", &initial)
            .await
            .unwrap();
        assert!(s.must_change_password);
        assert_eq!(s.actor.tenant_id, b.tenant_id);
        assert!(s.actor.roles.contains(&Role::GlobalAdmin));
        srv.app
            .change_own_password(&s, &initial, NEW_PW)
            .await
            .unwrap();
        assert!(!srv.app.session(&secret).await.unwrap().must_change_password);
    }
);

backends!(one_user_name_in_two_organizations, |srv| async move {
    for org in ["North", "South"] {
        srv.app
            .create_tenant_with_password(org, "it@shared.test", None, None, Some(PW))
            .await
            .unwrap();
    }
    let r = srv.app.sign_in("it@shared.test", PW, None, &client()).await;
    match r {
        Err(AppError::Invalid { code, message }) => {
            assert_eq!(code, "organizationRequired");
            assert!(
                message.contains("enter the organization's name"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let s = srv
        .app
        .sign_in("it@shared.test", PW, Some("south"), &client())
        .await
        .unwrap();
    let south = srv
        .app
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "South")
        .unwrap();
    assert_eq!(s.session.actor.tenant_id, south.id);
    // By tenant id too; a different password picks its own account without asking.
    let s = srv
        .app
        .sign_in("it@shared.test", PW, Some(&south.id.to_string()), &client())
        .await
        .unwrap();
    assert_eq!(s.session.actor.tenant_id, south.id);
    srv.app
        .change_own_password(&s.session, PW, NEW_PW)
        .await
        .unwrap();
    let s = srv
        .app
        .sign_in("it@shared.test", NEW_PW, None, &client())
        .await
        .unwrap();
    assert_eq!(s.session.actor.tenant_id, south.id);
});

// ----- over HTTP: the sign-in page, the session cookie and its flags -----

/// A browser without JavaScript: no redirects followed, cookies handled by the test.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn set_cookie<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
}

fn cookie_value(set: &str) -> String {
    set.split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string()
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Opens the sign-in page and posts the form; returns the response.
async fn post_sign_in(srv: &Srv, user: &str, pw: &str, https: bool) -> reqwest::Response {
    let b = browser();
    let page = b.get(format!("{}/sign-in", srv.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let token = cookie_value(set_cookie(&page, "sk_signin").expect("sign-in cookie"));
    let html = page.text().await.unwrap();
    assert!(html.contains("User name") && html.contains("Password") && html.contains("Sign in"));
    let mut req = b
        .post(format!("{}/sign-in", srv.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("sk_signin={token}"))
        .body(form(&[
            ("csrf", &token),
            ("next", "/change-password"),
            ("user_name", user),
            ("password", pw),
        ]));
    if https {
        req = req.header("x-forwarded-proto", "https");
    }
    req.send().await.unwrap()
}

backends!(
    the_session_cookie_is_httponly_lax_and_secure_over_https,
    |srv| async move {
        user_with_password(&srv, "kim@contoso.test", PW, false).await;
        let r = post_sign_in(&srv, "kim@contoso.test", PW, false).await;
        assert_eq!(r.status(), 303);
        let c = set_cookie(&r, "sk_session")
            .expect("session cookie")
            .to_string();
        assert!(
            c.contains("; HttpOnly") && c.contains("; SameSite=Lax") && c.contains("; Path=/"),
            "{c}"
        );
        assert!(!c.contains("Secure"), "plain HTTP: {c}");
        let secret = cookie_value(&c);
        assert!(srv.app.session(&secret).await.is_ok());
        let r = post_sign_in(&srv, "kim@contoso.test", PW, true).await;
        let c = set_cookie(&r, "sk_session")
            .expect("session cookie")
            .to_string();
        assert!(c.contains("; Secure"), "behind an HTTPS proxy: {c}");

        // Signed in, the page opens; signed out, it sends the browser to sign in.
        let b = browser();
        let page = b
            .get(format!("{}/change-password", srv.url))
            .header("cookie", format!("sk_session={secret}"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        // Sign-out without the CSRF token is refused and ends nothing.
        let r = b
            .post(format!("{}/sign-out", srv.url))
            .header("cookie", format!("sk_session={secret}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        assert!(srv.app.session(&secret).await.is_ok());
        let r = b
            .post(format!("{}/sign-out", srv.url))
            .header("cookie", format!("sk_session={secret}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("csrf", &csrf)]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let cleared = set_cookie(&r, "sk_session").expect("cleared cookie");
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        assert!(srv.app.session(&secret).await.is_err());
        let r = b
            .get(format!("{}/change-password", srv.url))
            .header("cookie", format!("sk_session={secret}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/sign-in")
        );
    }
);

backends!(
    the_sign_in_page_shows_one_message_and_forces_a_password_change,
    |srv| async move {
        user_with_password(&srv, "lou@contoso.test", PW, true).await;
        let wrong_pw = post_sign_in(&srv, "lou@contoso.test", "Wrong-pass-1", false).await;
        assert_eq!(wrong_pw.status(), 401);
        assert!(set_cookie(&wrong_pw, "sk_session").is_none());
        let a = wrong_pw.text().await.unwrap();
        let wrong_user = post_sign_in(&srv, "nobody@contoso.test", PW, false)
            .await
            .text()
            .await
            .unwrap();
        for html in [&a, &wrong_user] {
            assert!(
                html.contains("The user name or password is incorrect."),
                "{html}"
            );
            assert!(!html.contains(PW) && !html.contains("Wrong-pass-1"));
        }
        // Forced change: every page sends the browser to change the password first.
        let r = post_sign_in(&srv, "lou@contoso.test", PW, false).await;
        assert_eq!(r.status(), 303);
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/change-password")
        );
        let secret = cookie_value(set_cookie(&r, "sk_session").unwrap());
        let b = browser();
        let html = b
            .get(format!("{}/change-password", srv.url))
            .header("cookie", format!("sk_session={secret}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("You must choose a new password before you continue."),
            "{html}"
        );
        let csrf = html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        let r = b
            .post(format!("{}/change-password", srv.url))
            .header("cookie", format!("sk_session={secret}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf", &csrf),
                ("current", PW),
                ("new", "short"),
                ("confirm", "short"),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("must be 8 to 256 characters long")
        );
        let r = b
            .post(format!("{}/change-password", srv.url))
            .header("cookie", format!("sk_session={secret}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf", &csrf),
                ("current", PW),
                ("new", NEW_PW),
                ("confirm", NEW_PW),
                ("next", "/change-password"),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert!(!srv.app.session(&secret).await.unwrap().must_change_password);
    }
);

backends!(
    sign_ins_through_the_page_record_the_client_address,
    |srv| async move {
        user_with_password(&srv, "ida@contoso.test", PW, false).await;
        let r = post_sign_in(&srv, "ida@contoso.test", "Wrong-pass-1", false).await;
        assert_eq!(r.status(), 401);
        let r = post_sign_in(&srv, "ida@contoso.test", PW, false).await;
        assert_eq!(r.status(), 303);
        let (_, audit) = srv.get("/api/v1/audit?action=sign-in").await;
        let text = audit.to_string();
        assert!(
            text.contains("Sign-in of ida@contoso.test failed from 127.0.0.1: wrong password"),
            "{text}"
        );
        assert!(
            text.contains("ida@contoso.test signed in from 127.0.0.1"),
            "{text}"
        );
        // The Audit page shows the address with the entry.
        let page = browser()
            .get(format!("{}/audit?action=sign-in", srv.url))
            .header(
                "cookie",
                format!("sk_session={}", srv.admin_session().await),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("Client address: 127.0.0.1"), "{html}");
    }
);
