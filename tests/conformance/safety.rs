//! Path safety at the plugin itself.
//!
//! The host refuses unsafe paths first, and the plugin library refuses them
//! again: `plugin_libraries_refuse_raw_unsafe_paths` hands raw strings
//! straight to the library, bypassing the host. That check is made by the
//! glue `export_plugin!` puts in every library, before the plugin's own
//! code runs, so it proves the boundary rather than the plugin.
//!
//! What only the plugin's own code decides is where a safe path lands in
//! its backend: `stores_keep_to_their_root` proves that a store stays inside
//! its root (names that extend the root's own name are siblings, not
//! children; deleting the whole root leaves them alone) and stores names
//! that mean something to URLs, shells or listing formats under exactly
//! that name. A plugin that joins keys without a separator, lists by a bare
//! prefix, or builds request URLs without encoding fails it.

use crate::cases::{get, list, names, p, put};
use crate::{Case, Ctx, case, check, e2s};
use arca_core::{ArtifactPath, Capabilities, ErrorKind};
use arca_tests::content;

const PAYLOADS: &[&str] = &[
    "..",
    "../CANARY",
    "a/../../CANARY",
    "%2e%2e/CANARY",
    "..%2fCANARY",
    "%252e%252e%252fCANARY",
    "%25252e%25252e/CANARY",
    "x/%2e%2e/%2e%2e/CANARY",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "//server/share",
    "\\\\server\\share",
    "..\\CANARY",
    "C:/x",
    "C:\\x",
    "file:///etc/passwd",
    "x#y",
    "x%23y",
    "x\0y",
    "x%00y",
];

async fn plugin_libraries_refuse_raw_unsafe_paths(ctx: &Ctx) -> Result<(), String> {
    let canary_name = format!("{}-CANARY", ctx.root);
    let canary = ArtifactPath::parse(&canary_name).map_err(|e| e.to_string())?;
    ctx.parent.put_bytes(&canary, "alive").await.map_err(crate::e2s)?;
    let mut problems = Vec::new();
    for raw in PAYLOADS {
        let raw = raw.replace("CANARY", &canary_name);
        let results = [
            ("stat", ctx.store.stat_unchecked(&raw).await.map(drop)),
            ("list", ctx.store.list_unchecked(&raw).await.map(drop)),
            ("read", ctx.store.read_unchecked(&raw).await),
            ("write", ctx.store.write_unchecked(&raw).await),
            ("delete", ctx.store.delete_unchecked(&raw).await),
        ];
        for (op, r) in results {
            match r {
                Err(e) if e.kind == ErrorKind::INVALID_INPUT => {}
                other => problems.push(format!("{op} {raw:?}: want INVALID_INPUT, got {other:?}")),
            }
        }
    }
    let alive = ctx.parent.get_bytes(&canary).await;
    let _ = ctx.parent.delete(&canary).await;
    check!(
        problems.is_empty(),
        "unsafe paths accepted by the plugin:\n{}",
        problems.join("\n")
    );
    check!(
        alive.as_deref().ok() == Some(&b"alive"[..]),
        "the canary beside the root was changed: {alive:?}"
    );
    Ok(())
}

async fn host_refuses_unsafe_paths(_ctx: &Ctx) -> Result<(), String> {
    for raw in PAYLOADS {
        check!(ArtifactPath::parse(raw).is_err(), "ArtifactPath accepted {raw:?}");
    }
    Ok(())
}

/// Names that are safe artifact paths but mean something to some protocol:
/// a query, parameters, an authority, an encoded space, options, hidden
/// files, a home directory, globs, quotes.
const SPECIAL_NAMES: &[&str] = &[
    "q?x=1&y=2.txt",
    "semi;colon=eq,comma.txt",
    "user@host:21.txt",
    "plus+and space.txt",
    "-leading-dash",
    ".hidden",
    "~tilde",
    "glob*[x]{a,b}.txt",
    "quote'\"back`tick.txt",
    "dollar$bang!paren().txt",
];

async fn stores_keep_to_their_root(ctx: &Ctx) -> Result<(), String> {
    // Siblings of the root whose names extend the root's own name.
    let siblings = [
        format!("{}-CANARY", ctx.root),
        format!("{}0/inner.txt", ctx.root),
        format!("{}.txt", ctx.root),
    ];
    for s in &siblings {
        ctx.parent.put_bytes(&p(s), "outside").await.map_err(e2s)?;
    }
    let result = keep_to_root(ctx, &siblings).await;
    for s in &siblings {
        let _ = ctx.parent.delete(&p(s.split('/').next().unwrap_or(s))).await;
    }
    result
}

/// HDFS refuses `:` in a name (the NameNode's `DFSUtil.isValidName`), as
/// it does for every client: the plugin must refuse such a write with
/// `INVALID_INPUT` and leave nothing behind, not rename the file.
fn refuses_colons(ctx: &Ctx) -> bool {
    ctx.store.plugin_name() == "hdfs"
}

async fn keep_to_root(ctx: &Ctx, siblings: &[String]) -> Result<(), String> {
    let mut written: Vec<(usize, &str)> = Vec::new();
    for (i, name) in SPECIAL_NAMES.iter().enumerate() {
        if refuses_colons(ctx) && name.contains(':') {
            match ctx.store.put_bytes(&p(name), content(10 + i, 40)).await {
                Err(e) if e.kind == ErrorKind::INVALID_INPUT => continue,
                other => return Err(format!("writing {name:?} on HDFS: want INVALID_INPUT, got {other:?}")),
            }
        }
        put(&ctx.store, name, &content(10 + i, 40)).await?;
        written.push((i, name));
    }
    put(&ctx.store, "d/inner.txt", b"inside").await?;
    let mut want: Vec<String> = written.iter().map(|(_, n)| (*n).to_owned()).collect();
    want.push("d/".to_owned());
    want.sort();
    let got = names(&list(&ctx.store, "").await?);
    check!(
        got == want,
        "the root's listing is not exactly what was written: {got:?}"
    );
    for &(i, name) in &written {
        let info = ctx.store.stat(&p(name)).await.map_err(e2s)?;
        check!(!info.is_dir && info.size == 10 + i as u64, "stat of {name:?}: {info:?}");
        check!(
            get(&ctx.store, name).await? == content(10 + i, 40),
            "content of {name:?}"
        );
    }
    check!(
        list(&ctx.store, "d")
            .await?
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>()
            == ["inner.txt"],
        "listing d"
    );

    // Nothing was written beside the root, and deleting the whole root
    // leaves its siblings alone.
    let beside = |all: Vec<String>| -> Vec<String> {
        let mut mine: Vec<String> = all.into_iter().filter(|n| n.starts_with(ctx.root.as_str())).collect();
        mine.sort();
        mine
    };
    let before = beside(names(&list(&ctx.parent, "").await?));
    let mut expected = vec![
        format!("{}-CANARY", ctx.root),
        format!("{}.txt", ctx.root),
        format!("{}/", ctx.root),
        format!("{}0/", ctx.root),
    ];
    expected.sort();
    check!(before == expected, "beside the root: {before:?}");
    ctx.store.delete(&ArtifactPath::root()).await.map_err(e2s)?;
    check!(
        list(&ctx.store, "").await?.is_empty(),
        "the root still lists something after it was deleted"
    );
    for s in siblings {
        check!(
            ctx.parent.get_bytes(&p(s)).await.as_deref().ok() == Some(&b"outside"[..]),
            "deleting the root touched its sibling {s}"
        );
    }
    let after = beside(names(&list(&ctx.parent, "").await?));
    check!(
        after.iter().all(|n| before.contains(n)) && after.len() >= 3,
        "beside the root after deleting it: {after:?}"
    );
    Ok(())
}

fn rw(c: &Capabilities) -> bool {
    c.read && c.write && c.list && c.stat && c.delete
}

pub static ALL: &[Case] = &[
    case!(plugin_libraries_refuse_raw_unsafe_paths, rw),
    case!(host_refuses_unsafe_paths, rw),
    case!(stores_keep_to_their_root, rw),
];
