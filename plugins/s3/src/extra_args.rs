//! `MLFLOW_S3_UPLOAD_EXTRA_ARGS` (boto3 `ExtraArgs` names) parsed into what
//! the S3 client can set; any other key is refused by name.

use crate::config::invalid;
use arca_core::Result;

/// The canned ACLs S3 knows (`x-amz-acl`).
pub(crate) const CANNED_ACLS: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
];

/// What `MLFLOW_S3_UPLOAD_EXTRA_ARGS` sets. `Debug` leaves out the SSE-C key.
#[derive(Default)]
pub(crate) struct ExtraArgs {
    pub(crate) sse: Option<String>,
    pub(crate) sse_kms_key_id: Option<String>,
    pub(crate) attributes: Vec<(String, String)>,
    /// The canned ACL of written objects.
    pub(crate) acl: Option<String>,
    /// The SSE-C key, raw (as boto3 takes it: 32 bytes).
    pub(crate) sse_customer_key: Option<String>,
}

impl std::fmt::Debug for ExtraArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtraArgs")
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
            .finish()
    }
}

impl ExtraArgs {
    pub(crate) fn parse(json: &str) -> Result<Self> {
        let what = "upload_extra_args (MLFLOW_S3_UPLOAD_EXTRA_ARGS)";
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| invalid(format!("{what} is not valid json: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(invalid(format!("{what} must be a json object")));
        };
        let string = |k: &str, v: &serde_json::Value| match v {
            serde_json::Value::String(s) => Ok(s.clone()),
            _ => Err(invalid(format!("{what}: {k} must be a string"))),
        };
        let mut out = Self::default();
        let mut sse_customer_algorithm = None;
        for (k, v) in &map {
            match k.as_str() {
                "ServerSideEncryption" => out.sse = Some(string(k, v)?),
                "SSEKMSKeyId" => out.sse_kms_key_id = Some(string(k, v)?),
                "ACL" => out.acl = Some(string(k, v)?),
                "SSECustomerAlgorithm" => sse_customer_algorithm = Some(string(k, v)?),
                // Never echoed: the value is a secret.
                "SSECustomerKey" => match v {
                    serde_json::Value::String(s) => out.sse_customer_key = Some(s.clone()),
                    _ => return Err(invalid(format!("{what}: SSECustomerKey must be a string"))),
                },
                "ContentType" | "CacheControl" | "ContentEncoding" | "ContentDisposition" | "ContentLanguage"
                | "StorageClass" => out.attributes.push((k.clone(), string(k, v)?)),
                "Metadata" => {
                    let serde_json::Value::Object(meta) = v else {
                        return Err(invalid(format!("{what}: Metadata must be an object of strings")));
                    };
                    for (mk, mv) in meta {
                        out.attributes
                            .push((format!("Metadata.{mk}"), string(&format!("Metadata.{mk}"), mv)?));
                    }
                }
                other => {
                    return Err(invalid(format!(
                        "{what}: unsupported key {other} (supported: ServerSideEncryption, SSEKMSKeyId, ACL, \
                         SSECustomerAlgorithm, SSECustomerKey, ContentType, CacheControl, ContentEncoding, \
                         ContentDisposition, ContentLanguage, StorageClass, Metadata)"
                    )));
                }
            }
        }
        if out.sse_kms_key_id.is_some() && !matches!(out.sse.as_deref(), Some("aws:kms" | "aws:kms:dsse")) {
            return Err(invalid(format!(
                "{what}: SSEKMSKeyId needs ServerSideEncryption aws:kms or aws:kms:dsse"
            )));
        }
        if let Some(sse) = &out.sse
            && !matches!(sse.as_str(), "AES256" | "aws:kms" | "aws:kms:dsse")
        {
            return Err(invalid(format!(
                "{what}: unsupported ServerSideEncryption {sse:?} (expected AES256, aws:kms or aws:kms:dsse)"
            )));
        }
        if let Some(acl) = &out.acl
            && !CANNED_ACLS.contains(&acl.as_str())
        {
            return Err(invalid(format!(
                "{what}: unsupported ACL {acl:?} (expected one of {})",
                CANNED_ACLS.join(", ")
            )));
        }
        match (sse_customer_algorithm.as_deref(), &out.sse_customer_key) {
            (None, None) => {}
            (Some("AES256"), Some(key)) => {
                if key.len() != 32 {
                    return Err(invalid(format!(
                        "{what}: SSECustomerKey must be a 256-bit key given raw, 32 bytes (boto3's form), \
                         got {} bytes",
                        key.len()
                    )));
                }
                if out.sse.is_some() {
                    return Err(invalid(format!(
                        "{what}: SSECustomerKey and ServerSideEncryption exclude each other"
                    )));
                }
            }
            (Some(alg), _) if alg != "AES256" => {
                return Err(invalid(format!(
                    "{what}: unsupported SSECustomerAlgorithm {alg:?} (expected AES256)"
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "{what}: SSECustomerAlgorithm and SSECustomerKey go together"
                )));
            }
        }
        Ok(out)
    }
}
