// SPDX-License-Identifier: GPL-2.0
/*
 * rust_mremap benchmark: time RUST_MREMAP_IOC_MOVE beside the two ways the
 * kernel already offers to move populated anonymous memory:
 *   mremap(MREMAP_MAYMOVE | MREMAP_FIXED)  (moves the VMA with the pages)
 *   UFFDIO_MOVE                            (userfaultfd, dst registered MISSING)
 * Each method gets its own freshly populated source (populating is not
 * timed) and a fresh, never-faulted destination VMA; only the single call
 * is timed (CLOCK_MONOTONIC), R times, and the median is reported.  After
 * every move, outside the timed region, every page of the destination is
 * checked: the first and last page of each 2 MiB whole against the
 * source's bytes, every other page its first byte (each page of the source
 * is written, those two pages with the whole pattern, the others with their
 * first byte); for the two methods that keep the source mapped, the source
 * must read zero at those two pages of each 2 MiB.  So a broken mover
 * cannot look fast.
 *
 * Main table, one row per scenario (S = -s MiB).  A row's methods are
 * measured in the same run, their repetitions interleaved; ratios are
 * mremap/ioctl and UFFDIO_MOVE/ioctl (above 1: the ioctl is faster):
 *   a. S MiB 4K, PMD-aligned, fresh dst   ioctl flags 0: the share path (the
 *                                         destination takes the source's
 *                                         rmap identity, no folio touched)
 *   b. S MiB 4K, PMD-aligned, RELOCATE    as a, ioctl flag RUST_MREMAP_RELOCATE
 *                                         (every folio relocated); mremap and
 *                                         UFFDIO_MOVE measured as in a
 *   c. S MiB THP                          as a, MADV_HUGEPAGE
 *   d. 1 GiB 4K, PUD-aligned              src and dst at 1 GiB boundaries: a
 *                                         whole PMD table can move as one PUD
 *                                         entry (mremap() does); "n/a" when no
 *                                         such hole is found
 *   e. 64 MiB PTE-only                    src at 0, dst at 4K into a PMD
 *   f. 5 MiB at 1 MiB offset              src and dst 1 MiB into a PMD
 *   g. 5.5 MiB at 1 MiB offset            as f, the tail ends mid-PMD
 * Rows a-c are PMD-aligned but mutually PUD-misaligned (src 2 MiB, dst
 * 4 MiB into a 1 GiB region), so neither mremap() nor the ioctl can move a
 * PUD entry.  Each row also shows the ioctl's counters of its last
 * repetition (pmd/pud/pte/huge/relocated), which tell the path that ran.
 *
 * Scaling table: the placement and share path of row a at 2, 8, 32, 128,
 * 512 and 2048 MiB (at most MAX_SIZE_MB), ioctl and mremap() only (R
 * repetitions each, verified as above): medians, time per GiB, mremap/ioctl.
 *
 * Collector table (ABI 3), a copying collector's evacuation: a from-space
 * of F MiB (-c; S/2 rounded down to 4 MiB by default, so 512), 4K pages
 * (MADV_NOHUGEPAGE, every page written), every other chunk of C bytes
 * (16 KiB, 64 KiB, 2 MiB) packed densely into a fresh to-space of F/2 MiB;
 * both PMD-aligned, so the 2 MiB chunks are mutually aligned with it.
 * Fresh setup per repetition, the methods' repetitions interleaved, the
 * whole loop (or call) timed, median reported:
 *   vectored   one RUST_MREMAP_IOC_MOVEV of all F/(2C) chunks (flags 0: the
 *              chunks land at other offsets, so every entry relocates)
 *   ioctl      one RUST_MREMAP_IOC_MOVE per chunk
 *   uffd       one UFFDIO_MOVE per chunk (to-space registered MISSING)
 *   mremap     one mremap(MREMAP_MAYMOVE | MREMAP_FIXED) per chunk, at most
 *              COLL_MREMAP_REPS repetitions (a VMA per chunk on each side
 *              makes its setup and teardown the slowest under TCG)
 * Ratios uffd/vec, uffd/ioctl and mremap/vec (above 1: the second is
 * faster), the VMAs overlapping the to-space and the from-space afterwards
 * (/proc/self/maps) and the vectored call's counters.  A "+uffd" row has the
 * vectored and the per-chunk ioctl with the to-space registered with
 * userfaultfd (MISSING), beside the same UFFDIO_MOVE loop; with ABI 4 they
 * pass RUST_MREMAP_UFFD and that userfaultfd, as its holder must.  Checked
 * after each move, outside the timed region: every page of every chunk
 * holds at the to-space the tag its from-space page was written with (each
 * page of the from-space holds its own, in its first word), is gone from
 * the from-space (pagemap), and every page of the chunk after each (not
 * moved) still holds its tag.
 * Fault latency: during the vectored call and the UFFDIO_MOVE loop of the
 * 64 KiB pattern, a second thread (on another CPU) MADV_DONTNEEDs a page of
 * an unrelated VMA and times the write that faults it back, in a loop, from
 * LAT_LEAD_NS before the move until LAT_TAIL_NS after; the faults that
 * overlap the move, pooled over the repetitions: median, p99, worst.  With
 * ABI < 3 the vectored and "+uffd" measurements are skipped (n/a, why).
 *
 * Lock hold (ABI 3): the 16 KiB pattern's set-up, but the from-space
 * MADV_DONTFORK and the to-space one page longer, that page written by the
 * mover (so the to-space has its anon_vma and the move relocates); then
 * fork().  The child writes its copy of that page (a folio of its own,
 * under the to-space's root anon_vma, which a relocating run takes for
 * write) and loops: MADV_PAGEOUT of it, timed, pagemap to see it went to
 * swap, read and write it back; from LOCK_LEAD_NS before the one MOVEV of
 * every chunk until LOCK_TAIL_NS after it.  Printed: the move's median, the
 * child's MADV_PAGEOUT calls overlapping the move (pooled over the
 * repetitions: how many, how many put the page in swap, median, p99,
 * worst), the largest worst-wait/move ratio of a repetition, the same
 * loop's calls before the move (the idle baseline) and folios_relocated.
 * A row in which the page went to swap in none of the calls overlapping
 * the move (no swap: the guest's is zram), or whose move relocated nothing,
 * measured nothing: it says INVALID and NOT MEASURED, and the benchmark
 * does not fail for it.
 *
 * The header names the kernel (uname -r and -v, $RUST_MREMAP_FLAVOUR when
 * set, the first line of /proc/version).
 *
 *   rust_mremap_bench [-r repetitions (5)] [-s S, MiB for rows a-c (1024)]
 *                     [-c F, MiB of the collector's and the lock-hold row's
 *                      from-space (S/2); 0: none]
 *                     [-o TABLE,...: only these of main (rows a-g),
 *                      scaling, collector (with fault latency), lock]
 *
 * Not a test: prints the tables, exits 0 unless a move fails or data is
 * wrong.  Only one region is populated at a time (at most MAX_SIZE_MB MiB).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <linux/userfaultfd.h>

#include "rust_mremap_lib.h"

#define GUARD		RM_MB(4)
#define MAX_REPS	101
#define MAX_SIZE_MB	2048	/* keeps the populated memory below ~2.5 GiB */

enum method { M_IOCTL, M_MREMAP, M_UFFD, M_NR };

/* The tables, for -o */
enum { T_MAIN = 1, T_SCALING = 2, T_COLLECTOR = 4, T_LOCK = 8 };
static const struct {
	const char *name;
	unsigned int bit;
} table_name[] = {
	{ "main", T_MAIN }, { "scaling", T_SCALING }, { "collector", T_COLLECTOR },
	{ "lock", T_LOCK },
};

static const char *const method_name[M_NR] = { "ioctl", "mremap", "UFFDIO_MOVE" };

struct scen {
	const char *name;
	size_t len;
	size_t align;			/* RM_PMD or RM_PUD: what the offsets are within */
	size_t src_off, dst_off;	/* start offsets within @align */
	bool thp;
	unsigned int flags;		/* RUST_MREMAP_* of the ioctl */
};

/* Result of one measurement */
enum { RUN_OK, RUN_FAIL, RUN_NA, RUN_NOHOLE };

/* What one scenario measured */
struct row {
	double med[M_NR];		/* median, us */
	bool na[M_NR];			/* method not measured */
	const char *na_why;		/* whole row not measured: why */
	bool ctr_differ;		/* the ioctl's counters changed between reps */
	struct rust_mremap_move ctr;	/* the ioctl's, last repetition */
};

static int g_fd;
static size_t g_ps;
static bool g_uffd;			/* UFFDIO_MOVE usable */
static bool g_uffd_any;			/* userfaultfd usable (registering a range) */
static unsigned int g_tables = ~0u;	/* the tables -o selects (T_*) */
static char g_uffd_why[160];		/* why not */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[MAX_REPS];

	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/*
 * Pin the benchmark to the first CPU it may run on (@on), or give it back
 * every CPU it had; says once whether it could.  The rows with an idle
 * target run pinned, every method of a row alike, so that no method pays
 * for a migration between CPUs in its timed region.  (The 2 MiB rows' one
 * slow mode, 60 ms instead of 15 for 128 UFFDIO_MOVE calls, pinned or not,
 * was QEMU's TLB size: tcg_tlb_settle().)  The fault latency rows measure
 * the case of a target running on both CPUs.
 */
static void pin_self(bool on)
{
	static cpu_set_t saved;
	static bool have, said;

	if (on) {
		cpu_set_t one;

		have = !sched_getaffinity(0, sizeof(saved), &saved);
		if (!have)
			printf("# idle-target rows: not pinned (sched_getaffinity: %s)\n",
			       strerror(errno));
		for (int i = 0; have && i < CPU_SETSIZE; i++) {
			if (!CPU_ISSET(i, &saved))
				continue;
			CPU_ZERO(&one);
			CPU_SET(i, &one);
			if (sched_setaffinity(0, sizeof(one), &one)) {
				printf("# idle-target rows: could not pin to CPU %d: %s\n", i,
				       strerror(errno));
			} else if (!said) {
				printf("# idle-target rows: pinned to CPU %d\n", i);
				said = true;
			}
			break;
		}
	} else if (have) {
		sched_setaffinity(0, sizeof(saved), &saved);
	}
}

/*
 * Fresh private anonymous region starting @off bytes past an @align
 * boundary, GUARD free around it.  *nohole tells whether no such hole was
 * found (as opposed to the mapping failing).
 */
static uint8_t *map_region(size_t len, size_t align, size_t off, bool thp, bool *nohole)
{
	void *hole = rm_find_hole(len, align, off, GUARD);
	uint8_t *p;

	*nohole = !hole;
	if (!hole)
		return NULL;
	p = rm_map_at(hole, len, PROT_READ | PROT_WRITE);	/* MADV_NOHUGEPAGE */
	if (p && thp && madvise(p, len, MADV_HUGEPAGE)) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

/* Sample pages: the first and the last page of each 2 MiB of the region. */
static bool is_sample(size_t o, size_t len)
{
	size_t c = o - o % RM_PMD, end = c + RM_PMD < len ? c + RM_PMD : len;

	return o == c || o == end - g_ps;
}

/* Every page written (so populated); the sample pages get the whole pattern. */
static void populate(uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t o = 0; o < len; o += g_ps) {
		if (is_sample(o, len))
			rm_fill(p + o, g_ps, seed, o);
		else
			p[o] = rm_pattern_byte(seed, o);
	}
}

/*
 * Sample pages hold the pattern and every other page its first byte (or,
 * with @zero, the sample pages read zero: reading every page of a source
 * that is not populated would fault each in).
 */
static bool check_samples(const char *what, const uint8_t *p, size_t len, unsigned int seed,
			  bool zero)
{
	for (size_t o = 0; !zero && o < len; o += g_ps) {
		if (p[o] != rm_pattern_byte(seed, o)) {
			fprintf(stderr, "%s: byte at offset %#zx is 0x%02x, expected 0x%02x\n",
				what, o, p[o], rm_pattern_byte(seed, o));
			return false;
		}
	}
	for (size_t c = 0; c < len; c += RM_PMD) {
		size_t end = c + RM_PMD < len ? c + RM_PMD : len;
		size_t pages[2] = { c, end - g_ps };

		for (int i = 0; i < 2; i++) {
			const uint8_t *pg = p + pages[i];
			size_t bad;

			if (zero) {
				if (!rm_all_zero(pg, g_ps)) {
					fprintf(stderr,
						"%s: page at offset %#zx does not read zero\n",
						what, pages[i]);
					return false;
				}
				continue;
			}
			bad = rm_check(pg, g_ps, seed, pages[i]);
			if (bad != (size_t)-1) {
				fprintf(stderr,
					"%s: byte at offset %#zx is 0x%02x, expected 0x%02x\n",
					what, pages[i] + bad, pg[bad],
					rm_pattern_byte(seed, pages[i] + bad));
				return false;
			}
		}
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* userfaultfd */

static void uffd_probe(void)
{
	uint64_t features = 0;
	int fd = rm_uffd_open(0, &features);

	if (fd < 0) {
		snprintf(g_uffd_why, sizeof(g_uffd_why),
			 "userfaultfd(UFFD_USER_MODE_ONLY)/UFFDIO_API: %s", strerror(errno));
		return;
	}
	close(fd);
	g_uffd_any = true;
	if (!(features & UFFD_FEATURE_MOVE)) {
		snprintf(g_uffd_why, sizeof(g_uffd_why),
			 "the kernel does not report UFFD_FEATURE_MOVE");
		return;
	}
	g_uffd = true;
}

/* UFFDIO_MOVE of the whole range; partial moves (EAGAIN) are continued. */
static int uffd_move(int uffd, uint8_t *src, uint8_t *dst, size_t len)
{
	size_t done = 0;
	int tries = 0;

	while (done < len) {
		struct uffdio_move mv = {
			.dst = (uintptr_t)(dst + done),
			.src = (uintptr_t)(src + done),
			.len = len - done,
			.mode = 0,
		};

		if (!ioctl(uffd, UFFDIO_MOVE, &mv)) {
			done += (size_t)mv.move;
			if (mv.move <= 0)
				return -EIO;
			continue;
		}
		if (errno == EAGAIN && mv.move > 0 && ++tries < 1000) {
			done += (size_t)mv.move;
			continue;
		}
		return -errno;
	}
	return 0;
}

/* ------------------------------------------------------------------ */

/*
 * One measurement: populate a fresh source, map an empty destination,
 * time the single move, check the samples, free everything.  RUN_NOHOLE:
 * a 1 GiB-aligned placement found no hole (nothing was measured).
 */
static int run_once(enum method m, const struct scen *s, unsigned int seed, double *us,
		    struct rust_mremap_move *ctr)
{
	uint8_t *src, *dst = NULL;
	int uffd = -1, ret = RUN_FAIL, err = 0;
	bool src_mapped = true, nohole;
	double t0, t1;

	src = map_region(s->len, s->align, s->src_off, s->thp, &nohole);
	if (!src) {
		if (nohole && s->align == RM_PUD)
			return RUN_NOHOLE;
		fprintf(stderr, "%s: mmap %zu bytes: %s\n", s->name, s->len, strerror(errno));
		return RUN_FAIL;
	}
	populate(src, s->len, seed);
	dst = map_region(s->len, s->align, s->dst_off, s->thp, &nohole);
	if (!dst) {
		if (nohole && s->align == RM_PUD)
			ret = RUN_NOHOLE;
		else
			fprintf(stderr, "%s: mmap %zu bytes: %s\n", s->name, s->len,
				strerror(errno));
		goto out;
	}

	if (m == M_UFFD) {
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)dst, .len = s->len },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		uffd = rm_uffd_open(UFFD_FEATURE_MOVE, NULL);
		if (uffd < 0 || ioctl(uffd, UFFDIO_REGISTER, &reg)) {
			fprintf(stderr, "%s: userfaultfd setup: %s\n", s->name, strerror(errno));
			ret = RUN_NA;
			goto out;
		}
		if (!(reg.ioctls & (1ULL << _UFFDIO_MOVE))) {
			fprintf(stderr, "%s: UFFDIO_MOVE not offered for the registered range\n",
				s->name);
			ret = RUN_NA;
			goto out;
		}
	}

	switch (m) {
	case M_IOCTL:
		t0 = now_us();
		err = rm_move(g_fd, RUST_MREMAP_PIDFD_SELF, s->flags, src, dst, s->len, ctr);
		t1 = now_us();
		if (!err && ctr->moved != s->len)
			err = -EIO;
		if (err)
			fprintf(stderr, "%s: ioctl move (flags %#x): %s (moved %#llx of %#zx)\n",
				s->name, s->flags, strerror(-err), (unsigned long long)ctr->moved,
				s->len);
		break;
	case M_MREMAP: {
		void *r;

		t0 = now_us();
		r = mremap(src, s->len, s->len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
		t1 = now_us();
		if (r == MAP_FAILED)
			err = -errno;
		else if (r != dst)
			err = -EIO;
		else
			src_mapped = false;
		if (err)
			fprintf(stderr, "%s: mremap: %s\n", s->name, strerror(-err));
		break;
	}
	case M_UFFD:
		t0 = now_us();
		err = uffd_move(uffd, src, dst, s->len);
		t1 = now_us();
		if (err)
			fprintf(stderr, "%s: UFFDIO_MOVE: %s\n", s->name, strerror(-err));
		close(uffd);
		uffd = -1;
		break;
	default:
		goto out;
	}
	if (err)
		goto out;
	*us = t1 - t0;

	if (!check_samples(method_name[m], dst, s->len, seed, false) ||
	    (src_mapped && !check_samples(method_name[m], src, s->len, seed, true)))
		goto out;
	ret = RUN_OK;
out:
	if (uffd >= 0)
		close(uffd);
	if (dst)
		munmap(dst, s->len);
	if (src_mapped)
		munmap(src, s->len);
	return ret;
}

static bool same_counters(const struct rust_mremap_move *a, const struct rust_mremap_move *b)
{
	return a->pmd_moves == b->pmd_moves && a->pte_moves == b->pte_moves &&
	       a->huge_pmd_moves == b->huge_pmd_moves && a->pud_moves == b->pud_moves &&
	       a->folios_relocated == b->folios_relocated;
}

/*
 * Measure one scenario: @reps repetitions of the first @nmeth methods,
 * interleaved.  False when a move failed or its data was wrong.  A row
 * that could not be placed comes back with ->na_why set.
 */
static bool measure(const struct scen *s, unsigned int seed_base, long reps, int nmeth,
		    struct row *row)
{
	double t[M_NR][MAX_REPS];

	printf("# %s: %zu KiB x %ld x %d methods ...\n", s->name, s->len >> 10, reps, nmeth);
	fflush(stdout);
	for (int m = 0; m < M_NR; m++)
		row->na[m] = m >= nmeth || (m == M_UFFD && !g_uffd);

	for (long r = 0; r < reps; r++) {
		for (int m = 0; m < M_NR; m++) {
			unsigned int seed = seed_base + (unsigned int)r * 10 + (unsigned int)m + 1;
			struct rust_mremap_move c;
			int res;

			if (row->na[m])
				continue;
			memset(&c, 0, sizeof(c));
			res = run_once((enum method)m, s, seed, &t[m][r], &c);
			if (res == RUN_NOHOLE) {
				row->na_why = "no 1 GiB-aligned hole";
				printf("# %s: n/a (%s)\n", s->name, row->na_why);
				return true;
			}
			if (res == RUN_NA) {
				row->na[m] = true;
			} else if (res == RUN_FAIL) {
				fprintf(stderr, "FAIL: %s, %s, repetition %ld\n", s->name,
					method_name[m], r);
				return false;
			}
			if (m != M_IOCTL)
				continue;
			if (r && !same_counters(&c, &row->ctr))
				row->ctr_differ = true;
			row->ctr = c;
		}
	}
	for (int m = 0; m < M_NR; m++)
		row->med[m] = row->na[m] ? 0 : median(t[m], (int)reps);
	if (row->ctr_differ)
		printf("# %s: the ioctl's counters differed between repetitions (last shown)\n",
		       s->name);
	return true;
}

/* 0, 4K, 2M, 1G, or bytes */
static const char *fmt_off(char *buf, size_t n, size_t v)
{
	if (!v)
		snprintf(buf, n, "0");
	else if (!(v % RM_GB(1)))
		snprintf(buf, n, "%zuG", v >> 30);
	else if (!(v % RM_MB(1)))
		snprintf(buf, n, "%zuM", v >> 20);
	else if (!(v % RM_KB(1)))
		snprintf(buf, n, "%zuK", v >> 10);
	else
		snprintf(buf, n, "%zu", v);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Collector table */

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif

#define COLL_MAX_MB		(MAX_SIZE_MB / 2)
#define COLL_MREMAP_REPS	3		/* at most, for the mremap loop */
#define LAT_PAGES		16		/* the fault thread's VMA */
#define LAT_LEAD_NS		10000000ull	/* fault thread alone before the move */
#define LAT_TAIL_NS		2000000ull	/* and after it */
#define LAT_CAP			((size_t)1 << 20)	/* samples per move (16 MiB) */

enum cmeth {
	C_VEC, C_IOCTL, C_UFFD, C_MREMAP, C_VEC_REG, C_IOCTL_REG, C_VEC_PART, C_IOCTL_PART, C_NR
};
static const char *const cmeth_name[C_NR] = {
	"vectored", "ioctl/chunk", "UFFDIO_MOVE/chunk", "mremap/chunk", "vectored +uffd",
	"ioctl/chunk +uffd", "vectored partial", "ioctl/chunk partial",
};

static unsigned int g_abi;		/* the module's ABI version */

/* One collector pattern */
struct coll {
	char name[16];			/* the chunk size: "16K" */
	size_t len;			/* from-space; the to-space is len / 2 */
	size_t chunk;
	size_t n;			/* chunks that move: len / (2 * chunk) */
	struct rust_mremap_vec *vec;	/* n entries: chunk 2i of from-space to chunk i */
	size_t per_pmd;			/* 0: dense; else chunks per 2 MiB (lock row) */
};

/* Where chunk @i of @c lands in the to-space @to. */
static uint8_t *coll_dst(const struct coll *c, const uint8_t *to, size_t i)
{
	if (!c->per_pmd)
		return (uint8_t *)to + i * c->chunk;
	return (uint8_t *)to + i / c->per_pmd * RM_PMD + i % c->per_pmd * c->chunk;
}

/* What one collector pattern measured */
struct crow {
	double med[C_NR];		/* median, us */
	long want[C_NR];		/* repetitions to measure */
	long reps[C_NR];		/* repetitions measured */
	const char *na[C_NR];		/* not measured: why */
	bool fail[C_NR];		/* a move failed or its data was wrong */
	long to_vmas[C_NR];		/* VMAs overlapping the to-space, last repetition */
	long from_vmas[C_NR];		/* and the from-space */
	struct rust_mremap_movev ctr[C_NR];	/* the vectored calls', last repetition */
	char why[160];			/* storage for a na[] */
};

/* One collector measurement's results */
struct cout {
	double us;
	long to_vmas, from_vmas;
	struct rust_mremap_movev ctr;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * The holder of a registered VMA's userfaultfd says so (ABI 4): the flag and
 * the fd to pass for a to-space registered with @uffd.  An ABI 3 module
 * took registered memory from anyone, and knows neither.
 */
static unsigned int uffd_flags(void)
{
	return g_abi >= 4 ? RUST_MREMAP_UFFD : 0;
}

static int uffd_arg(int uffd)
{
	return g_abi >= 4 ? uffd : 0;
}

static bool cm_vec(enum cmeth m)
{
	return m == C_VEC || m == C_VEC_REG || m == C_VEC_PART;
}

static bool cm_ioctl(enum cmeth m)
{
	return m == C_IOCTL || m == C_IOCTL_REG || m == C_IOCTL_PART;
}

static bool cm_reg(enum cmeth m)
{
	return m == C_UFFD || m == C_VEC_REG || m == C_IOCTL_REG;
}

/* The RUST_MREMAP_* flags of a vectored or per-chunk ioctl method. */
static unsigned int cm_flags(enum cmeth m)
{
	return (cm_reg(m) ? uffd_flags() : 0) |
	       (m == C_VEC_PART || m == C_IOCTL_PART ? RUST_MREMAP_PARTIAL : 0);
}

/* RUST_MREMAP_IOC_MOVEV with @flags and @uffd: 0 or -errno; *@out as the kernel left it. */
static int movev_uffd(unsigned int flags, int uffd, const struct rust_mremap_vec *vec,
		      unsigned int count, struct rust_mremap_movev *out)
{
	struct rust_mremap_movev m = {
		.pidfd = RUST_MREMAP_PIDFD_SELF,
		.flags = flags,
		.vec = (uintptr_t)vec,
		.count = count,
		.uffd = uffd,
	};
	int ret;

	rm_poison_outv(&m);
	ret = ioctl(g_fd, RUST_MREMAP_IOC_MOVEV, &m);
	*out = m;
	return ret ? -errno : 0;
}

/* RUST_MREMAP_IOC_MOVE with @flags and @uffd: 0 or -errno; *@out as the kernel left it. */
static int move_uffd(unsigned int flags, int uffd, uint64_t src, uint64_t dst, size_t len,
		     struct rust_mremap_move *out)
{
	struct rust_mremap_move m = {
		.pidfd = RUST_MREMAP_PIDFD_SELF,
		.flags = flags,
		.src = src,
		.dst = dst,
		.len = len,
		.uffd = uffd,
	};
	int ret;

	rm_poison_out(&m);
	ret = ioctl(g_fd, RUST_MREMAP_IOC_MOVE, &m);
	*out = m;
	return ret ? -errno : 0;
}

/* The first word of the from-space page at @off: its own per page and seed, never 0. */
static uint64_t ctag(unsigned int seed, size_t off)
{
	return (uint64_t)seed << 32 | (uint64_t)(off / g_ps + 1);
}

/*
 * Every page populated (one MADV_POPULATE_WRITE: far cheaper under TCG than
 * a trap per page; if it fails the writes fault them in) and written.
 */
static void coll_populate(uint8_t *p, size_t len, unsigned int seed)
{
	madvise(p, len, MADV_POPULATE_WRITE);
	for (size_t o = 0; o < len; o += g_ps)
		*(uint64_t *)(p + o) = ctag(seed, o);
}

/*
 * The VMAs of /proc/self/maps overlapping [a, a + alen) into *na and
 * [b, b + blen) into *nb; returns the number of all VMAs, -1 if maps
 * cannot be read.
 */
static long count_vmas(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, long *na,
		       long *nb)
{
	uintptr_t as = (uintptr_t)a, bs = (uintptr_t)b;
	FILE *f = fopen("/proc/self/maps", "re");
	unsigned long s, e;
	char *line = NULL;
	size_t cap = 0;
	long all = 0;

	*na = *nb = 0;
	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			continue;
		all++;
		if (s < as + alen && e > as)
			(*na)++;
		if (s < bs + blen && e > bs)
			(*nb)++;
	}
	free(line);
	fclose(f);
	return all;
}

/*
 * After a move of @c, outside the timed region: every page of every chunk
 * that moved holds, at its place in the to-space, the tag its from-space
 * page was written with (each page has its own: a page that moved to the
 * wrong place, or did not arrive, is found), and is gone from the
 * from-space (pagemap: neither present nor swapped; unmapped reads the
 * same); every page of the chunk after each (not moved) still holds its tag.
 */
static bool coll_check(const char *what, const struct coll *c, const uint8_t *from,
		       const uint8_t *to, unsigned int seed)
{
	size_t np = c->len / g_ps;
	uint64_t *pm = malloc(np * sizeof(*pm));
	bool ok = pm && rm_pagemap(from, np, pm);

	if (!ok)
		fprintf(stderr, "%s, %s: /proc/self/pagemap: %s\n", c->name, what,
			pm ? "unreadable" : "out of memory");
	for (size_t i = 0; ok && i < c->n; i++) {
		size_t so = 2 * i * c->chunk, keep = so + c->chunk;

		for (size_t k = 0; ok && k < c->chunk; k += g_ps) {
			uint64_t w = *(const uint64_t *)(coll_dst(c, to, i) + k);
			uint64_t want = ctag(seed, so + k);
			uint64_t e = pm[(so + k) / g_ps];

			if (w != want) {
				fprintf(stderr,
					"%s, %s: chunk %zu: to-space offset %#zx holds %#llx, expected %#llx\n",
					c->name, what, i, (size_t)(coll_dst(c, to, i) - to) + k,
					(unsigned long long)w, (unsigned long long)want);
				ok = false;
			} else if (e & (RM_PM_PRESENT | RM_PM_SWAP)) {
				fprintf(stderr,
					"%s, %s: chunk %zu: from-space offset %#zx still mapped (pagemap %#llx)\n",
					c->name, what, i, so + k, (unsigned long long)e);
				ok = false;
			}
		}
		for (size_t k = 0; ok && k < c->chunk; k += g_ps) {
			uint64_t w = *(const uint64_t *)(from + keep + k);

			if (w != ctag(seed, keep + k)) {
				fprintf(stderr,
					"%s, %s: from-space offset %#zx (not moved) holds %#llx, expected %#llx\n",
					c->name, what, keep + k, (unsigned long long)w,
					(unsigned long long)ctag(seed, keep + k));
				ok = false;
			}
		}
	}
	free(pm);
	return ok;
}

/* -------------------------------------------- fault latency thread */

struct lat_sample {
	uint64_t start_ns;	/* the iteration's start, before MADV_DONTNEED */
	uint32_t fault_ns;	/* the write that faulted the page back in */
	uint32_t iter_ns;	/* MADV_DONTNEED and the write */
};

struct faulter {
	uint8_t *area;			/* LAT_PAGES pages, a VMA of its own */
	struct lat_sample *s;		/* LAT_CAP samples */
	size_t n;			/* samples recorded (atomic) */
	int stop;			/* atomic */
	int err;			/* errno of a failed MADV_DONTNEED (atomic) */
	int cpu;			/* the thread's CPU; -1: not pinned */
	pthread_t th;
};

struct u32vec {
	uint32_t *v;
	size_t n, cap;
};

/* What the fault thread saw around one method's moves, pooled over the repetitions */
struct lrow {
	enum cmeth m;
	const char *na;			/* not measured: why */
	bool fail;
	long reps;
	double move_us[MAX_REPS];
	struct u32vec fault;		/* ns, the faults overlapping a move */
	struct u32vec idle;		/* ns, the faults of the lead-in */
	uint64_t worst_iter;		/* ns, MADV_DONTNEED + fault overlapping a move */
	bool short_run;			/* the samples ended before a move did */
};

static bool u32_push(struct u32vec *a, uint32_t x)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 4096;
		uint32_t *v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return false;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = x;
	return true;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The @pct percentile of the sorted @a, in us ("-" when empty) */
static const char *pct_us(char *buf, size_t n, const struct u32vec *a, unsigned int pct)
{
	if (!a->n)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.1f", (double)a->v[(a->n - 1) * pct / 100] / 1e3);
	return buf;
}

static void *faulter_fn(void *arg)
{
	struct faulter *f = arg;
	size_t i = 0;

	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED) && i < LAT_CAP) {
		uint8_t *pg = f->area + (i % LAT_PAGES) * g_ps;
		uint64_t t0 = now_ns(), t1, t2;

		if (madvise(pg, g_ps, MADV_DONTNEED)) {
			__atomic_store_n(&f->err, errno, __ATOMIC_RELEASE);
			break;
		}
		t1 = now_ns();
		__atomic_store_n((uint64_t *)pg, i + 1, __ATOMIC_RELAXED);	/* the fault */
		t2 = now_ns();
		f->s[i] = (struct lat_sample){ t0, (uint32_t)(t2 - t1), (uint32_t)(t2 - t0) };
		__atomic_store_n(&f->n, ++i, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* Start the fault thread, wait for its first fault, let it run alone LAT_LEAD_NS. */
static bool faulter_start(struct faulter *f)
{
	pthread_attr_t attr;
	uint64_t t0;
	int e;

	f->n = 0;
	f->stop = 0;
	f->err = 0;
	pthread_attr_init(&attr);
	if (f->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(f->cpu, &set);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	}
	e = pthread_create(&f->th, &attr, faulter_fn, f);
	pthread_attr_destroy(&attr);
	if (e) {
		fprintf(stderr, "fault thread: pthread_create: %s\n", strerror(e));
		return false;
	}
	t0 = now_ns();
	while (!__atomic_load_n(&f->n, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&f->err, __ATOMIC_ACQUIRE) && now_ns() - t0 < 10000000000ull)
		sched_yield();
	if (!__atomic_load_n(&f->n, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&f->stop, 1, __ATOMIC_RELAXED);
		pthread_join(f->th, NULL);
		fprintf(stderr, "fault thread: no fault in 10 s (MADV_DONTNEED: %s)\n",
			f->err ? strerror(f->err) : "no error");
		return false;
	}
	sleep_ns(LAT_LEAD_NS);
	return true;
}

/* Stop the fault thread LAT_TAIL_NS after a move that ran in [w0, w1); pool its samples. */
static bool faulter_stop(struct faulter *f, uint64_t w0, uint64_t w1, struct lrow *l)
{
	uint64_t last_end = 0;

	sleep_ns(LAT_TAIL_NS);
	__atomic_store_n(&f->stop, 1, __ATOMIC_RELAXED);
	pthread_join(f->th, NULL);
	if (f->err) {
		fprintf(stderr, "fault thread: MADV_DONTNEED: %s\n", strerror(f->err));
		return false;
	}
	for (size_t i = 0; i < f->n; i++) {
		const struct lat_sample *s = &f->s[i];
		uint64_t end = s->start_ns + s->iter_ns, fstart = end - s->fault_ns;
		bool ok = true;

		last_end = end;
		if (end <= w0)
			ok = u32_push(&l->idle, s->fault_ns);
		else if (fstart < w1)
			ok = u32_push(&l->fault, s->fault_ns);
		if (s->start_ns < w1 && end > w0 && s->iter_ns > l->worst_iter)
			l->worst_iter = s->iter_ns;
		if (!ok) {
			fprintf(stderr, "fault thread: out of memory for the samples\n");
			return false;
		}
	}
	if (last_end < w1)
		l->short_run = true;
	return true;
}

/* ---------------------------------------------------------------- */

/*
 * Before a timed region whose every call ends in a full TLB flush (a 2 MiB
 * range is 512 pages, above tlb_single_page_flush_ceiling), for every method
 * alike: 300 ms of touching 64 pages and zapping them (a full flush each).
 * Under TCG a full flush makes QEMU clear its software TLB, which it grows
 * while a process touches much memory (as the set-up just did: 512 MiB) and
 * shrinks only at a flush after 100 ms of light use; grown, one flush cost
 * about 0.4 ms against 13 us (measured 2026-12-07: a host profile of QEMU
 * showed memset at 26% in the slow 2 MiB UFFDIO_MOVE loops).  A loop pays it
 * per call, one vectored call nearly once, so without this the 2 MiB rows
 * compared QEMU's TLB sizes, not the kernel's work.  Touches no memory of
 * the measurement.
 */
static void tcg_tlb_settle(void)
{
	static uint8_t *scratch;
	const size_t len = 64 * 4096;
	uint64_t end = now_ns() + 300 * 1000 * 1000ULL;

	if (!scratch) {
		scratch = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (scratch == MAP_FAILED) {
			scratch = NULL;
			return;
		}
	}
	while (now_ns() < end) {
		for (size_t o = 0; o < len; o += 4096)
			scratch[o] = 1;
		madvise(scratch, len, MADV_DONTNEED);
	}
}

/*
 * One collector measurement of @m on @c: populate a fresh from-space, map
 * a fresh to-space (registered with userfaultfd for the uffd methods),
 * time the call or the loop (with the fault thread @f running around it,
 * if given), count the VMAs, check, free everything.
 */
static int coll_once(enum cmeth m, const struct coll *c, unsigned int seed, struct faulter *f,
		     struct lrow *l, struct cout *out)
{
	const char *what = cmeth_name[m];
	bool reg = cm_reg(m), nohole, fok = true;
	size_t tlen = c->len / 2, i = 0;
	int uffd = -1, ret = RUN_FAIL, err = 0;
	struct rust_mremap_move mv = { 0 };
	uint8_t *from, *to = NULL;
	uint64_t t0, t1;

	from = map_region(c->len, RM_PMD, 0, false, &nohole);	/* MADV_NOHUGEPAGE */
	if (!from) {
		fprintf(stderr, "%s, %s: mmap %zu bytes: %s\n", c->name, what, c->len,
			strerror(errno));
		return RUN_FAIL;
	}
	coll_populate(from, c->len, seed);
	to = map_region(tlen, RM_PMD, 0, false, &nohole);
	if (!to) {
		fprintf(stderr, "%s, %s: mmap %zu bytes: %s\n", c->name, what, tlen,
			strerror(errno));
		goto out;
	}
	if (reg) {
		struct uffdio_register r = {
			.range = { .start = (uintptr_t)to, .len = tlen },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		uffd = rm_uffd_open(m == C_UFFD ? UFFD_FEATURE_MOVE : 0, NULL);
		if (uffd < 0 || ioctl(uffd, UFFDIO_REGISTER, &r)) {
			fprintf(stderr, "%s, %s: userfaultfd setup: %s\n", c->name, what,
				strerror(errno));
			ret = RUN_NA;
			goto out;
		}
		if (m == C_UFFD && !(r.ioctls & (1ULL << _UFFDIO_MOVE))) {
			fprintf(stderr, "%s, %s: UFFDIO_MOVE not offered for the range\n",
				c->name, what);
			ret = RUN_NA;
			goto out;
		}
	}
	for (i = 0; i < c->n; i++)
		c->vec[i] = (struct rust_mremap_vec){
			.src = (uintptr_t)(from + 2 * i * c->chunk),
			.dst = (uintptr_t)(to + i * c->chunk),
			.len = c->chunk,
		};

	if (c->chunk >= RM_MB(1))
		tcg_tlb_settle();
	if (f && !faulter_start(f))
		goto out;
	i = 0;
	t0 = now_ns();
	switch (m) {
	case C_VEC:
	case C_VEC_REG:
	case C_VEC_PART:
		err = movev_uffd(cm_flags(m), reg ? uffd_arg(uffd) : 0, c->vec, (unsigned int)c->n,
				 &out->ctr);
		break;
	case C_IOCTL:
	case C_IOCTL_REG:
	case C_IOCTL_PART:
		for (i = 0; i < c->n; i++) {
			err = move_uffd(cm_flags(m), reg ? uffd_arg(uffd) : 0,
					c->vec[i].src, c->vec[i].dst, c->chunk, &mv);
			if (!err && mv.moved != c->chunk)
				err = -EIO;
			if (err)
				break;
		}
		break;
	case C_UFFD:
		for (i = 0; i < c->n; i++) {
			err = uffd_move(uffd, (uint8_t *)(uintptr_t)c->vec[i].src,
					(uint8_t *)(uintptr_t)c->vec[i].dst, c->chunk);
			if (err)
				break;
		}
		break;
	case C_MREMAP:
		for (i = 0; i < c->n; i++) {
			void *dst = (void *)(uintptr_t)c->vec[i].dst;
			void *r = mremap((void *)(uintptr_t)c->vec[i].src, c->chunk, c->chunk,
					 MREMAP_MAYMOVE | MREMAP_FIXED, dst);

			if (r == MAP_FAILED)
				err = -errno;
			else if (r != dst)
				err = -EIO;
			if (err)
				break;
		}
		break;
	default:
		err = -EINVAL;
		break;
	}
	t1 = now_ns();
	if (f)
		fok = faulter_stop(f, t0, t1, l);

	if (cm_vec(m) && !err && out->ctr.done != c->n)
		err = -EIO;
	if (err && cm_vec(m))
		fprintf(stderr,
			"%s, %s: RUST_MREMAP_IOC_MOVEV of %zu entries: %s (done %u, moved %#llx, err_index %u)\n",
			c->name, what, c->n, strerror(-err), out->ctr.done,
			(unsigned long long)out->ctr.moved, out->ctr.err_index);
	else if (err && cm_ioctl(m))
		fprintf(stderr, "%s, %s: chunk %zu of %zu: %s (moved %#llx)\n", c->name, what, i,
			c->n, strerror(-err), (unsigned long long)mv.moved);
	else if (err)
		fprintf(stderr, "%s, %s: chunk %zu of %zu: %s\n", c->name, what, i, c->n,
			strerror(-err));
	if (err || !fok)
		goto out;
	out->us = (double)(t1 - t0) / 1e3;

	/* Before closing the userfaultfd: closing it unregisters (and may merge) */
	if (count_vmas(to, tlen, from, c->len, &out->to_vmas, &out->from_vmas) < 0) {
		fprintf(stderr, "%s, %s: /proc/self/maps: %s\n", c->name, what, strerror(errno));
		goto out;
	}
	/* Closed before reading the to-space: a page missing there reads zero, not blocks */
	if (uffd >= 0) {
		close(uffd);
		uffd = -1;
	}
	if (!coll_check(what, c, from, to, seed))
		goto out;
	ret = RUN_OK;
out:
	if (uffd >= 0)
		close(uffd);
	if (to)
		munmap(to, tlen);
	munmap(from, c->len);
	return ret;
}

/*
 * Measure one pattern: the methods of @w not n/a, their repetitions
 * interleaved.  False when a move failed or its data was wrong (that
 * method shows FAIL, the others go on).
 */
static bool coll_measure(const struct coll *c, unsigned int seed_base, struct crow *w)
{
	double t[C_NR][MAX_REPS];
	long most = 0;
	bool ok = true;
	int nm = 0;

	for (int m = 0; m < C_NR; m++) {
		if (w->na[m]) {
			printf("# collector %s: %s n/a (%s)\n", c->name, cmeth_name[m], w->na[m]);
			continue;
		}
		nm++;
		if (w->want[m] > most)
			most = w->want[m];
	}
	printf("# collector %s: %zu chunks of %zu KiB, %zu MiB x %ld x %d methods ...\n", c->name,
	       c->n, c->chunk >> 10, c->len >> 20, most, nm);
	fflush(stdout);
	for (long r = 0; r < most; r++) {
		for (int m = 0; m < C_NR; m++) {
			unsigned int seed = seed_base + (unsigned int)r * 10 + (unsigned int)m + 1;
			struct cout o;
			int res;

			if (w->na[m] || w->fail[m] || r >= w->want[m])
				continue;
			memset(&o, 0, sizeof(o));
			res = coll_once((enum cmeth)m, c, seed, NULL, NULL, &o);
			if (res == RUN_NA) {
				w->na[m] = "userfaultfd setup failed";
				continue;
			}
			if (res != RUN_OK) {
				fprintf(stderr, "FAIL: collector %s, %s, repetition %ld\n", c->name,
					cmeth_name[m], r);
				w->fail[m] = true;
				ok = false;
				continue;
			}
			t[m][w->reps[m]++] = o.us;
			w->to_vmas[m] = o.to_vmas;
			w->from_vmas[m] = o.from_vmas;
			w->ctr[m] = o.ctr;
		}
	}
	for (int m = 0; m < C_NR; m++)
		if (!w->na[m] && !w->fail[m] && w->reps[m])
			w->med[m] = median(t[m], (int)w->reps[m]);
	return ok;
}

/* What can be measured, and how often. */
static void coll_plan(const struct coll *c, long reps, long max_maps, struct crow *w)
{
	long all, na, nb;

	for (int m = 0; m < C_NR; m++)
		w->want[m] = reps;
	if (w->want[C_MREMAP] > COLL_MREMAP_REPS)
		w->want[C_MREMAP] = COLL_MREMAP_REPS;
	if (!g_uffd_any)
		w->na[C_VEC_REG] = w->na[C_IOCTL_REG] = "no userfaultfd";
	if (g_abi < 5)
		w->na[C_VEC_PART] = w->na[C_IOCTL_PART] = "ABI < 5: no RUST_MREMAP_PARTIAL";
	if (g_abi < 3) {
		w->na[C_VEC] = w->na[C_VEC_REG] = "ABI < 3: no RUST_MREMAP_IOC_MOVEV";
		w->na[C_IOCTL_REG] = "ABI < 3 refuses userfaultfd-registered VMAs";
	} else if (c->n > RUST_MREMAP_VEC_MAX) {
		w->na[C_VEC] = w->na[C_VEC_REG] = w->na[C_VEC_PART] =
			"more chunks than RUST_MREMAP_VEC_MAX";
	}
	if (!g_uffd)
		w->na[C_UFFD] = g_uffd_why;
	/* The mremap loop ends with a VMA per chunk on each side. */
	all = count_vmas(NULL, 0, NULL, 0, &na, &nb);
	if (all >= 0 && all + 2 * (long)c->n + 64 > max_maps) {
		snprintf(w->why, sizeof(w->why),
			 "needs %ld VMAs, vm.max_map_count is %ld", all + 2 * (long)c->n + 64,
			 max_maps);
		w->na[C_MREMAP] = w->why;
	}
}

/*
 * The fault latency rows: the vectored call and the UFFDIO_MOVE loop of
 * @c, @reps times each (interleaved), with the fault thread running.
 */
static bool coll_latency(const struct coll *c, long reps, const struct crow *w,
			 struct lrow l[2])
{
	struct faulter f = { .cpu = -1 };
	size_t alen = LAT_PAGES * g_ps;
	cpu_set_t saved, one;
	int cpus[2] = { -1, -1 }, k = 0;
	bool nohole, pinned = false, ok = true;

	l[0].m = C_VEC;
	l[1].m = C_UFFD;
	for (int j = 0; j < 2; j++)
		if (w->na[l[j].m])
			l[j].na = w->na[l[j].m];
	if (l[0].na && l[1].na)
		return true;

	f.area = map_region(alen, g_ps, 0, false, &nohole);
	f.s = malloc(LAT_CAP * sizeof(*f.s));
	if (!f.area || !f.s) {
		fprintf(stderr, "fault latency: out of memory\n");
		l[0].fail = l[1].fail = true;
		ok = false;
		goto out;
	}
	/*
	 * Populated: the VMA has its anon_vma, so a fault there needs no mmap
	 * lock (per-VMA lock), and the other pages keep its PTE table from
	 * being freed by a MADV_DONTNEED of one page.
	 */
	memset(f.area, 1, alen);
	memset(f.s, 0, LAT_CAP * sizeof(*f.s));

	if (!sched_getaffinity(0, sizeof(saved), &saved))
		for (int i = 0; i < CPU_SETSIZE && k < 2; i++)
			if (CPU_ISSET(i, &saved))
				cpus[k++] = i;
	if (k == 2) {
		CPU_ZERO(&one);
		CPU_SET(cpus[0], &one);
		pinned = !sched_setaffinity(0, sizeof(one), &one);
	}
	f.cpu = pinned ? cpus[1] : -1;
	if (pinned)
		printf("# fault latency %s: mover on cpu %d, fault thread on cpu %d\n", c->name,
		       cpus[0], cpus[1]);
	else
		printf("# fault latency %s: one cpu: the fault thread shares it with the mover\n",
		       c->name);
	printf("# fault latency %s: %zu chunks of %zu KiB, %zu MiB x %ld x %d methods ...\n",
	       c->name, c->n, c->chunk >> 10, c->len >> 20, reps, !l[0].na + !l[1].na);
	fflush(stdout);

	for (long r = 0; r < reps; r++) {
		for (int j = 0; j < 2; j++) {
			unsigned int seed = 900000 + (unsigned int)r * 10 + (unsigned int)j + 1;
			struct cout o;
			int res;

			if (l[j].na || l[j].fail)
				continue;
			memset(&o, 0, sizeof(o));
			res = coll_once(l[j].m, c, seed, &f, &l[j], &o);
			if (res == RUN_NA) {
				l[j].na = "userfaultfd setup failed";
				continue;
			}
			if (res != RUN_OK) {
				fprintf(stderr, "FAIL: fault latency %s, %s, repetition %ld\n",
					c->name, cmeth_name[l[j].m], r);
				l[j].fail = true;
				ok = false;
				continue;
			}
			l[j].move_us[l[j].reps++] = o.us;
		}
	}
	for (int j = 0; j < 2; j++) {
		if (l[j].fault.n)
			qsort(l[j].fault.v, l[j].fault.n, sizeof(uint32_t), cmp_u32);
		if (l[j].idle.n)
			qsort(l[j].idle.v, l[j].idle.n, sizeof(uint32_t), cmp_u32);
	}
out:
	if (pinned)
		sched_setaffinity(0, sizeof(saved), &saved);
	free(f.s);
	if (f.area)
		munmap(f.area, alen);
	return ok;
}

/* A median cell: the time, FAIL, n/a, or "-" for no method */
static const char *ccell(char *buf, size_t n, const struct crow *w, int m)
{
	if (m < 0)
		snprintf(buf, n, "-");
	else if (w->fail[m])
		snprintf(buf, n, "FAIL");
	else if (w->na[m] || !w->reps[m])
		snprintf(buf, n, "n/a");
	else
		snprintf(buf, n, "%.1f", w->med[m]);
	return buf;
}

static bool cvalid(const struct crow *w, int m)
{
	return m >= 0 && !w->fail[m] && !w->na[m] && w->reps[m];
}

/* The ratio cell a / b */
static const char *cratio(char *buf, size_t n, const struct crow *w, int a, int b)
{
	if (a < 0 || b < 0)
		snprintf(buf, n, "-");
	else if (!cvalid(w, a) || !cvalid(w, b))
		snprintf(buf, n, "n/a");
	else
		snprintf(buf, n, "%.2f", w->med[a] / w->med[b]);
	return buf;
}

/* "v/i/u/m" VMA counts of the columns' methods */
static const char *cvmas(char *buf, size_t n, const struct crow *w, const int *col, bool to)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int k = 0; k < 4 && o < n; k++) {
		const char *sep = k ? "/" : "";

		if (cvalid(w, col[k]))
			o += (size_t)snprintf(buf + o, n - o, "%s%ld", sep,
					      to ? w->to_vmas[col[k]] : w->from_vmas[col[k]]);
		else
			o += (size_t)snprintf(buf + o, n - o, "%s-", sep);
	}
	return buf;
}

/*
 * One line of the collector table: the columns vec, ioctl, uffd and
 * mremap measured by the methods @col (-1: none), the counters of col[0].
 */
static void coll_print_row(const char *name, const struct coll *c, const struct crow *w,
			   const int *col)
{
	char t[4][24], r[3][16], tv[40], fv[40], ctr[40];

	if (!cvalid(w, col[0]) && !cvalid(w, col[1]) && w->na[col[0]] && w->na[col[1]] &&
	    col[3] < 0) {
		printf("%-10s %7zu n/a (%s)\n", name, c->n, w->na[col[1]]);
		return;
	}
	for (int k = 0; k < 4; k++)
		ccell(t[k], sizeof(t[k]), w, col[k]);
	cratio(r[0], sizeof(r[0]), w, col[2], col[0]);
	cratio(r[1], sizeof(r[1]), w, col[2], col[1]);
	cratio(r[2], sizeof(r[2]), w, col[3], col[0]);
	if (cvalid(w, col[0]))
		snprintf(ctr, sizeof(ctr), "%7llu %7llu %7llu",
			 (unsigned long long)w->ctr[col[0]].pmd_moves,
			 (unsigned long long)w->ctr[col[0]].pte_moves,
			 (unsigned long long)w->ctr[col[0]].folios_relocated);
	else
		snprintf(ctr, sizeof(ctr), "%7s %7s %7s", "-", "-", "-");
	printf("%-10s %7zu %12s %12s %12s %12s %9s %10s %10s %-19s %-19s %s\n", name, c->n, t[0],
	       t[1], t[2], t[3], r[0], r[1], r[2], cvmas(tv, sizeof(tv), w, col, true),
	       cvmas(fv, sizeof(fv), w, col, false), ctr);
}

static void lat_print_row(const struct coll *c, const struct lrow *l)
{
	const char *name = l->m == C_VEC ? "vectored" : "UFFDIO_MOVE";
	char b[5][24];

	if (l->fail) {
		printf("%-12s %6s FAIL\n", name, c->name);
		return;
	}
	if (l->na || !l->reps) {
		printf("%-12s %6s n/a (%s)\n", name, c->name, l->na ? l->na : "not measured");
		return;
	}
	printf("%-12s %6s %12.1f %8zu %13s %13s %15s %12s %14s %14.1f\n", name, c->name,
	       median(l->move_us, (int)l->reps), l->fault.n,
	       pct_us(b[0], sizeof(b[0]), &l->fault, 50),
	       pct_us(b[1], sizeof(b[1]), &l->fault, 99),
	       pct_us(b[2], sizeof(b[2]), &l->fault, 100),
	       pct_us(b[3], sizeof(b[3]), &l->idle, 50),
	       pct_us(b[4], sizeof(b[4]), &l->idle, 100),
	       (double)l->worst_iter / 1e3);
	/* The spread: under TCG a cross-CPU flush waits for the other vCPU. */
	printf("#   %s move_us of each repetition:", name);
	for (long r = 0; r < l->reps; r++)
		printf(" %.0f", l->move_us[r]);
	printf("\n");
	if (l->short_run) {
		printf("# %s: the fault thread's %zu samples ran out before a move ended:\n",
		       name, LAT_CAP);
		printf("#   the columns cover part of it\n");
	}
}

/*
 * The collector table and the fault latency rows, from-space @len.
 * False when a move failed or its data was wrong.
 */
static bool coll_run(size_t len, long reps)
{
	static const size_t chunks[] = { RM_KB(16), RM_KB(64), RM_MB(2) };
	/* Columns vec, ioctl, uffd, mremap of a row and of its "+uffd" row */
	static const int col_plain[4] = { C_VEC, C_IOCTL, C_UFFD, C_MREMAP };
	static const int col_reg[4] = { C_VEC_REG, C_IOCTL_REG, C_UFFD, -1 };
	static const int col_part[4] = { C_VEC_PART, C_IOCTL_PART, C_UFFD, -1 };
	struct coll c[ARRAY_SIZE(chunks)];
	struct crow w[ARRAY_SIZE(chunks)];
	struct lrow l[2];
	long max_maps = 65530;
	uint64_t t0 = now_ns();
	size_t lat_i = 1;	/* the 64 KiB pattern */
	bool ok = true;
	FILE *f;

	memset(c, 0, sizeof(c));
	memset(w, 0, sizeof(w));
	memset(l, 0, sizeof(l));
	f = fopen("/proc/sys/vm/max_map_count", "re");
	if (f) {
		if (fscanf(f, "%ld", &max_maps) != 1)
			max_maps = 65530;
		fclose(f);
	}

	printf("\n# collector: from-space %zu MiB, to-space %zu MiB, chunks of 16K, 64K, 2M\n",
	       len >> 20, len >> 21);
	if (g_abi < 3) {
		printf("# collector: ABI %u < 3: no RUST_MREMAP_IOC_MOVEV, and userfaultfd VMAs\n",
		       g_abi);
		printf("#   refused: the vectored and +uffd measurements are skipped\n");
	}
	fflush(stdout);
	for (size_t ci = 0; ci < ARRAY_SIZE(chunks); ci++) {
		c[ci].len = len;
		c[ci].chunk = chunks[ci];
		c[ci].n = len / (2 * chunks[ci]);
		snprintf(c[ci].name, sizeof(c[ci].name), "%zu%s",
			 chunks[ci] >= RM_MB(1) ? chunks[ci] >> 20 : chunks[ci] >> 10,
			 chunks[ci] >= RM_MB(1) ? "M" : "K");
		c[ci].vec = calloc(c[ci].n, sizeof(*c[ci].vec));
		if (!c[ci].vec) {
			fprintf(stderr, "collector: out of memory\n");
			ok = false;
			goto out;
		}
		coll_plan(&c[ci], reps, max_maps, &w[ci]);
		pin_self(true);
		if (!coll_measure(&c[ci], (unsigned int)(200 + ci) * 10000, &w[ci]))
			ok = false;
		pin_self(false);
	}
	if (!coll_latency(&c[lat_i], reps, &w[lat_i], l))
		ok = false;

	printf("\n# collector: every other chunk of a %zu MiB from-space (4K pages, no THP,\n",
	       len >> 20);
	printf("#   every page written) packed densely into a fresh %zu MiB to-space, both\n",
	       len >> 21);
	printf("#   PMD-aligned; fresh setup per repetition\n");
	printf("# vec = one RUST_MREMAP_IOC_MOVEV of all chunks (flags 0),\n");
	printf("#   ioctl = RUST_MREMAP_IOC_MOVE per chunk,\n");
	printf("#   uffd = UFFDIO_MOVE per chunk (to-space registered MISSING),\n");
	printf("#   mremap = mremap(MREMAP_MAYMOVE|MREMAP_FIXED) per chunk\n");
	printf("# median of %ld repetitions; mremap: of %ld (its loop leaves a VMA per chunk\n",
	       reps, reps < COLL_MREMAP_REPS ? reps : COLL_MREMAP_REPS);
	printf("#   on each side, the slowest to set up and tear down under TCG)\n");
	printf("# +uffd rows: vec and ioctl with the to-space registered with userfaultfd\n");
	printf("#   (MISSING, ABI 3; with ABI 4 they pass RUST_MREMAP_UFFD and its fd);\n");
	printf("#   uffd is the same UFFDIO_MOVE loop as the row above\n");
	printf("# partial rows: vec and ioctl with RUST_MREMAP_PARTIAL (ABI 5: UFFDIO_MOVE's\n");
	printf("#   contract, no up-front plan); uffd is the same loop as above\n");
	printf("# checked after each move (not timed): every page of every chunk at its new\n");
	printf("#   place (its own tag word) and gone from the from-space (pagemap); every\n");
	printf("#   page of the chunks not moved in place\n");
	printf("# ratios: uffd/vec, uffd/ioctl, mremap/vec = first time / second time\n");
	printf("#   (above 1: the second is faster)\n");
	printf("# to_vmas, from_vmas: VMAs overlapping the to-space / from-space after the move\n");
	printf("#   (/proc/self/maps), per column, last repetition\n");
	printf("# vec counters (last repetition): pmd = pmd_moves, pte = pte_moves,\n");
	printf("#   reloc = folios_relocated\n");
	printf("%-10s %7s %12s %12s %12s %12s %9s %10s %10s %-19s %-19s %7s %7s %7s\n", "chunk",
	       "chunks", "vec_us", "ioctl_us", "uffd_us", "mremap_us", "uffd/vec", "uffd/ioctl",
	       "mremap/vec", "to_vmas(v/i/u/m)", "from_vmas(v/i/u/m)", "pmd", "pte", "reloc");
	for (size_t ci = 0; ci < ARRAY_SIZE(chunks); ci++) {
		char reg[sizeof(c[ci].name) + 8], part[sizeof(c[ci].name) + 8];

		snprintf(reg, sizeof(reg), "%.15s +uffd", c[ci].name);
		snprintf(part, sizeof(part), "%.15s part", c[ci].name);
		coll_print_row(c[ci].name, &c[ci], &w[ci], col_plain);
		coll_print_row(reg, &c[ci], &w[ci], col_reg);
		coll_print_row(part, &c[ci], &w[ci], col_part);
	}

	printf("\n# fault latency: another thread MADV_DONTNEEDs a page of another %zu KiB VMA\n",
	       (LAT_PAGES * g_ps) >> 10);
	printf("#   and times the write that faults it back (CLOCK_MONOTONIC), in a loop,\n");
	printf("#   from %llu ms before the move until %llu ms after\n",
	       LAT_LEAD_NS / 1000000, LAT_TAIL_NS / 1000000);
	printf("# faults = faults overlapping the move, pooled over %ld repetitions:\n", reps);
	printf("#   median, p99, worst; idle = the faults before the move;\n");
	printf("#   worst_iter = longest MADV_DONTNEED + write overlapping the move\n");
	printf("#   (a stall in MADV_DONTNEED shows there only)\n");
	printf("%-12s %6s %12s %8s %13s %13s %15s %12s %14s %14s\n", "method", "chunk", "move_us",
	       "faults", "fault_med_us", "fault_p99_us", "fault_worst_us", "idle_med_us",
	       "idle_worst_us", "worst_iter_us");
	for (int j = 0; j < 2; j++)
		lat_print_row(&c[lat_i], &l[j]);
	printf("# collector and fault latency rows: %.0f s\n", (double)(now_ns() - t0) / 1e9);
out:
	for (size_t ci = 0; ci < ARRAY_SIZE(chunks); ci++)
		free(c[ci].vec);
	for (int j = 0; j < 2; j++) {
		free(l[j].fault.v);
		free(l[j].idle.v);
	}
	return ok;
}

/* ------------------------------------------------------------------ */
/* Lock hold: a fork relative pages out its own folio during a long move */

#define LOCK_CHUNK	RM_KB(16)	/* the 16 KiB collector pattern */
#define LOCK_LEAD_NS	200000000ull	/* the child alone before the move: the idle baseline */
#define LOCK_TAIL_NS	2000000ull	/* and after it */
#define LOCK_CAP	((size_t)1 << 18)	/* samples per repetition (4 MiB) */
#define LOCK_START_NS	10000000000ull	/* the longest the child may take to start */

struct lock_sample {
	uint64_t start_ns;	/* before MADV_PAGEOUT */
	uint32_t wait_ns;	/* MADV_PAGEOUT */
	uint32_t swapped;	/* the page was in swap after it (pagemap) */
};

/* Shared by the mover and its child (MAP_SHARED) */
struct lock_shared {
	int stop;		/* mover: end the loop (atomic) */
	int err;		/* child: errno of a failed call (atomic) */
	const char *err_what;	/* child: which call */
	unsigned int bad;	/* child: its page read back wrong after a swap-in */
	size_t n;		/* child: samples recorded (atomic) */
	struct lock_sample s[LOCK_CAP];
};

/* What the lock-hold row measured, pooled over the repetitions */
struct lock_row {
	const char *na;			/* not measured: why */
	bool fail;			/* a move failed or data was wrong */
	bool short_run;			/* the samples ended before a move did */
	long reps;
	double move_us[MAX_REPS];
	struct u32vec wait;		/* ns, the MADV_PAGEOUT calls overlapping a move */
	struct u32vec idle;		/* ns, those of the lead-in */
	size_t wait_swapped;		/* of the former, the page was in swap after the call */
	size_t idle_swapped;
	double worst_ratio;		/* largest over the repetitions: worst wait / move */
	uint64_t reloc;			/* folios_relocated, the smallest over the repetitions */
	char why[160];			/* storage for na */
};

/*
 * The child: COW-break the page @pg (a folio of its own, in its anon_vma,
 * whose root is the to-space's), then until told to stop: MADV_PAGEOUT it
 * (timed), see in pagemap whether it went to swap, read it back (a swap-in)
 * and write it again.  Never returns.
 */
static __noreturn void lock_child(struct lock_shared *sh, uint8_t *pg, int cpu)
{
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t *w = (uint64_t *)pg;
	uint64_t v = 2;
	size_t i = 0;

	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	if (pm < 0) {
		sh->err_what = "open /proc/self/pagemap";
		__atomic_store_n(&sh->err, errno, __ATOMIC_RELEASE);
		_exit(1);
	}
	__atomic_store_n(w, v, __ATOMIC_RELAXED);	/* COW: the child's own folio */
	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED) && i < LOCK_CAP) {
		uint64_t t0 = now_ns(), t1, e = 0;

		if (madvise(pg, g_ps, MADV_PAGEOUT)) {
			sh->err_what = "MADV_PAGEOUT";
			__atomic_store_n(&sh->err, errno, __ATOMIC_RELEASE);
			break;
		}
		t1 = now_ns();
		if (pread(pm, &e, sizeof(e), (off_t)((uintptr_t)pg / g_ps * sizeof(e))) !=
		    (ssize_t)sizeof(e)) {
			sh->err_what = "read /proc/self/pagemap";
			__atomic_store_n(&sh->err, errno ? errno : EIO, __ATOMIC_RELEASE);
			break;
		}
		if (__atomic_load_n(w, __ATOMIC_RELAXED) != v)	/* swapped in */
			sh->bad++;
		__atomic_store_n(w, ++v, __ATOMIC_RELAXED);
		sh->s[i] = (struct lock_sample){
			.start_ns = t0,
			.wait_ns = t1 - t0 > UINT32_MAX ? UINT32_MAX : (uint32_t)(t1 - t0),
			.swapped = !!(e & RM_PM_SWAP),
		};
		__atomic_store_n(&sh->n, ++i, __ATOMIC_RELEASE);
	}
	_exit(0);
}

/* Stop the child @pid (SIGKILL if @kill), reap it; whether it exited 0. */
static bool lock_child_end(struct lock_shared *sh, pid_t pid, bool kill_it)
{
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	if (kill_it)
		kill(pid, SIGKILL);
	return rm_wait_status(pid) == 0;
}

/*
 * One repetition: a from-space of @c (MADV_DONTFORK: the child shares no
 * folio of it, which would make the move refuse it with EBUSY), a to-space
 * of which the mover writes the page past the destinations (so it has its
 * anon_vma, and the move relocates), fork(); the child loops
 * (lock_child()) alone for LOCK_LEAD_NS, then the one MOVEV of every chunk
 * runs, timed, and the child goes on LOCK_TAIL_NS after it.  Its samples
 * are pooled into @l; the move's data checked.
 */
static int lock_once(const struct coll *c, unsigned int seed, int cpu, struct lock_shared *sh,
		     struct lock_row *l)
{
	size_t tlen = c->n / c->per_pmd * RM_PMD, i, n;
	struct rust_mremap_movev mv;
	uint8_t *from, *to = NULL;
	uint64_t t0, t1, w0, worst = 0, last_end = 0;
	int ret = RUN_FAIL, err;
	bool nohole, child_ok;
	pid_t pid;

	from = map_region(c->len, RM_PMD, 0, false, &nohole);
	if (!from || madvise(from, c->len, MADV_DONTFORK)) {
		fprintf(stderr, "lock hold: from-space of %zu bytes: %s\n", c->len,
			strerror(errno));
		if (from)
			munmap(from, c->len);
		return RUN_FAIL;
	}
	coll_populate(from, c->len, seed);
	to = map_region(tlen + g_ps, RM_PMD, 0, false, &nohole);
	if (!to) {
		fprintf(stderr, "lock hold: to-space of %zu bytes: %s\n", tlen + g_ps,
			strerror(errno));
		goto out;
	}
	__atomic_store_n((uint64_t *)(to + tlen), 1, __ATOMIC_RELAXED);	/* its anon_vma */
	/*
	 * A page at the end of every 2 MiB of the to-space, so that every destination page
	 * table exists before the move (a to-space reused from the last cycle has its tables):
	 * a relocating run then never stops for a table to allocate, and only its own bound
	 * ends its hold of the to-space's root anon_vma lock. (Without the tables, every run
	 * stops at the next 2 MiB, which bounds the hold by itself.)
	 */
	for (i = 0; i < tlen; i += RM_PMD)
		__atomic_store_n((uint64_t *)(to + i + RM_PMD - g_ps), 2, __ATOMIC_RELAXED);
	for (i = 0; i < c->n; i++)
		c->vec[i] = (struct rust_mremap_vec){
			.src = (uintptr_t)(from + 2 * i * c->chunk),
			.dst = (uintptr_t)coll_dst(c, to, i),
			.len = c->chunk,
		};
	memset(sh, 0, offsetof(struct lock_shared, s));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "lock hold: fork: %s\n", strerror(errno));
		goto out;
	}
	if (!pid)
		lock_child(sh, to + tlen, cpu);

	w0 = now_ns();
	while (!__atomic_load_n(&sh->n, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&sh->err, __ATOMIC_ACQUIRE) && now_ns() - w0 < LOCK_START_NS)
		sleep_ns(100000);
	if (!__atomic_load_n(&sh->n, __ATOMIC_ACQUIRE)) {
		err = __atomic_load_n(&sh->err, __ATOMIC_ACQUIRE);
		lock_child_end(sh, pid, true);
		snprintf(l->why, sizeof(l->why), "the child's %s: %s",
			 err ? sh->err_what : "first MADV_PAGEOUT",
			 err ? strerror(err) : "none within 10 s");
		l->na = l->why;
		ret = RUN_NA;
		goto out;
	}
	sleep_ns(LOCK_LEAD_NS);

	t0 = now_ns();
	err = movev_uffd(0, 0, c->vec, (unsigned int)c->n, &mv);
	t1 = now_ns();

	sleep_ns(LOCK_TAIL_NS);
	child_ok = lock_child_end(sh, pid, false);
	if (err || mv.done != c->n) {
		fprintf(stderr,
			"lock hold: RUST_MREMAP_IOC_MOVEV of %zu entries: %s (done %u, moved %#llx, err_index %u)\n",
			c->n, err ? strerror(-err) : "success", mv.done,
			(unsigned long long)mv.moved, mv.err_index);
		goto out;
	}
	if (!coll_check("lock hold", c, from, to, seed))
		goto out;
	if (sh->bad) {
		fprintf(stderr, "lock hold: the child's page read back wrong %u times\n", sh->bad);
		goto out;
	}
	err = __atomic_load_n(&sh->err, __ATOMIC_ACQUIRE);
	if (err || !child_ok) {
		snprintf(l->why, sizeof(l->why), "the child's %s: %s",
			 err ? sh->err_what : "exit", err ? strerror(err) : "non-zero status");
		l->na = l->why;
		ret = RUN_NA;
		goto out;
	}

	n = __atomic_load_n(&sh->n, __ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++) {
		const struct lock_sample *s = &sh->s[i];
		uint64_t end = s->start_ns + s->wait_ns;
		bool ok = true;

		last_end = end;
		if (end <= t0) {
			ok = u32_push(&l->idle, s->wait_ns);
			l->idle_swapped += s->swapped;
		} else if (s->start_ns < t1) {
			ok = u32_push(&l->wait, s->wait_ns);
			l->wait_swapped += s->swapped;
			if (s->wait_ns > worst)
				worst = s->wait_ns;
		}
		if (!ok) {
			fprintf(stderr, "lock hold: out of memory for the samples\n");
			goto out;
		}
	}
	if (n == LOCK_CAP && last_end < t1)
		l->short_run = true;
	if ((double)worst / (double)(t1 - t0) > l->worst_ratio)
		l->worst_ratio = (double)worst / (double)(t1 - t0);
	if (!l->reps || mv.folios_relocated < l->reloc)
		l->reloc = mv.folios_relocated;
	l->move_us[l->reps++] = (double)(t1 - t0) / 1e3;
	ret = RUN_OK;
out:
	if (to)
		munmap(to, tlen + g_ps);
	munmap(from, c->len);
	return ret;
}

/* Whether /proc/swaps lists a swap device or file. */
static bool swap_on(void)
{
	FILE *f = fopen("/proc/swaps", "re");
	char line[256];
	int lines = 0;

	while (f && fgets(line, sizeof(line), f))
		lines++;
	if (f)
		fclose(f);
	return lines > 1;
}

/*
 * The lock-hold row, from-space @len: @reps repetitions of lock_once().
 * False when a move failed or data was wrong; an environment that does
 * not let the child's page go to swap makes the row invalid, not the
 * benchmark fail.
 */
static bool lock_run(size_t len, long reps)
{
	struct coll c = { .len = len, .chunk = LOCK_CHUNK, .n = len / (2 * LOCK_CHUNK),
			  .per_pmd = RM_PMD / 2 / LOCK_CHUNK };
	struct lock_shared *sh = MAP_FAILED;
	struct lock_row l;
	cpu_set_t saved, one;
	int cpus[2] = { -1, -1 }, k = 0;
	bool pinned = false, ok = true, valid;
	char b[6][24];

	memset(&l, 0, sizeof(l));
	snprintf(c.name, sizeof(c.name), "%zuK", LOCK_CHUNK >> 10);
	printf("\n# lock hold: from-space %zu MiB, %zu chunks of %zu KiB, one MOVEV\n", len >> 20,
	       c.n, LOCK_CHUNK >> 10);
	if (g_abi < 3)
		l.na = "ABI < 3: no RUST_MREMAP_IOC_MOVEV";
	else if (c.n > RUST_MREMAP_VEC_MAX)
		l.na = "more chunks than RUST_MREMAP_VEC_MAX";
	else if (!swap_on())
		l.na = "no swap in /proc/swaps: MADV_PAGEOUT cannot page the child's page out";
	if (l.na)
		goto print;
	c.vec = calloc(c.n, sizeof(*c.vec));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!c.vec || sh == MAP_FAILED) {
		fprintf(stderr, "lock hold: out of memory\n");
		l.fail = true;
		ok = false;
		goto print;
	}

	if (!sched_getaffinity(0, sizeof(saved), &saved))
		for (int i = 0; i < CPU_SETSIZE && k < 2; i++)
			if (CPU_ISSET(i, &saved))
				cpus[k++] = i;
	if (k == 2) {
		CPU_ZERO(&one);
		CPU_SET(cpus[0], &one);
		pinned = !sched_setaffinity(0, sizeof(one), &one);
	}
	if (pinned)
		printf("# lock hold: mover on cpu %d, child on cpu %d\n", cpus[0], cpus[1]);
	else
		printf("# lock hold: one cpu: the child shares it with the mover\n");
	printf("# lock hold: %zu MiB x %ld ...\n", len >> 20, reps);
	fflush(stdout);

	for (long r = 0; r < reps; r++) {
		int res = lock_once(&c, 950000 + (unsigned int)r * 10, pinned ? cpus[1] : -1, sh,
				    &l);

		if (res == RUN_NA)
			break;
		if (res != RUN_OK) {
			fprintf(stderr, "FAIL: lock hold, repetition %ld\n", r);
			l.fail = true;
			ok = false;
			break;
		}
	}
	if (pinned)
		sched_setaffinity(0, sizeof(saved), &saved);
	if (l.wait.n)
		qsort(l.wait.v, l.wait.n, sizeof(uint32_t), cmp_u32);
	if (l.idle.n)
		qsort(l.idle.v, l.idle.n, sizeof(uint32_t), cmp_u32);

print:
	printf("\n# lock hold: a fork child of the mover pages out its own page of the to-space\n");
	printf("#   in a loop: MADV_PAGEOUT (timed, CLOCK_MONOTONIC), then reads and writes it\n");
	printf("#   back; its folio is in the child's anon_vma, whose root is the to-space's,\n");
	printf("#   which a relocating run of the move takes for write (reclaim's\n");
	printf("#   try_to_unmap() waits for it); the mover packs every other %zu KiB chunk of\n",
	       LOCK_CHUNK >> 10);
	printf("#   %zu MiB into the to-space in one RUST_MREMAP_IOC_MOVEV (relocating:\n",
	       len >> 20);
	printf("#   reloc = folios_relocated, the smallest of the repetitions)\n");
	printf("# waits = MADV_PAGEOUT calls overlapping the move, pooled over %ld repetitions:\n",
	       reps);
	printf("#   median, p99, worst; swapped = of them, the page was in swap after the call\n");
	printf("#   (pagemap); worst/move = largest over the repetitions of the worst wait /\n");
	printf("#   that move's time; idle = the same loop in the %llu ms before the move\n",
	       LOCK_LEAD_NS / 1000000);
	printf("%-10s %6s %12s %7s %8s %12s %12s %14s %10s %6s %8s %12s %12s %14s %7s\n",
	       "method", "chunk", "move_us", "waits", "swapped", "wait_med_us", "wait_p99_us",
	       "wait_worst_us", "worst/move", "idle", "swapped", "idle_med_us", "idle_p99_us",
	       "idle_worst_us", "reloc");
	if (l.fail) {
		printf("%-10s %6s FAIL\n", "vectored", c.name);
	} else if (l.na || !l.reps) {
		printf("%-10s %6s n/a (%s)\n", "vectored", c.name, l.na ? l.na : "not measured");
		if (l.na)
			printf("# lock hold: WARNING: NOT MEASURED: %s\n", l.na);
	} else {
		valid = l.wait_swapped > 0 && l.reloc > 0;
		printf("%-10s %6s %12.1f %7zu %8zu %12s %12s %14s %10.3f %6zu %8zu %12s %12s %14s",
		       "vectored", c.name, median(l.move_us, (int)l.reps), l.wait.n, l.wait_swapped,
		       pct_us(b[0], sizeof(b[0]), &l.wait, 50),
		       pct_us(b[1], sizeof(b[1]), &l.wait, 99),
		       pct_us(b[2], sizeof(b[2]), &l.wait, 100), l.worst_ratio, l.idle.n,
		       l.idle_swapped, pct_us(b[3], sizeof(b[3]), &l.idle, 50),
		       pct_us(b[4], sizeof(b[4]), &l.idle, 99),
		       pct_us(b[5], sizeof(b[5]), &l.idle, 100));
		printf(" %7llu%s\n", (unsigned long long)l.reloc, valid ? "" : " INVALID");
		if (!l.wait_swapped) {
			printf("# lock hold: WARNING: INVALID, NOT MEASURED: the child's\n");
			printf("#   page went to swap in none of the %zu MADV_PAGEOUT calls\n",
			       l.wait.n);
			printf("#   overlapping the move (before it: %zu of %zu); swap on?\n",
			       l.idle_swapped, l.idle.n);
		}
		if (!l.reloc) {
			printf("# lock hold: WARNING: INVALID, NOT MEASURED: a move\n");
			printf("#   relocated no folio: no run took the root anon_vma\n");
		}
		if (l.short_run) {
			printf("# lock hold: the child's %zu samples ran out before a move\n",
			       LOCK_CAP);
			printf("#   ended: the columns cover part of it\n");
		}
	}
	free(c.vec);
	if (sh != MAP_FAILED)
		munmap(sh, sizeof(*sh));
	free(l.wait.v);
	free(l.idle.v);
	return ok;
}

/* Kernel identification: uname(2), $RUST_MREMAP_FLAVOUR, /proc/version. */
static void print_kernel(void)
{
	const char *flavour = getenv("RUST_MREMAP_FLAVOUR");
	struct utsname u;
	char line[512];
	FILE *f;

	if (uname(&u))
		printf("# kernel: uname: %s", strerror(errno));
	else
		printf("# kernel: %s %s", u.release, u.version);
	if (flavour && *flavour)
		printf(" (flavour: %s)", flavour);
	printf("\n");

	f = fopen("/proc/version", "r");
	if (!f) {
		printf("# /proc/version: %s\n", strerror(errno));
		return;
	}
	if (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		printf("# /proc/version: %s\n", line);
	} else {
		printf("# /proc/version: empty\n");
	}
	fclose(f);
}

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [-r repetitions (1..%d, default 5)] [-s MiB for rows a-c (even, 2..%d, default 1024)]\n"
		"	[-c MiB of the collector's from-space (multiple of 4, 4..%d, default -s/2; 0: no collector rows)]\n"
		"	[-o TABLE[,TABLE...]: only these of main, scaling, collector, lock (default: all)]\n",
		argv0, MAX_REPS, MAX_SIZE_MB, COLL_MAX_MB);
	exit(2);
}

int main(int argc, char **argv)
{
	static const long scale_mb[] = { 2, 8, 32, 128, 512, 2048 };
	struct rust_mremap_version ver;
	long reps = 5, size_mb = 1024, coll_mb = -1;
	bool failed = false;
	char name[4][64];
	int opt;

	while ((opt = getopt(argc, argv, "r:s:c:o:h")) != -1) {
		char *end;

		switch (opt) {
		case 'r':
			reps = strtol(optarg, &end, 10);
			if (*end || reps < 1 || reps > MAX_REPS)
				usage(argv[0]);
			break;
		case 's':
			size_mb = strtol(optarg, &end, 10);
			if (*end || size_mb < 2 || size_mb > MAX_SIZE_MB || size_mb % 2)
				usage(argv[0]);
			break;
		case 'c':
			coll_mb = strtol(optarg, &end, 10);
			if (*end || coll_mb < 0 || coll_mb > COLL_MAX_MB || coll_mb % 4 ||
			    (coll_mb && coll_mb < 4))
				usage(argv[0]);
			break;
		case 'o':
			g_tables = 0;
			for (char *t = strtok(optarg, ","); t; t = strtok(NULL, ",")) {
				size_t i = 0;

				while (i < ARRAY_SIZE(table_name) && strcmp(t, table_name[i].name))
					i++;
				if (i == ARRAY_SIZE(table_name))
					usage(argv[0]);
				g_tables |= table_name[i].bit;
			}
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);
	if (coll_mb < 0)
		coll_mb = size_mb / 2 / 4 * 4 < 4 ? 4 : size_mb / 2 / 4 * 4;

	g_ps = rm_page_size();
	print_kernel();
	g_fd = open(RM_DEV, O_RDWR | O_CLOEXEC);
	if (g_fd < 0) {
		fprintf(stderr, "open %s: %s (is the module loaded?)\n", RM_DEV, strerror(errno));
		return 1;
	}
	if (ioctl(g_fd, RUST_MREMAP_IOC_VERSION, &ver)) {
		fprintf(stderr, "RUST_MREMAP_IOC_VERSION: %s\n", strerror(errno));
		return 1;
	}
	g_abi = ver.abi_version;
	uffd_probe();

	snprintf(name[0], sizeof(name[0]), "%ld MiB 4K, PMD-aligned, fresh dst", size_mb);
	snprintf(name[1], sizeof(name[1]), "%ld MiB 4K, PMD-aligned, RELOCATE", size_mb);
	snprintf(name[2], sizeof(name[2]), "%ld MiB THP", size_mb);
	snprintf(name[3], sizeof(name[3]), "%ld MiB 4K, PMD-aligned, RELOCATE|PARTIAL", size_mb);
	/* Rows a-c: PMD-aligned, mutually PUD-misaligned (2 MiB vs 4 MiB into 1 GiB). */
	const struct scen scen[] = {
		{ name[0], RM_MB(size_mb), RM_PUD, RM_MB(2), RM_MB(4), false, 0 },
		{ name[1], RM_MB(size_mb), RM_PUD, RM_MB(2), RM_MB(4), false,
		  RUST_MREMAP_RELOCATE },
		{ name[3], RM_MB(size_mb), RM_PUD, RM_MB(2), RM_MB(4), false,
		  RUST_MREMAP_RELOCATE | RUST_MREMAP_PARTIAL },
		{ name[2], RM_MB(size_mb), RM_PUD, RM_MB(2), RM_MB(4), true, 0 },
		{ "1 GiB 4K, PUD-aligned", RM_GB(1), RM_PUD, 0, 0, false, 0 },
		{ "64 MiB PTE-only", RM_MB(64), RM_PMD, 0, g_ps, false, 0 },
		{ "5 MiB at 1 MiB offset", RM_MB(5), RM_PMD, RM_MB(1), RM_MB(1), false, 0 },
		{ "5.5 MiB at 1 MiB offset", RM_KB(5632), RM_PMD, RM_MB(1), RM_MB(1), false, 0 },
	};
	struct row row[ARRAY_SIZE(scen)];
	char scale_name[ARRAY_SIZE(scale_mb)][48];
	struct scen scale[ARRAY_SIZE(scale_mb)];
	struct row srow[ARRAY_SIZE(scale_mb)];
	size_t nscale = 0;

	memset(row, 0, sizeof(row));
	memset(srow, 0, sizeof(srow));
	for (size_t i = 0; i < ARRAY_SIZE(scale_mb); i++) {
		if (scale_mb[i] > MAX_SIZE_MB)
			continue;
		snprintf(scale_name[nscale], sizeof(scale_name[nscale]), "scaling %ld MiB",
			 scale_mb[i]);
		scale[nscale] = (struct scen){ scale_name[nscale], RM_MB(scale_mb[i]), RM_PUD,
					       RM_MB(2), RM_MB(4), false, 0 };
		nscale++;
	}

	printf("# rust_mremap bench: ABI %u, %ld repetitions (median), page %zu, S = %ld MiB\n",
	       ver.abi_version, reps, g_ps, size_mb);
	if (!g_uffd)
		printf("# UFFDIO_MOVE: n/a (%s)\n", g_uffd_why);
	fflush(stdout);

	pin_self(true);
	for (size_t si = 0; (g_tables & T_MAIN) && si < ARRAY_SIZE(scen); si++) {
		if (scen[si].flags & ~ver.flags) {
			row[si].na_why = "ioctl flags not supported by the module";
			printf("# %s: n/a (%s)\n", scen[si].name, row[si].na_why);
			continue;
		}
		if (!measure(&scen[si], (unsigned int)si * 10000, reps, M_NR, &row[si])) {
			failed = true;
			goto done;
		}
	}
	for (size_t i = 0; (g_tables & T_SCALING) && i < nscale; i++) {
		if (!measure(&scale[i], (unsigned int)(100 + i) * 10000, reps, M_UFFD, &srow[i])) {
			failed = true;
			goto done;
		}
	}
	pin_self(false);

	if (!(g_tables & T_MAIN))
		goto scaling;
	printf("\n# placement: src/dst start offsets within a 2M (PMD) or 1G (PUD) boundary\n");
	printf("# ratios: other's time / ioctl's time (above 1: the ioctl is faster)\n");
	printf(
	"# ioctl counters (last repetition): pmd = pmd_moves, pud = pud_moves, pte = pte_moves, huge = huge_pmd_moves, reloc = folios_relocated\n");
	printf("%-36s %6s %-11s %12s %12s %12s %12s %10s %6s %4s %8s %5s %8s\n", "scenario",
	       "size", "placement", "ioctl_us", "mremap_us", "uffdmove_us", "mremap/ioctl",
	       "uffd/ioctl", "pmd", "pud", "pte", "huge", "reloc");
	for (size_t si = 0; si < ARRAY_SIZE(scen); si++) {
		const struct scen *s = &scen[si];
		const struct row *w = &row[si];
		char sz[32], pl[80], a[24], o1[24], o2[24], uf[32], ufr[32];

		snprintf(sz, sizeof(sz), "%gM", (double)s->len / (double)RM_MB(1));
		snprintf(pl, sizeof(pl), "%s:+%s/+%s", fmt_off(a, sizeof(a), s->align),
			 fmt_off(o1, sizeof(o1), s->src_off), fmt_off(o2, sizeof(o2), s->dst_off));
		if (w->na_why) {
			printf("%-36s %6s %-11s n/a (%s)\n", s->name, sz, pl, w->na_why);
			continue;
		}
		if (w->na[M_UFFD]) {
			snprintf(uf, sizeof(uf), "n/a");
			snprintf(ufr, sizeof(ufr), "n/a");
		} else {
			snprintf(uf, sizeof(uf), "%.1f", w->med[M_UFFD]);
			snprintf(ufr, sizeof(ufr), "%.2f", w->med[M_UFFD] / w->med[M_IOCTL]);
		}
		printf(
		       "%-36s %6s %-11s %12.1f %12.1f %12s %12.2f %10s %6llu %4llu %8llu %5llu %8llu\n",
		       s->name, sz, pl, w->med[M_IOCTL], w->med[M_MREMAP], uf,
		       w->med[M_MREMAP] / w->med[M_IOCTL], ufr,
		       (unsigned long long)w->ctr.pmd_moves, (unsigned long long)w->ctr.pud_moves,
		       (unsigned long long)w->ctr.pte_moves,
		       (unsigned long long)w->ctr.huge_pmd_moves,
		       (unsigned long long)w->ctr.folios_relocated);
	}

scaling:
	if (!(g_tables & T_SCALING))
		goto collector;
	printf("\n# scaling: 4K pages at 1G:+2M/+4M, fresh dst (share path), ioctl vs mremap()\n");
	printf("%8s %12s %12s %14s %14s %12s\n", "size_MiB", "ioctl_us", "mremap_us",
	       "ioctl_us/GiB", "mremap_us/GiB", "mremap/ioctl");
	for (size_t i = 0; i < nscale; i++) {
		const struct row *w = &srow[i];
		double per_gib = (double)RM_GB(1) / (double)scale[i].len;

		if (w->na_why) {
			printf("%8zu n/a (%s)\n", scale[i].len >> 20, w->na_why);
			continue;
		}
		printf("%8zu %12.1f %12.1f %14.1f %14.1f %12.2f\n", scale[i].len >> 20,
		       w->med[M_IOCTL], w->med[M_MREMAP], w->med[M_IOCTL] * per_gib,
		       w->med[M_MREMAP] * per_gib, w->med[M_MREMAP] / w->med[M_IOCTL]);
	}

collector:
	if (!(g_tables & (T_COLLECTOR | T_LOCK)))
		goto done;
	if (!coll_mb)
		printf("\n# collector and lock hold: not measured (-c 0)\n");
	else if ((g_tables & T_COLLECTOR) && !coll_run(RM_MB(coll_mb), reps))
		failed = true;
	if (coll_mb && (g_tables & T_LOCK) && !lock_run(RM_MB(coll_mb), reps))
		failed = true;
done:
	close(g_fd);
	return failed;
}
