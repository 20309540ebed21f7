//! Paged directory listings.
//!
//! A directory is a key prefix: its children are the keys and the common
//! prefixes one delimiter below it. A page token is the last name returned;
//! the next page holds the names strictly greater. The store is listed again
//! for every page, which keeps it stateless (any server can continue a
//! listing); object stores order keys, not names (`a/` sorts after `a!`), so the whole
//! level is read and sorted by name before a page is cut from it.

use crate::Bucket;
use arca_core::{ArtifactPath, FileInfo, ListPage, Result};

/// Lists the immediate children of `path` (see the module docs for paging).
/// A missing path or a file gives an empty page, as in MLflow.
pub async fn list(shared: &Bucket, path: &ArtifactPath, token: Option<&str>, page_size: usize) -> Result<ListPage> {
    let key = shared.key(path);
    let prefix = shared.dir_prefix(path);
    let location = if key.is_empty() {
        None
    } else {
        Some(shared.location(&key)?)
    };
    let listed = shared
        .client
        .list_with_delimiter(location.as_ref())
        .await
        .map_err(|e| shared.error("list", &prefix, e))?;
    let name_of = |raw: &str| -> Option<String> {
        let name = raw.strip_prefix(prefix.as_str())?.trim_end_matches('/');
        // The key equal to the prefix itself (a directory marker) is not a child.
        (!name.is_empty() && !name.contains('/')).then(|| name.to_owned())
    };
    let mut entries: Vec<FileInfo> = Vec::new();
    for dir in &listed.common_prefixes {
        if let Some(name) = name_of(dir.as_ref()) {
            entries.push(FileInfo {
                path: name,
                is_dir: true,
                size: 0,
                modified_ms: None,
            });
        }
    }
    for obj in &listed.objects {
        if let Some(name) = name_of(obj.location.as_ref()) {
            entries.push(FileInfo {
                path: name,
                is_dir: false,
                size: obj.size,
                modified_ms: Some(obj.last_modified.timestamp_millis()),
            });
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path).then(b.is_dir.cmp(&a.is_dir)));
    Ok(ListPage::from_sorted(entries, token, page_size))
}
