//! Directory entries: `MLSD` (RFC 3659: machine-readable, exact names,
//! sizes and times) where the server offers it, else `LIST` parsed as a
//! Unix `ls -l` line; and `MLST` for one path.

use crate::pool::Conn;
use arca_core::{ErrorKind, Result};

/// One directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) is_dir: bool,
    pub(crate) size: u64,
    pub(crate) modified_ms: Option<i64>,
}

/// Whether `name` is one of this plugin's in-flight temporary files.
pub(crate) fn is_temp(name: &str) -> bool {
    name.starts_with(".arca-") && name.ends_with(".tmp")
}

/// Milliseconds since the epoch of an MLSx time, `YYYYMMDDHHMMSS[.sss]`.
fn mlsx_time(v: &str) -> Option<i64> {
    let n = |r: std::ops::Range<usize>| v.get(r).and_then(|s| s.parse::<i64>().ok());
    let (y, m, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (h, mi, s) = (n(8..10)?, n(10..12)?, n(12..14)?);
    let ms = v
        .get(15..)
        .and_then(|f| format!("{f:0<3}").get(..3).and_then(|f| f.parse::<i64>().ok()))
        .unwrap_or(0);
    // Days from civil (Howard Hinnant).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2.rem_euclid(400);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) * 1000) + ms)
}

/// Parses one `MLSD`/`MLST` line, `fact=value;fact=value; name`. `None`
/// for the directory itself and its parent (`cdir`, `pdir`) and for lines
/// that are not entries.
pub(crate) fn parse_mlsx(line: &str) -> Option<Entry> {
    let line = line.trim_start().trim_end_matches(['\r', '\n']);
    let (facts, name) = line.split_once(' ')?;
    let (mut kind, mut size, mut modified) = (None, 0u64, None);
    for fact in facts.split(';').filter(|f| !f.is_empty()) {
        let (k, v) = fact.split_once('=')?;
        match k.to_ascii_lowercase().as_str() {
            "type" => kind = Some(v.to_ascii_lowercase()),
            "size" => size = v.parse().unwrap_or(0),
            "modify" => modified = mlsx_time(v),
            _ => {}
        }
    }
    let is_dir = match kind.as_deref()? {
        "file" => false,
        "dir" => true,
        "cdir" | "pdir" => return None,
        // OS.unix=symlink and the like: what it points at is unknown.
        _ => return None,
    };
    // An MLST answer names the full path; a listing entry is a name.
    let name = name.rsplit('/').next().unwrap_or(name).to_owned();
    Some(Entry {
        name,
        is_dir,
        size: if is_dir { 0 } else { size },
        modified_ms: modified,
    })
}

/// Parses one `LIST` line in Unix form (`drwxr-xr-x 2 u g 4096 Jan 1 12:00 name`).
pub(crate) fn parse_list(line: &str) -> Option<Entry> {
    let line = line.trim_end_matches(['\r', '\n']);
    let mut rest = line;
    let mut fields = Vec::new();
    // Eight fields before the name (mode, links, owner, group, size, month, day, time/year).
    for _ in 0..8 {
        rest = rest.trim_start();
        let end = rest.find(' ')?;
        fields.push(&rest[..end]);
        rest = &rest[end..];
    }
    let name = rest.strip_prefix(' ').unwrap_or(rest);
    let is_dir = fields[0].starts_with('d');
    if !(is_dir || fields[0].starts_with('-')) || name == "." || name == ".." {
        return None;
    }
    Some(Entry {
        name: name.to_owned(),
        is_dir,
        size: if is_dir { 0 } else { fields[4].parse().unwrap_or(0) },
        modified_ms: None,
    })
}

/// The entries of the directory `dir` (an absolute path), temporary files
/// left out. A missing path or a file gives no entries.
pub(crate) async fn entries(conn: &mut Conn, dir: &str) -> Result<Vec<Entry>> {
    let pool = conn.pool().clone();
    let r = pool.timed("list", dir, conn.ftp()?.mlsd(Some(dir))).await;
    let lines = match r {
        Ok(lines) => Some(lines),
        Err(e) if e.kind == ErrorKind::UNSUPPORTED => None,
        Err(e) if e.kind == ErrorKind::NOT_FOUND || e.kind == ErrorKind::INVALID_INPUT => return Ok(Vec::new()),
        Err(e) => {
            if e.temporary {
                conn.broken();
            }
            return Err(e);
        }
    };
    let parsed: Vec<Entry> = match lines {
        Some(lines) => lines.iter().filter_map(|l| parse_mlsx(l)).collect(),
        None => {
            let r = pool.timed("list", dir, conn.ftp()?.list(Some(dir))).await;
            match r {
                Ok(lines) => lines.iter().filter_map(|l| parse_list(l)).collect(),
                Err(e) if e.kind == ErrorKind::NOT_FOUND => return Ok(Vec::new()),
                Err(e) => return Err(e),
            }
        }
    };
    Ok(parsed.into_iter().filter(|e| !is_temp(&e.name)).collect())
}

/// What `path` is: `None` if it does not exist.
pub(crate) async fn stat(conn: &mut Conn, path: &str) -> Result<Option<Entry>> {
    let pool = conn.pool().clone();
    match pool.timed("stat", path, conn.ftp()?.mlst(Some(path))).await {
        Ok(line) => Ok(line.lines().find_map(parse_mlsx).or_else(|| parse_mlsx(&line))),
        Err(e) if e.kind == ErrorKind::NOT_FOUND => Ok(None),
        Err(e) if e.kind == ErrorKind::UNSUPPORTED => {
            // No MLST: look for the name in its parent's listing.
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
            let parent = if parent.is_empty() { "/" } else { parent };
            Ok(entries(conn, parent).await?.into_iter().find(|e| e.name == name))
        }
        Err(e) => {
            if e.temporary {
                conn.broken();
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlsd_lines_keep_names_exactly() {
        let e = parse_mlsx("type=file;size=12;modify=20261204171355.5;perm=r; a b;c=d.txt");
        assert_eq!(
            e,
            Some(Entry {
                name: "a b;c=d.txt".into(),
                is_dir: false,
                size: 12,
                modified_ms: Some(1_796_404_435_500),
            })
        );
        assert_eq!(
            parse_mlsx("type=dir;modify=20261204171355; sub").map(|e| e.is_dir),
            Some(true)
        );
        assert_eq!(parse_mlsx("type=cdir; ."), None);
        assert_eq!(parse_mlsx("type=pdir; .."), None);
        assert_eq!(
            parse_mlsx(" type=file;size=3; /d/x/f.txt").map(|e| e.name),
            Some("f.txt".into())
        );
    }

    #[test]
    fn list_lines_are_read_as_ls() {
        let e = parse_list("-rw-r--r--   1 owner group        1234 Dec  4 17:13 two  spaces.txt");
        assert_eq!(e.map(|e| (e.name, e.size)), Some(("two  spaces.txt".into(), 1234)));
        let e = parse_list("drwxr-xr-x 2 o g 4096 Jan  1  2026 dir");
        assert_eq!(e.map(|e| (e.name, e.is_dir)), Some(("dir".into(), true)));
        assert_eq!(parse_list("total 8"), None);
        assert!(is_temp(".arca-x1.tmp") && !is_temp("x.tmp"));
    }
}
