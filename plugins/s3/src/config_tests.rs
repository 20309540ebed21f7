//! Unit tests of [`S3Config`] parsing.

use super::*;

/// Parses with an empty environment, so the tests do not depend on the
/// variables of the process running them.
fn parse(uri: &str, pairs: &[(&str, &str)]) -> Result<S3Config> {
    parse_env(uri, pairs, &[])
}

fn parse_env(uri: &str, pairs: &[(&str, &str)], vars: &[(&str, &str)]) -> Result<S3Config> {
    let env = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
    S3Config::parse_with_env(uri, Config::from_pairs(pairs.iter().copied()), &env)
}

fn ok(c: Result<S3Config>) -> S3Config {
    c.unwrap_or_else(|e| panic!("{e:?}"))
}

fn static_keys(id: &str, secret: &str, token: Option<&str>) -> Credentials {
    Credentials::Static {
        access_key_id: id.to_owned(),
        secret_access_key: secret.to_owned(),
        session_token: token.map(str::to_owned),
    }
}

#[test]
fn uri_forms() {
    let c = parse("s3://bucket/a/b/", &[]);
    assert_eq!(c.map(|c| (c.bucket, c.prefix)), Ok(("bucket".into(), "a/b".into())));
    let c = parse("s3://bucket", &[]);
    assert_eq!(c.map(|c| (c.bucket, c.prefix)), Ok(("bucket".into(), String::new())));
    for bad in [
        "",
        "s3://",
        "s3:///x",
        "gs://b/x",
        "s3://b/a//b",
        "s3://b/a/../b",
        "s3://k:s@b/x",
    ] {
        assert_eq!(
            parse(bad, &[]).err().map(|e| e.kind),
            Some(ErrorKind::INVALID_INPUT),
            "{bad}"
        );
    }
}

#[test]
fn endpoint_with_a_path_is_refused_with_the_fix() {
    let e = parse("s3://b/x", &[("endpoint_url", "http://127.0.0.1:9000/b")]).err();
    let e = e
        .map(|e| (e.kind, e.message))
        .unwrap_or((ErrorKind::UNEXPECTED, String::new()));
    assert_eq!(e.0, ErrorKind::CONFIG_INVALID);
    assert!(
        e.1.contains("without a bucket or path; put the bucket in the artifact URI"),
        "{}",
        e.1
    );
    let ok = parse("s3://b/x", &[("endpoint_url", "HTTP://127.0.0.1:9000/")]);
    assert_eq!(ok.map(|c| c.endpoint), Ok(Some("http://127.0.0.1:9000".to_owned())));
}

#[test]
fn keys_and_debug() {
    let c = parse(
        "s3://b",
        &[
            ("endpoint_url", "http://h:1"),
            ("access_key_id", "AKID"),
            ("secret_access_key", "SUPERSECRET"),
            ("session_token", "TOKENVALUE"),
            ("region", "eu-west-1"),
            ("multipart_chunk_size", "5242880"),
            ("addressing_style", "virtual"),
            (
                "upload_extra_args",
                r#"{"ServerSideEncryption":"aws:kms","SSEKMSKeyId":"KMSKEY","Metadata":{"a":"1"}}"#,
            ),
        ],
    );
    let Ok(c) = c else { panic!("{c:?}") };
    assert_eq!(
        (c.part_size, c.region.as_deref().unwrap_or(""), c.virtual_hosted()),
        (5 << 20, "eu-west-1", true)
    );
    let shown = format!("{c:?}");
    for secret in ["SUPERSECRET", "TOKENVALUE", "KMSKEY"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(c.build().is_ok());
    for (k, v) in [
        ("multipart_chunk_size", "1024"),
        ("ignore_tls", "maybe"),
        ("signature_version", "v2"),
        ("addressing_style", "sideways"),
        ("upload_extra_args", r#"{"ChecksumAlgorithm":"SHA256"}"#),
        ("upload_extra_args", "[1]"),
        ("bucket", "x"),
    ] {
        let e = parse("s3://b", &[(k, v)]).err();
        assert_eq!(e.as_ref().map(|e| e.kind), Some(ErrorKind::CONFIG_INVALID), "{k}={v}");
        if v.contains("ChecksumAlgorithm") {
            assert!(e.map(|e| e.message).unwrap_or_default().contains("ChecksumAlgorithm"));
        }
    }
}

#[test]
fn credentials_are_picked_as_boto3_picks_them() {
    let env_keys = [
        ("AWS_ACCESS_KEY_ID", "ENVKEY"),
        ("AWS_SECRET_ACCESS_KEY", "envsecret"),
        ("AWS_SESSION_TOKEN", "envtoken"),
        ("AWS_PROFILE", "envprofile"),
    ];
    // Keys in the environment are static credentials.
    let c = ok(parse_env("s3://b", &[], &env_keys));
    assert_eq!(c.credentials, static_keys("ENVKEY", "envsecret", Some("envtoken")));
    assert_eq!(c.profile, "envprofile");
    // A key id from the configuration and a secret from the environment pair up.
    let c = ok(parse_env(
        "s3://b",
        &[("access_key_id", "MAPKEY")],
        &[
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_SESSION_TOKEN", "envtoken"),
        ],
    ));
    assert_eq!(c.credentials, static_keys("MAPKEY", "envsecret", None));
    // Keys in the configuration win over the environment's.
    let c = ok(parse_env(
        "s3://b",
        &[("access_key_id", "MAPKEY"), ("secret_access_key", "mapsecret")],
        &env_keys,
    ));
    assert_eq!(c.credentials, static_keys("MAPKEY", "mapsecret", None));
    // A profile named in the configuration wins over keys in the environment.
    let c = ok(parse_env("s3://b", &[("profile", "work")], &env_keys));
    assert_eq!((c.credentials, c.profile.as_str()), (Credentials::Chain, "work"));
    // No keys: the chain, with AWS_PROFILE, else `default`.
    let c = ok(parse_env("s3://b", &[], &[("AWS_PROFILE", "ci")]));
    assert_eq!((c.credentials, c.profile.as_str()), (Credentials::Chain, "ci"));
    let c = ok(parse_env("s3://b", &[], &[("AWS_SESSION_TOKEN", "alone")]));
    assert_eq!((c.credentials, c.profile.as_str()), (Credentials::Chain, "default"));
    // Anonymous needs nothing, even with keys around.
    let c = ok(parse_env("s3://b", &[("signature_version", "unsigned")], &env_keys));
    assert_eq!(c.credentials, Credentials::Anonymous);
    assert!(
        ok(parse("s3://b", &[("signature_version", "unsigned")]))
            .build()
            .is_ok()
    );
    // Half a key pair is an error that names the missing half.
    for (pairs, vars, missing) in [
        (
            &[("access_key_id", "KEYHALF")][..],
            &[][..],
            "secret_access_key (AWS_SECRET_ACCESS_KEY) is not",
        ),
        (
            &[][..],
            &[("AWS_SECRET_ACCESS_KEY", "SECRETHALF")][..],
            "access_key_id (AWS_ACCESS_KEY_ID) is not",
        ),
    ] {
        let e = parse_env("s3://b", pairs, vars).err();
        let e = e.map_or((ErrorKind::UNEXPECTED, String::new()), |e| (e.kind, e.message));
        assert_eq!(e.0, ErrorKind::CONFIG_INVALID);
        assert!(e.1.contains(missing), "{}", e.1);
        assert!(!e.1.contains("KEYHALF") && !e.1.contains("SECRETHALF"), "{}", e.1);
    }
}

#[test]
fn region_from_settings_then_profile_then_default() {
    let c = ok(parse_env(
        "s3://b",
        &[],
        &[("AWS_REGION", "eu-west-3"), ("AWS_DEFAULT_REGION", "eu-west-2")],
    ));
    assert_eq!(c.region.as_deref(), Some("eu-west-3"));
    let c = ok(parse_env("s3://b", &[], &[("AWS_DEFAULT_REGION", "eu-west-2")]));
    assert_eq!(c.region.as_deref(), Some("eu-west-2"));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (creds, conf) = (dir.path().join("credentials"), dir.path().join("config"));
    std::fs::write(&creds, "").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        &conf,
        "[default]\nregion = ap-south-1\n[profile work]\nregion = sa-east-1\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let resolve = |pairs: &[(&str, &str)]| {
        let mut c = ok(parse("s3://b", pairs));
        c.profile_files = ProfileFiles::exactly(creds.clone(), conf.clone());
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(c.resolve_region()),
            Err(e) => panic!("{e}"),
        }
        c.region
    };
    assert_eq!(resolve(&[]).as_deref(), Some("ap-south-1"));
    assert_eq!(resolve(&[("profile", "work")]).as_deref(), Some("sa-east-1"));
    assert_eq!(resolve(&[("profile", "none")]).as_deref(), Some("us-east-1"));
    assert_eq!(resolve(&[("region", "us-west-2")]).as_deref(), Some("us-west-2"));
}

#[test]
fn acl_sse_c_and_expected_owner() {
    let key = "0123456789abcdef0123456789ABCDEF";
    let extra =
        format!(r#"{{"ACL":"bucket-owner-full-control","SSECustomerAlgorithm":"AES256","SSECustomerKey":"{key}"}}"#);
    let c = ok(parse(
        "s3://b",
        &[
            ("upload_extra_args", extra.as_str()),
            ("expected_bucket_owner", " 111122223333 "),
        ],
    ));
    assert_eq!(c.acl.as_deref(), Some("bucket-owner-full-control"));
    assert_eq!(c.sse_customer_key.as_deref(), Some(key));
    assert_eq!(c.expected_bucket_owner.as_deref(), Some("111122223333"));
    assert!(!format!("{c:?}").contains(key), "{c:?}");
    let clients = c.clients().unwrap_or_else(|e| panic!("{e:?}"));
    let names: Vec<&str> = clients.part_headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "x-amz-server-side-encryption-customer-algorithm",
            "x-amz-server-side-encryption-customer-key",
            "x-amz-server-side-encryption-customer-key-md5",
            "x-amz-expected-bucket-owner"
        ]
    );
    // base64 of the raw key, and base64 of its MD5, as boto3 sends them.
    assert_eq!(
        clients.part_headers[1].1.as_bytes(),
        b"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlBQkNERUY="
    );
    assert_eq!(clients.part_headers[2].1.as_bytes(), b"V5euSAsQOO0sIBHETfEa4w==");
    assert!(!format!("{:?}", clients.part_headers).contains("MDEyMzQ1"));
    let from_env = ok(parse_env("s3://b", &[], &[("MLFLOW_S3_EXPECTED_BUCKET_OWNER", "999")]));
    assert_eq!(from_env.expected_bucket_owner.as_deref(), Some("999"));

    for (extra, said) in [
        (r#"{"ACL":"everyone"}"#, "unsupported ACL \"everyone\""),
        (r#"{"SSECustomerAlgorithm":"AES256"}"#, "go together"),
        (
            r#"{"SSECustomerKey":"0123456789abcdef0123456789ABCDEF"}"#,
            "go together",
        ),
        (r#"{"SSECustomerAlgorithm":"AES128","SSECustomerKey":"k"}"#, "AES128"),
        (
            r#"{"SSECustomerAlgorithm":"AES256","SSECustomerKey":"short-secret"}"#,
            "32 bytes",
        ),
        (
            r#"{"SSECustomerAlgorithm":"AES256","SSECustomerKey":"0123456789abcdef0123456789ABCDEF","ServerSideEncryption":"AES256"}"#,
            "exclude each other",
        ),
    ] {
        let e = parse("s3://b", &[("upload_extra_args", extra)]).err();
        let e = e.map_or((ErrorKind::UNEXPECTED, String::new()), |e| (e.kind, e.message));
        assert_eq!(e.0, ErrorKind::CONFIG_INVALID, "{extra}");
        assert!(e.1.contains(said), "{extra}: {}", e.1);
        assert!(
            !e.1.contains("short-secret") && !e.1.contains("0123456789abcdef"),
            "{}",
            e.1
        );
    }
    let e = parse("s3://b", &[("expected_bucket_owner", "a b")]).err();
    assert_eq!(e.map(|e| e.kind), Some(ErrorKind::CONFIG_INVALID));
}

#[test]
fn timeout_is_seconds() {
    let c = ok(parse_env(
        "s3://b",
        &[],
        &[("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT", "90")],
    ));
    assert_eq!(c.timeout, Some(std::time::Duration::from_secs(90)));
    let c = ok(parse("s3://b", &[("timeout", "0.5")]));
    assert_eq!(c.timeout, Some(std::time::Duration::from_millis(500)));
    assert_eq!(ok(parse("s3://b", &[])).timeout, None);
    for bad in ["0", "-1", "ten", "1e9", "NaN", "inf", ""] {
        let e = parse("s3://b", &[("timeout", bad)]).err();
        let e = e.map_or((ErrorKind::UNEXPECTED, String::new()), |e| (e.kind, e.message));
        assert_eq!(e.0, ErrorKind::CONFIG_INVALID, "{bad:?}");
        assert!(e.1.contains("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT"), "{}", e.1);
    }
}
