// SPDX-License-Identifier: GPL-2.0

//! A second pair of the same guard while the first lives: it could relocate a folio into a VMA
//! whose identity the first shares, or move a table under the first's run.
//!
//! expect: E0499
//! expect-message: cannot borrow `guard` as mutable more than once at a time

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// Two pairs of one mmap write guard.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let first = MovePair::new(&mut guard, src, dst, PMD_SIZE)?;
    let second = MovePair::new(&mut guard, dst, src, PMD_SIZE)?;
    let _shared = first.share(src, dst)?;
    drop(second);
    Ok(())
}
