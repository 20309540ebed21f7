//! `cargo xtask bench s3`: Arca on S3 against what MLflow uses there, all
//! against one fresh radosgw (a one-node Ceph cluster with an in-memory OSD,
//! [`crate::servers::ceph`]) started for the run:
//!
//! 1. a 1 GiB file up and down: `arca cp` against boto3's
//!    `upload_file`/`download_file` (8 MiB parts, 10 threads: what MLflow's
//!    S3 repository calls) ([`transfer`]);
//! 2. 1,000 files of 64 KiB up and down: `arca cp -r` against MLflow's
//!    `S3ArtifactRepository.log_artifacts` / `download_artifacts` ([`transfer`]);
//! 3. a proxied GET of the 1 GiB file and of a 64 KiB one, time to first
//!    byte and total: `arca serve` against `mlflow server --artifacts-only`,
//!    both with the same `s3://` destination ([`proxy`]).
//!
//! The Python contenders run from the test venv ([`crate::python`]) as
//! `s3_bench.py` (kept beside this file, written to the work directory at
//! run time), which times the transfer call alone. Every transfer is checked
//! byte for byte against its source before its figure counts, and what a
//! run stored is deleted after it, with radosgw's garbage collector run at
//! once: the OSD holds every byte in memory ([`Bench::clean`]).

mod notes;
mod proxy;
mod report;
mod transfer;

use super::proc::{self, Output};
use super::report::Machine;
use super::{Ctx, data};
use crate::project::{self, Result};
use crate::servers::ceph::{self, Ceph};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The large file's default size: 1 GiB.
const BIG_MIB: u64 = 1024;
/// The small files: how many by default, and their size.
const FILES: usize = 1000;
pub const FILE_BYTES: usize = 64 << 10;
/// Where in the test bucket the benchmark keeps its objects.
const PREFIX: &str = "bench";
/// The warm-up file: above one 8 MiB part, so it goes as a multipart upload.
const WARM_UP_BYTES: u64 = 24 << 20;
/// How many times a fresh cluster is tried before giving up.
const CEPH_ATTEMPTS: usize = 2;
/// The Python contenders.
const SCRIPT: &str = include_str!("s3/s3_bench.py");

/// The sizes of a run: the defaults, or smaller ones (hidden flags
/// `--size-mib` and `--files`) while working on the benchmark itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// The large file, in MiB.
    pub big_mib: u64,
    /// How many small files.
    pub files: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Self {
            big_mib: BIG_MIB,
            files: FILES,
        }
    }
}

impl Sizes {
    /// The sizes given by `--size-mib` and `--files` (defaults for those
    /// not given).
    pub fn parse(size_mib: Option<String>, files: Option<String>) -> Result<Self> {
        let mut sizes = Self::default();
        if let Some(v) = size_mib {
            sizes.big_mib = match v.parse::<u64>() {
                Ok(n @ 1..=4096) => n,
                _ => return Err(format!("--size-mib wants a number of MiB from 1 to 4096, not `{v}`")),
            };
        }
        if let Some(v) = files {
            sizes.files = match v.parse::<usize>() {
                Ok(n @ 1..=100_000) => n,
                _ => return Err(format!("--files wants a number from 1 to 100000, not `{v}`")),
            };
        }
        Ok(sizes)
    }

    pub fn big_bytes(&self) -> u64 {
        self.big_mib << 20
    }

    /// The flags that gave these sizes (empty for the defaults).
    pub fn flags(&self) -> String {
        let mut out = String::new();
        if self.big_mib != BIG_MIB {
            out.push_str(&format!(" --size-mib {}", self.big_mib));
        }
        if self.files != FILES {
            out.push_str(&format!(" --files {}", self.files));
        }
        out
    }

    /// The large file's size for people: `1 GiB`, `64 MiB`.
    pub fn big_shown(&self) -> String {
        if self.big_mib.is_multiple_of(1024) {
            format!("{} GiB", self.big_mib / 1024)
        } else {
            format!("{} MiB", self.big_mib)
        }
    }
}

/// Programs the S3 benchmark needs beside those every benchmark needs.
pub fn check_tools() -> Result {
    if !ceph::available() {
        return Err(format!(
            "the S3 benchmark runs a throw-away Ceph cluster, but some of {} are not installed \
             (on Debian: apt-get install radosgw ceph-mon ceph-osd)",
            ceph::PROGRAMS.join(", ")
        ));
    }
    for (tool, hint) in [
        (
            "curl",
            "it creates the bucket and times the proxied GETs (apt-get install curl)",
        ),
        ("setpriv", "it comes with util-linux"),
        ("env", "it comes with coreutils"),
        ("sh", "a POSIX shell is needed"),
    ] {
        super::servers::require(tool, &format!("the S3 benchmark needs it: {hint}"))?;
    }
    Ok(())
}

/// What every S3 workload needs.
#[derive(Debug)]
pub struct Bench<'a> {
    pub ctx: &'a Ctx,
    pub sizes: Sizes,
    ceph: &'a Ceph,
    /// `$WORK/s3`: the inputs, the downloads and the Python script.
    pub dir: PathBuf,
    /// The venv's python and `mlflow`.
    pub python: PathBuf,
    pub mlflow: PathBuf,
    script: PathBuf,
    /// The cluster's configuration, for `radosgw-admin`.
    conf: PathBuf,
}

impl Bench<'_> {
    /// The 1 GiB input.
    pub fn big(&self) -> PathBuf {
        self.dir.join("big.bin")
    }

    /// The directory of small files.
    pub fn small(&self) -> PathBuf {
        self.dir.join("small")
    }

    /// `s3://<bucket>/bench/<key>`.
    pub fn uri(&self, key: &str) -> String {
        format!("s3://{}/{}", ceph::BUCKET, self.key(key))
    }

    /// The object key of `key` under the benchmark's prefix.
    pub fn key(&self, key: &str) -> String {
        format!("{PREFIX}/{key}")
    }

    pub fn bucket(&self) -> &'static str {
        ceph::BUCKET
    }

    /// `arca --quiet --plugins <release manifest> ARGS`, with the S3 settings.
    pub fn arca<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Command {
        let mut cmd = Command::new(self.arca_program());
        cmd.arg("--quiet").arg("--plugins").arg(&self.ctx.manifest).args(args);
        cmd.envs(self.ceph.env());
        cmd
    }

    pub fn arca_program(&self) -> PathBuf {
        self.ctx.release.join(project::executable_file("arca"))
    }

    /// `python s3_bench.py ARGS`, with the S3 settings.
    pub fn python<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Command {
        let mut cmd = Command::new(&self.python);
        cmd.arg(&self.script).args(args);
        cmd.envs(self.ceph.env()).env("PYTHONDONTWRITEBYTECODE", "1");
        cmd
    }

    /// `env K=V … COMMAND`: how the servers get the S3 settings (they are
    /// started by [`super::servers::Server::spawn`], which takes words).
    pub fn with_env(&self, command: Vec<OsString>) -> Vec<OsString> {
        let mut words: Vec<OsString> = vec!["env".into()];
        words.extend(
            self.ceph
                .env()
                .into_iter()
                .map(|(k, v)| OsString::from(format!("{k}={v}"))),
        );
        words.extend(command);
        words
    }

    /// A command as the report shows it: no environment, machine paths as
    /// `$WORK`/`$TARGET`, words with spaces quoted.
    pub fn shown(&self, cmd: &Command) -> String {
        let words: Vec<OsString> = std::iter::once(cmd.get_program().to_owned())
            .chain(cmd.get_args().map(OsStr::to_owned))
            .collect();
        self.shown_words(&words)
    }

    pub fn shown_words(&self, words: &[OsString]) -> String {
        let words: Vec<String> = words
            .iter()
            .map(|w| w.to_string_lossy().into_owned())
            .skip_while(|w| w == "env" || (w.contains('=') && !w.starts_with('-')))
            .map(|w| {
                let w = self.ctx.shown(w);
                if w.contains(' ') { format!("'{w}'") } else { w }
            })
            .collect();
        words.join(" ")
    }

    /// One untimed multipart upload and download, then a delete: radosgw
    /// creates its data pools on the first write and the first multipart
    /// upload, which must not be billed to whichever contender goes first.
    fn warm_up(&self) -> Result {
        let (file, back) = (self.dir.join("warm-up.bin"), self.dir.join("warm-up-back.bin"));
        data::big_file(&file, WARM_UP_BYTES)?;
        let uri = OsString::from(self.uri("warm-up/warm-up.bin"));
        let logs = &self.ctx.logs;
        proc::run(
            &mut self.arca([OsStr::new("cp"), file.as_os_str(), &uri]),
            &Output::Logged(logs),
        )?;
        proc::run(
            &mut self.arca([OsStr::new("cp"), &uri, back.as_os_str()]),
            &Output::Logged(logs),
        )?;
        crate::bench::verify::same_file(&file, &back)?;
        super::measure::remove(&back)?;
        self.clean("warm-up")
    }

    /// Deletes everything under `bench/<prefix>` (with `arca rm -r`), then
    /// has radosgw's garbage collector free the deleted data at once
    /// instead of after its delay: the memstore OSD keeps every byte in RAM,
    /// and a collection starting on its own could land in a timed run.
    pub fn clean(&self, prefix: &str) -> Result {
        let logs = &self.ctx.logs;
        proc::run(
            &mut self.arca(["rm", "-r", "-f", &self.uri(prefix)]),
            &Output::Logged(logs),
        )?;
        collect_garbage(&self.conf, logs)
    }
}

/// Has radosgw's garbage collector free every deleted object now rather
/// than after its delay (`conf`: the cluster's `ceph.conf`, see [`ceph_conf`]).
pub fn collect_garbage(conf: &Path, logs: &Path) -> Result {
    let mut gc = Command::new("radosgw-admin");
    gc.arg("-c").arg(conf).args(["gc", "process", "--include-all"]);
    proc::run(&mut gc, &Output::Logged(logs)).map(drop)
}

pub fn run(ctx: &Ctx, machine: &Machine, sizes: Sizes) -> Result {
    let python = crate::python::ensure_venv()?;
    let dir = ctx.work.join("s3");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let script = dir.join("s3_bench.py");
    project::write(&script, SCRIPT)?;
    let load_before = load_average();
    let ceph = start_ceph()?;
    let bench = Bench {
        ctx,
        sizes,
        ceph: &ceph,
        mlflow: python.with_file_name("mlflow"),
        python,
        script,
        conf: ceph_conf()?,
        dir,
    };
    let software = report::software(&bench)?;
    eprintln!(
        "bench: writing {} and {} × 64 KiB to {}",
        sizes.big_shown(),
        sizes.files,
        bench.dir.display()
    );
    data::big_file(&bench.big(), sizes.big_bytes())?;
    data::flat_dir(&bench.small(), sizes.files, FILE_BYTES)?;
    bench.warm_up()?;
    proc::sync(&ctx.logs)?;

    let big = transfer::big(&bench)?;
    let small = transfer::small(&bench)?;
    let proxied = proxy::measure(&bench)?;
    let measured = report::Measured {
        big,
        small,
        proxied,
        load: [load_before, load_average()],
    };
    let doc = report::document(&bench, machine, &measured, software);
    println!();
    for s in &doc.sections {
        println!("{}", s.text());
    }
    let path = doc.write()?;
    println!("wrote the S3 part of {}", project::display(&path));
    Ok(())
}

/// A fresh cluster, with a second try: a start now and then fails for
/// reasons of its own (the test task does the same).
pub fn start_ceph() -> Result<Ceph> {
    let mut last = String::new();
    for attempt in 1..=CEPH_ATTEMPTS {
        match Ceph::start() {
            Ok(c) => return Ok(c),
            Err(e) => {
                eprintln!("warning: radosgw start {attempt} of {CEPH_ATTEMPTS} failed: {e}");
                last = e;
            }
        }
    }
    Err(format!("cannot start radosgw for the S3 benchmark: {last}"))
}

/// The running cluster's `ceph.conf`, where [`Ceph::start`] writes it
/// (`<target>/servers/ceph-<pid>/`); `Ceph` does not hand the path out.
pub fn ceph_conf() -> Result<PathBuf> {
    let conf = project::target_dir()
        .join("servers")
        .join(format!("ceph-{}", std::process::id()))
        .join("ceph.conf");
    if conf.is_file() {
        Ok(conf)
    } else {
        Err(format!(
            "the cluster's configuration is not at {} (has xtask/src/servers/ceph.rs moved it?)",
            conf.display()
        ))
    }
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` says them.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let v: Vec<&str> = text.split_whitespace().take(3).collect();
    if v.len() == 3 {
        v.join(", ")
    } else {
        "unknown".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_parsed_and_shown() {
        assert_eq!(Sizes::parse(None, None), Ok(Sizes::default()));
        assert_eq!(Sizes::default().flags(), "");
        assert_eq!(Sizes::default().big_shown(), "1 GiB");
        let s = Sizes::parse(Some("64".into()), Some("10".into())).unwrap_or_default();
        assert_eq!((s.big_bytes(), s.files), (64 << 20, 10));
        assert_eq!(s.flags(), " --size-mib 64 --files 10");
        assert_eq!(s.big_shown(), "64 MiB");
        assert!(Sizes::parse(Some("0".into()), None).is_err());
        assert!(Sizes::parse(None, Some("x".into())).is_err_and(|e| e.contains("--files")));
    }
}
