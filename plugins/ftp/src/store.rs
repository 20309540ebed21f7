//! [`FtpStore`]: the [`Store`] implementation over a pool of control
//! connections. Paths are absolute on the server: the store root joined
//! with the artifact path, sent as written (FTP has no escaping).

use crate::config::FtpConfig;
use crate::lister::{self, Entry};
use crate::pool::{Conn, Pool};
use crate::reader::{self, FtpReader};
use crate::writer::{self, FtpWriter};
use arca_core::{ArtifactPath, ByteRange, Error, ErrorKind, FileInfo, ListPage, Result, Store};
use std::sync::Arc;

/// A store over one directory of one FTP server.
#[derive(Clone, Debug)]
pub struct FtpStore {
    pub(crate) pool: Arc<Pool>,
}

impl FtpStore {
    /// Nothing is sent until the first operation.
    pub fn open(config: FtpConfig) -> Result<Self> {
        Ok(Self {
            pool: Pool::new(config)?,
        })
    }

    /// The absolute server path of `path`.
    pub(crate) fn full(&self, path: &ArtifactPath) -> String {
        let root = self.pool.config.root.trim_end_matches('/');
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
}

/// `r`, breaking `conn` when the failure may have left it unusable.
pub(crate) fn checked<T>(conn: &mut Conn, r: Result<T>) -> Result<T> {
    if let Err(e) = &r
        && (e.temporary || e.kind == ErrorKind::UNEXPECTED)
    {
        conn.broken();
    }
    r
}

/// Deletes `full` and everything under it; a missing path is success.
async fn delete_tree(conn: &mut Conn, full: &str, keep_self: bool) -> Result<()> {
    let pool = conn.pool().clone();
    // A file (or nothing): one DELE.
    let r = pool.timed("delete", full, conn.ftp()?.rm(full)).await;
    match r {
        Ok(()) => return Ok(()),
        Err(e) if e.kind == ErrorKind::NOT_FOUND || e.kind == ErrorKind::INVALID_INPUT => {}
        Err(e) => return checked(conn, Err(e)),
    }
    let entries = lister::entries(conn, full).await?;
    for Entry { name, is_dir, .. } in entries {
        let child = format!("{}/{name}", full.trim_end_matches('/'));
        if is_dir {
            Box::pin(delete_tree(conn, &child, false)).await?;
        } else {
            let r = pool.timed("delete", &child, conn.ftp()?.rm(&child)).await;
            match r {
                Ok(()) => {}
                Err(e) if e.kind == ErrorKind::NOT_FOUND => {}
                Err(e) => return checked(conn, Err(e)),
            }
        }
    }
    if keep_self {
        return Ok(());
    }
    match pool.timed("delete", full, conn.ftp()?.rmdir(full)).await {
        Ok(()) => Ok(()),
        // Gone already, or never there.
        Err(e) if e.kind == ErrorKind::NOT_FOUND => Ok(()),
        Err(e) => checked(conn, Err(e)),
    }
}

impl Store for FtpStore {
    type Reader = FtpReader;
    type Writer = FtpWriter;

    async fn stat(&self, path: &ArtifactPath) -> Result<FileInfo> {
        let full = self.full(path);
        let mut conn = self.pool.get().await?;
        let found = lister::stat(&mut conn, &full).await?;
        match found {
            Some(e) => Ok(FileInfo {
                path: path.as_str().to_owned(),
                is_dir: e.is_dir,
                size: e.size,
                modified_ms: e.modified_ms,
            }),
            None if path.is_root() => Ok(FileInfo {
                path: String::new(),
                is_dir: true,
                size: 0,
                modified_ms: None,
            }),
            None => Err(Error::not_found(format!(
                "no such file or directory: {}{full}",
                self.pool.server
            ))),
        }
    }

    async fn list(&self, path: &ArtifactPath, token: Option<&str>, page_size: usize) -> Result<ListPage> {
        let full = self.full(path);
        let mut conn = self.pool.get().await?;
        let mut entries: Vec<FileInfo> = lister::entries(&mut conn, &full)
            .await?
            .into_iter()
            .map(|e| FileInfo {
                path: e.name,
                is_dir: e.is_dir,
                size: e.size,
                modified_ms: e.modified_ms,
            })
            .collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(ListPage::from_sorted(entries, token, page_size))
    }

    async fn read(&self, path: &ArtifactPath, range: Option<ByteRange>) -> Result<FtpReader> {
        reader::open(self, path, range).await
    }

    async fn write(&self, path: &ArtifactPath) -> Result<FtpWriter> {
        writer::open(self, path).await
    }

    /// Deletes a file, or a directory with everything in it; a missing
    /// path is success (MLflow's FTP repository cannot delete at all).
    async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        let full = self.full(path);
        let mut conn = self.pool.get().await?;
        // The root of a login's own tree is emptied, not removed.
        delete_tree(&mut conn, &full, full == "/").await
    }
}
