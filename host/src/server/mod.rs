//! `arca serve`: MLflow's artifact proxy API over any destination store.
//!
//! The routes are those of `mlflow server --artifacts-only`, under
//! `/api/2.0/mlflow-artifacts/` and mirrored under `/ajax-api/…`, answered
//! the way the MLflow client expects (see `api.rs` for errors). Every path is
//! checked by [`arca_core::ArtifactPath`] before any plugin is called. Bodies
//! stream both ways in bounded chunks; no artifact route has a timeout.

mod api;
mod artifacts;
mod auth;
mod info;
mod inplace;
mod linger;
mod mime;
mod mpu;
mod ops;
mod range;
mod signing;
mod staged;

pub use api::list_json;
pub use auth::{hash_password, hash_token};
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
    /// The URL clients reach this server at, for the signed URLs it hands
    /// out (default: `http://` + the request's `Host` header).
    pub public_url: Option<String>,
    /// Staged multipart uploads older than this many seconds are removed.
    pub mpu_stale_after: u64,
    /// Lifetime of a signed download URL, in seconds.
    pub download_url_ttl: u64,
    /// After SIGTERM, how long in-flight transfers may take to finish.
    pub shutdown_timeout: std::time::Duration,
    /// Users and tokens (see [`auth`]); `None`: no authentication.
    pub auth_file: Option<std::path::PathBuf>,
    /// Refuse every write.
    pub read_only: bool,
    /// Whether `server-info` tells clients to upload large files in parts
    /// (`None`: where the destination's plugin presigns part uploads, so the
    /// parts go straight to the store; a single streamed PUT is faster
    /// through this server otherwise). The multipart routes answer either way.
    pub multipart_uploads: Option<bool>,
    /// Whether `server-info` tells clients to download in signed ranged
    /// chunks (`None`: no; the MLflow client's chunked path is slower than
    /// one streamed GET through this server, even where the bytes would come
    /// straight from the store, and costs small files a second request).
    pub multipart_downloads: Option<bool>,
}

/// Shared by every request.
#[derive(Clone, Debug)]
pub struct AppState {
    store: Store,
    max_upload_size: Option<u64>,
    signer: signing::Signer,
    public_url: Option<String>,
    part_url_ttl: u64,
    download_url_ttl: u64,
    metrics: Arc<ops::Metrics>,
    auth: Option<Arc<auth::Auth>>,
    read_only: bool,
    /// What `server-info` advertises.
    multipart_uploads: bool,
    multipart_downloads: bool,
}

impl axum::extract::FromRef<AppState> for Arc<ops::Metrics> {
    fn from_ref(app: &AppState) -> Self {
        app.metrics.clone()
    }
}

/// How long a signed part-upload URL stays valid: long enough for a slow
/// upload of many parts.
const PART_URL_TTL: u64 = 3600;

impl AppState {
    /// State over an opened destination store.
    pub fn new(store: Store, opts: &ServeOptions) -> Result<Self> {
        let signer = signing::Signer::from_env().map_err(|e| Error::new(ErrorKind::CONFIG_INVALID, e))?;
        let caps = store.capabilities();
        Ok(Self {
            multipart_uploads: opts.multipart_uploads.unwrap_or(caps.multipart),
            // Off unless asked for: measured with the MLflow client, its
            // chunked path (100 MiB ranges read 10 KiB at a time, plus a
            // presign request per file) is slower than one GET through this
            // server on every destination (BENCHMARKS.md, `bench client`).
            multipart_downloads: opts.multipart_downloads.unwrap_or(false),
            store,
            max_upload_size: opts.max_upload_size,
            signer,
            public_url: opts.public_url.as_ref().map(|u| u.trim_end_matches('/').to_owned()),
            part_url_ttl: PART_URL_TTL,
            download_url_ttl: opts.download_url_ttl,
            metrics: Arc::default(),
            auth: opts
                .auth_file
                .as_deref()
                .map(auth::Auth::load)
                .transpose()?
                .map(Arc::new),
            read_only: opts.read_only,
        })
    }

    fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(u) = &self.public_url {
            return u.clone();
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        format!("http://{host}")
    }
}

const PREFIXES: [&str; 2] = ["/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/"];

/// The whole HTTP API, for embedding or for [`serve`].
pub fn router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    Router::new()
        .route("/api/2.0/mlflow-artifacts/{*rest}", any(dispatch))
        .route("/ajax-api/2.0/mlflow-artifacts/{*rest}", any(dispatch))
        .route("/api/3.0/mlflow/server-info", get(info::server_info))
        .route("/ajax-api/3.0/mlflow/server-info", get(info::server_info))
        .route("/health", get(info::health))
        .route("/version", get(info::version))
        .route("/metrics", get(ops::metrics))
        .fallback(|| async { ApiError::endpoint_not_found() })
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .layer(axum::middleware::from_fn_with_state(metrics, ops::track))
        // Outermost, so a refusal by any layer inside still lingers.
        .layer(axum::middleware::from_fn(linger::linger))
        .with_state(state)
}

/// Authentication, permissions and `--read-only`, before any handler.
/// Health, version, metrics and server-info are public (the MLflow client
/// reads server-info before it authenticates); the two signed routes are
/// authorised by their signatures.
async fn guard(State(app): State<AppState>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match check_access(&app, req.method(), req.uri(), req.headers()).await {
        Ok(()) => next.run(req).await,
        Err(e) => {
            let unauthorised = e.status == axum::http::StatusCode::UNAUTHORIZED;
            let mut r = e.into_response();
            if unauthorised {
                r.headers_mut().insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Basic realm=\"arca\", Bearer"),
                );
            }
            r
        }
    }
}

/// The part of a request's path after the API prefix, decoded once (`None`
/// outside the API).
fn api_rest(path: &str) -> Option<Result<String, ApiError>> {
    PREFIXES.iter().find_map(|p| path.strip_prefix(p)).map(api::url_decode)
}

async fn check_access(
    app: &AppState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let rest = match api_rest(uri.path()) {
        None => return Ok(()),
        // Left to the handler, which answers 400.
        Some(Err(_)) => return Ok(()),
        Some(Ok(rest)) => rest,
    };
    if rest.starts_with("signed/") || rest.starts_with("mpu-part/") {
        return Ok(());
    }
    let write = !matches!(*method, Method::GET | Method::HEAD);
    if app.read_only && write {
        return Err(auth::forbidden("this server is read-only"));
    }
    let Some(auth) = &app.auth else { return Ok(()) };
    let who = auth.authenticate(headers).await?;
    if write && who.permission == auth::Permission::Read {
        return Err(auth::forbidden(format!("{} may only read", who.name)));
    }
    let raw = if rest == "artifacts" {
        query_value(uri.query(), "path").ok().flatten().unwrap_or_default()
    } else {
        ["artifacts/", "presigned/", "mpu/create/", "mpu/complete/", "mpu/abort/"]
            .iter()
            .find_map(|p| rest.strip_prefix(p))
            .unwrap_or_default()
            .to_owned()
    };
    // An unsafe path is left to the handler, which answers 400.
    if let Ok(path) = arca_core::ArtifactPath::parse(&raw)
        && !who.may_reach(&path)
    {
        return Err(auth::forbidden(format!("{} may not reach '{path}'", who.name)));
    }
    Ok(())
}

/// Routes by the request path decoded once, here ([`api_rest`]), so that
/// nothing upstream can normalise a traversal away before
/// [`arca_core::ArtifactPath`] sees it, and a name keeps every `%` the
/// client encoded.
async fn dispatch(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = match api_rest(uri.path()) {
        Some(Ok(rest)) => route(&app, &rest, uri.query(), &method, &headers, body).await,
        Some(Err(e)) => Err(e),
        None => Err(ApiError::endpoint_not_found()),
    };
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
            Method::GET => artifacts::list(app, query_value(query, "path")?).await,
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    if let Some(raw) = rest.strip_prefix("artifacts/") {
        return match *method {
            Method::GET | Method::HEAD => artifacts::download(app, raw, headers, *method == Method::HEAD).await,
            Method::PUT => artifacts::upload(app, raw, body).await,
            Method::DELETE => artifacts::delete(app, raw).await,
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    if let Some(raw) = rest.strip_prefix("presigned/") {
        return match *method {
            Method::GET => mpu::presigned(app, raw, &app.base_url(headers)).await,
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    // The two signed routes: authorised by the signature in the URL, since
    // the MLflow client sends part uploads and chunked downloads without
    // credentials.
    if let Some(raw) = rest.strip_prefix("signed/") {
        let path = api::parse_path(raw)?;
        verify(app, "get", path.as_str(), query)?;
        return match *method {
            Method::GET | Method::HEAD => artifacts::send_file(app, &path, headers, *method == Method::HEAD).await,
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    if let Some(raw) = rest.strip_prefix("mpu-part/") {
        let (id, n) = raw.split_once('/').ok_or_else(ApiError::endpoint_not_found)?;
        let n: u32 = n
            .parse()
            .map_err(|_| ApiError::invalid(format!("invalid part number '{n}'")))?;
        verify(app, "part", &format!("{id}/{n}"), query)?;
        if *method != Method::PUT {
            return Err(ApiError::method_not_allowed());
        }
        let length = headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let etag = staged::put_part(&app.store, id, n, length, body).await?;
        let mut r = axum::http::StatusCode::OK.into_response();
        if let Ok(v) = axum::http::HeaderValue::from_str(&etag) {
            r.headers_mut().insert(axum::http::header::ETAG, v);
        }
        return Ok(r);
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
                0 => mpu::create(app, raw, &bytes, &app.base_url(headers)).await,
                1 => mpu::complete(app, raw, &bytes).await,
                _ => mpu::abort(app, raw, &bytes).await,
            };
        }
    }
    Err(ApiError::endpoint_not_found())
}

fn verify(app: &AppState, op: &str, resource: &str, query: Option<&str>) -> Result<(), ApiError> {
    let expires = query_value(query, "expires")?;
    let sig = query_value(query, "sig")?;
    app.signer
        .verify(op, resource, expires.as_deref(), sig.as_deref())
        .map_err(|why| ApiError::new(axum::http::StatusCode::FORBIDDEN, "PERMISSION_DENIED", why))
}

/// Removes stale staged uploads once.
async fn cleanup_once(store: &Store, max_age: u64) {
    match staged::cleanup(store, max_age).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "removed stale multipart uploads"),
        Err(e) => tracing::warn!(error = %e.message, "cleanup of stale multipart uploads failed"),
    }
}

/// Removes stale staged uploads now and then, for as long as the server runs.
fn spawn_cleanup(store: Store, max_age: u64) {
    let every = std::time::Duration::from_secs((max_age / 4).clamp(60, 3600));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            cleanup_once(&store, max_age).await;
        }
    });
}

/// Opens the destination and serves until SIGTERM or Ctrl-C. Prints
/// `arca serve: listening on http://HOST:PORT` on stderr once ready.
pub async fn serve(registry: Arc<Registry>, opts: ServeOptions) -> Result<()> {
    let store = registry.open(&opts.destination).await?;
    let app = router(AppState::new(store.clone(), &opts)?);
    // Uploads abandoned by an earlier run go before the server says it is ready.
    cleanup_once(&store, opts.mpu_stale_after).await;
    spawn_cleanup(store.clone(), opts.mpu_stale_after);
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
    // On SIGTERM the listener closes at once (new connections are refused)
    // and in-flight transfers get `shutdown_timeout` to finish.
    let stopping = Arc::new(tokio::sync::Notify::new());
    let notify = stopping.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        notify.notify_one();
    });
    let deadline = async {
        stopping.notified().await;
        tokio::time::sleep(opts.shutdown_timeout).await;
    };
    tokio::select! {
        r = server => r.map_err(|e| Error::unexpected(format!("server failed: {e}"))),
        () = deadline => {
            eprintln!("arca serve: transfers still running after {:?}; stopping anyway", opts.shutdown_timeout);
            Ok(())
        }
    }
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
