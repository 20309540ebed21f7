//! Turns the URI, the configuration map and the environment a store is
//! opened with into a typed [`HdfsConfig`].

use arca_core::uri::percent_decode;
use arca_core::{Config, Error, ErrorKind, Result};
use std::time::Duration;

/// A parsed store configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HdfsConfig {
    /// `hdfs` or `viewfs`.
    pub scheme: String,
    /// `host:port`, a name service or a mount table; empty for
    /// `fs.defaultFS`.
    pub authority: String,
    /// The store root: an absolute path in the file system.
    pub root: String,
    /// The user to act as under simple authentication.
    pub user: Option<String>,
    /// The principal to take from the ticket cache.
    pub kerberos_principal: Option<String>,
    /// The Kerberos credential cache.
    pub kerberos_cache: Option<String>,
    /// Client settings over those of the configuration directory.
    pub extra_conf: Vec<(String, String)>,
    /// Where `core-site.xml` and `hdfs-site.xml` are read from (else
    /// `HADOOP_CONF_DIR`, read by the client itself).
    pub conf_dir: Option<String>,
    /// How long an operation or a chunk may take without progress.
    pub timeout: Option<Duration>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::CONFIG_INVALID, message)
}

/// `k=v,k2=v2` (MLflow's `MLFLOW_PYARROW_EXTRA_CONF`) as pairs.
fn parse_extra_conf(v: &str, from: &str) -> Result<Vec<(String, String)>> {
    v.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| match entry.split_once('=') {
            Some((k, val)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), val.trim().to_owned())),
            _ => Err(invalid(format!(
                "{from} must be key=value pairs separated by commas, got the entry {entry:?}"
            ))),
        })
        .collect()
}

impl HdfsConfig {
    /// Parses `hdfs://[authority]/path` (or `viewfs://…`, `hdfs:/path`) and
    /// takes this plugin's keys from `config` (falling back to the
    /// environment), refusing any key left over.
    pub fn parse(uri: &str, config: Config) -> Result<Self> {
        Self::parse_with_env(uri, config, &|name| std::env::var(name).ok())
    }

    /// [`HdfsConfig::parse`] with the environment read through `env`.
    pub fn parse_with_env(uri: &str, mut config: Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let expected = || {
            Error::invalid_input(format!(
                "not an HDFS URI: {uri} (expected hdfs://host:port/path, hdfs://nameservice/path, hdfs:///path or \
                 viewfs://cluster/path)"
            ))
        };
        let (scheme, rest) = uri.split_once(':').ok_or_else(expected)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "hdfs" && scheme != "viewfs" {
            return Err(expected());
        }
        if rest.contains(['?', '#']) {
            return Err(Error::invalid_input(format!(
                "an HDFS URI cannot carry a query or fragment: {uri}"
            )));
        }
        let (authority, path) = match rest.strip_prefix("//") {
            Some(r) => r.split_at(r.find('/').unwrap_or(r.len())),
            None if rest.starts_with('/') => ("", rest),
            None => return Err(expected()),
        };
        if authority.contains('@') {
            return Err(Error::invalid_input(format!(
                "an HDFS URI names no user ({uri}): set HADOOP_USER_NAME, or MLFLOW_KERBEROS_USER"
            )));
        }
        if scheme == "viewfs" && authority.is_empty() {
            return Err(Error::invalid_input(format!(
                "a viewfs URI names its mount table: viewfs://cluster/path, got {uri}"
            )));
        }
        let path = percent_decode(path).ok_or_else(expected)?;
        let root = format!("/{}", path.trim_matches('/'));
        if root.split('/').any(|s| s == "." || s == "..") || root.contains("//") {
            return Err(Error::invalid_input(format!(
                "an HDFS URI holds an invalid path (`.`, `..` or empty segments): {uri}"
            )));
        }

        let cache = config.take_or_env("kerberos_ticket_cache", &["MLFLOW_KERBEROS_TICKET_CACHE"], env);
        let kerberos_user = config.take_or_env("kerberos_user", &["MLFLOW_KERBEROS_USER"], env);
        let hadoop_user = config.take_or_env("user", &["HADOOP_USER_NAME"], env);
        let extra_conf = match config.take_or_env("extra_conf", &["MLFLOW_PYARROW_EXTRA_CONF"], env) {
            Some((v, from)) => parse_extra_conf(&v, &from)?,
            None => Vec::new(),
        };
        let conf_dir = config
            .take_or_env("hadoop_conf_dir", &["HADOOP_CONF_DIR"], env)
            .map(|(v, _)| v);
        let timeout = config.take_timeout("timeout", &["MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT"], env)?;
        config.finish()?;

        // As libhdfs does for MLflow: with a ticket cache the user names the
        // principal to take from it; without one, the user to act as.
        let (user, kerberos_principal) = match (&cache, kerberos_user) {
            (Some(_), Some((u, _))) => (hadoop_user.map(|(h, _)| h), Some(u)),
            (None, Some((u, _))) => (Some(u), None),
            (_, None) => (hadoop_user.map(|(h, _)| h), None),
        };
        Ok(Self {
            scheme,
            authority: authority.to_owned(),
            root,
            user,
            kerberos_principal,
            kerberos_cache: cache.map(|(c, _)| c),
            extra_conf,
            conf_dir,
            timeout,
        })
    }

    /// The URL the client connects to, `scheme://authority`; `None` for
    /// `hdfs:///…`, where the client reads `fs.defaultFS`.
    pub fn url(&self) -> Option<String> {
        (!self.authority.is_empty()).then(|| format!("{}://{}", self.scheme, self.authority))
    }

    /// The file system as messages name it.
    pub fn server(&self) -> String {
        self.url().unwrap_or_else(|| "fs.defaultFS ".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(uri: &str, pairs: &[(&str, &str)], env: &[(&str, &str)]) -> Result<HdfsConfig> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        HdfsConfig::parse_with_env(uri, Config::from_pairs(pairs.iter().copied()), &move |n| {
            env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn uris() {
        let c = parse("hdfs://nn:8020/a/b/", &[], &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.url().as_deref(), c.root.as_str()), (Some("hdfs://nn:8020"), "/a/b"));
        let c = parse("hdfs:///a", &[], &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.url(), c.root.as_str()), (None, "/a"));
        let c = parse("hdfs:/a%20b", &[], &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.authority.as_str(), c.root.as_str()), ("", "/a b"));
        let c = parse("viewfs://cluster/x", &[], &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.url().as_deref(), c.root.as_str()), (Some("viewfs://cluster"), "/x"));
        let c = parse("HDFS://ns1", &[], &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.url().as_deref(), c.root.as_str()), (Some("hdfs://ns1"), "/"));
        for bad in [
            "s3://b/k",
            "hdfs:relative",
            "hdfs://nn/a/../b",
            "hdfs://u@nn/a",
            "hdfs://nn/a?x=1",
            "viewfs:///a",
            "hdfs://nn/a%zz",
        ] {
            assert!(parse(bad, &[], &[]).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn mlflow_variables() {
        let c = parse(
            "hdfs://nn/a",
            &[],
            &[
                ("MLFLOW_KERBEROS_TICKET_CACHE", "/tmp/krb5cc_1"),
                ("MLFLOW_KERBEROS_USER", "alice@EXAMPLE.COM"),
                ("MLFLOW_PYARROW_EXTRA_CONF", "dfs.a=1, dfs.b = x=y ,"),
                ("HADOOP_USER_NAME", "hdfs"),
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.kerberos_cache.as_deref(), Some("/tmp/krb5cc_1"));
        assert_eq!(c.kerberos_principal.as_deref(), Some("alice@EXAMPLE.COM"));
        assert_eq!(c.user.as_deref(), Some("hdfs"));
        assert_eq!(
            c.extra_conf,
            vec![
                ("dfs.a".to_owned(), "1".to_owned()),
                ("dfs.b".to_owned(), "x=y".to_owned())
            ]
        );
        // Without a ticket cache the Kerberos user is the user to act as.
        let c = parse(
            "hdfs://nn/a",
            &[],
            &[("MLFLOW_KERBEROS_USER", "bob"), ("HADOOP_USER_NAME", "hdfs")],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (c.user.as_deref(), c.kerberos_principal.as_deref()),
            (Some("bob"), None)
        );
        // The map wins over the environment.
        let c = parse("hdfs://nn/a", &[("user", "carol")], &[("HADOOP_USER_NAME", "hdfs")])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.user.as_deref(), Some("carol"));
    }

    #[test]
    fn bad_settings_are_named() {
        let e = parse("hdfs://nn/a", &[], &[("MLFLOW_PYARROW_EXTRA_CONF", "novalue")]).err();
        assert!(e.is_some_and(|e| e.message.contains("MLFLOW_PYARROW_EXTRA_CONF") && e.message.contains("novalue")));
        let e = parse("hdfs://nn/a", &[("timeout", "0")], &[]).err();
        assert!(e.is_some_and(|e| e.message.contains("configuration key timeout")));
        let e = parse("hdfs://nn/a", &[("bogus", "1")], &[]).err();
        assert!(e.is_some_and(|e| e.kind == ErrorKind::CONFIG_INVALID && e.message.contains("bogus")));
    }
}
