//! Helpers for store URIs that every plugin needs alike: strict
//! percent-decoding of a URI's user and password, and the URI with its
//! password hidden, for messages and `Debug` output.
//!
//! Plain Rust, not part of the ABI: a plugin calls them on its own side.

/// Percent-decodes `s` strictly: `None` if an escape is malformed (`%4`,
/// `%zz`) or the result is not UTF-8. For URI parts where a literal `%`
/// cannot be meant, such as a password in `user:p%40ss@host`.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `scheme://user:password@host/…` with the password replaced by `***`;
/// anything else unchanged (a `@` after the authority is not a password).
pub fn redact(uri: &str) -> String {
    let Some(start) = uri.find("://").map(|i| i + 3) else {
        return uri.to_owned();
    };
    let rest = &uri[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return uri.to_owned();
    };
    match authority[..at].find(':') {
        Some(colon) => format!("{}{}:***{}", &uri[..start], &authority[..colon], &rest[at..]),
        None => uri.to_owned(),
    }
}

/// The password in `scheme://user:password@host/…`, as written (still
/// percent-encoded), if there is a non-empty one.
pub fn password_of(uri: &str) -> Option<&str> {
    let start = uri.find("://")? + 3;
    let rest = &uri[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    let pw = &userinfo[userinfo.find(':')? + 1..];
    (!pw.is_empty()).then_some(pw)
}

/// A fresh hidden name for a file being written into the directory `dir`
/// (`dir/.arca-<pid>-<nanos>-<n>.tmp`), unique within this process and
/// very likely across processes: for stores that publish a write by
/// renaming it into place.
pub fn temp_name(dir: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}/.arca-{}-{nanos:x}-{n}.tmp",
        dir.trim_end_matches('/'),
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_strictly() {
        assert_eq!(percent_decode("pa%3Ass%20w0rd").as_deref(), Some("pa:ss w0rd"));
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("bad%4"), None);
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("%+1"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(redact("ftp://u:secret@h:21/p"), "ftp://u:***@h:21/p");
        assert_eq!(redact("ftp://u:@h/p"), "ftp://u:***@h/p");
        assert_eq!(redact("sftp://u@h/p"), "sftp://u@h/p");
        assert_eq!(redact("s3://b/k@x:y"), "s3://b/k@x:y");
        assert_eq!(redact("/plain:path"), "/plain:path");
        assert_eq!(redact("ftp://u:p@ss@h/p"), "ftp://u:***@h/p");
    }

    #[test]
    fn finds_the_password() {
        assert_eq!(password_of("ftp://u:s%3At@h/p"), Some("s%3At"));
        assert_eq!(password_of("ftp://u:@h/p"), None);
        assert_eq!(password_of("ftp://u@h/p"), None);
        assert_eq!(password_of("s3://b/k@x:y"), None);
    }

    #[test]
    fn temp_names_are_hidden_and_distinct() {
        let (a, b) = (temp_name("/d/"), temp_name("/d"));
        assert!(a.starts_with("/d/.arca-") && a.ends_with(".tmp"), "{a}");
        assert_ne!(a, b);
    }
}
