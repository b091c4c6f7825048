// SPDX-License-Identifier: GPL-2.0

//! A `MoveVma` used after its guard is gone: the VMA (and its userfaultfd context) may be freed
//! once the mmap lock is dropped.
//!
//! expect: E0505
//! expect-message: cannot move out of `guard` because it is borrowed

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// Wakes through a VMA whose mmap lock was dropped.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?;
    let vma = pair.dst();
    drop(guard);
    vma.userfaultfd_wake(dst, 4096);
    Ok(())
}
