//! [`GcsStore`]: the [`Store`] implementation. Reads, writes, listings and
//! deletes are `arca-objstore`'s over object_store's GCS client (the XML
//! API); what is GCS's own is here: the client's construction, and
//! multipart uploads and downloads through V4-signed URLs.

use crate::config::{CredentialSource, DEFAULT_ENDPOINT, GcsConfig};
use crate::error::gcs_error;
use crate::sign::{Signer, strict_encode};
use arca_core::{
    ArtifactPath, ByteRange, CompletedPart, Error, FileInfo, ListPage, MultipartUpload, PresignedPart, PresignedUrl,
    Result, Store,
};
use arca_objstore::parts::Plan;
use arca_objstore::settings::invalid;
use arca_objstore::writer::WriteOptions;
use arca_objstore::{Bucket, ObjectReader, ObjectWriter, lister, reader, root_is_a_directory, writer};
use object_store::gcp::{GcpCredential, GoogleCloudStorage, GoogleCloudStorageBuilder};
use object_store::multipart::{MultipartStore, PartId};
use object_store::signer::{Method, SignedUrlOptions, Signer as _};
use object_store::{ClientOptions, RetryConfig, StaticCredentialProvider};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long a presigned part URL stays valid (MLflow's: one hour).
const PRESIGN_EXPIRY: Duration = Duration::from_secs(3600);
/// The longest validity V4 allows (7 days).
const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The most parts the XML API accepts in one upload.
const MAX_PARTS: u32 = 10_000;

/// A store over one prefix of one bucket.
#[derive(Clone, Debug)]
pub struct GcsStore {
    shared: Arc<Shared>,
}

/// How URLs are signed.
#[derive(Debug)]
enum Signing {
    /// With the service account's key, for the endpoint in use.
    Key(Signer),
    /// By object_store (IAM `signBlob` for metadata-server credentials),
    /// valid only on the public endpoint.
    Service,
    /// Not possible; the reason.
    No(&'static str),
}

#[derive(Debug)]
struct Shared {
    client: GoogleCloudStorage,
    objects: Arc<Bucket>,
    write_options: Arc<WriteOptions>,
    endpoint: String,
    signing: Signing,
}

impl GcsStore {
    /// Builds the client; nothing is sent until the first operation.
    pub fn open(config: GcsConfig) -> Result<Self> {
        for w in &config.warnings {
            eprintln!("warning: {w}");
        }
        arca_objstore::log::debug(
            "arca_plugin_gcs",
            &format!(
                "gs://{} uses {:?} at {}",
                config.bucket, config.credentials, config.endpoint
            ),
        );
        let client = build(&config)?;
        let signing = match &config.credentials {
            CredentialSource::ServiceAccount(path) => Signing::Key(Signer::from_file(path)?),
            CredentialSource::Anonymous => Signing::No("the store has no credentials"),
            _ if config.endpoint == DEFAULT_ENDPOINT => Signing::Service,
            _ => Signing::No("URLs for an endpoint other than storage.googleapis.com need a service-account key file"),
        };
        let objects = Arc::new(Bucket {
            plan: Plan::with_part(config.download_chunk as u64),
            ..Bucket::new(
                client.clone(),
                crate::SCHEME,
                config.bucket.clone(),
                config.prefix.clone(),
                gcs_error,
            )
        });
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                objects,
                write_options: Arc::new(WriteOptions {
                    part_size: config.part_size,
                    attributes: object_store::Attributes::new(),
                }),
                endpoint: config.endpoint,
                signing,
            }),
        })
    }
}

/// object_store's GCS client for `config`. Its own retries are off:
/// retrying is the host's policy.
fn build(config: &GcsConfig) -> Result<GoogleCloudStorage> {
    let mut options = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(10))
        .with_allow_http(config.endpoint.starts_with("http://"));
    options = match config.timeout {
        Some(t) => options.with_timeout(t),
        None => options.with_timeout_disabled(),
    };
    let mut b = GoogleCloudStorageBuilder::new()
        .with_bucket_name(&config.bucket)
        .with_retry(RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        })
        .with_client_options(options);
    if config.endpoint != DEFAULT_ENDPOINT {
        b = b.with_base_url(&config.endpoint);
    }
    b = match &config.credentials {
        CredentialSource::ServiceAccount(p) => b.with_service_account_path(p.display().to_string()),
        CredentialSource::AuthorizedUser(p) => b.with_application_credentials(p.display().to_string()),
        // object_store looks for gcloud's application-default file, then
        // asks the metadata server.
        CredentialSource::Default => b,
        // An empty bearer token sends no Authorization header.
        CredentialSource::Anonymous => b.with_credentials(Arc::new(StaticCredentialProvider::new(GcpCredential {
            bearer: String::new(),
        }))),
    };
    b.build()
        .map_err(|e| invalid(format!("invalid gcs configuration for gs://{}: {e}", config.bucket)))
}

impl Shared {
    fn location(&self, path: &ArtifactPath) -> Result<(String, object_store::path::Path)> {
        let key = self.objects.key(path);
        let location = self.objects.location(&key)?;
        Ok((key, location))
    }

    /// A signed URL for `method` on `key`, with `extra` query parameters.
    async fn sign(
        &self,
        method: Method,
        key: &str,
        location: &object_store::path::Path,
        extra: &[(&str, &str)],
        ttl: Duration,
    ) -> Result<String> {
        match &self.signing {
            Signing::Key(signer) => {
                let encoded: Vec<String> = key.split('/').map(strict_encode).collect();
                let url = format!(
                    "{}/{}/{}",
                    self.endpoint,
                    strict_encode(&self.objects.bucket),
                    encoded.join("/")
                );
                signer.sign(method.as_str(), &url, extra, ttl, SystemTime::now())
            }
            Signing::Service => {
                let opts = SignedUrlOptions::default()
                    .with_query(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
                self.client
                    .signed_url_opts(method, location, ttl, &opts)
                    .await
                    .map(|u| u.to_string())
                    .map_err(|e| self.objects.error("sign a URL for", key, e))
            }
            Signing::No(why) => Err(Error::unsupported(format!(
                "cannot sign a URL for {}: {why} (upload through the server instead)",
                self.objects.url(key)
            ))),
        }
    }

    async fn multipart_create(&self, path: &ArtifactPath, num_parts: u32) -> Result<MultipartUpload> {
        if path.is_root() {
            return Err(root_is_a_directory("upload to"));
        }
        if num_parts == 0 || num_parts > MAX_PARTS {
            return Err(Error::invalid_input(format!(
                "a multipart upload has 1 to {MAX_PARTS} parts, {num_parts} asked"
            )));
        }
        let (key, location) = self.location(path)?;
        if let Signing::No(why) = &self.signing {
            return Err(Error::unsupported(format!(
                "cannot start a multipart upload of {}: {why} (upload through the server instead)",
                self.objects.url(&key)
            )));
        }
        let upload_id = self
            .client
            .create_multipart(&location)
            .await
            .map_err(|e| self.objects.error("start a multipart upload of", &key, e))?;
        let mut parts = Vec::with_capacity(num_parts as usize);
        for part_number in 1..=num_parts {
            let n = part_number.to_string();
            let extra = [("partNumber", n.as_str()), ("uploadId", upload_id.as_str())];
            match self.sign(Method::PUT, &key, &location, &extra, PRESIGN_EXPIRY).await {
                Ok(url) => parts.push(PresignedPart {
                    part_number,
                    url,
                    headers: Vec::new(),
                }),
                Err(e) => {
                    // Nothing was handed out: the upload is useless.
                    let _ = self.client.abort_multipart(&location, &upload_id).await;
                    return Err(e);
                }
            }
        }
        Ok(MultipartUpload { upload_id, parts })
    }

    async fn multipart_complete(&self, path: &ArtifactPath, upload_id: &str, parts: &[CompletedPart]) -> Result<()> {
        let (key, location) = self.location(path)?;
        let mut sorted: Vec<&CompletedPart> = parts.iter().collect();
        sorted.sort_by_key(|p| p.part_number);
        // object_store numbers parts by their position: they must be 1..=n.
        if sorted.is_empty() || sorted.iter().enumerate().any(|(i, p)| p.part_number as usize != i + 1) {
            return Err(Error::invalid_input(format!(
                "the parts of the upload of {} must be numbered 1 to n without gaps",
                self.objects.url(&key)
            )));
        }
        let ids = sorted
            .into_iter()
            .map(|p| PartId {
                content_id: p.etag.clone(),
            })
            .collect();
        self.client
            .complete_multipart(&location, &upload_id.to_owned(), ids)
            .await
            .map(drop)
            .map_err(|e| self.objects.error("complete the multipart upload of", &key, e))
    }

    async fn multipart_abort(&self, path: &ArtifactPath, upload_id: &str) -> Result<()> {
        let (key, location) = self.location(path)?;
        match self.client.abort_multipart(&location, &upload_id.to_owned()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.objects.error("abort the multipart upload of", &key, e)),
        }
    }
}

impl Store for GcsStore {
    type Reader = ObjectReader;
    type Writer = ObjectWriter;

    async fn stat(&self, path: &ArtifactPath) -> Result<FileInfo> {
        self.shared.objects.stat(path).await
    }

    async fn list(&self, path: &ArtifactPath, token: Option<&str>, page_size: usize) -> Result<ListPage> {
        lister::list(&self.shared.objects, path, token, page_size).await
    }

    async fn read(&self, path: &ArtifactPath, range: Option<ByteRange>) -> Result<ObjectReader> {
        reader::open(&self.shared.objects, path, range).await
    }

    async fn write(&self, path: &ArtifactPath) -> Result<ObjectWriter> {
        writer::open(self.shared.objects.clone(), self.shared.write_options.clone(), path)
    }

    async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        self.shared.objects.delete_tree(path).await
    }

    async fn multipart_create(&self, path: &ArtifactPath, num_parts: u32) -> Result<MultipartUpload> {
        self.shared.multipart_create(path, num_parts).await
    }

    async fn multipart_complete(&self, path: &ArtifactPath, upload_id: &str, parts: &[CompletedPart]) -> Result<()> {
        self.shared.multipart_complete(path, upload_id, parts).await
    }

    async fn multipart_abort(&self, path: &ArtifactPath, upload_id: &str) -> Result<()> {
        self.shared.multipart_abort(path, upload_id).await
    }

    async fn presign_read(&self, path: &ArtifactPath, ttl: Duration) -> Result<PresignedUrl> {
        if path.is_root() {
            return Err(root_is_a_directory("presign"));
        }
        let (key, location) = self.shared.location(path)?;
        let ttl = ttl.clamp(Duration::from_secs(1), MAX_TTL);
        let url = self.shared.sign(Method::GET, &key, &location, &[], ttl).await?;
        Ok(PresignedUrl {
            url,
            headers: Vec::new(),
        })
    }
}
