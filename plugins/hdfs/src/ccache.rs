//! The default principal of an MIT Kerberos credential cache file
//! (`FILE:` caches, format versions 3 and 4), for a ticket cache named
//! without a user: MLflow's `MLFLOW_KERBEROS_TICKET_CACHE` alone is enough
//! for pyarrow, which takes the cache's own principal, while the Rust
//! client wants the principal named.

use arca_core::{Error, ErrorKind, Result};

fn refuse(cache: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::CONFIG_INVALID,
        format!(
            "cannot tell the principal of the ticket cache {cache}: {why}; name it with MLFLOW_KERBEROS_USER \
             (configuration key kerberos_user)"
        ),
    )
}

/// A big-endian reader over the cache's bytes.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.u32()?).ok()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

/// `name/instance@REALM` from the header of a cache file's bytes.
pub(crate) fn default_principal(data: &[u8]) -> Option<String> {
    let mut b = Bytes(data);
    let version = b.u16()?;
    match version {
        0x0504 => {
            let header = usize::from(b.u16()?);
            b.take(header)?;
        }
        0x0503 => {}
        _ => return None,
    }
    let _name_type = b.u32()?;
    let components = b.u32()?;
    let realm = b.string()?;
    let mut parts = Vec::new();
    for _ in 0..components.min(16) {
        parts.push(b.string()?);
    }
    if parts.is_empty() || realm.is_empty() {
        return None;
    }
    Some(format!("{}@{realm}", parts.join("/")))
}

/// The default principal of the cache `cache` (`FILE:/path` or a path).
pub(crate) fn principal_of(cache: &str) -> Result<String> {
    let path = match cache.split_once(':') {
        Some(("FILE", p)) => p,
        Some((kind, _)) if !kind.contains('/') => {
            return Err(refuse(cache, &format!("a {kind}: cache cannot be read here")));
        }
        _ => cache,
    };
    let data = std::fs::read(path).map_err(|e| refuse(cache, &e.to_string()))?;
    default_principal(&data).ok_or_else(|| refuse(cache, "it is not a Kerberos credential cache file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(version: u16, principal: &[&str], realm: &str) -> Vec<u8> {
        let mut v = version.to_be_bytes().to_vec();
        if version == 0x0504 {
            v.extend(12u16.to_be_bytes());
            v.extend([0u8; 12]);
        }
        v.extend(1u32.to_be_bytes());
        v.extend((principal.len() as u32).to_be_bytes());
        for s in std::iter::once(&realm).chain(principal) {
            v.extend((s.len() as u32).to_be_bytes());
            v.extend(s.as_bytes());
        }
        v.extend([0xAB; 40]); // credentials follow
        v
    }

    #[test]
    fn reads_the_default_principal() {
        let c = cache(0x0504, &["hdfs", "localhost"], "EXAMPLE.COM");
        assert_eq!(default_principal(&c).as_deref(), Some("hdfs/localhost@EXAMPLE.COM"));
        let c = cache(0x0503, &["alice"], "EXAMPLE.COM");
        assert_eq!(default_principal(&c).as_deref(), Some("alice@EXAMPLE.COM"));
        assert_eq!(default_principal(b"\x05\x04\x00"), None);
        assert_eq!(default_principal(b"not a cache"), None);
    }

    #[test]
    fn unreadable_caches_ask_for_the_user() {
        let e = principal_of("KEYRING:persistent:0").err();
        assert!(e.is_some_and(|e| e.message.contains("MLFLOW_KERBEROS_USER")));
        let e = principal_of("FILE:/nonexistent/cache").err();
        assert!(e.is_some_and(|e| e.kind == ErrorKind::CONFIG_INVALID));
    }
}
