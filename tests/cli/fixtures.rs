//! The loader's refusals: each broken plugin fixture is refused (or its
//! panic reported) with its own readable error, and the host keeps going.

use super::{arca_with, expect_code, stderr, stdout};
use arca_core::abi::{ABI_MINOR, ABI_VERSION, OLDEST_ABI_VERSION};
use arca_host::{ArtifactPath, Capabilities, ErrorKind, Registry};
use arca_tests::fixture_library;
use std::path::{Path, PathBuf};

/// (scheme, library, the distinct words its error must contain)
fn cases(dir: &Path) -> Vec<(&'static str, PathBuf, String)> {
    let garbage = dir.join("garbage.so");
    let _ = std::fs::write(&garbage, b"this is not a shared library");
    let cases = [
        ("missing", dir.join("libdoes_not_exist.so"), "file not found".to_owned()),
        ("garbage", garbage, "cannot load plugin".to_owned()),
        (
            "notplugin",
            fixture_library("arca_fixture_not_a_plugin"),
            "not an arca plugin (no arca_plugin_entry symbol)".to_owned(),
        ),
        (
            "badmagic",
            fixture_library("arca_fixture_bad_magic"),
            "not an arca plugin (wrong magic number)".to_owned(),
        ),
        (
            "abiver",
            fixture_library("arca_fixture_abi_version"),
            format!(
                "ABI version {} is newer than this host's ({OLDEST_ABI_VERSION} to {ABI_VERSION}); upgrade arca",
                ABI_VERSION + 1
            ),
        ),
        (
            "layout",
            fixture_library("arca_fixture_layout"),
            "ABI layout mismatch".to_owned(),
        ),
        (
            "requires",
            fixture_library("arca_fixture_requires"),
            format!(
                "it needs what this host lacks: the frobnicate operation (ABI {ABI_VERSION}.{}); this host has plugin ABI {ABI_VERSION}.{ABI_MINOR}, upgrade arca",
                ABI_MINOR + 1
            ),
        ),
        (
            "panicopen",
            fixture_library("arca_fixture_panic_open"),
            "panicked in open: fixture: open panicked".to_owned(),
        ),
        (
            "panicop",
            fixture_library("arca_fixture_panic_op"),
            "panicked in stat: fixture: stat panicked".to_owned(),
        ),
    ];
    cases.into_iter().collect()
}

/// Writes `dir/plugins.toml` with one entry per (name, scheme, library).
fn manifest_of<'a>(dir: &Path, entries: impl IntoIterator<Item = (&'a str, &'a str, PathBuf)>) -> PathBuf {
    let mut text = String::new();
    for (name, scheme, library) in entries {
        text.push_str(&format!(
            "[[plugin]]\nname = \"{name}\"\nlibrary = {:?}\nschemes = [\"{scheme}\"]\n\n",
            library.display().to_string()
        ));
    }
    let path = dir.join("plugins.toml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// The broken fixtures and the local plugin.
fn write_manifest(dir: &Path) -> PathBuf {
    let local = arca_tests::manifest()
        .parent()
        .map(|p| p.join("libarca_plugin_local.so"))
        .unwrap_or_default();
    let broken = cases(dir)
        .into_iter()
        .map(|(scheme, library, _)| (scheme, scheme, library));
    manifest_of(dir, broken.chain([("local", "file", local)]))
}

#[test]
fn each_broken_plugin_has_its_own_error() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let m = write_manifest(tmp.path());
    let mut seen = Vec::new();
    for (scheme, library, words) in cases(tmp.path()) {
        assert!(
            scheme == "missing" || scheme == "garbage" || library.exists(),
            "fixture not built: {}",
            library.display()
        );
        let o = arca_with(&m, &["stat", &format!("{scheme}://bucket/x")]);
        expect_code(&o, 1);
        let err = stderr(&o);
        assert!(err.contains(&words), "{scheme}: want {words:?} in {err}");
        assert_eq!(err.trim().lines().count(), 1, "{scheme}: one line per cause: {err}");
        if scheme != "panicop" && scheme != "panicopen" {
            assert!(
                err.contains(&library.display().to_string()),
                "{scheme}: the error must name the file: {err}"
            );
        }
        seen.push(err);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), cases(tmp.path()).len(), "two fixtures gave the same error");
}

#[test]
fn plugins_list_reports_every_entry() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let m = write_manifest(tmp.path());
    let o = arca_with(&m, &["plugins", "list"]);
    expect_code(&o, 1);
    let out = stdout(&o);
    assert!(out.contains("ok (local"), "{out}");
    for (scheme, _, _) in cases(tmp.path()) {
        let line = out.lines().find(|l| l.starts_with(scheme)).unwrap_or_default();
        if scheme == "panicopen" || scheme == "panicop" {
            // These load fine: they fail only when used.
            assert!(line.contains("ok ("), "{scheme}: {line}");
        } else {
            assert!(line.contains("error:"), "{scheme}: {line}");
        }
    }
}

#[test]
fn host_keeps_running_after_plugin_panics() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let reg = Registry::from_manifest(&write_manifest(tmp.path())).unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let e = reg
            .open("panicopen://x/")
            .await
            .err()
            .unwrap_or_else(|| panic!("open should fail"));
        assert_eq!(e.kind, ErrorKind::UNEXPECTED);
        let store = reg.open("panicop://x/").await.unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..3 {
            let e = store
                .stat(&ArtifactPath::root())
                .await
                .err()
                .unwrap_or_else(|| panic!("stat should fail"));
            assert_eq!(e.kind, ErrorKind::UNEXPECTED);
            assert!(e.message.contains("fixture: stat panicked"), "{e}");
            let page = store
                .list_page(&ArtifactPath::root(), None, 10)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(page.entries.is_empty());
        }
        // Broken libraries stay refused, and refusing them twice is harmless.
        for scheme in ["abiver", "abiver", "layout", "requires"] {
            let e = reg
                .open(&format!("{scheme}://x/"))
                .await
                .err()
                .unwrap_or_else(|| panic!("must fail"));
            assert_eq!(e.kind, ErrorKind::PLUGIN_INVALID);
        }
    });
}

/// A manifest of the plugins built for other ABI versions than this host's,
/// which must load: (scheme, library stem).
const COMPATIBLE: &[(&str, &str)] = &[
    ("abitwo", "arca_fixture_abi2"),
    ("future", "arca_fixture_future"),
    ("short", "arca_fixture_short"),
];

fn compatible_manifest(dir: &Path) -> PathBuf {
    manifest_of(
        dir,
        COMPATIBLE
            .iter()
            .map(|(scheme, stem)| (*scheme, *scheme, fixture_library(stem))),
    )
}

#[test]
fn plugins_of_other_abi_versions_load_with_what_they_have() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let reg = Registry::from_manifest(&compatible_manifest(tmp.path())).unwrap_or_else(|e| panic!("{e}"));
    let plugin = |scheme: &str| {
        reg.plugin_for(scheme)
            .map(|(p, _)| p)
            .unwrap_or_else(|e| panic!("{scheme}: {e}"))
    };

    // Built against the frozen ABI-2 arca-core: everything it declared; of
    // what came after ABI 3.0, nothing.
    let two = plugin("abitwo");
    assert_eq!(two.abi, (2, 0));
    assert_eq!(two.missing, ["local_path", "rename"]);
    assert_eq!(
        two.capabilities,
        Capabilities {
            empty_dirs: false,
            ..Capabilities::FILESYSTEM
        }
    );

    // A newer minor version with one more operation and an unknown capability
    // bit: loads, the bit is ignored.
    let future = plugin("future");
    assert_eq!(future.abi, (ABI_VERSION, ABI_MINOR + 1));
    assert!(future.missing.is_empty(), "{:?}", future.missing);
    assert_eq!(future.capabilities, Capabilities::FILESYSTEM);

    // A table that ends before multipart and presign: their capabilities are
    // false whatever the plugin claims, and the host answers them.
    let short = plugin("short");
    assert_eq!(
        short.missing,
        [
            "multipart_create",
            "multipart_complete",
            "multipart_abort",
            "presign_read",
            "local_path",
            "rename"
        ]
    );
    assert_eq!(short.capabilities, Capabilities::FILESYSTEM);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    rt.block_on(async {
        let dir = tmp.path().join("short-store");
        let store = reg
            .open(&format!("short://{}", dir.display()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let path = ArtifactPath::parse("a/b.txt").unwrap_or_else(|e| panic!("{e}"));
        store.put_bytes(&path, "short").await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.get_bytes(&path).await.ok().as_deref(), Some(&b"short"[..]));
        let e = store
            .multipart_create(&path, 2)
            .await
            .err()
            .unwrap_or_else(|| panic!("must fail"));
        assert_eq!(e.kind, ErrorKind::UNSUPPORTED);
        assert!(e.message.contains("no multipart_create operation"), "{e}");
        let e = store
            .presign_read(&path, 60)
            .await
            .err()
            .unwrap_or_else(|| panic!("must fail"));
        assert_eq!(e.kind, ErrorKind::UNSUPPORTED);
        assert!(e.message.contains("no presign_read operation"), "{e}");
    });
}

#[test]
fn plugins_list_shows_abi_versions_and_missing_operations() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let o = arca_with(&compatible_manifest(tmp.path()), &["plugins", "list"]);
    expect_code(&o, 0);
    let out = stdout(&o);
    let line = |scheme: &str| {
        out.lines()
            .find(|l| l.starts_with(scheme))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("abitwo").contains("ok (memory 0.1.0, ABI 2.0; lacks local_path, rename)"),
        "{out}"
    );
    assert!(
        line("future").contains(&format!("ABI {ABI_VERSION}.{})", ABI_MINOR + 1)),
        "{out}"
    );
    assert!(
        line("short")
            .contains("lacks multipart_create, multipart_complete, multipart_abort, presign_read, local_path, rename)"),
        "{out}"
    );
}
