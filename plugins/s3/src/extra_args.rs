//! `MLFLOW_S3_UPLOAD_EXTRA_ARGS` (boto3 `ExtraArgs` names) parsed into what
//! the S3 client can set; any other key is refused by name.

use crate::config::invalid;
use arca_core::Result;

/// What `MLFLOW_S3_UPLOAD_EXTRA_ARGS` sets.
#[derive(Debug, Default)]
pub(crate) struct ExtraArgs {
    pub(crate) sse: Option<String>,
    pub(crate) sse_kms_key_id: Option<String>,
    pub(crate) attributes: Vec<(String, String)>,
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
        for (k, v) in &map {
            match k.as_str() {
                "ServerSideEncryption" => out.sse = Some(string(k, v)?),
                "SSEKMSKeyId" => out.sse_kms_key_id = Some(string(k, v)?),
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
                        "{what}: unsupported key {other} (supported: ServerSideEncryption, SSEKMSKeyId, ContentType, \
                         CacheControl, ContentEncoding, ContentDisposition, ContentLanguage, StorageClass, Metadata)"
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
        Ok(out)
    }
}
