//! [`S3Store`]: the [`Store`] implementation, and the one place that maps an
//! [`ArtifactPath`] onto an object key.

use crate::config::S3Config;
use crate::error::s3_error;
use crate::raw::Raw;
use arca_core::{
    ArtifactPath, ByteRange, CompletedPart, Error, ErrorKind, FileInfo, ListPage, MultipartUpload, PresignedPart,
    PresignedUrl, Result, Store,
};
use arca_objstore::writer::WriteOptions;
use arca_objstore::{Bucket, ObjectReader, ObjectWriter, lister, reader, writer};
use futures_util::StreamExt;
use object_store::aws::AmazonS3;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::signer::{HeaderName, HeaderValue, Method, SignedUrlOptions, Signer};
use object_store::{ObjectStore, ObjectStoreExt, PutMultipartOptions};
use std::sync::Arc;
use std::time::Duration;

/// How long a presigned part URL stays valid (boto3's default).
const PRESIGN_EXPIRY: Duration = Duration::from_secs(3600);
/// The most listing pages one delete goes through.
const MAX_DELETE_PAGES: usize = 10_000;
/// The most parts S3 accepts in one upload.
const MAX_PARTS: u32 = 10_000;

/// A store over one prefix of one bucket.
#[derive(Clone, Debug)]
pub struct S3Store {
    shared: Arc<Shared>,
}

/// What every operation needs.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) client: AmazonS3,
    /// The same client as the shared reader, writer and lister see it.
    pub(crate) objects: Arc<Bucket>,
    pub(crate) write_options: Arc<WriteOptions>,
    /// Requests on exact keys (directory markers).
    pub(crate) raw: Raw,
    pub(crate) bucket: String,
    /// Headers a presigned part upload must carry (SSE-C, expected owner).
    pub(crate) part_headers: Vec<(HeaderName, HeaderValue)>,
}

impl S3Store {
    /// Builds the client; nothing is sent until the first operation.
    pub fn open(config: S3Config) -> Result<Self> {
        let clients = config.clients()?;
        let objects = Arc::new(Bucket::new(
            clients.s3.clone(),
            crate::SCHEME,
            config.bucket.clone(),
            config.prefix.clone(),
            s3_error,
        ));
        let write_options = Arc::new(WriteOptions {
            part_size: config.part_size,
            attributes: config.object_attributes(),
        });
        Ok(Self {
            shared: Arc::new(Shared {
                client: clients.s3,
                objects,
                write_options,
                raw: clients.raw,
                part_headers: clients.part_headers,
                bucket: config.bucket,
            }),
        })
    }
}

impl Shared {
    /// The object key of `path` (empty for the root of a bucket-wide store).
    pub(crate) fn key(&self, path: &ArtifactPath) -> String {
        self.objects.key(path)
    }

    /// The key prefix of everything under `path` (ends with `/`, or is
    /// empty for the root of a bucket-wide store).
    pub(crate) fn dir_prefix(&self, path: &ArtifactPath) -> String {
        self.objects.dir_prefix(path)
    }

    /// The headers a client of a presigned URL must send (SSE-C, expected
    /// bucket owner), as text.
    pub(crate) fn client_headers(&self) -> Vec<(String, String)> {
        self.part_headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect()
    }

    /// The object_store path of `key`, verbatim (no percent-encoding, so keys
    /// are the ones MLflow's boto3 client uses).
    pub(crate) fn location(&self, key: &str) -> Result<Path> {
        self.objects.location(key)
    }

    pub(crate) fn error(&self, action: &str, key: &str, e: object_store::Error) -> Error {
        s3_error(action, &self.bucket, key, e)
    }

    /// Deletes the key of `path` and every key under `path/` (never keys that
    /// merely start with the same string), directory markers (`dir/` keys)
    /// included.
    async fn delete(&self, path: &ArtifactPath) -> Result<()> {
        let key = self.key(path);
        if !path.is_root() {
            match self.client.delete(&self.location(&key)?).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error("delete", &key, e)),
            }
        }
        // The prefix ends with `/`, so `run1` never reaches `run10/`. The
        // listing gives keys exactly as stored: object_store's own drops the
        // `/` of a marker, which then could not be deleted.
        let prefix = self.dir_prefix(path);
        let mut token: Option<String> = None;
        // At most 10,000 pages of 1,000 keys per call; the host can call again.
        for _ in 0..MAX_DELETE_PAGES {
            let (keys, next) = self.raw.page(&prefix, token.as_deref()).await?;
            let (mut plain, mut odd) = (Vec::new(), Vec::new());
            for k in keys {
                match Path::parse(&k) {
                    Ok(location) if location.as_ref() == k => plain.push(Ok(location)),
                    _ => odd.push(k),
                }
            }
            let mut deleted = self.client.delete_stream(futures_util::stream::iter(plain).boxed());
            while let Some(r) = deleted.next().await {
                match r {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(self.error("delete", &key, e)),
                }
            }
            for k in &odd {
                self.raw.delete(k).await?;
            }
            match next {
                Some(t) => token = Some(t),
                None => return Ok(()),
            }
        }
        Err(Error::new(
            ErrorKind::UNAVAILABLE,
            format!(
                "s3://{}/{prefix} still had keys after {MAX_DELETE_PAGES} pages; delete it again",
                self.bucket
            ),
        )
        .temporary())
    }

    async fn multipart_create(&self, path: &ArtifactPath, num_parts: u32) -> Result<MultipartUpload> {
        if path.is_root() {
            return Err(Error::new(
                ErrorKind::IS_A_DIRECTORY,
                "cannot upload to the store root: it is a directory",
            ));
        }
        if num_parts == 0 || num_parts > MAX_PARTS {
            return Err(Error::invalid_input(format!(
                "a multipart upload has 1 to {MAX_PARTS} parts, {num_parts} asked"
            )));
        }
        let key = self.key(path);
        let location = self.location(&key)?;
        let opts = PutMultipartOptions {
            attributes: self.write_options.attributes.clone(),
            ..PutMultipartOptions::default()
        };
        let upload_id = self
            .client
            .create_multipart_opts(&location, opts)
            .await
            .map_err(|e| self.error("start a multipart upload of", &key, e))?;
        // The client must send these headers with each part; the signature
        // covers them, so they cannot be dropped or changed.
        let headers = self.client_headers();
        let mut parts = Vec::with_capacity(num_parts as usize);
        for part_number in 1..=num_parts {
            let mut opts = SignedUrlOptions::default()
                .with_query([("partNumber", part_number.to_string()), ("uploadId", upload_id.clone())]);
            for (k, v) in &self.part_headers {
                opts = opts.with_signed_header(k.clone(), v.clone());
            }
            let signed = self
                .client
                .signed_url_opts(Method::PUT, &location, PRESIGN_EXPIRY, &opts)
                .await;
            let url = match signed {
                Ok(url) => url,
                Err(e) => {
                    // Nothing was handed out: the upload is useless.
                    let _ = self.client.abort_multipart(&location, &upload_id).await;
                    return Err(self.error("presign a part of", &key, e));
                }
            };
            parts.push(PresignedPart {
                part_number,
                url: url.to_string(),
                headers: headers.clone(),
            });
        }
        Ok(MultipartUpload { upload_id, parts })
    }

    async fn multipart_complete(&self, path: &ArtifactPath, upload_id: &str, parts: &[CompletedPart]) -> Result<()> {
        let key = self.key(path);
        let location = self.location(&key)?;
        let mut sorted: Vec<&CompletedPart> = parts.iter().collect();
        sorted.sort_by_key(|p| p.part_number);
        // object_store numbers parts by their position: they must be 1..=n.
        if sorted.is_empty() || sorted.iter().enumerate().any(|(i, p)| p.part_number as usize != i + 1) {
            return Err(Error::invalid_input(format!(
                "the parts of the upload of s3://{}/{key} must be numbered 1 to n without gaps",
                self.bucket
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
            .map_err(|e| self.error("complete the multipart upload of", &key, e))
    }

    async fn multipart_abort(&self, path: &ArtifactPath, upload_id: &str) -> Result<()> {
        let key = self.key(path);
        let location = self.location(&key)?;
        match self.client.abort_multipart(&location, &upload_id.to_owned()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("abort the multipart upload of", &key, e)),
        }
    }
}

impl Store for S3Store {
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
        self.shared.delete(path).await
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
        crate::presign::presign_read(&self.shared, path, ttl).await
    }
}
