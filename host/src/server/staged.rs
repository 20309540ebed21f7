//! Multipart uploads for destinations that cannot presign (local disk, NFS,
//! FTP, SFTP, HDFS): this server hands out part URLs that point back at
//! itself, signed (the MLflow client sends parts without credentials),
//! stages the parts in the destination under a hidden prefix, and assembles
//! them with one atomic write on `complete`.
//!
//! Staging lives in the destination store, not on the server's disk, so any
//! of several servers behind a load balancer can take any part (given a
//! shared `ARCA_SIGNING_KEY`). Layout: `.arca-mpu/<upload id>/meta.json` and
//! `.arca-mpu/<upload id>/part-00001` …; stale uploads are removed by
//! [`cleanup`].

use super::api::ApiError;
use super::signing::{Signer, now, random_hex};
use crate::Store;
use arca_core::{ArtifactPath, CHUNK_SIZE, CompletedPart, ErrorKind, MultipartUpload, PresignedPart};
use axum::body::Body;
use bytes::BytesMut;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

/// The hidden prefix; user paths may not start with it.
pub const STAGING: &str = ".arca-mpu";

#[derive(Serialize, Deserialize)]
struct Meta {
    target: String,
    num_parts: u32,
    created: u64,
}

fn staging(rel: &str) -> Result<ArtifactPath, ApiError> {
    ArtifactPath::parse(&format!("{STAGING}/{rel}")).map_err(|_| ApiError::invalid_path())
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!("invalid upload id '{id}'")))
    }
}

fn part_path(id: &str, n: u32) -> Result<ArtifactPath, ApiError> {
    staging(&format!("{id}/part-{n:05}"))
}

async fn meta(store: &Store, id: &str) -> Result<Meta, ApiError> {
    check_id(id)?;
    let bytes = match store.get_bytes(&staging(&format!("{id}/meta.json"))?).await {
        Err(e) if e.kind == ErrorKind::NOT_FOUND => {
            return Err(ApiError::not_found(format!(
                "no multipart upload '{id}' (completed, aborted or expired)"
            )));
        }
        r => r?,
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::from(arca_core::Error::unexpected(format!("corrupt upload record {id}: {e}"))))
}

/// Starts an upload: records it and signs one URL per part.
pub async fn create(
    store: &Store,
    signer: &Signer,
    base_url: &str,
    target: &ArtifactPath,
    num_parts: u32,
    ttl: u64,
) -> Result<MultipartUpload, ApiError> {
    let id = random_hex(16).map_err(|e| ApiError::from(arca_core::Error::unexpected(e)))?;
    let m = Meta {
        target: target.as_str().to_owned(),
        num_parts,
        created: now(),
    };
    let json = serde_json::to_vec(&m).unwrap_or_default();
    store.put_bytes(&staging(&format!("{id}/meta.json"))?, json).await?;
    let parts = (1..=num_parts)
        .map(|n| {
            let q = signer.query("part", &format!("{id}/{n}"), ttl);
            PresignedPart {
                part_number: n,
                url: format!("{base_url}/api/2.0/mlflow-artifacts/mpu-part/{id}/{n}?{q}"),
                headers: Vec::new(),
            }
        })
        .collect();
    Ok(MultipartUpload { upload_id: id, parts })
}

fn etag(id: &str, n: u32, len: u64) -> String {
    format!("\"{id}-{n}-{len}\"")
}

/// Receives one part (already authorised by its signature); returns its ETag.
pub async fn put_part(store: &Store, id: &str, n: u32, body: Body) -> Result<String, ApiError> {
    let m = meta(store, id).await?;
    if n == 0 || n > m.num_parts {
        return Err(ApiError::invalid(format!("part {n} is outside 1..={}", m.num_parts)));
    }
    let mut w = store.write(&part_path(id, n)?).await?;
    let mut stream = body.into_data_stream();
    let (mut buf, mut len) = (BytesMut::new(), 0u64);
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| ApiError::invalid(format!("part {n} of upload {id} was interrupted: {e}")))?;
        len += piece.len() as u64;
        buf.extend_from_slice(&piece);
        if buf.len() >= CHUNK_SIZE {
            w.write(buf.split().freeze()).await?;
        }
    }
    if !buf.is_empty() {
        w.write(buf.freeze()).await?;
    }
    w.finish().await?;
    Ok(etag(id, n, len))
}

/// Assembles the parts, in order, into the target with one atomic write,
/// then removes the staging.
pub async fn complete(store: &Store, target: &ArtifactPath, id: &str, parts: &[CompletedPart]) -> Result<(), ApiError> {
    let m = meta(store, id).await?;
    if m.target != target.as_str() {
        return Err(ApiError::invalid(format!("upload '{id}' is not for '{target}'")));
    }
    let mut sorted: Vec<&CompletedPart> = parts.iter().collect();
    sorted.sort_by_key(|p| p.part_number);
    let numbers: Vec<u32> = sorted.iter().map(|p| p.part_number).collect();
    if numbers != (1..=m.num_parts).collect::<Vec<_>>() {
        return Err(ApiError::invalid(format!(
            "upload '{id}' needs parts 1..={}, got {numbers:?}",
            m.num_parts
        )));
    }
    for p in &sorted {
        let info = match store.stat(&part_path(id, p.part_number)?).await {
            Err(e) if e.kind == ErrorKind::NOT_FOUND => {
                return Err(ApiError::invalid(format!(
                    "part {} of upload '{id}' was never uploaded",
                    p.part_number
                )));
            }
            r => r?,
        };
        if !p.etag.is_empty() && p.etag != etag(id, p.part_number, info.size) {
            return Err(ApiError::invalid(format!(
                "part {} of upload '{id}' does not match its ETag",
                p.part_number
            )));
        }
    }
    let mut w = store.write(target).await?;
    for p in &sorted {
        let mut r = store.read(&part_path(id, p.part_number)?, None).await?;
        while let Some(chunk) = r.next_chunk().await? {
            w.write(chunk).await?;
        }
    }
    w.finish().await?;
    store.delete(&staging(id)?).await?;
    Ok(())
}

/// Drops an upload and its parts.
pub async fn abort(store: &Store, target: &ArtifactPath, id: &str) -> Result<(), ApiError> {
    match meta(store, id).await {
        Ok(m) if m.target != target.as_str() => Err(ApiError::invalid(format!("upload '{id}' is not for '{target}'"))),
        // Aborting what is already gone succeeds.
        Ok(_)
        | Err(ApiError {
            code: "RESOURCE_DOES_NOT_EXIST",
            ..
        }) => {
            store.delete(&staging(id)?).await?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Removes uploads started `max_age` seconds ago or earlier; returns how many.
pub async fn cleanup(store: &Store, max_age: u64) -> Result<usize, ApiError> {
    let root = staging("")?;
    let mut removed = 0;
    for entry in store.list(&root).await? {
        let id = entry.path;
        let stale = match meta(store, &id).await {
            Ok(m) => now().saturating_sub(m.created) >= max_age,
            // Something that is not an upload, or whose record is gone: judge by age.
            Err(_) => entry
                .modified_ms
                .is_some_and(|ms| now().saturating_sub((ms / 1000).max(0) as u64) > max_age),
        };
        if stale {
            store.delete(&staging(&id)?).await?;
            removed += 1;
        }
    }
    Ok(removed)
}
