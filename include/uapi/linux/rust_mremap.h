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

#define RUST_MREMAP_ABI_VERSION		5

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
/*
 * Do not wake the threads of the target waiting on a userfaultfd missing
 * fault in the destination range that moved (UFFDIO_MOVE_MODE_DONTWAKE).
 * Since ABI version 3.
 */
#define RUST_MREMAP_DONTWAKE		(1U << 3)
/*
 * The caller is the monitor: the uffd field holds a userfaultfd of the
 * target.  A move that touches a VMA registered with userfaultfd, on either
 * side, is allowed only with this flag and only if every such VMA is
 * registered with that userfaultfd's context (EPERM otherwise), as
 * UFFDIO_MOVE, an ioctl on the userfaultfd itself, is only ever issued by
 * the monitor.  An fd that is not a userfaultfd: EBADF.  Without the flag,
 * uffd must be 0.  Since ABI version 4.
 */
#define RUST_MREMAP_UFFD		(1U << 4)
/*
 * UFFDIO_MOVE's contract for what cannot move: a relocating move is not
 * planned up front, so an entry that cannot move (EBUSY: a shared, KSM or
 * maybe-pinned folio, a non-exclusive swap entry) stops it at that entry
 * (a page table that cannot move whole moves entry by entry up to it),
 * after everything before it moved, and moved (done) says exactly how far.
 * A populated destination is still refused up front (EEXIST, nothing
 * moved), and a move that shares rmap identity is unchanged.  For callers
 * that retry, such as a collector: the plan costs a second pass over every
 * entry.  Not with RUST_MREMAP_DRY_RUN (EINVAL).  Since ABI version 5.
 */
#define RUST_MREMAP_PARTIAL		(1U << 5)
#define RUST_MREMAP_FLAGS_ALL		(RUST_MREMAP_NO_REALIGN | RUST_MREMAP_DRY_RUN | \
					 RUST_MREMAP_RELOCATE | RUST_MREMAP_DONTWAKE | \
					 RUST_MREMAP_UFFD | RUST_MREMAP_PARTIAL)

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
	__s32 uffd;		/* with RUST_MREMAP_UFFD: a userfaultfd of the target; v4 */
	__u32 reserved0;	/* must be zero */
	__u64 reserved[1];	/* room for more counters; must be zero on input */
};

/*
 * One entry of a vectored move: [src, src + len) to [dst, dst + len), held
 * to the rules of struct rust_mremap_move.  Since ABI version 3.
 */
struct rust_mremap_vec {
	__u64 src;
	__u64 dst;
	__u64 len;
};

/*
 * The most entries one RUST_MREMAP_IOC_MOVEV takes: the array is copied
 * into kernel memory (24 bytes an entry, 1.5 MiB at most) and checked whole
 * before anything moves, under the target's mmap write lock.
 */
#define RUST_MREMAP_VEC_MAX	65536

/*
 * A vectored move: count entries of one target, in array order, under one
 * mmap write lock hold.  No two entries may overlap, on either side or
 * across sides (EINVAL).  Every entry is checked and planned before any
 * moves (with RUST_MREMAP_PARTIAL, checked but not planned); a move that
 * stops part-way stops in entry `done`, of which `moved` bytes moved, with
 * entries [0, done) moved whole.  Since ABI version 3.
 */
struct rust_mremap_movev {
	__s32 pidfd;		/* target process; RUST_MREMAP_PIDFD_SELF = caller */
	__u32 flags;		/* RUST_MREMAP_*, for every entry; unknown bits -> EINVAL */
	__u64 vec;		/* user address of count struct rust_mremap_vec */
	__u32 count;		/* 1..RUST_MREMAP_VEC_MAX */
	__u32 done;		/* out: entries moved whole, also on error */
	__u64 moved;		/* out: bytes of entry done that moved, also on error */
	__u32 err_index;	/* out: on error, the entry it concerns; count if none */
	__s32 uffd;		/* with RUST_MREMAP_UFFD: a userfaultfd of the target; v4 */
	__u64 pmd_moves;	/* out: summed over the entries, as in rust_mremap_move */
	__u64 pte_moves;
	__u64 huge_pmd_moves;
	__u64 pud_moves;
	__u64 folios_relocated;
	__u64 reserved[2];	/* must be zero */
};

#define RUST_MREMAP_IOC_MAGIC	0xBB
#define RUST_MREMAP_IOC_VERSION	_IOR(RUST_MREMAP_IOC_MAGIC, 0x00, struct rust_mremap_version)
#define RUST_MREMAP_IOC_MOVE	_IOWR(RUST_MREMAP_IOC_MAGIC, 0x01, struct rust_mremap_move)
#define RUST_MREMAP_IOC_MOVEV	_IOWR(RUST_MREMAP_IOC_MAGIC, 0x02, struct rust_mremap_movev)

#endif /* _UAPI_LINUX_RUST_MREMAP_H */
