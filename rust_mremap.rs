// SPDX-License-Identifier: GPL-2.0

//! rust_mremap: move a process's private anonymous memory at page-table
//! granularity.
//!
//! `/dev/rust_mremap` (mode 0600) takes two ioctls, defined in
//! `include/uapi/linux/rust_mremap.h`:
//!
//! - `RUST_MREMAP_IOC_VERSION` reports the ABI version, the size of
//!   `struct rust_mremap_move` and the supported flags.
//! - `RUST_MREMAP_IOC_MOVE` moves `[src, src + len)` of a target process to
//!   `[dst, dst + len)` (see `mover.rs`).
//!
//! The file layout: `abi.rs` mirrors the UAPI header, `mover.rs` is the move
//! algorithm (mainline's `move_page_tables()` in Rust), and this file is the
//! device and the ioctl dispatch.

use kernel::{
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

mod abi;
mod mover;

use abi::{MoveArgs, VersionInfo, RUST_MREMAP_IOC_MOVE, RUST_MREMAP_IOC_VERSION};

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
            RUST_MREMAP_IOC_MOVE => {
                let (mut reader, mut writer) =
                    UserSlice::new(user, core::mem::size_of::<MoveArgs>()).reader_writer();
                let mut args: MoveArgs = reader.read()?;
                let res = mover::move_memory(&mut args);
                // `moved` and the counters reach user space on error too.
                writer.write(&args)?;
                res.map(|()| 0)
            }
            _ => Err(ENOTTY),
        }
    }
}
