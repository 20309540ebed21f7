//! Listings: one `getListing` round (the client pages through large
//! directories itself), names taken from the paths, temporary files of
//! writes in progress left out, sorted by name.

use crate::store::HdfsStore;
use arca_core::{ErrorKind, FileInfo, Result};

/// Whether `name` is a write in progress (see [`arca_core::uri::temp_name`]).
pub(crate) fn is_temp(name: &str) -> bool {
    name.starts_with(".arca-") && name.ends_with(".tmp")
}

/// The children of the directory `full`, sorted by name; empty for a file
/// or a missing path.
pub(crate) async fn entries(store: &HdfsStore, full: &str) -> Result<Vec<FileInfo>> {
    let statuses = match store.call("list", full, store.client().list_status(full, false)).await {
        Ok(s) => s,
        Err(e) if e.kind == ErrorKind::NOT_FOUND => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let base = full.trim_end_matches('/');
    let mut out: Vec<FileInfo> = statuses
        .into_iter()
        .filter_map(|s| {
            // Listing a file answers the file itself, under its own path.
            let name = s.path.strip_prefix(base)?.strip_prefix('/')?;
            if name.is_empty() || name.contains('/') || is_temp(name) {
                return None;
            }
            Some(FileInfo {
                path: name.to_owned(),
                is_dir: s.isdir,
                size: if s.isdir { 0 } else { s.length as u64 },
                modified_ms: i64::try_from(s.modification_time).ok(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn temporary_names_are_recognised() {
        assert!(super::is_temp(".arca-12-ab-3.tmp"));
        assert!(!super::is_temp("arca-12.tmp"));
        assert!(!super::is_temp(".arca-12-ab-3.tmpx"));
    }
}
