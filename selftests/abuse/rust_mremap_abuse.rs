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
    fs::File,
    ioctl::_IOWR,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    mm::{
        pgtable::{MovePair, MoveVma, PtesMoved, TableScratch, PMD_SIZE},
        MmWithUser, MmapWriteGuard,
    },
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
    _pad: u32,
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

/// `MoveVma::pmd(b)` in the VMA that contains `a`: 1 found, 0 nothing mapped.
const OP_LOOKUP: u32 = 1;
/// `MoveVma::pmd_alloc(b)` in the VMA that contains `a`.
const OP_ALLOC: u32 = 2;
/// `MovePair::move_table()` of the entry of `b` (VMA of `a`) into the entry of `d` (VMA of `c`):
/// 1 moved, 0 not now.
const OP_TABLE: u32 = 3;
/// `MovePair::move_ptes()` of `e` pages from `b` (VMA of `a`) to `d` (VMA of `c`): pages done.
const OP_PTES: u32 = 4;
/// `MovePair::move_huge_pmd()` of the entry of `b` (VMA of `a`) into that of `d` (VMA of `c`).
const OP_HUGE: u32 = 5;
/// `MovePair::share(b, d)`, then `MovePair::move_ptes()` of one page from `b` to `d + e`: a move
/// at another offset than the one the identity is shared at.
const OP_SHARED_PTES: u32 = 6;
/// A table move in a deferred-flush run (`MovePair::with_deferred_flush()`,
/// `DeferredMoves::move_table()`) of the entry of `b` (VMA of `a`) into the entry of `d` (VMA of
/// `c`), after `MovePair::share(b, d)`; with `e` = 1 without sharing, with `e` = 2 into the entry
/// of `d + PMD_SIZE`, off the shared offset. The destination entry is allocated before the run.
const OP_DEFERRED_TABLE: u32 = 7;

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

/// The VMA that contains `addr`, checked as a move endpoint.
fn endpoint<'a>(guard: &'a MmapWriteGuard<'a>, addr: u64) -> Result<MoveVma<'a>> {
    let vma = guard.vma_lookup(usize::try_from(addr)?).ok_or(EFAULT)?;
    MoveVma::new(guard, vma)
}

fn pair<'a>(guard: &'a MmapWriteGuard<'a>, req: &AbuseReq) -> Result<MovePair<'a>> {
    MovePair::new(endpoint(guard, req.a)?, endpoint(guard, req.c)?)
}

fn run(mm: &MmWithUser, req: &AbuseReq) -> Result<i64> {
    let guard = mm.mmap_write_lock_killable()?;
    let (b, d) = (usize::try_from(req.b)?, usize::try_from(req.d)?);
    match req.op {
        OP_LOOKUP => Ok(endpoint(&guard, req.a)?.pmd(b)?.is_some().into()),
        OP_ALLOC => endpoint(&guard, req.a)?.pmd_alloc(b).map(|_| 0),
        OP_TABLE => {
            let pair = pair(&guard, req)?;
            let src = pair.src().pmd(b)?.ok_or(ENOENT)?;
            let dst = pair.dst().pmd_alloc(d)?;
            let mut scratch = TableScratch::new()?;
            Ok(pair.move_table(&src, &dst, &mut scratch)?.map_or(0, |_| 1))
        }
        OP_PTES => {
            let pair = pair(&guard, req)?;
            let src = pair.src().pmd(b)?.ok_or(ENOENT)?;
            let dst = pair.dst().pmd_alloc(d)?;
            dst.pte_alloc()?;
            let nr = usize::try_from(req.e)?;
            match pair.move_ptes(&src, b, &dst, d, nr, None)? {
                PtesMoved::Done { pages, .. } => Ok(pages as i64),
                PtesMoved::Blocked(_) => Err(EAGAIN),
            }
        }
        OP_HUGE => {
            let pair = pair(&guard, req)?;
            let src = pair.src().pmd(b)?.ok_or(ENOENT)?;
            let dst = pair.dst().pmd_alloc(d)?;
            pair.move_huge_pmd(&src, &dst).map(|n| n as i64)
        }
        OP_SHARED_PTES => {
            let mut pair = pair(&guard, req)?;
            pair.share(b, d)?;
            let e = usize::try_from(req.e)?;
            let dst_addr = d.checked_add(e).ok_or(EINVAL)?;
            let src = pair.src().pmd(b)?.ok_or(ENOENT)?;
            let dst = pair.dst().pmd_alloc(dst_addr)?;
            dst.pte_alloc()?;
            match pair.move_ptes(&src, b, &dst, dst_addr, 1, None)? {
                PtesMoved::Done { pages, .. } => Ok(pages as i64),
                PtesMoved::Blocked(_) => Err(EAGAIN),
            }
        }
        OP_DEFERRED_TABLE => {
            let mut pair = pair(&guard, req)?;
            let dst_addr = match req.e {
                0 | 1 => d,
                2 => d.checked_add(PMD_SIZE).ok_or(EINVAL)?,
                _ => return Err(EINVAL),
            };
            if req.e != 1 {
                pair.share(b, d)?;
            }
            pair.dst().pmd_alloc(dst_addr)?;
            pair.with_deferred_flush(|run| {
                let src = run.src_pmd(b)?.ok_or(ENOENT)?;
                let dst = run.dst_pmd(dst_addr)?.ok_or(ENOENT)?;
                Ok(run.move_table(&src, &dst)?.into())
            })?
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
