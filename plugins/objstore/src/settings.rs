//! Reading a plugin's settings: each key from the store's configuration
//! map, else from the environment variable MLflow (or its client library)
//! reads for the same setting, remembering which one gave the value so an
//! error can name it.

use arca_core::{Config, Error, ErrorKind, Result};

/// Where environment variables are read from (the process environment, or
/// a fixed set in tests).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A `CONFIG_INVALID` error.
pub fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::CONFIG_INVALID, message)
}

/// The key from the map, else the first of `envs` that is set and not
/// empty; with where it came from (`configuration key <key>` or the
/// variable's name).
pub fn take(config: &mut Config, env: Env<'_>, key: &str, envs: &[&'static str]) -> Option<(String, String)> {
    if let Some(v) = config.take(key) {
        return Some((v, format!("configuration key {key}")));
    }
    envs.iter()
        .find_map(|e| env(e).filter(|v| !v.trim().is_empty()).map(|v| (v, (*e).to_owned())))
}

/// A boolean (`true/false/1/0/yes/no/on/off`, case-insensitive; empty is
/// false); an error names `what`.
pub fn parse_bool(what: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(invalid(format!("invalid boolean for {what} (expected true or false)"))),
    }
}
