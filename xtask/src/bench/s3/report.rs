//! The S3 benchmark's part of `BENCHMARKS.md`: a table per workload, each
//! figure beside the target for Arca and whether it was met, and
//! notes on where the time goes.

use super::proxy::{Served, WARM_UP};
use super::transfer::{ARCA, BIG_LABELS, PYTHON, SMALL_LABELS, Timed, Transfer};
use super::{Bench, FILE_BYTES};
use crate::bench::document::Document;
use crate::bench::proc;
use crate::bench::report::{Machine, Section, thousands, utc_now};
use crate::bench::serve_report::{rate, times};
use crate::bench::{DEFAULT_RUNS, measure, met};
use crate::project::Result;
use crate::servers::ceph;
use std::process::Command;

/// The targets.
pub(super) const BIG_MIN_VS_BOTO3: f64 = 1.5;
pub(super) const SMALL_MIN_VS_MLFLOW: f64 = 5.0;
pub(super) const TTFB_MAX_MS: f64 = 50.0;

/// Everything the S3 benchmark measured.
#[derive(Debug)]
pub struct Measured {
    pub big: Transfer,
    pub small: Transfer,
    /// `arca serve`, then `mlflow server`.
    pub proxied: Vec<Served>,
    /// The load averages when the run started and when it ended.
    pub load: [String; 2],
}

/// The versions of what was measured, as rows for the machine table.
pub fn software(b: &Bench<'_>) -> Result<Vec<(String, String)>> {
    let logs = &b.ctx.logs;
    let line = |cmd: &mut Command| -> Result<String> {
        let out = proc::stdout(cmd, logs)?;
        Ok(out.lines().next().unwrap_or_default().trim().to_owned())
    };
    let word = |text: &str, i: usize| text.split_whitespace().nth(i).unwrap_or(text).to_owned();
    // `mlflow, version 3.17.2`; `ceph version 16.2.15 (…) pacific (stable)`; `curl 7.88.1 (…) …`.
    let mlflow = line(Command::new(&b.mlflow).arg("--version"))?;
    let boto3 = line(Command::new(&b.python).args(["-c", "import boto3; print(boto3.__version__)"]))?;
    let ceph = line(Command::new("radosgw").arg("--version"))?;
    let curl = line(Command::new("curl").arg("--version"))?;
    Ok(vec![
        ("MLflow".to_owned(), format!("{} (PyPI)", word(&mlflow, 2))),
        ("boto3".to_owned(), format!("{boto3} (PyPI)")),
        (
            "radosgw".to_owned(),
            format!("Ceph {} {}, one memstore OSD", word(&ceph, 2), word(&ceph, 4)),
        ),
        ("curl".to_owned(), word(&curl, 1)),
    ])
}

pub fn document<'a>(
    b: &Bench<'_>,
    machine: &'a Machine,
    m: &Measured,
    software: Vec<(String, String)>,
) -> Document<'a> {
    let runs = match b.ctx.runs {
        DEFAULT_RUNS => String::new(),
        n => format!(" --runs {n}"),
    };
    Document {
        name: "s3",
        title: "Arca on S3 against boto3 and MLflow",
        intro: intro(b),
        command: format!("cargo xtask bench s3{runs}{}", b.sizes.flags()),
        date: utc_now(),
        machine,
        software,
        sections: vec![
            big_section(b, &m.big),
            small_section(b, &m.small),
            proxy_section(b, &m.proxied),
        ],
        notes: super::notes::notes(b.sizes, cpus(), m),
    }
}

/// How many CPUs this machine has (as the machine table counts them).
fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn intro(b: &Bench<'_>) -> String {
    let each = match b.ctx.runs {
        1 => "Each figure comes from a single run".to_owned(),
        n => format!("Each figure is the median of {n} runs"),
    };
    format!(
        "\
Arca's S3 plugin (release build, loaded from `plugins.toml`) against what MLflow uses on S3: boto3's managed \
transfers and MLflow's own `S3ArtifactRepository`, from the test venv. Everything runs on this machine against \
one radosgw started for the run (a fresh one-node Ceph cluster, one in-memory OSD, on 127.0.0.1), bucket \
`{bucket}`; every contender gets the same S3 settings through MLflow's variables (`MLFLOW_S3_ENDPOINT_URL`, \
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`), which MLflow's code reads itself.

**How.** {each}; the contenders of a table take turns (run 1 of each, then run 2 of each, …). Each run \
uploads under keys of its own, downloads what it uploaded to a new local file or directory, and the download is \
compared byte for byte with the source before the figure counts; then the run's objects are deleted and \
radosgw's garbage collector is run (`radosgw-admin gc process --include-all`), so the in-memory OSD never \
holds more than one run's data and no collection starts during a timed run. `sync` runs before every timed \
command; none of this is timed. `arca`'s figure is the wall time of its process, start-up included. The Python \
contenders run `s3_bench.py` (in `xtask/src/bench/s3/`), which times the transfer call alone: the interpreter's \
start, the imports and the creation of the boto3 client are left out (their process time is in the `Process` \
column). The CPU columns say where the time goes: the client's CPU seconds (user + system; `arca`'s whole \
process under GNU time, the Python call alone from `getrusage`) and those of radosgw and the Ceph daemons \
meanwhile (from `/proc`); on this machine all of them share the same CPUs. MiB/s is 2^20 bytes per second; `vs` is Arca's rate over the other's (above 1 is faster). `$WORK` is \
`<target>/bench-work` (wiped before and after), `$TARGET` the cargo target directory.",
        bucket = ceph::BUCKET,
    )
}

/// Rows for one workload: per direction, Arca then the other, with
/// `rates` the rate cells of a contender and `target` Arca's minimum ratio
/// and whom it is measured against.
fn transfer_rows(
    t: &Transfer,
    labels: &[[&str; 2]],
    rates: &dyn Fn(&Timed) -> Vec<String>,
    target: (f64, &str),
) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for (dir, (name, timed)) in [("upload", &t.up), ("download", &t.down)].into_iter().enumerate() {
        let ratio = timed[PYTHON].median() / timed[ARCA].median();
        for (i, tm) in timed.iter().enumerate() {
            let mut row = vec![
                name.to_owned(),
                labels[i][dir].to_owned(),
                format!("{:.3}", tm.median()),
            ];
            row.extend(rates(tm));
            if i == ARCA {
                row.extend([
                    times(ratio),
                    format!("≥ {:.1}× {}", target.0, target.1),
                    met(ratio >= target.0),
                ]);
            } else {
                let what = if i == PYTHON { "reference" } else { "informative" };
                row.extend(["—".to_owned(), what.to_owned(), "—".to_owned()]);
            }
            row.push(runs_cell(&tm.secs, 1.0, 3));
            row.push(format!("{:.3}", tm.process_median()));
            row.push(format!("{:.2}", tm.cpu_median()));
            row.push(format!("{:.2}", tm.server_cpu_median()));
            rows.push(row);
        }
    }
    rows
}

fn runs_cell(secs: &[f64], scale: f64, decimals: usize) -> String {
    let v: Vec<String> = secs.iter().map(|s| format!("{:.decimals$}", s * scale)).collect();
    v.join(", ")
}

fn commands(t: &Transfer, labels: &[[&str; 2]]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (dir, timed) in [&t.up, &t.down].into_iter().enumerate() {
        let what = if dir == 0 { "upload" } else { "download" };
        for (i, tm) in timed.iter().enumerate() {
            out.push((format!("{}, {what}", labels[i][dir]), tm.command.clone()));
        }
    }
    out
}

fn big_section(b: &Bench<'_>, t: &Transfer) -> Section {
    let mib = b.sizes.big_mib as f64;
    let size = b.sizes.big_shown();
    Section {
        title: format!("{size} file: `arca cp` against boto3"),
        intro: format!(
            "One file of {size} ({} bytes) of pseudo-random data, copied from the local disk to \
             `s3://{}/bench/big/<contender>-r<run>/big.bin` and back to a new local file. boto3 runs with \
             `TransferConfig(multipart_threshold=8 MiB, multipart_chunksize=8 MiB, max_concurrency=10)` (boto3's \
             defaults, which is what MLflow's S3 repository gets: it calls `upload_file`/`download_file` without \
             a config) on the client MLflow builds (`S3ArtifactRepository._get_s3_client()`). `arca cp` runs with \
             its defaults. The informative rows hold boto3 to 3 threads on upload and 1 on download, to show how \
             much its own concurrency buys it. (The S3 plugin keeps up to 8 parts of 8 MiB in flight on upload, \
             and reads an object larger than 16 MiB as up to 8 concurrent 8 MiB ranged `GET`s.)",
            thousands(b.sizes.big_bytes()),
            b.bucket(),
        ),
        headers: vec![
            "Transfer",
            "Contender",
            "Median (s)",
            "MiB/s",
            "vs boto3",
            "Target",
            "Met",
            "Runs (s)",
            "Process (s)",
            "CPU, client (s)",
            "CPU, Ceph (s)",
        ],
        rows: transfer_rows(
            t,
            &BIG_LABELS,
            &|tm| vec![rate(mib / tm.median())],
            (BIG_MIN_VS_BOTO3, "boto3"),
        ),
        commands: commands(t, &BIG_LABELS),
    }
}

fn small_section(b: &Bench<'_>, t: &Transfer) -> Section {
    let files = b.sizes.files as f64;
    let mib = files * FILE_BYTES as f64 / f64::from(1u32 << 20);
    Section {
        title: format!(
            "{} files of 64 KiB: `arca cp -r` against MLflow",
            thousands(b.sizes.files as u64)
        ),
        intro: format!(
            "{} files of 64 KiB of pseudo-random data (the same bytes in each) in one directory, uploaded to `s3://{}/bench/small/<contender>-r<run>/` and \
             downloaded to a new local directory. MLflow: `S3ArtifactRepository(uri).log_artifacts(dir)` (one \
             `upload_file` after the other) and `.download_artifacts(\"\", dst_path=dir)` (a listing, then \
             `download_file` on a pool of min(2 × CPUs, 20) threads: 4 here). `arca cp -r` runs with its defaults \
             (8 transfers at once).",
            thousands(b.sizes.files as u64),
            b.bucket(),
        ),
        headers: vec![
            "Transfer",
            "Contender",
            "Median (s)",
            "Files/s",
            "MiB/s",
            "vs MLflow",
            "Target",
            "Met",
            "Runs (s)",
            "Process (s)",
            "CPU, client (s)",
            "CPU, Ceph (s)",
        ],
        rows: transfer_rows(
            t,
            &SMALL_LABELS,
            &|tm| vec![rate(files / tm.median()), rate(mib / tm.median())],
            (SMALL_MIN_VS_MLFLOW, "MLflow"),
        ),
        commands: commands(t, &SMALL_LABELS),
    }
}

fn proxy_section(b: &Bench<'_>, served: &[Served]) -> Section {
    let size = b.sizes.big_shown();
    let mib = b.sizes.big_mib as f64;
    let med = measure::median;
    let rows = served
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (small, big) = (med(&s.small_ttfb) * 1e3, med(&s.big_ttfb) * 1e3);
            let (target, ok) = if i == 0 {
                (
                    format!("first byte ≤ {TTFB_MAX_MS:.0} ms"),
                    met(small <= TTFB_MAX_MS && big <= TTFB_MAX_MS),
                )
            } else {
                ("—".to_owned(), "—".to_owned())
            };
            vec![
                s.label.to_owned(),
                format!("{small:.1}"),
                format!("{big:.1}"),
                format!("{:.3}", med(&s.big_total)),
                rate(mib / med(&s.big_total)),
                target,
                ok,
                runs_cell(&s.small_ttfb, 1e3, 1),
                runs_cell(&s.big_ttfb, 1e3, 1),
                runs_cell(&s.big_total, 1.0, 3),
            ]
        })
        .collect();
    let mut commands: Vec<(String, String)> = served.iter().map(|s| (s.label.to_owned(), s.server.clone())).collect();
    commands.extend(served.iter().map(|s| (format!("GET from {}", s.label), s.curl.clone())));
    Section {
        title: "Proxied GET: `arca serve` against `mlflow server`".to_owned(),
        intro: format!(
            "`GET /api/2.0/mlflow-artifacts/artifacts/<path>` of the {size} file (`large` below) and of a 64 KiB one, both stored \
             once under `s3://{}/bench/proxy/`, through `arca serve --artifacts-destination s3://…` and `mlflow \
             server --artifacts-only --artifacts-destination s3://…` (uvicorn, 4 workers), side by side; `curl` \
             saves each response to a file and reports the time to its first byte (`time_starttransfer`: \
             connection, request and the server's work until the status line arrives) and the total. Each server \
             first serves the 64 KiB file {WARM_UP} times, untimed, so none pays for building its S3 client in \
             the figures; then, run by run, each serves the 64 KiB file and then the {size} one.",
            b.bucket(),
        ),
        headers: vec![
            "Server",
            "First byte, 64 KiB (ms)",
            "First byte, large (ms)",
            "Total, large (s)",
            "MiB/s",
            "Target",
            "Met",
            "Runs: first byte, 64 KiB (ms)",
            "Runs: first byte, large (ms)",
            "Runs: total, large (s)",
        ],
        rows,
        commands,
    }
}
