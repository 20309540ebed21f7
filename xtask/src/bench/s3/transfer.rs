//! Transfers between this machine and radosgw, each contender up then down,
//! the contenders taking turns run by run:
//!
//! - the large file: `arca cp FILE s3://…` and back, against boto3's
//!   `upload_file` / `download_file` (`s3_bench.py boto3-up|boto3-down`);
//! - the small files: `arca cp -r DIR s3://…` and back, against MLflow's
//!   `S3ArtifactRepository(uri).log_artifacts(DIR)` /
//!   `.download_artifacts("", DIR)` (`s3_bench.py mlflow-up|mlflow-down`).
//!
//! Each run writes under keys of its own (`bench/big/arca-r1/…`) and reads
//! back what the same contender wrote; the download is compared byte for
//! byte with the source, then the run's objects are deleted and collected
//! ([`Bench::clean`]), all outside the timing. `sync` runs before every
//! timed command. `arca`'s figure is its process's wall time (start-up,
//! plugin loading and client set-up included); a Python contender's is the
//! time of the call alone, measured in the process, without the
//! interpreter's start and imports (its process time is kept too).
//!
//! Where the time goes: each run also records the CPU time the client used
//! (`arca` under GNU time, its whole process; a Python contender, the call
//! alone, from `getrusage` in the process) and the CPU time radosgw and the
//! Ceph daemons used meanwhile (from `/proc`), which together show whether
//! the machine's CPUs, not the network or the client's design, bound a run.

use super::Bench;
use crate::bench::measure;
use crate::bench::timing::Runner;
pub use crate::bench::timing::{Timed, Transfer};
use crate::bench::verify::{same_file, same_tree};
use crate::project::Result;
use std::ffi::OsString;
use std::process::Command;

/// The Ceph daemons [`crate::servers::ceph`] starts, as `/proc/<pid>/comm` names them.
const DAEMONS: &[&str] = &["radosgw", "ceph-osd", "ceph-mon"];

/// The contenders of a workload, by index: `arca`, then the Python one it
/// is measured against, then (large file only) [`LIKE_ARCA`].
pub const ARCA: usize = 0;
pub const PYTHON: usize = 1;
/// boto3 held to 3 threads on upload and 1 on download, to show how much
/// its own concurrency buys it.
pub const LIKE_ARCA: usize = 2;
const LIKE_ARCA_THREADS: [&str; 2] = ["3", "1"];

/// The names the contenders' keys and downloads carry.
const BIG_NAMES: [&str; 3] = ["arca", "boto3", "boto3-like-arca"];
const SMALL_NAMES: [&str; 2] = ["arca", "mlflow"];
/// The contenders as the report names them: `[upload, download]` each.
pub const BIG_LABELS: [[&str; 2]; 3] = [
    ["arca cp", "arca cp"],
    ["boto3 upload_file", "boto3 download_file"],
    ["boto3 upload_file, 3 threads", "boto3 download_file, 1 thread"],
];
pub const SMALL_LABELS: [[&str; 2]; 2] = [
    ["arca cp -r", "arca cp -r"],
    ["MLflow log_artifacts", "MLflow download_artifacts"],
];

fn os(s: impl Into<OsString>) -> OsString {
    s.into()
}

/// The large file up and down.
pub fn big(b: &Bench<'_>) -> Result<Transfer> {
    let what = format!("{} file", b.sizes.big_shown());
    let src = b.big();
    let got = b.dir.join("down.bin");
    let mut t = Transfer::new(BIG_NAMES.len());
    for run in 1..=b.ctx.runs {
        for (i, name) in BIG_NAMES.iter().enumerate() {
            let prefix = format!("big/{name}-r{run}");
            let key = format!("{prefix}/big.bin");
            let (mut up, mut down) = if i == ARCA {
                (
                    b.arca([os("cp"), os(&src), os(b.uri(&key))]),
                    b.arca([os("cp"), os(b.uri(&key)), os(&got)]),
                )
            } else {
                (
                    b.python([os("boto3-up"), os(&src), os(b.bucket()), os(b.key(&key))]),
                    b.python([os("boto3-down"), os(b.bucket()), os(b.key(&key)), os(&got)]),
                )
            };
            if i == LIKE_ARCA {
                up.arg(LIKE_ARCA_THREADS[0]);
                down.arg(LIKE_ARCA_THREADS[1]);
            }
            measure::remove(&got)?;
            step_both(b, &mut t, i, [up, down], &what, BIG_LABELS[i], run)?;
            same_file(&src, &got)?;
            measure::remove(&got)?;
            b.clean(&prefix)?;
        }
    }
    Ok(t)
}

/// The small files up and down. Every run downloads into a new directory,
/// left for the final wipe (see `measure.rs` on deleting many files).
pub fn small(b: &Bench<'_>) -> Result<Transfer> {
    let what = format!("{} files", b.sizes.files);
    let src = b.small();
    let mut t = Transfer::new(SMALL_NAMES.len());
    for run in 1..=b.ctx.runs {
        for (i, name) in SMALL_NAMES.iter().enumerate() {
            let prefix = format!("small/{name}-r{run}");
            let got = b.dir.join(format!("down-small-{name}-r{run}"));
            let (up, down) = if i == ARCA {
                (
                    b.arca([os("cp"), os("-r"), os(&src), os(b.uri(&prefix))]),
                    b.arca([os("cp"), os("-r"), os(b.uri(&prefix)), os(&got)]),
                )
            } else {
                (
                    b.python([os("mlflow-up"), os(&src), os(b.uri(&prefix))]),
                    b.python([os("mlflow-down"), os(b.uri(&prefix)), os(&got)]),
                )
            };
            step_both(b, &mut t, i, [up, down], &what, SMALL_LABELS[i], run)?;
            same_tree(&src, &got)?;
            b.clean(&prefix)?;
        }
    }
    Ok(t)
}

/// Runs one timed command, `sync` first, and records it.
/// Times contender `i`'s upload, then its download.
fn step_both(
    b: &Bench<'_>,
    t: &mut Transfer,
    i: usize,
    [up, down]: [Command; 2],
    what: &str,
    [up_label, down_label]: [&str; 2],
    run: usize,
) -> Result {
    step(b, &mut t.up[i], up, i != ARCA, &format!("{what} up, {up_label}"), run)?;
    step(
        b,
        &mut t.down[i],
        down,
        i != ARCA,
        &format!("{what} down, {down_label}"),
        run,
    )
}

fn step(b: &Bench<'_>, t: &mut Timed, cmd: Command, python: bool, what: &str, run: usize) -> Result {
    let runner = Runner {
        logs: &b.ctx.logs,
        runs: b.ctx.runs,
        script: "s3_bench.py",
        servers: DAEMONS,
        server_label: "Ceph",
    };
    let shown = b.shown(&cmd);
    runner.step(t, cmd, python, what, run, shown)
}
