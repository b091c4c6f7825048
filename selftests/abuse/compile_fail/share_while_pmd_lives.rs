// SPDX-License-Identifier: GPL-2.0

//! Sharing while a Pmd of the relocating pair lives: share() consumes the pair.
//!
//! expect: E0505
//! expect-message: cannot move out of `pair` because it is borrowed

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// `share()` under a borrow.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?;
    let s = pair.src_pmd(src)?;
    let _shared = pair.share(src, dst)?;
    drop(s);
    Ok(())
}
