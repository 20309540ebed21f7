//! PostgreSQL (Debian's `postgresql`) for `arca gc`'s tests against a SQL
//! backend store MLflow's users run in production.
//!
//! A fresh cluster (`initdb`, password auth for the user `arca`) in a
//! directory under the system's temporary directory, the server run in the foreground
//! on 127.0.0.1 and a free port, with its socket in that directory, and
//! stopped by PID. PostgreSQL refuses to run as root, so as root both run
//! as the `postgres` account the package creates (`setpriv`, which execs,
//! so the PID is the server's).

use super::{Daemon, free_port, is_root, run_until, wait_tcp};
use crate::project;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const USER: &str = "arca";
pub const PASSWORD: &str = "arca-pg-pw";
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Postgres {
    pub port: u16,
    dir: PathBuf,
    daemon: Option<Daemon>,
}

/// The directory of PostgreSQL's programs: the newest under
/// `/usr/lib/postgresql/<version>/bin` (Debian keeps them off the `PATH`).
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").is_file() && bin.join("postgres").is_file())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

impl Postgres {
    /// Whether PostgreSQL can run here.
    pub fn available() -> bool {
        bin_dir().is_some() && (!is_root() || super::installed("setpriv"))
    }

    /// `postgresql://arca:…@127.0.0.1:PORT/` (add a database name).
    pub fn uri(&self) -> String {
        format!("postgresql://{USER}:{PASSWORD}@127.0.0.1:{}/", self.port)
    }

    /// A command that runs `program` as the account the cluster belongs to.
    fn as_owner(program: &Path) -> Command {
        if is_root() {
            let mut cmd = Command::new("setpriv");
            cmd.args(["--reuid=postgres", "--regid=postgres", "--init-groups", "--"])
                .arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    pub fn start() -> Result<Self, String> {
        let started = Instant::now();
        let deadline = started + START_TIMEOUT;
        let bin = bin_dir().ok_or("PostgreSQL is not installed (apt-get install postgresql)")?;
        // Under the system's temporary directory, not the target directory:
        // the postgres account must reach it, and a home may be closed to it.
        let dir = std::env::temp_dir().join(format!("arca-postgres-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let data = dir.join("data");
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let log = dir.join("postgres.log");
        let pwfile = dir.join("pw");
        project::write(&pwfile, PASSWORD)?;
        if is_root() {
            run_until(
                Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir),
                deadline,
                &log,
                "chown of the PostgreSQL directory",
            )?;
        }
        run_until(
            Self::as_owner(&bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    USER,
                    "--auth=scram-sha-256",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ])
                .arg(format!("--pwfile={}", pwfile.display())),
            deadline,
            &log,
            "initdb",
        )?;
        let port = free_port()?;
        let daemon = Daemon::start(
            "postgres",
            Self::as_owner(&bin.join("postgres"))
                .arg("-D")
                .arg(&data)
                .args(["-c", "listen_addresses=127.0.0.1", "-p", &port.to_string()])
                .arg("-c")
                .arg(format!("unix_socket_directories={}", dir.display()))
                // A throw-away cluster: no durability needed.
                .args([
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ]),
            &log,
        )?;
        let mut pg = Self {
            port,
            dir,
            daemon: Some(daemon),
        };
        wait_tcp(port, deadline, "postgres")?;
        // Accepting TCP is not being ready: wait until it answers.
        loop {
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", "2"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ready {
                break;
            }
            if let Some(d) = pg.daemon.as_mut() {
                d.check_alive(&log)?;
            }
            if Instant::now() >= deadline {
                return Err(format!("postgres did not become ready in time; see {}", log.display()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!(
            "postgres ready on 127.0.0.1:{port} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(pg)
    }

    /// What the Python suite needs to reach it.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("ARCA_PG_URI", self.uri())]
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        drop(self.daemon.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
