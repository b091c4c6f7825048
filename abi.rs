// SPDX-License-Identifier: GPL-2.0

//! The ioctl ABI: `include/uapi/linux/rust_mremap.h`, through the types and
//! constants bindgen generates from it (the `uapi` crate).
//!
//! Only what bindgen cannot express lives here: the ioctl numbers (`_IOR()`
//! and `_IOWR()` are function-like macros) and the byte-copy traits, which
//! cannot be implemented for another crate's types, hence the transparent
//! wrappers.  The entries of a vectored move are read as bytes
//! ([`VEC_ENTRY_SIZE`] each, see `batch.rs`).  The selftests cross-check
//! `move_size` at run time through [`RUST_MREMAP_IOC_VERSION`].

use core::{
    mem::size_of,
    ops::{Deref, DerefMut},
};
use kernel::{
    ioctl::{_IOR, _IOWR},
    transmute::{AsBytes, FromBytes},
    uapi,
};

pub(crate) use uapi::{
    RUST_MREMAP_ABI_VERSION as ABI_VERSION, RUST_MREMAP_DONTWAKE as DONTWAKE,
    RUST_MREMAP_DRY_RUN as DRY_RUN, RUST_MREMAP_FLAGS_ALL as FLAGS_ALL,
    RUST_MREMAP_NO_REALIGN as NO_REALIGN, RUST_MREMAP_PARTIAL as PARTIAL,
    RUST_MREMAP_PIDFD_SELF as PIDFD_SELF, RUST_MREMAP_RELOCATE as RELOCATE,
    RUST_MREMAP_UFFD as UFFD, RUST_MREMAP_VEC_MAX as VEC_MAX,
};

/// `struct rust_mremap_version`.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub(crate) struct VersionInfo(uapi::rust_mremap_version);

/// `struct rust_mremap_move`.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub(crate) struct MoveArgs(uapi::rust_mremap_move);

/// `struct rust_mremap_movev`.
#[repr(transparent)]
#[derive(Clone, Copy)]
pub(crate) struct MoveVecArgs(uapi::rust_mremap_movev);

/// The size of one `struct rust_mremap_vec` in the array a vectored move reads.
pub(crate) const VEC_ENTRY_SIZE: usize = size_of::<uapi::rust_mremap_vec>();

// The header lays the structures out without padding (every field is
// naturally aligned and the sizes add up), which is what makes every byte of
// them initialised.  Checked here, since `AsBytes` relies on it.
const _: () = {
    assert!(size_of::<uapi::rust_mremap_version>() == 4 + 4 + 8);
    assert!(size_of::<uapi::rust_mremap_move>() == 4 + 4 + 9 * 8 + 4 + 4 + 8);
    assert!(size_of::<uapi::rust_mremap_movev>() == 4 + 4 + 8 + 4 + 4 + 8 + 4 + 4 + 7 * 8);
    assert!(VEC_ENTRY_SIZE == 3 * 8);
};

// SAFETY: `VersionInfo` is a transparent wrapper of a `repr(C)` struct of
// integers (bindgen), so every bit pattern is valid.
unsafe impl FromBytes for VersionInfo {}
// SAFETY: All fields are integers and the struct has no padding (asserted
// above), so all its bytes are initialised.
unsafe impl AsBytes for VersionInfo {}
// SAFETY: As for `VersionInfo`: integers only, every bit pattern is valid.
unsafe impl FromBytes for MoveArgs {}
// SAFETY: As for `VersionInfo`: integers only, no padding (asserted above).
unsafe impl AsBytes for MoveArgs {}

// SAFETY: As for `VersionInfo`: integers only, every bit pattern is valid.
unsafe impl FromBytes for MoveVecArgs {}
// SAFETY: As for `VersionInfo`: integers only, no padding (asserted above).
unsafe impl AsBytes for MoveVecArgs {}

impl Deref for MoveVecArgs {
    type Target = uapi::rust_mremap_movev;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for MoveVecArgs {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Deref for MoveArgs {
    type Target = uapi::rust_mremap_move;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for MoveArgs {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

const IOC_MAGIC: u32 = uapi::RUST_MREMAP_IOC_MAGIC;

/// `RUST_MREMAP_IOC_VERSION`.
pub(crate) const RUST_MREMAP_IOC_VERSION: u32 = _IOR::<VersionInfo>(IOC_MAGIC, 0x00);
/// `RUST_MREMAP_IOC_MOVE`.
pub(crate) const RUST_MREMAP_IOC_MOVE: u32 = _IOWR::<MoveArgs>(IOC_MAGIC, 0x01);
/// `RUST_MREMAP_IOC_MOVEV`.
pub(crate) const RUST_MREMAP_IOC_MOVEV: u32 = _IOWR::<MoveVecArgs>(IOC_MAGIC, 0x02);

impl VersionInfo {
    /// What this module reports to `RUST_MREMAP_IOC_VERSION`.
    pub(crate) fn current() -> Self {
        Self(uapi::rust_mremap_version {
            abi_version: ABI_VERSION,
            // The struct is 96 bytes (asserted above): no truncation.
            move_size: size_of::<MoveArgs>() as u32,
            flags: u64::from(FLAGS_ALL),
        })
    }
}
