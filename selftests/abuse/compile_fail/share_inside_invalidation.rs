// SPDX-License-Identifier: GPL-2.0

//! `share()` inside an invalidation, through the closure's `&mut`: the pair would change its mode
//! under the invalidation it lends.
//!
//! expect: E0507
//! expect-message: cannot move out of `*pair` which is behind a mutable reference

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// Shares through the closure's `&mut`.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let mut pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?;
    pair.with_invalidation(src, src + PMD_SIZE, |pair, _| {
        let _ = (*pair).share(src, dst);
    });
    Ok(())
}
