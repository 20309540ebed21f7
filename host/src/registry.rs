//! [`Registry`]: the manifest plus lazily loaded plugins.

use crate::loader::{self, LoadedPlugin};
use crate::manifest::{Manifest, PluginEntry};
use crate::store::{Store, await_op};
use crate::uri::{redact, scheme_of};
use arca_core::ffi::{FfiKv, FfiSlice, FfiStr};
use arca_core::{Error, ErrorKind, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Removes the password of `uri` from anything a plugin said, in case the
/// plugin echoed the URI back unredacted.
fn scrub(mut e: Error, uri: &str) -> Error {
    let Some(password) = crate::uri::password_of(uri) else {
        return e;
    };
    let fix = |s: &str| s.replace(password, "***");
    e.message = fix(&e.message);
    for (_, v) in &mut e.context {
        *v = fix(v);
    }
    e
}

/// The store registry: resolves a URI's scheme to a plugin (loading it on
/// first use) and opens stores.
pub struct Registry {
    manifest: Manifest,
    loaded: Mutex<HashMap<String, std::result::Result<Arc<LoadedPlugin>, Error>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("manifest", &self.manifest.path)
            .finish_non_exhaustive()
    }
}

/// How one manifest entry fares when loaded (for `arca plugins list`).
#[derive(Debug)]
pub struct PluginStatus {
    /// The manifest entry.
    pub entry: PluginEntry,
    /// The loaded plugin, or why it cannot be loaded.
    pub loaded: std::result::Result<Arc<LoadedPlugin>, Error>,
}

impl Registry {
    /// A registry over a parsed manifest.
    pub fn new(manifest: Manifest) -> Self {
        Self {
            manifest,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Reads the manifest at `path`.
    pub fn from_manifest(path: &Path) -> Result<Self> {
        Ok(Self::new(Manifest::load(path)?))
    }

    /// Finds the manifest the usual way (`flag`, `$ARCA_PLUGINS`, beside the
    /// executable; see [`Manifest::locate`]) and reads it.
    pub fn discover(flag: Option<&Path>) -> Result<Self> {
        Self::from_manifest(&Manifest::locate(flag)?)
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn load_entry(&self, entry: &PluginEntry) -> Result<Arc<LoadedPlugin>> {
        let mut map = self
            .loaded
            .lock()
            .map_err(|_| Error::unexpected("plugin registry lock poisoned"))?;
        map.entry(entry.name.clone())
            .or_insert_with(|| loader::load(entry).map(Arc::new))
            .clone()
    }

    /// The plugin serving `scheme`, loaded on first use.
    pub fn plugin_for(&self, scheme: &str) -> Result<(Arc<LoadedPlugin>, &PluginEntry)> {
        let entry = self.manifest.entry_for(scheme).ok_or_else(|| {
            let installed = self.manifest.schemes();
            let list = if installed.is_empty() {
                "none".to_owned()
            } else {
                installed.join(", ")
            };
            Error::new(
                ErrorKind::UNSUPPORTED,
                format!(
                    "no plugin installed for scheme {scheme} (installed schemes: {list}; manifest {})",
                    self.manifest.path.display()
                ),
            )
        })?;
        Ok((self.load_entry(entry)?, entry))
    }

    /// Loads every plugin and reports how each fares.
    pub fn status(&self) -> Vec<PluginStatus> {
        self.manifest
            .plugins
            .iter()
            .map(|e| PluginStatus {
                entry: e.clone(),
                loaded: self.load_entry(e),
            })
            .collect()
    }

    /// Opens the store at `uri` with the manifest's default configuration.
    pub async fn open(&self, uri: &str) -> Result<Store> {
        self.open_with(uri, &BTreeMap::new()).await
    }

    /// Opens the store at `uri`; `config` overrides the manifest's defaults.
    pub async fn open_with(&self, uri: &str, config: &BTreeMap<String, String>) -> Result<Store> {
        let scheme = scheme_of(uri);
        let (plugin, entry) = self.plugin_for(&scheme)?;
        let mut merged = entry.config.clone();
        merged.extend(config.iter().map(|(k, v)| (k.clone(), v.clone())));
        let kvs: Vec<FfiKv<'_>> = merged
            .iter()
            .map(|(k, v)| FfiKv {
                key: FfiStr::new(k),
                value: FfiStr::new(v),
            })
            .collect();
        // SAFETY: the vtable is verified; borrowed arguments outlive the call.
        let op = unsafe { (plugin.vtable.open)(FfiStr::new(uri), FfiSlice::new(&kvs)) };
        let shown = redact(uri);
        let handle = await_op(op).await.map_err(|e| {
            let mut e = scrub(e, uri);
            e.message = format!("cannot open {shown} with plugin {}: {}", plugin.name, e.message);
            e
        })?;
        Ok(Store::new(plugin, handle, shown))
    }
}
