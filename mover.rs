// SPDX-License-Identifier: GPL-2.0

//! The move: mainline's `move_page_tables()` (mm/mremap.c), in Rust.
//!
//! A move takes `[src, src + len)` of a target process to `[dst, dst + len)`. Both ranges lie in
//! existing private anonymous VMAs, whose bounds and flags the move does not change: the page
//! tables move. The folios that move keep a valid rmap in one of two ways (see
//! `kernel::mm::pgtable`): the destination VMA shares the source's rmap identity, as the VMA
//! `mremap()` creates does (taking it if it has never been faulted), and no folio is touched; or,
//! where that cannot be or `RUST_MREMAP_RELOCATE` asks, each folio is relocated to the destination
//! VMA, as `UFFDIO_MOVE` does. `batch.rs` runs one move, or a batch of them, under the target's
//! mmap write lock, in these steps for each:
//!
//! 1. [`check_range`] (`EINVAL`), [`target_mm`] (`EBADF`, `ESRCH`, `EPERM`), then, under the lock,
//!    the VMAs (`EFAULT`, `EPERM` for sealed, `EOPNOTSUPP`, `EINVAL`, userfaultfd's `EAGAIN`),
//!    looked up, checked and write-locked by `kernel::mm::pgtable::MovePair::new`; then the rmap
//!    mode is chosen.
//! 2. [`MoveControl::plan`]: walk the range as the move will, without changing anything, to find
//!    a populated destination (`EEXIST`) or an entry that cannot move (`EBUSY`) before anything
//!    moves, and to count what the move will do (`RUST_MREMAP_DRY_RUN` stops here). A sharing
//!    move, which moves every entry, only checks the destination
//!    ([`MoveControl::check_dst_empty`]), and so does a relocating one under
//!    `RUST_MREMAP_PARTIAL`. Then, if need be, the destination adopts the source's rmap identity.
//! 3. [`MoveControl::execute`]: the walk itself, on a `MovePair` (relocating) or a `SharedPair`
//!    (sharing, after `MovePair::share`), inside one mmu-notifier invalidation that every move
//!    takes as its proof. Races the plan cannot see (a pin taken by GUP-fast meanwhile), what an
//!    unplanned move meets that cannot move, and a fatal signal stop it part-way, at the entry
//!    concerned (a table that cannot move whole goes entry by entry up to it), and
//!    [`MoveControl::progress`] then says exactly how far it got.
//!
//! Plan and move decide each extent by the same [`decide`] (and [`decide_pud`] for 1 GiB windows
//! of a sharing move). The walk realigns its start down to a PMD boundary exactly as mainline's
//! `try_realign_addr()` does (and, sharing, to a PUD boundary), so that a mutually aligned move
//! moves whole page tables from the first extent on; its last partial extent moves whole where
//! both ranges end their VMAs ([`MoveControl::is_whole`]).

use kernel::{
    mm::{
        pgtable::{
            pmd_align_down, pmd_extent, pud_align_down, MmuInvalidation, Mode, MovePair, MoveVma,
            Pmd, PmdKind, TableScratch, PMD_SIZE, PUD_SIZE,
        },
        MmWithUser,
    },
    page::PAGE_SIZE,
    prelude::*,
    sync::aref::ARef,
    task::{cond_resched, Task},
};

use crate::abi::{NO_REALIGN, PIDFD_SELF};

/// How many times in a row one step may be retried (a page table changed under us) without
/// progress before the move gives up with `EAGAIN`. (What blocks single entries, a folio lock, a
/// split or a migration, is waited for inside `MovePair::move_ptes`, with its own bound.)
const MAX_RETRIES: u32 = 1000;

/// What the move did (or, for a dry run, would do).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) pmd_moves: u64,
    pub(crate) pte_moves: u64,
    pub(crate) huge_pmd_moves: u64,
    pub(crate) pud_moves: u64,
    pub(crate) folios_relocated: u64,
}

impl Counters {
    /// Adds what another move (or entry) did.
    pub(crate) fn add(&mut self, o: &Counters) {
        self.pmd_moves += o.pmd_moves;
        self.pte_moves += o.pte_moves;
        self.huge_pmd_moves += o.huge_pmd_moves;
        self.pud_moves += o.pud_moves;
        self.folios_relocated += o.folios_relocated;
    }
}

/// Whether the walk may move the extent `extent` bytes long at `(s, d)` (an extent of a move
/// between `pair`'s VMAs) as a whole page table, as [`MoveControl::is_whole`] says of a whole or
/// last extent, or as the first extent of a start [`MoveControl::try_realign_addr`] realigns: the
/// two mutually aligned within the PMD, and the extent a whole PMD, or at the source VMA's start
/// (where a realigned walk starts) or end (where a tail moves whole). A superset of both, for a
/// caller that must not give such an extent's destination a page table first, which would keep
/// it from moving whole ([`decide`]).
pub(crate) fn may_move_whole<M>(pair: &MovePair<'_, M>, s: usize, d: usize, extent: usize) -> bool {
    s % PMD_SIZE == d % PMD_SIZE
        && (extent == PMD_SIZE || s == pair.src().start() || s + extent == pair.src().end())
}

/// One move's ranges, `[src, src + len)` to `[dst, dst + len)`, as [`check_range`] found them
/// (its only maker), or a part of such ranges ([`Range::part`]).
///
/// # Invariants
///
/// `src`, `dst` and `len` are page-aligned, neither range wraps, and `dst` does not lie inside
/// `[src, src + len)` above `src` (entries move in ascending order, so only a downward overlap
/// keeps every byte). `len` is not 0, except for a part.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Range {
    src: usize,
    dst: usize,
    len: usize,
}

impl Range {
    pub(crate) fn src(&self) -> usize {
        self.src
    }

    pub(crate) fn dst(&self) -> usize {
        self.dst
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The `len` bytes from `off` (page-aligned) on, as much of them as the range has.
    pub(crate) fn part(&self, off: usize, len: usize) -> Self {
        let off = off.min(self.len) & !(PAGE_SIZE - 1);
        // INVARIANT: A part of ranges that keep the invariants keeps them (its addresses stay
        // page-aligned: `off` is, and `len` is cut to what the range has from there, or rounded
        // down).
        Self {
            src: self.src + off,
            dst: self.dst + off,
            len: len.min(self.len - off) & !(PAGE_SIZE - 1),
        }
    }

    /// Whether the destination overlaps the source (downwards, by the invariants).
    pub(crate) fn overlaps_itself(&self) -> bool {
        self.dst < self.src + self.len && self.src < self.dst + self.len
    }
}

/// The checks that need nothing but the range: alignment, length, wrap, upward overlap.
///
/// # Errors
///
/// [`EINVAL`] if any fails.
pub(crate) fn check_range(src: u64, dst: u64, len: u64) -> Result<Range> {
    let (src, dst, len) = (
        usize::try_from(src)?,
        usize::try_from(dst)?,
        usize::try_from(len)?,
    );
    if len == 0 || (src | dst | len) % PAGE_SIZE != 0 {
        return Err(EINVAL);
    }
    let (Some(src_end), Some(dst_end)) = (src.checked_add(len), dst.checked_add(len)) else {
        return Err(EINVAL);
    };
    // Entries move in ascending order, so only a downward overlap keeps every byte.
    if dst < src_end && src < dst_end && dst >= src {
        return Err(EINVAL);
    }
    // INVARIANT: Checked just above.
    Ok(Range { src, dst, len })
}

/// The target's address space, if the caller may ptrace-attach to it (the `process_vm_writev()`
/// rule). For `RUST_MREMAP_PIDFD_SELF` it is the caller's own, with no pidfd lookup and no
/// `mm_access()`: a task may always attach to itself (`ptrace_may_access()` passes a task of the
/// caller's thread group without a check), and an `exec()` that would swap the mm under
/// `mm_access()`'s `exec_update_lock` first kills every other thread of the caller, so the caller
/// cannot be in this call then. (`ESRCH` for a task without an mm, as `mm_access()` gives.)
pub(crate) fn target_mm(pidfd: i32) -> Result<ARef<MmWithUser>> {
    if pidfd == PIDFD_SELF {
        let current = kernel::current!();
        // `current->mm` holds an `mm_users` reference while the task runs: taking one more
        // (`mmget()`) cannot fail.
        return current.mm().map(ARef::from).ok_or(ESRCH);
    }
    Task::from_pidfd(pidfd)?
        .mm_for_attach()
        .map_err(|e| if e == EACCES { EPERM } else { e })
}

/// The walk of one move: mainline's `struct pagetable_move_control`, a value. It is made with its
/// start already realigned ([`MoveControl::new`]), so a plan walks a copy of it
/// ([`MoveControl::plan`]) and the move the original ([`MoveControl::execute`]), extent for
/// extent the same. The pair it walks is passed to each step: a relocating `MovePair` or, once it
/// shares rmap identity, a `SharedPair`.
///
/// # Invariants
///
/// `[old_end - len_in, old_end)` is the source of a [`Range`] and `new_addr - old_addr` its
/// offset; `old_addr` lies at or above that range's start realigned down to a PMD boundary.
#[derive(Clone, Copy)]
pub(crate) struct MoveControl {
    /// Where the walk is (starts at the realigned address, if realigned).
    old_addr: usize,
    new_addr: usize,
    /// End of the source range.
    old_end: usize,
    /// The length the user asked for.
    len_in: usize,
    no_realign: bool,
    /// Whether the move shares rmap identity (no folio is touched, nothing is busy).
    shared: bool,
}

impl MoveControl {
    /// The walk of `r` between `pair`'s VMAs (sharing rmap identity if `shared`), its start
    /// realigned as [`Self::try_realign_addr`] says. The VMAs' bounds do not change while the
    /// mmap write lock is held, so the walk stays right for a pair of the same VMAs made later.
    pub(crate) fn new<M>(pair: &MovePair<'_, M>, r: Range, flags: u32, shared: bool) -> Self {
        // INVARIANT: Made of `r` itself; realigning moves the start down to a PMD boundary at
        // most.
        let mut walk = Self {
            old_addr: r.src,
            new_addr: r.dst,
            old_end: r.src + r.len,
            len_in: r.len,
            no_realign: flags & NO_REALIGN != 0,
            shared,
        };
        walk.try_realign_addr(pair);
        walk
    }

    /// The source address the user asked for.
    fn orig_old_addr(&self) -> usize {
        self.old_end - self.len_in
    }

    /// The destination address the user asked for.
    fn orig_new_addr(&self) -> usize {
        self.new_addr + self.orig_old_addr() - self.old_addr
    }

    /// Can the walk start at the PMD boundary below `addr` instead of `addr`?
    ///
    /// Only if `addr` is where `vma` starts (else the realigned move would take part of the VMA
    /// that precedes `addr` along: the `|DDDDddddSSSSssss|` case) and no VMA lies between the
    /// boundary and `addr`. Unlike mainline there is no exception for the exec stack: bytes
    /// outside `[src, src + len)` are never moved.
    fn can_align_down<M>(
        pair: &MovePair<'_, M>,
        vma: &MoveVma<'_>,
        addr: usize,
        size: usize,
    ) -> bool {
        vma.start() == addr && !pair.vma_intersects(addr & !(size - 1), addr)
    }

    /// Mainline's `can_realign_addr()`.
    fn can_realign_addr<M>(&self, pair: &MovePair<'_, M>) -> bool {
        let old_align = self.old_addr & (PMD_SIZE - 1);
        let new_align = self.new_addr & (PMD_SIZE - 1);

        // Only worth it, and only checked, when the move reaches the next PMD boundary.
        !self.no_realign
            && self.len_in >= PMD_SIZE - old_align
            // Already aligned: nothing to do.
            && old_align != 0
            // Only when source and destination are mutually aligned.
            && old_align == new_align
            && Self::can_align_down(pair, pair.src(), self.old_addr, PMD_SIZE)
            && Self::can_align_down(pair, pair.dst(), self.new_addr, PMD_SIZE)
    }

    /// Mainline's `try_realign_addr()`: moves the start, not the end.
    fn try_realign_addr<M>(&mut self, pair: &MovePair<'_, M>) {
        if self.can_realign_addr(pair) {
            self.old_addr = pmd_align_down(self.old_addr);
            self.new_addr = pmd_align_down(self.new_addr);
        }
    }

    fn done(&self) -> bool {
        self.old_addr >= self.old_end
    }

    fn next(&mut self, extent: usize) {
        // INVARIANT: The walk goes up, by the same amount on both sides.
        self.old_addr += extent;
        self.new_addr += extent;
    }

    /// The 1 GiB window `(src, dst)` the walk may move as one PUD entry next, if any: where both
    /// addresses are PUD-aligned with a whole PUD left, or, at the start, where the two are
    /// mutually PUD-aligned and nothing is mapped below either side down to the PUD boundary, so
    /// that the start can realign to it as [`Self::try_realign_addr`] does to a PMD boundary.
    /// Only a move that shares rmap identity moves PUD entries.
    fn pud_window<M>(&self, pair: &MovePair<'_, M>) -> Option<(usize, usize)> {
        if !self.shared {
            return None;
        }
        let (old, new) = (self.old_addr, self.new_addr);
        if old % PUD_SIZE == 0 && new % PUD_SIZE == 0 {
            return (self.old_end - old >= PUD_SIZE).then_some((old, new));
        }
        let (src, dst) = (self.orig_old_addr(), self.orig_new_addr());
        let off = src % PUD_SIZE;
        if self.no_realign
            || old > src
            || off != dst % PUD_SIZE
            || self.len_in < PUD_SIZE - off
            || !Self::can_align_down(pair, pair.src(), src, PUD_SIZE)
            || !Self::can_align_down(pair, pair.dst(), dst, PUD_SIZE)
        {
            return None;
        }
        Some((src - off, dst - off))
    }

    /// The first addresses at or above `(s, d)` that lie in the user's range: a realigned start
    /// (of an extent or a PUD window) lies below it, where nothing is mapped.
    fn in_range(&self, (s, d): (usize, usize)) -> (usize, usize) {
        let skip = self.orig_old_addr().saturating_sub(s);
        (s + skip, d + skip)
    }

    /// Goes past a PUD window the walk has dealt with.
    fn next_pud(&mut self, (s, d): (usize, usize)) {
        // INVARIANT: A PUD window's two addresses keep the walk's offset (`pud_window`), and its
        // end lies above where the walk was.
        self.old_addr = s + PUD_SIZE;
        self.new_addr = d + PUD_SIZE;
    }

    /// Whether the walk may take `extent` (the current one) as a whole PMD: it is one, or it is
    /// the last and partial extent of a move that ends where both VMAs end, the two ends mutually
    /// aligned, with nothing mapped above either end up to the next PMD boundary (Lorenzo's tail
    /// realignment from the review of the mainline series: the table's entries above the end are
    /// none on both sides, so moving it whole moves nothing else).
    fn is_whole<M>(&self, pair: &MovePair<'_, M>, extent: usize) -> bool {
        self.is_whole_at(pair, self.old_addr, self.new_addr, extent)
    }

    /// [`Self::is_whole`] for the extent `extent` long at `(old, new)`.
    fn is_whole_at<M>(
        &self,
        pair: &MovePair<'_, M>,
        old: usize,
        new: usize,
        extent: usize,
    ) -> bool {
        if extent == PMD_SIZE {
            return true;
        }
        let (src_end, dst_end) = (old + extent, new + extent);
        !self.no_realign
            && src_end == self.old_end
            && old % PMD_SIZE == 0
            && new % PMD_SIZE == 0
            && src_end == pair.src().end()
            && dst_end == pair.dst().end()
            && !pair.vma_intersects(src_end, old + PMD_SIZE)
            && !pair.vma_intersects(dst_end, new + PMD_SIZE)
    }

    /// Mainline's `get_extent(NORMAL_PMD)`: up to the next PMD boundary of either side.
    fn extent(&self) -> usize {
        pmd_extent(self.old_addr, self.new_addr, self.old_end - self.old_addr)
    }

    /// Mainline's `pmc_progress()`: bytes of the user's range moved so far. A realigned start
    /// that failed on its first PMD must not report a negative (huge) value.
    pub(crate) fn progress(&self) -> usize {
        self.old_addr.saturating_sub(self.orig_old_addr())
    }

    /// The part of the current extent inside the user's range: the realigned first extent starts
    /// below it (where nothing is mapped), and single entries move only inside it.
    fn extent_in_range(&self, extent: usize) -> (usize, usize, usize) {
        let (s, d) = self.in_range((self.old_addr, self.new_addr));
        (s, d, extent - (s - self.old_addr))
    }

    /// Walks the move without changing anything, on a copy of the walk: what the move would do.
    ///
    /// # Errors
    ///
    /// [`EEXIST`] or [`EBUSY`] where the move would meet them, [`EINTR`] on a fatal signal, and
    /// [`EAGAIN`] if an entry kept changing under the plan.
    pub(crate) fn plan<M>(&self, pair: &MovePair<'_, M>, seen: &mut DstSeen) -> Result<Counters> {
        self.check_dst_empty(pair, seen)?;

        let mut walk = *self;
        let mut slots = SlotModel::new(walk.old_addr, walk.old_end, walk.new_addr);
        let mut c = Counters::default();
        let mut retries = 0;
        while !walk.done() {
            // A plan walks as far as the move, under the same mmap write lock: it yields the CPU
            // and stops for a fatal signal between extents as the walk does.
            yield_or_stop()?;
            if let Some(window) = walk.pud_window(pair) {
                if walk.plan_pud(pair, window, &mut c)? {
                    walk.next_pud(window);
                    continue;
                }
            }
            let extent = walk.extent();
            match walk.plan_extent(pair, extent, &mut slots, &mut c) {
                Ok(()) => {
                    retries = 0;
                    walk.next(extent);
                }
                // The entry changed kind under us (reclaim split a THP): look again.
                Err(e) if e == EAGAIN && retries < MAX_RETRIES => retries += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(c)
    }

    /// What [`decide_pud`] says of a PUD window, from the entries its in-range addresses (also
    /// returned) look up: the one reading the plan and the move share.
    fn pud_decision<M>(
        &self,
        pair: &MovePair<'_, M>,
        window: (usize, usize),
    ) -> Result<((usize, usize), Option<PudAction>)> {
        let (s, d) = self.in_range(window);
        let dst_none = pair.dst_pud_kind(d)? == PmdKind::None;
        Ok(((s, d), decide_pud(pair.src_pud_kind(s)?, dst_none)))
    }

    /// Plans a PUD window: what [`Self::move_pud`] will do with it, by the same [`decide_pud`].
    /// `Ok(false)`: the window is walked in PMD extents. (A move that shares rmap identity is
    /// between two VMAs, so no earlier extent changes the destination's PUD slot.)
    fn plan_pud<M>(
        &self,
        pair: &MovePair<'_, M>,
        window: (usize, usize),
        c: &mut Counters,
    ) -> Result<bool> {
        Ok(match self.pud_decision(pair, window)?.1 {
            Some(PudAction::Move) => {
                c.pud_moves += 1;
                true
            }
            Some(PudAction::Nothing) => true,
            None => false,
        })
    }

    /// Plans one extent: what [`Self::move_extent`] will do with it, by the same [`decide`], on
    /// the page tables as the earlier extents will have left them ([`SlotModel`]).
    fn plan_extent<M>(
        &self,
        pair: &MovePair<'_, M>,
        extent: usize,
        slots: &mut SlotModel,
        c: &mut Counters,
    ) -> Result {
        let whole = self.is_whole(pair, extent);
        let (s, d, n) = self.extent_in_range(extent);
        let pages = (n / PAGE_SIZE) as u64;
        let Some(pmd) = pair.src_pmd(s)? else {
            return Ok(());
        };
        let kind = pmd.kind();
        // A device-private THP has no folio a relocating move may relocate: refused before
        // anything moves (a sharing move moves it verbatim, as mremap() does).
        if kind == PmdKind::Special && !self.shared {
            return Err(EBUSY);
        }
        let dst_none = slots.is_none(pair, d)?;
        // A relocating move looks at every entry (what cannot move, how many folios move); a
        // sharing move only where entries move one by one, to count them. A THP being migrated
        // (`Other`) cannot be looked into: the move waits for it.
        let scan = match kind {
            PmdKind::None | PmdKind::Other | PmdKind::Special => None,
            PmdKind::Huge if self.shared => None,
            PmdKind::Table
                if self.shared && decide(kind, whole, dst_none, true) == Action::Table =>
            {
                None
            }
            _ => Some(pmd.scan(pair.src(), s, n / PAGE_SIZE)?),
        };
        // Folios a table or THP move relocates, and those the PTE-by-PTE path relocates (it
        // splits large folios first); none when sharing.
        let (relocated, relocated_split) = match scan {
            Some(r) if !self.shared => (r.folios as u64, r.folio_pages as u64),
            _ => (0, 0),
        };
        if !self.shared && scan.is_some_and(|r| r.busy) {
            return Err(EBUSY);
        }
        match decide(kind, whole, dst_none, scan.is_none_or(|r| r.table_ok)) {
            Action::Nothing => {}
            Action::Table => {
                c.pmd_moves += 1;
                c.folios_relocated += relocated;
                slots.set(s, PmdKind::None)?;
                slots.set(d, PmdKind::Table)?;
            }
            Action::Ptes => {
                c.pte_moves += scan.map_or(0, |r| r.entries as u64);
                c.folios_relocated += relocated_split;
                slots.set(d, PmdKind::Table)?;
            }
            Action::Huge => {
                c.huge_pmd_moves += 1;
                c.folios_relocated += relocated;
                slots.set(s, PmdKind::None)?;
                slots.set(d, PmdKind::Huge)?;
            }
            Action::Split => {
                // Split, every page is an entry (and, relocating, a folio) of its own.
                c.pte_moves += pages;
                if relocated != 0 {
                    c.folios_relocated += pages;
                }
                slots.set(s, PmdKind::Table)?;
                slots.set(d, PmdKind::Table)?;
            }
        }
        Ok(())
    }

    /// `EEXIST` if the destination maps anything, outside the part that overlaps the source.
    /// `seen` carries what an earlier check of the same batch found (see [`DstSeen`]).
    pub(crate) fn check_dst_empty<M>(&self, pair: &MovePair<'_, M>, seen: &mut DstSeen) -> Result {
        let (src, dst) = (self.orig_old_addr(), self.orig_new_addr());
        let dst_end = dst + self.len_in;
        let end = if dst < src && src < dst_end {
            src
        } else {
            dst_end
        };
        if seen.covers(dst, end) {
            return Ok(());
        }
        let mut addr = dst;
        while addr < end {
            // A whole 1 GiB with no PMD table (a fresh destination) is passed over at once.
            let pud_next = (addr - addr % PUD_SIZE).saturating_add(PUD_SIZE).min(end);
            match pair.dst_pud_kind(addr)? {
                PmdKind::None => {
                    addr = pud_next;
                    continue;
                }
                PmdKind::Table => {}
                _ => return Err(EEXIST),
            }
            while addr < pud_next {
                yield_or_stop()?;
                let next = (pmd_align_down(addr) + PMD_SIZE).min(pud_next);
                let Some(pmd) = pair.dst_pmd(addr)? else {
                    seen.no_table(addr);
                    addr = next;
                    continue;
                };
                match pmd.kind() {
                    PmdKind::None => seen.no_table(addr),
                    PmdKind::Table => {
                        let n = (next - addr) / PAGE_SIZE;
                        if pmd.scan(pair.dst(), addr, n)?.entries != 0 {
                            return Err(EEXIST);
                        }
                    }
                    PmdKind::Huge | PmdKind::Other | PmdKind::Special => return Err(EEXIST),
                }
                addr = next;
            }
        }
        Ok(())
    }

    /// The move itself, inside one mmu-notifier invalidation of the source range (as
    /// `move_page_tables()` brackets its walk, from the realigned start). Between extents it
    /// yields the CPU and stops (`EINTR`, part-way) if the caller is being killed, so a long move
    /// does not hold the target's mmap lock for a task that is gone. [`Self::progress`] says how
    /// far it got, also on error.
    ///
    /// # Errors
    ///
    /// What a move of one extent returns ([`MovePair::move_ptes`] and the others): [`EEXIST`],
    /// [`EBUSY`], [`ENOMEM`], [`EINTR`], and [`EAGAIN`] after [`MAX_RETRIES`] looks at an entry
    /// that kept changing.
    pub(crate) fn execute<M: Mode>(
        &mut self,
        pair: &mut MovePair<'_, M>,
        scratch: &mut TableScratch,
        c: &mut Counters,
    ) -> Result {
        pair.with_invalidation(self.old_addr, self.old_end, |pair, inv| {
            self.execute_in(pair, inv, scratch, c)
        })
    }

    /// [`Self::execute`] inside an invalidation the caller started, which must cover the source
    /// range (a realigned start below it lies outside the source VMA, where nothing is mapped:
    /// each move checks that the invalidation covers what it clears there), extent by extent, as
    /// [`decide`] and [`decide_pud`] say.
    pub(crate) fn execute_in<M: Mode>(
        &mut self,
        pair: &mut MovePair<'_, M>,
        inv: &MmuInvalidation<'_>,
        scratch: &mut TableScratch,
        c: &mut Counters,
    ) -> Result {
        let mut retries = 0;
        while !self.done() {
            yield_or_stop()?;
            if let Some(window) = self.pud_window(pair) {
                if self.move_pud(pair, inv, window, c)? {
                    retries = 0;
                    self.next_pud(window);
                    continue;
                }
            }
            if self.move_run(pair, inv, c)? {
                retries = 0;
                continue;
            }
            let extent = self.extent();
            match self.move_extent(pair, inv, extent, scratch, c)? {
                Step::Done => {
                    retries = 0;
                    self.next(extent);
                }
                Step::Partial => retries = 0,
                Step::Again => {
                    retries += 1;
                    if retries > MAX_RETRIES {
                        return Err(EAGAIN);
                    }
                }
            }
        }
        Ok(())
    }

    /// Moves a PUD window as [`decide_pud`] says: one PUD entry, or nothing at all to move.
    /// `Ok(false)`: the walk takes the window in PMD extents. (Only a sharing pair has windows.)
    fn move_pud<M: Mode>(
        &mut self,
        pair: &mut MovePair<'_, M>,
        inv: &MmuInvalidation<'_>,
        window: (usize, usize),
        c: &mut Counters,
    ) -> Result<bool> {
        let ((s, d), action) = self.pud_decision(pair, window)?;
        let moved = |pair: &mut MovePair<'_, M>| match pair.as_shared() {
            Some(shared) => shared.move_pud(inv, s, d),
            None => Ok(false),
        };
        Ok(match action {
            Some(PudAction::Nothing) => true,
            Some(PudAction::Move) if moved(pair)? => {
                c.pud_moves += 1;
                true
            }
            _ => false,
        })
    }

    /// Moves whole tables and THPs from here on with one TLB flush for all of them at the end
    /// (`SharedPair::move_run`): a sharing move, where both sides are PMD-aligned. The run takes
    /// the extents [`decide`] says move whole (or hold nothing) and stops before any other (a
    /// destination PMD table to allocate, entries moved one by one, a THP to split or look at
    /// again) or on a fatal signal; this caller stops it at the next PUD boundary (where a PUD
    /// window may follow) and before a partial last extent that may not move whole. The walk goes
    /// on from where it stopped. Returns whether the run got past any extent.
    fn move_run<M: Mode>(
        &mut self,
        pair: &mut MovePair<'_, M>,
        inv: &MmuInvalidation<'_>,
        c: &mut Counters,
    ) -> Result<bool> {
        let (start, new) = (self.old_addr, self.new_addr);
        if !self.shared || start % PMD_SIZE != 0 || new % PMD_SIZE != 0 {
            return Ok(false);
        }
        let end = self.old_end.min(pud_align_down(start) + PUD_SIZE);
        // Only the move's last extent can be partial; it moves whole as `is_whole` says.
        let tail = end % PMD_SIZE;
        let tail_whole =
            tail != 0 && self.is_whole_at(pair, end - tail, end - tail - start + new, tail);
        let pmds = (end - start) / PMD_SIZE + usize::from(tail_whole);
        let Some(pair) = pair.as_shared() else {
            return Ok(false);
        };
        let (run, res) = pair.move_run(inv, start, new, pmds);
        // What the run moved is reported even if it stopped on an error.
        c.pmd_moves += run.tables as u64;
        c.huge_pmd_moves += run.huge as u64;
        self.next((run.pmds * PMD_SIZE).min(end - start));
        res.map(|()| run.pmds != 0)
    }

    /// Moves one extent, as [`decide`] says: a whole table, a THP, or entry by entry.
    fn move_extent<M: Mode>(
        &mut self,
        pair: &MovePair<'_, M>,
        inv: &MmuInvalidation<'_>,
        extent: usize,
        scratch: &mut TableScratch,
        c: &mut Counters,
    ) -> Result<Step> {
        // The realigned first extent starts below the VMAs; its entry is the same.
        let (s, d, _) = self.extent_in_range(extent);
        let Some(src) = pair.src_pmd(s)? else {
            return Ok(Step::Done);
        };
        let kind = src.kind();
        if kind == PmdKind::None {
            return Ok(Step::Done);
        }
        // The plan refused it; only a race could bring one here.
        if kind == PmdKind::Special && !self.shared {
            return Err(EBUSY);
        }
        let dst = pair.dst_pmd_alloc(d)?;
        let dst_kind = dst.kind();

        // Whether a table can move whole is the table move's to say: it may not now.
        match decide(
            kind,
            self.is_whole(pair, extent),
            dst_kind == PmdKind::None,
            true,
        ) {
            Action::Nothing => return Ok(Step::Done),
            Action::Huge => {
                return match pair.move_huge_pmd(inv, &src, &dst) {
                    Ok(relocated) => {
                        c.huge_pmd_moves += 1;
                        c.folios_relocated += relocated as u64;
                        Ok(Step::Done)
                    }
                    Err(e) if e == EAGAIN || e == ENOENT => Ok(Step::Again),
                    Err(e) => Err(e),
                };
            }
            Action::Split => {
                // A relocating move cannot take a THP that is shared or maybe pinned: refused
                // before the split changes the source's layout, as `move_pages()` tests
                // `PageAnonExclusive()` under the PMD lock before it splits. (A planned move
                // refused it up front; under `RUST_MREMAP_PARTIAL` the walk is the first to look.)
                // A THP under migration (`Other`) is split without a look, as `move_pages()`
                // splits one; waiting for the migration first would need a PMD-level wait.
                if !self.shared && kind == PmdKind::Huge {
                    match src.scan(pair.src(), s, 1) {
                        Ok(r) if r.busy => return Err(EBUSY),
                        Ok(_) => {}
                        Err(e) if e == EAGAIN => return Ok(Step::Again),
                        Err(e) => return Err(e),
                    }
                }
                src.split_huge(pair.src(), s)?;
                return Ok(Step::Again);
            }
            Action::Table => match pair.move_table(inv, &src, &dst, scratch) {
                Ok(Some(relocated)) => {
                    c.pmd_moves += 1;
                    c.folios_relocated += relocated as u64;
                    return Ok(Step::Done);
                }
                // It cannot move whole now: entry by entry, below.
                Ok(None) => {}
                // An entry of the table cannot move (under `RUST_MREMAP_PARTIAL`, or a pin that
                // appeared after the plan): the table is back in place, and the entries before the
                // blocker move one by one, below, so that the move stops exactly at it, as
                // `UFFDIO_MOVE` does, not at the table's start.
                Err(e) if e == EBUSY => {}
                Err(e) => return Err(e),
            },
            Action::Ptes => {}
        }

        if dst_kind != PmdKind::None && dst_kind != PmdKind::Table {
            return Err(EEXIST);
        }
        dst.pte_alloc()?;
        self.move_extent_ptes(pair, inv, &src, &dst, extent, c)
    }

    /// Moves the entries of one extent one by one (the pair sleeps on what blocks them, folio
    /// locks, splits and migrations, with no page-table lock held, as `UFFDIO_MOVE` does).
    fn move_extent_ptes<M: Mode>(
        &mut self,
        pair: &MovePair<'_, M>,
        inv: &MmuInvalidation<'_>,
        src: &Pmd<'_>,
        dst: &Pmd<'_>,
        extent: usize,
        c: &mut Counters,
    ) -> Result<Step> {
        let (s, d, len) = self.extent_in_range(extent);
        let nr = len / PAGE_SIZE;
        // Progress made so far in this extent is what `moved` reports on error.
        let done = pair
            .move_ptes(inv, src, s, dst, d, nr)
            .inspect_err(|_| self.set_partial(s))?;
        c.pte_moves += done.moved as u64;
        c.folios_relocated += done.relocated as u64;
        if done.pages == nr {
            return Ok(Step::Done);
        }
        // It stopped part-way: the table changed under us, or the next entry cannot move (the
        // next call says why). Go on from there.
        self.set_partial(s + done.pages * PAGE_SIZE);
        Ok(if done.pages == 0 {
            Step::Again
        } else {
            Step::Partial
        })
    }

    /// Records that the walk stopped at `addr` in the middle of the current extent, so that
    /// [`Self::progress`] is exact (everything below `addr` has moved, nothing above it) and a
    /// retried extent resumes there.
    fn set_partial(&mut self, addr: usize) {
        // INVARIANT: `addr` lies in the current extent, at or above where the walk is; both sides
        // go up by the same amount.
        let delta = addr - self.old_addr;
        self.old_addr = addr;
        self.new_addr += delta;
    }
}

/// The destination PMD slot the last [`MoveControl::check_dst_empty`] of a batch found without a
/// page table, so that the next entries into the same slot (a collector packs a hundred small
/// chunks into one) are not looked up again.
///
/// What it records is weaker than "the slot has no table": a fault in another VMA that shares
/// the slot (per-VMA locks, which the mmap write lock does not stop) or the monitor's
/// `UFFDIO_COPY` there may give it one meanwhile. What holds, and all `check_dst_empty` needs, is
/// that no entry appears in the part of the slot that lies in a VMA write-locked before the slot
/// was looked at: every destination the batch checks lies in such a VMA (step 3 write-locks all of
/// them before any check), and nothing moves while the batch plans. So it must not serve as
/// `dst_none` for a move, nor outlive the plans of the batch that made it ([`DstSeen::for_plans`]).
pub(crate) struct DstSeen(Option<usize>);

impl DstSeen {
    /// A record for the plans of one batch, which must have write-locked every VMA it touches,
    /// and must drop it before anything moves.
    pub(crate) fn for_plans() -> Self {
        Self(None)
    }

    /// Records that the PMD slot of `addr` has no page table.
    fn no_table(&mut self, addr: usize) {
        self.0 = Some(pmd_align_down(addr));
    }

    /// Whether `[start, end)` lies in the slot known to have no page table.
    fn covers(&self, start: usize, end: usize) -> bool {
        self.0
            .is_some_and(|base| start >= base && end <= base + PMD_SIZE)
    }
}

/// Between two extents of a plan or a walk, which run under the target's mmap write lock for as
/// long as the range is: yields the CPU (as `move_page_tables()` does every extent), and stops
/// with `EINTR` if the caller is being killed, so a long call does not hold the lock for a task
/// that is gone. (No rmap lock is held here: runs bound their own holds inside the kernel crate.)
pub(crate) fn yield_or_stop() -> Result {
    cond_resched();
    if kernel::current!().fatal_signal_pending() {
        return Err(EINTR);
    }
    Ok(())
}

/// What the walk does with one extent: the one decision the plan and the move share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// Nothing is mapped at the source.
    Nothing,
    /// Move the page table whole (one PMD entry).
    Table,
    /// Move the PMD-mapped THP (or its migration entry) as a unit.
    Huge,
    /// Split the THP, then move its entries one by one.
    Split,
    /// Move the entries one by one.
    Ptes,
}

/// What the walk does with a 1 GiB window it may take as one PUD entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PudAction {
    /// Nothing is mapped at the source: go past it.
    Nothing,
    /// Move the PMD table whole (one PUD entry).
    Move,
}

/// Decides what the walk does with a PUD window whose source PUD entry holds `src`: nothing if
/// nothing is mapped there, one PUD entry if it is a PMD table and the destination slot is empty,
/// and otherwise (`None`) walk the window in PMD extents.
fn decide_pud(src: PmdKind, dst_none: bool) -> Option<PudAction> {
    match src {
        PmdKind::None => Some(PudAction::Nothing),
        PmdKind::Table if dst_none => Some(PudAction::Move),
        _ => None,
    }
}

/// Decides what the walk does with an extent whose source PMD entry holds `src`: `whole` if the
/// extent may move as a whole PMD on both sides ([`MoveControl::is_whole`]), `dst_none` if the
/// destination slot is (or, for the plan, will be) empty, `table_ok` unless the source table
/// cannot move whole (a relocating move cannot take a large folio or a migration entry along).
fn decide(src: PmdKind, whole: bool, dst_none: bool, table_ok: bool) -> Action {
    match src {
        PmdKind::None => Action::Nothing,
        PmdKind::Table if whole && dst_none && table_ok => Action::Table,
        PmdKind::Table => Action::Ptes,
        PmdKind::Huge | PmdKind::Other | PmdKind::Special if whole && dst_none => Action::Huge,
        PmdKind::Huge | PmdKind::Other | PmdKind::Special => Action::Split,
    }
}

/// What [`MoveControl::move_extent`] did with the current extent.
enum Step {
    /// Moved: go on to the next extent.
    Done,
    /// Part of it moved: go on from where it stopped (the walk is there).
    Partial,
    /// Look at the same extent again (it changed under us).
    Again,
}

/// The planner's model of PMD entries the move will have changed by the time it reaches a
/// later extent: in a downward overlapping move, a destination slot can be a source slot that an
/// earlier extent emptied (or left holding a page table). Only where the PMD slots of the two
/// ranges overlap can that happen; elsewhere the model tracks nothing and costs nothing (a list
/// searched per extent would make planning a large move quadratic).
struct SlotModel {
    tracked: bool,
    changed: KVec<(usize, PmdKind)>,
}

impl SlotModel {
    /// A model for a walk over `[src, src_end)` to `[dst, ...)`.
    fn new(src: usize, src_end: usize, dst: usize) -> Self {
        let round_up = |a: usize| pmd_align_down(a + (PMD_SIZE - 1));
        let dst_end = dst + (src_end - src);
        Self {
            tracked: pmd_align_down(src) < round_up(dst_end)
                && pmd_align_down(dst) < round_up(src_end),
            changed: KVec::new(),
        }
    }

    fn set(&mut self, addr: usize, kind: PmdKind) -> Result {
        if !self.tracked {
            return Ok(());
        }
        let base = pmd_align_down(addr);
        match self.changed.iter_mut().find(|(b, _)| *b == base) {
            Some(slot) => slot.1 = kind,
            None => self.changed.push((base, kind), GFP_KERNEL)?,
        }
        Ok(())
    }

    /// Whether the destination slot of `addr` (a destination address) will be empty when the walk
    /// gets there.
    fn is_none<M>(&self, pair: &MovePair<'_, M>, addr: usize) -> Result<bool> {
        let base = pmd_align_down(addr);
        if let Some((_, kind)) = self.changed.iter().find(|(b, _)| *b == base) {
            return Ok(*kind == PmdKind::None);
        }
        Ok(pair
            .dst_pmd(addr)?
            .is_none_or(|pmd| pmd.kind() == PmdKind::None))
    }
}
