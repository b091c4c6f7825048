// SPDX-License-Identifier: GPL-2.0

//! rust_mremap: move a process's private anonymous memory at page-table
//! granularity.
//!
//! `/dev/rust_mremap` (mode 0600) takes three ioctls, defined in
//! `include/uapi/linux/rust_mremap.h`:
//!
//! - `RUST_MREMAP_IOC_VERSION` reports the ABI version, the size of
//!   `struct rust_mremap_move` and the supported flags.
//! - `RUST_MREMAP_IOC_MOVE` moves `[src, src + len)` of a target process to
//!   `[dst, dst + len)`.
//! - `RUST_MREMAP_IOC_MOVEV` moves up to `RUST_MREMAP_VEC_MAX` such ranges of
//!   one target under one mmap write lock hold (since ABI 3).
//!
//! Memory registered with userfaultfd moves only at the request of its
//! monitor, who passes the userfaultfd (`RUST_MREMAP_UFFD`, since ABI 4).
//!
//! The file layout: `abi.rs` mirrors the UAPI header, `batch.rs` runs a
//! batch of moves (one for `RUST_MREMAP_IOC_MOVE`) under one lock hold,
//! checking and planning every entry before any moves, `mover.rs` is the
//! move algorithm (mainline's `move_page_tables()` in Rust), and this file is
//! the device and the ioctl dispatch.

use kernel::{
    alloc::KVVec,
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
    transmute::{AsBytes, FromBytes},
    uaccess::{UserPtr, UserSlice},
};

mod abi;
mod batch;
mod mover;

use abi::{
    MoveArgs, MoveVecArgs, VersionInfo, DRY_RUN, FLAGS_ALL, PARTIAL, RUST_MREMAP_IOC_MOVE,
    RUST_MREMAP_IOC_MOVEV, RUST_MREMAP_IOC_VERSION, UFFD, VEC_ENTRY_SIZE, VEC_MAX,
};
use batch::{Outcome, RawEntry};

module! {
    type: RustMremapModule,
    name: "rust_mremap",
    authors: ["The rust_mremap developers"],
    description: "Move anonymous memory of a process at page-table granularity",
    license: "GPL",
}

#[pin_data]
struct RustMremapModule {
    #[pin]
    _miscdev: MiscDeviceRegistration<RustMremapFile>,
}

impl kernel::InPlaceModule for RustMremapModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let options = MiscDeviceOptions {
            name: c"rust_mremap",
        };

        try_pin_init!(Self {
            _miscdev <- MiscDeviceRegistration::register(options),
        })
    }
}

/// An open file of `/dev/rust_mremap`.  It holds no state: every ioctl
/// names its target explicitly.
struct RustMremapFile;

#[vtable]
impl MiscDevice for RustMremapFile {
    type Ptr = KBox<Self>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(RustMremapFile, GFP_KERNEL)?)
    }

    fn ioctl(_me: &RustMremapFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        let user = UserPtr::from_addr(arg);

        match cmd {
            RUST_MREMAP_IOC_VERSION => {
                let info = VersionInfo::current();
                UserSlice::new(user, core::mem::size_of::<VersionInfo>())
                    .writer()
                    .write(&info)?;
                Ok(0)
            }
            // `moved` (and for a vector `done` and `err_index`) and the counters reach user space
            // on error too.
            RUST_MREMAP_IOC_MOVE => in_out(user, move_one),
            RUST_MREMAP_IOC_MOVEV => in_out(user, move_vec),
            _ => Err(ENOTTY),
        }
    }
}

/// Reads a `T` from `user`, runs `f` on it and writes it back, also when `f` fails (its outputs say
/// how far it got). Where it could not be written back, refuses (`EFAULT`) before `f` runs, so
/// that nothing moves without the caller learning of it.
fn in_out<T: FromBytes + AsBytes>(user: UserPtr, f: fn(&mut T) -> Result) -> Result<isize> {
    let size = core::mem::size_of::<T>();
    let (mut reader, mut writer) = UserSlice::new(user, size).reader_writer();
    let mut args: T = reader.read()?;
    UserSlice::new(user, size).writer().write(&args)?;
    let res = f(&mut args);
    writer.write(&args)?;
    res.map(|()| 0)
}

/// Copies what a batch did into the counters of an ioctl's struct.
macro_rules! set_counters {
    ($args:expr, $c:expr) => {{
        let c: &mover::Counters = $c;
        $args.pmd_moves = c.pmd_moves;
        $args.pte_moves = c.pte_moves;
        $args.huge_pmd_moves = c.huge_pmd_moves;
        $args.pud_moves = c.pud_moves;
        $args.folios_relocated = c.folios_relocated;
    }};
}

/// Whether `flags` and `uffd` are refused whatever the entries (`EINVAL`): an unknown flag,
/// `uffd` set without `RUST_MREMAP_UFFD` (it must be 0 then, as a reserved field), or a dry run
/// of a move that is not planned (`RUST_MREMAP_PARTIAL`: a dry run is the plan).
fn bad_flags(flags: u32, uffd: i32) -> bool {
    flags & !FLAGS_ALL != 0
        || (flags & UFFD == 0 && uffd != 0)
        || (flags & DRY_RUN != 0 && flags & PARTIAL != 0)
}

/// `RUST_MREMAP_IOC_MOVE`: a batch of one entry. Fills `args.moved` and the counters, also on
/// error.
fn move_one(args: &mut MoveArgs) -> Result {
    let entry = RawEntry {
        src: args.src,
        dst: args.dst,
        len: args.len,
    };
    let mut out = Outcome::new(1);
    let res = if bad_flags(args.flags, args.uffd)
        || args.reserved0 != 0
        || args.reserved.iter().any(|&r| r != 0)
    {
        Err(EINVAL)
    } else {
        batch::move_entries(args.pidfd, args.flags, args.uffd, &[entry], &mut out)
    };
    args.moved = if out.done == 1 {
        args.len
    } else {
        out.moved as u64
    };
    set_counters!(args, &out.counters);
    res
}

/// `RUST_MREMAP_IOC_MOVEV`. Fills `done`, `moved`, `err_index` and the counters, also on error.
fn move_vec(args: &mut MoveVecArgs) -> Result {
    let count = args.count as usize;
    let mut out = Outcome::new(count);
    let res = read_entries(args).and_then(|entries| {
        batch::move_entries(args.pidfd, args.flags, args.uffd, &entries, &mut out)
    });
    // The counts fit: `done` and `err_index` are at most `count`, a `u32`.
    args.done = out.done as u32;
    args.moved = out.moved as u64;
    args.err_index = out.err_index as u32;
    set_counters!(args, &out.counters);
    res
}

/// Checks a vectored move's own fields (`EINVAL`) and copies its whole array in (`EFAULT`),
/// before any entry is looked at. The array is at most `RUST_MREMAP_VEC_MAX` entries of
/// `VEC_ENTRY_SIZE` bytes: 1.5 MiB, hence a `KVVec`.
fn read_entries(args: &MoveVecArgs) -> Result<KVVec<RawEntry>> {
    let count = args.count as usize;
    if bad_flags(args.flags, args.uffd)
        || args.reserved.iter().any(|&r| r != 0)
        || count == 0
        || count > VEC_MAX as usize
    {
        return Err(EINVAL);
    }
    let vec = usize::try_from(args.vec).map_err(|_| EFAULT)?;
    let mut bytes = KVVec::with_capacity(count * VEC_ENTRY_SIZE, GFP_KERNEL)?;
    UserSlice::new(UserPtr::from_addr(vec), count * VEC_ENTRY_SIZE)
        .reader()
        .read_all(&mut bytes, GFP_KERNEL)?;
    let mut entries = KVVec::with_capacity(count, GFP_KERNEL)?;
    for e in bytes.chunks_exact(VEC_ENTRY_SIZE) {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&e[8 * i..8 * i + 8]);
            u64::from_ne_bytes(w)
        };
        entries.push(
            RawEntry {
                src: word(0),
                dst: word(1),
                len: word(2),
            },
            GFP_KERNEL,
        )?;
    }
    Ok(entries)
}
