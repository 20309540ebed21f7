//! One proxied connection: the request head is read and matched, then
//! the request and response are passed on, with the fault applied.

use super::{Fault, Request, State};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest request or response head accepted.
const MAX_HEAD: usize = 64 << 10;

/// How one connection ended.
enum End {
    Done,
    Reset,
}

pub(super) async fn serve(state: &State, mut client: TcpStream) -> std::io::Result<()> {
    let (head, early) = read_head(&mut client).await?;
    let Some(request) = parse_request(&head) else {
        return Ok(());
    };
    let fault = state.decide(&request);
    let head = connection_close(&head);
    if fault == Some(Fault::SlowDown) {
        let body_len = content_length(&head).unwrap_or(0);
        discard(&mut client, body_len.saturating_sub(early.len() as u64)).await?;
        client.write_all(&slow_down(&request)).await?;
        return client.shutdown().await;
    }
    let mut upstream = TcpStream::connect(state.upstream).await?;
    upstream.write_all(&head).await?;
    if let Some(Fault::ResetRequest { after }) = fault {
        let from_early = early.len().min(usize::try_from(after).unwrap_or(usize::MAX));
        upstream.write_all(&early[..from_early]).await?;
        copy_n(&mut client, &mut upstream, after - from_early as u64).await?;
        upstream.flush().await?;
        reset(&client);
        reset(&upstream);
        return Ok(());
    }
    upstream.write_all(&early).await?;
    let head_only = request.method == "HEAD";
    let end = {
        let (mut cr, mut cw) = client.split();
        let (mut ur, mut uw) = upstream.split();
        let response = respond(&mut ur, &mut cw, fault, head_only);
        let upload = tokio::io::copy(&mut cr, &mut uw);
        tokio::pin!(response, upload);
        // The request body flows while the response is awaited; the
        // connection is done when the response is.
        let mut uploading = true;
        loop {
            tokio::select! {
                end = &mut response => break end?,
                _ = &mut upload, if uploading => uploading = false,
            }
        }
    };
    if let End::Reset = end {
        reset(&client);
        reset(&upstream);
    }
    Ok(())
}

/// Passes the response on, applying the response-side faults.
async fn respond(
    upstream: &mut (impl AsyncRead + Unpin),
    client: &mut (impl AsyncWrite + Unpin),
    fault: Option<Fault>,
    head_only: bool,
) -> std::io::Result<End> {
    let (head, early) = read_head(upstream).await?;
    if let Some(Fault::Stall {
        after: None,
        pause,
        reset,
    }) = fault
    {
        tokio::time::sleep(pause).await;
        if reset {
            return Ok(End::Reset);
        }
    }
    let head = connection_close(&head);
    client.write_all(&head).await?;
    let status = parse_status(&head);
    // Without a length the body ends when radosgw closes the connection,
    // which it does after answering `Connection: close`.
    let body_len = if head_only || status == 204 || status == 304 {
        Some(0)
    } else {
        content_length(&head)
    };
    let mut body = Body {
        pending: early,
        left: body_len.unwrap_or(u64::MAX),
    };
    let mark = match fault {
        Some(Fault::ResetResponse { after } | Fault::Stall { after: Some(after), .. }) => Some(after),
        _ => None,
    };
    if let Some(mark) = mark {
        body.forward(upstream, client, mark).await?;
        client.flush().await?;
        match fault {
            Some(Fault::Stall { pause, reset, .. }) => {
                tokio::time::sleep(pause).await;
                if reset {
                    return Ok(End::Reset);
                }
            }
            // Also when the body was shorter than the mark.
            _ => return Ok(End::Reset),
        }
    }
    body.forward(upstream, client, u64::MAX).await?;
    client.flush().await?;
    client.shutdown().await?;
    Ok(End::Done)
}

/// The rest of a response body: what was read with the head, and how much
/// is still due (`u64::MAX`: until radosgw closes).
struct Body {
    pending: Vec<u8>,
    left: u64,
}

impl Body {
    /// Passes on up to `limit` more bytes of the body.
    async fn forward(
        &mut self,
        upstream: &mut (impl AsyncRead + Unpin),
        client: &mut (impl AsyncWrite + Unpin),
        limit: u64,
    ) -> std::io::Result<()> {
        let mut budget = limit.min(self.left);
        let mut buf = vec![0u8; 64 << 10];
        while budget > 0 {
            if self.pending.is_empty() {
                let n = upstream.read(&mut buf).await?;
                if n == 0 {
                    self.left = 0;
                    return Ok(());
                }
                self.pending.extend_from_slice(&buf[..n]);
            }
            let take = self.pending.len().min(usize::try_from(budget).unwrap_or(usize::MAX));
            client.write_all(&self.pending[..take]).await?;
            self.pending.drain(..take);
            budget -= take as u64;
            self.left -= take as u64;
        }
        Ok(())
    }
}

/// Makes dropping the socket send RST instead of FIN.
fn reset(s: &TcpStream) {
    let _ = s.set_zero_linger();
}

/// Reads up to and including the blank line ending a head; returns the head
/// and whatever was read past it.
async fn read_head(s: &mut (impl AsyncRead + Unpin)) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((buf, rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::other("head too long"));
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn parse_request(head: &[u8]) -> Option<Request> {
    let text = std::str::from_utf8(head).ok()?;
    let mut parts = text.lines().next()?.split(' ');
    let method = parts.next()?.to_owned();
    let target = parts.next()?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Some(Request {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
    })
}

fn parse_status(head: &[u8]) -> u16 {
    std::str::from_utf8(head)
        .ok()
        .and_then(|t| t.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn header_lines(head: &[u8]) -> impl Iterator<Item = (&str, &str)> {
    std::str::from_utf8(head)
        .unwrap_or("")
        .split("\r\n")
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
}

fn content_length(head: &[u8]) -> Option<u64> {
    header_lines(head)
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
}

/// `head` with its connection headers replaced by `Connection: close`.
fn connection_close(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::with_capacity(text.len() + 20);
    for line in text.trim_end_matches("\r\n").split("\r\n") {
        let name = line.split(':').next().unwrap_or("").trim();
        if ["connection", "keep-alive", "proxy-connection"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

async fn discard(s: &mut (impl AsyncRead + Unpin), mut n: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 << 10];
    while n > 0 {
        let want = buf.len().min(usize::try_from(n).unwrap_or(usize::MAX));
        let got = s.read(&mut buf[..want]).await?;
        if got == 0 {
            break;
        }
        n -= got as u64;
    }
    Ok(())
}

async fn copy_n(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    n: u64,
) -> std::io::Result<()> {
    let mut limited = from.take(n);
    tokio::io::copy(&mut limited, to).await.map(drop)
}

/// S3's answer to too many requests.
fn slow_down(r: &Request) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
         <Message>Please reduce your request rate.</Message><Resource>{}</Resource>\
         <RequestId>fault-proxy</RequestId></Error>",
        r.path
    );
    let mut out = format!(
        "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         x-amz-request-id: fault-proxy\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if r.method != "HEAD" {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_rewritten_to_close() {
        let head = b"GET /b HTTP/1.1\r\nHost: h\r\nconnection: keep-alive\r\nKeep-Alive: 5\r\n\r\n";
        let out = String::from_utf8_lossy(&connection_close(head)).into_owned();
        assert_eq!(out, "GET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
        assert_eq!(
            content_length(b"PUT / HTTP/1.1\r\ncontent-length: 12\r\n\r\n"),
            Some(12)
        );
    }
}
