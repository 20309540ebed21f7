//! `cargo xtask test`: everything CI checks, in order:
//!
//! 1. `cargo xtask build` (debug) and the loader fixtures (`tests/fixtures/*`);
//! 2. `cargo test --workspace --no-fail-fast`, told where the manifest, fixtures and `arca` are,
//!    with a fresh radosgw (`servers::ceph`) for the conformance suite's `s3://` run when Ceph
//!    is installed, and Azurite (`servers::azurite`, started at the same time) for its
//!    `wasbs://` run (both required when `CI` is set), and the project's GCS XML-API server
//!    (`servers::gcs`) for its `gs://` run, and OpenSSH's sshd (`servers::sftp`, required
//!    under `CI`) for its `sftp://` runs, and a MiniDFSCluster (`servers::hdfs`, required under
//!    `CI`, started at the same time as Ceph) for its `hdfs://` run; the same servers stay up
//!    for step 4;
//! 3. each standalone example's own tests;
//! 4. the Python suite (`tests/python`: the real `mlflow` client and server
//!    against `arca serve`, including `arca serve` on `s3://` and `wasbs://`
//!    destinations in those servers), in a venv under the target directory; `--no-python`
//!    skips it for a quick local run (CI runs everything); PostgreSQL (`servers::postgres`)
//!    and MariaDB (`servers::mariadb`), both required under `CI`, are started for it alone,
//!    for `arca gc` on SQL stores; the servers are stopped after it;
//! 5. where the MiniDFSCluster ran, the HDFS plugin again on a Kerberos-secured one
//!    ([`hdfs_kerberos`], also `cargo xtask test hdfs-kerberos` alone) and on an HA pair
//!    through ViewFS ([`hdfs_ha`], also `cargo xtask test hdfs-ha`);
//! 6. tidy.
//!
//! A build failure stops at once; after that every step runs and the failures
//! are listed at the end, so one CI run shows all of them.

use crate::args::Args;
use crate::plugins;
use crate::project::{self, Profile, Result};
use crate::python;
use crate::servers::azurite::{self, Azurite};
use crate::servers::ceph::{self, Ceph};
use crate::servers::ftp::FtpServer;
use crate::servers::gcs::GcsServer;
use crate::servers::hdfs::{self, HdfsServer};
use crate::servers::mariadb::MariaDb;
use crate::servers::postgres::Postgres;
use crate::servers::sftp::SftpServer;
use crate::tidy;

pub fn run(args: &[String]) -> Result {
    if let Some(which @ ("hdfs-kerberos" | "hdfs-ha")) = args.first().map(String::as_str) {
        let rest = Args::new(&args[1..]);
        rest.finish()?;
        let manifest = crate::build::build(Profile::Debug)?;
        return if which == "hdfs-ha" {
            hdfs_ha(&manifest)
        } else {
            hdfs_kerberos(&manifest)
        };
    }
    let mut args = Args::new(args);
    let with_python = !args.flag("--no-python");
    args.finish()?;
    let manifest = crate::build::build(Profile::Debug)?;
    let fixtures = fixture_packages()?;
    if !fixtures.is_empty() {
        let mut cmd = project::cargo();
        cmd.arg("build");
        for f in &fixtures {
            cmd.args(["-p", f]);
        }
        project::run(&mut cmd)?;
    }
    // The GCS XML-API test server runs before the tests that use it.
    project::run(project::cargo().args(["build", "-p", "arca-tests", "--bin", "gcs-xml-server"]))?;

    let target = project::target_dir();
    let out = target.join(Profile::Debug.dir());
    let arca = out.join(project::executable_file("arca"));
    let mut failed: Vec<String> = Vec::new();
    let mut step = |result: Result| {
        if let Err(e) = result {
            eprintln!("error: {e}");
            failed.push(e);
        }
    };

    // The servers start once per run, together: Azurite (a Node process)
    // starts while the Ceph cluster boots. Each serves both the conformance
    // suite and the Python suite; they are stopped (by their guards) after
    // pytest.
    let azure_start = std::thread::spawn(start_azure);
    // The MiniDFSCluster (a JVM) too; its first run also has Maven fetch
    // the launcher's dependencies.
    let hdfs_start = std::thread::spawn(start_hdfs);
    let mut ceph = match start_s3() {
        Ok(ceph) => ceph,
        // Everything but S3 can still be tested: report the failure and go on.
        Err(e) => {
            step(Err(e));
            None
        }
    };
    let mut azure = match azure_start.join() {
        Ok(Ok(azure)) => azure,
        Ok(Err(e)) => {
            step(Err(e));
            None
        }
        Err(_) => {
            step(Err("starting azurite panicked".to_owned()));
            None
        }
    };
    let mut hdfs = match hdfs_start.join() {
        Ok(Ok(hdfs)) => hdfs,
        Ok(Err(e)) => {
            step(Err(e));
            None
        }
        Err(_) => {
            step(Err("starting the MiniDFSCluster panicked".to_owned()));
            None
        }
    };
    let mut gcs = match GcsServer::start(&out.join(project::executable_file("gcs-xml-server"))) {
        Ok(gcs) => Some(gcs),
        Err(e) => {
            step(Err(format!("cannot start gcs-xml-server for the gcs tests: {e}")));
            None
        }
    };
    // The venv is made before the Rust tests: pyftpdlib runs from it.
    let python = match python::ensure_venv() {
        Ok(p) => Some(p),
        Err(e) => {
            step(Err(e));
            None
        }
    };
    let mut ftp = start_ftp(python.as_deref(), &mut step);
    let mut sftp = start_sftp(&mut step);
    let mut server_env: Vec<(&str, String)> = Vec::new();
    let mut extra_uris: Vec<String> = Vec::new();
    if let Some(ceph) = &ceph {
        server_env.extend(ceph.env());
        server_env.push(("ARCA_S3_TEST_BUCKET", ceph::BUCKET.to_owned()));
        extra_uris.push(format!("s3://{}/conformance", ceph::BUCKET));
    }
    if let Some(azure) = &azure {
        server_env.extend(azure.env());
        extra_uris.push(Azurite::conformance_uri());
    }
    if let Some(gcs) = &gcs {
        server_env.extend(gcs.env());
        extra_uris.push(GcsServer::conformance_uri());
    }
    for server in &ftp {
        extra_uris.push(server.uri("conformance"));
        // FTPS, trusting the server's self-signed certificate through the
        // plugin's `ca_bundle` variable.
        if let (Some(uri), Some(cert)) = (server.tls_uri("conformance-tls"), &server.certificate) {
            extra_uris.push(uri);
            server_env.push(("MLFLOW_TRACKING_SERVER_CERT_PATH", cert.display().to_string()));
            server_env.push(("ARCA_FTPS_TEST_URI", server.tls_uri("").unwrap_or_default()));
        }
    }
    // The Python suite's FTP destination: pure-ftpd where it runs.
    if let Some(server) = ftp.first() {
        server_env.push(("ARCA_FTP_TEST_URI", server.uri("")));
    }
    if let Some(server) = &hdfs {
        server_env.extend(server.env());
        extra_uris.push(server.uri("conformance"));
    }
    if let Some(server) = &sftp {
        server_env.extend(server.env());
        // Key auth through the ssh config's host alias, and password auth
        // for the throw-away account.
        extra_uris.push(server.key_uri("conformance"));
        extra_uris.extend(server.password_uri("conformance"));
    }
    {
        let mut cmd = project::cargo();
        // The host's server and command modules have unit tests too.
        cmd.args([
            "test",
            "--workspace",
            "--no-fail-fast",
            "--features",
            crate::build::HOST_CLI,
        ])
        .env("ARCA_PLUGINS", &manifest)
        .env("ARCA_FIXTURES_DIR", &out)
        .env("ARCA_BIN", &arca)
        .envs(server_env.iter().cloned());
        if !extra_uris.is_empty() {
            cmd.env("ARCA_CONFORMANCE_EXTRA_URIS", extra_uris.join(","));
        }
        step(project::run(&mut cmd));
    }
    if !with_python {
        ceph = None;
        azure = None;
        gcs = None;
        ftp = Vec::new();
        sftp = None;
        hdfs = None;
    }
    match plugins::example_manifests(&plugins::all()) {
        Ok(examples) => {
            for example in examples {
                let mut cmd = project::cargo();
                cmd.arg("test")
                    .arg("--manifest-path")
                    .arg(example)
                    .arg("--target-dir")
                    .arg(&target);
                step(project::run(&mut cmd));
            }
        }
        Err(e) => step(Err(e)),
    }
    if with_python && let Some(py) = &python {
        // PostgreSQL, for `arca gc` on a SQL store MLflow runs in
        // production; only the Python suite uses it.
        // and MariaDB for it on MySQL.
        let postgres = start_postgres(&mut step);
        let mariadb = start_mariadb(&mut step);
        let mut env = server_env.clone();
        env.extend(postgres.iter().flat_map(Postgres::env));
        env.extend(mariadb.iter().flat_map(MariaDb::env));
        step(python::run_pytest(py, &arca, &manifest, &env));
        drop(postgres);
        drop(mariadb);
    }
    drop(ceph);
    drop(azure);
    drop(gcs);
    drop(ftp);
    drop(sftp);
    let hdfs_ran = hdfs.is_some();
    drop(hdfs);
    // Kerberos, on a secured cluster of its own (about 35 s), once the
    // servers above are down.
    if hdfs_ran {
        step(hdfs_kerberos(&manifest));
        step(hdfs_ha(&manifest));
    }
    step(tidy::run(&[]));

    match failed.len() {
        0 => Ok(()),
        n => Err(format!("{n} step(s) failed:\n  {}", failed.join("\n  "))),
    }
}

/// How many fresh clusters are tried.
const ATTEMPTS: u32 = 2;

/// Starts radosgw for the conformance suite's `s3://` run when Ceph is
/// installed. Without it, CI (`CI` set) fails, since the S3 plugin would go
/// untested; a local run only warns.
fn start_s3() -> Result<Option<Ceph>> {
    if ceph::available() {
        // A fresh one-node cluster occasionally fails to come up on a busy
        // machine; a second fresh one (new directory, new ports) is tried
        // before giving up.
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            match Ceph::start() {
                Ok(c) => return Ok(Some(c)),
                Err(e) => {
                    eprintln!("warning: radosgw start {attempt} of {ATTEMPTS} failed: {e}");
                    last = e;
                }
            }
        }
        return Err(format!("cannot start radosgw for the s3 tests: {last}"));
    }
    let missing = ceph::PROGRAMS.join(", ");
    if std::env::var_os("CI").is_some() {
        return Err(format!(
            "CI is set but Ceph is not installed (need {missing}): the s3 plugin cannot be tested; \
             install the Debian packages radosgw ceph-mon ceph-osd (.ci/run does)"
        ));
    }
    eprintln!(
        "warning: Ceph is not installed (need {missing}), so the s3 plugin was not tested; \
         `apt-get install radosgw ceph-mon ceph-osd` to test it"
    );
    Ok(None)
}

/// Starts the FTP servers: pure-ftpd where it can run (root; required
/// under CI, where `.ci/run` installs it), then pyftpdlib from the venv.
fn start_ftp(python: Option<&std::path::Path>, step: &mut impl FnMut(Result)) -> Vec<FtpServer> {
    let mut servers = Vec::new();
    if FtpServer::pure_ftpd_available() {
        match FtpServer::pure_ftpd() {
            Ok(s) => servers.push(s),
            Err(e) => step(Err(format!("cannot start pure-ftpd for the ftp tests: {e}"))),
        }
    } else if std::env::var_os("CI").is_some() {
        step(Err(
            "CI is set but pure-ftpd cannot run (it needs the Debian package and root; .ci/run installs it)".to_owned(),
        ));
    } else {
        eprintln!("warning: pure-ftpd is not installed or this is not root, so the ftp plugin runs on pyftpdlib only");
    }
    if let Some(python) = python {
        match FtpServer::pyftpdlib(python) {
            Ok(s) => servers.push(s),
            Err(e) => step(Err(format!("cannot start pyftpdlib for the ftp tests: {e}"))),
        }
    }
    servers
}

/// Starts sshd for the sftp tests where OpenSSH's server is installed
/// (required under CI, where `.ci/run` installs it).
fn start_sftp(step: &mut impl FnMut(Result)) -> Option<SftpServer> {
    if SftpServer::available() {
        return match SftpServer::start() {
            Ok(s) => Some(s),
            Err(e) => {
                step(Err(format!("cannot start sshd for the sftp tests: {e}")));
                None
            }
        };
    }
    if std::env::var_os("CI").is_some() {
        step(Err(
            "CI is set but OpenSSH's sshd is not installed: the sftp plugin cannot be tested \
             (.ci/run installs the Debian package openssh-server)"
                .to_owned(),
        ));
    } else {
        eprintln!(
            "warning: OpenSSH's sshd is not installed, so the sftp plugin was not tested; \
             `apt-get install openssh-server` to test it"
        );
    }
    None
}

fn start_postgres(step: &mut impl FnMut(Result)) -> Option<Postgres> {
    if Postgres::available() {
        return match Postgres::start() {
            Ok(s) => Some(s),
            Err(e) => {
                step(Err(format!("cannot start PostgreSQL for the gc tests: {e}")));
                None
            }
        };
    }
    if std::env::var_os("CI").is_some() {
        step(Err(
            "CI is set but PostgreSQL is not installed: arca gc cannot be tested on it \
             (.ci/run installs the Debian package postgresql)"
                .to_owned(),
        ));
    } else {
        eprintln!(
            "warning: PostgreSQL is not installed, so arca gc was not tested on it; \
             `apt-get install postgresql` to test it"
        );
    }
    None
}

fn start_mariadb(step: &mut impl FnMut(Result)) -> Option<MariaDb> {
    if MariaDb::available() {
        return match MariaDb::start() {
            Ok(s) => Some(s),
            Err(e) => {
                step(Err(format!("cannot start MariaDB for the gc tests: {e}")));
                None
            }
        };
    }
    if std::env::var_os("CI").is_some() {
        step(Err(
            "CI is set but MariaDB is not installed: arca gc cannot be tested on MySQL \
             (.ci/run installs the Debian package mariadb-server)"
                .to_owned(),
        ));
    } else {
        eprintln!(
            "warning: MariaDB is not installed, so arca gc was not tested on MySQL; \
             `apt-get install mariadb-server` to test it"
        );
    }
    None
}

/// Starts the MiniDFSCluster where Java and Maven are installed (required
/// under CI, where `.ci/run` installs them).
fn start_hdfs() -> Result<Option<HdfsServer>> {
    if hdfs::available() {
        return HdfsServer::start(hdfs::Kind::Plain)
            .map(Some)
            .map_err(|e| format!("cannot start the MiniDFSCluster for the hdfs tests: {e}"));
    }
    if std::env::var_os("CI").is_some() {
        return Err(
            "CI is set but java or mvn is missing: the hdfs plugin cannot be tested (.ci/run installs \
             openjdk-17-jdk-headless and maven)"
                .to_owned(),
        );
    }
    eprintln!("warning: java or mvn is missing, so the hdfs plugin was not tested");
    Ok(None)
}

/// Starts Azurite for the conformance suite's `wasbs://` run when Node,
/// npm and Python are installed; under CI their absence is a failure.
fn start_azure() -> Result<Option<Azurite>> {
    if azurite::available() {
        return Azurite::start()
            .map(Some)
            .map_err(|e| format!("cannot start azurite for the azure tests: {e}"));
    }
    if std::env::var_os("CI").is_some() {
        return Err(
            "CI is set but node, npm or python3 is missing: the azure plugin cannot be tested \
                    (.ci/run installs them)"
                .to_owned(),
        );
    }
    eprintln!("warning: node, npm or python3 is missing, so the azure plugin was not tested");
    Ok(None)
}

/// The packages under `tests/fixtures/*/Cargo.toml`, so a new fixture needs no
/// change here (it must still be listed in the workspace's `members`).
fn fixture_packages() -> Result<Vec<String>> {
    let dir = project::root().join("tests").join("fixtures");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let manifest = entry.path().join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let toml = project::read_toml(&manifest)?;
        match toml.get("package").and_then(|p| p.get("name")).and_then(|n| n.as_str()) {
            Some(name) => names.push(name.to_owned()),
            None => return Err(format!("{}: no package name", project::display(&manifest))),
        }
    }
    names.sort();
    Ok(names)
}

/// The HDFS plugin against a secured MiniDFSCluster (MiniKdc,
/// `hadoop.security.authentication=kerberos`): the last step of `cargo xtask
/// test` where the cluster runs, and `cargo xtask test hdfs-kerberos` alone:
///
/// 1. with the credentials a service has by default (`KRB5CCNAME`, a
///    `FILE:` cache, and the client keytab in `KRB5_CLIENT_KTNAME`) and the
///    cluster's client configuration in `HADOOP_CONF_DIR`: the plugin's
///    round trip, then the whole conformance suite; GSSAPI fills the cache;
/// 2. in a process without the keytab: MLflow's
///    `MLFLOW_KERBEROS_TICKET_CACHE` alone (the cache of step 1), and a
///    missing cache refused as unauthenticated.
fn hdfs_kerberos(manifest: &std::path::Path) -> Result {
    if !hdfs::available() {
        return Err(
            "the secured HDFS needs java, jar and mvn (apt-get install openjdk-17-jdk-headless maven)".to_owned(),
        );
    }
    let started = std::time::Instant::now();
    let server = HdfsServer::start(hdfs::Kind::Secure)?;
    let (krb5, keytab, principal) = server
        .kerberos
        .clone()
        .ok_or("the secured cluster wrote no Kerberos files")?;
    let cache = server.dir.join("krb5cc");
    let cache_name = format!("FILE:{}", cache.display());
    let uri = server.uri("arca-kerberos");
    eprintln!("hdfs-kerberos: {principal} from {}", keytab.display());
    let common = |cmd: &mut std::process::Command| {
        cmd.env("KRB5_CONFIG", &krb5)
            .env("HADOOP_CONF_DIR", &server.dir)
            .env("ARCA_HDFS_KERBEROS_URI", &uri)
            .env_remove("HADOOP_USER_NAME");
    };
    let ignored = |name: &str| {
        let mut cmd = project::cargo();
        cmd.args([
            "test",
            "-p",
            "arca-plugin-hdfs",
            "--lib",
            "--",
            "--ignored",
            "--exact",
            name,
        ]);
        common(&mut cmd);
        cmd
    };
    let mut first = ignored("tests::kerberos_with_the_default_credentials");
    first.env("KRB5CCNAME", &cache_name).env("KRB5_CLIENT_KTNAME", &keytab);
    project::run(&mut first)?;
    let mut suite = project::cargo();
    suite
        .args(["test", "-p", "arca-tests", "--test", "conformance"])
        .env("ARCA_PLUGINS", manifest)
        .env("ARCA_CONFORMANCE_URIS", server.uri("conformance"))
        .env("KRB5CCNAME", &cache_name)
        .env("KRB5_CLIENT_KTNAME", &keytab);
    common(&mut suite);
    project::run(&mut suite)?;
    if !cache.is_file() {
        return Err(format!(
            "GSSAPI wrote no ticket cache at {}: step 2 has nothing to read",
            cache.display()
        ));
    }
    let mut second = ignored("tests::kerberos_with_mlflows_ticket_cache");
    second
        .env("ARCA_HDFS_TICKET_CACHE", &cache_name)
        .env("KRB5CCNAME", "MEMORY:arca-empty")
        .env_remove("KRB5_CLIENT_KTNAME");
    project::run(&mut second)?;
    drop(server);
    eprintln!("hdfs-kerberos: passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The HDFS plugin on an HA pair of NameNodes (name service `minidfs-ns`)
/// with a ViewFS mount table, resolved from the cluster's client
/// configuration: the whole conformance suite through `viewfs://`, then a
/// fail-over of the active NameNode between two operations. The last step
/// of `cargo xtask test` where the MiniDFSCluster runs, and `cargo xtask
/// test hdfs-ha` alone.
fn hdfs_ha(manifest: &std::path::Path) -> Result {
    if !hdfs::available() {
        return Err("the HA HDFS needs java, jar and mvn (apt-get install openjdk-17-jdk-headless maven)".to_owned());
    }
    let started = std::time::Instant::now();
    let server = HdfsServer::start(hdfs::Kind::Ha)?;
    let mut suite = project::cargo();
    suite
        .args(["test", "-p", "arca-tests", "--test", "conformance"])
        .env("ARCA_PLUGINS", manifest)
        .env("ARCA_CONFORMANCE_URIS", "viewfs://arca/data/conformance")
        .env("HADOOP_CONF_DIR", &server.dir)
        .env_remove("HADOOP_USER_NAME");
    project::run(&mut suite)?;
    let mut cmd = project::cargo();
    cmd.args([
        "test",
        "-p",
        "arca-plugin-hdfs",
        "--lib",
        "--",
        "--ignored",
        "--exact",
        "tests::ha_name_service_and_viewfs",
    ])
    .env("ARCA_HDFS_HA_CONF_DIR", &server.dir)
    .env("ARCA_HDFS_HA_CONTROL_PORT", server.control_port.to_string())
    .env_remove("HADOOP_CONF_DIR")
    .env_remove("HADOOP_USER_NAME");
    project::run(&mut cmd)?;
    drop(server);
    eprintln!("hdfs-ha: passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
