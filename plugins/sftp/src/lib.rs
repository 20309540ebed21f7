//! # arca-plugin-sftp: `sftp://` URIs
//!
//! The Arca storage plugin for SSH file transfer (SFTP v3, as OpenSSH
//! serves it), on [`russh`] and [`russh_sftp`]: pure Rust, no `ssh`
//! program needed. It is loaded like every other backend, through the
//! manifest; the `rlib` form exists for unit tests.
//!
//! - **One SSH connection per store**, shared by every transfer: each
//!   operation takes an SFTP channel from a bounded pool (`max_channels`),
//!   kept open for the next one.
//! - **Pipelined transfers**: up to 16 read or write requests in flight per
//!   file, each as large as the server allows (`limits@openssh.com`, at
//!   most 255 KiB).
//! - **Atomic publish**: writes go to a hidden temporary file beside the
//!   target (`.arca-….tmp`, never listed), renamed into place with
//!   `posix-rename@openssh.com` where offered (else remove, then rename);
//!   parent directories are made.
//! - **Deletes are recursive**, and a missing path is success.
//! - **No retries here**: connection failures are marked temporary, and the
//!   host retries them.
//!
//! ## URIs
//!
//! `sftp://[user[:password]@]host[:port]/absolute/path`. `host` is looked
//! up in `~/.ssh/config` as OpenSSH does (`Host` patterns; `HostName`,
//! `User`, `Port`, `IdentityFile`, `IdentitiesOnly`, `UserKnownHostsFile`,
//! `StrictHostKeyChecking`; first value wins); the URI's user and port win
//! over the file's. Without a user anywhere, the local `$USER`. The
//! password is percent-decoded and never shown (`sftp://user:***@host/…`).
//!
//! ## Authentication
//!
//! In order: the URI's password; each key of the ssh-agent
//! (`SSH_AUTH_SOCK`, unless `IdentitiesOnly yes`); each identity file
//! (`identity_file`, then the config's `IdentityFile` lines, else
//! `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`). A key with a passphrase
//! must be in the agent. A failure lists what was tried and what the
//! server accepts.
//!
//! ## Host keys
//!
//! The server's key is checked against `known_hosts` (hashed entries
//! included; `[host]:port` off port 22) before anything is sent. An
//! unknown key is refused, with the fingerprint and the setting that
//! accepts unknown keys; a key that differs from the recorded one is always
//! refused.
//!
//! ## Configuration
//!
//! | Key | Environment variable | Default | Meaning |
//! | --- | --- | --- | --- |
//! | `timeout` | `MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT` | none | Seconds a request may go without a reply (an idle timeout). SSH keepalives (every 30 s) end a dead connection either way. |
//! | `max_channels` | — | 8 | SFTP channels open at once on the store's one connection (OpenSSH allows 10 per connection by default, `MaxSessions`). |
//! | `ssh_config` | `ARCA_SFTP_SSH_CONFIG` | `~/.ssh/config` | The OpenSSH client configuration read. |
//! | `known_hosts` | `ARCA_SFTP_KNOWN_HOSTS` | `UserKnownHostsFile`, else `~/.ssh/known_hosts` | The known host keys. |
//! | `strict_host_key_checking` | `ARCA_SFTP_STRICT_HOST_KEY_CHECKING` | `StrictHostKeyChecking`, else `yes` | `no` (or `accept-new`) accepts a server whose key is not listed, without recording it. |
//! | `identity_file` | `ARCA_SFTP_IDENTITY_FILE` | — | A private key file tried before the config's. |
//! | `ssh_auth_sock` | `SSH_AUTH_SOCK` | — | The ssh-agent's socket. |
//!
//! Any other configuration key is refused by name.

mod config;
mod error;
mod lister;
mod reader;
mod session;
mod ssh_config;
mod store;
mod writer;

#[cfg(test)]
mod tests;

pub use config::{HostKeyPolicy, SftpConfig};
pub use reader::SftpReader;
pub use store::SftpStore;
pub use writer::SftpWriter;

use arca_core::{Capabilities, Config, Plugin, Result, Runtime};

/// The URI schemes this plugin serves.
pub const SCHEMES: &[&str] = &["sftp"];

/// The SFTP plugin.
#[derive(Debug)]
pub struct SftpPlugin;

impl Plugin for SftpPlugin {
    const NAME: &'static str = "sftp";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SCHEMES: &'static [&'static str] = SCHEMES;
    // Real directories; no presigned transfers.
    const CAPABILITIES: Capabilities = Capabilities {
        multipart: false,
        presigned_read: false,
        ..Capabilities::FILESYSTEM
    };
    const RUNTIME: Runtime = Runtime::Tokio { worker_threads: 2 };
    type Store = SftpStore;

    async fn open(uri: String, config: Config) -> Result<SftpStore> {
        SftpStore::open(SftpConfig::parse(&uri, config)?)
    }
}

arca_core::export_plugin!(SftpPlugin);
