//! Loads one plugin library and performs the handshake.
//!
//! The header of a plugin's declaration is read one field at a time, each
//! only after the checks before it have passed (magic, then epoch, then
//! layout fingerprint, then the operations table's own size and
//! requirements), so a library that is not a plugin, or a plugin of another
//! ABI, is refused before anything it points to is trusted. The operations
//! are then copied into a table the host owns ([`ops::Table`]), with
//! host-side `UNSUPPORTED` answers for whatever the plugin does not have.
//!
//! Libraries are never unloaded: a plugin may have threads (its runtime) and
//! destructors registered, and unloading under them is undefined behaviour.

mod ops;

use crate::manifest::PluginEntry;
use arca_core::abi::{
    ABI_MINOR, ABI_VERSION, ENTRY_SYMBOL, EntryFn, MAGIC, MIN_VTABLE_SIZE, OLDEST_ABI_VERSION, PluginDecl,
    PluginVTable, layout_fingerprint, v2,
};
use arca_core::{Capabilities, Error, ErrorKind, Result};
use std::path::{Path, PathBuf};
use std::ptr::addr_of;

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
    /// What its stores can do: what it declares, less what needs an
    /// operation it does not have.
    pub capabilities: Capabilities,
    /// The plugin ABI it was built for: (epoch, minor version).
    pub abi: (u32, u32),
    /// Operations the plugin does not have; the host answers them
    /// `UNSUPPORTED`.
    pub missing: Vec<&'static str>,
    pub(crate) vtable: &'static PluginVTable,
}

fn invalid(lib: &Path, cause: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::PLUGIN_INVALID,
        format!("cannot load plugin {}: {cause}", lib.display()),
    )
}

/// Loads `entry.library`, checks it (see the module docs), and checks that
/// the plugin serves the schemes the manifest gives it.
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
    // SAFETY (for every read of `*decl` below): the header of `PluginDecl` is
    // frozen across epochs, so its fields exist in any plugin's declaration;
    // each is read only once the checks before it have passed.
    let magic = unsafe { addr_of!((*decl).magic).read() };
    if magic != MAGIC {
        return Err(invalid(lib_path, "not an arca plugin (wrong magic number)"));
    }
    let epoch = unsafe { addr_of!((*decl).abi_version).read() };
    let table = match epoch {
        ABI_VERSION => current_table(decl).map_err(|cause| invalid(lib_path, cause))?,
        v2::ABI_VERSION => v2_table(decl).map_err(|cause| invalid(lib_path, cause))?,
        newer if newer > ABI_VERSION => {
            return Err(invalid(
                lib_path,
                format!(
                    "ABI version {newer} is newer than this host's ({OLDEST_ABI_VERSION} to {ABI_VERSION}); upgrade arca or use a build of the plugin for ABI {ABI_VERSION}"
                ),
            ));
        }
        older => {
            return Err(invalid(
                lib_path,
                format!(
                    "ABI version {older} is older than this host loads ({OLDEST_ABI_VERSION} to {ABI_VERSION}); rebuild the plugin against a current arca-core"
                ),
            ));
        }
    };
    // The library stays loaded for the life of the process (see module docs).
    std::mem::forget(lib);
    let text = |s: arca_core::ffi::FfiStr<'static>| s.to_string_lossy();
    let schemes: Vec<String> = table
        .vtable
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
        name: text(table.vtable.name),
        version: text(table.vtable.version),
        schemes,
        capabilities: Capabilities::from_bits(table.vtable.capabilities),
        abi: (epoch, table.vtable.minor),
        missing: table.missing,
        vtable: Box::leak(Box::new(table.vtable)),
    })
}

/// The header of this epoch's table, read from the plugin once the layout
/// matches: its size first, then the rest of the header if the size covers
/// it, then the requirements.
fn current_table(decl: *const PluginDecl) -> std::result::Result<ops::Table, String> {
    // SAFETY: the epoch is this host's, so the header has this layout.
    let layout = unsafe { addr_of!((*decl).layout).read() };
    if layout != layout_fingerprint() {
        return Err(layout_mismatch(layout, layout_fingerprint()));
    }
    // SAFETY: as above.
    let vt = unsafe { addr_of!((*decl).vtable).read() };
    if vt.is_null() {
        return Err("the plugin has no operations table".to_owned());
    }
    // SAFETY: the layout matches, so `vt` points to a table that starts with
    // its size; nothing past the size is read.
    let size = unsafe { addr_of!((*vt).size).read() };
    if size < MIN_VTABLE_SIZE {
        return Err(format!(
            "its operations table is too small ({size} bytes, at least {MIN_VTABLE_SIZE})"
        ));
    }
    // SAFETY: the header ends within `MIN_VTABLE_SIZE`, which `size` covers.
    let table = unsafe { ops::Table::read(vt, size) };
    let lacking: Vec<String> = table
        .vtable
        .requires
        .as_slice()
        .iter()
        .filter(|r| r.minor > ABI_MINOR)
        .map(|r| format!("{} (ABI {ABI_VERSION}.{})", r.what.to_string_lossy(), r.minor))
        .collect();
    if !lacking.is_empty() {
        return Err(format!(
            "it needs what this host lacks: {}; this host has plugin ABI {ABI_VERSION}.{ABI_MINOR}, upgrade arca",
            lacking.join(", ")
        ));
    }
    Ok(table)
}

/// An epoch-2 plugin's table, read into this epoch's shape.
fn v2_table(decl: *const PluginDecl) -> std::result::Result<ops::Table, String> {
    // SAFETY: the header is frozen across epochs.
    let layout = unsafe { addr_of!((*decl).layout).read() };
    if layout != v2::layout_fingerprint() {
        return Err(layout_mismatch(layout, v2::layout_fingerprint()));
    }
    // SAFETY: as above; an epoch-2 declaration points to an epoch-2 table.
    let vt = unsafe { addr_of!((*decl).vtable).read() }.cast::<v2::PluginVTableV2>();
    if vt.is_null() {
        return Err("the plugin has no operations table".to_owned());
    }
    // SAFETY: the layout fingerprint of epoch 2 matches, so `vt` is a whole
    // epoch-2 table, static data of a library that is never unloaded.
    let upgraded = ops::upgrade_v2(unsafe { &*vt });
    // SAFETY: `upgraded` is a whole table of this epoch.
    Ok(unsafe { ops::Table::read(&upgraded, upgraded.size) })
}

fn layout_mismatch(plugin: u64, host: u64) -> String {
    format!(
        "ABI layout mismatch: plugin fingerprint {plugin:016x}, host {host:016x} (built for another platform or against a modified arca-core); rebuild the plugin"
    )
}
