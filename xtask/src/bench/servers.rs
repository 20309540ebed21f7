//! The servers `cargo xtask bench server` measures, each a child process on
//! 127.0.0.1 with a port of its own, its own destination directory and its
//! own directory for logs and state (see [`super::contenders`] for how each
//! is started).
//!
//! Nothing may outlive the benchmark. Every server runs in a process group
//! of its own, under `setpriv --pdeathsig TERM`, so the kernel sends it
//! SIGTERM if xtask dies (Ctrl-C, a kill) before it could stop them; a
//! [`Server`] stops its server when dropped, so an error does the same. To
//! stop, the leader gets SIGTERM: `arca serve` exits, nginx's master stops
//! its workers, and MLflow, whose main process does not stop its children
//! (uvicorn workers, job runners) on SIGTERM, is started under a shell that
//! passes SIGTERM on to the whole group. Whatever is left of the group after
//! [`STOP_GRACE`] is killed.

use super::proc;
use super::procfs::{Proc, processes, status_kib};
use crate::project::Result;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server gets to exit after SIGTERM before its group is killed.
const STOP_GRACE: Duration = Duration::from_secs(20);
/// A shell that runs its arguments and, on SIGTERM, sends SIGTERM to its
/// whole process group (itself included, once the trap is reset).
const GROUP_WRAPPER: &str = "trap 'trap - TERM; kill -TERM 0' TERM; \"$@\" & wait $!";
/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// How a server is addressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// MLflow's artifact REST API (`arca serve`, `mlflow server`).
    Mlflow,
    /// Plain paths: PUT and GET `/<path>`, the autoindex of `/<dir>/`.
    Files,
}

/// One running server.
#[derive(Debug)]
pub struct Server {
    pub label: &'static str,
    pub api: Api,
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// The directory its artifacts live in.
    pub dest: PathBuf,
    /// Its logs, configuration and working directory.
    pub dir: PathBuf,
    /// The command that started it (without the `setpriv` wrapper).
    pub command: Vec<OsString>,
    /// Whether the leader is [`GROUP_WRAPPER`] (left out of memory sums).
    wrapped: bool,
    /// Running until [`Server::stop`].
    child: Option<Child>,
    /// The leader's pid, which is also the process group's id.
    pid: u32,
}

impl Server {
    /// Starts `command` in `dir` (logs to `dir/out.log` and `dir/err.log`).
    pub fn spawn(
        label: &'static str,
        api: Api,
        dest: PathBuf,
        dir: PathBuf,
        command: Vec<OsString>,
        wrap: bool,
    ) -> Result<Self> {
        Self::spawn_with_env(label, api, dest, dir, command, wrap, &[])
    }

    /// [`Server::spawn`] with more environment variables.
    pub fn spawn_with_env(
        label: &'static str,
        api: Api,
        dest: PathBuf,
        dir: PathBuf,
        command: Vec<OsString>,
        wrap: bool,
        env: &[(&str, String)],
    ) -> Result<Self> {
        let log = |name: &str| {
            let path = dir.join(name);
            File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))
        };
        let mut cmd = Command::new("setpriv");
        cmd.args(["--pdeathsig", "TERM", "--"]);
        if wrap {
            cmd.args(["sh", "-c", GROUP_WRAPPER, "sh"]);
        }
        cmd.args(&command)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log("out.log")?)
            .stderr(log("err.log")?)
            .process_group(0);
        let shown = shown(&command);
        eprintln!("bench: starting {label}: {shown}");
        let child = cmd.spawn().map_err(|e| format!("cannot start `{shown}`: {e}"))?;
        Ok(Self {
            label,
            api,
            origin: String::new(),
            dest,
            dir,
            command,
            wrapped: wrap,
            pid: child.id(),
            child: Some(child),
        })
    }

    /// The URL of the artifact at `rel`.
    pub fn url(&self, rel: &str) -> String {
        match self.api {
            Api::Mlflow => format!("{}/api/2.0/mlflow-artifacts/artifacts/{rel}", self.origin),
            Api::Files => format!("{}/{rel}", self.origin),
        }
    }

    /// The URL that lists the directory `rel`.
    pub fn list_url(&self, rel: &str) -> String {
        match self.api {
            Api::Mlflow => format!("{}/api/2.0/mlflow-artifacts/artifacts?path={rel}", self.origin),
            Api::Files => format!("{}/{rel}/", self.origin),
        }
    }

    /// An error if the server has exited, quoting the end of its stderr.
    fn check_alive(&mut self) -> Result {
        let Some(child) = &mut self.child else {
            return Err(format!("{} was stopped", self.label));
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("{} exited ({status}){}", self.label, self.stderr_tail())),
            Err(e) => Err(format!("cannot wait for {}: {e}", self.label)),
        }
    }

    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("err.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = &lines[lines.len().saturating_sub(10)..];
        format!(":\n    {}", tail.join("\n    "))
    }

    /// Waits until `find` finds what it wants in the server's stderr log
    /// (`arca serve` prints the port it chose), for at most `limit`.
    pub fn wait_for_stderr<T>(&mut self, limit: Duration, find: impl Fn(&str) -> Option<T>) -> Result<T> {
        let deadline = Instant::now() + limit;
        loop {
            let text = std::fs::read_to_string(self.dir.join("err.log")).unwrap_or_default();
            if let Some(found) = find(&text) {
                return Ok(found);
            }
            self.check_alive()?;
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} printed nothing usable in {} s{}",
                    self.label,
                    limit.as_secs(),
                    self.stderr_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// For `arca serve --port 0`: learns the port it printed, then waits
    /// until `/health` answers, each for at most `limit`.
    pub fn wait_for_arca(&mut self, limit: Duration) -> Result {
        let port = self.wait_for_stderr(limit, |text| {
            let at = text.find("listening on http://127.0.0.1:")? + "listening on http://127.0.0.1:".len();
            let digits: String = text[at..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u16>().ok()
        })?;
        self.origin = format!("http://127.0.0.1:{port}");
        self.wait_ready("/health", Instant::now(), limit)
    }

    /// Polls `GET {origin}{path}` until it answers 200, for at most `limit`
    /// from `since`.
    pub fn wait_ready(&mut self, path: &str, since: Instant, limit: Duration) -> Result {
        let addr: SocketAddr = self
            .origin
            .trim_start_matches("http://")
            .parse()
            .map_err(|e| format!("{}: bad origin {}: {e}", self.label, self.origin))?;
        loop {
            if status(addr, path) == Some(200) {
                eprintln!(
                    "bench: {} ready after {:.1} s",
                    self.label,
                    since.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            self.check_alive()?;
            if since.elapsed() >= limit {
                return Err(format!(
                    "{} did not answer GET {path} within {} s{}",
                    self.label,
                    limit.as_secs(),
                    self.stderr_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Waits until the server's processes, together, use under 5% of a CPU
    /// for a second (start-up work done), for at most `limit`; says whether
    /// they did.
    pub fn settle(&mut self, limit: Duration) -> Result<bool> {
        let deadline = Instant::now() + limit;
        loop {
            self.check_alive()?;
            let before = self.processes().iter().map(|p| p.ticks).sum::<u64>();
            std::thread::sleep(Duration::from_secs(1));
            let after = self.processes().iter().map(|p| p.ticks).sum::<u64>();
            if (after.saturating_sub(before) as f64) < 0.05 * TICKS_PER_SEC {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
        }
    }

    /// The server's live processes: the leader and its descendants, without
    /// the wrapper shell.
    fn processes(&self) -> Vec<Proc> {
        let all = processes();
        let mut tree = vec![self.pid];
        let mut i = 0;
        while i < tree.len() {
            let parent = tree[i];
            tree.extend(all.iter().filter(|p| p.ppid == parent).map(|p| p.pid));
            i += 1;
        }
        let skip = if self.wrapped { Some(self.pid) } else { None };
        all.into_iter()
            .filter(|p| tree.contains(&p.pid) && Some(p.pid) != skip && p.state != 'Z')
            .collect()
    }

    /// The sum of the peak resident set size (`VmHWM`) of the server's
    /// processes, in KiB, and how many processes that is.
    pub fn peak_rss_kib(&self) -> (u64, usize) {
        let procs = self.processes();
        let kib = procs.iter().filter_map(|p| status_kib(p.pid, "VmHWM")).sum();
        (kib, procs.len())
    }

    /// Stops the server and everything it started (see the module docs).
    pub fn stop(&mut self) -> Result {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = self.pid.to_string();
        signal("-TERM", &pid);
        let deadline = Instant::now() + STOP_GRACE;
        let group_alive = || processes().iter().any(|p| p.pgrp == self.pid && p.state != 'Z');
        loop {
            let exited = child
                .try_wait()
                .map_err(|e| format!("cannot wait for {}: {e}", self.label))?;
            if exited.is_some() && !group_alive() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        signal("-KILL", &format!("-{pid}"));
        let _ = child.kill();
        let _ = child.wait();
        Err(format!(
            "{} (process group {pid}) was still running {} s after SIGTERM; killed it",
            self.label,
            STOP_GRACE.as_secs()
        ))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("warning: {e}");
        }
    }
}

/// The command as one would type it.
pub fn shown(command: &[OsString]) -> String {
    let words: Vec<String> = command.iter().map(|w| w.to_string_lossy().into_owned()).collect();
    words.join(" ")
}

/// The status code of `GET path`, if the server answers within a second or two.
fn status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.set_write_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 32];
    let n = stream.read(&mut head).ok()?;
    let line = String::from_utf8_lossy(&head[..n]).into_owned();
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Sends `sig` to `target` (a pid, or `-pgid` for a group); a process that
/// is already gone is not an error.
fn signal(sig: &str, target: &str) {
    let _ = Command::new("kill")
        .args([sig, "--", target])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether xtask runs as root (nginx then needs to be told which user its
/// workers run as, or they could not write to the destination).
pub fn running_as_root() -> bool {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        == Some("0")
}

/// A directory, created.
pub fn mkdir(path: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    Ok(path.to_path_buf())
}

/// `proc::find`, failing with `hint` when the program is missing.
pub fn require(program: &str, hint: &str) -> Result<PathBuf> {
    proc::find(program).ok_or_else(|| format!("`{program}` is not on PATH; {hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wrapped group is stopped whole, children included, and nothing is
    /// counted for the wrapper shell.
    #[test]
    fn a_wrapped_group_is_stopped_whole() {
        let dir = std::env::temp_dir().join(format!("xtask-server-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        // `; true` keeps the inner shell from exec'ing its last command.
        let command = vec!["sh".into(), "-c".into(), "sleep 60 & sleep 60; true".into()];
        let server = Server::spawn("sleepers", Api::Files, dir.clone(), dir.clone(), command, true);
        let Ok(mut server) = server else { panic!("{server:?}") };
        let deadline = Instant::now() + Duration::from_secs(5);
        while server.processes().len() < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let pids: Vec<u32> = server.processes().iter().map(|p| p.pid).collect();
        assert_eq!(pids.len(), 3, "sh and two sleeps, without the wrapper");
        assert!(!pids.contains(&server.pid));
        assert_eq!(server.stop(), Ok(()));
        assert!(!processes().iter().any(|p| pids.contains(&p.pid) && p.state != 'Z'));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
