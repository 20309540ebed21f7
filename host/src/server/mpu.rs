//! Multipart uploads (`mpu/create|complete|abort/<dir>`) and presigned
//! downloads (`presigned/<path>`).
//!
//! Where the destination's plugin can presign part uploads, `create` hands
//! out the backend's URLs and the parts never pass through this server.
//! Otherwise the server stages the parts itself ([`super::staged`]).
//! Presigned downloads are the backend's own URLs where the plugin can
//! presign reads (the bytes never pass through this server), and otherwise
//! server-signed URLs back to this server; both honour `Range`, so the
//! MLflow client's parallel chunked download works against every
//! destination.

use super::api::{ApiError, empty_json, json_response, parse_path};
use super::{AppState, staged};
use arca_core::{ArtifactPath, CompletedPart};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

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
    // MLflow's client sends `"upload_id": null` for Azure, whose uploads
    // have no id.
    #[serde(default, deserialize_with = "null_as_empty")]
    upload_id: String,
    parts: Option<Vec<PartBody>>,
}

#[derive(Deserialize)]
struct AbortBody {
    path: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    upload_id: String,
}

/// A string field that may be `null` (read as empty).
fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
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

pub async fn create(app: &AppState, raw_dir: &str, bytes: &[u8], base_url: &str) -> Result<Response, ApiError> {
    let b: CreateBody = body(bytes)?;
    let path = target(raw_dir, b.path)?;
    let num_parts = b.num_parts.unwrap_or(1).clamp(1, 10_000);
    let up = if app.store.capabilities().multipart {
        app.store.multipart_create(&path, num_parts).await?
    } else {
        staged::create(&app.store, &app.signer, base_url, &path, num_parts, app.part_url_ttl).await?
    };
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
    let parts: Vec<CompletedPart> = parts
        .into_iter()
        .map(|p| CompletedPart {
            part_number: p.part_number,
            etag: p.etag,
            url: p.url,
        })
        .collect();
    if app.store.capabilities().multipart {
        app.store.multipart_complete(&path, &b.upload_id, &parts).await?;
    } else {
        staged::complete(&app.store, &path, &b.upload_id, &parts).await?;
    }
    Ok(empty_json())
}

pub async fn abort(app: &AppState, raw_dir: &str, bytes: &[u8]) -> Result<Response, ApiError> {
    let b: AbortBody = body(bytes)?;
    let path = target(raw_dir, b.path)?;
    if app.store.capabilities().multipart {
        app.store.multipart_abort(&path, &b.upload_id).await?;
    } else {
        staged::abort(&app.store, &path, &b.upload_id).await?;
    }
    Ok(empty_json())
}

/// Percent-encodes a path for a URL, segment by segment.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET presigned/<path>`: `{url, headers, file_size}` for a signed,
/// expiring download URL back to this server.
pub async fn presigned(app: &AppState, raw: &str, base_url: &str) -> Result<Response, ApiError> {
    let path = parse_path(raw)?;
    let info = match app.store.stat(&path).await {
        Err(e) if e.kind == arca_core::ErrorKind::NOT_FOUND => {
            return Err(ApiError::not_found(format!("No such artifact: '{path}'")));
        }
        r => r?,
    };
    if info.is_dir {
        return Err(ApiError::invalid(format!(
            "Artifact path refers to a directory, not a file: '{path}'"
        )));
    }
    // The backend's own URL where it can sign one; otherwise (no such
    // capability, or a store whose credentials cannot sign) a URL this
    // server signs back to itself, so the client's ranged download works
    // for every destination.
    let backend = if app.store.capabilities().presigned_read {
        match app.store.presign_read(&path, app.download_url_ttl).await {
            Ok(p) => Some((p.url, p.headers)),
            Err(e) if e.kind == arca_core::ErrorKind::UNSUPPORTED => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let (url, headers) = backend.unwrap_or_else(|| {
        let q = app.signer.query("get", path.as_str(), app.download_url_ttl);
        let url = format!(
            "{base_url}/api/2.0/mlflow-artifacts/signed/{}?{q}",
            encode_path(path.as_str())
        );
        (url, Vec::new())
    });
    let headers: serde_json::Map<String, serde_json::Value> = headers.into_iter().map(|(k, v)| (k, v.into())).collect();
    let mut body = serde_json::Map::new();
    body.insert("url".into(), url.into());
    body.insert("headers".into(), headers.into());
    if info.size > 0 {
        body.insert("file_size".into(), info.size.into());
    }
    Ok(json_response(StatusCode::OK, &serde_json::Value::Object(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_null_upload_id_reads_as_none_given() {
        let b: CompleteBody =
            body(br#"{"path": "a.bin", "upload_id": null, "parts": []}"#).unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(b.upload_id, "");
        let b: AbortBody = body(br#"{"path": "a.bin"}"#).unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(b.upload_id, "");
        let b: AbortBody =
            body(br#"{"path": "a.bin", "upload_id": "u-1"}"#).unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(b.upload_id, "u-1");
    }
}
