// SPDX-License-Identifier: GPL-2.0

//! A Pmd kept across a PUD move: the PMD table it points into moves, and its entries then map other
//! addresses.
//!
//! expect: E0502
//! expect-note: pmd_across_move_pud.rs:22:9
//! (the error must be at the move_pud() call, line 22, not at a lookup before it)

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// A stale `Pmd` after `move_pud()`.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let mut pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?.share(src, dst)?;
    pair.with_invalidation(src, src + PUD_SIZE, |pair, inv| -> Result {
        let s = pair.src_pmd(src)?.ok_or(ENOENT)?;
        let d = pair.dst_pmd_alloc(dst)?;
        pair.move_pud(inv, src, dst)?;
        pair.move_table(inv, &s, &d, &mut TableScratch::new())?;
        Ok(())
    })
}
