//! What every S3 test needs: the server `cargo xtask test` started (found
//! through the environment), stores opened through the real manifest, a
//! bounded runtime, and the `arca` binary run with a deadline.

use arca_host::{ArtifactPath, Registry, Store};
use arca_tests::manifest;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The radosgw under test, as `cargo xtask test` describes it.
#[derive(Clone, Debug)]
pub struct S3 {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// `https://127.0.0.1:PORT` and the PEM file of its self-signed
    /// certificate, when radosgw serves HTTPS.
    pub https: Option<(String, PathBuf)>,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The server, if one is configured. Under CI a missing server fails the
/// test: a skipped test there would be a test that cannot fail.
pub fn server() -> Option<S3> {
    let found = (|| {
        let bucket = var("ARCA_TEST_S3_BUCKET")?;
        let https = match (var("ARCA_TEST_S3_HTTPS_ENDPOINT"), var("ARCA_TEST_S3_CA_BUNDLE")) {
            (Some(e), Some(c)) => Some((e, PathBuf::from(c))),
            _ => None,
        };
        Some(S3 {
            endpoint: var("MLFLOW_S3_ENDPOINT_URL")?,
            https,
            bucket,
            access_key: var("AWS_ACCESS_KEY_ID")?,
            secret_key: var("AWS_SECRET_ACCESS_KEY")?,
            region: var("AWS_DEFAULT_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
        })
    })();
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no S3 test server is configured (MLFLOW_S3_ENDPOINT_URL, ARCA_TEST_S3_BUCKET, \
             AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY): run the suite through `cargo xtask test`"
        );
        eprintln!("no S3 test server (run `cargo xtask test`); skipped");
    }
    found
}

/// The server's HTTPS endpoint and certificate; like [`server`], missing is
/// a failure under CI.
pub fn https_server() -> Option<(S3, String, PathBuf)> {
    let s3 = server()?;
    let Some((endpoint, cert)) = s3.https.clone() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but radosgw serves no HTTPS (ARCA_TEST_S3_HTTPS_ENDPOINT, ARCA_TEST_S3_CA_BUNDLE): \
             is the openssl command installed?"
        );
        eprintln!("radosgw serves no HTTPS (is openssl installed?); skipped");
        return None;
    };
    Some((s3, endpoint, cert))
}

impl S3 {
    /// A fresh root `s3://bucket/s3-tests/<name>-<unique>` for one test.
    pub fn root(&self, name: &str) -> String {
        format!("s3://{}/s3-tests/{}", self.bucket, arca_tests::unique(name))
    }

    /// The object key of `path` under `root` (a URI from [`S3::root`]).
    pub fn key(&self, root: &str, path: &str) -> String {
        let prefix = root.trim_start_matches("s3://").trim_start_matches(&self.bucket);
        format!("{}/{path}", prefix.trim_matches('/'))
    }

    /// Opens `uri` through the manifest with the server's credentials,
    /// `endpoint` and the `extra` settings.
    pub async fn open(&self, uri: &str, endpoint: &str, extra: &[(&str, &str)]) -> Store {
        let registry = match Registry::from_manifest(&manifest()) {
            Ok(r) => r,
            Err(e) => panic!("cannot read the plugin manifest (run `cargo xtask build`): {e}"),
        };
        let mut config: BTreeMap<String, String> = [
            ("endpoint_url", endpoint),
            ("access_key_id", &self.access_key),
            ("secret_access_key", &self.secret_key),
            ("region", &self.region),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        config.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        match registry.open_with(uri, &config).await {
            Ok(s) => s,
            Err(e) => panic!("cannot open {uri}: {e}"),
        }
    }

    /// `uri` straight on radosgw (no proxy, plain HTTP).
    pub async fn direct(&self, uri: &str) -> Store {
        self.open(uri, &self.endpoint, &[]).await
    }
}

/// Runs a test body on a fresh runtime, failing it after `limit`.
pub fn run<T>(limit: Duration, f: impl Future<Output = T>) -> T {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start a runtime: {e}"),
    };
    match rt.block_on(async { tokio::time::timeout(limit, f).await }) {
        Ok(v) => v,
        Err(_) => panic!("the test did not finish within {limit:?}"),
    }
}

pub fn path(s: &str) -> ArtifactPath {
    match ArtifactPath::parse(s) {
        Ok(p) => p,
        Err(e) => panic!("bad path {s}: {e}"),
    }
}

/// Deletes a test's root when dropped (also after a failed assertion), on
/// plain HTTP straight to radosgw, bounded in time.
pub struct Cleanup {
    pub s3: S3,
    pub root: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (s3, root) = (self.s3.clone(), self.root.clone());
        // A thread of its own: `drop` may run inside a runtime.
        let done = std::thread::spawn(move || {
            run(Duration::from_secs(60), async {
                let store = s3.direct(&root).await;
                if let Err(e) = store.delete(&ArtifactPath::root()).await {
                    eprintln!("cleanup of {root} failed: {e}");
                }
            });
        })
        .join();
        if done.is_err() {
            eprintln!("cleanup of {} failed", self.root);
        }
    }
}

/// What a run of `arca` printed.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs `arca ARGS` with `env` set and `unset` removed, killed (by PID) if
/// it is still running after `limit`.
pub fn arca(args: &[&str], env: &[(&str, &str)], unset: &[&str], limit: Duration) -> Output {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let file = |p: &PathBuf| match std::fs::File::create(p) {
        Ok(f) => f,
        Err(e) => panic!("cannot create {}: {e}", p.display()),
    };
    let mut cmd = Command::new(arca_tests::arca_bin());
    cmd.arg("--plugins").arg(manifest()).args(args);
    for name in unset {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(file(&out_path))
        .stderr(file(&err_path));
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot run {}: {e} (run `cargo xtask build` first)",
            arca_tests::arca_bin().display()
        ),
    };
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("arca {args:?} did not finish within {limit:?}");
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("cannot wait for arca: {e}"),
        }
    };
    Output {
        code: status.code(),
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default()).into_owned(),
    }
}
