//! Tests against the OpenSSH server `cargo xtask test` starts, named by
//! `ARCA_SFTP_TEST_URI` (key auth through the `ssh_config` alias in
//! `ARCA_SFTP_SSH_CONFIG`), `ARCA_SFTP_PASSWORD_TEST_URI` (a throw-away
//! user's password), `ARCA_SFTP_KNOWN_HOSTS`, `ARCA_SFTP_TEST_PORT` and
//! the client keys. Without them they return early on a developer's
//! machine, but fail under CI. The conformance suite is where the plugin is
//! proven; these add what it cannot express: host keys unknown or changed,
//! a wrong key, a wrong password, the ssh-agent.

use crate::{SftpConfig, SftpStore};
use arca_core::{ArtifactPath, Config, ErrorKind, FfiBuf, Reader, Result, Store, Writer};

fn var(name: &str) -> Option<String> {
    let v = std::env::var(name).ok().filter(|v| !v.is_empty());
    if v.is_none() && std::env::var_os("CI").is_some() {
        panic!("{name} is not set under CI: `cargo xtask test` must start sshd");
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

/// A store at `uri` with `pairs` as its configuration and `env` as the
/// whole environment.
fn open(uri: &str, pairs: &[(&str, &str)], env: &[(&str, String)]) -> Result<SftpStore> {
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    SftpStore::open(SftpConfig::parse_with_env(
        uri,
        Config::from_pairs(pairs.iter().copied()),
        &move |n| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()),
    )?)
}

async fn round_trip(store: &SftpStore) -> Result<Vec<u8>> {
    let name = format!("unit-{}/d/f.txt", nanos());
    let mut w = store.write(&p(&name)).await?;
    w.write(FfiBuf::from_vec(b"over ssh".to_vec())).await?;
    w.finish().await?;
    let mut r = store.read(&p(&name), None).await?;
    let mut out = Vec::new();
    while let Some(c) = r.next_chunk().await? {
        out.extend_from_slice(c.as_bytes());
    }
    store.delete(&p(name.split('/').next().unwrap_or(&name))).await?;
    Ok(out)
}

/// The server's environment: the ssh config and known hosts of the run.
fn server_env() -> Option<Vec<(&'static str, String)>> {
    Some(vec![
        ("ARCA_SFTP_SSH_CONFIG", var("ARCA_SFTP_SSH_CONFIG")?),
        ("ARCA_SFTP_KNOWN_HOSTS", var("ARCA_SFTP_KNOWN_HOSTS")?),
    ])
}

/// The absolute server path of a test URI.
fn store_path(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    rest.find('/').map_or("/".to_owned(), |i| rest[i..].to_owned())
}

fn temp_file(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("arca-sftp-{name}-{}-{}", std::process::id(), nanos()));
    if let Err(e) = std::fs::write(&path, text) {
        panic!("cannot write {}: {e}", path.display());
    }
    path.to_string_lossy().into_owned()
}

#[test]
fn the_ssh_config_alias_and_the_password_log_in() {
    let (Some(uri), Some(env)) = (var("ARCA_SFTP_TEST_URI"), server_env()) else {
        return;
    };
    let store = open(&uri, &[], &env).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        block_on(round_trip(&store)).unwrap_or_else(|e| panic!("{e:?}")),
        b"over ssh"
    );
    let Some(pw_uri) = var("ARCA_SFTP_PASSWORD_TEST_URI") else {
        return;
    };
    let store = open(&pw_uri, &[], &env).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        block_on(round_trip(&store)).unwrap_or_else(|e| panic!("{e:?}")),
        b"over ssh"
    );
    // The same user with a wrong password.
    let (head, tail) = pw_uri
        .split_once('@')
        .unwrap_or_else(|| panic!("no user in the password URI"));
    let user = head.rsplit_once(':').map_or(head, |(u, _)| u);
    let wrong = format!("{user}:not-it@{tail}");
    let store = open(&wrong, &[], &env).unwrap_or_else(|e| panic!("{e:?}"));
    let e = block_on(store.stat(&p("")))
        .err()
        .unwrap_or_else(|| panic!("a wrong password logged in"));
    assert_eq!(e.kind, ErrorKind::UNAUTHENTICATED, "{}", e.message);
    assert!(
        e.message.contains("the password") && !e.message.contains("not-it"),
        "{}",
        e.message
    );
}

#[test]
fn a_key_the_server_does_not_know_is_refused() {
    let (Some(port), Some(key), Some(env)) = (
        var("ARCA_SFTP_TEST_PORT"),
        var("ARCA_SFTP_TEST_STRANGER_KEY"),
        server_env(),
    ) else {
        return;
    };
    let uri = format!("sftp://root@127.0.0.1:{port}/tmp");
    let none = temp_file("no-config", "");
    let store = open(&uri, &[("identity_file", &key), ("ssh_config", &none)], &env).unwrap_or_else(|e| panic!("{e:?}"));
    let e = block_on(store.stat(&p("")))
        .err()
        .unwrap_or_else(|| panic!("a stranger's key logged in"));
    assert_eq!(e.kind, ErrorKind::UNAUTHENTICATED, "{}", e.message);
    assert!(
        e.message.contains(&key) && e.message.contains("publickey"),
        "{}",
        e.message
    );
    let _ = std::fs::remove_file(none);
}

#[test]
fn unknown_and_changed_host_keys_are_refused() {
    let (Some(uri), Some(port), Some(stranger), Some(env)) = (
        var("ARCA_SFTP_TEST_URI"),
        var("ARCA_SFTP_TEST_PORT"),
        var("ARCA_SFTP_TEST_STRANGER_KEY"),
        server_env(),
    ) else {
        return;
    };
    // Nothing known: refused, with the fingerprint and the setting to change.
    let empty = temp_file("known-hosts-empty", "");
    let store = open(&uri, &[("known_hosts", &empty)], &env).unwrap_or_else(|e| panic!("{e:?}"));
    let e = block_on(store.stat(&p("")))
        .err()
        .unwrap_or_else(|| panic!("an unknown host key was accepted"));
    assert_eq!(e.kind, ErrorKind::PERMISSION_DENIED, "{}", e.message);
    assert!(
        e.message.contains("SHA256:") && e.message.contains("strict_host_key_checking=no"),
        "{}",
        e.message
    );
    // The opt-out accepts it.
    let store = open(
        &uri,
        &[("known_hosts", &empty), ("strict_host_key_checking", "no")],
        &env,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        block_on(round_trip(&store)).unwrap_or_else(|e| panic!("{e:?}")),
        b"over ssh"
    );
    // Another ed25519 key recorded for the server: refused even so.
    let public = std::fs::read_to_string(format!("{stranger}.pub")).unwrap_or_else(|e| panic!("{e}"));
    let mut fields = public.split_whitespace();
    let (algo, blob) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
    let changed = temp_file("known-hosts-changed", &format!("[127.0.0.1]:{port} {algo} {blob}\n"));
    let store = open(
        &uri,
        &[("known_hosts", &changed), ("strict_host_key_checking", "no")],
        &env,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let e = block_on(store.stat(&p("")))
        .err()
        .unwrap_or_else(|| panic!("a changed host key was accepted"));
    assert!(
        e.message.contains("differs") && e.message.contains("line 1"),
        "{}",
        e.message
    );
    let _ = std::fs::remove_file(empty);
    let _ = std::fs::remove_file(changed);
}

#[test]
fn the_ssh_agent_holds_the_key() {
    let (Some(port), Some(key), Some(dir), Some(env)) = (
        var("ARCA_SFTP_TEST_PORT"),
        var("ARCA_SFTP_TEST_KEY"),
        var("ARCA_SFTP_TEST_URI").map(|u| store_path(&u)),
        server_env(),
    ) else {
        return;
    };
    let sock = std::env::temp_dir().join(format!("arca-agent-{}-{}.sock", std::process::id(), nanos()));
    let mut agent = match std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("cannot start ssh-agent: {e}"),
    };
    // Ready when the socket exists (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !sock.exists() && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    let added = std::process::Command::new("ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &sock)
        .output();
    let run = || -> Result<Vec<u8>> {
        let uri = format!("sftp://root@127.0.0.1:{port}{dir}");
        let none = temp_file("no-config", "");
        let sock_s = sock.to_string_lossy().into_owned();
        let store = open(&uri, &[("ssh_config", &none), ("ssh_auth_sock", &sock_s)], &env)?;
        let r = block_on(round_trip(&store));
        let _ = std::fs::remove_file(none);
        r
    };
    let result = run();
    let _ = agent.kill();
    let _ = agent.wait();
    let _ = std::fs::remove_file(&sock);
    assert!(added.is_ok_and(|o| o.status.success()), "ssh-add failed");
    assert_eq!(result.unwrap_or_else(|e| panic!("{e:?}")), b"over ssh");
}
