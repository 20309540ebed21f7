//! FTP servers for the FTP plugin's conformance runs, two of them because
//! FTP servers differ in their listings and replies:
//!
//! - pure-ftpd (Debian's `pure-ftpd`), a production server: a virtual user
//!   chrooted to a fresh directory, passive ports from a free range. It must
//!   run as root (as a user it answers `PASS` with "421 Sorry, but I can't
//!   trust you"), so it is started only when this process is root;
//! - pyftpdlib (PyPI, in the test venv), which runs as anyone.
//!
//! `cargo xtask bench ftp` uses a third, Debian's vsftpd, a C server that
//! forks a process per session: it conflicts with pure-ftpd as a package,
//! so its `.deb` is fetched with `apt-get download` and unpacked into the
//! target directory, never installed. It serves one anonymous user with
//! write access (its other users need PAM and system accounts).
//!
//! Both bind 127.0.0.1, in the foreground, stopped by PID; the user's
//! password holds a `:`, so the URIs carry it percent-encoded.

use super::tls::self_signed_certificate;
use super::{Daemon, free_port, free_port_range, installed, is_root, run_until, wait_tcp};
use crate::project;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The test user and its password (percent-encoded in URIs).
pub const USER: &str = "arca";
pub const PASSWORD: &str = "s3cr:t";
const USER_INFO: &str = "arca:s3cr%3At";
/// How many passive ports each server gets: pure-ftpd admits at most half
/// as many clients, and the conformance suite runs many stores at once.
const PASSIVE_PORTS: u16 = 128;
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running FTP server; dropping it stops it and removes its directory.
#[derive(Debug)]
pub struct FtpServer {
    pub name: &'static str,
    pub port: u16,
    /// The self-signed certificate of its FTPS (explicit TLS), if it has one.
    pub certificate: Option<PathBuf>,
    /// The server's version, where the harness knows it (vsftpd's).
    pub version: Option<String>,
    /// `user:password` as written in URIs.
    user_info: &'static str,
    /// The writable directory under the session's root, if not the root.
    root: &'static str,
    dir: PathBuf,
    daemon: Option<Daemon>,
}

impl FtpServer {
    /// `ftp://arca:…@127.0.0.1:PORT/path`.
    pub fn uri(&self, path: &str) -> String {
        format!("ftp://{}@127.0.0.1:{}/{}{path}", self.user_info, self.port, self.root)
    }

    /// The same over explicit TLS, if the server has a certificate.
    pub fn tls_uri(&self, path: &str) -> Option<String> {
        self.certificate.as_ref()?;
        Some(format!(
            "ftps://{}@127.0.0.1:{}/{}{path}",
            self.user_info, self.port, self.root
        ))
    }

    fn dir(name: &str) -> Result<PathBuf, String> {
        let dir = project::target_dir()
            .join("servers")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home")).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(dir)
    }

    fn ready(mut self, log: &Path, started: Instant) -> Result<Self, String> {
        wait_tcp(self.port, started + START_TIMEOUT, self.name)?;
        if let Some(d) = self.daemon.as_mut() {
            d.check_alive(log)?;
        }
        eprintln!(
            "{} ready on 127.0.0.1:{} in {:.1} s",
            self.name,
            self.port,
            started.elapsed().as_secs_f64()
        );
        Ok(self)
    }

    /// pyftpdlib from the venv's `python`.
    pub fn pyftpdlib(python: &Path) -> Result<Self, String> {
        let started = Instant::now();
        let dir = Self::dir("pyftpdlib")?;
        let port = free_port()?;
        let passive = free_port_range(PASSIVE_PORTS)?;
        let log = dir.join("pyftpdlib.log");
        let daemon = Daemon::start(
            "pyftpdlib",
            Command::new(python)
                .args([
                    "-m",
                    "pyftpdlib",
                    "-i",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-w",
                    "-d",
                ])
                .arg(dir.join("home"))
                .args(["-u", USER, "-P", PASSWORD, "-r"])
                .arg(format!("{passive}-{}", passive + PASSIVE_PORTS - 1)),
            &log,
        )?;
        Self {
            name: "pyftpdlib",
            port,
            certificate: None,
            version: None,
            user_info: USER_INFO,
            root: "",
            dir,
            daemon: Some(daemon),
        }
        .ready(&log, started)
    }

    /// Whether pure-ftpd can run here: installed, and this process is root.
    pub fn pure_ftpd_available() -> bool {
        installed("pure-ftpd") && installed("pure-pw") && installed("openssl") && is_root()
    }

    /// pure-ftpd with one virtual user.
    pub fn pure_ftpd() -> Result<Self, String> {
        let started = Instant::now();
        let dir = Self::dir("pure-ftpd")?;
        let port = free_port()?;
        let passive = free_port_range(PASSIVE_PORTS)?;
        let log = dir.join("pure-ftpd.log");
        // SHA-512 crypt: pure-pw's default argon2id costs seconds of CPU per login.
        let hash = Command::new("openssl")
            .args(["passwd", "-6", PASSWORD])
            .output()
            .map_err(|e| format!("cannot run openssl: {e}"))?;
        let hash = String::from_utf8_lossy(&hash.stdout).trim().to_owned();
        let home = dir.join("home");
        // The virtual user's files belong to nobody (65534).
        run_until(
            Command::new("chown").args(["65534:65534"]).arg(&home),
            started + START_TIMEOUT,
            &log,
            "chown of the pure-ftpd home",
        )?;
        let passwd = dir.join("pureftpd.passwd");
        project::write(
            &passwd,
            &format!("{USER}:{hash}:65534:65534::{}/./::::::::::::\n", home.display()),
        )?;
        // Many stores run at once in the conformance suite, each with its
        // own connections: the default limits (8 per address) refuse some
        // with 421. FTPS with a self-signed certificate: pure-ftpd wants the key and
        // the certificate in one file.
        let tls = self_signed_certificate(&dir, "pure-ftpd", started + START_TIMEOUT, &log)?;
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
        let pem = dir.join("pure-ftpd.pem");
        project::write(&pem, &format!("{}{}", read(&tls.key)?, read(&tls.certificate)?))?;
        let pdb = dir.join("pureftpd.pdb");
        run_until(
            Command::new("pure-pw").arg("mkdb").arg(&pdb).arg("-f").arg(&passwd),
            started + START_TIMEOUT,
            &log,
            "pure-pw mkdb",
        )?;
        let conf = dir.join("pure-ftpd.conf");
        project::write(
            &conf,
            &format!(
                "Bind 127.0.0.1,{port}\nPassivePortRange {passive} {}\nForcePassiveIP 127.0.0.1\nPureDB {}\n\
                 NoAnonymous yes\nChrootEveryone yes\nDontResolve yes\nIPV4Only yes\nDisplayDotFiles yes\n\
                 TLS 1\nCertFile {}\nMaxClientsNumber 200\nMaxClientsPerIP 200\n",
                passive + PASSIVE_PORTS - 1,
                pdb.display(),
                pem.display()
            ),
        )?;
        let daemon = Daemon::start("pure-ftpd", Command::new("pure-ftpd").arg(&conf), &log)?;
        Self {
            name: "pure-ftpd",
            port,
            certificate: Some(tls.certificate),
            version: None,
            user_info: USER_INFO,
            root: "",
            dir,
            daemon: Some(daemon),
        }
        .ready(&log, started)
    }
}

/// vsftpd's program: on the `PATH`, else unpacked from Debian's package
/// into the target directory (`apt-get download`, `dpkg-deb -x`) on first
/// use; installing it would remove pure-ftpd. Returns the program and
/// Debian's version of the package.
fn vsftpd_program(deadline: Instant, log: &Path) -> Result<(PathBuf, String), String> {
    let version = |cmd: &mut Command| {
        cmd.output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "(version unknown)".to_owned())
    };
    if installed("vsftpd") {
        let v = version(Command::new("dpkg-query").args(["-W", "-f", "${Version}", "vsftpd"]));
        return Ok((PathBuf::from("vsftpd"), v));
    }
    let tools = project::target_dir().join("tools");
    let program = tools.join("vsftpd").join("usr/sbin/vsftpd");
    let download = tools.join("vsftpd-deb");
    let deb = || {
        std::fs::read_dir(&download)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
    };
    if let (true, Some(deb)) = (program.is_file(), deb()) {
        return Ok((
            program,
            version(Command::new("dpkg-deb").arg("-f").arg(deb).arg("Version")),
        ));
    }
    let _ = std::fs::remove_dir_all(&download);
    std::fs::create_dir_all(&download).map_err(|e| format!("cannot create {}: {e}", download.display()))?;
    run_until(
        Command::new("apt-get")
            .args(["download", "vsftpd"])
            .current_dir(&download),
        deadline,
        log,
        "apt-get download vsftpd",
    )?;
    let deb = deb().ok_or_else(|| format!("apt-get download left no .deb in {}", download.display()))?;
    let unpacked = tools.join("vsftpd");
    let _ = std::fs::remove_dir_all(&unpacked);
    run_until(
        Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked),
        deadline,
        log,
        "dpkg-deb -x vsftpd",
    )?;
    if program.is_file() {
        Ok((
            program,
            version(Command::new("dpkg-deb").arg("-f").arg(&deb).arg("Version")),
        ))
    } else {
        Err(format!("the vsftpd package has no {}", program.display()))
    }
}

/// An account for vsftpd's anonymous sessions: not root, with a home that
/// exists (vsftpd changes into it before its `anon_root`).
fn anonymous_account() -> Result<(String, String), String> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| format!("cannot read /etc/passwd: {e}"))?;
    passwd
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() >= 7 && f[2] != "0" && Path::new(f[5]).is_dir()).then(|| (f[0].to_owned(), f[2].to_owned()))
        })
        .next()
        .ok_or_else(|| "no account in /etc/passwd other than root has a home directory that exists".to_owned())
}

impl FtpServer {
    /// Whether vsftpd can run here: this process is root (vsftpd changes
    /// root and user per session), and the program is on the `PATH` or can
    /// be unpacked from Debian's package.
    pub fn vsftpd_available() -> bool {
        is_root() && (installed("vsftpd") || (installed("apt-get") && installed("dpkg-deb")))
    }

    /// vsftpd with write access for `anonymous` under `/data`.
    pub fn vsftpd() -> Result<Self, String> {
        let started = Instant::now();
        let dir = Self::dir("vsftpd")?;
        let log = dir.join("vsftpd.log");
        let (program, version) = vsftpd_program(started + Duration::from_secs(120), &log)?;
        let started = Instant::now();
        let port = free_port()?;
        let passive = free_port_range(PASSIVE_PORTS)?;
        let (account, uid) = anonymous_account()?;
        // The session's root must not be writable by its user; `data` is.
        let home = dir.join("home");
        let data = home.join("data");
        let empty = dir.join("empty");
        for d in [&data, &empty] {
            std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        run_until(
            Command::new("chown").arg(&uid).arg(&data),
            started + START_TIMEOUT,
            &log,
            "chown of vsftpd's data directory",
        )?;
        let conf = dir.join("vsftpd.conf");
        project::write(
            &conf,
            &format!(
                "listen=YES\nlisten_address=127.0.0.1\nlisten_port={port}\nbackground=NO\nseccomp_sandbox=NO\n\
                 anonymous_enable=YES\nno_anon_password=YES\nanon_root={}\nftp_username={account}\n\
                 anon_upload_enable=YES\nanon_mkdir_write_enable=YES\nanon_other_write_enable=YES\n\
                 anon_umask=022\nwrite_enable=YES\nlocal_enable=NO\npasv_enable=YES\n\
                 pasv_min_port={passive}\npasv_max_port={}\npasv_address=127.0.0.1\n\
                 secure_chroot_dir={}\nmax_per_ip=0\nmax_clients=0\nxferlog_enable=NO\n",
                home.display(),
                passive + PASSIVE_PORTS - 1,
                empty.display()
            ),
        )?;
        let daemon = Daemon::start("vsftpd", Command::new(&program).arg(&conf), &log)?;
        Self {
            name: "vsftpd",
            port,
            certificate: None,
            version: Some(version),
            user_info: "anonymous:arca",
            root: "data/",
            dir,
            daemon: Some(daemon),
        }
        .ready(&log, started)
    }
}

impl Drop for FtpServer {
    fn drop(&mut self) {
        drop(self.daemon.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
