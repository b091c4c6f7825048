// SPDX-License-Identifier: GPL-2.0
/*
 * rust_mremap benchmark: time RUST_MREMAP_IOC_MOVE beside the two ways the
 * kernel already offers to move populated anonymous memory:
 *   mremap(MREMAP_MAYMOVE | MREMAP_FIXED)  (moves the VMA with the pages)
 *   UFFDIO_MOVE                            (userfaultfd, dst registered MISSING)
 * Each method gets its own freshly populated source (populating is not
 * timed) and a fresh, never-faulted destination VMA; only the single call
 * is timed (CLOCK_MONOTONIC), R times, and the median is reported.  After
 * every move the first and last page of each 2 MiB of the destination are
 * checked against the source's bytes (and, for the two methods that keep
 * the source mapped, that it reads zero there), so a broken mover cannot
 * look fast.
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
 * userfaultfd (MISSING), beside the same UFFDIO_MOVE loop.  Checked after
 * each move: the first word of the first and last page of every chunk at
 * the to-space (each page of the from-space holds its own tag), those pages
 * gone from the from-space (pagemap), the chunk after each still in place.
 * Fault latency: during the vectored call and the UFFDIO_MOVE loop of the
 * 64 KiB pattern, a second thread (on another CPU) MADV_DONTNEEDs a page of
 * an unrelated VMA and times the write that faults it back, in a loop, from
 * LAT_LEAD_NS before the move until LAT_TAIL_NS after; the faults that
 * overlap the move, pooled over the repetitions: median, p99, worst.  With
 * ABI < 3 the vectored and "+uffd" measurements are skipped (n/a, why).
 *
 * The header names the kernel (uname -r and -v, $RUST_MREMAP_FLAVOUR when
 * set, the first line of /proc/version).
 *
 *   rust_mremap_bench [-r repetitions (5)] [-s S, MiB for rows a-c (1024)]
 *                     [-c F, MiB of the collector's from-space (S/2); 0: none]
 *
 * Not a test: prints the tables, exits 0 unless a move fails or data is
 * wrong.  Only one region is populated at a time (at most MAX_SIZE_MB MiB).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <linux/userfaultfd.h>

#include "rust_mremap_lib.h"

#define GUARD		RM_MB(4)
#define MAX_REPS	101
#define MAX_SIZE_MB	2048	/* keeps the populated memory below ~2.5 GiB */

enum method { M_IOCTL, M_MREMAP, M_UFFD, M_NR };
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

/* Sample pages hold the pattern (or, with @zero, read zero). */
static bool check_samples(const char *what, const uint8_t *p, size_t len, unsigned int seed,
			  bool zero)
{
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

static int uffd_new(uint64_t features, uint64_t *features_out)
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

static void uffd_probe(void)
{
	uint64_t features = 0;
	int fd = uffd_new(0, &features);

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

		uffd = uffd_new(UFFD_FEATURE_MOVE, NULL);
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
		"usage: %s [-r repetitions (1..%d, default 5)] [-s MiB for rows a-c (even, 2..%d, default 1024)]\n",
		argv0, MAX_REPS, MAX_SIZE_MB);
	exit(2);
}

int main(int argc, char **argv)
{
	static const long scale_mb[] = { 2, 8, 32, 128, 512, 2048 };
	struct rust_mremap_version ver;
	long reps = 5, size_mb = 1024;
	bool failed = false;
	char name[3][64];
	int opt;

	while ((opt = getopt(argc, argv, "r:s:h")) != -1) {
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
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);

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
	uffd_probe();

	snprintf(name[0], sizeof(name[0]), "%ld MiB 4K, PMD-aligned, fresh dst", size_mb);
	snprintf(name[1], sizeof(name[1]), "%ld MiB 4K, PMD-aligned, RELOCATE", size_mb);
	snprintf(name[2], sizeof(name[2]), "%ld MiB THP", size_mb);
	/* Rows a-c: PMD-aligned, mutually PUD-misaligned (2 MiB vs 4 MiB into 1 GiB). */
	const struct scen scen[] = {
		{ name[0], RM_MB(size_mb), RM_PUD, RM_MB(2), RM_MB(4), false, 0 },
		{ name[1], RM_MB(size_mb), RM_PUD, RM_MB(2), RM_MB(4), false,
		  RUST_MREMAP_RELOCATE },
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

	for (size_t si = 0; si < ARRAY_SIZE(scen); si++) {
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
	for (size_t i = 0; i < nscale; i++) {
		if (!measure(&scale[i], (unsigned int)(100 + i) * 10000, reps, M_UFFD, &srow[i])) {
			failed = true;
			goto done;
		}
	}

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
done:
	close(g_fd);
	return failed;
}
