//! V4 signed URLs (`GOOG4-RSA-SHA256`) made with a service account's key,
//! for the endpoint the store actually uses.
//!
//! object_store signs every URL with `host: storage.googleapis.com`, so its
//! URLs are wrong for any other endpoint (an emulator, a private endpoint,
//! another universe). This signer follows Google's canonical-request rules
//! with the URL's own host. For the public endpoint it makes the very URL
//! object_store makes (a unit test compares them, signature included: RSA
//! PKCS #1 v1.5 signatures are deterministic).

use arca_core::{Error, ErrorKind, Result};
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;

/// A service account's signing key. `Debug` shows the account only.
pub struct Signer {
    email: String,
    key: KeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::CONFIG_INVALID, message)
}

/// Percent-encodes all but RFC 3986's unreserved characters.
pub(crate) fn strict_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `YYYYMMDDTHHMMSSZ` of `t`.
fn goog_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // Howard Hinnant's civil-from-days.
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let rem = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Signer {
    /// The key of the service-account file at `path` (`client_email` and
    /// `private_key`, a PKCS #8 PEM). Errors never show the key.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| invalid(format!("cannot read {shown}: {e}")))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|_| invalid(format!("{shown} is not a JSON key file")))?;
        let field = |name: &str| {
            json.get(name)
                .and_then(|v| v.as_str())
                .ok_or_else(|| invalid(format!("the service-account file {shown} has no {name}")))
        };
        let email = field("client_email")?.to_owned();
        let pem = field("private_key")?;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
        let der = STANDARD
            .decode(body)
            .map_err(|_| invalid(format!("the private_key of {shown} is not a PEM key")))?;
        let key = KeyPair::from_pkcs8(&der)
            .map_err(|_| invalid(format!("the private_key of {shown} is not an RSA PKCS #8 key")))?;
        Ok(Self { email, key })
    }

    /// Signs `url` (an object's URL, its path already encoded) for `method`,
    /// valid `expires` from `now`, with `extra` query parameters signed too.
    pub fn sign(
        &self,
        method: &str,
        url: &str,
        extra: &[(&str, &str)],
        expires: Duration,
        now: SystemTime,
    ) -> Result<String> {
        let mut url = Url::parse(url).map_err(|e| Error::invalid_input(format!("cannot sign {url}: {e}")))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(Error::invalid_input(format!("cannot sign {url}: no host"))),
        };
        let date = goog_date(now);
        let scope = format!("{}/auto/storage/goog4_request", &date[..8]);
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in extra {
                q.append_pair(k, v);
            }
            q.append_pair("X-Goog-Algorithm", "GOOG4-RSA-SHA256")
                .append_pair("X-Goog-Credential", &format!("{}/{scope}", self.email))
                .append_pair("X-Goog-Date", &date)
                .append_pair("X-Goog-Expires", &expires.as_secs().to_string())
                .append_pair("X-Goog-SignedHeaders", "host");
        }
        let mut query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (strict_encode(&k), strict_encode(&v)))
            .collect();
        query.sort();
        let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        let canonical = format!(
            "{method}\n{}\n{}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
            url.path(),
            query.join("&")
        );
        let hashed = hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref());
        let to_sign = format!("GOOG4-RSA-SHA256\n{date}\n{scope}\n{hashed}");
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                to_sign.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::unexpected("the RSA signature failed"))?;
        url.query_pairs_mut().append_pair("X-Goog-Signature", &hex(&signature));
        Ok(url.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_googs() {
        let t = UNIX_EPOCH + Duration::from_secs(1_796_404_435);
        assert_eq!(goog_date(t), "20261204T171355Z");
        assert_eq!(goog_date(UNIX_EPOCH), "19700101T000000Z");
        assert_eq!(strict_encode("a b/~"), "a%20b%2F~");
    }
}
