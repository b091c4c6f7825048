// SPDX-License-Identifier: GPL-2.0

//! A `Pmd` returned out of the invalidation's closure, to be used with no invalidation.
//!
//! expect: other
//! expect-message: lifetime may not live long enough

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// Returns the `Pmd` as the closure's result.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let mut pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?;
    let pmd = pair.with_invalidation(src, src + PMD_SIZE, |pair, _| pair.src_pmd(src));
    drop(pmd);
    Ok(())
}
