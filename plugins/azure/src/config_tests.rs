use super::*;
use arca_core::ErrorKind;
use std::collections::HashMap;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |name| map.get(name).cloned()
}

fn parse(uri: &str, config: &[(&str, &str)], env: &[(&str, &str)]) -> Result<AzureConfig> {
    let env = env_of(env);
    AzureConfig::parse_with_env(uri, Config::from_pairs(config.iter().copied()), &env)
}

const URI: &str = "wasbs://box@acct.blob.core.windows.net/exp/1";

#[test]
fn uris_of_every_cloud_parse() {
    let p = split_uri(URI).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        (p.scheme, p.container.as_str(), p.account.as_str(), p.prefix.as_str()),
        ("wasbs", "box", "acct", "exp/1")
    );
    for cloud in ["core.chinacloudapi.cn", "core.usgovcloudapi.net"] {
        let p = split_uri(&format!("wasbs://c@a.blob.{cloud}/x/")).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(p.service_host, format!("blob.{cloud}"));
        assert_eq!(p.prefix, "x");
    }
    let p = split_uri("abfss://fs@acct.dfs.core.windows.net").unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!((p.scheme, p.container.as_str(), p.prefix.as_str()), ("abfss", "fs", ""));
    // MLflow ignores a query.
    let p = split_uri("wasbs://c@a.blob.core.windows.net/p?x=1").unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(p.prefix, "p");
}

#[test]
fn malformed_uris_show_the_expected_form() {
    for bad in [
        "wasbs://acct.blob.core.windows.net/p",
        "wasbs://c@acct.blob.example.com/p",
        "wasbs://c@acct.dfs.core.windows.net/p",
        "abfss://c@acct.blob.core.windows.net/p",
        "wasbs://@acct.blob.core.windows.net/p",
        "wasb://c@acct.blob.core.windows.net/p",
        "s3://bucket/p",
        "wasbs://c@.blob.core.windows.net",
    ] {
        match split_uri(bad) {
            Ok(p) => panic!("{bad} parsed as {p:?}"),
            Err(e) => assert!(
                e.message
                    .contains("expected wasbs://<container>@<account>.blob.core.windows.net/<path>"),
                "{bad}: {}",
                e.message
            ),
        }
    }
    let e = split_uri("wasbs://c@a.blob.core.windows.net/a/../b").err();
    assert!(e.is_some_and(|e| e.message.contains("invalid blob prefix")));
}

#[test]
fn connection_strings_are_parsed_whole() {
    let cs = ConnectionString::parse(
        "DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=a2V5==;BlobEndpoint=http://127.0.0.1:1/dev/;\
         QueueEndpoint=http://x;SharedAccessSignature=?sv=1&sig=a%3D;EndpointSuffix=core.chinacloudapi.cn",
        "AZURE_STORAGE_CONNECTION_STRING",
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(cs.protocol.as_deref(), Some("http"));
    assert_eq!(cs.account_name.as_deref(), Some("dev"));
    assert_eq!(cs.account_key.as_deref(), Some("a2V5=="));
    assert_eq!(cs.blob_endpoint.as_deref(), Some("http://127.0.0.1:1/dev"));
    assert_eq!(cs.sas.as_deref(), Some("sv=1&sig=a%3D"));
    assert_eq!(cs.endpoint_suffix.as_deref(), Some("core.chinacloudapi.cn"));
    // Secrets stay out of Debug.
    let shown = format!("{cs:?}");
    assert!(!shown.contains("a2V5") && !shown.contains("sig="), "{shown}");

    let e = ConnectionString::parse("AccountName=x;AccountKey", "AZURE_STORAGE_CONNECTION_STRING").err();
    assert!(e.is_some_and(|e| e.message.contains("entry 2 has no `=`") && e.kind == ErrorKind::CONFIG_INVALID));
    let e = ConnectionString::parse("BlobEndpoint=ftp://h", "AZURE_STORAGE_CONNECTION_STRING").err();
    assert!(e.is_some_and(|e| e.message.contains("blob endpoint must be a URL")));
}

#[test]
fn credentials_follow_mlflows_order() {
    let cs = "AccountName=other;AccountKey=S0VZ;BlobEndpoint=http://127.0.0.1:9/other";
    // The connection string wins over the access key, and its account and
    // endpoint over the URI's.
    let c = parse(
        URI,
        &[],
        &[
            ("AZURE_STORAGE_CONNECTION_STRING", cs),
            ("AZURE_STORAGE_ACCESS_KEY", "QUNDRVNT"),
        ],
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.credential, Credential::AccessKey("S0VZ".into()));
    assert_eq!(
        (c.account.as_str(), c.endpoint.as_str()),
        ("other", "http://127.0.0.1:9/other")
    );
    assert!(
        c.credential_source
            .contains("AZURE_STORAGE_CONNECTION_STRING (account key)")
    );
    assert_eq!(c.bucket_name(), "box@acct.blob.core.windows.net");

    let c = parse(URI, &[], &[("AZURE_STORAGE_ACCESS_KEY", "QUNDRVNT")]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.credential, Credential::AccessKey("QUNDRVNT".into()));
    assert_eq!(c.endpoint, "https://acct.blob.core.windows.net");

    let c = parse(
        "wasbs://c@acct.blob.core.usgovcloudapi.net/p",
        &[("sas_token", "?sv=2023&sig=x")],
        &[],
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.credential, Credential::Sas("sv=2023&sig=x".into()));
    assert_eq!(c.endpoint, "https://acct.blob.core.usgovcloudapi.net");

    let c = parse(URI, &[], &[]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.credential, Credential::Chain);
    assert!(
        c.credential_source.contains("managed identity"),
        "{}",
        c.credential_source
    );
    let c = parse(
        URI,
        &[],
        &[
            ("AZURE_CLIENT_ID", "id"),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_SECRET", "s"),
        ],
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert!(c.credential_source.contains("client secret"), "{}", c.credential_source);
    // Nothing secret in Debug.
    let c = parse(URI, &[("access_key", "VERYSECRET")], &[]).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(!format!("{c:?}").contains("VERYSECRET"));
}

#[test]
fn development_storage_is_azurite_on_its_default_port() {
    let c = parse(
        URI,
        &[],
        &[("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true")],
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.account, DEV_ACCOUNT);
    assert_eq!(c.endpoint, DEV_ENDPOINT);
    assert_eq!(c.credential, Credential::AccessKey(DEV_KEY.into()));
    // The endpoint key moves it.
    let c = parse(
        URI,
        &[("endpoint", "http://127.0.0.1:4321/devstoreaccount1/")],
        &[("AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true")],
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.endpoint, "http://127.0.0.1:4321/devstoreaccount1");
}

#[test]
fn connection_strings_without_endpoint_use_the_account() {
    let c = parse(
        URI,
        &[(
            "connection_string",
            "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=S0VZ;EndpointSuffix=core.chinacloudapi.cn",
        )],
        &[],
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.endpoint, "https://x.blob.core.chinacloudapi.cn");
    let e = parse(
        URI,
        &[("connection_string", "AccountKey=S0VZ;BlobEndpoint=http://h/a")],
        &[],
    )
    .err();
    assert!(e.is_some_and(|e| e.message.contains("no AccountName")));
    let e = parse(URI, &[("connection_string", "SharedAccessSignature=sv=1")], &[]).err();
    assert!(e.is_some_and(|e| e.message.contains("neither AccountName nor BlobEndpoint")));
}

#[test]
fn settings_are_validated_by_name() {
    let e = parse(URI, &[], &[("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT", "soon")]).err();
    assert!(e.is_some_and(|e| {
        e.message
            .contains("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT must be a number")
    }));
    let c = parse(URI, &[], &[]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.timeout, DEFAULT_TIMEOUT);
    let c = parse(URI, &[("timeout", "2.5")], &[]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(c.timeout, Duration::from_millis(2500));
    let e = parse(URI, &[("part_size", "1000")], &[]).err();
    assert!(e.is_some_and(|e| e.message.contains("part_size must be a number of bytes between")));
    let e = parse(URI, &[("bogus", "1")], &[]).err();
    assert!(e.is_some_and(|e| e.message.contains("unknown configuration key(s): bogus")));
}
