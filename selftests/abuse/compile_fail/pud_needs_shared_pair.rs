// SPDX-License-Identifier: GPL-2.0

//! A PUD move on a pair that relocates: it would move 1 GiB of folios without relocating one.
//!
//! expect: E0599
//! expect-note: MovePair<'g, Shared>`

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// `move_pud()` of a relocating pair.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let mut pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?;
    pair.with_invalidation(src, src + PUD_SIZE, |pair, inv| -> Result {
        // Through the pair itself (not the closure's `&mut`), so that rustc names the type the
        // method is found for.
        (*pair).move_pud(inv, src, dst)?;
        Ok(())
    })
}
