// SPDX-License-Identifier: GPL-2.0

//! The guard used behind a live pair's back (here to look up a VMA, which a caller could then lock
//! for reading).
//!
//! expect: E0502
//! expect-message: cannot borrow `guard` as immutable because it is also borrowed as mutable

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// The guard's own lookup while a pair borrows it.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?;
    let _vma = guard.vma_lookup(src);
    let _ = pair.src_pmd(src)?;
    Ok(())
}
