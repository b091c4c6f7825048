// SPDX-License-Identifier: GPL-2.0

//! A Pmd kept past the mmap write guard its pair borrows: once the lock is dropped, munmap() may
//! free the page table the Pmd points into.
//!
//! expect: E0505
//! expect-message: cannot move out of `guard` because it is borrowed

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// The guard dropped while a `Pmd` of its pair lives.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?;
    let s = pair.src_pmd(src)?.ok_or(ENOENT)?;
    drop(guard);
    let _ = s.kind();
    Ok(())
}
