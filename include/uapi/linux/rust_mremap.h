/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rust_mremap: move a process's private anonymous memory at page-table
 * granularity.  This header is the single definition of the ABI: the
 * driver uses the Rust types bindgen generates from it (the uapi crate),
 * the selftests and any user program include it.  The structures have one
 * layout for 32- and 64-bit callers.
 *
 * The semantics and every errno: Documentation/userspace-api/rust_mremap.rst.
 */
#ifndef _UAPI_LINUX_RUST_MREMAP_H
#define _UAPI_LINUX_RUST_MREMAP_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define RUST_MREMAP_ABI_VERSION		2

/* Do not realign the start of the move down to a PMD boundary. */
#define RUST_MREMAP_NO_REALIGN		(1U << 0)
/* Validate and fill the counters with what a move would do; change nothing. */
#define RUST_MREMAP_DRY_RUN		(1U << 1)
/*
 * Never change the destination VMA's rmap identity: relocate every folio
 * that moves to it (as UFFDIO_MOVE does) instead of letting the destination
 * share the source's identity (as mremap() does).  Since ABI version 2.
 */
#define RUST_MREMAP_RELOCATE		(1U << 2)
#define RUST_MREMAP_FLAGS_ALL		(RUST_MREMAP_NO_REALIGN | RUST_MREMAP_DRY_RUN | \
					 RUST_MREMAP_RELOCATE)

/* Target is the calling process. */
#define RUST_MREMAP_PIDFD_SELF		(-1)

struct rust_mremap_version {
	__u32 abi_version;	/* out: RUST_MREMAP_ABI_VERSION */
	__u32 move_size;	/* out: sizeof(struct rust_mremap_move) */
	__u64 flags;		/* out: RUST_MREMAP_FLAGS_ALL of the module */
};

struct rust_mremap_move {
	__s32 pidfd;		/* target process; RUST_MREMAP_PIDFD_SELF = caller */
	__u32 flags;		/* RUST_MREMAP_*; unknown bits -> EINVAL */
	__u64 src;		/* page aligned */
	__u64 dst;		/* page aligned */
	__u64 len;		/* page aligned, > 0 */
	__u64 moved;		/* out: bytes of [src, src+len) now at dst, also on error */
	__u64 pmd_moves;	/* out: page-table pages moved whole */
	__u64 pte_moves;	/* out: PTEs (present, swap, zero page) moved one by one */
	__u64 huge_pmd_moves;	/* out: THP PMD mappings moved */
	__u64 pud_moves;	/* out: PMD tables moved whole (one PUD entry); v2 */
	__u64 folios_relocated;	/* out: mapped folios given the destination's rmap; v2 */
	__u64 reserved[2];	/* room for more counters; must be zero on input */
};

#define RUST_MREMAP_IOC_MAGIC	0xBB
#define RUST_MREMAP_IOC_VERSION	_IOR(RUST_MREMAP_IOC_MAGIC, 0x00, struct rust_mremap_version)
#define RUST_MREMAP_IOC_MOVE	_IOWR(RUST_MREMAP_IOC_MAGIC, 0x01, struct rust_mremap_move)

#endif /* _UAPI_LINUX_RUST_MREMAP_H */
