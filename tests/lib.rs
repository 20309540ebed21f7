//! Shared helpers for Arca's test binaries: where the built artefacts are,
//! unique names, deterministic pseudo-random content.

pub mod wire;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// The workspace's target directory (`$CARGO_TARGET_DIR` or `./target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target"),
    }
}

/// The plugin manifest written by `cargo xtask build`.
pub fn manifest() -> PathBuf {
    std::env::var_os("ARCA_PLUGINS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug").join("plugins.toml"))
}

/// The `arca` binary.
pub fn arca_bin() -> PathBuf {
    std::env::var_os("ARCA_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug").join("arca"))
}

/// Where the loader fixtures are built.
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("ARCA_FIXTURES_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug"))
}

/// The library a loader fixture (`tests/fixtures/*`) builds, by its stem
/// (`arca_fixture_future`).
pub fn fixture_library(stem: &str) -> PathBuf {
    fixtures_dir().join(format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// A name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{:x}-{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Hex SHA-256.
pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// The body of an HTTP/1.1 response sent with `Transfer-Encoding: chunked`.
pub fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).unwrap_or(0);
        let Some(data) = rest.get(eol + 2..eol + 2 + size) else {
            break;
        };
        if size == 0 {
            break;
        }
        out.extend_from_slice(data);
        rest = rest.get(eol + 4 + size..).unwrap_or_default();
    }
    out
}
