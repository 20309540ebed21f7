//! Requests on exact keys, for the keys object_store cannot name.
//!
//! object_store's `Path` drops a trailing `/` (and refuses empty segments),
//! so a directory marker (the zero-byte `dir/` the S3 console creates) is
//! listed as `dir` and can be neither deleted nor told apart through it.
//! Deleting a directory therefore lists the keys under it here
//! (`ListObjectsV2` without a delimiter, keys exactly as stored) and deletes
//! with a plain `DELETE` those whose key object_store would change (the
//! others go in object_store's batched `DeleteObjects`).

use crate::transport::Signer;
use arca_core::{Error, Result};
use bytes::Bytes;
use object_store::aws::AwsAuthorizer;
use object_store::client::{HttpClient, HttpRequest};
use object_store::signer::Method;

/// Signed requests against one bucket.
#[derive(Debug)]
pub(crate) struct Raw {
    pub(crate) client: HttpClient,
    /// `scheme://host[:port][/bucket]`: the URL that names the bucket.
    pub(crate) bucket_url: String,
    pub(crate) bucket: String,
    /// `None`: anonymous requests.
    pub(crate) signer: Option<Signer>,
}

/// Percent-encodes everything but S3's unreserved characters (and `/` in
/// keys, where `keep_slash`).
pub(crate) fn encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes a key S3 sent with `encoding-type=url` (`+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match s.get(i + 1..i + 3).filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit())) {
                Some(hex) => {
                    out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                    i += 2;
                }
                None => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The text of each `<tag>…</tag>` in `xml`, with XML's entities decoded.
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest: &'a str = xml;
    while let Some(start) = rest.find(&open) {
        rest = &rest[start + open.len()..];
        let Some(end) = rest.find(&close) else { break };
        out.push(
            rest[..end]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &rest[end + close.len()..];
    }
    out
}

impl Raw {
    fn error(&self, action: &str, key: &str, message: impl std::fmt::Display) -> Error {
        Error::new(
            arca_core::ErrorKind::UNAVAILABLE,
            format!("cannot {action} s3://{}/{key}: {message}", self.bucket),
        )
        .with("bucket", &self.bucket)
        .temporary()
    }

    /// Sends a signed request without a body; returns the status and body.
    async fn send(&self, method: Method, url: &str, what: (&str, &str)) -> Result<(u16, Bytes)> {
        let mut req = HttpRequest::new(Bytes::new().into());
        *req.method_mut() = method;
        *req.uri_mut() = url
            .parse()
            .map_err(|e| Error::invalid_input(format!("invalid s3 url for {}: {e}", what.1)))?;
        if let Some(signer) = &self.signer {
            let credential = signer
                .credentials
                .get_credential()
                .await
                .map_err(|e| crate::error::s3_error(what.0, &self.bucket, what.1, e))?;
            AwsAuthorizer::new(&credential, "s3", &signer.region)
                .try_authorize(&mut req, None)
                .map_err(|e| crate::error::s3_error(what.0, &self.bucket, what.1, e))?;
        }
        let response = self.client.execute(req).await.map_err(|e| {
            let timed_out = e.kind() == object_store::client::HttpErrorKind::Timeout;
            let err = self.error(what.0, what.1, e);
            if timed_out {
                Error {
                    kind: arca_core::ErrorKind::TIMEOUT,
                    ..err
                }
            } else {
                err
            }
        })?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .bytes()
            .await
            .map_err(|e| self.error(what.0, what.1, e))?;
        Ok((status, body))
    }

    /// One page (up to 1,000) of the keys under `prefix` (which ends with
    /// `/`, or is empty for the whole bucket), exactly as stored, and the
    /// token of the next page.
    pub(crate) async fn page(&self, prefix: &str, token: Option<&str>) -> Result<(Vec<String>, Option<String>)> {
        // Query parameters sorted, as they are signed.
        let token = token.map_or(String::new(), |t| format!("continuation-token={}&", encode(t, false)));
        let url = format!(
            "{}?{token}encoding-type=url&list-type=2&prefix={}",
            self.bucket_url,
            encode(prefix, false)
        );
        let (status, body) = self.send(Method::GET, &url, ("list", prefix)).await?;
        let text = String::from_utf8_lossy(&body);
        if status != 200 {
            return Err(crate::error::status_error("list", &self.bucket, prefix, status, &text));
        }
        let keys = elements(&text, "Key").iter().map(|k| decode(k)).collect();
        let truncated = elements(&text, "IsTruncated").first().is_some_and(|t| t == "true");
        let next = elements(&text, "NextContinuationToken").into_iter().next();
        Ok((keys, next.filter(|_| truncated)))
    }

    /// Deletes `key` exactly (a missing key is not an error).
    pub(crate) async fn delete(&self, key: &str) -> Result<()> {
        let url = format!("{}/{}", self.bucket_url, encode(key, true));
        let (status, body) = self.send(Method::DELETE, &url, ("delete", key)).await?;
        match status {
            200..=299 | 404 => Ok(()),
            _ => Err(crate::error::status_error(
                "delete",
                &self.bucket,
                key,
                status,
                &String::from_utf8_lossy(&body),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_url_encoding() {
        assert_eq!(encode("a b/c+d/", true), "a%20b/c%2Bd/");
        assert_eq!(encode("a/b", false), "a%2Fb");
        assert_eq!(decode("a+b%2Fc%2Bd/"), "a b/c+d/");
        assert_eq!(decode("100%"), "100%");
    }

    #[test]
    fn elements_are_found_and_unescaped() {
        let xml = "<R><IsTruncated>true</IsTruncated><Contents><Key>a/</Key></Contents>\
                   <Contents><Key>b&amp;c</Key></Contents><NextContinuationToken>t</NextContinuationToken></R>";
        assert_eq!(elements(xml, "Key"), ["a/", "b&c"]);
        assert_eq!(elements(xml, "IsTruncated"), ["true"]);
        assert_eq!(elements(xml, "NextContinuationToken"), ["t"]);
    }
}
