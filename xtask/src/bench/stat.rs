//! The per-call overhead of the plugin boundary: `tests/bench/stat_overhead.rs`
//! times `store.stat` through the loaded plugin against `std::fs::metadata`,
//! and prints one JSON line per run.

use super::measure::median;
use super::report::{Section, thousands};
use super::{Ctx, met, proc};
use crate::project::{self, Result};
use std::process::Command;

/// The target: at most this many microseconds added per call.
pub const MAX_ADDED_US: f64 = 5.0;
/// The calls each run of the program makes (checked against its output).
const CALLS: u64 = 100_000;

/// What every run of `stat-overhead` printed, in microseconds per call.
#[derive(Debug, Default)]
pub struct StatRuns {
    plugin: Vec<f64>,
    direct: Vec<f64>,
    added: Vec<f64>,
}

impl StatRuns {
    pub fn plugin(&self) -> f64 {
        median(&self.plugin)
    }

    pub fn direct(&self) -> f64 {
        median(&self.direct)
    }

    /// The median of each run's difference (not the difference of the medians).
    pub fn added(&self) -> f64 {
        median(&self.added)
    }
}

fn command(ctx: &Ctx) -> Command {
    let mut cmd = Command::new(ctx.release.join(project::executable_file("stat-overhead")));
    cmd.arg(&ctx.manifest).arg(ctx.work.join("stat"));
    cmd
}

/// Runs `stat-overhead` `ctx.runs` times, `sync` before each.
pub fn measure(ctx: &Ctx) -> Result<StatRuns> {
    let mut runs = StatRuns::default();
    for run in 1..=ctx.runs {
        proc::sync(&ctx.logs)?;
        let out = proc::stdout(&mut command(ctx), &ctx.logs)?;
        let field = |key: &str| {
            number(&out, key).ok_or_else(|| format!("stat-overhead printed no number `{key}`: {}", out.trim()))
        };
        if field("calls")? != CALLS as f64 {
            return Err(format!("stat-overhead made other than {CALLS} calls: {}", out.trim()));
        }
        runs.plugin.push(field("plugin_us")?);
        runs.direct.push(field("direct_us")?);
        runs.added.push(field("added_us")?);
        eprintln!("bench: stat, run {run}/{}: {}", ctx.runs, out.trim());
    }
    Ok(runs)
}

/// The number after `"key":` in a flat JSON object of numbers.
pub fn number(json: &str, key: &str) -> Option<f64> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &json[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

pub fn section(ctx: &Ctx, s: &StatRuns) -> Section {
    let runs = |v: &[f64]| v.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(", ");
    let rows = vec![
        vec![
            "store.stat through the plugin".to_owned(),
            format!("{:.2}", s.plugin()),
            "—".to_owned(),
            "—".to_owned(),
            runs(&s.plugin),
        ],
        vec![
            "std::fs::metadata".to_owned(),
            format!("{:.2}", s.direct()),
            "—".to_owned(),
            "—".to_owned(),
            runs(&s.direct),
        ],
        vec![
            "added by the plugin".to_owned(),
            format!("{:.2}", s.added()),
            format!("≤ {MAX_ADDED_US:.0} µs"),
            met(s.added() <= MAX_ADDED_US),
            runs(&s.added),
        ],
    ];
    let words: Vec<String> = std::iter::once(command(ctx).get_program())
        .chain(command(ctx).get_args())
        .map(|w| ctx.shown(w.to_string_lossy().into_owned()))
        .collect();
    Section {
        title: "Per-call overhead of the plugin boundary".to_owned(),
        intro: format!(
            "{calls} sequential `store.stat` calls on one 4 KiB file, through \
             `arca_host::Registry::from_manifest(…).open(\"file://$WORK/stat\")` on a tokio current-thread \
             runtime, against {calls} `std::fs::metadata` calls on the same file, each after 10,000 untimed \
             calls (`tests/bench/stat_overhead.rs`). Figures are µs per call; the added cost is the median of \
             each run's difference.",
            calls = thousands(CALLS),
        ),
        headers: vec!["Measure", "µs per call", "Target", "Met", "Runs (µs)"],
        rows,
        commands: vec![("stat-overhead".to_owned(), words.join(" "))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_from_the_json_line() {
        let json = "{\"calls\":100000,\"plugin_us\":6.5,\"direct_us\":1.25,\"added_us\":5.25}\n";
        assert_eq!(number(json, "calls"), Some(100_000.0));
        assert_eq!(number(json, "plugin_us"), Some(6.5));
        assert_eq!(number(json, "added_us"), Some(5.25));
        assert_eq!(number(json, "missing"), None);
    }
}
