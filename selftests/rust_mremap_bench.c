// SPDX-License-Identifier: GPL-2.0
/*
 * rust_mremap benchmark: time RUST_MREMAP_IOC_MOVE beside the two ways the
 * kernel already offers to move populated anonymous memory:
 *   mremap(MREMAP_MAYMOVE | MREMAP_FIXED)  (moves the VMA with the pages)
 *   UFFDIO_MOVE                            (userfaultfd, dst registered MISSING)
 * Each method gets its own freshly populated source (populating is not
 * timed); only the single call is timed (CLOCK_MONOTONIC), R times, and the
 * median is reported.  After every move the first and last page of each
 * 2 MiB of the destination are checked against the source's bytes (and, for
 * the two methods that keep the source mapped, that it reads zero there),
 * so a broken mover cannot look fast.
 *
 *   rust_mremap_bench [-r repetitions (5)] [-s MiB for scenarios 1/2 (1024)]
 *
 * Not a test: prints a table, exits 0 unless a move fails or data is wrong.
 * Only one region is populated at a time (at most -s MiB).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/syscall.h>
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
	size_t src_off, dst_off;	/* offsets within a PMD */
	bool thp;
};

/* Result of one measurement */
enum { RUN_OK, RUN_FAIL, RUN_NA };

static int g_fd;
static size_t g_ps;
static bool g_uffd;			/* UFFDIO_MOVE usable */
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

/* Fresh private anonymous region @off bytes into a PMD, GUARD free around it. */
static uint8_t *map_region(size_t len, size_t off, bool thp)
{
	void *hole = rm_find_hole(len, RM_PMD, off, GUARD);
	uint8_t *p;

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
					fprintf(stderr, "%s: page at offset %#zx does not read zero\n",
						what, pages[i]);
					return false;
				}
				continue;
			}
			bad = rm_check(pg, g_ps, seed, pages[i]);
			if (bad != (size_t)-1) {
				fprintf(stderr, "%s: byte at offset %#zx is 0x%02x, expected 0x%02x\n",
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
		snprintf(g_uffd_why, sizeof(g_uffd_why), "userfaultfd(UFFD_USER_MODE_ONLY)/UFFDIO_API: %s",
			 strerror(errno));
		return;
	}
	close(fd);
	if (!(features & UFFD_FEATURE_MOVE)) {
		snprintf(g_uffd_why, sizeof(g_uffd_why), "the kernel does not report UFFD_FEATURE_MOVE");
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
 * time the single move, check the samples, free everything.
 */
static int run_once(enum method m, const struct scen *s, unsigned int seed, double *us,
		    struct rust_mremap_move *ctr)
{
	uint8_t *src, *dst = NULL;
	int uffd = -1, ret = RUN_FAIL, err = 0;
	bool src_mapped = true;
	double t0, t1;

	src = map_region(s->len, s->src_off, s->thp);
	if (!src) {
		fprintf(stderr, "%s: mmap %zu bytes: %s\n", s->name, s->len, strerror(errno));
		return RUN_FAIL;
	}
	populate(src, s->len, seed);
	dst = map_region(s->len, s->dst_off, s->thp);
	if (!dst) {
		fprintf(stderr, "%s: mmap %zu bytes: %s\n", s->name, s->len, strerror(errno));
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
		err = rm_move(g_fd, RUST_MREMAP_PIDFD_SELF, 0, src, dst, s->len, ctr);
		t1 = now_us();
		if (!err && ctr->moved != s->len)
			err = -EIO;
		if (err)
			fprintf(stderr, "%s: ioctl move: %s (moved %#llx of %#zx)\n", s->name,
				strerror(-err), (unsigned long long)ctr->moved, s->len);
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

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [-r repetitions (1..%d, default 5)] [-s MiB for scenarios 1/2 (even, 2..%d, default 1024)]\n",
		argv0, MAX_REPS, MAX_SIZE_MB);
	exit(2);
}

int main(int argc, char **argv)
{
	struct rust_mremap_version ver;
	long reps = 5, size_mb = 1024;
	bool failed = false;
	char size_name[2][64];
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

	snprintf(size_name[0], sizeof(size_name[0]), "1 4K pages, PMD-aligned");
	snprintf(size_name[1], sizeof(size_name[1]), "2 THP, PMD-aligned");
	const struct scen scen[] = {
		{ size_name[0], RM_MB(size_mb), 0, 0, false },
		{ size_name[1], RM_MB(size_mb), 0, 0, true },
		{ "3 PTE-only, dst +4K", RM_MB(64), 0, g_ps, false },
		{ "4 5M at 1M offset", RM_MB(5), RM_MB(1), RM_MB(1), false },
	};
	double med[ARRAY_SIZE(scen)][M_NR];
	bool na[ARRAY_SIZE(scen)][M_NR];
	struct rust_mremap_move ctr[ARRAY_SIZE(scen)];

	printf("# rust_mremap bench: ABI %u, %ld repetitions (median), page %zu, scenarios 1/2: %ld MiB\n",
	       ver.abi_version, reps, g_ps, size_mb);
	if (!g_uffd)
		printf("# UFFDIO_MOVE: n/a (%s)\n", g_uffd_why);

	for (size_t si = 0; si < ARRAY_SIZE(scen); si++) {
		const struct scen *s = &scen[si];
		double t[M_NR][MAX_REPS];
		bool ctr_differ = false;

		printf("# %s: %zu MiB x %ld x %d methods ...\n", s->name, s->len >> 20, reps, M_NR);
		memset(&ctr[si], 0, sizeof(ctr[si]));
		for (int m = 0; m < M_NR; m++)
			na[si][m] = m == M_UFFD && !g_uffd;

		for (long r = 0; r < reps; r++) {
			for (int m = 0; m < M_NR; m++) {
				unsigned int seed = (unsigned int)(si * 1000 + r * 10 + m + 1);
				struct rust_mremap_move c;
				int res;

				if (na[si][m])
					continue;
				memset(&c, 0, sizeof(c));
				res = run_once((enum method)m, s, seed, &t[m][r], &c);
				if (res == RUN_NA) {
					na[si][m] = true;
				} else if (res == RUN_FAIL) {
					fprintf(stderr, "FAIL: %s, %s, repetition %ld\n", s->name,
						method_name[m], r);
					failed = true;
					goto done;
				}
				if (m != M_IOCTL)
					continue;
				if (r && (c.pmd_moves != ctr[si].pmd_moves ||
					  c.pte_moves != ctr[si].pte_moves ||
					  c.huge_pmd_moves != ctr[si].huge_pmd_moves))
					ctr_differ = true;
				ctr[si] = c;
			}
		}
		for (int m = 0; m < M_NR; m++)
			med[si][m] = na[si][m] ? 0 : median(t[m], (int)reps);
		if (ctr_differ)
			printf("# %s: the ioctl's counters differed between repetitions (last shown)\n",
			       s->name);
	}

	printf("\n%-24s %6s %12s %12s %12s %12s %10s %10s %10s %14s\n", "scenario", "size",
	       "ioctl_us", "mremap_us", "uffdmove_us", "mremap/ioctl", "uffd/ioctl", "pmd_moves",
	       "pte_moves", "huge_pmd_moves");
	for (size_t si = 0; si < ARRAY_SIZE(scen); si++) {
		char sz[16], uf[16], ufr[16];

		snprintf(sz, sizeof(sz), "%zuM", scen[si].len >> 20);
		if (na[si][M_UFFD]) {
			snprintf(uf, sizeof(uf), "n/a");
			snprintf(ufr, sizeof(ufr), "n/a");
		} else {
			snprintf(uf, sizeof(uf), "%.1f", med[si][M_UFFD]);
			snprintf(ufr, sizeof(ufr), "%.2f", med[si][M_UFFD] / med[si][M_IOCTL]);
		}
		printf("%-24s %6s %12.1f %12.1f %12s %12.2f %10s %10llu %10llu %14llu\n", scen[si].name,
		       sz, med[si][M_IOCTL], med[si][M_MREMAP], uf,
		       med[si][M_MREMAP] / med[si][M_IOCTL], ufr,
		       (unsigned long long)ctr[si].pmd_moves, (unsigned long long)ctr[si].pte_moves,
		       (unsigned long long)ctr[si].huge_pmd_moves);
	}
done:
	close(g_fd);
	return failed;
}
