//! The HTTP layer under object_store's S3 client, for what object_store
//! cannot do per request:
//!
//! - **Headers**: `x-amz-expected-bucket-owner` on every request and the
//!   canned ACL (`x-amz-acl`) on `PutObject` and `CreateMultipartUpload`.
//!   object_store has signed the request before it gets here, so a request
//!   that gains a header is signed again (SigV4, same credential, same
//!   payload hash): S3 refuses `x-amz-*` headers that are not signed.
//! - **The idle timeout** (`timeout`, `MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT`):
//!   every response body may be silent for at most that long between two
//!   pieces of data, so a transfer that keeps moving is never cut however
//!   long it takes; and a request without object data (every request but
//!   the `PUT` of an object or part) must get its response headers within it.
//!   A `PUT` with object data has no limit while its body is sent (object_store
//!   hands the body over whole, so its progress cannot be watched here); it
//!   relies on the connect timeout and the host's handling of stalls.

use async_trait::async_trait;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use object_store::ClientOptions;
use object_store::aws::{AwsAuthorizer, AwsCredentialProvider};
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpResponseBody, HttpService,
    ReqwestConnector,
};
use object_store::signer::{HeaderName, HeaderValue, Method};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// `x-amz-expected-bucket-owner`.
pub(crate) const EXPECTED_OWNER: HeaderName = HeaderName::from_static("x-amz-expected-bucket-owner");
/// `x-amz-acl`.
pub(crate) const ACL: HeaderName = HeaderName::from_static("x-amz-acl");
const CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");

/// What the layer adds to requests, and how long it waits.
#[derive(Clone, Debug, Default)]
pub(crate) struct Transport {
    pub(crate) expected_owner: Option<HeaderValue>,
    pub(crate) acl: Option<HeaderValue>,
    /// Signs requests that gained a header (`None`: anonymous requests).
    pub(crate) signer: Option<Signer>,
    pub(crate) timeout: Option<Duration>,
}

/// What signing a request again needs.
#[derive(Clone, Debug)]
pub(crate) struct Signer {
    pub(crate) credentials: AwsCredentialProvider,
    pub(crate) region: String,
}

impl Transport {
    /// Whether the layer changes anything (otherwise object_store's own
    /// client is used as it is).
    pub(crate) fn is_needed(&self) -> bool {
        self.expected_owner.is_some() || self.acl.is_some() || self.timeout.is_some()
    }
}

impl HttpConnector for Transport {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector::default().connect(options)?;
        Ok(HttpClient::new(Service {
            inner,
            transport: Arc::new(self.clone()),
        }))
    }
}

#[derive(Debug)]
struct Service {
    inner: HttpClient,
    transport: Arc<Transport>,
}

fn timed_out(what: String) -> HttpError {
    HttpError::new(
        HttpErrorKind::Timeout,
        std::io::Error::new(std::io::ErrorKind::TimedOut, what),
    )
}

/// Whether `req` writes an object: `PutObject` (not a part, not a copy) or
/// `CreateMultipartUpload`.
fn writes_object(req: &HttpRequest) -> bool {
    let query = req.uri().query().unwrap_or("");
    let has = |name: &str| query.split('&').any(|kv| kv.split('=').next() == Some(name));
    match *req.method() {
        Method::PUT => !has("partNumber") && !req.headers().contains_key("x-amz-copy-source"),
        Method::POST => has("uploads"),
        _ => false,
    }
}

/// A 32-byte hash from its 64 hex digits.
fn hex32(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

impl Signer {
    /// Signs `req` again with everything it now carries, keeping the
    /// payload hash object_store computed.
    async fn sign(&self, req: &mut HttpRequest) -> Result<(), HttpError> {
        let credential = self
            .credentials
            .get_credential()
            .await
            .map_err(|e| HttpError::new(HttpErrorKind::Unknown, e))?;
        let digest = req
            .headers()
            .get(&CONTENT_SHA256)
            .and_then(|v| v.to_str().ok())
            .and_then(hex32);
        let authorizer = AwsAuthorizer::new(&credential, "s3", &self.region).with_sign_payload(digest.is_some());
        authorizer
            .try_authorize(req, digest.as_ref().map(|d| &d[..]))
            .map_err(|e| HttpError::new(HttpErrorKind::Unknown, e))
    }
}

#[async_trait]
impl HttpService for Service {
    async fn call(&self, mut req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let t = &self.transport;
        let mut added = false;
        if let Some(owner) = &t.expected_owner
            && !req.headers().contains_key(&EXPECTED_OWNER)
        {
            req.headers_mut().insert(EXPECTED_OWNER, owner.clone());
            added = true;
        }
        if let Some(acl) = &t.acl
            && writes_object(&req)
            && !req.headers().contains_key(&ACL)
        {
            req.headers_mut().insert(ACL, acl.clone());
            added = true;
        }
        if added && let Some(signer) = &t.signer {
            signer.sign(&mut req).await?;
        }
        let Some(timeout) = t.timeout else {
            return self.inner.execute(req).await;
        };
        let sends_data = *req.method() == Method::PUT && !req.body().is_empty();
        let response = if sends_data {
            self.inner.execute(req).await?
        } else {
            tokio::time::timeout(timeout, self.inner.execute(req))
                .await
                .map_err(|_| {
                    timed_out(format!(
                        "no response within {} s (timeout, MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT)",
                        timeout.as_secs_f64()
                    ))
                })??
        };
        let (parts, body) = response.into_parts();
        Ok(HttpResponse::from_parts(
            parts,
            HttpResponseBody::new(IdleBody {
                inner: body,
                timeout,
                sleep: Box::pin(tokio::time::sleep(timeout)),
                waiting: false,
            }),
        ))
    }
}

/// A response body that fails when no data comes for `timeout` while its
/// reader waits (time the reader spends elsewhere does not count).
struct IdleBody {
    inner: HttpResponseBody,
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
    /// Whether the reader is waiting for a frame (the clock runs).
    waiting: bool,
}

impl Body for IdleBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        if !this.waiting {
            this.waiting = true;
            let deadline = Instant::now() + this.timeout;
            this.sleep.as_mut().reset(deadline);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                Poll::Ready(frame)
            }
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.waiting = false;
                    Poll::Ready(Some(Err(timed_out(format!(
                        "no data for {} s (timeout, MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT)",
                        this.timeout.as_secs_f64()
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, uri: &str) -> HttpRequest {
        let mut r = HttpRequest::new(Bytes::new().into());
        *r.method_mut() = method;
        *r.uri_mut() = uri.parse().unwrap_or_else(|e| panic!("{e}"));
        r
    }

    #[test]
    fn object_writes_are_put_object_and_create_multipart_upload() {
        assert!(writes_object(&req(Method::PUT, "http://h/b/k")));
        assert!(writes_object(&req(Method::POST, "http://h/b/k?uploads=")));
        assert!(!writes_object(&req(
            Method::PUT,
            "http://h/b/k?partNumber=1&uploadId=x"
        )));
        assert!(!writes_object(&req(Method::POST, "http://h/b/k?uploadId=x")));
        assert!(!writes_object(&req(Method::GET, "http://h/b/k")));
        assert!(!writes_object(&req(Method::POST, "http://h/b?delete")));
        let mut copy = req(Method::PUT, "http://h/b/k");
        copy.headers_mut()
            .insert("x-amz-copy-source", HeaderValue::from_static("b/other"));
        assert!(!writes_object(&copy));
    }

    #[test]
    fn payload_hashes_are_read_back() {
        let h = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(hex32(h).map(|d| d[0..2].to_vec()), Some(vec![0xe3, 0xb0]));
        assert_eq!(hex32("UNSIGNED-PAYLOAD"), None);
    }
}
