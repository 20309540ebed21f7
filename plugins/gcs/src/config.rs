//! Turns the URI, the configuration map and the environment a store is
//! opened with into a typed [`GcsConfig`]. Every key is read from the map
//! first, then from the environment variable MLflow (or the Google client
//! library MLflow uses) reads.

use arca_core::{Config, Error, Result};
use arca_objstore::settings::{Env, invalid, process_env, take};
use std::path::PathBuf;
use std::time::Duration;

/// The public endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";
/// Chunk sizes must be multiples of this (as google-cloud-storage requires).
pub const CHUNK_UNIT: usize = 256 << 10;
/// The smallest part of an XML multipart upload (all but the last).
pub const MIN_PART_SIZE: usize = 5 << 20;
/// The largest part of an XML multipart upload.
pub const MAX_PART_SIZE: usize = 5 << 30;
/// The default part size of writes and of ranged reads.
pub const DEFAULT_CHUNK: usize = 8 << 20;
/// google-cloud-storage's default request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest timeout accepted (a week).
pub const MAX_TIMEOUT_SECS: f64 = 604_800.0;

/// Where credentials come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// A service-account key file (signs URLs itself).
    ServiceAccount(PathBuf),
    /// An `authorized_user` file (a user's refresh token; cannot sign URLs).
    AuthorizedUser(PathBuf),
    /// Nothing named: application-default credentials if the gcloud file
    /// exists, else the metadata server (GCE, GKE workload identity).
    Default,
    /// No credentials (an emulator or a public bucket).
    Anonymous,
}

/// A parsed store configuration. It holds no secret (keys stay in their
/// files), so `Debug` shows it whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcsConfig {
    pub bucket: String,
    /// The object-name prefix that is the store root, without slashes at
    /// either end.
    pub prefix: String,
    /// `scheme://host[:port]`.
    pub endpoint: String,
    pub credentials: CredentialSource,
    /// The part size of large writes (at least [`MIN_PART_SIZE`]).
    pub part_size: usize,
    /// The size of each ranged read of a large file.
    pub download_chunk: usize,
    /// `None`: no timeout.
    pub timeout: Option<Duration>,
    /// What the user should hear about their settings (deprecated names).
    pub warnings: Vec<String>,
}

/// A chunk size: a positive multiple of 256 KiB, at most 5 GiB.
fn chunk(value: &str, from: &str) -> Result<usize> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 && n.is_multiple_of(CHUNK_UNIT) && n <= MAX_PART_SIZE => Ok(n),
        _ => Err(invalid(format!(
            "{from} must be a number of bytes that is a multiple of 262144 (256 KiB), at most 5 GiB, got {value:?}"
        ))),
    }
}

/// A timeout in seconds; `-1` means none.
fn timeout(value: &str, from: &str) -> Result<Option<Duration>> {
    match value.trim().parse::<f64>() {
        Ok(-1.0) => Ok(None),
        Ok(s) if s > 0.0 && s <= MAX_TIMEOUT_SECS => Ok(Some(Duration::from_secs_f64(s))),
        _ => Err(invalid(format!(
            "{from} must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECS}, or -1 for none, got {value:?}"
        ))),
    }
}

/// Splits `gs://bucket/prefix`.
fn split_uri(uri: &str) -> Result<(String, String)> {
    let rest = match uri.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("gs") => rest,
        _ => {
            return Err(Error::invalid_input(format!(
                "not a gs uri: {uri} (expected gs://bucket/path)"
            )));
        }
    };
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid = (3..=222).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'));
    if !valid {
        return Err(Error::invalid_input(format!(
            "not a gs uri: {uri} (expected gs://bucket/path, the bucket 3 to 222 lowercase letters, digits, \
             `-`, `_` or `.`)"
        )));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|s| s == "." || s == "..") || prefix.contains("//") {
        return Err(Error::invalid_input(format!(
            "gs uri holds an invalid object prefix (empty, `.` or `..` segments): {uri}"
        )));
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

/// The endpoint as google-cloud-storage reads `STORAGE_EMULATOR_HOST`:
/// `host:port` alone means plain HTTP.
fn endpoint(value: &str, from: &str) -> Result<String> {
    let v = value.trim().trim_end_matches('/');
    let url = if v.contains("://") {
        v.to_owned()
    } else {
        format!("http://{v}")
    };
    let (scheme, host) = url.split_once("://").unwrap_or_default();
    let ok = matches!(scheme, "http" | "https") && !host.is_empty() && !host.contains(['/', '@', '?', '#']);
    if !ok {
        return Err(invalid(format!(
            "{from} must be a server's base URL such as http://127.0.0.1:4443 (no path, no credentials), got {v:?}"
        )));
    }
    Ok(url)
}

/// What the credential file at `path` is; the types object_store cannot
/// use are refused by name, with what to do instead.
fn credential_file(path: &str, from: &str) -> Result<CredentialSource> {
    let text = std::fs::read_to_string(path).map_err(|e| invalid(format!("cannot read {from} {path}: {e}")))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| invalid(format!("{from} {path} is not a JSON credentials file: {e}")))?;
    let kind = json.get("type").and_then(|t| t.as_str()).unwrap_or_default();
    let path = PathBuf::from(path);
    match kind {
        "service_account" => Ok(CredentialSource::ServiceAccount(path)),
        "authorized_user" => Ok(CredentialSource::AuthorizedUser(path)),
        "external_account" => Err(invalid(format!(
            "{from} {} holds external_account credentials (workload identity federation), which Arca cannot use yet: \
             use a service-account key file, or on GKE let the metadata server give the pod's identity \
             (unset {from})",
            path.display()
        ))),
        "impersonated_service_account" => Err(invalid(format!(
            "{from} {} holds impersonated_service_account credentials, which Arca cannot use yet: use a key file \
             of the target service account, or the metadata server of a machine running as it",
            path.display()
        ))),
        "" => Err(invalid(format!("{from} {} has no \"type\"", path.display()))),
        other => Err(invalid(format!(
            "{from} {} holds credentials of type {other:?}; Arca uses service_account and authorized_user files",
            path.display()
        ))),
    }
}

impl GcsConfig {
    /// Parses `uri` and takes this plugin's keys from `config` (falling
    /// back to the environment), refusing any key left over.
    pub fn parse(uri: &str, config: Config) -> Result<Self> {
        Self::parse_with_env(uri, config, &process_env)
    }

    /// [`GcsConfig::parse`] with the environment read through `env`.
    pub fn parse_with_env(uri: &str, mut config: Config, env: Env<'_>) -> Result<Self> {
        let (bucket, prefix) = split_uri(uri)?;
        let take = |config: &mut Config, key: &str, envs: &[&'static str]| take(config, env, key, envs);
        let mut warnings = Vec::new();
        let endpoint_set = take(&mut config, "endpoint", &["STORAGE_EMULATOR_HOST"]);
        let emulator = endpoint_set.is_some();
        let endpoint = match endpoint_set {
            Some((v, from)) => endpoint(&v, &from)?,
            None => DEFAULT_ENDPOINT.to_owned(),
        };
        let upload = take(&mut config, "upload_chunk_size", &["MLFLOW_GCS_UPLOAD_CHUNK_SIZE"])
            .map(|(v, from)| chunk(&v, &from))
            .transpose()?
            .unwrap_or(DEFAULT_CHUNK);
        let download_chunk = take(&mut config, "download_chunk_size", &["MLFLOW_GCS_DOWNLOAD_CHUNK_SIZE"])
            .map(|(v, from)| chunk(&v, &from))
            .transpose()?
            .unwrap_or(DEFAULT_CHUNK);
        let timeout = match take(&mut config, "timeout", &["MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT"]) {
            Some((v, from)) => timeout(&v, &from)?,
            None => match env("MLFLOW_GCS_DEFAULT_TIMEOUT").filter(|v| !v.trim().is_empty()) {
                Some(v) => {
                    warnings.push(
                        "MLFLOW_GCS_DEFAULT_TIMEOUT is deprecated; set MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT instead"
                            .to_owned(),
                    );
                    timeout(&v, "MLFLOW_GCS_DEFAULT_TIMEOUT")?
                }
                None => Some(DEFAULT_TIMEOUT),
            },
        };
        let credentials = match take(&mut config, "credentials_file", &["GOOGLE_APPLICATION_CREDENTIALS"]) {
            Some((path, from)) => credential_file(path.trim(), &from)?,
            // google-cloud-storage goes anonymous against an emulator.
            None if emulator => CredentialSource::Anonymous,
            None => CredentialSource::Default,
        };
        config.finish()?;
        Ok(Self {
            bucket,
            prefix,
            endpoint,
            credentials,
            part_size: upload.max(MIN_PART_SIZE),
            download_chunk,
            timeout,
            warnings,
        })
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
