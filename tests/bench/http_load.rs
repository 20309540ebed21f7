//! `http-load`: the client side of `cargo xtask bench server`, the same for
//! every server it measures (`arca serve`, `mlflow server --artifacts-only`,
//! nginx).
//!
//! ```text
//! http-load put-seq BASE COUNT SIZE          COUNT sequential PUTs of SIZE bytes: BASE/f00000.bin, …
//! http-load get-seq BASE COUNT [SIZE]        the same names, GET in turn, each body checked
//! http-load put-par BASE CLIENTS COUNT SIZE  CLIENTS threads, each COUNT sequential PUTs to BASE/cNN/…
//! http-load list URL EXPECT                  one GET of a directory listing with EXPECT entries
//! http-load scandir DIR                      read_dir + metadata of every entry (the list baseline)
//! ```
//!
//! Each prints one JSON line: `{"op":…,"secs":…}` plus what applies
//! (`files_per_s`, `mb_per_s` in 10^6 bytes per second, `entries`,
//! `connections`). A client is one HTTP/1.1 keep-alive connection (a
//! `TcpStream`, `TCP_NODELAY`), bodies are sent with `Content-Length`; a
//! new connection is opened only when the server closes the previous one
//! (nginx does after 1,000 requests), and `connections` counts them.
//! Every connect, read and write is bounded, so a stuck server fails the
//! run instead of hanging it. A listing is counted from MLflow's
//! `{"files":[…]}` (arca, MLflow) or from a JSON array (nginx's autoindex).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest one read or write may block.
const IO_TIMEOUT: Duration = Duration::from_secs(120);
/// The most header bytes a response may have.
const MAX_HEADER: usize = 64 * 1024;
const USAGE: &str = "usage: http-load put-seq BASE COUNT SIZE | get-seq BASE COUNT [SIZE] | \
                     put-par BASE CLIENTS COUNT SIZE | list URL EXPECT | scandir DIR";

type Result<T = (), E = String> = std::result::Result<T, E>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("http-load: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<String> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["put-seq", base, count, size] => put_seq(base, number(count)?, number(size)?),
        ["get-seq", base, count] => get_seq(base, number(count)?, None),
        ["get-seq", base, count, size] => get_seq(base, number(count)?, Some(number(size)?)),
        ["put-par", base, clients, count, size] => put_par(base, number(clients)?, number(count)?, number(size)?),
        ["list", url, expect] => list(url, number(expect)?),
        ["scandir", dir] => scandir(dir),
        _ => Err(USAGE.to_owned()),
    }
}

fn number(s: &str) -> Result<usize> {
    s.parse().map_err(|_| format!("`{s}` is not a number\n{USAGE}"))
}

/// The request target of file `i` under the target `prefix`.
fn name(prefix: &str, i: usize) -> String {
    format!("{}/f{i:05}.bin", prefix.trim_end_matches('/'))
}

fn rates(op: &str, files: usize, bytes: usize, secs: f64, connections: usize) -> String {
    format!(
        "{{\"op\":\"{op}\",\"files\":{files},\"bytes\":{bytes},\"secs\":{secs:.6},\"files_per_s\":{:.1},\
         \"mb_per_s\":{:.2},\"connections\":{connections}}}",
        files as f64 / secs,
        bytes as f64 / 1e6 / secs
    )
}

fn put_seq(base: &str, count: usize, size: usize) -> Result<String> {
    let body = arca_tests::content(size, 11);
    let start = Instant::now();
    let connections = put_files(base, count, &body)?;
    let secs = start.elapsed().as_secs_f64();
    Ok(rates("put-seq", count, count * size, secs, connections))
}

/// PUTs `count` files of `body` under `base` on one client; returns the
/// connections it took.
fn put_files(base: &str, count: usize, body: &[u8]) -> Result<usize> {
    let (mut client, prefix) = Client::new(base)?;
    for i in 0..count {
        let target = name(&prefix, i);
        let response = client.request("PUT", &target, body)?;
        if !(200..300).contains(&response.status) {
            return Err(format!("PUT {base}…{target}: {}", response.describe()));
        }
    }
    Ok(client.connections)
}

fn get_seq(base: &str, count: usize, size: Option<usize>) -> Result<String> {
    let (mut client, prefix) = Client::new(base)?;
    let mut bytes = 0;
    let start = Instant::now();
    for i in 0..count {
        let target = name(&prefix, i);
        let response = client.request("GET", &target, &[])?;
        if response.status != 200 {
            return Err(format!("GET {target}: {}", response.describe()));
        }
        if let Some(size) = size.filter(|s| *s != response.body.len()) {
            return Err(format!("GET {target}: {} bytes, not {size}", response.body.len()));
        }
        bytes += response.body.len();
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(rates("get-seq", count, bytes, secs, client.connections))
}

fn put_par(base: &str, clients: usize, count: usize, size: usize) -> Result<String> {
    if clients == 0 {
        return Err("put-par needs at least one client".to_owned());
    }
    // Every thread is spawned before the clock starts; they start together.
    let start_line = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (base, barrier) = (format!("{}/c{c:02}", base.trim_end_matches('/')), start_line.clone());
            std::thread::spawn(move || {
                let body = arca_tests::content(size, 100 + c as u64);
                barrier.wait();
                put_files(&base, count, &body)
            })
        })
        .collect();
    start_line.wait();
    let start = Instant::now();
    let mut connections = 0;
    let mut first_error = None;
    for t in threads {
        match t.join() {
            Ok(Ok(n)) => connections += n,
            Ok(Err(e)) => first_error = first_error.or(Some(e)),
            Err(_) => first_error = first_error.or(Some("a client thread panicked".to_owned())),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    if let Some(e) = first_error {
        return Err(e);
    }
    let files = clients * count;
    Ok(rates("put-par", files, files * size, secs, connections))
}

/// One GET of a listing, timed from the connect to its last byte (the JSON
/// is parsed after the clock stops).
fn list(url: &str, expect: usize) -> Result<String> {
    let start = Instant::now();
    let (mut client, target) = Client::new(url)?;
    let response = client.request("GET", &target, &[])?;
    let secs = start.elapsed().as_secs_f64();
    if response.status != 200 {
        return Err(format!("GET {url}: {}", response.describe()));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&response.body).map_err(|e| format!("GET {url}: not JSON: {e}"))?;
    let entries = match &json {
        serde_json::Value::Array(a) => a.len(),
        serde_json::Value::Object(o) => o.get("files").and_then(|f| f.as_array()).map_or(0, Vec::len),
        _ => return Err(format!("GET {url}: neither a JSON array nor an object")),
    };
    if entries != expect {
        return Err(format!("GET {url}: {entries} entries, not {expect}"));
    }
    Ok(format!(
        "{{\"op\":\"list\",\"entries\":{entries},\"bytes\":{},\"secs\":{secs:.6}}}",
        response.body.len()
    ))
}

/// What a server's listing does at the least: read the directory and stat
/// every entry.
fn scandir(dir: &str) -> Result<String> {
    let start = Instant::now();
    let mut entries = 0;
    let mut bytes = 0;
    for entry in std::fs::read_dir(dir).map_err(|e| format!("cannot read {dir}: {e}"))? {
        let entry = entry.map_err(|e| format!("cannot read {dir}: {e}"))?;
        let meta = std::fs::metadata(entry.path()).map_err(|e| format!("cannot stat {:?}: {e}", entry.path()))?;
        bytes += meta.len();
        entries += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(format!(
        "{{\"op\":\"scandir\",\"entries\":{entries},\"bytes\":{bytes},\"secs\":{secs:.6}}}"
    ))
}

/// `http://HOST:PORT/target`.
#[derive(Debug)]
struct Url {
    addr: SocketAddr,
    host: String,
    target: String,
}

impl Url {
    fn parse(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
        let (host, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let addr = host
            .to_socket_addrs()
            .map_err(|e| format!("{url}: cannot resolve {host}: {e}"))?
            .next()
            .ok_or_else(|| format!("{url}: {host} has no address"))?;
        let target = if target.is_empty() { "/" } else { target };
        Ok(Self {
            addr,
            host: host.to_owned(),
            target: target.to_owned(),
        })
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    body: Vec<u8>,
}

impl Response {
    fn describe(&self) -> String {
        let text = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned();
        format!("status {}: {}", self.status, text.trim())
    }
}

/// One keep-alive connection, reopened when the server closes it.
#[derive(Debug)]
struct Client {
    addr: SocketAddr,
    host: String,
    conn: Option<BufReader<TcpStream>>,
    /// Connections opened so far.
    connections: usize,
}

impl Client {
    /// A client of the server of `url` (not connected yet), and the request
    /// target of `url`.
    fn new(url: &str) -> Result<(Self, String)> {
        let url = Url::parse(url)?;
        let client = Self {
            addr: url.addr,
            host: url.host,
            conn: None,
            connections: 0,
        };
        Ok((client, url.target))
    }

    fn request(&mut self, method: &str, target: &str, body: &[u8]) -> Result<Response> {
        let what = format!("{method} http://{}{target}", self.host);
        let reused = self.conn.is_some();
        match self.exchange(method, target, body) {
            Ok(r) => Ok(r),
            // The server may close an idle connection just as we reuse it:
            // one fresh attempt (PUT and GET are idempotent).
            Err(_) if reused => {
                self.conn = None;
                self.exchange(method, target, body).map_err(|e| format!("{what}: {e}"))
            }
            Err(e) => Err(format!("{what}: {e}")),
        }
    }

    fn exchange(&mut self, method: &str, target: &str, body: &[u8]) -> Result<Response> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => {
                let stream = TcpStream::connect_timeout(&self.addr, CONNECT_TIMEOUT)
                    .map_err(|e| format!("cannot connect to {}: {e}", self.addr))?;
                let setup = |s: &TcpStream| {
                    s.set_nodelay(true)?;
                    s.set_read_timeout(Some(IO_TIMEOUT))?;
                    s.set_write_timeout(Some(IO_TIMEOUT))
                };
                setup(&stream).map_err(|e| format!("cannot set up the connection: {e}"))?;
                self.connections += 1;
                self.conn.insert(BufReader::with_capacity(64 * 1024, stream))
            }
        };
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\
             Content-Type: application/octet-stream\r\n\r\n",
            self.host,
            body.len()
        );
        let result = send(conn.get_mut(), head.as_bytes(), body).and_then(|()| receive(conn, method));
        match result {
            Ok((response, keep)) => {
                if !keep {
                    self.conn = None;
                }
                Ok(response)
            }
            Err(e) => {
                self.conn = None;
                Err(e)
            }
        }
    }
}

/// Writes the request: small ones in a single write, so one packet carries them.
fn send(stream: &mut TcpStream, head: &[u8], body: &[u8]) -> Result {
    let fail = |e: std::io::Error| format!("cannot send the request: {e}");
    if body.len() <= 64 * 1024 {
        stream.write_all(&[head, body].concat()).map_err(fail)
    } else {
        stream.write_all(head).map_err(fail)?;
        stream.write_all(body).map_err(fail)
    }
}

/// Reads one response (skipping interim 1xx ones); the flag says whether the
/// connection can carry another request.
fn receive(conn: &mut BufReader<TcpStream>, method: &str) -> Result<(Response, bool)> {
    loop {
        let (status, headers) = read_head(conn)?;
        if (100..200).contains(&status) {
            continue;
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let mut keep = !header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let mut body = Vec::new();
        let fail = |e: std::io::Error| format!("cannot read the response body: {e}");
        let bodiless = method == "HEAD" || status == 204 || status == 304;
        if bodiless {
            // Nothing follows the head.
        } else if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
            read_chunked(conn, &mut body)?;
        } else if let Some(len) = header("content-length") {
            let len: usize = len.trim().parse().map_err(|_| format!("bad Content-Length `{len}`"))?;
            body.resize(len, 0);
            conn.read_exact(&mut body).map_err(fail)?;
        } else {
            conn.read_to_end(&mut body).map_err(fail)?;
            keep = false;
        }
        return Ok((Response { status, body }, keep));
    }
}

/// The status and the headers of a response.
fn read_head(conn: &mut BufReader<TcpStream>) -> Result<(u16, Vec<(String, String)>)> {
    let mut status = None;
    let mut headers = Vec::new();
    let mut total = 0;
    loop {
        let line = read_line(conn)?;
        total += line.len() + 2;
        if total > MAX_HEADER {
            return Err(format!("response head longer than {MAX_HEADER} bytes"));
        }
        if line.is_empty() {
            return Ok((status.ok_or("empty response head")?, headers));
        }
        match status {
            None => {
                let code = line.split_whitespace().nth(1).and_then(|c| c.parse().ok());
                status = Some(code.ok_or_else(|| format!("bad status line `{line}`"))?);
            }
            Some(_) => {
                if let Some((k, v)) = line.split_once(':') {
                    headers.push((k.trim().to_owned(), v.trim().to_owned()));
                }
            }
        }
    }
}

/// One line without its CRLF; the end of the stream is an error.
fn read_line(conn: &mut BufReader<TcpStream>) -> Result<String> {
    let mut line = String::new();
    match conn.read_line(&mut line) {
        Ok(0) => Err("the server closed the connection".to_owned()),
        Ok(_) => Ok(line.trim_end_matches(['\r', '\n']).to_owned()),
        Err(e) => Err(format!("cannot read the response: {e}")),
    }
}

fn read_chunked(conn: &mut BufReader<TcpStream>, body: &mut Vec<u8>) -> Result {
    loop {
        let line = read_line(conn)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| format!("bad chunk size `{line}`"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !read_line(conn)?.is_empty() {}
            return Ok(());
        }
        let at = body.len();
        body.resize(at + size, 0);
        conn.read_exact(&mut body[at..])
            .map_err(|e| format!("cannot read a chunk: {e}"))?;
        read_line(conn)?;
    }
}
