//! `cargo xtask bench azure|gcs|ftp|sftp`: Arca against MLflow's own
//! artifact repository for the scheme, on one test server started for the
//! run (Azurite; the project's GCS server, whose JSON API MLflow's client
//! uses and whose XML API Arca uses, over the same objects; pyftpdlib;
//! OpenSSH's sshd, see [`sftp`]):
//!
//! 1. a 1 GiB file up and down: `arca cp` against MLflow's
//!    `log_artifact` / `download_artifacts`;
//! 2. 1,000 files of 64 KiB up and down: `arca cp -r` against MLflow's
//!    `log_artifacts` / `download_artifacts`.
//!
//! On SFTP the large file is also moved by OpenSSH's own `sftp` and `scp`,
//! the physical reference of the protocol on this machine.
//!
//! The contenders take turns run by run; every download is compared byte for
//! byte with its source, and what a run stored is deleted, outside the
//! timing. `arca`'s figure is its process's wall time (start-up and plugin
//! loading included); MLflow's is the time of the call alone, measured in
//! its process (`cloud_bench.py`). Each run also records the client's CPU
//! time and the server's (from `/proc`): both run on this machine, so the
//! server's CPU is part of every figure.

mod sftp;

use super::Ctx;
use super::data;
use super::document::Document;
use super::measure;
use super::proc::{self, Output};
use super::report::{self, Machine, Section, table};
use super::s3::Sizes;
use super::timing::{Runner, Timed, Transfer};
use super::verify::{same_file, same_tree};
use crate::project::{self, Result};
use crate::servers::azurite::{self, Azurite};
use crate::servers::ftp::FtpServer;
use crate::servers::gcs::{self, GcsServer};
use crate::servers::hdfs::HdfsServer;
use sftp::Sftp;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Command;

/// The Python contenders.
const SCRIPT: &str = include_str!("cloud/cloud_bench.py");
/// The files of the small-file workload are this big.
const FILE_BYTES: usize = 64 << 10;
/// The contenders, by index.
const ARCA: usize = 0;
const MLFLOW: usize = 1;
/// The physical reference of the large file: OpenSSH's `sftp` on SFTP,
/// curl on FTP.
const SFTP: usize = 2;

/// Which service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cloud {
    Azure,
    Gcs,
    Ftp,
    Sftp,
    Hdfs,
}

impl Cloud {
    fn name(self) -> &'static str {
        match self {
            Cloud::Azure => "azure",
            Cloud::Gcs => "gcs",
            Cloud::Ftp => "ftp",
            Cloud::Sftp => "sftp",
            Cloud::Hdfs => "hdfs",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Cloud::Azure => "Arca on Azure Blob (Azurite) against MLflow",
            Cloud::Gcs => "Arca on GCS (the project's test server) against MLflow",
            Cloud::Ftp => "Arca on FTP against MLflow",
            Cloud::Sftp => "Arca on SFTP against MLflow",
            Cloud::Hdfs => "Arca on HDFS against the Java client MLflow's repository runs",
        }
    }
}

/// The server of a run.
enum Server {
    Azure(Azurite),
    Gcs(GcsServer),
    Ftp(FtpServer),
    Sftp(Sftp),
    /// The cluster, and the class path of its launcher (the Java contender).
    Hdfs(HdfsServer, String),
}

impl Server {
    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Server::Azure(a) => a.env(),
            Server::Gcs(g) => g.env(),
            Server::Ftp(_) => Vec::new(),
            Server::Sftp(s) => s.arca_env(),
            Server::Hdfs(..) => Vec::new(),
        }
    }

    /// The URI of `key` under the benchmark's prefix.
    fn uri(&self, key: &str) -> String {
        match self {
            Server::Azure(_) => format!(
                "wasbs://{}@{}.blob.core.windows.net/bench/{key}",
                azurite::CONTAINER,
                azurite::ACCOUNT
            ),
            Server::Gcs(_) => format!("gs://{}/bench/{key}", gcs::BUCKET),
            Server::Ftp(f) => f.uri(&format!("bench/{key}")),
            Server::Sftp(s) => s.uri(key),
            Server::Hdfs(h, _) => h.uri(&format!("bench/{key}")),
        }
    }

    /// The server's process names, for its CPU time.
    fn processes(&self) -> &'static [&'static str] {
        match self {
            Server::Azure(_) => &["node"],
            Server::Gcs(_) => &["gcs-xml-server"],
            Server::Ftp(f) if f.name == "vsftpd" => &["vsftpd"],
            Server::Ftp(_) => &["python"],
            // OpenSSH 9.2 forks `sshd` per connection (`sshd-session` from 9.8).
            Server::Sftp(_) => &["sshd", "sshd-session"],
            // The cluster's JVM runs under its own name (see HdfsServer).
            Server::Hdfs(..) => &[crate::servers::hdfs::PROCESS],
        }
    }
}

struct Bench<'a> {
    ctx: &'a Ctx,
    cloud: Cloud,
    sizes: Sizes,
    server: Server,
    dir: PathBuf,
    python: PathBuf,
    script: PathBuf,
}

fn os(s: impl Into<OsString>) -> OsString {
    s.into()
}

impl Bench<'_> {
    fn arca<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Command {
        let mut cmd = Command::new(self.ctx.release.join(project::executable_file("arca")));
        cmd.arg("--quiet").arg("--plugins").arg(&self.ctx.manifest).args(args);
        cmd.envs(self.server.env());
        cmd
    }

    fn mlflow<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Command {
        if let Server::Hdfs(_, class_path) = &self.server {
            // What MLflow's repository runs under pyarrow's libhdfs: the Java client.
            // The class path goes in the environment: it names files of
            // this machine, which the report does not show.
            let mut cmd = Command::new("java");
            cmd.env("CLASSPATH", class_path)
                .args(["-Xmx1g", "arca.minidfs.Transfer"])
                .args(args);
            return cmd;
        }
        let mut cmd = Command::new(&self.python);
        cmd.arg(&self.script).arg(self.cloud.name()).args(args);
        cmd.env("PYTHONDONTWRITEBYTECODE", "1");
        match &self.server {
            Server::Sftp(s) => cmd.envs(s.mlflow_env()),
            other => cmd.envs(other.env()),
        };
        cmd
    }

    /// Deletes everything under `bench/<prefix>`.
    fn clean(&self, prefix: &str) -> Result {
        proc::run(
            &mut self.arca(["rm", "-r", "-f", &self.server.uri(prefix)]),
            &Output::Logged(&self.ctx.logs),
        )
        .map(drop)
    }

    /// Runs one timed command and records it (see [`Runner::step`]).
    fn step(&self, t: &mut Timed, cmd: Command, python: bool, what: &str, run: usize) -> Result {
        let runner = Runner {
            logs: &self.ctx.logs,
            runs: self.ctx.runs,
            script: "cloud_bench.py",
            servers: self.server.processes(),
            server_label: "server",
        };
        // On SFTP the environment says where the keys are: it is shown.
        let env = cmd
            .get_envs()
            .filter(|_| matches!(self.server, Server::Sftp(_)))
            .filter(|(k, _)| *k == "HOME" || k.to_string_lossy().starts_with("ARCA_SFTP_"))
            .filter_map(|(k, v)| Some(format!("{}={}", k.to_string_lossy(), v?.to_string_lossy())));
        let words: Vec<String> = env
            .chain(
                std::iter::once(cmd.get_program())
                    .chain(cmd.get_args())
                    .map(|w| w.to_string_lossy().into_owned()),
            )
            .map(|w| self.ctx.shown(w))
            .collect();
        runner.step(t, cmd, python, what, run, words.join(" "))
    }

    /// The contenders of the large file: Arca, MLflow, and on SFTP
    /// OpenSSH's `sftp` and `scp`.
    fn big_contenders(&self) -> Vec<&'static str> {
        let mut names = vec!["arca", "mlflow"];
        match self.server {
            Server::Sftp(_) => names.extend(sftp::REFERENCES),
            Server::Ftp(_) => names.push("curl"),
            _ => {}
        }
        names
    }

    /// The large file up and down, each contender in turn.
    fn big(&self) -> Result<Transfer> {
        let src = self.dir.join("big.bin");
        let names = self.big_contenders();
        let mut t = Transfer::new(names.len());
        for run in 1..=self.ctx.runs {
            for (i, name) in names.iter().enumerate() {
                let prefix = format!("big/{name}-r{run}");
                let got = self.dir.join(format!("down-big-{name}-r{run}"));
                let (up, down) = if let (Server::Sftp(s), true) = (&self.server, i > MLFLOW) {
                    // The remote directory is made outside the timing: `put`
                    // and `scp` make none.
                    let remote = s.remote(&prefix);
                    std::fs::create_dir_all(&remote).map_err(|e| format!("cannot create {}: {e}", remote.display()))?;
                    std::fs::create_dir_all(&got).map_err(|e| format!("cannot create {}: {e}", got.display()))?;
                    let (remote, local) = (remote.join("big.bin"), got.join("big.bin"));
                    if i == SFTP {
                        let batch = |op: &str| self.dir.join(format!("{op}-{name}-r{run}.batch"));
                        (
                            s.sftp(&batch("put"), "put", &src, &remote)?,
                            s.sftp(&batch("get"), "get", &remote, &local)?,
                        )
                    } else {
                        (s.scp(true, &src, &remote), s.scp(false, &local, &remote))
                    }
                } else if let (Server::Ftp(_), true) = (&self.server, i > MLFLOW) {
                    // One `STOR` or `RETR` stream, like MLflow's client;
                    // the directory is made in the timing, as arca's is.
                    std::fs::create_dir_all(&got).map_err(|e| format!("cannot create {}: {e}", got.display()))?;
                    let uri = self.server.uri(&format!("{prefix}/big.bin"));
                    let mut up = Command::new("curl");
                    up.args(["-sS", "--ftp-create-dirs", "-T"]).arg(&src).arg(&uri);
                    let mut down = Command::new("curl");
                    down.args(["-sS", "-o"]).arg(got.join("big.bin")).arg(&uri);
                    (up, down)
                } else if i == ARCA {
                    std::fs::create_dir_all(&got).map_err(|e| format!("cannot create {}: {e}", got.display()))?;
                    (
                        self.arca([os("cp"), os(&src), os(self.server.uri(&format!("{prefix}/big.bin")))]),
                        self.arca([
                            os("cp"),
                            os(self.server.uri(&format!("{prefix}/big.bin"))),
                            os(got.join("big.bin")),
                        ]),
                    )
                } else {
                    (
                        self.mlflow([os("up-file"), os(&src), os(self.server.uri(&prefix))]),
                        self.mlflow([os("down"), os(self.server.uri(&prefix)), os(&got)]),
                    )
                };
                let what = format!("{} file", self.sizes.big_shown());
                self.step(&mut t.up[i], up, i == MLFLOW, &format!("{what} up, {name}"), run)?;
                self.step(&mut t.down[i], down, i == MLFLOW, &format!("{what} down, {name}"), run)?;
                same_file(&src, &got.join("big.bin"))?;
                measure::remove(&got)?;
                self.clean(&prefix)?;
            }
        }
        Ok(t)
    }

    /// The small files up and down, each contender in turn.
    fn small(&self) -> Result<Transfer> {
        let src = self.dir.join("small");
        let mut t = Transfer::new(2);
        for run in 1..=self.ctx.runs {
            for (i, name) in ["arca", "mlflow"].iter().enumerate() {
                let prefix = format!("small/{name}-r{run}");
                let got = self.dir.join(format!("down-small-{name}-r{run}"));
                let uri = self.server.uri(&prefix);
                let (up, down) = if i == ARCA {
                    (
                        self.arca([os("cp"), os("-r"), os(&src), os(&uri)]),
                        self.arca([os("cp"), os("-r"), os(&uri), os(&got)]),
                    )
                } else {
                    (
                        self.mlflow([os("up-dir"), os(&src), os(&uri)]),
                        self.mlflow([os("down"), os(&uri), os(&got)]),
                    )
                };
                let what = format!("{} × 64 KiB", self.sizes.files);
                self.step(&mut t.up[i], up, i == MLFLOW, &format!("{what} up, {name}"), run)?;
                self.step(&mut t.down[i], down, i == MLFLOW, &format!("{what} down, {name}"), run)?;
                same_tree(&src, &got)?;
                self.clean(&prefix)?;
            }
        }
        Ok(t)
    }
}

/// Runs the benchmark of `cloud`.
pub fn run(ctx: &Ctx, machine: &Machine, cloud: Cloud, sizes: Sizes) -> Result {
    let python = crate::python::ensure_venv()?;
    let dir = ctx.work.join(cloud.name());
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let script = dir.join("cloud_bench.py");
    project::write(&script, SCRIPT)?;
    let server = match cloud {
        Cloud::Azure => Server::Azure(Azurite::start()?),
        Cloud::Gcs => {
            let mut cmd = project::cargo();
            cmd.args(["build", "--release", "-p", "arca-tests", "--bin", "gcs-xml-server"]);
            proc::run(&mut cmd, &Output::Inherit)?;
            let program = ctx.release.join(project::executable_file("gcs-xml-server"));
            Server::Gcs(GcsServer::start(&program)?)
        }
        // vsftpd, a C server with a process per session; pyftpdlib where
        // vsftpd cannot run (not root). Not pure-ftpd: every failed `CWD`
        // there waits about 5 s, and MLflow's FTP listing sends one per
        // entry to tell files from directories (50 files took 245 s to
        // download), so 1,000 files could not be measured there.
        Cloud::Ftp if FtpServer::vsftpd_available() => Server::Ftp(FtpServer::vsftpd()?),
        Cloud::Ftp => Server::Ftp(FtpServer::pyftpdlib(&python)?),
        Cloud::Sftp => Server::Sftp(Sftp::start(&dir)?),
        Cloud::Hdfs => {
            let class_path = crate::servers::hdfs::prepare()?;
            Server::Hdfs(HdfsServer::start(crate::servers::hdfs::Kind::Plain)?, class_path)
        }
    };
    let bench = Bench {
        ctx,
        cloud,
        sizes,
        server,
        dir,
        python,
        script,
    };
    eprintln!(
        "bench: writing {} and {} × 64 KiB to {}",
        sizes.big_shown(),
        sizes.files,
        bench.dir.display()
    );
    data::big_file(&bench.dir.join("big.bin"), sizes.big_bytes())?;
    data::flat_dir(&bench.dir.join("small"), sizes.files, FILE_BYTES)?;
    proc::sync(&ctx.logs)?;

    let big = bench.big()?;
    let small = bench.small()?;
    let software = software(&bench)?;
    let doc = document(&bench, machine, &big, &small, software);
    println!();
    for s in &doc.sections {
        println!("{}", s.text());
    }
    let path = doc.write()?;
    println!("wrote the {} part of {}", cloud.name(), project::display(&path));
    Ok(())
}

/// The versions of what is measured.
fn software(b: &Bench<'_>) -> Result<Vec<(String, String)>> {
    let logs = &b.ctx.logs;
    let version = |module: &str| -> Result<String> {
        let code = format!("import importlib.metadata as m; print(m.version('{module}'))");
        let out = proc::stdout(Command::new(&b.python).args(["-c", &code]), logs)?;
        Ok(out.trim().to_owned())
    };
    let mut rows = vec![("MLflow".to_owned(), format!("{} (PyPI)", version("mlflow")?))];
    match b.cloud {
        Cloud::Azure => {
            rows.push((
                "azure-storage-blob".to_owned(),
                format!("{} (PyPI)", version("azure-storage-blob")?),
            ));
            rows.push(("Azurite".to_owned(), format!("{} (npm), on disk", azurite::VERSION)));
            let node = proc::stdout(Command::new("node").arg("--version"), logs)?;
            rows.push(("Node".to_owned(), node.trim().to_owned()));
        }
        Cloud::Ftp => {
            let server = match &b.server {
                Server::Ftp(f) if f.name == "vsftpd" => {
                    format!("vsftpd {} (Debian)", f.version.as_deref().unwrap_or_default())
                }
                _ => format!("pyftpdlib {} (PyPI)", version("pyftpdlib")?),
            };
            rows.push(("Server".to_owned(), server));
            let curl = proc::stdout(Command::new("curl").arg("--version"), logs)?;
            let curl = curl.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            rows.push(("Reference".to_owned(), curl));
        }
        Cloud::Sftp => {
            for module in ["pysftp", "paramiko"] {
                rows.push((module.to_owned(), format!("{} (PyPI)", version(module)?)));
            }
            // `ssh -V` answers on stderr; the client and sshd are one package.
            let out = Command::new("ssh")
                .arg("-V")
                .output()
                .map_err(|e| format!("cannot run ssh -V: {e}"))?;
            let openssh = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            rows.push((
                "Server".to_owned(),
                format!("sshd (`internal-sftp`), {openssh}; `sftp` and `scp` from the same"),
            ));
        }
        Cloud::Hdfs => {
            let out = Command::new("java")
                .arg("-version")
                .output()
                .map_err(|e| format!("cannot run java -version: {e}"))?;
            let java = String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            rows.push((
                "Server".to_owned(),
                format!(
                    "MiniDFSCluster of Hadoop {} (Maven Central): one NameNode, one DataNode, 16 MiB blocks",
                    crate::servers::hdfs::HADOOP_VERSION
                ),
            ));
            rows.push((
                "Java contender".to_owned(),
                format!("Hadoop's `FileSystem` client, {java}"),
            ));
        }
        Cloud::Gcs => {
            rows.push((
                "google-cloud-storage".to_owned(),
                format!("{} (PyPI)", version("google-cloud-storage")?),
            ));
            rows.push((
                "Server".to_owned(),
                "`gcs-xml-server` (tests/gcs, release build), in memory".to_owned(),
            ));
        }
    }
    Ok(rows)
}

fn rate(bytes: f64, t: &Timed) -> String {
    format!("{:.0} MB/s", bytes / t.median() / 1e6)
}

/// One workload's table: a row per contender (`labels`: up, down) and
/// direction, each compared with MLflow and, where the large file has a
/// physical reference among its contenders (`reference`: OpenSSH's `sftp`,
/// curl), with that too.
fn section(
    title: String,
    intro: String,
    t: &Transfer,
    bytes: f64,
    labels: &[[&str; 2]],
    reference: &'static str,
) -> Section {
    let vs_sftp = labels.len() > SFTP;
    let mut rows = Vec::new();
    let mut commands = Vec::new();
    for (dir, timed) in [("up", &t.up), ("down", &t.down)] {
        for (i, label) in labels.iter().enumerate() {
            let tm = &timed[i];
            let ratio = timed[MLFLOW].median() / tm.median();
            let mut row = vec![
                dir.to_owned(),
                label[usize::from(dir == "down")].to_owned(),
                format!("{:.2} s", tm.median()),
                rate(bytes, tm),
                format!("{ratio:.2}×"),
            ];
            if vs_sftp {
                row.push(format!("{:.2}×", timed[SFTP].median() / tm.median()));
            }
            row.push(format!("{:.2} s", tm.cpu_median()));
            row.push(format!("{:.2} s", tm.server_cpu_median()));
            rows.push(row);
            commands.push((
                format!("{dir}, {}", label[usize::from(dir == "down")]),
                tm.command.clone(),
            ));
        }
    }
    let mut headers = vec!["", "Contender", "Time", "Rate", "vs MLflow"];
    if vs_sftp {
        headers.push(reference);
    }
    headers.extend(["Client CPU", "Server CPU"]);
    Section {
        title,
        intro,
        headers,
        rows,
        commands,
    }
}

fn document<'a>(
    b: &Bench<'_>,
    machine: &'a Machine,
    big: &Transfer,
    small: &Transfer,
    software: Vec<(String, String)>,
) -> Document<'a> {
    let name = b.cloud.name();
    let runs = match b.ctx.runs {
        1 => "a single run".to_owned(),
        n => format!("the median of {n} runs"),
    };
    let command = format!("cargo xtask bench {name}{}", b.sizes.flags());
    let command = match b.ctx.runs {
        3 => command,
        n => format!("{command} --runs {n}"),
    };
    let server = match b.cloud {
        Cloud::Sftp => {
            "OpenSSH's sshd (`internal-sftp`) on the local disk, key auth (Arca through the host alias of the \
             server's client configuration, given in `ARCA_SFTP_SSH_CONFIG` and `ARCA_SFTP_KNOWN_HOSTS`; MLflow \
             through the same alias in the `~/.ssh/config` of a HOME of its own, with the RSA client key, since \
             pysftp loads no ed25519 key, and the host keys under the bare address, since pysftp looks them up by \
             host name)"
        }
        Cloud::Hdfs => {
            "a MiniDFSCluster (one NameNode and one DataNode on the local disk, one replica, 16 MiB blocks); the \
             contender is Hadoop's Java client doing what MLflow's `HdfsArtifactRepository` does (a 1 MiB copy \
             loop per file, one file after another), since MLflow reaches HDFS through pyarrow's `libhdfs`, which \
             comes only with a Hadoop distribution and calls that same Java client through JNI; its rows are \
             labelled MLflow"
        }
        Cloud::Ftp => match &b.server {
            Server::Ftp(f) if f.name == "vsftpd" => {
                "vsftpd on the local disk, its anonymous user with write access (a process per session; not \
                 pure-ftpd: there every failed `CWD` waits about 5 s, and MLflow's listing sends one per entry)"
            }
            _ => {
                "pyftpdlib on the local disk (not pure-ftpd: there every failed `CWD` waits about 5 s, and \
                 MLflow's listing sends one per entry)"
            }
        },
        Cloud::Azure => "Azurite (Microsoft's emulator), storing on the local disk",
        Cloud::Gcs => {
            "the project's GCS server (`tests/gcs`), in memory; MLflow's client speaks its JSON API (with a token \
             exchange), Arca its XML API"
        }
    };
    let repo = match b.cloud {
        Cloud::Sftp => "`SFTPArtifactRepository` (pysftp and paramiko)",
        Cloud::Ftp => "`FTPArtifactRepository` (ftplib)",
        Cloud::Hdfs => "`HdfsArtifactRepository`, as its Java client",
        Cloud::Azure => "`AzureBlobArtifactRepository` (azure-storage-blob)",
        Cloud::Gcs => "`GCSArtifactRepository` (google-cloud-storage)",
    };
    let intro = format!(
        "Arca against MLflow's own {repo}, both against one server started for the run: {server}. Each figure is \
         {runs}; the contenders take turns run by run. Every download is compared byte for byte with its source \
         and what a run stored is deleted, outside the timing. `arca`'s time is its whole process (start-up and \
         plugin loading included); MLflow's is the transfer call alone, timed inside its process. Client and server \
         CPU are user + system seconds during the run; the server runs on the same machine, so its CPU is part of \
         every figure."
    );
    let big_bytes = b.sizes.big_bytes() as f64;
    let small_bytes = (b.sizes.files * FILE_BYTES) as f64;
    let mut labels = vec![
        ["arca cp", "arca cp"],
        ["MLflow log_artifact", "MLflow download_artifacts"],
    ];
    let mut big_intro = "One file up, then down.".to_owned();
    if b.cloud == Cloud::Ftp {
        labels.push(["curl -T", "curl"]);
        big_intro.push_str(
            " curl (one `STOR` or `RETR` stream, as MLflow's client sends) is the physical reference: the same \
             server and URI, timed like `arca`, as a whole process; \"vs curl\" is curl's time over the row's.",
        );
    }
    if b.cloud == Cloud::Sftp {
        labels.extend([["sftp -b (put)", "sftp -b (get)"], ["scp", "scp"]]);
        big_intro.push_str(
            " OpenSSH's own `sftp` (batch mode, one `put` or `get`) and `scp` (which speaks SFTP since OpenSSH 9.0) \
             are the physical reference: the same server, key and ssh configuration (`-F`), timed like `arca`, \
             as a whole process; \"vs sftp\" is `sftp`'s time over the row's.",
        );
    }
    let small_labels = [
        ["arca cp -r", "arca cp -r"],
        ["MLflow log_artifacts", "MLflow download_artifacts"],
    ];
    let reference = if b.cloud == Cloud::Ftp { "vs curl" } else { "vs sftp" };
    let sections = vec![
        section(
            format!("A {} file", b.sizes.big_shown()),
            big_intro,
            big,
            big_bytes,
            &labels,
            reference,
        ),
        section(
            format!("{} files of 64 KiB", report::thousands(b.sizes.files as u64)),
            "One directory of files up, then down.".to_owned(),
            small,
            small_bytes,
            &small_labels,
            reference,
        ),
    ];
    // Arca's speed over the contender `against`'s.
    let ratio = |t: &[Timed], against: usize| t[against].median() / t[ARCA].median();
    // The targets of the issues that asked for these benchmarks.
    let big_target = if matches!(b.cloud, Cloud::Ftp | Cloud::Sftp) {
        2.0
    } else {
        1.5
    };
    let verdict = |r: f64, target: f64| if r >= target { "met" } else { "**not met**" };
    let mut targets: Vec<(&str, &str, &[Timed], usize, f64)> = vec![
        ("large file, up", "MLflow", &big.up, MLFLOW, big_target),
        ("large file, down", "MLflow", &big.down, MLFLOW, big_target),
        ("small files, up", "MLflow", &small.up, MLFLOW, 5.0),
        ("small files, down", "MLflow", &small.down, MLFLOW, 5.0),
    ];
    let sftp = b.cloud == Cloud::Sftp;
    if sftp {
        targets.extend([
            ("large file, up", "OpenSSH `sftp`", &big.up[..], SFTP, 0.8),
            ("large file, down", "OpenSSH `sftp`", &big.down[..], SFTP, 0.8),
        ]);
    }
    let rows: Vec<Vec<String>> = targets
        .iter()
        .map(|&(workload, against, t, i, target)| {
            let r = ratio(t, i);
            let mut row = vec![workload.to_owned()];
            if sftp {
                row.push(against.to_owned());
            }
            row.extend([
                format!("{r:.2}×"),
                format!("≥ {target}×"),
                verdict(r, target).to_owned(),
            ]);
            row
        })
        .collect();
    let headers: &[&str] = if sftp {
        &["Workload", "Against", "Arca's ratio", "Target", ""]
    } else {
        &["Workload", "Arca vs MLflow", "Target", ""]
    };
    let notes = table(headers, &rows);
    let busy = |t: &Timed| (t.cpu_median() + t.server_cpu_median()) / t.median();
    let reference = if big.up.len() > SFTP {
        format!(
            ", and {:.1} and {:.1} during {}'s upload and download",
            busy(&big.up[SFTP]),
            busy(&big.down[SFTP]),
            if sftp { "OpenSSH `sftp`" } else { "curl" }
        )
    } else {
        String::new()
    };
    let notes = format!(
        "{notes}\nWhere the time goes: the client and the server together kept {:.1} of the machine's CPUs busy \
         during Arca's large upload ({:.1} during MLflow's), {:.1} during Arca's large download ({:.1} during \
         MLflow's){reference}; a figure near the number of CPUs means the machine, not the protocol, bounds the run.",
        busy(&big.up[ARCA]),
        busy(&big.up[MLFLOW]),
        busy(&big.down[ARCA]),
        busy(&big.down[MLFLOW]),
    );
    Document {
        name,
        title: b.cloud.title(),
        intro,
        command,
        date: report::utc_now(),
        machine,
        software,
        sections,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_compare_with_mlflow() {
        let t = |secs: f64| Timed {
            secs: vec![secs],
            ..Timed::default()
        };
        let transfer = Transfer {
            up: vec![t(1.0), t(3.0)],
            down: vec![t(2.0), t(2.0)],
        };
        let s = section(
            "x".into(),
            String::new(),
            &transfer,
            3e6,
            &[["a", "a"], ["m", "m"]],
            "vs sftp",
        );
        assert_eq!(s.rows[0][4], "3.00×");
        assert_eq!(s.rows[0][3], "3 MB/s");
        assert_eq!(s.rows[2][4], "1.00×");
        assert!(!s.headers.contains(&"vs sftp"));
    }

    #[test]
    fn the_large_file_on_sftp_compares_with_openssh_too() {
        let t = |secs: f64| Timed {
            secs: vec![secs],
            ..Timed::default()
        };
        let transfer = Transfer {
            up: vec![t(1.0), t(4.0), t(2.0), t(2.0)],
            down: vec![t(1.0); 4],
        };
        let labels = [["a", "a"], ["m", "m"], ["s", "s"], ["c", "c"]];
        let s = section("x".into(), String::new(), &transfer, 3e6, &labels, "vs sftp");
        assert_eq!(s.headers[5], "vs sftp");
        assert_eq!(s.rows.len(), 8);
        assert_eq!((s.rows[0][4].as_str(), s.rows[0][5].as_str()), ("4.00×", "2.00×"));
        assert_eq!(s.rows[2][5], "1.00×");
        assert_eq!(s.rows[0].len(), s.headers.len());
    }
}
