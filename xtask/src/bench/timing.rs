//! What every transfer benchmark records of a timed command: its figure,
//! its process's wall time, the client's and the servers' CPU time; and how
//! a command is run under GNU time.

use crate::bench::measure::{GNU_TIME, median};
use crate::bench::procfs::processes;
use crate::project::Result;
use std::path::Path;
use std::process::Command;

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`).
pub const TICKS_PER_SEC: f64 = 100.0;

/// One contender's runs in one direction.
#[derive(Clone, Debug, Default)]
pub struct Timed {
    /// The figure of each run, in seconds (see the module docs).
    pub secs: Vec<f64>,
    /// The wall time of each run's process, in seconds.
    pub process: Vec<f64>,
    /// The client's CPU seconds (user + system) in each run.
    pub cpu: Vec<f64>,
    /// The CPU seconds the servers used in each run.
    pub server_cpu: Vec<f64>,
    /// Run 1's command, as the report shows it.
    pub command: String,
}

impl Timed {
    pub fn median(&self) -> f64 {
        median(&self.secs)
    }

    pub fn process_median(&self) -> f64 {
        median(&self.process)
    }

    pub fn cpu_median(&self) -> f64 {
        median(&self.cpu)
    }

    pub fn server_cpu_median(&self) -> f64 {
        median(&self.server_cpu)
    }
}

/// A workload's runs: uploads and downloads, per contender.
#[derive(Debug, Default)]
pub struct Transfer {
    pub up: Vec<Timed>,
    pub down: Vec<Timed>,
}

impl Transfer {
    pub fn new(contenders: usize) -> Self {
        Self {
            up: vec![Timed::default(); contenders],
            down: vec![Timed::default(); contenders],
        }
    }
}

/// The same command (program, arguments, environment).
pub fn clone(cmd: &Command) -> Command {
    let mut out = Command::new(cmd.get_program());
    out.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => out.env(k, v),
            None => out.env_remove(k),
        };
    }
    out
}

/// `cmd` under GNU time, which writes its user and system CPU seconds to `out`.
pub fn under_time(cmd: &Command, out: &Path) -> Command {
    let mut t = Command::new(GNU_TIME);
    t.args(["-f", "%U %S", "-o"])
        .arg(out)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            t.env(k, v);
        }
    }
    t
}

/// The user + system seconds GNU time wrote to `path`.
pub fn cpu_seconds(path: &Path) -> Result<f64> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let line = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let v: Vec<f64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    match v[..] {
        [user, system] => Ok(user + system),
        _ => Err(format!("{GNU_TIME} wrote no CPU times to {}: {text:?}", path.display())),
    }
}

/// The CPU time, in clock ticks, of the processes this process started
/// whose command name (`/proc/<pid>/comm`) is one of `names`.
pub fn server_ticks(names: &[&str]) -> u64 {
    let me = std::process::id();
    processes()
        .iter()
        .filter(|p| p.ppid == me)
        .filter(|p| {
            let comm = std::fs::read_to_string(format!("/proc/{}/comm", p.pid)).unwrap_or_default();
            names.contains(&comm.trim())
        })
        .map(|p| p.ticks)
        .sum()
}
