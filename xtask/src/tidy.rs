//! `cargo xtask tidy`: hygiene checks that need no compiler. [`check`] is also
//! run by an ordinary `#[test]`, so `cargo test --workspace` enforces them.
//!
//! - every `.rs` file under the source directories is at most [`MAX_LINES`] long;
//! - every member crate's `Cargo.toml` has a `description` (or `publish = false`),
//!   `edition.workspace = true` and `[lints] workspace = true`; the standalone
//!   examples under `examples/` say `edition = "2024"` instead;
//! - a frozen crate (one with a `FROZEN.sha256`, such as the copy of
//!   `arca-core` at ABI 2 the compatibility fixture is built against) is
//!   byte for byte what its checksums say, and is exempt from the member rules;
//! - no file in the repository holds an absolute path into someone's machine;
//! - the root documents exist.

use crate::args::Args;
use crate::project::{self, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The most lines a source file may have: the style guide says split before this.
const MAX_LINES: usize = 800;
/// The directories whose `.rs` files are measured.
const SOURCE_DIRS: &[&str] = &["core", "host", "plugins", "xtask", "tests", "examples"];
/// Documents that must exist at the root.
const ROOT_DOCS: &[&str] = &["README.md", "ARCHITECTURE.md"];
/// Top-level directories that only exist on a developer's or CI machine. The
/// patterns are built at run time so this file does not trip its own check.
const MACHINE_DIRS: &[&str] = &["work", "root", "home"];

pub fn run(args: &[String]) -> Result {
    Args::new(args).finish()?;
    let problems = check(&project::root());
    if problems.is_empty() {
        println!("tidy: ok");
        return Ok(());
    }
    eprintln!("tidy found {} problem(s):", problems.len());
    for p in &problems {
        eprintln!("  {p}");
    }
    Err(format!("tidy found {} problem(s)", problems.len()))
}

/// Every problem in the workspace at `root`, one line each (empty when tidy).
pub fn check(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    file_lengths(root, &mut problems);
    crate_manifests(root, &mut problems);
    machine_paths(root, &mut problems);
    for doc in ROOT_DOCS {
        if !root.join(doc).is_file() {
            problems.push(format!("{doc} is missing at the workspace root"));
        }
    }
    problems
}

fn file_lengths(root: &Path, problems: &mut Vec<String>) {
    let mut files = Vec::new();
    for dir in SOURCE_DIRS {
        rust_files(&root.join(dir), &mut files, problems);
    }
    for file in files {
        match std::fs::read(&file) {
            Ok(bytes) => {
                let lines = bytes.split(|b| *b == b'\n').count() - usize::from(bytes.ends_with(b"\n"));
                if lines > MAX_LINES {
                    problems.push(format!(
                        "{}: {lines} lines, more than {MAX_LINES}; split it",
                        project::display(&file)
                    ));
                }
            }
            Err(e) => problems.push(format!("cannot read {}: {e}", project::display(&file))),
        }
    }
}

/// The `.rs` files under `dir`, skipping build output and hidden directories.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) => {
                problems.push(format!("cannot list {}: {e}", project::display(dir)));
                continue;
            }
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&path, files, problems);
            }
        } else if name.ends_with(".rs") {
            files.push(path);
        }
    }
}

/// Whether a manifest belongs to a workspace member or a standalone example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Member,
    Example,
    Frozen,
}

/// The file of a frozen crate that lists the checksums of its sources.
const FROZEN: &str = "FROZEN.sha256";

fn crate_manifests(root: &Path, problems: &mut Vec<String>) {
    let workspace = match project::read_toml(&root.join("Cargo.toml")) {
        Ok(t) => t,
        Err(e) => return problems.push(e),
    };
    let list = |key: &str| -> Vec<String> {
        let values = workspace
            .get("workspace")
            .and_then(|w| w.get(key))
            .and_then(|v| v.as_array());
        values
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(str::to_owned)
            .collect()
    };
    let excluded: Vec<PathBuf> = list("exclude").iter().map(|e| root.join(e)).collect();
    let mut crates: Vec<(PathBuf, Kind)> = Vec::new();
    for member in list("members") {
        for dir in expand(root, &member) {
            if dir.join(FROZEN).is_file() {
                frozen(&dir, problems);
                crates.push((dir.join("Cargo.toml"), Kind::Frozen));
            } else if !excluded.contains(&dir) {
                crates.push((dir.join("Cargo.toml"), Kind::Member));
            }
        }
    }
    for dir in expand(root, "examples/*") {
        if dir.join("Cargo.toml").is_file() {
            crates.push((dir.join("Cargo.toml"), Kind::Example));
        }
    }
    for (path, kind) in crates {
        match std::fs::read_to_string(&path) {
            Ok(text) => check_manifest(&project::display(&path), &text, kind, problems),
            Err(e) => problems.push(format!("cannot read {}: {e}", project::display(&path))),
        }
    }
}

/// The directories matching a workspace `members` entry, whose components may
/// hold `*` wildcards. Wildcards only match directories holding a Cargo.toml;
/// a plain entry is returned as is, so a missing member is reported.
fn expand(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut dirs = vec![root.to_path_buf()];
    for part in pattern.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if !part.contains('*') {
            dirs.iter_mut().for_each(|d| d.push(part));
            continue;
        }
        let mut next = Vec::new();
        for dir in &dirs {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().is_dir() && wildcard(part, &name) {
                    next.push(entry.path());
                }
            }
        }
        next.sort();
        dirs = next;
    }
    if pattern.contains('*') {
        dirs.retain(|d| d.join("Cargo.toml").is_file());
    }
    dirs
}

/// Whether `name` matches `pattern`, where `*` matches any run of characters.
fn wildcard(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            let Some(rest) = name.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|i| rest.is_char_boundary(*i))
                .any(|i| wildcard(tail, &rest[i..]))
        }
    }
}

fn check_manifest(name: &str, text: &str, kind: Kind, problems: &mut Vec<String>) {
    let toml: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => return problems.push(format!("{name}: {}", toml::de::Error::message(&e))),
    };
    let Some(package) = toml.get("package") else {
        return problems.push(format!("{name}: no [package] table"));
    };
    let publish_false = package.get("publish").and_then(|p| p.as_bool()) == Some(false);
    if package.get("description").is_none() && !publish_false {
        problems.push(format!("{name}: needs a `description` (or `publish = false`)"));
    }
    let edition = package.get("edition");
    match kind {
        Kind::Member => {
            if edition.and_then(|e| e.get("workspace")).and_then(|w| w.as_bool()) != Some(true) {
                problems.push(format!("{name}: needs `edition.workspace = true`"));
            }
            if toml
                .get("lints")
                .and_then(|l| l.get("workspace"))
                .and_then(|w| w.as_bool())
                != Some(true)
            {
                problems.push(format!("{name}: needs `[lints] workspace = true`"));
            }
        }
        // Frozen as it was: whatever the rules were then.
        Kind::Frozen => {}
        Kind::Example => {
            if edition.and_then(|e| e.as_str()) != Some("2024") {
                problems.push(format!(
                    "{name}: needs `edition = \"2024\"` (examples are standalone projects)"
                ));
            }
        }
    }
}

/// Checks a frozen crate's sources against its checksums.
fn frozen(dir: &Path, problems: &mut Vec<String>) {
    let shown = project::display(dir);
    match Command::new("sha256sum")
        .args(["--check", "--quiet", "--strict", FROZEN])
        .current_dir(dir)
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) => problems.push(format!(
            "{shown} is frozen but its files changed (never edit it): {}",
            String::from_utf8_lossy(&out.stdout).trim()
        )),
        Err(e) => problems.push(format!("cannot check the frozen crate {shown}: sha256sum: {e}")),
    }
}

/// Files tracked or about to be (untracked but not ignored) must not name a
/// path on someone's machine: they would break on every other one.
fn machine_paths(root: &Path, problems: &mut Vec<String>) {
    let out = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(root)
        .output();
    let files = match out {
        Ok(out) if out.status.success() => out.stdout,
        Ok(out) => {
            let err = String::from_utf8_lossy(&out.stderr);
            return problems.push(format!("`git ls-files` failed in {}: {}", root.display(), err.trim()));
        }
        Err(e) => return problems.push(format!("cannot run `git ls-files` in {}: {e}", root.display())),
    };
    let needles: Vec<String> = MACHINE_DIRS.iter().map(|d| format!("/{d}/")).collect();
    // A `$CARGO_TARGET_DIR` inside the repository but not ignored is build output, full of paths.
    let target = project::target_dir();
    for file in files.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let name = String::from_utf8_lossy(file);
        let path = root.join(&*name);
        // Deleted-but-tracked files, symlinks and submodules have no text of their own.
        if path.starts_with(&target) || !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        match std::fs::read(&path) {
            Ok(bytes) => {
                let hits = machine_path_lines(&bytes, &needles);
                if let Some((line, needle)) = hits.first() {
                    let more = match hits.len() {
                        1 => String::new(),
                        n => format!(" (and {} more lines)", n - 1),
                    };
                    problems.push(format!("{name}:{line}: absolute machine path `{needle}…`{more}"));
                }
            }
            Err(e) => problems.push(format!("cannot read {name}: {e}")),
        }
    }
}

/// The 1-based lines of `text` where a needle starts an absolute path: at the
/// start of the text or after a character that cannot be part of a path
/// component, so a URL path such as `https://host/home/x`, or a relative path
/// whose second segment is `work`, does not count.
fn machine_path_lines<'n>(text: &[u8], needles: &'n [String]) -> Vec<(usize, &'n str)> {
    let mut hits = Vec::new();
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        let found = needles.iter().find(|n| {
            let n = n.as_bytes();
            line.windows(n.len()).enumerate().any(|(at, w)| {
                w == n
                    && (at == 0
                        || !matches!(line[at - 1], b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'~'))
            })
        });
        if let Some(needle) = found {
            hits.push((i + 1, needle.as_str()));
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The workspace itself is tidy: this is what makes `cargo test` enforce tidy.
    #[test]
    fn tidy() {
        let problems = check(&project::root());
        assert!(
            problems.is_empty(),
            "tidy found {} problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }

    #[test]
    fn machine_paths_are_found_only_where_a_path_starts() {
        let needles: Vec<String> = MACHINE_DIRS.iter().map(|d| format!("/{d}/")).collect();
        let home = &needles[2];
        let text =
            format!("ok\nsee {home}me\nhttps://x.invalid{home}a\nrel{home}\n\"{home}\"\nfile://{home}x\n~{home}");
        let lines: Vec<usize> = machine_path_lines(text.as_bytes(), &needles)
            .iter()
            .map(|h| h.0)
            .collect();
        assert_eq!(lines, [2, 5, 6]);
    }

    #[test]
    fn manifests_are_checked_by_kind() {
        let mut p = Vec::new();
        let member =
            "[package]\nname = \"a\"\ndescription = \"d\"\nedition.workspace = true\n[lints]\nworkspace = true\n";
        check_manifest("a", member, Kind::Member, &mut p);
        check_manifest(
            "b",
            "[package]\nname = \"b\"\npublish = false\nedition = \"2024\"\n",
            Kind::Example,
            &mut p,
        );
        assert!(p.is_empty(), "{p:?}");
        check_manifest(
            "c",
            "[package]\nname = \"c\"\nedition = \"2021\"\n",
            Kind::Member,
            &mut p,
        );
        assert_eq!(p.len(), 3, "{p:?}");
        check_manifest(
            "d",
            "[package]\nname = \"d\"\nedition.workspace = true\n",
            Kind::Example,
            &mut p,
        );
        assert_eq!(p.len(), 5, "{p:?}");
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*", "abc"));
        assert!(wildcard("plugin-*", "plugin-memory"));
        assert!(wildcard("a*c*e", "abcde"));
        assert!(!wildcard("plugin-*", "fixture"));
        assert!(!wildcard("a*c", "abd"));
    }
}
