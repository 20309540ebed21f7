//! [`AzureStore`]: the [`Store`] implementation. Reads, writes, listings
//! and deletes are `arca-objstore`'s over object_store's Azure client;
//! what is Azure's own is here: the client's construction, and multipart
//! uploads as presigned Put Block URLs committed by one Put Block List.

use crate::config::{AzureConfig, Credential, invalid};
use crate::error::azure_error;
use arca_core::{
    ArtifactPath, ByteRange, CompletedPart, Error, FileInfo, ListPage, MultipartUpload, PresignedPart, PresignedUrl,
    Result, Store,
};
use arca_objstore::writer::WriteOptions;
use arca_objstore::{Bucket, ObjectReader, ObjectWriter, lister, reader, root_is_a_directory, writer};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use object_store::azure::{AzureConfigKey, MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::multipart::{MultipartStore, PartId};
use object_store::signer::{Method, Signer};
use object_store::{Certificate, ClientOptions, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

/// How long a presigned Put Block URL stays valid (MLflow's: one hour).
const PRESIGN_EXPIRY: Duration = Duration::from_secs(3600);
/// The longest a presigned download is given.
const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The most blocks Azure accepts in one blob.
pub const MAX_BLOCKS: u32 = 50_000;

/// The raw block id of part `n`. Azure requires every block id of a blob to
/// have one length, so the number is zero-padded (MLflow's own
/// `mlflow_block_{i}` ids break at part 10).
pub fn block_id(part_number: u32) -> String {
    format!("arca-block-{part_number:06}")
}

/// A store over one prefix of one container.
#[derive(Clone, Debug)]
pub struct AzureStore {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    client: MicrosoftAzure,
    objects: Arc<Bucket>,
    write_options: Arc<WriteOptions>,
    /// Whether the credential can sign SAS URLs (an account key or a token).
    can_sign: bool,
}

impl AzureStore {
    /// Builds the client; nothing is sent until the first operation.
    pub fn open(config: AzureConfig) -> Result<Self> {
        arca_objstore::log::debug(
            "arca_plugin_azure",
            &format!(
                "{} uses {} at {} (account {})",
                config.bucket_name(),
                config.credential_source,
                config.endpoint,
                config.account
            ),
        );
        let client = build(&config)?;
        let objects = Arc::new(Bucket {
            single_delete: crate::sas_delete::deleter(&config)?,
            ..Bucket::new(
                client.clone(),
                config.scheme,
                config.bucket_name(),
                config.prefix.clone(),
                azure_error,
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
                can_sign: matches!(config.credential, Credential::AccessKey(_) | Credential::Chain),
            }),
        })
    }
}

/// The HTTP settings of every request a store sends.
pub(crate) fn client_options(config: &AzureConfig) -> Result<ClientOptions> {
    let mut options = ClientOptions::new()
        .with_timeout(config.timeout)
        .with_connect_timeout(Duration::from_secs(10).min(config.timeout))
        .with_allow_invalid_certificates(config.ignore_tls)
        .with_allow_http(config.endpoint.starts_with("http://"));
    if let Some(path) = &config.ca_bundle {
        let pem = std::fs::read(path).map_err(|e| invalid(format!("cannot read ca_bundle {path}: {e}")))?;
        let certs = Certificate::from_pem_bundle(&pem)
            .map_err(|e| invalid(format!("ca_bundle {path} is not a PEM bundle: {e}")))?;
        for cert in certs {
            options = options.with_root_certificate(cert);
        }
    }
    Ok(options)
}

/// object_store's Azure client for `config`. Its own retries are off:
/// retrying is the host's policy.
fn build(config: &AzureConfig) -> Result<MicrosoftAzure> {
    let options = client_options(config)?;
    let mut b = match config.credential {
        // The chain reads its own variables (AZURE_CLIENT_ID, …).
        Credential::Chain => MicrosoftAzureBuilder::from_env(),
        _ => MicrosoftAzureBuilder::new(),
    };
    b = b
        .with_account(&config.account)
        .with_container_name(&config.container)
        .with_endpoint(config.endpoint.clone())
        .with_retry(RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        })
        .with_client_options(options);
    b = match &config.credential {
        Credential::AccessKey(key) => b.with_access_key(key),
        Credential::Sas(token) => b.with_config(AzureConfigKey::SasKey, token),
        Credential::Anonymous => b.with_skip_signature(true),
        Credential::Chain => b.with_use_azure_cli(config.use_azure_cli),
    };
    // The error names a setting, never a secret's value.
    b.build().map_err(|e| {
        invalid(format!(
            "invalid azure configuration for {}: {}",
            config.bucket_name(),
            crate::error::redact_queries(&e.to_string())
        ))
    })
}

impl Shared {
    fn location(&self, path: &ArtifactPath) -> Result<(String, object_store::path::Path)> {
        let key = self.objects.key(path);
        let location = self.objects.location(&key)?;
        Ok((key, location))
    }

    /// Hands out one presigned Put Block URL per part: the blob's SAS
    /// (write permission, one hour) with `comp=block&blockid=<id>` after it.
    /// Nothing is created on the service until the first part arrives;
    /// there is no upload id (MLflow's Azure uploads have none either).
    async fn multipart_create(&self, path: &ArtifactPath, num_parts: u32) -> Result<MultipartUpload> {
        if path.is_root() {
            return Err(root_is_a_directory("upload to"));
        }
        if num_parts == 0 || num_parts > MAX_BLOCKS {
            return Err(Error::invalid_input(format!(
                "a multipart upload has 1 to {MAX_BLOCKS} parts, {num_parts} asked"
            )));
        }
        let (key, location) = self.location(path)?;
        if !self.can_sign {
            return Err(Error::unsupported(format!(
                "cannot start a multipart upload of {}: presigned part URLs need an account key or a token \
                 credential, and this store uses a SAS token or none (upload through the server instead)",
                self.objects.url(&key)
            )));
        }
        let base = self
            .client
            .signed_url(Method::PUT, &location, PRESIGN_EXPIRY)
            .await
            .map_err(|e| self.objects.error("presign a part of", &key, e))?;
        let parts = (1..=num_parts)
            .map(|part_number| {
                let mut url = base.clone();
                url.query_pairs_mut()
                    .append_pair("comp", "block")
                    .append_pair("blockid", &BASE64.encode(block_id(part_number)));
                PresignedPart {
                    part_number,
                    url: url.to_string(),
                    headers: Vec::new(),
                }
            })
            .collect();
        Ok(MultipartUpload {
            upload_id: String::new(),
            parts,
        })
    }

    /// Commits the blocks of `parts`, in part order, as the blob's content.
    /// Each block id is read back from the part's URL, as MLflow does, and
    /// must be the one handed out for its part number (a part without a
    /// URL gets that one).
    async fn multipart_complete(&self, path: &ArtifactPath, parts: &[CompletedPart]) -> Result<()> {
        let (key, location) = self.location(path)?;
        let mut sorted: Vec<&CompletedPart> = parts.iter().collect();
        sorted.sort_by_key(|p| p.part_number);
        if sorted.is_empty() || sorted.windows(2).any(|w| w[0].part_number == w[1].part_number) {
            return Err(Error::invalid_input(format!(
                "the upload of {} needs its parts, each part number once",
                self.objects.url(&key)
            )));
        }
        let mut ids = Vec::with_capacity(sorted.len());
        for p in sorted {
            let expected = block_id(p.part_number);
            if !p.url.is_empty() {
                let found = block_id_in(&p.url);
                if found.as_deref() != Some(expected.as_str()) {
                    return Err(Error::invalid_input(format!(
                        "part {} of the upload of {} was not uploaded to the URL handed out for it",
                        p.part_number,
                        self.objects.url(&key)
                    )));
                }
            }
            ids.push(PartId { content_id: expected });
        }
        self.client
            .complete_multipart(&location, &String::new(), ids)
            .await
            .map(drop)
            .map_err(|e| self.objects.error("complete the multipart upload of", &key, e))
    }
}

/// The raw block id in a Put Block URL's `blockid` parameter.
fn block_id_in(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let (_, encoded) = url.query_pairs().find(|(k, _)| k == "blockid")?;
    let raw = BASE64.decode(encoded.as_bytes()).ok()?;
    String::from_utf8(raw).ok()
}

impl Store for AzureStore {
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

    /// Deletes the blob and everything under `path/`; nothing there is
    /// success (MLflow's repository raises, which breaks `mlflow gc`).
    async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        self.shared.objects.delete_tree(path).await
    }

    async fn multipart_create(&self, path: &ArtifactPath, num_parts: u32) -> Result<MultipartUpload> {
        self.shared.multipart_create(path, num_parts).await
    }

    async fn multipart_complete(&self, path: &ArtifactPath, upload_id: &str, parts: &[CompletedPart]) -> Result<()> {
        let _ = upload_id;
        self.shared.multipart_complete(path, parts).await
    }

    /// Uncommitted blocks cost nothing visible and Azure drops them after
    /// a week; there is nothing to abort (as in MLflow).
    async fn multipart_abort(&self, path: &ArtifactPath, upload_id: &str) -> Result<()> {
        let _ = (path, upload_id);
        Ok(())
    }

    async fn presign_read(&self, path: &ArtifactPath, ttl: Duration) -> Result<PresignedUrl> {
        if path.is_root() {
            return Err(root_is_a_directory("presign"));
        }
        let (key, location) = self.shared.location(path)?;
        if !self.shared.can_sign {
            return Err(Error::unsupported(format!(
                "cannot presign a download of {}: SAS URLs need an account key or a token credential",
                self.shared.objects.url(&key)
            )));
        }
        let url = self
            .shared
            .client
            .signed_url(Method::GET, &location, ttl.clamp(Duration::from_secs(1), MAX_TTL))
            .await
            .map_err(|e| self.shared.objects.error("presign a download of", &key, e))?;
        Ok(PresignedUrl {
            url: url.to_string(),
            headers: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ids_have_one_width_and_come_back_from_urls() {
        let ids: Vec<String> = [1, 9, 10, 12, 999, MAX_BLOCKS].iter().map(|n| block_id(*n)).collect();
        assert!(ids.iter().all(|id| id.len() == ids[0].len()), "{ids:?}");
        let encoded = BASE64.encode(block_id(12));
        let mut url = url::Url::parse("http://h/a/c/k?sv=1&sig=x").unwrap_or_else(|e| panic!("{e}"));
        url.query_pairs_mut()
            .append_pair("comp", "block")
            .append_pair("blockid", &encoded);
        assert_eq!(block_id_in(url.as_str()).as_deref(), Some("arca-block-000012"));
        assert_eq!(block_id_in("http://h/a/c/k?comp=block"), None);
    }
}
