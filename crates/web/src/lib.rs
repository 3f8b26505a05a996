//! Seatkeeper's HTTP interface: the Graph-compatible API under `/v1.0`, the REST API under
//! `/api/v1` and the web admin center's pages (crate `seatkeeper-pages`), over one [`App`].

pub mod envelope;
pub mod error;
pub mod extract;
pub mod graph;
pub mod rest;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::response::Response;
use error::ErrorInfo;
use seatkeeper_app::App;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

async fn not_found(uri: Uri) -> Response {
    if seatkeeper_pages::is_page_path(uri.path()) {
        return seatkeeper_pages::not_found_page(uri).await;
    }
    ErrorInfo::new(
        StatusCode::NOT_FOUND,
        "notFound",
        "Request_ResourceNotFound",
        format!("No such endpoint: {}. The APIs are under /v1.0 (Graph-compatible) and /api/v1 (see /api/v1/openapi.json).", uri.path()),
    )
    .into_response()
}

/// A method the route does not have: the API error envelope, or our own page for a page's
/// address (a browser opening a form's address, say).
async fn method_not_allowed(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let page = seatkeeper_pages::is_page_path(req.uri().path());
    let resp = next.run(req).await;
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && resp.extensions().get::<ErrorInfo>().is_none()
    {
        let allow = resp.headers().get(axum::http::header::ALLOW).cloned();
        let mut r = if page {
            seatkeeper_pages::error::error_page(
                StatusCode::METHOD_NOT_ALLOWED,
                "This address is for a form's button, not for opening in the browser. Go back to the page and use the button there.",
            )
        } else {
            ErrorInfo::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "methodNotAllowed",
                "Request_BadRequest",
                "This endpoint does not support that HTTP method.",
            )
            .into_response()
        };
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
        .merge(
            seatkeeper_pages::router()
                .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
                    tracing::error!("a page handler panicked");
                    seatkeeper_pages::panic_page()
                }))
                .layer(axum::middleware::from_fn_with_state(
                    app.clone(),
                    seatkeeper_pages::error::explain_gone,
                )),
        )
        .route(
            "/licenses/{sku}/users.csv",
            axum::routing::get(rest::page_users_csv),
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(method_not_allowed))
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
        .layer(axum::middleware::from_fn(
            seatkeeper_pages::security_headers,
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

/// How much the server takes on at once, and how long a request may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A request not answered within this time is stopped (its transaction rolls back) and
    /// answered 503 with `Retry-After`. Time spent waiting for a slot counts.
    pub request_timeout: Duration,
    /// Requests handled at once; more wait for a slot (within their timeout).
    pub max_concurrent_requests: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            request_timeout: Duration::from_secs(60),
            max_concurrent_requests: 256,
        }
    }
}

struct Gate {
    /// For the time on a timeout's error body.
    app: App,
    timeout: Duration,
    slots: tokio::sync::Semaphore,
}

/// Waits for a slot and runs the request, both within the request timeout.
async fn limit(
    axum::extract::State(gate): axum::extract::State<Arc<Gate>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let graph = req.uri().path().starts_with("/v1.0");
    let work = async {
        let _slot = gate.slots.acquire().await;
        next.run(req).await
    };
    match tokio::time::timeout(gate.timeout, work).await {
        Ok(resp) => resp,
        Err(_) => {
            let secs = gate.timeout.as_secs_f64();
            tracing::warn!("a request took longer than {secs} s and was stopped");
            let mut info = ErrorInfo::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "serviceNotAvailable",
                format!(
                    "The server did not finish the request within {secs} s and stopped it; its changes were rolled back unless they had already been saved. Try again in a moment."
                ),
            );
            info.graph = graph;
            info.date = Some(gate.app.now());
            let mut r = (info.status, axum::Json(info.body())).into_response();
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
            r
        }
    }
}

/// Serves until `shutdown` completes, then drains in-flight requests; with the default
/// [`Limits`].
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(app, listener, shutdown, Limits::default()).await
}

/// Serves with `limits` until `shutdown` completes, then drains in-flight requests.
pub async fn serve_with(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: Limits,
) -> std::io::Result<()> {
    use tower::Layer;
    let gate = Arc::new(Gate {
        app: app.clone(),
        timeout: limits.request_timeout,
        slots: tokio::sync::Semaphore::new(limits.max_concurrent_requests.max(1)),
    });
    let routes = router(app).layer(axum::middleware::from_fn_with_state(gate, limit));
    let svc = tower::util::MapRequestLayer::new(normalize_path).layer(routes);
    axum::serve(
        listener,
        // Each request carries the client's socket address (the sign-in audit records it).
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            std::net::SocketAddr,
        >(svc),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
