//! Loads one plugin library and performs the handshake.
//!
//! Libraries are never unloaded: a plugin may have threads (its runtime) and
//! destructors registered, and unloading under them is undefined behaviour.

use crate::manifest::PluginEntry;
use arca_core::abi::{ABI_VERSION, ENTRY_SYMBOL, EntryFn, MAGIC, PluginVTable, layout_fingerprint};
use arca_core::{Capabilities, Error, ErrorKind, Result};
use std::path::{Path, PathBuf};

/// A loaded, verified plugin.
#[derive(Debug)]
pub struct LoadedPlugin {
    /// The library file.
    pub library: PathBuf,
    /// Name the plugin declares.
    pub name: String,
    /// Version the plugin declares.
    pub version: String,
    /// Schemes the plugin declares.
    pub schemes: Vec<String>,
    /// What its stores can do.
    pub capabilities: Capabilities,
    pub(crate) vtable: &'static PluginVTable,
}

fn invalid(lib: &Path, cause: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::PLUGIN_INVALID,
        format!("cannot load plugin {}: {cause}", lib.display()),
    )
}

/// Loads `entry.library`, checks magic, ABI version and layout, and checks
/// that the plugin serves the schemes the manifest gives it.
pub fn load(entry: &PluginEntry) -> Result<LoadedPlugin> {
    let lib_path = &entry.library;
    if !lib_path.exists() {
        return Err(invalid(lib_path, "file not found"));
    }
    // SAFETY: loading a library runs its initialisers. The manifest names the
    // libraries the operator installed; that is the trust boundary, as for
    // any program that loads plugins.
    let lib = unsafe { libloading::Library::new(lib_path) }.map_err(|e| invalid(lib_path, e))?;
    // SAFETY: the symbol, if present, has the `EntryFn` signature by the ABI contract.
    let entry_fn: EntryFn = match unsafe { lib.get::<EntryFn>(ENTRY_SYMBOL) } {
        Ok(sym) => *sym,
        Err(_) => return Err(invalid(lib_path, "not an arca plugin (no arca_plugin_entry symbol)")),
    };
    // SAFETY: calling the entry function is the ABI contract; it catches its own panics.
    let decl = unsafe { entry_fn() };
    if decl.is_null() {
        return Err(invalid(
            lib_path,
            "the plugin failed to initialise (entry returned null)",
        ));
    }
    // SAFETY: the first four fields of `PluginDecl` are frozen across ABI versions,
    // so they can be read from any plugin before anything else is trusted.
    let (magic, version, layout, vtable) =
        unsafe { ((*decl).magic, (*decl).abi_version, (*decl).layout, (*decl).vtable) };
    if magic != MAGIC {
        return Err(invalid(lib_path, "not an arca plugin (wrong magic number)"));
    }
    if version != ABI_VERSION {
        return Err(invalid(
            lib_path,
            format!(
                "ABI version mismatch: the plugin has version {version}, this host needs {ABI_VERSION}; rebuild the plugin against a matching arca-core"
            ),
        ));
    }
    if layout != layout_fingerprint() {
        return Err(invalid(
            lib_path,
            format!(
                "ABI layout mismatch: plugin fingerprint {layout:016x}, host {:016x}; rebuild the plugin against a matching arca-core",
                layout_fingerprint()
            ),
        ));
    }
    if vtable.is_null() {
        return Err(invalid(lib_path, "the plugin has no operations table"));
    }
    // The library stays loaded for the life of the process (see module docs).
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    let _ = lib;
    // SAFETY: checked non-null; the vtable is static data in a library that is never unloaded.
    let vtable: &'static PluginVTable = unsafe { &*vtable };
    let text = |s: arca_core::ffi::FfiStr<'static>| s.to_string_lossy();
    let schemes: Vec<String> = vtable
        .schemes
        .as_slice()
        .iter()
        .map(|s| text(*s).to_ascii_lowercase())
        .collect();
    for s in &entry.schemes {
        if !schemes.contains(s) {
            return Err(invalid(
                lib_path,
                format!(
                    "the manifest maps scheme {s} to it, but the plugin serves only: {}",
                    schemes.join(", ")
                ),
            ));
        }
    }
    Ok(LoadedPlugin {
        library: lib_path.clone(),
        name: text(vtable.name),
        version: text(vtable.version),
        schemes,
        capabilities: vtable.capabilities,
        vtable,
    })
}
