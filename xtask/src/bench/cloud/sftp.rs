//! The SFTP side of `cargo xtask bench sftp`: OpenSSH's sshd
//! ([`SftpServer`]), the environment each contender needs to reach it, and
//! OpenSSH's own `sftp` and `scp`, the physical reference for the large file.
//!
//! - `arca` reads the server's client configuration and `known_hosts` from
//!   `ARCA_SFTP_SSH_CONFIG` and `ARCA_SFTP_KNOWN_HOSTS`, and reaches
//!   `sftp://arca-sftp-test/<abs path>` through the host alias;
//! - MLflow's `SFTPArtifactRepository` reads `~/.ssh/config`, and pysftp
//!   `~/.ssh/known_hosts`: it runs with a HOME of its own, whose `config`
//!   maps the same alias to the server with the RSA client key (pysftp loads
//!   no ed25519 key) and whose `known_hosts` names the server by bare address
//!   (pysftp looks host keys up by host name alone), as in
//!   `tests/python/test_sftp_proxy.py`;
//! - `sftp -b` and `scp` take the server's `ssh_config` (`-F`).

use crate::project::{self, Result};
use crate::servers::sftp::{HOST_ALIAS, SftpServer};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The reference rows of the large file, after Arca's and MLflow's.
pub const REFERENCES: [&str; 2] = ["sftp", "scp"];

/// The server of a run and the HOME of MLflow's contender.
#[derive(Debug)]
pub struct Sftp {
    pub server: SftpServer,
    /// MLflow's HOME (`.ssh/config`, `.ssh/known_hosts`, `.ssh/id_rsa`).
    pub home: PathBuf,
}

impl Sftp {
    /// Starts sshd and writes MLflow's HOME under `dir`.
    pub fn start(dir: &Path) -> Result<Self> {
        if !SftpServer::available() {
            return Err(
                "the sftp benchmark needs OpenSSH's server (`apt-get install openssh-server`: /usr/sbin/sshd, \
                 ssh-keygen, ssh-keyscan)"
                    .to_owned(),
            );
        }
        let server = SftpServer::start()?;
        let home = dir.join("home");
        write_home(&server, &home)?;
        Ok(Self { server, home })
    }

    /// What `arca` needs: the client configuration and the host keys.
    pub fn arca_env(&self) -> Vec<(&'static str, String)> {
        let show = |p: &Path| p.display().to_string();
        vec![
            ("ARCA_SFTP_SSH_CONFIG", show(&self.server.ssh_config)),
            ("ARCA_SFTP_KNOWN_HOSTS", show(&self.server.known_hosts)),
        ]
    }

    /// What MLflow's repository needs: its HOME.
    pub fn mlflow_env(&self) -> Vec<(&'static str, String)> {
        vec![("HOME", self.home.display().to_string())]
    }

    /// `sftp://arca-sftp-test/<store>/bench/<key>`.
    pub fn uri(&self, key: &str) -> String {
        self.server.key_uri(&format!("bench/{key}"))
    }

    /// The absolute path of `bench/<key>` on the server (which is this machine).
    pub fn remote(&self, key: &str) -> PathBuf {
        self.server.dir.join("store").join("bench").join(key)
    }

    /// `sftp -q -b BATCH -F ssh_config arca-sftp-test`, the batch file (written
    /// now, outside the timing) holding one `put` or `get` of `from` to `to`.
    pub fn sftp(&self, batch: &Path, op: &str, from: &Path, to: &Path) -> Result<Command> {
        project::write(batch, &format!("{op} {} {}\n", quoted(from)?, quoted(to)?))?;
        let mut cmd = Command::new("sftp");
        cmd.arg("-q")
            .arg("-b")
            .arg(batch)
            .arg("-F")
            .arg(&self.server.ssh_config);
        cmd.arg(HOST_ALIAS);
        Ok(cmd)
    }

    /// `scp -q -F ssh_config FROM TO`, the remote side as `arca-sftp-test:PATH`.
    pub fn scp(&self, up: bool, local: &Path, remote: &Path) -> Command {
        let remote = format!("{HOST_ALIAS}:{}", remote.display());
        let mut cmd = Command::new("scp");
        cmd.arg("-q").arg("-F").arg(&self.server.ssh_config);
        if up {
            cmd.arg(local).arg(remote);
        } else {
            cmd.arg(remote).arg(local);
        }
        cmd
    }
}

/// A path as one word of an `sftp` batch file.
fn quoted(path: &Path) -> Result<String> {
    let s = path
        .to_str()
        .filter(|s| !s.contains(['"', '\\', '\n']))
        .ok_or_else(|| format!("{} cannot be written in an sftp batch file", path.display()))?;
    Ok(format!("\"{s}\""))
}

/// MLflow's HOME: `.ssh/config` mapping the alias to the server with the RSA
/// key, and `.ssh/known_hosts` with `[127.0.0.1]:PORT` rewritten to
/// `127.0.0.1`.
fn write_home(server: &SftpServer, home: &Path) -> Result {
    let ssh = home.join(".ssh");
    std::fs::create_dir_all(&ssh).map_err(|e| format!("cannot create {}: {e}", ssh.display()))?;
    let key = ssh.join("id_rsa");
    std::fs::copy(&server.rsa_client_key, &key).map_err(|e| {
        format!(
            "cannot copy {} to {}: {e}",
            server.rsa_client_key.display(),
            key.display()
        )
    })?;
    private(&ssh, 0o700)?;
    private(&key, 0o600)?;
    project::write(
        &ssh.join("config"),
        &format!(
            "Host {HOST_ALIAS}\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile \"{}\"\n",
            server.port,
            server.key_user,
            key.display()
        ),
    )?;
    let known = std::fs::read_to_string(&server.known_hosts)
        .map_err(|e| format!("cannot read {}: {e}", server.known_hosts.display()))?;
    project::write(&ssh.join("known_hosts"), &bare_hosts(&known, server.port))
}

/// `known_hosts` lines for `[127.0.0.1]:PORT` as lines for `127.0.0.1`.
fn bare_hosts(known: &str, port: u16) -> String {
    let prefix = format!("[127.0.0.1]:{port} ");
    known
        .lines()
        .map(|l| match l.strip_prefix(&prefix) {
            Some(rest) => format!("127.0.0.1 {rest}\n"),
            None => format!("{l}\n"),
        })
        .collect()
}

#[cfg(unix)]
fn private(path: &Path, mode: u32) -> Result {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))
}

#[cfg(not(unix))]
fn private(_: &Path, _: u32) -> Result {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_are_keyed_by_the_bare_address() {
        let known = "[127.0.0.1]:2222 ssh-ed25519 AAAA\n[127.0.0.1]:2222 ssh-rsa BBBB\n# c\n";
        assert_eq!(
            bare_hosts(known, 2222),
            "127.0.0.1 ssh-ed25519 AAAA\n127.0.0.1 ssh-rsa BBBB\n# c\n"
        );
    }

    #[test]
    fn batch_paths_are_quoted() {
        assert_eq!(quoted(Path::new("/a b/c")), Ok("\"/a b/c\"".to_owned()));
        assert!(quoted(Path::new("/a\"b")).is_err());
    }
}
