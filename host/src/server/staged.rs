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
//! [`cleanup`]. On a destination on this machine that can rename, parts are
//! written in place instead and `complete` is a rename ([`super::inplace`]).

use super::api::ApiError;
use super::inplace;
use super::signing::{Signer, now, random_hex};
use crate::Store;
use arca_core::{ArtifactPath, ByteRange, CHUNK_SIZE, CompletedPart, ErrorKind, MultipartUpload, PresignedPart};
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
    if inplace::usable(store) {
        store
            .put_bytes(&inplace::data_path(&staging(&id)?)?, Vec::new())
            .await?;
    }
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
pub async fn put_part(
    store: &Store,
    id: &str,
    n: u32,
    content_length: Option<u64>,
    body: Body,
) -> Result<String, ApiError> {
    let m = meta(store, id).await?;
    if n == 0 || n > m.num_parts {
        return Err(ApiError::invalid(format!("part {n} is outside 1..={}", m.num_parts)));
    }
    let body = if inplace::usable(store) && created_in_place(store, id).await? {
        match inplace::put_part(store, &staging(id)?, n, m.num_parts, content_length, body).await? {
            Ok(len) => return Ok(etag(id, n, len)),
            Err(body) => body,
        }
    } else {
        body
    };
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

/// Whether the upload has a data file to write parts into (one started by
/// a server that does not write in place has none).
async fn created_in_place(store: &Store, id: &str) -> Result<bool, ApiError> {
    match store.stat(&inplace::data_path(&staging(id)?)?).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind == ErrorKind::NOT_FOUND => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Where a part's bytes are: in place in the data file, or staged alone.
struct Part {
    n: u32,
    len: u64,
    placed: bool,
}

/// Assembles the parts, in order, into the target, and removes the staging:
/// where the parts were written in place, a rename of the data file;
/// elsewhere one atomic write of the parts joined.
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
    let dir = staging(id)?;
    let in_place = inplace::usable(store) && created_in_place(store, id).await?;
    let mut found = Vec::with_capacity(sorted.len());
    for p in &sorted {
        let n = p.part_number;
        let placed = if in_place {
            inplace::placed(store, &dir, n).await?
        } else {
            None
        };
        let part = match placed {
            Some(len) => Part { n, len, placed: true },
            None => match store.stat(&part_path(id, n)?).await {
                Err(e) if e.kind == ErrorKind::NOT_FOUND => {
                    return Err(ApiError::invalid(format!(
                        "part {n} of upload '{id}' was never uploaded"
                    )));
                }
                r => Part {
                    n,
                    len: r?.size,
                    placed: false,
                },
            },
        };
        if !p.etag.is_empty() && p.etag != etag(id, n, part.len) {
            return Err(ApiError::invalid(format!(
                "part {n} of upload '{id}' does not match its ETag"
            )));
        }
        found.push(part);
    }
    let total: u64 = found.iter().map(|p| p.len).sum();
    let size = if in_place {
        inplace::size(store, &dir).await?
    } else {
        None
    };
    let data = inplace::data_path(&dir)?;
    if in_place && let Some(s) = size.or_else(|| (found.len() == 1).then_some(total)) {
        let (last, rest) = found.split_last().map_or((0, &[][..]), |(l, r)| (l.len, r));
        if last <= s && rest.iter().all(|p| p.len == s) {
            let mut staged = Vec::new();
            for p in found.iter().filter(|p| !p.placed) {
                staged.push((p.n, part_path(id, p.n)?));
            }
            inplace::finish(store, &dir, s, staged, total).await?;
            match store.rename(&data, target).await {
                Ok(()) => {}
                // Another file system under the same root (a mount point
                // between them): write the assembled file across instead.
                Err(e) if e.kind != ErrorKind::NOT_FOUND => join(store, target, &[(data, None)]).await?,
                Err(e) => return Err(e.into()),
            }
            store.delete(&dir).await?;
            return Ok(());
        }
    }
    // Parts of several sizes, or a store that cannot rename: join them.
    let mut sources = Vec::with_capacity(found.len());
    for p in &found {
        sources.push(if p.placed {
            let start = u64::from(p.n - 1) * size.unwrap_or(0);
            let range = ByteRange {
                start,
                end: Some(start + p.len),
            };
            (data.clone(), Some(range))
        } else {
            (part_path(id, p.n)?, None)
        });
    }
    join(store, target, &sources).await?;
    store.delete(&dir).await?;
    Ok(())
}

/// Writes the sources (whole files, or byte ranges of them), in order, to
/// `target` with one atomic write.
async fn join(
    store: &Store,
    target: &ArtifactPath,
    sources: &[(ArtifactPath, Option<ByteRange>)],
) -> Result<(), ApiError> {
    let mut w = store.write(target).await?;
    for (path, range) in sources {
        if range.is_some_and(|r| r.end == Some(r.start)) {
            continue;
        }
        let mut r = store.read(path, *range).await?;
        while let Some(chunk) = r.next_chunk().await? {
            w.write(chunk).await?;
        }
    }
    w.finish().await?;
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
