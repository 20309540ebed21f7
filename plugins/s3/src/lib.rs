//! # arca-plugin-s3: `s3://` URIs
//!
//! The Arca storage plugin for Amazon S3 and S3-compatible servers (Ceph
//! radosgw, MinIO, …), built on [`object_store`]'s S3 client. It is loaded
//! like every other backend, through the manifest; the `rlib` form exists
//! for unit tests.
//!
//! The design decisions that shape it: **MLflow's semantics, MLflow's
//! settings**: directories are key prefixes (so an empty directory does not
//! exist), and every setting falls back to the environment variable MLflow
//! reads, so a deployment configured for MLflow works unchanged. **Nothing
//! partial is ever visible**: a small write is one `PUT` at `finish`; a large
//! one is a multipart upload that only `CompleteMultipartUpload` publishes,
//! aborted on `abort`, on error, or when the writer is dropped. **No retries
//! here**: object_store's own retries are off; the host retries the errors
//! this plugin marks temporary.
//!
//! ## URIs
//!
//! `s3://bucket/prefix`: the prefix (possibly empty) is the store root, and
//! an artifact path `a/b` is the key `prefix/a/b`. A query or fragment is
//! ignored, as MLflow does; credentials in the URI are refused.
//!
//! ## Configuration
//!
//! Each key is read from the store's configuration, else from the
//! environment variable (MLflow's name and meaning).
//!
//! | Key | Environment variable | Default | Meaning |
//! | --- | --- | --- | --- |
//! | `endpoint_url` | `MLFLOW_S3_ENDPOINT_URL` | AWS | The server's base URL, `http(s)://host[:port]`. A URL with a path (a bucket, a key) is refused: put the bucket in the artifact URI. `http://` is allowed. |
//! | `access_key_id` | `AWS_ACCESS_KEY_ID` | the credential chain | Access key; set together with the secret key (half a pair is refused). |
//! | `secret_access_key` | `AWS_SECRET_ACCESS_KEY` | the credential chain | Secret key (never shown in `Debug`, logs or errors). |
//! | `session_token` | `AWS_SESSION_TOKEN` | none | Session token of temporary keys (used only with the two above). |
//! | `profile` | `AWS_PROFILE` | `default` | The profile of the shared files that gives the credentials when no keys are set, and the region when none is set. A `profile` in the configuration wins over keys in the environment (as boto3's `profile_name`). |
//! | `region` | `AWS_REGION`, then `AWS_DEFAULT_REGION` | the profile's `region`, else `us-east-1` | Signing region. |
//! | `ignore_tls` | `MLFLOW_S3_IGNORE_TLS` | `false` | `true`: accept any TLS certificate. |
//! | `ca_bundle` | `AWS_CA_BUNDLE` | system roots | A PEM file of extra root certificates. |
//! | `signature_version` | `MLFLOW_EXPERIMENTAL_S3_SIGNATURE_VERSION` | `s3v4` | `unsigned`: anonymous requests. |
//! | `addressing_style` | `MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE` | `auto` | `path`, `virtual`, or `auto` (path with a custom endpoint, virtual on AWS). |
//! | `multipart_chunk_size` | `MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE` | 8 MiB | Part size of large writes, 5 MiB to 5 GiB; a write up to this size is a single `PUT`. |
//! | `upload_extra_args` | `MLFLOW_S3_UPLOAD_EXTRA_ARGS` | none | JSON object of boto3 `ExtraArgs` names: `ServerSideEncryption` (`AES256`, `aws:kms`, `aws:kms:dsse`), `SSEKMSKeyId`, `ACL` (a canned ACL: `private`, `public-read`, `public-read-write`, `authenticated-read`, `aws-exec-read`, `bucket-owner-read`, `bucket-owner-full-control`; sent as `x-amz-acl` on `PutObject` and `CreateMultipartUpload`), `SSECustomerAlgorithm` (`AES256`) with `SSECustomerKey` (the 32-byte key given raw, as boto3 takes it; sent base64 with its MD5 on every write, part upload, read and `HEAD`, and handed to clients of presigned part uploads), `ContentType`, `CacheControl`, `ContentEncoding`, `ContentDisposition`, `ContentLanguage`, `StorageClass`, `Metadata` (object of strings). Any other key is refused by name. |
//! | `expected_bucket_owner` | `MLFLOW_S3_EXPECTED_BUCKET_OWNER` | none | Account id the bucket must belong to: `x-amz-expected-bucket-owner` on every request (signed) and on presigned part uploads. |
//! | `timeout` | `MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT` | none | Seconds (above 0, decimals allowed). An idle timeout, never a limit on a whole transfer: a response body may go at most this long without data while it is read, and a request without object data (every one but the `PUT` of an object or a part) must get its response headers within it. A `PUT` with object data is not limited while its body is sent (object_store hands the body over whole, so its progress cannot be watched); the 10 s connect timeout still applies. A timeout is a temporary error, retried by the host. MLflow reads this variable only for Azure. |
//!
//! Any other configuration key is refused by name.
//!
//! ## Credentials
//!
//! As boto3 finds them: keys (each half from the configuration, else the
//! environment), except that a `profile` named in the configuration wins
//! over keys in the environment; without keys, the AWS credential chain
//! (aws-config's providers): the profile (`profile`, `AWS_PROFILE` or
//! `default`) in `~/.aws/credentials` and `~/.aws/config` (or
//! `AWS_SHARED_CREDENTIALS_FILE` / `AWS_CONFIG_FILE`), including SSO,
//! `role_arn` and `credential_process` profiles; a web identity token
//! (`AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN`); the container endpoint
//! (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`); EC2 instance
//! metadata (unless `AWS_EC2_METADATA_DISABLED=true`). The chain is asked at
//! the first request, not when the store is opened, for at most 30 s; its
//! answer is cached until 5 minutes before it expires. When nothing gives
//! credentials, requests fail as unauthenticated with a message that lists
//! where the chain looked. `signature_version=unsigned` needs no credentials.
//! The chain's own HTTPS calls (STS, SSO) use the system's root
//! certificates: `ca_bundle` and `ignore_tls` apply to the S3 endpoint only.
//!
//! ## Capabilities
//!
//! Everything but empty directories. Multipart uploads hand out presigned
//! `UploadPart` URLs (valid one hour) for the client to `PUT` parts to,
//! with the headers the client must send (SSE-C, expected bucket owner),
//! which the signature covers. (MLflow itself refuses presigned transfers
//! when `SSECustomerKey` is set, since the key then goes to the client.)
//!
//! Presigned downloads (`presign_read`, behind `arca serve`'s
//! `presigned/<path>`) are `GET` URLs with MLflow's
//! `response-content-disposition: attachment` and
//! `response-content-encoding: identity`, and the same client headers.
//!
//! ## Transfers
//!
//! A read starts with one ranged `GET` of up to 16 MiB, whose
//! `Content-Range` gives the object's size, so a small object costs one
//! request and no `HEAD`. The rest of a larger object comes as concurrent
//! 8 MiB ranged `GET`s, at most 8 in flight, handed on strictly in order;
//! each sends `If-Match` with the first response's ETag, so an object
//! overwritten mid-read is an error (temporary: read it again), never a mix
//! of two versions. Memory stays near ten parts per read. A write of more
//! than one part uploads up to 8 parts at once (64 MiB of parts in flight
//! at most, never fewer than 2 parts).
//!
//! ## Directory markers
//!
//! A zero-byte key ending in `/` (what the S3 console's "create folder"
//! makes) is a directory, never a file: listings skip it and show the
//! directory once, `stat` says directory (even when the marker is all there
//! is under it), and deleting a directory deletes its markers too. The keys
//! to delete are listed as stored (object_store drops the trailing `/`) by
//! `raw.rs`, which also deletes the keys object_store cannot name.
//!
//! ## Headers object_store cannot send
//!
//! `x-amz-acl` and `x-amz-expected-bucket-owner` are added by a thin HTTP
//! layer under object_store's client (`transport.rs`), which signs a request
//! again after adding them: S3 requires `x-amz-*` headers to be signed.

mod client;
mod config;
mod creds;
mod error;
mod extra_args;
mod presign;
mod raw;
mod store;
mod transport;

#[cfg(test)]
mod reader_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fake;
#[cfg(test)]
mod tests_server;

pub use arca_objstore::{ObjectReader as S3Reader, ObjectWriter as S3Writer};
pub use config::S3Config;
pub use creds::Credentials;
pub use store::S3Store;

use arca_core::{Capabilities, Config, Plugin, Result, Runtime};

/// The URI scheme this plugin serves.
pub const SCHEME: &str = "s3";

/// The S3 plugin.
#[derive(Debug)]
pub struct S3Plugin;

impl Plugin for S3Plugin {
    const NAME: &'static str = "s3";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const SCHEMES: &'static [&'static str] = &[SCHEME];
    // Directories are key prefixes, so an empty one cannot exist.
    const CAPABILITIES: Capabilities = Capabilities {
        multipart: true,
        empty_dirs: false,
        presigned_read: true,
        ..Capabilities::FILESYSTEM
    };
    // Two workers: the work is network I/O, and the machine may have two cores.
    const RUNTIME: Runtime = Runtime::Tokio { worker_threads: 2 };
    type Store = S3Store;

    async fn open(uri: String, config: Config) -> Result<S3Store> {
        let mut config = S3Config::parse(&uri, config)?;
        config.resolve_region().await;
        S3Store::open(config)
    }
}

arca_core::export_plugin!(S3Plugin);
