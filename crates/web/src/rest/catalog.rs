//! The operator's product catalog: anyone signed in reads it; only the operator (an operator
//! token) replaces it.

use super::model::{Catalog, CatalogImport};
use super::support::Params;
use super::{BadRequest, Conflict, Forbidden, TooLarge, Unauthorized, UnsupportedMediaType};
use crate::error::{ApiError, ApiResult, ErrorInfo, bad_request};
use crate::extract::AuthAny;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seatkeeper_app::App;
use seatkeeper_app::operator::{CATALOG_IS_THE_OPERATORS, Caller};

/// The product catalog
///
/// Products with their service plans, prices and trial offers. Any signed-in user may read it
/// (end users choose from it what to buy or request), and the operator.
#[utoipa::path(
    get,
    path = "/catalog",
    operation_id = "getCatalog",
    tag = "Catalog",
    responses(
        (status = 200, description = "OK", body = Catalog),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
    )
)]
pub async fn get(
    State(app): State<App>,
    AuthAny(_caller): AuthAny,
    params: Params,
) -> ApiResult<axum::Json<Catalog>> {
    params.allow(&[])?;
    Ok(axum::Json(Catalog::new(&app.catalog())))
}

/// Replace the product catalog (the operator only)
///
/// Only an operator token may do this; a tenant's admins get 403. The body is the catalog file: TOML (Content-Type application/toml or text/plain) or JSON
/// (application/json) with the same fields. A bad file is refused with its line and the problem
/// (invalidCatalog) and nothing changes; dropping a product that has subscriptions is refused
/// (409 productInUse).
#[utoipa::path(
    put,
    path = "/catalog",
    operation_id = "importCatalog",
    tag = "Catalog",
    request_body(
        description = "The catalog file.",
        content(
            (String = "application/toml"),
            (String = "text/plain"),
            (Object = "application/json"),
        )
    ),
    responses(
        (status = 200, description = "OK", body = CatalogImport),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = TooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn put(
    State(app): State<App>,
    AuthAny(caller): AuthAny,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match import(&app, &caller, &headers, body).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(r) => r,
    }
}

async fn import(
    app: &App,
    caller: &Caller,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<CatalogImport, Response> {
    // Who may import comes before what was sent: anyone but the operator gets 403 whatever
    // the body.
    let operator = caller
        .operator(CATALOG_IS_THE_OPERATORS)
        .map_err(|e| ApiError(e).into_response())?;
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ErrorInfo::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "bodyTooLarge",
                "Request_EntityTooLarge",
                format!(
                    "The body is larger than the {} KiB this server accepts.",
                    crate::MAX_BODY_BYTES / 1024
                ),
            )
            .into_response());
        }
        Err(e) => {
            return Err(bad_request(
                "invalidBody",
                format!("The body cannot be read: {}", e.body_text()),
            )
            .into_response());
        }
    };
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let name = match ctype.as_str() {
        "application/json" => "catalog.json",
        "application/toml" | "text/plain" | "text/x-toml" | "application/x-toml" => "catalog.toml",
        _ => {
            return Err(ErrorInfo::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupportedMediaType",
                "Request_UnsupportedMediaType",
                "Send the catalog as TOML with 'Content-Type: application/toml' (or text/plain), or as JSON with 'Content-Type: application/json'.",
            )
            .into_response());
        }
    };
    let text = std::str::from_utf8(&body).map_err(|_| {
        bad_request("invalidCatalog", "The catalog is not UTF-8 text.").into_response()
    })?;
    if text.trim().is_empty() {
        return Err(bad_request(
            "invalidCatalog",
            "The body is empty: send the catalog file as the body.",
        )
        .into_response());
    }
    let summary = app
        .import_catalog(operator, name, text)
        .await
        .map_err(|e| ApiError(e).into_response())?;
    Ok(CatalogImport {
        version: summary.version,
        products: summary.products,
        plans: summary.plans,
        message: format!(
            "Catalog version {} is in force: {} products, {} service plans.",
            summary.version, summary.products, summary.plans
        ),
    })
}
