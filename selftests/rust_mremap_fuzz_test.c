// SPDX-License-Identifier: GPL-2.0
/*
 * rust_mremap_fuzz_test: random sequences of moves, vectored moves, writes,
 * reads, zaps, page-outs, mprotects, forks, pins, collapses and fresh VMAs,
 * single threaded, every move checked against the model of
 * rust_mremap_world.h and against an oracle that does not ask the module:
 *  - errno: EINVAL for an upward overlap, EFAULT when a range is not in one
 *    VMA (from /proc/self/maps), EINVAL when the two VMAs differ in
 *    protection, EEXIST when a destination page is populated (pagemap),
 *    in that order; EBUSY only from a move the model cannot prove sharing
 *    (see move_mode()) whose source holds a page the model knows a
 *    relocation refuses (busy[]: shared with a fork child and not written
 *    since, or in a pinned folio; or any page of the KSM region while
 *    ksmd runs);
 *  - the move is the dry run: same errno, same counters;
 *  - the memory: [0, moved) at dst with its tags, the rest where it was.
 * A vectored move (RUST_MREMAP_IOC_MOVEV, ABI 3) of 1..16 entries, or up to
 * 300 small ones, a third of them made invalid on purpose, most of them
 * prepared as a collector prepares its own memory so that they move
 * (entries inside one VMA a side, destinations emptied, sources written
 * afresh after a fork), is predicted the same way, following the order of
 * the ABI 3 checks (and ABI 4's uffd field): errno and err_index (for two
 * overlapping entries, either of the pair), done, moved; its dry run
 * against the sum of its entries' own dry runs (as the rmap mode rule
 * allows); and the whole world against the model after it.  Every vector
 * built to succeed (prepared, no fault built in, no source page the model
 * says a relocation refuses) must succeed.  Now and then a vector carries
 * RUST_MREMAP_UFFD with a userfaultfd that registers nothing, which must
 * change nothing.
 *
 *   rust_mremap_fuzz_test [-s SEED] [-t SECONDS] [-n MAXOPS]
 *
 * The sequence depends on the seed only, so a failure prints the seed, and
 * the shortest sequence found (delta debugging, each candidate replayed in
 * a fresh process) that still fails.
 */
#include <linux/io_uring.h>
#include <linux/kernel-page-flags.h>
#include <signal.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "rust_mremap_world.h"

enum op_kind { O_MOVE, O_WRITE, O_READ, O_ZAP, O_PAGEOUT, O_PROTECT, O_FORK, O_REAP,
	       O_PIN, O_UNPIN, O_COLLAPSE, O_FRESH, O_MOVEV, O_NR };
static const char *const op_name[O_NR] = {
	"move", "write", "read", "zap", "pageout", "mprotect", "fork", "reap",
	"pin", "unpin", "collapse", "fresh", "movev",
};

/*
 * The faults a vectored move is built with (struct op's vbad, a bit each),
 * each at a random entry, and the step of the ABI 3 checks that refuses it.
 */
enum {
	VB_ALIGN,	/* an entry unaligned, or of length 0: step 4 */
	VB_UPWARD,	/* an entry overlapping its own source upwards: step 4 */
	VB_WRAP,	/* an entry whose end wraps: step 4 */
	VB_OVERLAP,	/* an entry overlapping another entry: step 5 */
	VB_TASK,	/* an entry above the task size: step 7 */
	VB_OUTSIDE,	/* an entry (partly) outside every VMA: step 9 */
	VB_EXIST,	/* a destination not emptied first: step 10 */
	VB_FLAGS,	/* an unknown flag bit: step 2 */
	VB_COUNT,	/* count 0 or above RUST_MREMAP_VEC_MAX: step 2 */
	VB_RESERVED,	/* reserved[] not zero, or uffd without RUST_MREMAP_UFFD: step 2 */
	VB_ARRAY,	/* the array runs into an unreadable page: step 3 */
	VB_PIDFD,	/* a pidfd that is no pidfd: step 6 */
	VB_UFFD,	/* RUST_MREMAP_UFFD with an fd that is no userfaultfd: EBADF after step 6 */
	VB_NR
};
static const char *const vb_name[VB_NR] = {
	"align", "upward", "wrap", "overlap", "task", "outside", "exist", "flags", "count",
	"reserved", "array", "pidfd", "uffd",
};

struct op {
	uint8_t kind, a, b;	/* regions */
	uint8_t ro;		/* O_PROTECT: read-only; O_MOVEV: prepared (vec_build, vec_prep) */
	uint32_t flags;		/* O_MOVE, O_MOVEV */
	uint32_t s, d, n;	/* page offsets in a and b, pages; O_MOVEV: n entries */
	uint32_t vseed;		/* O_MOVEV: the seed its entries are drawn from */
	uint16_t vbad;		/* O_MOVEV: the VB_* faults built in */
};

#define V_MAXN		320		/* entries of a vectored move, at most */
#define V_TASK_END	(1ULL << 56)	/* above every task size, LA57's included */
#define V_VMAS		1024		/* VMAs of /proc/self/maps the oracle reads, at most */

static struct world *w;
static int dev;
static bool verbose;

/* What a replay has alive, besides the regions. */
static struct {
	pid_t child[8];
	int pipe[8];
	int nchild;
	int ring;
	bool pinned;
	uintptr_t pin_lo, pin_hi;	/* what the pin took, while pinned */
	/*
	 * Regions known to have no anon_vma in any of their VMAs: mapped
	 * afresh, and since then nothing that gives one (see move_mode()).
	 */
	bool virgin[W_NREG];
	int uffd;		/* a userfaultfd that registers nothing, or -1 */
	bool ksm;		/* ksmd runs: any page of the KSM region may be a KSM page */
	int kpageflags;		/* /proc/kpageflags, or -1 */
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
	case O_MOVEV: {
		char bad[128] = "";

		for (int b = 0; b < VB_NR; b++)
			if (o->vbad & 1U << b)
				snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad), " %s",
					 vb_name[b]);
		ksft_print_msg(
			"%s%4d movev %u entries (seed %#x, r%u r%u)%s%s%s%s%s%s, faults:%s\n",
			prefix, i, o->n, o->vseed, o->a, o->b,
			o->flags & RUST_MREMAP_RELOCATE ? " RELOCATE" : "",
			o->flags & RUST_MREMAP_NO_REALIGN ? " NO_REALIGN" : "",
			o->flags & RUST_MREMAP_DRY_RUN ? " DRY_RUN" : "",
			o->flags & RUST_MREMAP_DONTWAKE ? " DONTWAKE" : "",
			o->flags & RUST_MREMAP_UFFD ? " UFFD" : "", o->ro ? " (prepared)" : "",
			bad[0] ? bad : " none");
		break;
	}
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
	if (k >= 32 && k < 40) {
		/* A vectored move: 1..16 entries, now and then up to 300 small ones. */
		o.kind = O_MOVEV;
		o.n = w_below(&s, 8) ? 1 + (uint32_t)w_below(&s, 16) :
				       17 + (uint32_t)w_below(&s, V_MAXN - 16);
		o.vseed = (uint32_t)w_rand(&s);
		o.ro = w_below(&s, 8) != 0;
		if (!w_below(&s, 3)) {
			o.vbad = (uint16_t)(1U << w_below(&s, VB_NR));
			if (!w_below(&s, 4))
				o.vbad |= (uint16_t)(1U << w_below(&s, VB_NR));
		}
		o.flags = (w_below(&s, 3) ? 0 : RUST_MREMAP_RELOCATE) |
			  (w_below(&s, 5) ? 0 : RUST_MREMAP_NO_REALIGN) |
			  (w_below(&s, 10) ? 0 : RUST_MREMAP_DRY_RUN) |
			  (w_below(&s, 8) ? 0 : RUST_MREMAP_DONTWAKE) |
			  (w_below(&s, 6) ? 0 : RUST_MREMAP_UFFD);
	} else if (k < 40) {
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
 * Whether a relocation may refuse a page of [@g, @g + @n) with EBUSY: a
 * page the model marked (busy[]: shared since a fork, or in a pinned
 * folio), or, while ksmd runs, any page of the KSM region (the fuzzer's
 * writes there repeat three tags, which KSM merges).  Nothing else in the
 * fuzzer makes a page one a relocation refuses: no userfaultfd markers, no
 * device memory, and no one else to hold a large folio's reference while
 * it is split (one thread; THP "never", so khugepaged collapses nothing).
 */
static bool src_busy(size_t g, size_t n)
{
	if (live.ksm && g / W_REG_PAGES == W_KSM)
		return true;
	for (size_t k = 0; k < n; k++)
		if (w->busy[g + k])
			return true;
	return false;
}

/*
 * The rmap mode of a move or an entry, as far as the model can prove it
 * (README, "Two ways to keep rmap valid"; pgtable_move_share_check() and
 * batch.rs's decide_modes()).  What the module's share check answers
 * (enum share): no (relocate) with RUST_MREMAP_RELOCATE, within one VMA,
 * or from a VM_MERGEABLE source (the KSM region, always); yes when the
 * source VMA has no anon_vma (it maps no folio, so no page of it is busy
 * anyway); adopt when the destination VMA has none (the pgoff always fits:
 * the regions lie far above 0 and close together); and when both have
 * one, yes only if the destination has the source's identity at that
 * offset already, which the model does not track: unknown.
 *
 * Whether a VMA has an anon_vma the model knows for a virgin region only
 * (live.virgin[]): mapped afresh, and since then no write, pin, collapse
 * or move (not a dry run) into it, which is everything the fuzzer does
 * that may give a VMA an anon_vma (a read maps the zero page and needs
 * none; a dry run changes nothing, the destination VMA included), and its
 * VMAs inside its own span (none merged with a neighbour that has one).
 *
 * So an EBUSY is accepted from a move that relocates or may (unknown), and
 * never from one the model proves sharing: a move into a virgin region, or
 * from a virgin one.
 */
enum share { SH_NO, SH_YES, SH_ADOPT, SH_UNKNOWN };
enum mode { MODE_SHARE, MODE_RELOC, MODE_UNKNOWN };

/* Whether the VMA [@s, @e) of region @r has no anon_vma, as far as the model knows. */
static bool vma_virgin(int r, unsigned long s, unsigned long e)
{
	return live.virgin[r] && s >= w->base[r] && e <= w->base[r] + W_REG_PAGES * W_PAGE;
}

/* The share check of a move from region @ra's VMA [@ss, @se) to region @rb's [@ds, @de). */
static enum share share_of(unsigned int flags, int ra, unsigned long ss, unsigned long se, int rb,
			   unsigned long ds, unsigned long de)
{
	if ((flags & RUST_MREMAP_RELOCATE) || ss == ds || ra == W_KSM)
		return SH_NO;
	if (vma_virgin(ra, ss, se))
		return SH_YES;
	if (vma_virgin(rb, ds, de))
		return SH_ADOPT;
	return SH_UNKNOWN;
}

/* The mode of one move (a vector of one entry): its share check's answer. */
static enum mode mode_of(enum share sh)
{
	return sh == SH_NO ? MODE_RELOC : sh == SH_UNKNOWN ? MODE_UNKNOWN : MODE_SHARE;
}

/* The mode of the move of op @o (single), from the target's VMAs. */
static enum mode move_mode(struct w_view *v, const struct op *o, uintptr_t src, uintptr_t dst)
{
	unsigned long ss, se, ds, de;
	char perm[8];

	if (!w_vma_at(v, src, &ss, &se, perm) || !w_vma_at(v, dst, &ds, &de, perm))
		return MODE_UNKNOWN;
	return mode_of(share_of(o->flags, o->a, ss, se, o->b, ds, de));
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
	bool ok = true, busy;
	enum mode mode;
	size_t zp, zsrc;

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
	/* What may refuse it with EBUSY, before the move changes the model. */
	mode = move_mode(v, o, src, dst);
	busy = src_busy(gs, n);
	if (!(o->flags & RUST_MREMAP_DRY_RUN))
		live.virgin[o->b] = false;

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
	/* The zero-page entries the source holds already (see below). */
	zsrc = !e_dry && dry.folios_relocated ? zero_page_entries(src, n) : 0;
	if (!w_move_checked(v, dev, RUST_MREMAP_PIDFD_SELF, o->flags, gs, gd, n, &mo, &e))
		return false;
	if (e != e_dry) {
		ksft_print_msg("op %d: the move gave %d, its dry run %d\n", i, e, e_dry);
		ok = false;
	}
	if (e != want && !(want == 0 && e == -EBUSY && mode != MODE_SHARE && busy)) {
		ksft_print_msg("op %d: errno %d, the oracle wants %d (%s, %s)\n", i, e, want,
			       mode == MODE_SHARE ? "proved sharing" :
			       mode == MODE_RELOC ? "relocating" : "mode unknown",
			       busy ? "a shared or pinned source page" :
				      "no source page a relocation refuses");
		ok = false;
	}
	if (!want && e == -EBUSY)
		atomic_fetch_add(&w->st.busy_ok, 1);
	if (!e && mode == MODE_SHARE && busy)
		atomic_fetch_add(&w->st.share_busy, 1);
	/*
	 * One counter may differ, and by a known amount: splitting an anon
	 * THP maps its all-zero subpages to the shared zero page (7.3's
	 * remap_page() with TTU_USE_SHARED_ZEROPAGE), which the dry run
	 * cannot see without reading them.  Those arrive as zero-page
	 * entries, not relocated folios: exactly that many fewer, the
	 * zero-page entries at the destination after the move but for those
	 * the source held before it.
	 */
	zp = !e && mo.folios_relocated < dry.folios_relocated ? zero_page_entries(dst, n) : 0;
	zp = zp > zsrc ? zp - zsrc : 0;
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

/* ------------------------------------------------------- vectored moves */

/* Three pages and an unreadable one: where a vectored move's array runs off. */
static uint8_t *vguard;

/* A vectored move of an op, built in the replay's world by vec_build(). */
struct vcall {
	unsigned int n;				/* entries built */
	struct w_vent ent[V_MAXN];		/* world pages; gs W_NOWHERE if not */
	struct rust_mremap_vec vec[V_MAXN];	/* as issued */
	struct rust_mremap_movev hdr;		/* as issued, but for vec and flags */
	bool unreadable;			/* the last entry runs into vguard's hole */
	bool fallback;				/* no entry could be drawn: one made up */
	int keep;				/* the destination not emptied, or -1 */
};

/*
 * What the oracle says a vectored move does: @err (0 or -errno) with
 * err_index @idx, or any entry of an overlapping pair (@pair: in_pair[]);
 * EBUSY may refuse (or stop in) an entry below @busy_lim first, one that
 * may relocate and has a source page a relocation refuses (v_busy[]).
 * @foreign: an entry lies in a VMA that is not the world's (nothing to
 * predict: not issued).
 */
struct vpred {
	int err;
	unsigned int idx, busy_lim;
	bool pair, foreign;
};

static bool in_pair[V_MAXN];
static bool v_busy[V_MAXN];		/* the entry may be refused with EBUSY */
static enum mode v_mode[V_MAXN];	/* the entry's rmap mode, as far as the model knows */

/* The VMAs of this process, from one read of /proc/self/maps. */
static struct {
	unsigned int n;
	unsigned long s[V_VMAS], e[V_VMAS];
	char prot[V_VMAS];
} vmas;

static bool vmas_load(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512], perm[8];

	vmas.n = 0;
	if (!f)
		return false;
	while (vmas.n < V_VMAS && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s", &vmas.s[vmas.n], &vmas.e[vmas.n], perm) == 3) {
			vmas.prot[vmas.n] = perm[1] == 'w' ? 'w' : perm[0] == 'r' ? 'r' : '-';
			vmas.n++;
		}
	fclose(f);
	return true;
}

/* The index in vmas of the VMA that holds @a, or -1. */
static int vmas_at(uint64_t a)
{
	for (unsigned int i = 0; i < vmas.n; i++)
		if (vmas.s[i] <= a && a < vmas.e[i])
			return (int)i;
	return -1;
}

/* The protection (as w_prot()) of the VMA that holds all of [@a, @a + @len), or 0 if none. */
static char vmas_one(uint64_t a, uint64_t len)
{
	int i = vmas_at(a);

	return i >= 0 && a + len <= vmas.e[i] ? vmas.prot[i] : 0;
}

static bool ranges_meet(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return a < b + bn && b < a + an;
}

/* Whether world pages [@g, @g + @n) meet either range of an entry of @c. */
static bool vent_meets(const struct vcall *c, size_t g, size_t n)
{
	for (unsigned int i = 0; i < c->n; i++)
		if (ranges_meet(g, n, c->ent[i].gs, c->ent[i].n) ||
		    ranges_meet(g, n, c->ent[i].gd, c->ent[i].n))
			return true;
	return false;
}

/* The world page of [@a, @a + @len) if it is a range of one region, else W_NOWHERE. */
static size_t world_page(uint64_t a, uint64_t len)
{
	for (int r = 0; r < W_NREG; r++)
		if (!(a % W_PAGE) && a + len >= a && a >= w->base[r] &&
		    a + len <= w->base[r] + W_REG_PAGES * W_PAGE)
			return w_gidx(r, (a - w->base[r]) / W_PAGE);
	return W_NOWHERE;
}

/*
 * Whether world pages [@gs, @gs + @n) may move to [@gd, @gd + @n) in a
 * prepared vector: each range inside one VMA, the two of one protection
 * (from vmas: vmas_load() first), and no source page a relocating entry
 * would refuse once vec_prep() has written the writable sources afresh:
 * none pinned (a write does not unpin), none shared in a read-only VMA
 * (which vec_prep() cannot write), none in the KSM region while ksmd runs.
 */
static bool v_fits(size_t gs, size_t gd, size_t n)
{
	uint64_t src = w_addr(w, gs), dst = w_addr(w, gd), len = n * W_PAGE;
	char prot = vmas_one(src, len);

	if (!prot || prot != vmas_one(dst, len) || (live.ksm && gs / W_REG_PAGES == W_KSM))
		return false;
	for (size_t k = 0; k < n; k++)
		if ((w->busy[gs + k] & W_PINNED) || (w->busy[gs + k] && prot != 'w'))
			return false;
	return true;
}

/*
 * Build the vectored move of op @o: a pure function of the op, the
 * regions' places and, for a prepared one (o->ro), the VMAs (vmas_load()
 * first) and the pin.  Entries never meet one another (the faults aside):
 * random, scattered chunks of one region packed densely into another (the
 * relocating pattern), chunks at the same offset in two regions (the
 * sharing one), whole tables (up to 4, then chunks), and chunks moving down
 * within their region over their own source.  A prepared vector's entries
 * are ones the oracle lets move (v_fits()), an unprepared one's are drawn
 * blind.  Then the faults of o->vbad, each at a random entry.
 */
static void vec_build(const struct op *o, struct vcall *c)
{
	uint64_t s = (uint64_t)o->vseed * 0x9E3779B97F4A7C15ull + 0x5eed;
	unsigned int pattern = (unsigned int)w_below(&s, 5);
	size_t cursor = w_below(&s, W_REG_PAGES);
	int same_from = o->a, same_to = (o->a + 1 + o->b % (W_NREG - 1)) % W_NREG;
	static size_t shared_at[W_REG_PAGES];
	size_t most = 0;
	bool small = o->n > 16;

	/*
	 * Same offsets into a virgin region, where there is one: they adopt,
	 * and share; from the region with most pages shared since a fork (not
	 * the KSM one), if one has any, over such pages of one VMA, which a
	 * sharing entry must move (and a relocating one refuse).
	 */
	for (int r = 0; r < W_NREG; r++)
		if (r != o->a && live.virgin[r] && !live.virgin[same_to])
			same_to = r;
	for (int r = 0; r < W_NREG && live.virgin[same_to]; r++) {
		size_t shared = 0;

		for (size_t k = 0; k < W_REG_PAGES; k++)
			shared += w->busy[w_gidx(r, k)] == W_SHARED;
		if (r != same_to && r != W_KSM && shared > most) {
			most = shared;
			same_from = r;
		}
	}
	if (most) {
		/* The shared pages of one VMA: entries from two would relocate. */
		size_t k = W_REG_PAGES;
		int vma = -1;

		pattern = 2;
		for (size_t j = w_below(&s, W_REG_PAGES); k == W_REG_PAGES && j < 2 * W_REG_PAGES;
		     j++)
			if (w->busy[w_gidx(same_from, j % W_REG_PAGES)] == W_SHARED)
				k = j % W_REG_PAGES;
		vma = vmas_at(w_addr(w, w_gidx(same_from, k)));
		most = 0;
		for (k = 0; k < W_REG_PAGES && vma >= 0; k++)
			if (w->busy[w_gidx(same_from, k)] == W_SHARED &&
			    vmas_at(w_addr(w, w_gidx(same_from, k))) == vma)
				shared_at[most++] = k;
	} else {
		same_from = o->a;
		most = 0;
	}

	memset(c, 0, sizeof(*c));
	c->keep = -1;
	for (unsigned int i = 0; i < o->n; i++) {
		bool got = false;

		for (int tries = 0; tries < (o->ro ? 32 : 16) && !got; tries++) {
			int a = (int)w_below(&s, W_NREG), b = (int)w_below(&s, W_NREG);
			size_t n = 1 + w_below(&s, small ? 4 : w_below(&s, 3) ? 16 : 256);
			size_t gs, gd, off;

			gs = w_pick(&s, a, n);
			gd = w_pick(&s, b, n);
			switch (pattern) {
			case 1:	/* scattered chunks of a packed into b */
				gs = w_pick(&s, o->a, n);
				if (cursor + n > W_REG_PAGES)
					cursor = w_below(&s, W_REG_PAGES / 2);
				gd = w_gidx(o->b, cursor);
				break;
			case 2:	/* the same offset in another region */
				gs = w_pick(&s, same_from, n);
				if (most) {
					/* over a shared page */
					off = shared_at[w_below(&s, most)];
					off -= w_below(&s, off < n ? off + 1 : n);
					gs = w_gidx(same_from, off + n <= W_REG_PAGES ? off :
							       W_REG_PAGES - n);
				}
				gd = w_gidx(same_to, gs % W_REG_PAGES);
				break;
			case 3:	/* whole tables, mutually aligned */
				if (i >= 4)
					break;
				n = 512;
				gs = w_pick_aligned(w, &s, a, n);
				gd = w_below(&s, 2) ? w_gidx(b, gs % W_REG_PAGES) :
						      w_pick_aligned(w, &s, b, n);
				break;
			case 4:	/* some move down over their own source */
				off = gs % W_REG_PAGES;
				if (w_below(&s, 3) || !off)
					break;
				gd = gs - 1 - w_below(&s, off < n ? off : n);
				break;
			}
			if (gd >= gs && gd < gs + n)
				continue;
			if (vent_meets(c, gs, n) || vent_meets(c, gd, n))
				continue;
			if (o->ro && !v_fits(gs, gd, n)) {
				if (pattern == 1)
					cursor = w_below(&s, W_REG_PAGES / 2);
				continue;
			}
			c->ent[c->n++] = (struct w_vent){ gs, gd, n };
			if (pattern == 1)
				cursor = gd % W_REG_PAGES + n + !w_below(&s, 4);
			got = true;
		}
		if (!got)
			break;
	}
	if (!c->n) {
		c->ent[c->n++] = (struct w_vent){ w_gidx(0, 0), w_gidx(1, 0), 1 };
		c->fallback = true;
	}
	for (unsigned int i = 0; i < c->n; i++) {
		c->vec[i].src = w_addr(w, c->ent[i].gs);
		c->vec[i].dst = w_addr(w, c->ent[i].gd);
		c->vec[i].len = c->ent[i].n * W_PAGE;
	}
	c->hdr.pidfd = RUST_MREMAP_PIDFD_SELF;
	c->hdr.flags = o->flags;
	c->hdr.count = c->n;
	/* The monitor's flag with a userfaultfd that registers nothing: it changes nothing. */
	if (live.uffd >= 0 && (o->flags & RUST_MREMAP_UFFD))
		c->hdr.uffd = live.uffd;
	else
		c->hdr.flags &= ~RUST_MREMAP_UFFD;

	for (int bad = 0; bad < VB_NR; bad++) {
		unsigned int k = (unsigned int)w_below(&s, c->n), j;
		struct rust_mremap_vec *v = &c->vec[k];
		uint64_t pages;
		__u64 *side = w_below(&s, 2) ? &v->src : &v->dst, end;

		if (!(o->vbad & 1U << bad))
			continue;
		switch (bad) {
		case VB_ALIGN:
			switch (w_below(&s, 4)) {
			case 0:
				v->src += 1 + w_below(&s, W_PAGE - 1);
				break;
			case 1:
				v->dst += 1 + w_below(&s, W_PAGE - 1);
				break;
			case 2:
				v->len += 1 + w_below(&s, W_PAGE - 1);
				break;
			default:
				v->len = 0;
			}
			break;
		case VB_UPWARD:
			v->dst = v->src + W_PAGE * w_below(&s, v->len / W_PAGE);
			break;
		case VB_WRAP:
			*side = 0 - W_PAGE * (1 + w_below(&s, 2));
			v->len = W_PAGE * (3 + w_below(&s, 4));
			break;
		case VB_OVERLAP:
			if (c->n < 2)
				break;
			j = (k + 1 + (unsigned int)w_below(&s, c->n - 1)) % c->n;
			pages = c->vec[j].len / W_PAGE;
			*side = (w_below(&s, 2) ? c->vec[j].src : c->vec[j].dst) +
				W_PAGE * w_below(&s, pages ? pages : 1);
			break;
		case VB_TASK:
			*side = V_TASK_END + W_PAGE * w_below(&s, 1024);
			break;
		case VB_OUTSIDE:
			/* Across the end of a region, or in the hole above it. */
			end = w->base[w_below(&s, W_NREG)] + W_REG_PAGES * W_PAGE;
			if (w_below(&s, 2)) {
				size_t back = 1 + w_below(&s, 4);

				*side = end - back * W_PAGE;
				v->len = (back + 1 + w_below(&s, 4)) * W_PAGE;
			} else {
				*side = end + RM_MB(1) + W_PAGE * w_below(&s, 256);
			}
			break;
		case VB_EXIST:
			c->keep = (int)k;
			break;
		case VB_FLAGS:
			/* Any bit from the lowest unknown one up. */
			c->hdr.flags |= RM_FLAG_FIRST_UNKNOWN <<
				w_below(&s, (size_t)__builtin_clz(RM_FLAG_FIRST_UNKNOWN) + 1);
			break;
		case VB_COUNT:
			c->hdr.count = RUST_MREMAP_VEC_MAX + 1;
			if (!w_below(&s, 3))
				c->hdr.count = 0;
			else if (w_below(&s, 2))
				c->hdr.count = UINT32_MAX;
			break;
		case VB_RESERVED:
			if (w_below(&s, 2)) {
				/* An fd in uffd (ABI 3's reserved0) without the flag. */
				c->hdr.flags &= ~RUST_MREMAP_UFFD;
				c->hdr.uffd = w_below(&s, 2) ? live.uffd :
							       1 + (int)w_below(&s, 1000);
				if (!c->hdr.uffd)
					c->hdr.uffd = -1;
			} else {
				c->hdr.reserved[w_below(&s, 2)] = 1ULL << w_below(&s, 64);
			}
			break;
		case VB_ARRAY:
			c->unreadable = true;
			break;
		case VB_PIDFD:
			c->hdr.pidfd = dev;
			break;
		case VB_UFFD:
			/* The device, no fd, a closed one, or stdin: none a userfaultfd. */
			c->hdr.flags |= RUST_MREMAP_UFFD;
			switch (w_below(&s, 4)) {
			case 0:
				c->hdr.uffd = dev;
				break;
			case 1:
				c->hdr.uffd = -1;
				break;
			case 2:
				c->hdr.uffd = 1000 + (int)w_below(&s, 1000);
				break;
			default:
				c->hdr.uffd = 0;
			}
			break;
		}
	}
	/* What the faults left of each entry in world pages. */
	for (unsigned int i = 0; i < c->n; i++) {
		const struct rust_mremap_vec *v = &c->vec[i];
		size_t gs = world_page(v->src, v->len), gd = world_page(v->dst, v->len);

		c->ent[i].n = v->len / W_PAGE;
		c->ent[i].gs = gs == W_NOWHERE || gd == W_NOWHERE || !v->len || v->len % W_PAGE ?
				       W_NOWHERE : gs;
		c->ent[i].gd = c->ent[i].gs == W_NOWHERE ? W_NOWHERE : gd;
	}
}

/*
 * The rmap mode of each of the @n entries of @c (v_mode[]), as batch.rs's
 * decide_modes() decides it from each entry's share check (share_of()),
 * and whether EBUSY may refuse it (v_busy[]: it may relocate and its
 * source holds a page a relocation refuses).  One entry: its share check.
 * More: an entry relocates if its check says no, or if its source VMA is
 * any entry's destination VMA; one that would adopt shares only if every
 * entry into its destination VMA comes from the same source VMA at the
 * same offset; one whose check is unknown stays unknown (so is one that
 * is no world range).  From vmas.
 */
static void v_modes(const struct vcall *c, unsigned int n)
{
	static int si[V_MAXN], di[V_MAXN];
	static enum share sh[V_MAXN];

	for (unsigned int i = 0; i < n; i++) {
		const struct w_vent *e = &c->ent[i];

		si[i] = vmas_at(c->vec[i].src);
		di[i] = vmas_at(c->vec[i].dst);
		sh[i] = si[i] < 0 || di[i] < 0 || e->gs == W_NOWHERE ? SH_UNKNOWN :
			share_of(c->hdr.flags, (int)(e->gs / W_REG_PAGES), vmas.s[si[i]],
				 vmas.e[si[i]], (int)(e->gd / W_REG_PAGES), vmas.s[di[i]],
				 vmas.e[di[i]]);
	}
	for (unsigned int i = 0; i < n; i++) {
		uint64_t off = c->vec[i].dst - c->vec[i].src;
		bool from_dst = false, same = true;

		for (unsigned int j = 0; j < n && n > 1; j++) {
			from_dst |= di[j] == si[i];
			if (di[j] == di[i])
				same &= si[j] == si[i] && c->vec[j].dst - c->vec[j].src == off;
		}
		if (n == 1)
			v_mode[i] = mode_of(sh[i]);
		else if (sh[i] == SH_NO || from_dst || (sh[i] == SH_ADOPT && !same))
			v_mode[i] = MODE_RELOC;
		else
			v_mode[i] = sh[i] == SH_UNKNOWN ? MODE_UNKNOWN : MODE_SHARE;
		v_busy[i] = v_mode[i] != MODE_SHARE && c->ent[i].gs != W_NOWHERE &&
			    src_busy(c->ent[i].gs, c->ent[i].n);
	}
}

/*
 * Prepare the entries of a prepared op @o (the @i-th) as a collector
 * prepares its own memory, so that most vectors can move: empty the
 * destinations (MADV_DONTNEED, as O_ZAP), but for the one the VB_EXIST
 * fault keeps and the pages of an entry's own source; and write afresh
 * (as O_WRITE, tags of op @i) each source in a writable VMA that holds a
 * page shared since a fork, so that a relocating entry finds none; but not
 * the source of an entry the model proves sharing (v_modes(): a write
 * changes no mode, since a region with a shared page is no virgin one),
 * which must move its shared pages as they are.  A populated destination,
 * or EBUSY, is then rare.
 */
static void vec_prep(const struct op *o, const struct vcall *c, int i)
{
	uint64_t next = ((uint64_t)i << 16) + 0x100;

	for (unsigned int j = 0; o->ro && j < c->n; j++) {
		const struct w_vent *e = &c->ent[j];

		if ((int)j == c->keep || e->gs == W_NOWHERE)
			continue;
		for (size_t k = 0; k < e->n;) {
			size_t run = 0;

			while (k + run < e->n &&
			       (e->gd + k + run < e->gs || e->gd + k + run >= e->gs + e->n))
				run++;
			if (run && !madvise((void *)w_addr(w, e->gd + k), run * W_PAGE,
					    MADV_DONTNEED))
				for (size_t q = 0; q < run; q++)
					w->tag[e->gd + k + q] = w->busy[e->gd + k + q] = 0;
			k += run ? run : 1;
		}
	}
	if (o->ro)
		v_modes(c, c->n);
	for (unsigned int j = 0; o->ro && j < c->n; j++) {
		const struct w_vent *e = &c->ent[j];
		bool shared = false;

		if (e->gs == W_NOWHERE || v_mode[j] == MODE_SHARE ||
		    vmas_one(w_addr(w, e->gs), e->n * W_PAGE) != 'w')
			continue;
		for (size_t k = 0; k < e->n && !shared; k++)
			shared = w->busy[e->gs + k] & W_SHARED;
		if (shared && w_rewrite(w, e->gs, e->n, false, &next))
			live.virgin[e->gs / W_REG_PAGES] = false;
	}
}

/* Whether a vectored move's uffd field is one the module accepts: 0 without the flag, ours with. */
static bool uffd_ok(const struct rust_mremap_movev *h)
{
	return h->flags & RUST_MREMAP_UFFD ? live.uffd >= 0 && h->uffd == live.uffd : !h->uffd;
}

/*
 * The oracle of a vectored move, from the world's VMAs (vmas_load() first)
 * and pagemap, in the order of the ABI 3 checks: the header (step 2: with
 * ABI 4, a uffd without RUST_MREMAP_UFFD too), the array (3), each entry's
 * arguments (4), overlapping entries (5), the pidfd (6), with the flag the
 * uffd (ABI 4: EBADF, err_index count, as the pidfd's), the task size (7),
 * each entry's VMAs as one move's (9), each entry's destination (10).
 * EBUSY may come from an entry's plan (v_busy[]) up to the first EEXIST.
 */
static struct vpred v_predict(const struct vcall *c, const struct rust_mremap_movev *h)
{
	struct vpred p = { .idx = h->count };
	unsigned int n = c->n;

	if ((h->flags & ~RUST_MREMAP_FLAGS_ALL) || (!(h->flags & RUST_MREMAP_UFFD) && h->uffd) ||
	    h->reserved[0] || h->reserved[1] || !h->count || h->count > RUST_MREMAP_VEC_MAX) {
		p.err = -EINVAL;
		return p;
	}
	if (c->unreadable) {
		p.err = -EFAULT;
		return p;
	}
	for (unsigned int i = 0; i < n; i++) {
		const struct rust_mremap_vec *v = &c->vec[i];

		if (!v->len || (v->src | v->dst | v->len) % W_PAGE || v->src + v->len < v->src ||
		    v->dst + v->len < v->dst || (v->dst >= v->src && v->dst < v->src + v->len)) {
			p.err = -EINVAL;
			p.idx = i;
			return p;
		}
	}
	memset(in_pair, 0, sizeof(in_pair));
	for (unsigned int i = 0; i < n; i++)
		for (unsigned int j = i + 1; j < n; j++) {
			const struct rust_mremap_vec *a = &c->vec[i], *b = &c->vec[j];

			if (ranges_meet(a->src, a->len, b->src, b->len) ||
			    ranges_meet(a->dst, a->len, b->dst, b->len) ||
			    ranges_meet(a->src, a->len, b->dst, b->len) ||
			    ranges_meet(a->dst, a->len, b->src, b->len)) {
				in_pair[i] = in_pair[j] = true;
				p.pair = true;
			}
		}
	if (p.pair) {
		p.err = -EINVAL;
		return p;
	}
	if (h->pidfd != RUST_MREMAP_PIDFD_SELF || !uffd_ok(h)) {
		p.err = -EBADF;
		return p;
	}
	for (unsigned int i = 0; i < n; i++)
		if (c->vec[i].src + c->vec[i].len > V_TASK_END ||
		    c->vec[i].dst + c->vec[i].len > V_TASK_END) {
			p.err = -EINVAL;
			p.idx = i;
			return p;
		}
	for (unsigned int i = 0; i < n; i++) {
		char ps = vmas_one(c->vec[i].src, c->vec[i].len);
		char pd = vmas_one(c->vec[i].dst, c->vec[i].len);

		if (!ps || !pd) {
			p.err = -EFAULT;
			p.idx = i;
			return p;
		}
		/* In one VMA each side, yet not in the world's: someone else's mapping. */
		if (c->ent[i].gs == W_NOWHERE) {
			p.foreign = true;
			return p;
		}
		if (ps != pd) {
			p.err = -EINVAL;
			p.idx = i;
			return p;
		}
	}
	p.busy_lim = n;
	v_modes(c, n);
	for (unsigned int i = 0; i < n; i++) {
		const struct w_vent *e = &c->ent[i];
		uint64_t *pm = malloc(e->n * sizeof(*pm));
		bool pop = false;

		if (!pm || !rm_pagemap((void *)w_addr(w, e->gd), e->n, pm))
			ksft_exit_fail_msg("pagemap: %s\n", strerror(errno));
		for (size_t k = 0; k < e->n && !pop; k++)
			pop = (e->gd + k < e->gs || e->gd + k >= e->gs + e->n) &&
			      (pm[k] & (RM_PM_PRESENT | RM_PM_SWAP));
		free(pm);
		if (pop) {
			p.err = -EEXIST;
			p.idx = p.busy_lim = i;
			return p;
		}
	}
	return p;
}

/* Issue the vectored move of @c with @flags; 0 or -errno, *@out as the kernel left it. */
static int movev_issue(const struct vcall *c, unsigned int flags, struct rust_mremap_movev *out)
{
	struct rust_mremap_movev m = c->hdr;
	size_t size = c->n * sizeof(c->vec[0]);
	uint8_t *vec = (uint8_t *)c->vec;
	int ret;

	if (c->unreadable) {
		/* The last entry's last 8 bytes are in the PROT_NONE page. */
		vec = vguard + 3 * W_PAGE - size + 8;
		memcpy(vec, c->vec, size - 8);
	}
	m.flags = flags;
	m.vec = (uintptr_t)vec;
	rm_poison_outv(&m);
	ret = ioctl(dev, RUST_MREMAP_IOC_MOVEV, &m);
	*out = m;
	return ret ? -errno : 0;
}

static void v_dump(const struct vcall *c)
{
	for (unsigned int i = 0; i < c->n && i < 24; i++) {
		const struct w_vent *e = &c->ent[i];

		if (e->gs == W_NOWHERE)
			ksft_print_msg("  [%u] %#llx -> %#llx, %#llx bytes\n", i,
				       (unsigned long long)c->vec[i].src,
				       (unsigned long long)c->vec[i].dst,
				       (unsigned long long)c->vec[i].len);
		else
			ksft_print_msg("  [%u] r%zu+%zu -> r%zu+%zu, %zu pages\n", i,
				       e->gs / W_REG_PAGES, e->gs % W_REG_PAGES,
				       e->gd / W_REG_PAGES, e->gd % W_REG_PAGES, e->n);
	}
	if (c->n > 24)
		ksft_print_msg("  ... %u entries in all\n", c->n);
}

/*
 * Whether a vectored move's result is the oracle's, or an EBUSY that
 * refused (or stopped in) an entry, before the first the oracle refuses,
 * that may relocate and holds a page a relocation refuses (v_busy[]).
 */
static bool v_explained(const char *what, const struct vcall *c, int e,
			const struct rust_mremap_movev *m, const struct vpred *p)
{
	if (e == p->err) {
		if (!e || (p->pair ? m->err_index < V_MAXN && in_pair[m->err_index] :
				     m->err_index == p->idx))
			return true;
		ksft_print_msg("%s: %s with err_index %u, the oracle wants %u%s\n", what,
			       strerror(-e), m->err_index, p->idx,
			       p->pair ? " or any entry of an overlapping pair" : "");
		return false;
	}
	if (e == -EBUSY && m->err_index < p->busy_lim && v_busy[m->err_index])
		return true;
	ksft_print_msg(
		"%s: %s (err_index %u, done %u, moved %llu), the oracle wants %s (err_index %u%s)\n",
		what, e ? strerror(-e) : "success", m->err_index, m->done,
		(unsigned long long)m->moved, p->err ? strerror(-p->err) : "success", p->idx,
		p->pair ? ", or any entry of an overlapping pair" : "");
	if (e == -EBUSY && m->err_index < p->busy_lim) {
		unsigned int j = m->err_index;

		ksft_print_msg("%s: entry %u is %s, with %s\n", what, j,
			       v_mode[j] == MODE_SHARE ? "proved sharing" :
			       v_mode[j] == MODE_RELOC ? "relocating" : "of unknown mode",
			       src_busy(c->ent[j].gs, c->ent[j].n) ?
				       "a shared or pinned source page" :
				       "no source page a relocation refuses");
	}
	return false;
}

#define V_NC	5	/* counters: pmd, pte, huge, pud, folios relocated */

static void move_counters(const struct rust_mremap_move *m, uint64_t c[V_NC])
{
	c[0] = m->pmd_moves;
	c[1] = m->pte_moves;
	c[2] = m->huge_pmd_moves;
	c[3] = m->pud_moves;
	c[4] = m->folios_relocated;
}

static void movev_counters(const struct rust_mremap_movev *m, uint64_t c[V_NC])
{
	c[0] = m->pmd_moves;
	c[1] = m->pte_moves;
	c[2] = m->huge_pmd_moves;
	c[3] = m->pud_moves;
	c[4] = m->folios_relocated;
}

/*
 * One move (RUST_MREMAP_IOC_MOVE) as rm_move() issues it, with a uffd
 * field (ABI 4) and an entry's raw numbers; 0 or -errno.
 */
static int move_uffd(int pidfd, unsigned int flags, int uffd, const struct rust_mremap_vec *x,
		     struct rust_mremap_move *out)
{
	struct rust_mremap_move m = {
		.pidfd = pidfd, .flags = flags, .src = x->src, .dst = x->dst, .len = x->len,
		.uffd = uffd,
	};
	int ret;

	rm_poison_out(&m);
	ret = ioctl(dev, RUST_MREMAP_IOC_MOVE, &m);
	*out = m;
	return ret ? -errno : 0;
}

/*
 * A vectored dry run of one entry is one move's dry run, with the same
 * pidfd, flags and uffd: the same errno, and the same counters (its rmap
 * mode is the one move's: the exceptions of the rule need a second
 * entry).  Only where the rest of the header (count, reserved[], the
 * array) is a valid one.
 */
static bool v_single(const char *what, const struct vcall *c, int e_dry,
		     const struct rust_mremap_movev *vd)
{
	const struct rust_mremap_vec *x = &c->vec[0];
	struct rust_mremap_move m;
	uint64_t a[V_NC], b[V_NC];
	int e;

	if (c->n != 1 || c->hdr.count != 1 || c->hdr.reserved[0] || c->hdr.reserved[1] ||
	    c->unreadable)
		return true;
	e = move_uffd(c->hdr.pidfd, c->hdr.flags | RUST_MREMAP_DRY_RUN, c->hdr.uffd, x, &m);
	move_counters(&m, a);
	movev_counters(vd, b);
	if (e == e_dry && (e || !memcmp(a, b, sizeof(a))))
		return true;
	ksft_print_msg(
		"%s: one entry's dry run gave %d with pmd/pte/huge/pud/relocated %llu/%llu/%llu/%llu/%llu, one move's %d with %llu/%llu/%llu/%llu/%llu\n",
		what, e_dry, (unsigned long long)b[0], (unsigned long long)b[1],
		(unsigned long long)b[2], (unsigned long long)b[3], (unsigned long long)b[4], e,
		(unsigned long long)a[0], (unsigned long long)a[1], (unsigned long long)a[2],
		(unsigned long long)a[3], (unsigned long long)a[4]);
	return false;
}

/*
 * A vectored dry run that passed against its entries' own dry runs, made
 * in the same state: each entry is planned as one move in its rmap mode,
 * so the counters are a sum over the entries of one move's.  With
 * RELOCATE every entry relocates: exactly the sum of the relocating dry
 * runs, each of which must pass.  Without it an entry shares where one
 * move would, or relocates where the rule's exceptions say (a second entry
 * into the same fresh VMA from elsewhere, ...), which the model cannot
 * see: each counter lies between the sums of the smaller and the larger of
 * the two (the sharing one alone where relocating it is refused).  Each
 * entry's own sharing dry run must pass: a vector that passed moves it
 * either way.
 */
static bool v_sums(const char *what, const struct vcall *c, const struct rust_mremap_movev *vd)
{
	unsigned int flags = c->hdr.flags | RUST_MREMAP_DRY_RUN;
	bool reloc = flags & RUST_MREMAP_RELOCATE, ok = true;
	uint64_t lo[V_NC] = { 0 }, hi[V_NC] = { 0 }, got[V_NC];

	for (unsigned int i = 0; i < c->n && ok; i++) {
		const struct rust_mremap_vec *x = &c->vec[i];
		uint64_t cs[V_NC], cr[V_NC];
		struct rust_mremap_move ms, mr;
		int es = 0, er;

		er = move_uffd(RUST_MREMAP_PIDFD_SELF, flags | RUST_MREMAP_RELOCATE, c->hdr.uffd,
			       x, &mr);
		move_counters(&mr, cr);
		if (!reloc) {
			es = move_uffd(RUST_MREMAP_PIDFD_SELF, flags & ~RUST_MREMAP_RELOCATE,
				       c->hdr.uffd, x, &ms);
			move_counters(&ms, cs);
		}
		if (reloc ? er : es) {
			ksft_print_msg(
				"%s: the vectored dry run passed, entry %u's own %s dry run: %s\n",
				what, i, reloc ? "relocating" : "sharing",
				strerror(reloc ? -er : -es));
			ok = false;
			break;
		}
		for (int k = 0; k < V_NC; k++) {
			uint64_t a = reloc ? cr[k] : cs[k], b = reloc || er ? a : cr[k];

			lo[k] += a < b ? a : b;
			hi[k] += a < b ? b : a;
		}
	}
	movev_counters(vd, got);
	for (int k = 0; ok && k < V_NC; k++)
		if (got[k] < lo[k] || got[k] > hi[k]) {
			static const char *const name[V_NC] = {
				"pmd_moves", "pte_moves", "huge_pmd_moves", "pud_moves",
				"folios_relocated",
			};

			ksft_print_msg(
				"%s: dry run %s %llu, the entries' own dry runs say %llu..%llu\n",
				what, name[k], (unsigned long long)got[k],
				(unsigned long long)lo[k], (unsigned long long)hi[k]);
			ok = false;
		}
	return ok;
}

/* The whole world against the model: pagemap read once a region, pages read in place. */
static bool world_matches(const char *what)
{
	static uint64_t pm[W_REG_PAGES];

	for (int r = 0; r < W_NREG; r++) {
		if (!rm_pagemap((void *)w->base[r], W_REG_PAGES, pm)) {
			ksft_print_msg("%s: pagemap: %s\n", what, strerror(errno));
			return false;
		}
		for (size_t k = 0; k < W_REG_PAGES; k++) {
			size_t g = w_gidx(r, k);
			long m;

			if (!w->tag[g] && !(pm[k] & (RM_PM_PRESENT | RM_PM_SWAP)))
				continue;
			m = w_mismatch((void *)w_addr(w, g), w->tag[g]);
			if (m >= 0) {
				ksft_print_msg(
					"%s: r%d page %zu word %ld is %#llx, tag %#llx wants %#llx (pagemap %#llx)\n",
					what, r, k, m,
					(unsigned long long)((uint64_t *)w_addr(w, g))[m],
					(unsigned long long)w->tag[g],
					(unsigned long long)w_word(w->tag[g], (size_t)m),
					(unsigned long long)pm[k]);
				return false;
			}
		}
	}
	return true;
}

/* Zero-page entries at the sources (@dst false) or destinations of the world entries of @c. */
static size_t v_zero_pages(const struct vcall *c, bool dst)
{
	size_t z = 0;

	for (unsigned int i = 0; i < c->n; i++)
		if (c->ent[i].gs != W_NOWHERE)
			z += zero_page_entries(w_addr(w, dst ? c->ent[i].gd : c->ent[i].gs),
					       c->ent[i].n);
	return z;
}

/*
 * A vectored move: its dry run and then the move (a dry run itself with
 * DRY_RUN in the op's flags), each against the oracle and the ABI's rules
 * for done, moved and err_index; the dry run against its entries' own; the
 * move against its dry run's counters (the THP zero-page allowance of
 * do_move() summed over the entries); then the model takes entries [0, done)
 * whole and the first `moved` bytes of entry done, in array order (all of
 * them on success), and the whole world must match it.
 */
static bool do_movev(const struct op *o, int i)
{
	static struct vcall c;
	bool dry = o->flags & RUST_MREMAP_DRY_RUN, ok = true, sane;
	struct rust_mremap_movev vd, mv;
	size_t zbefore = 0, zp = 0;
	char what[160], whatd[176];
	unsigned int share_busy = 0;
	struct vpred p;
	bool built;
	int e_dry, e;

	if (!vmas_load()) {
		ksft_print_msg("op %d: /proc/self/maps: %s\n", i, strerror(errno));
		return false;
	}
	vec_build(o, &c);
	vec_prep(o, &c, i);
	if (!vmas_load()) {
		ksft_print_msg("op %d: /proc/self/maps: %s\n", i, strerror(errno));
		return false;
	}
	p = v_predict(&c, &c.hdr);
	if (p.foreign) {
		if (verbose)
			ksft_print_msg("op %d: an entry lies in another mapping; not issued\n", i);
		return true;
	}
	snprintf(what, sizeof(what), "op %d: movev of %u entries (count %u, flags %#x, uffd %d)", i,
		 c.n, c.hdr.count, c.hdr.flags, c.hdr.uffd);
	snprintf(whatd, sizeof(whatd), "%s [dry run]", what);
	/*
	 * Built to succeed: prepared, no fault built in, not a dry run, every
	 * entry drawn (v_fits()); then the oracle sees nothing to refuse and no
	 * source page a relocation refuses (vec_prep() wrote the shared ones
	 * afresh), and the move must succeed.
	 */
	built = o->ro && !o->vbad && !dry && !c.fallback;
	for (unsigned int j = 0; built && j < c.n; j++)
		if (p.err || v_busy[j]) {
			ksft_print_msg(
				"%s: built to succeed, yet the model refuses it: %s at %u, entry %u %s\n",
				what, p.err ? strerror(-p.err) : "nothing", p.idx, j,
				v_busy[j] ? "may be refused (EBUSY)" : "may move");
			v_dump(&c);
			return false;
		}

	e_dry = movev_issue(&c, c.hdr.flags | RUST_MREMAP_DRY_RUN, &vd);
	ok &= w_movev_sane(whatd, e_dry, &vd, c.vec, c.n, true);
	ok &= v_explained(whatd, &c, e_dry, &vd, &p);
	ok &= v_single(whatd, &c, e_dry, &vd);
	if (!e_dry && c.n > 1)
		ok &= v_sums(whatd, &c, &vd);
	if (!e_dry && !dry && vd.folios_relocated)
		zbefore = v_zero_pages(&c, false);

	/* Whatever it does, a move into a region may give it an anon_vma. */
	for (unsigned int j = 0; !dry && j < c.n; j++)
		if (c.ent[j].gs != W_NOWHERE)
			live.virgin[c.ent[j].gd / W_REG_PAGES] = false;
	e = movev_issue(&c, c.hdr.flags, &mv);
	if (e && getenv("RUST_MREMAP_VERBOSE"))
		ksft_print_msg("%s: %s, err_index %u\n", what, strerror(-e), mv.err_index);
	sane = w_movev_sane(what, e, &mv, c.vec, c.n, dry);
	if (sane)
		w_vcount(&w->st.v, e, &mv, c.n, dry, built);
	ok &= sane && v_explained(what, &c, e, &mv, &p);
	if (built && e) {
		ksft_print_msg("%s: built to succeed, it failed: %s at entry %u\n", what,
			       strerror(-e), mv.err_index);
		ok = false;
	}
	if (e == -EBUSY && ok)
		atomic_fetch_add(&w->st.busy_ok, 1);
	if (!e && (c.hdr.flags & RUST_MREMAP_UFFD))
		atomic_fetch_add(&w->st.uffd_flag, 1);
	for (unsigned int j = 0; !e && !p.err && j < c.n; j++)
		share_busy += v_mode[j] == MODE_SHARE && src_busy(c.ent[j].gs, c.ent[j].n);
	atomic_fetch_add(&w->st.share_busy, share_busy);
	if (e != e_dry) {
		ksft_print_msg("%s: %d, its dry run %d\n", what, e, e_dry);
		ok = false;
	} else if (e && !(mv.done || mv.moved) && mv.err_index != vd.err_index) {
		ksft_print_msg("%s: err_index %u, its dry run's %u\n", what, mv.err_index,
			       vd.err_index);
		ok = false;
	}

	/* The model: what moved, in array order. */
	if (!dry && sane && (!e || w_partway_errno(e))) {
		unsigned int done = e ? mv.done : c.n;
		size_t part = e ? mv.moved / W_PAGE : 0, data;

		w->st.v.pages += w_movev_pages(w, c.ent, c.n, done, part, &data);
		w->st.v.data += data;
		if (!w_movev_apply(w, c.ent, c.n, done, part)) {
			ksft_print_msg("%s: an entry that is no world range moved\n", what);
			ok = false;
		}
	}

	/* The counters, against the dry run's (see do_move()). */
	if (!e && !e_dry && !dry) {
		if (mv.folios_relocated < vd.folios_relocated) {
			size_t zafter = v_zero_pages(&c, true);

			zp = zafter > zbefore ? zafter - zbefore : 0;
		}
		if (mv.pmd_moves != vd.pmd_moves || mv.pte_moves != vd.pte_moves ||
		    mv.huge_pmd_moves != vd.huge_pmd_moves || mv.pud_moves != vd.pud_moves ||
		    mv.folios_relocated + zp != vd.folios_relocated) {
			ksft_print_msg(
				"%s: counters pmd/pte/huge/pud/relocated %llu/%llu/%llu/%llu/%llu, the dry run said %llu/%llu/%llu/%llu/%llu (%zu zero pages)\n",
				what, (unsigned long long)mv.pmd_moves,
				(unsigned long long)mv.pte_moves,
				(unsigned long long)mv.huge_pmd_moves,
				(unsigned long long)mv.pud_moves,
				(unsigned long long)mv.folios_relocated,
				(unsigned long long)vd.pmd_moves, (unsigned long long)vd.pte_moves,
				(unsigned long long)vd.huge_pmd_moves,
				(unsigned long long)vd.pud_moves,
				(unsigned long long)vd.folios_relocated, zp);
			ok = false;
		}
	}
	ok &= world_matches(what);
	if (!ok)
		v_dump(&c);
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

/*
 * After a fork: every page the target maps with a folio (not the zero page)
 * or has swapped out is shared with the child (busy[] W_SHARED) until the
 * target writes it.
 */
static bool mark_shared(void)
{
	static uint64_t pm[W_REG_PAGES];

	for (int r = 0; r < W_NREG; r++) {
		if (!rm_pagemap((void *)w->base[r], W_REG_PAGES, pm))
			return false;
		for (size_t k = 0; k < W_REG_PAGES; k++)
			if ((pm[k] & RM_PM_SWAP) ||
			    ((pm[k] & RM_PM_PRESENT) && (pm[k] & RM_PM_PFN) != zero_pfn))
				w->busy[w_gidx(r, k)] |= W_SHARED;
	}
	return true;
}

#define KPF_BLOCK	512	/* PFNs: a PMD-order folio at most, naturally aligned */

/*
 * After a pin of world pages [@g, @g + @n): those are pinned (busy[]
 * W_PINNED), and so is every page of a large folio one of them is in
 * (folio_maybe_dma_pinned() is per folio), wherever the world maps it:
 * every page whose PFN lies in that folio, from /proc/kpageflags (head and
 * tails; a large anon folio here is a THP of MADV_COLLAPSE, so it lies in
 * the 512-aligned block of PFNs of any of its pages).  Without kpageflags,
 * every page the world maps with a folio counts as pinned.
 */
static bool mark_pinned(size_t g, size_t n)
{
	static uint64_t pm[W_NPAGES], kf[KPF_BLOCK], lo[64], hi[64];
	unsigned int nf = 0;
	bool all = live.kpageflags < 0;

	for (int r = 0; r < W_NREG; r++)
		if (!rm_pagemap((void *)w->base[r], W_REG_PAGES, pm + w_gidx(r, 0)))
			return false;
	for (size_t k = g; k < g + n && !all; k++) {
		uint64_t pfn = pm[k] & RM_PM_PFN, base = pfn & ~(uint64_t)(KPF_BLOCK - 1);
		size_t h, t;

		w->busy[k] |= W_PINNED;
		if (!(pm[k] & RM_PM_PRESENT) || pfn == zero_pfn)
			continue;
		if (pread(live.kpageflags, kf, sizeof(kf), (off_t)(base * 8)) != sizeof(kf)) {
			all = true;
			break;
		}
		h = pfn - base;
		if (!(kf[h] & (1ULL << KPF_COMPOUND_HEAD | 1ULL << KPF_COMPOUND_TAIL)))
			continue;
		while (h && !(kf[h] & 1ULL << KPF_COMPOUND_HEAD))
			h--;
		for (t = h + 1; t < KPF_BLOCK && (kf[t] & 1ULL << KPF_COMPOUND_TAIL); t++)
			;
		if (nf && lo[nf - 1] == base + h)
			continue;
		if (nf == 64) {
			all = true;
			break;
		}
		lo[nf] = base + h;
		hi[nf++] = base + t;
	}
	for (size_t k = 0; k < W_NPAGES; k++) {
		uint64_t pfn = pm[k] & RM_PM_PFN;

		if (!(pm[k] & RM_PM_PRESENT) || pfn == zero_pfn)
			continue;
		for (unsigned int f = 0; f < nf && !all; f++)
			if (pfn >= lo[f] && pfn < hi[f])
				w->busy[k] |= W_PINNED;
		if (all)
			w->busy[k] |= W_PINNED;
	}
	return true;
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
	case O_MOVEV:
		return do_movev(o, i);
	case O_WRITE:
		if (!w_writable(v, a, o->n * W_PAGE))
			return true;
		for (size_t k = 0; k < o->n; k++) {
			w->tag[g + k] = o->a == W_KSM ? 1 + k % 3 : ((uint64_t)i << 16 | k) + 0x100;
			w_fill((void *)(a + k * W_PAGE), w->tag[g + k]);
			w->busy[g + k] &= ~W_SHARED;
		}
		live.virgin[o->a] = false;
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
			w->tag[g + k] = w->busy[g + k] = 0;
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
			if (c < 0) {
				ksft_print_msg("op %d: fork: %s\n", i, strerror(errno));
				return false;
			}
			live.child[live.nchild] = c;
			live.pipe[live.nchild++] = p[0];
			if (!mark_shared()) {
				ksft_print_msg("op %d: pagemap: %s\n", i, strerror(errno));
				return false;
			}
		}
		return true;
	case O_REAP:
		reap_one();
		return true;
	case O_PIN:
		if (!live.pinned && w_writable(v, a, o->n * W_PAGE)) {
			struct iovec iov = { (void *)a, len };

			live.virgin[o->a] = false;
			live.pinned = !syscall(__NR_io_uring_register, live.ring,
					       IORING_REGISTER_BUFFERS, &iov, 1);
			live.pin_lo = a;
			live.pin_hi = a + len;
			/*
			 * The pin faults in what was not there: zeroes, tag 0.
			 * FOLL_WRITE | FOLL_PIN unshares what a fork shared
			 * (as a write fault), so every page of it is exclusive
			 * now, and pinned.
			 */
			for (size_t k = 0; live.pinned && k < o->n; k++)
				w->busy[g + k] &= ~W_SHARED;
			if (live.pinned && !mark_pinned(g, o->n)) {
				ksft_print_msg("op %d: pagemap: %s\n", i, strerror(errno));
				return false;
			}
		}
		return true;
	case O_UNPIN:
		if (live.pinned)
			syscall(__NR_io_uring_register, live.ring, IORING_UNREGISTER_BUFFERS, NULL,
				0);
		live.pinned = false;
		for (size_t k = 0; k < W_NPAGES; k++)
			w->busy[k] &= ~W_PINNED;
		return true;
	case O_COLLAPSE:
		/* A collapse needs an anon_vma; the model does not lean on that. */
		live.virgin[o->a] = false;
		madvise((void *)a, RM_PMD, MADV_COLLAPSE);
		return true;
	case O_FRESH:
		/* A pin holds its folios, not the mapping: they leave the model with it. */
		if (mmap((void *)w->base[o->a], W_REG_PAGES * W_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != (void *)w->base[o->a])
			return false;
		if (o->a == W_HUGE)
			madvise((void *)w->base[o->a], W_REG_PAGES * W_PAGE, MADV_HUGEPAGE);
		if (o->a == W_KSM)
			madvise((void *)w->base[o->a], W_REG_PAGES * W_PAGE, MADV_MERGEABLE);
		for (size_t k = 0; k < W_REG_PAGES; k++)
			w->tag[w_gidx(o->a, k)] = w->busy[w_gidx(o->a, k)] = 0;
		live.virgin[o->a] = true;
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
		char run[8] = "0";
		int fd;

		memset(w, 0, sizeof(*w));
		w->target = getpid();
		for (int r = 0; r < W_NREG; r++)
			live.virgin[r] = true;
		live.uffd = rm_uffd_open(0, NULL);
		live.kpageflags = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
		fd = open("/sys/kernel/mm/ksm/run", O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && read(fd, run, sizeof(run) - 1) < 0)
			run[0] = '0';
		if (fd >= 0)
			close(fd);
		live.ksm = run[0] != '0';
		live.ring = (int)syscall(__NR_io_uring_setup, 1, &p);
		/* Before the regions, so that it never lands between them. */
		vguard = mmap(NULL, 4 * W_PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (vguard == MAP_FAILED || mprotect(vguard + 3 * W_PAGE, W_PAGE, PROT_NONE))
			_exit(2);
		if (!w_map_regions(w) || !w_view_open(&v, w, true) || live.ring < 0)
			_exit(2);
		/* _exit() drops what stdout buffered: the messages of a failure when piped. */
		for (int i = 0; i < n; i++)
			if (!run_op(&v, &ops[i], i)) {
				w->failed = i + 1;
				fflush(stdout);
				_exit(1);
			}
		for (size_t g = 0; g < W_NPAGES; g++)
			if (!w_page_is(&v, w_addr(w, g), w->tag[g], "final sweep")) {
				w->failed = n + 1;
				fflush(stdout);
				_exit(1);
			}
		while (live.nchild)
			reap_one();
		fflush(stdout);
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
	unsigned long moves = 0, moves_ok = 0, busy_ok = 0, share_busy = 0, uffd_flag = 0;
	struct w_vstats vt = { 0 };
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
		busy_ok += w->st.busy_ok;
		share_busy += w->st.share_busy;
		uffd_flag += w->st.uffd_flag;
		w_vstats_add(&vt, &w->st.v);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < seconds);
	clock_gettime(CLOCK_MONOTONIC, &t);
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
	ksft_print_msg(
		"%d sequences, %d ops, %lu moves (%lu succeeded), %lu vectored moves of %lu entries (%lu succeeded)\n",
		runs, total, moves, moves_ok, vt.moves, vt.entries, vt.ok);
	w_vstats_print(&vt, (double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9);
	ksft_print_msg(
		"EBUSY: %lu refusals of a relocating move or entry with a shared or pinned page; %lu entries proved sharing moved such a page\n",
		busy_ok, share_busy);
	ksft_print_msg(
		"RUST_MREMAP_UFFD with a userfaultfd that registers nothing: %lu vectored moves succeeded\n",
		uffd_flag);
	/* Each failed one failed its sequence already; a run without one checked nothing. */
	if (ok && (!vt.clean || vt.clean_ok != vt.clean)) {
		ksft_print_msg("%lu vectored moves built to succeed, %lu did\n", vt.clean,
			       vt.clean_ok);
		ok = false;
	}
	ksft_test_result(
		ok,
		"fuzz: seed %llu, %d sequences of random ops, every move as the model and the oracle say\n",
		(unsigned long long)seed, runs);
	ksft_finished();
}
