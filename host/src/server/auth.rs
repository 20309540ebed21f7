//! Optional authentication and authorisation (MLflow's artifacts-only
//! server has none).
//!
//! `--auth-file FILE` names a TOML file of users (Basic, as the MLflow client
//! sends `MLFLOW_TRACKING_USERNAME`/`PASSWORD`) and tokens (Bearer, as it
//! sends `MLFLOW_TRACKING_TOKEN`), each with `read` or `read-write`
//! permission, optionally limited to path prefixes:
//!
//! ```toml
//! [[user]]
//! name = "alice"
//! password_hash = "$argon2id$v=19$m=19456,t=2,p=1$…"   # or a bcrypt "$2b$…" hash
//! permission = "read-write"
//! prefixes = ["team-a", "shared/models"]              # optional
//!
//! [[token]]
//! name = "ci"
//! sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! permission = "read"
//! ```
//!
//! `arca hash-password` makes both kinds of hash. No secret is ever logged;
//! a verified password is remembered for a few minutes (by its SHA-256) so
//! that the slow hash runs once per client, not once per request.

use super::api::ApiError;
use arca_core::{ArtifactPath, Error, ErrorKind, Result};
use argon2::PasswordVerifier;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a verified password is remembered.
const REMEMBER: Duration = Duration::from_secs(300);
const REMEMBER_MAX: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Permission {
    #[serde(rename = "read")]
    Read,
    #[serde(rename = "read-write")]
    ReadWrite,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    name: String,
    password_hash: String,
    permission: Permission,
    #[serde(default)]
    prefixes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    sha256: String,
    permission: Permission,
    #[serde(default)]
    prefixes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    #[serde(default)]
    user: Vec<UserEntry>,
    #[serde(default)]
    token: Vec<TokenEntry>,
}

/// Who made a request and what they may do.
#[derive(Clone, Debug)]
pub struct Principal {
    pub name: String,
    pub permission: Permission,
    prefixes: Vec<ArtifactPath>,
}

impl Principal {
    /// Whether `path` lies within the principal's prefixes.
    pub fn may_reach(&self, path: &ArtifactPath) -> bool {
        self.prefixes.is_empty()
            || self.prefixes.iter().any(|p| {
                path.as_str() == p.as_str()
                    || path
                        .as_str()
                        .strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
    }
}

struct User {
    hash: String,
    principal: Principal,
}

/// The loaded auth file.
pub struct Auth {
    users: HashMap<String, User>,
    tokens: Vec<([u8; 32], Principal)>,
    remembered: Mutex<HashMap<[u8; 32], Instant>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("users", &self.users.len())
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

fn prefixes(raw: &[String], who: &str, file: &Path) -> Result<Vec<ArtifactPath>> {
    raw.iter()
        .map(|p| {
            ArtifactPath::parse(p).map_err(|e| {
                Error::new(
                    ErrorKind::CONFIG_INVALID,
                    format!("auth file {}: {who}: {e}", file.display()),
                )
            })
        })
        .collect()
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Constant-time equality, so a token cannot be guessed byte by byte.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    /// Reads and checks an auth file.
    pub fn load(file: &Path) -> Result<Self> {
        let bad = |msg: String| {
            Error::new(
                ErrorKind::CONFIG_INVALID,
                format!("auth file {}: {msg}", file.display()),
            )
        };
        let text = std::fs::read_to_string(file).map_err(|e| bad(format!("cannot read it: {e}")))?;
        let raw: AuthFile = toml::from_str(&text).map_err(|e| bad(e.message().to_owned()))?;
        let mut users = HashMap::new();
        for u in raw.user {
            if !(u.password_hash.starts_with("$argon2") || u.password_hash.starts_with("$2")) {
                return Err(bad(format!(
                    "user {}: password_hash must be an argon2 or bcrypt hash",
                    u.name
                )));
            }
            let principal = Principal {
                name: u.name.clone(),
                permission: u.permission,
                prefixes: prefixes(&u.prefixes, &u.name, file)?,
            };
            users.insert(
                u.name,
                User {
                    hash: u.password_hash,
                    principal,
                },
            );
        }
        let mut tokens = Vec::new();
        for t in raw.token {
            let digest = hex32(&t.sha256.to_ascii_lowercase())
                .ok_or_else(|| bad(format!("token {}: sha256 must be 64 hex digits", t.name)))?;
            let principal = Principal {
                name: t.name.clone(),
                permission: t.permission,
                prefixes: prefixes(&t.prefixes, &t.name, file)?,
            };
            tokens.push((digest, principal));
        }
        if users.is_empty() && tokens.is_empty() {
            return Err(bad("it names no user and no token".to_owned()));
        }
        Ok(Self {
            users,
            tokens,
            remembered: Mutex::new(HashMap::new()),
        })
    }

    fn remember_key(user: &User, password: &str) -> [u8; 32] {
        sha256(format!("{}\0{password}", user.principal.name).as_bytes())
    }

    /// Whether `password` was checked for `user` lately (cheap).
    fn remembered(&self, user: &User, password: &str) -> bool {
        let key = Self::remember_key(user, password);
        self.remembered
            .lock()
            .is_ok_and(|map| map.get(&key).is_some_and(|t| t.elapsed() < REMEMBER))
    }

    /// Checks `password` against `user`'s hash (argon2 or bcrypt: tens of
    /// milliseconds of CPU on purpose, so never on an async worker), and
    /// remembers a match.
    fn verify_password(&self, user: &User, password: &str) -> bool {
        let key = Self::remember_key(user, password);
        let ok = if user.hash.starts_with("$argon2") {
            argon2::PasswordHash::new(&user.hash).is_ok_and(|h| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
        } else {
            bcrypt::verify(password, &user.hash).unwrap_or(false)
        };
        if ok && let Ok(mut map) = self.remembered.lock() {
            if map.len() >= REMEMBER_MAX {
                map.retain(|_, t| t.elapsed() < REMEMBER);
            }
            map.insert(key, Instant::now());
        }
        ok
    }

    /// Who the request's credentials name; 401 if there are none or they
    /// are wrong. A password not checked lately is checked on the blocking
    /// pool, so a slow check never stalls other requests.
    pub async fn authenticate(self: &Arc<Self>, headers: &HeaderMap) -> std::result::Result<Principal, ApiError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| unauthenticated("credentials required"))?;
        if let Some(b64) = value.strip_prefix("Basic ") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .ok_or_else(|| unauthenticated("malformed Basic credentials"))?;
            let (name, password) = decoded
                .split_once(':')
                .ok_or_else(|| unauthenticated("malformed Basic credentials"))?;
            let wrong = || unauthenticated("wrong user name or password");
            let user = self.users.get(name).ok_or_else(wrong)?;
            if self.remembered(user, password) {
                return Ok(user.principal.clone());
            }
            let (auth, name, password) = (Arc::clone(self), name.to_owned(), password.to_owned());
            let ok = tokio::task::spawn_blocking(move || {
                auth.users
                    .get(&name)
                    .is_some_and(|user| auth.verify_password(user, &password))
            })
            .await
            .unwrap_or(false);
            return if ok { Ok(user.principal.clone()) } else { Err(wrong()) };
        }
        if let Some(token) = value.strip_prefix("Bearer ") {
            let digest = sha256(token.trim().as_bytes());
            return self
                .tokens
                .iter()
                .find(|(d, _)| same(d, &digest))
                .map(|(_, p)| p.clone())
                .ok_or_else(|| unauthenticated("unknown token"));
        }
        Err(unauthenticated(
            "unsupported authorization scheme (use Basic or Bearer)",
        ))
    }
}

pub fn unauthenticated(msg: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", msg)
}

pub fn forbidden(msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "PERMISSION_DENIED", msg)
}

/// An argon2id hash of `password`, for an auth file.
pub fn hash_password(password: &str) -> std::result::Result<String, String> {
    use argon2::PasswordHasher;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness available: {e}"))?;
    let salt = argon2::password_hash::SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// The hex SHA-256 of a token, for an auth file.
pub fn hash_token(token: &str) -> String {
    sha256(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(text: &str) -> Result<Auth> {
        let dir = tempfile::tempdir().map_err(|e| Error::unexpected(e.to_string()))?;
        let p = dir.path().join("auth.toml");
        std::fs::write(&p, text).map_err(|e| Error::unexpected(e.to_string()))?;
        Auth::load(&p)
    }

    fn basic(user: &str, pw: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
        if let Ok(v) = format!("Basic {v}").parse() {
            h.insert(header::AUTHORIZATION, v);
        }
        h
    }

    #[tokio::test]
    async fn basic_bearer_and_prefixes() {
        let hash = hash_password("s3cret").unwrap_or_default();
        let bc = bcrypt::hash("old", 4).unwrap_or_default();
        let text = format!(
            "[[user]]\nname = \"alice\"\npassword_hash = \"{hash}\"\npermission = \"read-write\"\nprefixes = [\"team-a\"]\n\
             [[user]]\nname = \"bob\"\npassword_hash = \"{bc}\"\npermission = \"read\"\n\
             [[token]]\nname = \"ci\"\nsha256 = \"{}\"\npermission = \"read\"\n",
            hash_token("tok")
        );
        let a = std::sync::Arc::new(auth(&text).unwrap_or_else(|e| panic!("{e}")));
        let alice = a
            .authenticate(&basic("alice", "s3cret"))
            .await
            .unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(alice.permission, Permission::ReadWrite);
        let p = |s: &str| ArtifactPath::parse(s).unwrap_or_default();
        assert!(alice.may_reach(&p("team-a/x")) && alice.may_reach(&p("team-a")));
        assert!(!alice.may_reach(&p("team-ab/x")) && !alice.may_reach(&p("")));
        // Twice: the second check is answered from memory.
        assert!(a.authenticate(&basic("alice", "s3cret")).await.is_ok());
        assert!(a.authenticate(&basic("alice", "wrong")).await.is_err());
        assert!(
            a.authenticate(&basic("bob", "old"))
                .await
                .is_ok_and(|p| p.permission == Permission::Read)
        );
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer tok".parse().unwrap_or_else(|_| panic!()));
        assert!(a.authenticate(&h).await.is_ok_and(|p| p.name == "ci"));
        h.insert(
            header::AUTHORIZATION,
            "Bearer nope".parse().unwrap_or_else(|_| panic!()),
        );
        assert_eq!(
            a.authenticate(&h).await.err().map(|e| e.status),
            Some(StatusCode::UNAUTHORIZED)
        );
        assert!(a.authenticate(&HeaderMap::new()).await.is_err());
    }

    #[test]
    fn bad_files_are_refused() {
        assert!(auth("").is_err());
        assert!(auth("[[user]]\nname=\"a\"\npassword_hash=\"plain\"\npermission=\"read\"\n").is_err());
        assert!(auth("[[token]]\nname=\"a\"\nsha256=\"xyz\"\npermission=\"read\"\n").is_err());
        assert!(auth("[[token]]\nname=\"a\"\nsha256=\"00\"\npermission=\"admin\"\n").is_err());
    }
}
