// SPDX-License-Identifier: GPL-2.0

//! An invalidation kept past its scope, where it has ended (or, forgotten, would never end).
//!
//! expect: E0521
//! expect-message: borrowed data escapes outside of closure

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// The invalidation smuggled out of its closure.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let mut pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?;
    let mut kept = None;
    pair.with_invalidation(src, src + PMD_SIZE, |_, inv| kept = Some(inv));
    drop(kept);
    Ok(())
}
