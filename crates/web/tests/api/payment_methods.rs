//! Cards, billing accounts and billing profiles (BILL1, BILL2) over /api/v1: the test
//! provider's cards, refusals that name the field, a card in use that cannot be deleted,
//! replacing a profile's card, permissions per role, the audit log, and proof that neither the
//! full number nor the security code reaches the database, the log or any response.

use crate::common::*;
use crate::rest_helpers::*;
use reqwest::StatusCode;
use seatkeeper_domain::roles::Role;
use serde_json::{Value, json};

const MINE: &str = "/api/v1/me/payment-methods";
const CENTRAL: &str = "/api/v1/billing/payment-methods";

fn card(number: &str, code: &str) -> Value {
    json!({
        "cardNumber": number,
        "expiryMonth": 12,
        "expiryYear": 2099,
        "securityCode": code,
        "nameOnCard": "Mia Member",
        "billingAddress": {"line1": "1 Main Street", "city": "Springfield", "postalCode": "12345", "country": "US"}
    })
}

async fn member(srv: &Srv, upn: &str) -> String {
    srv.token_with_roles(upn, &[]).await
}

async fn add(srv: &Srv, token: &str, path: &str, body: Value) -> Value {
    let got = srv.call_as(token, "POST", path, Some(body)).await;
    assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
    got.1
}

async fn list(srv: &Srv, token: &str, path: &str) -> Vec<Value> {
    let got = srv.call_as(token, "GET", path, None).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.1);
    got.1["value"].as_array().expect("value").clone()
}

backends!(
    a_member_adds_edits_and_deletes_their_own_cards,
    |srv| async move {
        let mia = member(&srv, "mia@contoso.test").await;
        let got = srv
            .call_as(&mia, "POST", MINE, Some(card("4242 4242 4242 4242", "123")))
            .await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let visa = got.1;
        let id = visa["id"].as_str().expect("id").to_string();
        assert_eq!(
            visa,
            json!({"id": id, "brand": "Visa", "last4": "4242", "expiryMonth": 12, "expiryYear": 2099,
               "nameOnCard": "Mia Member",
               "billingAddress": {"line1": "1 Main Street", "city": "Springfield", "postalCode": "12345", "country": "US"},
               "createdDateTime": visa["createdDateTime"]})
        );
        let mc = add(&srv, &mia, MINE, card("5555555555554444", "321")).await;
        assert_eq!(
            (mc["brand"].as_str(), mc["last4"].as_str()),
            (Some("Mastercard"), Some("4444"))
        );
        let amex = add(&srv, &mia, MINE, card("3782-822463-10005", "1234")).await;
        assert_eq!(
            (amex["brand"].as_str(), amex["last4"].as_str()),
            (Some("Amex"), Some("0005"))
        );
        assert_eq!(list(&srv, &mia, MINE).await.len(), 3);

        // Another user sees none of them and cannot touch them.
        let max = member(&srv, "max@contoso.test").await;
        assert!(list(&srv, &max, MINE).await.is_empty());
        let got = srv
            .call_as(
                &max,
                "PATCH",
                &format!("{MINE}/{id}"),
                Some(json!({"securityCode": "123", "nameOnCard": "Max"})),
            )
            .await;
        assert_error(&got, StatusCode::NOT_FOUND, "no card");
        let got = srv
            .call_as(&max, "DELETE", &format!("{MINE}/{id}"), None)
            .await;
        assert_error(&got, StatusCode::NOT_FOUND, "no card");
        // Nor do the admin's central cards include them.
        assert!(list(&srv, &srv.token, CENTRAL).await.is_empty());

        // Edit: the security code is required, verifies, and is not stored.
        let got = srv
            .call_as(
                &mia,
                "PATCH",
                &format!("{MINE}/{id}"),
                Some(json!({"expiryYear": 2098})),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "securityCode is required");
        let got = srv
            .call_as(
                &mia,
                "PATCH",
                &format!("{MINE}/{id}"),
                Some(json!({"expiryYear": 2098, "securityCode": "12"})),
            )
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "securityCode must be the 3 or 4 digits",
        );
        assert_eq!(got.1["error"]["code"], "invalidSecurityCode");
        let got = srv
        .call_as(&mia, "PATCH", &format!("{MINE}/{id}"), Some(json!({
            "expiryMonth": 1, "expiryYear": 2098, "securityCode": "123", "nameOnCard": "Mia M. Member",
            "billingAddress": {"line1": "2 Side Street", "city": "Shelbyville", "postalCode": "54321", "country": "dk"}
        })))
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(
            (got.1["expiryMonth"].as_i64(), got.1["expiryYear"].as_i64()),
            (Some(1), Some(2098))
        );
        assert_eq!(got.1["nameOnCard"], "Mia M. Member");
        assert_eq!(got.1["billingAddress"]["country"], "DK");
        assert_eq!(
            (got.1["brand"].as_str(), got.1["last4"].as_str()),
            (Some("Visa"), Some("4242"))
        );
        let again = list(&srv, &mia, MINE).await;
        assert_eq!(again[0]["billingAddress"]["city"], "Shelbyville");

        // Delete.
        let got = srv
            .call_as(
                &mia,
                "DELETE",
                &format!("{MINE}/{}", mc["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);
        let left: Vec<String> = list(&srv, &mia, MINE)
            .await
            .iter()
            .map(|c| c["last4"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(left, ["4242", "0005"]);

        // Every change is audited with brand and last four digits.
        let got = srv
            .get(&format!("{API}/audit?action=payment-method."))
            .await;
        let entries = got.1["value"].as_array().expect("entries");
        let actions: Vec<&str> = entries
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "payment-method.delete",
                "payment-method.update",
                "payment-method.add",
                "payment-method.add",
                "payment-method.add"
            ]
        );
        assert!(entries.iter().all(|e| e["actor"] == "mia@contoso.test"));
        let update = &entries[1];
        assert_eq!(
            update["before"],
            json!({"brand": "Visa", "last4": "4242", "expiryMonth": 12, "expiryYear": 2099})
        );
        assert_eq!(
            update["after"],
            json!({"brand": "Visa", "last4": "4242", "expiryMonth": 1, "expiryYear": 2098})
        );
        assert!(
            update["summary"]
                .as_str()
                .unwrap()
                .contains("Visa ending 4242"),
            "{update}"
        );
    }
);

backends!(
    declined_and_invalid_cards_say_why_and_store_nothing,
    |srv| async move {
        let mia = member(&srv, "mia@contoso.test").await;
        let got = srv
            .call_as(&mia, "POST", MINE, Some(card("4000 0000 0000 0002", "123")))
            .await;
        assert_error(&got, StatusCode::PAYMENT_REQUIRED, "declined");
        assert_eq!(got.1["error"]["code"], "PaymentDeclined");
        // No full card number in the answer, not even the test card's own.
        let text = got.1.to_string();
        assert!(
            !text.contains("4000 0000 0000 0002") && !text.contains("4000000000000002"),
            "{text}"
        );

        let cases: Vec<(Value, &str, &str)> = vec![
            (
                card("4242 4242 4242 4241", "123"),
                "invalidCardNumber",
                "cardNumber is not a valid card number",
            ),
            (
                card("4242", "123"),
                "invalidCardNumber",
                "cardNumber must have 12 to 19 digits",
            ),
            (
                card("4242x4242x4242x4242", "123"),
                "invalidCardNumber",
                "only digits",
            ),
            (
                card("4242424242424242", "12345"),
                "invalidSecurityCode",
                "securityCode must be the 3 or 4 digits",
            ),
            (
                {
                    let mut c = card("4242424242424242", "123");
                    c["expiryYear"] = json!(2020);
                    c
                },
                "invalidExpiry",
                "expired",
            ),
            (
                {
                    let mut c = card("4242424242424242", "123");
                    c["expiryMonth"] = json!(13);
                    c
                },
                "invalidExpiry",
                "expiryMonth must be a month number",
            ),
            (
                {
                    let mut c = card("4242424242424242", "123");
                    c["cardNumber"] = json!(4242424242424242u64);
                    c
                },
                "invalidProperty",
                "cardNumber must be a string",
            ),
            (
                {
                    let mut c = card("4242424242424242", "123");
                    c["securityCode"] = json!(123);
                    c
                },
                "invalidProperty",
                "securityCode must be a string",
            ),
            (
                {
                    let mut c = card("4242424242424242", "123");
                    c.as_object_mut().unwrap().remove("securityCode");
                    c
                },
                "missingProperty",
                "securityCode is required",
            ),
            (
                {
                    let mut c = card("4242424242424242", "123");
                    c["billingAddress"]["country"] = json!("XX");
                    c
                },
                "invalidProperty",
                "billingAddress.country",
            ),
            (
                {
                    let mut c = card("4242424242424242", "123");
                    c["billingAddress"]["city"] = json!("  ");
                    c
                },
                "invalidProperty",
                "billingAddress.city is required",
            ),
            (
                {
                    let mut c = card("4242424242424242", "123");
                    c["nameOnCard"] = json!("");
                    c
                },
                "invalidProperty",
                "nameOnCard is required",
            ),
        ];
        for (body, code, needle) in cases {
            let got = srv.call_as(&mia, "POST", MINE, Some(body.clone())).await;
            assert_error(&got, StatusCode::BAD_REQUEST, needle);
            assert_eq!(got.1["error"]["code"], code, "{body}: {}", got.1);
            let text = got.1.to_string();
            assert!(
                !text.contains("424242424242424") && !text.contains("4242 4242"),
                "the number is repeated: {text}"
            );
        }
        assert!(list(&srv, &mia, MINE).await.is_empty());

        // A card that expires while stored is refused when edited without a new expiry.
        let c = add(&srv, &mia, MINE, {
            let mut c = card("4242424242424242", "123");
            c["expiryYear"] = json!(
                now(&srv)
                    .await
                    .format("%Y")
                    .to_string()
                    .parse::<i64>()
                    .unwrap()
                    + 1
            );
            c
        })
        .await;
        set_clock(&srv, now(&srv).await + chrono::Duration::days(800)).await;
        let got = srv
            .call_as(
                &mia,
                "PATCH",
                &format!("{MINE}/{}", c["id"].as_str().unwrap()),
                Some(json!({"securityCode": "123", "nameOnCard": "Mia"})),
            )
            .await;
        assert_error(&got, StatusCode::BAD_REQUEST, "The card expired");
        let got = srv
            .call_as(
                &mia,
                "PATCH",
                &format!("{MINE}/{}", c["id"].as_str().unwrap()),
                Some(json!({"securityCode": "123", "expiryYear": 2099})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        // Not a card id at all, and an unknown one: 404.
        let got = srv
            .call_as(&mia, "DELETE", &format!("{MINE}/not-a-card"), None)
            .await;
        assert_error(&got, StatusCode::NOT_FOUND, "no card not-a-card");
        let got = srv
            .call_as(
                &mia,
                "DELETE",
                &format!("{MINE}/{}", uuid::Uuid::new_v4()),
                None,
            )
            .await;
        assert_eq!(got.0, StatusCode::NOT_FOUND);
        assert!(
            srv.get(&format!("{API}/audit?action=payment-method.add"))
                .await
                .1["value"]
                .as_array()
                .unwrap()
                .len()
                == 1
        );
    }
);

backends!(
    a_card_in_use_by_a_profile_cannot_be_deleted_and_can_be_replaced,
    |srv| async move {
        let mia = member(&srv, "mia@contoso.test").await;
        let got = srv
            .call_as(&mia, "GET", "/api/v1/me/billing-profile", None)
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let profile = got.1;
        assert_eq!(profile["name"], "mia");
        assert_eq!(profile["currency"], "USD");
        assert_eq!(profile["invoiceEmail"], "mia@contoso.test");
        assert_eq!(profile["paymentMethodId"], Value::Null);
        // Opened once: the same profile the second time.
        let again = srv
            .call_as(&mia, "GET", "/api/v1/me/billing-profile", None)
            .await
            .1;
        assert_eq!(again["id"], profile["id"]);

        let first = add(&srv, &mia, MINE, card("4242424242424242", "123")).await;
        let second = add(&srv, &mia, MINE, card("5555555555554444", "123")).await;
        let (first_id, second_id) = (
            first["id"].as_str().unwrap(),
            second["id"].as_str().unwrap(),
        );
        let got = srv.call_as(&mia, "PATCH", "/api/v1/me/billing-profile", Some(json!({
        "paymentMethodId": first_id, "name": "Mia's team", "invoiceEmail": "invoices@contoso.test",
        "billTo": {"line1": "1 Main Street", "city": "Springfield", "postalCode": "12345", "country": "US"}
    }))).await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["paymentMethodId"], first_id);
        assert_eq!(got.1["paymentMethod"], "Visa ending 4242");
        assert_eq!(got.1["billTo"]["city"], "Springfield");

        let got = srv
            .call_as(&mia, "DELETE", &format!("{MINE}/{first_id}"), None)
            .await;
        assert_error(
            &got,
            StatusCode::CONFLICT,
            "is the payment method of the billing profile 'Mia's team'",
        );
        assert_eq!(got.1["error"]["code"], "paymentMethodInUse");
        assert_eq!(list(&srv, &mia, MINE).await.len(), 2);

        // Replace the card, then the first one can go.
        let got = srv
            .call_as(
                &mia,
                "PATCH",
                "/api/v1/me/billing-profile",
                Some(json!({"paymentMethodId": second_id})),
            )
            .await;
        assert_eq!(
            (got.0, got.1["paymentMethod"].as_str()),
            (StatusCode::OK, Some("Mastercard ending 4444")),
            "{}",
            got.1
        );
        let got = srv
            .call_as(&mia, "DELETE", &format!("{MINE}/{first_id}"), None)
            .await;
        assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);

        // Someone else's card, or a central one, is not a card of this profile.
        let max = member(&srv, "max@contoso.test").await;
        let maxs = add(&srv, &max, MINE, card("4242424242424242", "123")).await;
        let central = add(&srv, &srv.token, CENTRAL, card("4242424242424242", "123")).await;
        for other in [&maxs, &central] {
            let got = srv
                .call_as(
                    &mia,
                    "PATCH",
                    "/api/v1/me/billing-profile",
                    Some(json!({"paymentMethodId": other["id"]})),
                )
                .await;
            assert_error(&got, StatusCode::NOT_FOUND, "no card");
        }
        let got = srv
            .call_as(
                &mia,
                "PATCH",
                "/api/v1/me/billing-profile",
                Some(json!({"invoiceEmail": "not an address"})),
            )
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "invoiceEmail must be an e-mail address",
        );
        let got = srv
            .call_as(&mia, "PATCH", "/api/v1/me/billing-profile", Some(json!({})))
            .await;
        assert_error(
            &got,
            StatusCode::BAD_REQUEST,
            "Give name, billTo, invoiceEmail or paymentMethodId",
        );
        // Clearing the card frees the second one too.
        let got = srv
            .call_as(
                &mia,
                "PATCH",
                "/api/v1/me/billing-profile",
                Some(json!({"paymentMethodId": null})),
            )
            .await;
        assert_eq!(
            (got.0, &got.1["paymentMethod"]),
            (StatusCode::OK, &Value::Null)
        );
        let got = srv
            .call_as(&mia, "DELETE", &format!("{MINE}/{second_id}"), None)
            .await;
        assert_eq!(got.0, StatusCode::NO_CONTENT, "{}", got.1);

        let got = srv
            .get(&format!("{API}/audit?action=billing-profile.update"))
            .await;
        let entries = got.1["value"].as_array().expect("entries");
        assert_eq!(entries.len(), 3, "{}", got.1);
        let replaced = &entries[1];
        assert_eq!(replaced["before"]["paymentMethod"], "Visa ending 4242");
        assert_eq!(replaced["after"]["paymentMethod"], "Mastercard ending 4444");
    }
);

backends!(
    admins_see_every_account_and_manage_central_cards,
    |srv| async move {
        let billing = srv
            .token_with_roles("billing@contoso.test", &[Role::BillingAdmin])
            .await;
        let reader = srv
            .token_with_roles("reader@contoso.test", &[Role::GlobalReader])
            .await;
        let license = srv
            .token_with_roles("license@contoso.test", &[Role::LicenseAdmin])
            .await;
        let useradmin = srv
            .token_with_roles("useradmin@contoso.test", &[Role::UserAdmin])
            .await;
        let mia = member(&srv, "mia@contoso.test").await;
        let mias_card = add(&srv, &mia, MINE, card("4242424242424242", "123")).await;
        srv.call_as(
            &mia,
            "PATCH",
            "/api/v1/me/billing-profile",
            Some(json!({"paymentMethodId": mias_card["id"]})),
        )
        .await;

        // The central account first (opened on first need), then the purchaser's.
        let got = srv
            .call_as(&reader, "GET", "/api/v1/billing/accounts", None)
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let accounts = got.1["value"].as_array().expect("accounts").clone();
        assert_eq!(accounts.len(), 2, "{}", got.1);
        assert_eq!(accounts[0]["kind"], "central");
        assert_eq!(accounts[0]["ownerId"], Value::Null);
        assert_eq!(accounts[0]["profile"]["name"], "Contoso Test");
        assert_eq!(accounts[1]["kind"], "purchaser");
        assert_eq!(accounts[1]["ownerUserPrincipalName"], "mia@contoso.test");
        assert_eq!(accounts[1]["profile"]["paymentMethod"], "Visa ending 4242");
        let central_profile = accounts[0]["profile"]["id"].as_str().unwrap().to_string();
        let mias_profile = accounts[1]["profile"]["id"].as_str().unwrap().to_string();
        assert_eq!(
            srv.call_as(&billing, "GET", "/api/v1/billing/accounts", None)
                .await
                .1["value"]
                .as_array()
                .unwrap()
                .len(),
            2
        );

        // Central cards: Global and Billing admin manage, Global reader reads, others are refused.
        let central = add(&srv, &billing, CENTRAL, card("5555 5555 5555 4444", "123")).await;
        let cid = central["id"].as_str().unwrap().to_string();
        assert_eq!(list(&srv, &reader, CENTRAL).await.len(), 1);
        assert!(
            list(&srv, &billing, MINE).await.is_empty(),
            "central cards are not the admin's own"
        );
        let got = srv
            .call_as(
                &reader,
                "GET",
                &format!("/api/v1/billing/profiles/{central_profile}"),
                None,
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        for token in [&reader, &license, &useradmin, &mia] {
            let got = srv
                .call_as(
                    token,
                    "POST",
                    CENTRAL,
                    Some(card("4242424242424242", "123")),
                )
                .await;
            assert_error(&got, StatusCode::FORBIDDEN, "Global or Billing admin");
            let got = srv
                .call_as(
                    token,
                    "PATCH",
                    &format!("{CENTRAL}/{cid}"),
                    Some(json!({"securityCode": "123", "nameOnCard": "X"})),
                )
                .await;
            assert_error(&got, StatusCode::FORBIDDEN, "Global or Billing admin");
            let got = srv
                .call_as(token, "DELETE", &format!("{CENTRAL}/{cid}"), None)
                .await;
            assert_error(&got, StatusCode::FORBIDDEN, "Global or Billing admin");
            let got = srv
                .call_as(
                    token,
                    "PATCH",
                    &format!("/api/v1/billing/profiles/{central_profile}"),
                    Some(json!({"name": "X"})),
                )
                .await;
            assert_error(&got, StatusCode::FORBIDDEN, "Global or Billing admin");
        }
        for token in [&license, &useradmin, &mia] {
            for path in [
                CENTRAL.to_string(),
                "/api/v1/billing/accounts".into(),
                format!("/api/v1/billing/profiles/{central_profile}"),
            ] {
                let got = srv.call_as(token, "GET", &path, None).await;
                assert_error(
                    &got,
                    StatusCode::FORBIDDEN,
                    "Global admin, Billing admin or Global reader",
                );
            }
        }

        // Replace the card of the central profile; a purchaser's card is not the central account's.
        let got = srv
            .call_as(
                &billing,
                "PATCH",
                &format!("/api/v1/billing/profiles/{central_profile}"),
                Some(json!({"paymentMethodId": cid, "invoiceEmail": "ap@contoso.test"})),
            )
            .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        assert_eq!(got.1["paymentMethod"], "Mastercard ending 4444");
        let got = srv
            .call_as(
                &billing,
                "PATCH",
                &format!("/api/v1/billing/profiles/{central_profile}"),
                Some(json!({"paymentMethodId": mias_card["id"]})),
            )
            .await;
        assert_error(&got, StatusCode::NOT_FOUND, "no card");
        // An admin can clear a purchaser's card on their profile.
        let got = srv
            .call_as(
                &srv.token,
                "PATCH",
                &format!("/api/v1/billing/profiles/{mias_profile}"),
                Some(json!({"paymentMethodId": null})),
            )
            .await;
        assert_eq!(
            (got.0, &got.1["paymentMethodId"]),
            (StatusCode::OK, &Value::Null),
            "{}",
            got.1
        );
        let got = srv
            .call_as(&billing, "DELETE", &format!("{CENTRAL}/{cid}"), None)
            .await;
        assert_error(&got, StatusCode::CONFLICT, "billing profile 'Contoso Test'");
        // Unknown profiles: 404.
        for id in ["nope".to_string(), uuid::Uuid::new_v4().to_string()] {
            let got = srv
                .call_as(
                    &billing,
                    "GET",
                    &format!("/api/v1/billing/profiles/{id}"),
                    None,
                )
                .await;
            assert_error(&got, StatusCode::NOT_FOUND, "no billing profile");
        }
        // The central account's opening is audited once.
        let got = srv
            .get(&format!("{API}/audit?action=billing-account.create"))
            .await;
        assert_eq!(got.1["value"].as_array().unwrap().len(), 2, "{}", got.1);
    }
);

/// A `Write` into a shared buffer, for capturing the server's log.
#[derive(Clone, Default)]
struct SharedBuf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether `text` holds `code` as a word of its own (UUIDs left out: their groups of four hex
/// digits can be any four digits).
fn holds_code(text: &str, code: &str) -> bool {
    let mut rest = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if i + 36 <= chars.len() {
            let s: String = chars[i..i + 36].iter().collect();
            if uuid::Uuid::parse_str(&s).is_ok() && s.chars().filter(|c| *c == '-').count() == 4 {
                rest.push(' ');
                i += 36;
                continue;
            }
        }
        rest.push(chars[i]);
        i += 1;
    }
    rest.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == code)
}

const NUMBER: &str = "4242424242424242";
const CODE: &str = "9371";

fn holds_number(text: &str) -> bool {
    text.contains(NUMBER)
        || text.contains("4242 4242 4242 4242")
        || text.contains("4242-4242-4242-4242")
}

/// Every value of every column of every table, as text.
async fn every_value(srv: &Srv) -> Vec<(String, String, String)> {
    use seatkeeper_store::sqlx::{self, Row};
    let mut conn = srv.app.read().await.expect("conn");
    let columns_sql = match srv.backend {
        Backend::Sqlite => {
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) AS t, CAST(column_name AS TEXT) AS c FROM information_schema.columns WHERE table_schema = current_schema()"
        }
    };
    let cols: Vec<(String, String)> = sqlx::query(columns_sql)
        .fetch_all(&mut *conn)
        .await
        .expect("columns")
        .iter()
        .map(|r| (r.get::<String, _>("t"), r.get::<String, _>("c")))
        .collect();
    assert!(cols.iter().any(|(t, _)| t == "payment_methods"), "{cols:?}");
    let mut out = Vec::new();
    for (t, c) in cols {
        // SQLite keeps blobs (migration checksums) as bytes: as hex there (the file scan below
        // reads them raw).
        let value = match srv.backend {
            Backend::Sqlite => format!(
                "CASE WHEN typeof(\"{c}\") = 'blob' THEN hex(\"{c}\") ELSE CAST(\"{c}\" AS TEXT) END"
            ),
            Backend::Postgres => format!("CAST(\"{c}\" AS TEXT)"),
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {value} AS v FROM \"{t}\""
        )))
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{t}.{c}: {e}"));
        for r in rows {
            if let Some(v) = r.get::<Option<String>, _>("v") {
                out.push((t.clone(), c.clone(), v));
            }
        }
    }
    out
}

backends!(
    the_card_number_and_security_code_are_never_stored_logged_or_returned,
    |srv| async move {
        let log = SharedBuf::default();
        let writer = log.clone();
        let logging = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init()
            .is_ok();
        let mia = member(&srv, "mia@contoso.test").await;
        let mut bodies: Vec<String> = Vec::new();
        let mut call = async |token: &str, method: &str, path: &str, body: Option<Value>| {
            let got = srv.call_as(token, method, path, body).await;
            bodies.push(got.1.to_string());
            got
        };
        let got = call(&mia, "POST", MINE, Some(card("4242 4242 4242 4242", CODE))).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        let id = got.1["id"].as_str().unwrap().to_string();
        let got = call(&mia, "POST", MINE, Some(card("4000000000000002", CODE))).await;
        assert_eq!(got.0, StatusCode::PAYMENT_REQUIRED);
        let got = call(&mia, "POST", MINE, Some(card("4242424242424241", CODE))).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST);
        let mut wrong_type = card(NUMBER, CODE);
        wrong_type["cardNumber"] = json!(4242424242424242u64);
        wrong_type["securityCode"] = json!(9371);
        let got = call(&mia, "POST", MINE, Some(wrong_type)).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST);
        let mut extra = card(NUMBER, CODE);
        extra["cvv"] = json!(CODE);
        let got = call(&mia, "POST", MINE, Some(extra)).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST);
        let got = call(
            &mia,
            "PATCH",
            &format!("{MINE}/{id}"),
            Some(json!({"securityCode": CODE, "expiryYear": 2098})),
        )
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let got = call(
            &mia,
            "PATCH",
            "/api/v1/me/billing-profile",
            Some(json!({"paymentMethodId": id})),
        )
        .await;
        assert_eq!(got.0, StatusCode::OK, "{}", got.1);
        let token = srv.token.clone();
        let got = call(&token, "POST", CENTRAL, Some(card(NUMBER, CODE))).await;
        assert_eq!(got.0, StatusCode::CREATED, "{}", got.1);
        for path in [
            MINE,
            CENTRAL,
            "/api/v1/billing/accounts",
            "/api/v1/me/billing-profile",
            "/api/v1/audit",
            "/api/v1/audit.csv",
        ] {
            let who = if path.starts_with("/api/v1/me") {
                &mia
            } else {
                &token
            };
            let got = call(who, "GET", path, None).await;
            assert_eq!(got.0, StatusCode::OK, "{path}: {}", got.1);
        }
        assert!(
            bodies.iter().any(|b| b.contains("\"last4\":\"4242\"")),
            "the cards are listed"
        );

        for b in &bodies {
            assert!(!holds_number(b), "a response holds the card number: {b}");
            assert!(
                !holds_code(b, CODE),
                "a response holds the security code: {b}"
            );
        }
        let values = every_value(&srv).await;
        assert!(
            values
                .iter()
                .any(|(t, c, v)| t == "payment_methods" && c == "last4" && v == "4242")
        );
        for (t, c, v) in &values {
            assert!(!holds_number(v), "{t}.{c} holds the card number: {v}");
            assert!(!holds_code(v, CODE), "{t}.{c} holds the security code: {v}");
        }
        if srv.backend == Backend::Sqlite {
            for f in ["seatkeeper.db", "seatkeeper.db-wal"] {
                if let Ok(bytes) = std::fs::read(srv.dir.join(f)) {
                    assert!(
                        !String::from_utf8_lossy(&bytes).contains(NUMBER),
                        "{f} holds the card number"
                    );
                }
            }
        }
        if logging {
            let text = String::from_utf8_lossy(&log.0.lock().unwrap()).to_string();
            assert!(!text.is_empty(), "the log was captured");
            assert!(!holds_number(&text), "the log holds the card number");
            assert!(!holds_code(&text, CODE), "the log holds the security code");
        } else {
            eprintln!(
                "the log was not checked: another test of this process installed a subscriber first (run with nextest)"
            );
        }
    }
);
