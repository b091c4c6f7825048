/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the rust_mremap selftests: the ioctl wrapper, byte
 * patterns and region placement.  Header-only so each test stays one file.
 */
#ifndef RUST_MREMAP_LIB_H
#define RUST_MREMAP_LIB_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/rust_mremap.h>
#include <linux/userfaultfd.h>
#include "kselftest.h"

/* What older libc headers may lack (values from the 7.3 UAPI). */
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE	101
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif
#ifndef __NR_pidfd_open
#define __NR_pidfd_open		434
#endif
#ifndef __NR_mseal
#define __NR_mseal		462
#endif

#define RM_DEV		"/dev/rust_mremap"
/* The lowest flag bit the module does not know (EINVAL), whatever the ABI version. */
#define RM_FLAG_FIRST_UNKNOWN	(~RUST_MREMAP_FLAGS_ALL & (RUST_MREMAP_FLAGS_ALL + 1))
#define RM_KB(k)	((size_t)(k) << 10)
#define RM_MB(m)	((size_t)(m) << 20)
#define RM_GB(g)	((size_t)(g) << 30)
#define RM_PMD		RM_MB(2)
#define RM_PUD		RM_GB(1)

/* The result of one test of a table-driven test program. */
enum res { R_PASS, R_FAIL, R_SKIP };

/* Why the last test that returned R_SKIP skipped. */
static char skip_reason[256];

static inline __printf(1, 2) enum res skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(skip_reason, sizeof(skip_reason), fmt, ap);
	va_end(ap);
	return R_SKIP;
}

/* Report the result @r of the test called @name to kselftest. */
static inline void rm_report(const char *name, enum res r)
{
	switch (r) {
	case R_PASS:
		ksft_test_result_pass("%s\n", name);
		break;
	case R_SKIP:
		ksft_test_result_skip("%s: %s\n", name, skip_reason);
		break;
	default:
		ksft_test_result_fail("%s\n", name);
		break;
	}
}

/* A check that fails the test (the caller's `ok`) and says why. */
#define CHECK(cond, ...) do {				\
	if (!(cond)) {					\
		ksft_print_msg(__VA_ARGS__);		\
		ok = false;				\
	}						\
} while (0)

static inline size_t rm_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Open the device or fail the whole test program (a missing device is a failure, not a skip). */
static inline int rm_open(void)
{
	int fd = open(RM_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		ksft_exit_fail_msg("open %s: %s\n", RM_DEV, strerror(errno));
	return fd;
}

/*
 * Fill the output fields with garbage: the module must write every one of
 * them back, on error too, so a check of moved == 0 after a refusal tests
 * the module and not our initializer.
 */
static inline void rm_poison_out(struct rust_mremap_move *m)
{
	m->moved = m->pmd_moves = m->pte_moves = m->huge_pmd_moves = 0x5a5a5a5a5a5a5a5aULL;
	m->pud_moves = m->folios_relocated = 0x5a5a5a5a5a5a5a5aULL;
}

/*
 * Issue RUST_MREMAP_IOC_MOVE.  Returns 0 or -errno; *out (if non-NULL)
 * receives the struct as the kernel left it, counters included.
 */
static inline int rm_move(int fd, int pidfd, unsigned int flags, const void *src,
			  const void *dst, size_t len, struct rust_mremap_move *out)
{
	struct rust_mremap_move m = {
		.pidfd = pidfd,
		.flags = flags,
		.src = (uintptr_t)src,
		.dst = (uintptr_t)dst,
		.len = len,
	};
	int ret;

	rm_poison_out(&m);
	ret = ioctl(fd, RUST_MREMAP_IOC_MOVE, &m);

	if (out)
		*out = m;
	return ret ? -errno : 0;
}

/* Fill the output fields of a vectored move with garbage, as rm_poison_out(). */
static inline void rm_poison_outv(struct rust_mremap_movev *m)
{
	m->done = m->err_index = 0x5a5a5a5a;
	m->moved = m->pmd_moves = m->pte_moves = m->huge_pmd_moves = 0x5a5a5a5a5a5a5a5aULL;
	m->pud_moves = m->folios_relocated = 0x5a5a5a5a5a5a5a5aULL;
}

/*
 * Issue RUST_MREMAP_IOC_MOVEV over @count entries at @vec.  Returns 0 or
 * -errno; *out (if non-NULL) receives the struct as the kernel left it.
 */
static inline int rm_movev(int fd, int pidfd, unsigned int flags,
			   const struct rust_mremap_vec *vec, unsigned int count,
			   struct rust_mremap_movev *out)
{
	struct rust_mremap_movev m = {
		.pidfd = pidfd,
		.flags = flags,
		.vec = (uintptr_t)vec,
		.count = count,
	};
	int ret;

	rm_poison_outv(&m);
	ret = ioctl(fd, RUST_MREMAP_IOC_MOVEV, &m);

	if (out)
		*out = m;
	return ret ? -errno : 0;
}

/* Whether a move reported @moved bytes and these PMD, PTE and THP counters; says so if not. */
static inline bool rm_counters_are(const char *what, const struct rust_mremap_move *m,
				   uint64_t moved, uint64_t pmd, uint64_t pte, uint64_t huge)
{
	if (m->moved == moved && m->pmd_moves == pmd && m->pte_moves == pte &&
	    m->huge_pmd_moves == huge)
		return true;
	ksft_print_msg(
		"%s: moved %llu pmd_moves %llu pte_moves %llu huge_pmd_moves %llu, expected %llu %llu %llu %llu\n",
		what, (unsigned long long)m->moved, (unsigned long long)m->pmd_moves,
		(unsigned long long)m->pte_moves, (unsigned long long)m->huge_pmd_moves,
		(unsigned long long)moved, (unsigned long long)pmd, (unsigned long long)pte,
		(unsigned long long)huge);
	return false;
}

/* The byte every offset of a region holds: depends on seed and offset only. */
static inline uint8_t rm_pattern_byte(unsigned int seed, size_t off)
{
	uint64_t x = (uint64_t)off * 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed << 32 | seed);

	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 32;
	return (uint8_t)x;
}

static inline void rm_fill(void *p, size_t len, unsigned int seed, size_t base_off)
{
	uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		b[i] = rm_pattern_byte(seed, base_off + i);
}

/* Returns the offset of the first mismatch, or (size_t)-1 when all match. */
static inline size_t rm_check(const void *p, size_t len, unsigned int seed, size_t base_off)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != rm_pattern_byte(seed, base_off + i))
			return i;
	return (size_t)-1;
}

/* True when every byte reads as zero (never-touched anonymous memory). */
static inline bool rm_all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/*
 * Find a free hole of @len bytes starting at an address whose offset
 * within @align equals @offset, with @guard bytes free below and above.
 * Returns the address (nothing is left mapped there) or NULL.
 */
static inline void *rm_find_hole(size_t len, size_t align, size_t offset, size_t guard)
{
	size_t span = len + align + 2 * guard;
	uint8_t *r =
		mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t a;

	if (r == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)r + guard + align - 1) & ~(uintptr_t)(align - 1);
	a += offset;
	if (a + len + guard > (uintptr_t)r + span)
		a -= align;
	munmap(r, span);
	return (void *)a;
}

/* mmap a private anonymous region at exactly @addr (must be free). */
static inline void *rm_map_at(void *addr, size_t len, int prot)
{
	void *p = mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (p != addr) {
		munmap(p, len);
		return NULL;
	}
	/* Deterministic PTE/PMD counts: THP only where a test asks for it. */
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

/* read()/write() all of @len bytes, retrying on EINTR; false on error or EOF. */
static inline bool rm_read_full(int fd, void *buf, size_t len)
{
	uint8_t *b = buf;

	while (len) {
		ssize_t n = read(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		b += n;
		len -= n;
	}
	return true;
}

static inline bool rm_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	while (len) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		b += n;
		len -= n;
	}
	return true;
}

/*
 * The number after @field ("AnonHugePages:", "THPeligible:") in the /proc/self/smaps
 * block of the VMA starting at @start, or -1 if there is none.
 */
static inline long rm_smaps_field(const void *start, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	size_t n = strlen(field);
	unsigned long s, e;
	bool here = false;
	char line[512];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2) {
			if (here)
				break;
			here = s == (uintptr_t)start;
		} else if (here && !strncmp(line, field, n)) {
			v = strtol(line + n, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* AnonHugePages (kB) of the VMA starting at @start (/proc/self/smaps), or -1. */
static inline long rm_anon_huge_kb(const void *start)
{
	return rm_smaps_field(start, "AnonHugePages:");
}

/* Whether the kernel has transparent huge pages at all (CONFIG_TRANSPARENT_HUGEPAGE). */
static inline bool rm_thp_available(void)
{
	return access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
}

/* The THP mode line of sysfs ("absent" without THP), for messages. */
static inline char *rm_thp_setting(void)
{
	static char buf[128];
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");

	snprintf(buf, sizeof(buf), "absent");
	if (f) {
		if (fgets(buf, sizeof(buf), f))
			buf[strcspn(buf, "\n")] = 0;
		fclose(f);
	}
	return buf;
}

/* -------------------------------------------------------- small utilities */

static inline pid_t rm_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static inline int rm_pidfd_open(pid_t pid)
{
	return (int)syscall(__NR_pidfd_open, pid, 0);
}

/* Exit code of @pid, 128 + signal if it was killed, -1 if waitpid failed. */
static inline int rm_wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

/* Read one decimal number from the file at @path into *@v; whether it could. */
static inline bool rm_read_long(const char *path, long *v)
{
	FILE *f = fopen(path, "re");
	int n;

	if (!f)
		return false;
	n = fscanf(f, "%ld", v);
	fclose(f);
	return n == 1;
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline int64_t rm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Milliseconds of CLOCK_MONOTONIC since *@t0. */
static inline long rm_ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000L + (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* Sleep @ns nanoseconds, through signals. */
static inline void rm_sleep_ns(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Sleep @ms milliseconds, through signals. */
static inline void rm_sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Whether [p, p + len) holds the pattern of @seed from offset @base; says where not. */
static inline bool rm_chk_pat(const char *what, const void *p, size_t len, unsigned int seed,
			      size_t base)
{
	size_t bad = rm_check(p, len, seed, base);

	if (bad == (size_t)-1)
		return true;
	ksft_print_msg("%s: byte %#zx is %#x, pattern says %#x\n", what, bad,
		       ((const uint8_t *)p)[bad], rm_pattern_byte(seed, base + bad));
	return false;
}

/* Whether [p, p + len) reads as zero; says where not. */
static inline bool rm_chk_zero(const char *what, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++) {
		if (b[i]) {
			ksft_print_msg("%s: byte %#zx is %#x, expected zero\n", what, i, b[i]);
			return false;
		}
	}
	return true;
}

/*
 * The lowest power-of-two address at which a one-page fixed mapping is
 * refused with ENOMEM, i.e. beyond TASK_SIZE (1 << 47 on x86-64 with 4-level
 * paging, 1 << 56 with 5-level, 1 << VA_BITS on arm64).
 */
static inline uintptr_t rm_user_va_limit(void)
{
	const int top = sizeof(uintptr_t) * 8 - 1;	/* 63; 31 in the 32-bit builds */
	size_t ps = rm_page_size();

	for (int bits = top < 39 ? top : 39; bits < top; bits++) {
		void *a = (void *)((uintptr_t)1 << bits);
		void *p = mmap(a, ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			       MAP_FIXED_NOREPLACE, -1, 0);

		if (p != MAP_FAILED)
			munmap(p, ps);
		else if (errno == ENOMEM)
			return (uintptr_t)a;
	}
	return (uintptr_t)1 << top;
}

/* ------------------------------------------------------------- counters */

/* The five counters of a move or a vectored move, to compare and add up. */
struct rm_cnt {
	uint64_t pmd, pte, huge, pud, rel;
};

static inline struct rm_cnt rm_cnt_v(const struct rust_mremap_movev *m)
{
	struct rm_cnt c = { m->pmd_moves, m->pte_moves, m->huge_pmd_moves, m->pud_moves,
			    m->folios_relocated };

	return c;
}

static inline bool rm_cnt_eq(const char *what, const struct rm_cnt *got,
			     const struct rm_cnt *want)
{
	if (got->pmd == want->pmd && got->pte == want->pte && got->huge == want->huge &&
	    got->pud == want->pud && got->rel == want->rel)
		return true;
	ksft_print_msg(
		"%s: counters pmd %llu pte %llu huge_pmd %llu pud %llu relocated %llu, expected %llu %llu %llu %llu %llu\n",
		what, (unsigned long long)got->pmd, (unsigned long long)got->pte,
		(unsigned long long)got->huge, (unsigned long long)got->pud,
		(unsigned long long)got->rel, (unsigned long long)want->pmd,
		(unsigned long long)want->pte, (unsigned long long)want->huge,
		(unsigned long long)want->pud, (unsigned long long)want->rel);
	return false;
}

/* ---------------------------------------------------------- userfaultfd */

/*
 * A userfaultfd for faults from user mode, non-blocking, with @features
 * requested; *@features_out (if non-NULL) receives what UFFDIO_API
 * reports.  Returns the fd, or -1 with errno set.
 */
static inline int rm_uffd_open(uint64_t features, uint64_t *features_out)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);

	if (fd < 0)
		return -1;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	if (features_out)
		*features_out = api.features;
	return fd;
}

/* ------------------------------------------------ fault injection: fail-nth */

/* A debugfs fault-injection knob: the value a fail-nth sweep wants, and the one found. */
struct rm_knob {
	const char *path;
	const char *value;
	char saved[32];
	bool set;
};

static inline bool rm_knob_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	bool ok = fd >= 0 && write(fd, value, strlen(value)) == (ssize_t)strlen(value);

	if (fd >= 0)
		close(fd);
	return ok;
}

static inline bool rm_knob_read(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return true;
}

/* The knobs a fail-nth sweep sets; *@n receives how many. */
static inline struct rm_knob *rm_failnth_knobs(size_t *n)
{
	static struct rm_knob knobs[] = {
		/* GFP_KERNEL allocations may sleep: do not exempt them. */
		{ .path = "/sys/kernel/debug/failslab/ignore-gfp-wait", .value = "N" },
		{ .path = "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", .value = "N" },
		/* Page tables are order-0 pages. */
		{ .path = "/sys/kernel/debug/fail_page_alloc/min-order", .value = "0" },
		{ .path = "/sys/kernel/debug/failslab/verbose", .value = "0" },
		{ .path = "/sys/kernel/debug/fail_page_alloc/verbose", .value = "0" },
	};

	*n = ARRAY_SIZE(knobs);
	return knobs;
}

/* Put back every knob rm_failnth_open() set. */
static inline void rm_failnth_restore(void)
{
	size_t n;
	struct rm_knob *k = rm_failnth_knobs(&n);

	for (size_t i = 0; i < n; i++)
		if (k[i].set)
			k[i].set = !rm_knob_write(k[i].path, k[i].saved);
}

/*
 * Open this thread's fail-nth and set the knobs (every allocation may
 * fail, silently).  Returns the fd, or -1 with *@missing naming the file
 * that is unavailable (the knobs set so far put back).
 */
static inline int rm_failnth_open(const char **missing)
{
	static char path[64];
	size_t n;
	struct rm_knob *k = rm_failnth_knobs(&n);
	int nth_fd;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth", (long)rm_gettid());
	nth_fd = open(path, O_RDWR | O_CLOEXEC);
	*missing = nth_fd < 0 ? path : NULL;
	for (size_t i = 0; !*missing && i < n; i++) {
		if (!rm_knob_read(k[i].path, k[i].saved, sizeof(k[i].saved)) ||
		    !rm_knob_write(k[i].path, k[i].value))
			*missing = k[i].path;
		else
			k[i].set = true;
	}
	if (!*missing)
		return nth_fd;
	rm_failnth_restore();
	if (nth_fd >= 0)
		close(nth_fd);
	return -1;
}

/* Make the @n-th allocation of this thread from now on fail; whether it could. */
static inline bool rm_failnth_arm(int nth_fd, int n)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", n);
	return pwrite(nth_fd, buf, strlen(buf), 0) == (ssize_t)strlen(buf);
}

/*
 * Read and disarm fail-nth: *@left receives what it read (0 when the
 * fault was injected, else it was not reached); whether it could.
 */
static inline bool rm_failnth_disarm(int nth_fd, int *left)
{
	char buf[32];
	ssize_t r = pread(nth_fd, buf, sizeof(buf) - 1, 0);

	if (pwrite(nth_fd, "0", 1, 0) != 1 || r <= 0)
		return false;
	buf[r] = 0;
	*left = atoi(buf);
	return true;
}

/* ----------------------------------------------------- /proc/self/pagemap */

#define RM_PM_PRESENT	(1ull << 63)
#define RM_PM_SWAP	(1ull << 62)
#define RM_PM_PFN	((1ull << 55) - 1)

/*
 * The pagemap entries of @n pages from @p into @ent (root sees PFNs);
 * false if pagemap cannot be read.
 */
static inline bool rm_pagemap(const void *p, size_t n, uint64_t *ent)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	size_t want = n * sizeof(*ent), got = 0;
	off_t off = (off_t)((uintptr_t)p / rm_page_size() * sizeof(*ent));

	if (fd < 0)
		return false;
	while (got < want) {
		ssize_t r = pread(fd, (char *)ent + got, want - got, off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	return got == want;
}

/*
 * Whether the @n present pages at @dst have exactly the PFNs @before
 * recorded at the source: the same physical pages arrived (a module that
 * copied them into new folios would pass every content check).  Says
 * which page differs.
 */
static inline bool rm_same_pfns(const char *what, const uint64_t *before, const void *dst,
				size_t n)
{
	uint64_t *after = malloc(n * sizeof(*after));
	bool ok = after && rm_pagemap(dst, n, after);

	for (size_t i = 0; ok && i < n; i++) {
		if (!(before[i] & RM_PM_PRESENT))
			continue;
		if (!(after[i] & RM_PM_PRESENT) ||
		    (after[i] & RM_PM_PFN) != (before[i] & RM_PM_PFN)) {
			ksft_print_msg(
				"%s: page %zu was PFN %#llx before the move, is %#llx (entry %#llx) after\n",
				what, i, (unsigned long long)(before[i] & RM_PM_PFN),
				(unsigned long long)(after[i] & RM_PM_PFN),
				(unsigned long long)after[i]);
			ok = false;
		}
	}
	free(after);
	return ok;
}

/* VmPTE of /proc/self/status in kB (page-table pages of this mm), or -1. */
static inline long rm_vmpte_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPTE: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

#endif /* RUST_MREMAP_LIB_H */
