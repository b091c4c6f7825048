// SPDX-License-Identifier: GPL-2.0
/*
 * rust_mremap_fuzz_test: random sequences of moves, writes, reads, zaps,
 * page-outs, mprotects, forks, pins, collapses and fresh VMAs, single
 * threaded, every move checked against the model of rust_mremap_world.h
 * and against an oracle that does not ask the module:
 *  - errno: EINVAL for an upward overlap, EFAULT when a range is not in one
 *    VMA (from /proc/self/maps), EINVAL when the two VMAs differ in
 *    protection, EEXIST when a destination page is populated (pagemap),
 *    in that order; EBUSY is accepted only with what can cause it (a fork
 *    child alive, a pin held, the source mergeable, or a relocation);
 *  - the move is the dry run: same errno, same counters;
 *  - the memory: [0, moved) at dst with its tags, the rest where it was.
 *
 *   rust_mremap_fuzz_test [-s SEED] [-t SECONDS] [-n MAXOPS]
 *
 * The sequence depends on the seed only, so a failure prints the seed, and
 * the shortest sequence found (delta debugging, each candidate replayed in
 * a fresh process) that still fails.
 */
#include <linux/io_uring.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "rust_mremap_world.h"

enum op_kind { O_MOVE, O_WRITE, O_READ, O_ZAP, O_PAGEOUT, O_PROTECT, O_FORK, O_REAP,
	       O_PIN, O_UNPIN, O_COLLAPSE, O_FRESH, O_NR };
static const char *const op_name[O_NR] = {
	"move", "write", "read", "zap", "pageout", "mprotect", "fork", "reap",
	"pin", "unpin", "collapse", "fresh",
};

struct op {
	uint8_t kind, a, b;	/* regions */
	uint8_t ro;		/* O_PROTECT: read-only */
	uint32_t flags;		/* O_MOVE */
	uint32_t s, d, n;	/* page offsets in a and b, pages */
};

static struct world *w;
static int dev;
static bool verbose;

/* What a replay has alive, besides the regions. */
static struct {
	pid_t child[8];
	int pipe[8];
	int nchild;
	int ring;
	bool pinned, forked;
	uintptr_t pin_lo, pin_hi;
} live;

static void op_print(const struct op *o, int i, const char *prefix)
{
	switch (o->kind) {
	case O_MOVE:
		ksft_print_msg("%s%4d move r%u+%u -> r%u+%u, %u pages%s%s%s\n", prefix, i, o->a,
			       o->s, o->b, o->d, o->n,
			       o->flags & RUST_MREMAP_RELOCATE ? " RELOCATE" : "",
			       o->flags & RUST_MREMAP_NO_REALIGN ? " NO_REALIGN" : "",
			       o->flags & RUST_MREMAP_DRY_RUN ? " DRY_RUN" : "");
		break;
	case O_PROTECT:
		ksft_print_msg("%s%4d mprotect r%u+%u, %u pages, %s\n", prefix, i, o->a, o->s, o->n,
			       o->ro ? "PROT_READ" : "PROT_READ|PROT_WRITE");
		break;
	default:
		ksft_print_msg("%s%4d %s r%u+%u, %u pages\n", prefix, i, op_name[o->kind], o->a,
			       o->s, o->n);
	}
}

/* Op @i of the sequence of @seed: a pure function, so any subsequence replays. */
static struct op op_gen(uint64_t seed, int i)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xD1B54A32D192ED03ull + 1;
	struct op o = { 0 };
	unsigned int k = (unsigned int)w_below(&s, 100);

	for (int j = 0; j < 4; j++)
		w_rand(&s);
	o.a = (uint8_t)w_below(&s, W_NREG);
	o.b = (uint8_t)w_below(&s, W_NREG);
	o.n = 1 + (uint32_t)w_below(&s, w_below(&s, 3) ? 32 : 1536);
	o.s = (uint32_t)w_below(&s, W_REG_PAGES - o.n + 1);
	o.d = (uint32_t)w_below(&s, W_REG_PAGES - o.n + 1);
	if (k < 40) {
		o.kind = O_MOVE;
		switch (w_below(&s, 6)) {
		case 0:	/* whole tables, mutually aligned */
		case 1:
			o.n = 512 * (1 + (uint32_t)w_below(&s, 2));
			o.s = (uint32_t)(w_pick_aligned(w, &s, o.a, o.n) % W_REG_PAGES);
			o.d = (uint32_t)(w_pick_aligned(w, &s, o.b, o.n) % W_REG_PAGES);
			break;
		case 2:	/* the same offset: the rmap identity can be shared back */
			o.d = o.s;
			break;
		case 3:	/* within one region, maybe overlapping */
			o.b = o.a;
			if (w_below(&s, 2) && o.s > 8)
				o.d = o.s - 1 - (uint32_t)w_below(&s, o.s < o.n ? o.s : o.n);
			break;
		}
		o.flags = (w_below(&s, 3) ? 0 : RUST_MREMAP_RELOCATE) |
			  (w_below(&s, 5) ? 0 : RUST_MREMAP_NO_REALIGN) |
			  (w_below(&s, 10) ? 0 : RUST_MREMAP_DRY_RUN);
	} else if (k < 58) {
		o.kind = O_WRITE;
	} else if (k < 63) {
		o.kind = O_READ;
	} else if (k < 71) {
		o.kind = O_ZAP;
	} else if (k < 76) {
		o.kind = O_PAGEOUT;
	} else if (k < 82) {
		o.kind = O_PROTECT;
		o.ro = w_below(&s, 2);
	} else if (k < 85) {
		o.kind = O_FORK;
	} else if (k < 88) {
		o.kind = O_REAP;
	} else if (k < 91) {
		o.kind = O_PIN;
		o.n = 1 + o.n % 64;
	} else if (k < 93) {
		o.kind = O_UNPIN;
	} else if (k < 97) {
		o.kind = O_COLLAPSE;
		o.n = 512;
		o.s = (uint32_t)(w_pick_aligned(w, &s, o.a, 512) % W_REG_PAGES);
	} else {
		o.kind = O_FRESH;
	}
	return o;
}

/*
 * Whether a pin or a fork may have made this move's source busy (a page
 * stays shared, not AnonExclusive, after the child is gone until written).
 */
static bool busy_possible(void)
{
	return live.forked || live.pinned;
}

static uint64_t zero_pfn;	/* the shared zero page's PFN, seen through pagemap */

/* How many of the @n pages at @a map the shared zero page. */
static size_t zero_page_entries(uintptr_t a, size_t n)
{
	uint64_t *pm = malloc(n * sizeof(*pm));
	size_t c = 0;

	if (pm && rm_pagemap((void *)a, n, pm))
		for (size_t k = 0; k < n; k++)
			c += (pm[k] & RM_PM_PRESENT) && (pm[k] & RM_PM_PFN) == zero_pfn;
	free(pm);
	return c;
}

static bool do_move(struct w_view *v, const struct op *o, int i)
{
	size_t gs = w_gidx(o->a, o->s), gd = w_gidx(o->b, o->d), n = o->n;
	uintptr_t src = w_addr(w, gs), dst = w_addr(w, gd), len = n * W_PAGE;
	struct rust_mremap_move dry, mo;
	int want = 0, e_dry, e;
	bool ok = true;
	size_t zp;

	/* The oracle, in the order of the README's table. */
	if (src <= dst && dst < src + len)
		want = -EINVAL;
	else if (!w_one_vma(v, src, len) || !w_one_vma(v, dst, len))
		want = -EFAULT;
	else if (w_prot(v, src) != w_prot(v, dst))
		want = -EINVAL;
	else
		for (size_t k = 0; k < n && !want; k++)
			if ((gd + k < gs || gd + k >= gs + n) && w_populated(v, dst + k * W_PAGE))
				want = -EEXIST;

	e_dry = rm_move(dev, RUST_MREMAP_PIDFD_SELF, o->flags | RUST_MREMAP_DRY_RUN, (void *)src,
			(void *)dst, len, &dry);
	if (want == -EINVAL && src <= dst && dst < src + len) {
		/* Not a move the model can apply: only the errno is checked. */
		e = rm_move(dev, RUST_MREMAP_PIDFD_SELF, o->flags, (void *)src, (void *)dst, len,
			    &mo);
		if (e != -EINVAL || e_dry != -EINVAL || mo.moved) {
			ksft_print_msg(
				"op %d: upward overlap: %d (dry run %d), moved %llu; EINVAL expected\n",
				i, e, e_dry, (unsigned long long)mo.moved);
			return false;
		}
		return true;
	}
	if (!w_move_checked(v, dev, RUST_MREMAP_PIDFD_SELF, o->flags, gs, gd, n, &mo, &e))
		return false;
	if (e != e_dry) {
		ksft_print_msg("op %d: the move gave %d, its dry run %d\n", i, e, e_dry);
		ok = false;
	}
	if (e != want && !(want == 0 && e == -EBUSY && busy_possible())) {
		ksft_print_msg("op %d: errno %d, the oracle wants %d\n", i, e, want);
		ok = false;
	}
	/*
	 * One counter may differ, and by a known amount: splitting an anon
	 * THP maps its all-zero subpages to the shared zero page (7.3's
	 * remap_page() with TTU_USE_SHARED_ZEROPAGE), which the dry run
	 * cannot see without reading them.  Those arrive as zero-page
	 * entries, not relocated folios: exactly that many fewer.
	 */
	zp = !e && mo.folios_relocated < dry.folios_relocated ? zero_page_entries(dst, n) : 0;
	if (!e && !(o->flags & RUST_MREMAP_DRY_RUN) &&
	    (mo.pmd_moves != dry.pmd_moves || mo.pte_moves != dry.pte_moves ||
	     mo.huge_pmd_moves != dry.huge_pmd_moves || mo.pud_moves != dry.pud_moves ||
	     mo.folios_relocated + zp != dry.folios_relocated)) {
		ksft_print_msg(
			"op %d: counters pmd/pte/huge/pud/relocated %llu/%llu/%llu/%llu/%llu, the dry run said %llu/%llu/%llu/%llu/%llu\n",
			i, (unsigned long long)mo.pmd_moves, (unsigned long long)mo.pte_moves,
			(unsigned long long)mo.huge_pmd_moves, (unsigned long long)mo.pud_moves,
			(unsigned long long)mo.folios_relocated, (unsigned long long)dry.pmd_moves,
			(unsigned long long)dry.pte_moves, (unsigned long long)dry.huge_pmd_moves,
			(unsigned long long)dry.pud_moves,
			(unsigned long long)dry.folios_relocated);
		ok = false;
	}
	return ok;
}

static void reap_one(void)
{
	if (!live.nchild)
		return;
	close(live.pipe[0]);
	waitpid(live.child[0], NULL, 0);
	live.nchild--;
	memmove(live.child, live.child + 1, live.nchild * sizeof(live.child[0]));
	memmove(live.pipe, live.pipe + 1, live.nchild * sizeof(live.pipe[0]));
}

static bool run_op(struct w_view *v, const struct op *o, int i)
{
	size_t g = w_gidx(o->a, o->s);
	uintptr_t a = w_addr(w, g);
	size_t len = (size_t)o->n * W_PAGE;

	if (verbose)
		op_print(o, i, "");
	switch (o->kind) {
	case O_MOVE:
		return do_move(v, o, i);
	case O_WRITE:
		if (!w_writable(v, a, o->n * W_PAGE))
			return true;
		for (size_t k = 0; k < o->n; k++) {
			w->tag[g + k] = o->a == W_KSM ? 1 + k % 3 : ((uint64_t)i << 16 | k) + 0x100;
			w_fill((void *)(a + k * W_PAGE), w->tag[g + k]);
		}
		return true;
	case O_READ:
		for (size_t k = 0; k < o->n; k++) {
			long m = w_mismatch((void *)(a + k * W_PAGE), w->tag[g + k]);

			if (m >= 0) {
				ksft_print_msg(
					"op %d: read page %zu word %ld differs from tag %#llx\n", i,
					k, m, (unsigned long long)w->tag[g + k]);
				return false;
			}
		}
		return true;
	case O_ZAP:
		if (madvise((void *)a, len, MADV_DONTNEED))
			return true;
		for (size_t k = 0; k < o->n; k++)
			w->tag[g + k] = 0;
		return true;
	case O_PAGEOUT:
		madvise((void *)a, len, MADV_PAGEOUT);
		return true;
	case O_PROTECT:
		if (mprotect((void *)a, len, o->ro ? PROT_READ : PROT_READ | PROT_WRITE)) {
			ksft_print_msg("op %d: mprotect: %s\n", i, strerror(errno));
			return false;
		}
		return true;
	case O_FORK:
		if (live.nchild < 8) {
			int p[2];
			pid_t c;
			char b;

			if (pipe(p))
				return false;
			c = fork();
			if (c == 0) {
				close(p[0]);
				while (read(p[1], &b, 1) > 0)
					;
				_exit(0);
			}
			close(p[1]);
			live.forked = true;
			live.child[live.nchild] = c;
			live.pipe[live.nchild++] = p[0];
		}
		return true;
	case O_REAP:
		reap_one();
		return true;
	case O_PIN:
		if (!live.pinned && w_writable(v, a, o->n * W_PAGE)) {
			struct iovec iov = { (void *)a, len };

			live.pinned = !syscall(__NR_io_uring_register, live.ring,
					       IORING_REGISTER_BUFFERS, &iov, 1);
			/* The pin faults in what was not there: zeroes, tag 0. */
		}
		return true;
	case O_UNPIN:
		if (live.pinned)
			syscall(__NR_io_uring_register, live.ring, IORING_UNREGISTER_BUFFERS, NULL,
				0);
		live.pinned = false;
		return true;
	case O_COLLAPSE:
		madvise((void *)a, RM_PMD, MADV_COLLAPSE);
		return true;
	case O_FRESH:
		if (live.pinned)
			return true;
		if (mmap((void *)w->base[o->a], W_REG_PAGES * W_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != (void *)w->base[o->a])
			return false;
		if (o->a == W_HUGE)
			madvise((void *)w->base[o->a], W_REG_PAGES * W_PAGE, MADV_HUGEPAGE);
		if (o->a == W_KSM)
			madvise((void *)w->base[o->a], W_REG_PAGES * W_PAGE, MADV_MERGEABLE);
		for (size_t k = 0; k < W_REG_PAGES; k++)
			w->tag[w_gidx(o->a, k)] = 0;
		return true;
	}
	return false;
}

/*
 * Run ops[0..n) in a fresh process with fresh regions; true when every op
 * and the final sweep pass.  *@failed_at gets the index of the failing op.
 */
static bool replay(const struct op *ops, int n, int *failed_at, bool quiet)
{
	int st, fdout = -1;
	pid_t c;

	fflush(stdout);
	c = fork();
	if (c == 0) {
		struct io_uring_params p = { 0 };
		struct w_view v;

		if (quiet) {
			fdout = open("/dev/null", O_WRONLY);
			dup2(fdout, 1);
			dup2(fdout, 2);
		}
		memset(w, 0, sizeof(*w));
		w->target = getpid();
		live.ring = (int)syscall(__NR_io_uring_setup, 1, &p);
		if (!w_map_regions(w) || !w_view_open(&v, w, true) || live.ring < 0)
			_exit(2);
		for (int i = 0; i < n; i++)
			if (!run_op(&v, &ops[i], i)) {
				w->failed = i + 1;
				_exit(1);
			}
		for (size_t g = 0; g < W_NPAGES; g++)
			if (!w_page_is(&v, w_addr(w, g), w->tag[g], "final sweep")) {
				w->failed = n + 1;
				_exit(1);
			}
		while (live.nchild)
			reap_one();
		_exit(0);
	}
	if (c < 0 || waitpid(c, &st, 0) != c)
		return false;
	*failed_at = w->failed ? (int)w->failed - 1 : n;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Delta debugging: drop chunks of the failing prefix while it still fails. */
static int minimize(struct op *ops, int n, int budget)
{
	int chunk = n / 2 ? n / 2 : 1, at;
	struct op *tmp = malloc(sizeof(*ops) * n);

	while (chunk >= 1 && budget > 0) {
		bool shrunk = false;

		for (int start = 0; start < n && budget > 0; start += chunk) {
			int m = 0;

			for (int i = 0; i < n; i++)
				if (i < start || i >= start + chunk)
					tmp[m++] = ops[i];
			budget--;
			if (m && !replay(tmp, m, &at, true)) {
				n = at + 1 < m ? at + 1 : m;
				memcpy(ops, tmp, sizeof(*ops) * n);
				shrunk = true;
				start -= chunk;
			}
		}
		if (!shrunk)
			chunk /= 2;
	}
	free(tmp);
	return n;
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	int seconds = 15, maxops = 100000, opt, n = 0, at, total = 0, runs = 0;
	unsigned long moves = 0, moves_ok = 0;
	char thp[64] = "";
	struct timespec t0, t;
	struct op *ops;
	bool ok = true;
	int fd;

	while ((opt = getopt(argc, argv, "s:t:n:v")) != -1)
		switch (opt) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 't':
			seconds = atoi(optarg);
			break;
		case 'n':
			maxops = atoi(optarg);
			break;
		case 'v':
			verbose = true;
			break;
		}
	ksft_print_header();
	ksft_set_plan(1);
	dev = rm_open();
	w = mmap(NULL, sizeof(*w), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ops = calloc(maxops, sizeof(*ops));
	if (w == MAP_FAILED || !ops)
		ksft_exit_fail_msg("memory: %s\n", strerror(errno));
	/*
	 * Nothing may change the memory between a dry run and its move: no
	 * khugepaged (THP "never" stops it; MADV_COLLAPSE still collapses).
	 */
	fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDWR);
	if (fd >= 0) {
		if (read(fd, thp, sizeof(thp) - 1) < 0)
			thp[0] = 0;
		if (write(fd, "never", 5) < 0)
			ksft_print_msg("THP never: %s\n", strerror(errno));
		close(fd);
	}
	{
		volatile uint8_t *z =
			mmap(NULL, W_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t e = 0;

		if (z == MAP_FAILED || *z || !rm_pagemap((void *)z, 1, &e) || !(e & RM_PM_PRESENT))
			ksft_exit_fail_msg("cannot find the zero page's PFN\n");
		zero_pfn = e & RM_PM_PFN;
		munmap((void *)z, W_PAGE);
	}
	ksft_print_msg("seed %llu, %d s, at most %d ops per sequence\n", (unsigned long long)seed,
		       seconds, maxops);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Sequences of 200 ops, each in a fresh process, until the time is up. */
	do {
		int len = maxops < 200 ? maxops : 200;

		if (!w_map_regions(w))
			ksft_exit_fail_msg("map regions\n");
		for (int i = 0; i < len; i++)
			ops[i] = op_gen(seed + (uint64_t)runs * 1000003, i);
		for (int r = 0; r < W_NREG; r++)
			munmap((void *)w->base[r], W_REG_PAGES * W_PAGE);
		n = len;
		if (!replay(ops, n, &at, false)) {
			ok = false;
			ksft_print_msg("FAILED: seed %llu, sequence %d, at op %d; minimizing\n",
				       (unsigned long long)seed, runs, at);
			n = minimize(ops, at + 1 < n ? at + 1 : n, 300);
			ksft_print_msg(
				"shortest failing sequence found (%d ops; rerun: -s %llu):\n", n,
				(unsigned long long)seed);
			for (int i = 0; i < n; i++)
				op_print(&ops[i], i, "  ");
			replay(ops, n, &at, false);
			break;
		}
		total += n;
		runs++;
		moves += w->st.moves;
		moves_ok += w->st.ok;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < seconds);
	if (thp[0]) {
		fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_WRONLY);
		thp[strcspn(thp, "\n")] = 0;
		/* "always [madvise] never" -> "madvise" */
		if (strchr(thp, '[')) {
			char *b = strchr(thp, '[') + 1;

			b[strcspn(b, "]")] = 0;
			memmove(thp, b, strlen(b) + 1);
		}
		if (fd >= 0 && write(fd, thp, strlen(thp)) < 0)
			ksft_print_msg("THP restore: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	ksft_print_msg("%d sequences, %d ops, %lu moves (%lu succeeded)\n", runs, total, moves,
		       moves_ok);
	ksft_test_result(
		ok,
		"fuzz: seed %llu, %d sequences of random ops, every move as the model and the oracle say\n",
		(unsigned long long)seed, runs);
	ksft_finished();
}
