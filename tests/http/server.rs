//! A real `arca serve` process for a test, and a raw HTTP/1.1 client.
//!
//! The client is hand-written on purpose: it sends request targets exactly
//! as given (`%252e%252e`, `//`, `\`), which an HTTP library would
//! normalise, so the traversal tests reach the server unaltered.

pub use arca_tests::wire::{self, Response};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running server, stopped (by PID) when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
    /// The destination directory.
    pub dest: PathBuf,
    /// A directory that holds `dest` and the canaries beside it.
    pub root: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(&[], &[])
    }

    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Server {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        Self::start_in(root, args, env)
    }

    /// Stops this server and starts another on the same destination.
    pub fn restart_with(self, args: &[&str]) -> Server {
        let mut this = self;
        let _ = this.child.kill();
        let _ = this.child.wait();
        let root = std::mem::replace(&mut this.root, tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")));
        Self::start_in(root, args, &[])
    }

    fn start_in(root: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Server {
        let dest = root.path().join("dest");
        let mut cmd = Command::new(arca_tests::arca_bin());
        cmd.arg("--plugins")
            .arg(arca_tests::manifest())
            .args(["serve", "--host", "127.0.0.1", "--port", "0", "--artifacts-destination"])
            .arg(&dest)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start arca serve: {e}"));
        let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keeps draining stderr after the address is known, so the pipe never fills.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        break rest.split_whitespace().next().unwrap_or_default().to_owned();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("arca serve did not report its address within 30 s");
                }
            }
        };
        Server {
            child,
            addr,
            dest,
            root,
        }
    }

    pub fn request(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        request(&self.addr, method, target, headers, body)
    }

    /// `…/api/2.0/mlflow-artifacts/<rest>`
    pub fn api(&self, method: &str, rest: &str, body: &[u8]) -> Response {
        self.request(method, &format!("/api/2.0/mlflow-artifacts/{rest}"), &[], body)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map(|s| s.success());
        assert_eq!(ok.ok(), Some(true), "kill -TERM failed");
    }

    /// Waits (bounded) for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "arca serve did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn file(&self, rel: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dest.join(rel)).ok()
    }

    /// Everything under the temporary root, for before/after comparisons.
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        walk(self.root.path(), &mut out);
        out.sort();
        out
    }
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on a fresh connection, bounded (see [`arca_tests::wire`]).
pub fn request(addr: &str, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    wire::request(addr, method, target, headers, body).unwrap_or_else(|e| panic!("{method} {target} to {addr}: {e}"))
}

/// Waits (bounded) until `cond` holds, polling; panics with `what` otherwise.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(20));
    }
}
