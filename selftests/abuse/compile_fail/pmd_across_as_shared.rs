// SPDX-License-Identifier: GPL-2.0

//! A Pmd kept across a PUD move reached through `as_shared()`, in a walk written for either mode:
//! the PMD table it points into moves, and its entries then map other addresses.
//!
//! expect: E0502
//! expect-note: pmd_across_as_shared.rs:21:31
//! (the error must be at the as_shared() call, line 21, not at a lookup before it)

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// A `Pmd` of the pair used around a PUD move of the same pair, seen as a `SharedPair`.
fn generic<M: Mode>(pair: &mut MovePair<'_, M>, src: usize, dst: usize) -> Result {
    pair.with_invalidation(src, src + PUD_SIZE, |pair, inv| -> Result {
        let s = pair.src_pmd(src)?.ok_or(ENOENT)?;
        let d = pair.dst_pmd_alloc(dst)?;
        let mut scratch = TableScratch::new();
        if let Some(shared) = pair.as_shared() {
            shared.move_pud(inv, src, dst)?;
        }
        pair.move_table(inv, &s, &d, &mut scratch)?;
        Ok(())
    })
}

/// Runs [`generic`] on a sharing pair.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let mut pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?.share(src, dst)?;
    generic(&mut pair, src, dst)
}
