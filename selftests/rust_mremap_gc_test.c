// SPDX-License-Identifier: GPL-2.0
/*
 * rust_mremap compacting-collector selftest: what ABI 3 is for.
 *
 * A from-space heap (8 MiB, anonymous) holds objects of 4 KiB to 64 KiB
 * and two of 2 MiB at PMD boundaries; about half of them are live,
 * scattered.  A cycle:
 *  - mark: choose the live objects;
 *  - map a fresh to-space, registered with userfaultfd for missing faults,
 *    and compute the dense layout (forwarding addresses; a 2 MiB object
 *    stays PMD-aligned), one chunk per run of live objects;
 *  - mutator threads read live objects at their NEW addresses: their first
 *    read faults on a to-space page nothing has moved to yet and blocks in
 *    userfaultfd (the collector reads the faults and knows who waits
 *    where, and resolves none of them);
 *  - only the monitor moves registered memory (ABI 4): the same MOVEV
 *    without RUST_MREMAP_UFFD, its dry run, and the move with another
 *    userfaultfd are refused with EPERM and move nothing (every live page
 *    still in from-space at its physical page, to-space empty, the
 *    mutators still blocked); the dry run with the collector's userfaultfd
 *    predicts the counters;
 *  - the pause: ONE RUST_MREMAP_IOC_MOVEV with RUST_MREMAP_UFFD and the
 *    collector's userfaultfd moves every chunk; the module wakes the
 *    blocked mutators, which check every byte of what they read;
 *  - the collector checks every live object at its new address, that
 *    to-space holds nothing else, that from-space holds nothing live
 *    (pagemap) while its dead objects were left alone, and that the VMA
 *    count did not grow (no VMA per chunk); that the counters are exactly
 *    what the layout predicts (each 2 MiB object one page table moved
 *    whole, every other live page one PTE, every live folio relocated);
 *    and that every live page at its new address is the physical page
 *    (pagemap PFN) it was in from-space: zero copy.  Then it unmaps
 *    from-space, and to-space (still registered) is the next cycle's
 *    from-space.
 * Three cycles, four TAP tests each; pause time and counters are printed.
 *
 * With --demo: one cycle, told as a short story, exit 0 on success.
 *
 * Runs as root with /dev/rust_mremap present.
 */
#include "rust_mremap_lib.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>

#include <linux/userfaultfd.h>

#define SELF		RUST_MREMAP_PIDFD_SELF
#define RW		(PROT_READ | PROT_WRITE)
#define HEAP		RM_MB(8)	/* each space */
#define LARGE		RM_PMD		/* the big objects, at PMD boundaries */
#define MAX_OBJS	1024
#define NMUT		3		/* mutator threads */
#define PICKS		48		/* objects each mutator reads per cycle */
#define CYCLES		3
#define TIMEOUT_MS	10000		/* the longest any wait may take */
#define SETTLE_MS	100		/* after its fault is read, until a mutator surely sleeps */

/* The TAP tests of a cycle */
enum { T_MONITOR, T_MOVE, T_COUNTERS, T_ZERO_COPY, T_NR };
static const char *const test_name[T_NR] = {
	"only_the_monitor_moves_registered",
	"one_movev_wakes_mutators",
	"counters_exact",
	"same_physical_pages",
};

struct obj {
	uint32_t id;		/* what its bytes are made of */
	bool large;
	bool live;
	size_t size;
	size_t off;		/* in from-space */
	size_t new_off;		/* in to-space: the forwarding address, if live */
};

struct mutator {
	_Atomic int tid;
	_Atomic int done;
	pthread_t th;
	unsigned int pick[PICKS];	/* objects it reads, in order */
	unsigned int verified, bad;
	uint32_t bad_id;
	size_t bad_word;
};

struct stats {
	unsigned int objects, live, dead, chunks, faults, verified_by_mutators;
	size_t live_bytes;
	long pause_us;
	int vmas_before, vmas_after;
	struct rust_mremap_movev mv;	/* the pause */
	struct rust_mremap_movev dry;	/* its dry run */
	struct rust_mremap_movev want;	/* the counters the layout predicts */
	bool pass[T_NR];
};

static struct {
	int fd, uffd;
	int uffd_other;			/* a userfaultfd of this process that registers nothing */
	size_t ps;
	bool demo;
	uint64_t rng;
	uint8_t *from, *to;
	struct obj obj[MAX_OBJS];
	unsigned int nobj;
	unsigned int live[MAX_OBJS];	/* indices of the live objects, in address order */
	unsigned int nlive;
	struct rust_mremap_vec vec[MAX_OBJS];
	unsigned int nvec;
	size_t top;			/* to-space used, padding included */
	struct mutator mut[NMUT];
} gc;

/* The narrative of --demo. */
static __printf(1, 2) void say(const char *fmt, ...)
{
	va_list ap;

	if (!gc.demo)
		return;
	va_start(ap, fmt);
	printf("gc: ");
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static uint32_t rnd(void)
{
	gc.rng ^= gc.rng << 13;
	gc.rng ^= gc.rng >> 7;
	gc.rng ^= gc.rng << 17;
	return (uint32_t)(gc.rng >> 16);
}

/* ------------------------------------------------------------- objects */

/* Word @i of object @id, wherever the object is. */
static inline uint64_t obj_word(uint32_t id, size_t i)
{
	uint64_t x = ((uint64_t)id << 32 | (uint32_t)i) * 0x9E3779B97F4A7C15ull;

	return x ^ x >> 29 ^ 0x5a;
}

static void obj_fill(uint8_t *p, const struct obj *o)
{
	uint64_t *w = (uint64_t *)p;

	for (size_t i = 0; i < o->size / sizeof(*w); i++)
		w[i] = obj_word(o->id, i);
}

/* The index of the first word of @o at @p that is wrong, or (size_t)-1. */
static size_t obj_check(const uint8_t *p, const struct obj *o)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < o->size / sizeof(*w); i++)
		if (w[i] != obj_word(o->id, i))
			return i;
	return (size_t)-1;
}

/* A fresh 8 MiB space, PMD-aligned, with free space around it. */
static uint8_t *space_map(void)
{
	uint8_t *h = rm_find_hole(HEAP, RM_PMD, 0, RM_PMD);
	uint8_t *p = h ? rm_map_at(h, HEAP, RW) : NULL;

	if (!p)
		ksft_print_msg("cannot map a space of %zu MiB: %s\n", HEAP >> 20, strerror(errno));
	return p;
}

/*
 * The first from-space: objects of 1 to 16 pages allocated one after the
 * other, but at 2 MiB and at 6 MiB an object of 2 MiB.
 */
static bool heap_build(void)
{
	size_t off = 0, size, next_large;
	unsigned int small = 0;

	gc.from = space_map();
	if (!gc.from)
		return false;
	while (off < HEAP) {
		struct obj *o = &gc.obj[gc.nobj];

		next_large = off / (2 * LARGE) * (2 * LARGE) + LARGE;
		o->large = off % (2 * LARGE) == LARGE;
		if (o->large) {
			size = LARGE;
		} else {
			size = (1 + rnd() % 16) * gc.ps;
			if (off + size > next_large)
				size = next_large - off;
			small++;
		}
		o->id = gc.nobj + 1;
		o->size = size;
		o->off = off;
		obj_fill(gc.from + off, o);
		off += size;
		gc.nobj++;
	}
	say("from-space: %zu MiB at %p, %u objects:\n", HEAP >> 20, gc.from, gc.nobj);
	say("  %u of %zu to %zu KiB, %u of 2 MiB at PMD boundaries\n", small, gc.ps >> 10,
	    (16 * gc.ps) >> 10, gc.nobj - small);
	return true;
}

/*
 * Mark: in the first cycle about half of the small objects die, later a
 * third of the survivors; the 2 MiB object at 2 MiB lives on, the one at
 * 6 MiB dies in the second cycle.
 */
static void mark(int cycle)
{
	unsigned int large = 0;

	for (unsigned int i = 0; i < gc.nobj; i++) {
		struct obj *o = &gc.obj[i];

		if (o->large)
			o->live = large++ == 0 || cycle == 1;
		else
			o->live = rnd() % 100 >= (cycle == 1 ? 50u : 33u);
	}
}

/*
 * The dense layout of the live objects in to-space, in address order (a
 * 2 MiB object starts at a PMD boundary), and the chunks of the move: one
 * per run of live objects that are adjacent in both spaces.
 */
static bool plan(struct stats *st)
{
	unsigned int nsmall = 0;
	size_t top = 0;

	gc.nlive = gc.nvec = 0;
	st->live_bytes = 0;
	for (unsigned int i = 0; i < gc.nobj; i++) {
		struct obj *o = &gc.obj[i];
		struct rust_mremap_vec *v = gc.nvec ? &gc.vec[gc.nvec - 1] : NULL;
		uintptr_t src = (uintptr_t)gc.from + o->off, dst;

		if (!o->live)
			continue;
		if (o->large)
			top = (top + RM_PMD - 1) & ~(RM_PMD - 1);
		o->new_off = top;
		top += o->size;
		st->live_bytes += o->size;
		nsmall += !o->large;
		gc.live[gc.nlive++] = i;
		dst = (uintptr_t)gc.to + o->new_off;
		if (v && v->src + v->len == src && v->dst + v->len == dst) {
			v->len += o->size;
		} else {
			gc.vec[gc.nvec].src = src;
			gc.vec[gc.nvec].dst = dst;
			gc.vec[gc.nvec].len = o->size;
			gc.nvec++;
		}
	}
	gc.top = top;
	st->objects = gc.nobj;
	st->live = gc.nlive;
	st->dead = gc.nobj - gc.nlive;
	st->chunks = gc.nvec;
	if (top > HEAP || nsmall < NMUT) {
		ksft_print_msg("layout: %zu bytes of to-space for %u live objects, %u small\n",
			       top, gc.nlive, nsmall);
		return false;
	}
	return true;
}

/* The lines of /proc/self/maps: the number of VMAs (read without malloc()). */
static int vma_count(void)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), n = 0;
	char buf[4096];
	ssize_t r;

	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
		for (ssize_t i = 0; i < r; i++)
			n += buf[i] == '\n';
	close(fd);
	return r < 0 ? -1 : n;
}

/* ------------------------------------------------------------ mutators */

static void *mutator_fn(void *arg)
{
	struct mutator *m = arg;

	atomic_store(&m->tid, rm_gettid());
	for (unsigned int k = 0; k < PICKS; k++) {
		const struct obj *o = &gc.obj[m->pick[k]];
		/* The first read of an object not moved yet blocks in userfaultfd. */
		size_t w = obj_check(gc.to + o->new_off, o);

		if (w != (size_t)-1 && !m->bad++) {
			m->bad_id = o->id;
			m->bad_word = w;
		}
		m->verified++;
	}
	atomic_store(&m->done, 1);
	return NULL;
}

/*
 * Each mutator first reads a small live object (so the 2 MiB objects' to-space
 * tables stay untouched before the move), then random live objects.
 */
static void mutators_pick(void)
{
	unsigned int small[MAX_OBJS], nsmall = 0;

	for (unsigned int i = 0; i < gc.nlive; i++)
		if (!gc.obj[gc.live[i]].large)
			small[nsmall++] = gc.live[i];
	for (int t = 0; t < NMUT; t++) {
		struct mutator *m = &gc.mut[t];

		memset(m, 0, sizeof(*m));
		m->pick[0] = small[(t * nsmall / NMUT + rnd() % (nsmall / NMUT)) % nsmall];
		for (int k = 1; k < PICKS; k++)
			m->pick[k] = gc.live[rnd() % gc.nlive];
	}
}

static bool all_done(void)
{
	for (int t = 0; t < NMUT; t++)
		if (!atomic_load(&gc.mut[t].done))
			return false;
	return true;
}

static bool wait_all_done(long ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!all_done()) {
		if (rm_ms_since(&t0) >= ms)
			return false;
		rm_sleep_ms(1);
	}
	return true;
}

/* Read one message from the userfaultfd, waiting at most @ms: 0, -ETIMEDOUT or -errno. */
static int uffd_read_msg(struct uffd_msg *msg, long ms)
{
	struct pollfd pfd = { .fd = gc.uffd, .events = POLLIN };
	struct timespec t0;
	long left;
	ssize_t n;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		left = ms - rm_ms_since(&t0);
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r ? -errno : -ETIMEDOUT;
		n = read(gc.uffd, msg, sizeof(*msg));
		if (n == (ssize_t)sizeof(*msg))
			return 0;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		return n < 0 ? -errno : -EIO;
	}
}

/*
 * Wait until every mutator is blocked on the first object it reads: the
 * collector reads one fault per mutator, at that object's new address.
 */
static bool mutators_blocked(struct stats *st)
{
	struct timespec t0;
	bool ok = true;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (st->faults = 0; st->faults < NMUT && ok; st->faults++) {
		struct uffd_msg msg;
		int r = uffd_read_msg(&msg, TIMEOUT_MS - rm_ms_since(&t0)), t;

		if (r) {
			ksft_print_msg(
				"%u of %d mutators blocked in a to-space fault within %d s: %s\n",
				st->faults, NMUT, TIMEOUT_MS / 1000, strerror(-r));
			return false;
		}
		for (t = 0; t < NMUT; t++)
			if ((uint32_t)atomic_load(&gc.mut[t].tid) == msg.arg.pagefault.feat.ptid)
				break;
		CHECK(msg.event == UFFD_EVENT_PAGEFAULT && t < NMUT,
		      "message %#x from thread %u: expected a fault of a mutator\n", msg.event,
		      msg.arg.pagefault.feat.ptid);
		if (ok && t < NMUT) {
			const struct obj *o = &gc.obj[gc.mut[t].pick[0]];

			CHECK(msg.arg.pagefault.address == (uintptr_t)gc.to + o->new_off,
			      "mutator %d faulted at %#llx, expected its first object's new address %p\n",
			      t, (unsigned long long)msg.arg.pagefault.address,
			      gc.to + o->new_off);
		}
	}
	rm_sleep_ms(SETTLE_MS);
	for (int t = 0; t < NMUT; t++)
		CHECK(!atomic_load(&gc.mut[t].done), "mutator %d finished before the pause\n", t);
	return ok;
}

/*
 * Make sure every mutator ends, then join them: UFFDIO_WAKE of to-space
 * (the bytes may be there and only the wake missing), then UFFDIO_UNREGISTER
 * (they read zeroes and fail their checks).  Only for a failed cycle.
 */
static void mutators_release(void)
{
	struct uffdio_range r = { .start = (uintptr_t)gc.to, .len = HEAP };

	if (all_done())
		return;
	ioctl(gc.uffd, UFFDIO_WAKE, &r);
	if (wait_all_done(2000)) {
		ksft_print_msg("UFFDIO_WAKE released the mutators: the wake was missing\n");
		return;
	}
	ioctl(gc.uffd, UFFDIO_UNREGISTER, &r);
	if (!wait_all_done(TIMEOUT_MS))
		ksft_exit_fail_msg("mutators stay blocked after UFFDIO_UNREGISTER of to-space\n");
}

/* --------------------------------------------------------------- checks */

/* The pagemap entries of a space (malloc'd), or NULL if unreadable. */
static uint64_t *space_pagemap(const uint8_t *space)
{
	size_t n = HEAP / gc.ps;
	uint64_t *e = malloc(n * sizeof(*e));

	if (!e || !rm_pagemap(space, n, e)) {
		ksft_print_msg("cannot read pagemap\n");
		free(e);
		return NULL;
	}
	return e;
}

static inline bool populated(uint64_t e)
{
	return e & (RM_PM_PRESENT | RM_PM_SWAP);
}

static inline bool same_page(uint64_t a, uint64_t b)
{
	return (a & RM_PM_PRESENT) && (b & RM_PM_PRESENT) && (a & RM_PM_PFN) == (b & RM_PM_PFN);
}

/*
 * Before the pause: from-space's pagemap into @pm.  Every live page must be
 * present (not swapped out) with its PFN (root sees it): the counters count
 * on the first, the zero-copy check on the second.
 */
static bool live_pages_record(uint64_t *pm)
{
	unsigned int absent = 0, nopfn = 0;
	bool ok = true;

	if (!rm_pagemap(gc.from, HEAP / gc.ps, pm)) {
		ksft_print_msg("cannot read pagemap of from-space\n");
		return false;
	}
	for (unsigned int i = 0; i < gc.nlive; i++) {
		const struct obj *o = &gc.obj[gc.live[i]];

		for (size_t k = 0; k < o->size / gc.ps; k++) {
			uint64_t e = pm[o->off / gc.ps + k];

			absent += !(e & RM_PM_PRESENT);
			nopfn += (e & RM_PM_PRESENT) && !(e & RM_PM_PFN);
		}
	}
	CHECK(!absent, "%u live pages not present in from-space before the pause\n", absent);
	CHECK(!nopfn, "%u live pages show no PFN in pagemap (not root?)\n", nopfn);
	return ok;
}

/* Whether a mutator's blocked fault put a page table into the to-space PMD at @win. */
static bool mutator_table(uint64_t win)
{
	for (int t = 0; t < NMUT; t++) {
		uint64_t a = (uintptr_t)gc.to + gc.obj[gc.mut[t].pick[0]].new_off;

		if (a - win < RM_PMD)
			return true;
	}
	return false;
}

/*
 * The counters of the pause, from the layout alone.  Every live page is a
 * 4 KiB folio of its own (MADV_NOHUGEPAGE, every word written, present:
 * live_pages_record()), and every chunk relocates (to-space has never
 * been faulted, and the chunks come from one VMA at different offsets).
 * A whole PMD of to-space inside a chunk whose source is a whole PMD too
 * (a 2 MiB object) moves its page table (one pmd_move) unless a mutator's
 * fault gave that PMD a table already; every other page moves as one PTE.
 * Relocating, the table's folios are relocated one by one as the PTEs'
 * are: folios_relocated is every live page.  No THP, no PUD.
 */
static void counters_expect(struct rust_mremap_movev *w)
{
	memset(w, 0, sizeof(*w));
	for (unsigned int i = 0; i < gc.nvec; i++) {
		const struct rust_mremap_vec *v = &gc.vec[i];
		uint64_t d = v->dst, end = v->dst + v->len;

		while (d < end) {
			uint64_t s = v->src + (d - v->dst);

			if (!(d % RM_PMD) && !(s % RM_PMD) && end - d >= RM_PMD &&
			    !mutator_table(d)) {
				w->pmd_moves++;
				d += RM_PMD;
			} else {
				w->pte_moves++;
				d += gc.ps;
			}
		}
	}
	for (unsigned int i = 0; i < gc.nlive; i++)
		w->folios_relocated += gc.obj[gc.live[i]].size / gc.ps;
}

/* Whether the counters of @m are those of @w; says so if not. */
static bool counters_are(const char *what, const struct rust_mremap_movev *m,
			 const struct rust_mremap_movev *w)
{
	struct rm_cnt got = rm_cnt_v(m), want = rm_cnt_v(w);

	return rm_cnt_eq(what, &got, &want);
}

/*
 * RUST_MREMAP_IOC_MOVEV of the planned chunks with @flags and @uffd (with
 * RUST_MREMAP_UFFD a userfaultfd, else 0): 0 or -errno; *@out receives the
 * struct as the kernel left it.
 */
static int gc_movev(unsigned int flags, int uffd, struct rust_mremap_movev *out)
{
	struct rust_mremap_movev m = {
		.pidfd = SELF,
		.flags = flags,
		.vec = (uintptr_t)gc.vec,
		.count = gc.nvec,
		.uffd = uffd,
	};
	int ret;

	rm_poison_outv(&m);
	ret = ioctl(gc.fd, RUST_MREMAP_IOC_MOVEV, &m);
	*out = m;
	return ret ? -errno : 0;
}

/* A call refused as the monitor rule says: EPERM for entry 0, nothing done, counters 0. */
static bool refused(const char *what, int ret, const struct rust_mremap_movev *m)
{
	static const struct rust_mremap_movev zero;
	bool ok = true;

	CHECK(ret == -EPERM, "%s: %s, expected EPERM\n", what,
	      ret ? strerror(-ret) : "success");
	CHECK(m->done == 0 && m->moved == 0 && m->err_index == 0,
	      "%s: done %u, moved %llu, err_index %u; expected 0, 0, 0\n", what, m->done,
	      (unsigned long long)m->moved, m->err_index);
	ok &= counters_are(what, m, &zero);
	return ok;
}

/*
 * Only the monitor moves registered memory.  To-space (and, from the second
 * cycle, from-space too) is registered with gc.uffd: the pause's vector
 * without RUST_MREMAP_UFFD, as a move and as a dry run, and with another
 * userfaultfd of this process, is refused with EPERM; the dry run with
 * gc.uffd succeeds (its counters go to st->dry).  Then nothing moved: every
 * live page is still in from-space at the physical page of @before,
 * to-space holds nothing, every mutator is still blocked and no fault is
 * queued (a wake would have let one fault again).
 */
static bool monitor_rule(const uint64_t *before, struct stats *st)
{
	uint64_t *from_pm = NULL, *to_pm = NULL;
	unsigned int left = 0, arrived = 0;
	struct rust_mremap_movev m;
	struct uffd_msg msg = { 0 };
	bool ok = true;
	int ret;

	ok &= refused("MOVEV without RUST_MREMAP_UFFD", gc_movev(0, 0, &m), &m);
	ok &= refused("dry run without RUST_MREMAP_UFFD",
		      gc_movev(RUST_MREMAP_DRY_RUN, 0, &m), &m);
	ok &= refused("MOVEV with another userfaultfd of the process",
		      gc_movev(RUST_MREMAP_UFFD, gc.uffd_other, &m), &m);
	ret = gc_movev(RUST_MREMAP_UFFD | RUST_MREMAP_DRY_RUN, gc.uffd, &st->dry);
	CHECK(!ret && st->dry.done == 0 && st->dry.moved == 0 && st->dry.err_index == gc.nvec,
	      "dry run with the monitor's userfaultfd: %s, done %u, moved %llu, err_index %u; expected success, 0, 0, %u\n",
	      ret ? strerror(-ret) : "success", st->dry.done, (unsigned long long)st->dry.moved,
	      st->dry.err_index, gc.nvec);

	rm_sleep_ms(SETTLE_MS);
	from_pm = space_pagemap(gc.from);
	to_pm = space_pagemap(gc.to);
	if (!from_pm || !to_pm) {
		ok = false;
		goto out;
	}
	for (unsigned int i = 0; i < gc.nlive; i++) {
		const struct obj *o = &gc.obj[gc.live[i]];

		for (size_t k = 0, p = o->off / gc.ps; k < o->size / gc.ps; k++, p++)
			left += same_page(from_pm[p], before[p]);
	}
	for (size_t k = 0; k < HEAP / gc.ps; k++)
		arrived += populated(to_pm[k]);
	CHECK(left == st->live_bytes / gc.ps,
	      "after the refused calls only %u of %zu live pages are where they were\n", left,
	      st->live_bytes / gc.ps);
	CHECK(!arrived, "after the refused calls %u to-space pages are populated\n", arrived);
	for (int t = 0; t < NMUT; t++)
		CHECK(!atomic_load(&gc.mut[t].done),
		      "mutator %d finished after the refused calls\n", t);
	CHECK(read(gc.uffd, &msg, sizeof(msg)) < 0 && errno == EAGAIN,
	      "a fault is queued after the refused calls (event %#x at %#llx)\n", msg.event,
	      (unsigned long long)msg.arg.pagefault.address);
out:
	free(from_pm);
	free(to_pm);
	return ok;
}

/*
 * After the pause: every live object is whole at its new address and gone
 * from its old one; to-space holds nothing else; the dead objects are
 * where they were, untouched.  Pagemap first: a read of a to-space page
 * that nothing moved to would block.  *@zero_copy: every live page at its
 * new address is the physical page @before recorded at its old one.
 */
static bool collector_check(const uint64_t *before, bool *zero_copy)
{
	size_t n = HEAP / gc.ps;
	uint64_t *to_pm = space_pagemap(gc.to), *from_pm = space_pagemap(gc.from);
	bool *to_live = calloc(n, sizeof(bool));
	unsigned int bad_to = 0, left_from = 0, dead_gone = 0, stray = 0, copied = 0;
	size_t first_copied = 0;
	bool ok = true;

	*zero_copy = false;
	if (!to_pm || !from_pm || !to_live) {
		ok = false;
		goto out;
	}
	for (unsigned int i = 0; i < gc.nobj; i++) {
		const struct obj *o = &gc.obj[i];
		size_t p0 = o->off / gc.ps, np = o->size / gc.ps, q0 = o->new_off / gc.ps;

		for (size_t k = 0; k < np; k++) {
			if (o->live) {
				to_live[q0 + k] = true;
				bad_to += !populated(to_pm[q0 + k]);
				left_from += populated(from_pm[p0 + k]);
				if (!same_page(to_pm[q0 + k], before[p0 + k]) && !copied++)
					first_copied = q0 + k;
			} else {
				dead_gone += !populated(from_pm[p0 + k]);
			}
		}
	}
	for (size_t k = 0; k < n; k++)
		stray += populated(to_pm[k]) && !to_live[k];
	CHECK(!bad_to, "%u pages of live objects missing at their new address\n", bad_to);
	CHECK(!left_from, "%u pages of live objects still populated in from-space\n", left_from);
	CHECK(!dead_gone, "%u pages of dead objects gone from from-space\n", dead_gone);
	CHECK(!stray, "%u to-space pages populated outside the live objects\n", stray);
	*zero_copy = !copied;
	if (copied)
		ksft_print_msg(
			"%u live pages are not the physical page they were in from-space; the first at to-space page %zu: pagemap %#llx\n",
			copied, first_copied, (unsigned long long)to_pm[first_copied]);
	if (!ok)
		goto out;
	for (unsigned int i = 0; i < gc.nobj; i++) {
		const struct obj *o = &gc.obj[i];
		const uint8_t *p = o->live ? gc.to + o->new_off : gc.from + o->off;
		size_t w = obj_check(p, o);

		CHECK(w == (size_t)-1,
		      "%s object %u (%zu KiB) at %p: word %zu is %#llx, expected %#llx\n",
		      o->live ? "live" : "dead", o->id, o->size >> 10, p, w,
		      w == (size_t)-1 ? 0ULL : (unsigned long long)((const uint64_t *)p)[w],
		      w == (size_t)-1 ? 0ULL : (unsigned long long)obj_word(o->id, w));
	}
out:
	free(to_pm);
	free(from_pm);
	free(to_live);
	return ok;
}

/* ---------------------------------------------------------------- cycle */

static bool cycle(int c, struct stats *st)
{
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffd_msg msg = { 0 };
	struct timespec t0, t1;
	int started = 0, ret;
	uint64_t *before;	/* from-space's pagemap before the pause */
	bool ok = true;

	memset(st, 0, sizeof(*st));
	mark(c);
	gc.to = space_map();
	if (!gc.to)
		return false;
	before = calloc(HEAP / gc.ps, sizeof(*before));
	if (!before) {
		ksft_print_msg("out of memory\n");
		munmap(gc.to, HEAP);
		return false;
	}
	reg.range.start = (uintptr_t)gc.to;
	reg.range.len = HEAP;
	if (ioctl(gc.uffd, UFFDIO_REGISTER, &reg)) {
		ksft_print_msg("UFFDIO_REGISTER of to-space: %s\n", strerror(errno));
		munmap(gc.to, HEAP);
		free(before);
		return false;
	}
	if (!plan(st)) {
		munmap(gc.to, HEAP);
		free(before);
		return false;
	}
	say("mark: %u live objects (%zu KiB), %u dead, scattered over from-space\n", st->live,
	    st->live_bytes >> 10, st->dead);
	say("to-space: %zu MiB at %p, registered with userfaultfd (missing faults)\n",
	    HEAP >> 20, gc.to);
	say("forwarding: dense, 2 MiB objects PMD-aligned: %zu KiB of to-space, %u chunks\n",
	    gc.top >> 10, st->chunks);

	mutators_pick();
	for (; started < NMUT; started++) {
		if (pthread_create(&gc.mut[started].th, NULL, mutator_fn, &gc.mut[started])) {
			ksft_print_msg("cannot start a mutator\n");
			ok = false;
			break;
		}
	}
	if (ok)
		ok = mutators_blocked(st);
	if (!ok)
		goto out_release;
	say("%d mutator threads read live objects at their new addresses:\n", NMUT);
	say("  all %u blocked in userfaultfd, on to-space pages nothing moved to yet\n",
	    st->faults);

	/* Where every live page is, physically, and what the pause must count. */
	ok = live_pages_record(before);
	counters_expect(&st->want);
	if (!ok)
		goto out_release;

	/* Registered memory: only the holder of its userfaultfd may move it. */
	st->pass[T_MONITOR] = monitor_rule(before, st);
	if (!st->pass[T_MONITOR]) {
		ok = false;
		goto out_release;
	}
	say("refused with EPERM, nothing moved: the same MOVEV without RUST_MREMAP_UFFD\n");
	say("  (and its dry run), and with another userfaultfd: only the monitor, the\n");
	say("  holder of to-space's userfaultfd, moves registered memory\n");

	/* The pause: one call for the whole heap, by the monitor. */
	st->vmas_before = vma_count();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = gc_movev(RUST_MREMAP_UFFD, gc.uffd, &st->mv);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	st->vmas_after = vma_count();
	st->pause_us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
	CHECK(!ret && st->mv.done == gc.nvec && st->mv.moved == 0 && st->mv.err_index == gc.nvec,
	      "RUST_MREMAP_IOC_MOVEV of %u chunks: %s, done %u, moved %llu, err_index %u\n",
	      gc.nvec, ret ? strerror(-ret) : "success", st->mv.done,
	      (unsigned long long)st->mv.moved, st->mv.err_index);
	say("pause: ONE RUST_MREMAP_IOC_MOVEV of %u chunks (%zu KiB), RUST_MREMAP_UFFD: %ld us\n",
	    gc.nvec, st->live_bytes >> 10, st->pause_us);
	say("  pmd_moves=%llu pte_moves=%llu huge_pmd_moves=%llu pud_moves=%llu relocated=%llu\n",
	    (unsigned long long)st->mv.pmd_moves, (unsigned long long)st->mv.pte_moves,
	    (unsigned long long)st->mv.huge_pmd_moves, (unsigned long long)st->mv.pud_moves,
	    (unsigned long long)st->mv.folios_relocated);
	if (!ret) {
		bool mv_ok = counters_are("the pause", &st->mv, &st->want);

		st->pass[T_COUNTERS] = counters_are("its dry run", &st->dry, &st->want) && mv_ok;
	}
	if (st->pass[T_COUNTERS]) {
		say("  as the layout predicts (and its dry run said): a 2 MiB object is a\n");
		say("  page table moved whole, every other live page a PTE, every live folio\n");
		say("  relocated\n");
	}

	/* The module's wake, and nothing else, lets the mutators go on. */
	CHECK(wait_all_done(TIMEOUT_MS),
	      "the mutators were not all woken within %d s of the move\n", TIMEOUT_MS / 1000);
out_release:
	mutators_release();
	for (int t = 0; t < started; t++) {
		struct mutator *m = &gc.mut[t];

		pthread_join(m->th, NULL);
		st->verified_by_mutators += m->verified;
		CHECK(!m->bad, "mutator %d: %u of %u objects wrong, first object %u at word %zu\n",
		      t, m->bad, m->verified, m->bad_id, m->bad_word);
	}
	if (!ok) {
		/* Nothing may block the checks below (nor the unmap of a space). */
		struct uffdio_range r = { .start = (uintptr_t)gc.to, .len = HEAP };

		ioctl(gc.uffd, UFFDIO_UNREGISTER, &r);
		r.start = (uintptr_t)gc.from;
		ioctl(gc.uffd, UFFDIO_UNREGISTER, &r);
		goto out;
	}
	say("the move woke the %u blocked mutators (%u faults woken)\n", st->faults, st->faults);
	say("  they verified %u objects byte for byte\n", st->verified_by_mutators);

	/* A mutator that faulted again (woken before its page arrived) left a message. */
	CHECK(read(gc.uffd, &msg, sizeof(msg)) < 0 && errno == EAGAIN,
	      "a fault is queued after the pause (event %#x at %#llx)\n", msg.event,
	      (unsigned long long)msg.arg.pagefault.address);
	ok &= collector_check(before, &st->pass[T_ZERO_COPY]);
	CHECK(st->vmas_before > 0 && st->vmas_after == st->vmas_before,
	      "VMAs: %d before the pause, %d after\n", st->vmas_before, st->vmas_after);
	st->pass[T_MOVE] = ok;
	if (!ok)
		goto out;
	say("collector: %u live objects verified at their new addresses, none left in from-space\n",
	    st->live);
	say("  %u dead ones left behind untouched; VMAs: %d before the pause, %d after\n",
	    st->dead, st->vmas_before, st->vmas_after);
	if (st->pass[T_ZERO_COPY])
		say("  every live page arrived as the same physical page (pagemap PFN): no copy\n");
	if (!gc.demo)
		ksft_print_msg(
			"cycle %d: %u objects, %u live (%zu KiB) in %u chunks, %u dead: one RUST_MREMAP_IOC_MOVEV, %ld us; pmd_moves %llu pte_moves %llu huge_pmd_moves %llu pud_moves %llu folios_relocated %llu (expected %llu %llu 0 0 %llu); %u faults woken, %u objects verified by %d mutators; VMAs %d -> %d\n",
			c, st->objects, st->live, st->live_bytes >> 10, st->chunks, st->dead,
			st->pause_us, (unsigned long long)st->mv.pmd_moves,
			(unsigned long long)st->mv.pte_moves,
			(unsigned long long)st->mv.huge_pmd_moves,
			(unsigned long long)st->mv.pud_moves,
			(unsigned long long)st->mv.folios_relocated,
			(unsigned long long)st->want.pmd_moves,
			(unsigned long long)st->want.pte_moves,
			(unsigned long long)st->want.folios_relocated, st->faults,
			st->verified_by_mutators, NMUT, st->vmas_before, st->vmas_after);
out:
	free(before);
	/* From-space goes, the dead with it; to-space, still registered, is the next from-space. */
	munmap(gc.from, HEAP);
	gc.from = gc.to;
	gc.to = NULL;
	if (ok) {
		unsigned int n = 0;

		for (unsigned int i = 0; i < gc.nlive; i++) {
			gc.obj[n] = gc.obj[gc.live[i]];
			gc.obj[n].off = gc.obj[n].new_off;
			n++;
		}
		gc.nobj = n;
	}
	return ok;
}

/* ----------------------------------------------------------------- main */

static int demo(void)
{
	struct rust_mremap_version v = { 0 };
	struct stats st;
	bool ok;

	gc.fd = open(RM_DEV, O_RDWR | O_CLOEXEC);
	if (gc.fd < 0 || ioctl(gc.fd, RUST_MREMAP_IOC_VERSION, &v)) {
		printf("gc: %s: %s\n", RM_DEV, strerror(errno));
		return 1;
	}
	if (v.abi_version < 4) {
		printf("gc: %s has ABI %u; moving userfaultfd-registered memory needs ABI 4\n",
		       RM_DEV, v.abi_version);
		return 1;
	}
	say("%s answers: ABI %u\n", RM_DEV, v.abi_version);
	if (!heap_build())
		return 1;
	ok = cycle(1, &st);
	for (int t = 0; t < T_NR; t++)
		ok &= st.pass[t];
	munmap(gc.from, HEAP);
	say("%s\n", ok ? "success" : "FAILED");
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	bool ok = true;

	gc.ps = rm_page_size();
	gc.rng = 0x9c0ffee5eed1ull;
	gc.demo = argc > 1 && !strcmp(argv[1], "--demo");
	signal(SIGPIPE, SIG_IGN);
	gc.uffd = rm_uffd_open(UFFD_FEATURE_THREAD_ID, NULL);
	gc.uffd_other = gc.uffd < 0 ? -1 : rm_uffd_open(0, NULL);
	if (gc.demo) {
		if (gc.uffd < 0 || gc.uffd_other < 0) {
			printf("gc: userfaultfd: %s\n", strerror(errno));
			return 1;
		}
		return demo();
	}

	ksft_print_header();
	ksft_set_plan(CYCLES * T_NR);
	if (gc.uffd < 0 || gc.uffd_other < 0)
		ksft_exit_fail_msg(
			"userfaultfd(UFFD_USER_MODE_ONLY) with UFFD_FEATURE_THREAD_ID: %s\n",
			strerror(errno));
	gc.fd = rm_open();
	if (!heap_build())
		ksft_exit_fail_msg("cannot build the heap\n");
	for (int c = 1; c <= CYCLES; c++) {
		struct stats st;

		if (!ok) {
			for (int t = 0; t < T_NR; t++)
				ksft_test_result_fail(
					"gc_cycle_%d_%s: not run, an earlier cycle failed\n", c,
					test_name[t]);
			continue;
		}
		ok = cycle(c, &st);
		for (int t = 0; t < T_NR; t++)
			ksft_test_result(st.pass[t], "gc_cycle_%d_%s\n", c, test_name[t]);
	}
	munmap(gc.from, HEAP);
	close(gc.uffd_other);
	close(gc.uffd);
	close(gc.fd);
	ksft_finished();
}
