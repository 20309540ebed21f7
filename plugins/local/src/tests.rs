//! Behaviour particular to the local store. What every backend must do is
//! checked by the shared conformance suite; these cover temp files, symlinks
//! and edge cases that only a file system has.

use crate::{LocalPlugin, LocalStore};
use arca_core::{ArtifactPath, ByteRange, Config, ErrorKind, FfiBuf, Plugin, Reader, Result, Store, Writer};
use std::future::Future;
use std::path::Path;

fn run<T>(f: impl Future<Output = T>) -> T {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(f),
        Err(e) => panic!("cannot build a test runtime: {e}"),
    }
}

fn p(s: &str) -> ArtifactPath {
    ArtifactPath::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

async fn open(root: &Path) -> LocalStore {
    let uri = root.display().to_string();
    let config = Config::from_pairs([("chunk_size", "4"), ("fsync", "false")]);
    LocalPlugin::open(uri, config)
        .await
        .unwrap_or_else(|e| panic!("open: {e}"))
}

async fn put(s: &LocalStore, path: &str, data: &[u8]) -> Result<()> {
    let mut w = s.write(&p(path)).await?;
    w.write(FfiBuf::from_vec(data.to_vec())).await?;
    w.finish().await
}

async fn get(s: &LocalStore, path: &str, range: Option<ByteRange>) -> Result<Vec<u8>> {
    let mut r = s.read(&p(path), range).await?;
    let mut out = Vec::new();
    while let Some(c) = r.next_chunk().await? {
        out.extend_from_slice(c.as_bytes());
    }
    Ok(out)
}

async fn names(s: &LocalStore, path: &str) -> Vec<String> {
    let page = s
        .list(&p(path), None, 1000)
        .await
        .unwrap_or_else(|e| panic!("list: {e}"));
    page.entries.into_iter().map(|e| e.path).collect()
}

fn kind<T>(r: Result<T>) -> Option<ErrorKind> {
    r.err().map(|e| e.kind)
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

#[test]
fn temp_files_are_never_listed_and_abort_or_drop_leaves_nothing() {
    let dir = tempdir();
    run(async {
        let s = open(dir.path()).await;
        let mut w = s.write(&p("d/a.bin")).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(w.write(FfiBuf::from_vec(b"partial".to_vec())).await.is_ok());
        assert_eq!(std::fs::read_dir(dir.path().join("d")).map(|d| d.count()).ok(), Some(1));
        assert!(names(&s, "d").await.is_empty());
        assert_eq!(kind(s.stat(&p("d/a.bin")).await), Some(ErrorKind::NOT_FOUND));
        assert!(w.abort().await.is_ok());

        let mut w = s.write(&p("d/b.bin")).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(w.write(FfiBuf::from_vec(b"partial".to_vec())).await.is_ok());
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path().join("d")).map(|d| d.count()).ok(), Some(0));

        assert!(put(&s, "d/c.bin", b"whole").await.is_ok());
        assert_eq!(names(&s, "d").await, ["c.bin"]);
        assert_eq!(
            kind(put(&s, "d/.arca-tmp-x", b"").await),
            Some(ErrorKind::INVALID_INPUT)
        );
    });
}

#[test]
fn writes_overwrite_and_refuse_directories() {
    let dir = tempdir();
    run(async {
        let s = open(dir.path()).await;
        assert!(put(&s, "a/b/f.txt", b"one").await.is_ok());
        assert!(put(&s, "a/b/f.txt", b"two!").await.is_ok());
        assert_eq!(get(&s, "a/b/f.txt", None).await.ok(), Some(b"two!".to_vec()));
        assert_eq!(kind(put(&s, "a/b", b"x").await), Some(ErrorKind::IS_A_DIRECTORY));
        assert_eq!(
            kind(put(&s, "a/b/f.txt/g", b"x").await),
            Some(ErrorKind::IS_A_DIRECTORY)
        );
        assert_eq!(kind(put(&s, "", b"x").await), Some(ErrorKind::IS_A_DIRECTORY));
        assert_eq!(kind(get(&s, "a", None).await), Some(ErrorKind::IS_A_DIRECTORY));
        assert_eq!(kind(get(&s, "nope", None).await), Some(ErrorKind::NOT_FOUND));
        let info = s.stat(&p("a/b/f.txt")).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((info.path.as_str(), info.is_dir, info.size), ("a/b/f.txt", false, 4));
        assert!(info.modified_ms.is_some());
    });
}

#[test]
fn range_edge_cases() {
    let dir = tempdir();
    run(async {
        let s = open(dir.path()).await;
        assert!(put(&s, "f", b"0123456789").await.is_ok());
        assert!(put(&s, "empty", b"").await.is_ok());
        let r = |start, end| Some(ByteRange { start, end });
        assert_eq!(get(&s, "f", r(2, Some(7))).await.ok(), Some(b"23456".to_vec()));
        assert_eq!(get(&s, "f", r(8, Some(100))).await.ok(), Some(b"89".to_vec()));
        assert_eq!(get(&s, "f", r(9, None)).await.ok(), Some(b"9".to_vec()));
        assert_eq!(get(&s, "f", r(3, Some(3))).await.ok(), Some(Vec::new()));
        assert_eq!(
            kind(get(&s, "f", r(10, None)).await),
            Some(ErrorKind::RANGE_NOT_SATISFIABLE)
        );
        assert_eq!(
            kind(get(&s, "f", r(11, Some(20))).await),
            Some(ErrorKind::RANGE_NOT_SATISFIABLE)
        );
        assert_eq!(get(&s, "empty", r(0, None)).await.ok(), Some(Vec::new()));
        assert_eq!(
            kind(get(&s, "empty", r(1, None)).await),
            Some(ErrorKind::RANGE_NOT_SATISFIABLE)
        );
        assert_eq!(get(&s, "f", None).await.ok(), Some(b"0123456789".to_vec()));
    });
}

#[test]
fn paging_follows_the_token() {
    let dir = tempdir();
    run(async {
        let s = open(dir.path()).await;
        for name in ["c", "a", "e", "b/x", "d"] {
            assert!(put(&s, name, b"x").await.is_ok());
        }
        let mut token = None;
        let mut pages = Vec::new();
        loop {
            let page = s
                .list(&p(""), token.as_deref(), 2)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            pages.push(page.entries.iter().map(|e| e.path.clone()).collect::<Vec<_>>());
            token = page.next_token;
            if token.is_none() {
                break;
            }
        }
        assert_eq!(pages, [vec!["a", "b"], vec!["c", "d"], vec!["e"]]);
        let page = s.list(&p(""), Some("b"), 1).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (page.entries[0].path.as_str(), page.next_token.as_deref()),
            ("c", Some("c"))
        );
        assert!(names(&s, "a").await.is_empty());
        assert!(names(&s, "missing").await.is_empty());
    });
}

#[test]
fn deleting_the_root_keeps_it() {
    let dir = tempdir();
    run(async {
        let s = open(dir.path()).await;
        assert!(put(&s, "a/b/c", b"x").await.is_ok());
        assert!(put(&s, "f", b"x").await.is_ok());
        assert!(s.delete(&p("a/b")).await.is_ok());
        assert_eq!(names(&s, "a").await, Vec::<String>::new());
        assert!(s.delete(&p("missing/x")).await.is_ok());
        assert!(s.delete(&p("")).await.is_ok());
        assert!(dir.path().is_dir());
        assert!(names(&s, "").await.is_empty());
    });
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_root_are_refused() {
    use std::os::unix::fs::symlink;
    let (dir, outside) = (tempdir(), tempdir());
    assert!(std::fs::write(outside.path().join("secret"), b"s").is_ok());
    assert!(symlink(outside.path(), dir.path().join("out")).is_ok());
    assert!(symlink(outside.path().join("secret"), dir.path().join("leak")).is_ok());
    run(async {
        let s = open(dir.path()).await;
        assert!(put(&s, "real/f", b"inside").await.is_ok());
        assert!(symlink(dir.path().join("real"), dir.path().join("in")).is_ok());
        let denied = Some(ErrorKind::PERMISSION_DENIED);
        assert_eq!(kind(s.stat(&p("out")).await), denied);
        assert_eq!(kind(s.stat(&p("leak")).await), denied);
        assert_eq!(kind(get(&s, "leak", None).await), denied);
        assert_eq!(kind(get(&s, "out/secret", None).await), denied);
        assert_eq!(kind(s.list(&p("out"), None, 10).await), denied);
        assert_eq!(kind(put(&s, "out/new/f", b"x").await), denied);
        assert_eq!(kind(s.delete(&p("out/secret")).await), denied);
        assert_eq!(names(&s, "").await, ["in", "real"]);
        assert_eq!(get(&s, "in/f", None).await.ok(), Some(b"inside".to_vec()));
        // Deleting a link removes the link, never what it points to.
        assert!(s.delete(&p("in")).await.is_ok());
        assert_eq!(get(&s, "real/f", None).await.ok(), Some(b"inside".to_vec()));
    });
    assert!(outside.path().join("secret").is_file());
    assert!(!outside.path().join("new").exists());
}

#[test]
fn enter_gives_the_plugin_runtime_context() {
    // Outside `enter` there is no tokio context on this thread; inside it,
    // the plugin's own runtime is current.
    assert!(tokio::runtime::Handle::try_current().is_err());
    let inside = LocalPlugin::enter(|| tokio::runtime::Handle::try_current().is_ok());
    assert_eq!(inside.ok(), Some(true));
}
