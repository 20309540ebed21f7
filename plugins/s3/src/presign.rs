//! Presigned `GET` URLs, so a proxy can send clients straight to S3 for a
//! download (MLflow's `presigned/<path>` route). Like the part URLs of a
//! multipart upload they come with the SSE-C and expected-owner headers the
//! client must send.

use crate::store::Shared;
use arca_core::{ArtifactPath, Error, ErrorKind, PresignedUrl, Result};
use object_store::signer::{Method, SignedUrlOptions, Signer};
use std::time::Duration;

/// The longest validity SigV4 allows (7 days).
const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// A URL that `GET`s the object at `path` for `ttl` (clamped to 1 s … 7
/// days). Like MLflow's, it asks S3 to answer with
/// `Content-Disposition: attachment; filename="<name>"` and no content
/// encoding, so a browser saves the file as it is.
pub(crate) async fn presign_read(shared: &Shared, path: &ArtifactPath, ttl: Duration) -> Result<PresignedUrl> {
    if path.is_root() {
        return Err(Error::new(
            ErrorKind::IS_A_DIRECTORY,
            "cannot presign the store root: it is a directory",
        ));
    }
    let key = shared.key(path);
    let location = shared.location(&key)?;
    let name = path.as_str().rsplit('/').next().unwrap_or_default();
    // A quote or backslash would end the quoted file name early.
    let name: String = name.chars().filter(|c| !matches!(c, '"' | '\\')).collect();
    let mut opts = SignedUrlOptions::default().with_query([
        (
            "response-content-disposition",
            format!("attachment; filename=\"{name}\""),
        ),
        ("response-content-encoding", "identity".to_owned()),
    ]);
    // SSE-C and expected-owner headers: the client must send them, and the
    // signature covers them.
    for (k, v) in &shared.part_headers {
        opts = opts.with_signed_header(k.clone(), v.clone());
    }
    let headers = shared.client_headers();
    let ttl = ttl.clamp(Duration::from_secs(1), MAX_TTL);
    let url = shared
        .client
        .signed_url_opts(Method::GET, &location, ttl, &opts)
        .await
        .map_err(|e| shared.error("presign a download of", &key, e))?;
    Ok(PresignedUrl {
        url: url.to_string(),
        headers,
    })
}
