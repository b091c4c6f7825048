// SPDX-License-Identifier: GPL-2.0
/*
 * rust_mremap contract selftest: what a move must preserve or refuse
 * beyond the errno table.
 *
 *  - sealed VMAs (mseal) on either side: EPERM;
 *  - MAP_DROPPABLE on one side only: EINVAL; on both sides: the move works;
 *  - a shadow stack source: EOPNOTSUPP (skipped where the CPU has no user
 *    shadow stack, e.g. under TCG);
 *  - a moved entry keeps exactly its permissions: after moving read-only
 *    memory, a store in this same process must fault, after moving
 *    read-write memory it must not (4 KiB and THP, whole table and single
 *    entries);
 *  - soft-dirty survives every kind of move (whole table, THP, single
 *    entries, swap entries): CRIU's incremental dumps depend on it;
 *  - a fatal signal stops a long move part-way, and nothing is lost: every
 *    page is at exactly one of source and destination, the moved part a
 *    prefix;
 *  - once a move has returned, a thread on another CPU reaches nothing
 *    through a source address (the TLB flush a run of tables defers).
 *
 * Every failing move is issued as a dry run first, then for real; both must
 * fail with the same errno, report moved == 0 and leave the memory as it was.
 * Runs as root with /dev/rust_mremap present.
 */
#include "rust_mremap_lib.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#ifndef __NR_map_shadow_stack
#define __NR_map_shadow_stack	453
#endif
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE		0x08
#endif
#ifndef SHADOW_STACK_SET_TOKEN
#define SHADOW_STACK_SET_TOKEN	(1ULL << 0)
#endif

#define SELF		RUST_MREMAP_PIDFD_SELF
#define RW		(PROT_READ | PROT_WRITE)

#define PM_PRESENT	(1ULL << 63)
#define PM_SWAP		(1ULL << 62)
#define PM_SOFT_DIRTY	(1ULL << 55)

static size_t ps;			/* base page size */
static unsigned int next_seed = 0xc0de0000;

/* ---------------------------------------------------------------- helpers */

static const char *err_str(int ret)
{
	return ret ? strerror(-ret) : "success";
}

static bool chk_pat(const char *what, const void *p, size_t len, unsigned int seed, size_t base)
{
	size_t bad = rm_check(p, len, seed, base);

	if (bad == (size_t)-1)
		return true;
	ksft_print_msg("%s: byte %#zx of %#zx (at %p) is %#x, pattern says %#x\n", what, bad, len,
		       (const void *)((const uint8_t *)p + bad), ((const uint8_t *)p)[bad],
		       rm_pattern_byte(seed, base + bad));
	return false;
}

static bool chk_zero(const char *what, const void *p, size_t len)
{
	const uint8_t *b = p;

	if (rm_all_zero(p, len))
		return true;
	for (size_t i = 0; i < len; i++) {
		if (b[i]) {
			ksft_print_msg("%s: byte %#zx of %#zx (at %p) is %#x, expected zero\n",
				       what, i, len, (const void *)(b + i), b[i]);
			break;
		}
	}
	return false;
}

/*
 * Issue the move as a dry run and then for real; both must fail with -@want
 * and report moved == 0.
 */
static bool expect_errno(const char *what, int fd, int pidfd, unsigned int flags, const void *src,
			 const void *dst, size_t len, int want)
{
	static const unsigned int extra[2] = { RUST_MREMAP_DRY_RUN, 0 };
	bool ok = true;

	for (int i = 0; i < 2; i++) {
		struct rust_mremap_move m;
		int ret = rm_move(fd, pidfd, flags | extra[i], src, dst, len, &m);

		CHECK(ret == -want, "%s%s: returned %d (%s), expected -%d (%s)\n", what,
		      i ? "" : " [dry run]", ret, err_str(ret), want, strerror(want));
		CHECK(m.moved == 0, "%s%s: moved = %llu, expected 0\n", what, i ? "" : " [dry run]",
		      (unsigned long long)m.moved);
	}
	return ok;
}

/*
 * A fresh private anonymous RW region of @len bytes starting @off bytes into
 * a PMD, with at least 2 MiB free on either side (so it has PMD slots, hence
 * page tables, of its own and merges with nothing).  MADV_NOHUGEPAGE.
 */
static uint8_t *map_pmd(size_t len, size_t off)
{
	uint8_t *h = rm_find_hole(len, RM_PMD, off, RM_PMD);
	uint8_t *p = h ? rm_map_at(h, len, RW) : NULL;

	if (!p)
		ksft_print_msg("cannot map %#zx bytes at PMD offset %#zx: %s\n", len, off,
			       strerror(errno));
	return p;
}

/* The same with MAP_DROPPABLE instead of MAP_PRIVATE. */
static uint8_t *map_droppable_pmd(size_t len)
{
	uint8_t *h = rm_find_hole(len, RM_PMD, 0, RM_PMD);
	void *p;

	if (!h) {
		ksft_print_msg("no hole of %#zx bytes: %s\n", len, strerror(errno));
		return NULL;
	}
	p = mmap(h, len, RW, MAP_DROPPABLE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED) {
		ksft_print_msg("mmap(MAP_DROPPABLE) at %p: %s\n", (void *)h, strerror(errno));
		return NULL;
	}
	if (p != h) {
		ksft_print_msg("mmap(MAP_DROPPABLE) returned %p, not %p\n", p, (void *)h);
		munmap(p, len);
		return NULL;
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static void unmap(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}

/* ---------------------------------------------------- /proc/self/pagemap */

/*
 * Pages of [p, p + n pages) whose pagemap entry lacks any bit of @bits (with
 * @lacking) or has any bit of @bits (without); -1 on error.  *@first is the
 * index of the first such page.
 */
static long pm_count(const void *p, size_t n, uint64_t bits, bool lacking, size_t *first)
{
	uint64_t *e = malloc(n * sizeof(*e));
	long count = 0;

	*first = (size_t)-1;
	if (!e || !rm_pagemap(p, n, e)) {
		free(e);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (lacking ? (e[i] & bits) != bits : (e[i] & bits) != 0) {
			if (!count)
				*first = i;
			count++;
		}
	}
	free(e);
	return count;
}

static long pm_count_missing(const void *p, size_t n, uint64_t bits, size_t *first)
{
	return pm_count(p, n, bits, true, first);
}

static long pm_count_having(const void *p, size_t n, uint64_t bits, size_t *first)
{
	return pm_count(p, n, bits, false, first);
}

/* echo 4 > /proc/self/clear_refs: clear every soft-dirty bit of this process. */
static bool clear_soft_dirty(void)
{
	int f = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	bool ok = f >= 0 && write(f, "4", 1) == 1;

	if (!ok)
		ksft_print_msg("write 4 to /proc/self/clear_refs: %s\n", strerror(errno));
	if (f >= 0)
		close(f);
	return ok;
}

/* --------------------------------------------------------------------- THP */

/* The 2 MiB region at @p (a VMA of its own, already filled) is one PMD-mapped THP. */
static bool is_thp(const void *p)
{
	long kb = rm_anon_huge_kb(p);

	if (kb == (long)(RM_PMD >> 10))
		return true;
	ksft_print_msg(
		"source %p is not a THP: AnonHugePages %ld kB, expected %zu (transparent_hugepage/enabled: %s)\n",
		p, kb, RM_PMD >> 10, rm_thp_setting());
	return false;
}

/* ------------------------------------------------------------------ seals */

static int sys_mseal(void *addr, size_t len)
{
	return (int)syscall(__NR_mseal, addr, len, 0);
}

/*
 * Whole 2 MiB PMD-aligned regions: without the seal check the move would
 * move the page table whole.  A sealed VMA can never be unmapped again, so
 * it stays behind (2 MiB) for the rest of the program.
 */
static enum res seal_test(int fd, bool seal_src)
{
	unsigned int seed = next_seed++;
	uint8_t *src, *dst, *sealed;
	bool ok = true;

	src = map_pmd(RM_PMD, 0);
	dst = src ? map_pmd(RM_PMD, 0) : NULL;
	if (!src || !dst) {
		unmap(src, RM_PMD);
		return R_FAIL;
	}
	rm_fill(src, RM_PMD, seed, 0);
	sealed = seal_src ? src : dst;
	if (sys_mseal(sealed, RM_PMD)) {
		ksft_print_msg("mseal(%p, 2 MiB): %s\n", (void *)sealed, strerror(errno));
		unmap(src, RM_PMD);
		unmap(dst, RM_PMD);
		return R_FAIL;
	}
	/* The seal is in force: even an mprotect that changes nothing is refused. */
	errno = 0;
	CHECK(mprotect(sealed, RM_PMD, RW) == -1 && errno == EPERM,
	      "mprotect of the sealed VMA: %s, expected EPERM (is the seal in force?)\n",
	      errno ? strerror(errno) : "success");

	ok &= expect_errno(seal_src ? "sealed src" : "sealed dst", fd, SELF, 0, src, dst, RM_PMD,
			   EPERM);
	ok &= chk_pat("src", src, RM_PMD, seed, 0);
	ok &= chk_zero("dst", dst, RM_PMD);
	unmap(seal_src ? dst : src, RM_PMD);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_sealed_src(int fd)
{
	return seal_test(fd, true);
}

static enum res t_sealed_dst(int fd)
{
	return seal_test(fd, false);
}

/* -------------------------------------------------------------- droppable */

/*
 * Droppable folios are not swap-backed (reclaim drops them): one moved into
 * an ordinary VMA would be dropped there, one moved out of an ordinary VMA
 * would never be.  Hence EINVAL unless both sides are droppable.
 */
static enum res droppable_test(int fd, bool src_drop, bool dst_drop)
{
	unsigned int seed = next_seed++;
	struct rust_mremap_move dry, m;
	uint8_t *src, *dst;
	bool ok = true;
	int ret;

	src = src_drop ? map_droppable_pmd(RM_PMD) : map_pmd(RM_PMD, 0);
	dst = !src ? NULL : dst_drop ? map_droppable_pmd(RM_PMD) : map_pmd(RM_PMD, 0);
	if (!src || !dst) {
		unmap(src, RM_PMD);
		return R_FAIL;
	}
	rm_fill(src, RM_PMD, seed, 0);
	if (src_drop != dst_drop) {
		ok &= expect_errno(src_drop ? "droppable src, ordinary dst" :
				   "ordinary src, droppable dst", fd, SELF, 0, src, dst, RM_PMD,
				   EINVAL);
		ok &= chk_pat("src", src, RM_PMD, seed, 0);
		ok &= chk_zero("dst", dst, RM_PMD);
		goto out;
	}

	ret = rm_move(fd, SELF, RUST_MREMAP_DRY_RUN, src, dst, RM_PMD, &dry);
	CHECK(ret == 0, "dry run: %d (%s)\n", ret, err_str(ret));
	CHECK(dry.moved == 0, "dry run: moved %llu\n", (unsigned long long)dry.moved);
	ok &= chk_pat("src after the dry run", src, RM_PMD, seed, 0);
	ret = rm_move(fd, SELF, 0, src, dst, RM_PMD, &m);
	CHECK(ret == 0, "move of 2 MiB between droppable VMAs: %d (%s)\n", ret, err_str(ret));
	if (ret) {
		ok = false;
		goto out;
	}
	ok &= rm_counters_are("move (against the dry run)", &m, RM_PMD, dry.pmd_moves,
			      dry.pte_moves, dry.huge_pmd_moves);
	CHECK(m.pmd_moves * RM_PMD + m.pte_moves * ps + m.huge_pmd_moves * RM_PMD == RM_PMD,
	      "counters pmd %llu pte %llu huge %llu do not add up to 2 MiB\n",
	      (unsigned long long)m.pmd_moves, (unsigned long long)m.pte_moves,
	      (unsigned long long)m.huge_pmd_moves);
	ok &= chk_pat("dst", dst, RM_PMD, seed, 0);
	ok &= chk_zero("src", src, RM_PMD);
out:
	unmap(src, RM_PMD);
	unmap(dst, RM_PMD);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_droppable_src(int fd)
{
	return droppable_test(fd, true, false);
}

static enum res t_droppable_dst(int fd)
{
	return droppable_test(fd, false, true);
}

static enum res t_droppable_both(int fd)
{
	return droppable_test(fd, true, true);
}

/* ----------------------------------------------------------- shadow stack */

static enum res t_shadow_stack(int fd)
{
	uint8_t *ss, *dst, *copy;
	bool ok = true;
	long r;

	/* One page with a restore token at its top, so it holds a real page. */
	r = syscall(__NR_map_shadow_stack, 0UL, ps, SHADOW_STACK_SET_TOKEN);
	if (r == -1) {
		int e = errno;

		if (e == EOPNOTSUPP || e == ENOSYS || e == EINVAL)
			return skip("map_shadow_stack: %s (CPU/kernel without user shadow stack)",
				    strerror(e));
		ksft_print_msg("map_shadow_stack: %s\n", strerror(e));
		return R_FAIL;
	}
	ss = (uint8_t *)r;
	copy = malloc(ps);
	dst = map_pmd(ps, 0);
	if (!copy || !dst) {
		free(copy);
		unmap(dst, ps);
		munmap(ss, ps);
		return R_FAIL;
	}
	memcpy(copy, ss, ps);	/* shadow stack memory is readable */
	ok &= expect_errno("shadow stack src", fd, SELF, 0, ss, dst, ps, EOPNOTSUPP);
	CHECK(!memcmp(copy, ss, ps), "the shadow stack page changed\n");
	ok &= chk_zero("dst", dst, ps);
	free(copy);
	munmap(dst, ps);
	munmap(ss, ps);
	return ok ? R_PASS : R_FAIL;
}

/* -------------------------------------------------- protections survive */

static sigjmp_buf probe_env;
static volatile sig_atomic_t probe_sig;

static void probe_handler(int sig)
{
	probe_sig = sig;
	siglongjmp(probe_env, 1);
}

/*
 * Store @v at @p in this process.  Returns 0 when the store went through,
 * the signal number when it faulted (SIGSEGV expected; SIGBUS caught too),
 * -1 when the handlers could not be installed.  The previous (default)
 * handlers are back in place on return.
 */
static int try_store(volatile uint8_t *p, uint8_t v)
{
	struct sigaction sa, old_segv, old_bus;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = probe_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &old_segv))
		return -1;
	if (sigaction(SIGBUS, &sa, &old_bus)) {
		sigaction(SIGSEGV, &old_segv, NULL);
		return -1;
	}
	probe_sig = 0;
	if (sigsetjmp(probe_env, 1) == 0)
		*p = v;
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return probe_sig;
}

/*
 * Write probe at @p (a moved byte of dst; @src_twin is the same offset in
 * the vacated source).  Read-only: the store must fault and the byte stay.
 * Read-write: the store must go through, read back, and not show at src.
 */
static bool probe(const char *what, uint8_t *p, const uint8_t *src_twin, bool ro)
{
	uint8_t old = *(volatile uint8_t *)p, v = (uint8_t)~old;
	bool ok = true;
	int sig = try_store(p, v);

	if (sig < 0) {
		ksft_print_msg("%s: sigaction: %s\n", what, strerror(errno));
		return false;
	}
	if (ro) {
		CHECK(sig == SIGSEGV, "%s: store to read-only moved page %p %s\n", what, (void *)p,
		      sig ? strsignal(sig) : "went through: the entry is writable");
	} else {
		CHECK(sig == 0, "%s: store to read-write moved page %p raised %s\n", what,
		      (void *)p, strsignal(sig));
		CHECK(*(volatile const uint8_t *)src_twin == 0,
		      "%s: the store to %p shows at the vacated source %p (%#x)\n", what, (void *)p,
		      (const void *)src_twin, *(volatile const uint8_t *)src_twin);
	}
	return ok;
}

/*
 * src and dst: 2 MiB each, PMD aligned, in separate PMD slots, PROT_READ|
 * PROT_WRITE; 4 KiB pages or one THP; filled; then both made read-only for
 * @ro.  @single moves the middle 1 MiB entry by entry (NO_REALIGN; a THP is
 * split first), else the whole 2 MiB moves as one table or one huge PMD.
 */
/*
 * Two fresh 2 MiB-aligned regions of 2 MiB, src filled with @seed's pattern;
 * with @thp both MADV_HUGEPAGE and src made of one PMD-mapped THP.  A THP
 * test cannot run on a kernel without THP: R_SKIP says so, it is no pass.
 * On R_FAIL, *@src and *@dst are what could be mapped (NULL or a region).
 */
static enum res pmd_pair(bool thp, unsigned int seed, uint8_t **src, uint8_t **dst)
{
	*src = *dst = NULL;
	if (thp && !rm_thp_available())
		return skip("kernel without CONFIG_TRANSPARENT_HUGEPAGE");
	*src = map_pmd(RM_PMD, 0);
	*dst = *src ? map_pmd(RM_PMD, 0) : NULL;
	if (!*src || !*dst)
		return R_FAIL;
	if (thp && (madvise(*src, RM_PMD, MADV_HUGEPAGE) || madvise(*dst, RM_PMD, MADV_HUGEPAGE))) {
		ksft_print_msg("MADV_HUGEPAGE: %s\n", strerror(errno));
		return R_FAIL;
	}
	rm_fill(*src, RM_PMD, seed, 0);
	return thp && !is_thp(*src) ? R_FAIL : R_PASS;
}

/*
 * Move what a prot or soft-dirty test moves from the pmd_pair() @src to
 * @dst: the whole 2 MiB (one page table, or one THP with @thp), or with
 * @single the middle 1 MiB entry by entry (RUST_MREMAP_NO_REALIGN).  Returns
 * the move's result; clears *@ok if it failed or took another path.
 */
static int pmd_pair_move(int fd, uint8_t *src, uint8_t *dst, bool thp, bool single, bool *ok)
{
	const size_t len = RM_PMD;
	const size_t off = single ? RM_KB(512) : 0, mlen = single ? RM_MB(1) : len;
	const unsigned int flags = single ? RUST_MREMAP_NO_REALIGN : 0;
	struct rust_mremap_move m;
	int ret = rm_move(fd, SELF, flags, src + off, dst + off, mlen, &m);

	if (ret) {
		ksft_print_msg("move %p -> %p len %#zx flags %#x: %d (%s), moved %llu\n",
			       (void *)(src + off), (void *)(dst + off), mlen, flags, ret,
			       err_str(ret), (unsigned long long)m.moved);
		return ret;
	}
	if (single)
		*ok &= rm_counters_are("1 MiB entry by entry", &m, mlen, 0, mlen / ps, 0);
	else if (thp)
		*ok &= rm_counters_are("2 MiB THP", &m, len, 0, 0, 1);
	else
		*ok &= rm_counters_are("2 MiB page table", &m, len, 1, 0, 0);
	return 0;
}

static enum res prot_test(int fd, bool ro, bool thp, bool single)
{
	const size_t len = RM_PMD;
	const size_t off = single ? RM_KB(512) : 0, mlen = single ? RM_MB(1) : len;
	unsigned int seed = next_seed++;
	uint8_t *src, *dst;
	bool ok = true;
	enum res r;
	int ret;

	r = pmd_pair(thp, seed, &src, &dst);
	if (r == R_SKIP)
		return r;
	if (r == R_FAIL) {
		ok = false;
		goto out;
	}
	if (ro && (mprotect(src, len, PROT_READ) || mprotect(dst, len, PROT_READ))) {
		ksft_print_msg("mprotect(PROT_READ): %s\n", strerror(errno));
		ok = false;
		goto out;
	}

	ret = pmd_pair_move(fd, src, dst, thp, single, &ok);
	if (ret) {
		ok = false;
		goto out;
	}

	ok &= chk_pat("dst (moved part)", dst + off, mlen, seed, off);
	ok &= chk_zero("src (moved part)", src + off, mlen);
	if (single) {
		ok &= chk_pat("src below the moved part", src, off, seed, 0);
		ok &= chk_pat("src above the moved part", src + off + mlen, len - off - mlen, seed,
			      off + mlen);
		ok &= chk_zero("dst below the moved part", dst, off);
		ok &= chk_zero("dst above the moved part", dst + off + mlen, len - off - mlen);
	}

	/* The write probe, in this process: a child would fault for COW and prove nothing. */
	ok &= probe("first moved page", dst + off + 100, src + off + 100, ro);
	ok &= probe("last moved page", dst + off + mlen - ps + 200, src + off + mlen - ps + 200,
		    ro);
out:
	unmap(src, len);
	unmap(dst, len);
	return ok ? R_PASS : R_FAIL;
}

#define PROT_TEST(name, ro, thp, single)		\
static enum res t_##name(int fd)			\
{							\
	return prot_test(fd, ro, thp, single);		\
}
PROT_TEST(prot_ro_4k_table, true, false, false)
PROT_TEST(prot_ro_4k_single, true, false, true)
PROT_TEST(prot_ro_thp_table, true, true, false)
PROT_TEST(prot_ro_thp_single, true, true, true)
PROT_TEST(prot_rw_4k_table, false, false, false)
PROT_TEST(prot_rw_4k_single, false, false, true)
PROT_TEST(prot_rw_thp_table, false, true, false)
PROT_TEST(prot_rw_thp_single, false, true, true)

/* --------------------------------------------------------------- soft-dirty */

/*
 * The freshly written source reads soft-dirty (soft-dirty tracking works at
 * all); then clear_refs, after which it reads clean: @need (PM_PRESENT or
 * PM_SWAP) on every page, PM_SOFT_DIRTY on none.
 */
static bool src_clean(const uint8_t *src, size_t n, uint64_t need)
{
	size_t first;
	long c;
	bool ok = true;

	c = pm_count_missing(src, n, PM_SOFT_DIRTY, &first);
	CHECK(c == 0,
	      "freshly written source: %ld of %zu pages not soft-dirty (first: page %zu); is soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY) in this kernel?\n",
	      c, n, first);
	if (!ok || !clear_soft_dirty())
		return false;
	c = pm_count_missing(src, n, need, &first);
	CHECK(c == 0, "source before the move: %ld of %zu pages not %s (first: page %zu)\n", c, n,
	      need == PM_SWAP ? "swapped" : "present", first);
	c = pm_count_having(src, n, PM_SOFT_DIRTY, &first);
	CHECK(c == 0,
	      "clear_refs did not clear: %ld of %zu source pages still soft-dirty (first: page %zu)\n",
	      c, n, first);
	return ok;
}

/* Every moved destination page is @need (present or swapped) and soft-dirty. */
static bool dst_dirty(const uint8_t *dst, size_t n, uint64_t need)
{
	size_t first;
	long c;
	bool ok = true;

	c = pm_count_missing(dst, n, need, &first);
	CHECK(c == 0, "destination: %ld of %zu moved pages not %s (first: page %zu)\n", c, n,
	      need == PM_SWAP ? "swapped" : "present", first);
	c = pm_count_missing(dst, n, PM_SOFT_DIRTY, &first);
	if (c == 0)
		ksft_print_msg("destination: all %zu moved pages soft-dirty\n", n);
	CHECK(c == 0, "destination: %ld of %zu moved pages NOT soft-dirty (first: page %zu)\n", c,
	      n, first);
	return ok;
}

enum sd_kind { SD_TABLE, SD_THP, SD_SINGLE };

static enum res softdirty_test(int fd, enum sd_kind kind)
{
	const size_t len = RM_PMD;
	const bool single = kind == SD_SINGLE, thp = kind == SD_THP;
	const size_t off = single ? RM_KB(512) : 0, mlen = single ? RM_MB(1) : len;
	unsigned int seed = next_seed++;
	uint8_t *src, *dst;
	bool ok = true;
	enum res r;
	int ret;

	r = pmd_pair(thp, seed, &src, &dst);
	if (r == R_SKIP)
		return r;
	if (r == R_FAIL) {
		ok = false;
		goto out;
	}
	if (!src_clean(src, len / ps, PM_PRESENT)) {
		ok = false;
		goto out;
	}

	ret = pmd_pair_move(fd, src, dst, thp, single, &ok);
	if (ret) {
		ok = false;
		goto out;
	}
	ok &= dst_dirty(dst + off, mlen / ps, PM_PRESENT);
	ok &= chk_pat("dst (moved part)", dst + off, mlen, seed, off);
	ok &= chk_zero("src (moved part)", src + off, mlen);
out:
	unmap(src, len);
	unmap(dst, len);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_softdirty_table(int fd)
{
	return softdirty_test(fd, SD_TABLE);
}

static enum res t_softdirty_thp(int fd)
{
	return softdirty_test(fd, SD_THP);
}

static enum res t_softdirty_single(int fd)
{
	return softdirty_test(fd, SD_SINGLE);
}

/*
 * 64 swapped-out pages, soft-dirty cleared while swapped out, moved entry by
 * entry: every destination entry must still be a swap entry (the move does
 * not swap in) and soft-dirty, checked before anything touches it.
 */
static enum res t_softdirty_swap(int fd)
{
	const size_t n = 64, len = n * ps;
	unsigned int seed = next_seed++;
	struct rust_mremap_move m;
	cpu_set_t old_cpus, one;
	bool pinned = false, ok = true;
	uint8_t *src, *dst;
	size_t first;
	long notswapped = -1, c;
	int ret, cpu, tries;

	/* MADV_PAGEOUT drains only this CPU's LRU batches: stay where the pages were faulted. */
	cpu = sched_getcpu();
	if (cpu >= 0 && !sched_getaffinity(0, sizeof(old_cpus), &old_cpus)) {
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		pinned = !sched_setaffinity(0, sizeof(one), &one);
	}
	src = map_pmd(len, 0);
	dst = src ? map_pmd(len, 0) : NULL;
	if (!src || !dst) {
		ok = false;
		goto out;
	}
	rm_fill(src, len, seed, 0);
	for (tries = 1; tries <= 5; tries++) {
		if (madvise(src, len, MADV_PAGEOUT)) {
			ksft_print_msg("MADV_PAGEOUT: %s\n", strerror(errno));
			ok = false;
			goto out;
		}
		notswapped = pm_count_missing(src, n, PM_SWAP, &first);
		if (notswapped <= 0)
			break;
		usleep(10000);
	}
	if (notswapped != 0) {
		ksft_print_msg(
			"MADV_PAGEOUT: %ld of %zu pages still not swapped out after %d tries (zram swap expected in the guest)\n",
			notswapped, n, tries - 1);
		ok = false;
		goto out;
	}
	ksft_print_msg("all %zu source pages swapped out (MADV_PAGEOUT, %d tries)\n", n, tries);
	if (!src_clean(src, n, PM_SWAP)) {
		ok = false;
		goto out;
	}

	ret = rm_move(fd, SELF, RUST_MREMAP_NO_REALIGN, src, dst, len, &m);
	if (ret) {
		ksft_print_msg("move of %zu swapped-out pages: %d (%s), moved %llu\n", n, ret,
			       err_str(ret), (unsigned long long)m.moved);
		ok = false;
		goto out;
	}
	ok &= rm_counters_are("64 swap entries", &m, len, 0, n, 0);
	/* Before touching anything: reading a page would swap it in. */
	ok &= dst_dirty(dst, n, PM_SWAP);
	c = pm_count_having(src, n, PM_PRESENT | PM_SWAP, &first);
	CHECK(c == 0,
	      "vacated source: %ld of %zu pages still present or swapped (first: page %zu)\n", c, n,
	      first);
	ok &= chk_pat("dst after swap-in", dst, len, seed, 0);
	ok &= chk_zero("src", src, len);
out:
	unmap(src, len);
	unmap(dst, len);
	if (pinned)
		sched_setaffinity(0, sizeof(old_cpus), &old_cpus);
	return ok ? R_PASS : R_FAIL;
}

/* ------------------------------------------------------------ fatal signal */

#define FS_LEN		RM_GB(1)
#define FS_MARK_EVERY	256	/* pages: every 256th holds a pattern (a real page) */
#define FS_DELAY_NS	10000000LL

struct fs_args {
	uint64_t src, dst, len;
};

struct fs_result {
	int ret;
	uint64_t moved, pmd, pte, huge;
	int64_t t_call, t_ret;		/* CLOCK_MONOTONIC ns around the ioctl */
};

/* The caller C: opens the device and a pidfd of P, says "about to call", moves. */
static __noreturn void fs_child(pid_t parent, int go_rd, int ready_wr, int res_wr)
{
	struct rust_mremap_move m;
	struct fs_result res;
	struct fs_args a;
	int fd, pidfd;
	char c = 'C';

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(5);
	fd = open(RM_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		_exit(2);
	pidfd = (int)syscall(__NR_pidfd_open, getppid(), 0);
	if (pidfd < 0)
		_exit(3);
	if (!rm_read_full(go_rd, &a, sizeof(a)))
		_exit(4);
	memset(&res, 0, sizeof(res));
	res.t_call = rm_now_ns();
	if (!rm_write_full(ready_wr, &c, 1))
		_exit(6);
	res.ret = rm_move(fd, pidfd, RUST_MREMAP_NO_REALIGN, (void *)(uintptr_t)a.src,
			  (void *)(uintptr_t)a.dst, a.len, &m);
	res.t_ret = rm_now_ns();
	res.moved = m.moved;
	res.pmd = m.pmd_moves;
	res.pte = m.pte_moves;
	res.huge = m.huge_pmd_moves;
	rm_write_full(res_wr, &res, sizeof(res));
	_exit(0);
}

static bool is_populated(uint64_t e)
{
	return e & (PM_PRESENT | PM_SWAP);
}

/*
 * After the killed move: for every page exactly one of src[i], dst[i] is
 * populated, dst holds a prefix [0, k), src the rest; k < N.  Then the
 * marker pages' bytes wherever they are, and their twins read zero.
 */
static bool fs_verify(uint8_t *src, uint8_t *dst, size_t n, unsigned int seed, uint64_t *es,
		      uint64_t *ed)
{
	size_t k = 0, both = 0, neither = 0, out_of_order = 0, first_bad = (size_t)-1;
	bool ok = true;

	if (!rm_pagemap(src, n, es) || !rm_pagemap(dst, n, ed)) {
		ksft_print_msg("/proc/self/pagemap: %s\n", strerror(errno));
		return false;
	}
	while (k < n && is_populated(ed[k]) && !is_populated(es[k]))
		k++;
	for (size_t i = 0; i < n; i++) {
		bool s = is_populated(es[i]), d = is_populated(ed[i]);

		if (s && d)
			both++;
		else if (!s && !d)
			neither++;
		else if (i >= k && d)
			out_of_order++;
		else
			continue;
		if (first_bad == (size_t)-1)
			first_bad = i;
	}
	ksft_print_msg("the move stopped after k = %zu of %zu pages (%.1f%%)\n", k, n,
		       100.0 * (double)k / (double)n);
	CHECK(!both && !neither && !out_of_order,
	      "pages at both src and dst: %zu, at neither: %zu, at dst beyond the prefix [0, %zu): %zu (first bad page %zu)\n",
	      both, neither, k, out_of_order, first_bad);
	CHECK(k < n,
	      "all %zu pages are at dst: the move completed although its caller was killed\n", n);

	for (size_t i = 0; i < n; i += FS_MARK_EVERY) {
		uint8_t *here = i < k ? dst : src, *other = i < k ? src : dst;
		char what[96];

		snprintf(what, sizeof(what), "marker page %zu at %s", i, i < k ? "dst" : "src");
		if (!chk_pat(what, here + i * ps, ps, seed, i * ps)) {
			ok = false;
			break;
		}
		snprintf(what, sizeof(what), "page %zu at %s (the marker is at the other side)", i,
			 i < k ? "src" : "dst");
		if (!chk_zero(what, other + i * ps, ps)) {
			ok = false;
			break;
		}
		snprintf(what, sizeof(what), "zero page %zu at %s", i + FS_MARK_EVERY / 2,
			 i + FS_MARK_EVERY / 2 < k ? "dst" : "src");
		if (!chk_zero(what, (i + FS_MARK_EVERY / 2 < k ? dst : src) +
			      (i + FS_MARK_EVERY / 2) * ps, ps)) {
			ok = false;
			break;
		}
	}
	return ok;
}

static uint8_t *map_noreserve(size_t len, size_t off)
{
	uint8_t *h = rm_find_hole(len, RM_PMD, off, RM_PMD);
	void *p;

	if (!h) {
		ksft_print_msg("no hole of %#zx bytes\n", len);
		return NULL;
	}
	p = mmap(h, len, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1,
		 0);
	if (p == MAP_FAILED || p != h) {
		ksft_print_msg("mmap %#zx bytes at %p: %s\n", len, (void *)h,
			       p == MAP_FAILED ? strerror(errno) : "wrong address");
		if (p != MAP_FAILED)
			munmap(p, len);
		return NULL;
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static enum res t_fatal_signal(int fd)
{
	const size_t n = FS_LEN / ps;
	int go[2] = { -1, -1 }, ready[2] = { -1, -1 }, resp[2] = { -1, -1 };
	uint64_t *es = NULL, *ed = NULL;
	unsigned int seed = next_seed++;
	uint8_t *src = NULL, *dst = NULL;
	struct rust_mremap_move m;
	struct fs_result res;
	struct fs_args a = { 0, 0, 0 };
	int64_t t0, t1, t_kill, t_dry, delay;
	bool ok = true, have_res;
	pid_t pid = -1, self;
	size_t first;
	int ret, st;
	long c;
	char b;

	if (pipe2(go, O_CLOEXEC) || pipe2(ready, O_CLOEXEC) || pipe2(resp, O_CLOEXEC)) {
		ksft_print_msg("pipe: %s\n", strerror(errno));
		ok = false;
		goto out;
	}
	/* Fork before the regions exist: the caller must share none of P's pages. */
	self = getpid();
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		ksft_print_msg("fork: %s\n", strerror(errno));
		ok = false;
		goto out;
	}
	if (pid == 0) {
		close(go[1]);
		close(ready[0]);
		close(resp[0]);
		fs_child(self, go[0], ready[1], resp[1]);
	}
	close(go[0]);
	close(ready[1]);
	close(resp[1]);
	go[0] = ready[1] = resp[1] = -1;

	/*
	 * src at a PMD boundary, dst one page past one: mutually misaligned, so
	 * no extent can move a whole table and every entry moves one by one.
	 */
	es = malloc(n * sizeof(*es));
	ed = malloc(n * sizeof(*ed));
	src = map_noreserve(FS_LEN, 0);
	dst = src ? map_noreserve(FS_LEN, ps) : NULL;
	if (!es || !ed || !src || !dst) {
		ksft_print_msg("set-up of two 1 GiB regions failed\n");
		ok = false;
		goto out;
	}
	t0 = rm_now_ns();
	if (madvise(src, FS_LEN, MADV_POPULATE_READ)) {
		ksft_print_msg("MADV_POPULATE_READ of 1 GiB: %s\n", strerror(errno));
		ok = false;
		goto out;
	}
	for (size_t i = 0; i < n; i += FS_MARK_EVERY)
		rm_fill(src + i * ps, ps, seed, i * ps);
	ksft_print_msg("1 GiB source populated (zero page, a marker every %d pages) in %.0f ms\n",
		       FS_MARK_EVERY, (double)(rm_now_ns() - t0) / 1e6);
	c = pm_count_missing(src, n, PM_PRESENT, &first);
	CHECK(c == 0, "source: %ld of %zu pages not present after MADV_POPULATE_READ (first %zu)\n",
	      c, n, first);
	c = pm_count_having(dst, n, PM_PRESENT | PM_SWAP, &first);
	CHECK(c == 0, "destination: %ld of %zu pages populated before the move (first %zu)\n", c,
	      n, first);
	if (!ok)
		goto out;

	/* What the move will do, and how long its validation and plan take. */
	t0 = rm_now_ns();
	ret = rm_move(fd, SELF, RUST_MREMAP_NO_REALIGN | RUST_MREMAP_DRY_RUN, src, dst, FS_LEN, &m);
	t_dry = rm_now_ns() - t0;
	CHECK(ret == 0, "dry run of the 1 GiB move: %d (%s)\n", ret, err_str(ret));
	ok &= rm_counters_are("dry run of the 1 GiB move", &m, 0, 0, n, 0);
	if (!ok)
		goto out;

	/*
	 * Kill when the move is well under way, not done: a move into a fresh
	 * VMA skips the plan walk and moves its 262144 entries in about 2.5
	 * times the dry run's time (74 ms against 28 on the check kernel), so
	 * 1.2 dry runs after the call lands near half-way, with room on either
	 * side for the scheduler.  At least FS_DELAY_NS: the caller must have
	 * taken our mmap lock.
	 */
	delay = t_dry * 6 / 5;
	if (delay < FS_DELAY_NS)
		delay = FS_DELAY_NS;
	if (delay > 5000000000LL)
		delay = 5000000000LL;
	ksft_print_msg("dry run took %.1f ms; SIGKILL %.1f ms after the call\n",
		       (double)t_dry / 1e6, (double)delay / 1e6);
	/*
	 * The caller holds our mmap lock during the move: fault in now what we
	 * run in the window (vDSO, libc code), so nothing here waits for it.
	 */
	rm_sleep_ns(1000);
	kill(pid, 0);
	waitpid(pid, &st, WNOHANG);
	(void)rm_now_ns();

	a.src = (uintptr_t)src;
	a.dst = (uintptr_t)dst;
	a.len = FS_LEN;
	if (!rm_write_full(go[1], &a, sizeof(a)) || !rm_read_full(ready[0], &b, 1)) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		pid = -1;
		/* exit 2: open of the device, 3: pidfd_open, 4: pipe, 5: parent gone */
		ksft_print_msg("the caller did not start the move (status %#x, exit %d)\n", st,
			       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		ok = false;
		goto out;
	}
	t0 = rm_now_ns();
	rm_sleep_ns(delay);
	t_kill = rm_now_ns();
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	t1 = rm_now_ns();
	pid = -1;
	have_res = rm_read_full(resp[0], &res, sizeof(res));
	if (t_kill - t0 > delay + 500000000LL)
		ksft_print_msg(
			"note: SIGKILL was sent %.1f ms late (did this process wait for its own mmap lock?)\n",
			(double)(t_kill - t0 - delay) / 1e6);

	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
		ksft_print_msg("caller killed: it ended %.1f ms after it announced the call\n",
			       (double)(t1 - t0) / 1e6);
		if (have_res) {
			ksft_print_msg(
				"but its ioctl had returned %d (%s), moved %llu of %zu, %.1f ms after the call began, before the SIGKILL\n",
				res.ret, err_str(res.ret), (unsigned long long)res.moved, FS_LEN,
				(double)(res.t_ret - res.t_call) / 1e6);
			ok = false;
		}
	} else {
		ok = false;
		if (have_res)
			ksft_print_msg(
				"the move finished before SIGKILL: ioctl returned %d (%s), moved %llu of %zu, %.1f ms after the call began (SIGKILL was due %.1f ms after it); counters pmd %llu pte %llu huge %llu\n",
				res.ret, err_str(res.ret), (unsigned long long)res.moved, FS_LEN,
				(double)(res.t_ret - res.t_call) / 1e6, (double)delay / 1e6,
				(unsigned long long)res.pmd, (unsigned long long)res.pte,
				(unsigned long long)res.huge);
		else
			ksft_print_msg(
				"the caller ended with status %#x (exit %d) %.1f ms after the announcement, without a result\n",
				st, WIFEXITED(st) ? WEXITSTATUS(st) : -1, (double)(t1 - t0) / 1e6);
	}
	ok &= fs_verify(src, dst, n, seed, es, ed);
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (ready[i] >= 0)
			close(ready[i]);
		if (resp[i] >= 0)
			close(resp[i]);
	}
	unmap(src, FS_LEN);
	unmap(dst, FS_LEN);
	free(es);
	free(ed);
	return ok ? R_PASS : R_FAIL;
}

/* ----------------------------------------------------- stale TLB entries */

#define TLB_TABLES	8
#define TLB_MARK	0x5ca1ab1e0ddba11ull

/*
 * The storer: on another CPU, stores to one word in each of the source
 * tables (so that each has a TLB entry there) until told, then stores the
 * marker to each once.
 */
static struct {
	_Atomic int phase;		/* 0: store; 1: store the marker; 2: done */
	_Atomic unsigned long rounds;
	volatile uint64_t *slot[TLB_TABLES];
} tlb;

static void *tlb_storer(void *arg)
{
	unsigned long v = 1;

	(void)arg;
	while (atomic_load(&tlb.phase) == 0) {
		for (int i = 0; i < TLB_TABLES; i++)
			*tlb.slot[i] = v;
		atomic_store(&tlb.rounds, v++);
	}
	for (int i = 0; i < TLB_TABLES; i++)
		*tlb.slot[i] = TLB_MARK;
	atomic_store(&tlb.phase, 2);
	return NULL;
}

/*
 * Start the storer on the second CPU of @old_cpus (which it saves, at least
 * two), this thread on the first, and wait until it has stored a while.
 */
static void tlb_start(pthread_t *th, cpu_set_t *old_cpus)
{
	int cpu = -1, other = -1;
	cpu_set_t one;

	atomic_store(&tlb.phase, 0);
	atomic_store(&tlb.rounds, 0);
	for (int c = 0; c < CPU_SETSIZE && other < 0; c++)
		if (CPU_ISSET(c, old_cpus))
			*(cpu < 0 ? &cpu : &other) = c;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	sched_setaffinity(0, sizeof(one), &one);
	pthread_create(th, NULL, tlb_storer, NULL);
	CPU_ZERO(&one);
	CPU_SET(other, &one);
	pthread_setaffinity_np(*th, sizeof(one), &one);
	while (atomic_load(&tlb.rounds) < 100000)
		sched_yield();
}

/* Tell the storer to store its marker, wait for it, and restore our CPUs. */
static void tlb_stop(pthread_t th, cpu_set_t *old_cpus)
{
	atomic_store(&tlb.phase, 1);
	while (atomic_load(&tlb.phase) != 2)
		sched_yield();
	pthread_join(th, NULL);
	sched_setaffinity(0, sizeof(*old_cpus), old_cpus);
}

/* Whether the marker landed at @s (a new page) and not at @d (the moved one). */
static bool tlb_marker_at_src(const char *what, int i, uint8_t *s, uint8_t *d)
{
	uint64_t at_dst = *(uint64_t *)d, at_src = *(uint64_t *)s;

	if (at_dst != TLB_MARK && at_src == TLB_MARK)
		return true;
	ksft_print_msg("%s %d: the store after the move reached %s\n", what, i,
		       at_dst == TLB_MARK ? "the moved page (a stale TLB entry)" : "neither page");
	ksft_print_msg("%s %d: %#llx at the destination, %#llx at the source\n", what, i,
		       (unsigned long long)at_dst, (unsigned long long)at_src);
	return false;
}

/*
 * Once a move has returned, no thread reaches the moved memory through the
 * source addresses.  A run of whole tables (or THPs) flushes the TLB once,
 * at its end, and that flush must reach every CPU the target runs on.  The
 * storer, on the other CPU, keeps storing into each of 8 source tables
 * while they move into a fresh VMA; after the move it stores a marker at
 * each source word once more.  Those stores must fault and land in new
 * pages at the source, never in the moved pages through a stale entry:
 * the destination keeps the pattern and the storer's counter, not the
 * marker.
 */
static enum res stale_tlb_test(int fd, bool thp)
{
	const size_t len = TLB_TABLES * RM_PMD, word = 3 * ps;
	const unsigned int seed = next_seed++;
	cpu_set_t old_cpus;
	struct rust_mremap_move m;
	uint8_t *src = NULL, *dst = NULL;
	enum res r = R_FAIL;
	bool ok = true;
	pthread_t th;
	int ret;

	if (thp && !rm_thp_available())
		return skip("kernel without CONFIG_TRANSPARENT_HUGEPAGE");
	if (sched_getaffinity(0, sizeof(old_cpus), &old_cpus) || CPU_COUNT(&old_cpus) < 2)
		return skip("needs two CPUs");
	src = map_pmd(len, 0);
	dst = src ? map_pmd(len, 0) : NULL;
	if (!src || !dst)
		goto out;
	if (thp && (madvise(src, len, MADV_HUGEPAGE) || madvise(dst, len, MADV_HUGEPAGE)))
		goto out;
	rm_fill(src, len, seed, 0);
	if (thp && rm_anon_huge_kb(src) != (long)(len >> 10)) {
		ksft_print_msg("source is not %d THPs: AnonHugePages %ld kB\n", TLB_TABLES,
			       rm_anon_huge_kb(src));
		goto out;
	}
	for (int i = 0; i < TLB_TABLES; i++)
		tlb.slot[i] = (volatile uint64_t *)(src + i * RM_PMD + word);
	tlb_start(&th, &old_cpus);
	ret = rm_move(fd, SELF, 0, src, dst, len, &m);
	tlb_stop(th, &old_cpus);
	if (ret) {
		ksft_print_msg("move: %d (%s), moved %llu\n", ret, err_str(ret),
			       (unsigned long long)m.moved);
		goto out;
	}
	ok &= thp ? rm_counters_are("8 THPs", &m, len, 0, 0, TLB_TABLES)
		  : rm_counters_are("8 page tables", &m, len, TLB_TABLES, 0, 0);

	for (int i = 0; i < TLB_TABLES; i++) {
		uint8_t *d = dst + i * RM_PMD, *s = src + i * RM_PMD;

		ok &= tlb_marker_at_src("table", i, s + word, d + word);
		if (rm_check(d, word, seed, i * RM_PMD) != (size_t)-1 ||
		    rm_check(d + word + 8, RM_PMD - word - 8, seed, i * RM_PMD + word + 8) !=
			    (size_t)-1) {
			ksft_print_msg("table %d: the destination lost the pattern\n", i);
			ok = false;
		}
	}
	ksft_print_msg("stale TLB (%s): %lu store rounds before the marker\n", thp ? "THP" : "4K",
		       atomic_load(&tlb.rounds));
	r = ok ? R_PASS : R_FAIL;
out:
	unmap(src, len);
	unmap(dst, len);
	return r;
}

/*
 * The same for a relocating run of single entries, whose extents in one
 * pair of page tables move by one call (patch 7) and whose flush at the end
 * of the hold must cover every one of them: 16 chunks of 64 KiB out of one
 * source table, in descending order, packed 4 KiB off a PMD boundary into a
 * fresh VMA by one relocating RUST_MREMAP_IOC_MOVEV, the storer storing into
 * every other chunk.
 */
#define TLB_CHUNKS	(2 * TLB_TABLES)
static enum res t_stale_tlb_grouped(int fd)
{
	const size_t ch = RM_KB(64), len = TLB_CHUNKS * ch, word = 3 * ps;
	const unsigned int seed = next_seed++;
	struct rust_mremap_vec v[TLB_CHUNKS];
	struct rust_mremap_movev m;
	uint8_t *src = NULL, *dst = NULL;
	cpu_set_t old_cpus;
	bool ok = true;
	pthread_t th;
	int ret;

	if (sched_getaffinity(0, sizeof(old_cpus), &old_cpus) || CPU_COUNT(&old_cpus) < 2)
		return skip("needs two CPUs");
	src = map_pmd(RM_PMD, 0);
	dst = src ? map_pmd(len + ps, 0) : NULL;
	if (!src || !dst) {
		ok = false;
		goto out;
	}
	rm_fill(src, len, seed, 0);
	/* Entry k moves chunk TLB_CHUNKS - 1 - k: descending sources. */
	for (int k = 0; k < TLB_CHUNKS; k++) {
		int c = TLB_CHUNKS - 1 - k;

		v[k] = (struct rust_mremap_vec){ .src = (uintptr_t)(src + c * ch),
						 .dst = (uintptr_t)(dst + ps + c * ch),
						 .len = ch };
	}
	for (int i = 0; i < TLB_TABLES; i++)
		tlb.slot[i] = (volatile uint64_t *)(src + 2 * i * ch + word);
	tlb_start(&th, &old_cpus);
	ret = rm_movev(fd, SELF, RUST_MREMAP_RELOCATE, v, TLB_CHUNKS, &m);
	tlb_stop(th, &old_cpus);
	if (ret || m.done != TLB_CHUNKS || m.pmd_moves || m.pte_moves != len / ps ||
	    m.folios_relocated != len / ps) {
		ksft_print_msg("movev: %d (%s), done %u, pmd %llu pte %llu relocated %llu\n", ret,
			       err_str(ret), m.done, (unsigned long long)m.pmd_moves,
			       (unsigned long long)m.pte_moves,
			       (unsigned long long)m.folios_relocated);
		ok = false;
		goto out;
	}
	for (int i = 0; i < TLB_TABLES; i++) {
		size_t off = 2 * i * ch;

		ok &= tlb_marker_at_src("chunk", 2 * i, src + off + word, dst + ps + off + word);
	}
	for (size_t off = 0; off < len; off += ch) {
		uint8_t *d = dst + ps + off;
		size_t hole = (off / ch) % 2 ? ch : word;

		/* Every page moved; the storer's word of every other chunk excepted. */
		if (rm_check(d, hole, seed, off) != (size_t)-1 ||
		    (hole < ch && rm_check(d + word + 8, ch - word - 8, seed, off + word + 8) !=
					  (size_t)-1)) {
			ksft_print_msg("chunk %zu: the destination lost the pattern\n", off / ch);
			ok = false;
		}
	}
	ksft_print_msg("stale TLB (grouped run): %lu store rounds before the marker\n",
		       atomic_load(&tlb.rounds));
out:
	unmap(src, RM_PMD);
	unmap(dst, len + ps);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_stale_tlb_tables(int fd)
{
	return stale_tlb_test(fd, false);
}

static enum res t_stale_tlb_thp(int fd)
{
	return stale_tlb_test(fd, true);
}

/* ------------------------------------------------------------------ main */

static const struct {
	const char *name;
	enum res (*fn)(int fd);
} tests[] = {
	{ "sealed_src_EPERM",			t_sealed_src },
	{ "sealed_dst_EPERM",			t_sealed_dst },
	{ "droppable_src_only_EINVAL",		t_droppable_src },
	{ "droppable_dst_only_EINVAL",		t_droppable_dst },
	{ "droppable_both_moves",		t_droppable_both },
	{ "shadow_stack_src_EOPNOTSUPP",	t_shadow_stack },
	{ "prot_ro_4k_table",			t_prot_ro_4k_table },
	{ "prot_ro_4k_single",			t_prot_ro_4k_single },
	{ "prot_ro_thp_table",			t_prot_ro_thp_table },
	{ "prot_ro_thp_single",			t_prot_ro_thp_single },
	{ "prot_rw_4k_table",			t_prot_rw_4k_table },
	{ "prot_rw_4k_single",			t_prot_rw_4k_single },
	{ "prot_rw_thp_table",			t_prot_rw_thp_table },
	{ "prot_rw_thp_single",			t_prot_rw_thp_single },
	{ "softdirty_table",			t_softdirty_table },
	{ "softdirty_thp",			t_softdirty_thp },
	{ "softdirty_single",			t_softdirty_single },
	{ "softdirty_swap",			t_softdirty_swap },
	{ "fatal_signal_stops_move",		t_fatal_signal },
	{ "no_stale_tlb_after_table_run",	t_stale_tlb_tables },
	{ "no_stale_tlb_after_thp_run",		t_stale_tlb_thp },
	{ "no_stale_tlb_after_grouped_run",	t_stale_tlb_grouped },
};

int main(void)
{
	int fd;

	ps = rm_page_size();
	signal(SIGPIPE, SIG_IGN);
	ksft_print_header();
	ksft_set_plan(ARRAY_SIZE(tests));
	fd = rm_open();
	for (size_t i = 0; i < ARRAY_SIZE(tests); i++) {
		int64_t t0 = rm_now_ns();
		enum res r = tests[i].fn(fd);

		ksft_print_msg("%s: %.0f ms\n", tests[i].name, (double)(rm_now_ns() - t0) / 1e6);
		switch (r) {
		case R_PASS:
			ksft_test_result_pass("%s\n", tests[i].name);
			break;
		case R_SKIP:
			ksft_test_result_skip("%s: %s\n", tests[i].name, skip_reason);
			break;
		default:
			ksft_test_result_fail("%s\n", tests[i].name);
			break;
		}
	}
	close(fd);
	ksft_finished();
}
