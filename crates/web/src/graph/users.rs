//! `/users`, `/users/{id}`, `/users/{id}/assignLicense`, `/users/{id}/licenseDetails`, `/me`.

use super::odata::{self, LIST, Opt, SELECT_ONLY};
use super::{Id, collection, next_link, object, select, shapes};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, Bearer, Json, JsonError, parse_guid};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::directory::UserInput;
use seatkeeper_app::licenses::LicenseSpec;
use seatkeeper_app::passwords::PasswordProfile;
use seatkeeper_app::{App, AppError};
use seatkeeper_domain::assignment::Assignment;
use seatkeeper_domain::directory::User;
use seatkeeper_domain::seats::SeatState;
use seatkeeper_domain::{PlanId, SkuId, UserId};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The properties of microsoft.graph.user that this server knows, for `$select`.
pub const USER_PROPS: &[&str] = &[
    "id",
    "userPrincipalName",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "mailNickname",
    "jobTitle",
    "department",
    "userType",
    "usageLocation",
    "accountEnabled",
    "createdDateTime",
    "assignedLicenses",
    "assignedPlans",
    "licenseAssignmentStates",
    "passwordProfile",
];

const LICENSE_PROPS: &[&str] = &[
    "assignedLicenses",
    "assignedPlans",
    "licenseAssignmentStates",
];

const USER_TYPE: &str = "microsoft.graph.user";

pub(crate) fn user_select(q: &odata::Query) -> Result<Option<Vec<&'static str>>, AppError> {
    odata::parse_select(&q.select, USER_PROPS, USER_TYPE)
}

fn needs_licenses(sel: &Option<Vec<&'static str>>) -> bool {
    match sel {
        None => true,
        Some(list) => list.iter().any(|p| LICENSE_PROPS.contains(p)),
    }
}

/// A page of users as Graph items, with their licenses loaded in one query.
pub(crate) async fn user_items(
    app: &App,
    actor: &seatkeeper_app::Actor,
    users: &[User],
    sel: &Option<Vec<&'static str>>,
    odata_type: bool,
) -> ApiResult<Vec<Value>> {
    let licenses = if needs_licenses(sel) && !users.is_empty() {
        let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
        app.licenses_of_users(actor, &ids).await?
    } else {
        Vec::new()
    };
    let states = app.seat_states(actor, &licenses).await?;
    let sources = if needs_licenses(sel) && !users.is_empty() {
        let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
        app.license_sources(&ids).await?
    } else {
        Vec::new()
    };
    let mut by_user: HashMap<UserId, Vec<Assignment>> = HashMap::new();
    for a in licenses {
        by_user.entry(a.user_id).or_default().push(a);
    }
    let catalog = app.catalog();
    Ok(users
        .iter()
        .map(|u| {
            let mine = by_user.get(&u.id).map(Vec::as_slice).unwrap_or(&[]);
            let mut v = select(shapes::user(u, mine, &sources, &states, &catalog), sel);
            if odata_type && let Value::Object(m) = &mut v {
                m.insert(
                    "@odata.type".into(),
                    Value::String("#microsoft.graph.user".into()),
                );
            }
            v
        })
        .collect())
}

/// Lists users with `$filter`, `$select`, `$top`/`$skiptoken` paging and `$count`.
/// `$orderby` is refused (see [`odata`]): users come ordered by id.
pub async fn list(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = odata::parse_query(raw.as_deref(), LIST)?;
    let sel = user_select(&q)?;
    let filter = odata::users(q.filter.as_deref())?;
    let after = q
        .skiptoken
        .as_deref()
        .map(odata::read_skiptoken)
        .transpose()?
        .map(UserId::from);
    let top = q.top();
    let mut users = app.list_users(&actor, &filter, after, top + 1).await?;
    let more = users.len() as i64 > top;
    users.truncate(top as usize);
    let count = if q.count {
        Some(app.count_users(&actor, &filter).await?)
    } else {
        None
    };
    let next = match (more, users.last()) {
        (true, Some(last)) => Some(next_link(&headers, "/users", &q, last.id.0)),
        _ => None,
    };
    let items = user_items(&app, &actor, &users, &sel, false).await?;
    Ok(axum::Json(collection(&headers, "users", items, count, next)).into_response())
}

/// `GET /users/$count`: the number of users matching `$filter`, as plain text.
pub async fn count(
    State(app): State<App>,
    Auth(actor): Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = odata::parse_query(raw.as_deref(), &[Opt::Filter])?;
    let filter = odata::users(q.filter.as_deref())?;
    let n = app.count_users(&actor, &filter).await?;
    Ok(plain_count(n))
}

pub(crate) fn plain_count(n: i64) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        n.to_string(),
    )
        .into_response()
}

async fn one(
    app: &App,
    actor: &seatkeeper_app::Actor,
    headers: &HeaderMap,
    key: &str,
    raw: Option<&str>,
) -> ApiResult<Response> {
    let q = odata::parse_query(raw, SELECT_ONLY)?;
    let sel = user_select(&q)?;
    let (u, licenses) = app.user_licenses(actor, key).await?;
    let states = app.seat_states(actor, &licenses).await?;
    let sources = app.license_sources(&[u.id]).await?;
    Ok(super::entity(
        headers,
        "users",
        select(
            shapes::user(&u, &licenses, &sources, &states, &app.catalog()),
            &sel,
        ),
    ))
}

pub async fn get_one(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: HeaderMap,
    Id(key): Id,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    one(&app, &actor, &headers, &key, raw.as_deref()).await
}

/// `GET /me`: the signed-in user.
pub async fn me(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let Some(id) = actor.user_id else {
        return Err(ApiError(AppError::invalid(
            "noSignedInUser",
            "/me needs a token issued to a user; this caller is not a user.",
        )));
    };
    one(&app, &actor, &headers, &id.to_string(), raw.as_deref()).await
}

// ----- bodies -----

fn bad(code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError(AppError::invalid(code, msg))
}

fn string(name: &str, v: &Value) -> ApiResult<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(bad(
            "invalidValue",
            format!("{name} must be a string, not {}.", kind_of(other)),
        )),
    }
}

fn opt_string(name: &str, v: &Value) -> ApiResult<Option<String>> {
    match v {
        Value::Null => Ok(None),
        other => string(name, other).map(Some),
    }
}

fn boolean(name: &str, v: &Value) -> ApiResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => Err(bad(
            "invalidValue",
            format!("{name} must be true or false, not {}.", kind_of(other)),
        )),
    }
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

const WRITABLE: &str = "accountEnabled, displayName, givenName, surname, mail, mailNickname, jobTitle, department, userPrincipalName, userType, usageLocation, passwordProfile, passwordPolicies (accepted and ignored)";

/// Reads Graph's `passwordProfile {password, forceChangePasswordNextSignIn,
/// forceChangePasswordNextSignInWithMfa}`; the last is accepted and ignored (no MFA here).
/// `forceChangePasswordNextSignIn` defaults to true: whoever sets a password knows it.
fn password_profile(v: &Value) -> ApiResult<Option<PasswordProfile>> {
    let obj = match v {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        other => {
            return Err(bad(
                "invalidValue",
                format!(
                    "passwordProfile must be an object like {{\"password\": \"…\", \"forceChangePasswordNextSignIn\": true}}, not {}.",
                    kind_of(other)
                ),
            ));
        }
    };
    let mut p = PasswordProfile::default();
    for (k, v) in obj {
        match k.as_str() {
            "password" => p.password = opt_string("passwordProfile.password", v)?,
            "forceChangePasswordNextSignIn" => {
                p.force_change_next_sign_in = match v {
                    Value::Null => None,
                    v => Some(boolean("passwordProfile.forceChangePasswordNextSignIn", v)?),
                }
            }
            "forceChangePasswordNextSignInWithMfa" => {}
            k if k.starts_with("@odata.") => {}
            other => {
                return Err(bad(
                    "unknownProperty",
                    format!(
                        "Property '{other}' is not supported in passwordProfile: use password and forceChangePasswordNextSignIn."
                    ),
                ));
            }
        }
    }
    if p.password.is_none() && p.force_change_next_sign_in.is_none() {
        return Ok(None);
    }
    Ok(Some(p))
}

/// Reads a user create or update body. A `passwordProfile` sets the user's password (optional
/// on create here, unlike Graph, so that accounts that only use tokens need none).
fn user_input(body: Map<String, Value>) -> ApiResult<UserInput> {
    let mut input = UserInput::default();
    for (k, v) in &body {
        match k.as_str() {
            "userPrincipalName" => input.user_principal_name = Some(string(k, v)?),
            "displayName" => input.display_name = Some(string(k, v)?),
            "givenName" => input.given_name = Some(opt_string(k, v)?),
            "surname" => input.surname = Some(opt_string(k, v)?),
            "mail" => input.mail = Some(opt_string(k, v)?),
            "mailNickname" => input.mail_nickname = Some(opt_string(k, v)?),
            "jobTitle" => input.job_title = Some(opt_string(k, v)?),
            "department" => input.department = Some(opt_string(k, v)?),
            "userType" => input.user_type = Some(string(k, v)?),
            "usageLocation" => input.usage_location = Some(opt_string(k, v)?),
            "accountEnabled" => input.account_enabled = Some(boolean(k, v)?),
            "passwordProfile" => input.password_profile = password_profile(v)?,
            "passwordPolicies" => {}
            k if k.starts_with("@odata.") => {}
            "id" | "createdDateTime" => {
                return Err(bad(
                    "readOnlyProperty",
                    format!("Property '{k}' is read-only and cannot be set."),
                ));
            }
            "assignedLicenses" | "assignedPlans" | "licenseAssignmentStates" => {
                return Err(bad(
                    "readOnlyProperty",
                    format!(
                        "Property '{k}' is read-only here; change licenses with POST /users/{{id}}/assignLicense."
                    ),
                ));
            }
            other => {
                return Err(bad(
                    "unknownProperty",
                    format!(
                        "Property '{other}' is not supported on microsoft.graph.user. Writable properties: {WRITABLE}."
                    ),
                ));
            }
        }
    }
    Ok(input)
}

/// `POST /users`: 201 with the new user.
pub async fn create(
    State(app): State<App>,
    Auth(actor): Auth,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    let input = user_input(object(body, "user")?)?;
    let u = app.create_user(&actor, &input).await?;
    let catalog = app.catalog();
    let v = shapes::user_shape(&u, &[], &[], &Default::default(), &catalog);
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

/// `PATCH /users/{id}`: 204.
pub async fn update(
    State(app): State<App>,
    Auth(actor): Auth,
    Id(key): Id,
    Json(body): Json<Value>,
) -> ApiResult<StatusCode> {
    let input = user_input(object(body, "changes to the user")?)?;
    app.update_user(&actor, &key, &input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /users/{id}`: 204; the user's licenses are freed.
pub async fn delete(
    State(app): State<App>,
    Auth(actor): Auth,
    Id(key): Id,
) -> ApiResult<StatusCode> {
    app.delete_user(&actor, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn guid_list<T: From<uuid::Uuid>>(name: &str, v: &Value) -> ApiResult<Vec<T>> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let field = format!("{name}[{i}]");
                match item {
                    Value::String(s) => parse_guid(&field, s),
                    other => Err(bad(
                        "invalidGuid",
                        format!("{field} must be a GUID string, not {}.", kind_of(other)),
                    )),
                }
            })
            .collect(),
        other => Err(bad(
            "invalidValue",
            format!(
                "{name} must be an array of GUID strings, not {}.",
                kind_of(other)
            ),
        )),
    }
}

/// Reads an assignLicense body: `addLicenses` [{skuId, disabledPlans}] and `removeLicenses` [skuId].
pub(crate) fn assign_body(body: Map<String, Value>) -> ApiResult<(Vec<LicenseSpec>, Vec<SkuId>)> {
    let mut add: Option<Vec<LicenseSpec>> = None;
    let mut remove: Option<Vec<SkuId>> = None;
    for (k, v) in &body {
        match k.as_str() {
            "addLicenses" => {
                let items = match v {
                    Value::Null => Vec::new(),
                    Value::Array(items) => items.clone(),
                    other => {
                        return Err(bad(
                            "invalidValue",
                            format!(
                                "addLicenses must be an array of {{\"skuId\", \"disabledPlans\"}} objects, not {}.",
                                kind_of(other)
                            ),
                        ));
                    }
                };
                let mut specs: Vec<LicenseSpec> = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let Value::Object(m) = item else {
                        return Err(bad(
                            "invalidValue",
                            format!(
                                "addLicenses[{i}] must be an object like {{\"skuId\": \"…\", \"disabledPlans\": []}}, not {}.",
                                kind_of(item)
                            ),
                        ));
                    };
                    let mut sku: Option<SkuId> = None;
                    let mut disabled: Vec<PlanId> = Vec::new();
                    for (f, fv) in m {
                        match f.as_str() {
                            "skuId" => {
                                let field = format!("addLicenses[{i}].skuId");
                                sku = Some(match fv {
                                    Value::String(s) => parse_guid(&field, s)?,
                                    other => {
                                        return Err(bad(
                                            "invalidGuid",
                                            format!(
                                                "{field} must be a GUID string, not {}.",
                                                kind_of(other)
                                            ),
                                        ));
                                    }
                                });
                            }
                            "disabledPlans" => {
                                disabled =
                                    guid_list(&format!("addLicenses[{i}].disabledPlans"), fv)?
                            }
                            f if f.starts_with("@odata.") => {}
                            other => {
                                return Err(bad(
                                    "unknownProperty",
                                    format!(
                                        "addLicenses[{i}] has an unknown property '{other}'; it takes skuId and disabledPlans."
                                    ),
                                ));
                            }
                        }
                    }
                    let Some(sku) = sku else {
                        return Err(bad(
                            "missingProperty",
                            format!("addLicenses[{i}].skuId is required."),
                        ));
                    };
                    specs.push(LicenseSpec {
                        sku_id: sku,
                        disabled_plans: disabled,
                    });
                }
                add = Some(specs);
            }
            "removeLicenses" => remove = Some(guid_list("removeLicenses", v)?),
            k if k.starts_with("@odata.") => {}
            other => {
                return Err(bad(
                    "unknownProperty",
                    format!(
                        "Property '{other}' is not a parameter of assignLicense; it takes addLicenses and removeLicenses."
                    ),
                ));
            }
        }
    }
    // Graph requires both parameters (either may be an empty list).
    let missing: Vec<&str> = [
        ("addLicenses", add.is_none()),
        ("removeLicenses", remove.is_none()),
    ]
    .iter()
    .filter(|(_, m)| *m)
    .map(|(n, _)| *n)
    .collect();
    if !missing.is_empty() {
        return Err(bad(
            "missingProperty",
            format!(
                "{} {} required: assignLicense takes both addLicenses and removeLicenses (either may be an empty list), e.g. {{\"addLicenses\": [{{\"skuId\": \"…\", \"disabledPlans\": []}}], \"removeLicenses\": []}}.",
                missing.join(" and "),
                if missing.len() == 1 { "is" } else { "are" }
            ),
        ));
    }
    let add = add.unwrap_or_default();
    let remove = remove.unwrap_or_default();
    Ok((add, remove))
}

/// `POST /users/{id}/assignLicense`: adds and removes atomically; 200 with the user. Safe to
/// repeat: adding a product the user holds only changes its disabled plans.
///
/// The bearer token is checked in the change's own transaction, with the others of its batch
/// (`App::assign_license_as`), not with a read of its own first once the license writer knows
/// it (a token it does not know is checked first, as everywhere else); a bad path or body is
/// answered only after the token was checked, so a caller without a working token gets 401
/// whatever they sent, as everywhere else.
pub async fn assign_license(
    State(app): State<App>,
    bearer: Bearer,
    id: Result<Id, ApiError>,
    body: Result<Json<Value>, JsonError>,
) -> ApiResult<Response> {
    let parsed = match (id, body) {
        (Ok(Id(key)), Ok(Json(body))) => object(body, "licenses to add and remove")
            .and_then(assign_body)
            .map(|(add, remove)| (key, add, remove)),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => {
            bearer.authenticate(&app).await?;
            return Ok(e.into_response());
        }
    };
    let (key, add, remove) = match parsed {
        Ok(p) => p,
        Err(e) => {
            bearer.authenticate(&app).await?;
            return Err(e);
        }
    };
    let a = app.assign_license_as(&bearer.0, &key, add, remove).await?;
    let (u, licenses) = a
        .users
        .first()
        .ok_or_else(|| anyhow::anyhow!("no user in the answer"))?;
    let catalog = app.catalog();
    let v = shapes::user_shape(u, licenses, &a.sources, &a.states, &catalog);
    Ok(v.into_json_response())
}

/// A user with their licenses and the sources of each, as the actions answer.
async fn user_answer(
    app: &App,
    actor: &seatkeeper_app::Actor,
    u: &User,
    licenses: &[Assignment],
) -> ApiResult<Response> {
    let states = app.seat_states(actor, licenses).await?;
    let sources = app.license_sources(&[u.id]).await?;
    let catalog = app.catalog();
    let v = shapes::user_shape(u, licenses, &sources, &states, &catalog);
    Ok(v.into_json_response())
}

/// `POST /users/{id}/reprocessLicenseAssignment`: the user's group licenses are processed
/// again now (after licenses were bought or plans fixed); 200 with the user (L6).
pub async fn reprocess(
    State(app): State<App>,
    Auth(actor): Auth,
    Id(key): Id,
) -> ApiResult<Response> {
    let (u, _) = app.reprocess_user(&actor, &key).await?;
    let (u, licenses) = app.user_licenses(&actor, &u.id.to_string()).await?;
    user_answer(&app, &actor, &u, &licenses).await
}

/// `GET /users/{id}/licenseDetails`.
pub async fn license_details(
    State(app): State<App>,
    Auth(actor): Auth,
    headers: HeaderMap,
    Id(key): Id,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = odata::parse_query(raw.as_deref(), SELECT_ONLY)?;
    let sel = odata::parse_select(
        &q.select,
        &["id", "skuId", "skuPartNumber", "servicePlans"],
        "microsoft.graph.licenseDetails",
    )?;
    let (u, licenses) = app.user_licenses(&actor, &key).await?;
    let catalog = app.catalog();
    let states = app.seat_states(&actor, &licenses).await?;
    let items = licenses
        .iter()
        .map(|a| {
            let state = states.get(&a.id).copied().unwrap_or(SeatState::Active);
            select(shapes::license_details(a, state, &catalog), &sel)
        })
        .collect();
    let ctx = format!("users('{}')/licenseDetails", u.id);
    Ok(axum::Json(collection(&headers, &ctx, items, None, None)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn msg(e: ApiError) -> String {
        e.0.to_string()
    }

    #[test]
    fn user_body_checks_types_and_names() {
        let i = user_input(obj(json!({
            "@odata.type": "#microsoft.graph.user", "accountEnabled": true, "displayName": "A",
            "mailNickname": "a", "userPrincipalName": "a@b.co", "usageLocation": null,
            "passwordProfile": {"password": "secret", "forceChangePasswordNextSignIn": true}
        })))
        .unwrap();
        assert_eq!(i.usage_location, Some(None));
        assert_eq!(i.account_enabled, Some(true));
        let e = msg(user_input(obj(json!({"displayName": 5}))).unwrap_err());
        assert_eq!(e, "displayName must be a string, not a number.");
        let e = msg(user_input(obj(json!({"accountEnabled": "yes"}))).unwrap_err());
        assert!(e.contains("accountEnabled must be true or false"));
        let e = msg(user_input(obj(json!({"usagelocation": "US"}))).unwrap_err());
        assert!(
            e.contains("Property 'usagelocation' is not supported"),
            "{e}"
        );
        let e = msg(user_input(obj(json!({"assignedLicenses": []}))).unwrap_err());
        assert!(e.contains("assignLicense"), "{e}");
    }

    #[test]
    fn assign_body_names_the_bad_field() {
        let sku = "3b555118-da6a-4418-894f-7df1e2096870";
        let (add, remove) = assign_body(obj(json!({
            "addLicenses": [{"skuId": sku, "disabledPlans": [sku]}], "removeLicenses": []
        })))
        .unwrap();
        assert_eq!(add.len(), 1);
        assert_eq!(add[0].disabled_plans.len(), 1);
        assert!(remove.is_empty());
        let e = msg(assign_body(obj(
            json!({"addLicenses": [{"skuId": "x"}], "removeLicenses": []}),
        ))
        .unwrap_err());
        assert!(
            e.starts_with("addLicenses[0].skuId 'x' is not a valid GUID"),
            "{e}"
        );
        let e = msg(assign_body(obj(
            json!({"addLicenses": [{"skuId": sku, "disabledPlans": ["y"]}], "removeLicenses": []}),
        ))
        .unwrap_err());
        assert!(e.starts_with("addLicenses[0].disabledPlans[0] 'y'"), "{e}");
        let e = msg(
            assign_body(obj(json!({"addLicenses": [], "removeLicenses": [sku, 7]}))).unwrap_err(),
        );
        assert!(
            e.starts_with("removeLicenses[1] must be a GUID string"),
            "{e}"
        );
        let e =
            msg(assign_body(obj(json!({"addLicenses": {}, "removeLicenses": []}))).unwrap_err());
        assert!(e.starts_with("addLicenses must be an array"), "{e}");
        let e = msg(assign_body(obj(json!({}))).unwrap_err());
        assert!(
            e.starts_with("addLicenses and removeLicenses are required"),
            "{e}"
        );
        let e = msg(assign_body(obj(json!({"addLicenses": []}))).unwrap_err());
        assert!(e.starts_with("removeLicenses is required"), "{e}");
        let e = msg(assign_body(obj(json!({"removeLicenses": []}))).unwrap_err());
        assert!(e.starts_with("addLicenses is required"), "{e}");
        let e =
            msg(assign_body(obj(json!({"addLicenses": [{}], "removeLicenses": []}))).unwrap_err());
        assert!(e.contains("addLicenses[0].skuId is required"), "{e}");
    }
}
