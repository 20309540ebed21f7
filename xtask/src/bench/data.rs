//! The benchmark's input: deterministic pseudo-random bytes (xorshift), so
//! every run copies the same data and nothing compresses or deduplicates it.

use crate::project::Result;
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// The large file's size: 1 GiB.
pub const BIG_BYTES: u64 = 1 << 30;
/// The small-file tree: this many files…
pub const SMALL_FILES: usize = 10_000;
/// …of this many bytes…
pub const SMALL_BYTES: usize = 4096;
/// …spread evenly over this many subdirectories.
pub const SMALL_DIRS: usize = 100;

/// A xorshift64 generator: fast, and the same bytes on every machine.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for word in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            word.copy_from_slice(&self.0.to_le_bytes()[..word.len()]);
        }
    }
}

/// Writes `len` pseudo-random bytes to `path`, 1 MiB at a time.
pub fn big_file(path: &Path, len: u64) -> Result {
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut file = File::create(path).map_err(fail)?;
    let mut rng = Rng::new(1);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        rng.fill(&mut buf[..n]);
        file.write_all(&buf[..n]).map_err(fail)?;
        left -= n as u64;
    }
    Ok(())
}

/// Writes the small-file tree under `root`: `d00/f0000.bin` … `d99/f9999.bin`.
pub fn small_tree(root: &Path) -> Result {
    let mut rng = Rng::new(2);
    let mut buf = vec![0u8; SMALL_BYTES];
    let per_dir = SMALL_FILES / SMALL_DIRS;
    for d in 0..SMALL_DIRS {
        let dir = root.join(format!("d{d:02}"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        for f in d * per_dir..(d + 1) * per_dir {
            let path = dir.join(format!("f{f:04}.bin"));
            rng.fill(&mut buf);
            std::fs::write(&path, &buf).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// `count` files of `size` bytes directly in `dir`: `e00000.bin` … (a
/// directory to list).
pub fn flat_dir(dir: &Path, count: usize, size: usize) -> Result {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut buf = vec![0u8; size];
    Rng::new(3).fill(&mut buf);
    for i in 0..count {
        let path = dir.join(format!("e{i:05}.bin"));
        std::fs::write(&path, &buf).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_deterministic_and_not_trivial() {
        let (mut a, mut b) = (vec![0u8; 1001], vec![0u8; 1001]);
        Rng::new(1).fill(&mut a);
        Rng::new(1).fill(&mut b);
        assert_eq!(a, b);
        Rng::new(2).fill(&mut b);
        assert_ne!(a, b);
        assert!(a.iter().filter(|x| **x == 0).count() < 50);
    }
}
