//! Streaming writes that publish atomically: the bytes go to a hidden
//! temporary file beside the target (`.arca-….tmp`, left out of listings),
//! created with its parent directories; `finish` closes it (the NameNode
//! completes its last block) and renames it over the target. `abort`, a
//! failure, or dropping the writer deletes the temporary file.

use crate::store::HdfsStore;
use arca_core::{ArtifactPath, Chunk, Error, ErrorKind, Result, Writer};
use bytes::Bytes;
use hdfs_native::{WriteOptions, file::FileWriter};

/// Writes one file.
pub struct HdfsWriter {
    store: HdfsStore,
    file: Option<FileWriter>,
    temp: String,
    full: String,
    /// Published, or its temporary file deleted.
    settled: bool,
    /// The plugin's runtime, for the clean-up of a writer dropped on a
    /// thread of the host's.
    runtime: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for HdfsWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HdfsWriter")
            .field("path", &self.full)
            .finish_non_exhaustive()
    }
}

pub(crate) async fn open(store: &HdfsStore, path: &ArtifactPath) -> Result<HdfsWriter> {
    if path.is_root() {
        return Err(Error::new(
            ErrorKind::IS_A_DIRECTORY,
            "cannot write the store root: it is a directory",
        ));
    }
    // The NameNode refuses these names; say so before any byte is sent.
    if let Some(bad) = path.as_str().split('/').find(|c| c.contains(':')) {
        return Err(Error::invalid_input(format!(
            "HDFS does not allow `:` in a file or directory name: {bad:?}"
        )));
    }
    let full = store.full(path);
    let parent = full.rsplit_once('/').map_or("", |(p, _)| p);
    let temp = arca_core::uri::temp_name(parent);
    let options = WriteOptions::default().create_parent(true).overwrite(false);
    let file = store
        .call("write", &full, store.client().create(&temp, options))
        .await?;
    Ok(HdfsWriter {
        store: store.clone(),
        file: Some(file),
        temp,
        full,
        settled: false,
        runtime: tokio::runtime::Handle::try_current().ok(),
    })
}

impl HdfsWriter {
    /// Deletes the temporary file (best effort: a failure here must not
    /// hide the one that led here).
    async fn discard(&mut self) {
        self.settled = true;
        // Dropping the open file gives up its lease first.
        drop(self.file.take());
        let _ = self
            .store
            .call("delete", &self.temp, self.store.client().delete(&self.temp, false))
            .await;
    }

    async fn publish(&mut self) -> Result<()> {
        let Some(mut file) = self.file.take() else {
            return Err(Error::unexpected("the writer was already finished"));
        };
        self.store.call("write", &self.full, file.close()).await?;
        let renamed = self
            .store
            .call(
                "write",
                &self.full,
                self.store.client().rename(&self.temp, &self.full, true),
            )
            .await;
        if let Err(e) = renamed {
            // Renaming a file over a directory fails: say so plainly.
            let info = self.store.client().get_file_info(&self.full).await;
            if info.is_ok_and(|s| s.isdir) {
                return Err(Error::new(
                    ErrorKind::IS_A_DIRECTORY,
                    format!("cannot write {}: it is a directory", self.full),
                ));
            }
            return Err(e);
        }
        Ok(())
    }
}

impl Writer for HdfsWriter {
    async fn write(&mut self, chunk: Chunk) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(Error::unexpected("write after the writer was finished"));
        };
        let r = self
            .store
            .call("write", &self.full, file.write_bytes(Bytes::from_owner(chunk)))
            .await;
        if r.is_err() {
            self.discard().await;
        }
        r.map(drop)
    }

    async fn finish(mut self) -> Result<()> {
        let r = self.publish().await;
        if r.is_err() {
            self.discard().await;
        }
        self.settled = true;
        r
    }

    async fn abort(mut self) -> Result<()> {
        self.discard().await;
        Ok(())
    }
}

impl Drop for HdfsWriter {
    /// A writer dropped unfinished deletes its temporary file in the
    /// background, on the plugin's runtime.
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        drop(self.file.take());
        let (store, temp) = (self.store.clone(), std::mem::take(&mut self.temp));
        if let Some(rt) = self.runtime.as_ref() {
            drop(rt.spawn(async move {
                let _ = store.call("delete", &temp, store.client().delete(&temp, false)).await;
            }));
        }
    }
}
