//! Operations: a request id and one structured log line per request
//! (method, path without its query, status, bytes in and out, duration;
//! never credentials or signatures), and Prometheus metrics at `/metrics`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// What a request did, by route.
const ROUTES: [&str; 12] = [
    "download",
    "upload",
    "list",
    "delete",
    "mpu_create",
    "mpu_complete",
    "mpu_abort",
    "mpu_part",
    "presigned",
    "signed",
    "info",
    "other",
];

/// Counters since start.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: [AtomicU64; ROUTES.len()],
    status_2xx: AtomicU64,
    status_4xx: AtomicU64,
    status_5xx: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    in_flight: AtomicU64,
    next_id: AtomicU64,
}

/// Which route a request path and method belong to.
fn route_of(method: &str, path: &str) -> usize {
    let rest = ["/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/"]
        .iter()
        .find_map(|p| path.strip_prefix(p));
    let name = match rest {
        Some("artifacts") => "list",
        Some(r) if r.starts_with("artifacts/") => match method {
            "PUT" => "upload",
            "DELETE" => "delete",
            _ => "download",
        },
        Some(r) if r.starts_with("mpu/create/") => "mpu_create",
        Some(r) if r.starts_with("mpu/complete/") => "mpu_complete",
        Some(r) if r.starts_with("mpu/abort/") => "mpu_abort",
        Some(r) if r.starts_with("mpu-part/") => "mpu_part",
        Some(r) if r.starts_with("presigned/") => "presigned",
        Some(r) if r.starts_with("signed/") => "signed",
        _ if path == "/health" || path == "/version" || path.ends_with("/server-info") || path == "/metrics" => "info",
        _ => "other",
    };
    ROUTES.iter().position(|r| *r == name).unwrap_or(ROUTES.len() - 1)
}

/// Counts the bytes of a body as they stream, in either direction.
fn counted(body: Body, counter: Arc<Metrics>, inbound: bool) -> Body {
    Body::from_stream(body.into_data_stream().map(move |chunk| {
        if let Ok(c) = &chunk {
            let n = c.len() as u64;
            if inbound {
                counter.bytes_in.fetch_add(n, Relaxed)
            } else {
                counter.bytes_out.fetch_add(n, Relaxed)
            };
        }
        chunk
    }))
}

/// The middleware: request id, metrics and the log line.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let id = metrics.next_id.fetch_add(1, Relaxed) + 1;
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    // The path only: queries carry signatures.
    let path = req.uri().path().to_owned();
    let route = route_of(&method, &path);
    let request_bytes = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    metrics.requests[route].fetch_add(1, Relaxed);
    metrics.in_flight.fetch_add(1, Relaxed);
    let (parts, body) = req.into_parts();
    let req = Request::from_parts(parts, counted(body, metrics.clone(), true));
    let resp = next.run(req).await;
    metrics.in_flight.fetch_sub(1, Relaxed);
    let status = resp.status();
    match status.as_u16() {
        200..=299 => metrics.status_2xx.fetch_add(1, Relaxed),
        400..=499 => metrics.status_4xx.fetch_add(1, Relaxed),
        500..=599 => metrics.status_5xx.fetch_add(1, Relaxed),
        _ => 0,
    };
    tracing::info!(
        request_id = id,
        method = %method,
        path = %path,
        route = ROUTES[route],
        status = status.as_u16(),
        request_bytes = %request_bytes,
        response_bytes = resp.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).unwrap_or("-"),
        duration_ms = start.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    let (mut parts, body) = resp.into_parts();
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        parts.headers.insert("x-request-id", v);
    }
    Response::from_parts(parts, counted(body, metrics, false))
}

/// `GET /metrics`, Prometheus text format.
pub async fn metrics(State(m): State<Arc<Metrics>>) -> Response {
    let mut out = String::new();
    out.push_str("# HELP arca_requests_total Requests received, by route.\n# TYPE arca_requests_total counter\n");
    for (i, r) in ROUTES.iter().enumerate() {
        out.push_str(&format!(
            "arca_requests_total{{route=\"{r}\"}} {}\n",
            m.requests[i].load(Relaxed)
        ));
    }
    out.push_str("# HELP arca_responses_total Responses sent, by status class.\n# TYPE arca_responses_total counter\n");
    for (class, v) in [("2xx", &m.status_2xx), ("4xx", &m.status_4xx), ("5xx", &m.status_5xx)] {
        out.push_str(&format!(
            "arca_responses_total{{class=\"{class}\"}} {}\n",
            v.load(Relaxed)
        ));
    }
    out.push_str("# HELP arca_errors_total Server errors (5xx).\n# TYPE arca_errors_total counter\n");
    out.push_str(&format!("arca_errors_total {}\n", m.status_5xx.load(Relaxed)));
    out.push_str("# HELP arca_bytes_in_total Request body bytes received.\n# TYPE arca_bytes_in_total counter\n");
    out.push_str(&format!("arca_bytes_in_total {}\n", m.bytes_in.load(Relaxed)));
    out.push_str("# HELP arca_bytes_out_total Response body bytes sent.\n# TYPE arca_bytes_out_total counter\n");
    out.push_str(&format!("arca_bytes_out_total {}\n", m.bytes_out.load(Relaxed)));
    out.push_str("# HELP arca_in_flight_requests Requests being served now.\n# TYPE arca_in_flight_requests gauge\n");
    // The scrape itself is in flight; it is not counted.
    out.push_str(&format!(
        "arca_in_flight_requests {}\n",
        m.in_flight.load(Relaxed).saturating_sub(1)
    ));
    let mut r = (StatusCode::OK, out).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}
