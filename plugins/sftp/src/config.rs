//! Turns the URI, the configuration map, `~/.ssh/config` and the
//! environment a store is opened with into a typed [`SftpConfig`].

use crate::ssh_config::{self, HostConfig};
use arca_core::{Config, Error, ErrorKind, Result};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The SSH port when neither the URI nor `~/.ssh/config` names one.
pub const DEFAULT_PORT: u16 = 22;
/// SFTP channels a store keeps open at most (one per operation or
/// transfer in flight), all on one SSH connection.
pub const DEFAULT_CHANNELS: usize = 8;

/// What to do with a server whose host key `known_hosts` does not list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// Refuse it (the default, as OpenSSH's `StrictHostKeyChecking yes`).
    Strict,
    /// Accept it without recording it. A key that differs from a recorded
    /// one is refused all the same.
    AcceptUnknown,
}

/// A parsed store configuration. `Debug` never shows the password.
#[derive(Clone)]
pub struct SftpConfig {
    /// The host as the URI names it (what messages show).
    pub host: String,
    /// The host connected to: `HostName` from `~/.ssh/config`, else `host`.
    pub connect_host: String,
    pub port: u16,
    pub user: String,
    /// The password from the URI, percent-decoded.
    pub password: Option<String>,
    /// The store root: an absolute path on the server.
    pub root: String,
    /// How long a request or a transfer may go without progress.
    pub timeout: Option<Duration>,
    /// SFTP channels kept open at most.
    pub max_channels: usize,
    /// Private key files to offer, in order (those that exist are read).
    pub identity_files: Vec<PathBuf>,
    /// The ssh-agent's socket, unless `IdentitiesOnly yes` or none is set.
    pub agent_socket: Option<PathBuf>,
    pub known_hosts: PathBuf,
    pub host_key_policy: HostKeyPolicy,
    /// Where the policy came from, for messages.
    pub host_key_policy_from: String,
}

impl fmt::Debug for SftpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SftpConfig")
            .field("host", &self.host)
            .field("connect_host", &self.connect_host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("root", &self.root)
            .field("timeout", &self.timeout)
            .field("max_channels", &self.max_channels)
            .field("identity_files", &self.identity_files)
            .field("agent_socket", &self.agent_socket)
            .field("known_hosts", &self.known_hosts)
            .field("host_key_policy", &self.host_key_policy)
            .finish()
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::CONFIG_INVALID, message)
}

use arca_core::uri::percent_decode;
pub use arca_core::uri::redact as redacted;

fn parse_policy(v: &str, from: &str) -> Result<HostKeyPolicy> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" | "on" | "ask" => Ok(HostKeyPolicy::Strict),
        "no" | "false" | "0" | "off" | "accept-new" => Ok(HostKeyPolicy::AcceptUnknown),
        _ => Err(invalid(format!(
            "{from} must be yes (refuse unknown host keys) or no (accept them), got {v:?}"
        ))),
    }
}

impl SftpConfig {
    /// Parses `sftp://[user[:password]@]host[:port]/path` and takes this
    /// plugin's keys from `config` (falling back to the environment),
    /// refusing any key left over.
    pub fn parse(uri: &str, config: Config) -> Result<Self> {
        Self::parse_with_env(uri, config, &|name| std::env::var(name).ok())
    }

    /// [`SftpConfig::parse`] with the environment read through `env`.
    pub fn parse_with_env(uri: &str, mut config: Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let expected = || {
            Error::invalid_input(format!(
                "not an sftp URI: {} (expected sftp://[user[:password]@]host[:port]/absolute/path)",
                redacted(uri)
            ))
        };
        let rest = match uri.split_once("://") {
            Some((s, rest)) if s.eq_ignore_ascii_case("sftp") => rest,
            _ => return Err(expected()),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if path.contains(['?', '#']) {
            return Err(Error::invalid_input(format!(
                "sftp uri cannot carry a query or fragment: {}",
                redacted(uri)
            )));
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (uri_user, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, pass) = match u.split_once(':') {
                    Some((user, pass)) => (user, Some(pass)),
                    None => (u, None),
                };
                let decode = |s: &str, what: &str| {
                    percent_decode(s).ok_or_else(|| {
                        Error::invalid_input(format!(
                            "the {what} in {} has a malformed percent escape",
                            redacted(uri)
                        ))
                    })
                };
                let user = decode(user, "user")?;
                let pass = pass.map(|p| decode(p, "password")).transpose()?;
                (Some(user).filter(|u| !u.is_empty()), pass)
            }
        };
        let (host, uri_port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h.to_owned(), Some(p.parse::<u16>().map_err(|_| expected())?))
            }
            _ => (hostport.to_owned(), None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        if host.is_empty() {
            return Err(expected());
        }
        let path = percent_decode(path).ok_or_else(expected)?;
        let root = format!("/{}", path.trim_matches('/'));
        if root.split('/').any(|s| s == "." || s == "..") || root.contains("//") {
            return Err(Error::invalid_input(format!(
                "sftp uri holds an invalid path (`.` or `..` segments): {}",
                redacted(uri)
            )));
        }

        let home = env("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        let ssh_config_path = match config.take_or_env("ssh_config", &["ARCA_SFTP_SSH_CONFIG"], env) {
            Some((v, _)) => Some(PathBuf::from(v)),
            None => home.as_ref().map(|h| h.join(".ssh").join("config")),
        };
        let host_config = match &ssh_config_path {
            Some(p) => match std::fs::read_to_string(p) {
                Ok(text) => ssh_config::lookup(&text, &host),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => HostConfig::default(),
                Err(e) => return Err(invalid(format!("cannot read the ssh config {}: {e}", p.display()))),
            },
            None => HostConfig::default(),
        };
        let user = match uri_user.or_else(|| host_config.user.clone()).or_else(|| env("USER")) {
            Some(u) if !u.is_empty() => u,
            _ => {
                return Err(invalid(format!(
                    "no user for {}: name one in the URI (sftp://user@host/path) or in ~/.ssh/config",
                    redacted(uri)
                )));
            }
        };
        let port = match (uri_port, &host_config.port) {
            (Some(p), _) => p,
            (None, Some(p)) => p
                .trim()
                .parse::<u16>()
                .map_err(|_| invalid(format!("the ssh config gives {host} an invalid Port: {p:?}")))?,
            (None, None) => DEFAULT_PORT,
        };
        let connect_host = host_config.host_name.as_deref().map_or_else(
            || host.clone(),
            |h| ssh_config::expand(h, None, &host, &user).to_string_lossy().into_owned(),
        );
        let expand = |p: &str| ssh_config::expand(p, home.as_deref(), &connect_host, &user);

        let mut identity_files: Vec<PathBuf> = Vec::new();
        if let Some((v, _)) = config.take_or_env("identity_file", &["ARCA_SFTP_IDENTITY_FILE"], env) {
            identity_files.push(expand(&v));
        }
        identity_files.extend(host_config.identity_files.iter().map(|p| expand(p)));
        if identity_files.is_empty()
            && let Some(h) = &home
        {
            for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
                identity_files.push(h.join(".ssh").join(name));
            }
        }
        let agent_socket = match config.take_or_env("ssh_auth_sock", &["SSH_AUTH_SOCK"], env) {
            _ if host_config.identities_only == Some(true) => None,
            Some((v, _)) if !v.trim().is_empty() => Some(PathBuf::from(v)),
            _ => None,
        };
        let known_hosts = match config.take_or_env("known_hosts", &["ARCA_SFTP_KNOWN_HOSTS"], env) {
            Some((v, _)) => expand(&v),
            None => match (&host_config.known_hosts, &home) {
                (Some(k), _) => expand(k.split_whitespace().next().unwrap_or(k)),
                (None, Some(h)) => h.join(".ssh").join("known_hosts"),
                (None, None) => PathBuf::from(".ssh/known_hosts"),
            },
        };
        let (host_key_policy, host_key_policy_from) =
            match config.take_or_env("strict_host_key_checking", &["ARCA_SFTP_STRICT_HOST_KEY_CHECKING"], env) {
                Some((v, from)) => (parse_policy(&v, &from)?, from),
                None => match &host_config.strict_host_key_checking {
                    Some(v) => {
                        let from = "StrictHostKeyChecking in the ssh config".to_owned();
                        (parse_policy(v, &from)?, from)
                    }
                    None => (HostKeyPolicy::Strict, "the default".to_owned()),
                },
            };
        let timeout = config.take_timeout("timeout", &["MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT"], env)?;
        let max_channels = match config.take("max_channels") {
            None => DEFAULT_CHANNELS,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n @ 1..=64) => n,
                _ => return Err(invalid(format!("max_channels must be 1 to 64, got {v:?}"))),
            },
        };
        config.finish()?;
        Ok(Self {
            host,
            connect_host,
            port,
            user,
            password,
            root,
            timeout,
            max_channels,
            identity_files,
            agent_socket,
            known_hosts,
            host_key_policy,
            host_key_policy_from,
        })
    }

    /// `sftp://user@host:port`, as messages name the server; never the
    /// password.
    pub fn server(&self) -> String {
        format!("sftp://{}@{}:{}", self.user, self.host, self.port)
    }

    /// The name `known_hosts` lists the server under: `host`, or
    /// `[host]:port` off port 22 (what `ssh-keyscan` writes).
    pub fn known_hosts_name(&self) -> String {
        if self.port == DEFAULT_PORT {
            self.connect_host.clone()
        } else {
            format!("[{}]:{}", self.connect_host, self.port)
        }
    }

    /// The known-hosts file, shown in messages.
    pub fn known_hosts_shown(&self) -> String {
        Path::new(&self.known_hosts).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(uri: &str, pairs: &[(&str, &str)], env: &[(&str, &str)]) -> Result<SftpConfig> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        SftpConfig::parse_with_env(uri, Config::from_pairs(pairs.iter().copied()), &move |n| {
            env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
        })
    }

    fn ok(r: Result<SftpConfig>) -> SftpConfig {
        r.unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn uris_parse_with_the_password_decoded_and_hidden() {
        let c = ok(parse("sftp://me:p%40ss%3Aw@127.0.0.1:2222/a/b/", &[], &[]));
        assert_eq!((c.user.as_str(), c.password.as_deref()), ("me", Some("p@ss:w")));
        assert_eq!((c.host.as_str(), c.port, c.root.as_str()), ("127.0.0.1", 2222, "/a/b"));
        assert!(!format!("{c:?}").contains("p@ss"));
        assert_eq!(c.server(), "sftp://me@127.0.0.1:2222");
        assert_eq!(c.known_hosts_name(), "[127.0.0.1]:2222");
        let c = ok(parse("sftp://h", &[], &[("USER", "local")]));
        assert_eq!((c.user.as_str(), c.port, c.root.as_str()), ("local", 22, "/"));
        assert_eq!(c.known_hosts_name(), "h");
        assert_eq!(c.host_key_policy, HostKeyPolicy::Strict);
    }

    #[test]
    fn bad_uris_and_settings_are_refused_without_the_password() {
        for bad in [
            "ftp://b/x",
            "sftp://",
            "sftp://u:secret@h:notaport/x",
            "sftp://u:secret@h/a/../b",
            "sftp://u:secret@h/a?x=1",
        ] {
            let e = parse(bad, &[], &[]).err().unwrap_or_else(|| panic!("{bad} parsed"));
            assert!(!e.message.contains("secret"), "{}", e.message);
        }
        let e = parse(
            "sftp://u@h/x",
            &[],
            &[("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT", "soon")],
        )
        .err();
        assert!(e.is_some_and(|e| e.message.contains("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT")));
        let e = parse("sftp://u@h/x", &[("strict_host_key_checking", "maybe")], &[]).err();
        assert!(e.is_some_and(|e| e.message.contains("strict_host_key_checking")));
        let e = parse("sftp://u@h/x", &[("colour", "blue")], &[]).err();
        assert!(e.is_some_and(|e| e.message.contains("colour")));
        assert_eq!(redacted("sftp://u:pw@h:22/x"), "sftp://u:***@h:22/x");
    }

    #[test]
    fn the_ssh_config_names_host_user_port_keys_and_known_hosts() {
        let dir = std::env::temp_dir().join(format!("arca-sftp-config-{}", std::process::id()));
        let _ = std::fs::create_dir_all(dir.join(".ssh"));
        let written = std::fs::write(
            dir.join(".ssh").join("config"),
            "Host alias\n  HostName 10.0.0.7\n  User deploy\n  Port 2200\n  IdentityFile ~/.ssh/k1\n  \
             UserKnownHostsFile ~/kh\n  StrictHostKeyChecking accept-new\n",
        );
        assert!(written.is_ok());
        let home = dir.to_string_lossy().into_owned();
        let c = ok(parse("sftp://alias/data", &[], &[("HOME", &home)]));
        assert_eq!(
            (c.connect_host.as_str(), c.user.as_str(), c.port),
            ("10.0.0.7", "deploy", 2200)
        );
        assert_eq!(c.identity_files, vec![dir.join(".ssh").join("k1")]);
        assert_eq!(c.known_hosts, dir.join("kh"));
        assert_eq!(c.host_key_policy, HostKeyPolicy::AcceptUnknown);
        assert_eq!(c.known_hosts_name(), "[10.0.0.7]:2200");
        // The URI's user and port win; the explicit settings win over the file.
        let c = ok(parse(
            "sftp://me@alias:2201/data",
            &[("identity_file", "/k0"), ("strict_host_key_checking", "yes")],
            &[("HOME", &home)],
        ));
        assert_eq!((c.user.as_str(), c.port), ("me", 2201));
        assert_eq!(
            c.identity_files,
            vec![PathBuf::from("/k0"), dir.join(".ssh").join("k1")]
        );
        assert_eq!(c.host_key_policy, HostKeyPolicy::Strict);
        // Without IdentityFile lines, OpenSSH's default key names.
        let c = ok(parse("sftp://other/data", &[], &[("HOME", &home), ("USER", "u")]));
        assert_eq!(c.identity_files.len(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
