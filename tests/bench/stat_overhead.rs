//! `stat-overhead MANIFEST DIR`: what one call through the plugin boundary
//! costs on top of the system call it wraps. Run by `cargo xtask bench`.
//!
//! It creates one file in `DIR`, opens `file://DIR` through the real loader
//! (`Registry::from_manifest(MANIFEST)`), warms both paths up, then times
//! [`CALLS`] sequential `store.stat` calls on a current-thread runtime and as
//! many `std::fs::metadata` calls on the same file, and prints one JSON line:
//! `{"calls":100000,"plugin_us":…,"direct_us":…,"added_us":…}` (per call).
//!
//! The plugin loop runs inside one `block_on`, so the figure is the cost of a
//! call (FFI, the plugin's own runtime hand-off, path checks), not of
//! starting a runtime each time.

use arca_host::{ArtifactPath, Registry};
use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Timed calls per loop.
const CALLS: u32 = 100_000;
/// Untimed calls before each loop: loads the plugin's lazy state, fills the
/// dentry cache and lets the CPU settle.
const WARMUP: u32 = 10_000;
/// The file every call describes.
const NAME: &str = "stat-overhead.bin";
const SIZE: usize = 4096;

fn main() -> ExitCode {
    match run() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stat-overhead: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<String, String> {
    let mut args = std::env::args_os().skip(1);
    let (Some(manifest), Some(dir), None) = (args.next(), args.next(), args.next()) else {
        return Err("usage: stat-overhead MANIFEST DIR".to_owned());
    };
    let dir = std::path::absolute(&dir).map_err(|e| format!("cannot resolve {}: {e}", Path::new(&dir).display()))?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let full = dir.join(NAME);
    std::fs::write(&full, arca_tests::content(SIZE, 7)).map_err(|e| format!("cannot write {}: {e}", full.display()))?;

    let result = measure(Path::new(&manifest), &dir, &full);
    let _ = std::fs::remove_file(&full);
    let (plugin, direct) = result?;
    let per_call = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(CALLS);
    let (plugin_us, direct_us) = (per_call(plugin), per_call(direct));
    Ok(format!(
        "{{\"calls\":{CALLS},\"plugin_us\":{plugin_us:.3},\"direct_us\":{direct_us:.3},\"added_us\":{:.3}}}",
        plugin_us - direct_us
    ))
}

/// The time of [`CALLS`] plugin stats and of as many direct ones.
fn measure(manifest: &Path, dir: &Path, full: &Path) -> Result<(Duration, Duration), String> {
    let dir_str = dir
        .to_str()
        .ok_or_else(|| format!("{} is not valid utf-8", dir.display()))?;
    // The URI is percent-decoded once by the plugin, so a literal `%` must be escaped.
    let uri = format!("file://{}", dir_str.replace('%', "%25"));
    let path = ArtifactPath::parse(NAME).map_err(|e| e.to_string())?;
    let registry = Registry::from_manifest(manifest).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?;

    let plugin = rt
        .block_on(async {
            let store = registry.open(&uri).await?;
            let info = store.stat(&path).await?;
            if info.is_dir || info.size != SIZE as u64 {
                let got = format!("is_dir {}, size {}", info.is_dir, info.size);
                return Err(arca_host::Error::unexpected(format!("stat of {NAME} says {got}")));
            }
            for _ in 0..WARMUP {
                black_box(store.stat(&path).await?);
            }
            let start = Instant::now();
            for _ in 0..CALLS {
                black_box(store.stat(black_box(&path)).await?);
            }
            Ok(start.elapsed())
        })
        .map_err(|e| format!("{uri}: {e}"))?;

    let stat = |p: &Path| std::fs::metadata(p).map_err(|e| format!("cannot stat {}: {e}", p.display()));
    for _ in 0..WARMUP {
        black_box(stat(full)?);
    }
    let start = Instant::now();
    for _ in 0..CALLS {
        black_box(stat(black_box(full))?);
    }
    Ok((plugin, start.elapsed()))
}
