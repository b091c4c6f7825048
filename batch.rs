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
        pgtable::{
            pmd_align_down, pmd_extent, MovePair, PmdKind, Share, SharedPair, TableScratch,
            Userfaultfd, PUD_SIZE,
        },
        MmapWriteGuard,
    },
    prelude::*,
};

use crate::abi::{DONTWAKE, DRY_RUN, PARTIAL, RELOCATE, UFFD};
use crate::mover::{
    check_range, may_move_whole, target_mm, yield_or_stop, Counters, DstSeen, MoveControl, Range,
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

/// Where the moves of a batch are: the one writer of the progress in [`Outcome`], so that what a
/// move that stops reports is right by construction, and the one waker of userfaultfd waiters.
///
/// # Invariants
///
/// `entry <= ranges.len()`, and `off < ranges[entry].len()` if `entry < ranges.len()`, else 0.
/// `out` says that entries `[0, entry)` moved whole and the first `off` bytes of entry `entry`
/// (`done`, `moved`), and names `entry` as the one an error concerns (`err_index`). Threads
/// waiting on a userfaultfd fault in what moved were woken, or what moved and is still to be
/// woken is `wake`, a destination range of the current run's pair (unless
/// `RUST_MREMAP_DONTWAKE`).
struct Cursor<'a> {
    ranges: &'a [Range],
    entry: usize,
    off: usize,
    flags: u32,
    out: &'a mut Outcome,
    wake: Option<(usize, usize)>,
}

impl<'a> Cursor<'a> {
    /// Nothing of `ranges` moved yet.
    fn new(ranges: &'a [Range], flags: u32, out: &'a mut Outcome) -> Self {
        // INVARIANT: Nothing moved (every range is longer than 0), and `out` says so.
        (out.done, out.moved, out.err_index) = (0, 0, 0);
        Self {
            ranges,
            entry: 0,
            off: 0,
            flags,
            out,
            wake: None,
        }
    }

    /// The entry the next move is in, and how far into it.
    fn at(&self) -> (usize, usize) {
        (self.entry, self.off)
    }

    /// What is left of the current entry.
    fn rest(&self) -> Range {
        let r = &self.ranges[self.entry];
        r.part(self.off, r.len())
    }

    /// Where what moved is counted.
    fn counters(&mut self) -> &mut Counters {
        &mut self.out.counters
    }

    /// Records that the next `bytes` of the current entry moved (between `pair`'s VMAs), and
    /// wakes their waiters; at the end of the entry, goes on to the next.
    fn advance<M>(&mut self, pair: &MovePair<'_, M>, bytes: usize) {
        let Some(r) = self.ranges.get(self.entry) else {
            return;
        };
        let bytes = bytes.min(r.len() - self.off);
        self.wake(pair, r, bytes);
        self.off += bytes;
        if self.off == r.len() {
            (self.entry, self.off) = (self.entry + 1, 0);
        }
        // INVARIANT: `off` is less than the entry's length, or the cursor is past it; `out`
        // follows.
        (self.out.done, self.out.moved, self.out.err_index) = (self.entry, self.off, self.entry);
    }

    /// Records that everything up to byte `off` of entry `entry` (at or after where the cursor
    /// is) moved between `pair`'s VMAs, as [`Self::advance`] does entry by entry.
    fn advance_to<M>(&mut self, pair: &MovePair<'_, M>, (entry, off): (usize, usize)) {
        while self.entry < entry.min(self.ranges.len()) {
            self.advance(pair, usize::MAX);
        }
        if self.entry == entry {
            self.advance(pair, off.saturating_sub(self.off));
        }
    }

    /// Notes that the threads waiting on a userfaultfd fault in the `bytes` from where the cursor
    /// is in `r`'s destination, which just moved, are to be woken, as `UFFDIO_MOVE` wakes them
    /// unless `UFFDIO_MOVE_MODE_DONTWAKE`. Adjacent ranges (a collector packs its chunks densely)
    /// are woken by one call ([`Self::wake_now`]).
    fn wake<M>(&mut self, pair: &MovePair<'_, M>, r: &Range, bytes: usize) {
        if self.flags & DONTWAKE != 0 || bytes == 0 {
            return;
        }
        let start = r.dst() + self.off;
        match self.wake {
            Some((s, e)) if e == start => self.wake = Some((s, start + bytes)),
            _ => {
                self.wake_now(pair);
                self.wake = Some((start, start + bytes));
            }
        }
    }

    /// Wakes what [`Self::wake`] noted, in the destination VMA of `pair`, the pair the moves were
    /// made on: each run ends with it, whether it stopped or not. The wake is under the mmap
    /// write lock, so the woken threads fault again only once it is dropped, however late in the
    /// call it comes, and find the pages.
    fn wake_now<M>(&mut self, pair: &MovePair<'_, M>) {
        if let Some((start, end)) = self.wake.take() {
            pair.dst().userfaultfd_wake(start, end - start);
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

    // 1. What needs nothing but the arguments: each entry's ranges, then the entries together. A
    //    batch of one (`RUST_MREMAP_IOC_MOVE`, which a caller may issue by the thousand) keeps its
    //    range on the stack.
    let one;
    let many;
    let ranges: &[Range] = if let [e] = entries {
        one = at(out, 0, check_range(e.src, e.dst, e.len))?;
        core::slice::from_ref(&one)
    } else {
        many = checked_ranges(entries, out)?;
        &many
    };

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
        .position(|r| r.src() + r.len() > task_size || r.dst() + r.len() > task_size)
    {
        out.err_index = i;
        return Err(EINVAL);
    }
    let mut guard = mm.mmap_write_lock_killable()?;
    if let [r] = ranges {
        return move_one(&mut guard, uffd, flags, r, out);
    }

    // 3. Each entry's VMAs, looked up through the guard (EFAULT), checked (EPERM, EOPNOTSUPP,
    //    EINVAL; EPERM for a registered VMA of another userfaultfd than ours, EAGAIN) and
    //    write-locked: no page fault runs in them from here, so the plans stay true for the
    //    moves. One pair serves a run of entries between the same two VMAs (the collector's
    //    case: one from-space, one to-space), so each VMA is looked up and checked once per run.
    //    The pairs are dropped after their run (the VMA write locks stay until the guard is
    //    dropped) and made again to plan and to move.
    let n = ranges.len();
    let mut vmas = KVVec::with_capacity(n, GFP_KERNEL)?;
    for_each_on_pairs(&mut guard, uffd, ranges, out, |pair, _, r| {
        vmas.push(
            EntryVmas {
                src: pair.src().start(),
                dst: pair.dst().start(),
                share: share_of(pair, flags, r)?,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    })?;
    let sharing = decide_modes(ranges, &vmas)?;

    // 4. Each entry's plan ([`plan_entry`]), before anything moves. A dry run counts every
    //    entry and stops.
    let mut planned = Counters::default();
    // Every VMA of the batch is write-locked (step 3), and nothing moves before step 5.
    let mut seen = DstSeen::for_plans();
    for_each_on_pairs(&mut guard, uffd, ranges, out, |pair, j, r| {
        plan_entry(pair, r, flags, sharing[j], &mut seen, &mut planned)
    })?;
    // A refused plan reports nothing: nothing moved, and a dry run that fails counts nothing, as
    // one move's does.
    if flags & DRY_RUN != 0 {
        out.counters = planned;
        return Ok(());
    }

    // 5. The moves, in array order, a run of entries between the same two VMAs in the same rmap
    //    mode (sharing: at the same offset) on one pair.
    let mut scratch = TableScratch::new();
    let mut cursor = Cursor::new(ranges, flags, out);
    let mut i = 0;
    while i < n {
        let r = &ranges[i];
        let pair = MovePair::new_with_userfaultfd(&mut guard, r.src(), r.dst(), r.len(), uffd)?;
        let delta = r.dst().wrapping_sub(r.src());
        let end = run_end(&pair, ranges, i, |j| {
            sharing[j] == sharing[i]
                && (!sharing[i] || ranges[j].dst().wrapping_sub(ranges[j].src()) == delta)
        });
        move_on(pair, &mut cursor, i..end, sharing[i], &mut scratch)?;
        i = end;
    }
    Ok(())
}

/// Step 1 of a vector: each entry's ranges checked ([`check_range`]), then the entries together
/// ([`find_overlap`]); `EINVAL` at the entry concerned.
fn checked_ranges(entries: &[RawEntry], out: &mut Outcome) -> Result<KVVec<Range>> {
    let mut ranges = KVVec::with_capacity(entries.len(), GFP_KERNEL)?;
    for (i, e) in entries.iter().enumerate() {
        let r = at(out, i, check_range(e.src, e.dst, e.len))?;
        ranges.push(r, GFP_KERNEL)?;
    }
    if let Some(i) = find_overlap(&ranges)? {
        out.err_index = i;
        return Err(EINVAL);
    }
    Ok(ranges)
}

/// Steps 3 to 5 for a batch of one (`RUST_MREMAP_IOC_MOVE`, or a vector of one entry): the same
/// checks, plan and move as a vector's, on one pair made once, with no per-entry arrays. (A
/// vector makes its pairs again for each step, since a pair borrows the guard and the entries of
/// a step may need several; and it needs arrays of what step 3 found to decide the entries' rmap
/// modes together, where one entry's mode is its own.)
fn move_one(
    guard: &mut MmapWriteGuard<'_>,
    uffd: Option<&Userfaultfd>,
    flags: u32,
    r: &Range,
    out: &mut Outcome,
) -> Result {
    // Whatever fails from here concerns the one entry (a vector of one reports it so).
    out.err_index = 0;
    let pair = MovePair::new_with_userfaultfd(guard, r.src(), r.dst(), r.len(), uffd)?;
    let sharing = share_of(&pair, flags, r)? != Share::No;
    let mut planned = Counters::default();
    let mut seen = DstSeen::for_plans();
    plan_entry(&pair, r, flags, sharing, &mut seen, &mut planned)?;
    if flags & DRY_RUN != 0 {
        out.counters = planned;
        out.err_index = 1;
        return Ok(());
    }
    let mut cursor = Cursor::new(core::slice::from_ref(r), flags, out);
    move_on(pair, &mut cursor, 0..1, sharing, &mut TableScratch::new())
}

/// Step 3's choice of rmap mode for one entry, as `pgtable_move_share_check()` sees it alone
/// (relocating under `RUST_MREMAP_RELOCATE`); [`decide_modes`] decides a vector's together.
fn share_of(pair: &MovePair<'_>, flags: u32, r: &Range) -> Result<Share> {
    if flags & RELOCATE != 0 {
        return Ok(Share::No);
    }
    pair.share_check(r.src(), r.dst())
}

/// Step 4 for one entry: a populated destination (`EEXIST`), and for a relocating entry an
/// entry that cannot move (`EBUSY`), found before anything moves; a dry run adds what the entry
/// would do to `planned`. A sharing move moves every entry, so only a populated destination can
/// refuse it, and walking the range twice would cost as much as the move itself. Under
/// `RUST_MREMAP_PARTIAL` (never with a dry run) a relocating entry is not planned either: what
/// cannot move stops the move where it is met, as `UFFDIO_MOVE` does, and the walk reports how
/// far it got.
fn plan_entry(
    pair: &MovePair<'_>,
    r: &Range,
    flags: u32,
    sharing: bool,
    seen: &mut DstSeen,
    planned: &mut Counters,
) -> Result {
    let walk = MoveControl::new(pair, *r, flags, sharing);
    if flags & DRY_RUN != 0 || (!sharing && flags & PARTIAL == 0) {
        planned.add(&walk.plan(pair, seen)?);
        Ok(())
    } else {
        walk.check_dst_empty(pair, seen)
    }
}

/// Step 5 for the entries `run`, all between `pair`'s two VMAs and in one rmap mode (`sharing`:
/// at one offset), from where `cursor` is (the start of `run`): on the pair as it is, or,
/// sharing, on the pair [`MovePair::share`] makes of it, which only now, with every plan passed,
/// may give the destination the source's identity.
fn move_on(
    pair: MovePair<'_>,
    cursor: &mut Cursor<'_>,
    run: core::ops::Range<usize>,
    sharing: bool,
    scratch: &mut TableScratch,
) -> Result {
    if sharing {
        let r = &cursor.ranges[run.start];
        let mut pair = pair.share(r.src(), r.dst())?;
        let res = share_entries(&mut pair, cursor, run, scratch);
        cursor.wake_now(&pair);
        res
    } else {
        let mut pair = pair;
        let res = relocate_entries(&mut pair, cursor, run, scratch);
        cursor.wake_now(&pair);
        res
    }
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
            MovePair::new_with_userfaultfd(guard, r.src(), r.dst(), r.len(), uffd),
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
        r.src() >= src.start()
            && r.src() + r.len() <= src.end()
            && r.dst() >= dst.start()
            && r.dst() + r.len() <= dst.end()
    };
    let mut end = i + 1;
    while end < ranges.len() && inside(&ranges[end]) && same(end) {
        end += 1;
    }
    end
}

/// Moves the entries `run` on a `SharedPair`, one walk each (whose runs of whole tables flush
/// the TLB once); `cursor` follows.
fn share_entries(
    pair: &mut SharedPair<'_>,
    cursor: &mut Cursor<'_>,
    run: core::ops::Range<usize>,
    scratch: &mut TableScratch,
) -> Result {
    for j in run {
        let mut walk = MoveControl::new(pair, cursor.ranges[j], cursor.flags, true);
        let res = walk.execute(pair, scratch, cursor.counters());
        cursor.advance(pair, walk.progress());
        res?;
    }
    Ok(())
}

/// Moves the entries `run` on a relocating pair, inside one invalidation of their sources, from
/// where `cursor` is (the start of `run`), which follows.
///
/// Single entries go by runs of [`MovePair::move_ptes_run`], one TLB flush each, across entries;
/// the extent a run stops before (a destination page table to allocate, a whole table or a THP
/// to move, a folio to wait for) goes by the walk ([`MoveControl`]), which decides it as it
/// would in a move of the entry alone, and the run goes on after it. The destination page tables
/// the run will need are allocated first ([`prepare_dst_tables`]). An entry whose destination
/// overlaps its source goes by the walk alone (a run may not refill a slot it emptied before its
/// flush), as does a single entry of one extent.
fn relocate_entries(
    pair: &mut MovePair<'_>,
    cursor: &mut Cursor<'_>,
    run: core::ops::Range<usize>,
    scratch: &mut TableScratch,
) -> Result {
    let ranges = cursor.ranges;
    let group = &ranges[run.clone()];
    let lo = group.iter().map(|r| r.src()).min().unwrap_or(0);
    let hi = group.iter().map(|r| r.src() + r.len()).max().unwrap_or(0);
    // The group's ranges for `move_ptes_run`. One entry's stay on the stack.
    let one;
    let many;
    let batch: &[(usize, usize, usize)] = if let [r] = group {
        one = [(r.src(), r.dst(), r.len())];
        &one
    } else {
        let mut v = KVVec::with_capacity(group.len(), GFP_KERNEL)?;
        for r in group {
            v.push((r.src(), r.dst(), r.len()), GFP_KERNEL)?;
        }
        many = v;
        &many
    };
    // What goes by the walk alone: an entry that overlaps its own destination, and a move of one
    // extent, which a run would only slow down (its root lock, its flush pending, its array).
    let one_extent = |r: &Range| first_extent(r) == r.len();
    let by_walk = |r: &Range| r.overlaps_itself() || (group.len() == 1 && one_extent(r));
    // The next entry from `j` on that goes by the walk alone.
    let next_by_walk = |j: usize| {
        (j..run.end)
            .find(|&k| by_walk(&ranges[k]))
            .unwrap_or(run.end)
    };
    pair.with_invalidation(lo, hi, |pair, inv| {
        let mut stop = next_by_walk(run.start);
        // How far destination tables were prepared (the next extent to look at), and where one
        // could not be allocated, if anywhere. Each extent is looked at once: a run that stops
        // before the frontier (at a THP, a folio to wait for, a table the walk moves whole)
        // resumes with its tables ready.
        let mut prepared = (run.start, 0);
        let mut no_table = None;
        while cursor.at().0 < run.end {
            let (j, off) = cursor.at();
            if stop < j {
                stop = next_by_walk(j);
            }
            // A run would stop at once before an extent the walk may move as a whole table (its
            // destination has no table): the walk takes it without one (no root lock taken and
            // dropped for nothing, as for each of the 512 tables of a 1 GiB relocation).
            let rest = cursor.rest();
            let whole = || {
                may_move_whole(pair, rest.src(), rest.dst(), first_extent(&rest))
                    && !dst_has_table(pair, rest.dst())
            };
            if stop > j && !whole() {
                if (j, off) >= prepared {
                    (prepared, no_table) = prepare_dst_tables(pair, ranges, (j, off), stop);
                }
                let from = j - run.start;
                let (done, res) = pair.move_ptes_run(inv, &batch[from..stop - run.start], off);
                cursor.counters().pte_moves += done.moved as u64;
                cursor.counters().folios_relocated += done.relocated as u64;
                cursor.advance_to(pair, (j + done.ranges, done.bytes));
                res?;
                if cursor.at().0 == run.end {
                    break;
                }
            }
            // The run stopped where a destination table could not be allocated, and it still has
            // none: the move stops there, as `move_page_tables()` stops where `pte_alloc()` fails.
            // (The walk may have given it one meanwhile, moving an earlier extent into the same
            // destination PMD; then the run stopped there for another reason, which the walk
            // deals with.)
            let rest = cursor.rest();
            if no_table == Some(cursor.at()) && !dst_has_table(pair, rest.dst()) {
                return Err(ENOMEM);
            }
            // The walk takes one extent (or, overlapping its own destination, the rest).
            let part = if ranges[cursor.at().0].overlaps_itself() {
                rest
            } else {
                rest.part(0, first_extent(&rest))
            };
            let mut walk = MoveControl::new(pair, part, cursor.flags, false);
            let res = walk.execute_in(pair, inv, scratch, cursor.counters());
            cursor.advance(pair, walk.progress());
            res?;
        }
        Ok(())
    })
}

/// The first extent of a walk of `r`: up to the next PMD boundary of either side.
fn first_extent(r: &Range) -> usize {
    pmd_extent(r.src(), r.dst(), r.len())
}

/// How many destination page tables [`prepare_dst_tables`] allocates ahead of a run at most: what
/// a move that stops early leaves behind, empty, is bounded by it (128 KiB of PTE tables, and the
/// PMD tables above them where the destinations are sparse), and a collector's vector into a
/// fresh 256 MiB to-space needs one new preparation every 32 tables.
const TABLES_AHEAD: usize = 32;

/// Gives the destinations of the extents a run of [`relocate_entries`] is about to move entry by
/// entry, from `at` (an entry and an offset in it) up to entry `end`, a page table where they have
/// none, at most [`TABLES_AHEAD`] new ones, before the run takes its lock (which reclaim may wait
/// for, and an allocation may wait for reclaim: the run allocates nothing, and stops at a
/// destination PMD without a table, where the walk allocates it and flushes by itself). Then one
/// run moves a collector's chunks into a fresh to-space, one TLB flush per hold of its lock,
/// instead of one run per destination PMD.
///
/// Left alone, as the walk needs them: an extent whose source holds no page table (nothing to
/// move, or a THP), and one the walk may move as a whole table ([`may_move_whole`]).
///
/// Returns how far it looked (the entry and offset of the first extent it did not), and where an
/// allocation failed, if one did: the run stops there, and the move with `ENOMEM`. Also stops at
/// a fatal signal, which the run notices. A table allocated here stays, empty, if the move stops
/// before it (as `move_page_tables()` leaves the tables it allocated when it fails):
/// [`TABLES_AHEAD`] at most, since the caller prepares again only once the run has reached where
/// this call stopped.
fn prepare_dst_tables(
    pair: &MovePair<'_>,
    ranges: &[Range],
    at: (usize, usize),
    end: usize,
) -> ((usize, usize), Option<(usize, usize)>) {
    // The last source PMD looked up and whether it holds a page table, the last destination PMD
    // known to hold one, and how many tables this call allocated.
    let mut src_table: Option<(usize, bool)> = None;
    let mut dst_ready = None;
    let mut allocated = 0;
    for (j, r) in ranges.iter().enumerate().take(end).skip(at.0) {
        let mut off = if j == at.0 { at.1 } else { 0 };
        while off < r.len() {
            if yield_or_stop().is_err() {
                return ((j, off), None);
            }
            let (s, d) = (r.src() + off, r.dst() + off);
            let extent = pmd_extent(s, d, r.len() - off);
            let here = off;
            off += extent;
            if may_move_whole(pair, s, d, extent) || dst_ready == Some(pmd_align_down(d)) {
                continue;
            }
            let table = match src_table {
                Some((base, table)) if base == pmd_align_down(s) => table,
                _ => {
                    let table = match pair.src_pmd(s) {
                        Ok(Some(pmd)) => pmd.kind() == PmdKind::Table,
                        // Nothing is mapped up to the source's next PUD boundary.
                        Ok(None) => {
                            off = here + (PUD_SIZE - s % PUD_SIZE).min(r.len() - here);
                            continue;
                        }
                        Err(_) => false,
                    };
                    src_table = Some((pmd_align_down(s), table));
                    table
                }
            };
            if !table {
                continue;
            }
            if allocated == TABLES_AHEAD {
                return ((j, here), None);
            }
            let dst = match pair.dst_pmd_alloc(d) {
                Ok(dst) => dst,
                Err(e) if e == ENOMEM => return ((j, here), Some((j, here))),
                // Not ours to report: the walk meets it.
                Err(_) => return ((j, here), None),
            };
            match dst.kind() {
                PmdKind::None => {
                    if dst.pte_alloc().is_err() {
                        return ((j, here), Some((j, here)));
                    }
                    allocated += 1;
                }
                PmdKind::Table => {}
                // A THP: the walk refuses it (EEXIST).
                _ => continue,
            }
            dst_ready = Some(dst.base());
        }
    }
    ((end, 0), None)
}

/// Whether the destination PMD slot of `dst` has a page table.
fn dst_has_table(pair: &MovePair<'_>, dst: usize) -> bool {
    matches!(pair.dst_pmd(dst), Ok(Some(pmd)) if pmd.kind() == PmdKind::Table)
}

/// `res`, noting in `out` that an error concerns entry `i`.
fn at<T>(out: &mut Outcome, i: usize, res: Result<T>) -> Result<T> {
    if res.is_err() {
        out.err_index = i;
    }
    res
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
        for start in [r.src(), r.dst()] {
            spans.push(
                Span {
                    start,
                    end: start + r.len(),
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
            .all(|w| start(&w[1]) >= start(&w[0]) + w[0].len())
    };
    if !disjoint_ascending(|r| r.src()) || !disjoint_ascending(|r| r.dst()) {
        return None;
    }
    let (mut i, mut j) = (0, 0);
    while i < ranges.len() && j < ranges.len() {
        let (s, d) = (&ranges[i], &ranges[j]);
        let (s_end, d_end) = (s.src() + s.len(), d.dst() + d.len());
        if i != j && s.src() < d_end && d.dst() < s_end {
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
    // Nothing may share (`RUST_MREMAP_RELOCATE`, or nothing was found that could): no sort.
    if vmas.iter().all(|v| v.share == Share::No) {
        let mut sharing = KVVec::with_capacity(vmas.len(), GFP_KERNEL)?;
        for _ in vmas {
            sharing.push(false, GFP_KERNEL)?;
        }
        return Ok(sharing);
    }
    // (destination VMA, source VMA, offset) of every entry, sorted: the entries into one VMA are
    // one run, which agrees on source and offset if its first and last element do.
    let mut into = KVVec::with_capacity(vmas.len(), GFP_KERNEL)?;
    for (r, v) in ranges.iter().zip(vmas.iter()) {
        into.push((v.dst, v.src, r.dst().wrapping_sub(r.src())), GFP_KERNEL)?;
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
