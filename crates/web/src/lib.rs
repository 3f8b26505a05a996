//! Seatkeeper's HTTP interface: the Graph-compatible API under `/v1.0` and the REST API under
//! `/api/v1`, over one [`App`].

pub mod envelope;
pub mod error;
pub mod extract;
pub mod graph;
pub mod rest;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use error::ErrorInfo;
use seatkeeper_app::App;
use std::future::Future;
use tokio::net::TcpListener;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

async fn not_found(uri: Uri) -> Response {
    ErrorInfo::new(
        StatusCode::NOT_FOUND,
        "notFound",
        "Request_ResourceNotFound",
        format!("No such endpoint: {}. The APIs are under /v1.0 (Graph-compatible) and /api/v1 (see /api/v1/openapi.json).", uri.path()),
    )
    .into_response()
}

async fn method_not_allowed(resp: Response) -> Response {
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && resp.extensions().get::<ErrorInfo>().is_none()
    {
        let allow = resp.headers().get(axum::http::header::ALLOW).cloned();
        let mut r = ErrorInfo::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "methodNotAllowed",
            "Request_BadRequest",
            "This endpoint does not support that HTTP method.",
        )
        .into_response();
        if let Some(a) = allow {
            r.headers_mut().insert(axum::http::header::ALLOW, a);
        }
        return r;
    }
    resp
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ErrorInfo::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "generalException",
        "The server could not complete the request; it has been logged.",
    )
    .into_response()
}

/// Without `--dev-clock` the development routes do not exist, whatever the method.
async fn hide_dev_routes(
    axum::extract::State(app): axum::extract::State<App>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !app.clock.is_dev() && req.uri().path().starts_with("/api/v1/dev/") {
        return not_found(req.uri().clone()).await;
    }
    next.run(req).await
}

/// All routes.
pub fn router(app: App) -> Router {
    Router::new()
        .nest(
            "/v1.0",
            graph::router().layer(axum::middleware::map_response(error::graph_codes)),
        )
        .nest("/api/v1", rest::router())
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .fallback(not_found)
        .layer(axum::middleware::map_response(method_not_allowed))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            hide_dev_routes,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            error::stamp_errors,
        ))
        .with_state(app)
}

/// Collapses doubled slashes (`/v1.0//users`, as Graph SDKs send with a trailing-slash base URL).
fn normalize_path<B>(mut req: axum::http::Request<B>) -> axum::http::Request<B> {
    let uri = req.uri();
    if uri.path().contains("//") {
        let mut path = String::with_capacity(uri.path().len());
        for c in uri.path().chars() {
            if !(c == '/' && path.ends_with('/')) {
                path.push(c);
            }
        }
        let pq = match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        if let Ok(p) = pq.parse::<axum::http::uri::PathAndQuery>() {
            let mut parts = uri.clone().into_parts();
            parts.path_and_query = Some(p);
            if let Ok(u) = Uri::from_parts(parts) {
                *req.uri_mut() = u;
            }
        }
    }
    req
}

/// Serves until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use tower::Layer;
    let svc = tower::util::MapRequestLayer::new(normalize_path).layer(router(app));
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(svc),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
