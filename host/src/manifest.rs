//! The plugin manifest: a TOML file mapping URI schemes to plugin libraries.
//!
//! ```toml
//! [[plugin]]
//! name = "local"
//! library = "plugins/libarca_plugin_local.so"   # relative to this file
//! schemes = ["file"]
//! [plugin.config]                               # optional defaults passed to `open`
//! chunk_size = "4194304"
//! ```
//!
//! It is the only source of truth: plugins are never found by scanning
//! directories.

use arca_core::{Error, ErrorKind, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The environment variable naming the manifest.
pub const MANIFEST_ENV: &str = "ARCA_PLUGINS";
/// The manifest's file name beside the executable.
pub const MANIFEST_FILE: &str = "plugins.toml";

/// One plugin library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginEntry {
    /// The plugin's name.
    pub name: String,
    /// The library, resolved against the manifest's directory.
    pub library: PathBuf,
    /// The URI schemes it serves (lower case).
    pub schemes: Vec<String>,
    /// Default configuration passed to every `open`.
    pub config: BTreeMap<String, String>,
}

/// A parsed manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its entries, in file order.
    pub plugins: Vec<PluginEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    plugin: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: String,
    library: PathBuf,
    schemes: Vec<String>,
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
}

fn config_value(v: toml::Value) -> String {
    match v {
        toml::Value::String(s) => s,
        other => other.to_string(),
    }
}

impl Manifest {
    /// Reads and checks a manifest file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(
                ErrorKind::CONFIG_INVALID,
                format!("cannot read plugin manifest {}: {e}", path.display()),
            )
        })?;
        Self::parse(&text, path)
    }

    /// Parses manifest text; `path` resolves relative library paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let bad = |msg: String| {
            Error::new(
                ErrorKind::CONFIG_INVALID,
                format!("plugin manifest {}: {msg}", path.display()),
            )
        };
        let raw: RawManifest = toml::from_str(text).map_err(|e| bad(e.message().to_owned()))?;
        // A bare file name (`--plugins plugins.toml`) has an empty parent,
        // which would turn `libx.so` into a name the dynamic loader searches
        // for on its own path rather than a file beside the manifest.
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut plugins: Vec<PluginEntry> = Vec::new();
        for e in raw.plugin {
            if e.schemes.is_empty() {
                return Err(bad(format!("plugin {} serves no scheme", e.name)));
            }
            let schemes: Vec<String> = e.schemes.iter().map(|s| s.to_ascii_lowercase()).collect();
            for s in &schemes {
                if let Some(other) = plugins.iter().find(|p| p.schemes.contains(s)) {
                    return Err(bad(format!(
                        "scheme {s} is claimed by both {} and {}",
                        other.name, e.name
                    )));
                }
            }
            let library = if e.library.is_absolute() {
                e.library
            } else {
                base.join(e.library)
            };
            let config = e.config.into_iter().map(|(k, v)| (k, config_value(v))).collect();
            plugins.push(PluginEntry {
                name: e.name,
                library,
                schemes,
                config,
            });
        }
        Ok(Self {
            path: path.to_owned(),
            plugins,
        })
    }

    /// Finds the manifest: `flag`, else `$ARCA_PLUGINS`, else `plugins.toml`
    /// beside the running executable.
    pub fn locate(flag: Option<&Path>) -> Result<PathBuf> {
        if let Some(p) = flag {
            return Ok(p.to_owned());
        }
        if let Some(p) = std::env::var_os(MANIFEST_ENV).filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(p));
        }
        let exe = std::env::current_exe().map_err(|e| {
            Error::new(
                ErrorKind::CONFIG_INVALID,
                format!("cannot find the running executable: {e}"),
            )
        })?;
        Ok(exe.parent().unwrap_or(Path::new(".")).join(MANIFEST_FILE))
    }

    /// The entry serving `scheme`.
    pub fn entry_for(&self, scheme: &str) -> Option<&PluginEntry> {
        self.plugins.iter().find(|p| p.schemes.iter().any(|s| s == scheme))
    }

    /// Every scheme, sorted.
    pub fn schemes(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .plugins
            .iter()
            .flat_map(|p| p.schemes.iter().map(String::as_str))
            .collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves_relative_libraries() {
        let m = Manifest::parse(
            "[[plugin]]\nname = \"local\"\nlibrary = \"p/liblocal.so\"\nschemes = [\"File\"]\n[plugin.config]\nchunk_size = 4096\n",
            Path::new("/opt/arca/plugins.toml"),
        );
        let m = m.unwrap_or_default();
        assert_eq!(m.plugins.len(), 1);
        assert_eq!(m.plugins[0].library, Path::new("/opt/arca/p/liblocal.so"));
        assert_eq!(m.plugins[0].schemes, ["file"]);
        assert_eq!(m.plugins[0].config.get("chunk_size").map(String::as_str), Some("4096"));
        assert!(m.entry_for("file").is_some());
    }

    #[test]
    fn a_bare_manifest_name_resolves_libraries_beside_it() {
        let m = Manifest::parse(
            "[[plugin]]\nname = \"s3\"\nlibrary = \"libs3.so\"\nschemes = [\"s3\"]\n",
            Path::new("plugins.toml"),
        );
        let m = m.unwrap_or_default();
        assert_eq!(m.plugins.len(), 1);
        assert_eq!(m.plugins[0].library, Path::new("./libs3.so"));
    }

    #[test]
    fn refuses_duplicate_schemes_and_unknown_fields() {
        let dup = "[[plugin]]\nname=\"a\"\nlibrary=\"a.so\"\nschemes=[\"x\"]\n[[plugin]]\nname=\"b\"\nlibrary=\"b.so\"\nschemes=[\"x\"]\n";
        let e = Manifest::parse(dup, Path::new("m.toml"))
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(e.contains("claimed by both a and b"), "{e}");
        let unk = "[[plugin]]\nname=\"a\"\nlibrary=\"a.so\"\nschemes=[\"x\"]\nlibary=\"typo\"\n";
        let e = Manifest::parse(unk, Path::new("m.toml"))
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(e.contains("libary"), "{e}");
    }
}
