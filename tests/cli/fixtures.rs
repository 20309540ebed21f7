//! The loader's refusals: each broken plugin fixture is refused (or its
//! panic reported) with its own readable error, and the host keeps going.

use super::{arca_with, expect_code, stderr, stdout};
use arca_host::{ArtifactPath, ErrorKind, Registry};
use arca_tests::fixtures_dir;
use std::path::{Path, PathBuf};

fn lib(stem: &str) -> PathBuf {
    fixtures_dir().join(format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// (scheme, library, the distinct words its error must contain)
fn cases(dir: &Path) -> Vec<(&'static str, PathBuf, &'static str)> {
    let garbage = dir.join("garbage.so");
    let _ = std::fs::write(&garbage, b"this is not a shared library");
    vec![
        ("missing", dir.join("libdoes_not_exist.so"), "file not found"),
        ("garbage", garbage, "cannot load plugin"),
        (
            "notplugin",
            lib("arca_fixture_not_a_plugin"),
            "not an arca plugin (no arca_plugin_entry symbol)",
        ),
        (
            "badmagic",
            lib("arca_fixture_bad_magic"),
            "not an arca plugin (wrong magic number)",
        ),
        ("abiver", lib("arca_fixture_abi_version"), "ABI version mismatch"),
        ("layout", lib("arca_fixture_layout"), "ABI layout mismatch"),
        (
            "panicopen",
            lib("arca_fixture_panic_open"),
            "panicked in open: fixture: open panicked",
        ),
        (
            "panicop",
            lib("arca_fixture_panic_op"),
            "panicked in stat: fixture: stat panicked",
        ),
    ]
}

fn write_manifest(dir: &Path) -> PathBuf {
    let mut text = String::new();
    for (scheme, library, _) in cases(dir) {
        text.push_str(&format!(
            "[[plugin]]\nname = \"{scheme}\"\nlibrary = {:?}\nschemes = [\"{scheme}\"]\n\n",
            library.display().to_string()
        ));
    }
    let local = arca_tests::manifest()
        .parent()
        .map(|p| p.join("libarca_plugin_local.so"))
        .unwrap_or_default();
    text.push_str(&format!(
        "[[plugin]]\nname = \"local\"\nlibrary = {:?}\nschemes = [\"file\"]\n",
        local.display().to_string()
    ));
    let path = dir.join("plugins.toml");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
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
        assert!(err.contains(words), "{scheme}: want {words:?} in {err}");
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
        for scheme in ["abiver", "abiver", "layout"] {
            let e = reg
                .open(&format!("{scheme}://x/"))
                .await
                .err()
                .unwrap_or_else(|| panic!("must fail"));
            assert_eq!(e.kind, ErrorKind::PLUGIN_INVALID);
        }
    });
}
