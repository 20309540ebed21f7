//! `arca ls | stat | cat | rm | plugins list`.

use super::{CatArgs, CliResult, Failure, LsArgs, RmArgs, StatArgs, usage};
use arca_core::{ArtifactPath, Error, ErrorKind, FileInfo};
use arca_host::uri::{redact, split};
use arca_host::{Registry, Store};
use std::io::Write;

/// Opens the store a URI names and returns the path inside it.
pub async fn open_target(reg: &Registry, uri: &str) -> CliResult<(Store, ArtifactPath)> {
    let (store_uri, path) = split(uri).map_err(|e| usage(e.message))?;
    let store = reg.open(&store_uri).await?;
    Ok((store, path))
}

/// Formats milliseconds since the epoch as an RFC 3339 UTC timestamp.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn out_err(e: std::io::Error) -> Failure {
    Failure::from(Error::new(
        ErrorKind::UNEXPECTED,
        format!("cannot write to standard output: {e}"),
    ))
}

fn not_found(uri: &str) -> Failure {
    Failure::from(Error::not_found(format!("no such file or directory: {}", redact(uri))))
}

async fn stat_or_missing(store: &Store, path: &ArtifactPath, uri: &str) -> CliResult<FileInfo> {
    match store.stat(path).await {
        Ok(i) => Ok(i),
        Err(e) if e.kind == ErrorKind::NOT_FOUND => Err(not_found(uri)),
        Err(e) => Err(e.into()),
    }
}

pub async fn ls(reg: &Registry, a: &LsArgs) -> CliResult {
    let (store, path) = open_target(reg, &a.uri).await?;
    let info = stat_or_missing(&store, &path, &a.uri).await?;
    let entries = if info.is_dir {
        store.list(&path).await?
    } else {
        vec![FileInfo {
            path: path.file_name().unwrap_or_default().to_owned(),
            ..info
        }]
    };
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", arca_host::server::list_json(&entries)).map_err(out_err)?;
        return Ok(());
    }
    for e in &entries {
        let when = e.modified_ms.map(format_time).unwrap_or_else(|| "-".into());
        let line = if e.is_dir {
            format!("{:>14}  {when:<20}  {}/", "-", e.path)
        } else {
            format!("{:>14}  {when:<20}  {}", e.size, e.path)
        };
        writeln!(out, "{line}").map_err(out_err)?;
    }
    Ok(())
}

pub async fn stat(reg: &Registry, a: &StatArgs) -> CliResult {
    let (store, path) = open_target(reg, &a.uri).await?;
    let info = stat_or_missing(&store, &path, &a.uri).await?;
    let mut out = std::io::stdout().lock();
    let kind = if info.is_dir { "directory" } else { "file" };
    if a.json {
        let v = serde_json::json!({
            "uri": redact(&a.uri),
            "type": kind,
            "size": info.size,
            "modified": info.modified_ms.map(format_time),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap_or_default()).map_err(out_err)?;
    } else {
        writeln!(out, "uri:      {}", redact(&a.uri)).map_err(out_err)?;
        writeln!(out, "type:     {kind}").map_err(out_err)?;
        writeln!(out, "size:     {}", info.size).map_err(out_err)?;
        let when = info.modified_ms.map(format_time).unwrap_or_else(|| "unknown".into());
        writeln!(out, "modified: {when}").map_err(out_err)?;
    }
    Ok(())
}

pub async fn cat(reg: &Registry, a: &CatArgs) -> CliResult {
    let (store, path) = open_target(reg, &a.uri).await?;
    let mut reader = match store.read(&path, None).await {
        Err(e) if e.kind == ErrorKind::NOT_FOUND => return Err(not_found(&a.uri)),
        r => r?,
    };
    let mut out = std::io::stdout().lock();
    while let Some(chunk) = reader.next_chunk().await? {
        match out.write_all(&chunk) {
            Ok(()) => {}
            // `arca cat x | head` is a success, as for any Unix filter.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(out_err(e)),
        }
    }
    match out.flush() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(out_err(e)),
        _ => Ok(()),
    }
}

pub async fn rm(reg: &Registry, a: &RmArgs) -> CliResult {
    let (store, path) = open_target(reg, &a.uri).await?;
    if path.is_root() {
        return Err(usage(format!(
            "refusing to remove the root of a store: {}",
            redact(&a.uri)
        )));
    }
    match store.stat(&path).await {
        Ok(i) if i.is_dir && !a.recursive => {
            return Err(usage(format!(
                "{} is a directory (use -r to remove it and its contents)",
                redact(&a.uri)
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind == ErrorKind::NOT_FOUND => {
            return if a.force { Ok(()) } else { Err(not_found(&a.uri)) };
        }
        Err(e) => return Err(e.into()),
    }
    store.delete(&path).await?;
    Ok(())
}

pub fn plugins_list(reg: &Registry) -> CliResult {
    let mut out = std::io::stdout().lock();
    let m = reg.manifest();
    writeln!(out, "manifest: {}", m.path.display()).map_err(out_err)?;
    let mut failed = Vec::new();
    for s in reg.status() {
        let state = match &s.loaded {
            Ok(p) => {
                let (epoch, minor) = p.abi;
                let lacks = if p.missing.is_empty() {
                    String::new()
                } else {
                    format!("; lacks {}", p.missing.join(", "))
                };
                format!("ok ({} {}, ABI {epoch}.{minor}{lacks})", p.name, p.version)
            }
            Err(e) => {
                failed.push(e.clone());
                format!("error: {}", e.message)
            }
        };
        writeln!(
            out,
            "{:<10} {:<16} {}  {}",
            s.entry.name,
            s.entry.schemes.join(","),
            s.entry.library.display(),
            state
        )
        .map_err(out_err)?;
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Failed(failed))
    }
}
