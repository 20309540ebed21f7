//! Paged directory listings.
//!
//! A page token is the last name returned; the next page holds the names
//! strictly greater. The directory is read again for every page: that keeps
//! the store stateless (any server behind a load balancer can continue a
//! listing) and stays correct when entries come and go between pages.

use crate::error::io_error;
use crate::store::{Shared, TEMP_PREFIX, file_info, missing};
use arca_core::{ArtifactPath, FileInfo, ListPage, Result};
use std::fs;
use std::path::Path;

/// Lists the immediate children of `path` (see the module docs for paging).
/// A missing path or a file gives an empty page, as in MLflow.
pub(crate) fn list(shared: &Shared, path: &ArtifactPath, token: Option<&str>, page_size: usize) -> Result<ListPage> {
    let fail = |e| io_error("list", path.as_str(), e);
    let Some(dir) = shared.resolve(path, "list")? else {
        return Ok(ListPage::default());
    };
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if missing(&e) => return Ok(ListPage::default()),
        Err(e) => return Err(fail(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(fail)?;
        // A name that is not UTF-8 cannot be named by an artifact path, so it
        // could be neither read nor deleted: it is left out.
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with(TEMP_PREFIX) || token.is_some_and(|t| name.as_str() <= t) {
            continue;
        }
        // The type comes with the directory entry on most file systems; only
        // symlinks need the extra work of being resolved and checked.
        let is_link = entry.file_type().map_or(true, |t| t.is_symlink());
        names.push((name, is_link));
    }
    names.sort_unstable();

    let mut page = ListPage::default();
    let mut rest = names.into_iter();
    for (name, is_link) in rest.by_ref() {
        if let Some(info) = describe(shared, path, &dir, name, is_link)? {
            page.entries.push(info);
            if page.entries.len() >= page_size.max(1) {
                break;
            }
        }
    }
    // More may remain even if every remaining name is later skipped; the
    // caller then gets one empty last page, which is harmless.
    if rest.next().is_some() {
        page.next_token = page.entries.last().map(|e| e.path.clone());
    }
    Ok(page)
}

/// Describes the child `name` of `parent` (on disk: `dir`), following a
/// symlink; `None` for an entry that vanished since the directory was read, a
/// dangling symlink, or a symlink that leads out of the root (whose target
/// must not be described).
fn describe(
    shared: &Shared,
    parent: &ArtifactPath,
    dir: &Path,
    name: String,
    is_link: bool,
) -> Result<Option<FileInfo>> {
    let fail = |e| Err(io_error("list", format!("{parent}/{name}").trim_start_matches('/'), e));
    let mut p = dir.join(&name);
    if is_link {
        p = match fs::canonicalize(&p) {
            Ok(c) if c.starts_with(&shared.root) => c,
            Ok(_) => return Ok(None),
            Err(e) if missing(&e) => return Ok(None),
            Err(e) => return fail(e),
        };
    }
    let meta = match fs::symlink_metadata(&p) {
        Ok(meta) => meta,
        Err(e) if missing(&e) => return Ok(None),
        Err(e) => return fail(e),
    };
    Ok(Some(file_info(name, &meta)))
}
