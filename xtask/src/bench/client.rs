//! `cargo xtask bench client`: the unmodified MLflow client (its
//! `MlflowArtifactsRepository`, as a user's `log_artifact` and
//! `download_artifacts` run it) against `arca serve`, `mlflow server
//! --artifacts-only` and nginx on a local destination, side by side in one
//! run ([`contenders`]), for a 1 GiB file and 2,000 files of 4 KiB, up and
//! down. The client reads each MLflow server's server-info and picks its
//! paths (parts or one request) itself; against nginx it PUTs and GETs one
//! request per file (`HttpArtifactRepository`). The requests `arca serve`
//! received per file are read from its `/metrics`.
//!
//! Every download is compared with its source, outside the timing; each
//! run writes fresh names, and what it wrote is removed before the next.

use super::contenders::{self, ARCA, ARCA_NOFSYNC, MLFLOW, NGINX};
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

    let mut servers = contenders::start(ctx, &root, &mlflow)?;
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
        let mut cmd = Command::new(&python);
        let kind = if s.api == Api::Files { "files" } else { "mlflow" };
        cmd.arg(&script)
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
            let is_arca = i == ARCA || i == ARCA_NOFSYNC;
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
            step(&mut big_up, client(s, "up-file", &big, &prefix), "1 GiB up", 1)?;
            same_file(&big, &s.dest.join(&prefix).join("big.bin"))?;
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
            same_file(&big, &got.join("big.bin"))?;
            measure::remove(&got)?;
            measure::remove(&s.dest.join(&prefix))?;
            // The small files.
            let prefix = format!("small-r{run}");
            step(
                &mut small_up,
                client(s, "up-dir", &small, &prefix),
                "2,000 × 4 KiB up",
                SMALL_COUNT,
            )?;
            same_tree(&small, &s.dest.join(&prefix))?;
            if s.api == Api::Mlflow {
                let got = root.join(format!("got-small-{i}-r{run}"));
                step(
                    &mut small_down,
                    client(s, "down", Path::new(&prefix), &got.display().to_string()),
                    "2,000 × 4 KiB down",
                    SMALL_COUNT,
                )?;
                same_tree(&small, &got)?;
                measure::remove(&got)?;
            }
            measure::remove(&s.dest.join(&prefix))?;
        }
    }
    for s in &mut servers {
        s.stop()?;
    }
    let labels: Vec<&str> = servers.iter().map(|s| s.label).collect();
    let big_bytes = data::BIG_BYTES as f64;
    let small_bytes = (SMALL_COUNT * SMALL_SIZE) as f64;
    let sections = vec![
        section("A 1 GiB file", &labels, &big_up, &big_down, big_bytes, true),
        section(
            "2,000 files of 4 KiB",
            &labels,
            &small_up,
            &small_down,
            small_bytes,
            false,
        ),
    ];
    let ratio = |m: &Measured, i: usize, against: usize| m.timed[against].median() / m.timed[i].median();
    let verdict = |r: f64, t: f64| if r >= t { "met" } else { "**not met**" };
    let mut rows = Vec::new();
    for (what, m, nginx) in [
        ("1 GiB up", &big_up, true),
        ("1 GiB down", &big_down, true),
        ("2,000 × 4 KiB up", &small_up, false),
        ("2,000 × 4 KiB down", &small_down, false),
    ] {
        let r = ratio(m, ARCA, MLFLOW);
        rows.push(vec![
            what.to_owned(),
            "`mlflow server`".to_owned(),
            format!("{r:.2}×"),
            "≥ 1.5×".to_owned(),
            verdict(r, 1.5).to_owned(),
        ]);
        if nginx {
            let r = ratio(m, ARCA, NGINX);
            rows.push(vec![
                what.to_owned(),
                "nginx".to_owned(),
                format!("{r:.2}×"),
                "≥ 0.8×".to_owned(),
                verdict(r, 0.8).to_owned(),
            ]);
        }
    }
    let notes = format!(
        "{}\nThe targets are `arca serve`'s (the default configuration, which fsyncs every upload). The S3 \
         destination is not measured by this part yet.",
        table(&["Workload", "Against", "arca serve", "Target", ""], &rows)
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
             download is not measured). Local destination on `$WORK`'s disk. Each figure is {each}, the \
             client's call alone, timed inside its process; the servers take turns run by run. Every upload \
             and download is compared with its source. \"Requests per file\" is what `arca serve` counted in \
             its `/metrics` during run 1 (listings included)."
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

fn section(title: &str, labels: &[&str], up: &Measured, down: &Measured, bytes: f64, nginx_down: bool) -> Section {
    let mut rows = Vec::new();
    let mut commands = Vec::new();
    for (dir, m) in [("up", up), ("down", down)] {
        for (i, label) in labels.iter().enumerate() {
            let t = &m.timed[i];
            if t.secs.is_empty() || (dir == "down" && i == NGINX && !nginx_down) {
                continue;
            }
            let vs = |j: usize| {
                let o = &m.timed[j];
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
                vs(MLFLOW),
                vs(NGINX),
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
