//! One SSH connection per store, shared by every transfer: each operation
//! takes an SFTP channel (a `session` channel running the `sftp`
//! subsystem) from a bounded pool, at most `max_channels` at once, kept
//! open for the next one. A channel that failed is closed, never reused; a
//! connection that dropped is made again on the next use.
//!
//! Connecting checks the server's host key against `known_hosts` before
//! anything else is sent, then authenticates: the URI's password if it has
//! one, then the ssh-agent's keys, then the identity files.

use crate::config::{HostKeyPolicy, SftpConfig};
use crate::error::{sftp_error, ssh_error};
use arca_core::{Error, ErrorKind, Result};
use russh::client::{self, AuthResult, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as SftpError;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The largest read or write request sent (OpenSSH's server takes up to
/// 256 KiB messages; its `limits@openssh.com` lowers this where it says so).
const MAX_REQUEST: u64 = 255 << 10;
/// The request size when the server states no limits (the SFTP draft's
/// guaranteed minimum).
const DEFAULT_REQUEST: u64 = 32 << 10;
/// The per-request timeout when none is configured: SSH keepalives find a
/// dead connection long before it.
const NO_TIMEOUT_SECS: u64 = 7 * 24 * 3600;

/// What the host-key check found, kept for the error message.
#[derive(Clone, Debug)]
enum HostKeyVerdict {
    Unknown { fingerprint: String },
    Changed { fingerprint: String, line: usize },
    Unreadable(String),
}

struct Client {
    config: Arc<SftpConfig>,
    verdict: Arc<Mutex<Option<HostKeyVerdict>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> std::result::Result<bool, Self::Error> {
        let c = &self.config;
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            // Host certificates would need `@cert-authority` lines.
            let accepted = c.host_key_policy == HostKeyPolicy::AcceptUnknown;
            if !accepted && let Ok(mut v) = self.verdict.lock() {
                *v = Some(HostKeyVerdict::Unknown {
                    fingerprint: "a host certificate".to_owned(),
                });
            }
            return Ok(accepted);
        };
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let verdict = match russh::keys::known_hosts::known_host_keys_path(&c.connect_host, c.port, &c.known_hosts) {
            Err(e) => Some(HostKeyVerdict::Unreadable(e.to_string())),
            Ok(known) => {
                if known.iter().any(|(_, k)| k == key) {
                    None
                } else if let Some((line, _)) = known.iter().find(|(_, k)| k.algorithm() == key.algorithm()) {
                    Some(HostKeyVerdict::Changed {
                        fingerprint,
                        line: *line,
                    })
                } else if c.host_key_policy == HostKeyPolicy::AcceptUnknown {
                    None
                } else {
                    Some(HostKeyVerdict::Unknown { fingerprint })
                }
            }
        };
        let accepted = verdict.is_none();
        if let Ok(mut v) = self.verdict.lock() {
            *v = verdict;
        }
        Ok(accepted)
    }
}

/// One SFTP channel and what its server offers.
pub(crate) struct Sftp {
    pub(crate) raw: RawSftpSession,
    /// `posix-rename@openssh.com`: a rename that replaces the target.
    pub(crate) posix_rename: bool,
    /// Bytes per read request.
    pub(crate) read_len: u32,
    /// Bytes per write request.
    pub(crate) write_len: u32,
}

pub(crate) struct Pool {
    pub(crate) config: Arc<SftpConfig>,
    /// `sftp://user@host:port`, as messages name the server.
    pub(crate) server: String,
    ssh: tokio::sync::Mutex<Option<Arc<Handle<Client>>>>,
    idle: Mutex<Vec<Arc<Sftp>>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.config)
            .field("idle", &self.idle.lock().map_or(0, |i| i.len()))
            .finish_non_exhaustive()
    }
}

/// A channel taken from the pool; it goes back when dropped, unless
/// [`Chan::broken`] was called.
pub(crate) struct Chan {
    sftp: Option<Arc<Sftp>>,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl std::fmt::Debug for Chan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chan")
            .field("server", &self.pool.server)
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub(crate) fn new(config: SftpConfig) -> Arc<Self> {
        Arc::new(Self {
            server: config.server(),
            permits: Arc::new(Semaphore::new(config.max_channels)),
            config: Arc::new(config),
            ssh: tokio::sync::Mutex::new(None),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Runs one SFTP request under the idle timeout, if one is set,
    /// mapping its error.
    pub(crate) async fn timed<T>(
        &self,
        action: &str,
        path: &str,
        f: impl Future<Output = std::result::Result<T, SftpError>>,
    ) -> Result<T> {
        self.timed_raw(action, path, f)
            .await?
            .map_err(|e| sftp_error(action, &self.server, path, &e))
    }

    /// [`Pool::timed`] that leaves the SFTP error as it is (to tell an
    /// end-of-file status from a failure).
    pub(crate) async fn timed_raw<T>(
        &self,
        action: &str,
        path: &str,
        f: impl Future<Output = std::result::Result<T, SftpError>>,
    ) -> Result<std::result::Result<T, SftpError>> {
        match self.config.timeout {
            Some(t) => tokio::time::timeout(t, f)
                .await
                .map_err(|_| Error::stalled(action, &self.server, path, t.as_secs_f64())),
            None => Ok(f.await),
        }
    }

    /// A channel: an idle one, or a new one on the shared connection.
    pub(crate) async fn get(self: &Arc<Self>) -> Result<Chan> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::unexpected("the channel pool is closed"))?;
        let idle = self.idle.lock().ok().and_then(|mut i| i.pop());
        let sftp = match idle {
            Some(s) => s,
            None => Arc::new(self.open_channel().await?),
        };
        Ok(Chan {
            sftp: Some(sftp),
            pool: self.clone(),
            _permit: permit,
        })
    }

    async fn with_timeout<T>(&self, action: &str, f: impl Future<Output = Result<T>>) -> Result<T> {
        match self.config.timeout {
            Some(t) => tokio::time::timeout(t, f)
                .await
                .unwrap_or_else(|_| Err(Error::stalled(action, &self.server, "", t.as_secs_f64()))),
            None => f.await,
        }
    }

    /// The shared connection, made (or made again) when needed.
    async fn connection(&self) -> Result<Arc<Handle<Client>>> {
        let mut ssh = self.ssh.lock().await;
        if let Some(h) = ssh.as_ref()
            && !h.is_closed()
        {
            return Ok(h.clone());
        }
        *ssh = None;
        let h = Arc::new(self.with_timeout("connect to", self.connect()).await?);
        *ssh = Some(h.clone());
        Ok(h)
    }

    async fn open_channel(&self) -> Result<Sftp> {
        let ssh = self.connection().await?;
        let server = &self.server;
        let opened = self
            .with_timeout("open an SFTP channel to", async {
                let channel = ssh
                    .channel_open_session()
                    .await
                    .map_err(|e| ssh_error("open an SFTP channel to", server, &e))?;
                channel
                    .request_subsystem(true, "sftp")
                    .await
                    .map_err(|e| ssh_error("start SFTP on", server, &e))?;
                let cfg = russh_sftp::client::Config {
                    // Room for a full read reply and its header.
                    max_packet_len: 512 << 10,
                    request_timeout_secs: self.config.timeout.map_or(NO_TIMEOUT_SECS, |t| t.as_secs().max(1)),
                    ..Default::default()
                };
                let raw = RawSftpSession::new_with_config(channel.into_stream(), cfg);
                let version = raw
                    .init()
                    .await
                    .map_err(|e| sftp_error("start SFTP on", server, "", &e))?;
                let limits = if version.extensions.contains_key("limits@openssh.com") {
                    raw.limits().await.ok()
                } else {
                    None
                };
                let cap = |limit: Option<u64>| {
                    let n = match limit {
                        Some(n) if n > 0 => n.min(MAX_REQUEST),
                        _ if limits.is_some() => MAX_REQUEST,
                        _ => DEFAULT_REQUEST,
                    };
                    u32::try_from(n).unwrap_or(32 << 10)
                };
                Ok(Sftp {
                    posix_rename: version.extensions.contains_key("posix-rename@openssh.com"),
                    read_len: cap(limits.as_ref().map(|l| l.max_read_len)),
                    write_len: cap(limits.as_ref().map(|l| l.max_write_len)),
                    raw,
                })
            })
            .await;
        if let Err(e) = &opened
            && e.temporary
        {
            // The connection may be the cause: make a new one next time.
            *self.ssh.lock().await = None;
        }
        opened
    }

    async fn connect(&self) -> Result<Handle<Client>> {
        let c = &self.config;
        let ssh_config = Arc::new(client::Config {
            window_size: 16 << 20,
            nodelay: true,
            keepalive_interval: Some(Duration::from_secs(30)),
            keepalive_max: 3,
            ..Default::default()
        });
        let verdict = Arc::new(Mutex::new(None));
        let handler = Client {
            config: c.clone(),
            verdict: verdict.clone(),
        };
        let connected = client::connect(ssh_config, (c.connect_host.as_str(), c.port), handler).await;
        let mut handle = match connected {
            Ok(h) => h,
            Err(e) => {
                let found = verdict.lock().ok().and_then(|mut v| v.take());
                return Err(match found {
                    Some(v) => self.host_key_refused(v),
                    None => ssh_error("connect to", &self.server, &e),
                });
            }
        };
        self.authenticate(&mut handle).await?;
        Ok(handle)
    }

    fn host_key_refused(&self, v: HostKeyVerdict) -> Error {
        let c = &self.config;
        let (server, file, name) = (&self.server, c.known_hosts_shown(), c.known_hosts_name());
        let message = match v {
            HostKeyVerdict::Unknown { fingerprint } => format!(
                "cannot connect to {server}: its host key ({fingerprint}) is not in {file} under {name}. \
                 Add it after checking it (ssh-keyscan -p {} {} >> {file}), or set strict_host_key_checking=no \
                 (ARCA_SFTP_STRICT_HOST_KEY_CHECKING=no) to accept unknown host keys",
                c.port, c.connect_host
            ),
            HostKeyVerdict::Changed { fingerprint, line } => format!(
                "cannot connect to {server}: its host key ({fingerprint}) differs from the one {file} holds for \
                 {name} at line {line}; someone may be intercepting the connection, or the key was replaced. \
                 Check it, then fix that line"
            ),
            HostKeyVerdict::Unreadable(e) => format!("cannot connect to {server}: cannot read {file}: {e}"),
        };
        Error::new(ErrorKind::PERMISSION_DENIED, message)
    }

    async fn authenticate(&self, handle: &mut Handle<Client>) -> Result<()> {
        let c = &self.config;
        let server = &self.server;
        let failed = |e: russh::Error| ssh_error("authenticate to", server, &e);
        let mut tried: Vec<String> = Vec::new();
        let mut methods = String::new();
        let mut note = |r: &AuthResult| {
            if let AuthResult::Failure { remaining_methods, .. } = r {
                let names: Vec<String> = remaining_methods.iter().map(String::from).collect();
                methods = names.join(", ");
            }
        };
        if let Some(pw) = &c.password {
            let r = handle.authenticate_password(&c.user, pw).await.map_err(failed)?;
            if r.success() {
                return Ok(());
            }
            note(&r);
            tried.push("the password".to_owned());
        }
        let rsa_hash = handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten()
            .or(Some(HashAlg::Sha256));
        if let Some(sock) = &c.agent_socket {
            match AgentClient::connect_uds(sock).await {
                Ok(mut agent) => {
                    let ids = agent.request_identities().await.unwrap_or_default();
                    let mut n = 0;
                    for id in ids {
                        let AgentIdentity::PublicKey { key, .. } = id else {
                            continue;
                        };
                        n += 1;
                        let hash = if key.algorithm().is_rsa() { rsa_hash } else { None };
                        match handle.authenticate_publickey_with(&c.user, key, hash, &mut agent).await {
                            Ok(r) if r.success() => return Ok(()),
                            Ok(r) => note(&r),
                            Err(_) => {}
                        }
                    }
                    tried.push(format!("{n} key(s) of the ssh-agent"));
                }
                Err(e) => tried.push(format!("the ssh-agent at {} (unreachable: {e})", sock.display())),
            }
        }
        for file in &c.identity_files {
            if !file.exists() {
                continue;
            }
            let key = match russh::keys::load_secret_key(file, None) {
                Ok(k) => k,
                Err(e) => {
                    tried.push(format!(
                        "{} (unusable: {e}; a key with a passphrase must be added to the ssh-agent)",
                        file.display()
                    ));
                    continue;
                }
            };
            let hash = if key.algorithm().is_rsa() { rsa_hash } else { None };
            let r = handle
                .authenticate_publickey(&c.user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
                .await
                .map_err(failed)?;
            if r.success() {
                return Ok(());
            }
            note(&r);
            tried.push(file.display().to_string());
        }
        let tried = if tried.is_empty() {
            "nothing: no password in the URI, no ssh-agent (SSH_AUTH_SOCK), and no key file \
             (IdentityFile in ~/.ssh/config, identity_file, or ~/.ssh/id_ed25519, id_ecdsa, id_rsa)"
                .to_owned()
        } else {
            tried.join(", ")
        };
        let accepts = if methods.is_empty() {
            String::new()
        } else {
            format!("; the server accepts: {methods}")
        };
        Err(Error::new(
            ErrorKind::UNAUTHENTICATED,
            format!(
                "cannot log in to {server}: authentication failed as {}; tried {tried}{accepts}",
                c.user
            ),
        ))
    }
}

impl Chan {
    pub(crate) fn sftp(&self) -> Result<&Arc<Sftp>> {
        self.sftp
            .as_ref()
            .ok_or_else(|| Error::unexpected("the SFTP channel is gone"))
    }

    /// Marks the channel unusable: it is closed, not returned.
    pub(crate) fn broken(&mut self) {
        self.sftp = None;
    }

    pub(crate) fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    /// `r`, breaking the channel when the failure may have left it
    /// unusable.
    pub(crate) fn checked<T>(&mut self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r
            && e.temporary
        {
            self.broken();
        }
        r
    }
}

impl Drop for Chan {
    fn drop(&mut self) {
        if let Some(s) = self.sftp.take()
            && let Ok(mut idle) = self.pool.idle.lock()
        {
            idle.push(s);
        }
    }
}
