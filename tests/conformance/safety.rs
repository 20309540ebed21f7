//! Path safety, checked at the plugin itself: the host refuses unsafe paths
//! first, but every plugin must refuse them again. These cases hand raw
//! strings straight to the plugin and plant a canary beside the test root
//! to prove nothing outside the root was read, written or deleted.

use crate::{Case, Ctx, case, check};
use arca_core::{ArtifactPath, Capabilities, ErrorKind};

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

async fn plugins_refuse_unsafe_paths(ctx: &Ctx) -> Result<(), String> {
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

fn rw(c: &Capabilities) -> bool {
    c.read && c.write && c.list && c.stat && c.delete
}

pub static ALL: &[Case] = &[
    case!(plugins_refuse_unsafe_paths, rw),
    case!(host_refuses_unsafe_paths, rw),
];
