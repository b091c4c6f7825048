// SPDX-License-Identifier: GPL-2.0

//! rust_mremap_abuse: a test-only module that calls the safe `kernel::mm::pgtable` API with the
//! arguments user space passes, on the caller's own address space.
//!
//! `kernel::mm::pgtable` must be sound for any safe caller, not only for `mover.rs`, which never
//! passes an address outside its VMAs or a table whose move would land outside one. This module
//! is such a caller: `/dev/rust_mremap_abuse` takes one `AbuseReq` per ioctl and answers with what
//! the API returned, so `rust_mremap_abuse_test` can pass it the addresses a reviewer would. It
//! contains no `unsafe` code beyond the ABI marker impls: whatever it is asked, the API's own
//! checks are all that stand between it and a page table.

use kernel::{
    alloc::KVVec,
    fs::File,
    ioctl::_IOWR,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    mm::{
        pgtable::{pmd_align_down, MovePair, PtesRun, TableScratch, Userfaultfd, PMD_SIZE},
        MmWithUser,
    },
    page::PAGE_SIZE,
    prelude::*,
    sync::aref::ARef,
    task::Task,
    transmute::{AsBytes, FromBytes},
    uaccess::{UserPtr, UserSlice},
};

module! {
    type: AbuseModule,
    name: "rust_mremap_abuse",
    authors: ["The rust_mremap developers"],
    description: "Test-only: the safe page-table move API, called with any arguments",
    license: "GPL",
}

/// `struct abuse_req` of `selftests/rust_mremap_abuse_test.c`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct AbuseReq {
    op: u32,
    /// A fifth argument, for the operations that say so.
    f: u32,
    /// Out: what the operation returned (>= 0), or `-errno`.
    ret: i64,
    a: u64,
    b: u64,
    c: u64,
    d: u64,
    e: u64,
}

// SAFETY: `repr(C)`, integers only, no padding (4 + 4 + 7 * 8 bytes), so every bit pattern is
// valid and all bytes are initialised.
unsafe impl FromBytes for AbuseReq {}
// SAFETY: As above.
unsafe impl AsBytes for AbuseReq {}

const ABUSE_IOC: u32 = _IOWR::<AbuseReq>(0xBC, 0x01);

/// `MovePair::src_pmd(b)` of a pair whose VMAs both contain `a`: 1 found, 0 nothing mapped.
const OP_LOOKUP: u32 = 1;
/// `MovePair::dst_pmd_alloc(b)` of a pair whose VMAs both contain `a`.
const OP_ALLOC: u32 = 2;
/// `MovePair::move_table()` of the entry of `b` (VMA of `a`) into the entry of `d` (VMA of `c`):
/// 1 moved, 0 not now.
const OP_TABLE: u32 = 3;
/// `MovePair::move_ptes()` of `e` pages from `b` (VMA of `a`) to `d` (VMA of `c`): pages done.
const OP_PTES: u32 = 4;
/// `MovePair::move_huge_pmd()` of the entry of `b` (VMA of `a`) into that of `d` (VMA of `c`).
const OP_HUGE: u32 = 5;
/// `MovePair::share(b, d)`, then `SharedPair::move_ptes()` of one page from `b` to `d + e`: a
/// move at another offset than the one the identity is shared at.
const OP_SHARED_PTES: u32 = 6;
/// `MovePair::share(b, d)`, then a run (`SharedPair::move_run()`) of one PMD extent from the
/// entry of `b` (VMA of `a`) into the entry of `d` (VMA of `c`), or with `e` = 2 into the entry
/// of `d + PMD_SIZE`, off the shared offset: tables moved. The destination entry is allocated
/// before the run. (A run of a pair that does not share does not compile: see
/// `selftests/abuse/compile_fail/`.)
const OP_RUN: u32 = 7;
/// `OP_TABLE` under the invalidation of `[b, b - e)`: empty (`e` = 0) or wrapping.
const OP_UNCOVERED: u32 = 8;
/// `MovePair::move_ptes_run()` of the one range `(b, d, e)` (bytes; VMAs of `a` and `c`), under
/// the invalidation of `b`'s PMD, the destination's page table allocated first: bytes done.
const OP_PTES_RUN: u32 = 9;
/// `MovePair::move_ptes_run()` within the VMA of `a` of the two ranges `(b, d, e)` and
/// `(c, b, e)`: the second refills the slots the first emptied. Under the invalidation of `b`'s
/// PMD (both sources in it), the destinations' page table allocated first: `ranges << 32 |
/// holds` (a new hold, and its flush, must come before the refill).
const OP_RUN_REFILL: u32 = 10;
/// As `OP_RUN_REFILL` with `(c, d + e, e)` as the second range, which refills nothing.
const OP_RUN_TWO: u32 = 11;
/// `MovePair::move_ptes_run()` of the `e` one-page ranges `(b + i, d + i)` (VMAs of `a` and
/// `c`), under one invalidation of all the sources, the destinations' page tables allocated
/// first: `ranges << 32 | holds` (the run must end its hold of the rmap lock on its own, however
/// many ranges, populated or not).
const OP_RUN_MANY: u32 = 13;
/// `MovePair::new_with_userfaultfd()` over the VMAs of `a` and `c` (one page each), with the
/// userfaultfd `e` if `d` is 1, with none if `d` is 0: 0 if the pair was made.
const OP_PAIR_UFFD: u32 = 12;
/// As `OP_PTES_RUN`, the run resuming `f` bytes into the range (`skip`): bytes done, `f`
/// included.
const OP_PTES_RUN_SKIP: u32 = 14;

#[pin_data]
struct AbuseModule {
    #[pin]
    _miscdev: MiscDeviceRegistration<AbuseFile>,
}

impl kernel::InPlaceModule for AbuseModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let options = MiscDeviceOptions {
            name: c"rust_mremap_abuse",
        };
        try_pin_init!(Self {
            _miscdev <- MiscDeviceRegistration::register(options),
        })
    }
}

struct AbuseFile;

/// The invalidation every move of an operation gets: the source's PMD around `b`.
fn cover(b: usize) -> (usize, usize) {
    let base = pmd_align_down(b);
    (base, base.saturating_add(PMD_SIZE))
}

/// `ranges << 32 | holds` of a run, or its error.
fn ranges_holds(run: PtesRun, res: Result) -> Result<i64> {
    res.map(|()| ((run.ranges as i64) << 32) | run.holds as i64)
}

fn run(mm: &MmWithUser, req: &AbuseReq) -> Result<i64> {
    let mut guard = mm.mmap_write_lock_killable()?;
    let (a, b) = (usize::try_from(req.a)?, usize::try_from(req.b)?);
    let (c, d) = (usize::try_from(req.c)?, usize::try_from(req.d)?);
    let e = usize::try_from(req.e)?;
    let (start, end) = cover(b);
    match req.op {
        OP_LOOKUP => Ok(MovePair::new(&mut guard, a, a, PAGE_SIZE)?
            .src_pmd(b)?
            .is_some()
            .into()),
        OP_ALLOC => MovePair::new(&mut guard, a, a, PAGE_SIZE)?
            .dst_pmd_alloc(b)
            .map(|_| 0),
        OP_TABLE | OP_UNCOVERED => {
            let mut pair = MovePair::new(&mut guard, a, c, PAGE_SIZE)?;
            let (start, end) = if req.op == OP_TABLE {
                (start, end)
            } else {
                (b, b.wrapping_sub(e))
            };
            pair.with_invalidation(start, end, |pair, inv| {
                let src = pair.src_pmd(b)?.ok_or(ENOENT)?;
                let dst = pair.dst_pmd_alloc(d)?;
                let mut scratch = TableScratch::new();
                Ok(pair
                    .move_table(inv, &src, &dst, &mut scratch)?
                    .map_or(0, |_| 1))
            })
        }
        OP_PTES => {
            let mut pair = MovePair::new(&mut guard, a, c, PAGE_SIZE)?;
            pair.with_invalidation(start, end, |pair, inv| {
                let src = pair.src_pmd(b)?.ok_or(ENOENT)?;
                let dst = pair.dst_pmd_alloc(d)?;
                dst.pte_alloc()?;
                Ok(pair.move_ptes(inv, &src, b, &dst, d, e)?.pages as i64)
            })
        }
        OP_HUGE => {
            let mut pair = MovePair::new(&mut guard, a, c, PAGE_SIZE)?;
            pair.with_invalidation(start, end, |pair, inv| {
                let src = pair.src_pmd(b)?.ok_or(ENOENT)?;
                let dst = pair.dst_pmd_alloc(d)?;
                pair.move_huge_pmd(inv, &src, &dst).map(|n| n as i64)
            })
        }
        OP_SHARED_PTES => {
            let mut pair = MovePair::new(&mut guard, a, c, PAGE_SIZE)?.share(b, d)?;
            let dst_addr = d.checked_add(e).ok_or(EINVAL)?;
            pair.with_invalidation(start, end, |pair, inv| {
                let src = pair.src_pmd(b)?.ok_or(ENOENT)?;
                let dst = pair.dst_pmd_alloc(dst_addr)?;
                dst.pte_alloc()?;
                Ok(pair.move_ptes(inv, &src, b, &dst, dst_addr, 1)?.pages as i64)
            })
        }
        OP_RUN => {
            let dst_addr = match e {
                0 => d,
                2 => d.checked_add(PMD_SIZE).ok_or(EINVAL)?,
                _ => return Err(EINVAL),
            };
            let mut pair = MovePair::new(&mut guard, a, c, PAGE_SIZE)?.share(b, d)?;
            pair.dst_pmd_alloc(dst_addr)?;
            let (sbase, dbase) = (pmd_align_down(b), pmd_align_down(dst_addr));
            pair.with_invalidation(start, end, |pair, inv| {
                let (run, res) = pair.move_run(inv, sbase, dbase, 1);
                res.map(|()| run.tables as i64)
            })
        }
        OP_PTES_RUN | OP_PTES_RUN_SKIP => {
            let skip = if req.op == OP_PTES_RUN_SKIP {
                req.f as usize
            } else {
                0
            };
            let mut pair = MovePair::new(&mut guard, a, c, PAGE_SIZE)?;
            if let Ok(dst) = pair.dst_pmd_alloc(d) {
                dst.pte_alloc()?;
            }
            pair.with_invalidation(start, end, |pair, inv| {
                let (run, res) = pair.move_ptes_run(inv, &[(b, d, e)], skip);
                res.map(|()| (run.ranges * e + run.bytes) as i64)
            })
        }
        OP_RUN_REFILL | OP_RUN_TWO => {
            let second = if req.op == OP_RUN_REFILL {
                (c, b, e)
            } else {
                (c, d.checked_add(e).ok_or(EINVAL)?, e)
            };
            let mut pair = MovePair::new(&mut guard, a, a, PAGE_SIZE)?;
            pair.dst_pmd_alloc(d)?.pte_alloc()?;
            pair.with_invalidation(start, end, |pair, inv| {
                let (run, res) = pair.move_ptes_run(inv, &[(b, d, e), second], 0);
                ranges_holds(run, res)
            })
        }
        OP_RUN_MANY => {
            let len = e.checked_mul(PAGE_SIZE).ok_or(EINVAL)?;
            let mut pair = MovePair::new(&mut guard, a, c, PAGE_SIZE)?;
            let mut ranges = KVVec::with_capacity(e, GFP_KERNEL)?;
            for i in 0..e {
                let off = i * PAGE_SIZE;
                ranges.push((b + off, d + off, PAGE_SIZE), GFP_KERNEL)?;
            }
            let mut t = pmd_align_down(d);
            while t < d + len {
                pair.dst_pmd_alloc(t.max(d))?.pte_alloc()?;
                t += PMD_SIZE;
            }
            pair.with_invalidation(b, b + len, |pair, inv| {
                let (run, res) = pair.move_ptes_run(inv, &ranges, 0);
                ranges_holds(run, res)
            })
        }
        OP_PAIR_UFFD => {
            let uffd = match d {
                0 => None,
                1 => Some(Userfaultfd::from_fd(u32::try_from(e)?)?),
                _ => return Err(EINVAL),
            };
            MovePair::new_with_userfaultfd(&mut guard, a, c, PAGE_SIZE, uffd.as_ref()).map(|_| 0)
        }
        _ => Err(EINVAL),
    }
}

#[vtable]
impl MiscDevice for AbuseFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(AbuseFile, GFP_KERNEL)?)
    }

    fn ioctl(_me: &AbuseFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        if cmd != ABUSE_IOC {
            return Err(ENOTTY);
        }
        let (mut reader, mut writer) =
            UserSlice::new(UserPtr::from_addr(arg), core::mem::size_of::<AbuseReq>())
                .reader_writer();
        let mut req: AbuseReq = reader.read()?;
        let current: &Task = kernel::current!();
        let task: ARef<Task> = current.into();
        let mm = task.mm_for_attach()?;
        req.ret = run(&mm, &req).unwrap_or_else(|e| e.to_errno().into());
        writer.write(&req)?;
        Ok(0)
    }
}
