// SPDX-License-Identifier: GPL-2.0
/*
 * rust_mremap errno selftest.
 *
 * Every row of the module's errno table, each as one TAP test.  Every
 * failing move is issued twice, first with RUST_MREMAP_DRY_RUN (which must
 * fail the same way) and then for real; both must report moved == 0 and
 * leave the target's memory byte-for-byte as it was (src keeps its pattern,
 * dst keeps what it had).  Then: a move of another process's memory through
 * a pidfd (PMD and PTE paths), and the ptrace rule (EPERM for uid 65534
 * against a root process, while the same unprivileged caller may move its
 * own memory).
 *
 * Runs as root with /dev/rust_mremap present.
 */
#include "rust_mremap_lib.h"

#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <linux/io_uring.h>
#include <linux/userfaultfd.h>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup	425
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register	427
#endif

#define SELF		RUST_MREMAP_PIDFD_SELF
#define RW		(PROT_READ | PROT_WRITE)
#define NOBODY		65534
#define KSM_RUN		"/sys/kernel/mm/ksm/run"
#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"
#define YAMA_SCOPE	"/proc/sys/kernel/yama/ptrace_scope"

static size_t ps;			/* base page size */
static size_t small;			/* size of the small regions: 16 pages */
static unsigned int next_seed = 0x5eed0000;

/* ---------------------------------------------------------------- helpers */

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) ? -errno : 0;
}

static bool write_long(const char *path, long v)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld\n", v);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, buf, len) == len;
	close(fd);
	return ok;
}

/*
 * Issue the move as a dry run and then for real; both must fail with
 * -@want and report moved == 0.  @tmpl->flags is or-ed with DRY_RUN for the
 * first call.
 */
static bool expect_errno_raw(const char *what, int fd, const struct rust_mremap_move *tmpl,
			     int want)
{
	static const unsigned int extra[2] = { RUST_MREMAP_DRY_RUN, 0 };
	bool ok = true;

	for (int i = 0; i < 2; i++) {
		struct rust_mremap_move m = *tmpl;
		int ret;

		rm_poison_out(&m);
		m.flags |= extra[i];
		ret = xioctl(fd, RUST_MREMAP_IOC_MOVE, &m);
		CHECK(ret == -want, "%s%s: returned %d (%s), expected -%d (%s)\n", what,
		      i ? "" : " [dry run]", ret, ret ? strerror(-ret) : "success", want,
		      strerror(want));
		CHECK(m.moved == 0, "%s%s: moved = %llu, expected 0\n", what, i ? "" : " [dry run]",
		      (unsigned long long)m.moved);
	}
	return ok;
}

static bool expect_errno(const char *what, int fd, int pidfd, unsigned int flags, const void *src,
			 const void *dst, size_t len, int want)
{
	struct rust_mremap_move m = {
		.pidfd = pidfd,
		.flags = flags,
		.src = (uintptr_t)src,
		.dst = (uintptr_t)dst,
		.len = len,
	};

	return expect_errno_raw(what, fd, &m, want);
}

/* ------------------------------------------------------ region placement */

/*
 * K_DEV_ZERO: MAP_PRIVATE of /dev/zero, anonymous to the fault path
 * (vma_set_anonymous()) but a file mapping with a file offset.
 */
enum kind { K_ANON, K_ANON_SHARED, K_FILE_PRIVATE, K_FILE_SHARED, K_DEV_ZERO };

/* Map @len bytes of @k at exactly @addr; files are unlinked temporaries in /tmp. */
static void *map_kind(void *addr, size_t len, enum kind k)
{
	int flags = MAP_FIXED_NOREPLACE, fd = -1;
	void *p;

	if (k == K_ANON)
		return rm_map_at(addr, len, RW);
	if (k == K_FILE_PRIVATE || k == K_FILE_SHARED) {
		char path[] = "/tmp/rust_mremap_errno_XXXXXX";

		fd = mkstemp(path);
		if (fd < 0) {
			ksft_print_msg("mkstemp: %s\n", strerror(errno));
			return NULL;
		}
		unlink(path);
		if (ftruncate(fd, len)) {
			ksft_print_msg("ftruncate: %s\n", strerror(errno));
			close(fd);
			return NULL;
		}
		flags |= k == K_FILE_SHARED ? MAP_SHARED : MAP_PRIVATE;
	} else if (k == K_DEV_ZERO) {
		fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			ksft_print_msg("open /dev/zero: %s\n", strerror(errno));
			return NULL;
		}
		flags |= MAP_PRIVATE;
	} else {
		flags |= MAP_SHARED | MAP_ANONYMOUS;
	}
	p = mmap(addr, len, RW, flags, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED) {
		ksft_print_msg("mmap kind %d at %p: %s\n", k, addr, strerror(errno));
		return NULL;
	}
	if (p != addr) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

/* A private anonymous mapping of @len bytes with a free page on either side. */
static uint8_t *map_single(size_t len)
{
	uint8_t *h = rm_find_hole(len, ps, 0, ps);
	uint8_t *p = h ? rm_map_at(h, len, RW) : NULL;

	if (!p)
		ksft_print_msg("cannot map %zu bytes: %s\n", len, strerror(errno));
	return p;
}

/*
 * Two separate fresh mappings: src (filled with the pattern of seed, offset
 * 0) and dst (never touched).  Both start on an @align boundary; with
 * @align == RM_PMD they occupy PMD slots of their own, so whole page tables
 * can move.  There is at least @align of free space between and around them.
 */
struct pair {
	uint8_t *src, *dst;
	size_t slen, dlen;
	unsigned int seed;
};

static void pair_unmap(struct pair *pr)
{
	if (pr->src)
		munmap(pr->src, pr->slen);
	if (pr->dst)
		munmap(pr->dst, pr->dlen);
	pr->src = pr->dst = NULL;
}

static bool pair_map_kinds(struct pair *pr, size_t slen, size_t dlen, size_t align,
			   enum kind sk, enum kind dk)
{
	size_t doff = ((slen + align - 1) & ~(align - 1)) + align;
	uint8_t *h = rm_find_hole(doff + dlen, align, 0, align);

	memset(pr, 0, sizeof(*pr));
	pr->slen = slen;
	pr->dlen = dlen;
	pr->seed = next_seed++;
	if (!h) {
		ksft_print_msg("no hole of %zu bytes\n", doff + dlen);
		return false;
	}
	pr->src = map_kind(h, slen, sk);
	pr->dst = pr->src ? map_kind(h + doff, dlen, dk) : NULL;
	if (!pr->src || !pr->dst) {
		ksft_print_msg("cannot map the src/dst pair\n");
		pair_unmap(pr);
		return false;
	}
	rm_fill(pr->src, slen, pr->seed, 0);
	return true;
}

static bool pair_map(struct pair *pr, size_t slen, size_t dlen, size_t align)
{
	return pair_map_kinds(pr, slen, dlen, align, K_ANON, K_ANON);
}

/* src still holds its pattern and dst still reads zero. */
/*
 * The move of the whole source of @pr that the sharing path (no
 * RUST_MREMAP_RELOCATE) must make where the relocating path refuses: it
 * succeeds, no folio is relocated, and the bytes arrive.
 */
static bool pair_moves_shared(const char *what, int fd, const struct pair *pr)
{
	struct rust_mremap_move m;
	int ret = rm_move(fd, SELF, 0, pr->src, pr->dst, pr->slen, &m);
	bool ok = true;

	if (ret || m.moved != pr->slen || m.folios_relocated) {
		ksft_print_msg(
			"%s, sharing path: %s, moved %llu, folios_relocated %llu; expected a move with none relocated\n",
			what, ret ? strerror(-ret) : "success", (unsigned long long)m.moved,
			(unsigned long long)m.folios_relocated);
		ok = false;
	}
	ok &= rm_chk_pat("dst", pr->dst, pr->slen, pr->seed, 0);
	ok &= rm_chk_zero("src", pr->src, pr->slen);
	return ok;
}

static bool pair_intact(const struct pair *pr)
{
	bool a = rm_chk_pat("src", pr->src, pr->slen, pr->seed, 0);
	bool b = rm_chk_zero("dst", pr->dst, pr->dlen);

	return a && b;
}

/* -------------------------------------------------- ABI and basic errno */

static enum res t_version(int fd)
{
	struct rust_mremap_version v;
	bool ok = true;
	int ret;

	memset(&v, 0xa5, sizeof(v));
	ret = xioctl(fd, RUST_MREMAP_IOC_VERSION, &v);
	CHECK(ret == 0, "RUST_MREMAP_IOC_VERSION: %s\n", strerror(-ret));
	CHECK(v.abi_version == RUST_MREMAP_ABI_VERSION, "abi_version %u, expected %u\n",
	      v.abi_version, RUST_MREMAP_ABI_VERSION);
	CHECK(v.move_size == sizeof(struct rust_mremap_move), "move_size %u, expected %zu\n",
	      v.move_size, sizeof(struct rust_mremap_move));
	CHECK(v.flags == RUST_MREMAP_FLAGS_ALL, "flags %#llx, expected %#llx\n",
	      (unsigned long long)v.flags, (unsigned long long)RUST_MREMAP_FLAGS_ALL);
	/* ABI 4: the userfaultfd monitor's flag (bit 4) and the uffd field. */
	CHECK(v.abi_version >= 4, "abi_version %u, expected at least 4\n", v.abi_version);
	CHECK(v.flags & RUST_MREMAP_UFFD, "flags %#llx lack RUST_MREMAP_UFFD (%#x)\n",
	      (unsigned long long)v.flags, RUST_MREMAP_UFFD);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_devnode(int fd)
{
	struct stat st, fst;
	bool ok = true;

	if (stat(RM_DEV, &st) || fstat(fd, &fst)) {
		ksft_print_msg("stat %s: %s\n", RM_DEV, strerror(errno));
		return R_FAIL;
	}
	CHECK(S_ISCHR(st.st_mode), "%s is not a character device (mode %#o)\n", RM_DEV, st.st_mode);
	CHECK((st.st_mode & 07777) == 0600, "%s has mode %04o, expected 0600\n", RM_DEV,
	      st.st_mode & 07777);
	CHECK(st.st_uid == 0, "%s is owned by uid %u, expected root\n", RM_DEV, st.st_uid);
	CHECK(st.st_rdev == fst.st_rdev, "the open fd is not %s\n", RM_DEV);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_unknown_cmd(int fd)
{
	struct pair pr;
	struct rust_mremap_move m;
	bool ok = true;
	int ret;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	memset(&m, 0, sizeof(m));
	m.pidfd = SELF;
	m.src = (uintptr_t)pr.src;
	m.dst = (uintptr_t)pr.dst;
	m.len = small;
	ret = xioctl(fd, _IO(RUST_MREMAP_IOC_MAGIC, 0x7f), &m);
	CHECK(ret == -ENOTTY, "_IO(magic, 0x7f): returned %d (%s), expected -ENOTTY\n", ret,
	      ret ? strerror(-ret) : "success");
	CHECK(m.moved == 0, "moved = %llu\n", (unsigned long long)m.moved);
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/*
 * The lowest unknown bit (bit 6 since ABI 5) and bit 31: EINVAL.  Bit 4 is
 * RUST_MREMAP_UFFD since ABI 4:
 * with it, uffd 0 (stdin, no userfaultfd) is refused as a bad fd, EBADF, not
 * as an unknown flag.
 */
static enum res t_unknown_flag(int fd)
{
	struct rust_mremap_move m;
	struct pair pr;
	bool ok;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	ok = expect_errno("lowest unknown flag bit", fd, SELF, RM_FLAG_FIRST_UNKNOWN, pr.src,
			  pr.dst, small, EINVAL);
	ok &= expect_errno("flag bit 31", fd, SELF, 1U << 31, pr.src, pr.dst, small, EINVAL);
	memset(&m, 0, sizeof(m));
	m.pidfd = SELF;
	m.flags = RUST_MREMAP_UFFD;
	m.src = (uintptr_t)pr.src;
	m.dst = (uintptr_t)pr.dst;
	m.len = small;
	m.uffd = 0;
	ok &= expect_errno_raw("RUST_MREMAP_UFFD (bit 4) with uffd 0, not a userfaultfd", fd, &m,
			       EBADF);
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

enum zero_field { Z_RESERVED0, Z_RESERVED_0, Z_UFFD };

/*
 * A field that must be zero, non-zero: reserved0 (u32), reserved[0] (u64),
 * or (ABI 4) uffd without RUST_MREMAP_UFFD, here also an open fd (the
 * device's), which the module must not look at without the flag.
 */
static enum res zero_field_test(int fd, enum zero_field f)
{
	static const char *const name[] = {
		[Z_RESERVED0] = "reserved0", [Z_RESERVED_0] = "reserved[0]",
		[Z_UFFD] = "uffd without RUST_MREMAP_UFFD",
	};
	const uint64_t vals[] = { 1, 1ULL << 31, 1ULL << 63, (uint64_t)fd };
	struct rust_mremap_move m;
	struct pair pr;
	bool ok = true;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
		char what[96];

		if (f != Z_RESERVED_0 && vals[i] >> 32)
			continue;
		if (f != Z_UFFD && vals[i] == (uint64_t)fd)
			continue;
		memset(&m, 0, sizeof(m));
		m.pidfd = SELF;
		m.src = (uintptr_t)pr.src;
		m.dst = (uintptr_t)pr.dst;
		m.len = small;
		if (f == Z_RESERVED0)
			m.reserved0 = (uint32_t)vals[i];
		else if (f == Z_RESERVED_0)
			m.reserved[0] = vals[i];
		else
			m.uffd = (int32_t)vals[i];
		snprintf(what, sizeof(what), "%s = %#llx", name[f], (unsigned long long)vals[i]);
		ok &= expect_errno_raw(what, fd, &m, EINVAL);
	}
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_reserved0(int fd)
{
	return zero_field_test(fd, Z_RESERVED0);
}

static enum res t_reserved_0(int fd)
{
	return zero_field_test(fd, Z_RESERVED_0);
}

static enum res t_uffd_without_flag(int fd)
{
	return zero_field_test(fd, Z_UFFD);
}

/*
 * A small pair and one bad move on it (src/dst given as offsets from the
 * pair's, or absolute when @abs_* is non-zero).
 */
static enum res simple_test(int fd, const char *what, ptrdiff_t src_off, ptrdiff_t dst_off,
			    uintptr_t abs_src, uintptr_t abs_dst, size_t len, int want)
{
	struct pair pr;
	const void *s, *d;
	bool ok;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	s = abs_src ? (const void *)abs_src : pr.src + src_off;
	d = abs_dst ? (const void *)abs_dst : pr.dst + dst_off;
	ok = expect_errno(what, fd, SELF, 0, s, d, len, want);
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_misaligned_src(int fd)
{
	return simple_test(fd, "src + page/2", ps / 2, 0, 0, 0, small - ps, EINVAL);
}

static enum res t_misaligned_dst(int fd)
{
	return simple_test(fd, "dst + page/2", 0, ps / 2, 0, 0, small - ps, EINVAL);
}

static enum res t_misaligned_len(int fd)
{
	return simple_test(fd, "len = n pages + page/2", 0, 0, 0, 0, small - ps + ps / 2, EINVAL);
}

static enum res t_len_zero(int fd)
{
	return simple_test(fd, "len = 0", 0, 0, 0, 0, 0, EINVAL);
}

/* The last page of the address space: [src, src + 2 pages) wraps past zero. */
static enum res t_src_wraps(int fd)
{
	return simple_test(fd, "src = ~0 page", 0, 0, UINTPTR_MAX & ~(uintptr_t)(ps - 1), 0,
			   2 * ps, EINVAL);
}

static enum res t_dst_wraps(int fd)
{
	return simple_test(fd, "dst = ~0 page", 0, 0, 0, UINTPTR_MAX & ~(uintptr_t)(ps - 1),
			   2 * ps, EINVAL);
}

static enum res t_src_beyond_user(int fd)
{
	uintptr_t lim = rm_user_va_limit();

	ksft_print_msg("user address space ends at or below %#lx\n", (unsigned long)lim);
	return simple_test(fd, "src = limit - page", 0, 0, lim - ps, 0, 2 * ps, EINVAL);
}

static enum res t_dst_beyond_user(int fd)
{
	return simple_test(fd, "dst = limit - page", 0, 0, 0, rm_user_va_limit() - ps, 2 * ps,
			   EINVAL);
}

/* One VMA of 8 pages, the first 4 populated; the move reads [p, p + 4 pages). */
static enum res overlap_test(int fd, const char *what, size_t dst_pages, int want)
{
	unsigned int seed = next_seed++;
	uint8_t *p = map_single(8 * ps);
	bool ok;

	if (!p)
		return R_FAIL;
	rm_fill(p, 4 * ps, seed, 0);
	ok = expect_errno(what, fd, SELF, 0, p, p + dst_pages * ps, 4 * ps, want);
	ok &= rm_chk_pat("src", p, 4 * ps, seed, 0);
	ok &= rm_chk_zero("rest of the VMA", p + 4 * ps, 4 * ps);
	munmap(p, 8 * ps);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_overlap_up(int fd)
{
	return overlap_test(fd, "dst = src + 2 pages, len 4 pages", 2, EINVAL);
}

static enum res t_dst_eq_src(int fd)
{
	return overlap_test(fd, "dst == src", 0, EINVAL);
}

static enum res t_prot_mismatch(int fd)
{
	struct pair pr;
	bool ok;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	if (mprotect(pr.src, pr.slen, PROT_READ)) {
		ksft_print_msg("mprotect: %s\n", strerror(errno));
		pair_unmap(&pr);
		return R_FAIL;
	}
	ok = expect_errno("src PROT_READ, dst PROT_READ|PROT_WRITE", fd, SELF, 0, pr.src, pr.dst,
			  small, EINVAL);
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_mlock_mismatch(int fd)
{
	struct pair pr;
	bool ok;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	if (mlock(pr.src, pr.slen)) {
		int e = errno;

		pair_unmap(&pr);
		return skip("mlock failed: %s (RLIMIT_MEMLOCK too small?)", strerror(e));
	}
	ok = expect_errno("src VM_LOCKED, dst not", fd, SELF, 0, pr.src, pr.dst, small, EINVAL);
	ok &= pair_intact(&pr);
	munlock(pr.src, pr.slen);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_bad_struct_ptr(int fd)
{
	struct rust_mremap_move *m;
	struct pair pr;
	bool ok = true;
	uint8_t *q;
	int ret;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	ret = xioctl(fd, RUST_MREMAP_IOC_MOVE, (void *)1);
	CHECK(ret == -EFAULT, "MOVE with arg 1: returned %d (%s), expected -EFAULT\n", ret,
	      ret ? strerror(-ret) : "success");
	ret = xioctl(fd, RUST_MREMAP_IOC_VERSION, (void *)1);
	CHECK(ret == -EFAULT, "VERSION with arg 1: returned %d (%s), expected -EFAULT\n", ret,
	      ret ? strerror(-ret) : "success");

	/* A struct whose first 16 bytes (pidfd, flags, src) are readable, the rest unmapped. */
	q = map_single(2 * ps);
	if (!q)
		ok = false;
	else {
		munmap(q + ps, ps);
		m = (struct rust_mremap_move *)(q + ps - 16);
		m->pidfd = SELF;
		m->flags = 0;
		m->src = (uintptr_t)pr.src;
		ret = xioctl(fd, RUST_MREMAP_IOC_MOVE, m);
		CHECK(ret == -EFAULT,
		      "MOVE with struct straddling an unmapped page: returned %d (%s), expected -EFAULT\n",
		      ret, ret ? strerror(-ret) : "success");
		munmap(q, ps);
	}
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/* ------------------------------------------------------------- EFAULT */

static enum res t_src_in_hole(int fd)
{
	struct pair pr;
	uint8_t *hole;
	bool ok;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	hole = rm_find_hole(small, ps, 0, ps);
	if (!hole)
		ksft_print_msg("no hole found\n");
	ok = hole && expect_errno("src in a hole", fd, SELF, 0, hole, pr.dst, small, EFAULT);
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/* src's VMA is followed by a free page; dst's VMA is a page longer than src's. */
static enum res t_src_past_vma_end(int fd)
{
	struct pair pr;
	bool ok;

	if (!pair_map(&pr, small, small + ps, ps))
		return R_FAIL;
	ok = expect_errno("src runs one page past its VMA", fd, SELF, 0, pr.src, pr.dst, small + ps,
			  EFAULT);
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/*
 * [p, p + len) is two adjacent VMAs that cannot merge: the first half keeps
 * PROT_READ|PROT_WRITE (agreeing with the other side of the move, so only
 * the span can be wrong), the second half becomes PROT_READ.
 */
static enum res spans_test(int fd, bool src_spans)
{
	size_t len = 2 * small;
	struct pair pr;
	uint8_t *split;
	bool ok;

	if (!pair_map(&pr, len, len, ps))
		return R_FAIL;
	split = (src_spans ? pr.src : pr.dst) + small;
	if (mprotect(split, small, PROT_READ)) {
		ksft_print_msg("mprotect: %s\n", strerror(errno));
		pair_unmap(&pr);
		return R_FAIL;
	}
	ok = expect_errno(src_spans ? "src spans two VMAs" : "dst spans two VMAs", fd, SELF, 0,
			  pr.src, pr.dst, len, EFAULT);
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_src_spans_vmas(int fd)
{
	return spans_test(fd, true);
}

static enum res t_dst_spans_vmas(int fd)
{
	return spans_test(fd, false);
}

static enum res t_dst_in_hole(int fd)
{
	struct pair pr;
	uint8_t *hole;
	bool ok;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	hole = rm_find_hole(small, ps, 0, ps);
	if (!hole)
		ksft_print_msg("no hole found\n");
	ok = hole && expect_errno("dst in a hole", fd, SELF, 0, pr.src, hole, small, EFAULT);
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/* ------------------------------------------------------- EOPNOTSUPP */

static enum res kind_test(int fd, const char *what, enum kind sk, enum kind dk)
{
	struct pair pr;
	bool ok;

	if (!pair_map_kinds(&pr, small, small, ps, sk, dk))
		return R_FAIL;
	ok = expect_errno(what, fd, SELF, 0, pr.src, pr.dst, small, EOPNOTSUPP);
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/* src's pages are anonymous COW copies, but the VMA is file-backed. */
static enum res t_file_private_src(int fd)
{
	return kind_test(fd, "src file MAP_PRIVATE", K_FILE_PRIVATE, K_ANON);
}

static enum res t_file_private_dst(int fd)
{
	return kind_test(fd, "dst file MAP_PRIVATE", K_ANON, K_FILE_PRIVATE);
}

/*
 * MAP_PRIVATE /dev/zero: adopting the source's rmap identity would
 * overwrite its file offset, so it is refused like any file mapping.
 */
static enum res t_dev_zero_src(int fd)
{
	return kind_test(fd, "src /dev/zero MAP_PRIVATE", K_DEV_ZERO, K_ANON);
}

static enum res t_dev_zero_dst(int fd)
{
	return kind_test(fd, "dst /dev/zero MAP_PRIVATE", K_ANON, K_DEV_ZERO);
}

static enum res t_shared_anon_src(int fd)
{
	return kind_test(fd, "src MAP_SHARED|MAP_ANONYMOUS", K_ANON_SHARED, K_ANON);
}

static enum res t_shared_file_src(int fd)
{
	return kind_test(fd, "src file MAP_SHARED", K_FILE_SHARED, K_ANON);
}

static size_t huge_page_size(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long kb = 0;
	char line[128];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %lu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb ? (size_t)kb << 10 : RM_PMD;
}

/*
 * If no huge page is free, the pool is grown by one page for the test and
 * shrunk back afterwards.
 */
static enum res t_hugetlb_src(int fd)
{
	size_t hps = huge_page_size();
	unsigned int seed = next_seed++;
	uint8_t *h, *d, *dst = NULL;
	bool grown = false, ok;
	enum res r;
	long nr;

	h = mmap(NULL, hps, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (h == MAP_FAILED && rm_read_long(NR_HUGEPAGES, &nr) &&
	    write_long(NR_HUGEPAGES, nr + 1)) {
		grown = true;
		h = mmap(NULL, hps, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	}
	if (h == MAP_FAILED) {
		r = skip("mmap(MAP_HUGETLB) failed: %s (no free %zu KiB huge page)",
			 strerror(errno), hps >> 10);
		goto out;
	}
	rm_fill(h, hps, seed, 0);
	d = rm_find_hole(hps, hps, 0, hps);
	dst = d ? rm_map_at(d, hps, RW) : NULL;
	if (!dst) {
		ksft_print_msg("cannot map dst\n");
		r = R_FAIL;
		goto out_unmap;
	}
	ok = expect_errno("src hugetlb", fd, SELF, 0, h, dst, hps, EOPNOTSUPP);
	ok &= rm_chk_pat("src", h, hps, seed, 0);
	ok &= rm_chk_zero("dst", dst, hps);
	r = ok ? R_PASS : R_FAIL;
	munmap(dst, hps);
out_unmap:
	munmap(h, hps);
out:
	if (grown)
		write_long(NR_HUGEPAGES, nr);
	return r;
}

/*
 * A VMA registered for missing faults only is accepted since ABI 3
 * (rust_mremap_uffd_test); any other mode, here MISSING|WP, is refused.
 */
static enum res t_uffd_wp_src(int fd)
{
	struct uffdio_register reg;
	struct uffdio_api api;
	struct pair pr;
	int uffd, e;
	bool ok;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (uffd < 0) {
		e = errno;
		pair_unmap(&pr);
		return skip("userfaultfd unavailable: %s", strerror(e));
	}
	memset(&api, 0, sizeof(api));
	api.api = UFFD_API;
	api.features = UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)pr.src;
	reg.range.len = pr.slen;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP;
	if (ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		e = errno;
		close(uffd);
		pair_unmap(&pr);
		return skip("userfaultfd UFFDIO_API/UFFDIO_REGISTER (MISSING|WP) failed: %s",
			    strerror(e));
	}
	ok = expect_errno("src registered with userfaultfd, MISSING|WP", fd, SELF, 0, pr.src,
			  pr.dst, small, EOPNOTSUPP);
	/* Unregister first: a page missing from src would otherwise block the check forever. */
	close(uffd);
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/* ------------------------------------------------------- EEXIST, EBUSY */

/*
 * 2 MiB at PMD-aligned, fresh src and dst (the whole-page-table path would
 * apply); one byte written in dst's last page.
 */
static enum res t_dst_populated(int fd)
{
	size_t at = RM_PMD - ps + 123;
	struct pair pr;
	bool ok;

	if (!pair_map(&pr, RM_PMD, RM_PMD, RM_PMD))
		return R_FAIL;
	pr.dst[at] = 0x5a;
	ok = expect_errno("one byte populated in dst's last page", fd, SELF, 0, pr.src, pr.dst,
			  RM_PMD, EEXIST);
	ok &= rm_chk_pat("src", pr.src, pr.slen, pr.seed, 0);
	ok &= rm_chk_zero("dst before the byte", pr.dst, at);
	if (pr.dst[at] != 0x5a) {
		ksft_print_msg("dst byte %#zx is %#x, expected 0x5a\n", at, pr.dst[at]);
		ok = false;
	}
	ok &= rm_chk_zero("dst after the byte", pr.dst + at + 1, pr.dlen - at - 1);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/*
 * fork(), then the parent writes every src page but the last (same byte
 * value, breaking COW), so exactly one folio - the last page - is still
 * shared with the child when the parent moves.
 */
/*
 * The last source page is still shared with a forked child.  Relocating,
 * its folio cannot take the destination's rmap (EBUSY); sharing rmap
 * identity, it moves as mremap() moves it, and the child keeps its own view.
 */
static enum res cow_shared_test(int fd, bool relocate)
{
	struct pair pr;
	int go[2], st;
	size_t n;
	pid_t pid;
	bool ok;

	if (!pair_map(&pr, RM_PMD, RM_PMD, RM_PMD))
		return R_FAIL;
	if (pipe2(go, O_CLOEXEC)) {
		ksft_print_msg("pipe: %s\n", strerror(errno));
		pair_unmap(&pr);
		return R_FAIL;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		ksft_print_msg("fork: %s\n", strerror(errno));
		close(go[0]);
		close(go[1]);
		pair_unmap(&pr);
		return R_FAIL;
	}
	if (pid == 0) {
		char c;

		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(11);
		/* The child's view: its src and dst exactly as at fork. */
		_exit(pair_intact(&pr) ? 0 : 1);
	}
	close(go[0]);
	n = pr.slen / ps;
	for (size_t i = 0; i + 1 < n; i++) {
		volatile uint8_t *b = pr.src + i * ps;

		*b = *b;
	}
	if (relocate) {
		ok = expect_errno("last src page COW-shared with a child", fd, SELF,
				  RUST_MREMAP_RELOCATE, pr.src, pr.dst, pr.slen, EBUSY);
		ok &= pair_intact(&pr);
	} else {
		ok = pair_moves_shared("last src page COW-shared with a child", fd, &pr);
	}
	if (write(go[1], "g", 1) != 1)
		ksft_print_msg("cannot wake the child: %s\n", strerror(errno));
	close(go[1]);
	st = rm_wait_status(pid);
	if (st != 0) {
		ksft_print_msg("child's memory check failed (status %d)\n", st);
		ok = false;
	}
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/* Pages of this process merged by KSM, or (older kernels) KSM pages system-wide. */
static long ksm_merged(void)
{
	long v;

	if (rm_read_long("/proc/self/ksm_merging_pages", &v))
		return v;
	if (rm_read_long("/sys/kernel/mm/ksm/pages_shared", &v))
		return v;
	return 0;
}

/*
 * 2 MiB of src whose last two pages are identical (and every other page
 * unique): once ksmd merges them, the last two pages map one KSM folio.
 */
static enum res t_ksm(int fd)
{
	unsigned int seed2 = next_seed++;
	long old_run, merged = 0;
	bool started = false, ok;
	struct pair pr;
	enum res r;
	size_t n;

	if (!rm_read_long(KSM_RUN, &old_run))
		return skip("KSM not available (%s missing, CONFIG_KSM off?)", KSM_RUN);
	if (!pair_map(&pr, RM_PMD, RM_PMD, RM_PMD))
		return R_FAIL;
	n = pr.slen / ps;
	rm_fill(pr.src + (n - 2) * ps, ps, seed2, 0);
	rm_fill(pr.src + (n - 1) * ps, ps, seed2, 0);
	if (madvise(pr.src, pr.slen, MADV_MERGEABLE)) {
		r = skip("madvise(MADV_MERGEABLE) failed: %s", strerror(errno));
		goto out;
	}
	if (old_run != 1) {
		if (!write_long(KSM_RUN, 1)) {
			r = skip("cannot start ksmd (write %s): %s", KSM_RUN, strerror(errno));
			goto out_unmerge;
		}
		started = true;
	}
	for (int i = 0; i < 200 && merged <= 0; i++) {
		usleep(100 * 1000);
		merged = ksm_merged();
	}
	if (merged <= 0) {
		r = skip("KSM did not merge the two identical pages within 20 s");
		goto out_run;
	}
	ok = expect_errno("src pages merged by KSM", fd, SELF, 0, pr.src, pr.dst, pr.slen, EBUSY);
	ok &= rm_chk_pat("src unique pages", pr.src, (n - 2) * ps, pr.seed, 0);
	ok &= rm_chk_pat("src KSM page 1", pr.src + (n - 2) * ps, ps, seed2, 0);
	ok &= rm_chk_pat("src KSM page 2", pr.src + (n - 1) * ps, ps, seed2, 0);
	ok &= rm_chk_zero("dst", pr.dst, pr.dlen);
	r = ok ? R_PASS : R_FAIL;
out_run:
	if (started)
		write_long(KSM_RUN, old_run);
out_unmerge:
	madvise(pr.src, pr.slen, MADV_UNMERGEABLE);
out:
	pair_unmap(&pr);
	return r;
}

/* The last src page registered as an io_uring fixed buffer (FOLL_PIN | FOLL_LONGTERM). */
static enum res t_cow_shared(int fd)
{
	return cow_shared_test(fd, true);
}

static enum res t_cow_shared_moves(int fd)
{
	return cow_shared_test(fd, false);
}

/*
 * The last source page is pinned by io_uring.  Relocating, the pin holder
 * may rely on its folio's rmap (EBUSY); sharing, nothing about the folio
 * changes, and it moves as mremap() moves it.
 */
static enum res pinned_test(int fd, bool relocate)
{
	struct io_uring_params p;
	struct iovec iov;
	struct pair pr;
	int ring, e;
	bool ok;

	if (!pair_map(&pr, RM_PMD, RM_PMD, RM_PMD))
		return R_FAIL;
	memset(&p, 0, sizeof(p));
	ring = (int)syscall(__NR_io_uring_setup, 1, &p);
	if (ring < 0) {
		e = errno;
		pair_unmap(&pr);
		if (e == ENOSYS)
			return skip("io_uring not available (ENOSYS)");
		return skip("io_uring_setup failed: %s (kernel.io_uring_disabled?)", strerror(e));
	}
	iov.iov_base = pr.src + pr.slen - ps;
	iov.iov_len = ps;
	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1)) {
		e = errno;
		close(ring);
		pair_unmap(&pr);
		return skip("IORING_REGISTER_BUFFERS failed: %s", strerror(e));
	}
	if (relocate) {
		ok = expect_errno("last src page pinned by io_uring", fd, SELF,
				  RUST_MREMAP_RELOCATE, pr.src, pr.dst, pr.slen, EBUSY);
		ok &= pair_intact(&pr);
	} else {
		ok = pair_moves_shared("last src page pinned by io_uring", fd, &pr);
	}
	close(ring);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_pinned(int fd)
{
	return pinned_test(fd, true);
}

static enum res t_pinned_moves(int fd)
{
	return pinned_test(fd, false);
}

/* ------------------------------------------------------ pidfd errors */

static enum res t_pidfd_not_pidfd(int fd)
{
	int efd, nfd, cfd;
	struct pair pr;
	bool ok = true;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	efd = eventfd(0, EFD_CLOEXEC);
	nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (efd < 0 || nfd < 0) {
		ksft_print_msg("eventfd / open /dev/null: %s\n", strerror(errno));
		ok = false;
	} else {
		cfd = dup(nfd);		/* a number that is no open fd */
		close(cfd);
		ok &= expect_errno("pidfd = eventfd", fd, efd, 0, pr.src, pr.dst, small, EBADF);
		ok &= expect_errno("pidfd = /dev/null", fd, nfd, 0, pr.src, pr.dst, small, EBADF);
		ok &= expect_errno("pidfd = closed fd", fd, cfd, 0, pr.src, pr.dst, small, EBADF);
	}
	if (efd >= 0)
		close(efd);
	if (nfd >= 0)
		close(nfd);
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/*
 * A child (with copies of the pair's mappings) that exits once woken; the
 * pidfd is opened while it is alive.  @reap: reaped by waitpid, else left
 * a zombie (waitid WNOWAIT) during the move.
 */
static enum res dead_child_test(int fd, bool reap)
{
	struct pair pr;
	int go[2], pidfd, st;
	siginfo_t si;
	pid_t pid;
	bool ok = true;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	if (pipe2(go, O_CLOEXEC)) {
		pair_unmap(&pr);
		return R_FAIL;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		close(go[0]);
		close(go[1]);
		pair_unmap(&pr);
		return R_FAIL;
	}
	if (pid == 0) {
		char c;

		close(go[1]);
		_exit(read(go[0], &c, 1) == 0 ? 0 : 1);
	}
	close(go[0]);
	pidfd = rm_pidfd_open(pid);
	if (pidfd < 0)
		ksft_print_msg("pidfd_open: %s\n", strerror(errno));
	close(go[1]);		/* the child reads EOF and exits */
	if (reap) {
		st = rm_wait_status(pid);
		CHECK(st == 0, "child exited with %d\n", st);
	} else {
		memset(&si, 0, sizeof(si));
		CHECK(!waitid(P_PID, pid, &si, WEXITED | WNOWAIT), "waitid: %s\n", strerror(errno));
	}
	if (pidfd >= 0) {
		ok &= expect_errno(reap ? "pidfd of a reaped child" : "pidfd of a zombie", fd,
				   pidfd, 0, pr.src, pr.dst, small, ESRCH);
		close(pidfd);
	} else {
		ok = false;
	}
	if (!reap) {
		st = rm_wait_status(pid);
		CHECK(st == 0, "child exited with %d\n", st);
	}
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_pidfd_reaped(int fd)
{
	return dead_child_test(fd, true);
}

static enum res t_pidfd_zombie(int fd)
{
	return dead_child_test(fd, false);
}

/* ------------------------------------------------ another process as target */

/*
 * A child that maps src (filled with the pattern) and dst (untouched) at
 * addresses chosen by the parent before fork, reports 'R' and waits for a
 * verdict byte: 'M' (the move happened: dst holds the pattern, src reads
 * zero) or 'U' (nothing happened: src holds the pattern, dst reads zero).
 * It exits 0 when its memory is as the verdict says.
 */
struct remote {
	pid_t pid;
	int ready_fd, go_fd;
	uint8_t *src, *dst;
	size_t len;
	unsigned int seed;
};

static __noreturn void remote_child(const struct remote *r, int ready_wr, int go_rd)
{
	char c = 'R';
	bool ok;

	if (!rm_map_at(r->src, r->len, RW) || !rm_map_at(r->dst, r->len, RW)) {
		c = 'F';
		rm_write_full(ready_wr, &c, 1);
		_exit(10);
	}
	rm_fill(r->src, r->len, r->seed, 0);
	if (!rm_write_full(ready_wr, &c, 1) || !rm_read_full(go_rd, &c, 1))
		_exit(11);
	if (c == 'M') {
		ok = rm_chk_pat("target dst", r->dst, r->len, r->seed, 0);
		ok &= rm_chk_zero("target src", r->src, r->len);
	} else {
		ok = rm_chk_pat("target src", r->src, r->len, r->seed, 0);
		ok &= rm_chk_zero("target dst", r->dst, r->len);
	}
	_exit(ok ? 0 : 1);
}

/* Send the verdict, reap the child; returns its exit status (see rm_wait_status()). */
static int remote_finish(struct remote *r, char verdict)
{
	rm_write_full(r->go_fd, &verdict, 1);
	close(r->go_fd);
	close(r->ready_fd);
	return rm_wait_status(r->pid);
}

static bool remote_start(struct remote *r)
{
	int ready[2], go[2];
	char c = 0;

	if (pipe2(ready, O_CLOEXEC))
		return false;
	if (pipe2(go, O_CLOEXEC)) {
		close(ready[0]);
		close(ready[1]);
		return false;
	}
	fflush(stdout);
	r->pid = fork();
	if (r->pid == 0) {
		close(ready[0]);
		close(go[1]);
		remote_child(r, ready[1], go[0]);
	}
	close(ready[1]);
	close(go[0]);
	r->ready_fd = ready[0];
	r->go_fd = go[1];
	if (r->pid < 0) {
		ksft_print_msg("fork: %s\n", strerror(errno));
		close(r->ready_fd);
		close(r->go_fd);
		return false;
	}
	if (!rm_read_full(r->ready_fd, &c, 1) || c != 'R') {
		ksft_print_msg("target child failed to map its memory\n");
		remote_finish(r, 'U');
		return false;
	}
	return true;
}

/*
 * Target memory placement: src at a PMD boundary, dst 6 MiB above it (also
 * PMD aligned), both 3 MiB, fresh, with free space around.
 */
static bool remote_place(struct remote *r, size_t len)
{
	uint8_t *h = rm_find_hole(RM_MB(9), RM_PMD, 0, RM_PMD);

	memset(r, 0, sizeof(*r));
	if (!h) {
		ksft_print_msg("no 9 MiB hole for the target's memory\n");
		return false;
	}
	r->src = h;
	r->dst = h + RM_MB(6);
	r->len = len;
	r->seed = next_seed++;
	return true;
}

/*
 * 3 MiB, src and dst PMD aligned: the first 2 MiB move as one page table
 * (pmd_moves = 1), the last 1 MiB as 256 PTEs.
 */
static enum res t_remote_move(int fd)
{
	struct rust_mremap_move m;
	size_t len = RM_MB(3);
	struct remote r;
	int pidfd, ret, st;
	bool ok = true;
	long scope;

	if (rm_read_long(YAMA_SCOPE, &scope) && scope >= 3)
		return skip("kernel.yama.ptrace_scope = 3 forbids ptrace attach, even for root");
	if (!remote_place(&r, len) || !remote_start(&r))
		return R_FAIL;
	pidfd = rm_pidfd_open(r.pid);
	if (pidfd < 0) {
		ksft_print_msg("pidfd_open: %s\n", strerror(errno));
		remote_finish(&r, 'U');
		return R_FAIL;
	}
	/*
	 * Without realignment the last MiB moves entry by entry (realigned, it
	 * would move whole: both ranges end where their VMAs do), so both the
	 * PMD and the PTE path move the other process's memory.
	 */
	ret = rm_move(fd, pidfd, RUST_MREMAP_DRY_RUN | RUST_MREMAP_NO_REALIGN, r.src, r.dst, len,
		      &m);
	CHECK(ret == 0, "dry run: %s\n", strerror(-ret));
	ok &= rm_counters_are("dry run", &m, 0, 1, RM_MB(1) / ps, 0);
	ret = rm_move(fd, pidfd, RUST_MREMAP_NO_REALIGN, r.src, r.dst, len, &m);
	CHECK(ret == 0, "move: %s\n", strerror(-ret));
	ok &= rm_counters_are("move", &m, len, 1, RM_MB(1) / ps, 0);
	st = remote_finish(&r, ret == 0 ? 'M' : 'U');
	CHECK(st == 0, "target's own check of its memory failed (status %d)\n", st);
	close(pidfd);
	return ok ? R_PASS : R_FAIL;
}

/* ------------------------------------------------------- ptrace rule */

/* What the unprivileged child saw; filled by t_eperm(), reported by t_unpriv_self() too. */
struct attacker_res {
	int drop_err;			/* errno of the failed privilege drop, 0 when dropped */
	int perm_ret[2];		/* dry run, real move of the root victim's memory */
	uint64_t perm_moved[2];
	int self_setup_failed;
	int self_ret;			/* its own memory, pidfd -1 */
	uint64_t self_moved, self_pmd, self_pte;
	int self_ok;			/* own dst holds the pattern and own src reads zero */
	size_t self_len;
};

static struct attacker_res unpriv;
static enum { UNPRIV_NOT_RUN, UNPRIV_SKIPPED, UNPRIV_RAN } unpriv_state;
static char unpriv_skip[256];

/* Inherits the open device fd and the victim's pidfd; opens nothing itself. */
static __noreturn void attacker(int fd, int vpidfd, const struct remote *v, int out)
{
	struct attacker_res res;
	struct rust_mremap_move m;
	uid_t ru, eu, su;
	struct pair pr;

	memset(&res, 0, sizeof(res));
	res.self_ret = 1;
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY)) {
		res.drop_err = errno;
	} else if (getresuid(&ru, &eu, &su) || ru != NOBODY || eu != NOBODY || su != NOBODY) {
		res.drop_err = EPERM;
	} else {
		for (int i = 0; i < 2; i++) {
			memset(&m, 0, sizeof(m));
			res.perm_ret[i] = rm_move(fd, vpidfd, i ? 0 : RUST_MREMAP_DRY_RUN, v->src,
						  v->dst, v->len, &m);
			res.perm_moved[i] = m.moved;
		}
		if (!pair_map(&pr, small, small, ps)) {
			res.self_setup_failed = 1;
		} else {
			memset(&m, 0, sizeof(m));
			res.self_len = pr.slen;
			res.self_ret = rm_move(fd, SELF, 0, pr.src, pr.dst, pr.slen, &m);
			res.self_moved = m.moved;
			res.self_pmd = m.pmd_moves;
			res.self_pte = m.pte_moves;
			if (res.self_ret == 0) {
				res.self_ok = rm_chk_pat("own dst", pr.dst, pr.dlen, pr.seed, 0);
				res.self_ok &= rm_chk_zero("own src", pr.src, pr.slen);
			}
			pair_unmap(&pr);
		}
	}
	_exit(rm_write_full(out, &res, sizeof(res)) ? 0 : 1);
}

static enum res t_eperm(int fd)
{
	int vpidfd, rp[2], st, vst;
	struct remote v;
	bool ok = true;
	pid_t a;

	if (geteuid() != 0) {
		snprintf(unpriv_skip, sizeof(unpriv_skip),
			 "needs root (root victim, uid %d caller)", NOBODY);
		unpriv_state = UNPRIV_SKIPPED;
		return skip("%s", unpriv_skip);
	}
	if (!remote_place(&v, RM_MB(3)) || !remote_start(&v))
		return R_FAIL;
	vpidfd = rm_pidfd_open(v.pid);
	if (vpidfd < 0 || pipe2(rp, O_CLOEXEC)) {
		ksft_print_msg("pidfd_open / pipe: %s\n", strerror(errno));
		if (vpidfd >= 0)
			close(vpidfd);
		remote_finish(&v, 'U');
		return R_FAIL;
	}
	fflush(stdout);
	a = fork();
	if (a == 0) {
		close(rp[0]);
		attacker(fd, vpidfd, &v, rp[1]);
	}
	close(rp[1]);
	if (a < 0) {
		ksft_print_msg("fork: %s\n", strerror(errno));
		ok = false;
	} else if (!rm_read_full(rp[0], &unpriv, sizeof(unpriv))) {
		ksft_print_msg("the unprivileged child reported nothing\n");
		ok = false;
	} else {
		unpriv_state = UNPRIV_RAN;
	}
	close(rp[0]);
	if (a > 0) {
		st = rm_wait_status(a);
		CHECK(st == 0, "unprivileged child exited with %d\n", st);
	}
	close(vpidfd);
	vst = remote_finish(&v, 'U');
	CHECK(vst == 0, "victim's own check of its memory failed (status %d)\n", vst);
	if (unpriv_state != UNPRIV_RAN)
		return R_FAIL;
	CHECK(!unpriv.drop_err, "dropping to uid/gid %d failed: %s\n", NOBODY,
	      strerror(unpriv.drop_err));
	if (unpriv.drop_err)
		return R_FAIL;
	for (int i = 0; i < 2; i++) {
		CHECK(unpriv.perm_ret[i] == -EPERM, "%s: returned %d (%s), expected -EPERM\n",
		      i ? "move" : "dry run", unpriv.perm_ret[i],
		      unpriv.perm_ret[i] ? strerror(-unpriv.perm_ret[i]) : "success");
		CHECK(unpriv.perm_moved[i] == 0, "%s: moved = %llu\n", i ? "move" : "dry run",
		      (unsigned long long)unpriv.perm_moved[i]);
	}
	return ok ? R_PASS : R_FAIL;
}

/* Same child, same fd, same creds as t_eperm(): its own memory moves. */
static enum res t_unpriv_self(int fd)
{
	bool ok = true;

	(void)fd;
	if (unpriv_state == UNPRIV_SKIPPED)
		return skip("%s", unpriv_skip);
	if (unpriv_state != UNPRIV_RAN || unpriv.drop_err) {
		ksft_print_msg("the unprivileged child did not get to move its own memory\n");
		return R_FAIL;
	}
	CHECK(!unpriv.self_setup_failed, "could not map its own pair\n");
	CHECK(unpriv.self_ret == 0, "own move (pidfd -1) returned %d (%s)\n", unpriv.self_ret,
	      unpriv.self_ret ? strerror(-unpriv.self_ret) : "success");
	CHECK(unpriv.self_moved == unpriv.self_len, "own move: moved %llu of %zu\n",
	      (unsigned long long)unpriv.self_moved, unpriv.self_len);
	CHECK(unpriv.self_pmd == 0 && unpriv.self_pte == unpriv.self_len / ps,
	      "own move: pmd_moves %llu pte_moves %llu, expected 0 and %zu\n",
	      (unsigned long long)unpriv.self_pmd, (unsigned long long)unpriv.self_pte,
	      unpriv.self_len / ps);
	CHECK(unpriv.self_ok, "own memory wrong after the move (see above)\n");
	return ok ? R_PASS : R_FAIL;
}

/* ------------------------------------- EOPNOTSUPP on the destination side */

static enum res t_shared_anon_dst(int fd)
{
	return kind_test(fd, "dst MAP_SHARED|MAP_ANONYMOUS", K_ANON, K_ANON_SHARED);
}

static enum res t_shared_file_dst(int fd)
{
	return kind_test(fd, "dst file MAP_SHARED", K_ANON, K_FILE_SHARED);
}

static enum res t_hugetlb_dst(int fd)
{
	size_t hps = huge_page_size();
	uint8_t *h, *src;
	struct pair pr;
	bool ok;

	if (!pair_map(&pr, hps, hps, hps))
		return R_FAIL;
	/* Replace the anonymous dst with a hugetlb mapping at the same place. */
	munmap(pr.dst, pr.dlen);
	h = mmap(pr.dst, hps, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED_NOREPLACE,
		 -1, 0);
	if (h != pr.dst) {
		ksft_print_msg("mmap(MAP_HUGETLB) of dst: %s (the guest reserves huge pages)\n",
			       strerror(errno));
		pr.dst = NULL;
		pair_unmap(&pr);
		return R_FAIL;
	}
	src = pr.src;
	ok = expect_errno("dst hugetlb", fd, SELF, 0, src, h, hps, EOPNOTSUPP);
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/* As t_uffd_wp_src(), for the destination. */
static enum res t_uffd_wp_dst(int fd)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP };
	struct uffdio_register reg;
	struct pair pr;
	int uffd;
	bool ok;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)pr.dst;
	reg.range.len = pr.dlen;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP;
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		ksft_print_msg("userfaultfd registration of dst (MISSING|WP): %s\n",
			       strerror(errno));
		if (uffd >= 0)
			close(uffd);
		pair_unmap(&pr);
		return R_FAIL;
	}
	ok = expect_errno("dst registered with userfaultfd, MISSING|WP", fd, SELF, 0, pr.src,
			  pr.dst, small, EOPNOTSUPP);
	/* Unregister first: a missing page of dst would otherwise block the check forever. */
	close(uffd);
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/* --------------------------------------- EEXIST: every kind of dst entry */

enum dst_entry { E_ZERO_PAGE, E_SWAP, E_MARKER, E_THP };

/*
 * A 2 MiB PMD-aligned pair whose destination holds one entry of @kind
 * (in its last page, or the whole PMD for a THP): the move and its dry
 * run must fail with EEXIST and change nothing, whichever path (whole
 * table, THP, single entries) the move would have taken.
 */
static enum res eexist_test(int fd, enum dst_entry kind)
{
	uint8_t *last;
	struct pair pr;
	uint64_t e = 0;
	bool ok = true;

	if (!pair_map(&pr, RM_PMD, RM_PMD, RM_PMD))
		return R_FAIL;
	last = pr.dst + RM_PMD - ps;
	switch (kind) {
	case E_ZERO_PAGE:
		ok = *(volatile uint8_t *)last == 0;
		ok &= rm_pagemap(last, 1, &e) && (e & RM_PM_PRESENT);
		CHECK(ok, "a read of dst's last page did not map the zero page (pagemap %#llx)\n",
		      (unsigned long long)e);
		break;
	case E_SWAP:
		*last = 0x5a;
		for (int i = 0; i < 20 && !(e & RM_PM_SWAP); i++) {
			madvise(last, ps, MADV_PAGEOUT);
			if (!rm_pagemap(last, 1, &e))
				break;
		}
		CHECK(e & RM_PM_SWAP, "dst's last page is not swapped out (pagemap %#llx)\n",
		      (unsigned long long)e);
		break;
	case E_MARKER:
		CHECK(!madvise(last, ps, MADV_GUARD_INSTALL), "MADV_GUARD_INSTALL: %s\n",
		      strerror(errno));
		break;
	case E_THP:
		CHECK(!madvise(pr.dst, RM_PMD, MADV_HUGEPAGE), "MADV_HUGEPAGE: %s\n",
		      strerror(errno));
		*last = 0x5a;
		CHECK(rm_anon_huge_kb(pr.dst) >= 2048,
		      "dst is not one THP (AnonHugePages %ld kB)\n", rm_anon_huge_kb(pr.dst));
		break;
	}
	if (!ok) {
		pair_unmap(&pr);
		return R_FAIL;
	}
	for (int relocate = 0; relocate < 2; relocate++)
		ok &= expect_errno("dst holds an entry", fd, SELF,
				   relocate ? RUST_MREMAP_RELOCATE : 0, pr.src, pr.dst, RM_PMD,
				   EEXIST);
	ok &= rm_chk_pat("src", pr.src, pr.slen, pr.seed, 0);
	if (kind != E_MARKER) {
		ok &= rm_chk_zero("dst but its last page", pr.dst, RM_PMD - ps);
		CHECK(*last == (kind == E_ZERO_PAGE ? 0 : 0x5a), "dst's last page lost its byte\n");
	} else {
		CHECK(rm_pagemap(pr.dst, 1, &e) && !(e & (RM_PM_PRESENT | RM_PM_SWAP)),
		      "dst's first page was populated by the refused move\n");
	}
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_eexist_zero_page(int fd)
{
	return eexist_test(fd, E_ZERO_PAGE);
}

static enum res t_eexist_swap(int fd)
{
	return eexist_test(fd, E_SWAP);
}

static enum res t_eexist_marker(int fd)
{
	return eexist_test(fd, E_MARKER);
}

static enum res t_eexist_thp(int fd)
{
	return eexist_test(fd, E_THP);
}

/* ------------------------------- the order of the checks: two errors at once */

/* src in a hole, dst populated: the src range check comes first (EFAULT). */
static enum res t_order_hole_before_eexist(int fd)
{
	struct pair pr;
	uint8_t *hole;
	bool ok;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	hole = rm_find_hole(small, ps, 0, ps);
	if (!hole) {
		pair_unmap(&pr);
		return R_FAIL;
	}
	pr.dst[0] = 1;
	ok = expect_errno("src in a hole, dst populated", fd, SELF, 0, hole, pr.dst, small, EFAULT);
	ok &= rm_chk_pat("src", pr.src, pr.slen, pr.seed, 0);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/* dst read-only and populated: the VMA pair check comes first (EINVAL). */
static enum res t_order_prot_before_eexist(int fd)
{
	struct pair pr;
	bool ok;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	pr.dst[0] = 1;
	mprotect(pr.dst, pr.dlen, PROT_READ);
	ok = expect_errno("dst read-only and populated", fd, SELF, 0, pr.src, pr.dst, small,
			  EINVAL);
	ok &= rm_chk_pat("src", pr.src, pr.slen, pr.seed, 0);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/* dst populated, src pinned, relocating: EEXIST for the whole destination first. */
static enum res t_order_eexist_before_ebusy(int fd)
{
	struct io_uring_params p = { 0 };
	struct iovec iov;
	struct pair pr;
	int ring;
	bool ok;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	ring = (int)syscall(__NR_io_uring_setup, 1, &p);
	iov.iov_base = pr.src;
	iov.iov_len = pr.slen;
	if (ring < 0 || syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1)) {
		ksft_print_msg("io_uring pin of src: %s\n", strerror(errno));
		if (ring >= 0)
			close(ring);
		pair_unmap(&pr);
		return R_FAIL;
	}
	pr.dst[pr.dlen - 1] = 1;
	ok = expect_errno("src pinned, dst populated, relocating", fd, SELF, RUST_MREMAP_RELOCATE,
			  pr.src, pr.dst, small, EEXIST);
	close(ring);
	ok &= rm_chk_pat("src", pr.src, pr.slen, pr.seed, 0);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/* src sealed, dst file-backed: src's VMA checks come before dst's (EPERM). */
static enum res t_order_src_sealed_before_dst_kind(int fd)
{
	struct pair pr;
	bool ok;

	if (!pair_map_kinds(&pr, small, small, ps, K_ANON, K_FILE_PRIVATE))
		return R_FAIL;
	if (syscall(__NR_mseal, pr.src, pr.slen, 0)) {
		ksft_print_msg("mseal: %s\n", strerror(errno));
		pair_unmap(&pr);
		return R_FAIL;
	}
	ok = expect_errno("src sealed, dst file-backed", fd, SELF, 0, pr.src, pr.dst, small, EPERM);
	ok &= rm_chk_pat("src", pr.src, pr.slen, pr.seed, 0);
	ok &= rm_chk_zero("dst", pr.dst, pr.dlen);
	/* A sealed VMA cannot be unmapped: it stays until the test exits. */
	munmap(pr.dst, pr.dlen);
	return ok ? R_PASS : R_FAIL;
}

/* src file-backed, dst sealed: src's kind is checked first (EOPNOTSUPP). */
static enum res t_order_src_kind_before_dst_sealed(int fd)
{
	struct pair pr;
	bool ok;

	if (!pair_map_kinds(&pr, small, small, ps, K_FILE_PRIVATE, K_ANON))
		return R_FAIL;
	if (syscall(__NR_mseal, pr.dst, pr.dlen, 0)) {
		ksft_print_msg("mseal: %s\n", strerror(errno));
		pair_unmap(&pr);
		return R_FAIL;
	}
	ok = expect_errno("src file-backed, dst sealed", fd, SELF, 0, pr.src, pr.dst, small,
			  EOPNOTSUPP);
	ok &= rm_chk_pat("src", pr.src, pr.slen, pr.seed, 0);
	munmap(pr.src, pr.slen);
	return ok ? R_PASS : R_FAIL;
}

/* ------------------------- an unprivileged caller, a target of its own uid */

/*
 * Both drop to uid/gid nobody; the target makes itself dumpable again
 * (credential changes clear it), so the caller may ptrace-attach to it,
 * and the move is allowed: the rule is ptrace's, not "root only".  The
 * device was opened by root before the drop.
 */
static enum res t_unpriv_same_uid(int fd)
{
	int addr[2], done[2], res[2], vst, ast, ret = 1;
	struct { uint64_t src, dst, len; unsigned int seed; } a;
	pid_t v, c;
	char b = 0;

	if (geteuid() != 0)
		return skip("needs root to drop to uid %d", NOBODY);
	if (pipe2(addr, O_CLOEXEC) || pipe2(done, O_CLOEXEC) || pipe2(res, O_CLOEXEC))
		return R_FAIL;
	fflush(stdout);
	v = fork();
	if (v == 0) {
		struct pair pr;

		if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY) || prctl(PR_SET_DUMPABLE, 1) ||
		    !pair_map(&pr, small, small, ps))
			_exit(2);
		a.src = (uintptr_t)pr.src;
		a.dst = (uintptr_t)pr.dst;
		a.len = small;
		a.seed = pr.seed;
		if (!rm_write_full(addr[1], &a, sizeof(a)) || !rm_read_full(done[0], &b, 1))
			_exit(3);
		/* The caller moved it: dst holds the pattern, src reads zero. */
		_exit(rm_check(pr.dst, small, pr.seed, 0) == (size_t)-1 &&
		      rm_all_zero(pr.src, small) ? 0 : 1);
	}
	if (!rm_read_full(addr[0], &a, sizeof(a))) {
		kill(v, SIGKILL);
		rm_wait_status(v);
		return R_FAIL;
	}
	c = fork();
	if (c == 0) {
		struct rust_mremap_move m = { 0 };
		int pidfd, r;

		if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			_exit(2);
		pidfd = rm_pidfd_open(v);
		r = pidfd < 0 ? -errno : rm_move(fd, pidfd, 0, (void *)(uintptr_t)a.src,
						 (void *)(uintptr_t)a.dst, a.len, &m);
		if (!r && m.moved != a.len)
			r = -ERANGE;
		_exit(rm_write_full(res[1], &r, sizeof(r)) ? 0 : 2);
	}
	if (!rm_read_full(res[0], &ret, sizeof(ret)))
		ret = 1;
	ast = rm_wait_status(c);
	rm_write_full(done[1], &b, 1);
	vst = rm_wait_status(v);
	close(addr[0]); close(addr[1]); close(done[0]); close(done[1]);
	close(res[0]); close(res[1]);
	if (ret || ast || vst) {
		ksft_print_msg(
			"uid %d moving another uid %d process: %d (%s), caller exit %d, target's check %d\n",
			NOBODY, NOBODY, ret, ret > 0 ? "no result" : strerror(-ret), ast, vst);
		return R_FAIL;
	}
	return R_PASS;
}

/* ------------------------------------------- EBUSY: the other listed causes */

/*
 * Swapped out, then forked: fork makes the parent's swap entries
 * non-exclusive (the child holds them too).  Relocating, such an entry
 * cannot take the destination's rmap (EBUSY); sharing, it moves.
 */
static enum res swap_shared_test(int fd, bool relocate)
{
	uint64_t e = 0;
	struct pair pr;
	int go[2];
	pid_t pid;
	bool ok = true;
	char c = 0;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	for (int i = 0; i < 20; i++) {
		madvise(pr.src, pr.slen, MADV_PAGEOUT);
		if (rm_pagemap(pr.src + pr.slen - ps, 1, &e) && (e & RM_PM_SWAP))
			break;
	}
	if (!(e & RM_PM_SWAP) || pipe2(go, O_CLOEXEC)) {
		ksft_print_msg("src's last page is not swapped out (pagemap %#llx)\n",
			       (unsigned long long)e);
		pair_unmap(&pr);
		return R_FAIL;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		_exit(read(go[0], &c, 1) < 0);
	}
	close(go[0]);
	if (relocate)
		ok = expect_errno("src swap entries shared with a child, relocating", fd, SELF,
				  RUST_MREMAP_RELOCATE, pr.src, pr.dst, small, EBUSY) &&
		     pair_intact(&pr);
	else
		ok = pair_moves_shared("src swap entries shared with a child", fd, &pr);
	close(go[1]);
	CHECK(pid > 0 && rm_wait_status(pid) == 0, "the child did not exit cleanly\n");
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_swap_shared(int fd)
{
	return swap_shared_test(fd, true);
}

static enum res t_swap_shared_moves(int fd)
{
	return swap_shared_test(fd, false);
}

/* A guard marker in the source: relocating, a marker cannot move (EBUSY). */
static enum res t_marker_src(int fd)
{
	struct pair pr;
	bool ok = true;

	if (!pair_map(&pr, small, small, ps))
		return R_FAIL;
	CHECK(!madvise(pr.src + 3 * ps, ps, MADV_GUARD_INSTALL), "MADV_GUARD_INSTALL: %s\n",
	      strerror(errno));
	if (ok)
		ok = expect_errno("a guard marker in src, relocating", fd, SELF,
				  RUST_MREMAP_RELOCATE, pr.src, pr.dst, small, EBUSY);
	/* Everything but the guarded page still holds its pattern; dst is empty. */
	ok &= rm_chk_pat("src below the marker", pr.src, 3 * ps, pr.seed, 0);
	ok &= rm_chk_pat("src above the marker", pr.src + 4 * ps, pr.slen - 4 * ps, pr.seed,
			 4 * ps);
	ok &= rm_chk_zero("dst", pr.dst, pr.dlen);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/*
 * Half of a THP whose other half is pinned: relocating, the THP must be
 * split first and a pinned folio cannot be (EBUSY); nothing moves.
 */
static enum res t_thp_unsplittable(int fd)
{
	struct io_uring_params p = { 0 };
	struct iovec iov;
	struct pair pr;
	bool ok = true;
	int ring;

	if (!pair_map(&pr, RM_PMD, RM_PMD, RM_PMD))
		return R_FAIL;
	/* The filled source becomes one THP. */
	CHECK(!madvise(pr.src, RM_PMD, MADV_HUGEPAGE) && !madvise(pr.src, RM_PMD, MADV_COLLAPSE),
	      "MADV_HUGEPAGE/MADV_COLLAPSE of src: %s\n", strerror(errno));
	CHECK(rm_anon_huge_kb(pr.src) >= 2048, "src is not one THP (AnonHugePages %ld kB)\n",
	      rm_anon_huge_kb(pr.src));
	ring = (int)syscall(__NR_io_uring_setup, 1, &p);
	iov.iov_base = pr.src + RM_PMD - ps;
	iov.iov_len = ps;
	CHECK(ring >= 0 && !syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1),
	      "io_uring pin of the THP's last page: %s\n", strerror(errno));
	if (ok)
		ok = expect_errno("first half of a pinned THP, relocating", fd, SELF,
				  RUST_MREMAP_RELOCATE, pr.src, pr.dst, RM_PMD / 2, EBUSY);
	if (ring >= 0)
		close(ring);
	ok &= pair_intact(&pr);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

/* Nanoseconds since *@t0 (CLOCK_MONOTONIC). */
static long ns_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

/*
 * A pin that appears during the move: a relocating move of 64 MiB (32
 * tables) while another thread registers the last source page as an
 * io_uring buffer after a delay.  GUP-fast needs no mmap lock, so the pin
 * lands while the move runs; the table holding that page is checked for
 * pins when its turn comes, cannot move whole, and moves entry by entry up
 * to the pinned page: EBUSY, part-way, with exactly everything before that
 * page at the destination.  The delay is
 * swept until a pin lands mid-move; every trial's result must be exact.
 */
#define PD_LEN	RM_MB(64)

static struct {
	uint8_t *page;
	long delay_us;
	int ring;
	volatile int go, done, registered;
} pd;

static void *pd_pinner(void *arg)
{
	struct iovec iov = { pd.page, 4096 };

	(void)arg;
	while (!pd.go)
		;
	usleep(pd.delay_us);
	pd.registered = !syscall(__NR_io_uring_register, pd.ring, IORING_REGISTER_BUFFERS, &iov, 1);
	pd.done = 1;
	return NULL;
}

static enum res t_pin_during_move(int fd)
{
	struct io_uring_params p = { 0 };
	bool ok = true, partway = false;
	long delay = 100000, move_us = 0;

	pd.ring = (int)syscall(__NR_io_uring_setup, 1, &p);
	if (pd.ring < 0) {
		ksft_print_msg("io_uring_setup: %s\n", strerror(errno));
		return R_FAIL;
	}
	for (int trial = 0; trial < 12 && ok && !partway; trial++) {
		struct rust_mremap_move m;
		struct timespec t0;
		long took_us;
		struct pair pr;
		pthread_t th;
		size_t moved;
		int ret;

		if (!pair_map(&pr, PD_LEN, PD_LEN, RM_PMD)) {
			ok = false;
			break;
		}
		pd.page = pr.src + PD_LEN - ps;
		pd.delay_us = delay;
		pd.go = pd.done = pd.registered = 0;
		pthread_create(&th, NULL, pd_pinner, NULL);
		pd.go = 1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ret = rm_move(fd, SELF, RUST_MREMAP_RELOCATE, pr.src, pr.dst, PD_LEN, &m);
		took_us = ns_since(&t0) / 1000;
		pthread_join(th, NULL);
		moved = m.moved;
		/* The first trial times the move; later ones pin at 1/10, 2/10... of it. */
		if (!trial)
			move_us = took_us;
		delay = move_us * (trial + 1) / 10;
		ksft_print_msg(
			"pin after %ld us into a %ld us move: %s, moved %zu of %zu KiB, pin %s\n",
			pd.delay_us, move_us, ret ? strerror(-ret) : "success", moved >> 10,
			PD_LEN >> 10, pd.registered ? "held" : "failed");
		if (ret == -EBUSY && moved) {
			/*
			 * Stopped exactly at the pinned page (the last): a table
			 * that cannot move whole goes entry by entry up to it.
			 */
			partway = true;
			CHECK(moved == PD_LEN - ps,
			      "moved %zu, expected everything before the pinned page\n", moved);
			/* The pinned page did not move. */
			ok &= rm_chk_pat("the pinned source page", pd.page, ps, pr.seed,
					 PD_LEN - ps);
		} else {
			/* Success, or EBUSY with nothing moved (the pin came before the move). */
			CHECK(ret == 0 || ret == -EBUSY, "unexpected result %d\n", ret);
		}
		CHECK(moved <= PD_LEN && !(moved % ps), "bogus moved %zu\n", moved);
		if (ok && moved + ps <= PD_LEN) {
			ok &= rm_chk_pat("dst [0, moved)", pr.dst, moved, pr.seed, 0);
			ok &= rm_chk_pat("src [moved, len) but its last page", pr.src + moved,
					 PD_LEN - moved - ps, pr.seed, moved);
		} else if (ok && moved == PD_LEN) {
			/* All moved, the pin came after (it faulted a new page in at src). */
			ok &= rm_chk_pat("dst", pr.dst, PD_LEN, pr.seed, 0);
		}
		if (pd.registered)
			syscall(__NR_io_uring_register, pd.ring, IORING_UNREGISTER_BUFFERS, NULL,
				0);
		pair_unmap(&pr);
	}
	close(pd.ring);
	CHECK(partway, "no pin landed during the move in 12 trials\n");
	return ok ? R_PASS : R_FAIL;
}

/*
 * A relocating move never moves a pinned page, whenever the pin lands: a
 * pin taken before a page's table is checked is refused there (the table
 * then moves entry by entry up to the pinned page, which stays); one taken
 * between that check and the clear of the table must be seen by the check
 * after the clear (GUP-fast needs no mmap lock); one taken after the clear
 * finds no entry at src and waits for the move.  So after a move that
 * succeeded while a pin was taken on a source page, no page at the
 * destination may be pinned, which a relocating dry run from there says
 * (EBUSY for a maybe-pinned folio).  One table per trial, the pin at a
 * delay swept over the move's time, for a few seconds.
 */
#define PR_SECONDS	5

static struct {
	uint8_t *page;
	long delay_ns;
	int ring;
	volatile int go, registered;
} pr_pin;

static void *pr_pinner(void *arg)
{
	struct iovec iov = { pr_pin.page, 4096 };
	struct timespec t0;

	(void)arg;
	while (!pr_pin.go)
		;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ns_since(&t0) < pr_pin.delay_ns)
		;
	pr_pin.registered = !syscall(__NR_io_uring_register, pr_pin.ring,
				     IORING_REGISTER_BUFFERS, &iov, 1);
	return NULL;
}

static enum res t_pin_race(int fd)
{
	long move_ns = 0, trials = 0, refused = 0, moved_then_pinned = 0;
	struct io_uring_params p = { 0 };
	struct timespec start;
	bool ok = true;

	pr_pin.ring = (int)syscall(__NR_io_uring_setup, 1, &p);
	if (pr_pin.ring < 0) {
		ksft_print_msg("io_uring_setup: %s\n", strerror(errno));
		return R_FAIL;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (ok && ns_since(&start) < PR_SECONDS * 1000000000L) {
		struct rust_mremap_move m, dry;
		struct pair pr, probe;
		struct timespec t0;
		pthread_t th;
		int ret, dret;

		if (!pair_map(&pr, RM_PMD, RM_PMD, RM_PMD) ||
		    !pair_map(&probe, ps, RM_PMD, RM_PMD)) {
			ok = false;
			break;
		}
		/* Pages all over the table: each is checked at another time. */
		pr_pin.page = pr.src + (size_t)(trials * 37 % 512) * ps;
		pr_pin.delay_ns = trials ? move_ns * (trials % 12) / 10 : 0;
		pr_pin.go = pr_pin.registered = 0;
		pthread_create(&th, NULL, pr_pinner, NULL);
		pr_pin.go = 1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ret = rm_move(fd, SELF, RUST_MREMAP_RELOCATE, pr.src, pr.dst, RM_PMD, &m);
		if (!trials || !move_ns)
			move_ns = ns_since(&t0);
		pthread_join(th, NULL);
		trials++;
		if (ret == -EBUSY) {
			size_t off = (size_t)(pr_pin.page - pr.src);

			refused++;
			/*
			 * Refused before anything moved (the plan saw the pin),
			 * or the table could not move whole and moved entry by
			 * entry up to the pinned page: exactly the bytes before it.
			 */
			CHECK(m.moved == 0 || m.moved == off,
			      "EBUSY, but moved %llu of one table (the pinned page at %zu)\n",
			      (unsigned long long)m.moved, off);
			if (m.moved == 0 || m.moved == off) {
				if (m.moved)
					ok &= rm_chk_pat("dst before the pinned page", pr.dst,
							 m.moved, pr.seed, 0);
				ok &= rm_chk_pat("src from the pinned page on", pr.src + m.moved,
						 RM_PMD - m.moved, pr.seed, m.moved);
			}
		} else if (ret == 0 && pr_pin.registered) {
			moved_then_pinned++;
			dret = rm_move(fd, SELF, RUST_MREMAP_RELOCATE | RUST_MREMAP_DRY_RUN, pr.dst,
				       probe.dst, RM_PMD, &dry);
			CHECK(dret == 0,
			      "trial %ld: the move succeeded, and a page at dst is pinned (a relocating dry run from there: %s): a pin taken during the move was moved\n",
			      trials, dret ? strerror(-dret) : "ok");
		} else {
			CHECK(ret == 0, "trial %ld: unexpected result %s\n", trials,
			      strerror(-ret));
		}
		if (pr_pin.registered)
			syscall(__NR_io_uring_register, pr_pin.ring, IORING_UNREGISTER_BUFFERS,
				NULL, 0);
		pair_unmap(&probe);
		pair_unmap(&pr);
	}
	close(pr_pin.ring);
	ksft_print_msg(
		"%ld trials of a %ld us relocating table move with a racing pin: %ld refused (EBUSY), %ld moved with the pin landing after\n",
		trials, move_ns / 1000, refused, moved_then_pinned);
	CHECK(refused && moved_then_pinned,
	      "the pins did not land both before and after the move's checks\n");
	return ok ? R_PASS : R_FAIL;
}

/* ------------------------------------------------------------------ main */

static const struct {
	const char *name;
	enum res (*fn)(int fd);
} tests[] = {
	{ "version_ioctl",			t_version },
	{ "devnode_chr_0600",			t_devnode },
	{ "unknown_cmd_ENOTTY",			t_unknown_cmd },
	{ "unknown_flag_EINVAL",		t_unknown_flag },
	{ "reserved0_EINVAL",			t_reserved0 },
	{ "reserved_array_0_EINVAL",		t_reserved_0 },
	{ "uffd_without_flag_EINVAL",		t_uffd_without_flag },
	{ "misaligned_src_EINVAL",		t_misaligned_src },
	{ "misaligned_dst_EINVAL",		t_misaligned_dst },
	{ "misaligned_len_EINVAL",		t_misaligned_len },
	{ "len_zero_EINVAL",			t_len_zero },
	{ "src_wraps_EINVAL",			t_src_wraps },
	{ "dst_wraps_EINVAL",			t_dst_wraps },
	{ "src_beyond_user_EINVAL",		t_src_beyond_user },
	{ "dst_beyond_user_EINVAL",		t_dst_beyond_user },
	{ "overlap_upward_EINVAL",		t_overlap_up },
	{ "dst_eq_src_EINVAL",			t_dst_eq_src },
	{ "prot_mismatch_EINVAL",		t_prot_mismatch },
	{ "mlock_mismatch_EINVAL",		t_mlock_mismatch },
	{ "bad_struct_ptr_EFAULT",		t_bad_struct_ptr },
	{ "src_in_hole_EFAULT",			t_src_in_hole },
	{ "src_past_vma_end_EFAULT",		t_src_past_vma_end },
	{ "src_spans_two_vmas_EFAULT",		t_src_spans_vmas },
	{ "dst_in_hole_EFAULT",			t_dst_in_hole },
	{ "dst_spans_two_vmas_EFAULT",		t_dst_spans_vmas },
	{ "file_private_src_EOPNOTSUPP",	t_file_private_src },
	{ "file_private_dst_EOPNOTSUPP",	t_file_private_dst },
	{ "dev_zero_private_src_EOPNOTSUPP",	t_dev_zero_src },
	{ "dev_zero_private_dst_EOPNOTSUPP",	t_dev_zero_dst },
	{ "shared_anon_src_EOPNOTSUPP",		t_shared_anon_src },
	{ "shared_file_src_EOPNOTSUPP",		t_shared_file_src },
	{ "hugetlb_src_EOPNOTSUPP",		t_hugetlb_src },
	{ "uffd_wp_src_EOPNOTSUPP",		t_uffd_wp_src },
	{ "dst_populated_EEXIST",		t_dst_populated },
	{ "dst_zero_page_EEXIST",		t_eexist_zero_page },
	{ "dst_swap_entry_EEXIST",		t_eexist_swap },
	{ "dst_guard_marker_EEXIST",		t_eexist_marker },
	{ "dst_thp_EEXIST",			t_eexist_thp },
	{ "shared_anon_dst_EOPNOTSUPP",		t_shared_anon_dst },
	{ "shared_file_dst_EOPNOTSUPP",		t_shared_file_dst },
	{ "hugetlb_dst_EOPNOTSUPP",		t_hugetlb_dst },
	{ "uffd_wp_dst_EOPNOTSUPP",		t_uffd_wp_dst },
	{ "order_hole_before_EEXIST",		t_order_hole_before_eexist },
	{ "order_prot_before_EEXIST",		t_order_prot_before_eexist },
	{ "order_EEXIST_before_EBUSY",		t_order_eexist_before_ebusy },
	{ "order_src_sealed_before_dst_kind",	t_order_src_sealed_before_dst_kind },
	{ "order_src_kind_before_dst_sealed",	t_order_src_kind_before_dst_sealed },
	{ "unprivileged_same_uid_target_moves",	t_unpriv_same_uid },
	{ "relocate_fork_cow_shared_EBUSY",	t_cow_shared },
	{ "share_fork_cow_shared_moves",	t_cow_shared_moves },
	{ "relocate_swap_entry_shared_EBUSY",	t_swap_shared },
	{ "share_swap_entry_shared_moves",	t_swap_shared_moves },
	{ "relocate_guard_marker_src_EBUSY",	t_marker_src },
	{ "relocate_pinned_thp_half_EBUSY",	t_thp_unsplittable },
	{ "relocate_pin_during_move_EBUSY_partway", t_pin_during_move },
	{ "relocate_pin_race_never_moves_pinned", t_pin_race },
	{ "ksm_merged_EBUSY",			t_ksm },
	{ "relocate_io_uring_pinned_EBUSY",	t_pinned },
	{ "share_io_uring_pinned_moves",	t_pinned_moves },
	{ "pidfd_not_a_pidfd_EBADF",		t_pidfd_not_pidfd },
	{ "pidfd_reaped_ESRCH",			t_pidfd_reaped },
	{ "pidfd_zombie_ESRCH",			t_pidfd_zombie },
	{ "remote_move_via_pidfd",		t_remote_move },
	/* t_unpriv_self() reports what t_eperm()'s child did: keep them in this order. */
	{ "unprivileged_vs_root_EPERM",		t_eperm },
	{ "unprivileged_own_memory_moves",	t_unpriv_self },
};

int main(void)
{
	int fd;

	ps = rm_page_size();
	small = 16 * ps;
	signal(SIGPIPE, SIG_IGN);
	ksft_print_header();
	ksft_set_plan(ARRAY_SIZE(tests));
	fd = rm_open();
	for (size_t i = 0; i < ARRAY_SIZE(tests); i++)
		rm_report(tests[i].name, tests[i].fn(fd));
	close(fd);
	ksft_finished();
}
