//! `cargo xtask bench [--runs N]`: `arca cp` against `cp`, measured side by
//! side in one run, on a release build, through the real plugin loader.
//!
//! 1. `cargo xtask build --release`, and the `stat-overhead` program of the
//!    tests crate;
//! 2. in `<target>/bench-work/` (wiped before and after): a 1 GiB file and
//!    10,000 files of 4 KiB in 100 directories, pseudo-random ([`data`]);
//! 3. each contender `N` times (default 3), round-robin, `sync` before each
//!    run ([`measure`]); the median is reported ([`copy`], [`stat`]);
//! 4. the tables are printed and written to `BENCHMARKS.md` ([`report`]),
//!    each figure beside the target the issue set and whether it was met.
//!
//! Every command is bounded ([`proc::LIMIT`]) and runs under GNU time for its
//! peak RSS.
//!
//! On ext4 without a journal, leave five minutes between two runs: the wipe
//! at the end of one deletes some 150,000 inodes, and until the filesystem
//! stops treating them as recently deleted, every file the next run creates
//! nearby pays for skipping them (see [`measure`]).

mod copy;
mod data;
mod measure;
mod proc;
mod report;
mod stat;

use crate::args::Args;
use crate::plugins;
use crate::project::{self, Profile, Result};
use proc::Output;
use report::{Document, Machine};
use std::path::{Path, PathBuf};

const DEFAULT_RUNS: usize = 3;
/// Tools the benchmarks run, beside GNU time.
const TOOLS: &[&str] = &["cp", "sync", "uname", "kill", "rustc"];

/// What every part of the benchmark needs to know.
#[derive(Debug)]
pub struct Ctx {
    /// Runs per contender.
    pub runs: usize,
    /// The release build's `plugins.toml` (the default configuration).
    pub manifest: PathBuf,
    /// A manifest whose local plugin does not fsync.
    pub nofsync: PathBuf,
    /// `<target>/release`.
    pub release: PathBuf,
    pub target: PathBuf,
    /// `<target>/bench-work`.
    pub work: PathBuf,
    /// A scratch directory for command output.
    pub logs: PathBuf,
    /// Where cleared destination trees wait for the final wipe.
    pub trash: PathBuf,
}

impl Ctx {
    /// Where measurements put command output and cleared destinations.
    pub fn scratch(&self) -> measure::Scratch<'_> {
        measure::Scratch {
            logs: &self.logs,
            trash: &self.trash,
        }
    }

    /// Machine paths in a command word, shown as `$WORK` and `$TARGET` (the
    /// work directory is inside the target directory, so it goes first).
    pub fn shown(&self, word: String) -> String {
        let (work, target) = (self.work.display().to_string(), self.target.display().to_string());
        word.replace(&work, "$WORK").replace(&target, "$TARGET")
    }
}

pub fn run(args: &[String]) -> Result {
    let mut args = Args::new(args);
    let runs = match args.value("--runs")? {
        None => DEFAULT_RUNS,
        Some(v) => match v.parse::<usize>() {
            Ok(n @ 1..=100) => n,
            _ => return Err(format!("--runs wants a number from 1 to 100, not `{v}`")),
        },
    };
    args.finish()?;
    check_tools()?;

    let manifest = crate::build::build(Profile::Release)?;
    let mut cmd = project::cargo();
    cmd.args(["build", "--release", "-p", "arca-tests", "--bin", "stat-overhead"]);
    eprintln!("$ cargo build --release -p arca-tests --bin stat-overhead");
    proc::run(&mut cmd, &Output::Inherit)?;

    let target = project::target_dir();
    let work = Work::create(target.join("bench-work"))?;
    let ctx = Ctx {
        runs,
        manifest,
        nofsync: work.dir.join("plugins-nofsync.toml"),
        release: target.join(Profile::Release.dir()),
        logs: work.dir.join("logs"),
        trash: work.dir.join("trash"),
        work: work.dir.clone(),
        target,
    };
    for dir in [&ctx.logs, &ctx.work.join("store")] {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    project::write(&ctx.nofsync, &nofsync_manifest(&ctx.release)?)?;
    eprintln!("bench: writing 1 GiB and 10,000 × 4 KiB to {}", ctx.work.display());
    data::big_file(&ctx.work.join(copy::BIG), data::BIG_BYTES)?;
    data::small_tree(&ctx.work.join(copy::SMALL))?;
    proc::sync(&ctx.logs)?;
    let machine = Machine::probe(&ctx.work, &ctx.logs)?;

    let big = copy::big(&ctx)?;
    let small = copy::small(&ctx)?;
    let stat = stat::measure(&ctx)?;
    let sections = [
        copy::big_section(&ctx, &big),
        copy::small_section(&ctx, &small),
        stat::section(&ctx, &stat),
        copy::rss_section(&big),
    ];
    let doc = Document {
        machine: &machine,
        date: report::utc_now(),
        command: match runs {
            DEFAULT_RUNS => "cargo xtask bench".to_owned(),
            n => format!("cargo xtask bench --runs {n}"),
        },
        runs,
        sections: &sections,
        notes: copy::notes(&big, &small, &stat),
    };
    println!();
    for s in &sections {
        println!("{}", s.text());
    }
    let path = project::root().join("BENCHMARKS.md");
    project::write(&path, &doc.markdown())?;
    println!("wrote {}", project::display(&path));
    drop(work);
    Ok(())
}

fn check_tools() -> Result {
    if !Path::new(measure::GNU_TIME).is_file() {
        return Err(format!(
            "GNU time is needed for peak RSS but {} is missing; install it (`apt-get install time`)",
            measure::GNU_TIME
        ));
    }
    match TOOLS.iter().find(|t| proc::find(t).is_none()) {
        Some(t) => Err(format!("`{t}` is not on PATH; the benchmarks need it")),
        None => Ok(()),
    }
}

/// The benchmark directory: wiped when created and when dropped, so an
/// error leaves no gigabyte behind.
#[derive(Debug)]
struct Work {
    dir: PathBuf,
}

impl Work {
    fn create(dir: PathBuf) -> Result<Self> {
        measure::remove(&dir)?;
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Self { dir })
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        eprintln!("bench: removing {}", self.dir.display());
        if let Err(e) = measure::remove(&self.dir) {
            eprintln!("warning: {e}");
        }
    }
}

/// A plugin manifest with the local plugin alone, by absolute path, told not
/// to fsync: arca without the durability `cp` does not give either.
fn nofsync_manifest(release: &Path) -> Result<String> {
    let local = plugins::PLUGINS
        .iter()
        .find(|p| p.name == "local")
        .ok_or("no `local` plugin in xtask/src/plugins.rs")?;
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let schemes: Vec<String> = local.schemes.iter().map(|s| quote(s)).collect();
    Ok(format!(
        "# Written by `cargo xtask bench`: the local plugin without fsync.\n\n\
         [[plugin]]\nname = {}\nlibrary = {}\nschemes = [{}]\n\n[plugin.config]\nfsync = \"false\"\n",
        quote(local.name),
        quote(&release.join(local.library_file()).to_string_lossy()),
        schemes.join(", ")
    ))
}

/// Whether a measured figure met its target, as the report says it.
pub fn met(ok: bool) -> String {
    if ok { "yes" } else { "no" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nofsync_manifest_is_toml_with_the_config() {
        let text = nofsync_manifest(Path::new("/x/release")).unwrap_or_default();
        let parsed: toml::Table = text.parse().unwrap_or_default();
        let Some(toml::Value::Array(entries)) = parsed.get("plugin") else {
            panic!("no [[plugin]] in {text}")
        };
        let config = entries[0].get("config").and_then(|c| c.get("fsync"));
        assert_eq!(config.and_then(|v| v.as_str()), Some("false"));
        let library = entries[0].get("library").and_then(|v| v.as_str()).unwrap_or_default();
        assert!(library.starts_with("/x/release/"), "{library}");
    }

    #[test]
    fn machine_paths_are_hidden() {
        let ctx = Ctx {
            runs: 1,
            manifest: "/t/release/plugins.toml".into(),
            nofsync: "/t/bench-work/n.toml".into(),
            release: "/t/release".into(),
            target: "/t".into(),
            work: "/t/bench-work".into(),
            logs: "/t/bench-work/logs".into(),
            trash: "/t/bench-work/trash".into(),
        };
        assert_eq!(ctx.shown("file:///t/bench-work/x".to_owned()), "file://$WORK/x");
        assert_eq!(ctx.shown("/t/release/arca".to_owned()), "$TARGET/release/arca");
    }
}
