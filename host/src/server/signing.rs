//! Server-signed URLs: how a client that sends no credentials (the MLflow
//! client's part uploads and chunked downloads) is still authorised.
//!
//! A URL carries `expires` (Unix seconds) and `sig`, an HMAC-SHA256 over the
//! operation, the resource and the expiry. The key is random per process
//! unless `ARCA_SIGNING_KEY` sets one (needed when several servers sit
//! behind one load balancer).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable holding a shared signing key (any text, at
/// least 32 bytes).
pub const SIGNING_KEY_ENV: &str = "ARCA_SIGNING_KEY";

/// Signs and verifies URLs.
#[derive(Clone)]
pub struct Signer {
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<key redacted>)")
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Random bytes as hex (upload ids).
pub fn random_hex(n: usize) -> Result<String, String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| format!("no randomness available: {e}"))?;
    Ok(hex(&buf))
}

impl Signer {
    /// A signer with the key from [`SIGNING_KEY_ENV`], else a random one.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(SIGNING_KEY_ENV) {
            Ok(k) if k.len() >= 32 => Self::with_key(k.as_bytes()),
            Ok(_) => Err(format!("{SIGNING_KEY_ENV} must be at least 32 bytes long")),
            Err(_) => {
                let mut key = vec![0u8; 32];
                getrandom::fill(&mut key).map_err(|e| format!("no randomness for a signing key: {e}"))?;
                Self::with_key(&key)
            }
        }
    }

    /// A signer with the given key.
    pub fn with_key(key: &[u8]) -> Result<Self, String> {
        let keyed = Hmac::<Sha256>::new_from_slice(key).map_err(|e| format!("unusable signing key: {e}"))?;
        Ok(Self { keyed })
    }

    fn mac(&self, op: &str, resource: &str, expires: u64) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(op.as_bytes());
        mac.update(b"\n");
        mac.update(resource.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// `expires=…&sig=…` for `op` on `resource`, valid for `ttl` seconds.
    pub fn query(&self, op: &str, resource: &str, ttl: u64) -> String {
        let expires = now() + ttl;
        let sig = hex(&self.mac(op, resource, expires).finalize().into_bytes());
        format!("expires={expires}&sig={sig}")
    }

    /// Checks a signature in constant time, and the expiry.
    pub fn verify(
        &self,
        op: &str,
        resource: &str,
        expires: Option<&str>,
        sig: Option<&str>,
    ) -> Result<(), &'static str> {
        let expires: u64 = expires
            .and_then(|e| e.parse().ok())
            .ok_or("missing or malformed expiry")?;
        let sig = sig.ok_or("missing signature")?;
        let bytes: Option<Vec<u8>> = (0..sig.len())
            .step_by(2)
            .map(|i| sig.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect();
        let bytes = bytes.ok_or("malformed signature")?;
        self.mac(op, resource, expires)
            .verify_slice(&bytes)
            .map_err(|_| "bad signature")?;
        if now() > expires {
            return Err("the signed URL has expired");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(q: &str) -> (Option<String>, Option<String>) {
        let get = |k: &str| {
            q.split('&')
                .find_map(|p| p.strip_prefix(&format!("{k}=")[..]).map(str::to_owned))
        };
        (get("expires"), get("sig"))
    }

    #[test]
    fn signs_and_verifies() {
        let s = Signer::with_key(&b"k".repeat(32)).unwrap_or_else(|e| panic!("{e}"));
        let q = s.query("get", "a/b.txt", 60);
        let (e, sig) = parts(&q);
        assert_eq!(s.verify("get", "a/b.txt", e.as_deref(), sig.as_deref()), Ok(()));
        assert!(s.verify("get", "a/c.txt", e.as_deref(), sig.as_deref()).is_err());
        assert!(s.verify("put", "a/b.txt", e.as_deref(), sig.as_deref()).is_err());
        let other = Signer::with_key(&b"x".repeat(32)).unwrap_or_else(|e| panic!("{e}"));
        assert!(other.verify("get", "a/b.txt", e.as_deref(), sig.as_deref()).is_err());
        let later = e
            .as_deref()
            .and_then(|e| e.parse::<u64>().ok())
            .map(|e| (e + 1).to_string());
        assert!(s.verify("get", "a/b.txt", later.as_deref(), sig.as_deref()).is_err());
        // A signature made for an expiry in the past is refused.
        let expired = hex(&s.mac("get", "a/b.txt", 1).finalize().into_bytes());
        assert_eq!(
            s.verify("get", "a/b.txt", Some("1"), Some(&expired)),
            Err("the signed URL has expired")
        );
    }
}
