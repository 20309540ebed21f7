//! The conformance suite: the definition of an Arca backend.
//!
//! For every store URI under test it loads the plugin through the real
//! manifest and loader (never by linking it), and runs each case under a
//! fresh random root that is removed afterwards. Cases are picked by the
//! plugin's declared capabilities, never skipped by hand.
//!
//! URIs: `ARCA_CONFORMANCE_URIS` (comma-separated), default a temporary
//! `file://` directory, `memory://conformance` and the plugins built for
//! other ABI versions than the host's ([`FIXTURES`]), followed by
//! `ARCA_CONFORMANCE_EXTRA_URIS` (how `cargo xtask test` adds servers such as
//! `s3://`). The manifest is `ARCA_PLUGINS` or the one `cargo xtask build`
//! writes, plus those fixtures from `ARCA_FIXTURES_DIR`.

mod cases;
mod direct;
mod safety;

use arca_core::Capabilities;
use arca_host::{Manifest, PluginEntry, Registry, Store};
use libtest_mimic::{Arguments, Failed, Trial};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What a case gets: the store under a fresh root, and the store one level
/// up (to plant canaries beside the root and to remove it afterwards).
#[derive(Debug)]
pub struct Ctx {
    pub store: Store,
    pub parent: Store,
    pub root: String,
}

pub type CaseResult = Result<(), String>;
pub type CaseFn = fn(Arc<Ctx>) -> Pin<Box<dyn Future<Output = CaseResult> + Send>>;

/// A case: its name, whether a store with these capabilities must pass it,
/// and the body.
#[allow(missing_debug_implementations)] // function pointers only
pub struct Case {
    pub name: &'static str,
    pub applies: fn(&Capabilities) -> bool,
    pub run: CaseFn,
}

#[macro_export]
macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

#[macro_export]
macro_rules! case {
    ($name:ident, $applies:expr) => {
        $crate::Case {
            name: stringify!($name),
            applies: $applies,
            run: |ctx| Box::pin(async move { $name(&ctx).await }),
        }
    };
}

/// Turns an error into a failure message.
pub fn e2s(e: arca_core::Error) -> String {
    format!("{:?}: {e}", e.kind)
}

fn store_uris(tmp: &std::path::Path) -> Vec<String> {
    let list = |var: &str| -> Option<Vec<String>> {
        let v = std::env::var(var).ok().filter(|v| !v.trim().is_empty())?;
        Some(
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        )
    };
    let mut uris = list("ARCA_CONFORMANCE_URIS").unwrap_or_else(|| {
        let mut uris = vec![
            format!("file://{}", tmp.join("file").display()),
            "memory://conformance".to_owned(),
            "abitwo://conformance".to_owned(),
        ];
        for scheme in ["future", "short"] {
            uris.push(format!("{scheme}://{}", tmp.join(scheme).display()));
        }
        uris
    });
    uris.extend(list("ARCA_CONFORMANCE_EXTRA_URIS").unwrap_or_default());
    uris
}

fn join_uri(base: &str, name: &str) -> String {
    format!("{}/{name}", base.trim_end_matches('/'))
}

async fn run_case(reg: Arc<Registry>, base: String, case: &'static Case) -> Result<(), Failed> {
    let parent = reg
        .open(&base)
        .await
        .map_err(|e| Failed::from(format!("cannot open {base}: {}", e2s(e))))?;
    let root = arca_tests::unique("conf");
    let store = reg
        .open(&join_uri(&base, &root))
        .await
        .map_err(|e| Failed::from(format!("cannot open the test root: {}", e2s(e))))?;
    let ctx = Arc::new(Ctx {
        store,
        parent: parent.clone(),
        root: root.clone(),
    });
    let out = (case.run)(ctx.clone()).await;
    drop(ctx);
    // Clean up whatever the case left, and prove the cleanup worked.
    let root_path = arca_core::ArtifactPath::parse(&root).map_err(|e| Failed::from(e.to_string()))?;
    let cleanup = parent.delete(&root_path).await;
    out.map_err(Failed::from)?;
    cleanup.map_err(|e| Failed::from(format!("cleanup failed: {}", e2s(e))))?;
    match parent.stat(&root_path).await {
        Err(e) if e.kind == arca_core::ErrorKind::NOT_FOUND => Ok(()),
        other => Err(Failed::from(format!("the test root survived its deletion: {other:?}"))),
    }
}

/// Plugins built for other ABI versions than the host's, which must pass
/// the cases their capabilities select like any other: (scheme, library
/// stem). `abitwo` is the memory plugin built against a frozen copy of
/// `arca-core` at ABI 2; `future` has the next minor version's longer table;
/// `short` a table that ends before the multipart and presign operations.
pub const FIXTURES: &[(&str, &str)] = &[
    ("abitwo", "arca_fixture_abi2"),
    ("future", "arca_fixture_future"),
    ("short", "arca_fixture_short"),
];

/// The registry of the built plugins and the [`FIXTURES`].
fn registry() -> arca_core::Result<Registry> {
    let mut manifest = Manifest::load(&arca_tests::manifest())?;
    for (scheme, stem) in FIXTURES {
        manifest.plugins.push(PluginEntry {
            name: (*scheme).to_owned(),
            library: arca_tests::fixture_library(stem),
            schemes: vec![(*scheme).to_owned()],
            config: Default::default(),
        });
    }
    Ok(Registry::new(manifest))
}

fn main() {
    let args = Arguments::from_args();
    let tmp = match tempfile::Builder::new().prefix("arca-conformance-").tempdir() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot create a temporary directory: {e}");
            std::process::exit(1);
        }
    };
    let reg = match registry() {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("{e} (run `cargo xtask build` first)");
            std::process::exit(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => Arc::new(rt),
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            std::process::exit(1);
        }
    };
    let mut trials = Vec::new();
    for base in store_uris(tmp.path()) {
        let scheme = arca_host::uri::scheme_of(&base);
        let caps = match reg.plugin_for(&scheme) {
            Ok((p, _)) => p.capabilities,
            Err(e) => {
                eprintln!("cannot load the plugin for {base}: {e}");
                std::process::exit(1);
            }
        };
        for case in cases::ALL.iter().chain(direct::ALL).chain(safety::ALL) {
            let (reg, rt, base) = (reg.clone(), rt.clone(), base.clone());
            let applies = (case.applies)(&caps);
            let trial = Trial::test(format!("{scheme}::{}", case.name), move || {
                rt.block_on(run_case(reg, base, case))
            })
            .with_ignored_flag(!applies)
            .with_kind(scheme.clone());
            trials.push(trial);
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    drop(tmp);
    conclusion.exit();
}
