//! URI helpers: scheme detection, splitting a URI into a store and a path,
//! and redaction of credentials for display.

use arca_core::{ArtifactPath, Error, Result};

/// The scheme of `uri`, lower-cased; plain paths (and Windows drive letters)
/// are `file`.
pub fn scheme_of(uri: &str) -> String {
    match uri.find(':') {
        Some(i) if i > 1 => {
            let s = &uri[..i];
            let valid = s.as_bytes()[0].is_ascii_alphabetic()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
            if valid {
                s.to_ascii_lowercase()
            } else {
                "file".to_owned()
            }
        }
        _ => "file".to_owned(),
    }
}

/// Whether `uri` has an explicit scheme (`file:///x` does, `./x` does not).
pub fn has_scheme(uri: &str) -> bool {
    let s = scheme_of(uri);
    s != "file" || uri.to_ascii_lowercase().starts_with("file:")
}

/// The password hidden, and the password itself (arca-core has them, for
/// the plugins as well).
pub use arca_core::uri::{password_of, redact};

/// Splits a URI into the store to open and the path inside it.
///
/// `scheme://authority/a/b` is the store `scheme://authority/` and the path
/// `a/b`; `scheme:/a/b` is `scheme:/` and `a/b`. A plain path is made
/// absolute and lexically normalised first (so `../x` works as in a shell),
/// then treated as `file:///…`.
pub fn split(uri: &str) -> Result<(String, ArtifactPath)> {
    if !has_scheme(uri) {
        let abs =
            std::path::absolute(uri).map_err(|e| Error::invalid_input(format!("cannot resolve path {uri}: {e}")))?;
        let mut parts: Vec<String> = Vec::new();
        for c in abs.components() {
            match c {
                std::path::Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                std::path::Component::ParentDir => {
                    parts.pop();
                }
                _ => {}
            }
        }
        let rel = parts.join("/");
        let path = ArtifactPath::parse(&rel).map_err(|e| Error::invalid_input(e.to_string()))?;
        return Ok(("file:///".to_owned(), path));
    }
    let colon = uri.find(':').unwrap_or(0);
    let after = &uri[colon + 1..];
    let (store, rest) = if let Some(stripped) = after.strip_prefix("//") {
        let end = stripped.find('/').unwrap_or(stripped.len());
        (format!("{}://{}/", &uri[..colon], &stripped[..end]), &stripped[end..])
    } else {
        (format!("{}:/", &uri[..colon]), after)
    };
    let rest = rest.trim_start_matches('/');
    let invalid = |reason: &str| Error::invalid_input(format!("{}: {reason}", redact(uri)));
    // A `file:` URI's path is percent-encoded (RFC 8089), as the local plugin
    // reads it too; every other scheme's path is a key, taken as written.
    let rest = if uri[..colon].eq_ignore_ascii_case("file") {
        std::borrow::Cow::Owned(
            arca_core::path::percent_decode_once(rest).ok_or_else(|| invalid("percent-decodes to invalid UTF-8"))?,
        )
    } else {
        std::borrow::Cow::Borrowed(rest)
    };
    let path = ArtifactPath::parse(&rest).map_err(|e| invalid(e.reason))?;
    Ok((store, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(scheme_of("s3://b/k"), "s3");
        assert_eq!(scheme_of("FILE:///x"), "file");
        assert_eq!(scheme_of("./x"), "file");
        assert_eq!(scheme_of("C:/x"), "file");
        assert!(has_scheme("file:///x"));
        assert!(!has_scheme("/tmp/x"));
    }

    #[test]
    fn splits_uris() {
        // A key is taken as written; a file: URI's path is decoded once.
        let (s, p) = split("s3://bucket/a/b%20c").unwrap_or_default();
        assert_eq!((s.as_str(), p.as_str()), ("s3://bucket/", "a/b%20c"));
        let (s, p) = split("file:///tmp/x%20y/report%2520final.txt").unwrap_or_default();
        assert_eq!((s.as_str(), p.as_str()), ("file:///", "tmp/x y/report%20final.txt"));
        let (s, p) = split("/tmp/100%/a%2Fb").unwrap_or_default();
        assert_eq!(
            (s.as_str(), p.as_str()),
            ("", ""),
            "a plain path whose name decodes to a separator"
        );
        let (s, p) = split("/tmp/100%/report%20final.txt").unwrap_or_default();
        assert_eq!((s.as_str(), p.as_str()), ("file:///", "tmp/100%/report%20final.txt"));
        let (s, p) = split("hdfs:/a").unwrap_or_default();
        assert_eq!((s.as_str(), p.as_str()), ("hdfs:/", "a"));
        let (s, p) = split("/tmp/a/../b").unwrap_or_default();
        assert_eq!((s.as_str(), p.as_str()), ("file:///", "tmp/b"));
        assert!(split("s3://bucket/../etc").is_err());
    }
}
