//! Timing commands: each [`Case`] is run `runs` times, round-robin with the
//! other cases of its section so that a noisy minute on the machine hurts
//! every contender alike, with its destination cleared and `sync` run before
//! each (outside the timing).
//!
//! A destination directory is moved aside into a trash directory rather than
//! deleted (the trash goes with the work directory at the end). On ext4
//! without a journal, the inode allocator skips inodes deleted in the last
//! minute (five, if their inode table block is dirty), checking them one by
//! one: deleting 10,000 files just before a run made every file creation in
//! it several times slower, and the next contender paid for the previous
//! one's clean-up. A file is deleted: one inode does not matter.

use super::proc::{self, Output};
use crate::project::Result;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// GNU time, which reports the peak RSS of the command it runs.
pub const GNU_TIME: &str = "/usr/bin/time";

/// One contender: commands run one after the other and timed together, and
/// what they create (removed before every run).
#[derive(Debug)]
pub struct Case {
    /// A short name for tables.
    pub label: &'static str,
    /// The commands, each as program and arguments.
    pub steps: Vec<Vec<OsString>>,
    /// The file or directory the commands create.
    pub dst: PathBuf,
}

impl Case {
    /// A case of one command.
    pub fn new(label: &'static str, command: Vec<OsString>, dst: PathBuf) -> Self {
        Self {
            label,
            steps: vec![command],
            dst,
        }
    }

    /// The same command followed by `sync`: the durability arca's fsync gives.
    pub fn then_sync(mut self) -> Self {
        self.steps.push(vec!["sync".into()]);
        self
    }

    /// The commands as one shell line, with `replace` applied to each word
    /// (to show machine paths as `$WORK` and `$TARGET`).
    pub fn shown(&self, replace: &dyn Fn(String) -> String) -> String {
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|s| {
                let words: Vec<String> = s.iter().map(|w| replace(w.to_string_lossy().into_owned())).collect();
                words.join(" ")
            })
            .collect();
        steps.join(" && ")
    }
}

/// What the runs of one case measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    /// Wall time of each run, in seconds, in run order.
    pub secs: Vec<f64>,
    /// The largest peak RSS of any command in any run, in KiB.
    pub peak_rss_kib: u64,
}

impl Stats {
    pub fn median_secs(&self) -> f64 {
        median(&self.secs)
    }
}

/// The median of `values` (the mean of the middle two for an even count;
/// 0 for none).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Scratch directories: `logs` for command output, `trash` for cleared
/// destinations.
#[derive(Debug)]
pub struct Scratch<'a> {
    pub logs: &'a Path,
    pub trash: &'a Path,
}

/// Runs every case `runs` times, round-robin, and returns their stats in
/// the order of `cases`.
pub fn measure(section: &str, cases: &[Case], runs: usize, scratch: &Scratch<'_>) -> Result<Vec<Stats>> {
    let logs = scratch.logs;
    let mut stats: Vec<Stats> = cases
        .iter()
        .map(|_| Stats {
            secs: Vec::new(),
            peak_rss_kib: 0,
        })
        .collect();
    for run in 1..=runs {
        for (case, stats) in cases.iter().zip(&mut stats) {
            clear(&case.dst, scratch.trash)?;
            proc::sync(logs)?;
            let mut total = Duration::ZERO;
            for step in &case.steps {
                let (wall, rss) = timed(step, logs)?;
                total += wall;
                stats.peak_rss_kib = stats.peak_rss_kib.max(rss);
            }
            eprintln!(
                "bench: {section}, run {run}/{runs}: {:<32} {:>8.3} s",
                case.label,
                total.as_secs_f64()
            );
            stats.secs.push(total.as_secs_f64());
        }
    }
    Ok(stats)
}

/// Runs one command under GNU time: its wall time and peak RSS in KiB.
/// Every command pays for the same wrapper, so the comparison stays fair.
fn timed(step: &[OsString], logs: &Path) -> Result<(Duration, u64)> {
    let Some((program, args)) = step.split_first() else {
        return Err("empty benchmark command".to_owned());
    };
    let rss_file = logs.join("rss.txt");
    let mut cmd = Command::new(GNU_TIME);
    cmd.args(["-f", "%M", "-o"]).arg(&rss_file).arg(program).args(args);
    let wall = proc::run(&mut cmd, &Output::Logged(logs))?;
    let text = std::fs::read_to_string(&rss_file).map_err(|e| format!("cannot read {}: {e}", rss_file.display()))?;
    let rss = text
        .lines()
        .rev()
        .find_map(|l| l.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("{GNU_TIME} wrote no peak RSS to {}: {text:?}", rss_file.display()))?;
    Ok((wall, rss))
}

/// Moves a directory into `trash` (under a fresh name), deletes a file; a
/// missing one is fine. See the module docs for why directories are kept.
fn clear(path: &Path, trash: &Path) -> Result {
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return remove(path);
    }
    std::fs::create_dir_all(trash).map_err(|e| format!("cannot create {}: {e}", trash.display()))?;
    let n = std::fs::read_dir(trash).map(Iterator::count).unwrap_or(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let to = trash.join(format!("{n}-{name}"));
    std::fs::rename(path, &to).map_err(|e| format!("cannot move {} to {}: {e}", path.display(), to.display()))
}

/// Removes a file or directory tree; a missing one is fine.
pub fn remove(path: &Path) -> Result {
    let r = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    r.map_err(|e| format!("cannot remove {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[5.0]), 5.0);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn directories_go_to_the_trash_and_files_are_deleted() {
        let dir = std::env::temp_dir().join(format!("xtask-clear-{}", std::process::id()));
        let (trash, tree, file) = (dir.join("trash"), dir.join("tree"), dir.join("file"));
        for _ in 0..2 {
            let _ = std::fs::create_dir_all(tree.join("sub"));
            let _ = std::fs::write(&file, "x");
            assert_eq!(clear(&tree, &trash), Ok(()));
            assert_eq!(clear(&file, &trash), Ok(()));
            assert!(!tree.exists() && !file.exists());
        }
        assert!(trash.join("0-tree/sub").is_dir() && trash.join("1-tree/sub").is_dir());
        assert_eq!(clear(&dir.join("missing"), &trash), Ok(()));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn commands_are_shown_with_replacements() {
        let case = Case::new("cp", vec!["cp".into(), "/w/a".into(), "/w/b".into()], "/w/b".into()).then_sync();
        let shown = case.shown(&|w| w.replace("/w", "$WORK"));
        assert_eq!(shown, "cp $WORK/a $WORK/b && sync");
    }
}
