//! Names are data: `arca cp` stores exactly the name a file had, percent
//! signs included, and refuses (never renames) a name whose decoding would
//! make another path of it.

use super::{arca, expect_code, file_uri, stderr, stdout};
use arca_tests::content;
use std::path::Path;

/// Names a decoding step would rename: an encoded space, a doubly encoded
/// one, a lone percent sign, encoded letters, a directory with an escape.
const NAMES: &[&str] = &[
    "report%20final.txt",
    "report%2520final.txt",
    "100%.txt",
    "%41%42.bin",
    "dir%20x/in%25ner.txt",
];

fn write_tree(root: &Path, names: &[&str]) {
    for (i, name) in names.iter().enumerate() {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(&path, content(100 + i, 70)).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Every file under `root`, relative and sorted, with its content.
fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"))));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn names_with_percent_signs_round_trip_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let src = tmp.path().join("src");
    write_tree(&src, NAMES);
    let run = file_uri(&tmp.path().join("store/run"));

    let up = arca(&["cp", "-q", "-r", &src.display().to_string(), &run]);
    expect_code(&up, 0);
    assert_eq!(
        tree(&tmp.path().join("store/run")),
        tree(&src),
        "upload renamed or changed something"
    );

    let ls = arca(&["ls", &run]);
    expect_code(&ls, 0);
    let listed = stdout(&ls);
    for name in [
        "report%20final.txt",
        "report%2520final.txt",
        "100%.txt",
        "%41%42.bin",
        "dir%20x/",
    ] {
        assert!(
            listed.lines().any(|l| l.ends_with(&format!(" {name}"))),
            "{name} not listed as is: {listed}"
        );
    }

    let back = tmp.path().join("back");
    let down = arca(&["cp", "-q", "-r", &run, &back.display().to_string()]);
    expect_code(&down, 0);
    assert_eq!(tree(&back), tree(&src), "download renamed or changed something");

    // One file by its exact name; a file: URI's path is percent-encoded, so
    // the `%` of the name is written `%25` in it.
    let one = arca(&["cat", &format!("{run}/report%2520final.txt")]);
    expect_code(&one, 0);
    assert_eq!(one.stdout, content(100, 70), "cat of report%20final.txt");
}

#[test]
fn a_name_that_decodes_to_a_separator_is_refused_not_renamed() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let src = tmp.path().join("src");
    write_tree(&src, &["a%2Fb.txt", "ok.txt"]);
    let dst = tmp.path().join("store/run");
    let o = arca(&["cp", "-q", "-r", &src.display().to_string(), &file_uri(&dst)]);
    expect_code(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("a%2Fb.txt") && err.contains("percent-encoded '/'"),
        "the refusal must name the file and the reason: {err}"
    );
    let stored: Vec<String> = tree(&dst).into_iter().map(|(name, _)| name).collect();
    assert_eq!(
        stored,
        ["ok.txt"],
        "only the acceptable file is copied, under its own name"
    );
}
