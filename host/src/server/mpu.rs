//! Multipart uploads (`mpu/create|complete|abort/<dir>`) and presigned
//! downloads (`presigned/<path>`).
//!
//! Where the destination's plugin can presign part uploads, `create` hands
//! out the backend's URLs. Otherwise the answer is MLflow's exact 501, which
//! makes the MLflow client fall back to a single PUT.

use super::AppState;
use super::api::{ApiError, empty_json, json_response, parse_path};
use arca_core::{ArtifactPath, CompletedPart};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// MLflow's exact text; its client matches on it to fall back.
pub const MPU_UNSUPPORTED: &str = "Multipart upload is not supported for the current artifact repository";
/// MLflow's exact text for presigned downloads.
pub const MPD_UNSUPPORTED: &str = "Multipart download is not supported for the current artifact repository";

#[derive(Deserialize)]
struct CreateBody {
    path: Option<String>,
    #[serde(default)]
    num_parts: Option<u32>,
}

#[derive(Deserialize)]
struct PartBody {
    part_number: u32,
    #[serde(default)]
    etag: String,
    #[serde(default)]
    url: String,
}

#[derive(Deserialize)]
struct CompleteBody {
    path: Option<String>,
    #[serde(default)]
    upload_id: String,
    parts: Option<Vec<PartBody>>,
}

#[derive(Deserialize)]
struct AbortBody {
    path: Option<String>,
    #[serde(default)]
    upload_id: String,
}

fn missing(param: &str) -> ApiError {
    ApiError::invalid(format!(
        "Missing value for required parameter '{param}'. See the API docs for more information about request parameters."
    ))
}

fn body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "MALFORMED_REQUEST", e.to_string()))
}

/// The file a multipart call is about: the URL names the directory, the
/// body the file; older clients sent a whole local path, so only its last
/// component counts (as MLflow does, on either separator).
fn target(raw_dir: &str, file: Option<String>) -> Result<ArtifactPath, ApiError> {
    let file = file.ok_or_else(|| missing("path"))?;
    let base = file.rsplit(['/', '\\']).next().unwrap_or_default();
    if base.is_empty() {
        return Err(missing("path"));
    }
    let dir = parse_path(raw_dir)?;
    dir.join(base).map_err(|_| ApiError::invalid_path())
}

pub async fn create(app: &AppState, raw_dir: &str, bytes: &[u8]) -> Result<Response, ApiError> {
    let b: CreateBody = body(bytes)?;
    let path = target(raw_dir, b.path)?;
    if !app.multipart_uploads() {
        return Err(ApiError::not_implemented(MPU_UNSUPPORTED));
    }
    let num_parts = b.num_parts.unwrap_or(1).clamp(1, 10_000);
    let up = app.store.multipart_create(&path, num_parts).await?;
    let credentials: Vec<serde_json::Value> = up
        .parts
        .into_iter()
        .map(|p| {
            let mut m = serde_json::Map::new();
            m.insert("url".into(), p.url.into());
            m.insert("part_number".into(), p.part_number.into());
            if !p.headers.is_empty() {
                let h: serde_json::Map<String, serde_json::Value> =
                    p.headers.into_iter().map(|(k, v)| (k, v.into())).collect();
                m.insert("headers".into(), h.into());
            }
            serde_json::Value::Object(m)
        })
        .collect();
    let mut resp = serde_json::Map::new();
    if !up.upload_id.is_empty() {
        resp.insert("upload_id".into(), up.upload_id.into());
    }
    resp.insert("credentials".into(), credentials.into());
    Ok(json_response(StatusCode::OK, &serde_json::Value::Object(resp)))
}

pub async fn complete(app: &AppState, raw_dir: &str, bytes: &[u8]) -> Result<Response, ApiError> {
    let b: CompleteBody = body(bytes)?;
    let path = target(raw_dir, b.path)?;
    let parts = b.parts.ok_or_else(|| missing("parts"))?;
    if !app.multipart_uploads() {
        return Err(ApiError::not_implemented(MPU_UNSUPPORTED));
    }
    let parts: Vec<CompletedPart> = parts
        .into_iter()
        .map(|p| CompletedPart {
            part_number: p.part_number,
            etag: p.etag,
            url: p.url,
        })
        .collect();
    app.store.multipart_complete(&path, &b.upload_id, &parts).await?;
    Ok(empty_json())
}

pub async fn abort(app: &AppState, raw_dir: &str, bytes: &[u8]) -> Result<Response, ApiError> {
    let b: AbortBody = body(bytes)?;
    let path = target(raw_dir, b.path)?;
    if !app.multipart_uploads() {
        return Err(ApiError::not_implemented(MPU_UNSUPPORTED));
    }
    app.store.multipart_abort(&path, &b.upload_id).await?;
    Ok(empty_json())
}

pub async fn presigned(app: &AppState, raw: &str) -> Result<Response, ApiError> {
    let _path = parse_path(raw)?;
    if !app.multipart_downloads() {
        return Err(ApiError::not_implemented(MPD_UNSUPPORTED));
    }
    Err(ApiError::not_implemented(MPD_UNSUPPORTED))
}
