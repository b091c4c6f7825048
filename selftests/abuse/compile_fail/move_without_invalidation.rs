// SPDX-License-Identifier: GPL-2.0

//! A move without the mmu-notifier invalidation that covers it: KVM or an HMM mirror would keep the
//! old translation.
//!
//! expect: E0061

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// `move_table()` with no invalidation.
pub fn misuse(mm: &MmWithUser, src: usize, dst: usize) -> Result {
    let mut guard = mm.mmap_write_lock_killable()?;
    let pair = MovePair::new(&mut guard, src, dst, PMD_SIZE)?;
    let mut scratch = TableScratch::new()?;
    let s = pair.src_pmd(src)?.ok_or(ENOENT)?;
    let d = pair.dst_pmd_alloc(dst)?;
    pair.move_table(&s, &d, &mut scratch)?;
    Ok(())
}
