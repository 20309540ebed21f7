//! [`HdfsStore`]: the [`Store`] implementation over one `hdfs_native`
//! client (one NameNode connection, shared by every operation; DataNode
//! connections per block transfer). Paths are absolute in the file system:
//! the store root joined with the artifact path.

use crate::config::HdfsConfig;
use crate::error::hdfs_error;
use crate::lister;
use crate::reader::{self, HdfsReader};
use crate::writer::{self, HdfsWriter};
use arca_core::{ArtifactPath, ByteRange, Error, ErrorKind, FileInfo, ListPage, Result, Store};
use hdfs_native::{Client, ClientBuilder, HdfsError};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The client setting for how many times a call fails over to another
/// NameNode (each round after the first sleeping with back-off).
const FAILOVER_ATTEMPTS: &str = "dfs.client.failover.max.attempts";

/// A store over one directory of one HDFS (or ViewFS) file system.
#[derive(Clone, Debug)]
pub struct HdfsStore {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) client: Client,
    pub(crate) root: String,
    /// The file system as messages name it.
    pub(crate) server: String,
    pub(crate) timeout: Option<Duration>,
}

impl HdfsStore {
    /// Builds the client; nothing is sent until the first operation.
    pub fn open(config: HdfsConfig) -> Result<Self> {
        let server = config.server();
        let mut builder = ClientBuilder::new();
        if let Some(url) = config.url() {
            builder = builder.with_url(url);
        }
        if let Some(dir) = &config.conf_dir {
            builder = builder.with_config_dir(dir.clone());
        }
        // The host retries temporary failures: the client makes one pass
        // over the NameNodes (both of an HA pair) and fails, instead of its
        // default 15 failover rounds with back-off (about three minutes
        // before a dead NameNode is reported). `extra_conf` can say otherwise.
        let mut settings = vec![(FAILOVER_ATTEMPTS.to_owned(), "1".to_owned())];
        settings.retain(|(k, _)| !config.extra_conf.iter().any(|(e, _)| e == k));
        settings.extend(config.extra_conf.iter().cloned());
        builder = builder.with_config(settings);
        if let Some(user) = &config.user {
            builder = builder.with_user(user.clone());
        }
        if let Some(cache) = &config.kerberos_cache {
            let principal = match &config.kerberos_principal {
                Some(p) => p.clone(),
                None => crate::ccache::principal_of(cache)?,
            };
            builder = builder
                .with_kerberos_principal(principal)
                .with_kerberos_cache(cache.clone());
        }
        let client = builder.build().map_err(|e| {
            let e = hdfs_error("connect to", &server, "", e);
            Error::new(ErrorKind::CONFIG_INVALID, e.message)
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                root: config.root,
                server,
                timeout: config.timeout,
            }),
        })
    }

    /// The absolute path of `path` in the file system.
    pub(crate) fn full(&self, path: &ArtifactPath) -> String {
        let root = self.inner.root.trim_end_matches('/');
        if path.is_root() {
            if root.is_empty() {
                "/".to_owned()
            } else {
                root.to_owned()
            }
        } else {
            format!("{root}/{}", path.as_str())
        }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Runs one client call on `full`, bounded by the idle timeout, its
    /// failure classified.
    pub(crate) async fn call<T>(
        &self,
        action: &str,
        full: &str,
        f: impl Future<Output = std::result::Result<T, HdfsError>>,
    ) -> Result<T> {
        let r = match self.inner.timeout {
            Some(t) => match tokio::time::timeout(t, f).await {
                Ok(r) => r,
                Err(_) => return Err(Error::stalled(action, &self.inner.server, full, t.as_secs_f64())),
            },
            None => f.await,
        };
        r.map_err(|e| hdfs_error(action, &self.inner.server, full, e))
    }
}

impl Store for HdfsStore {
    type Reader = HdfsReader;
    type Writer = HdfsWriter;

    async fn stat(&self, path: &ArtifactPath) -> Result<FileInfo> {
        let full = self.full(path);
        match self.call("stat", &full, self.client().get_file_info(&full)).await {
            Ok(s) => Ok(FileInfo {
                path: path.as_str().to_owned(),
                is_dir: s.isdir,
                size: if s.isdir { 0 } else { s.length as u64 },
                modified_ms: i64::try_from(s.modification_time).ok(),
            }),
            // A store root not made yet is an empty directory.
            Err(e) if e.kind == ErrorKind::NOT_FOUND && path.is_root() => Ok(FileInfo {
                path: String::new(),
                is_dir: true,
                size: 0,
                modified_ms: None,
            }),
            Err(e) => Err(e),
        }
    }

    async fn list(&self, path: &ArtifactPath, token: Option<&str>, page_size: usize) -> Result<ListPage> {
        let full = self.full(path);
        let entries = lister::entries(self, &full).await?;
        Ok(ListPage::from_sorted(entries, token, page_size))
    }

    async fn read(&self, path: &ArtifactPath, range: Option<ByteRange>) -> Result<HdfsReader> {
        reader::open(self, path, range).await
    }

    async fn write(&self, path: &ArtifactPath) -> Result<HdfsWriter> {
        writer::open(self, path).await
    }

    /// Deletes a file, or a directory with everything in it (the directory
    /// too: MLflow's repository keeps it); a missing path is success. The
    /// file system's own root is emptied, never removed.
    async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        let full = self.full(path);
        if full == "/" {
            for e in lister::entries(self, "/").await? {
                let child = format!("/{}", e.path);
                self.call("delete", &child, self.client().delete(&child, true)).await?;
            }
            return Ok(());
        }
        // `false` is "nothing there": success all the same.
        self.call("delete", &full, self.client().delete(&full, true))
            .await
            .map(drop)
    }
}
