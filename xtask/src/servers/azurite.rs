//! A real Azure Blob server for the conformance suite: Azurite, Microsoft's
//! emulator, from npm.
//!
//! Installed on first use into the target directory (`tools/azurite-<v>`,
//! kept across runs), pinned to 3.35.0: the newest release whose `engines`
//! accept Node 20 (3.36 needs Node 21, 3.37 Node 22). It runs in the
//! foreground as `node <azurite-blob>`, so the PID held is the server's;
//! its data lives in a fresh directory removed when it stops. The test
//! container is made with Shared Key auth by `tests/servers/azurite_container.py`
//! (standard-library Python), since neither Arca nor object_store creates
//! containers.

use super::{Daemon, free_port, installed, run_until, wait_tcp};
use crate::project;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The Azurite release installed.
pub const VERSION: &str = "3.35.0";
/// Azurite's account and its well-known key (published by Microsoft).
pub const ACCOUNT: &str = "devstoreaccount1";
pub const KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The container created for the tests.
pub const CONTAINER: &str = "arca-test";
/// How long installing may take (a fresh machine downloads ~190 MB).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
/// How long starting may take.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether Azurite can be installed and run here.
pub fn available() -> bool {
    installed("node") && installed("npm") && installed("python3")
}

/// A running Azurite; dropping it stops the server and removes its data.
#[derive(Debug)]
pub struct Azurite {
    /// The blob endpoint, `http://127.0.0.1:PORT/devstoreaccount1`.
    pub endpoint: String,
    dir: PathBuf,
    daemon: Option<Daemon>,
}

/// Installs Azurite into the target directory unless it is there; returns
/// the `azurite-blob` script.
fn install() -> Result<PathBuf, String> {
    let prefix = project::target_dir().join("tools").join(format!("azurite-{VERSION}"));
    let script = prefix.join("node_modules").join(".bin").join("azurite-blob");
    if script.is_file() {
        return Ok(script);
    }
    std::fs::create_dir_all(&prefix).map_err(|e| format!("cannot create {}: {e}", prefix.display()))?;
    let started = Instant::now();
    eprintln!(
        "installing azurite@{VERSION} with npm into {}",
        project::display(&prefix)
    );
    run_until(
        Command::new("npm").arg("install").arg("--prefix").arg(&prefix).args([
            &format!("azurite@{VERSION}"),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]),
        started + INSTALL_TIMEOUT,
        &prefix.join("install.log"),
        "npm install azurite",
    )?;
    if !script.is_file() {
        return Err(format!("npm installed azurite but {} is missing", script.display()));
    }
    eprintln!("azurite installed in {:.1} s", started.elapsed().as_secs_f64());
    Ok(script)
}

impl Azurite {
    /// Installs (once) and starts Azurite on a free loopback port, and
    /// creates the test container.
    pub fn start() -> Result<Self, String> {
        let script = install()?;
        let started = Instant::now();
        let deadline = started + START_TIMEOUT;
        let dir = project::target_dir()
            .join("servers")
            .join(format!("azurite-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let port = free_port()?;
        let log = dir.join("azurite.log");
        let mut azurite = Self {
            endpoint: format!("http://127.0.0.1:{port}/{ACCOUNT}"),
            dir: dir.clone(),
            daemon: None,
        };
        let daemon = Daemon::start(
            "azurite",
            Command::new("node")
                .arg(&script)
                .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string(), "--location"])
                .arg(dir.join("data"))
                // MLflow's azure-storage-blob sends an x-ms-version newer
                // than this Azurite knows; Arca's object_store does not.
                .args(["--skipApiVersionCheck", "--disableTelemetry"]),
            &log,
        )?;
        let daemon = azurite.daemon.insert(daemon);
        wait_tcp(port, deadline, "azurite")?;
        daemon.check_alive(&log)?;
        run_until(
            Command::new("python3")
                .arg(
                    project::root()
                        .join("tests")
                        .join("servers")
                        .join("azurite_container.py"),
                )
                .args([&azurite.endpoint, ACCOUNT, KEY, CONTAINER]),
            deadline,
            &dir.join("setup.log"),
            "creating the azurite test container",
        )?;
        eprintln!(
            "azurite {VERSION} ready at {} in {:.1} s (log in {})",
            azurite.endpoint,
            started.elapsed().as_secs_f64(),
            project::display(&log)
        );
        Ok(azurite)
    }

    /// The connection string of the test account (what MLflow reads).
    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={};",
            self.endpoint
        )
    }

    /// The environment of the tests that use it.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_CONNECTION_STRING", self.connection_string()),
            ("ARCA_AZURE_TEST_ENDPOINT", self.endpoint.clone()),
            ("ARCA_AZURE_TEST_CONTAINER", CONTAINER.to_owned()),
        ]
    }

    /// The conformance suite's store.
    pub fn conformance_uri() -> String {
        format!("wasbs://{CONTAINER}@{ACCOUNT}.blob.core.windows.net/conformance")
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        drop(self.daemon.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
