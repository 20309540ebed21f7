//! Authentication: the bearer JWT a service-account key makes, or a V4
//! signed URL, checked against the key the server generated.

use crate::dates::{now_secs, parse_goog_date};
use crate::{EMAIL, Server};
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::Digest as _;
use sha2::Sha256;

/// Why a request is refused: its status, error code and message.
pub(crate) struct Refusal(pub(crate) StatusCode, pub(crate) &'static str, pub(crate) String);

pub(crate) fn refuse(status: StatusCode, code: &'static str, message: &str) -> Refusal {
    Refusal(status, code, message.to_owned())
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

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Server {
    fn verify_rsa(&self, message: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.public_key)
            .verify(message, sig)
            .is_ok()
    }

    /// Checks the request's credentials; `Err` says why they are refused.
    pub(crate) fn authenticate(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), Refusal> {
        let query = uri.query().unwrap_or("");
        if query.contains("X-Goog-Signature=") {
            return self.check_signed_url(method, uri, headers);
        }
        let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                "AuthenticationRequired",
                "Anonymous caller does not have storage.objects access.",
            ));
        };
        let Some(token) = auth.strip_prefix("Bearer ") else {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                "AuthenticationRequired",
                "not a bearer token",
            ));
        };
        // An access token the token endpoint handed out, or a JWT the
        // account's key signed (object_store sends those directly).
        if self.tokens.lock().is_ok_and(|t| t.contains(token)) {
            return Ok(());
        }
        self.check_jwt(token)
    }

    /// Checks a JWT: RS256 by the account's key, issued by its e-mail, not
    /// expired.
    pub(crate) fn check_jwt(&self, token: &str) -> Result<(), Refusal> {
        let invalid = || {
            refuse(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "Invalid Credentials",
            )
        };
        let mut it = token.split('.');
        let (Some(h), Some(c), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
            return Err(invalid());
        };
        let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| invalid())?;
        if !self.verify_rsa(format!("{h}.{c}").as_bytes(), &sig) {
            return Err(invalid());
        }
        let claims: serde_json::Value = URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(invalid)?;
        let exp = claims.get("exp").and_then(serde_json::Value::as_u64).unwrap_or(0);
        if claims.get("iss").and_then(|v| v.as_str()) != Some(EMAIL) || exp < now_secs() {
            return Err(invalid());
        }
        Ok(())
    }

    fn check_signed_url(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), Refusal> {
        let pairs = crate::query_pairs(uri.query().unwrap_or(""));
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let bad = |m: &str| refuse(StatusCode::BAD_REQUEST, "InvalidArgument", m);
        if get("X-Goog-Algorithm") != Some("GOOG4-RSA-SHA256") {
            return Err(bad("X-Goog-Algorithm must be GOOG4-RSA-SHA256"));
        }
        let (Some(credential), Some(date), Some(expires), Some(signed), Some(sig)) = (
            get("X-Goog-Credential"),
            get("X-Goog-Date"),
            get("X-Goog-Expires"),
            get("X-Goog-SignedHeaders"),
            get("X-Goog-Signature"),
        ) else {
            return Err(bad(
                "a signed URL needs X-Goog-Credential, -Date, -Expires, -SignedHeaders and -Signature",
            ));
        };
        let (Some(start), Ok(expires)) = (parse_goog_date(date), expires.parse::<u64>()) else {
            return Err(bad("bad X-Goog-Date or X-Goog-Expires"));
        };
        let Some((email, scope)) = credential.split_once('/') else {
            return Err(bad("bad X-Goog-Credential"));
        };
        if email != EMAIL || scope != format!("{}/auto/storage/goog4_request", &date[..8]) {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "unknown credential or scope",
            ));
        }
        // Canonical query: every parameter but the signature, encoded
        // strictly, sorted.
        let mut query: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "X-Goog-Signature")
            .map(|(k, v)| (strict_encode(k), strict_encode(v)))
            .collect();
        query.sort();
        let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        // Canonical headers: the signed ones, as they arrived.
        let mut canonical_headers = Vec::new();
        for name in signed.split(';') {
            let value = headers.get(name).and_then(|v| v.to_str().ok());
            let Some(value) = value else {
                return Err(refuse(
                    StatusCode::FORBIDDEN,
                    "SignatureDoesNotMatch",
                    &format!("signed header {name} is missing"),
                ));
            };
            canonical_headers.push(format!("{name}:{}", value.trim()));
        }
        if !signed.split(';').any(|h| h == "host") {
            return Err(bad("the host header must be signed"));
        }
        let canonical = format!(
            "{method}\n{}\n{}\n{}\n\n{signed}\nUNSIGNED-PAYLOAD",
            uri.path(),
            query.join("&"),
            canonical_headers.join("\n")
        );
        let hashed = hex(&Sha256::digest(canonical.as_bytes()));
        let to_sign = format!("GOOG4-RSA-SHA256\n{date}\n{scope}\n{hashed}");
        let ok = unhex(sig).is_some_and(|s| self.verify_rsa(to_sign.as_bytes(), &s));
        if !ok {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            ));
        }
        if now_secs() > start.saturating_add(expires) {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "ExpiredToken",
                "The provided token has expired.",
            ));
        }
        Ok(())
    }
}
