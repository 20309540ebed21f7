//! `cargo xtask bench server`: `arca serve` against `mlflow server
//! --artifacts-only` and nginx, started side by side ([`contenders`]) and
//! driven by the same clients, in this order:
//!
//! 1. one 1 GiB file, PUT then GET with `curl` ([`measure`], under GNU time
//!    like the local benchmarks; the stored file is deleted before each PUT);
//! 2. 4 KiB files, sequential PUTs then GETs on one keep-alive connection;
//! 3. 16 clients × 50 PUTs of 256 KiB at once;
//! 4. the listing of a 10,000-entry directory (written straight to each
//!    destination), beside a raw `read_dir` + `metadata` of it;
//! 5. each server's peak RSS, summed over its processes.
//!
//! Steps 2–4 run `http-load` (`tests/bench/http_load.rs`), which times
//! itself. In every workload the servers take turns run by run, `sync`
//! before each run, and no run writes a name an earlier one wrote (no
//! upload overwrites, so none deletes an inode mid-run).

use super::contenders::{self, MLFLOW};
use super::measure::{self, Case};
use super::report::Machine;
use super::servers::{Server, mkdir};
use super::stat::number;
use super::{Ctx, data, proc, serve_report};
use crate::project::{self, Result};
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

/// The 4 KiB workloads: this many files of this size…
pub const SMALL_COUNT: usize = 2000;
pub const SMALL_SIZE: usize = 4096;
/// …but fewer for MLflow, which serves some twenty a second: 2,000 GETs and
/// PUTs would take minutes a run. Its files/s are comparable all the same.
pub const MLFLOW_SMALL_COUNT: usize = 500;
/// The parallel uploads: clients × files each × bytes.
pub const CLIENTS: usize = 16;
pub const PER_CLIENT: usize = 50;
pub const PAR_SIZE: usize = 256 * 1024;
/// The listed directory's entries (4 KiB files).
pub const LIST_ENTRIES: usize = 10_000;

/// What one workload measured, per server in the order of the contenders.
#[derive(Debug, Default)]
pub struct Workload {
    /// The seconds of each run.
    pub secs: Vec<Vec<f64>>,
    /// The command behind the figures (run 1's), as shown in the report.
    pub commands: Vec<String>,
}

impl Workload {
    fn new(servers: usize) -> Self {
        Self {
            secs: vec![Vec::new(); servers],
            commands: vec![String::new(); servers],
        }
    }

    pub fn median(&self, i: usize) -> f64 {
        measure::median(&self.secs[i])
    }
}

/// Everything the server benchmark measured.
#[derive(Debug)]
pub struct Measured {
    pub labels: Vec<&'static str>,
    pub big_put: Workload,
    pub big_get: Workload,
    pub small_put: Workload,
    pub small_get: Workload,
    pub par_put: Workload,
    pub list: Workload,
    pub scandir: Workload,
    /// Files per run of the 4 KiB workloads, per server.
    pub small_count: Vec<usize>,
    /// Per server: the sum of its processes' peak RSS (KiB), and how many.
    pub rss: Vec<(u64, usize)>,
    /// Per server: the command that started it, as shown in the report.
    pub servers: Vec<String>,
}

pub fn run(ctx: &Ctx, machine: &Machine) -> Result {
    let python = crate::python::ensure_venv()?;
    let mlflow = python.with_file_name("mlflow");
    let root = mkdir(&ctx.work.join("server"))?;
    let software = contenders::versions(ctx, &mlflow)?;
    let big = root.join("big.bin");
    eprintln!("bench: writing 1 GiB to {}", big.display());
    data::big_file(&big, data::BIG_BYTES)?;
    proc::sync(&ctx.logs)?;

    let mut servers = contenders::start(ctx, &root, &mlflow)?;
    let measured = workloads(ctx, &root, &big, &servers)?;
    for s in &mut servers {
        s.stop()?;
    }
    let doc = serve_report::document(ctx, machine, &measured, software);
    println!();
    for s in &doc.sections {
        println!("{}", s.text());
    }
    let path = doc.write()?;
    println!("wrote the server part of {}", project::display(&path));
    Ok(())
}

fn workloads(ctx: &Ctx, root: &Path, big: &Path, servers: &[Server]) -> Result<Measured> {
    let n = servers.len();
    let counts: Vec<usize> = (0..n)
        .map(|i| if i == MLFLOW { MLFLOW_SMALL_COUNT } else { SMALL_COUNT })
        .collect();
    let curl = |i: usize, args: Vec<OsString>| {
        let mut v: Vec<OsString> = vec!["curl".into(), "-sS".into(), "-f".into()];
        v.extend(args);
        v.push(servers[i].url("big.bin").into());
        v
    };
    let puts: Vec<Case> = (0..n)
        .map(|i| {
            let cmd = curl(i, vec!["-T".into(), big.into()]);
            Case::new(servers[i].label, cmd, servers[i].dest.join("big.bin"))
        })
        .collect();
    let gets: Vec<Case> = (0..n)
        .map(|i| {
            let down = root.join(format!("down-{i}.bin"));
            Case::new(servers[i].label, curl(i, vec!["-o".into(), down.clone().into()]), down)
        })
        .collect();
    let big_put = curl_workload(ctx, "1 GiB PUT", &puts)?;
    let big_get = curl_workload(ctx, "1 GiB GET", &gets)?;

    let small = |op: &'static str| {
        let counts = &counts;
        move |i: usize, run: usize| {
            let (count, size) = (counts[i].to_string(), SMALL_SIZE.to_string());
            vec![op.to_owned(), servers[i].url(&format!("small/r{run}")), count, size]
        }
    };
    let runs = ctx.runs;
    let [small_put] = load(ctx, "4 KiB PUTs", runs, servers, [&small("put-seq")])?;
    let [small_get] = load(ctx, "4 KiB GETs", runs, servers, [&small("get-seq")])?;
    let par = |i: usize, run: usize| {
        let url = servers[i].url(&format!("par/r{run}"));
        let words = [
            "put-par",
            &url,
            &CLIENTS.to_string(),
            &PER_CLIENT.to_string(),
            &PAR_SIZE.to_string(),
        ];
        words.map(str::to_owned).to_vec()
    };
    let [par_put] = load(ctx, "parallel PUTs", runs, servers, [&par])?;

    eprintln!("bench: writing {LIST_ENTRIES} files to list into each destination");
    for s in servers {
        data::flat_dir(&s.dest.join("list"), LIST_ENTRIES, SMALL_SIZE)?;
    }
    let scan = |i: usize, _run: usize| {
        let dir = servers[i].dest.join("list").display().to_string();
        vec!["scandir".to_owned(), dir]
    };
    let list = |i: usize, _run: usize| vec!["list".to_owned(), servers[i].list_url("list"), LIST_ENTRIES.to_string()];
    // One untimed round first: every server lists the directory once, so
    // none pays for a first request the others do not.
    load(ctx, "list, warm-up", 1, servers, [&scan, &list])?;
    let [scandir, list] = load(ctx, "list", runs, servers, [&scan, &list])?;

    let rss = servers.iter().map(Server::peak_rss_kib).collect();
    Ok(Measured {
        labels: servers.iter().map(|s| s.label).collect(),
        big_put,
        big_get,
        small_put,
        small_get,
        par_put,
        list,
        scandir,
        small_count: counts,
        rss,
        servers: servers.iter().map(|s| shown(ctx, &s.command)).collect(),
    })
}

/// The `curl` cases, round-robin, `sync` and the destination cleared before
/// each run (see [`measure::measure`]).
fn curl_workload(ctx: &Ctx, name: &str, cases: &[Case]) -> Result<Workload> {
    let stats = measure::measure(name, cases, ctx.runs, &ctx.scratch())?;
    Ok(Workload {
        secs: stats.into_iter().map(|s| s.secs).collect(),
        commands: cases.iter().map(|c| hide_ports(&c.shown(&|w| ctx.shown(w)))).collect(),
    })
}

/// Arguments of `http-load` for server `i` in run `run`.
type Args<'a> = &'a dyn Fn(usize, usize) -> Vec<String>;

/// Runs `http-load` with each of `steps` against every server, `runs`
/// times, round-robin, `sync` before each; one [`Workload`] per step.
fn load<const N: usize>(
    ctx: &Ctx,
    name: &str,
    runs: usize,
    servers: &[Server],
    steps: [Args<'_>; N],
) -> Result<[Workload; N]> {
    let program = ctx.release.join(project::executable_file("http-load"));
    let mut out: [Workload; N] = std::array::from_fn(|_| Workload::new(servers.len()));
    for run in 1..=runs {
        for (i, server) in servers.iter().enumerate() {
            for (step, w) in steps.iter().zip(&mut out) {
                let args = step(i, run);
                proc::sync(&ctx.logs)?;
                let text = proc::stdout(Command::new(&program).args(&args), &ctx.logs)?;
                let secs =
                    number(&text, "secs").ok_or_else(|| format!("http-load printed no `secs`: {}", text.trim()))?;
                let op = args.first().map_or("", String::as_str);
                eprintln!(
                    "bench: {name}, run {run}/{runs}: {:<24} {op:<8} {secs:>8.3} s",
                    server.label
                );
                w.secs[i].push(secs);
                if run == 1 {
                    let mut words: Vec<OsString> = vec![program.clone().into()];
                    words.extend(args.iter().map(OsString::from));
                    w.commands[i] = shown(ctx, &words);
                }
            }
        }
    }
    Ok(out)
}

/// A command line for the report: machine paths and ports hidden.
fn shown(ctx: &Ctx, words: &[OsString]) -> String {
    let words: Vec<String> = words
        .iter()
        .map(|w| ctx.shown(w.to_string_lossy().into_owned()))
        .collect();
    hide_ports(&words.join(" "))
}

/// `127.0.0.1:PORT` as `127.0.0.1:$PORT`, `--port PORT` as `--port $PORT`:
/// ports change from run to run (`--port 0`, "pick one", stays).
fn hide_ports(line: &str) -> String {
    let mut text = line.to_owned();
    for key in ["127.0.0.1:", "--port "] {
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(key) {
            let after = &rest[at + key.len()..];
            let digits = after.chars().take_while(char::is_ascii_digit).count();
            out.push_str(&rest[..at + key.len()]);
            out.push_str(match &after[..digits] {
                "" | "0" => &after[..digits],
                _ => "$PORT",
            });
            rest = &after[digits..];
        }
        out.push_str(rest);
        text = out;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_hidden() {
        assert_eq!(
            hide_ports("curl http://127.0.0.1:41234/a --port 5000 --port 0 x:1"),
            "curl http://127.0.0.1:$PORT/a --port $PORT --port 0 x:1"
        );
    }
}
