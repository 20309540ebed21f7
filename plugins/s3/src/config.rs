//! Turns the URI, the configuration map and the environment a store is
//! opened with into a typed [`S3Config`], and that into an object_store
//! client.
//!
//! Every key is read from the configuration map first, then from the
//! environment variable MLflow reads for the same setting, so a server set up
//! for MLflow works unchanged.

use crate::creds::{Credentials, ProfileFiles};
use crate::extra_args::ExtraArgs;
use arca_core::{Config, Error, ErrorKind, Result};
use object_store::path::Path;
use object_store::{Attribute, AttributeValue, Attributes};
use std::fmt;
use std::time::Duration;

/// The region when none is set anywhere (boto3's).
pub const DEFAULT_REGION: &str = "us-east-1";
/// The longest idle timeout accepted (a week: beyond that, unset it).
pub const MAX_TIMEOUT_SECS: f64 = 604_800.0;
/// The default part size of large writes (8 MiB, as boto3's).
pub const DEFAULT_PART_SIZE: usize = 8 << 20;
/// The smallest part S3 accepts (every part but the last).
pub const MIN_PART_SIZE: usize = 5 << 20;
/// The largest part S3 accepts.
pub const MAX_PART_SIZE: usize = 5 << 30;

/// How URLs name the bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressingStyle {
    /// `https://host/bucket/key`.
    Path,
    /// `https://bucket.host/key`.
    Virtual,
    /// Path style with a custom endpoint, virtual style on AWS.
    Auto,
}

/// A parsed store configuration. `Debug` leaves out the secrets.
#[derive(Clone)]
pub struct S3Config {
    /// The bucket, from the URI.
    pub bucket: String,
    /// The key prefix that is the store root, without slashes at either end
    /// (empty for the bucket's root).
    pub prefix: String,
    /// A custom endpoint (`scheme://host[:port]`), if any.
    pub endpoint: Option<String>,
    /// How requests are signed.
    pub credentials: Credentials,
    /// The AWS profile: `profile`, else `AWS_PROFILE`, else `default`. It
    /// gives the credentials when no keys are set, and the region when none
    /// is set.
    pub profile: String,
    /// The signing region, if set (`region`, `AWS_REGION`,
    /// `AWS_DEFAULT_REGION`); see [`S3Config::region`].
    pub region: Option<String>,
    /// The profile files read (the default ones outside tests).
    pub(crate) profile_files: ProfileFiles,
    /// Accept any TLS certificate.
    pub ignore_tls: bool,
    /// A PEM file of extra root certificates.
    pub ca_bundle: Option<String>,
    pub addressing_style: AddressingStyle,
    /// The part size of large writes.
    pub part_size: usize,
    /// Server-side encryption (`AES256`, `aws:kms`, `aws:kms:dsse`).
    pub sse: Option<String>,
    /// The KMS key of SSE-KMS.
    pub sse_kms_key_id: Option<String>,
    /// Attributes set on every object written (content type, metadata, …).
    pub attributes: Vec<(String, String)>,
    /// The canned ACL of written objects (`x-amz-acl`).
    pub acl: Option<String>,
    /// The SSE-C key, raw (32 bytes). A secret.
    pub sse_customer_key: Option<String>,
    /// The account that must own the bucket (`x-amz-expected-bucket-owner`).
    pub expected_bucket_owner: Option<String>,
    /// The idle timeout of requests (see `transport`).
    pub timeout: Option<Duration>,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .field("profile", &self.profile)
            .field("region", &self.region)
            .field("ignore_tls", &self.ignore_tls)
            .field("ca_bundle", &self.ca_bundle)
            .field("addressing_style", &self.addressing_style)
            .field("part_size", &self.part_size)
            .field("sse", &self.sse)
            .field("sse_kms_key_id", &self.sse_kms_key_id.as_ref().map(|_| "<set>"))
            .field(
                "attributes",
                &self.attributes.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("acl", &self.acl)
            .field(
                "sse_customer_key",
                &self.sse_customer_key.as_ref().map(|_| "<redacted>"),
            )
            .field("expected_bucket_owner", &self.expected_bucket_owner)
            .field("timeout", &self.timeout)
            .finish()
    }
}

pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::CONFIG_INVALID, message)
}

/// Where environment variables are read from (the process environment, or
/// a fixed set in tests).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, without empty values.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads one setting: the key from the map, else the first environment
/// variable that is set and not empty.
fn take(config: &mut Config, env: Env<'_>, key: &str, envs: &[&str]) -> Option<String> {
    if let Some(v) = config.take(key) {
        return Some(v);
    }
    envs.iter().find_map(|e| env(e).filter(|v| !v.trim().is_empty()))
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(invalid(format!("invalid boolean for {key} (expected true or false)"))),
    }
}

impl S3Config {
    /// Parses `uri` (`s3://bucket/prefix`) and takes this plugin's keys from
    /// `config` (falling back to the environment), refusing any key left over.
    pub fn parse(uri: &str, config: Config) -> Result<Self> {
        Self::parse_with_env(uri, config, &process_env)
    }

    /// [`S3Config::parse`] with the environment read through `env`.
    pub fn parse_with_env(uri: &str, mut config: Config, env: Env<'_>) -> Result<Self> {
        let (bucket, prefix) = split_uri(uri)?;
        let take = |config: &mut Config, key: &str, envs: &[&str]| take(config, env, key, envs);
        let endpoint = take(&mut config, "endpoint_url", &["MLFLOW_S3_ENDPOINT_URL"])
            .map(|e| check_endpoint(&e))
            .transpose()?;
        let region = take(&mut config, "region", &["AWS_REGION", "AWS_DEFAULT_REGION"])
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        let ignore_tls = match take(&mut config, "ignore_tls", &["MLFLOW_S3_IGNORE_TLS"]) {
            Some(v) => parse_bool("ignore_tls (MLFLOW_S3_IGNORE_TLS)", &v)?,
            None => false,
        };
        let ca_bundle = take(&mut config, "ca_bundle", &["AWS_CA_BUNDLE"]);
        let unsigned = match take(
            &mut config,
            "signature_version",
            &["MLFLOW_EXPERIMENTAL_S3_SIGNATURE_VERSION"],
        ) {
            None => false,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "unsigned" => true,
                "s3v4" | "v4" | "" => false,
                other => {
                    return Err(invalid(format!(
                        "unsupported signature_version (MLFLOW_EXPERIMENTAL_S3_SIGNATURE_VERSION) {other:?}: \
                         expected s3v4 or unsigned"
                    )));
                }
            },
        };
        let addressing_style = match take(
            &mut config,
            "addressing_style",
            &["MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE"],
        ) {
            None => AddressingStyle::Auto,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "path" => AddressingStyle::Path,
                "virtual" => AddressingStyle::Virtual,
                "auto" | "" => AddressingStyle::Auto,
                other => {
                    return Err(invalid(format!(
                        "unsupported addressing_style (MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE) {other:?}: \
                         expected path, virtual or auto"
                    )));
                }
            },
        };
        let part_size = match take(
            &mut config,
            "multipart_chunk_size",
            &["MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE"],
        ) {
            None => DEFAULT_PART_SIZE,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (MIN_PART_SIZE..=MAX_PART_SIZE).contains(&n) => n,
                _ => {
                    return Err(invalid(format!(
                        "multipart_chunk_size (MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE) must be a number of bytes \
                         between {MIN_PART_SIZE} (5 MiB) and {MAX_PART_SIZE} (5 GiB), got {v:?}"
                    )));
                }
            },
        };
        let extra = match take(&mut config, "upload_extra_args", &["MLFLOW_S3_UPLOAD_EXTRA_ARGS"]) {
            Some(json) => ExtraArgs::parse(&json)?,
            None => ExtraArgs::default(),
        };
        let expected_bucket_owner = take(
            &mut config,
            "expected_bucket_owner",
            &["MLFLOW_S3_EXPECTED_BUCKET_OWNER"],
        )
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
        if let Some(owner) = &expected_bucket_owner
            && !owner.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(invalid(format!(
                "expected_bucket_owner (MLFLOW_S3_EXPECTED_BUCKET_OWNER) must be an account id, got {owner:?}"
            )));
        }
        let timeout = match take(&mut config, "timeout", &["MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT"]) {
            None => None,
            Some(v) => match v.trim().parse::<f64>() {
                Ok(secs) if secs > 0.0 && secs <= MAX_TIMEOUT_SECS => Some(Duration::from_secs_f64(secs)),
                _ => {
                    return Err(invalid(format!(
                        "timeout (MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT) must be a number of seconds above 0 \
                         and at most {MAX_TIMEOUT_SECS}, got {v:?}"
                    )));
                }
            },
        };
        let (credentials, profile) = crate::creds::select(&mut config, env, unsigned)?;
        config.finish()?;
        Ok(Self {
            bucket,
            prefix,
            endpoint,
            credentials,
            profile,
            region,
            profile_files: ProfileFiles::default(),
            ignore_tls,
            ca_bundle,
            addressing_style,
            part_size,
            sse: extra.sse,
            sse_kms_key_id: extra.sse_kms_key_id,
            attributes: extra.attributes,
            acl: extra.acl,
            sse_customer_key: extra.sse_customer_key,
            expected_bucket_owner,
            timeout,
        })
    }

    /// Fills in the region when none is set: the profile's (`region = …`
    /// in the config file), else `us-east-1`, as boto3 does. Only local
    /// files are read.
    pub async fn resolve_region(&mut self) {
        if self.region.is_none() {
            let region = crate::creds::profile_region(&self.profile, &self.profile_files).await;
            self.region = Some(region.unwrap_or_else(|| DEFAULT_REGION.to_owned()));
        }
    }

    /// Whether requests name the bucket in the host.
    pub fn virtual_hosted(&self) -> bool {
        match self.addressing_style {
            AddressingStyle::Path => false,
            AddressingStyle::Virtual => true,
            // boto3's `auto`: virtual on AWS when the bucket is a valid host
            // name label, path with a custom endpoint.
            AddressingStyle::Auto => self.endpoint.is_none() && !self.bucket.contains('.'),
        }
    }

    /// The attributes every write sets.
    pub fn object_attributes(&self) -> Attributes {
        let mut attrs = Attributes::new();
        for (k, v) in &self.attributes {
            let key = match k.as_str() {
                "ContentType" => Attribute::ContentType,
                "CacheControl" => Attribute::CacheControl,
                "ContentEncoding" => Attribute::ContentEncoding,
                "ContentDisposition" => Attribute::ContentDisposition,
                "ContentLanguage" => Attribute::ContentLanguage,
                "StorageClass" => Attribute::StorageClass,
                meta => Attribute::Metadata(meta.trim_start_matches("Metadata.").to_owned().into()),
            };
            attrs.insert(key, AttributeValue::from(v.clone()));
        }
        attrs
    }
}

/// Splits `s3://bucket/prefix` into the bucket and the prefix (no slashes at
/// either end).
fn split_uri(uri: &str) -> Result<(String, String)> {
    let rest = match uri.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("s3") => rest,
        _ => {
            return Err(Error::invalid_input(format!(
                "not an s3 uri: {uri} (expected s3://bucket/prefix)"
            )));
        }
    };
    // Like MLflow (`urlparse`), a query or fragment is not part of the key.
    let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::invalid_input(format!("s3 uri names no bucket: {uri}")));
    }
    if bucket.contains('@') {
        return Err(Error::invalid_input(format!(
            "s3 uri must not carry credentials: s3://{}/… (use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
            &bucket[bucket.rfind('@').map_or(0, |i| i + 1)..]
        )));
    }
    let prefix = prefix.trim_matches('/');
    if !prefix.is_empty() && Path::parse(prefix).is_err() {
        return Err(Error::invalid_input(format!(
            "s3 uri holds an invalid key prefix (empty, `.` or `..` segments, control characters): {uri}"
        )));
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

/// Checks that an endpoint URL is a server's base URL and returns it without
/// a trailing slash.
fn check_endpoint(endpoint: &str) -> Result<String> {
    let e = endpoint.trim();
    let Some((scheme, rest)) = e.split_once("://") else {
        return Err(invalid(format!(
            "MLFLOW_S3_ENDPOINT_URL must be a URL such as http://host:port, got {e:?}"
        )));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(invalid(format!(
            "MLFLOW_S3_ENDPOINT_URL must start with http:// or https://, got {e:?}"
        )));
    }
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, tail) = rest.split_at(host_end);
    if host.is_empty() || host.contains('@') {
        return Err(invalid(format!(
            "MLFLOW_S3_ENDPOINT_URL must name a host (and no credentials), got {scheme}://…"
        )));
    }
    if !tail.is_empty() && tail != "/" {
        return Err(invalid(format!(
            "MLFLOW_S3_ENDPOINT_URL must be the server's base URL, e.g. http://host:port, without a bucket or \
             path; put the bucket in the artifact URI (got {scheme}://{host}{tail})"
        )));
    }
    Ok(format!("{}://{host}", scheme.to_ascii_lowercase()))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
