//! Behaviour every store must have: reads, writes, listings, deletes,
//! names, concurrency and atomicity.

use crate::{Case, Ctx, case, check, e2s};
use arca_core::{ArtifactPath, ByteRange, CHUNK_SIZE, Capabilities, ErrorKind, FileInfo};
use arca_host::Store;
use arca_tests::content;
use bytes::Bytes;

pub(crate) fn p(s: &str) -> ArtifactPath {
    ArtifactPath::parse(s).unwrap_or_default()
}

pub(crate) async fn put(store: &Store, path: &str, data: &[u8]) -> Result<(), String> {
    store
        .put_bytes(&p(path), Bytes::copy_from_slice(data))
        .await
        .map_err(e2s)
}

pub(crate) async fn get(store: &Store, path: &str) -> Result<Vec<u8>, String> {
    store.get_bytes(&p(path)).await.map_err(e2s)
}

async fn get_range(store: &Store, path: &str, start: u64, end: Option<u64>) -> arca_core::Result<Vec<u8>> {
    let mut r = store.read(&p(path), Some(ByteRange { start, end })).await?;
    let mut out = Vec::new();
    while let Some(c) = r.next_chunk().await? {
        out.extend_from_slice(&c);
    }
    Ok(out)
}

pub(crate) async fn list(store: &Store, path: &str) -> Result<Vec<FileInfo>, String> {
    store.list(&p(path)).await.map_err(e2s)
}

pub(crate) fn names(v: &[FileInfo]) -> Vec<String> {
    v.iter()
        .map(|f| {
            if f.is_dir {
                format!("{}/", f.path)
            } else {
                f.path.clone()
            }
        })
        .collect()
}

async fn roundtrip(ctx: &Ctx, len: usize, seed: u64) -> Result<(), String> {
    let data = content(len, seed);
    put(&ctx.store, "f.bin", &data).await?;
    let info = ctx.store.stat(&p("f.bin")).await.map_err(e2s)?;
    check!(
        !info.is_dir && info.size == len as u64,
        "stat after writing {len} bytes: {info:?}"
    );
    let mut r = ctx.store.read(&p("f.bin"), None).await.map_err(e2s)?;
    let (mut back, mut chunks) = (Vec::new(), 0);
    while let Some(c) = r.next_chunk().await.map_err(e2s)? {
        check!(!c.is_empty(), "a reader returned an empty chunk before the end");
        back.extend_from_slice(&c);
        chunks += 1;
    }
    check!(
        back == data,
        "content differs after a {len}-byte round trip (got {} bytes)",
        back.len()
    );
    check!(len == 0 || chunks >= 1, "no chunk for {len} bytes");
    check!(
        len <= CHUNK_SIZE || chunks > 1,
        "{len} bytes came back in one chunk: reads are not streamed"
    );
    Ok(())
}

async fn empty_file(ctx: &Ctx) -> Result<(), String> {
    roundtrip(ctx, 0, 1).await?;
    let l = list(&ctx.store, "").await?;
    check!(
        l.len() == 1 && l[0].path == "f.bin" && l[0].size == 0,
        "listing of an empty file: {l:?}"
    );
    Ok(())
}

async fn one_byte_file(ctx: &Ctx) -> Result<(), String> {
    roundtrip(ctx, 1, 2).await
}

async fn multi_chunk_file(ctx: &Ctx) -> Result<(), String> {
    roundtrip(ctx, CHUNK_SIZE * 3 + CHUNK_SIZE / 2 + 7, 3).await
}

async fn exactly_chunk_sized_files(ctx: &Ctx) -> Result<(), String> {
    roundtrip(ctx, CHUNK_SIZE, 4).await?;
    roundtrip(ctx, CHUNK_SIZE * 2, 5).await?;
    roundtrip(ctx, CHUNK_SIZE - 1, 6).await?;
    roundtrip(ctx, CHUNK_SIZE + 1, 7).await
}

async fn written_in_many_small_chunks(ctx: &Ctx) -> Result<(), String> {
    let data = content(100_003, 8);
    let mut w = ctx.store.write(&p("pieces.bin")).await.map_err(e2s)?;
    for piece in data.chunks(997) {
        w.write(Bytes::copy_from_slice(piece)).await.map_err(e2s)?;
    }
    w.finish().await.map_err(e2s)?;
    check!(
        get(&ctx.store, "pieces.bin").await? == data,
        "content differs after 997-byte writes"
    );
    Ok(())
}

async fn ranged_reads(ctx: &Ctx) -> Result<(), String> {
    let len = CHUNK_SIZE + 1000;
    let data = content(len, 9);
    put(&ctx.store, "r.bin", &data).await?;
    let n = len as u64;
    let cases: &[(u64, Option<u64>, std::ops::Range<usize>)] = &[
        (0, Some(1), 0..1),
        (n - 1, Some(n), len - 1..len),
        (n - 1, None, len - 1..len),
        (10, Some(20), 10..20),
        (
            CHUNK_SIZE as u64 - 5,
            Some(CHUNK_SIZE as u64 + 5),
            CHUNK_SIZE - 5..CHUNK_SIZE + 5,
        ),
        (500, None, 500..len),
        (n - 10, Some(n + 1000), len - 10..len),
        (0, None, 0..len),
    ];
    for (start, end, want) in cases {
        let got = get_range(&ctx.store, "r.bin", *start, *end).await.map_err(e2s)?;
        check!(
            got == data[want.clone()],
            "range {start}..{end:?} gave {} bytes, want {}",
            got.len(),
            want.len()
        );
    }
    match get_range(&ctx.store, "r.bin", n + 10, None).await {
        Err(e) if e.kind == ErrorKind::RANGE_NOT_SATISFIABLE => {}
        other => {
            return Err(format!(
                "a range starting past the end: want RANGE_NOT_SATISFIABLE, got {other:?}"
            ));
        }
    }
    Ok(())
}

async fn read_missing_is_not_found(ctx: &Ctx) -> Result<(), String> {
    match ctx.store.read(&p("nope.txt"), None).await {
        Err(e) if e.kind == ErrorKind::NOT_FOUND => {}
        other => {
            return Err(format!(
                "read of a missing file: want NOT_FOUND, got {:?}",
                other.map(|_| ())
            ));
        }
    }
    match ctx.store.stat(&p("nope/deeper")).await {
        Err(e) if e.kind == ErrorKind::NOT_FOUND => Ok(()),
        other => Err(format!("stat of a missing path: want NOT_FOUND, got {other:?}")),
    }
}

async fn nested_directories(ctx: &Ctx) -> Result<(), String> {
    put(&ctx.store, "a/b/c/d.txt", b"deep").await?;
    put(&ctx.store, "a/top.txt", b"top").await?;
    check!(names(&list(&ctx.store, "a").await?) == ["b/", "top.txt"], "list a");
    check!(names(&list(&ctx.store, "a/b").await?) == ["c/"], "list a/b");
    let l = list(&ctx.store, "a/b/c").await?;
    check!(names(&l) == ["d.txt"] && l[0].size == 4, "list a/b/c: {l:?}");
    let s = ctx.store.stat(&p("a/b")).await.map_err(e2s)?;
    check!(s.is_dir, "stat of a directory: {s:?}");
    let root = ctx.store.stat(&ArtifactPath::root()).await.map_err(e2s)?;
    check!(root.is_dir, "stat of the root: {root:?}");
    check!(get(&ctx.store, "a/b/c/d.txt").await? == b"deep", "nested content");
    Ok(())
}

async fn listing_a_file_or_missing_path_is_empty(ctx: &Ctx) -> Result<(), String> {
    put(&ctx.store, "file.txt", b"x").await?;
    check!(
        list(&ctx.store, "file.txt").await?.is_empty(),
        "listing a file path must be empty"
    );
    check!(
        list(&ctx.store, "missing/dir").await?.is_empty(),
        "listing a missing path must be empty"
    );
    Ok(())
}

async fn listing_an_emptied_directory(ctx: &Ctx) -> Result<(), String> {
    put(&ctx.store, "d/x", b"x").await?;
    ctx.store.delete(&p("d/x")).await.map_err(e2s)?;
    check!(
        list(&ctx.store, "d").await?.is_empty(),
        "an emptied directory lists nothing"
    );
    Ok(())
}

async fn listing_is_sorted_with_sizes(ctx: &Ctx) -> Result<(), String> {
    for (name, len) in [("b.txt", 3usize), ("a.txt", 10), ("c/inner", 1), ("0.txt", 0)] {
        put(&ctx.store, name, &content(len, 10)).await?;
    }
    let l = list(&ctx.store, "").await?;
    check!(names(&l) == ["0.txt", "a.txt", "b.txt", "c/"], "order: {:?}", names(&l));
    let sizes: Vec<u64> = l.iter().map(|f| f.size).collect();
    check!(sizes == [0, 10, 3, 0], "sizes: {sizes:?}");
    Ok(())
}

async fn listing_pages(ctx: &Ctx) -> Result<(), String> {
    for i in 0..23 {
        put(&ctx.store, &format!("p/f{i:02}"), b"x").await?;
    }
    let (mut all, mut token, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let page = ctx.store.list_page(&p("p"), token.as_deref(), 7).await.map_err(e2s)?;
        check!(
            page.entries.len() <= 7,
            "page larger than asked: {}",
            page.entries.len()
        );
        all.extend(page.entries.into_iter().map(|e| e.path));
        pages += 1;
        check!(pages < 50, "paging does not end");
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let want: Vec<String> = (0..23).map(|i| format!("f{i:02}")).collect();
    check!(all == want, "paged listing: {all:?}");
    check!(pages >= 4, "23 entries in pages of 7 came in {pages} pages");
    Ok(())
}

async fn overwrite(ctx: &Ctx) -> Result<(), String> {
    put(&ctx.store, "o.txt", b"first version, longer").await?;
    put(&ctx.store, "o.txt", b"second").await?;
    check!(get(&ctx.store, "o.txt").await? == b"second", "overwrite");
    let s = ctx.store.stat(&p("o.txt")).await.map_err(e2s)?;
    check!(s.size == 6, "size after overwrite: {s:?}");
    Ok(())
}

async fn delete_file_subtree_and_missing(ctx: &Ctx) -> Result<(), String> {
    put(&ctx.store, "keep.txt", b"k").await?;
    put(&ctx.store, "x.txt", b"x").await?;
    put(&ctx.store, "t/a/b.txt", b"b").await?;
    put(&ctx.store, "t/c.txt", b"c").await?;
    ctx.store.delete(&p("x.txt")).await.map_err(e2s)?;
    ctx.store.delete(&p("t")).await.map_err(e2s)?;
    ctx.store.delete(&p("never/was")).await.map_err(e2s)?;
    check!(names(&list(&ctx.store, "").await?) == ["keep.txt"], "after deletes");
    for gone in ["x.txt", "t", "t/a/b.txt"] {
        check!(ctx.store.stat(&p(gone)).await.is_err(), "{gone} survived its deletion");
    }
    Ok(())
}

async fn delete_spares_prefix_siblings(ctx: &Ctx) -> Result<(), String> {
    put(&ctx.store, "run1/a.txt", b"1").await?;
    put(&ctx.store, "run10/b.txt", b"10").await?;
    put(&ctx.store, "run1.txt", b"f").await?;
    ctx.store.delete(&p("run1")).await.map_err(e2s)?;
    check!(
        names(&list(&ctx.store, "").await?) == ["run1.txt", "run10/"],
        "delete of run1 touched its siblings"
    );
    check!(get(&ctx.store, "run10/b.txt").await? == b"10", "run10 content");
    Ok(())
}

async fn unicode_and_spaces(ctx: &Ctx) -> Result<(), String> {
    let names_in = [
        "dir with space/ünïcødé ✓.txt",
        "日本語/ファイル.bin",
        "a+b=c (1)/x&y;z'.txt",
    ];
    for (i, n) in names_in.iter().enumerate() {
        put(&ctx.store, n, &content(100 + i, 11)).await?;
    }
    for (i, n) in names_in.iter().enumerate() {
        check!(get(&ctx.store, n).await? == content(100 + i, 11), "content of {n}");
    }
    let l = list(&ctx.store, "dir with space").await?;
    check!(names(&l) == ["ünïcødé ✓.txt"], "listing: {:?}", names(&l));
    check!(
        names(&list(&ctx.store, "").await?) == ["a+b=c (1)/", "dir with space/", "日本語/"],
        "root listing"
    );
    Ok(())
}

async fn names_are_kept_byte_for_byte(ctx: &Ctx) -> Result<(), String> {
    // Percent signs are part of a name: nothing decodes them.
    let names_in = ["report%20final.txt", "100%.txt", "%41%42.bin", "dir%2520x/in%25ner.txt"];
    // A plugin built against ABI 2 decodes escapes itself; the host refuses
    // such names for it rather than let it rename them.
    let legacy = ctx.store.plugin_abi().0 < 3;
    for (i, n) in names_in.iter().enumerate() {
        let r = ctx.store.put_bytes(&p(n), content(50 + i, 60)).await;
        match r {
            Err(e) if legacy && e.kind == ErrorKind::INVALID_INPUT && *n != "100%.txt" => {}
            other => other.map_err(e2s)?,
        }
    }
    if legacy {
        check!(
            names(&list(&ctx.store, "").await?) == ["100%.txt"],
            "an ABI-2 plugin stored a name with an escape"
        );
        return Ok(());
    }
    check!(
        names(&list(&ctx.store, "").await?) == ["%41%42.bin", "100%.txt", "dir%2520x/", "report%20final.txt"],
        "the root's listing renamed something: {:?}",
        names(&list(&ctx.store, "").await?)
    );
    check!(
        names(&list(&ctx.store, "dir%2520x").await?) == ["in%25ner.txt"],
        "listing of dir%2520x"
    );
    for (i, n) in names_in.iter().enumerate() {
        check!(get(&ctx.store, n).await? == content(50 + i, 60), "content of {n}");
        let info = ctx.store.stat(&p(n)).await.map_err(e2s)?;
        check!(info.size == 50 + i as u64, "stat of {n}: {info:?}");
    }
    for decoded in ["report final.txt", "AB.bin", "dir x"] {
        check!(
            ctx.store.stat(&p(decoded)).await.is_err(),
            "{decoded} exists: a name was decoded"
        );
    }
    Ok(())
}

async fn concurrent_writers_different_paths(ctx: &Ctx) -> Result<(), String> {
    let mut tasks = Vec::new();
    for i in 0..16u64 {
        let store = ctx.store.clone();
        tasks.push(tokio::spawn(async move {
            let data = content(200_000 + i as usize, i);
            store.put_bytes(&p(&format!("c/{i}.bin")), data).await
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())?.map_err(e2s)?;
    }
    for i in 0..16u64 {
        check!(
            get(&ctx.store, &format!("c/{i}.bin")).await? == content(200_000 + i as usize, i),
            "file {i}"
        );
    }
    Ok(())
}

async fn concurrent_writers_same_path(ctx: &Ctx) -> Result<(), String> {
    // Every writer is open at once and their chunks interleave; the one that
    // finishes last must win whole, never a mix.
    let chunk = |w: u8, i: usize| Bytes::from(vec![w.wrapping_mul(31).wrapping_add(i as u8); 300_000]);
    let mut writers = Vec::new();
    for _ in 0..6 {
        writers.push(ctx.store.write(&p("same.bin")).await.map_err(e2s)?);
    }
    for i in 0..3 {
        for (w, h) in writers.iter_mut().enumerate() {
            h.write(chunk(w as u8, i)).await.map_err(e2s)?;
        }
    }
    let last = writers.len() - 1;
    for (w, h) in writers.into_iter().enumerate() {
        h.finish().await.map_err(e2s)?;
        let got = get(&ctx.store, "same.bin").await?;
        let want: Vec<u8> = (0..3).flat_map(|i| chunk(w as u8, i).to_vec()).collect();
        check!(
            got == want,
            "after writer {w} of {last} finished, the file is not exactly its content"
        );
    }
    Ok(())
}

async fn unfinished_and_aborted_writes_leave_nothing(ctx: &Ctx) -> Result<(), String> {
    put(&ctx.store, "old.txt", b"old").await?;
    // Unfinished: invisible while in progress.
    let mut w = ctx.store.write(&p("new.txt")).await.map_err(e2s)?;
    w.write(Bytes::from(content(CHUNK_SIZE + 10, 12))).await.map_err(e2s)?;
    check!(
        ctx.store.stat(&p("new.txt")).await.is_err(),
        "an unfinished write is visible"
    );
    check!(
        names(&list(&ctx.store, "").await?) == ["old.txt"],
        "an unfinished write shows in the listing"
    );
    w.abort().await.map_err(e2s)?;
    // Dropped without finish.
    let mut w = ctx.store.write(&p("dropped.txt")).await.map_err(e2s)?;
    w.write(Bytes::from_static(b"partial")).await.map_err(e2s)?;
    drop(w);
    // Aborted over an existing file: the old content stays.
    let mut w = ctx.store.write(&p("old.txt")).await.map_err(e2s)?;
    w.write(Bytes::from_static(b"replacement")).await.map_err(e2s)?;
    w.abort().await.map_err(e2s)?;
    check!(
        get(&ctx.store, "old.txt").await? == b"old",
        "an aborted overwrite changed the file"
    );
    check!(
        names(&list(&ctx.store, "").await?) == ["old.txt"],
        "aborted writes left something"
    );
    Ok(())
}

pub(crate) fn rw(c: &Capabilities) -> bool {
    c.read && c.write && c.list && c.stat && c.delete
}

fn ranged(c: &Capabilities) -> bool {
    rw(c) && c.read_range
}

pub static ALL: &[Case] = &[
    case!(empty_file, rw),
    case!(one_byte_file, rw),
    case!(multi_chunk_file, rw),
    case!(exactly_chunk_sized_files, rw),
    case!(written_in_many_small_chunks, rw),
    case!(ranged_reads, ranged),
    case!(read_missing_is_not_found, rw),
    case!(nested_directories, rw),
    case!(listing_a_file_or_missing_path_is_empty, rw),
    case!(listing_an_emptied_directory, rw),
    case!(listing_is_sorted_with_sizes, rw),
    case!(listing_pages, rw),
    case!(overwrite, rw),
    case!(delete_file_subtree_and_missing, rw),
    case!(delete_spares_prefix_siblings, rw),
    case!(unicode_and_spaces, rw),
    case!(names_are_kept_byte_for_byte, rw),
    case!(concurrent_writers_different_paths, rw),
    case!(concurrent_writers_same_path, rw),
    case!(unfinished_and_aborted_writes_leave_nothing, rw),
];
