//! Listing: the immediate children of a directory, gathered from the keys
//! under it, in name order.

use crate::store::{MemoryStore, dir_info, dir_prefix, file_info, keys_under};
use arca_core::{ArtifactPath, ListPage};
use std::collections::BTreeMap;

/// One page of the children of `path` in `store`.
pub(crate) fn list(store: &MemoryStore, path: &ArtifactPath, token: Option<&str>, page_size: usize) -> ListPage {
    let prefix = dir_prefix(&store.key(path));
    // Children are gathered by name first because key order is not name
    // order: the key `a.txt` sorts before `a/x`, yet the directory `a`
    // sorts before the file `a.txt`.
    let children = store.with_bucket(|b| {
        let mut children = BTreeMap::new();
        for (rest, data) in keys_under(b, &prefix) {
            match rest.split_once('/') {
                Some((dir, _)) => {
                    children
                        .entry(dir.to_owned())
                        .or_insert_with(|| dir_info(dir.to_owned()));
                }
                None => {
                    children.insert(rest.to_owned(), file_info(rest.to_owned(), data.len()));
                }
            }
        }
        children
    });
    ListPage::from_sorted(children.into_values(), token, page_size)
}
