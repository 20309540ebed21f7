//! Child processes with a time limit: every command the benchmarks start goes
//! through [`run`], so a hung `arca` fails the run instead of hanging it.

use crate::project::Result;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The longest any one command may run.
pub const LIMIT: Duration = Duration::from_secs(600);

/// Where a command's output goes.
#[derive(Debug)]
pub enum Output<'a> {
    /// The terminal (builds, whose progress is worth seeing).
    Inherit,
    /// Files in this directory (`stdout.log`, `stderr.log`), rewritten by each
    /// command; the error of a failed command quotes the end of its stderr.
    Logged(&'a Path),
}

/// Runs `cmd` with stdin closed and returns its wall time, from just before
/// the spawn to the moment `wait` returns. A non-zero exit is an error; so is
/// running longer than [`LIMIT`], after which the command and its
/// descendants are killed.
pub fn run(cmd: &mut Command, output: &Output<'_>) -> Result<Duration> {
    run_within(cmd, output, LIMIT)
}

fn run_within(cmd: &mut Command, output: &Output<'_>, limit: Duration) -> Result<Duration> {
    let shown = show(cmd);
    cmd.stdin(Stdio::null());
    if let Output::Logged(dir) = output {
        let (out, err) = (create(&dir.join("stdout.log"))?, create(&dir.join("stderr.log"))?);
        cmd.stdout(out).stderr(err);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    let pid = child.id();
    // `wait` blocks, so it runs on its own thread and this one keeps the clock.
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send((status, Instant::now()));
    });
    let (status, end) = match rx.recv_timeout(limit) {
        Ok(done) => done,
        Err(RecvTimeoutError::Timeout) => {
            kill_tree(pid);
            let _ = waiter.join();
            return Err(format!("`{shown}` ran longer than {} s; killed it", limit.as_secs()));
        }
        Err(RecvTimeoutError::Disconnected) => return Err(format!("lost track of `{shown}`")),
    };
    let _ = waiter.join();
    let status = status.map_err(|e| format!("cannot wait for `{shown}`: {e}"))?;
    if status.success() {
        return Ok(end.duration_since(start));
    }
    let tail = match output {
        Output::Logged(dir) => stderr_tail(&dir.join("stderr.log")),
        Output::Inherit => String::new(),
    };
    Err(format!("`{shown}` failed ({status}){tail}"))
}

/// [`run`], returning what the command printed on stdout.
pub fn stdout(cmd: &mut Command, logs: &Path) -> Result<String> {
    run(cmd, &Output::Logged(logs))?;
    let path = logs.join("stdout.log");
    std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Runs `sync`, so writeback owed by earlier commands is not billed to the next.
pub fn sync(logs: &Path) -> Result {
    run(&mut Command::new("sync"), &Output::Logged(logs)).map(drop)
}

/// The program `name` on `$PATH`, if any.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn create(path: &Path) -> Result<File> {
    File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

/// The last lines of a stderr log, as an indented block (empty if none).
fn stderr_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(10)..];
    if tail.is_empty() {
        String::new()
    } else {
        format!(":\n    {}", tail.join("\n    "))
    }
}

/// Kills `pid` and every descendant (`/usr/bin/time` wraps the command we
/// care about). The tree is read first: once the parent dies its children
/// are re-parented and could no longer be found. The child has not been
/// reaped yet, so its pid cannot have been reused.
fn kill_tree(pid: u32) {
    let mut pids = vec![pid];
    let mut i = 0;
    while i < pids.len() {
        let tasks = format!("/proc/{}/task", pids[i]);
        for task in std::fs::read_dir(tasks).into_iter().flatten().flatten() {
            let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            pids.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
        i += 1;
    }
    let mut kill = Command::new("kill");
    kill.arg("-KILL").args(pids.iter().map(u32::to_string));
    let _ = kill.stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// The command as one would type it.
fn show(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_quote_stderr() {
        let dir = std::env::temp_dir().join(format!("xtask-proc-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo oops >&2; exit 3"]);
        let err = run(&mut cmd, &Output::Logged(&dir)).err().unwrap_or_default();
        assert!(err.contains("oops") && err.contains("sh -c"), "{err}");
        let out = stdout(Command::new("echo").arg("hi"), &dir);
        assert_eq!(out, Ok("hi\n".to_owned()));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A command past its limit is killed with what it started, even behind
    /// GNU time (which is how every benchmark command runs).
    #[test]
    fn overdue_commands_are_killed_with_their_children() {
        let dir = std::env::temp_dir().join(format!("xtask-kill-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let pidfile = dir.join("pid");
        let script = format!("echo $$ > {}; exec sleep 30", pidfile.display());
        let mut cmd = Command::new("/usr/bin/time");
        cmd.args(["-f", "%M", "-o", "/dev/null", "sh", "-c", &script]);
        let start = Instant::now();
        let err = run_within(&mut cmd, &Output::Logged(&dir), Duration::from_millis(500)).err();
        assert!(err.is_some_and(|e| e.contains("killed")));
        assert!(start.elapsed() < Duration::from_secs(10));
        let pid = std::fs::read_to_string(&pidfile).unwrap_or_default();
        let alive = || {
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
            !stat.is_empty() && !stat.contains(") Z ")
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!pid.trim().is_empty() && !alive(), "sleep {} survived", pid.trim());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
