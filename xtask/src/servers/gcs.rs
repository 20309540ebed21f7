//! The GCS XML-API test server (`tests/gcs/server.rs`, the `gcs-xml-server`
//! binary of `arca-tests`): in memory, it checks bearer tokens and V4
//! signatures with the service-account key it generates at start and
//! writes into its directory. No emulator available here serves the XML
//! API object_store uses or checks signatures (see the README).

use super::{Daemon, free_port, wait_tcp};
use crate::project;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The bucket created for the tests.
pub const BUCKET: &str = "arca-test";
/// How long starting may take.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running server; dropping it stops it and removes its directory.
#[derive(Debug)]
pub struct GcsServer {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The service-account file whose key the server trusts.
    pub credentials: PathBuf,
    dir: PathBuf,
    daemon: Option<Daemon>,
}

impl GcsServer {
    /// Starts `program` (the built `gcs-xml-server`) on a free loopback port.
    pub fn start(program: &Path) -> Result<Self, String> {
        let started = Instant::now();
        let dir = project::target_dir()
            .join("servers")
            .join(format!("gcs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let port = free_port()?;
        let log = dir.join("gcs-xml-server.log");
        let mut server = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            credentials: dir.join("service-account.json"),
            dir: dir.clone(),
            daemon: None,
        };
        let daemon = server.daemon.insert(Daemon::start(
            "gcs-xml-server",
            Command::new(program)
                .args(["--port", &port.to_string(), "--bucket", BUCKET, "--dir"])
                .arg(&dir),
            &log,
        )?);
        wait_tcp(port, started + START_TIMEOUT, "gcs-xml-server")?;
        daemon.check_alive(&log)?;
        if !server.credentials.is_file() {
            return Err(format!("gcs-xml-server wrote no {}", server.credentials.display()));
        }
        eprintln!(
            "gcs-xml-server ready at {} in {:.1} s",
            server.endpoint,
            started.elapsed().as_secs_f64()
        );
        Ok(server)
    }

    /// The environment of the tests that use it (MLflow's and Google's
    /// variables, and the bucket).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("STORAGE_EMULATOR_HOST", self.endpoint.clone()),
            ("GOOGLE_APPLICATION_CREDENTIALS", self.credentials.display().to_string()),
            ("ARCA_GCS_TEST_BUCKET", BUCKET.to_owned()),
        ]
    }

    /// The conformance suite's store.
    pub fn conformance_uri() -> String {
        format!("gs://{BUCKET}/conformance")
    }
}

impl Drop for GcsServer {
    fn drop(&mut self) {
        drop(self.daemon.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
