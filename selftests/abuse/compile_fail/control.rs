// SPDX-License-Identifier: GPL-2.0

//! The sound use the misuses below depart from: a pair (of a monitor, with its userfaultfd), a
//! lookup, a move under an invalidation, single PTE moves, a relocating run of PTE moves, a
//! share, a PUD move and a run. It must compile, or the failures below prove nothing.
//!
//! expect: pass

use kernel::{
    mm::{pgtable::*, MmWithUser},
    prelude::*,
};

/// Moves the table at `src` to `dst`, then shares and runs.
pub fn sound(mm: &MmWithUser, src: usize, dst: usize, uffd: u32) -> Result {
    let uffd = Userfaultfd::from_fd(uffd)?;
    let mut guard = mm.mmap_write_lock_killable()?;
    let mut pair = MovePair::new_with_userfaultfd(&mut guard, src, dst, PMD_SIZE, Some(&uffd))?;
    let mut scratch = TableScratch::new()?;
    pair.with_invalidation(src, src + PMD_SIZE, |pair, inv| -> Result {
        let s = pair.src_pmd(src)?.ok_or(ENOENT)?;
        let d = pair.dst_pmd_alloc(dst)?;
        if pair.move_table(inv, &s, &d, &mut scratch)?.is_none() {
            d.pte_alloc()?;
            pair.move_ptes(inv, &s, src, &d, dst, PTRS_PER_PTE)?;
        }
        Ok(())
    })?;
    pair.with_invalidation(src, src + PMD_SIZE, |pair, inv| -> Result {
        pair.move_ptes_run(inv, &[(src, dst, PMD_SIZE)]).1
    })?;
    let mut pair = pair.share(src, dst)?;
    pair.with_invalidation(src, src + PMD_SIZE, |pair, inv| -> Result {
        pair.move_pud(inv, src, dst)?;
        pair.move_run(inv, src, dst, 1).1?;
        Ok(())
    })?;
    drop(pair);
    // The guard is the caller's again once the pair is gone.
    let _ = guard.vma_lookup(src);
    Ok(())
}
