//! Transfers that bypass the plugin or the host: presigned reads, presigned
//! multipart uploads, local paths and renames, where the store's capabilities declare
//! them (and `UNSUPPORTED` where they do not). The URLs are fetched with a plain HTTP client, as a
//! browser or the MLflow client would.

use crate::cases::{get, list, names, p, put, rw};
use crate::{Case, Ctx, case, check, e2s};
use arca_core::{Capabilities, CompletedPart, ErrorKind};
use arca_tests::content;
use arca_tests::wire::{self, Response};
use std::time::{Duration, Instant};

/// One request to a presigned URL, off the async threads.
async fn fetch(
    method: &'static str,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<Response, String> {
    let (url, headers) = (url.to_owned(), headers.to_vec());
    tokio::task::spawn_blocking(move || {
        let hs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        wire::request_url(method, &url, &hs, &body).map_err(|e| format!("{method} {url}: {e}"))
    })
    .await
    .map_err(|e| e.to_string())?
}

fn with(headers: &[(String, String)], extra: (&str, &str)) -> Vec<(String, String)> {
    let mut all = headers.to_vec();
    all.push((extra.0.to_owned(), extra.1.to_owned()));
    all
}

async fn presigned_reads_fetch_the_bytes_and_expire(ctx: &Ctx) -> Result<(), String> {
    let data = content(300_001, 21);
    put(&ctx.store, "dl/file.bin", &data).await?;
    let signed = ctx.store.presign_read(&p("dl/file.bin"), 300).await.map_err(e2s)?;
    let r = fetch("GET", &signed.url, &signed.headers, Vec::new()).await?;
    check!(
        r.status == 200,
        "GET of a presigned URL: status {} ({})",
        r.status,
        r.text()
    );
    check!(
        r.body == data,
        "a presigned GET gave {} bytes, not the file",
        r.body.len()
    );
    let r = fetch(
        "GET",
        &signed.url,
        &with(&signed.headers, ("Range", "bytes=100-199")),
        Vec::new(),
    )
    .await?;
    check!(
        r.status == 206 && r.body == data[100..200],
        "a ranged presigned GET: status {}, {} bytes",
        r.status,
        r.body.len()
    );

    // A URL valid for two seconds works at once and stops working after.
    let brief = ctx.store.presign_read(&p("dl/file.bin"), 2).await.map_err(e2s)?;
    let r = fetch("GET", &brief.url, &brief.headers, Vec::new()).await?;
    check!(
        r.status == 200 && r.body == data,
        "a fresh 2 s URL: status {}",
        r.status
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = fetch("GET", &brief.url, &brief.headers, Vec::new()).await?;
        if (400..500).contains(&r.status) {
            check!(r.body != data, "an expired URL was refused but still sent the file");
            break;
        }
        check!(r.status == 200, "a 2 s URL answered {} before it expired", r.status);
        check!(
            Instant::now() < deadline,
            "a URL presigned for 2 s still works after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

async fn presigned_reads_are_unsupported_without_the_capability(ctx: &Ctx) -> Result<(), String> {
    put(&ctx.store, "f.txt", b"x").await?;
    match ctx.store.presign_read(&p("f.txt"), 60).await {
        Err(e) if e.kind == ErrorKind::UNSUPPORTED => Ok(()),
        other => Err(format!(
            "presign_read without the capability: want UNSUPPORTED, got {other:?}"
        )),
    }
}

/// Uploads `parts` of an upload the store started, as a client would, and
/// returns what `multipart_complete` needs.
async fn upload_parts(up: &arca_core::MultipartUpload, parts: &[Vec<u8>]) -> Result<Vec<CompletedPart>, String> {
    let mut done = Vec::new();
    for (part, data) in up.parts.iter().zip(parts) {
        let r = fetch("PUT", &part.url, &part.headers, data.clone()).await?;
        check!(
            r.status == 200 || r.status == 201,
            "PUT of part {}: status {} ({})",
            part.part_number,
            r.status,
            r.text()
        );
        done.push(CompletedPart {
            part_number: part.part_number,
            etag: r.header("ETag").unwrap_or_default().to_owned(),
            url: part.url.clone(),
        });
    }
    Ok(done)
}

async fn multipart_uploads_publish_on_complete_only(ctx: &Ctx) -> Result<(), String> {
    // S3's smallest part but the last is 5 MiB.
    let parts = [content(5 << 20, 31), content(12_345, 32)];
    let up = ctx.store.multipart_create(&p("mpu/big.bin"), 2).await.map_err(e2s)?;
    let numbers: Vec<u32> = up.parts.iter().map(|part| part.part_number).collect();
    check!(numbers == [1, 2], "two parts asked, got part numbers {numbers:?}");
    let done = upload_parts(&up, &parts).await?;
    check!(
        ctx.store.stat(&p("mpu/big.bin")).await.is_err(),
        "an uncompleted multipart upload is visible"
    );
    ctx.store
        .multipart_complete(&p("mpu/big.bin"), &up.upload_id, &done)
        .await
        .map_err(e2s)?;
    check!(
        get(&ctx.store, "mpu/big.bin").await? == parts.concat(),
        "the completed upload is not its parts in order"
    );

    // Aborted after a part was sent: nothing appears.
    let up = ctx.store.multipart_create(&p("mpu/gone.bin"), 1).await.map_err(e2s)?;
    upload_parts(&up, &parts[1..]).await?;
    ctx.store
        .multipart_abort(&p("mpu/gone.bin"), &up.upload_id)
        .await
        .map_err(e2s)?;
    check!(
        names(&list(&ctx.store, "mpu").await?) == ["big.bin"],
        "an aborted multipart upload left something"
    );
    Ok(())
}

async fn multipart_uploads_are_unsupported_without_the_capability(ctx: &Ctx) -> Result<(), String> {
    match ctx.store.multipart_create(&p("mpu.bin"), 2).await {
        Err(e) if e.kind == ErrorKind::UNSUPPORTED => {}
        other => {
            return Err(format!(
                "multipart without the capability: want UNSUPPORTED, got {other:?}"
            ));
        }
    }
    check!(
        list(&ctx.store, "").await?.is_empty(),
        "a refused multipart upload left something"
    );
    Ok(())
}

async fn local_paths_name_the_files(ctx: &Ctx) -> Result<(), String> {
    let data = content(70_001, 33);
    put(&ctx.store, "l/file.bin", &data).await?;
    let local = ctx.store.local_path(&p("l/file.bin")).await.map_err(e2s)?;
    check!(local.is_absolute(), "not an absolute path: {}", local.display());
    let read = std::fs::read(&local).map_err(|e| format!("{}: {e}", local.display()))?;
    check!(read == data, "{} does not hold the file's bytes", local.display());
    for (missing, kind) in [("l/none.bin", ErrorKind::NOT_FOUND), ("l", ErrorKind::IS_A_DIRECTORY)] {
        match ctx.store.local_path(&p(missing)).await {
            Err(e) if e.kind == kind => {}
            other => return Err(format!("local_path of {missing}: want {kind:?}, got {other:?}")),
        }
    }
    Ok(())
}

async fn local_paths_are_unsupported_without_the_capability(ctx: &Ctx) -> Result<(), String> {
    put(&ctx.store, "f.txt", b"x").await?;
    match ctx.store.local_path(&p("f.txt")).await {
        Err(e) if e.kind == ErrorKind::UNSUPPORTED => Ok(()),
        other => Err(format!(
            "local_path without the capability: want UNSUPPORTED, got {other:?}"
        )),
    }
}

async fn renames_move_files_whole(ctx: &Ctx) -> Result<(), String> {
    let (old, new) = (content(90_001, 7), content(3_000, 8));
    put(&ctx.store, "r/from.bin", &old).await?;
    put(&ctx.store, "r/to.bin", &new).await?;
    // Onto an existing file (replaced), then into directories that do not exist yet.
    ctx.store.rename(&p("r/from.bin"), &p("r/to.bin")).await.map_err(e2s)?;
    check!(
        get(&ctx.store, "r/to.bin").await? == old,
        "r/to.bin does not hold the renamed file"
    );
    ctx.store
        .rename(&p("r/to.bin"), &p("r/deep/er/moved.bin"))
        .await
        .map_err(e2s)?;
    check!(
        get(&ctx.store, "r/deep/er/moved.bin").await? == old,
        "r/deep/er/moved.bin does not hold the renamed file"
    );
    let left = names(&list(&ctx.store, "r").await?);
    check!(
        left == ["deep/"],
        "after two renames r/ holds {left:?}, want only deep/"
    );
    for (from, kind) in [
        ("r/none.bin", ErrorKind::NOT_FOUND),
        ("r/deep", ErrorKind::IS_A_DIRECTORY),
    ] {
        match ctx.store.rename(&p(from), &p("r/x.bin")).await {
            Err(e) if e.kind == kind => {}
            other => return Err(format!("rename of {from}: want {kind:?}, got {other:?}")),
        }
    }
    // Onto a directory: refused, and both stay as they were.
    match ctx.store.rename(&p("r/deep/er/moved.bin"), &p("r/deep")).await {
        Err(e) if e.kind == ErrorKind::IS_A_DIRECTORY => {}
        other => return Err(format!("rename onto a directory: want IS_A_DIRECTORY, got {other:?}")),
    }
    check!(
        get(&ctx.store, "r/deep/er/moved.bin").await? == old,
        "a refused rename changed its source"
    );
    Ok(())
}

async fn renames_are_unsupported_without_the_capability(ctx: &Ctx) -> Result<(), String> {
    put(&ctx.store, "f.txt", b"x").await?;
    match ctx.store.rename(&p("f.txt"), &p("g.txt")).await {
        Err(e) if e.kind == ErrorKind::UNSUPPORTED => {}
        other => {
            return Err(format!(
                "rename without the capability: want UNSUPPORTED, got {other:?}"
            ));
        }
    }
    check!(
        get(&ctx.store, "f.txt").await? == b"x",
        "an unsupported rename changed its source"
    );
    Ok(())
}

pub static ALL: &[Case] = &[
    case!(presigned_reads_fetch_the_bytes_and_expire, |c: &Capabilities| rw(c)
        && c.presigned_read),
    case!(
        presigned_reads_are_unsupported_without_the_capability,
        |c: &Capabilities| rw(c) && !c.presigned_read
    ),
    case!(multipart_uploads_publish_on_complete_only, |c: &Capabilities| rw(c)
        && c.multipart),
    case!(
        multipart_uploads_are_unsupported_without_the_capability,
        |c: &Capabilities| rw(c) && !c.multipart
    ),
    case!(local_paths_name_the_files, |c: &Capabilities| rw(c) && c.local_files),
    case!(
        local_paths_are_unsupported_without_the_capability,
        |c: &Capabilities| rw(c) && !c.local_files
    ),
    case!(renames_move_files_whole, |c: &Capabilities| rw(c) && c.rename),
    case!(renames_are_unsupported_without_the_capability, |c: &Capabilities| rw(c)
        && !c.rename),
];
