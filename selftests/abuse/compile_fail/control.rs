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
    let mut scratch = TableScratch::new();
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
        pair.move_ptes_run(inv, &[(src, dst, PMD_SIZE)], 0).1
    })?;
    either_mode(&mut pair, src, dst)?;
    let mut pair = pair.share(src, dst)?;
    pair.with_invalidation(src, src + PMD_SIZE, |pair, inv| -> Result {
        pair.move_pud(inv, src, dst)?;
        pair.move_run(inv, src, dst, 1).1?;
        Ok(())
    })?;
    either_mode(&mut pair, src, dst)?;
    drop(pair);
    // The guard is the caller's again once the pair is gone.
    let _ = guard.vma_lookup(src);
    Ok(())
}

/// A walk written for either rmap mode: the moves of one extent, and the `SharedPair`-only ones
/// where the pair is one.
fn either_mode<M: Mode>(pair: &mut MovePair<'_, M>, src: usize, dst: usize) -> Result {
    let mut scratch = TableScratch::new();
    pair.with_invalidation(src, src + PMD_SIZE, |pair, inv| -> Result {
        {
            let s = pair.src_pmd(src)?.ok_or(ENOENT)?;
            let d = pair.dst_pmd_alloc(dst)?;
            if pair.move_huge_pmd(inv, &s, &d).is_err() {
                pair.move_table(inv, &s, &d, &mut scratch)?;
            }
        }
        if let Some(shared) = pair.as_shared() {
            shared.move_pud(inv, src, dst)?;
        }
        Ok(())
    })
}
