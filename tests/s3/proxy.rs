//! A fault-injecting HTTP/1.1 proxy between the S3 client and radosgw.
//!
//! It binds 127.0.0.1:0 and runs on a runtime of its own, so it keeps
//! serving whatever the test's runtime does. Every request goes over a
//! connection of its own: the proxy rewrites both heads to
//! `Connection: close`, so a request is one connection and a fault cannot
//! leak into the next request. Each request is matched against the
//! [`Rule`]s in order (method, path, query parameters); the first rule that
//! matches and has uses left decides its [`Fault`]. Every request is
//! recorded with the fault it got.
//!
//! The `Host` header is passed on unchanged, so SigV4 signatures made for
//! the proxy's address still verify at radosgw.

mod conn;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;

/// No connection lives longer than this (a test's own limit is shorter).
const CONNECTION_LIMIT: Duration = Duration::from_secs(300);

/// What happens to a matched request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `503 Slow Down` with S3's XML error body, after the request body has
    /// been read; radosgw never sees the request.
    SlowDown,
    /// The request head and `after` bytes of its body are passed on, then
    /// both connections are reset (RST).
    ResetRequest { after: u64 },
    /// The request is passed on, then the response head and `after` bytes of
    /// the response body; then the client's connection is reset.
    ResetResponse { after: u64 },
    /// The request is passed on; the response is held for `pause` (before
    /// its head when `after` is `None`, else after the head and `after` body
    /// bytes), then the client's connection is reset (`reset`) or the
    /// response goes on.
    Stall {
        after: Option<u64>,
        pause: Duration,
        reset: bool,
    },
}

/// Which requests get a fault, and how many times.
#[derive(Clone, Debug)]
pub struct Rule {
    method: Option<String>,
    path: Option<String>,
    query: Vec<String>,
    fault: Fault,
    /// Uses left; `None`: every matching request.
    left: Option<u32>,
}

impl Rule {
    /// Every request, every time, until narrowed.
    pub fn new(fault: Fault) -> Self {
        Self {
            method: None,
            path: None,
            query: Vec::new(),
            fault,
            left: None,
        }
    }

    /// Only requests with this method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_owned());
        self
    }

    /// Only requests whose path contains `part` (as sent, percent-encoded).
    pub fn path(mut self, part: &str) -> Self {
        self.path = Some(part.to_owned());
        self
    }

    /// Only requests with this query parameter: `name=value`, or `name` for
    /// any value (`uploadId`, `uploads`).
    pub fn query(mut self, param: &str) -> Self {
        self.query.push(param.to_owned());
        self
    }

    /// Only the first `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.left = Some(n);
        self
    }

    fn matches(&self, r: &Request) -> bool {
        self.left != Some(0)
            && self.method.as_deref().is_none_or(|m| m == r.method)
            && self.path.as_deref().is_none_or(|p| r.path.contains(p))
            && self.query.iter().all(|want| r.has_param(want))
    }
}

/// A request the proxy saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
}

impl Request {
    /// Whether the query has `want` (`name=value`, or `name` with any value).
    pub fn has_param(&self, want: &str) -> bool {
        self.query.split('&').any(|p| {
            if want.contains('=') {
                p == want
            } else {
                p.split('=').next() == Some(want)
            }
        })
    }
}

/// A request and the fault it got.
#[derive(Clone, Debug)]
pub struct Seen {
    pub request: Request,
    pub fault: Option<Fault>,
}

struct State {
    upstream: SocketAddr,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<Vec<Seen>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    /// Records `r` and takes one use of the first rule that matches.
    fn decide(&self, r: &Request) -> Option<Fault> {
        let fault = lock(&self.rules).iter_mut().find(|rule| rule.matches(r)).map(|rule| {
            if let Some(n) = &mut rule.left {
                *n -= 1;
            }
            rule.fault
        });
        lock(&self.seen).push(Seen {
            request: r.clone(),
            fault,
        });
        fault
    }
}

/// A running proxy; dropping it stops it and closes every connection.
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// Starts a proxy in front of `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Self {
        let upstream: SocketAddr = match upstream.trim_start_matches("http://").trim_end_matches('/').parse() {
            Ok(a) => a,
            Err(e) => panic!("the proxy needs an http://IP:PORT upstream, got {upstream}: {e}"),
        };
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fault-proxy")
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("cannot start the proxy's runtime: {e}"),
        };
        let listener = match runtime.block_on(TcpListener::bind("127.0.0.1:0")) {
            Ok(l) => l,
            Err(e) => panic!("the proxy cannot bind 127.0.0.1:0: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("the proxy has no address: {e}"),
        };
        let state = Arc::new(State {
            upstream,
            rules: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
        });
        let shared = Arc::clone(&state);
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    // A failed connection is the client's news, not the proxy's.
                    let _ = tokio::time::timeout(CONNECTION_LIMIT, conn::serve(&state, client)).await;
                });
            }
        });
        Self {
            addr,
            state,
            runtime: Some(runtime),
        }
    }

    /// The endpoint URL to give the client.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a rule after those already there.
    pub fn add(&self, rule: Rule) {
        lock(&self.state.rules).push(rule);
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.state.seen).clone()
    }

    /// How many requests got a fault.
    pub fn injected(&self) -> usize {
        self.seen().iter().filter(|s| s.fault.is_some()).count()
    }

    /// How many requests matched `f`.
    pub fn count(&self, f: impl Fn(&Request) -> bool) -> usize {
        self.seen().iter().filter(|s| f(&s.request)).count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            // Allowed anywhere, even inside another runtime; drops every task
            // and so closes every socket.
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_method_path_and_exact_query_parameters() {
        let r = Request {
            method: "PUT".into(),
            path: "/b/k/file.bin".into(),
            query: "partNumber=30&uploadId=2~x".into(),
        };
        assert!(Rule::new(Fault::SlowDown).method("PUT").query("uploadId").matches(&r));
        assert!(!Rule::new(Fault::SlowDown).query("partNumber=3").matches(&r));
        assert!(Rule::new(Fault::SlowDown).query("partNumber=30").matches(&r));
        assert!(!Rule::new(Fault::SlowDown).method("GET").matches(&r));
        assert!(!Rule::new(Fault::SlowDown).path("other").matches(&r));
        assert!(!Rule::new(Fault::SlowDown).times(0).matches(&r));
    }
}
