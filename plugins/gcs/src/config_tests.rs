use super::*;
use std::collections::HashMap;

fn parse(uri: &str, config: &[(&str, &str)], env: &[(&str, &str)]) -> Result<GcsConfig> {
    let map: HashMap<String, String> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let lookup = move |name: &str| map.get(name).cloned();
    GcsConfig::parse_with_env(uri, Config::from_pairs(config.iter().copied()), &lookup)
}

fn message(r: Result<GcsConfig>) -> String {
    match r {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.message,
    }
}

#[test]
fn uris_and_defaults() {
    let c = parse("gs://my-bucket/exp/1/", &[], &[]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!((c.bucket.as_str(), c.prefix.as_str()), ("my-bucket", "exp/1"));
    assert_eq!(c.endpoint, DEFAULT_ENDPOINT);
    assert_eq!(c.credentials, CredentialSource::Default);
    assert_eq!((c.part_size, c.download_chunk), (DEFAULT_CHUNK, DEFAULT_CHUNK));
    assert_eq!(c.timeout, Some(DEFAULT_TIMEOUT));
    for bad in ["s3://b/x", "gs://", "gs://Upper/x", "gs://ab/x", "gs://b_b/../x"] {
        assert!(parse(bad, &[], &[]).is_err(), "{bad}");
    }
}

#[test]
fn chunk_sizes_are_validated_naming_the_variable() {
    let m = message(parse("gs://bkt/x", &[], &[("MLFLOW_GCS_UPLOAD_CHUNK_SIZE", "1000")]));
    assert!(
        m.starts_with("MLFLOW_GCS_UPLOAD_CHUNK_SIZE must be") && m.contains("262144"),
        "{m}"
    );
    let m = message(parse("gs://bkt/x", &[], &[("MLFLOW_GCS_DOWNLOAD_CHUNK_SIZE", "lots")]));
    assert!(m.starts_with("MLFLOW_GCS_DOWNLOAD_CHUNK_SIZE must be"), "{m}");
    let c = parse(
        "gs://bkt/x",
        &[],
        &[
            ("MLFLOW_GCS_UPLOAD_CHUNK_SIZE", "262144"),
            ("MLFLOW_GCS_DOWNLOAD_CHUNK_SIZE", "1048576"),
        ],
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    // Parts are raised to the XML API's smallest.
    assert_eq!((c.part_size, c.download_chunk), (MIN_PART_SIZE, 1 << 20));
}

#[test]
fn timeouts_and_the_deprecated_variable() {
    let c = parse("gs://bkt/x", &[], &[("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT", "-1")])
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.timeout, None);
    let c = parse("gs://bkt/x", &[], &[("MLFLOW_GCS_DEFAULT_TIMEOUT", "30")]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.timeout, Some(Duration::from_secs(30)));
    assert!(
        c.warnings
            .iter()
            .any(|w| w.contains("MLFLOW_GCS_DEFAULT_TIMEOUT is deprecated"))
    );
    let m = message(parse(
        "gs://bkt/x",
        &[],
        &[("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT", "0")],
    ));
    assert!(m.contains("or -1 for none"), "{m}");
}

#[test]
fn the_emulator_host_is_read_as_the_client_library_does() {
    let c =
        parse("gs://bkt/x", &[], &[("STORAGE_EMULATOR_HOST", "127.0.0.1:4443")]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.endpoint, "http://127.0.0.1:4443");
    assert_eq!(c.credentials, CredentialSource::Anonymous);
    let m = message(parse("gs://bkt/x", &[("endpoint", "http://h:1/storage/v1")], &[]));
    assert!(m.contains("no path"), "{m}");
}

#[test]
fn credential_files_are_told_apart_by_type() {
    let dir = std::env::temp_dir().join(format!("arca-gcs-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let file = |name: &str, kind: &str| {
        let path = dir.join(name);
        std::fs::write(&path, format!("{{\"type\": \"{kind}\"}}")).unwrap_or_else(|e| panic!("{e}"));
        path.display().to_string()
    };
    let sa = file("sa.json", "service_account");
    let c = parse("gs://bkt/x", &[], &[("GOOGLE_APPLICATION_CREDENTIALS", &sa)]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.credentials, CredentialSource::ServiceAccount(sa.into()));
    let user = file("user.json", "authorized_user");
    let c = parse("gs://bkt/x", &[("credentials_file", &user)], &[]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.credentials, CredentialSource::AuthorizedUser(user.into()));
    let ext = file("ext.json", "external_account");
    let m = message(parse("gs://bkt/x", &[], &[("GOOGLE_APPLICATION_CREDENTIALS", &ext)]));
    assert!(
        m.contains("external_account")
            && m.contains("workload identity federation")
            && m.contains("service-account key"),
        "{m}"
    );
    let imp = file("imp.json", "impersonated_service_account");
    let m = message(parse("gs://bkt/x", &[], &[("GOOGLE_APPLICATION_CREDENTIALS", &imp)]));
    assert!(m.contains("impersonated_service_account"), "{m}");
    let m = message(parse(
        "gs://bkt/x",
        &[],
        &[("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/sa.json")],
    ));
    assert!(m.contains("cannot read GOOGLE_APPLICATION_CREDENTIALS"), "{m}");
    let _ = std::fs::remove_dir_all(&dir);
}
