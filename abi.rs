// SPDX-License-Identifier: GPL-2.0

//! The ioctl ABI, mirrored from `include/uapi/linux/rust_mremap.h`.
//!
//! The C header is the single definition of the ABI.  This file restates it
//! for Rust and pins the layout with compile-time assertions, so a change to
//! one side that is not made to the other fails the build; the selftests
//! cross-check `move_size` at run time through [`RUST_MREMAP_IOC_VERSION`].

use kernel::{
    ioctl::{_IOR, _IOWR},
    transmute::{AsBytes, FromBytes},
};

/// `RUST_MREMAP_ABI_VERSION`.
pub(crate) const ABI_VERSION: u32 = 2;

/// `RUST_MREMAP_NO_REALIGN`: never realign the start down to a PMD boundary.
pub(crate) const NO_REALIGN: u32 = 1 << 0;
/// `RUST_MREMAP_DRY_RUN`: validate and count, change nothing.
pub(crate) const DRY_RUN: u32 = 1 << 1;
/// `RUST_MREMAP_RELOCATE`: never change the destination VMA's rmap identity.
pub(crate) const RELOCATE: u32 = 1 << 2;
/// `RUST_MREMAP_FLAGS_ALL`.
pub(crate) const FLAGS_ALL: u32 = NO_REALIGN | DRY_RUN | RELOCATE;

/// `RUST_MREMAP_PIDFD_SELF`: the calling process is the target.
pub(crate) const PIDFD_SELF: i32 = -1;

const IOC_MAGIC: u32 = 0xBB;

/// `struct rust_mremap_version`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct VersionInfo {
    pub(crate) abi_version: u32,
    pub(crate) move_size: u32,
    pub(crate) flags: u64,
}

/// `struct rust_mremap_move`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct MoveArgs {
    pub(crate) pidfd: i32,
    pub(crate) flags: u32,
    pub(crate) src: u64,
    pub(crate) dst: u64,
    pub(crate) len: u64,
    pub(crate) moved: u64,
    pub(crate) pmd_moves: u64,
    pub(crate) pte_moves: u64,
    pub(crate) huge_pmd_moves: u64,
    pub(crate) pud_moves: u64,
    pub(crate) folios_relocated: u64,
    pub(crate) reserved: [u64; 2],
}

// SAFETY: `VersionInfo` is `repr(C)` with only integer fields and no padding
// (4 + 4 + 8 bytes, asserted below), so every bit pattern is valid and all
// bytes are initialised.
unsafe impl FromBytes for VersionInfo {}
// SAFETY: As above: no padding, all fields are integers.
unsafe impl AsBytes for VersionInfo {}
// SAFETY: `MoveArgs` is `repr(C)`, made of integers only, with no padding
// (asserted below), so every bit pattern is valid and all bytes are
// initialised.
unsafe impl FromBytes for MoveArgs {}
// SAFETY: As above: no padding, all fields are integers.
unsafe impl AsBytes for MoveArgs {}

const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<VersionInfo>() == 16);
    assert!(size_of::<MoveArgs>() == 96);
    assert!(offset_of!(MoveArgs, flags) == 4);
    assert!(offset_of!(MoveArgs, src) == 8);
    assert!(offset_of!(MoveArgs, dst) == 16);
    assert!(offset_of!(MoveArgs, len) == 24);
    assert!(offset_of!(MoveArgs, moved) == 32);
    assert!(offset_of!(MoveArgs, pmd_moves) == 40);
    assert!(offset_of!(MoveArgs, pte_moves) == 48);
    assert!(offset_of!(MoveArgs, huge_pmd_moves) == 56);
    assert!(offset_of!(MoveArgs, pud_moves) == 64);
    assert!(offset_of!(MoveArgs, folios_relocated) == 72);
    assert!(offset_of!(MoveArgs, reserved) == 80);
};

/// `RUST_MREMAP_IOC_VERSION`.
pub(crate) const RUST_MREMAP_IOC_VERSION: u32 = _IOR::<VersionInfo>(IOC_MAGIC, 0x00);
/// `RUST_MREMAP_IOC_MOVE`.
pub(crate) const RUST_MREMAP_IOC_MOVE: u32 = _IOWR::<MoveArgs>(IOC_MAGIC, 0x01);

impl VersionInfo {
    /// What this module reports to `RUST_MREMAP_IOC_VERSION`.
    pub(crate) fn current() -> Self {
        Self {
            abi_version: ABI_VERSION,
            move_size: core::mem::size_of::<MoveArgs>() as u32,
            flags: u64::from(FLAGS_ALL),
        }
    }
}
