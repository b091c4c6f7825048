// SPDX-License-Identifier: GPL-2.0

//! A run on a pair that relocates: only a pair that shares rmap identity holds everything a stale
//! TLB entry reaches under the one lock a run takes.
//!
//! expect: E0599

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// `move_run()` of a relocating pair.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let mut pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?;
    pair.with_invalidation(src, src + PMD_SIZE, |pair, inv| -> Result {
        pair.move_run(inv, src, dst, 1).1?;
        Ok(())
    })
}
