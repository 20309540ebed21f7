//! [`SftpStore`]: the [`Store`] implementation over a pool of SFTP
//! channels on one SSH connection. Paths are absolute on the server: the
//! store root joined with the artifact path.

use crate::config::SftpConfig;
use crate::lister::{self, Entry};
use crate::reader::{self, SftpReader};
use crate::session::{Chan, Pool};
use crate::writer::{self, SftpWriter};
use arca_core::{ArtifactPath, ByteRange, Error, ErrorKind, FileInfo, ListPage, Result, Store};
use std::sync::Arc;

/// A store over one directory of one SFTP server.
#[derive(Clone, Debug)]
pub struct SftpStore {
    pub(crate) pool: Arc<Pool>,
}

impl SftpStore {
    /// Nothing is sent until the first operation.
    pub fn open(config: SftpConfig) -> Result<Self> {
        Ok(Self {
            pool: Pool::new(config),
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

/// Removes `full` and everything under it; a missing path is success.
async fn delete_tree(chan: &mut Chan, full: &str, keep_self: bool) -> Result<()> {
    let pool = chan.pool().clone();
    let sftp = chan.sftp()?.clone();
    let entry = match pool.timed("delete", full, sftp.raw.lstat(full)).await {
        Ok(a) => a.attrs,
        Err(e) if e.kind == ErrorKind::NOT_FOUND => return Ok(()),
        Err(e) => return chan.checked(Err(e)),
    };
    if !entry.file_type().is_dir() {
        return match pool.timed("delete", full, sftp.raw.remove(full)).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::NOT_FOUND => Ok(()),
            Err(e) => chan.checked(Err(e)),
        };
    }
    // Temporary files of uploads in flight are not listed, but a
    // directory is only removed empty: list them too by their names.
    for Entry { name, .. } in lister::entries(chan, full).await? {
        let child = format!("{}/{name}", full.trim_end_matches('/'));
        Box::pin(delete_tree(chan, &child, false)).await?;
    }
    if keep_self {
        return Ok(());
    }
    match pool.timed("delete", full, sftp.raw.rmdir(full)).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind == ErrorKind::NOT_FOUND => Ok(()),
        Err(e) => chan.checked(Err(e)),
    }
}

impl Store for SftpStore {
    type Reader = SftpReader;
    type Writer = SftpWriter;

    async fn stat(&self, path: &ArtifactPath) -> Result<FileInfo> {
        let full = self.full(path);
        let mut chan = self.pool.get().await?;
        match lister::stat(&mut chan, &full).await? {
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
        let mut chan = self.pool.get().await?;
        let mut entries: Vec<FileInfo> = lister::entries(&mut chan, &full)
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

    async fn read(&self, path: &ArtifactPath, range: Option<ByteRange>) -> Result<SftpReader> {
        reader::open(self, path, range).await
    }

    async fn write(&self, path: &ArtifactPath) -> Result<SftpWriter> {
        writer::open(self, path).await
    }

    /// Removes a file, or a directory with everything in it; a missing
    /// path is success.
    async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        let full = self.full(path);
        let mut chan = self.pool.get().await?;
        delete_tree(&mut chan, &full, full == "/").await
    }
}
