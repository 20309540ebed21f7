//! `arca cp`: local ↔ store and store ↔ store, recursive copies in
//! parallel, with a progress bar on a terminal.

use super::localfs::{self, LocalWriter};
use super::ops::open_target;
use super::{CliResult, CpArgs, Failure, usage};
use arca_core::{ArtifactPath, CHUNK_SIZE, Error, ErrorKind, Result};
use arca_host::uri::{has_scheme, redact};
use arca_host::{Registry, Store, WriteHandle};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

enum End {
    Local(PathBuf),
    Store(Store, ArtifactPath),
}

impl End {
    fn join(&self, rel: &str) -> Result<End> {
        Ok(match self {
            End::Local(p) => End::Local(if rel.is_empty() { p.clone() } else { p.join(rel) }),
            End::Store(s, p) => End::Store(s.clone(), p.join(rel)?),
        })
    }

    fn describe(&self) -> String {
        match self {
            End::Local(p) => p.display().to_string(),
            End::Store(s, p) if p.is_root() || s.uri().ends_with('/') => format!("{}{p}", s.uri()),
            End::Store(s, p) => format!("{}/{p}", s.uri()),
        }
    }

    /// Whether this names an existing directory.
    async fn is_dir(&self) -> bool {
        match self {
            End::Local(p) => p.is_dir(),
            End::Store(s, p) => s.stat(p).await.map(|i| i.is_dir).unwrap_or(false),
        }
    }
}

async fn endpoint(reg: &Registry, s: &str) -> CliResult<End> {
    if has_scheme(s) {
        let (store, path) = open_target(reg, s).await?;
        Ok(End::Store(store, path))
    } else {
        Ok(End::Local(PathBuf::from(s)))
    }
}

/// One file to copy: relative path under the source and destination, size.
struct Job {
    rel: String,
    size: u64,
}

fn progress_bar(enabled: bool, total: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    let style =
        ProgressStyle::with_template("{spinner} [{bar:24}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

pub async fn cp(reg: &Registry, a: &CpArgs, progress: bool) -> CliResult {
    let src = endpoint(reg, &a.src).await?;
    let dst = endpoint(reg, &a.dst).await?;
    if let (End::Local(_), End::Local(_)) = (&src, &dst) {
        return Err(usage(
            "both SRC and DST are local paths: at least one must be a store URI (e.g. file:///…)",
        ));
    }
    // What is the source?
    let (src_is_dir, jobs) = match &src {
        End::Local(p) => {
            let meta = std::fs::metadata(p).map_err(|e| Failure::from(localfs::io_error("read", p, e)))?;
            if meta.is_dir() {
                let files = if a.recursive { localfs::walk(p)? } else { Vec::new() };
                (
                    true,
                    files
                        .into_iter()
                        .map(|f| Job {
                            rel: f.rel,
                            size: f.size,
                        })
                        .collect::<Vec<_>>(),
                )
            } else {
                (
                    false,
                    vec![Job {
                        rel: String::new(),
                        size: meta.len(),
                    }],
                )
            }
        }
        End::Store(s, p) => {
            let info = match s.stat(p).await {
                Err(e) if e.kind == ErrorKind::NOT_FOUND => {
                    return Err(Error::not_found(format!("no such file or directory: {}", redact(&a.src))).into());
                }
                r => r?,
            };
            if info.is_dir {
                let files = if a.recursive { s.walk(p).await? } else { Vec::new() };
                (
                    true,
                    files
                        .into_iter()
                        .map(|f| Job {
                            rel: f.path,
                            size: f.size,
                        })
                        .collect(),
                )
            } else {
                (
                    false,
                    vec![Job {
                        rel: String::new(),
                        size: info.size,
                    }],
                )
            }
        }
    };
    if src_is_dir && !a.recursive {
        return Err(usage(format!(
            "{} is a directory (use -r to copy its contents)",
            redact(&a.src)
        )));
    }
    // A directory copy works relative to the directories themselves: stores
    // opened at SRC and DST keep every path short (the local plugin checks
    // each path segment by segment, so depth costs system calls per file).
    let (src, dst) = if src_is_dir {
        let src = match src {
            End::Store(..) => End::Store(reg.open(&a.src).await?, ArtifactPath::root()),
            local => local,
        };
        let dst = match dst {
            End::Store(..) => End::Store(reg.open(&a.dst).await?, ArtifactPath::root()),
            local => local,
        };
        (src, dst)
    } else {
        (src, dst)
    };
    // Where does a single file go?
    let dst = if !src_is_dir && (a.dst.ends_with('/') || dst.is_dir().await) {
        let name = match &src {
            End::Local(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()),
            End::Store(_, p) => p.file_name().map(str::to_owned),
        };
        let name = name.ok_or_else(|| usage(format!("cannot tell the file name of {}", redact(&a.src))))?;
        dst.join(&name)?
    } else {
        dst
    };
    let total: u64 = jobs.iter().map(|j| j.size).sum();
    let pb = progress_bar(progress, total);
    let count = jobs.len();
    let mut errors = Vec::new();
    let mut done = 0usize;
    let mut results = futures_util::stream::iter(jobs.into_iter().map(|job| {
        let (src, dst, pb) = (&src, &dst, &pb);
        async move {
            let s = src.join(&job.rel)?;
            let d = dst.join(&job.rel)?;
            copy_one(&s, &d, job.size, pb).await.map_err(|e| Error {
                message: format!("{} → {}: {}", s.describe(), d.describe(), e.message),
                ..e
            })
        }
    }))
    .buffer_unordered(usize::from(a.jobs));
    while let Some(r) = results.next().await {
        done += 1;
        if count > 1 {
            pb.set_message(format!("{done}/{count} files"));
        }
        if let Err(e) = r {
            errors.push(e);
        }
    }
    pb.finish_and_clear();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::Failed(errors))
    }
}

async fn copy_one(src: &End, dst: &End, size: u64, pb: &ProgressBar) -> Result<()> {
    match (src, dst) {
        (End::Local(p), End::Store(s, d)) => upload(p, s, d, size, pb).await,
        (End::Store(s, p), End::Local(d)) => download(s, p, d, pb).await,
        (End::Store(s, p), End::Store(t, d)) => {
            let mut r = s.read(p, None).await?;
            let mut w = t.write(d).await?;
            let fed = async {
                while let Some(c) = r.next_chunk().await? {
                    let n = c.len() as u64;
                    w.write(c).await?;
                    pb.inc(n);
                }
                Ok(())
            }
            .await;
            publish(w, fed).await
        }
        (End::Local(_), End::Local(_)) => Err(Error::invalid_input("local to local copies are not supported")),
    }
}

async fn upload(src: &Path, store: &Store, dst: &ArtifactPath, size: u64, pb: &ProgressBar) -> Result<()> {
    if size <= CHUNK_SIZE as u64 {
        let data = localfs::read_small(src.to_owned()).await?;
        let n = data.len() as u64;
        store.put_bytes(dst, data).await?;
        pb.inc(n);
        return Ok(());
    }
    let mut rx = localfs::read_chunks(src.to_owned());
    let mut w = store.write(dst).await?;
    let fed = async {
        while let Some(chunk) = rx.recv().await {
            let chunk = chunk?;
            let n = chunk.len() as u64;
            w.write(chunk).await?;
            pb.inc(n);
        }
        Ok(())
    }
    .await;
    publish(w, fed).await
}

/// Publishes what was written, or, when feeding the writer failed, aborts it
/// and waits for the abort: a writer merely dropped aborts in the background,
/// which a process about to exit might never let finish (an S3 multipart
/// upload would be left open).
async fn publish(w: WriteHandle, fed: Result<()>) -> Result<()> {
    match fed {
        Ok(()) => w.finish().await,
        Err(e) => {
            let _ = w.abort().await;
            Err(e)
        }
    }
}

async fn download(store: &Store, src: &ArtifactPath, dst: &Path, pb: &ProgressBar) -> Result<()> {
    // A store on this machine's disk says where its file is: the kernel
    // copies it, no byte passes through this process.
    if store.capabilities().local_files {
        let from = store.local_path(src).await?;
        return localfs::copy_file(from, dst.to_owned(), pb.clone()).await;
    }
    let mut r = store.read(src, None).await?;
    // A file of one chunk (most artifacts) is written with one blocking call.
    let first = r.next_chunk().await?;
    let second = match first {
        Some(_) => r.next_chunk().await?,
        None => None,
    };
    let Some(second) = second else {
        let data = first.unwrap_or_default();
        let n = data.len() as u64;
        localfs::write_whole(dst.to_owned(), data).await?;
        pb.inc(n);
        return Ok(());
    };
    let mut w = LocalWriter::create(dst.to_owned())?;
    for c in first.into_iter().chain(Some(second)) {
        let n = c.len() as u64;
        w.write(c).await?;
        pb.inc(n);
    }
    while let Some(c) = r.next_chunk().await? {
        let n = c.len() as u64;
        w.write(c).await?;
        pb.inc(n);
    }
    w.finish().await
}
