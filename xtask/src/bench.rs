//! `cargo xtask bench`: the benchmarks. Not written yet.

use crate::project::Result;

pub fn run(_args: &[String]) -> Result {
    Err("cargo xtask bench: not implemented yet".to_owned())
}
