//! Loopback test servers for the backends' conformance runs, started by
//! `cargo xtask test` when their programs are installed.
//!
//! The contract every server here keeps: it binds 127.0.0.1 only, on ports
//! picked free at run time; it lives in a fresh directory under the target
//! directory; every wait is bounded; and it is stopped by PID (SIGTERM, then
//! SIGKILL after a bounded wait) when its guard is dropped, so a failed run
//! leaves no daemon behind.

pub mod ceph;

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `program` is on the `PATH`.
pub fn installed(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// The first of `count` consecutive ports on 127.0.0.1 that are all free.
pub fn free_port_range(count: u16) -> Result<u16, String> {
    for _ in 0..20 {
        let base = free_port()?;
        let Some(last) = base.checked_add(count) else { continue };
        let all_free = (base..last).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return Ok(base);
        }
    }
    Err(format!("cannot find {count} consecutive free ports"))
}

/// Waits until something accepts on 127.0.0.1:`port`, at most until `deadline`.
pub fn wait_tcp(port: u16, deadline: Instant, what: &str) -> Result<(), String> {
    loop {
        if TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("{what} did not accept connections on 127.0.0.1:{port} in time"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs `cmd` to completion with its output appended to `log`, killing it at
/// `deadline`.
pub fn run_until(cmd: &mut Command, deadline: Instant, log: &Path, what: &str) -> Result<(), String> {
    let mut child = spawn_logged(cmd, log, what)?;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(format!("{what} failed ({status}); see {}", log.display()));
            }
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} did not finish in time; see {}", log.display()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("cannot wait for {what}: {e}")),
        }
    }
}

fn spawn_logged(cmd: &mut Command, log: &Path, what: &str) -> Result<Child, String> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))
}

/// A running daemon, stopped when dropped.
#[derive(Debug)]
pub struct Daemon {
    name: &'static str,
    child: Child,
}

impl Daemon {
    /// Starts `cmd` in the background with its output in `log`.
    pub fn start(name: &'static str, cmd: &mut Command, log: &Path) -> Result<Self, String> {
        let child = spawn_logged(cmd, log, name)?;
        Ok(Self { name, child })
    }

    /// Fails if the daemon has already exited.
    pub fn check_alive(&mut self, log: &Path) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("{} exited ({status}); see {}", self.name, log.display())),
            Err(e) => Err(format!("cannot check on {}: {e}", self.name)),
        }
    }
}

impl Drop for Daemon {
    /// SIGTERM by PID, then SIGKILL if it is still running after 5 s.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("{} (pid {pid}) ignored SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
