//! `cargo xtask bench [local|server|client|s3|azure|gcs|ftp|sftp|hdfs|gc|all] [--runs N]`: Arca measured side by
//! side with what it replaces, in one run, on a release build, through the
//! real plugin loader. Each benchmark writes its own part of `BENCHMARKS.md`
//! and keeps the others ([`document`]).
//!
//! `local` (the default): `arca cp` against `cp`.
//!
//! 1. `cargo xtask build --release`, and the `stat-overhead` and `http-load`
//!    programs of the tests crate;
//! 2. in `<target>/bench-work/` (wiped before and after): a 1 GiB file and
//!    10,000 files of 4 KiB in 100 directories, pseudo-random ([`data`]);
//! 3. each contender `N` times (default 3), round-robin, `sync` before each
//!    run ([`measure`]); the median is reported ([`copy`], [`stat`]);
//! 4. the tables are printed and written to `BENCHMARKS.md` ([`report`]),
//!    each figure beside the target the issue set and whether it was met.
//!
//! `server`: `arca serve` against `mlflow server --artifacts-only` and nginx,
//! in `<target>/bench-work/server/` ([`serve`], [`contenders`],
//! [`servers`], [`serve_report`], [`serve_notes`]).
//!
//! `client`: the unmodified MLflow client against `arca serve`, `mlflow
//! server --artifacts-only` and nginx, in `<target>/bench-work/client/`
//! ([`client`]).
//!
//! `s3`: the S3 plugin against boto3 and MLflow on one fresh radosgw, in
//! `<target>/bench-work/s3/` ([`s3`]).
//!
//! `azure`, `gcs`, `ftp`, `sftp`, `hdfs`: Arca against MLflow's own artifact
//! repository for the scheme, on a test server started for the run, in
//! `<target>/bench-work/<name>/` ([`cloud`]); on SFTP, OpenSSH's `sftp` and
//! `scp` as well, for the large file; on HDFS, the Java client MLflow's
//! repository runs through pyarrow's `libhdfs` (not installable here).
//!
//! `gc`: `arca gc` against `mlflow gc` on copies of one SQLite store of
//! 10,000 deleted runs with local artifacts, in `<target>/bench-work/gc/`
//! ([`gc`]).
//!
//! `all`: every one of them, in that order.
//!
//! Every command is bounded ([`proc::LIMIT`]); the copies run under GNU time
//! for their peak RSS.
//!
//! On ext4 without a journal, leave five minutes between two runs: the wipe
//! at the end of one deletes some 150,000 inodes, and until the filesystem
//! stops treating them as recently deleted, every file the next run creates
//! nearby pays for skipping them (see [`measure`]).

mod client;
mod cloud;
mod contenders;
mod copy;
mod data;
mod document;
mod gc;
mod measure;
mod proc;
mod procfs;
mod report;
mod s3;
mod serve;
mod serve_notes;
mod serve_report;
mod servers;
mod stat;
mod timing;
mod verify;

use crate::args::Args;
use crate::plugins;
use crate::project::{self, Profile, Result};
use document::Document;
use proc::Output;
use report::Machine;
use std::path::{Path, PathBuf};

const DEFAULT_RUNS: usize = 3;
/// Tools every benchmark runs, beside GNU time.
const TOOLS: &[&str] = &["sync", "uname", "kill", "rustc"];
/// Tools the local benchmark runs.
const LOCAL_TOOLS: &[&str] = &["cp"];
/// Tools the server benchmark runs (nginx is looked for apart).
const SERVER_TOOLS: &[(&str, &str)] = &[
    ("curl", "apt-get install curl"),
    ("setpriv", "it comes with util-linux"),
    ("sh", "a POSIX shell is needed"),
];

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
    let (name, rest) = match args.split_first() {
        Some((first, rest)) if !first.starts_with('-') => (first.as_str(), rest),
        _ => ("local", args),
    };
    let gc_part = name == "gc" || name == "all";
    let client_part = name == "client" || name == "all";
    let (local, server, s3, clouds) = match name {
        "local" => (true, false, false, vec![]),
        "gc" | "client" => (false, false, false, vec![]),
        "server" => (false, true, false, vec![]),
        "s3" => (false, false, true, vec![]),
        "azure" => (false, false, false, vec![cloud::Cloud::Azure]),
        "gcs" => (false, false, false, vec![cloud::Cloud::Gcs]),
        "ftp" => (false, false, false, vec![cloud::Cloud::Ftp]),
        "sftp" => (false, false, false, vec![cloud::Cloud::Sftp]),
        "hdfs" => (false, false, false, vec![cloud::Cloud::Hdfs]),
        "all" => (
            true,
            true,
            true,
            vec![
                cloud::Cloud::Azure,
                cloud::Cloud::Gcs,
                cloud::Cloud::Ftp,
                cloud::Cloud::Sftp,
                cloud::Cloud::Hdfs,
            ],
        ),
        other => {
            return Err(format!(
                "unknown benchmark `{other}`; use `local`, `server`, `s3`, `azure`, `gcs`, `ftp`, `sftp`, `hdfs`, `gc`, `client` or `all`"
            ));
        }
    };
    let mut args = Args::new(rest);
    let runs = match args.value("--runs")? {
        None => DEFAULT_RUNS,
        Some(v) => match v.parse::<usize>() {
            Ok(n @ 1..=100) => n,
            _ => return Err(format!("--runs wants a number from 1 to 100, not `{v}`")),
        },
    };
    // Smaller inputs for the S3 benchmark, for working on it (not in `help`).
    let (size_mib, files) = (args.value("--size-mib")?, args.value("--files")?);
    if !s3 && clouds.is_empty() && !gc_part && (size_mib.is_some() || files.is_some()) {
        return Err(
            "--size-mib and --files apply to `cargo xtask bench s3|azure|gcs|ftp|sftp|hdfs|gc` only".to_owned(),
        );
    }
    // `--files N` for gc: the number of deleted runs (for working on it).
    let gc_runs = match (&files, gc_part && name == "gc") {
        (Some(v), true) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("--files wants a number of runs, not `{v}`"))?,
        _ => gc::RUNS,
    };
    let sizes = s3::Sizes::parse(size_mib, files)?;
    args.finish()?;
    check_tools(local, server || client_part)?;
    if clouds.contains(&cloud::Cloud::Sftp) {
        for tool in ["sftp", "scp", "ssh", "ssh-keygen", "ssh-keyscan"] {
            servers::require(tool, "the sftp benchmark needs it (`apt-get install openssh-client`)")?;
        }
        if !crate::servers::sftp::SftpServer::available() {
            return Err("the sftp benchmark needs OpenSSH's sshd (`apt-get install openssh-server`)".to_owned());
        }
    }
    if clouds.contains(&cloud::Cloud::Hdfs) && !crate::servers::hdfs::available() {
        return Err(
            "the hdfs benchmark needs java, jar and mvn (`apt-get install openjdk-17-jdk-headless maven`)".to_owned(),
        );
    }
    if s3 {
        s3::check_tools()?;
    }

    let manifest = crate::build::build(Profile::Release)?;
    if local || server {
        let mut cmd = project::cargo();
        cmd.args(["build", "--release", "-p", "arca-tests"]);
        cmd.args(["--bin", "stat-overhead", "--bin", "http-load"]);
        eprintln!("$ cargo build --release -p arca-tests --bin stat-overhead --bin http-load");
        proc::run(&mut cmd, &Output::Inherit)?;
    }

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
    std::fs::create_dir_all(&ctx.logs).map_err(|e| format!("cannot create {}: {e}", ctx.logs.display()))?;
    project::write(&ctx.nofsync, &nofsync_manifest(&ctx.release)?)?;
    let machine = Machine::probe(&ctx.work, &ctx.logs)?;
    if local {
        local_bench(&ctx, &machine)?;
    }
    if server {
        serve::run(&ctx, &machine)?;
    }
    if client_part {
        client::run(&ctx, &machine)?;
    }
    if s3 {
        s3::run(&ctx, &machine, sizes)?;
    }
    for c in clouds {
        cloud::run(&ctx, &machine, c, sizes)?;
    }
    if gc_part {
        gc::run(&ctx, &machine, gc_runs)?;
    }
    drop(work);
    Ok(())
}

/// The local benchmark: `arca cp` against `cp`, and the plugin boundary's cost.
fn local_bench(ctx: &Ctx, machine: &Machine) -> Result {
    let store = ctx.work.join("store");
    std::fs::create_dir_all(&store).map_err(|e| format!("cannot create {}: {e}", store.display()))?;
    eprintln!("bench: writing 1 GiB and 10,000 × 4 KiB to {}", ctx.work.display());
    data::big_file(&ctx.work.join(copy::BIG), data::BIG_BYTES)?;
    data::small_tree(&ctx.work.join(copy::SMALL))?;
    proc::sync(&ctx.logs)?;

    let big = copy::big(ctx)?;
    let small = copy::small(ctx)?;
    let stat = stat::measure(ctx)?;
    let doc = Document {
        name: "local",
        title: "`arca cp` against `cp`",
        intro: local_intro(ctx.runs),
        command: match ctx.runs {
            DEFAULT_RUNS => "cargo xtask bench local".to_owned(),
            n => format!("cargo xtask bench local --runs {n}"),
        },
        date: report::utc_now(),
        machine,
        software: Vec::new(),
        sections: vec![
            copy::big_section(ctx, &big),
            copy::small_section(ctx, &small),
            stat::section(ctx, &stat),
            copy::rss_section(&big),
        ],
        notes: copy::notes(&big, &small, &stat),
    };
    println!();
    for s in &doc.sections {
        println!("{}", s.text());
    }
    let path = doc.write()?;
    println!("wrote the local part of {}", project::display(&path));
    Ok(())
}

fn local_intro(runs: usize) -> String {
    let each = match runs {
        1 => "Each figure comes from a single run".to_owned(),
        n => format!("Each figure is the median of {n} runs"),
    };
    format!(
        "\
Arca's `arca cp` against `cp`, measured side by side in one run, on a release build, through the real
plugin loader (`arca` loads the local plugin from `plugins.toml` like any user's install).

**How.** {each}. The contenders of a section take turns (run 1 of each,
then run 2 of each, …), so a noisy minute on the machine hurts all of them alike. Before every timed run
the previous destination is removed and `sync` is run, outside the timing, so no run pays for another's
writeback; a destination directory is moved aside into `$WORK/trash` rather than deleted, because on
ext4 without a journal, inodes deleted in the last minutes are skipped one by one by the allocator: deleting
10,000 files before a run made every file creation in the next one several times slower. Every command
runs under GNU time (`/usr/bin/time -f %M`), which also gives the peak RSS.
The input is deterministic pseudo-random data, written just before the runs (nothing is done to keep it
in or evict it from the page cache). `$WORK` is `<target>/bench-work` (same disk as the repository,
wiped before and after); `$TARGET` is the cargo target directory."
    )
}

/// Fails early, before the build, on a missing tool.
fn check_tools(local: bool, server: bool) -> Result {
    if !Path::new(measure::GNU_TIME).is_file() {
        return Err(format!(
            "GNU time is needed for peak RSS but {} is missing; install it (`apt-get install time`)",
            measure::GNU_TIME
        ));
    }
    let local_tools = if local { LOCAL_TOOLS } else { &[] };
    if let Some(t) = TOOLS.iter().chain(local_tools).find(|t| proc::find(t).is_none()) {
        return Err(format!("`{t}` is not on PATH; the benchmarks need it"));
    }
    if server {
        for (tool, hint) in SERVER_TOOLS {
            servers::require(tool, &format!("the server benchmark needs it ({hint})"))?;
        }
        contenders::nginx_program()?;
    }
    Ok(())
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
