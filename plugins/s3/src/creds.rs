//! Where the S3 client's credentials come from, as boto3 (and so MLflow)
//! finds them.
//!
//! Keys given in the store's configuration or in `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`) are static credentials.
//! Without them, aws-config's providers are asked in boto3's order: the
//! profile in the shared files (`~/.aws/credentials` and `~/.aws/config`, or
//! `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`; SSO, `role_arn`
//! and `credential_process` profiles included), a web identity token
//! (`AWS_WEB_IDENTITY_TOKEN_FILE`), the container endpoint (ECS, EKS pod
//! identity) and EC2 instance metadata. [`AwsChain`] bridges them into
//! object_store's [`CredentialProvider`]:
//!
//! - **Lazy**: nothing is looked up when a store is opened; the first
//!   request that needs a signature asks the chain, so opening a store (and
//!   `arca plugins list`) never waits on the network.
//! - **Bounded**: one lookup takes at most [`LOOKUP_TIMEOUT`].
//! - **Cached**: a credential is kept until [`REFRESH_BEFORE`] its expiry
//!   and then looked up again, one lookup at a time; if that fails while the
//!   old credential is still valid, the old one is used.
//! - **Clear when nothing is found**: an `Unauthenticated` error that says
//!   where it looked and why each place gave nothing, never a secret.

use crate::config::{Env, invalid};
use arca_core::{Config, Result};
use async_trait::async_trait;
use aws_config::Region;
use aws_config::ecs::EcsCredentialsProvider;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::meta::region::ProvideRegion;
use aws_config::profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider};
use aws_config::provider_config::ProviderConfig;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use object_store::CredentialProvider;
use object_store::aws::AwsCredential;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Mutex;

/// The longest one lookup through the chain may take.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long before its expiry a credential is looked up again.
pub const REFRESH_BEFORE: Duration = Duration::from_secs(300);
/// A credential that is already inside [`REFRESH_BEFORE`] when it arrives
/// is looked up again at most this often (until it expires).
const MIN_LOOKUP_INTERVAL: Duration = Duration::from_secs(30);

/// How requests are authenticated. `Debug` never shows a secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Keys from the configuration or the environment.
    Static {
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    },
    /// aws-config's providers, with the store's profile.
    Chain,
    /// `signature_version=unsigned`: anonymous requests.
    Anonymous,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static {
                access_key_id,
                session_token,
                ..
            } => f
                .debug_struct("Static")
                .field("access_key_id", access_key_id)
                .field("secret_access_key", &"<redacted>")
                .field("session_token", &session_token.as_ref().map(|_| "<redacted>"))
                .finish(),
            Self::Chain => f.write_str("Chain"),
            Self::Anonymous => f.write_str("Anonymous"),
        }
    }
}

/// The profile files to read: the default ones (which honour
/// `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`), or given ones.
#[derive(Clone, Debug, Default)]
pub struct ProfileFiles {
    credentials: Option<PathBuf>,
    config: Option<PathBuf>,
}

impl ProfileFiles {
    /// Exactly these two files (for tests: the process environment stays untouched).
    #[cfg(test)]
    pub fn exactly(credentials: PathBuf, config: PathBuf) -> Self {
        Self {
            credentials: Some(credentials),
            config: Some(config),
        }
    }

    fn env_config_files(&self) -> Option<EnvConfigFiles> {
        if self.credentials.is_none() && self.config.is_none() {
            return None;
        }
        let mut b = EnvConfigFiles::builder()
            .include_default_credentials_file(false)
            .include_default_config_file(false);
        if let Some(p) = &self.credentials {
            b = b.with_file(EnvConfigFileKind::Credentials, p);
        }
        if let Some(p) = &self.config {
            b = b.with_file(EnvConfigFileKind::Config, p);
        }
        Some(b.build())
    }

    /// How the files are named in messages.
    fn describe(&self) -> String {
        let name = |given: &Option<PathBuf>, env: &str, default: &str| match given {
            Some(p) => p.display().to_string(),
            None => match std::env::var(env) {
                Ok(v) if !v.trim().is_empty() => format!("{v} ({env})"),
                _ => default.to_owned(),
            },
        };
        format!(
            "{} and {}",
            name(&self.credentials, "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
            name(&self.config, "AWS_CONFIG_FILE", "~/.aws/config")
        )
    }
}

/// The region of the profile (`region = …` in the config file), if any.
/// Only local files are read.
pub async fn profile_region(profile: &str, files: &ProfileFiles) -> Option<String> {
    let mut b = ProfileFileRegionProvider::builder()
        .configure(&ProviderConfig::without_region())
        .profile_name(profile);
    if let Some(f) = files.env_config_files() {
        b = b.profile_files(f);
    }
    b.build().region().await.map(|r| r.to_string())
}

/// The providers a chain asks, in order, each with how it is described
/// when it gives nothing.
type Sources = Vec<(String, Box<dyn ProvideCredentials>)>;

/// aws-config's credential providers as an object_store
/// [`CredentialProvider`] (see the module docs).
pub struct AwsChain {
    /// Names the store in error messages.
    bucket: String,
    profile: String,
    region: String,
    files: ProfileFiles,
    /// Only the profile is asked (tests: no network, no process environment).
    profile_only: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Built at the first lookup.
    sources: Option<Sources>,
    cached: Option<Cached>,
}

struct Cached {
    credential: Arc<AwsCredential>,
    expires: Option<SystemTime>,
    fetched: Instant,
}

impl Cached {
    /// Whether the credential can be used without looking again.
    fn fresh(&self) -> bool {
        let Some(expires) = self.expires else {
            return true;
        };
        let now = SystemTime::now();
        expires > now + REFRESH_BEFORE || (self.fetched.elapsed() < MIN_LOOKUP_INTERVAL && expires > now)
    }

    fn expired(&self) -> bool {
        self.expires.is_some_and(|e| e <= SystemTime::now())
    }
}

impl fmt::Debug for AwsChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsChain")
            .field("bucket", &self.bucket)
            .field("profile", &self.profile)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl AwsChain {
    /// A chain for `bucket` with `profile` whose STS and SSO calls go to
    /// `region`. Nothing is read yet.
    pub fn new(bucket: &str, profile: &str, region: &str, files: ProfileFiles) -> Self {
        Self {
            bucket: bucket.to_owned(),
            profile: profile.to_owned(),
            region: region.to_owned(),
            files,
            profile_only: false,
            state: Mutex::new(State::default()),
        }
    }

    /// A chain that asks the profile files only.
    #[cfg(test)]
    pub fn profile_only(bucket: &str, profile: &str, files: ProfileFiles) -> Self {
        Self {
            profile_only: true,
            ..Self::new(bucket, profile, "us-east-1", files)
        }
    }

    fn sources(&self) -> Sources {
        let conf = ProviderConfig::without_region().with_region(Some(Region::new(self.region.clone())));
        let mut profile = ProfileFileCredentialsProvider::builder()
            .configure(&conf)
            .profile_name(&self.profile);
        if let Some(f) = self.files.env_config_files() {
            profile = profile.profile_files(f);
        }
        let mut sources: Sources = vec![(
            format!("profile {:?} in {}", self.profile, self.files.describe()),
            Box::new(profile.build()),
        )];
        if self.profile_only {
            return sources;
        }
        sources.push((
            "web identity (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)".to_owned(),
            Box::new(WebIdentityTokenCredentialsProvider::builder().configure(&conf).build()),
        ));
        sources.push((
            "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI)".to_owned(),
            Box::new(EcsCredentialsProvider::builder().configure(&conf).build()),
        ));
        sources.push((
            "EC2 instance metadata".to_owned(),
            Box::new(ImdsCredentialsProvider::builder().configure(&conf).build()),
        ));
        sources
    }

    /// Asks each source in turn: the first credential wins; a source that
    /// is not set up passes to the next; any other failure (a profile that
    /// is set up but broken, a refused role) stops the lookup, as in boto3.
    async fn lookup(&self, sources: &Sources) -> object_store::Result<Cached> {
        let mut passed = Vec::new();
        for (name, source) in sources {
            match source.provide_credentials().await {
                Ok(c) => {
                    return Ok(Cached {
                        credential: Arc::new(AwsCredential {
                            key_id: c.access_key_id().to_owned(),
                            secret_key: c.secret_access_key().to_owned(),
                            token: c.session_token().map(str::to_owned),
                        }),
                        expires: c.expiry(),
                        fetched: Instant::now(),
                    });
                }
                Err(e @ CredentialsError::CredentialsNotLoaded(_)) => passed.push(format!("{name}: {}", reason(&e))),
                Err(e) => {
                    return Err(self.unauthenticated(format!("cannot get AWS credentials from {name}: {}", reason(&e))));
                }
            }
        }
        Err(self.unauthenticated(format!(
            "no AWS credentials found; looked for access_key_id and secret_access_key in the store's \
             configuration, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, then {}. \
             Set one of them up, or set signature_version=unsigned \
             (MLFLOW_EXPERIMENTAL_S3_SIGNATURE_VERSION) for anonymous access",
            passed.join("; ")
        )))
    }

    fn unauthenticated(&self, message: String) -> object_store::Error {
        object_store::Error::Unauthenticated {
            path: format!("s3://{}", self.bucket),
            source: message.into(),
        }
    }
}

/// An error and its sources on one line (aws-config's top-level messages
/// are generic; the cause is in the sources). None of them carries a secret.
fn reason(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ").replace('\n', " ")
}

#[async_trait]
impl CredentialProvider for AwsChain {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        // One lookup at a time: requests that arrive meanwhile wait for it.
        let mut state = self.state.lock().await;
        if let Some(c) = &state.cached
            && c.fresh()
        {
            return Ok(c.credential.clone());
        }
        let sources = match state.sources.take() {
            Some(s) => s,
            None => self.sources(),
        };
        let looked = tokio::time::timeout(LOOKUP_TIMEOUT, self.lookup(&sources)).await;
        state.sources = Some(sources);
        let looked = looked.unwrap_or_else(|_| {
            Err(self.unauthenticated(format!(
                "no AWS credentials within {} s (profile {:?}, web identity, container and instance \
                 metadata were asked); check the network path to the credential source",
                LOOKUP_TIMEOUT.as_secs(),
                self.profile
            )))
        });
        match looked {
            Ok(c) => {
                let credential = c.credential.clone();
                state.cached = Some(c);
                Ok(credential)
            }
            // A failed refresh does not throw away a credential that still works.
            Err(e) => match &state.cached {
                Some(c) if !c.expired() => Ok(c.credential.clone()),
                _ => Err(e),
            },
        }
    }
}

/// Picks the credentials as boto3 does: keys (each half from the
/// configuration, else the environment), except that a profile named in the
/// configuration wins over keys in the environment; without keys, the
/// provider chain with the profile (`profile`, `AWS_PROFILE` or `default`).
/// Returns them with the profile name.
pub(crate) fn select(config: &mut Config, env: Env<'_>, unsigned: bool) -> Result<(Credentials, String)> {
    let nonempty = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let map_key = nonempty(config.take("access_key_id"));
    let map_secret = nonempty(config.take("secret_access_key"));
    let map_token = nonempty(config.take("session_token"));
    let map_profile = nonempty(config.take("profile")).map(|p| p.trim().to_owned());
    let profile = map_profile
        .clone()
        .or_else(|| nonempty(env("AWS_PROFILE")).map(|p| p.trim().to_owned()))
        .unwrap_or_else(|| "default".to_owned());
    if unsigned {
        return Ok((Credentials::Anonymous, profile));
    }
    if map_profile.is_some() && map_key.is_none() && map_secret.is_none() {
        return Ok((Credentials::Chain, profile));
    }
    // Each half may come from either place (say, the key id in a manifest
    // and the secret in the environment).
    // The token belongs with the key id: the environment's only goes with
    // the environment's key id.
    let token = match &map_key {
        Some(_) => map_token,
        None => map_token.or_else(|| nonempty(env("AWS_SESSION_TOKEN"))),
    };
    let key = map_key.or_else(|| nonempty(env("AWS_ACCESS_KEY_ID")));
    let secret = map_secret.or_else(|| nonempty(env("AWS_SECRET_ACCESS_KEY")));
    let credentials = match (key, secret) {
        (Some(access_key_id), Some(secret_access_key)) => Credentials::Static {
            access_key_id: access_key_id.trim().to_owned(),
            secret_access_key: secret_access_key.trim().to_owned(),
            session_token: token.map(|t| t.trim().to_owned()),
        },
        // A session token alone is ignored, as boto3 does.
        (None, None) => Credentials::Chain,
        (Some(_), None) => {
            return Err(invalid(
                "access_key_id (AWS_ACCESS_KEY_ID) is set but secret_access_key (AWS_SECRET_ACCESS_KEY) \
                 is not, in the store's configuration or the environment: set both, or neither to use a profile",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "secret_access_key (AWS_SECRET_ACCESS_KEY) is set but access_key_id (AWS_ACCESS_KEY_ID) \
                 is not, in the store's configuration or the environment: set both, or neither to use a profile",
            ));
        }
    };
    Ok((credentials, profile))
}

#[cfg(test)]
#[path = "creds_tests.rs"]
mod tests;
