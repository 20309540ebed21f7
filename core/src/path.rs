//! [`ArtifactPath`]: the one place that decides whether a path is safe.
//!
//! Every path that reaches a store — from a URL, a query string, a JSON body
//! or the command line — is parsed here first. The rules follow MLflow's
//! `validate_path_is_safe` and go further where MLflow is lax, without ever
//! renaming anything:
//!
//! 1. the path is checked as given **and after every round of
//!    percent-decoding** until the value is stable (at most
//!    [`MAX_DECODE_ROUNDS`] rounds; a value still changing after that is
//!    refused), so `%252e%252e` cannot smuggle `..` past a component that
//!    decodes once more than this one;
//! 2. at every level, refuse `#`, backslashes, NUL and every control
//!    character, absolute paths (`/x`), Windows drive (`C:`, `C:/`, `C:\`)
//!    and UNC (`//host/share`) forms, URIs (`file:…`, `scheme://…`) and `..`
//!    segments; and refuse a decoding that reveals a separator (`%2F`) or a
//!    `.` segment (`%2e`), which would make a different path of the name;
//! 3. keep the name exactly as given: nothing is decoded. Only empty and `.`
//!    segments are dropped, so `a//./b/` is `a/b`, and `report%20final.txt`
//!    stays `report%20final.txt`.
//!
//! Decoding is the job of whatever received an encoded form: the server
//! decodes a URL once, as HTTP defines, and hands the result here.
//!
//! The result is a relative, `/`-separated path; the empty path is the store
//! root.

use std::fmt;

/// How many decoding rounds are tried before a value is refused.
pub const MAX_DECODE_ROUNDS: usize = 10;

/// A validated, normalised, relative artifact path.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ArtifactPath(String);

/// Why a path was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathError {
    /// The input (shown with control characters escaped).
    pub input: String,
    /// The rule it broke.
    pub reason: &'static str,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid path {:?}: {}", self.input, self.reason)
    }
}

impl std::error::Error for PathError {}

impl From<PathError> for crate::Error {
    fn from(e: PathError) -> Self {
        crate::Error::invalid_input(e.to_string())
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// One round of percent-decoding; malformed escapes are kept literally.
/// `None` if the result is not UTF-8.
pub fn percent_decode_once(s: &str) -> Option<String> {
    String::from_utf8(decode_bytes(s)).ok()
}

fn decode_bytes(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    if !bytes.contains(&b'%') {
        return bytes.to_vec();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)),
            _ => None,
        };
        if let Some((h, l)) = escaped {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn is_drive(seg: &str) -> bool {
    let b = seg.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

fn has_uri_scheme(s: &str) -> bool {
    // `scheme:` where scheme is RFC 3986 `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`,
    // followed by `//` or naming `file`.
    let Some(colon) = s.find(':') else {
        return false;
    };
    let scheme = &s[..colon];
    let valid = scheme.len() > 1
        && scheme.as_bytes()[0].is_ascii_alphabetic()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid && (s[colon + 1..].starts_with("//") || scheme.eq_ignore_ascii_case("file"))
}

impl ArtifactPath {
    /// The store root (the empty path).
    pub fn root() -> Self {
        Self(String::new())
    }

    /// Validates `raw` at every level of percent-decoding and keeps it as
    /// given, less empty and `.` segments (see the module docs).
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        let err = |reason| PathError {
            input: raw.escape_debug().to_string(),
            reason,
        };
        let mut level = raw.to_owned();
        let mut rounds = 0;
        loop {
            check_level(raw, &level, rounds > 0).map_err(err)?;
            // Bytes that are not UTF-8 cannot spell anything dangerous: the
            // characters checked for are ASCII, which lossy decoding keeps.
            let next = String::from_utf8_lossy(&decode_bytes(&level)).into_owned();
            if next == level {
                break;
            }
            rounds += 1;
            if rounds > MAX_DECODE_ROUNDS {
                return Err(err("too many levels of percent-encoding"));
            }
            level = next;
        }
        let segs: Vec<&str> = raw.split('/').filter(|seg| !seg.is_empty() && *seg != ".").collect();
        Ok(Self(segs.join("/")))
    }

    /// The normalised path (`""` for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|s| !s.is_empty())
    }

    /// The last segment (`None` for the root).
    pub fn file_name(&self) -> Option<&str> {
        self.segments().last()
    }

    /// The parent (`None` for the root).
    pub fn parent(&self) -> Option<Self> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(i) => Self(self.0[..i].to_owned()),
            None => Self::root(),
        })
    }

    /// Appends a relative path (validated like any other).
    pub fn join(&self, rel: &str) -> Result<Self, PathError> {
        let rel = Self::parse(rel)?;
        Ok(match (self.is_root(), rel.is_root()) {
            (true, _) => rel,
            (_, true) => self.clone(),
            _ => Self(format!("{}/{}", self.0, rel.0)),
        })
    }
}

/// The checks one level of decoding of `raw` must pass; `decoded` for every
/// level but `raw` itself.
fn check_level(raw: &str, level: &str, decoded: bool) -> Result<(), &'static str> {
    if level.chars().any(char::is_control) {
        return Err("control characters are not allowed");
    }
    if level.contains('#') {
        return Err("'#' is not allowed");
    }
    if level.contains('\\') {
        return Err("backslashes are not allowed");
    }
    if has_uri_scheme(level) {
        return Err("URIs are not allowed as paths");
    }
    if level.starts_with('/') {
        return Err("absolute paths are not allowed");
    }
    if is_drive(level) {
        return Err("Windows drive paths are not allowed");
    }
    if level.split('/').any(|seg| seg == "..") {
        return Err("'..' segments are not allowed");
    }
    if decoded {
        if level.matches('/').count() != raw.matches('/').count() {
            return Err("a percent-encoded '/' is not allowed");
        }
        if level
            .split('/')
            .zip(raw.split('/'))
            .any(|(seg, given)| seg == "." && given != ".")
        {
            return Err("a percent-encoded '.' segment is not allowed");
        }
    }
    Ok(())
}

impl fmt::Debug for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ArtifactPath({:?})", self.0)
    }
}

impl fmt::Display for ArtifactPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ArtifactPath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, PathError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(s: &str) -> String {
        match ArtifactPath::parse(s) {
            Ok(p) => p.0,
            Err(e) => panic!("{s:?} refused: {e}"),
        }
    }

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(ok("path"), "path");
        assert_eq!(ok("path/"), "path");
        assert_eq!(ok("a//b"), "a/b");
        assert_eq!(ok("./a"), "a");
        assert_eq!(ok("."), "");
        assert_eq!(ok(""), "");
        assert_eq!(ok("..."), "...");
        assert_eq!(ok("a..b"), "a..b");
        assert_eq!(ok("..a"), "..a");
        assert_eq!(ok("a?b"), "a?b");
        assert_eq!(ok("a%20b/c d.txt"), "a%20b/c d.txt");
        assert_eq!(ok("report%2520final.txt"), "report%2520final.txt");
        assert_eq!(ok("%41%42.txt"), "%41%42.txt");
        assert_eq!(ok("%ff"), "%ff");
        assert_eq!(ok("a/./b/."), "a/b");
        assert_eq!(ok("ünï/çødé ✓.bin"), "ünï/çødé ✓.bin");
        assert_eq!(ok("100%"), "100%");
        assert_eq!(ok("a%zz"), "a%zz");
    }

    #[test]
    fn refuses_every_payload_shape() {
        for bad in [
            "..",
            "../x",
            "a/../../x",
            "%2e%2e/x",
            "..%2fx",
            "%252e%252e%252fx",
            "%25252e%25252e/x",
            "x/%2e%2e/y",
            "/abs",
            "%2fetc%2fx",
            "//server/share",
            "\\\\server\\share",
            "C:/x",
            "c:/x",
            "C:\\x",
            "C:foo",
            "file:///etc/passwd",
            "FILE:/etc/passwd",
            "s3://bucket/x",
            "x#y",
            "x%23y",
            "a%5cb.txt",
            "x%00y.txt",
            "x\0y",
            "a\nb",
            "a\u{7f}b",
            "%2525252525252525252525252e",
            "a%2Fb.txt",
            "a%252fb.txt",
            "x/%2e/y",
            "%2e",
            "C%3a/x",
            "file%3a///etc/passwd",
        ] {
            assert!(ArtifactPath::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn join_and_parent() {
        let p = ArtifactPath::parse("a/b").unwrap_or_default();
        assert_eq!(p.join("c/d").map(|p| p.0), Ok("a/b/c/d".to_owned()));
        assert!(p.join("../x").is_err());
        assert_eq!(p.parent().map(|p| p.0), Some("a".to_owned()));
        assert_eq!(p.file_name(), Some("b"));
        assert_eq!(ArtifactPath::root().parent(), None);
    }

    proptest! {
        #[test]
        fn accepted_paths_are_safe(s in "\\PC{0,40}") {
            if let Ok(p) = ArtifactPath::parse(&s) {
                let v = p.as_str();
                prop_assert!(!v.starts_with('/'));
                prop_assert!(!v.contains('\\') && !v.contains('#'));
                prop_assert!(!v.chars().any(|c| c.is_control()));
                prop_assert!(v.is_empty() || v.split('/').all(|seg| !seg.is_empty() && seg != ".." && seg != "."));
                prop_assert!(!is_drive(v));
            }
        }

        #[test]
        fn encoded_dotdot_is_always_refused(prefix in "[a-z]{0,5}", rounds in 0usize..4, sep in prop::sample::select(vec!["/", "%2f", "%2F"])) {
            let mut dots = String::from("..");
            for _ in 0..rounds {
                dots = dots.replace('%', "%25").replace('.', "%2e");
            }
            let s = if prefix.is_empty() { format!("{dots}{sep}x") } else { format!("{prefix}/{dots}{sep}x") };
            prop_assert!(ArtifactPath::parse(&s).is_err(), "{} accepted", s);
        }

        #[test]
        fn accepted_names_are_kept_as_given(s in "[a-z0-9 ._%+-]{1,30}") {
            if let Ok(p) = ArtifactPath::parse(&s) {
                let kept = s.split('/').filter(|seg| !seg.is_empty() && *seg != ".").collect::<Vec<_>>().join("/");
                prop_assert_eq!(p.as_str(), kept.as_str());
            }
        }

        #[test]
        fn parse_is_idempotent(s in "[a-z0-9 ./%_-]{0,30}") {
            if let Ok(p) = ArtifactPath::parse(&s) {
                let again = ArtifactPath::parse(p.as_str());
                prop_assert_eq!(again.as_ref().map(|q| q.as_str()), Ok(p.as_str()));
            }
        }
    }
}
