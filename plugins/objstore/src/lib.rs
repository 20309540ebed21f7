//! # arca-objstore: what the object-store plugins share
//!
//! Not a plugin: a library that Arca's own `s3`, `azure` and `gcs` plugins
//! link statically (each plugin library carries its own copy, so nothing
//! crosses the plugin boundary but `arca-core`'s types). It holds the parts
//! of a backend that only depend on [`object_store::ObjectStore`]:
//!
//! - [`Bucket`]: the one place an [`ArtifactPath`] becomes an object key
//!   under the store's root prefix, and the URL that names it in errors;
//! - [`reader`]: streamed reads whose first ranged `GET` tells the size, the
//!   rest fetched as concurrent ranged `GET`s ([`parts`]) handed on in order,
//!   each guarded by the first response's ETag;
//! - [`writer`]: writes buffered up to one part and sent as one `PUT`, or
//!   uploaded as parts several at a time and published only on `finish`;
//! - [`lister`]: one level of a delimiter listing, sorted by name and paged;
//! - [`Bucket::delete_tree`]: a key and everything under `key/`, missing
//!   keys being success;
//! - [`settings`]: a setting from the configuration map, else from MLflow's
//!   environment variable, with its source named in errors.
//!
//! What differs between backends stays in each plugin: URIs, credentials,
//! error classification (passed in as an [`ErrorFn`]), multipart through
//! presigned URLs, and anything a backend's own API needs.

pub mod error;
pub mod lister;
pub mod log;
pub mod parts;
pub mod reader;
pub mod settings;
#[doc(hidden)]
pub mod testing;
pub mod writer;

pub use reader::ObjectReader;
pub use writer::ObjectWriter;

use arca_core::{ArtifactPath, Error, ErrorKind, Result};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::sync::Arc;

/// Maps an object_store error met while doing `action` (a verb such as
/// `read`) on `key` of `bucket` onto Arca's error, in one function per
/// backend.
pub type ErrorFn = fn(action: &str, bucket: &str, key: &str, e: object_store::Error) -> Error;

/// One prefix of one bucket (container), as a store sees it.
#[derive(Clone)]
pub struct Bucket {
    /// The backend's client.
    pub client: Arc<dyn ObjectStore>,
    /// The same client's one-page listings (a single key asked for, where
    /// only whether anything exists matters).
    pub pages: Arc<dyn PaginatedListStore>,
    /// The URI scheme errors name (`s3`, `wasbs`, `gs`).
    pub scheme: &'static str,
    /// The bucket as errors name it after `scheme://` (for Azure,
    /// `container@account.blob.core.windows.net`).
    pub bucket: String,
    /// The root prefix, without slashes at either end.
    pub prefix: String,
    /// The backend's error classification.
    pub error: ErrorFn,
    /// How large reads are split into requests.
    pub plan: parts::Plan,
    /// How [`Bucket::delete_tree`] deletes one key when the backend's bulk
    /// delete cannot be used; `None`: object_store's (bulk) deletes.
    pub single_delete: Option<SingleDelete>,
}

/// Deletes one key (a backend's own request, where object_store only has a
/// bulk delete that a credential or server cannot use).
pub type SingleDelete = Arc<dyn Fn(Path) -> BoxFuture<'static, object_store::Result<()>> + Send + Sync>;

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("scheme", &self.scheme)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Bucket {
    /// A bucket over `client`, deleting with its bulk deletes.
    pub fn new<S>(client: S, scheme: &'static str, bucket: String, prefix: String, error: ErrorFn) -> Self
    where
        S: ObjectStore + PaginatedListStore + Clone,
    {
        Self {
            client: Arc::new(client.clone()),
            pages: Arc::new(client),
            scheme,
            bucket,
            prefix,
            error,
            plan: parts::Plan::DEFAULT,
            single_delete: None,
        }
    }

    /// The object key of `path` (empty for the root of a bucket-wide store).
    pub fn key(&self, path: &ArtifactPath) -> String {
        match (self.prefix.is_empty(), path.is_root()) {
            (_, true) => self.prefix.clone(),
            (true, false) => path.as_str().to_owned(),
            (false, false) => format!("{}/{}", self.prefix, path.as_str()),
        }
    }

    /// The key prefix of everything under `path` (ends with `/`, or is
    /// empty for the root of a bucket-wide store).
    pub fn dir_prefix(&self, path: &ArtifactPath) -> String {
        let key = self.key(path);
        if key.is_empty() { key } else { format!("{key}/") }
    }

    /// The object_store path of `key`, verbatim: keys are the ones MLflow's
    /// own clients use.
    pub fn location(&self, key: &str) -> Result<Path> {
        Path::parse(key).map_err(|e| Error::invalid_input(format!("invalid object key {key:?}: {e}")))
    }

    /// `scheme://bucket/key`, as errors name an object.
    pub fn url(&self, key: &str) -> String {
        format!("{}://{}/{key}", self.scheme, self.bucket)
    }

    /// Classifies `e`, met while doing `action` on `key`.
    pub fn error(&self, action: &str, key: &str, e: object_store::Error) -> Error {
        (self.error)(action, &self.bucket, key, e)
    }

    /// The error of a missing file or directory `key`.
    pub fn not_found(&self, key: &str) -> Error {
        Error::not_found(format!("no such file or directory: {}", self.url(key))).with("bucket", &self.bucket)
    }

    /// Whether any key lies under `prefix` (which ends with `/`): one
    /// listing request for at most one key.
    pub async fn any_under(&self, prefix: &str) -> Result<bool> {
        let opts = PaginatedListOptions {
            max_keys: Some(1),
            ..PaginatedListOptions::default()
        };
        let page = self
            .pages
            .list_paginated(Some(prefix), opts)
            .await
            .map_err(|e| self.error("list", prefix, e))?;
        Ok(!page.result.objects.is_empty() || !page.result.common_prefixes.is_empty())
    }

    /// Describes `path`: a file if its key exists, a directory if any key
    /// lies under `key/` (or it is the root, which always exists).
    pub async fn stat(&self, path: &ArtifactPath) -> Result<arca_core::FileInfo> {
        let dir = |path: &ArtifactPath| arca_core::FileInfo {
            path: path.as_str().to_owned(),
            is_dir: true,
            size: 0,
            modified_ms: None,
        };
        if path.is_root() {
            return Ok(dir(path));
        }
        let key = self.key(path);
        match self.client.head(&self.location(&key)?).await {
            Ok(meta) => {
                return Ok(arca_core::FileInfo {
                    path: path.as_str().to_owned(),
                    is_dir: false,
                    size: meta.size,
                    modified_ms: Some(meta.last_modified.timestamp_millis()),
                });
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                let e = self.error("stat", &key, e);
                match e.kind {
                    ErrorKind::NOT_FOUND => {}
                    // A HEAD response has no body, so a refused credential
                    // and a denied key are both a bare 403; the listing
                    // says which (its body carries the error code).
                    ErrorKind::PERMISSION_DENIED => {
                        self.any_under(&format!("{key}/")).await?;
                        return Err(e);
                    }
                    _ => return Err(e),
                }
            }
        }
        if self.any_under(&format!("{key}/")).await? {
            return Ok(dir(path));
        }
        Err(self.not_found(&key))
    }

    /// Deletes the key of `path` and every key under `path/` (never keys
    /// that merely start with the same string); missing keys are success.
    pub async fn delete_tree(&self, path: &ArtifactPath) -> Result<()> {
        let key = self.key(path);
        if !path.is_root() {
            let location = self.location(&key)?;
            let deleted = match &self.single_delete {
                Some(delete) => delete(location).await,
                None => self.client.delete(&location).await,
            };
            match deleted {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    let e = self.error("delete", &key, e);
                    if e.kind != ErrorKind::NOT_FOUND {
                        return Err(e);
                    }
                }
            }
        }
        // object_store lists whole segments under a prefix, so `run1` never
        // reaches `run10/`.
        let prefix = if key.is_empty() {
            None
        } else {
            Some(self.location(&key)?)
        };
        let keys = self.client.list(prefix.as_ref()).map(|r| r.map(|m| m.location)).boxed();
        let mut deleted = match &self.single_delete {
            None => self.client.delete_stream(keys),
            Some(delete) => keys
                .map(move |r| {
                    let delete = delete.clone();
                    async move {
                        let location = r?;
                        delete(location.clone()).await.map(|()| location)
                    }
                })
                .buffer_unordered(DELETES_IN_FLIGHT)
                .boxed(),
        };
        while let Some(r) = deleted.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => {
                    let e = self.error("delete", &key, e);
                    if e.kind != ErrorKind::NOT_FOUND {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }
}

/// How many single deletes [`Bucket::delete_tree`] sends at once without
/// bulk deletes.
const DELETES_IN_FLIGHT: usize = 16;

/// The error of writing or reading the store root.
pub fn root_is_a_directory(what: &str) -> Error {
    Error::new(
        ErrorKind::IS_A_DIRECTORY,
        format!("cannot {what} the store root: it is a directory"),
    )
}
