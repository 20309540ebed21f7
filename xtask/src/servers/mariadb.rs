//! MariaDB (Debian's `mariadb-server`), the MySQL server of Debian, for
//! `arca gc`'s tests on a MySQL backend store.
//!
//! A fresh data directory (`mariadb-install-db`) under the system's
//! temporary directory, the server in the foreground on 127.0.0.1 and a free
//! port, its socket in that directory, stopped by PID; the user `arca` with
//! a password is made through the socket, where root logs in without one.

use super::{Daemon, free_port, installed, is_root, run_until, wait_tcp};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const USER: &str = "arca";
pub const PASSWORD: &str = "arca-my-pw";
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct MariaDb {
    pub port: u16,
    dir: PathBuf,
    daemon: Option<Daemon>,
}

/// The server program: Debian puts it in /usr/sbin, which a user's `PATH`
/// may lack.
fn server_program() -> Option<PathBuf> {
    if installed("mariadbd") {
        return Some(PathBuf::from("mariadbd"));
    }
    let sbin = Path::new("/usr/sbin/mariadbd");
    sbin.is_file().then(|| sbin.to_path_buf())
}

impl MariaDb {
    pub fn available() -> bool {
        server_program().is_some()
            && installed("mariadb-install-db")
            && installed("mariadb-admin")
            && installed("mariadb")
    }

    /// `mysql://arca:…@127.0.0.1:PORT/` (add a database name).
    pub fn uri(&self) -> String {
        format!("mysql://{USER}:{PASSWORD}@127.0.0.1:{}/", self.port)
    }

    pub fn start() -> Result<Self, String> {
        let started = Instant::now();
        let deadline = started + START_TIMEOUT;
        let program = server_program().ok_or("MariaDB is not installed (apt-get install mariadb-server)")?;
        let dir = std::env::temp_dir().join(format!("arca-mariadb-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let data = dir.join("data");
        let socket = dir.join("sock");
        let log = dir.join("mariadb.log");
        // As root the server must be told to stay root (it refuses
        // otherwise); as a user it runs as that user.
        let user: &[&str] = if is_root() { &["--user=root"] } else { &[] };
        run_until(
            Command::new("mariadb-install-db")
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .args(user)
                .args(["--auth-root-authentication-method=normal", "--skip-test-db"]),
            deadline,
            &log,
            "mariadb-install-db",
        )?;
        let port = free_port()?;
        let daemon = Daemon::start(
            "mariadbd",
            Command::new(&program)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--socket={}", socket.display()))
                .arg(format!("--pid-file={}", dir.join("pid").display()))
                .args(["--bind-address=127.0.0.1", &format!("--port={port}")])
                .args(user)
                // A throw-away server: no durability needed.
                .args(["--innodb-flush-log-at-trx-commit=0", "--skip-log-bin"]),
            &log,
        )?;
        let mut db = Self {
            port,
            dir,
            daemon: Some(daemon),
        };
        wait_tcp(port, deadline, "mariadbd")?;
        let client = |program: &str| {
            let mut cmd = Command::new(program);
            cmd.arg("--no-defaults")
                .arg(format!("--socket={}", socket.display()))
                .arg("-uroot");
            cmd
        };
        loop {
            let alive = client("mariadb-admin")
                .args(["--connect-timeout=2", "ping"])
                .output()
                .is_ok_and(|o| o.status.success());
            if alive {
                break;
            }
            if let Some(d) = db.daemon.as_mut() {
                d.check_alive(&log)?;
            }
            if Instant::now() >= deadline {
                return Err(format!("mariadbd did not become ready in time; see {}", log.display()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        run_until(
            client("mariadb").arg("-e").arg(format!(
                "CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
                 GRANT ALL ON *.* TO '{USER}'@'127.0.0.1';"
            )),
            deadline,
            &log,
            "creating the MariaDB user",
        )?;
        eprintln!(
            "mariadbd ready on 127.0.0.1:{port} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        Ok(db)
    }

    /// What the Python suite needs to reach it.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("ARCA_MYSQL_URI", self.uri())]
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        drop(self.daemon.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
