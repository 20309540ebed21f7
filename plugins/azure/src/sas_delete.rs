//! Single-blob deletes for a store authorised by a SAS token.
//!
//! object_store deletes Azure blobs only through Blob Batch, and Azurite
//! answers a batch authorised by a SAS with `500`. A SAS is a query string
//! that needs no signing, so these deletes are plain `DELETE <blob>?<sas>`
//! requests on a client with the store's timeout and TLS settings.

use crate::config::{AzureConfig, Credential};
use arca_objstore::SingleDelete;
use bytes::Bytes;
use object_store::client::{HttpClient, HttpConnector as _, HttpRequest, ReqwestConnector};
use object_store::path::Path;
use object_store::signer::Method;
use std::sync::Arc;

/// The `x-ms-version` sent (object_store's).
const VERSION: &str = "2023-11-03";

/// Percent-encodes a blob name for a URL path (`/` kept).
fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn generic(message: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "MicrosoftAzure",
        source: message.into(),
    }
}

/// The single-delete hook of a SAS store; `None` for other credentials
/// (object_store's batch deletes serve them).
pub(crate) fn deleter(config: &AzureConfig) -> arca_core::Result<Option<SingleDelete>> {
    let Credential::Sas(token) = &config.credential else {
        return Ok(None);
    };
    let client: HttpClient = ReqwestConnector::default()
        .connect(&crate::store::client_options(config)?)
        .map_err(|e| crate::config::invalid(format!("cannot build an HTTP client: {e}")))?;
    let base = format!("{}/{}", config.endpoint, config.container);
    let token = token.clone();
    Ok(Some(Arc::new(move |location: Path| {
        let client = client.clone();
        let url = format!("{base}/{}?{token}", encode(location.as_ref()));
        Box::pin(async move {
            let mut req = HttpRequest::new(Bytes::new().into());
            *req.method_mut() = Method::DELETE;
            *req.uri_mut() = url
                .parse()
                .map_err(|_| generic(format!("cannot make a URL for {location}")))?;
            req.headers_mut()
                .insert("x-ms-version", object_store::signer::HeaderValue::from_static(VERSION));
            let response = client.execute(req).await.map_err(|e| object_store::Error::Generic {
                store: "MicrosoftAzure",
                source: Box::new(e),
            })?;
            let status = response.status();
            let body = response.into_body().bytes().await.unwrap_or_default();
            match status.as_u16() {
                200..=299 => Ok(()),
                404 => Err(object_store::Error::NotFound {
                    path: location.to_string(),
                    source: "blob not found".into(),
                }),
                _ => Err(generic(format!(
                    "Error performing DELETE of {location} - Server returned non-2xx status code: {status}: {}",
                    String::from_utf8_lossy(&body)
                ))),
            }
        })
    })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_encoded_for_paths() {
        assert_eq!(super::encode("a b/q?x=1&y#z.txt"), "a%20b/q%3Fx%3D1%26y%23z.txt");
    }
}
