// SPDX-License-Identifier: GPL-2.0

//! A run on a pair that relocates: only a pair that shares rmap identity holds everything a stale
//! TLB entry reaches under the one lock a run takes.
//!
//! expect: E0308
//! expect-note: found `&mut MovePair<'_>`

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// `move_run()` of a relocating pair.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let mut pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?;
    pair.with_invalidation(src, src + PMD_SIZE, |pair, inv| -> Result {
        // As an associated function, so that rustc names the type `move_run` wants (a method
        // call on a relocating pair fails with E0599, and rustc then suggests `move_ptes_run`
        // instead of naming it).
        MovePair::move_run(pair, inv, src, dst, 1).1?;
        Ok(())
    })
}
