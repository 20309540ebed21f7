//! Lingering close for refused uploads, as nginx's `lingering_close`.
//!
//! A request can be answered before its body has been read: a refusal by
//! authentication, permissions, `--read-only` or `--max-upload-size`, or a
//! store that fails mid-upload. If the server then closed the connection, a
//! client still sending its body would get a broken pipe or a reset instead
//! of the answer. So the body of every request is watched; when the answer
//! is ready and the handler dropped a body it had not read to the end, the
//! rest is read and discarded, bounded in bytes and in time, before the
//! answer goes out. A client that sent `Expect: 100-continue` has sent no
//! body yet and is answered at once.

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

/// At most this much of an unread body is read and discarded.
pub const MAX_BYTES: u64 = 1 << 30;
/// For at most this long in all (nginx's `lingering_time`).
pub const MAX_TIME: Duration = Duration::from_secs(30);
/// Nor longer than this without data (nginx's `lingering_timeout`).
pub const IDLE: Duration = Duration::from_secs(5);

/// Where a body its reader dropped unfinished goes.
type Slot = Arc<Mutex<Option<BodyDataStream>>>;

/// The middleware.
pub async fn linger(req: Request, next: Next) -> Response {
    if !has_body(req.headers()) || expects_continue(req.headers()) {
        return next.run(req).await;
    }
    let slot: Slot = Arc::default();
    let (parts, body) = req.into_parts();
    let watched = Watched {
        inner: Some(body.into_data_stream()),
        slot: slot.clone(),
    };
    let mut response = next.run(Request::from_parts(parts, Body::from_stream(watched))).await;
    let rest = slot.lock().ok().and_then(|mut s| s.take());
    if let Some(rest) = rest
        && !drain(rest).await
    {
        // The rest of the body is still coming: this connection cannot
        // carry another request.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn has_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    length.is_some_and(|n| n > 0) || headers.contains_key(header::TRANSFER_ENCODING)
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
}

/// Reads and discards what is left, within the bounds. Whether it reached
/// the end.
async fn drain(mut rest: BodyDataStream) -> bool {
    let deadline = Instant::now() + MAX_TIME;
    let mut discarded: u64 = 0;
    loop {
        let wait = IDLE.min(deadline.saturating_duration_since(Instant::now()));
        match tokio::time::timeout(wait, rest.next()).await {
            Ok(None) => return true,
            Ok(Some(Ok(piece))) => {
                discarded += piece.len() as u64;
                if discarded > MAX_BYTES {
                    return false;
                }
            }
            Ok(Some(Err(_))) | Err(_) => return false,
        }
    }
}

/// A request body that, dropped before its end, leaves the rest in the slot.
struct Watched {
    inner: Option<BodyDataStream>,
    slot: Slot,
}

impl Stream for Watched {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let next = inner.poll_next_unpin(cx);
        if let Poll::Ready(None) = next {
            // Read to the end: nothing to linger for.
            self.inner = None;
        }
        next
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(rest) = self.inner.take()
            && let Ok(mut slot) = self.slot.lock()
        {
            *slot = Some(rest);
        }
    }
}
