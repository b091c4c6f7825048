// SPDX-License-Identifier: GPL-2.0

//! Write-locking a VMA the caller holds a per-VMA read lock of: vma_start_write() would wait for
//! the caller forever. The guard no longer offers it; a MovePair locks only VMAs it looked up
//! through the guard.
//!
//! expect: E0599

use kernel::{mm::MmWithUser, prelude::*};

/// `vma_start_write()` of a VMA behind a `VmaReadGuard`.
pub fn misuse(mm: &MmWithUser, addr: usize) -> Result {
    let vma = mm.lock_vma_under_rcu(addr).ok_or(EFAULT)?;
    let guard = mm.mmap_write_lock_killable()?;
    guard.vma_start_write(&vma)?;
    Ok(())
}
