//! Turns an [`S3Config`] into the clients a store uses: object_store's S3
//! client, the [`Raw`] one for keys object_store cannot name, and the
//! headers a presigned part upload must carry.

use crate::config::{DEFAULT_REGION, S3Config, invalid};
use crate::creds::{AwsChain, Credentials};
use crate::raw::Raw;
use crate::transport::{EXPECTED_OWNER, Signer, Transport};
use arca_core::Result;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::{Digest as _, Md5};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, AwsCredential, AwsCredentialProvider};
use object_store::client::HttpConnector as _;
use object_store::signer::{HeaderName, HeaderValue};
use object_store::{Certificate, ClientOptions, RetryConfig, StaticCredentialProvider};
use std::sync::Arc;
use std::time::Duration;

/// What a store talks to S3 with.
#[derive(Debug)]
pub(crate) struct Clients {
    pub(crate) s3: AmazonS3,
    pub(crate) raw: Raw,
    /// Headers a presigned `UploadPart` request must carry (and that its
    /// signature covers): the SSE-C key and the expected bucket owner.
    pub(crate) part_headers: Vec<(HeaderName, HeaderValue)>,
}

fn header(name: &str, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|_| invalid(format!("{name} holds characters a header cannot carry")))
}

impl S3Config {
    /// Builds the object_store client. Its own retries are off: retrying is
    /// the host's policy.
    pub fn build(&self) -> Result<AmazonS3> {
        self.clients().map(|c| c.s3)
    }

    pub(crate) fn clients(&self) -> Result<Clients> {
        let mut options = ClientOptions::new()
            // A transfer of a large artifact may take far longer than any
            // fixed request timeout; only connecting is bounded (and, when
            // set, idle time: see `transport`).
            .with_timeout_disabled()
            .with_connect_timeout(Duration::from_secs(10))
            .with_allow_invalid_certificates(self.ignore_tls)
            .with_allow_http(self.endpoint.as_ref().is_some_and(|e| e.starts_with("http://")));
        if let Some(path) = &self.ca_bundle {
            let pem = std::fs::read(path)
                .map_err(|e| invalid(format!("cannot read ca_bundle (AWS_CA_BUNDLE) {path}: {e}")))?;
            let certs = Certificate::from_pem_bundle(&pem)
                .map_err(|e| invalid(format!("ca_bundle (AWS_CA_BUNDLE) {path} is not a pem bundle: {e}")))?;
            for cert in certs {
                options = options.with_root_certificate(cert);
            }
        }
        let virtual_hosted = self.virtual_hosted();
        let region = self.region.clone().unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let bucket = &self.bucket;
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&region)
            .with_virtual_hosted_style_request(virtual_hosted)
            .with_skip_signature(self.credentials == Credentials::Anonymous)
            .with_retry(RetryConfig {
                max_retries: 0,
                ..RetryConfig::default()
            })
            .with_client_options(options.clone());
        // The URL that names the bucket, as object_store builds it.
        let bucket_url = match &self.endpoint {
            Some(endpoint) => {
                // object_store expects a virtual-hosted endpoint to name the bucket.
                let endpoint = match endpoint.split_once("://") {
                    Some((scheme, host)) if virtual_hosted => format!("{scheme}://{bucket}.{host}"),
                    _ => endpoint.clone(),
                };
                b = b.with_endpoint(&endpoint);
                if virtual_hosted {
                    endpoint
                } else {
                    format!("{endpoint}/{bucket}")
                }
            }
            None if virtual_hosted => format!("https://{bucket}.s3.{region}.amazonaws.com"),
            None => format!("https://s3.{region}.amazonaws.com/{bucket}"),
        };
        let provider: Option<AwsCredentialProvider> = match &self.credentials {
            Credentials::Static {
                access_key_id,
                secret_access_key,
                session_token,
            } => Some(Arc::new(StaticCredentialProvider::new(AwsCredential {
                key_id: access_key_id.clone(),
                secret_key: secret_access_key.clone(),
                token: session_token.clone(),
            }))),
            Credentials::Chain => Some(Arc::new(AwsChain::new(
                bucket,
                &self.profile,
                &region,
                self.profile_files.clone(),
            ))),
            Credentials::Anonymous => None,
        };
        if let Some(p) = &provider {
            b = b.with_credentials(p.clone());
        }
        // The encryption keys are named through their documented strings:
        // object_store does not export the enum they belong to.
        for (name, value) in [
            ("aws_server_side_encryption", &self.sse),
            ("aws_sse_kms_key_id", &self.sse_kms_key_id),
        ] {
            if let Some(v) = value {
                let key: AmazonS3ConfigKey = name.parse().map_err(|e| invalid(format!("cannot set {name}: {e}")))?;
                b = b.with_config(key, v);
            }
        }
        let mut part_headers = Vec::new();
        if let Some(key) = &self.sse_customer_key {
            // boto3 takes the key raw and sends it base64-encoded with the
            // base64 MD5 of the raw bytes; object_store takes it encoded.
            let encoded = BASE64.encode(key.as_bytes());
            let md5 = BASE64.encode(Md5::digest(key.as_bytes()));
            b = b.with_ssec_encryption(encoded.clone());
            let what = "upload_extra_args (MLFLOW_S3_UPLOAD_EXTRA_ARGS) SSECustomerKey";
            for (name, value) in [
                ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                ("x-amz-server-side-encryption-customer-key", encoded.as_str()),
                ("x-amz-server-side-encryption-customer-key-md5", md5.as_str()),
            ] {
                let mut v = header(what, value)?;
                v.set_sensitive(true);
                part_headers.push((HeaderName::from_static(name), v));
            }
        }
        let mut transport = Transport {
            timeout: self.timeout,
            signer: provider.map(|credentials| Signer {
                credentials,
                region: region.clone(),
            }),
            ..Transport::default()
        };
        if let Some(owner) = &self.expected_bucket_owner {
            let v = header("expected_bucket_owner (MLFLOW_S3_EXPECTED_BUCKET_OWNER)", owner)?;
            part_headers.push((EXPECTED_OWNER, v.clone()));
            transport.expected_owner = Some(v);
        }
        if let Some(acl) = &self.acl {
            transport.acl = Some(header("upload_extra_args (MLFLOW_S3_UPLOAD_EXTRA_ARGS) ACL", acl)?);
        }
        let raw_client = transport
            .connect(&options)
            .map_err(|e| invalid(format!("invalid s3 configuration for bucket {bucket}: {e}")))?;
        if transport.is_needed() {
            b = b.with_http_connector(transport.clone());
        }
        // The error names a setting, never a secret's value.
        let s3 = b
            .build()
            .map_err(|e| invalid(format!("invalid s3 configuration for bucket {bucket}: {e}")))?;
        Ok(Clients {
            s3,
            raw: Raw {
                client: raw_client,
                bucket_url,
                bucket: bucket.clone(),
                signer: transport.signer,
            },
            part_headers,
        })
    }
}
