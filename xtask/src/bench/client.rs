//! `cargo xtask bench client`: the unmodified MLflow client (its
//! `MlflowArtifactsRepository`, as a user's `log_artifact` and
//! `download_artifacts` run it) against `arca serve`, `mlflow server
//! --artifacts-only` and nginx on a local destination, side by side in one
//! run ([`contenders`], and `arca serve` once more with parts on both
//! ways), for a 1 GiB file and 2,000 files of 4 KiB, up and down; then
//! `arca serve` (as it starts, and with parts off) and `mlflow server` again
//! on an S3 destination (one fresh radosgw) where Ceph is installed; if
//! radosgw does not start, the local part is still written, and says so.
//! The client reads each MLflow server's server-info and picks its paths
//! (parts or one request) itself; against nginx it PUTs and GETs one
//! request per file (`HttpArtifactRepository`). The requests `arca serve`
//! received per file are read from its `/metrics`.
//!
//! Every download is compared with its source, outside the timing; each
//! run writes fresh names, and what it wrote is removed before the next.

use super::contenders::{self, ARCA, MLFLOW, NGINX};
use super::document::Document;
use super::report::{Machine, Section, table};
use super::servers::{Api, Server, mkdir};
use super::timing::{Runner, Timed};
use super::verify::{same_file, same_tree};
use super::{Ctx, DEFAULT_RUNS, data, measure, proc};
use crate::project::{self, Result};
use std::path::Path;
use std::process::Command;

const SCRIPT: &str = include_str!("client/client_bench.py");
const SMALL_COUNT: usize = 2000;
const SMALL_SIZE: usize = 4096;
/// The local contender with parts on, after [`contenders::start`]'s.
const PARTS: usize = 4;
/// On S3: `arca serve` as it starts, with parts off, then MLflow.
const S3_MLFLOW: usize = 2;

/// The requests `arca serve` counted so far, summed over its routes.
fn arca_requests(server: &Server) -> Result<u64> {
    let url = format!("{}/metrics", server.origin);
    let out = Command::new("curl")
        .args(["-sf", "--max-time", "10", &url])
        .output()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    if !out.status.success() {
        return Err(format!("GET {url} failed"));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("arca_requests_total{"))
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum())
}

/// One workload: per contender, its timings and (for `arca serve`) the
/// requests per file of run 1.
struct Measured {
    timed: Vec<Timed>,
    per_file: Vec<Option<f64>>,
}

impl Measured {
    fn new(n: usize) -> Self {
        Self {
            timed: vec![Timed::default(); n],
            per_file: vec![None; n],
        }
    }
}

pub fn run(ctx: &Ctx, machine: &Machine) -> Result {
    let python = crate::python::ensure_venv()?;
    let mlflow = python.with_file_name("mlflow");
    let root = mkdir(&ctx.work.join("client"))?;
    let script = root.join("client_bench.py");
    project::write(&script, SCRIPT)?;
    let software = contenders::versions(ctx, &mlflow)?;
    let big = root.join("big.bin");
    let small = root.join("small");
    eprintln!("bench: writing 1 GiB and {SMALL_COUNT} × 4 KiB to {}", root.display());
    data::big_file(&big, data::BIG_BYTES)?;
    data::flat_dir(&small, SMALL_COUNT, SMALL_SIZE)?;
    proc::sync(&ctx.logs)?;

    let files = Files {
        python: &python,
        script: &script,
        root: &root,
        big: &big,
        small: &small,
    };
    // The S3 destination first, while the machine is fresh: radosgw,
    // `arca serve` (as it starts, and with parts off) and `mlflow server`.
    let s3_run = if crate::servers::ceph::available() {
        s3_destination(ctx, &files, &mlflow, &root).map_err(|e| {
            eprintln!("warning: the S3 destination was not measured: {e}");
            format!("it failed: {}", e.lines().next().unwrap_or_default())
        })
    } else {
        eprintln!("warning: Ceph is not installed, so the S3 destination is not measured");
        Err("Ceph is not installed".to_owned())
    };
    let mut servers = contenders::start(ctx, &root, &mlflow)?;
    // The same server told to advertise parts both ways: what an operator
    // behind a proxy with request-size limits runs.
    let parts_dir = mkdir(&root.join("arca-parts"))?;
    let parts_dest = mkdir(&parts_dir.join("dest"))?;
    servers.push(contenders::start_arca_on(
        ctx,
        "arca serve, parts on",
        parts_dir,
        parts_dest.clone(),
        contenders::serve_args(parts_dest.into(), &["--multipart-uploads", "--multipart-downloads"]),
        &ctx.manifest,
        &[],
    )?);
    let [big_up, big_down, small_up, small_down] = workloads(ctx, &files, &servers, Dest::Local)?;
    for s in &mut servers {
        s.stop()?;
    }
    let labels: Vec<&str> = servers.iter().map(|s| s.label).collect();
    let big_bytes = data::BIG_BYTES as f64;
    let small_bytes = (SMALL_COUNT * SMALL_SIZE) as f64;
    let local = (MLFLOW, Some(NGINX));
    let mut sections = vec![
        section("A 1 GiB file", &labels, (&big_up, &big_down), big_bytes, local, true),
        section(
            "2,000 files of 4 KiB",
            &labels,
            (&small_up, &small_down),
            small_bytes,
            local,
            false,
        ),
    ];
    let s3 = s3_run.map(|(labels, measured)| {
        let [up, down, sup, sdown] = &measured;
        sections.push(section(
            "A 1 GiB file, S3 destination (radosgw)",
            &labels,
            (up, down),
            big_bytes,
            (S3_MLFLOW, None),
            false,
        ));
        sections.push(section(
            "2,000 files of 4 KiB, S3 destination (radosgw)",
            &labels,
            (sup, sdown),
            small_bytes,
            (S3_MLFLOW, None),
            false,
        ));
        measured
    });
    let ratio = |m: &Measured, i: usize, against: usize| m.timed[against].median() / m.timed[i].median();
    let verdict = |r: f64, t: f64| if r >= t { "met" } else { "**not met**" };
    let mut rows = Vec::new();
    // (workload, measured, contender, compared with, its label, target)
    let mut cases: Vec<(&str, &Measured, usize, usize, &str, f64)> = vec![
        ("1 GiB up", &big_up, ARCA, MLFLOW, "`mlflow server`", 1.5),
        ("1 GiB up", &big_up, ARCA, NGINX, "nginx", 0.8),
        ("1 GiB down", &big_down, ARCA, MLFLOW, "`mlflow server`", 1.5),
        ("1 GiB down", &big_down, ARCA, NGINX, "nginx", 0.8),
        ("2,000 × 4 KiB up", &small_up, ARCA, MLFLOW, "`mlflow server`", 1.5),
        ("2,000 × 4 KiB down", &small_down, ARCA, MLFLOW, "`mlflow server`", 1.5),
        (
            "1 GiB up in parts",
            &big_up,
            PARTS,
            ARCA,
            "one PUT through `arca serve`",
            1.0,
        ),
        (
            "1 GiB down in chunks",
            &big_down,
            PARTS,
            ARCA,
            "one GET through `arca serve`",
            1.0,
        ),
    ];
    if let Ok([up, down, sup, sdown]) = &s3 {
        for (what, m) in [
            ("1 GiB up, S3", up),
            ("1 GiB down, S3", down),
            ("2,000 × 4 KiB up, S3", sup),
            ("2,000 × 4 KiB down, S3", sdown),
        ] {
            cases.push((what, m, ARCA, S3_MLFLOW, "`mlflow server`", 1.5));
        }
    }
    for (what, m, i, against, label, target) in cases {
        let r = ratio(m, i, against);
        rows.push(vec![
            what.to_owned(),
            label.to_owned(),
            format!("{r:.2}×"),
            format!("≥ {target}×"),
            verdict(r, target).to_owned(),
        ]);
    }
    let notes = format!(
        "{}\nThe targets are `arca serve`'s as it starts (the default configuration, which fsyncs every upload and \
         advertises parts only where the destination presigns them); \"in parts\" and \"in chunks\" are the same \
         server with `--multipart-uploads --multipart-downloads`, the MLflow client's multipart paths through it. {}",
        table(&["Workload", "Against", "Ratio", "Target", ""], &rows),
        match &s3 {
            Ok(_) =>
                "On S3, the servers write to one fresh radosgw (each on a prefix of its own); nginx has no S3 side."
                    .to_owned(),
            Err(why) => ctx.shown(format!("The S3 destination was not measured in this run: {why}.")),
        }
    );
    let each = match ctx.runs {
        1 => "a single run".to_owned(),
        n => format!("the median of {n} runs"),
    };
    let doc = Document {
        name: "client",
        title: "The MLflow client through `arca serve`, MLflow's server and nginx",
        intro: format!(
            "The unmodified MLflow client, as a user's code runs it: `MlflowArtifactsRepository` with \
             `MLFLOW_TRACKING_URI` at the server (`log_artifact`, `log_artifacts`, `download_artifacts`), so the \
             client reads the server's server-info and chooses parts or one request per file itself; against \
             nginx (PUT and GET of plain files, the physical reference) the same client's \
             `HttpArtifactRepository`, one request per file (nginx has no MLflow listing, so its directory \
             download is not measured). First on a local destination on `$WORK`'s disk, then, where Ceph is \
             installed, on an S3 destination: one fresh radosgw, `arca serve` and `mlflow server` each on a \
             prefix of its bucket. Each figure is {each}, the client's call alone, timed inside its process; the \
             servers take turns run by run. Every download is compared with its source (and on the local disk \
             every upload too). \"Requests per file\" is what `arca serve` counted in its `/metrics` during \
             run 1 (listings included)."
        ),
        command: match ctx.runs {
            DEFAULT_RUNS => "cargo xtask bench client".to_owned(),
            n => format!("cargo xtask bench client --runs {n}"),
        },
        date: super::report::utc_now(),
        machine,
        software,
        sections,
        notes,
    };
    println!();
    for s in &doc.sections {
        println!("{}", s.text());
    }
    let path = doc.write()?;
    println!("wrote the client part of {}", project::display(&path));
    Ok(())
}

/// The S3 part: one fresh radosgw, `arca serve` as it starts and with
/// parts off, and `mlflow server`, each on a prefix of the bucket.
fn s3_destination(
    ctx: &Ctx,
    files: &Files<'_>,
    mlflow: &Path,
    root: &Path,
) -> Result<(Vec<&'static str>, [Measured; 4])> {
    let ceph = super::s3::start_ceph()?;
    let env = ceph.env();
    let s3root = mkdir(&root.join("s3"))?;
    let bucket = crate::servers::ceph::BUCKET;
    let since = std::time::Instant::now();
    let mut ml = contenders::start_mlflow_on(
        mlflow,
        mkdir(&s3root.join("mlflow"))?,
        s3root.clone(),
        format!("s3://{bucket}/client-mlflow").into(),
        &env,
    )?;
    let arca = |label, name: &str, extra: &[&str]| {
        contenders::start_arca_on(
            ctx,
            label,
            mkdir(&s3root.join(name))?,
            s3root.clone(),
            contenders::serve_args(format!("s3://{bucket}/client-{name}").into(), extra),
            &ctx.manifest,
            &env,
        )
    };
    let default = arca("arca serve", "arca", &[])?;
    let off = arca(
        "arca serve, parts off",
        "arca-off",
        &["--no-multipart-uploads", "--no-multipart-downloads"],
    )?;
    ml.wait_ready("/health", since, contenders::MLFLOW_START_LIMIT)?;
    let mut all = vec![default, off, ml];
    let conf = super::s3::ceph_conf()?;
    let measured = workloads(ctx, files, &all, Dest::S3(&conf))?;
    for s in &mut all {
        s.stop()?;
    }
    drop(ceph);
    Ok((all.iter().map(|s| s.label).collect(), measured))
}

/// Where the servers of one [`workloads`] call store what they are sent.
#[derive(Clone, Copy)]
enum Dest<'a> {
    /// Directories here: checked after each upload, emptied after each run.
    Local,
    /// One radosgw, whose `ceph.conf` is this file.
    S3(&'a Path),
}

/// Removes what a run stored under `prefix`: from the directory, or
/// through the server's delete route (an S3 destination), after which
/// radosgw's garbage collector frees the deleted data at once, as the S3
/// benchmark does. Left to itself it waits a minute or more, while the
/// memstore OSD (4 GiB, in RAM) takes 3 GiB of 1 GiB files per run: a run
/// without this hung on a DELETE in its second round, once about 4 GiB had
/// been written, and radosgw then ignored SIGTERM.
fn forget(s: &Server, prefix: &str, dest: Dest<'_>, logs: &Path) -> Result {
    let Dest::S3(conf) = dest else {
        return measure::remove(&s.dest.join(prefix));
    };
    proc::run(
        Command::new("curl").args(["-sSf", "--max-time", "120", "-X", "DELETE", &s.url(prefix)]),
        &proc::Output::Logged(logs),
    )?;
    super::s3::collect_garbage(conf, logs)
}

/// The inputs of the workloads.
struct Files<'a> {
    python: &'a Path,
    script: &'a Path,
    root: &'a Path,
    big: &'a Path,
    small: &'a Path,
}

/// Every workload on every server, run by run, on `dest` (see [`Dest`]).
fn workloads(ctx: &Ctx, f: &Files<'_>, servers: &[Server], dest: Dest<'_>) -> Result<[Measured; 4]> {
    let local = matches!(dest, Dest::Local);
    let (python, script, root, big, small) = (f.python, f.script, f.root, f.big, f.small);
    let runner = Runner {
        logs: &ctx.logs,
        runs: ctx.runs,
        script: "client_bench.py",
        servers: &[],
        server_label: "server",
    };
    let n = servers.len();
    let (mut big_up, mut big_down, mut small_up, mut small_down) =
        (Measured::new(n), Measured::new(n), Measured::new(n), Measured::new(n));
    let client = |s: &Server, op: &str, a: &Path, b: &str| {
        let mut cmd = Command::new(python);
        let kind = if s.api == Api::Files { "files" } else { "mlflow" };
        cmd.arg(script)
            .args([kind, &s.origin, op])
            .arg(a)
            .arg(b)
            .env("PYTHONDONTWRITEBYTECODE", "1");
        cmd
    };
    let shown = |cmd: &Command| {
        std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(|w| ctx.shown(w.to_string_lossy().into_owned()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for run in 1..=ctx.runs {
        for (i, s) in servers.iter().enumerate() {
            // `arca serve` (its `/metrics` counts requests), whatever its index.
            let is_arca = s.label.starts_with("arca serve");
            let step = |m: &mut Measured, cmd: Command, what: &str, files: usize| -> Result {
                let before = if is_arca { Some(arca_requests(s)?) } else { None };
                let line = shown(&cmd);
                runner.step(&mut m.timed[i], cmd, true, &format!("{what}, {}", s.label), run, line)?;
                if let (Some(b), 1) = (before, run) {
                    m.per_file[i] = Some((arca_requests(s)? - b) as f64 / files as f64);
                }
                Ok(())
            };
            // The large file.
            let prefix = format!("big-r{run}");
            step(&mut big_up, client(s, "up-file", big, &prefix), "1 GiB up", 1)?;
            if local {
                same_file(big, &s.dest.join(&prefix).join("big.bin"))?;
            }
            let got = root.join(format!("got-big-{i}-r{run}"));
            let (remote, dst) = match s.api {
                Api::Files => (format!("{prefix}/big.bin"), got.display().to_string()),
                Api::Mlflow => (prefix.clone(), got.display().to_string()),
            };
            step(
                &mut big_down,
                client(s, "down", Path::new(&remote), &dst),
                "1 GiB down",
                1,
            )?;
            same_file(big, &got.join("big.bin"))?;
            measure::remove(&got)?;
            forget(s, &prefix, dest, &ctx.logs)?;
            // The small files.
            let prefix = format!("small-r{run}");
            step(
                &mut small_up,
                client(s, "up-dir", small, &prefix),
                "2,000 × 4 KiB up",
                SMALL_COUNT,
            )?;
            if local {
                same_tree(small, &s.dest.join(&prefix))?;
            }
            if s.api == Api::Mlflow {
                let got = root.join(format!("got-small-{i}-r{run}"));
                step(
                    &mut small_down,
                    client(s, "down", Path::new(&prefix), &got.display().to_string()),
                    "2,000 × 4 KiB down",
                    SMALL_COUNT,
                )?;
                same_tree(small, &got)?;
                measure::remove(&got)?;
            }
            forget(s, &prefix, dest, &ctx.logs)?;
        }
    }
    Ok([big_up, big_down, small_up, small_down])
}

/// A workload's table; `mlflow` and `nginx` are the indices of the
/// contenders the rows are compared with.
fn section(
    title: &str,
    labels: &[&str],
    (up, down): (&Measured, &Measured),
    bytes: f64,
    (mlflow, nginx): (usize, Option<usize>),
    nginx_down: bool,
) -> Section {
    let mut rows = Vec::new();
    let mut commands = Vec::new();
    for (dir, m) in [("up", up), ("down", down)] {
        for (i, label) in labels.iter().enumerate() {
            let t = &m.timed[i];
            if t.secs.is_empty() || (dir == "down" && Some(i) == nginx && !nginx_down) {
                continue;
            }
            let vs = |j: Option<usize>| {
                let Some(o) = j.map(|j| &m.timed[j]) else {
                    return "—".to_owned();
                };
                if o.secs.is_empty() {
                    "—".to_owned()
                } else {
                    format!("{:.2}×", o.median() / t.median())
                }
            };
            rows.push(vec![
                dir.to_owned(),
                (*label).to_owned(),
                format!("{:.2} s", t.median()),
                format!("{:.0} MB/s", bytes / t.median() / 1e6),
                vs(Some(mlflow)),
                vs(nginx),
                m.per_file[i].map_or("—".to_owned(), |r| format!("{r:.3}")),
                format!("{:.2} s", t.cpu_median()),
            ]);
            commands.push((format!("{dir}, {label}"), t.command.clone()));
        }
    }
    Section {
        title: title.to_owned(),
        intro: "MLflow's client up, then down.".to_owned(),
        headers: vec![
            "",
            "Server",
            "Time",
            "Rate",
            "vs mlflow server",
            "vs nginx",
            "Requests per file",
            "Client CPU",
        ],
        rows,
        commands,
    }
}
