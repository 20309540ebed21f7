//! Directory entries (`opendir`/`readdir`) and single paths (`stat`,
//! which follows symlinks). This plugin's in-flight temporary files
//! (`.arca-….tmp`) are never listed.

use crate::session::Chan;
use arca_core::{ErrorKind, Result};
use russh_sftp::protocol::{FileAttributes, StatusCode};

/// One directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) is_dir: bool,
    pub(crate) size: u64,
    pub(crate) modified_ms: Option<i64>,
}

/// Whether `name` is one of this plugin's in-flight temporary files.
pub(crate) fn is_temp(name: &str) -> bool {
    name.starts_with(".arca-") && name.ends_with(".tmp")
}

fn entry(name: String, a: &FileAttributes) -> Entry {
    let is_dir = a.file_type().is_dir();
    Entry {
        name,
        is_dir,
        size: if is_dir { 0 } else { a.size.unwrap_or(0) },
        modified_ms: a.mtime.map(|t| i64::from(t) * 1000),
    }
}

/// What `path` is: `None` if it does not exist.
pub(crate) async fn stat(chan: &mut Chan, path: &str) -> Result<Option<Entry>> {
    let pool = chan.pool().clone();
    let sftp = chan.sftp()?.clone();
    let r = pool.timed("stat", path, sftp.raw.stat(path)).await;
    match chan.checked(r) {
        Ok(a) => {
            let name = path.rsplit('/').next().unwrap_or(path).to_owned();
            Ok(Some(entry(name, &a.attrs)))
        }
        Err(e) if e.kind == ErrorKind::NOT_FOUND => Ok(None),
        Err(e) => Err(e),
    }
}

/// The entries of the directory `path`: empty if it is missing or not a
/// directory.
pub(crate) async fn entries(chan: &mut Chan, path: &str) -> Result<Vec<Entry>> {
    let pool = chan.pool().clone();
    let sftp = chan.sftp()?.clone();
    let r = pool.timed("list", path, sftp.raw.opendir(path)).await;
    let handle = match chan.checked(r) {
        Ok(h) => h.handle,
        Err(e) if e.kind == ErrorKind::NOT_FOUND => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    let mut links = Vec::new();
    let result = loop {
        let r = match pool.timed_raw("list", path, sftp.raw.readdir(handle.as_str())).await {
            Ok(r) => r,
            Err(e) => break Err(e),
        };
        match r {
            Ok(name) => {
                for f in name.files {
                    if f.filename == "." || f.filename == ".." || is_temp(&f.filename) {
                        continue;
                    }
                    if f.attrs.file_type().is_symlink() {
                        links.push(f.filename);
                    } else {
                        out.push(entry(f.filename, &f.attrs));
                    }
                }
            }
            Err(e) if crate::error::status(&e) == Some(StatusCode::Eof) => break Ok(()),
            Err(e) => break Err(crate::error::sftp_error("list", &pool.server, path, &e)),
        }
    };
    let _ = pool.timed("list", path, sftp.raw.close(handle.as_str())).await;
    chan.checked(result)?;
    // A symlink is listed as what it points at; a dangling one not at all.
    for name in links {
        let full = format!("{}/{name}", path.trim_end_matches('/'));
        if let Some(mut e) = stat(chan, &full).await? {
            e.name = name;
            out.push(e);
        }
    }
    Ok(out)
}
