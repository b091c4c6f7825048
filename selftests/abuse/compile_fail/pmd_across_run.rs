// SPDX-License-Identifier: GPL-2.0

//! A Pmd kept across a run: the run holds the rmap lock and defers the TLB flush, and must be the
//! only thing moving.
//!
//! expect: E0502
//! expect-note: pmd_across_run.rs:22:9
//! (the error must be at the move_run() call, line 22, not at a lookup before it)

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// A `Pmd` of the pair used around its run.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let mut pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?.share(src, dst)?;
    pair.with_invalidation(src, src + PMD_SIZE, |pair, inv| -> Result {
        let s = pair.src_pmd(src)?.ok_or(ENOENT)?;
        let d = pair.dst_pmd_alloc(dst)?;
        pair.move_run(inv, src, dst, 1).1?;
        pair.move_table(inv, &s, &d, &mut TableScratch::new())?;
        Ok(())
    })
}
