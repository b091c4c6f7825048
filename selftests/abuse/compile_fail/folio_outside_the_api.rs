// SPDX-License-Identifier: GPL-2.0

//! A folio reference (and with it the folio lock) taken outside the API: a caller could lock a
//! folio twice, keep it locked past its pair, or take an mmap lock while holding it (the reverse
//! of mm/rmap.c's order). Folio references and locks never leave `kernel::mm::pgtable`:
//! `MovePair::move_ptes()` waits for what blocks it itself.
//!
//! expect: E0603
//! expect-message: struct `FolioRef` is private

use kernel::mm::pgtable::FolioRef;

/// Names the private folio reference type.
pub fn misuse(folio: Option<FolioRef>) -> bool {
    folio.is_some()
}
