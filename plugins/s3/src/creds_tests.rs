//! Unit tests of the credential chain, on profile files in a temporary
//! directory (no network, no process environment).

use super::*;

fn files(dir: &std::path::Path, credentials: &str, config: &str) -> ProfileFiles {
    let (c, f) = (dir.join("credentials"), dir.join("config"));
    std::fs::write(&c, credentials).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&f, config).unwrap_or_else(|e| panic!("{e}"));
    ProfileFiles::exactly(c, f)
}

fn block_on<T>(f: impl Future<Output = T>) -> T {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(f),
        Err(e) => panic!("cannot start a runtime: {e}"),
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_profile_gives_its_keys_and_region() {
    let dir = tmp();
    let files = files(
        dir.path(),
        "[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = defaultsecret\n\n\
         [work]\naws_access_key_id = WORKKEY\naws_secret_access_key = worksecret\naws_session_token = worktoken\n",
        "[profile work]\nregion = eu-central-1\n",
    );
    let chain = AwsChain::profile_only("b", "work", files.clone());
    let c = block_on(chain.get_credential()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (c.key_id.as_str(), c.secret_key.as_str(), c.token.as_deref()),
        ("WORKKEY", "worksecret", Some("worktoken"))
    );
    // Cached: the same credential, without reading the files again.
    let again = block_on(async {
        let first = chain.get_credential().await;
        let second = chain.get_credential().await;
        (first, second)
    });
    if let (Ok(a), Ok(b)) = again {
        assert!(Arc::ptr_eq(&a, &b), "the credential was looked up twice");
    } else {
        panic!("lookup failed: {again:?}");
    }
    assert_eq!(
        block_on(profile_region("work", &files)).as_deref(),
        Some("eu-central-1")
    );
    assert_eq!(block_on(profile_region("default", &files)), None);
    let default = AwsChain::profile_only("b", "default", files);
    let c = block_on(default.get_credential()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.key_id, "DEFAULTKEY");
}

#[test]
fn nothing_found_is_unauthenticated_and_says_where_it_looked() {
    let dir = tmp();
    let files = files(
        dir.path(),
        "[other]\naws_access_key_id = OTHERKEY\naws_secret_access_key = othersecret\n",
        "",
    );
    let chain = AwsChain::profile_only("bkt", "missing", files);
    let e = block_on(chain.get_credential()).err();
    let Some(object_store::Error::Unauthenticated { path, source }) = e else {
        panic!("expected Unauthenticated, got {e:?}");
    };
    let text = source.to_string();
    assert_eq!(path, "s3://bkt");
    for want in [
        "no AWS credentials found",
        "AWS_ACCESS_KEY_ID",
        "profile \"missing\"",
        "credentials",
        "signature_version=unsigned",
    ] {
        assert!(text.contains(want), "{want:?} missing from: {text}");
    }
    assert!(!text.contains("othersecret"), "{text}");
}

#[test]
fn debug_hides_secrets() {
    let c = Credentials::Static {
        access_key_id: "AKID".into(),
        secret_access_key: "SECRETVALUE".into(),
        session_token: Some("TOKENVALUE".into()),
    };
    let shown = format!("{c:?}");
    assert!(shown.contains("AKID") && !shown.contains("SECRETVALUE") && !shown.contains("TOKENVALUE"));
}
