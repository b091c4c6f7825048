// SPDX-License-Identifier: GPL-2.0

//! A rmap mode of one's own: `Mode` is sealed, so no outside type can stand for how a pair keeps
//! rmap valid.
//!
//! expect: E0277
//! expect-note: Sealed

use kernel::mm::pgtable::Mode;

/// A mode the module does not know.
pub struct Mine;

impl Mode for Mine {}
