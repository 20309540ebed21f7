//! The copy benchmarks: one 1 GiB file and 10,000 files of 4 KiB, each
//! copied by `cp`, `cp` + `sync`, `arca cp` up (with and without fsync) and
//! `arca cp` down; and the peak RSS of the 1 GiB copies.

use super::measure::{self, Case, Stats};
use super::report::{Section, thousands};
use super::stat::StatRuns;
use super::{Ctx, data, met};
use crate::project::{self, Result};
use std::ffi::OsString;
use std::path::Path;

/// The inputs' names in the work directory.
pub const BIG: &str = "big.bin";
pub const SMALL: &str = "small";

/// The issue's targets.
const BIG_MIN_RATIO: f64 = 0.9;
const SMALL_MIN_RATIO: f64 = 0.5;
const RSS_MAX_MIB: f64 = 64.0;
/// A case whose slowest run took this many times its fastest is called noisy.
const NOISY: f64 = 2.0;

/// The contenders of a section, by index.
const CP: usize = 0;
const CP_SYNC: usize = 1;
const UP: usize = 2;
const UP_NOFSYNC: usize = 3;
const DOWN: usize = 4;

/// The cases of one section and what their runs measured.
#[derive(Debug)]
pub struct Measured {
    cases: Vec<Case>,
    stats: Vec<Stats>,
}

impl Measured {
    fn median(&self, i: usize) -> f64 {
        self.stats[i].median_secs()
    }

    /// How many times faster than case `base` case `i` is (> 1: faster).
    fn ratio(&self, i: usize, base: usize) -> f64 {
        self.median(base) / self.median(i)
    }
}

pub fn big(ctx: &Ctx) -> Result<Measured> {
    let labels = [
        "cp",
        "cp + sync",
        "arca cp upload",
        "arca cp upload, fsync=false",
        "arca cp download",
    ];
    let cases = cases(ctx, BIG, false, labels);
    let stats = measure::measure("1 GiB", &cases, ctx.runs, &ctx.scratch())?;
    Ok(Measured { cases, stats })
}

pub fn small(ctx: &Ctx) -> Result<Measured> {
    let labels = [
        "cp -r",
        "cp -r + sync",
        "arca cp -r upload",
        "arca cp -r upload, fsync=false",
        "arca cp -r download",
    ];
    let cases = cases(ctx, SMALL, true, labels);
    let stats = measure::measure("10,000 files", &cases, ctx.runs, &ctx.scratch())?;
    Ok(Measured { cases, stats })
}

/// The five contenders for copying `$WORK/<src>`, in the order [`CP`] …
/// [`DOWN`]. The download reads what the fsync'd upload wrote, so it must come
/// after it in every round.
fn cases(ctx: &Ctx, src: &str, recursive: bool, labels: [&'static str; 5]) -> Vec<Case> {
    let path = |rel: &str| ctx.work.join(rel);
    let uri = |rel: &str| OsString::from(format!("file://{}", path(rel).display()));
    let arca = |manifest: &Path, from: OsString, to: OsString| {
        let mut v: Vec<OsString> = vec![
            ctx.release.join(project::executable_file("arca")).into(),
            "--quiet".into(),
            "--plugins".into(),
            manifest.into(),
            "cp".into(),
        ];
        if recursive {
            v.push("-r".into());
        }
        v.extend([from, to]);
        v
    };
    let mut cp: Vec<OsString> = vec!["cp".into()];
    if recursive {
        cp.push("-r".into());
    }
    let cp_dst = path(&format!("cp-{src}"));
    cp.extend([path(src).into(), cp_dst.clone().into()]);
    let (stored, stored_nofsync) = (format!("store/{src}"), format!("store/nofsync-{src}"));
    let down = path(&format!("down-{src}"));
    vec![
        Case::new(labels[CP], cp.clone(), cp_dst.clone()),
        Case::new(labels[CP_SYNC], cp, cp_dst).then_sync(),
        Case::new(
            labels[UP],
            arca(&ctx.manifest, path(src).into(), uri(&stored)),
            path(&stored),
        ),
        Case::new(
            labels[UP_NOFSYNC],
            arca(&ctx.nofsync, path(src).into(), uri(&stored_nofsync)),
            path(&stored_nofsync),
        ),
        Case::new(
            labels[DOWN],
            arca(&ctx.manifest, uri(&stored), down.clone().into()),
            down,
        ),
    ]
}

/// A copy section's rows: `amount` units (MiB, files) were copied in each run.
fn rows(m: &Measured, amount: f64, min_ratio: f64) -> Vec<Vec<String>> {
    let base = m.cases[CP].label;
    m.cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let ratio = m.ratio(i, CP);
            let (target, ok) = match i {
                CP => ("baseline".to_owned(), "—".to_owned()),
                UP | DOWN => (format!("≥ {min_ratio:.2}× {base}"), met(ratio >= min_ratio)),
                _ => ("informative".to_owned(), "—".to_owned()),
            };
            let runs: Vec<String> = m.stats[i].secs.iter().map(|s| format!("{s:.2}")).collect();
            vec![
                case.label.to_owned(),
                format!("{:.2}", m.median(i)),
                thousands((amount / m.median(i)).round() as u64),
                format!("{ratio:.2}×"),
                target,
                ok,
                runs.join(", "),
            ]
        })
        .collect()
}

fn commands(ctx: &Ctx, m: &Measured) -> Vec<(String, String)> {
    m.cases
        .iter()
        .map(|c| (c.label.to_owned(), c.shown(&|w| ctx.shown(w))))
        .collect()
}

pub fn big_section(ctx: &Ctx, m: &Measured) -> Section {
    let mib = data::BIG_BYTES as f64 / f64::from(1 << 20);
    Section {
        title: "1 GiB file".to_owned(),
        intro: "\
One file of 1 GiB (1,073,741,824 bytes). MiB/s is 1024 MiB over the median wall time; `vs cp` is `cp`'s \
median time over the row's (above 1 is faster than `cp`). Uploads go through the local plugin with its \
default configuration, which fsyncs the file and its directory before publishing it; the `fsync=false` \
row uses a manifest that turns that off."
            .to_owned(),
        headers: vec!["Command", "Median (s)", "MiB/s", "vs cp", "Target", "Met", "Runs (s)"],
        rows: rows(m, mib, BIG_MIN_RATIO),
        commands: commands(ctx, m),
    }
}

pub fn small_section(ctx: &Ctx, m: &Measured) -> Section {
    Section {
        title: "10,000 files of 4 KiB".to_owned(),
        intro: format!(
            "{} files of {} bytes in {} directories, copied recursively. Files/s is {} over the median wall \
             time; `vs cp -r` is `cp -r`'s median time over the row's. `arca cp -r` runs with its default number \
             of parallel transfers; `cp -r` copies one file at a time.",
            thousands(data::SMALL_FILES as u64),
            thousands(data::SMALL_BYTES as u64),
            data::SMALL_DIRS,
            thousands(data::SMALL_FILES as u64),
        ),
        headers: vec![
            "Command",
            "Median (s)",
            "Files/s",
            "vs cp -r",
            "Target",
            "Met",
            "Runs (s)",
        ],
        rows: rows(m, data::SMALL_FILES as f64, SMALL_MIN_RATIO),
        commands: commands(ctx, m),
    }
}

/// The peak RSS of the 1 GiB copies, from the timed runs.
pub fn rss_section(big: &Measured) -> Section {
    let rows = [CP, UP, UP_NOFSYNC, DOWN]
        .iter()
        .map(|&i| {
            let mib = big.stats[i].peak_rss_kib as f64 / 1024.0;
            let (target, ok) = match i {
                UP | DOWN => (format!("≤ {RSS_MAX_MIB:.0} MiB"), met(mib <= RSS_MAX_MIB)),
                CP => ("reference".to_owned(), "—".to_owned()),
                _ => ("informative".to_owned(), "—".to_owned()),
            };
            vec![big.cases[i].label.to_owned(), format!("{mib:.1}"), target, ok]
        })
        .collect();
    Section {
        title: "Peak memory, 1 GiB file".to_owned(),
        intro: "\
The largest peak resident set size (`/usr/bin/time -f %M`) over the timed runs of the 1 GiB copies above."
            .to_owned(),
        headers: vec!["Command", "Peak RSS (MiB)", "Target", "Met"],
        rows,
        commands: Vec::new(),
    }
}

/// The notes under the tables, written from the figures.
pub fn notes(big: &Measured, small: &Measured, stat: &StatRuns) -> String {
    let mut misses: Vec<String> = Vec::new();
    for (name, m, base, min) in [
        ("1 GiB", big, "cp", BIG_MIN_RATIO),
        ("10,000 files", small, "cp -r", SMALL_MIN_RATIO),
    ] {
        for (what, i) in [("upload", UP), ("download", DOWN)] {
            let r = m.ratio(i, CP);
            if r < min {
                misses.push(format!("{name} {what} at {r:.2}× `{base}` (target ≥ {min:.2}×)"));
            }
        }
    }
    for (what, i) in [("upload", UP), ("download", DOWN)] {
        let mib = big.stats[i].peak_rss_kib as f64 / 1024.0;
        if mib > RSS_MAX_MIB {
            misses.push(format!(
                "1 GiB {what} peak RSS {mib:.1} MiB (target ≤ {RSS_MAX_MIB:.0} MiB)"
            ));
        }
    }
    let added = stat.added();
    if added > super::stat::MAX_ADDED_US {
        misses.push(format!(
            "{added:.2} µs added per `stat` (target ≤ {:.0} µs)",
            super::stat::MAX_ADDED_US
        ));
    }
    let verdict = if misses.is_empty() {
        "Every target was met.".to_owned()
    } else {
        format!("Targets not met: {}.", misses.join("; "))
    };
    let noise = noise(&[big, small]);
    format!(
        "\
arca's local uploads fsync each file, and the directory it is renamed into, before publishing it: when \
`arca cp` returns, the data is on stable storage. `cp` gives no such durability; it returns while its data \
is still in the page cache. So the `cp + sync` rows (cp made durable) and the `fsync=false` rows (arca \
without the fsync) are the like-for-like comparisons. For the 1 GiB file, arca's upload ran at {:.2}× \
`cp + sync` ({:.2}× plain `cp`), and at {:.2}× `cp` without fsync. For 10,000 files, where the fsyncs are \
paid per file, it ran at {:.2}× `cp -r + sync` ({:.2}× plain `cp -r`), and at {:.2}× `cp -r` without fsync. \
Downloads do not fsync, like `cp`: {:.2}× `cp` for the 1 GiB file and {:.2}× `cp -r` for 10,000 files. \
A `stat` through the plugin boundary took {:.2} µs against {:.2} µs for `std::fs::metadata`.\n\n{verdict}{noise}",
        big.ratio(UP, CP_SYNC),
        big.ratio(UP, CP),
        big.ratio(UP_NOFSYNC, CP),
        small.ratio(UP, CP_SYNC),
        small.ratio(UP, CP),
        small.ratio(UP_NOFSYNC, CP),
        big.ratio(DOWN, CP),
        small.ratio(DOWN, CP),
        stat.plugin(),
        stat.direct(),
    )
}

/// A warning naming the cases whose slowest run took over [`NOISY`] times
/// their fastest (empty if none): their medians are shaky, and a reader
/// should know it without working it out from the runs column.
fn noise(sections: &[&Measured]) -> String {
    let mut noisy = Vec::new();
    let mut runs = 0;
    for m in sections {
        for (case, stats) in m.cases.iter().zip(&m.stats) {
            let min = stats.secs.iter().copied().fold(f64::INFINITY, f64::min);
            let max = stats.secs.iter().copied().fold(0.0, f64::max);
            runs = runs.max(stats.secs.len());
            if max > NOISY * min {
                noisy.push(format!("`{}`: {min:.2}–{max:.2} s", case.label));
            }
        }
    }
    if noisy.is_empty() {
        return String::new();
    }
    format!(
        "\n\nThe machine was noisy during this run: some contenders' slowest run took over {NOISY}× their fastest \
         ({}). A median of {runs} runs only partly absorbs that; `cargo xtask bench local --runs 7` gives firmer \
         figures.",
        noisy.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(runs: &[&[f64]]) -> Measured {
        Measured {
            cases: runs
                .iter()
                .map(|_| Case::new("c", vec!["true".into()], "x".into()))
                .collect(),
            stats: runs
                .iter()
                .map(|r| Stats {
                    secs: r.to_vec(),
                    peak_rss_kib: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn ratios_and_noise() {
        let m = measured(&[&[1.0, 2.0, 1.5], &[3.0, 3.0, 3.1]]);
        assert_eq!(m.ratio(1, 0), 0.5);
        assert_eq!(noise(&[&m]), "");
        let m = measured(&[&[1.0, 2.5, 1.5]]);
        let warning = noise(&[&m]);
        assert!(
            warning.contains("`c`: 1.00–2.50 s") && warning.contains("3 runs"),
            "{warning}"
        );
    }
}
