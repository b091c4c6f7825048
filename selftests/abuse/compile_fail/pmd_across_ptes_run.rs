// SPDX-License-Identifier: GPL-2.0

//! A Pmd kept across a relocating run of PTE moves: the run holds the destination's rmap lock
//! and defers the TLB flush, and does its own lookups; no caller code runs inside it.
//!
//! expect: E0502
//! expect-note: pmd_across_ptes_run.rs:23:9
//! (the error must be at the move_ptes_run() call, line 23, not at a lookup before it)

use kernel::{
    mm::{pgtable::*, MmWithUser},
    page::PAGE_SIZE,
    prelude::*,
};

/// A `Pmd` of the pair used around its run.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let mut pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?;
    pair.with_invalidation(src, src + PMD_SIZE, |pair, inv| -> Result {
        let s = pair.src_pmd(src)?.ok_or(ENOENT)?;
        let d = pair.dst_pmd_alloc(dst)?;
        pair.move_ptes_run(inv, &[(src, dst, PAGE_SIZE)], 0).1?;
        pair.move_ptes(inv, &s, src, &d, dst, 1)?;
        Ok(())
    })
}
