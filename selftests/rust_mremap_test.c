// SPDX-License-Identifier: GPL-2.0
/*
 * rust_mremap_test: mainline tools/testing/selftests/mm/mremap_test.c
 * driven through RUST_MREMAP_IOC_MOVE instead of mremap().
 *
 *  - the alignment matrix of mremap_test.c (8KB PTE/PTE ... 2GB PUD/PUD,
 *    5MB 1MB/1MB, 5MB 1MB/1MB below a 40MB preamble) and its expected
 *    failures (upward overlap, 1KB-misaligned src or dst -> EINVAL);
 *  - the tests of the move_page_tables() realign series: move within
 *    range |DDDDddddSSSSssss|, mutually aligned moves larger than a PMD,
 *    remap right after an existing mapping, move from an offset of a
 *    mapping (1MB+256KB);
 *  - exact counters from a model of the walk (realign decision, extents,
 *    "dst slot already has a page table" rule), checked against both a
 *    RUST_MREMAP_DRY_RUN issued first and the real move;
 *  - a differential run of every non-overlapping case through
 *    mremap(MREMAP_MAYMOVE | MREMAP_FIXED) on an identical region;
 *  - the downward overlapping move inside one VMA (exec stack shift).
 *
 * Unlike mremap(), the ioctl needs the destination to be an existing,
 * unpopulated VMA: every destination is mapped (PROT_READ|PROT_WRITE,
 * private anonymous) at its alignment and never touched before the move.
 * Unpopulated ranges are checked with mincore() (reading them would map
 * the zero page, which counts as populated).
 *
 * Options (as mremap_test): -t threshold_mb (bytes populated and verified
 * per region = min(threshold, region), default 4, 0 = whole region),
 * -p pattern_seed.
 */
#include "rust_mremap_lib.h"

#include <time.h>

#define VALIDATION_DEFAULT_THRESHOLD	4	/* MB */
#define PMD_MASK_LOW			(RM_PMD - 1)

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

static int rm_fd;
static size_t ps;
static unsigned int threshold_mb = VALIDATION_DEFAULT_THRESHOLD;
static unsigned int g_seed;

/* ------------------------------------------------------------------ */
/* Checks                                                             */
/* ------------------------------------------------------------------ */

enum { CK_PATTERN, CK_ZERO, CK_UNPOP };

struct chk {
	const uint8_t *addr;
	size_t len;
	int kind;
	unsigned int seed;	/* CK_PATTERN */
	size_t off;		/* CK_PATTERN: pattern offset of addr[0] */
	const char *what;
};

#define MAX_CHK		8
#define MAX_MAPS	8
#define MAX_POPS	8

struct range {
	uintptr_t a, b;
};

/* One prepared move: the mappings, what is populated, what must hold. */
struct scen {
	uint8_t *src, *dst;
	size_t len;
	size_t pop;		/* [src, src + pop) holds pattern(seed, base_off + i) */
	size_t base_off;
	unsigned int seed;
	struct chk others[MAX_CHK];	/* unrelated ranges: same before and after */
	int nothers;
	struct { void *addr; size_t len; } maps[MAX_MAPS];
	int nmaps;
	struct range pops[MAX_POPS];	/* model: everything populated */
	int npops;
	uintptr_t tables[4];		/* model: slots holding an empty page table */
	int ntables;
	bool dst_faulted;		/* model: dst VMA has its own rmap identity */
};

/* Resident pages in [addr, addr+len) by mincore(); -1 on error. */
static long resident_pages(const void *addr, size_t len)
{
	unsigned char vec[4096];
	size_t done = 0;
	long n = 0;

	while (done < len) {
		size_t chunk = MIN(len - done, sizeof(vec) * ps);
		size_t pages = (chunk + ps - 1) / ps;

		if (mincore((char *)addr + done, chunk, vec)) {
			ksft_print_msg("  mincore(%p, %#zx): %s\n", (char *)addr + done,
				       chunk, strerror(errno));
			return -1;
		}
		for (size_t i = 0; i < pages; i++)
			n += vec[i] & 1;
		done += chunk;
	}
	return n;
}

static void add_chk(struct chk *c, int *n, int max, const void *addr, size_t len,
		    int kind, unsigned int seed, size_t off, const char *what)
{
	if (!len)
		return;
	if (*n >= max)
		ksft_exit_fail_msg("test bug: too many checks\n");
	c[*n] = (struct chk){ .addr = addr, .len = len, .kind = kind,
			      .seed = seed, .off = off, .what = what };
	(*n)++;
}

/*
 * All "unpopulated" checks first (mincore, no access), then the byte
 * checks: reading an unpopulated page maps the zero page.
 */
static bool run_checks(const struct chk *c, int n, const char *stage)
{
	bool ok = true;

	for (int i = 0; i < n; i++) {
		long r;

		if (c[i].kind != CK_UNPOP)
			continue;
		r = resident_pages(c[i].addr, c[i].len);
		if (r != 0) {
			ksft_print_msg("  %s: %s [%p, +%#zx): %ld pages populated, expected none\n",
				       stage, c[i].what, c[i].addr, c[i].len, r);
			ok = false;
		}
	}
	for (int i = 0; i < n; i++) {
		if (c[i].kind == CK_PATTERN) {
			size_t bad = rm_check(c[i].addr, c[i].len, c[i].seed, c[i].off);

			if (bad != (size_t)-1) {
				ksft_print_msg(
					"  %s: %s [%p, +%#zx): byte %#zx is %#x, expected %#x\n",
					stage, c[i].what, c[i].addr, c[i].len, bad, c[i].addr[bad],
					rm_pattern_byte(c[i].seed, c[i].off + bad));
				ok = false;
			}
		} else if (c[i].kind == CK_ZERO) {
			if (!rm_all_zero(c[i].addr, c[i].len)) {
				size_t j = 0;

				while (!c[i].addr[j])
					j++;
				ksft_print_msg(
					"  %s: %s [%p, +%#zx): byte %#zx is %#x, expected 0\n",
					stage, c[i].what, c[i].addr, c[i].len, j, c[i].addr[j]);
				ok = false;
			}
		}
	}
	return ok;
}

/*
 * The state after @m bytes of [src, src+len) went to dst (m = 0: before
 * the move / after a dry run or a failed move; m = len: after the move).
 *  A: [dst, dst+m) holds what src held;
 *  B: [src+m, src+len) still holds its own bytes;
 *  C: what src gave away and what dst has not received yet is unpopulated
 *     (downward overlap: that is [dst+m, src+m)).
 */
static bool verify_state(const struct scen *sc, size_t m, const char *stage)
{
	struct chk c[MAX_CHK + 8];
	int n = 0;
	size_t pm = MIN(m, sc->pop);
	bool overlap = sc->dst < sc->src && sc->src < sc->dst + sc->len;

	for (int i = 0; i < sc->nothers; i++)
		c[n++] = sc->others[i];

	add_chk(c, &n, MAX_CHK + 8, sc->dst, pm, CK_PATTERN, sc->seed, sc->base_off,
		"dst (moved bytes)");
	add_chk(c, &n, MAX_CHK + 8, sc->dst + pm, m - pm, CK_UNPOP, 0, 0,
		"dst (moved, never populated part)");
	if (m < sc->pop)
		add_chk(c, &n, MAX_CHK + 8, sc->src + m, sc->pop - m, CK_PATTERN, sc->seed,
			sc->base_off + m, "src (not moved)");
	add_chk(c, &n, MAX_CHK + 8, sc->src + MAX(m, sc->pop), sc->len - MAX(m, sc->pop),
		CK_UNPOP, 0, 0, "src (never populated part)");
	if (overlap) {
		add_chk(c, &n, MAX_CHK + 8, sc->dst + m, sc->src - sc->dst, CK_UNPOP, 0, 0,
			"[dst+moved, src+moved)");
		if (m)
			add_chk(c, &n, MAX_CHK + 8, sc->dst + m, sc->src - sc->dst, CK_ZERO,
				0, 0, "[dst+moved, src+moved)");
	} else {
		add_chk(c, &n, MAX_CHK + 8, sc->src, m, CK_UNPOP, 0, 0, "src (moved away)");
		add_chk(c, &n, MAX_CHK + 8, sc->src, pm, CK_ZERO, 0, 0, "src (moved away)");
		add_chk(c, &n, MAX_CHK + 8, sc->dst + m, sc->len - m, CK_UNPOP, 0, 0,
			"dst (not reached)");
	}
	return run_checks(c, n, stage);
}

/* ------------------------------------------------------------------ */
/* /proc/self/maps                                                    */
/* ------------------------------------------------------------------ */

/* *starts: a VMA starts at @at; return: a VMA intersects [a, b). */
static bool maps_query(uintptr_t a, uintptr_t b, uintptr_t at, bool *starts)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool inter = false;

	if (!f)
		ksft_exit_fail_msg("open /proc/self/maps: %s\n", strerror(errno));
	*starts = false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx", &s, &e) != 2)
			continue;
		if (s < b && e > a)
			inter = true;
		if (s == at)
			*starts = true;
	}
	fclose(f);
	return inter;
}

static bool vma_starts_at(uintptr_t addr)
{
	bool starts;

	maps_query(0, 0, addr, &starts);
	return starts;
}

static bool vma_intersects(uintptr_t a, uintptr_t b)
{
	bool dummy;

	return a < b && maps_query(a, b, 0, &dummy);
}

/* ------------------------------------------------------------------ */
/* Model of the walk                                                  */
/* ------------------------------------------------------------------ */

struct counts {
	unsigned long long pmd, pte, huge, pud;
	bool realign;
};

#define MAX_OVR 8192
static struct { uintptr_t slot; bool table; } ovr[MAX_OVR];
static int novr;

static bool slot_default(const struct scen *sc, uintptr_t slot)
{
	for (int i = 0; i < sc->npops; i++)
		if (sc->pops[i].a < slot + RM_PMD && sc->pops[i].b > slot)
			return true;
	for (int i = 0; i < sc->ntables; i++)
		if (sc->tables[i] == slot)
			return true;
	return false;
}

static bool has_table(const struct scen *sc, uintptr_t slot)
{
	for (int i = 0; i < novr; i++)
		if (ovr[i].slot == slot)
			return ovr[i].table;
	return slot_default(sc, slot);
}

static void set_table(uintptr_t slot, bool v)
{
	for (int i = 0; i < novr; i++)
		if (ovr[i].slot == slot) {
			ovr[i].table = v;
			return;
		}
	if (novr >= MAX_OVR)
		ksft_exit_fail_msg("test bug: model slot table full\n");
	ovr[novr].slot = slot;
	ovr[novr].table = v;
	novr++;
}

static unsigned long long pop_pages(const struct scen *sc, uintptr_t a, uintptr_t b)
{
	unsigned long long bytes = 0;

	for (int i = 0; i < sc->npops; i++) {
		uintptr_t lo = MAX(a, sc->pops[i].a), hi = MIN(b, sc->pops[i].b);

		if (lo < hi)
			bytes += hi - lo;
	}
	return bytes / ps;
}

/* can_realign_addr()/can_align_down() without the for_stack exemption. */
static bool model_realign(uintptr_t src, uintptr_t dst, size_t len, unsigned int flags)
{
	uintptr_t so = src & PMD_MASK_LOW, dof = dst & PMD_MASK_LOW;

	if (flags & RUST_MREMAP_NO_REALIGN)
		return false;
	if (len < RM_PMD - so || so == 0 || so != dof)
		return false;
	if (!vma_starts_at(src) || !vma_starts_at(dst))
		return false;
	if (vma_intersects(src - so, src) || vma_intersects(dst - dof, dst))
		return false;
	return true;
}

/* The start of the VMA that contains @addr, or 0. */
static uintptr_t vma_start_of(uintptr_t addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long s, e, start = 0;
	char line[512];

	if (!f)
		ksft_exit_fail_msg("open /proc/self/maps: %s\n", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && addr >= s && addr < e)
			start = s;
	fclose(f);
	return start;
}

/*
 * Whether the move shares rmap identity, as mremap() does: two VMAs, a
 * destination never faulted (no identity of its own), and no
 * RUST_MREMAP_RELOCATE.  Only then do PUD entries move.
 */
static bool model_shared(const struct scen *sc, unsigned int flags)
{
	return !(flags & RUST_MREMAP_RELOCATE) && !sc->dst_faulted &&
	       vma_start_of((uintptr_t)sc->src) != vma_start_of((uintptr_t)sc->dst);
}

/* Whether any PMD slot of [a, b) holds a page table. */
static bool range_has_tables(const struct scen *sc, uintptr_t a, uintptr_t b)
{
	for (uintptr_t slot = a; slot < b; slot += RM_PMD)
		if (has_table(sc, slot))
			return true;
	return false;
}

/*
 * The 1 GiB window the walk may take as one PUD entry at s/d: both
 * PUD-aligned with a whole PUD left, or, at the start, mutually
 * PUD-aligned with nothing mapped below either side down to the boundary.
 */
static bool model_pud_window(uintptr_t src, uintptr_t dst, uintptr_t end, uintptr_t s,
			     uintptr_t d, unsigned int flags, uintptr_t *ws, uintptr_t *wd)
{
	uintptr_t off = src & (RM_PUD - 1);

	if (!(s & (RM_PUD - 1)) && !(d & (RM_PUD - 1))) {
		*ws = s;
		*wd = d;
		return end - s >= RM_PUD;
	}
	if ((flags & RUST_MREMAP_NO_REALIGN) || s > src || off != (dst & (RM_PUD - 1)) ||
	    end - src < RM_PUD - off || !vma_starts_at(src) || !vma_starts_at(dst) ||
	    vma_intersects(src - off, src) || vma_intersects(dst - off, dst))
		return false;
	*ws = src - off;
	*wd = dst - off;
	return true;
}

/*
 * Lorenzo's tail realignment: the last, partial extent moves as a whole
 * table when both ends are PMD-mutually aligned ends of their VMAs with
 * nothing mapped above either up to the next PMD boundary.
 */
static bool model_tail_whole(uintptr_t s, uintptr_t d, size_t ext, uintptr_t end,
			     unsigned int flags)
{
	return !(flags & RUST_MREMAP_NO_REALIGN) && s + ext == end && !(s & PMD_MASK_LOW) &&
	       !(d & PMD_MASK_LOW) && !vma_intersects(end, s + RM_PMD) &&
	       !vma_intersects(d + ext, d + RM_PMD);
}

/*
 * move_page_tables() as the module does it: extents up to the next PMD
 * boundary of either side; an empty src slot counts nothing; a whole
 * extent whose dst slot has no page table moves the table; otherwise
 * every populated PTE moves (and the dst slot gets a table).  No THP
 * here (all regions are MADV_NOHUGEPAGE), so huge = 0.  Populated
 * ranges are the pre-move ones: a later src extent never contains bytes
 * an earlier extent moved (dst < src + already-walked length).
 */
static struct counts model(const struct scen *sc, unsigned int flags)
{
	struct counts c = { 0 };
	uintptr_t src = (uintptr_t)sc->src, dst = (uintptr_t)sc->dst;
	uintptr_t end = src + sc->len, s = src, d = dst;

	bool shared = model_shared(sc, flags);

	novr = 0;
	c.realign = model_realign(src, dst, sc->len, flags);
	if (c.realign) {
		s &= ~(uintptr_t)PMD_MASK_LOW;
		d &= ~(uintptr_t)PMD_MASK_LOW;
	}
	while (s < end) {
		size_t ext = MIN(RM_PMD - (s & PMD_MASK_LOW), RM_PMD - (d & PMD_MASK_LOW));
		uintptr_t ss = s & ~(uintptr_t)PMD_MASK_LOW, ds = d & ~(uintptr_t)PMD_MASK_LOW;
		uintptr_t ws, wd;
		bool whole;

		/* A window with nothing mapped is passed; one with an empty dst moves whole. */
		if (shared && model_pud_window(src, dst, end, s, d, flags, &ws, &wd) &&
		    (!range_has_tables(sc, ws, ws + RM_PUD) ||
		     !range_has_tables(sc, wd, wd + RM_PUD))) {
			if (range_has_tables(sc, ws, ws + RM_PUD))
				c.pud++;
			s = ws + RM_PUD;
			d = wd + RM_PUD;
			continue;
		}
		ext = MIN(ext, end - s);
		whole = ext == RM_PMD || model_tail_whole(s, d, ext, end, flags);
		if (has_table(sc, ss)) {
			if (whole && !has_table(sc, ds)) {
				c.pmd++;
				set_table(ss, false);
				set_table(ds, true);
			} else {
				c.pte += pop_pages(sc, s, s + ext);
				set_table(ds, true);
			}
		}
		s += ext;
		d += ext;
	}
	return c;
}

/* ------------------------------------------------------------------ */
/* Setup                                                              */
/* ------------------------------------------------------------------ */

static void sc_record(struct scen *sc, void *addr, size_t len)
{
	if (sc->nmaps >= MAX_MAPS)
		ksft_exit_fail_msg("test bug: too many mappings\n");
	sc->maps[sc->nmaps].addr = addr;
	sc->maps[sc->nmaps].len = len;
	sc->nmaps++;
}

static void sc_pop(struct scen *sc, const void *addr, size_t len)
{
	if (sc->npops >= MAX_POPS)
		ksft_exit_fail_msg("test bug: too many populated ranges\n");
	sc->pops[sc->npops].a = (uintptr_t)addr;
	sc->pops[sc->npops].b = (uintptr_t)addr + len;
	sc->npops++;
}

static void sc_other(struct scen *sc, const void *addr, size_t len, int kind,
		     unsigned int seed, size_t off, const char *what)
{
	add_chk(sc->others, &sc->nothers, MAX_CHK, addr, len, kind, seed, off, what);
}

static void sc_cleanup(struct scen *sc)
{
	for (int i = 0; i < sc->nmaps; i++)
		if (munmap(sc->maps[i].addr, sc->maps[i].len))
			ksft_print_msg("munmap(%p, %#zx): %s\n", sc->maps[i].addr,
				       sc->maps[i].len, strerror(errno));
	sc->nmaps = 0;
}

static uint8_t *map_prot(struct scen *sc, void *addr, size_t len, int prot)
{
	uint8_t *p = rm_map_at(addr, len, prot);

	if (!p) {
		ksft_print_msg("mmap(%p, %#zx) failed: %s\n", addr, len, strerror(errno));
		return NULL;
	}
	sc_record(sc, p, len);
	return p;
}

static uint8_t *map_rw(struct scen *sc, void *addr, size_t len)
{
	return map_prot(sc, addr, len, PROT_READ | PROT_WRITE);
}

/*
 * Address of a free @len region with @below free bytes right under it,
 * aligned to @align but not to 2 * @align (mremap_test's rule against
 * coincidental alignment), with a PMD of free guard on both sides so no
 * other mapping shares a page-table slot with it.
 */
static uint8_t *place(size_t below, size_t len, size_t align)
{
	size_t big = 2 * align;
	size_t off = (align + big - below % big) % big;
	uint8_t *h = rm_find_hole(below + len, big, off, RM_PMD);

	if (!h) {
		ksft_print_msg("no hole for %#zx bytes at alignment %#zx\n", below + len, align);
		return NULL;
	}
	return h + below;
}

static size_t thr_bytes(size_t region)
{
	return threshold_mb ? MIN((size_t)threshold_mb * RM_MB(1), region) : region;
}

enum kind { K_TWO_VMA, K_WITHIN_RANGE, K_FROM_START, K_OVERLAP };
enum below_kind { B_NONE, B_RO, B_SHARED_POP };

struct case_desc {
	const char *name;
	enum kind kind;
	size_t src_align, dst_align, size;	/* K_TWO_VMA */
	size_t below_src, below_dst;		/* K_TWO_VMA: mapping right below */
	size_t above_src;			/* K_TWO_VMA: read-only mapping right above src */
	enum below_kind below_kind;
	bool full_pop;				/* populate whole src, ignore -t */
	bool stale_dst_table;			/* dst's first slot gets an empty table */
	size_t overlap_extra;			/* K_OVERLAP: src = dst + 2MB + extra */
	size_t slide;				/* K_OVERLAP: if set, src = dst + slide */
	unsigned int flags;
	long long exp_pmd, exp_pte;		/* literal expectation, -1: model only */
	bool differential;
};

static bool map_below(struct scen *sc, const struct case_desc *cd, uint8_t *region,
		      size_t below)
{
	uint8_t *addr = region - below;

	if (!below)
		return true;
	if (cd->below_kind == B_RO) {
		/* Different flags than the RW region: never merges with it. */
		if (!map_prot(sc, addr, below, PROT_READ))
			return false;
		sc_other(sc, addr, below, CK_UNPOP, 0, 0, "mapping below");
		return true;
	}
	/* mremap_test's dest_preamble: MAP_SHARED, filled with a pattern. */
	{
		size_t fill = thr_bytes(below);
		uint8_t *p = mmap(addr, below, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (p == MAP_FAILED || p != addr) {
			ksft_print_msg("preamble mmap(%p, %#zx) failed: %s\n", addr, below,
				       strerror(errno));
			if (p != MAP_FAILED)
				munmap(p, below);
			return false;
		}
		sc_record(sc, p, below);
		/* Populate the top @fill bytes: the ones next to the region. */
		rm_fill(p + below - fill, fill, g_seed + 2, below - fill);
		sc_pop(sc, p + below - fill, fill);
		sc_other(sc, p + below - fill, fill, CK_PATTERN, g_seed + 2, below - fill,
			 "preamble");
		return true;
	}
}

static bool build_two_vma(struct scen *sc, const struct case_desc *cd)
{
	size_t len = cd->size;
	uint8_t *s, *d;

	s = place(cd->below_src, len, cd->src_align);
	if (!s || !map_below(sc, cd, s, cd->below_src) || !map_rw(sc, s, len))
		return false;
	/* Read-only: never merges with src, and must survive the move. */
	if (cd->above_src) {
		if (!map_prot(sc, s + len, cd->above_src, PROT_READ))
			return false;
		sc_other(sc, s + len, cd->above_src, CK_UNPOP, 0, 0, "mapping above src");
	}
	d = place(cd->below_dst, len, cd->dst_align);
	if (!d || !map_below(sc, cd, d, cd->below_dst) || !map_rw(sc, d, len))
		return false;

	sc->src = s;
	sc->dst = d;
	sc->len = len;
	sc->pop = cd->full_pop ? len : thr_bytes(len);
	sc->seed = g_seed;
	sc->base_off = 0;
	rm_fill(s, sc->pop, sc->seed, 0);
	sc_pop(sc, s, sc->pop);

	if (cd->stale_dst_table) {
		/*
		 * Fault one page in and zap it again: the PTE table stays.
		 * (MADV_DONTNEED of less than a PMD never reclaims the
		 * table, even with CONFIG_PT_RECLAIM.)
		 */
		d[0] = 1;
		if (madvise(d, ps, MADV_DONTNEED)) {
			ksft_print_msg("madvise(MADV_DONTNEED): %s\n", strerror(errno));
			return false;
		}
		sc->tables[sc->ntables++] = (uintptr_t)d & ~(uintptr_t)PMD_MASK_LOW;
		sc->dst_faulted = true;
	}
	return true;
}

/*
 * |DDDDddddSSSSssss|: one 4MB VMA at a 2MB-aligned address, each char
 * 256KB; ssss moves to dddd (dst < src, no overlap).
 */
static bool build_within_range(struct scen *sc, const struct case_desc *cd)
{
	uint8_t *v = place(0, RM_MB(4), RM_PMD);

	(void)cd;
	if (!v || !map_rw(sc, v, RM_MB(4)))
		return false;
	rm_fill(v, RM_MB(1), g_seed + 1, 0);			/* DDDD */
	rm_fill(v + RM_MB(2), RM_MB(2), g_seed, 0);		/* SSSSssss */
	sc_pop(sc, v, RM_MB(1));
	sc_pop(sc, v + RM_MB(2), RM_MB(2));
	sc_other(sc, v, RM_MB(1), CK_PATTERN, g_seed + 1, 0, "DDDD");
	sc_other(sc, v + RM_MB(2), RM_MB(1), CK_PATTERN, g_seed, 0, "SSSS");
	sc->src = v + RM_MB(3);
	sc->dst = v + RM_MB(1);
	sc->len = RM_MB(1);
	sc->pop = RM_MB(1);
	sc->seed = g_seed;
	sc->base_off = RM_MB(1);
	return true;
}

/*
 * mremap_move_1mb_from_start(): src and dest are 6MB mappings at a
 * 1MB+256KB offset in a PMD... here: at a 256KB PMD offset, so that
 * src+1MB and dest+1MB are both at 1MB+256KB.  The first 1MB of dest
 * is unmapped (nothing below the dest VMA in its slot); the first 2MB
 * of src is populated.  [src+1MB, +1MB) moves to dest+1MB: src+1MB is
 * not the start of its VMA, so no realign may happen and src's first
 * 1MB must survive.
 */
static bool build_from_start(struct scen *sc, const struct case_desc *cd)
{
	uint8_t *s, *d;

	(void)cd;
	s = rm_find_hole(RM_MB(6), RM_PMD, RM_KB(256), RM_PMD);
	if (!s || !map_rw(sc, s, RM_MB(6)))
		return false;
	d = rm_find_hole(RM_MB(6), RM_PMD, RM_KB(256), RM_PMD);
	if (!d || !map_rw(sc, d, RM_MB(6)))
		return false;
	if (munmap(d, RM_MB(1))) {
		ksft_print_msg("munmap: %s\n", strerror(errno));
		return false;
	}
	rm_fill(s, RM_MB(2), g_seed, 0);
	sc_pop(sc, s, RM_MB(2));
	sc_other(sc, s, RM_MB(1), CK_PATTERN, g_seed, 0, "src mapping's first 1MB");
	sc_other(sc, s + RM_MB(2), RM_MB(4), CK_UNPOP, 0, 0, "src mapping's tail");
	sc_other(sc, d + RM_MB(2), RM_MB(4), CK_UNPOP, 0, 0, "dest mapping's tail");
	sc->src = s + RM_MB(1);
	sc->dst = d + RM_MB(1);
	sc->len = RM_MB(1);
	sc->pop = RM_MB(1);
	sc->seed = g_seed;
	sc->base_off = RM_MB(1);
	return true;
}

/*
 * Exec stack shift: one 10MB VMA at a 2MB-aligned address v,
 * dst = v + 1MB, src = dst + 2MB + extra, len 5MB, src fully populated.
 * A slide (src = dst + slide, less than an extent): each page's destination
 * is a slot the move empties a few pages before, which may be refilled only
 * after a TLB flush of what it held.
 */
static bool build_overlap(struct scen *sc, const struct case_desc *cd)
{
	uint8_t *v = place(0, RM_MB(10), RM_PMD);

	if (!v || !map_rw(sc, v, RM_MB(10)))
		return false;
	sc->dst = v + RM_MB(1);
	sc->src = sc->dst + (cd->slide ? cd->slide : RM_MB(2) + cd->overlap_extra);
	sc->len = RM_MB(5);
	sc->pop = sc->len;
	sc->seed = g_seed;
	sc->base_off = 0;
	rm_fill(sc->src, sc->pop, sc->seed, 0);
	sc_pop(sc, sc->src, sc->pop);
	sc_other(sc, v, RM_MB(1), CK_UNPOP, 0, 0, "VMA below dst");
	sc_other(sc, sc->src + sc->len, v + RM_MB(10) - (sc->src + sc->len), CK_UNPOP, 0, 0,
		 "VMA above src+len");
	return true;
}

static bool build(struct scen *sc, const struct case_desc *cd)
{
	memset(sc, 0, sizeof(*sc));
	switch (cd->kind) {
	case K_TWO_VMA:
		return build_two_vma(sc, cd);
	case K_WITHIN_RANGE:
		return build_within_range(sc, cd);
	case K_FROM_START:
		return build_from_start(sc, cd);
	case K_OVERLAP:
		return build_overlap(sc, cd);
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Runners                                                            */
/* ------------------------------------------------------------------ */

static bool counters_match(const struct rust_mremap_move *m, const struct counts *e,
			   const char *stage)
{
	if (m->pmd_moves == e->pmd && m->pte_moves == e->pte && m->huge_pmd_moves == e->huge &&
	    m->pud_moves == e->pud)
		return true;
	ksft_print_msg(
		"  %s: pmd_moves=%llu pte_moves=%llu huge_pmd_moves=%llu pud_moves=%llu, expected %llu/%llu/%llu/%llu\n",
		stage, (unsigned long long)m->pmd_moves, (unsigned long long)m->pte_moves,
		(unsigned long long)m->huge_pmd_moves, (unsigned long long)m->pud_moves, e->pmd,
		e->pte, e->huge, e->pud);
	return false;
}

static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return i;
	return (size_t)-1;
}

static bool compare_bytes(const uint8_t *a, const uint8_t *b, size_t len, const char *what)
{
	size_t i = first_diff(a, b, len);

	if (i == (size_t)-1)
		return true;
	ksft_print_msg("  differential: %s byte %#zx: ioctl %#x, mremap %#x\n", what, i, a[i],
		       b[i]);
	return false;
}

/* Same setup at other addresses, moved by mremap(); bytes must agree. */
#define PM_POPULATED	(RM_PM_PRESENT | RM_PM_SWAP)

/*
 * Which pages of [p, p + len) are populated (pagemap), as a malloc'd
 * array of 0/1, or NULL; *@count gets how many are.  Taken right after a
 * move, before any check reads (and so maps the zero page into) the range.
 */
static uint8_t *population(const void *p, size_t len, size_t *count)
{
	size_t n = len / rm_page_size();
	uint64_t *pm = malloc(n * sizeof(*pm));
	uint8_t *pop = malloc(n);

	*count = 0;
	if (!pm || !pop || !rm_pagemap(p, n, pm)) {
		free(pm);
		free(pop);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		*count += pop[i] = !!(pm[i] & PM_POPULATED);
	free(pm);
	return pop;
}

struct after_move {
	uint8_t *dst;		/* population of dst right after the ioctl move */
	size_t dst_count, src_count;
};

static bool differential(const struct case_desc *cd, const struct scen *a,
			 const struct after_move *apop)
{
	size_t cmp, bad, bcount, diff = 0, first = 0;
	uint8_t *bpop;
	struct scen b;
	bool ok = false;
	void *r;

	if (!build(&b, cd)) {
		ksft_print_msg("  differential: setup failed\n");
		goto out;
	}
	r = mremap(b.src, b.len, b.len, MREMAP_MAYMOVE | MREMAP_FIXED, b.dst);
	if (r != (void *)b.dst) {
		ksft_print_msg("  differential: mremap(%p, %#zx -> %p): %s\n", b.src, b.len,
			       b.dst, r == MAP_FAILED ? strerror(errno) : "moved elsewhere");
		goto out;
	}
	ok = true;
	/*
	 * What each leaves behind, not only the bytes both were filled with:
	 * the same pages populated at dst (pagemap), and nothing left at the
	 * source (mremap() unmaps it; the ioctl leaves it mapped and empty).
	 */
	bpop = population(b.dst, b.len, &bcount);
	if (!bpop || !apop->dst) {
		ksft_print_msg("  differential: cannot read pagemap\n");
		ok = false;
	} else {
		for (size_t i = 0; i < b.len / rm_page_size(); i++)
			if (apop->dst[i] != bpop[i] && !diff++)
				first = i;
		if (diff) {
			ksft_print_msg(
				"  differential: %zu dst pages populated by one and not the other (first page %zu; ioctl %zu, mremap %zu populated)\n",
				diff, first, apop->dst_count, bcount);
			ok = false;
		}
	}
	free(bpop);
	if (apop->src_count) {
		ksft_print_msg(
			"  differential: the ioctl left %zu populated pages at the source (mremap() leaves none)\n",
			apop->src_count);
		ok = false;
	}
	/* dst: the populated part plus up to 1MB of never-populated bytes. */
	cmp = MIN(b.len, b.pop + RM_MB(1));
	if (!compare_bytes(a->dst, b.dst, cmp, "dst"))
		ok = false;
	bad = rm_check(b.dst, b.pop, b.seed, b.base_off);
	if (bad != (size_t)-1) {
		ksft_print_msg("  differential: mremap dst byte %#zx differs from the pattern\n",
			       bad);
		ok = false;
	}
	for (int i = 0; i < a->nothers && i < b.nothers; i++) {
		if (a->others[i].kind != CK_PATTERN)
			continue;
		if (!compare_bytes(a->others[i].addr, b.others[i].addr, a->others[i].len,
				   a->others[i].what))
			ok = false;
		bad = rm_check(b.others[i].addr, b.others[i].len, b.others[i].seed,
			       b.others[i].off);
		if (bad != (size_t)-1) {
			ksft_print_msg(
				"  differential: mremap %s byte %#zx differs from the pattern\n",
				b.others[i].what, bad);
			ok = false;
		}
	}
out:
	sc_cleanup(&b);
	return ok;
}

static void run_case(const struct case_desc *cd)
{
	struct after_move am = { NULL, 0, 0 };
	struct rust_mremap_move dry, mv;
	uint64_t *pfn = NULL;
	struct counts exp;
	struct scen a;
	bool model_ok = true, dry_ok, move_ok, diff_ok;
	int dret, ret;

	if (!build(&a, cd)) {
		ksft_print_msg("%s: setup failed\n", cd->name);
		sc_cleanup(&a);
		ksft_test_result_fail("%s: dry run\n", cd->name);
		ksft_test_result_fail("%s: move\n", cd->name);
		if (cd->differential)
			ksft_test_result_fail("%s: mremap differential\n", cd->name);
		return;
	}

	exp = model(&a, cd->flags);
	ksft_print_msg(
		"%s: src %p dst %p len %#zx populated %#zx flags %#x; model: realign %s, pmd_moves %llu pte_moves %llu huge_pmd_moves %llu pud_moves %llu\n",
		cd->name, a.src, a.dst, a.len, a.pop, cd->flags, exp.realign ? "yes" : "no",
		exp.pmd, exp.pte, exp.huge, exp.pud);
	if (cd->exp_pmd >= 0 &&
	    (exp.pmd != (unsigned long long)cd->exp_pmd ||
	     exp.pte != (unsigned long long)cd->exp_pte)) {
		ksft_print_msg(
			"  setup does not have the intended geometry: model %llu/%llu, intended %lld/%lld\n",
			exp.pmd, exp.pte, cd->exp_pmd, cd->exp_pte);
		model_ok = false;
	}

	/* Dry run: same validation, predicted counters, nothing changes. */
	dry_ok = model_ok;
	dret = rm_move(rm_fd, RUST_MREMAP_PIDFD_SELF, cd->flags | RUST_MREMAP_DRY_RUN,
		       a.src, a.dst, a.len, &dry);
	if (dret) {
		ksft_print_msg("  dry run: %s\n", strerror(-dret));
		dry_ok = false;
	} else {
		if (dry.moved) {
			ksft_print_msg("  dry run: moved = %#llx, expected 0\n",
				       (unsigned long long)dry.moved);
			dry_ok = false;
		}
		if (!counters_match(&dry, &exp, "dry run"))
			dry_ok = false;
	}
	if (!verify_state(&a, 0, "after dry run"))
		dry_ok = false;
	ksft_test_result(dry_ok, "%s: dry run\n", cd->name);

	/* The move; the pages present at src must be the very pages at dst after it. */
	move_ok = model_ok;
	pfn = malloc(a.len / rm_page_size() * sizeof(*pfn));
	if (!pfn || !rm_pagemap(a.src, a.len / rm_page_size(), pfn)) {
		ksft_print_msg("  cannot read the source's pagemap\n");
		move_ok = false;
	}
	ret = rm_move(rm_fd, RUST_MREMAP_PIDFD_SELF, cd->flags, a.src, a.dst, a.len, &mv);
	if (!ret && pfn && !rm_same_pfns("  move", pfn, a.dst, a.len / rm_page_size()))
		move_ok = false;
	free(pfn);
	if (!ret && cd->differential) {
		am.dst = population(a.dst, a.len, &am.dst_count);
		free(population(a.src, a.len, &am.src_count));
	}
	if (ret) {
		ksft_print_msg("  move: %s, moved %#llx of %#zx\n", strerror(-ret),
			       (unsigned long long)mv.moved, a.len);
		move_ok = false;
		if (mv.moved <= a.len)
			verify_state(&a, mv.moved, "after failed move");
	} else {
		if (mv.moved != a.len) {
			ksft_print_msg("  move: moved = %#llx, expected %#zx\n",
				       (unsigned long long)mv.moved, a.len);
			move_ok = false;
		}
		if (!counters_match(&mv, &exp, "move"))
			move_ok = false;
		if (!dret && (mv.pmd_moves != dry.pmd_moves || mv.pte_moves != dry.pte_moves ||
			      mv.huge_pmd_moves != dry.huge_pmd_moves ||
			      mv.pud_moves != dry.pud_moves ||
			      mv.folios_relocated != dry.folios_relocated)) {
			ksft_print_msg("  move: counters differ from the dry run's\n");
			move_ok = false;
		}
		if (!verify_state(&a, a.len, "after move"))
			move_ok = false;
	}
	ksft_test_result(move_ok, "%s: move\n", cd->name);

	if (cd->differential) {
		if (ret) {
			ksft_print_msg(
				"  differential: the ioctl move failed, nothing to compare\n");
			diff_ok = false;
		} else {
			diff_ok = differential(cd, &a, &am);
		}
		ksft_test_result(diff_ok, "%s: mremap differential\n", cd->name);
	}
	free(am.dst);
	sc_cleanup(&a);
}

/* mremap_test's expected failures: EINVAL, nothing changed (dry run too). */
enum fail_kind { F_OVERLAP_UP, F_SAME, F_SRC_1K, F_DST_1K };

static void run_fail_case(enum fail_kind k, const char *name)
{
	struct chk c[4];
	struct scen sc;
	struct rust_mremap_move m;
	uint8_t *s = NULL, *d = NULL, *src = NULL, *dst = NULL;
	size_t len = ps;
	int n = 0, ret;
	bool ok = false;

	memset(&sc, 0, sizeof(sc));
	switch (k) {
	case F_OVERLAP_UP:
		/* dst = src + 4KB, len 8KB in one 3-page VMA. */
		s = place(0, 3 * ps, ps);
		if (!s || !map_rw(&sc, s, 3 * ps))
			goto out;
		rm_fill(s, 2 * ps, g_seed, 0);
		src = s;
		dst = s + ps;
		len = 2 * ps;
		add_chk(c, &n, 4, s, 2 * ps, CK_PATTERN, g_seed, 0, "src");
		add_chk(c, &n, 4, s + 2 * ps, ps, CK_UNPOP, 0, 0, "dst tail");
		break;
	case F_SAME:
		s = place(0, ps, ps);
		if (!s || !map_rw(&sc, s, ps))
			goto out;
		rm_fill(s, ps, g_seed, 0);
		src = dst = s;
		add_chk(c, &n, 4, s, ps, CK_PATTERN, g_seed, 0, "src");
		break;
	case F_SRC_1K:
		s = place(0, 2 * ps, ps);
		if (!s || !map_rw(&sc, s, 2 * ps))
			goto out;
		d = place(0, ps, ps);
		if (!d || !map_rw(&sc, d, ps))
			goto out;
		rm_fill(s, 2 * ps, g_seed, 0);
		src = s + RM_KB(1);
		dst = d;
		add_chk(c, &n, 4, s, 2 * ps, CK_PATTERN, g_seed, 0, "src");
		add_chk(c, &n, 4, d, ps, CK_UNPOP, 0, 0, "dst");
		break;
	case F_DST_1K:
		s = place(0, ps, ps);
		if (!s || !map_rw(&sc, s, ps))
			goto out;
		d = place(0, 2 * ps, ps);
		if (!d || !map_rw(&sc, d, 2 * ps))
			goto out;
		rm_fill(s, ps, g_seed, 0);
		src = s;
		dst = d + RM_KB(1);
		add_chk(c, &n, 4, s, ps, CK_PATTERN, g_seed, 0, "src");
		add_chk(c, &n, 4, d, 2 * ps, CK_UNPOP, 0, 0, "dst");
		break;
	}
	ok = true;
	for (int dry = 1; dry >= 0; dry--) {
		const char *stage = dry ? "dry run" : "move";

		ret = rm_move(rm_fd, RUST_MREMAP_PIDFD_SELF, dry ? RUST_MREMAP_DRY_RUN : 0,
			      src, dst, len, &m);
		if (ret != -EINVAL) {
			ksft_print_msg("  %s: src %p dst %p len %#zx: %s, expected EINVAL\n",
				       stage, src, dst, len, ret ? strerror(-ret) : "success");
			ok = false;
		}
		if (m.moved) {
			ksft_print_msg("  %s: moved = %#llx, expected 0\n", stage,
				       (unsigned long long)m.moved);
			ok = false;
		}
		if (!run_checks(c, n, stage))
			ok = false;
	}
out:
	if (!ok && n == 0)
		ksft_print_msg("%s: setup failed\n", name);
	sc_cleanup(&sc);
	ksft_test_result(ok, "%s: fails with EINVAL, nothing changed\n", name);
}

/* ------------------------------------------------------------------ */

static void usage(const char *cmd)
{
	fprintf(stderr,
		"Usage: %s [[-t <threshold_mb>] [-p <pattern_seed>]]\n"
		"-t\t only populate and validate threshold_mb of each region\n"
		"  \t if 0 is supplied no threshold is used; regions are\n"
		"  \t populated and validated fully. The default is 4MB.\n"
		"-p\t provide a seed for the byte pattern.\n", cmd);
}

static int parse_args(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "t:p:")) != -1) {
		switch (opt) {
		case 't':
			threshold_mb = atoi(optarg);
			break;
		case 'p':
			g_seed = atoi(optarg);
			break;
		default:
			usage(argv[0]);
			return -1;
		}
	}
	if (optind < argc) {
		usage(argv[0]);
		return -1;
	}
	return 0;
}

#define TWO(n, sa, da, sz) \
	{ .name = n, .kind = K_TWO_VMA, .src_align = sa, .dst_align = da, .size = sz, \
	  .exp_pmd = -1, .exp_pte = -1, .differential = true }
/* The same, with the counters expected at the default threshold (-1: model only). */
#define TWOX(n, sa, da, sz, pmd, pte) \
	{ .name = n, .kind = K_TWO_VMA, .src_align = sa, .dst_align = da, .size = sz, \
	  .exp_pmd = threshold_mb == VALIDATION_DEFAULT_THRESHOLD ? (pmd) : -1, \
	  .exp_pte = threshold_mb == VALIDATION_DEFAULT_THRESHOLD ? (pte) : -1, \
	  .differential = true }

int main(int argc, char **argv)
{
	static const struct { enum fail_kind k; const char *name;
	} fails[] = {
		{ F_OVERLAP_UP,
		  "Source and Destination Regions Overlapping (dst = src + 4KB, len 8KB)" },
		{ F_SAME, "Source and Destination Regions Identical (dst == src)" },
		{ F_DST_1K, "Destination Address Misaligned (1KB-aligned)" },
		{ F_SRC_1K, "Source Address Misaligned (1KB-aligned)" },
	};
	struct case_desc cases[32];
	unsigned int ncases = 0, plan;
	size_t pte;

	g_seed = (unsigned int)time(NULL);
	if (parse_args(argc, argv) < 0)
		exit(KSFT_FAIL);
	ps = rm_page_size();
	pte = ps;

	ksft_print_header();
	ksft_print_msg("Test configs: threshold_mb=%u pattern_seed=%u\n", threshold_mb, g_seed);
	rm_fd = rm_open();

	/*
	 * mremap_test's matrix, each with its counters written out by hand
	 * from the geometry (an oracle beside the model, not the model's own
	 * answer).  With the default threshold, 4 MiB of each source is
	 * populated; a 1 MiB-aligned pair whose ranges are their whole VMAs
	 * realigns at the start and takes the tail table whole.
	 */
	cases[ncases++] = (struct case_desc)TWOX(
		"8KB move - Source PTE-aligned, Destination PTE-aligned", pte, pte, 2 * pte, 0, 2);
	cases[ncases++] = (struct case_desc)TWOX(
		"2MB move - Source 1MB-aligned, Destination PTE-aligned", RM_MB(1), pte, RM_MB(2),
		0, 512);
	cases[ncases++] =
		(struct case_desc)TWOX("2MB move - Source 1MB-aligned, Destination 1MB-aligned",
				       RM_MB(1), RM_MB(1), RM_MB(2), 2, 0);
	cases[ncases++] =
		(struct case_desc)TWOX("4MB move - Source PMD-aligned, Destination PTE-aligned",
				       RM_PMD, pte, RM_MB(4), 0, 1024);
	cases[ncases++] =
		(struct case_desc)TWOX("4MB move - Source PMD-aligned, Destination 1MB-aligned",
				       RM_PMD, RM_MB(1), RM_MB(4), 0, 1024);
	cases[ncases++] =
		(struct case_desc)TWOX("4MB move - Source PMD-aligned, Destination PMD-aligned",
				       RM_PMD, RM_PMD, RM_MB(4), 2, 0);
	/*
	 * The 2GB cases map 2 GiB at a 1 GiB boundary, twice: more than a
	 * 32-bit process has (rust_mremap_test_32 runs the rest).
	 */
#if UINTPTR_MAX > 0xffffffffUL
	cases[ncases++] =
		(struct case_desc)TWOX("2GB move - Source PUD-aligned, Destination PTE-aligned",
				       RM_PUD, pte, RM_GB(2), 0, 1024);
	cases[ncases++] =
		(struct case_desc)TWOX("2GB move - Source PUD-aligned, Destination 1MB-aligned",
				       RM_PUD, RM_MB(1), RM_GB(2), 0, 1024);
	cases[ncases++] =
		(struct case_desc)TWOX("2GB move - Source PUD-aligned, Destination PMD-aligned",
				       RM_PUD, RM_PMD, RM_GB(2), 2, 0);
	/* One PUD entry: no PMD or PTE moves at all. */
	cases[ncases++] =
		(struct case_desc)TWOX("2GB move - Source PUD-aligned, Destination PUD-aligned",
				       RM_PUD, RM_PUD, RM_GB(2), 0, 0);
#endif
	/* Series: mutually aligned moves larger than a PMD (4 of 5 MiB populated). */
	cases[ncases++] =
		(struct case_desc)TWOX("5MB move - Source 1MB-aligned, Destination 1MB-aligned",
				       RM_MB(1), RM_MB(1), RM_MB(5), 3, 0);
	/* Series: remap to area immediately after existing mapping. */
	/* The preamble blocks realignment at the start: the first MiB moves by PTE. */
	cases[ncases] = (struct case_desc)TWOX(
		"5MB move - Source 1MB-aligned, Dest 1MB-aligned with 40MB Preamble",
		RM_MB(1), RM_MB(1), RM_MB(5), 2, 256);
	cases[ncases].below_dst = RM_MB(40);
	cases[ncases++].below_kind = B_SHARED_POP;

	/* Named counter cases: 5MB fully populated at mutual 1MB offset. */
	cases[ncases] = (struct case_desc)TWO(
		"5MB move - mutually 1MB-aligned VMA starts, nothing below: realign, 3 PMD 0 PTE moves",
		RM_MB(1), RM_MB(1), RM_MB(5));
	cases[ncases].full_pop = true;
	cases[ncases].exp_pmd = 3;
	cases[ncases++].exp_pte = 0;

	/* Lorenzo's tail realignment: the last 512KB moves as a whole table. */
	cases[ncases] = (struct case_desc)TWO(
		"5.5MB move - mutually 1MB-aligned, both end where their VMAs end: 4 PMD 0 PTE moves",
		RM_MB(1), RM_MB(1), RM_MB(5) + RM_KB(512));
	cases[ncases].full_pop = true;
	cases[ncases].exp_pmd = 4;
	cases[ncases++].exp_pte = 0;
	cases[ncases] = (struct case_desc)TWO(
		"5.5MB move - mutually 1MB-aligned, a mapping right above src's end: 3 PMD 128 PTE moves",
		RM_MB(1), RM_MB(1), RM_MB(5) + RM_KB(512));
	cases[ncases].full_pop = true;
	cases[ncases].above_src = RM_MB(1);
	cases[ncases].exp_pmd = 3;
	cases[ncases++].exp_pte = 128;

	cases[ncases] = (struct case_desc)TWO(
		"5MB move - mutually 1MB-aligned, RUST_MREMAP_NO_REALIGN: 2 PMD 256 PTE moves",
		RM_MB(1), RM_MB(1), RM_MB(5));
	cases[ncases].full_pop = true;
	cases[ncases].flags = RUST_MREMAP_NO_REALIGN;
	cases[ncases].exp_pmd = 2;
	cases[ncases++].exp_pte = 256;

	cases[ncases] = (struct case_desc)TWO(
		"5MB move - mutually 1MB-aligned, 1MB mapping right below src: 2 PMD 256 PTE moves",
		RM_MB(1), RM_MB(1), RM_MB(5));
	cases[ncases].full_pop = true;
	cases[ncases].below_src = RM_MB(1);
	cases[ncases].below_kind = B_RO;
	cases[ncases].exp_pmd = 2;
	cases[ncases++].exp_pte = 256;

	cases[ncases] = (struct case_desc)TWO(
		"5MB move - mutually 1MB-aligned, 1MB mapping right below dst: 2 PMD 256 PTE moves",
		RM_MB(1), RM_MB(1), RM_MB(5));
	cases[ncases].full_pop = true;
	cases[ncases].below_dst = RM_MB(1);
	cases[ncases].below_kind = B_RO;
	cases[ncases].exp_pmd = 2;
	cases[ncases++].exp_pte = 256;

	cases[ncases] = (struct case_desc)TWO(
		"4MB move - PMD-aligned, dst's first PMD slot already has a page table: 1 PMD 512 PTE moves",
		RM_PMD, RM_PMD, RM_MB(4));
	cases[ncases].full_pop = true;
	cases[ncases].stale_dst_table = true;
	cases[ncases].exp_pmd = 1;
	cases[ncases++].exp_pte = 512;

	/* Series: move within range, move from an offset of a mapping. */
	cases[ncases++] = (struct case_desc){
		.name = "move within range |DDDDddddSSSSssss| (ssss -> dddd, one 4MB VMA)",
		.kind = K_WITHIN_RANGE, .exp_pmd = 0, .exp_pte = 256, .differential = true };
	cases[ncases++] = (struct case_desc){
		.name = "move 1MB from start at 1MB+256KB aligned src",
		.kind = K_FROM_START, .exp_pmd = 0, .exp_pte = 256, .differential = true };

	/* Downward overlap in one VMA (mremap() refuses overlap: no differential). */
	cases[ncases++] = (struct case_desc){
		.name =
			"downward overlapping 5MB move, mutually aligned (dst = vma+1MB, src = vma+3MB)",
		.kind = K_OVERLAP,
		.overlap_extra = 0,
		.exp_pmd = 0,
		.exp_pte = 1280
	};
	cases[ncases++] = (struct case_desc){
		.name =
			"downward overlapping 5MB move, not mutually aligned (dst = vma+1MB, src = vma+3MB+4KB)",
		.kind = K_OVERLAP,
		.overlap_extra = RM_KB(4),
		.exp_pmd = 0,
		.exp_pte = 1280
	};
	cases[ncases++] = (struct case_desc){
		.name = "downward slide of a 5MB range by one page (src = dst + 4KB)",
		.kind = K_OVERLAP, .slide = RM_KB(4), .exp_pmd = 0, .exp_pte = 1280
	};
	cases[ncases++] = (struct case_desc){
		.name = "downward slide of a 5MB range by 64KB, relocating",
		.kind = K_OVERLAP, .slide = RM_KB(64), .flags = RUST_MREMAP_RELOCATE,
		.exp_pmd = 0, .exp_pte = 1280
	};

	plan = ARRAY_SIZE(fails);
	/* Each case: dry run and move, and the mremap() differential if it has one. */
	for (unsigned int i = 0; i < ncases; i++)
		plan += 2 + !!cases[i].differential;
	ksft_set_plan(plan);

	for (unsigned int i = 0; i < ARRAY_SIZE(fails); i++)
		run_fail_case(fails[i].k, fails[i].name);
	for (unsigned int i = 0; i < ncases; i++)
		run_case(&cases[i]);

	close(rm_fd);
	ksft_finished();
}
