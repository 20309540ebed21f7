//! The notes under the server benchmark's tables: the figures that matter
//! in a paragraph, the targets missed, and a warning when runs were noisy.

use super::contenders::{ARCA, ARCA_NOFSYNC, MLFLOW, NGINX};
use super::data;
use super::report::thousands;
use super::serve::{CLIENTS, LIST_ENTRIES, Measured, PAR_SIZE, PER_CLIENT, Workload};
use super::serve_report::{
    BIG_MIN_VS_NGINX, LIST_MAX_VS_SCANDIR, RSS_MAX_MIB, SMALL_GET_MIN_VS_MLFLOW, mib, rate, rss_mib, times,
};

/// A contender whose slowest run took this many times its fastest is noisy.
const NOISY: f64 = 2.0;

/// The notes under the tables, written from the figures.
pub fn notes(m: &Measured) -> String {
    let big = data::BIG_BYTES as f64 / 1e6;
    let mb_s = |w: &Workload, i: usize| big / w.median(i);
    let files_s = |w: &Workload, i: usize| m.small_count[i] as f64 / w.median(i);
    let par = (CLIENTS * PER_CLIENT * PAR_SIZE) as f64 / 1e6;
    let vs = |a: f64, b: f64| times(a / b);
    let list_ratio = m.list.median(ARCA) / m.scandir.median(ARCA);
    let summary = format!(
        "`arca serve` stored the 1 GiB file at {} MB/s, {} nginx (target ≥ {BIG_MIN_VS_NGINX:.2}×) and {} MLflow; \
         without fsync at {} MB/s, {} nginx. It served it at {} MB/s, {} nginx (target ≥ {BIG_MIN_VS_NGINX:.2}×) \
         and {} MLflow. Sequential 4 KiB GETs ran at {} files/s, {} MLflow (target ≥ {SMALL_GET_MIN_VS_MLFLOW:.0}×) \
         and {} nginx; 4 KiB PUTs at {} files/s ({} without fsync), {} MLflow and {} nginx. {CLIENTS} parallel \
         clients uploaded {} MB/s, {} nginx and {} MLflow. Listing {} entries took {:.1} ms, {} the {:.1} ms of \
         `scandir` + `stat` (target ≤ {LIST_MAX_VS_SCANDIR:.0}×), against {:.1} ms for MLflow and {:.1} ms for \
         nginx. Its peak RSS was {} MiB (target ≤ {RSS_MAX_MIB:.0} MiB), against {} MiB over {} processes \
         for MLflow and {} MiB for nginx.",
        rate(mb_s(&m.big_put, ARCA)),
        vs(mb_s(&m.big_put, ARCA), mb_s(&m.big_put, NGINX)),
        vs(mb_s(&m.big_put, ARCA), mb_s(&m.big_put, MLFLOW)),
        rate(mb_s(&m.big_put, ARCA_NOFSYNC)),
        vs(mb_s(&m.big_put, ARCA_NOFSYNC), mb_s(&m.big_put, NGINX)),
        rate(mb_s(&m.big_get, ARCA)),
        vs(mb_s(&m.big_get, ARCA), mb_s(&m.big_get, NGINX)),
        vs(mb_s(&m.big_get, ARCA), mb_s(&m.big_get, MLFLOW)),
        rate(files_s(&m.small_get, ARCA)),
        vs(files_s(&m.small_get, ARCA), files_s(&m.small_get, MLFLOW)),
        vs(files_s(&m.small_get, ARCA), files_s(&m.small_get, NGINX)),
        rate(files_s(&m.small_put, ARCA)),
        rate(files_s(&m.small_put, ARCA_NOFSYNC)),
        vs(files_s(&m.small_put, ARCA), files_s(&m.small_put, MLFLOW)),
        vs(files_s(&m.small_put, ARCA), files_s(&m.small_put, NGINX)),
        rate(par / m.par_put.median(ARCA)),
        vs(m.par_put.median(NGINX), m.par_put.median(ARCA)),
        vs(m.par_put.median(MLFLOW), m.par_put.median(ARCA)),
        thousands(LIST_ENTRIES as u64),
        m.list.median(ARCA) * 1e3,
        times(list_ratio),
        m.scandir.median(ARCA) * 1e3,
        m.list.median(MLFLOW) * 1e3,
        m.list.median(NGINX) * 1e3,
        mib(rss_mib(m, ARCA)),
        mib(rss_mib(m, MLFLOW)),
        m.rss[MLFLOW].1,
        mib(rss_mib(m, NGINX)),
    );
    let mut misses = Vec::new();
    for (what, w) in [("1 GiB PUT", &m.big_put), ("1 GiB GET", &m.big_get)] {
        let r = w.median(NGINX) / w.median(ARCA);
        if r < BIG_MIN_VS_NGINX {
            misses.push(format!(
                "{what} at {} nginx (target ≥ {BIG_MIN_VS_NGINX:.2}×)",
                times(r)
            ));
        }
    }
    let r = files_s(&m.small_get, ARCA) / files_s(&m.small_get, MLFLOW);
    if r < SMALL_GET_MIN_VS_MLFLOW {
        misses.push(format!(
            "4 KiB GETs at {} MLflow (target ≥ {SMALL_GET_MIN_VS_MLFLOW:.0}×)",
            times(r)
        ));
    }
    if list_ratio > LIST_MAX_VS_SCANDIR {
        misses.push(format!(
            "list at {} `scandir` + `stat` (target ≤ {LIST_MAX_VS_SCANDIR:.0}×)",
            times(list_ratio)
        ));
    }
    if rss_mib(m, ARCA) > RSS_MAX_MIB {
        misses.push(format!(
            "peak RSS {:.1} MiB (target ≤ {RSS_MAX_MIB:.0} MiB)",
            rss_mib(m, ARCA)
        ));
    }
    let verdict = if misses.is_empty() {
        "Every target was met.".to_owned()
    } else {
        format!("Targets not met: {}.", misses.join("; "))
    };
    format!("{summary}\n\n{verdict}{}", noise(m))
}

/// A warning naming the contenders whose slowest run of a workload took
/// over [`NOISY`] times their fastest (empty if none).
fn noise(m: &Measured) -> String {
    let workloads = [
        ("1 GiB PUT", &m.big_put),
        ("1 GiB GET", &m.big_get),
        ("4 KiB PUTs", &m.small_put),
        ("4 KiB GETs", &m.small_get),
        ("parallel PUTs", &m.par_put),
        ("list", &m.list),
    ];
    let mut noisy = Vec::new();
    let mut runs = 0;
    for (what, w) in workloads {
        for (label, secs) in m.labels.iter().zip(&w.secs) {
            let min = secs.iter().copied().fold(f64::INFINITY, f64::min);
            let max = secs.iter().copied().fold(0.0, f64::max);
            runs = runs.max(secs.len());
            if max > NOISY * min {
                noisy.push(format!("{what}, {label}: {min:.3}–{max:.3} s"));
            }
        }
    }
    if noisy.is_empty() {
        return String::new();
    }
    format!(
        "\n\nThe machine was noisy during this run: some slowest runs took over {NOISY}× the fastest ({}). A \
         median of {runs} runs only partly absorbs that; `cargo xtask bench server --runs 7` gives firmer figures.",
        noisy.join("; ")
    )
}
