//! `cargo xtask bench gc`: `arca gc` against `mlflow gc` on copies of one
//! SQLite store with local artifacts: 10,000 deleted runs of 10 files each
//! (and one active run, which both must keep), made by `gc/gc_bench.py`.
//!
//! Each run of each contender gets a fresh copy (made outside the timing,
//! then `sync`); its time is the whole process, as a user runs it (MLflow's
//! includes the Python start-up, about 3 s of it, and `arca`'s its plugin
//! loading). After each run the store is checked: no deleted run left, the
//! active one and its metrics kept.

use super::document::Document;
use super::proc::{self, Output};
use super::report::{Machine, Section, table};
use super::timing::{Runner, Timed};
use super::{Ctx, DEFAULT_RUNS};
use crate::project::{self, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = include_str!("gc/gc_bench.py");
pub const RUNS: usize = 10_000;
const FILES: usize = 10;
const TARGET: f64 = 20.0;

fn python_cmd(python: &Path, script: &Path) -> Command {
    let mut cmd = Command::new(python);
    cmd.arg(script).env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// What a store holds after a gc (`gc_bench.py count`).
fn count(python: &Path, script: &Path, store: &Path, logs: &Path) -> Result<(u64, u64, u64)> {
    let out = proc::stdout(python_cmd(python, script).arg("count").arg(store), logs)?;
    let n = |key: &str| {
        super::stat::number(&out, key)
            .map(|v| v as u64)
            .ok_or_else(|| format!("gc_bench.py count printed no `{key}`: {out}"))
    };
    Ok((n("runs")?, n("deleted")?, n("metrics")?))
}

pub fn run(ctx: &Ctx, machine: &Machine, runs_in_store: usize) -> Result {
    let python = crate::python::ensure_venv()?;
    let dir = ctx.work.join("gc");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let script = dir.join("gc_bench.py");
    project::write(&script, SCRIPT)?;
    let master = dir.join("master");
    eprintln!(
        "bench: making a store of {runs_in_store} deleted runs × {FILES} files in {}",
        master.display()
    );
    proc::run(
        python_cmd(&python, &script)
            .arg("make")
            .arg(&master)
            .arg(runs_in_store.to_string())
            .arg(FILES.to_string()),
        &Output::Logged(&ctx.logs),
    )?;
    let runner = Runner {
        logs: &ctx.logs,
        runs: ctx.runs,
        script: "gc_bench.py",
        servers: &[],
        server_label: "server",
    };
    let mut timed = vec![Timed::default(), Timed::default()];
    let names = ["arca", "mlflow"];
    for run in 1..=ctx.runs {
        for (i, name) in names.iter().enumerate() {
            let store: PathBuf = dir.join(format!("{name}-r{run}"));
            proc::run(
                python_cmd(&python, &script).arg("copy").arg(&master).arg(&store),
                &Output::Logged(&ctx.logs),
            )?;
            let uri = format!("sqlite:///{}", store.join("mlflow.db").display());
            let cmd = if i == 0 {
                let mut c = Command::new(ctx.release.join(project::executable_file("arca")));
                c.arg("--quiet")
                    .arg("--plugins")
                    .arg(&ctx.manifest)
                    .args(["gc", "--backend-store-uri", &uri]);
                c
            } else {
                let mut c = Command::new(&python);
                c.args(["-m", "mlflow", "gc", "--backend-store-uri", &uri])
                    .env("MLFLOW_TRACKING_URI", &uri)
                    .current_dir(&store);
                c
            };
            let shown = std::iter::once(cmd.get_program())
                .chain(cmd.get_args())
                .map(|w| ctx.shown(w.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join(" ");
            runner.step(
                &mut timed[i],
                cmd,
                false,
                &format!("gc of {runs_in_store} runs, {name}"),
                run,
                shown,
            )?;
            let (left, deleted, metrics) = count(&python, &script, &store, &ctx.logs)?;
            if (left, deleted, metrics) != (1, 0, 3) {
                return Err(format!(
                    "{name}'s gc left {left} runs ({deleted} deleted) and {metrics} metrics; expected the active \
                     run alone with its 3 metrics"
                ));
            }
            super::measure::remove(&store)?;
        }
    }
    let ratio = timed[1].median() / timed[0].median();
    let rows: Vec<Vec<String>> = names
        .iter()
        .zip(&timed)
        .map(|(name, t)| {
            vec![
                (*name).to_owned(),
                format!("{:.2} s", t.median()),
                format!("{:.0}", runs_in_store as f64 / t.median()),
                format!("{:.2}×", timed[1].median() / t.median()),
                format!("{:.2} s", t.cpu_median()),
            ]
        })
        .collect();
    let section = Section {
        title: format!(
            "{} deleted runs × {FILES} files",
            super::report::thousands(runs_in_store as u64)
        ),
        intro: "Each contender collects a fresh copy of the same store: SQLite, artifacts on the local disk."
            .to_owned(),
        headers: vec!["Contender", "Time", "Runs/s", "vs mlflow gc", "CPU"],
        rows,
        commands: names
            .iter()
            .zip(&timed)
            .map(|(n, t)| ((*n).to_owned(), t.command.clone()))
            .collect(),
    };
    let met = if ratio >= TARGET { "met" } else { "**not met**" };
    let notes = table(
        &["Workload", "arca gc vs mlflow gc", "Target", ""],
        &[vec![
            format!("{} runs", super::report::thousands(runs_in_store as u64)),
            format!("{ratio:.2}×"),
            format!("≥ {TARGET}×"),
            met.to_owned(),
        ]],
    );
    let version = proc::stdout(
        Command::new(&python).args(["-c", "import importlib.metadata as m; print(m.version('mlflow'))"]),
        &ctx.logs,
    )?;
    let each = match ctx.runs {
        1 => "a single run".to_owned(),
        n => format!("the median of {n} runs"),
    };
    let doc = Document {
        name: "gc",
        title: "`arca gc` against `mlflow gc`",
        intro: format!(
            "`arca gc` (release build) against MLflow's own `mlflow gc`, each on a fresh copy of one SQLite \
             backend store whose artifacts are on the local disk: {} deleted runs of {FILES} files of 4 KiB, each \
             with 3 params, 3 metrics and MLflow's tags, and one active run both must keep (checked after every \
             run, with the deleted runs' rows gone). The store is made by MLflow (schema, experiment, one run) and \
             cloned with SQL and file copies (`gc_bench.py`). Each figure is {each}; the contenders take turns. \
             Times are whole processes, as a user runs them (MLflow's includes Python's start-up).",
            super::report::thousands(runs_in_store as u64)
        ),
        command: match (ctx.runs, runs_in_store) {
            (DEFAULT_RUNS, RUNS) => "cargo xtask bench gc".to_owned(),
            (n, RUNS) => format!("cargo xtask bench gc --runs {n}"),
            (n, r) => format!("cargo xtask bench gc --runs {n} --files {r}"),
        },
        date: super::report::utc_now(),
        machine,
        software: vec![("MLflow".to_owned(), format!("{} (PyPI)", version.trim()))],
        sections: vec![section],
        notes,
    };
    println!();
    for s in &doc.sections {
        println!("{}", s.text());
    }
    let path = doc.write()?;
    println!("wrote the gc part of {}", project::display(&path));
    Ok(())
}
