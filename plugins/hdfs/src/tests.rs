//! Tests against the MiniDFSCluster `cargo xtask test` starts, named by
//! `ARCA_HDFS_TEST_URI`, with its launcher's control port in
//! `ARCA_HDFS_CONTROL_PORT`. Without them they return early on a
//! developer's machine, but fail under CI. The conformance suite is where
//! the plugin is proven; these add what it cannot express: a DataNode lost
//! in the middle of a write, a NameNode restart, safe mode, permissions.
//!
//! They change the cluster's state, so they run as one test, in order.

use crate::{HdfsConfig, HdfsStore};
use arca_core::{ArtifactPath, Config, ErrorKind, FfiBuf, Reader, Result, Store, Writer};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

fn var(name: &str) -> Option<String> {
    let v = std::env::var(name).ok().filter(|v| !v.is_empty());
    if v.is_none() && std::env::var_os("CI").is_some() {
        panic!("{name} is not set under CI: `cargo xtask test` must start the MiniDFSCluster");
    }
    if v.is_none() {
        eprintln!("{name} is not set (run `cargo xtask test`); skipped");
    }
    v
}

fn p(s: &str) -> ArtifactPath {
    ArtifactPath::parse(s).unwrap_or_else(|e| panic!("bad path {s}: {e}"))
}

fn block_on<T>(f: impl Future<Output = T>) -> T {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => panic!("cannot start a runtime: {e}"),
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn open(uri: &str, pairs: &[(&str, &str)]) -> Result<HdfsStore> {
    HdfsStore::open(HdfsConfig::parse_with_env(
        uri,
        Config::from_pairs(pairs.iter().copied()),
        &|_| None,
    )?)
}

/// One command to the launcher's control port, which answers `ok` or
/// `error: …`.
fn control(port: u16, command: &str) {
    let addr = ([127, 0, 0, 1], port).into();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("cannot reach the control port {port}: {e}"));
    let _ = s.set_read_timeout(Some(Duration::from_secs(120)));
    writeln!(s, "{command}").unwrap_or_else(|e| panic!("cannot send {command}: {e}"));
    let mut line = String::new();
    BufReader::new(&s)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("no answer to {command}: {e}"));
    assert_eq!(line.trim(), "ok", "{command}");
}

/// Undoes a fault when the test ends, passed or not.
struct Restore(u16, &'static str);

impl Drop for Restore {
    fn drop(&mut self) {
        control(self.0, self.1);
    }
}

async fn put(store: &HdfsStore, path: &str, data: &[u8]) -> Result<()> {
    let mut w = store.write(&p(path)).await?;
    w.write(FfiBuf::from_vec(data.to_vec())).await?;
    w.finish().await
}

async fn get(store: &HdfsStore, path: &str) -> Result<Vec<u8>> {
    let mut r = store.read(&p(path), None).await?;
    let mut out = Vec::new();
    while let Some(c) = r.next_chunk().await? {
        out.extend_from_slice(c.as_bytes());
    }
    Ok(out)
}

async fn names(store: &HdfsStore, path: &str) -> Vec<String> {
    match store.list(&p(path), None, 1000).await {
        Ok(page) => page.entries.into_iter().map(|e| e.path).collect(),
        Err(e) => panic!("cannot list {path}: {e}"),
    }
}

/// A DataNode stopped in the middle of a write: the write fails (within
/// the idle timeout), and nothing is published or left behind.
async fn datanode_lost_mid_write(uri: &str, port: u16) {
    let store = open(uri, &[("timeout", "60")]).unwrap_or_else(|e| panic!("{e}"));
    let dir = format!("dn-{}", nanos());
    let mut w = store
        .write(&p(&format!("{dir}/f.bin")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let chunk = vec![7u8; 1 << 20];
    w.write(FfiBuf::from_vec(chunk.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let failed = {
        control(port, "stop-datanode");
        let _restore = Restore(port, "start-datanode");
        let mut failed = None;
        // Past a block (16 MiB), so the lost pipeline must be noticed.
        for _ in 0..40 {
            if let Err(e) = w.write(FfiBuf::from_vec(chunk.clone())).await {
                failed = Some(e);
                break;
            }
        }
        match failed {
            Some(e) => Some(e),
            None => w.finish().await.err(),
        }
    };
    let e = failed.unwrap_or_else(|| panic!("a write without its DataNode succeeded"));
    eprintln!("the write without its DataNode failed as it should: {e}");
    assert!(
        e.kind == ErrorKind::UNAVAILABLE || e.kind == ErrorKind::TIMEOUT,
        "unexpected failure: {e}"
    );
    assert!(
        names(&store, &dir).await.is_empty(),
        "the failed write left something in {dir}"
    );
    match store.stat(&p(&format!("{dir}/f.bin"))).await {
        Err(e) if e.kind == ErrorKind::NOT_FOUND => {}
        other => panic!("the failed write is visible: {other:?}"),
    }
    // With its DataNode back, the same store writes again.
    put(&store, &format!("{dir}/after.txt"), b"back")
        .await
        .unwrap_or_else(|e| panic!("no write after the DataNode returned: {e}"));
    let _ = store.delete(&p(&dir)).await;
}

/// The NameNode restarts between two operations of one store: the next
/// operation succeeds.
async fn namenode_restart(uri: &str, port: u16) {
    let store = open(uri, &[]).unwrap_or_else(|e| panic!("{e}"));
    let dir = format!("nn-{}", nanos());
    put(&store, &format!("{dir}/before.txt"), b"before")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    control(port, "restart-namenode");
    let read = get(&store, &format!("{dir}/before.txt")).await;
    assert_eq!(
        read.unwrap_or_else(|e| panic!("the first read after a NameNode restart failed: {e}")),
        b"before"
    );
    put(&store, &format!("{dir}/after.txt"), b"after")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names(&store, &dir).await, ["after.txt", "before.txt"]);
    let _ = store.delete(&p(&dir)).await;
}

/// Safe mode refuses writes as a temporary failure that names it; reads go on.
async fn safe_mode(uri: &str, port: u16) {
    let store = open(uri, &[]).unwrap_or_else(|e| panic!("{e}"));
    let dir = format!("sm-{}", nanos());
    put(&store, &format!("{dir}/a.txt"), b"a")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let refused = {
        control(port, "enter-safemode");
        let _restore = Restore(port, "leave-safemode");
        assert_eq!(
            get(&store, &format!("{dir}/a.txt")).await.ok().as_deref(),
            Some(&b"a"[..])
        );
        put(&store, &format!("{dir}/b.txt"), b"b").await
    };
    match refused {
        Err(e) => {
            assert_eq!((e.kind, e.temporary), (ErrorKind::UNAVAILABLE, true), "{e}");
            assert!(e.message.contains("safe mode"), "{}", e.message);
        }
        Ok(()) => panic!("a write in safe mode succeeded"),
    }
    let _ = store.delete(&p(&dir)).await;
}

/// Another user cannot write into the superuser's directory.
async fn permission_denied(uri: &str) {
    let owner = open(uri, &[]).unwrap_or_else(|e| panic!("{e}"));
    let dir = format!("perm-{}", nanos());
    put(&owner, &format!("{dir}/mine.txt"), b"x")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let other = open(&format!("{uri}/{dir}"), &[("user", "mallory")]).unwrap_or_else(|e| panic!("{e}"));
    match put(&other, "theirs.txt", b"y").await {
        Err(e) => {
            assert_eq!((e.kind, e.temporary), (ErrorKind::PERMISSION_DENIED, false), "{e}");
            assert!(e.message.contains("mallory"), "{}", e.message);
        }
        Ok(()) => panic!("mallory wrote into the superuser's directory"),
    }
    assert_eq!(names(&owner, &dir).await, ["mine.txt"]);
    let _ = owner.delete(&p(&dir)).await;
}

#[test]
fn faults_on_a_real_cluster() {
    let (Some(uri), Some(port)) = (var("ARCA_HDFS_TEST_URI"), var("ARCA_HDFS_CONTROL_PORT")) else {
        return;
    };
    let uri = format!("{uri}/unit");
    let port: u16 = port.parse().unwrap_or_else(|e| panic!("ARCA_HDFS_CONTROL_PORT: {e}"));
    block_on(async {
        permission_denied(&uri).await;
        safe_mode(&uri, port).await;
        namenode_restart(&uri, port).await;
        datanode_lost_mid_write(&uri, port).await;
    });
}

#[test]
fn an_unreachable_namenode_is_a_temporary_failure() {
    // Nothing listens on port 1.
    let store = open("hdfs://127.0.0.1:1/x", &[]).unwrap_or_else(|e| panic!("{e}"));
    let e = block_on(store.stat(&p("a"))).err();
    assert!(
        e.as_ref()
            .is_some_and(|e| e.kind == ErrorKind::UNAVAILABLE && e.temporary && e.message.contains("127.0.0.1:1")),
        "{e:?}"
    );
}

/// A file written, listed, read back and deleted through `store`.
async fn round_trip(store: &HdfsStore) {
    let dir = format!("krb-{}", nanos());
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    put(store, &format!("{dir}/f.bin"), &data)
        .await
        .unwrap_or_else(|e| panic!("write on the secured cluster: {e}"));
    assert_eq!(names(store, &dir).await, ["f.bin"]);
    assert!(get(store, &format!("{dir}/f.bin")).await.is_ok_and(|d| d == data));
    store.delete(&p(&dir)).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(names(store, &dir).await.is_empty());
}

/// `cargo xtask test hdfs-kerberos`, first process: the credentials a
/// service has by default (`KRB5CCNAME`, and the client keytab in
/// `KRB5_CLIENT_KTNAME`), the cluster's client configuration in
/// `HADOOP_CONF_DIR`, no setting of the plugin's.
#[test]
#[ignore = "needs the secured cluster of `cargo xtask test hdfs-kerberos`"]
fn kerberos_with_the_default_credentials() {
    let uri = std::env::var("ARCA_HDFS_KERBEROS_URI").unwrap_or_else(|_| panic!("ARCA_HDFS_KERBEROS_URI is not set"));
    let store = open(&uri, &[]).unwrap_or_else(|e| panic!("{e}"));
    block_on(round_trip(&store));
}

/// Second process, without the keytab: MLflow's variables alone, the
/// ticket cache the first process filled (its principal read from the
/// file), then a cache that does not exist, refused with a Kerberos error.
#[test]
#[ignore = "needs the secured cluster of `cargo xtask test hdfs-kerberos`"]
fn kerberos_with_mlflows_ticket_cache() {
    let uri = std::env::var("ARCA_HDFS_KERBEROS_URI").unwrap_or_else(|_| panic!("ARCA_HDFS_KERBEROS_URI is not set"));
    let cache = std::env::var("ARCA_HDFS_TICKET_CACHE").unwrap_or_else(|_| panic!("ARCA_HDFS_TICKET_CACHE is not set"));
    assert!(
        std::env::var_os("KRB5_CLIENT_KTNAME").is_none(),
        "the keytab must not be at hand"
    );
    let store = open(&uri, &[("kerberos_ticket_cache", &cache)]).unwrap_or_else(|e| panic!("{e}"));
    block_on(round_trip(&store));
    let principal = crate::ccache::principal_of(&cache).unwrap_or_else(|e| panic!("{e}"));
    let none = open(
        &uri,
        &[
            ("kerberos_ticket_cache", "FILE:/nonexistent/krb5cc"),
            ("kerberos_user", principal.as_str()),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    match block_on(none.stat(&p("x"))) {
        Err(e) => assert_eq!(e.kind, ErrorKind::UNAUTHENTICATED, "{e}"),
        Ok(info) => panic!("no credentials, yet the NameNode answered: {info:?}"),
    }
}

/// An HA name service and a ViewFS mount table, both resolved from the
/// cluster's client configuration (`hadoop_conf_dir`), and a fail-over of
/// the active NameNode between two operations of one store.
#[test]
#[ignore = "needs the HA cluster of `cargo xtask test` (`cargo xtask test hdfs-ha`)"]
fn ha_name_service_and_viewfs() {
    let dir = std::env::var("ARCA_HDFS_HA_CONF_DIR").unwrap_or_else(|_| panic!("ARCA_HDFS_HA_CONF_DIR is not set"));
    let port: u16 = std::env::var("ARCA_HDFS_HA_CONTROL_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("ARCA_HDFS_HA_CONTROL_PORT is not set"));
    let conf = [("hadoop_conf_dir", dir.as_str())];
    let run = format!("ha-{}", nanos());
    block_on(async {
        let ns = open(&format!("hdfs://minidfs-ns/{run}"), &conf).unwrap_or_else(|e| panic!("{e}"));
        put(&ns, "a.txt", b"before the fail-over")
            .await
            .unwrap_or_else(|e| panic!("write through the name service: {e}"));
        control(port, "failover");
        assert_eq!(
            get(&ns, "a.txt")
                .await
                .unwrap_or_else(|e| panic!("first read after the fail-over: {e}")),
            b"before the fail-over"
        );
        put(&ns, "b.txt", b"after").await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names(&ns, "").await, ["a.txt", "b.txt"]);

        let view = open(&format!("viewfs://arca/data/{run}"), &conf).unwrap_or_else(|e| panic!("{e}"));
        put(&view, "c.txt", b"through viewfs")
            .await
            .unwrap_or_else(|e| panic!("write through viewfs: {e}"));
        // It landed under the mount's target.
        let target = open(&format!("hdfs://minidfs-ns/viewfs-data/{run}"), &conf).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            get(&target, "c.txt").await.ok().as_deref(),
            Some(&b"through viewfs"[..])
        );
        assert_eq!(names(&view, "").await, ["c.txt"]);
        view.delete(&p("")).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(names(&target, "").await.is_empty());
        ns.delete(&p("")).await.unwrap_or_else(|e| panic!("{e}"));
    });
}
