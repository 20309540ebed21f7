//! `arca serve`: MLflow's artifact proxy API over any destination store.
//!
//! The routes are those of `mlflow server --artifacts-only`, under
//! `/api/2.0/mlflow-artifacts/` and mirrored under `/ajax-api/…`, answered
//! the way the MLflow client expects (see `api.rs` for errors). Every path is
//! checked by [`arca_core::ArtifactPath`] before any plugin is called. Bodies
//! stream both ways in bounded chunks; no artifact route has a timeout.

mod api;
mod artifacts;
mod info;
mod mime;
mod mpu;
mod range;

pub use info::MLFLOW_API_VERSION;

use crate::{Registry, Store};
use api::{ApiError, query_value};
use arca_core::{Error, ErrorKind, Result};
use axum::Router;
use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use std::sync::Arc;

/// What `arca serve` is started with.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The destination store URI (`./mlartifacts`, `s3://bucket/prefix`, …).
    pub destination: String,
    /// Address to bind.
    pub host: String,
    /// Port to bind (0: any free port).
    pub port: u16,
    /// Largest accepted upload, in bytes.
    pub max_upload_size: Option<u64>,
}

/// Shared by every request.
#[derive(Clone, Debug)]
pub struct AppState {
    store: Store,
    max_upload_size: Option<u64>,
}

impl AppState {
    /// State over an opened destination store.
    pub fn new(store: Store, max_upload_size: Option<u64>) -> Self {
        Self { store, max_upload_size }
    }

    fn multipart_uploads(&self) -> bool {
        self.store.capabilities().multipart
    }

    fn multipart_downloads(&self) -> bool {
        false
    }
}

const PREFIXES: [&str; 2] = ["/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/"];

/// The whole HTTP API, for embedding or for [`serve`].
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/2.0/mlflow-artifacts/{*rest}", any(dispatch))
        .route("/ajax-api/2.0/mlflow-artifacts/{*rest}", any(dispatch))
        .route("/api/3.0/mlflow/server-info", get(info::server_info))
        .route("/ajax-api/3.0/mlflow/server-info", get(info::server_info))
        .route("/health", get(info::health))
        .route("/version", get(info::version))
        .fallback(|| async { ApiError::endpoint_not_found() })
        .with_state(state)
}

/// Routes by the raw request path, so that percent-encoding is decoded in
/// exactly one place ([`arca_core::ArtifactPath`]) and nothing upstream can
/// normalise a traversal away before it is seen.
async fn dispatch(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let full = uri.path();
    let rest = PREFIXES.iter().find_map(|p| full.strip_prefix(p)).unwrap_or_default();
    let result = route(&app, rest, uri.query(), &method, &headers, body).await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn route(
    app: &AppState,
    rest: &str,
    query: Option<&str>,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if rest == "artifacts" {
        return match *method {
            Method::GET => artifacts::list(app, query_value(query, "path")).await,
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    if let Some(raw) = rest.strip_prefix("artifacts/") {
        return match *method {
            Method::GET | Method::HEAD => artifacts::download(app, raw, headers).await,
            Method::PUT => artifacts::upload(app, raw, body).await,
            Method::DELETE => artifacts::delete(app, raw).await,
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    if let Some(raw) = rest.strip_prefix("presigned/") {
        return match *method {
            Method::GET => mpu::presigned(app, raw).await,
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    for (op, handler) in [("mpu/create/", 0), ("mpu/complete/", 1), ("mpu/abort/", 2)] {
        if let Some(raw) = rest.strip_prefix(op) {
            if *method != Method::POST {
                return Err(ApiError::method_not_allowed());
            }
            let bytes = axum::body::to_bytes(body, 1 << 20)
                .await
                .map_err(|e| ApiError::invalid(format!("cannot read the request body: {e}")))?;
            return match handler {
                0 => mpu::create(app, raw, &bytes).await,
                1 => mpu::complete(app, raw, &bytes).await,
                _ => mpu::abort(app, raw, &bytes).await,
            };
        }
    }
    Err(ApiError::endpoint_not_found())
}

/// Opens the destination and serves until SIGTERM or Ctrl-C. Prints
/// `arca serve: listening on http://HOST:PORT` on stderr once ready.
pub async fn serve(registry: Arc<Registry>, opts: ServeOptions) -> Result<()> {
    let store = registry.open(&opts.destination).await?;
    let app = router(AppState::new(store.clone(), opts.max_upload_size));
    let listener = tokio::net::TcpListener::bind((opts.host.as_str(), opts.port))
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::UNAVAILABLE,
                format!("cannot listen on {}:{}: {e}", opts.host, opts.port),
            )
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::unexpected(format!("cannot read the bound address: {e}")))?;
    eprintln!("arca serve: listening on http://{addr} (destination {})", store.uri());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| Error::unexpected(format!("server failed: {e}")))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    eprintln!("arca serve: shutting down");
}
