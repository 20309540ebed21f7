//! Turns the URI, the configuration map and the environment a store is
//! opened with into a typed [`FtpConfig`].

use arca_core::{Config, Error, ErrorKind, Result};
use std::fmt;
use std::time::Duration;

/// The FTP port when the URI names none.
pub const DEFAULT_PORT: u16 = 21;
/// Control connections a store keeps at most (one per transfer in flight).
pub const DEFAULT_CONNECTIONS: usize = 8;

/// A parsed store configuration. `Debug` never shows the password.
#[derive(Clone)]
pub struct FtpConfig {
    pub host: String,
    pub port: u16,
    /// The user (MLflow takes it as written, not percent-decoded);
    /// `anonymous` when the URI names none.
    pub user: String,
    /// The password, percent-decoded (as MLflow does); empty when none.
    pub password: String,
    /// The store root: an absolute path on the server (`/` for the login
    /// directory of a chrooted user).
    pub root: String,
    /// How long a request or a transfer may go without progress.
    pub timeout: Option<Duration>,
    /// Control connections kept at most.
    pub max_connections: usize,
    /// `ftps://`: explicit TLS on the control and data connections.
    pub tls: bool,
    /// Accept any TLS certificate.
    pub ignore_tls: bool,
    /// A PEM file of extra root certificates.
    pub ca_bundle: Option<String>,
}

impl fmt::Debug for FtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &if self.password.is_empty() { "" } else { "<redacted>" })
            .field("root", &self.root)
            .field("timeout", &self.timeout)
            .field("max_connections", &self.max_connections)
            .field("tls", &self.tls)
            .field("ignore_tls", &self.ignore_tls)
            .field("ca_bundle", &self.ca_bundle)
            .finish()
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::CONFIG_INVALID, message)
}

use arca_core::uri::percent_decode;
pub use arca_core::uri::redact as redacted;

impl FtpConfig {
    /// Parses `ftp://user[:password]@host[:port]/path` and takes this
    /// plugin's keys from `config` (falling back to the environment),
    /// refusing any key left over.
    pub fn parse(uri: &str, config: Config) -> Result<Self> {
        Self::parse_with_env(uri, config, &|name| std::env::var(name).ok())
    }

    /// [`FtpConfig::parse`] with the environment read through `env`.
    pub fn parse_with_env(uri: &str, mut config: Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let expected = || {
            Error::invalid_input(format!(
                "not an ftp URI: {} (expected ftp://user[:password]@host[:port]/path, or ftps:// for TLS)",
                redacted(uri)
            ))
        };
        let (tls, rest) = match uri.split_once("://") {
            Some((s, rest)) if s.eq_ignore_ascii_case("ftp") => (false, rest),
            Some((s, rest)) if s.eq_ignore_ascii_case("ftps") => (true, rest),
            _ => return Err(expected()),
        };
        let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
        let end = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => ("anonymous".to_owned(), String::new()),
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => (
                    user.to_owned(),
                    percent_decode(pass).ok_or_else(|| {
                        Error::invalid_input(format!(
                            "the password in {} has a malformed percent escape",
                            redacted(uri)
                        ))
                    })?,
                ),
                None => (u.to_owned(), String::new()),
            },
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port = p.parse::<u16>().map_err(|_| expected())?;
                (h.to_owned(), port)
            }
            _ => (hostport.to_owned(), DEFAULT_PORT),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        if host.is_empty() || user.is_empty() {
            return Err(expected());
        }
        let path = percent_decode(path).ok_or_else(expected)?;
        let root = format!("/{}", path.trim_matches('/'));
        if root.split('/').any(|s| s == "." || s == "..") || root.contains("//") {
            return Err(Error::invalid_input(format!(
                "ftp uri holds an invalid path (`.` or `..` segments): {}",
                redacted(uri)
            )));
        }
        let timeout = config.take_timeout("timeout", &["MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT"], env)?;
        let max_connections = match config.take("max_connections") {
            None => DEFAULT_CONNECTIONS,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n @ 1..=256) => n,
                _ => return Err(invalid(format!("max_connections must be 1 to 256, got {v:?}"))),
            },
        };
        let ignore_tls = match config.take_or_env("ignore_tls", &["MLFLOW_TRACKING_INSECURE_TLS"], env) {
            None => false,
            Some((v, from)) => match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" | "" => false,
                _ => return Err(invalid(format!("invalid boolean for {from} (expected true or false)"))),
            },
        };
        let ca_bundle = config
            .take_or_env("ca_bundle", &["MLFLOW_TRACKING_SERVER_CERT_PATH"], env)
            .map(|(v, _)| v);
        config.finish()?;
        Ok(Self {
            host,
            port,
            user,
            password,
            root,
            timeout,
            max_connections,
            tls,
            ignore_tls,
            ca_bundle,
        })
    }

    /// `ftp://user@host:port` (`ftps://…`), never with the password.
    pub fn server(&self) -> String {
        let scheme = if self.tls { "ftps" } else { "ftp" };
        format!("{scheme}://{}@{}:{}", self.user, self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(uri: &str, pairs: &[(&str, &str)], env: &[(&str, &str)]) -> Result<FtpConfig> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        FtpConfig::parse_with_env(uri, Config::from_pairs(pairs.iter().copied()), &move |n| {
            env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn uris_parse_with_the_password_decoded_and_hidden() {
        let c = parse("ftp://me%40x:p%40ss%3Aw@127.0.0.1:2121/a/b/", &[], &[]).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((c.user.as_str(), c.password.as_str()), ("me%40x", "p@ss:w"));
        assert_eq!((c.host.as_str(), c.port, c.root.as_str()), ("127.0.0.1", 2121, "/a/b"));
        assert!(!format!("{c:?}").contains("p@ss"));
        assert_eq!(c.server(), "ftp://me%40x@127.0.0.1:2121");
        let c = parse("ftp://host", &[], &[]).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((c.user.as_str(), c.port, c.root.as_str()), ("anonymous", 21, "/"));
    }

    #[test]
    fn bad_uris_and_settings_are_refused_without_the_password() {
        for bad in [
            "s3://b/x",
            "ftp://",
            "ftp://u:secret@h:notaport/x",
            "ftp://u:secret@h/a/../b",
        ] {
            let e = parse(bad, &[], &[]).err().unwrap_or_else(|| panic!("{bad} parsed"));
            assert!(!e.message.contains("secret"), "{}", e.message);
        }
        let e = parse("ftp://h/x", &[], &[("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT", "soon")]).err();
        assert!(e.is_some_and(|e| e.message.contains("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT")));
        let c = parse("ftp://h/x", &[("timeout", "2")], &[]).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.timeout, Some(Duration::from_secs(2)));
        assert_eq!(redacted("ftp://u:pw@h:21/x"), "ftp://u:***@h:21/x");
        assert_eq!(redacted("ftp://u@h/x"), "ftp://u@h/x");
    }
}
