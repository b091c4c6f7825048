// SPDX-License-Identifier: GPL-2.0

//! A batch of moves of one target under one mmap write lock hold: `RUST_MREMAP_IOC_MOVEV` (up to
//! `RUST_MREMAP_VEC_MAX` entries) and `RUST_MREMAP_IOC_MOVE` (a batch of one).
//!
//! A compacting collector moves thousands of small scattered chunks per pause. One call per
//! chunk pays, per chunk, the ioctl, the target lookup and permission check, the mmap write lock
//! and its wait; a batch pays them once. Each entry is held to the single move's contract: the
//! same checks with the same errno, realignment, both rmap modes, the dry run; and each moves by
//! the one walk of `mover.rs` ([`MoveControl`]): the batch adds no walk of its own.
//!
//! Every entry is checked and planned before anything moves, so an error found up front
//! (`EINVAL`, `EFAULT`, `EPERM`, `EOPNOTSUPP`, `EAGAIN`, `EEXIST`, `EBUSY`) moves nothing, in
//! whichever entry it is. (`RUST_MREMAP_PARTIAL` leaves out the plan of relocating sources, and
//! with it the up-front `EBUSY`: `UFFDIO_MOVE`'s contract, for callers that retry.) For that,
//! each entry's plan must hold when its turn comes, after the entries before it have moved, and
//! it does, because no entry can change what another one reads:
//!
//! - Entries do not overlap one another, on either side or across sides ([`find_overlap`]):
//!   no entry's source entries or destination slots are another's. (An entry's own source and
//!   destination may overlap downwards, as for one move.) A table, THP or PUD entry that moves
//!   whole spans only its own entry's range and addresses where no VMA lies (a realigned start,
//!   a tail up to the next boundary: `mover.rs`), so it cannot take or fill another entry's.
//! - The rmap mode of each entry is decided up front ([`decide_modes`]), so that no entry's
//!   move changes another's: relocating changes no VMA; only adoption does, which gives a
//!   never-faulted destination VMA the source's identity, and it is allowed only where every
//!   entry into that VMA comes from the same source VMA at the same offset; and an entry from a
//!   VMA that is the destination of any entry relocates, since that VMA may gain folios or an
//!   identity before its turn.
//!
//! A move that stops part-way (a pin GUP-fast took after the plan, under `RUST_MREMAP_PARTIAL`
//! an entry that cannot move, `ENOMEM`, a fatal signal,
//! the retry limit) stops in one entry: the entries before it moved whole, the first `moved`
//! bytes of it moved, nothing after it. Threads waiting on a userfaultfd fault in a destination
//! are woken for what moved, entry by entry, as `UFFDIO_MOVE` wakes them, unless
//! `RUST_MREMAP_DONTWAKE`.

use kernel::{
    alloc::KVVec,
    mm::{
        pgtable::{MovePair, Share, SharedPair, Userfaultfd},
        MmapWriteGuard,
    },
    prelude::*,
};

use crate::abi::{DONTWAKE, DRY_RUN, PARTIAL, RELOCATE, UFFD};
use crate::mover::{
    check_range, pmd_extent, target_mm, Counters, DstSeen, MoveControl, Range, Scratch,
};

/// An entry as user space wrote it, before [`check_range`].
#[derive(Clone, Copy)]
pub(crate) struct RawEntry {
    pub(crate) src: u64,
    pub(crate) dst: u64,
    pub(crate) len: u64,
}

/// What a batch did (or, for a dry run, would do): filled on every return.
pub(crate) struct Outcome {
    /// Entries moved whole.
    pub(crate) done: usize,
    /// Bytes of entry `done` that moved.
    pub(crate) moved: usize,
    /// The entry an error concerns; the number of entries if none.
    pub(crate) err_index: usize,
    /// Summed over everything that moved.
    pub(crate) counters: Counters,
}

impl Outcome {
    /// Nothing done yet, for a batch of `count` entries.
    pub(crate) fn new(count: usize) -> Self {
        Self {
            done: 0,
            moved: 0,
            err_index: count,
            counters: Counters::default(),
        }
    }
}

/// What the up-front pass found out about an entry's VMAs (their start addresses name them: no
/// VMA changes its bounds during a batch, which holds the mmap write lock).
#[derive(Clone, Copy)]
struct EntryVmas {
    src: usize,
    dst: usize,
    share: Share,
}

/// Runs a batch of `entries` of the target `pidfd` with `flags` (already checked against the
/// flags the module knows, and `uffd` to be 0 without `RUST_MREMAP_UFFD`), filling `out` on
/// every return.
pub(crate) fn move_entries(
    pidfd: i32,
    flags: u32,
    uffd: i32,
    entries: &[RawEntry],
    out: &mut Outcome,
) -> Result {
    *out = Outcome::new(entries.len());

    // 1. What needs nothing but the arguments: each entry's ranges, then the entries together.
    let mut ranges = KVVec::with_capacity(entries.len(), GFP_KERNEL)?;
    for (i, e) in entries.iter().enumerate() {
        let r = at(out, i, check_range(e.src, e.dst, e.len))?;
        ranges.push(r, GFP_KERNEL)?;
    }
    if ranges.len() > 1 {
        if let Some(i) = find_overlap(&ranges)? {
            out.err_index = i;
            return Err(EINVAL);
        }
    }

    // 2. The target, and the userfaultfd that makes the caller the monitor of the target's VMAs
    //    registered with it (`EBADF` if it is none): only the monitor moves registered memory,
    //    as only the monitor issues `UFFDIO_MOVE` (`MovePair::new_with_userfaultfd`).
    let mm = target_mm(pidfd)?;
    let uffd = if flags & UFFD != 0 {
        Some(Userfaultfd::from_fd(
            u32::try_from(uffd).map_err(|_| EBADF)?,
        )?)
    } else {
        None
    };
    let uffd = uffd.as_ref();
    let task_size = mm.task_size();
    if let Some(i) = ranges
        .iter()
        .position(|r| r.src + r.len > task_size || r.dst + r.len > task_size)
    {
        out.err_index = i;
        return Err(EINVAL);
    }
    let mut guard = mm.mmap_write_lock_killable()?;

    // 3. Each entry's VMAs, looked up through the guard (EFAULT), checked (EPERM, EOPNOTSUPP,
    //    EINVAL; EPERM for a registered VMA of another userfaultfd than ours, EAGAIN) and
    //    write-locked: no page fault runs in them from here, so the plans stay true for the
    //    moves. One pair serves a run of entries between the same two VMAs (the collector's
    //    case: one from-space, one to-space), so each VMA is looked up and checked once per run.
    //    The pairs are dropped after their run (the VMA write locks stay until the guard is
    //    dropped) and made again to plan and to move.
    let n = ranges.len();
    let mut vmas = KVVec::with_capacity(n, GFP_KERNEL)?;
    for_each_on_pairs(&mut guard, uffd, &ranges, out, |pair, _, r| {
        let share = if flags & RELOCATE != 0 {
            Share::No
        } else {
            pair.share_check(r.src, r.dst)?
        };
        vmas.push(
            EntryVmas {
                src: pair.src().start(),
                dst: pair.dst().start(),
                share,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    })?;
    let sharing = decide_modes(&ranges, &vmas)?;

    // 4. Each entry's plan: a populated destination (EEXIST), and for a relocating entry an entry
    //    that cannot move (EBUSY), before anything moves. A dry run counts every entry and stops.
    //    Under `RUST_MREMAP_PARTIAL` (never with a dry run) a relocating entry is not planned:
    //    what cannot move stops the move where it is met, as `UFFDIO_MOVE` does, and the walk
    //    reports how far it got.
    let dry_run = flags & DRY_RUN != 0;
    let plan_sources = flags & PARTIAL == 0;
    let mut planned = Counters::default();
    // Every VMA of the batch is write-locked (step 3), and nothing moves before step 5.
    let mut seen = DstSeen::for_plans();
    for_each_on_pairs(&mut guard, uffd, &ranges, out, |pair, j, r| {
        let mut pmc = MoveControl::new(*r, flags, sharing[j]);
        // A sharing move moves every entry: only a populated destination can refuse it, and
        // walking the range twice would cost as much as the move itself.
        if dry_run || (!sharing[j] && plan_sources) {
            planned.add(&pmc.plan(pair, &mut seen)?);
        } else {
            pmc.check_dst_empty(pair, &mut seen)?;
        }
        Ok(())
    })?;
    // A refused plan reports nothing: nothing moved, and a dry run that fails counts nothing, as
    // one move's does.
    if dry_run {
        out.counters = planned;
        return Ok(());
    }

    // 5. The moves, in array order, a run of entries between the same two VMAs in the same rmap
    //    mode (sharing: at the same offset) on one pair.
    let mut scratch = Scratch::default();
    let mut i = 0;
    while i < n {
        let r = &ranges[i];
        out.done = i;
        out.moved = 0;
        out.err_index = i;
        let pair = MovePair::new_with_userfaultfd(&mut guard, r.src, r.dst, r.len, uffd)?;
        let delta = r.dst.wrapping_sub(r.src);
        let end = run_end(&pair, &ranges, i, |j| {
            sharing[j] == sharing[i]
                && (!sharing[i] || ranges[j].dst.wrapping_sub(ranges[j].src) == delta)
        });
        if sharing[i] {
            // Only now, with every plan passed, may the destination take the source's identity.
            let mut pair = pair.share(r.src, r.dst)?;
            move_run(&mut pair, &ranges, i..end, flags, &mut scratch, out)?;
        } else {
            let mut pair = pair;
            relocate_run(&mut pair, &ranges, i..end, flags, &mut scratch, out)?;
        }
        i = end;
    }
    *out = Outcome {
        done: ranges.len(),
        moved: 0,
        err_index: ranges.len(),
        counters: out.counters,
    };
    Ok(())
}

/// Calls `f` for each entry (its index and ranges) in array order, on a pair of its two VMAs
/// that serves the whole run of entries between the same two VMAs; an error (also one of
/// `MovePair::new`) concerns the entry it was met at.
fn for_each_on_pairs(
    guard: &mut MmapWriteGuard<'_>,
    uffd: Option<&Userfaultfd>,
    ranges: &[Range],
    out: &mut Outcome,
    mut f: impl FnMut(&MovePair<'_>, usize, &Range) -> Result,
) -> Result {
    let mut i = 0;
    while i < ranges.len() {
        let r = &ranges[i];
        let pair = at(
            out,
            i,
            MovePair::new_with_userfaultfd(guard, r.src, r.dst, r.len, uffd),
        )?;
        let end = run_end(&pair, ranges, i, |_| true);
        for (j, r) in ranges.iter().enumerate().take(end).skip(i) {
            at(out, j, f(&pair, j, r))?;
        }
        i = end;
    }
    Ok(())
}

/// The end of the run of entries from `i` on that lie in `pair`'s two VMAs and of which `same`
/// holds.
fn run_end<M>(
    pair: &MovePair<'_, M>,
    ranges: &[Range],
    i: usize,
    same: impl Fn(usize) -> bool,
) -> usize {
    let (src, dst) = (pair.src(), pair.dst());
    let inside = |r: &Range| {
        r.src >= src.start()
            && r.src + r.len <= src.end()
            && r.dst >= dst.start()
            && r.dst + r.len <= dst.end()
    };
    let mut end = i + 1;
    while end < ranges.len() && inside(&ranges[end]) && same(end) {
        end += 1;
    }
    end
}

/// Moves the entries `run` on a `SharedPair`, one walk each (whose runs of whole tables flush
/// the TLB once), waking userfaultfd waiters of each; on error, notes in `out` where it stopped.
fn move_run(
    pair: &mut SharedPair<'_>,
    ranges: &[Range],
    run: core::ops::Range<usize>,
    flags: u32,
    scratch: &mut Scratch,
    out: &mut Outcome,
) -> Result {
    for j in run {
        let r = &ranges[j];
        out.done = j;
        out.moved = 0;
        out.err_index = j;
        let mut pmc = MoveControl::new(*r, flags, true);
        let res = pmc.execute(pair, scratch, &mut out.counters);
        out.moved = pmc.progress();
        wake(flags, pair, r, 0, out.moved);
        res?;
    }
    Ok(())
}

/// Moves the entries `run` on a relocating pair, inside one invalidation of their sources:
/// single entries go by runs of [`MovePair::move_ptes_run`], one TLB flush each, across entries;
/// the extent a run stops before (a destination page table to allocate, a whole table or a THP
/// to move, a folio to wait for) goes by the walk ([`MoveControl`]), which decides it as it
/// would in a move of the entry alone, and the run goes on after it. An entry whose destination
/// overlaps its source goes by the walk alone (a run may not refill a slot it emptied before its
/// flush). Wakes userfaultfd waiters of what moved; on error, notes in `out` where it stopped.
fn relocate_run(
    pair: &mut MovePair<'_>,
    ranges: &[Range],
    run: core::ops::Range<usize>,
    flags: u32,
    scratch: &mut Scratch,
    out: &mut Outcome,
) -> Result {
    let group = &ranges[run.clone()];
    let lo = group.iter().map(|r| r.src).min().unwrap_or(0);
    let hi = group.iter().map(|r| r.src + r.len).max().unwrap_or(0);
    let own_overlap = |r: &Range| r.dst < r.src + r.len && r.src < r.dst + r.len;
    // The group's ranges for `move_ptes_run`; the one a run resumes in is trimmed in place.
    let mut batch = KVVec::with_capacity(group.len(), GFP_KERNEL)?;
    for r in group {
        batch.push((r.src, r.dst, r.len), GFP_KERNEL)?;
    }
    pair.with_invalidation(lo, hi, |pair, inv| {
        let (mut j, mut off) = (run.start, 0);
        // The next entry from `j` on that overlaps its own destination.
        let next_overlap = |j: usize| {
            (j..run.end)
                .find(|&k| own_overlap(&ranges[k]))
                .unwrap_or(run.end)
        };
        let mut stop = next_overlap(j);
        while j < run.end {
            if stop < j {
                stop = next_overlap(j);
            }
            if stop > j {
                let r = &ranges[j];
                batch[j - run.start] = (r.src + off, r.dst + off, r.len - off);
                let (done, res) = pair.move_ptes_run(inv, &batch[j - run.start..stop - run.start]);
                out.counters.pte_moves += done.moved as u64;
                out.counters.folios_relocated += done.relocated as u64;
                for _ in 0..done.ranges {
                    wake(flags, pair, &ranges[j], off, ranges[j].len - off);
                    (j, off) = (j + 1, 0);
                }
                wake(flags, pair, &ranges[j.min(run.end - 1)], off, done.bytes);
                off += done.bytes;
                (out.done, out.moved, out.err_index) = (j, off, j);
                res?;
                if j == run.end {
                    break;
                }
            }
            // The walk takes one extent (or, overlapping its own destination, the rest).
            let r = &ranges[j];
            let (s, d) = (r.src + off, r.dst + off);
            let len = if own_overlap(r) {
                r.len - off
            } else {
                pmd_extent(s, d, r.len - off)
            };
            let mut pmc = MoveControl::new(
                Range {
                    src: s,
                    dst: d,
                    len,
                },
                flags,
                false,
            );
            let res = pmc.execute_in(pair, inv, scratch, &mut out.counters);
            wake(flags, pair, r, off, pmc.progress());
            off += pmc.progress();
            (out.done, out.moved, out.err_index) = (j, off, j);
            res?;
            if off == r.len {
                (j, off) = (j + 1, 0);
            }
        }
        Ok(())
    })
}

/// `res`, noting in `out` that an error concerns entry `i`.
fn at<T>(out: &mut Outcome, i: usize, res: Result<T>) -> Result<T> {
    if res.is_err() {
        out.err_index = i;
    }
    res
}

/// Wakes the threads waiting on a userfaultfd fault in the `len` bytes from `off` of `r`'s
/// destination, which just moved, as `UFFDIO_MOVE` does unless `UFFDIO_MOVE_MODE_DONTWAKE`.
/// Under the mmap write lock: the woken threads fault again once it is dropped, and find the
/// pages.
fn wake<M>(flags: u32, pair: &MovePair<'_, M>, r: &Range, off: usize, len: usize) {
    if flags & DONTWAKE == 0 {
        pair.dst().userfaultfd_wake(r.dst + off, len);
    }
}

/// One side of an entry, for [`find_overlap`].
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    entry: usize,
}

/// Finds two entries that overlap, on the same side or across sides, and returns the later of
/// the two in array order. An entry's own source and destination may overlap
/// ([`check_range`] refused an upward overlap). Sorts the `2 * n` ranges by start once: a range
/// overlaps an earlier-starting one of another entry if and only if the latest end among the
/// earlier ranges of other entries lies above its start, which the two latest ends of distinct
/// entries seen so far tell.
fn find_overlap(ranges: &[Range]) -> Result<Option<usize>> {
    if let Some(found) = find_overlap_sorted(ranges) {
        return Ok(found);
    }
    let mut spans = KVVec::with_capacity(2 * ranges.len(), GFP_KERNEL)?;
    for (entry, r) in ranges.iter().enumerate() {
        for start in [r.src, r.dst] {
            spans.push(
                Span {
                    start,
                    end: start + r.len,
                    entry,
                },
                GFP_KERNEL,
            )?;
        }
    }
    spans.sort_unstable_by_key(|s| s.start);
    // The latest end so far and its entry, and the latest end of any other entry.
    let mut first: Option<(usize, usize)> = None;
    let mut second: Option<(usize, usize)> = None;
    for s in spans.iter() {
        let other = match first {
            Some((_, e)) if e == s.entry => second,
            f => f,
        };
        if let Some((end, e)) = other {
            if end > s.start {
                return Ok(Some(e.max(s.entry)));
            }
        }
        match first {
            Some((end, e)) if e == s.entry => {
                if s.end > end {
                    first = Some((s.end, e));
                }
            }
            Some((end, e)) if s.end > end => {
                second = Some((end, e));
                first = Some((s.end, s.entry));
            }
            Some(_) => {
                if second.is_none_or(|(end, _)| s.end > end) {
                    second = Some((s.end, s.entry));
                }
            }
            None => first = Some((s.end, s.entry)),
        }
    }
    Ok(None)
}

/// [`find_overlap`] without a sort, for the collector's vector: its sources disjoint and in
/// ascending order (each starts at or after the end of the one before), and its destinations too.
/// Then only a source and a destination of two entries can overlap, and walking the two sorted
/// lists side by side, always past the range that ends first, meets every such pair (an entry's
/// own two ranges may overlap). `None` if either list is not so, overlaps within a list
/// included: the caller sorts, and finds those.
fn find_overlap_sorted(ranges: &[Range]) -> Option<Option<usize>> {
    let disjoint_ascending = |start: fn(&Range) -> usize| {
        ranges
            .windows(2)
            .all(|w| start(&w[1]) >= start(&w[0]) + w[0].len)
    };
    if !disjoint_ascending(|r| r.src) || !disjoint_ascending(|r| r.dst) {
        return None;
    }
    let (mut i, mut j) = (0, 0);
    while i < ranges.len() && j < ranges.len() {
        let (s, d) = (&ranges[i], &ranges[j]);
        let (s_end, d_end) = (s.src + s.len, d.dst + d.len);
        if i != j && s.src < d_end && d.dst < s_end {
            return Some(Some(i.max(j)));
        }
        if s_end <= d_end {
            i += 1;
        } else {
            j += 1;
        }
    }
    Some(None)
}

/// Decides up front which entries share rmap identity, so that no entry's move changes what
/// another's plan found (the module doc): an entry shares where `pgtable_move_share_check()`
/// said so, except that a destination VMA adopts an identity only if every entry into it comes
/// from the same source VMA at the same offset, and that an entry whose source VMA is the
/// destination VMA of any entry relocates.
fn decide_modes(ranges: &[Range], vmas: &[EntryVmas]) -> Result<KVVec<bool>> {
    // One entry: neither exception applies (its own source VMA is its destination VMA only
    // within one VMA, which never shares).
    if let [v] = vmas {
        let mut sharing = KVVec::with_capacity(1, GFP_KERNEL)?;
        sharing.push(v.share != Share::No, GFP_KERNEL)?;
        return Ok(sharing);
    }
    // (destination VMA, source VMA, offset) of every entry, sorted: the entries into one VMA are
    // one run, which agrees on source and offset if its first and last element do.
    let mut into = KVVec::with_capacity(vmas.len(), GFP_KERNEL)?;
    for (r, v) in ranges.iter().zip(vmas.iter()) {
        into.push((v.dst, v.src, r.dst.wrapping_sub(r.src)), GFP_KERNEL)?;
    }
    into.sort_unstable();
    let run = |vma: usize| {
        let lo = into.partition_point(|e| e.0 < vma);
        let hi = into.partition_point(|e| e.0 <= vma);
        &into[lo..hi]
    };

    let mut sharing = KVVec::with_capacity(vmas.len(), GFP_KERNEL)?;
    for v in vmas.iter() {
        let shared = match v.share {
            Share::No => false,
            _ if !run(v.src).is_empty() => false,
            Share::Adopt => {
                let same = run(v.dst);
                same.first().map(|e| (e.1, e.2)) == same.last().map(|e| (e.1, e.2))
            }
            Share::Yes => true,
        };
        sharing.push(shared, GFP_KERNEL)?;
    }
    Ok(sharing)
}
