/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The model rust_mremap_stress_test and rust_mremap_fuzz_test check every
 * move against: a set of regions in a target process, and for each page
 * the tag it holds (0: reads as zero, present or not).  A page with tag T
 * holds word i = w_word(T, i) in every word, so a page that arrives torn,
 * shifted, from the wrong place or zeroed is seen whole.
 *
 * The model lives in shared memory, so that a mover in another process
 * (through a pidfd) and the target agree on it; every page is owned by at
 * most one actor at a time (claim[]), and only the owner changes what it
 * holds.  What the owner cannot know, and the model does not claim, is
 * whether a page of tag 0 is mapped: a THP fault, khugepaged, a pin or a
 * read may map zeroes there at any time.
 *
 * Beside its tag, each page has the reasons (busy[], W_SHARED, W_PINNED)
 * a relocating move may refuse it with EBUSY, for an actor that can know
 * them (the fuzzer, single threaded, sets them; the stress leaves them 0).
 * They travel with the page when it moves, as its tag does.
 */
#ifndef RUST_MREMAP_WORLD_H
#define RUST_MREMAP_WORLD_H

#include <stdatomic.h>
#include <sys/syscall.h>
#include "rust_mremap_lib.h"

#define W_PAGE		4096UL
#define W_WORDS		(W_PAGE / sizeof(uint64_t))
#define W_NREG		4
#define W_REG_PAGES	3840		/* 15 MiB: each region's last table is shared */
#define W_SLOT		RM_MB(32)	/* address space per region */
#define W_NPAGES	(W_NREG * W_REG_PAGES)

/* Region kinds: 0 PMD aligned, 1 MADV_HUGEPAGE, 2 at a 1 MiB offset, 3 KSM. */
#define W_HUGE		1
#define W_SHIFTED	2
#define W_KSM		3

/*
 * What the vectored moves did: one actor (the stress's vectored mover, the
 * fuzzer's one thread) counts them, and they are read after it is done.
 */
struct w_vstats {
	unsigned long moves, entries, ok, dry, partway, refused;
	/* the refusals (nothing moved) by errno */
	unsigned long r_exist, r_busy, r_inval, r_fault, r_other;
	/* moves built to succeed (no fault built in, destinations emptied), and of them ok */
	unsigned long clean, clean_ok;
	/* what the successful moves moved: pages (those holding data), tables, THPs, entries */
	unsigned long pages, data, tables, thps, ptes;
	/* successful moves that relocated folios, and that moved with none relocated */
	unsigned long relocating, sharing;
	unsigned long pins;
};

struct w_stats {
	_Atomic unsigned long moves, ok, partway, dry, refused_exist, refused_busy,
		refused_fault, moved_pages, pmd, pte, huge, pud, relocated,
		writes, zaps, pageouts, mprotects, collapses, forks, pins, pin_races,
		offlines, compactions, uffd_moves, claim_misses, ext_moves, recycles, shared;
	/*
	 * The fuzzer's EBUSY model at work: refusals it accepted (a relocating
	 * entry with a shared or pinned page), and entries it proved sharing
	 * whose source held such a page, in moves that passed their plan.
	 */
	_Atomic unsigned long busy_ok, share_busy;
	/* Vectored moves that succeeded with RUST_MREMAP_UFFD and a userfaultfd (the fuzzer's). */
	_Atomic unsigned long uffd_flag;
	struct w_vstats v;
};

/*
 * A page's busy[] bits.  W_SHARED: the page was populated (present or
 * swapped) when the target forked, and not written by the target since.
 * A fork clears PageAnonExclusive of every anon page it shares (and makes
 * every swap entry non-exclusive); only a write fault sets it again (on
 * reuse or on the COW copy), not the child's exit, so the page stays
 * refused by a relocating move after the child is gone.  W_PINNED: the
 * page may belong to a folio a pin holds (FOLL_PIN: folio_maybe_dma_pinned()).
 */
#define W_SHARED	1
#define W_PINNED	2

struct world {
	uintptr_t base[W_NREG];
	pid_t target;
	_Atomic int stop;
	_Atomic int failed;
	_Atomic uint32_t claim[W_NPAGES];
	uint64_t tag[W_NPAGES];		/* written only by the page's owner */
	uint8_t busy[W_NPAGES];		/* W_SHARED | W_PINNED, as tag[] */
	_Atomic uint64_t next_tag;
	struct w_stats st;
};

static inline uint64_t w_word(uint64_t tag, size_t i)
{
	return tag ? tag * 0x9E3779B97F4A7C15ull ^ (i << 1 | 1) : 0;
}

static inline uintptr_t w_addr(const struct world *w, size_t g)
{
	return w->base[g / W_REG_PAGES] + (g % W_REG_PAGES) * W_PAGE;
}

/* xorshift64*: every random choice of the stress and the fuzzer. */
static inline uint64_t w_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

static inline size_t w_below(uint64_t *s, size_t n)
{
	return n ? w_rand(s) % n : 0;
}

/* Fill one page of this process with tag @tag. */
static inline void w_fill(void *p, uint64_t tag)
{
	uint64_t *q = p;

	for (size_t i = 0; i < W_WORDS; i++)
		q[i] = w_word(tag, i);
}

/*
 * Index of a word of @p that is not what tag @tag holds, or -1.  Every 8th
 * word and the last: a page-table move moves whole pages, so a wrong page
 * (another tag, zeroes, a neighbour) differs in all of them; the whole
 * page would cost eight times as much under TCG.
 */
static inline long w_mismatch(const void *p, uint64_t tag)
{
	const uint64_t *q = p;

	for (size_t i = 0; i < W_WORDS; i += 8)
		if (q[i] != w_word(tag, i))
			return (long)i;
	return q[W_WORDS - 1] != w_word(tag, W_WORDS - 1) ? (long)W_WORDS - 1 : -1;
}

/* Map the regions at fresh addresses, in one reserved span. */
static inline bool w_map_regions(struct world *w)
{
	uint8_t *span = rm_find_hole(W_NREG * W_SLOT, RM_PMD, 0, RM_PMD);

	if (!span)
		return false;
	for (int r = 0; r < W_NREG; r++) {
		uintptr_t a = (uintptr_t)span + r * W_SLOT + (r == W_SHIFTED ? RM_MB(1) : 0);
		void *p = mmap((void *)a, W_REG_PAGES * W_PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (p != (void *)a)
			return false;
		w->base[r] = a;
		if (r == W_HUGE && madvise(p, W_REG_PAGES * W_PAGE, MADV_HUGEPAGE))
			return false;
		if (r == W_KSM && madvise(p, W_REG_PAGES * W_PAGE, MADV_MERGEABLE))
			return false;
	}
	return true;
}

/* Take pages [g, g + n) for @id, all or none. */
static inline bool w_claim(struct world *w, size_t g, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t z = 0;

		if (!atomic_compare_exchange_strong(&w->claim[g + i], &z, id)) {
			while (i--)
				atomic_store(&w->claim[g + i], 0);
			return false;
		}
	}
	return true;
}

static inline void w_release(struct world *w, size_t g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		atomic_store(&w->claim[g + i], 0);
}

/*
 * A view of the target from an actor: the target itself (direct reads) or
 * another process (/proc/PID/mem, pagemap and maps).
 */
struct w_view {
	struct world *w;
	pid_t pid;
	bool self;
	int pagemap, mem;
	char maps[64];
};

static inline bool w_view_open(struct w_view *v, struct world *w, bool self)
{
	char path[64];

	v->w = w;
	v->self = self;
	v->pid = w->target;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", v->pid);
	v->pagemap = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/mem", v->pid);
	v->mem = self ? -1 : open(path, O_RDONLY | O_CLOEXEC);
	snprintf(v->maps, sizeof(v->maps), "/proc/%d/maps", v->pid);
	return v->pagemap >= 0 && (self || v->mem >= 0);
}

static inline void w_view_close(struct w_view *v)
{
	close(v->pagemap);
	if (v->mem >= 0)
		close(v->mem);
}

/* Copy one target page into @buf; false if it cannot be read. */
static inline bool w_read_page(struct w_view *v, uintptr_t a, void *buf)
{
	if (v->self) {
		memcpy(buf, (void *)a, W_PAGE);
		return true;
	}
	return pread(v->mem, buf, W_PAGE, (off_t)a) == (ssize_t)W_PAGE;
}

/* The pagemap entry of one target page (bit 63 present, bit 62 swapped). */
static inline uint64_t w_pagemap(struct w_view *v, uintptr_t a)
{
	uint64_t e = 0;

	if (pread(v->pagemap, &e, sizeof(e), (off_t)(a / W_PAGE * sizeof(e))) != sizeof(e))
		return ~0ull;
	return e;
}

static inline bool w_populated(struct w_view *v, uintptr_t a)
{
	return w_pagemap(v, a) & (3ull << 62);
}

/*
 * Check that the target page at @a holds tag @tag; a page of tag 0 that is
 * not populated is not read (a read would map the zero page there).
 */
static inline bool w_page_is(struct w_view *v, uintptr_t a, uint64_t tag, const char *what)
{
	static __thread uint64_t buf[W_WORDS];
	long i;

	if (!tag && !w_populated(v, a))
		return true;
	if (!w_read_page(v, a, buf)) {
		ksft_print_msg("%s: %#lx cannot be read: %s\n", what, (unsigned long)a,
			       strerror(errno));
		return false;
	}
	i = w_mismatch(buf, tag);
	if (i < 0)
		return true;
	ksft_print_msg("%s: page %#lx word %ld is %#llx, tag %#llx wants %#llx (pagemap %#llx)\n",
		       what, (unsigned long)a, i, (unsigned long long)buf[i],
		       (unsigned long long)tag, (unsigned long long)w_word(tag, i),
		       (unsigned long long)w_pagemap(v, a));
	return false;
}

/*
 * The target's VMA that holds @a (its maps line): its bounds in *@s and *@e
 * and its permissions ("rw-p") in @perm; false if @a is unmapped.  The one
 * reader of /proc/PID/maps the model and the fuzzer's oracle share.
 */
static inline bool w_vma_at(struct w_view *v, uintptr_t a, unsigned long *s, unsigned long *e,
			    char perm[8])
{
	FILE *f = fopen(v->maps, "re");
	char line[512];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%lx-%lx %7s", s, e, perm) == 3 && *s <= a && a < *e;
	if (f)
		fclose(f);
	return found;
}

/* Whether [@a, @a + @len) lies in one VMA of the target. */
static inline bool w_one_vma(struct w_view *v, uintptr_t a, size_t len)
{
	unsigned long s, e;
	char p[8];

	return w_vma_at(v, a, &s, &e, p) && a + len <= e;
}

/* The protection of the target's VMA at @a: 'w', 'r', '-' (none) or 0 (unmapped). */
static inline char w_prot(struct w_view *v, uintptr_t a)
{
	unsigned long s, e;
	char p[8];

	if (!w_vma_at(v, a, &s, &e, p))
		return 0;
	return p[1] == 'w' ? 'w' : p[0] == 'r' ? 'r' : '-';
}

/* Whether every page of [@a, @a + @len) is mapped writable in the target. */
static inline bool w_writable(struct w_view *v, uintptr_t a, size_t len)
{
	unsigned long s, e;
	char p[8];

	for (uintptr_t next = a; next < a + len; next = e)
		if (!w_vma_at(v, next, &s, &e, p) || p[1] != 'w')
			return false;
	return true;
}

/* Region and page range helpers for choosing what to act on. */
static inline size_t w_gidx(int r, size_t off)
{
	return (size_t)r * W_REG_PAGES + off;
}

/* A random range of 1..@max pages inside region @r: its first page index. */
static inline size_t w_pick(uint64_t *s, int r, size_t n)
{
	return w_gidx(r, w_below(s, W_REG_PAGES - n + 1));
}

/*
 * A random PMD-aligned range of @n pages inside region @r (the shifted
 * region's aligned part starts 1 MiB in), or a random one if none fits.
 */
static inline size_t w_pick_aligned(struct world *w, uint64_t *s, int r, size_t n)
{
	size_t first = ((RM_PMD - w->base[r] % RM_PMD) % RM_PMD) / W_PAGE;
	size_t slots;

	if (first + n > W_REG_PAGES)
		return w_pick(s, r, n);
	slots = (W_REG_PAGES - first - n) / 512 + 1;
	return w_gidx(r, first + 512 * w_below(s, slots));
}

/*
 * Move @n pages from page @gs to page @gd of the world (flags as the ioctl
 * takes them) and check everything the result claims against the model:
 *  - errno: EFAULT exactly when a range is not inside one VMA; EINVAL only
 *    when the two VMAs differ in protection; EEXIST only with a populated
 *    destination page; EBUSY (a page a relocating move cannot move: see
 *    the callers, which know more) before anything moves or part-way;
 *    anything else is a failure: nothing in the worlds of the fuzzer or
 *    the stress can make a move fail for want of memory (ENOMEM: small
 *    GFP_KERNEL allocations, no memcg limit), a fatal signal (EINTR) or a
 *    userfaultfd (EAGAIN: no world VMA is registered), and the retry limit
 *    (EAGAIN after 1000 races with reclaim or migration in a row) would be
 *    a livelock worth failing on;
 *  - moved: page aligned, at most len, len on success, 0 for a dry run
 *    and for the refusals that come before anything moves;
 *  - memory: [0, moved) arrived at dst with its tags and left src empty;
 *    the rest is where it was.
 * The caller owns both ranges.  The model is updated; false on a failure.
 * *@errp (if not NULL) gets 0 or -errno.
 */
static inline bool w_move_checked(struct w_view *v, int fd, int pidfd, unsigned int flags,
				  size_t gs, size_t gd, size_t n, struct rust_mremap_move *mo,
				  int *errp)
{
	struct world *w = v->w;
	uintptr_t src = w_addr(w, gs), dst = w_addr(w, gd);
	size_t len = n * W_PAGE, moved;
	bool dry = flags & RUST_MREMAP_DRY_RUN;
	bool one = w_one_vma(v, src, len) && w_one_vma(v, dst, len);
	uint64_t *old = malloc(n * sizeof(*old));
	uint8_t *oldb = malloc(n);
	char what[192];
	bool ok = true, pop = false;
	int e;

	if (!old || !oldb) {
		free(old);
		free(oldb);
		return false;
	}
	for (size_t k = 0; k < n; k++) {
		old[k] = w->tag[gs + k];
		oldb[k] = w->busy[gs + k];
	}
	e = rm_move(fd, pidfd, flags, (void *)src, (void *)dst, len, mo);
	if (errp)
		*errp = e;
	snprintf(what, sizeof(what), "move%s%s%s %#lx -> %#lx (%zu pages): %s, moved %llu",
		 flags & RUST_MREMAP_RELOCATE ? " RELOCATE" : "",
		 flags & RUST_MREMAP_NO_REALIGN ? " NO_REALIGN" : "", dry ? " DRY_RUN" : "",
		 (unsigned long)src, (unsigned long)dst, n, e ? strerror(-e) : "ok",
		 (unsigned long long)mo->moved);
	atomic_fetch_add(&w->st.moves, 1);
	if (e && getenv("RUST_MREMAP_VERBOSE"))
		ksft_print_msg("%s\n", what);
	moved = mo->moved / W_PAGE;
	if (mo->moved % W_PAGE || mo->moved > len || (dry && mo->moved)) {
		ksft_print_msg("%s: impossible moved\n", what);
		moved = 0;
		ok = false;
	}
	if (!one && e != -EFAULT) {
		ksft_print_msg("%s: a range spans VMAs, EFAULT expected\n", what);
		ok = false;
	}
	switch (e) {
	case 0:
		if (!dry && moved != n) {
			ksft_print_msg("%s: success must move len\n", what);
			ok = false;
		}
		atomic_fetch_add(dry ? &w->st.dry : &w->st.ok, 1);
		break;
	case -EFAULT:
		atomic_fetch_add(&w->st.refused_fault, 1);
		break;
	case -EINVAL:
		if (!one || w_prot(v, src) == w_prot(v, dst)) {
			ksft_print_msg("%s: EINVAL, but the two VMAs agree on protection\n", what);
			ok = false;
		}
		break;
	case -EEXIST:
		for (size_t k = 0; k < n && !pop; k++)
			pop = (gd + k < gs || gd + k >= gs + n) && w_populated(v, dst + k * W_PAGE);
		if (!pop) {
			ksft_print_msg("%s: EEXIST with no populated destination page\n", what);
			ok = false;
		}
		atomic_fetch_add(&w->st.refused_exist, 1);
		break;
	case -EBUSY:
		atomic_fetch_add(&w->st.refused_busy, 1);
		break;
	default:
		ksft_print_msg("%s: unexpected errno\n", what);
		ok = false;
	}
	if (e && e != -EBUSY && moved) {
		ksft_print_msg("%s: this error must come before anything moves\n", what);
		ok = false;
	}
	if (e && moved)
		atomic_fetch_add(&w->st.partway, 1);
	/* The model after the move, in the order the move runs (overlap included). */
	for (size_t k = 0; k < moved; k++)
		w->tag[gs + k] = w->busy[gs + k] = 0;
	for (size_t k = 0; k < moved; k++) {
		w->tag[gd + k] = old[k];
		w->busy[gd + k] = oldb[k];
	}
	for (size_t k = 0; ok && k < n; k++)
		ok = w_page_is(v, src + k * W_PAGE, w->tag[gs + k], what) &&
		     w_page_is(v, dst + k * W_PAGE, w->tag[gd + k], what);
	free(old);
	free(oldb);
	if (dry)
		return ok;
	atomic_fetch_add(&w->st.moved_pages, moved);
	atomic_fetch_add(&w->st.pmd, mo->pmd_moves);
	atomic_fetch_add(&w->st.pte, mo->pte_moves);
	atomic_fetch_add(&w->st.huge, mo->huge_pmd_moves);
	atomic_fetch_add(&w->st.pud, mo->pud_moves);
	atomic_fetch_add(&w->st.relocated, mo->folios_relocated);
	if (!e && !mo->folios_relocated && mo->pmd_moves + mo->pte_moves + mo->huge_pmd_moves)
		atomic_fetch_add(&w->st.shared, 1);
	return ok;
}

/* ------------------------------------------------- vectored moves (ABI 3) */

/* A page index that is no page of the world: an entry that is not a world range. */
#define W_NOWHERE	((size_t)-1)

/*
 * One entry of a vectored move in world pages: @n pages from page @gs to
 * page @gd; W_NOWHERE in @gs for an entry that is not two world ranges
 * (its raw form is all the call has).
 */
struct w_vent {
	size_t gs, gd, n;
};

/* The errnos with which a vectored move may stop part-way, after moving some entries. */
static inline bool w_partway_errno(int e)
{
	return e == -EBUSY || e == -ENOMEM || e == -EAGAIN || e == -EINTR;
}

/*
 * Whether the output of a vectored move agrees with its return @e, as ABI 3
 * says (@m as the kernel left it, @vec its @nvec entries, @dry whether it
 * was a dry run):
 *  - success: done = count (0 for a dry run), moved = 0, err_index = count;
 *  - a part-way stop (EBUSY, ENOMEM, EAGAIN, EINTR; never in a dry run):
 *    done < count, moved page aligned and less than entry done's length,
 *    err_index = done;
 *  - a refusal (any errno, the part-way ones included, with nothing
 *    moved): done = 0, moved = 0, err_index <= count (< count for the
 *    part-way errnos: an entry's plan or entry 0 refused); when it is not a
 *    dry run and the errno cannot stop part-way, every counter 0: counters
 *    sum what moved.
 * The output is poisoned before the call, so a field never written back
 * fails here.
 */
static inline bool w_movev_sane(const char *what, int e, const struct rust_mremap_movev *m,
				const struct rust_mremap_vec *vec, unsigned int nvec, bool dry)
{
	unsigned int count = m->count;
	bool ok = true;

	if (!e) {
		if (m->done != (dry ? 0 : count) || m->moved || m->err_index != count) {
			ksft_print_msg(
				"%s: success with done %u moved %llu err_index %u, count %u\n",
				what, m->done, (unsigned long long)m->moved, m->err_index, count);
			ok = false;
		}
		return ok;
	}
	if (w_partway_errno(e) && (m->done || m->moved)) {
		if (dry || m->done >= count || m->done >= nvec || m->moved % W_PAGE ||
		    m->moved >= vec[m->done].len || m->err_index != m->done) {
			ksft_print_msg(
				"%s: part-way %s with done %u moved %llu err_index %u, count %u%s\n",
				what, strerror(-e), m->done, (unsigned long long)m->moved,
				m->err_index, count, dry ? " in a dry run" : "");
			ok = false;
		}
		return ok;
	}
	if (m->done || m->moved || m->err_index > count ||
	    (w_partway_errno(e) && m->err_index >= count)) {
		ksft_print_msg("%s: refused (%s) with done %u moved %llu err_index %u, count %u\n",
			       what, strerror(-e), m->done, (unsigned long long)m->moved,
			       m->err_index, count);
		ok = false;
	}
	if (!dry && !w_partway_errno(e) &&
	    (m->pmd_moves || m->pte_moves || m->huge_pmd_moves || m->pud_moves ||
	     m->folios_relocated)) {
		ksft_print_msg(
			"%s: refused (%s) before anything moved, but counters pmd/pte/huge/pud/relocated %llu/%llu/%llu/%llu/%llu\n",
			what, strerror(-e), (unsigned long long)m->pmd_moves,
			(unsigned long long)m->pte_moves, (unsigned long long)m->huge_pmd_moves,
			(unsigned long long)m->pud_moves, (unsigned long long)m->folios_relocated);
		ok = false;
	}
	return ok;
}

/*
 * Count the result of a vectored move of @count entries in @v: @e and @m as
 * the kernel left them (after w_movev_sane() passed), @dry a dry run,
 * @clean one built to succeed.  A refusal (nothing moved) is counted by its
 * errno, a part-way stop apart.
 */
static inline void w_vcount(struct w_vstats *v, int e, const struct rust_mremap_movev *m,
			    unsigned int count, bool dry, bool clean)
{
	v->moves++;
	v->entries += count;
	v->clean += clean;
	v->clean_ok += clean && !e;
	if (!e && dry) {
		v->dry++;
	} else if (!e) {
		v->ok++;
		v->tables += m->pmd_moves + m->pud_moves;
		v->thps += m->huge_pmd_moves;
		v->ptes += m->pte_moves;
		if (m->folios_relocated)
			v->relocating++;
		else if (m->pmd_moves + m->pud_moves + m->huge_pmd_moves + m->pte_moves)
			v->sharing++;
	} else if (w_partway_errno(e) && (m->done || m->moved)) {
		v->partway++;
	} else {
		v->refused++;
		switch (e) {
		case -EEXIST:
			v->r_exist++;
			break;
		case -EBUSY:
			v->r_busy++;
			break;
		case -EINVAL:
			v->r_inval++;
			break;
		case -EFAULT:
			v->r_fault++;
			break;
		default:
			v->r_other++;
		}
	}
}

/* Add @from's counts to @to (the fuzzer sums its sequences'). */
static inline void w_vstats_add(struct w_vstats *to, const struct w_vstats *from)
{
	to->moves += from->moves;
	to->entries += from->entries;
	to->ok += from->ok;
	to->dry += from->dry;
	to->partway += from->partway;
	to->refused += from->refused;
	to->r_exist += from->r_exist;
	to->r_busy += from->r_busy;
	to->r_inval += from->r_inval;
	to->r_fault += from->r_fault;
	to->r_other += from->r_other;
	to->clean += from->clean;
	to->clean_ok += from->clean_ok;
	to->pages += from->pages;
	to->data += from->data;
	to->tables += from->tables;
	to->thps += from->thps;
	to->ptes += from->ptes;
	to->relocating += from->relocating;
	to->sharing += from->sharing;
	to->pins += from->pins;
}

/* Two lines: what the vectored moves of @v did, and how many of those built to succeed did. */
static inline void w_vstats_print(const struct w_vstats *v, double secs)
{
	ksft_print_msg(
		"vectored moves %lu (%.1f/s) of %lu entries: ok %lu, dry %lu, part-way %lu, refused %lu (EEXIST %lu, EBUSY %lu, EINVAL %lu, EFAULT %lu, other %lu)\n",
		v->moves, secs > 0 ? v->moves / secs : 0.0, v->entries, v->ok, v->dry, v->partway,
		v->refused, v->r_exist, v->r_busy, v->r_inval, v->r_fault, v->r_other);
	ksft_print_msg(
		"vectored moves built to succeed %lu, ok %lu (%lu%%); moved %lu pages (%lu holding data): %lu tables, %lu THPs, %lu entries; %lu relocated folios, %lu relocated none (shared rmap identity)\n",
		v->clean, v->clean_ok, v->clean ? v->clean_ok * 100 / v->clean : 0, v->pages,
		v->data, v->tables, v->thps, v->ptes, v->relocating, v->sharing);
}

/*
 * Make what [@g, @g + @n) holds movable by a relocating move: write every
 * page that holds a tag or is populated (zeroes a THP, a pin or a collapse
 * mapped) with a fresh tag (*@next, counted up), and with @holes every page.
 * A written page is exclusive: a fork's COW sharing broken, a KSM page
 * unmerged, a swap entry (exclusive or not) swapped in; a unique tag gives
 * KSM nothing to merge it with.  Pinned pages stay pinned.  The caller owns
 * the pages, in this process, and they are writable.  Returns the pages
 * written.
 */
static inline size_t w_rewrite(struct world *w, size_t g, size_t n, bool holes, uint64_t *next)
{
	uint64_t *pm = calloc(n, sizeof(*pm));
	size_t c = 0;

	if (pm && !rm_pagemap((void *)w_addr(w, g), n, pm))
		memset(pm, 0, n * sizeof(*pm));
	for (size_t k = 0; k < n; k++) {
		if (!holes && !w->tag[g + k] && !(pm && pm[k] & (RM_PM_PRESENT | RM_PM_SWAP)))
			continue;
		w->tag[g + k] = (*next)++;
		w_fill((void *)w_addr(w, g + k), w->tag[g + k]);
		w->busy[g + k] &= ~W_SHARED;
		c++;
	}
	free(pm);
	return c;
}

/*
 * The pages of a vectored move's world entries that move (entries [0,
 * @done) whole, the first @moved_pages pages of entry @done) and, in
 * *@data, how many of them hold a tag: call before w_movev_apply().
 */
static inline size_t w_movev_pages(const struct world *w, const struct w_vent *ent,
				   unsigned int count, unsigned int done, size_t moved_pages,
				   size_t *data)
{
	size_t pages = 0;

	*data = 0;
	for (unsigned int i = 0; i <= done && i < count; i++) {
		size_t k = i < done ? ent[i].n : moved_pages;

		if (ent[i].gs == W_NOWHERE || k > ent[i].n)
			continue;
		pages += k;
		for (size_t j = 0; j < k; j++)
			*data += !!w->tag[ent[i].gs + j];
	}
	return pages;
}

/*
 * The model after the first @k pages of entry @ent moved, as
 * w_move_checked() applies a move (a downward overlap included): [gs, gs + k)
 * emptied, then its tags at [gd, gd + k).  False without memory.
 */
static inline bool w_vent_apply(struct world *w, const struct w_vent *ent, size_t k)
{
	uint64_t *old = malloc(k * sizeof(*old));
	uint8_t *oldb = malloc(k);

	if (!old || !oldb) {
		free(old);
		free(oldb);
		return false;
	}
	for (size_t i = 0; i < k; i++) {
		old[i] = w->tag[ent->gs + i];
		oldb[i] = w->busy[ent->gs + i];
	}
	for (size_t i = 0; i < k; i++)
		w->tag[ent->gs + i] = w->busy[ent->gs + i] = 0;
	for (size_t i = 0; i < k; i++) {
		w->tag[ent->gd + i] = old[i];
		w->busy[ent->gd + i] = oldb[i];
	}
	free(old);
	free(oldb);
	return true;
}

/*
 * The model after a vectored move of @count entries that moved entries
 * [0, @done) whole and the first @moved_pages pages of entry @done (0
 * unless it stopped part-way).  False if a moved entry is not a world range.
 */
static inline bool w_movev_apply(struct world *w, const struct w_vent *ent, unsigned int count,
				 unsigned int done, size_t moved_pages)
{
	for (unsigned int i = 0; i <= done && i < count; i++) {
		size_t k = i < done ? ent[i].n : moved_pages;

		if (!k)
			continue;
		if (ent[i].gs == W_NOWHERE || k > ent[i].n || !w_vent_apply(w, &ent[i], k))
			return false;
	}
	return true;
}

/* Check every page of both ranges of the @count world entries against the model. */
static inline bool w_movev_verify(struct w_view *v, const struct w_vent *ent, unsigned int count,
				  const char *what)
{
	struct world *w = v->w;

	for (unsigned int i = 0; i < count; i++) {
		if (ent[i].gs == W_NOWHERE)
			continue;
		for (size_t k = 0; k < ent[i].n; k++)
			if (!w_page_is(v, w_addr(w, ent[i].gs + k), w->tag[ent[i].gs + k], what) ||
			    !w_page_is(v, w_addr(w, ent[i].gd + k), w->tag[ent[i].gd + k], what))
				return false;
	}
	return true;
}

#endif /* RUST_MREMAP_WORLD_H */
