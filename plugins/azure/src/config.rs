//! Turns the URI, the configuration map and the environment a store is
//! opened with into a typed [`AzureConfig`].
//!
//! Every key is read from the configuration map first, then from the
//! environment variable MLflow reads for the same setting, so a server set
//! up for MLflow works unchanged. Credentials are chosen in MLflow's order:
//! a connection string, then an account key, then a SAS token, then the
//! default chain (see [`Credential`]).

use arca_core::{Config, Error, Result};
pub(crate) use arca_objstore::settings::invalid;
use arca_objstore::settings::{Env, parse_bool, process_env, take};
use object_store::path::Path;
use std::fmt;
use std::time::Duration;

/// Azurite's account (`UseDevelopmentStorage=true`).
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known account key, published by Microsoft; not a secret.
pub const DEV_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// Azurite's blob endpoint (`UseDevelopmentStorage=true`).
pub const DEV_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";
/// MLflow's timeout when `MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT` is unset.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest timeout accepted (a week).
pub const MAX_TIMEOUT_SECS: f64 = 604_800.0;
/// The default block size of large writes.
pub const DEFAULT_PART_SIZE: usize = 8 << 20;
/// The smallest block size accepted.
pub const MIN_PART_SIZE: usize = 1 << 20;
/// The largest block Azure accepts (4000 MiB).
pub const MAX_PART_SIZE: usize = 4000 << 20;

/// The cloud suffixes MLflow accepts in a `wasbs://` URI.
const SUFFIXES: [&str; 3] = ["core.windows.net", "core.chinacloudapi.cn", "core.usgovcloudapi.net"];

/// How requests are authorised. `Debug` never shows a secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// Shared Key with the account key.
    AccessKey(String),
    /// A SAS token (query string), appended to every request.
    Sas(String),
    /// No authorisation (a public container).
    Anonymous,
    /// object_store's chain: a bearer token from a client secret
    /// (`AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_TENANT_ID`),
    /// workload identity (`AZURE_FEDERATED_TOKEN_FILE`), the Azure CLI
    /// (when `use_azure_cli` is set), else managed identity.
    Chain,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AccessKey(_) => "AccessKey(<redacted>)",
            Self::Sas(_) => "Sas(<redacted>)",
            Self::Anonymous => "Anonymous",
            Self::Chain => "Chain",
        })
    }
}

/// A parsed store configuration. `Debug` leaves out the secrets.
#[derive(Clone, Debug)]
pub struct AzureConfig {
    /// `wasbs` or `abfss`, as the URI said.
    pub scheme: &'static str,
    /// The container (the ADLS file system for `abfss`).
    pub container: String,
    /// The account that signs requests.
    pub account: String,
    /// The host part of the URI after `@` (`<account>.blob.core.windows.net`),
    /// as errors name the store.
    pub host: String,
    /// The key prefix that is the store root, without slashes at either end.
    pub prefix: String,
    /// The blob endpoint, e.g. `https://<account>.blob.core.windows.net` or
    /// Azurite's `http://127.0.0.1:10000/devstoreaccount1`.
    pub endpoint: String,
    pub credential: Credential,
    /// Where the credential came from, for debug lines (never its value).
    pub credential_source: String,
    /// Ask the Azure CLI for tokens in the default chain.
    pub use_azure_cli: bool,
    /// The longest a request may take.
    pub timeout: Duration,
    /// The block size of large writes.
    pub part_size: usize,
    /// Accept any TLS certificate.
    pub ignore_tls: bool,
    /// A PEM file of extra root certificates.
    pub ca_bundle: Option<String>,
}

/// The parts of `wasbs://<container>@<account>.blob.<suffix>/<path>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriParts {
    pub scheme: &'static str,
    pub container: String,
    pub account: String,
    /// `blob.core.windows.net` (or `dfs.…` for `abfss`).
    pub service_host: String,
    pub prefix: String,
}

/// What a malformed URI is told.
fn expected_form(uri: &str) -> Error {
    Error::invalid_input(format!(
        "not an Azure Blob URI: {uri} (expected wasbs://<container>@<account>.blob.core.windows.net/<path>, \
         or the .blob.core.chinacloudapi.cn / .blob.core.usgovcloudapi.net clouds; abfss://<filesystem>@<account>.dfs.core.windows.net/<path> for ADLS Gen2)"
    ))
}

/// Parses `wasbs://<container>@<account>.blob.<suffix>/<path>` (and
/// `abfss://<fs>@<account>.dfs.<suffix>/<path>`), with MLflow's rules: the
/// suffix must be one of Azure's clouds; a query or fragment is ignored.
pub fn split_uri(uri: &str) -> Result<UriParts> {
    let (scheme, rest) = match uri.split_once("://") {
        Some((s, rest)) if s.eq_ignore_ascii_case("wasbs") => ("wasbs", rest),
        Some((s, rest)) if s.eq_ignore_ascii_case("abfss") => ("abfss", rest),
        _ => return Err(expected_form(uri)),
    };
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Some((container, host)) = authority.split_once('@') else {
        return Err(expected_form(uri));
    };
    let service = if scheme == "wasbs" { "blob" } else { "dfs" };
    let host = host.to_ascii_lowercase();
    let Some((account, service_host)) = host.split_once('.') else {
        return Err(expected_form(uri));
    };
    let suffix_ok = service_host
        .strip_prefix(service)
        .and_then(|s| s.strip_prefix('.'))
        .is_some_and(|s| SUFFIXES.contains(&s));
    let valid_name = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !suffix_ok || !valid_name(account) || !valid_name(container) || container.contains(':') {
        return Err(expected_form(uri));
    }
    let prefix = path.trim_matches('/');
    if !prefix.is_empty() && Path::parse(prefix).is_err() {
        return Err(Error::invalid_input(format!(
            "{scheme} uri holds an invalid blob prefix (empty, `.` or `..` segments, control characters): {uri}"
        )));
    }
    Ok(UriParts {
        scheme,
        container: container.to_owned(),
        account: account.to_owned(),
        service_host: service_host.to_owned(),
        prefix: prefix.to_owned(),
    })
}

/// The fields of a connection string this plugin uses.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ConnectionString {
    pub protocol: Option<String>,
    pub account_name: Option<String>,
    pub account_key: Option<String>,
    pub blob_endpoint: Option<String>,
    pub sas: Option<String>,
    pub endpoint_suffix: Option<String>,
    pub development: bool,
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionString")
            .field("protocol", &self.protocol)
            .field("account_name", &self.account_name)
            .field("account_key", &self.account_key.as_ref().map(|_| "<redacted>"))
            .field("blob_endpoint", &self.blob_endpoint)
            .field("sas", &self.sas.as_ref().map(|_| "<redacted>"))
            .field("endpoint_suffix", &self.endpoint_suffix)
            .field("development", &self.development)
            .finish()
    }
}

impl ConnectionString {
    /// Parses `Key=Value;Key=Value;…` (keys case-insensitive; a value may
    /// hold `=`, as keys and SAS tokens do). Settings of other services
    /// (queues, tables, files) are ignored. Errors name the entry's key or
    /// position, never a value.
    pub fn parse(text: &str, from: &str) -> Result<Self> {
        let mut cs = Self::default();
        for (i, entry) in text.split(';').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let Some((key, value)) = entry.split_once('=') else {
                return Err(invalid(format!(
                    "{from} is not a connection string: entry {} has no `=` (expected Key=Value;Key=Value)",
                    i + 1
                )));
            };
            let value = value.trim().to_owned();
            match key.trim().to_ascii_lowercase().as_str() {
                "defaultendpointsprotocol" => match value.to_ascii_lowercase().as_str() {
                    p @ ("http" | "https") => cs.protocol = Some(p.to_owned()),
                    _ => {
                        return Err(invalid(format!(
                            "{from}: DefaultEndpointsProtocol must be http or https, got {value:?}"
                        )));
                    }
                },
                "accountname" => cs.account_name = Some(value),
                "accountkey" => cs.account_key = Some(value),
                "blobendpoint" => cs.blob_endpoint = Some(check_endpoint(&value, from)?),
                "sharedaccesssignature" => cs.sas = Some(value.trim_start_matches('?').to_owned()),
                "endpointsuffix" => cs.endpoint_suffix = Some(value),
                "usedevelopmentstorage" => {
                    cs.development = parse_bool(&format!("{from} UseDevelopmentStorage"), &value)?
                }
                _ => {}
            }
        }
        Ok(cs)
    }
}

/// Checks a blob endpoint (`http(s)://host[:port][/path]`) and returns it
/// without a trailing slash.
fn check_endpoint(endpoint: &str, from: &str) -> Result<String> {
    let e = endpoint.trim().trim_end_matches('/');
    let ok = match url::Url::parse(e) {
        Ok(u) => {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.username().is_empty()
                && u.password().is_none()
                && u.query().is_none()
        }
        Err(_) => false,
    };
    if !ok {
        return Err(invalid(format!(
            "{from}: the blob endpoint must be a URL such as https://<account>.blob.core.windows.net or \
             http://127.0.0.1:10000/devstoreaccount1, without credentials or a query"
        )));
    }
    Ok(e.to_owned())
}

impl AzureConfig {
    /// Parses `uri` and takes this plugin's keys from `config` (falling back
    /// to the environment), refusing any key left over.
    pub fn parse(uri: &str, config: Config) -> Result<Self> {
        Self::parse_with_env(uri, config, &process_env)
    }

    /// [`AzureConfig::parse`] with the environment read through `env`.
    pub fn parse_with_env(uri: &str, mut config: Config, env: Env<'_>) -> Result<Self> {
        let parts = split_uri(uri)?;
        let take = |config: &mut Config, key: &str, envs: &[&'static str]| take(config, env, key, envs);
        let timeout = match take(&mut config, "timeout", &["MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT"]) {
            None => DEFAULT_TIMEOUT,
            Some((v, from)) => match v.trim().parse::<f64>() {
                Ok(secs) if secs > 0.0 && secs <= MAX_TIMEOUT_SECS => Duration::from_secs_f64(secs),
                _ => {
                    return Err(invalid(format!(
                        "{from} must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECS}, got {v:?}"
                    )));
                }
            },
        };
        let part_size = match take(&mut config, "part_size", &[]) {
            None => DEFAULT_PART_SIZE,
            Some((v, from)) => match v.trim().parse::<usize>() {
                Ok(n) if (MIN_PART_SIZE..=MAX_PART_SIZE).contains(&n) => n,
                _ => {
                    return Err(invalid(format!(
                        "{from} must be a number of bytes between {MIN_PART_SIZE} (1 MiB) and {MAX_PART_SIZE} \
                         (4000 MiB), got {v:?}"
                    )));
                }
            },
        };
        let ignore_tls = match take(&mut config, "ignore_tls", &["MLFLOW_TRACKING_INSECURE_TLS"]) {
            Some((v, from)) => parse_bool(&from, &v)?,
            None => false,
        };
        let ca_bundle = take(&mut config, "ca_bundle", &["MLFLOW_TRACKING_SERVER_CERT_PATH"]).map(|(v, _)| v);
        let use_azure_cli = match take(&mut config, "use_azure_cli", &["AZURE_USE_AZURE_CLI"]) {
            Some((v, from)) => parse_bool(&from, &v)?,
            None => false,
        };
        let endpoint_override = take(&mut config, "endpoint", &[])
            .map(|(v, from)| check_endpoint(&v, &from))
            .transpose()?;
        let connection = take(&mut config, "connection_string", &["AZURE_STORAGE_CONNECTION_STRING"]);
        let access_key = take(&mut config, "access_key", &["AZURE_STORAGE_ACCESS_KEY"]);
        let sas = take(&mut config, "sas_token", &["AZURE_STORAGE_SAS_TOKEN"]);
        config.finish()?;

        let suffix = parts
            .service_host
            .split_once('.')
            .map_or("core.windows.net", |(_, s)| s)
            .to_owned();
        let default_endpoint =
            |account: &str, protocol: &str, suffix: &str| format!("{protocol}://{account}.blob.{suffix}");
        let host = format!("{}.{}", parts.account, parts.service_host);
        let (account, endpoint, credential, credential_source) = if let Some((text, from)) = connection {
            // MLflow's first choice. The account and endpoint come from the
            // string (the URI's account only names the store), as with
            // `BlobServiceClient.from_connection_string`.
            let cs = ConnectionString::parse(&text, &from)?;
            if cs.development {
                (
                    DEV_ACCOUNT.to_owned(),
                    DEV_ENDPOINT.to_owned(),
                    Credential::AccessKey(DEV_KEY.to_owned()),
                    format!("{from} (UseDevelopmentStorage=true: Azurite's account key)"),
                )
            } else {
                let account = cs.account_name.clone().unwrap_or_else(|| parts.account.clone());
                let endpoint = match (&cs.blob_endpoint, &cs.account_name) {
                    (Some(e), _) => e.clone(),
                    (None, Some(name)) => default_endpoint(
                        name,
                        cs.protocol.as_deref().unwrap_or("https"),
                        cs.endpoint_suffix.as_deref().unwrap_or(&suffix),
                    ),
                    (None, None) => {
                        return Err(invalid(format!(
                            "{from} names neither AccountName nor BlobEndpoint, so the blob service cannot be found"
                        )));
                    }
                };
                let (credential, what) = match (cs.account_key, cs.sas) {
                    (Some(_), _) if cs.account_name.is_none() => {
                        return Err(invalid(format!(
                            "{from} has an AccountKey but no AccountName to sign with"
                        )));
                    }
                    (Some(key), _) => (Credential::AccessKey(key), "account key"),
                    (None, Some(sas)) => (Credential::Sas(sas), "shared access signature"),
                    (None, None) => (Credential::Anonymous, "no credential: anonymous requests"),
                };
                (account, endpoint, credential, format!("{from} ({what})"))
            }
        } else if let Some((key, from)) = access_key {
            (
                parts.account.clone(),
                default_endpoint(&parts.account, "https", &suffix),
                Credential::AccessKey(key),
                format!("{from} (account key)"),
            )
        } else if let Some((token, from)) = sas {
            (
                parts.account.clone(),
                default_endpoint(&parts.account, "https", &suffix),
                Credential::Sas(token.trim().trim_start_matches('?').to_owned()),
                format!("{from} (shared access signature)"),
            )
        } else {
            let what = chain_source(env, use_azure_cli);
            (
                parts.account.clone(),
                default_endpoint(&parts.account, "https", &suffix),
                Credential::Chain,
                format!("the default chain: {what}"),
            )
        };
        Ok(Self {
            scheme: parts.scheme,
            container: parts.container,
            account,
            host,
            prefix: parts.prefix,
            endpoint: endpoint_override.unwrap_or(endpoint),
            credential,
            credential_source,
            use_azure_cli,
            timeout,
            part_size,
            ignore_tls,
            ca_bundle,
        })
    }

    /// How errors name the bucket: `<container>@<account>.blob.<suffix>`.
    pub fn bucket_name(&self) -> String {
        format!("{}@{}", self.container, self.host)
    }
}

/// Which source object_store's chain will use, as far as the environment
/// tells (its order: client secret, workload identity, Azure CLI when
/// enabled, managed identity).
fn chain_source(env: Env<'_>, use_azure_cli: bool) -> &'static str {
    let set = |name: &str| env(name).is_some_and(|v| !v.trim().is_empty());
    let ids = set("AZURE_CLIENT_ID") && set("AZURE_TENANT_ID");
    if ids && set("AZURE_FEDERATED_TOKEN_FILE") {
        "workload identity (AZURE_FEDERATED_TOKEN_FILE)"
    } else if ids && set("AZURE_CLIENT_SECRET") {
        "client secret (AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_TENANT_ID)"
    } else if use_azure_cli {
        "the Azure CLI (az account get-access-token)"
    } else {
        "managed identity (the instance metadata endpoint)"
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
