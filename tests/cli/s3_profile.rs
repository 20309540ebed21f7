//! `arca` against the S3 test server with its credentials in a profile file
//! of a temporary `HOME` (`~/.aws/credentials` and `~/.aws/config`), chosen
//! by `AWS_PROFILE`, and no keys in the environment: the path an MLflow user
//! with `aws configure` takes.
//!
//! The server is the one `cargo xtask test` starts (`MLFLOW_S3_ENDPOINT_URL`,
//! the keys in `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, the bucket in the
//! `s3://` entry of `ARCA_CONFORMANCE_EXTRA_URIS`). Without it the test
//! returns early on a developer's machine and fails under CI.

use arca_tests::{arca_bin, manifest, unique};
use std::path::Path;
use std::process::{Command, Output};

struct Server {
    /// `s3://bucket/prefix` of the test server.
    uri: String,
    access_key: String,
    secret_key: String,
}

fn server() -> Option<Server> {
    let found = (|| {
        std::env::var("MLFLOW_S3_ENDPOINT_URL").ok()?;
        let extra = std::env::var("ARCA_CONFORMANCE_EXTRA_URIS").ok()?;
        let uri = extra.split(',').map(str::trim).find(|u| u.starts_with("s3://"))?;
        Some(Server {
            uri: uri.trim_end_matches('/').to_owned(),
            access_key: std::env::var("AWS_ACCESS_KEY_ID").ok()?,
            secret_key: std::env::var("AWS_SECRET_ACCESS_KEY").ok()?,
        })
    })();
    if found.is_none() && std::env::var_os("CI").is_some() {
        panic!("no S3 test server under CI: `cargo xtask test` must start radosgw");
    }
    found
}

/// Runs `arca` with `home` as `HOME`, `profile` as `AWS_PROFILE`, and none
/// of the variables that could give credentials another way.
fn arca(home: &Path, profile: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(arca_bin());
    cmd.arg("--plugins").arg(manifest()).args(args);
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CONFIG_FILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        cmd.env_remove(var);
    }
    // Instance metadata is never asked from a test.
    cmd.env("HOME", home)
        .env("AWS_PROFILE", profile)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {}: {e} (run `cargo xtask build` first)",
            arca_bin().display()
        )
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn credentials_from_a_profile_file_and_a_wrong_secret_is_refused_clearly() {
    let Some(server) = server() else {
        eprintln!("no s3 test server (run `cargo xtask test`); skipped");
        return;
    };
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let home = tmp.path().join("home");
    let aws = home.join(".aws");
    std::fs::create_dir_all(&aws).unwrap_or_else(|e| panic!("{e}"));
    let wrong_secret = "definitely-not-the-secret";
    std::fs::write(
        aws.join("credentials"),
        format!(
            "[arca-good]\naws_access_key_id = {}\naws_secret_access_key = {}\n\n\
             [arca-wrong]\naws_access_key_id = {}\naws_secret_access_key = {wrong_secret}\n",
            server.access_key, server.secret_key, server.access_key
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        aws.join("config"),
        "[profile arca-good]\nregion = us-east-1\n\n[profile arca-wrong]\nregion = us-east-1\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let local = tmp.path().join("hello.txt");
    let body = format!("from a profile, {}\n", unique("body"));
    std::fs::write(&local, &body).unwrap_or_else(|e| panic!("{e}"));
    let root = format!("{}/{}", server.uri, unique("cli-profile"));
    let remote = format!("{root}/hello.txt");

    let o = arca(&home, "arca-good", &["cp", &local.display().to_string(), &remote]);
    assert!(o.status.success(), "cp with the profile failed: {}", text(&o.stderr));
    let o = arca(&home, "arca-good", &["cat", &remote]);
    assert!(o.status.success(), "cat with the profile failed: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout), body);

    // A wrong secret: a non-zero exit and an error that says it is about
    // authentication, without the secret.
    let o = arca(&home, "arca-wrong", &["cat", &remote]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "wrong secret: {err}");
    assert!(err.contains("SignatureDoesNotMatch"), "wrong secret: {err}");
    assert!(err.to_lowercase().contains("auth"), "wrong secret: {err}");
    assert!(
        !err.contains(wrong_secret) && !err.contains(&server.secret_key),
        "{err}"
    );
    assert!(o.stdout.is_empty());

    // A profile that does not exist: the error says where it looked.
    let o = arca(&home, "arca-missing", &["cat", &remote]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "missing profile: {err}");
    for want in [
        "no AWS credentials found",
        "profile \"arca-missing\"",
        "AWS_ACCESS_KEY_ID",
    ] {
        assert!(err.contains(want), "{want:?} missing from: {err}");
    }

    let o = arca(&home, "arca-good", &["rm", "-r", &root]);
    assert!(o.status.success(), "cleanup failed: {}", text(&o.stderr));
    let o = arca(&home, "arca-good", &["cat", &remote]);
    assert_eq!(o.status.code(), Some(1), "the file survived rm -r");
}
