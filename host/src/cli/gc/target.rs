//! What `arca gc` deletes where: `--older-than` parsed as MLflow parses it,
//! and a run's or logged model's artifact URI resolved to a store and a path.

use arca_host::uri::{has_scheme, redact, split};

/// `--older-than` in milliseconds: `#d#h#m#s`, each part optional, in that
/// order, numbers with a fraction allowed (MLflow's own grammar:
/// `^((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?$` over `[.\d]+`).
pub fn parse_older_than(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "cannot read --older-than {text:?}: write days, hours, minutes and seconds in that \
             order, each optional, e.g. 30d, 8h, 2d8h5m20s, 1.5d"
        )
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    for (unit, ms) in [
        ('d', 86_400_000f64),
        ('h', 3_600_000f64),
        ('m', 60_000f64),
        ('s', 1_000f64),
    ] {
        let digits = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
        if digits == 0 || rest.as_bytes().get(digits) != Some(&(unit as u8)) {
            continue;
        }
        let n: f64 = rest[..digits].parse().map_err(|_| bad())?;
        total += n * ms;
        rest = &rest[digits + 1..];
    }
    if !rest.is_empty() || !total.is_finite() || total > i64::MAX as f64 / 2.0 {
        return Err(bad());
    }
    Ok(total as i64)
}

/// Where an entity's artifacts are: the store to open, the path inside it,
/// and the URI to show (credentials redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub store: String,
    pub path: String,
    pub shown: String,
}

/// The prefix of MLflow's proxied artifact URLs.
const PROXY_ROUTE: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// Resolves `uri` (a run's `artifact_uri`, a model's `artifact_location`).
///
/// Direct URIs (`s3://…`, `file://…`, plain paths, any scheme a plugin
/// serves) name their store; proxied ones (`mlflow-artifacts:/…`,
/// `http(s)://…/api/2.0/mlflow-artifacts/artifacts/…`) are mapped onto
/// `destination`, as the proxy that wrote them maps them. The path must not
/// be the store's root: gc never deletes a whole bucket or disk.
pub fn resolve(uri: &str, destination: Option<&str>) -> Result<Target, String> {
    let shown = redact(uri);
    let proxied = proxied_path(uri);
    let full = match proxied {
        Some(rel) => {
            let dest = destination.ok_or_else(|| {
                format!(
                    "{shown} is served by an MLflow artifact proxy: say where that proxy stores \
                     artifacts with --artifacts-destination (or MLFLOW_ARTIFACTS_DESTINATION)"
                )
            })?;
            let rel = rel.trim_matches('/');
            if rel.is_empty() {
                return Err(format!(
                    "{shown} names the whole artifact destination; refusing to delete it"
                ));
            }
            format!("{}/{rel}", dest.trim_end_matches('/'))
        }
        None if ["http", "https"].contains(&arca_host::uri::scheme_of(uri).as_str()) => {
            return Err(format!(
                "{shown} is an HTTP URL but not an MLflow artifact proxy's ({PROXY_ROUTE}/…): its store is unknown"
            ));
        }
        None => uri.to_owned(),
    };
    let (store, path) = split(&full).map_err(|e| format!("cannot resolve {shown}: {}", e.message))?;
    if path.as_str().is_empty() {
        return Err(format!("{shown} names the root of its store; refusing to delete it"));
    }
    Ok(Target {
        store,
        path: path.as_str().to_owned(),
        shown,
    })
}

/// The path under the proxy's destination, if `uri` goes through an MLflow
/// artifact proxy.
fn proxied_path(uri: &str) -> Option<String> {
    let lower = uri.to_ascii_lowercase();
    if lower.starts_with("mlflow-artifacts:") {
        let rest = &uri["mlflow-artifacts:".len()..];
        // `mlflow-artifacts://host:port/path` or `mlflow-artifacts:/path`.
        let path = match rest.strip_prefix("//") {
            Some(r) => r.find('/').map_or("", |i| &r[i..]),
            None => rest,
        };
        return Some(path.to_owned());
    }
    if (lower.starts_with("http://") || lower.starts_with("https://")) && has_scheme(uri) {
        let after = &uri[uri.find("//").map_or(0, |i| i + 2)..];
        let path = after.find('/').map_or("", |i| &after[i..]);
        let at = path.find(PROXY_ROUTE)?;
        let rel = &path[at + PROXY_ROUTE.len()..];
        // Only the route itself, or the route followed by a path.
        if rel.is_empty() || rel.starts_with('/') {
            return Some(rel.to_owned());
        }
    }
    None
}

/// The directory MLflow leaves behind around an entity's artifacts
/// (`<exp>/<run_id>/` around `<exp>/<run_id>/artifacts`): the parent of
/// `path`, when `path` ends in `<id>/artifacts`.
pub fn leftover_dir(path: &str, id: &str) -> Option<String> {
    let parent = path.strip_suffix("/artifacts")?;
    let name = parent.rsplit('/').next()?;
    (name == id && !id.is_empty() && parent != id).then(|| parent.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_than_as_mlflow_reads_it() {
        assert_eq!(parse_older_than("30d"), Ok(30 * 86_400_000));
        assert_eq!(
            parse_older_than("2d8h5m20s"),
            Ok(((2 * 24 + 8) * 3600 + 5 * 60 + 20) * 1000)
        );
        assert_eq!(parse_older_than("1.5h"), Ok(5_400_000));
        assert_eq!(parse_older_than("0s"), Ok(0));
        for bad in ["", "5", "1h2d", "d", "3w", "1.2.3d", "-1d", "1d 2h"] {
            let Err(e) = parse_older_than(bad) else {
                panic!("accepted: {}", bad);
            };
            assert!(e.contains("2d8h5m20s"), "{e}");
        }
    }

    #[test]
    fn direct_uris_name_their_store() {
        let t = resolve("s3://bucket/1/abc/artifacts", None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((t.store.as_str(), t.path.as_str()), ("s3://bucket/", "1/abc/artifacts"));
        let t = resolve("ftp://u:pw@h/x/1/abc/artifacts", None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.shown, "ftp://u:***@h/x/1/abc/artifacts");
        let t = resolve("/data/mlruns/1/abc/artifacts", None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.store.as_str(), t.path.as_str()),
            ("file:///", "data/mlruns/1/abc/artifacts")
        );
    }

    #[test]
    fn proxied_uris_map_onto_the_destination() {
        let dest = Some("s3://b/mlartifacts");
        for uri in [
            "mlflow-artifacts:/1/abc/artifacts",
            "mlflow-artifacts://host:5000/1/abc/artifacts",
            "http://host:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts",
            "https://h/prefix/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts",
        ] {
            let t = resolve(uri, dest).unwrap_or_else(|e| panic!("{uri}: {e}"));
            assert_eq!(
                (t.store.as_str(), t.path.as_str()),
                ("s3://b/", "mlartifacts/1/abc/artifacts"),
                "{uri}"
            );
        }
        let Err(e) = resolve("mlflow-artifacts:/1/abc/artifacts", None) else {
            panic!("accepted: {}", "no destination");
        };
        assert!(e.contains("--artifacts-destination"), "{e}");
        // An http URL that is not the proxy's route is not taken for one.
        assert!(resolve("http://h/other/1/abc", dest).is_err());
    }

    #[test]
    fn roots_are_never_targets() {
        for (uri, dest) in [
            ("s3://bucket", None),
            ("s3://bucket/", None),
            ("mlflow-artifacts:/", Some("s3://b/x")),
            ("http://h/api/2.0/mlflow-artifacts/artifacts", Some("/tmp/x")),
        ] {
            let Err(e) = resolve(uri, dest) else {
                panic!("accepted: {}", uri);
            };
            assert!(e.contains("refusing"), "{uri}: {e}");
        }
        assert!(resolve("s3://bucket/../x", None).is_err());
    }

    #[test]
    fn leftover_dirs_only_around_the_entity() {
        assert_eq!(leftover_dir("m/1/abc/artifacts", "abc"), Some("m/1/abc".to_owned()));
        assert_eq!(leftover_dir("m/1/abc/artifacts", "xyz"), None);
        assert_eq!(leftover_dir("m/1/abc/other", "abc"), None);
        assert_eq!(leftover_dir("abc/artifacts", "abc"), None);
    }
}
