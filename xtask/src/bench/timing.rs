//! What every transfer benchmark records of a timed command: its figure,
//! its process's wall time, the client's and the servers' CPU time; and how
//! a command is run under GNU time.

use crate::bench::measure::{GNU_TIME, median};
use crate::bench::proc::{self, Output};
use crate::bench::procfs::processes;
use crate::bench::stat::number;
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
/// whose command name (`/proc/<pid>/comm`) is one of `names`, and of all
/// their descendants: a server that forks a process per session (as
/// pure-ftpd does), or two (sshd: a monitor, and under it the session that
/// runs `internal-sftp`).
pub fn server_ticks(names: &[&str]) -> u64 {
    let me = std::process::id();
    let all = processes();
    let mut tree: Vec<u32> = all
        .iter()
        .filter(|p| p.ppid == me)
        .filter(|p| {
            let comm = std::fs::read_to_string(format!("/proc/{}/comm", p.pid)).unwrap_or_default();
            names.contains(&comm.trim())
        })
        .map(|p| p.pid)
        .collect();
    loop {
        let more: Vec<u32> = all
            .iter()
            .filter(|p| tree.contains(&p.ppid) && !tree.contains(&p.pid))
            .map(|p| p.pid)
            .collect();
        if more.is_empty() {
            break;
        }
        tree.extend(more);
    }
    // Each process's own time and that of its ended children (reaped by
    // it, their own ended children included); a process still running is
    // in no one's ended children yet, so nothing is counted twice.
    all.iter()
        .filter(|p| tree.contains(&p.pid))
        .map(|p| p.ticks + p.child_ticks)
        .sum()
}

/// How a benchmark times its commands.
pub struct Runner<'a> {
    /// Where command output goes (`stdout.log`, GNU time's `cpu.txt`).
    pub logs: &'a Path,
    /// Runs per contender, for the progress lines.
    pub runs: usize,
    /// The Python contenders' script, named when its output is wrong.
    pub script: &'a str,
    /// The servers' process names (their CPU time is recorded) and how the
    /// progress lines call them.
    pub servers: &'a [&'a str],
    pub server_label: &'a str,
}

impl Runner<'_> {
    /// Runs one timed command, `sync` first, and records it in `t`: a
    /// Python contender's figure is what it prints (`{"secs", "cpu"}`),
    /// `arca`'s its process's wall time, its CPU from GNU time. `shown` is
    /// the command as the report shows it.
    pub fn step(&self, t: &mut Timed, cmd: Command, python: bool, what: &str, run: usize, shown: String) -> Result {
        let cpu_file = self.logs.join("cpu.txt");
        let mut timed = if python {
            clone(&cmd)
        } else {
            under_time(&cmd, &cpu_file)
        };
        proc::sync(self.logs)?;
        let before = server_ticks(self.servers);
        let wall = proc::run(&mut timed, &Output::Logged(self.logs))?.as_secs_f64();
        let server_cpu = server_ticks(self.servers).saturating_sub(before) as f64 / TICKS_PER_SEC;
        let (secs, cpu) = if python {
            let out = self.logs.join("stdout.log");
            let text = std::fs::read_to_string(&out).map_err(|e| format!("cannot read {}: {e}", out.display()))?;
            let field = |key: &str| {
                number(&text, key).ok_or_else(|| format!("{} printed no `{key}`: {}", self.script, text.trim()))
            };
            (field("secs")?, field("cpu")?)
        } else {
            (wall, cpu_seconds(&cpu_file)?)
        };
        eprintln!(
            "bench: {what:<48} run {run}/{}: {secs:>8.3} s (process {wall:.3} s; CPU: client {cpu:.2} s, {} \
             {server_cpu:.2} s)",
            self.runs, self.server_label
        );
        if t.secs.is_empty() {
            t.command = shown;
        }
        t.secs.push(secs);
        t.process.push(wall);
        t.cpu.push(cpu);
        t.server_cpu.push(server_cpu);
        Ok(())
    }
}
