//! A real S3 server for the conformance suite: a fresh one-node Ceph cluster
//! (a monitor, one `memstore` OSD, radosgw) with cephx off and msgr v1 only,
//! following `start_ceph` in the reference `services-demo.sh` step by step.
//!
//! Why a fresh cluster every time: a memstore OSD keeps nothing across a
//! restart, and restarting an old cluster hangs. Why msgr v1: with a v2
//! address radosgw fails auth (-13) and hangs. Daemons run in the foreground
//! (`-d`, logging to stderr, which goes to a file) so the PID we hold is the
//! daemon itself; they are stopped in the order radosgw, OSD, monitor.
//!
//! radosgw also serves HTTPS (beast's `ssl_endpoint`) with a self-signed
//! certificate made by the `openssl` command for `127.0.0.1` and `localhost`,
//! so the TLS settings (`MLFLOW_S3_IGNORE_TLS`, `AWS_CA_BUNDLE`) can be
//! tested. Without `openssl` the cluster starts with plain HTTP only, and
//! the TLS tests fail under CI.

use super::tls::{Tls, self_signed_certificate};
use super::{Daemon, free_port, free_port_range, run_until, wait_tcp};
use crate::project;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The programs the cluster needs; all are in Debian's `ceph-mon`,
/// `ceph-osd` and `radosgw` packages (with `ceph-common`).
pub const PROGRAMS: &[&str] = &["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph"];
/// The S3 credentials of the test user.
pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing";
/// The region radosgw's zonegroup is named after.
pub const REGION: &str = "us-east-1";
/// The bucket created for the tests.
pub const BUCKET: &str = "arca-test";
/// The only SSE-KMS key id radosgw's `testing` KMS backend knows.
pub const KMS_KEY_ID: &str = "testkey-1";
/// The HTTPS endpoint (`https://127.0.0.1:PORT`), set by [`Ceph::env`].
pub const HTTPS_ENDPOINT_ENV: &str = "ARCA_TEST_S3_HTTPS_ENDPOINT";
/// The PEM file of the HTTPS endpoint's self-signed certificate, set by
/// [`Ceph::env`] (for `AWS_CA_BUNDLE`).
pub const CA_BUNDLE_ENV: &str = "ARCA_TEST_S3_CA_BUNDLE";
/// The test bucket's name, set by [`Ceph::env`].
pub const BUCKET_ENV: &str = "ARCA_TEST_S3_BUCKET";
/// How long the whole start may take.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How many ports the OSD may bind (it binds four).
const OSD_PORTS: u16 = 16;

/// A running cluster; dropping it stops every daemon and removes its directory.
#[derive(Debug)]
pub struct Ceph {
    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The same server over HTTPS, `https://127.0.0.1:PORT`, when `openssl`
    /// could make its certificate.
    pub https_endpoint: Option<String>,
    /// The self-signed certificate of [`Ceph::https_endpoint`] (PEM).
    pub ca_bundle: Option<PathBuf>,
    dir: PathBuf,
    /// In start order (monitor, OSD, radosgw); stopped in reverse.
    daemons: Vec<Daemon>,
}

/// Whether every program the cluster needs is installed.
pub fn available() -> bool {
    PROGRAMS.iter().all(|p| super::installed(p))
}

impl Ceph {
    /// Starts a fresh cluster under the target directory and creates the
    /// user and [`BUCKET`].
    pub fn start() -> Result<Self, String> {
        let started = Instant::now();
        let deadline = started + START_TIMEOUT;
        let dir = project::target_dir()
            .join("servers")
            .join(format!("ceph-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["mon", "osd0", "run", "rgw", "logs", "tls"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let mut ceph = Self {
            endpoint: String::new(),
            https_endpoint: None,
            ca_bundle: None,
            dir,
            daemons: Vec::new(),
        };
        if let Err(e) = ceph.boot(deadline) {
            // The logs go with the directory when `ceph` is dropped: show their ends now.
            return Err(format!("{e}\n{}", log_tails(&ceph.dir.join("logs"))));
        }
        eprintln!(
            "radosgw ready at {}{} in {:.1} s (logs in {})",
            ceph.endpoint,
            ceph.https_endpoint
                .as_deref()
                .map_or(String::new(), |e| format!(" and {e}")),
            started.elapsed().as_secs_f64(),
            project::display(&ceph.dir.join("logs"))
        );
        Ok(ceph)
    }

    fn boot(&mut self, deadline: Instant) -> Result<(), String> {
        let d = self.dir.clone();
        let logs = d.join("logs");
        let mon_port = free_port()?;
        let rgw_port = free_port()?;
        let tls = match self_signed_certificate(&d.join("tls"), "radosgw", deadline, &logs.join("setup.log")) {
            Ok(tls) => Some((free_port()?, tls)),
            Err(e) => {
                eprintln!("warning: radosgw will serve plain HTTP only: {e}");
                None
            }
        };
        let osd_base = free_port_range(OSD_PORTS)?;
        let fsid = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
            .map(|s| s.trim().to_owned())
            .map_err(|e| format!("cannot make a cluster id: {e}"))?;
        let conf = d.join("ceph.conf");
        project::write(&conf, &config(&d, &fsid, mon_port, osd_base, rgw_port, tls.as_ref())?)?;
        let c = |program: &str| {
            let mut cmd = Command::new(program);
            cmd.arg("-c").arg(&conf);
            cmd
        };
        let step_log = logs.join("setup.log");

        run_until(
            Command::new("monmaptool")
                .args([
                    "--create",
                    "--addv",
                    "a",
                    &format!("[v1:127.0.0.1:{mon_port}]"),
                    "--fsid",
                    &fsid,
                ])
                .arg(d.join("monmap")),
            deadline,
            &step_log,
            "monmaptool",
        )?;
        run_until(
            c("ceph-mon")
                .args(["-i", "a", "--mkfs", "--monmap"])
                .arg(d.join("monmap")),
            deadline,
            &step_log,
            "ceph-mon --mkfs",
        )?;
        let mon_log = logs.join("ceph-mon.log");
        self.daemons.push(Daemon::start(
            "ceph-mon",
            c("ceph-mon").args(["-i", "a", "-d"]),
            &mon_log,
        )?);
        wait_tcp(mon_port, deadline, "ceph-mon")?;

        run_until(
            c("ceph").args(["osd", "create"]),
            deadline,
            &step_log,
            "ceph osd create",
        )?;
        run_until(
            c("ceph-osd").args(["-i", "0", "--mkfs"]),
            deadline,
            &step_log,
            "ceph-osd --mkfs",
        )?;
        run_until(
            c("ceph").args(["osd", "crush", "add", "osd.0", "1.0", "host=localhost", "root=default"]),
            deadline,
            &step_log,
            "ceph osd crush add",
        )?;
        let osd_log = logs.join("ceph-osd.log");
        self.daemons.push(Daemon::start(
            "ceph-osd",
            c("ceph-osd").args(["-i", "0", "-d"]),
            &osd_log,
        )?);

        // The first radosgw-admin call creates the default zone and zonegroup
        // (it waits for the OSD); the zonegroup is then named after the region
        // so CreateBucket with that LocationConstraint is accepted. It waits
        // for as long as the OSD is down, so a daemon that died is named
        // rather than the wait that never ended.
        let created = run_until(
            c("radosgw-admin").args([
                "user",
                "create",
                "--uid=test",
                "--display-name=test",
                &format!("--access-key={ACCESS_KEY}"),
                &format!("--secret-key={SECRET_KEY}"),
            ]),
            deadline,
            &step_log,
            "radosgw-admin user create",
        );
        if let Err(e) = created {
            for (daemon, log) in self.daemons.iter_mut().zip([&mon_log, &osd_log]) {
                daemon.check_alive(log)?;
            }
            return Err(e);
        }
        run_until(
            c("radosgw-admin").args([
                "zonegroup",
                "modify",
                "--rgw-zonegroup=default",
                &format!("--api-name={REGION}"),
            ]),
            deadline,
            &step_log,
            "radosgw-admin zonegroup modify",
        )?;
        let rgw_log = logs.join("radosgw.log");
        self.daemons.push(Daemon::start(
            "radosgw",
            c("radosgw").args(["-n", "client.rgw.a", "-d"]),
            &rgw_log,
        )?);
        if let Err(e) = wait_tcp(rgw_port, deadline, "radosgw") {
            if let Some(rgw) = self.daemons.last_mut() {
                rgw.check_alive(&rgw_log)?;
            }
            return Err(e);
        }
        self.endpoint = format!("http://127.0.0.1:{rgw_port}");
        if let Some((ssl_port, tls)) = tls {
            wait_tcp(ssl_port, deadline, "radosgw (https)")?;
            self.https_endpoint = Some(format!("https://127.0.0.1:{ssl_port}"));
            self.ca_bundle = Some(tls.certificate);
        }
        self.create_bucket(BUCKET, deadline, &step_log)
    }

    /// Creates `bucket` with a SigV4-signed `PUT` (curl signs it), retrying
    /// until radosgw has finished starting or `deadline` passes.
    fn create_bucket(&self, bucket: &str, deadline: Instant, log: &Path) -> Result<(), String> {
        loop {
            let attempt = run_until(
                Command::new("curl").args([
                    "--silent",
                    "--show-error",
                    "--fail",
                    "--max-time",
                    "10",
                    "--aws-sigv4",
                    &format!("aws:amz:{REGION}:s3"),
                    "--user",
                    &format!("{ACCESS_KEY}:{SECRET_KEY}"),
                    "-H",
                    "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                    "-X",
                    "PUT",
                    &format!("{}/{bucket}", self.endpoint),
                ]),
                deadline,
                log,
                "curl (create bucket)",
            );
            match attempt {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() >= deadline => return Err(format!("cannot create bucket {bucket}: {e}")),
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }

    /// The environment the S3 plugin reads (MLflow's variables), plus the
    /// test suite's own: [`BUCKET_ENV`], and, when radosgw serves HTTPS,
    /// [`HTTPS_ENDPOINT_ENV`] and [`CA_BUNDLE_ENV`] (never `AWS_CA_BUNDLE`
    /// itself, which would apply to every store).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("MLFLOW_S3_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            (BUCKET_ENV, BUCKET.to_owned()),
            // A test without keys must fail at once, not ask the instance
            // metadata service of whatever machine it runs on.
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ];
        if let (Some(endpoint), Some(cert)) = (&self.https_endpoint, &self.ca_bundle) {
            env.push((HTTPS_ENDPOINT_ENV, endpoint.clone()));
            env.push((CA_BUNDLE_ENV, cert.display().to_string()));
        }
        env
    }
}

/// The last lines of every log in `dir`, for a failed start.
fn log_tails(dir: &std::path::Path) -> String {
    let mut out = String::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push_str(&format!("--- {name} (last lines)\n{tail}\n"));
    }
    out
}

impl Drop for Ceph {
    fn drop(&mut self) {
        // radosgw, then the OSD, then the monitor.
        while let Some(daemon) = self.daemons.pop() {
            drop(daemon);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The cluster's `ceph.conf` (the reference recipe, with our ports and
/// directory), with an HTTPS endpoint beside the plain one when `tls` is given.
///
/// `tcp_nodelay=1`: without it beast writes a response's head and body as
/// two segments under Nagle's algorithm, and a client that reuses its
/// connection (boto3, requests, hyper) waits for its own delayed ACK, about
/// 40 ms per request on loopback (measured: 41–48 ms for every request after
/// the first on one connection, 1–2 ms with a new connection each time).
/// S3 itself has no such stall, so every small request would otherwise be
/// timed against radosgw's configuration rather than the client's work.
fn config(
    d: &Path,
    fsid: &str,
    mon_port: u16,
    osd_base: u16,
    rgw_port: u16,
    tls: Option<&(u16, Tls)>,
) -> Result<String, String> {
    let kms = base64(&random_bytes::<32>()?);
    let ssl = tls.map_or(String::new(), |(port, tls)| {
        format!(
            " ssl_endpoint=127.0.0.1:{port} ssl_certificate={} ssl_private_key={}",
            tls.certificate.display(),
            tls.key.display()
        )
    });
    let d = d.display();
    let osd_last = osd_base + OSD_PORTS - 1;
    let mut s = String::new();
    let _ = write!(
        s,
        "\
[global]
fsid = {fsid}
mon host = v1:127.0.0.1:{mon_port}
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
ms bind port min = {osd_base}
ms bind port max = {osd_last}
ms bind ipv6 = false
run dir = {d}/run
admin socket = {d}/run/$name.asok
log file = {d}/logs/ceph-$name.log
[mon.a]
mon data = {d}/mon
[osd.0]
osd data = {d}/osd0
osd objectstore = memstore
memstore device bytes = 4294967296
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1{ssl}
rgw data = {d}/rgw
rgw crypt require ssl = false
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = {KMS_KEY_ID}={kms}
rgw gc obj min wait = 60
rgw gc processor period = 60
"
    );
    Ok(s)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    use std::io::Read;
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(buf)
}

/// Standard base64 with padding (xtask keeps its dependencies few).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [group[0], *group.get(1).unwrap_or(&0), *group.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_the_rfc_examples() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }
}
