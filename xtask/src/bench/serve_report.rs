//! The server benchmark's part of `BENCHMARKS.md`: a table per workload with
//! every contender, its ratios to nginx and to MLflow, and the issue's
//! targets for `arca serve`, each marked met or not.

use super::contenders::{ARCA, ARCA_NOFSYNC, MLFLOW, NGINX, NGINX_LOCATION};
use super::document::Document;
use super::report::{Machine, Section, thousands, utc_now};
use super::serve::{
    CLIENTS, LIST_ENTRIES, MLFLOW_SMALL_COUNT, Measured, PAR_SIZE, PER_CLIENT, SMALL_COUNT, SMALL_SIZE, Workload,
};
use super::{Ctx, data, met};

/// The issue's targets for `arca serve`.
pub(super) const BIG_MIN_VS_NGINX: f64 = 0.8;
pub(super) const SMALL_GET_MIN_VS_MLFLOW: f64 = 100.0;
pub(super) const LIST_MAX_VS_SCANDIR: f64 = 2.0;
pub(super) const RSS_MAX_MIB: f64 = 64.0;

/// What a throughput table holds arca's row to.
#[derive(Clone, Copy, Debug)]
enum Target {
    None,
    VsNginx(f64),
    VsMlflow(f64),
}

pub fn document<'a>(ctx: &Ctx, machine: &'a Machine, m: &Measured, software: Vec<(String, String)>) -> Document<'a> {
    let sections = vec![
        big_section(m, &m.big_put, "1 GiB upload (PUT)", "uploaded with `curl -T`"),
        big_section(
            m,
            &m.big_get,
            "1 GiB download (GET)",
            "downloaded with `curl -o` to a new file",
        ),
        small_section(m, &m.small_put, "4 KiB files: sequential PUTs", Target::None),
        small_section(
            m,
            &m.small_get,
            "4 KiB files: sequential GETs",
            Target::VsMlflow(SMALL_GET_MIN_VS_MLFLOW),
        ),
        par_section(m),
        list_section(m),
        rss_section(m),
    ];
    Document {
        name: "server",
        title: "`arca serve` against MLflow and nginx",
        intro: intro(ctx),
        command: match ctx.runs {
            super::DEFAULT_RUNS => "cargo xtask bench server".to_owned(),
            n => format!("cargo xtask bench server --runs {n}"),
        },
        date: utc_now(),
        machine,
        software,
        notes: super::serve_notes::notes(m),
        sections,
    }
}

fn intro(ctx: &Ctx) -> String {
    let each = match ctx.runs {
        1 => "Each figure comes from a single run".to_owned(),
        n => format!("Each figure is the median of {n} runs"),
    };
    format!(
        "\
`arca serve` (release build, local destination, plugins loaded from `plugins.toml`) against `mlflow server \
--artifacts-only` (MLflow from PyPI, as it deploys by default: uvicorn with 4 workers) and nginx serving the \
same kind of files, the physical reference. All of them run side by side in one run on this machine, on \
127.0.0.1 (loopback), each with a destination directory of its own on the same disk, and the same clients \
drive them: `curl` for the 1 GiB file, and `http-load` (`tests/bench/http_load.rs`: HTTP/1.1, one keep-alive \
connection per client, `Content-Length` bodies, timing itself) for everything else.

**How.** {each}. Within a workload the servers take turns (run 1 against each, then run 2 against each, …), and \
the workloads run in the same order for all: 1 GiB PUT, 1 GiB GET, 4 KiB PUTs, 4 KiB GETs, parallel PUTs, list. \
`sync` runs before every timed run, outside the timing. Each server is left to go idle (under 5% of a CPU for a \
second) before the first workload. No run writes a name an earlier run wrote (`small/r1/…`, `small/r2/…`), so \
no upload overwrites and none deletes an inode mid-run (see the local part on this filesystem); the 1 GiB file \
stored by a PUT run and the previous download are deleted before the next run, outside the timing. MB/s is \
10^6 bytes per second, as in the issue; `vs nginx` and `vs MLflow` are the row's rate over theirs (above 1 is \
faster). `arca serve`'s local destination fsyncs every upload, and its directory, before answering; MLflow and \
nginx answer with the data still in the page cache, so for uploads the `arca serve, fsync=false` row (same \
binary, plugin configured with `fsync = \"false\"`) is the like-for-like one. `$WORK` is `<target>/bench-work` \
(wiped before and after), `$TARGET` the cargo target directory, `$PORT` each server's port; the destinations \
are `$WORK/server/<server>/dest`. The server commands are under the memory table.",
    )
}

/// `r` as a ratio: `0.85×`, `12.3×`, `1,234×`, `0.0012×`.
pub(super) fn times(r: f64) -> String {
    if !r.is_finite() {
        "—".to_owned()
    } else if r >= 100.0 {
        format!("{}×", thousands(r.round() as u64))
    } else if r >= 10.0 {
        format!("{r:.1}×")
    } else if r >= 0.1 || r == 0.0 {
        format!("{r:.2}×")
    } else {
        // Two significant digits, however small.
        let decimals = (1.0 - r.log10().floor()) as usize;
        format!("{r:.decimals$}×")
    }
}

/// A rate with thousands separators, or one decimal below 100.
pub(super) fn rate(x: f64) -> String {
    if x >= 100.0 {
        thousands(x.round() as u64)
    } else {
        format!("{x:.1}")
    }
}

fn runs_cell(secs: &[f64], scale: f64, decimals: usize) -> String {
    let v: Vec<String> = secs.iter().map(|s| format!("{:.decimals$}", s * scale)).collect();
    v.join(", ")
}

/// The target and met cells of row `i`, given its ratios to nginx and MLflow.
fn target_cells(i: usize, target: Target, vs_nginx: f64, vs_mlflow: f64) -> [String; 2] {
    let dash = || "—".to_owned();
    match (i, target) {
        (ARCA, Target::VsNginx(x)) => [format!("≥ {x:.2}× nginx"), met(vs_nginx >= x)],
        (ARCA, Target::VsMlflow(x)) => [format!("≥ {x:.0}× MLflow"), met(vs_mlflow >= x)],
        (NGINX, _) => ["reference".to_owned(), dash()],
        (ARCA_NOFSYNC, _) => ["informative".to_owned(), dash()],
        _ => [dash(), dash()],
    }
}

/// Rows of a throughput table: server `i` moved `amount(i)` units per run.
fn rate_rows(
    m: &Measured,
    w: &Workload,
    amount: &dyn Fn(usize) -> f64,
    files: bool,
    target: Target,
) -> Vec<Vec<String>> {
    let rate_of = |i: usize| amount(i) / w.median(i);
    (0..m.labels.len())
        .map(|i| {
            let (vs_nginx, vs_mlflow) = (rate_of(i) / rate_of(NGINX), rate_of(i) / rate_of(MLFLOW));
            let mut row = vec![m.labels[i].to_owned()];
            if files {
                row.push(thousands(m.small_count[i] as u64));
            }
            row.extend([
                format!("{:.3}", w.median(i)),
                rate(rate_of(i)),
                times(vs_nginx),
                times(vs_mlflow),
            ]);
            row.extend(target_cells(i, target, vs_nginx, vs_mlflow));
            row.push(runs_cell(&w.secs[i], 1.0, 3));
            row
        })
        .collect()
}

fn commands(m: &Measured, w: &Workload) -> Vec<(String, String)> {
    m.labels
        .iter()
        .map(|l| l.to_string())
        .zip(w.commands.iter().cloned())
        .collect()
}

fn big_section(m: &Measured, w: &Workload, title: &str, how: &str) -> Section {
    let mb = data::BIG_BYTES as f64 / 1e6;
    Section {
        title: title.to_owned(),
        intro: format!(
            "One file of 1 GiB (1,073,741,824 bytes) of pseudo-random data, {how}. MB/s is 1,073.7 MB over the \
             median wall time of `curl` (under GNU time, like every command of the local part)."
        ),
        headers: vec![
            "Server",
            "Median (s)",
            "MB/s",
            "vs nginx",
            "vs MLflow",
            "Target",
            "Met",
            "Runs (s)",
        ],
        rows: rate_rows(m, w, &|_| mb, false, Target::VsNginx(BIG_MIN_VS_NGINX)),
        commands: commands(m, w),
    }
}

fn small_section(m: &Measured, w: &Workload, title: &str, target: Target) -> Section {
    let get = matches!(target, Target::VsMlflow(_));
    let how = if get {
        "GET one after the other on one keep-alive connection, the files the PUTs of the same run wrote, each \
         body's length checked"
    } else {
        "PUT one after the other on one keep-alive connection, each to a new name (`small/rN/f00000.bin`, …)"
    };
    Section {
        title: title.to_owned(),
        intro: format!(
            "{} files of {} bytes per run ({} for MLflow, which serves a few dozen a second: the full count would \
             take minutes per run), {how}. Files/s is the files of a run over its median time.",
            thousands(SMALL_COUNT as u64),
            thousands(SMALL_SIZE as u64),
            thousands(MLFLOW_SMALL_COUNT as u64),
        ),
        headers: vec![
            "Server",
            "Files",
            "Median (s)",
            "Files/s",
            "vs nginx",
            "vs MLflow",
            "Target",
            "Met",
            "Runs (s)",
        ],
        rows: rate_rows(m, w, &|i| m.small_count[i] as f64, true, target),
        commands: commands(m, w),
    }
}

fn par_section(m: &Measured) -> Section {
    let bytes = (CLIENTS * PER_CLIENT * PAR_SIZE) as f64;
    Section {
        title: format!("{CLIENTS} clients × {PER_CLIENT} PUTs of 256 KiB"),
        intro: format!(
            "{CLIENTS} threads, each with its own keep-alive connection, each uploading {PER_CLIENT} files of \
             {} bytes one after the other, all at once: {} MB in all. MB/s is that over the median time from the \
             start of the threads to the end of the last.",
            thousands(PAR_SIZE as u64),
            rate(bytes / 1e6)
        ),
        headers: vec![
            "Server",
            "Median (s)",
            "MB/s",
            "vs nginx",
            "vs MLflow",
            "Target",
            "Met",
            "Runs (s)",
        ],
        rows: rate_rows(m, &m.par_put, &|_| bytes / 1e6, false, Target::None),
        commands: commands(m, &m.par_put),
    }
}

fn list_section(m: &Measured) -> Section {
    let rows = (0..m.labels.len())
        .map(|i| {
            let (list, scan) = (m.list.median(i), m.scandir.median(i));
            let ratio = list / scan;
            let (target, ok) = match i {
                ARCA => (
                    format!("≤ {LIST_MAX_VS_SCANDIR:.0}× scandir"),
                    met(ratio <= LIST_MAX_VS_SCANDIR),
                ),
                ARCA_NOFSYNC => ("informative".to_owned(), "—".to_owned()),
                _ => ("—".to_owned(), "—".to_owned()),
            };
            vec![
                m.labels[i].to_owned(),
                format!("{:.1}", list * 1e3),
                format!("{:.1}", scan * 1e3),
                times(ratio),
                target,
                ok,
                runs_cell(&m.list.secs[i], 1e3, 1),
                runs_cell(&m.scandir.secs[i], 1e3, 1),
            ]
        })
        .collect();
    let mut commands = commands(m, &m.list);
    commands.extend(commands_of(m, &m.scandir, "scandir"));
    Section {
        title: format!("List of a {}-entry directory", thousands(LIST_ENTRIES as u64)),
        intro: format!(
            "A directory of {} files of {} bytes, written straight to each server's destination (`list/`), \
             listed with one GET: MLflow's `…/artifacts?path=list` for arca and MLflow, the JSON autoindex \
             (`/list/`) for nginx; the time runs from the connect to the last byte of the answer, whose entries \
             are then counted. The baseline is the least a listing does: `read_dir` and a `metadata` call per \
             entry on the same directory, in one process (`http-load scandir`), run just before each list. One \
             untimed round of both comes first.",
            thousands(LIST_ENTRIES as u64),
            thousands(SMALL_SIZE as u64),
        ),
        headers: vec![
            "Server",
            "List (ms)",
            "scandir + stat (ms)",
            "List ÷ scandir",
            "Target",
            "Met",
            "List runs (ms)",
            "scandir runs (ms)",
        ],
        rows,
        commands,
    }
}

fn commands_of(m: &Measured, w: &Workload, what: &str) -> Vec<(String, String)> {
    m.labels
        .iter()
        .map(|l| format!("{l} ({what})"))
        .zip(w.commands.iter().cloned())
        .collect()
}

pub(super) fn rss_mib(m: &Measured, i: usize) -> f64 {
    m.rss[i].0 as f64 / 1024.0
}

/// MiB with one decimal, or with thousands separators from 1,000 on.
pub(super) fn mib(x: f64) -> String {
    if x >= 1000.0 {
        thousands(x.round() as u64)
    } else {
        format!("{x:.1}")
    }
}

fn rss_section(m: &Measured) -> Section {
    let rows = (0..m.labels.len())
        .map(|i| {
            let x = rss_mib(m, i);
            let (target, ok) = match i {
                ARCA => (format!("≤ {RSS_MAX_MIB:.0} MiB"), met(x <= RSS_MAX_MIB)),
                ARCA_NOFSYNC => ("informative".to_owned(), "—".to_owned()),
                _ => ("—".to_owned(), "—".to_owned()),
            };
            vec![m.labels[i].to_owned(), mib(x), m.rss[i].1.to_string(), target, ok]
        })
        .collect();
    let location = NGINX_LOCATION.replace("DEST", "$WORK/server/nginx/dest");
    Section {
        title: "Servers and peak memory".to_owned(),
        intro: format!(
            "Peak resident set size across all the workloads above: `VmHWM` from `/proc/<pid>/status`, read after \
             the last workload, just before the servers were stopped, and summed over each server's processes (the \
             process and all its descendants: for MLflow, its uvicorn workers and job runners; for nginx, the \
             master and its 2 workers; `arca serve` is one process). A sum of peaks can exceed what was resident \
             at any one moment, and counts pages shared between processes once per process. Every server runs in \
             a process group of its own under `setpriv --pdeathsig TERM` (left out of the commands below); MLflow \
             under a shell that passes SIGTERM on to its group (also left out, and not counted). nginx runs with \
             `worker_processes 2`, `sendfile on`, `client_max_body_size 0`, logs and temporary files in \
             `$WORK/server/nginx`, and:\n\n```nginx\n{location}\n```"
        ),
        headers: vec!["Server", "Peak RSS (MiB)", "Processes", "Target", "Met"],
        rows,
        commands: m
            .labels
            .iter()
            .map(|l| l.to_string())
            .zip(m.servers.iter().cloned())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_shown_with_sensible_precision() {
        assert_eq!(times(0.8543), "0.85×");
        assert_eq!(times(12.34), "12.3×");
        assert_eq!(times(1234.4), "1,234×");
        assert_eq!(times(f64::NAN), "—");
        assert_eq!(times(0.0523), "0.052×");
        assert_eq!(times(0.00117), "0.0012×");
        assert_eq!(rate(1678.4), "1,678");
        assert_eq!(rate(22.04), "22.0");
    }

    #[test]
    fn arca_rows_carry_the_targets() {
        assert_eq!(
            target_cells(ARCA, Target::VsNginx(0.8), 0.9, 5.0),
            ["≥ 0.80× nginx".to_owned(), "yes".to_owned()]
        );
        assert_eq!(target_cells(ARCA, Target::VsMlflow(100.0), 0.9, 50.0)[1], "no");
        assert_eq!(target_cells(NGINX, Target::VsNginx(0.8), 1.0, 5.0)[0], "reference");
        assert_eq!(target_cells(MLFLOW, Target::None, 0.1, 1.0)[0], "—");
    }
}
