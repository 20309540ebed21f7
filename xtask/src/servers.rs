//! Loopback test servers for the backends' conformance runs, started by
//! `cargo xtask test` when their programs are installed.
//!
//! The contract every server here keeps: it binds 127.0.0.1 only, on ports
//! picked free at run time; it lives in a fresh directory under the target
//! directory; every wait is bounded; and it is stopped by PID (SIGTERM, then
//! SIGKILL after a bounded wait) when its guard is dropped, so a failed run
//! leaves no daemon behind.

pub mod azurite;
pub mod ceph;
pub mod ftp;
pub mod gcs;
pub mod hdfs;
pub mod mariadb;
pub mod postgres;
pub mod sftp;
pub mod tls;

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `program` is on the `PATH`.
pub fn installed(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Whether this process runs as root (some servers must, or must not).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Where the kernel takes the local ports of outgoing connections
/// (`/proc/sys/net/ipv4/ip_local_port_range`; Linux's default otherwise).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut it = text.split_whitespace().map(|n| n.parse::<u16>());
            match (it.next(), it.next()) {
                (Some(Ok(lo)), Some(Ok(hi))) if lo <= hi => Some((lo, hi)),
                _ => None,
            }
        })
        .unwrap_or((32768, 60999))
}

/// The ports a server may be given: those below the ephemeral range (from
/// 10000), else those above it. A port the kernel may hand to an outgoing
/// connection at any moment (a CLI talking to a daemon, curl, a test's
/// client) is never chosen: between the check here and the server's bind,
/// one of those could take it, and the server would fail to start.
fn listen_ports() -> std::ops::Range<u32> {
    let (lo, hi) = ephemeral_range();
    if u32::from(lo) >= 10_000 + 2_000 {
        10_000..u32::from(lo)
    } else {
        u32::from(hi) + 1..65_536
    }
}

/// A pseudo-random start, so concurrent runs do not all try the same ports.
fn spread(len: u32) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (nanos ^ std::process::id().rotate_left(16)) % len.max(1)
}

/// The first of `count` consecutive ports on 127.0.0.1, outside the
/// ephemeral range, that are all free (nothing listens on them).
pub fn free_port_range(count: u16) -> Result<u16, String> {
    let ports = listen_ports();
    let len = ports.end - ports.start;
    let count = u32::from(count);
    if len < count {
        return Err(format!("no room for {count} ports outside the ephemeral range"));
    }
    let first = spread(len - count + 1);
    for i in 0..500u32 {
        let base = ports.start + (first + i * count) % (len - count + 1);
        let all_free =
            (base..base + count).all(|p| u16::try_from(p).is_ok_and(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()));
        if all_free && let Ok(base) = u16::try_from(base) {
            return Ok(base);
        }
    }
    Err(format!(
        "cannot find {count} consecutive free ports from {} to {}",
        ports.start,
        ports.end - 1
    ))
}

/// A free port on 127.0.0.1 for a server that cannot pick its own, outside
/// the ephemeral range (see [`free_port_range`]).
pub fn free_port() -> Result<u16, String> {
    free_port_range(1)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_get_ports_no_outgoing_connection_can_take() {
        let (lo, hi) = ephemeral_range();
        let outside = |p: u32| p < u32::from(lo) || p > u32::from(hi);
        for _ in 0..10 {
            let port = free_port().unwrap_or_default();
            assert!(port != 0 && outside(u32::from(port)), "{port} is in {lo}-{hi}");
        }
        let base = free_port_range(16).unwrap_or_default();
        assert!(base != 0 && (u32::from(base)..u32::from(base) + 16).all(outside));
    }
}
