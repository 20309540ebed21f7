//! OpenSSH's sshd (Debian's `openssh-server`) with its `internal-sftp`
//! subsystem, for the SFTP plugin's conformance runs and the Python suite.
//!
//! One sshd from a configuration of its own in a fresh directory: its own
//! host keys, bound to 127.0.0.1 on a free port, in the foreground, stopped
//! by PID. Two ways in:
//!
//! - key auth as the user running it (root here) with `client_key` (or
//!   `rsa_client_key`, for pysftp, which loads RSA keys only), through the
//!   host alias [`HOST_ALIAS`] of the OpenSSH client configuration it
//!   writes (`ssh_config`), into `<dir>/store`; `stranger_key` is a key
//!   nobody authorised, for "wrong key refused" tests;
//! - password auth for a throw-away account (`arcasftp<pid>`, root only),
//!   chrooted to `<dir>/pwjail`, into its `/pwstore`. The chroot is needed as
//!   well as wanted: the account cannot reach a target directory under a
//!   home that is not world-searchable, and it sees nothing of the machine.
//!   sshd takes a chroot only if every directory on its path is root's and
//!   writable by root alone; where the target directory's is not (under
//!   `/tmp`, say), the jail is `/run/arca-sftp-<pid>` instead.
//!   No other account may log in (`AllowUsers`), and only this one by
//!   password. Its password holds a `:` and a space, so the URI carries it
//!   percent-encoded.
//!
//! `known_hosts` lists the server's keys as `ssh-keyscan` writes them
//! (`[127.0.0.1]:PORT ssh-ed25519 …`).

use super::{Daemon, free_port, installed, run_until, wait_tcp};
use crate::project;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The `Host` alias of the client configuration `ssh_config`.
pub const HOST_ALIAS: &str = "arca-sftp-test";
/// The password of the throw-away account (percent-encoded in URIs).
pub const PASSWORD: &str = "pa:ss w0rd";
const PASSWORD_IN_URI: &str = "pa%3Ass%20w0rd";
/// The throw-away account is `arcasftp<pid of xtask>`.
const USER_PREFIX: &str = "arcasftp";
const SSHD: &str = "/usr/sbin/sshd";
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `userdel` is retried while the account's last sessions end.
const USERDEL_TIMEOUT: Duration = Duration::from_secs(10);

/// A running sshd; dropping it stops it, deletes the throw-away account and
/// removes its directory.
#[derive(Debug)]
pub struct SftpServer {
    pub port: u16,
    /// Everything of this server's lives here.
    pub dir: PathBuf,
    /// The OpenSSH client configuration naming [`HOST_ALIAS`].
    pub ssh_config: PathBuf,
    pub known_hosts: PathBuf,
    /// Authorised ed25519 key (the one `ssh_config` names).
    pub client_key: PathBuf,
    /// Authorised RSA key, for clients that load nothing else (pysftp).
    pub rsa_client_key: PathBuf,
    /// An ed25519 key that is not authorised.
    pub stranger_key: PathBuf,
    /// Who key auth logs in as (root, or whoever runs this).
    pub key_user: String,
    /// The throw-away password account, when this process is root.
    password: Option<PasswordAccount>,
    daemon: Option<Daemon>,
}

impl SftpServer {
    /// Whether sshd can run here (the account for password auth needs root too,
    /// but key auth runs without it).
    pub fn available() -> bool {
        Path::new(SSHD).is_file() && installed("ssh-keygen") && installed("ssh-keyscan")
    }

    /// `sftp://arca-sftp-test/<abs dir>/store/<path>`: the host alias, then
    /// the store's absolute path on the server.
    pub fn key_uri(&self, path: &str) -> String {
        format!("sftp://{HOST_ALIAS}{}", uri_path(&self.dir.join("store"), path))
    }

    /// `sftp://arcasftpPID:…@127.0.0.1:PORT/pwstore/<path>` (the account is
    /// chrooted), if the account exists.
    pub fn password_uri(&self, path: &str) -> Option<String> {
        let user = &self.password.as_ref()?.user;
        Some(format!(
            "sftp://{user}:{PASSWORD_IN_URI}@127.0.0.1:{}{}",
            self.port,
            uri_path(Path::new("/pwstore"), path)
        ))
    }

    /// The variables the tests get (see `xtask/src/test.rs`).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let show = |p: &Path| p.display().to_string();
        let mut env = vec![
            ("ARCA_SFTP_SSH_CONFIG", show(&self.ssh_config)),
            ("ARCA_SFTP_KNOWN_HOSTS", show(&self.known_hosts)),
            ("ARCA_SFTP_TEST_URI", self.key_uri("")),
            ("ARCA_SFTP_TEST_KEY", show(&self.client_key)),
            ("ARCA_SFTP_TEST_RSA_KEY", show(&self.rsa_client_key)),
            ("ARCA_SFTP_TEST_STRANGER_KEY", show(&self.stranger_key)),
            ("ARCA_SFTP_TEST_PORT", self.port.to_string()),
        ];
        if let Some(uri) = self.password_uri("") {
            env.push(("ARCA_SFTP_PASSWORD_TEST_URI", uri));
        }
        env
    }

    /// Starts sshd: keys, the password account (root only), the
    /// configurations, the daemon, then `known_hosts`.
    pub fn start() -> Result<Self, String> {
        let started = Instant::now();
        let servers = project::target_dir().join("servers");
        let dir = servers.join(format!("sftp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = dir.join("store");
        std::fs::create_dir_all(&store).map_err(|e| format!("cannot create {}: {e}", store.display()))?;
        // Whatever the umask: the chroot inside must be writable by root alone.
        set_mode(&dir, 0o755);
        if dir.to_str().is_none_or(|d| d.contains('"')) {
            return Err(format!(
                "{} cannot be written in an sshd configuration (not UTF-8, or a `\"`)",
                dir.display()
            ));
        }
        let root = is_root();
        // From here on the guard cleans up whatever has been made.
        let mut server = Self {
            port: free_port()?,
            ssh_config: dir.join("ssh_config"),
            known_hosts: dir.join("known_hosts"),
            client_key: dir.join("client_key"),
            rsa_client_key: dir.join("rsa_client_key"),
            stranger_key: dir.join("stranger_key"),
            key_user: if root { "root".to_owned() } else { whoami()? },
            password: None,
            daemon: None,
            dir,
        };
        let log = server.dir.join("sshd.log");
        match server.launch(root, &servers, &log, started + START_TIMEOUT) {
            Ok(()) => {
                eprintln!(
                    "sshd ready on 127.0.0.1:{} in {:.1} s",
                    server.port,
                    started.elapsed().as_secs_f64()
                );
                Ok(server)
            }
            // The log goes with the directory: its end goes into the error.
            Err(e) => Err(format!("{e}\n{}", log_tail(&log))),
        }
    }

    fn launch(&mut self, root: bool, servers: &Path, log: &Path, deadline: Instant) -> Result<(), String> {
        let dir = self.dir.clone();

        // Keys, made at once (RSA takes a while).
        let host_ed25519 = dir.join("ssh_host_ed25519_key");
        let host_rsa = dir.join("ssh_host_rsa_key");
        let keys: [(&Path, &str); 5] = [
            (&host_ed25519, "ed25519"),
            (&host_rsa, "rsa"),
            (&self.client_key, "ed25519"),
            (&self.rsa_client_key, "rsa"),
            (&self.stranger_key, "ed25519"),
        ];
        std::thread::scope(|s| {
            let jobs: Vec<_> = keys
                .iter()
                .map(|(path, kind)| {
                    s.spawn(move || {
                        run_until(
                            Command::new("ssh-keygen")
                                .args(["-q", "-N", "", "-C", "arca-test", "-t", kind, "-f"])
                                .arg(path),
                            deadline,
                            log,
                            "ssh-keygen",
                        )
                    })
                })
                .collect();
            jobs.into_iter()
                .try_for_each(|j| j.join().map_err(|_| "ssh-keygen's thread panicked".to_owned())?)
        })?;
        let public = |key: &Path| {
            let p = key.with_file_name(format!("{}.pub", key.file_name().unwrap_or_default().to_string_lossy()));
            std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        };
        let authorized_keys = dir.join("authorized_keys");
        project::write(
            &authorized_keys,
            &format!("{}{}", public(&self.client_key)?, public(&self.rsa_client_key)?),
        )?;

        if root {
            // sshd insists on its privilege separation directory.
            std::fs::create_dir_all("/run/sshd").map_err(|e| format!("cannot create /run/sshd: {e}"))?;
            remove_stale_users(servers, log);
            self.password = PasswordAccount::make(&dir, deadline, log)?;
        } else {
            eprintln!("warning: not root, so sshd has no password account: the sftp password tests do not run");
        }

        let config = dir.join("sshd_config");
        let quoted = |p: &Path| format!("\"{}\"", p.display());
        let mut text = format!(
            "ListenAddress 127.0.0.1\nPort {}\nHostKey {}\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
             PermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nSubsystem sftp internal-sftp\n\
             MaxSessions 64\nMaxStartups 100:30:200\nAllowUsers {}{}\n",
            self.port,
            quoted(&host_ed25519),
            quoted(&host_rsa),
            quoted(&dir.join("sshd.pid")),
            quoted(&authorized_keys),
            self.key_user,
            self.password
                .as_ref()
                .map(|a| format!(" {}", a.user))
                .unwrap_or_default(),
        );
        // OpenSSH 9.8+ shuts out an address after failed or unauthenticated
        // connections (the refusal tests, port probes); 9.2 does not know the option.
        let penalties = "PerSourcePenalties no\n";
        text.push_str(penalties);
        if let Some(PasswordAccount { user, jail }) = &self.password {
            text.push_str(&format!(
                "Match User {user}\n    PasswordAuthentication yes\n    ChrootDirectory {}\n    \
                 ForceCommand internal-sftp\n    AllowTcpForwarding no\n    X11Forwarding no\n",
                quoted(jail)
            ));
        }
        project::write(&config, &text)?;
        let check = |what: &str| run_until(Command::new(SSHD).arg("-t").arg("-f").arg(&config), deadline, log, what);
        if check("sshd -t").is_err() {
            let said = std::fs::read_to_string(log).unwrap_or_default();
            if !said.contains("PerSourcePenalties") {
                return Err(format!("sshd -t refused {}; see {}", config.display(), log.display()));
            }
            note(
                log,
                "(this sshd predates PerSourcePenalties: checking again without it)",
            );
            project::write(&config, &text.replacen(penalties, "", 1))?;
            check("sshd -t (without PerSourcePenalties)")?;
        }

        self.daemon = Some(Daemon::start(
            "sshd",
            Command::new(SSHD).args(["-D", "-e", "-f"]).arg(&config),
            log,
        )?);
        wait_tcp(self.port, deadline, "sshd")?;
        if let Some(d) = self.daemon.as_mut() {
            d.check_alive(log)?;
        }
        keyscan(self.port, &self.known_hosts, deadline, log)?;
        project::write(
            &self.ssh_config,
            &format!(
                "Host {HOST_ALIAS}\n    HostName 127.0.0.1\n    Port {}\n    User {}\n    IdentityFile {}\n    \
                 IdentitiesOnly yes\n    UserKnownHostsFile {}\n    StrictHostKeyChecking yes\n",
                self.port,
                self.key_user,
                quoted(&self.client_key),
                quoted(&self.known_hosts)
            ),
        )?;
        Ok(())
    }
}

impl Drop for SftpServer {
    fn drop(&mut self) {
        drop(self.daemon.take());
        // After sshd: `userdel` refuses while the account has processes.
        drop(self.password.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Appends a line of xtask's own to `log`.
fn note(log: &Path, line: &str) {
    use std::io::Write;
    if let Ok(mut f) = File::options().create(true).append(true).open(log) {
        let _ = writeln!(f, "{line}");
    }
}

/// The last lines of `log`, for an error that outlives the file.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n    ");
    format!("{} ended with:\n    {tail}", log.display())
}

/// `/abs/path[/rel]`, percent-encoded for a URI.
fn uri_path(base: &Path, rel: &str) -> String {
    let base = base.to_string_lossy();
    let full = match rel.trim_start_matches('/') {
        "" => base.into_owned(),
        rel => format!("{}/{rel}", base.trim_end_matches('/')),
    };
    let mut out = String::with_capacity(full.len());
    for b in full.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn is_root() -> bool {
    whoami().is_ok_and(|u| u == "root")
}

fn whoami() -> Result<String, String> {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .map_err(|e| format!("cannot run id: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The throw-away account for password auth, and its chroot.
#[derive(Debug)]
struct PasswordAccount {
    user: String,
    jail: PathBuf,
}

impl PasswordAccount {
    /// Creates the account `arcasftp<pid>`, its password and its chroot
    /// (root's, as sshd requires) with the store `pwstore` (the account's,
    /// and its home); `None`, with a warning, if no directory can be a chroot.
    fn make(dir: &Path, deadline: Instant, log: &Path) -> Result<Option<Self>, String> {
        let pid = std::process::id();
        let jail = [dir.join("pwjail"), Path::new("/run").join(format!("arca-sftp-{pid}"))]
            .into_iter()
            .find(|jail| {
                let usable = std::fs::create_dir_all(jail).is_ok() && set_mode(jail, 0o755) && chroot_safe(jail);
                if !usable {
                    let _ = std::fs::remove_dir(jail);
                }
                usable
            });
        let Some(jail) = jail else {
            eprintln!(
                "warning: no directory sshd takes as a chroot (every directory on the path root's and writable by \
                 root alone), so sshd has no password account: the sftp password tests do not run"
            );
            return Ok(None);
        };
        // On an error from here on, dropping `account` deletes the account
        // (if made) and the jail.
        let account = Self {
            user: format!("{USER_PREFIX}{pid}"),
            jail,
        };
        let store = account.jail.join("pwstore");
        std::fs::create_dir_all(&store).map_err(|e| format!("cannot create {}: {e}", store.display()))?;
        run_until(
            Command::new("useradd")
                .args(["-M", "-d", "/pwstore", "-s", "/usr/sbin/nologin"])
                .arg(&account.user),
            deadline,
            log,
            "useradd",
        )?;
        let user = &account.user;
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run chpasswd: {e}"))?;
        if let Some(mut stdin) = chpasswd.stdin.take() {
            use std::io::Write;
            stdin
                .write_all(format!("{user}:{PASSWORD}\n").as_bytes())
                .map_err(|e| format!("cannot write to chpasswd: {e}"))?;
        }
        // chpasswd reads one line and ends; bounded like the rest.
        wait_child(&mut chpasswd, deadline, "chpasswd")?;
        run_until(
            Command::new("chown").arg(format!("{user}:{user}")).arg(&store),
            deadline,
            log,
            "chown of the sftp password store",
        )?;
        Ok(Some(account))
    }
}

impl Drop for PasswordAccount {
    fn drop(&mut self) {
        delete_user(&self.user);
        let _ = std::fs::remove_dir_all(&self.jail);
    }
}

/// Whether sshd takes `path` as a `ChrootDirectory`: it and every directory
/// above it belong to root and are writable by root alone.
#[cfg(unix)]
fn chroot_safe(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    path.ancestors()
        .all(|p| std::fs::metadata(p).is_ok_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0))
}

#[cfg(not(unix))]
fn chroot_safe(_: &Path) -> bool {
    false
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).is_ok()
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> bool {
    false
}

fn wait_child(child: &mut std::process::Child, deadline: Instant, what: &str) -> Result<(), String> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("{what} failed ({status})")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} did not finish in time"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("cannot wait for {what}: {e}")),
        }
    }
}

/// Deletes the throw-away accounts of runs that were killed before their
/// guard could (`arcasftp<pid>` whose process is gone, or whose pid is this
/// run's), with their server directories.
fn remove_stale_users(servers: &Path, log: &Path) {
    let Ok(out) = Command::new("getent").arg("passwd").output() else {
        return;
    };
    let me = std::process::id().to_string();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split(':').next().unwrap_or_default();
        let Some(pid) = name.strip_prefix(USER_PREFIX) else {
            continue;
        };
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if pid != me && Path::new("/proc").join(pid).exists() {
            continue; // another run's, still going
        }
        eprintln!("removing the stale sftp test account {name}");
        note(log, &format!("removing the stale account {name}"));
        delete_user(name);
        let _ = std::fs::remove_dir_all(Path::new("/run").join(format!("arca-sftp-{pid}")));
        if pid != me {
            let _ = std::fs::remove_dir_all(servers.join(format!("sftp-{pid}")));
        }
    }
}

/// `userdel NAME`, retried for a while: it refuses while a session of the
/// account is still ending.
fn delete_user(user: &str) {
    let deadline = Instant::now() + USERDEL_TIMEOUT;
    loop {
        let status = Command::new("userdel")
            .arg(user)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // 6: no such user (already gone).
        if status.as_ref().is_ok_and(|s| s.success() || s.code() == Some(6)) {
            return;
        }
        if Instant::now() >= deadline {
            eprintln!("warning: cannot delete the sftp test account {user} ({status:?}); `userdel {user}` by hand");
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `ssh-keyscan -p PORT 127.0.0.1 > known_hosts`, bounded, and checked to hold
/// an ed25519 key.
fn keyscan(port: u16, known_hosts: &Path, deadline: Instant, log: &Path) -> Result<(), String> {
    let out = File::create(known_hosts).map_err(|e| format!("cannot create {}: {e}", known_hosts.display()))?;
    let err = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let mut child = Command::new("ssh-keyscan")
        .args(["-T", "10", "-p", &port.to_string(), "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run ssh-keyscan: {e}"))?;
    wait_child(&mut child, deadline, "ssh-keyscan")?;
    let text = std::fs::read_to_string(known_hosts).unwrap_or_default();
    if !text
        .lines()
        .any(|l| l.starts_with(&format!("[127.0.0.1]:{port} ssh-ed25519 ")))
    {
        return Err(format!(
            "ssh-keyscan found no ed25519 key on 127.0.0.1:{port}; see {}",
            log.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_paths_are_absolute_and_percent_encoded() {
        assert_eq!(uri_path(Path::new("/a b/store"), ""), "/a%20b/store");
        assert_eq!(uri_path(Path::new("/a/store"), "x/y:z"), "/a/store/x/y%3Az");
        assert_eq!(uri_path(Path::new("/pwstore"), "/c"), "/pwstore/c");
    }
}
