//! Checks that a transfer delivered exactly its source: a transfer that
//! lost or changed data must not be reported as fast.

use crate::project::Result;
use std::ffi::OsString;
use std::io::Read;
use std::path::Path;

/// Fails unless `got` holds exactly the bytes of `want`: a transfer that
/// lost or changed data must not be reported as fast.
pub fn same_file(want: &Path, got: &Path) -> Result {
    let open = |p: &Path| std::fs::File::open(p).map_err(|e| format!("cannot open {}: {e}", p.display()));
    let (mut a, mut b) = (open(want)?, open(got)?);
    let len = |f: &std::fs::File, p: &Path| {
        f.metadata()
            .map(|m| m.len())
            .map_err(|e| format!("cannot stat {}: {e}", p.display()))
    };
    let (la, lb) = (len(&a, want)?, len(&b, got)?);
    if la != lb {
        return Err(format!(
            "{} has {lb} bytes, but its source {} has {la}",
            got.display(),
            want.display()
        ));
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut offset = 0u64;
    loop {
        let n = read_full(&mut a, &mut ba).map_err(|e| format!("cannot read {}: {e}", want.display()))?;
        let m = read_full(&mut b, &mut bb).map_err(|e| format!("cannot read {}: {e}", got.display()))?;
        if n != m || ba[..n] != bb[..m] {
            return Err(format!(
                "{} differs from its source {} in the MiB at byte {offset}",
                got.display(),
                want.display()
            ));
        }
        if n == 0 {
            return Ok(());
        }
        offset += n as u64;
    }
}

/// Reads until `buf` is full or the file ends.
fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Fails unless directory `got` holds exactly the files of the flat
/// directory `want`, byte for byte, and nothing else.
pub fn same_tree(want: &Path, got: &Path) -> Result {
    let names = |dir: &Path| -> Result<Vec<OsString>> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))? {
            v.push(
                e.map_err(|e| format!("cannot list {}: {e}", dir.display()))?
                    .file_name(),
            );
        }
        v.sort();
        Ok(v)
    };
    let (a, b) = (names(want)?, names(got)?);
    if a != b {
        return Err(format!(
            "{} holds {} entries, not the {} files of {}",
            got.display(),
            b.len(),
            a.len(),
            want.display()
        ));
    }
    a.iter().try_for_each(|n| same_file(&want.join(n), &got.join(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_compared_byte_for_byte() {
        let dir = std::env::temp_dir().join(format!("xtask-same-{}", std::process::id()));
        let (a, b) = (dir.join("a"), dir.join("b"));
        let _ = std::fs::create_dir_all(&a);
        let _ = std::fs::create_dir_all(&b);
        let big: Vec<u8> = (0..(3 << 20) + 5).map(|i: u32| (i % 251) as u8).collect();
        let _ = std::fs::write(a.join("x"), &big);
        let _ = std::fs::write(b.join("x"), &big);
        assert_eq!(same_file(&a.join("x"), &b.join("x")), Ok(()));
        assert_eq!(same_tree(&a, &b), Ok(()));
        let mut changed = big.clone();
        changed[(2 << 20) + 7] ^= 1;
        let _ = std::fs::write(b.join("x"), &changed);
        let err = same_file(&a.join("x"), &b.join("x")).err().unwrap_or_default();
        assert!(err.contains("at byte 2097152"), "{err}");
        let _ = std::fs::write(b.join("x"), &big[1..]);
        assert!(same_file(&a.join("x"), &b.join("x")).is_err_and(|e| e.contains("bytes")));
        let _ = std::fs::write(b.join("x"), &big);
        let _ = std::fs::write(b.join("extra"), b"");
        assert!(same_tree(&a, &b).is_err_and(|e| e.contains("2 entries")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
