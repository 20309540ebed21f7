//! The proxied GET: `arca serve` and `mlflow server --artifacts-only`, both
//! with the same `s3://` destination, serve the large file and a 64 KiB one
//! through MLflow's artifact API (`GET /api/2.0/mlflow-artifacts/artifacts/<path>`),
//! fetched by `curl`, which reports the time to the first byte of the
//! response and the total.
//!
//! Both objects are stored once with `arca cp` before the servers start.
//! Each server first serves the small file [`WARM_UP`] times, untimed, so
//! none pays for building its S3 client (MLflow builds one per worker) in
//! the figures. Then, run by run, each server in turn serves the small file
//! and then the large one; every response is compared byte for byte with
//! its source, outside the timing, and `sync` runs before each request.

use super::Bench;
use crate::bench::proc::{self, Output};
use crate::bench::servers::{Api, Server, mkdir};
use crate::bench::verify::same_file;
use crate::project::Result;
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Untimed GETs of the small file each server serves first.
pub const WARM_UP: usize = 8;
/// How long `arca serve` may take to answer; MLflow imports much of its
/// Python stack in four worker processes and gets longer.
const START_LIMIT: Duration = Duration::from_secs(30);
const MLFLOW_START_LIMIT: Duration = Duration::from_secs(300);
/// How long to wait for a started server to go idle.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);
/// The most one `curl` may take.
const CURL_MAX_SECS: &str = "600";
/// What `curl` prints about each response.
const CURL_FORMAT: &str = "%{http_code} %{time_starttransfer} %{time_total} %{size_download}";
/// The paths under the destination.
const BIG: &str = "big.bin";
const SMALL: &str = "small.bin";

/// What one server's runs measured, in seconds.
#[derive(Debug, Default)]
pub struct Served {
    pub label: &'static str,
    pub small_ttfb: Vec<f64>,
    pub small_total: Vec<f64>,
    pub big_ttfb: Vec<f64>,
    pub big_total: Vec<f64>,
    /// The command that started the server, and run 1's `curl` of the
    /// large file, as the report shows them.
    pub server: String,
    pub curl: String,
}

pub fn measure(b: &Bench<'_>) -> Result<Vec<Served>> {
    let logs = &b.ctx.logs;
    let small_src = b.small().join("e00000.bin");
    for (src, name) in [(b.big(), BIG), (small_src.clone(), SMALL)] {
        let mut cp = b.arca([OsString::from("cp"), src.into(), b.uri(&format!("proxy/{name}")).into()]);
        proc::run(&mut cp, &Output::Logged(logs))?;
    }
    let root = mkdir(&b.dir.join("proxy"))?;
    let since = Instant::now();
    let mut ml = start_mlflow(b, &root)?;
    let arca = start_arca(b, &root)?;
    ml.wait_ready("/health", since, MLFLOW_START_LIMIT)?;
    let mut all = vec![arca, ml];
    for s in &mut all {
        if !s.settle(SETTLE_LIMIT)? {
            eprintln!(
                "warning: {} still busy {} s after it started",
                s.label,
                SETTLE_LIMIT.as_secs()
            );
        }
    }
    let got = root.join("got.bin");
    let mut out: Vec<Served> = all
        .iter()
        .map(|s| Served {
            label: s.label,
            server: shown_server(b, s),
            ..Served::default()
        })
        .collect();
    for s in &all {
        for _ in 0..WARM_UP {
            get(b, s, SMALL, &small_src, &got)?;
        }
    }
    for run in 1..=b.ctx.runs {
        for (s, o) in all.iter().zip(&mut out) {
            let (ttfb, total, _) = get(b, s, SMALL, &small_src, &got)?;
            o.small_ttfb.push(ttfb);
            o.small_total.push(total);
            let (ttfb, total, curl) = get(b, s, BIG, &b.big(), &got)?;
            o.big_ttfb.push(ttfb);
            o.big_total.push(total);
            eprintln!(
                "bench: proxied GET, run {run}/{}: {:<24} 64 KiB first byte {:>7.1} ms; {} first byte {:>8.1} ms, \
                 total {total:>7.3} s",
                b.ctx.runs,
                s.label,
                o.small_ttfb[run - 1] * 1e3,
                b.sizes.big_shown(),
                ttfb * 1e3,
            );
            if run == 1 {
                o.curl = curl;
            }
        }
    }
    for s in &mut all {
        // A server that had to be killed has still answered every request.
        if let Err(e) = s.stop() {
            eprintln!("warning: {e}");
        }
    }
    b.clean("proxy")?;
    Ok(out)
}

/// `arca serve` on the destination, on a port it picks (and prints).
fn start_arca(b: &Bench<'_>, root: &Path) -> Result<Server> {
    let dir = mkdir(&root.join("arca"))?;
    let command = b.with_env(vec![
        b.arca_program().into(),
        "--plugins".into(),
        b.ctx.manifest.clone().into(),
        "serve".into(),
        "--artifacts-destination".into(),
        b.uri("proxy").into(),
        "--port".into(),
        "0".into(),
    ]);
    let mut server = Server::spawn("arca serve", Api::Mlflow, dir.clone(), dir, command, false)?;
    server.wait_for_arca(START_LIMIT)?;
    Ok(server)
}

/// `mlflow server --artifacts-only` on the destination; the caller waits
/// for it (it takes a while). Its main process leaves its workers running
/// on SIGTERM, so it runs under the group wrapper.
fn start_mlflow(b: &Bench<'_>, root: &Path) -> Result<Server> {
    let dir = mkdir(&root.join("mlflow"))?;
    let port = crate::servers::free_port()?;
    let command = b.with_env(vec![
        b.mlflow.clone().into(),
        "server".into(),
        "--artifacts-only".into(),
        "--artifacts-destination".into(),
        b.uri("proxy").into(),
        "--host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string().into(),
    ]);
    let mut server = Server::spawn("mlflow server", Api::Mlflow, dir.clone(), dir, command, true)?;
    server.origin = format!("http://127.0.0.1:{port}");
    Ok(server)
}

/// GETs `rel` from `s` into `got` with `curl`, checks it against `src` and
/// removes it; returns the time to the first byte and the total, in
/// seconds, and the command as shown.
fn get(b: &Bench<'_>, s: &Server, rel: &str, src: &Path, got: &Path) -> Result<(f64, f64, String)> {
    let logs = &b.ctx.logs;
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-f", "--max-time", CURL_MAX_SECS, "-o"])
        .arg(got)
        .args(["-w", CURL_FORMAT])
        .arg(s.url(rel));
    proc::sync(logs)?;
    let text = proc::stdout(&mut cmd, logs)?;
    let f: Vec<f64> = text.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let [code, ttfb, total, size] = f[..] else {
        return Err(format!("curl printed `{}`, not `{CURL_FORMAT}`", text.trim()));
    };
    if code != 200.0 {
        return Err(format!("{} answered {code} to GET {rel}", s.label));
    }
    same_file(src, got).map_err(|e| format!("{} served a wrong {rel} ({size} bytes): {e}", s.label))?;
    crate::bench::measure::remove(got)?;
    let shown = b.shown(&cmd).replace(&s.origin, "http://127.0.0.1:$PORT");
    Ok((ttfb, total, shown))
}

/// The command that started `s`, as shown: `--port N` as `--port $PORT`
/// (`--port 0`, "pick one", stays).
fn shown_server(b: &Bench<'_>, s: &Server) -> String {
    let text = b.shown_words(&s.command);
    match s.origin.rsplit(':').next() {
        Some(port) if text.contains(&format!("--port {port}")) => {
            text.replace(&format!("--port {port}"), "--port $PORT")
        }
        _ => text,
    }
}
