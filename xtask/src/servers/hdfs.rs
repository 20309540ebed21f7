//! A real HDFS for the tests: Hadoop's MiniDFSCluster (one NameNode, one
//! DataNode) run by the project's launcher in `tests/hdfs/`
//! (`arca.minidfs.MiniHdfs`), with MiniKdc for the secured variant.
//!
//! Maven resolves the launcher's dependencies from Maven Central and
//! compiles it on first use, into `<target>/minidfs/` (the runtime class
//! path in `cp.txt`); later runs only start the JVM, directly, with flags
//! that halve its start-up CPU. The web applications are unpacked from the
//! shaded jar once, so Jetty does not scan 56 MB at every start.
//!
//! The cluster binds 127.0.0.1 on ports the kernel picks, writes its
//! addresses to `ready.properties` when usable (waited for, bounded, while
//! the JVM is checked to be alive), and is stopped by PID when the guard is
//! dropped. Its control port takes the fault tests' commands
//! (`stop-datanode`, `start-datanode`, `restart-namenode`,
//! `enter-safemode`, `leave-safemode`).

use super::{Daemon, installed, run_until};
use crate::project;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The Hadoop release of the launcher's `pom.xml`.
pub const HADOOP_VERSION: &str = "3.5.0";
/// The cluster's JVM runs under this name (`/proc/<pid>/comm`), through a
/// link to `java`, so the benchmark tells its CPU from a Java client's.
pub const PROCESS: &str = "minidfs";

/// Maven's first resolution downloads about 120 MB.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
/// A warm start takes 7–15 s on two cores; a busy machine, more.
const START_TIMEOUT: Duration = Duration::from_secs(180);

/// Which cluster to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One NameNode, simple authentication.
    Plain,
    /// One NameNode, Kerberos (MiniKdc).
    Secure,
    /// Two NameNodes (name service `minidfs-ns`) and a ViewFS mount table
    /// `arca` (`/data` → `hdfs://minidfs-ns/viewfs-data`) in the client
    /// configuration.
    Ha,
}

/// A running MiniDFSCluster.
#[derive(Debug)]
pub struct HdfsServer {
    /// `hdfs://127.0.0.1:PORT`.
    pub url: String,
    /// The launcher's control port.
    pub control_port: u16,
    /// Its directory: data, logs, `core-site.xml`, `ready.properties`.
    pub dir: PathBuf,
    /// The secured variant's Kerberos files: (krb5.conf, keytab, principal).
    pub kerberos: Option<(PathBuf, PathBuf, String)>,
    /// `http://127.0.0.1:PORT/webhdfs/v1` (not on the secured cluster).
    pub webhdfs: Option<String>,
    /// The HDFS superuser: the user the JVM runs as.
    pub superuser: String,
    _daemon: Daemon,
}

/// Where the launcher is built.
fn build_dir() -> PathBuf {
    project::target_dir().join("minidfs")
}

/// Whether the launcher can run here: Java (with `jar`) and Maven are installed.
pub fn available() -> bool {
    installed("java") && installed("mvn") && installed("jar")
}

fn newest_source(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    stack.push(path);
                }
            } else if let Ok(m) = entry.metadata().and_then(|m| m.modified()) {
                newest = newest.max(Some(m));
            }
        }
    }
    newest
}

/// Resolves and compiles the launcher when its sources are newer than the
/// last build; returns the class path to run it with.
pub fn prepare() -> Result<String, String> {
    let sources = project::root().join("tests").join("hdfs");
    let out = build_dir();
    let cp_file = out.join("cp.txt");
    let built = std::fs::metadata(&cp_file).and_then(|m| m.modified()).ok();
    let stale = match (built, newest_source(&sources)) {
        (Some(b), Some(s)) => s > b,
        _ => true,
    };
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let log = out.join("build.log");
    if stale || !out.join("classes").is_dir() {
        eprintln!("minidfs: resolving and compiling the launcher (Maven; the first time downloads ~120 MB)");
        let _ = std::fs::remove_file(&cp_file);
        run_until(
            Command::new("mvn")
                .args(["-B", "-q", "-f"])
                .arg(sources.join("pom.xml"))
                .arg(format!("-Dminidfs.build={}", out.display()))
                .args(["compile", "dependency:build-classpath"])
                .arg(format!("-Dmdep.outputFile={}", cp_file.display())),
            Instant::now() + BUILD_TIMEOUT,
            &log,
            "mvn (the MiniDFSCluster launcher)",
        )?;
    }
    let cp = std::fs::read_to_string(&cp_file).map_err(|e| format!("cannot read {}: {e}", cp_file.display()))?;
    let cp = cp.trim().to_owned();
    let webapps = out.join("webapps-root");
    if !webapps.join("webapps").join("hdfs").is_dir()
        && let Some(jar) = cp.split(':').find(|p| p.contains("hadoop-client-minicluster"))
    {
        std::fs::create_dir_all(&webapps).map_err(|e| format!("cannot create {}: {e}", webapps.display()))?;
        run_until(
            Command::new("jar").current_dir(&webapps).args(["xf", jar, "webapps"]),
            Instant::now() + BUILD_TIMEOUT,
            &log,
            "jar xf (the MiniDFSCluster web apps)",
        )?;
    }
    Ok(format!("{}:{}:{cp}", webapps.display(), out.join("classes").display()))
}

impl HdfsServer {
    /// Starts a cluster (`secure`: with Kerberos) and waits until it is usable.
    pub fn start(kind: Kind) -> Result<Self, String> {
        let class_path = prepare()?;
        let started = Instant::now();
        let secure = kind == Kind::Secure;
        let name = match kind {
            Kind::Plain => "minidfs",
            Kind::Secure => "minidfs-secure",
            Kind::Ha => "minidfs-ha",
        };
        let dir = project::target_dir()
            .join("servers")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tmp")).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let log = dir.join("minidfs.log");
        let mut cmd = Command::new(java_as(PROCESS));
        cmd.args([
            "-Xmx1g",
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-Djava.net.preferIPv4Stack=true",
        ])
        .arg(format!("-Djava.io.tmpdir={}", dir.join("tmp").display()))
        .arg(format!("-Dminidfs.dir={}", dir.display()))
        .arg(format!("-Dminidfs.secure={secure}"))
        .arg(format!("-Dminidfs.ha={}", kind == Kind::Ha))
        .arg("-cp")
        .arg(&class_path)
        .arg("arca.minidfs.MiniHdfs");
        let mut daemon = Daemon::start("minidfs (java)", &mut cmd, &log)?;
        let ready = dir.join("ready.properties");
        let props = loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                break properties(&text);
            }
            daemon.check_alive(&log)?;
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "the MiniDFSCluster was not ready after {} s; see {}",
                    START_TIMEOUT.as_secs(),
                    log.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let get = |k: &str| {
            props
                .get(k)
                .cloned()
                .ok_or_else(|| format!("{} lacks {k}", ready.display()))
        };
        let url = get("url")?;
        let control_port = get("control_port")?
            .parse::<u16>()
            .map_err(|e| format!("bad control_port in {}: {e}", ready.display()))?;
        let kerberos = if secure {
            Some((
                PathBuf::from(get("krb5_conf")?),
                PathBuf::from(get("keytab")?),
                get("principal")?,
            ))
        } else {
            None
        };
        let webhdfs = props.get("webhdfs").cloned();
        let superuser = get("superuser")?;
        eprintln!("{name} ready at {url} in {:.1} s", started.elapsed().as_secs_f64());
        Ok(Self {
            url,
            control_port,
            dir,
            kerberos,
            webhdfs,
            superuser,
            _daemon: daemon,
        })
    }

    /// The store URI of `prefix` on this cluster.
    pub fn uri(&self, prefix: &str) -> String {
        format!("{}/{}", self.url, prefix.trim_start_matches('/'))
    }

    /// What the tests read: the test URI, the control port and, for the
    /// secured cluster, the client configuration and Kerberos files.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("ARCA_HDFS_TEST_URI", self.uri("arca-tests")),
            ("ARCA_HDFS_CONTROL_PORT", self.control_port.to_string()),
            ("ARCA_HDFS_SUPERUSER", self.superuser.clone()),
        ];
        if let Some(w) = &self.webhdfs {
            env.push(("ARCA_HDFS_WEBHDFS", w.clone()));
        }
        if let Some((krb5, keytab, principal)) = &self.kerberos {
            env.extend([
                ("HADOOP_CONF_DIR", self.dir.display().to_string()),
                ("KRB5_CONFIG", krb5.display().to_string()),
                ("ARCA_HDFS_KEYTAB", keytab.display().to_string()),
                ("ARCA_HDFS_PRINCIPAL", principal.clone()),
            ]);
        }
        env
    }
}

/// `java`, through a link named `name` in the build directory where one can
/// be made (the JVM finds its home from its real path); else `java`.
fn java_as(name: &str) -> PathBuf {
    let java = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("java"))
                .find(|p| p.is_file())
        })
        .and_then(|p| std::fs::canonicalize(p).ok());
    let link = build_dir().join("bin").join(name);
    #[cfg(unix)]
    if let Some(java) = java {
        let _ = std::fs::create_dir_all(build_dir().join("bin"));
        let _ = std::fs::remove_file(&link);
        if std::os::unix::fs::symlink(&java, &link).is_ok() {
            return link;
        }
    }
    PathBuf::from("java")
}

/// `key=value` lines.
fn properties(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ready_files_are_read() {
        let p = super::properties("url=hdfs://127.0.0.1:1\ncontrol_port=2\nbad line\n");
        assert_eq!(p.get("url").map(String::as_str), Some("hdfs://127.0.0.1:1"));
        assert_eq!(p.get("control_port").map(String::as_str), Some("2"));
        assert_eq!(p.len(), 2);
    }
}
