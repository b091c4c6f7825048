// SPDX-License-Identifier: GPL-2.0

//! A pair sent to another thread, which would move page tables under a lock it does not hold.
//!
//! expect: E0277
//! expect-note: pair_not_send.rs:20:16
//! (the error must be at the needs_send() call, line 20: the pair is not Send)

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

fn needs_send<T: Send>(_: T) {}

/// Sends the pair.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?;
    needs_send(pair);
    Ok(())
}
