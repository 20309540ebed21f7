//! The artifact routes: download (with `Range`), upload, list and delete,
//! streaming both ways through the destination store.

use super::AppState;
use super::api::{ApiError, empty_json, parse_path};
use super::mime::{content_disposition, mime_type};
use super::range::{self, RangeAsk};
use arca_core::{ArtifactPath, ByteRange, CHUNK_SIZE, ErrorKind};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use futures_util::StreamExt;

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// `GET …/artifacts/<path>`: the file, streamed; one byte range if asked.
pub async fn download(app: &AppState, raw: &str, headers: &HeaderMap, head: bool) -> Result<Response, ApiError> {
    send_file(app, &parse_path(raw)?, headers, head).await
}

/// Streams a file whose path is already checked (and, for signed URLs,
/// authorised); `head`: answer a HEAD (the same headers, no body).
pub async fn send_file(
    app: &AppState,
    path: &ArtifactPath,
    headers: &HeaderMap,
    head: bool,
) -> Result<Response, ApiError> {
    if !head
        && headers.get(header::RANGE).is_none()
        && let Some(resp) = read_first(app, path).await?
    {
        return Ok(resp);
    }
    let path = path.clone();
    let shown = path.as_str();
    let info = match app.store.stat(&path).await {
        Err(e) if e.kind == ErrorKind::NOT_FOUND => {
            return Err(ApiError::not_found(format!("No such artifact: '{shown}'")));
        }
        r => r?,
    };
    if info.is_dir {
        return Err(ApiError::invalid(format!(
            "Artifact path refers to a directory, not a file: '{shown}'"
        )));
    }
    let name = path.file_name().unwrap_or_default();
    let size = info.size;
    let ask = range::parse(headers.get(header::RANGE).and_then(|v| v.to_str().ok()), size);
    let (status, range, len) = match ask {
        RangeAsk::Whole => (StatusCode::OK, None, size),
        RangeAsk::Part { start, end } => (
            StatusCode::PARTIAL_CONTENT,
            Some(ByteRange {
                start,
                end: Some(end + 1),
            }),
            end - start + 1,
        ),
        RangeAsk::Unsatisfiable => {
            let mut r = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "INVALID_PARAMETER_VALUE",
                format!("Requested range not satisfiable for '{shown}' ({size} bytes)"),
            )
            .into_response();
            r.headers_mut()
                .insert(header::CONTENT_RANGE, header_value(&format!("bytes */{size}")));
            return Ok(r);
        }
    };
    let reader = if len == 0 {
        None
    } else {
        Some(app.store.read(&path, range).await?)
    };
    let body = match reader {
        Some(r) => Body::from_stream(r),
        None => Body::empty(),
    };
    let mut resp = file_response(status, body, name, len);
    let h = resp.headers_mut();
    if let Some(r) = range {
        let end = r.end.unwrap_or(size);
        h.insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {}-{}/{size}", r.start, end - 1)),
        );
    }
    Ok(resp)
}

/// A response carrying (part of) the file `name`, `len` bytes.
fn file_response(status: StatusCode, body: Body, name: &str, len: u64) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime_type(name)));
    h.insert(header::CONTENT_DISPOSITION, header_value(&content_disposition(name)));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

/// A whole-file GET without a `stat`: the file is opened and read up to its
/// second chunk first. A file that ends within one chunk (every small
/// artifact) is answered with what was read, so on a remote store it costs
/// one round trip instead of two; a longer one is described by a `stat`
/// then streamed from where the reading stopped. `None` when reading fails
/// before the first byte (missing, a directory, or any other error): the
/// caller's `stat` then says what the path is, as it would without this.
async fn read_first(app: &AppState, path: &ArtifactPath) -> Result<Option<Response>, ApiError> {
    let Ok(mut reader) = app.store.read(path, None).await else {
        return Ok(None);
    };
    let mut first = Vec::with_capacity(2);
    for _ in 0..2 {
        match reader.next_chunk().await {
            Ok(Some(c)) => first.push(c),
            Ok(None) => break,
            Err(_) if first.is_empty() => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    let name = path.file_name().unwrap_or_default();
    if first.len() < 2 {
        let bytes = first.pop().unwrap_or_default();
        let len = bytes.len() as u64;
        return Ok(Some(file_response(StatusCode::OK, Body::from(bytes), name, len)));
    }
    let size = app.store.stat(path).await?.size;
    let rest = futures_util::stream::iter(first.into_iter().map(Ok::<_, arca_core::Error>)).chain(reader);
    Ok(Some(file_response(StatusCode::OK, Body::from_stream(rest), name, size)))
}

/// `PUT …/artifacts/<path>`: the raw body, streamed into the store and
/// published atomically when complete. A broken upload publishes nothing.
pub async fn upload(app: &AppState, raw: &str, body: Body) -> Result<Response, ApiError> {
    if raw.is_empty() || raw.ends_with('/') {
        return Err(ApiError::invalid(
            "Artifact path must include a filename (cannot end with '/').",
        ));
    }
    let path = parse_path(raw)?;
    let mut writer = app.store.write(&path).await?;
    let mut stream = body.into_data_stream();
    // Network reads arrive in small pieces; they are gathered into chunks of
    // the store's chunk size so each crossing of the plugin boundary carries
    // a useful amount of data.
    let mut buf = BytesMut::new();
    let mut total: u64 = 0;
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| ApiError::invalid(format!("upload of '{}' was interrupted: {e}", path)))?;
        total += piece.len() as u64;
        if let Some(limit) = app.max_upload_size
            && total > limit
        {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "INVALID_PARAMETER_VALUE",
                format!("upload of '{path}' exceeds the server's limit of {limit} bytes"),
            ));
        }
        if buf.is_empty() && piece.len() >= CHUNK_SIZE {
            writer.write(piece).await?;
            continue;
        }
        buf.extend_from_slice(&piece);
        if buf.len() >= CHUNK_SIZE {
            writer.write(buf.split().freeze()).await?;
        }
    }
    if !buf.is_empty() {
        writer.write(buf.freeze()).await?;
    }
    writer.finish().await?;
    Ok(StatusCode::OK.into_response())
}

/// `GET …/artifacts?path=`: the immediate children, as basenames;
/// `file_size` left out for directories and empty files; `{}` when there is
/// nothing to list (an empty or missing directory, or a file).
pub async fn list(app: &AppState, raw: Option<String>) -> Result<Response, ApiError> {
    let path = parse_path(raw.as_deref().unwrap_or(""))?;
    let mut entries = match app.store.list(&path).await {
        Err(e) if e.kind == ErrorKind::NOT_FOUND => Vec::new(),
        r => r?,
    };
    if path.is_root() {
        entries.retain(|e| e.path != super::staged::STAGING);
    }
    let mut resp = (StatusCode::OK, super::api::list_json(&entries)).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// `DELETE …/artifacts/<path>`: recursive and idempotent.
pub async fn delete(app: &AppState, raw: &str) -> Result<Response, ApiError> {
    let path = parse_path(raw)?;
    if path.is_root() {
        return Err(ApiError::invalid(
            "refusing to delete the whole artifact destination: name a path",
        ));
    }
    app.store.delete(&path).await?;
    Ok(empty_json())
}
