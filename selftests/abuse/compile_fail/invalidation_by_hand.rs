// SPDX-License-Identifier: GPL-2.0

//! An invalidation made by hand, which nothing would end.
//!
//! expect: other
//! expect-message: cannot construct `kernel::mm::pgtable::MmuInvalidation

use kernel::mm::{pgtable::*, MmWithUser};

/// A struct literal of `MmuInvalidation`.
pub fn misuse(mm: &MmWithUser, src: usize) -> usize {
    let inv = MmuInvalidation {
        mm,
        start: src,
        end: src,
    };
    core::mem::forget(inv);
    0
}
