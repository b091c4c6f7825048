// SPDX-License-Identifier: GPL-2.0
/*
 * rust_mremap userfaultfd selftest (ABI 3).
 *
 * A VMA registered with userfaultfd for missing faults only is accepted on
 * either side of RUST_MREMAP_IOC_MOVE and RUST_MREMAP_IOC_MOVEV, under
 * UFFDIO_MOVE's rules, and is refused in any other mode:
 *  - registered for missing faults (destination, source, both): the move
 *    gives the counters the same move gives unregistered, and the bytes
 *    arrive;
 *  - a thread of the caller blocked in a missing fault on a destination
 *    page wakes when the move puts bytes there, and reads exactly them
 *    (never resolved with UFFDIO_COPY/ZEROPAGE/WAKE); a thread blocked
 *    outside the moved range stays blocked; with RUST_MREMAP_DONTWAKE no
 *    one wakes until UFFDIO_WAKE.  UFFDIO_MOVE itself runs the same cases
 *    as a reference for what the test expects of the kernel;
 *  - registered with UFFDIO_REGISTER_MODE_WP (alone or with MISSING):
 *    EOPNOTSUPP, memory intact;
 *  - a read-only source with either VMA registered: EINVAL, as UFFDIO_MOVE
 *    gives (validate_move_areas()), while the same pair unregistered moves;
 *  - a non-cooperative event the monitor has not read (mmap_changing: a
 *    MADV_DONTNEED with UFFD_FEATURE_EVENT_REMOVE, a fork with
 *    UFFD_FEATURE_EVENT_FORK): EAGAIN and nothing moves, as UFFDIO_MOVE;
 *    once the event is read, the move succeeds.
 *
 * Every wait is bounded (TIMEOUT_MS): a missing wake fails the test, and a
 * blocked thread is then released (UFFDIO_WAKE, then UFFDIO_UNREGISTER,
 * after which it faults in an ordinary page) so that the program ends.
 *
 * Runs as root with /dev/rust_mremap present.
 */
#include "rust_mremap_lib.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/userfaultfd.h>

#define SELF		RUST_MREMAP_PIDFD_SELF
#define RW		(PROT_READ | PROT_WRITE)
#define TIMEOUT_MS	10000	/* the longest any wait may take */
#define SETTLE_MS	100	/* after its fault is seen, until a thread surely sleeps */
#define STILL_MS	300	/* how long a thread that must stay blocked is watched */
#define MISSING		UFFDIO_REGISTER_MODE_MISSING
#define WP		UFFDIO_REGISTER_MODE_WP

static size_t ps;			/* base page size */
static unsigned int next_seed = 0x0ffd0000;

/* ---------------------------------------------------------------- helpers */

/* Wait until *@flag is set, for at most @ms; whether it was. */
static bool wait_flag(_Atomic int *flag, long ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!atomic_load(flag)) {
		if (rm_ms_since(&t0) >= ms)
			return false;
		rm_sleep_ms(1);
	}
	return true;
}

/*
 * Pages of [p, p + len) that are populated (present or swapped), from
 * pagemap: how a registered VMA is looked at without reading it (a read of
 * a missing page there would block); -1 if pagemap cannot be read.
 */
static long populated(const void *p, size_t len)
{
	size_t n = len / ps;
	uint64_t *e = malloc(n * sizeof(*e));
	long cnt = 0;

	if (!e || !rm_pagemap(p, n, e)) {
		free(e);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		cnt += !!(e[i] & (RM_PM_PRESENT | RM_PM_SWAP));
	free(e);
	return cnt;
}

/* --------------------------------------------------------- userfaultfd */

/*
 * A userfaultfd for faults from user mode, non-blocking (so that poll()
 * works on it), with @features enabled; -errno on failure.
 */
static int uffd_new(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	int e;

	if (uffd < 0) {
		e = errno;
		ksft_print_msg("userfaultfd(UFFD_USER_MODE_ONLY): %s\n", strerror(e));
		return -e;
	}
	if (ioctl(uffd, UFFDIO_API, &api)) {
		e = errno;
		ksft_print_msg("UFFDIO_API with features %#llx: %s\n",
			       (unsigned long long)features, strerror(e));
		close(uffd);
		return -e;
	}
	return uffd;
}

static bool uffd_reg(int uffd, void *p, size_t len, uint64_t mode)
{
	struct uffdio_register r = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = mode,
	};

	if (!ioctl(uffd, UFFDIO_REGISTER, &r))
		return true;
	ksft_print_msg("UFFDIO_REGISTER of %p + %#zx, mode %#llx: %s\n", p, len,
		       (unsigned long long)mode, strerror(errno));
	return false;
}

static int uffd_unreg(int uffd, void *p, size_t len)
{
	struct uffdio_range r = { .start = (uintptr_t)p, .len = len };

	return ioctl(uffd, UFFDIO_UNREGISTER, &r) ? -errno : 0;
}

static int uffd_wake(int uffd, void *p, size_t len)
{
	struct uffdio_range r = { .start = (uintptr_t)p, .len = len };

	return ioctl(uffd, UFFDIO_WAKE, &r) ? -errno : 0;
}

/* Wait for @uffd to have a message (a fault or an event) queued: 0, -ETIMEDOUT or -errno. */
static int uffd_wait_readable(int uffd, long ms)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct timespec t0;
	long left;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		left = ms - rm_ms_since(&t0);
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		if (pfd.revents & POLLIN)
			return 0;
		return -EIO;	/* POLLERR: not initialized or not O_NONBLOCK */
	}
}

/* Read one message from @uffd, waiting at most @ms for one: 0, -ETIMEDOUT or -errno. */
static int uffd_read_msg(int uffd, struct uffd_msg *msg, long ms)
{
	struct timespec t0;
	ssize_t n;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		r = uffd_wait_readable(uffd, ms - rm_ms_since(&t0));
		if (r)
			return r;
		n = read(uffd, msg, sizeof(*msg));
		if (n == (ssize_t)sizeof(*msg))
			return 0;
		/* A fault woken between poll() and read() is no longer there. */
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		return n < 0 ? -errno : -EIO;
	}
}

/* No message is queued on @uffd (no thread faulted again, no event); says what is. */
static bool uffd_quiet(int uffd, const char *what)
{
	struct uffd_msg msg;
	ssize_t n = read(uffd, &msg, sizeof(msg));

	if (n < 0 && errno == EAGAIN)
		return true;
	if (n == (ssize_t)sizeof(msg))
		ksft_print_msg("%s: unexpected message: event %#x, address %#llx, flags %#llx\n",
			       what, msg.event, (unsigned long long)msg.arg.pagefault.address,
			       (unsigned long long)msg.arg.pagefault.flags);
	else
		ksft_print_msg("%s: read of the userfaultfd: %zd (%s)\n", what, n,
			       n < 0 ? strerror(errno) : "short");
	return false;
}

/* ------------------------------------------------------ region placement */

/*
 * Two separate fresh mappings: src, whose first @fill bytes hold the
 * pattern of seed (offset 0), and dst, never touched.  Both start on an
 * @align boundary, with at least @align free around and between them.
 */
struct pair {
	uint8_t *src, *dst;
	size_t slen, dlen;
	unsigned int seed;
};

static void pair_unmap(struct pair *pr)
{
	if (pr->src)
		munmap(pr->src, pr->slen);
	if (pr->dst)
		munmap(pr->dst, pr->dlen);
	pr->src = pr->dst = NULL;
}

static bool pair_map(struct pair *pr, size_t slen, size_t dlen, size_t align, size_t fill)
{
	size_t doff = ((slen + align - 1) & ~(align - 1)) + align;
	uint8_t *h = rm_find_hole(doff + dlen, align, 0, align);

	memset(pr, 0, sizeof(*pr));
	pr->slen = slen;
	pr->dlen = dlen;
	pr->seed = next_seed++;
	if (h) {
		pr->src = rm_map_at(h, slen, RW);
		pr->dst = pr->src ? rm_map_at(h + doff, dlen, RW) : NULL;
	}
	if (!pr->src || !pr->dst) {
		ksft_print_msg("cannot map a src/dst pair of %zu/%zu bytes\n", slen, dlen);
		pair_unmap(pr);
		return false;
	}
	rm_fill(pr->src, fill, pr->seed, 0);
	return true;
}

/* --------------------------------------------------------------- movers */

/* The three ways to move: the module's two ioctls and the kernel's UFFDIO_MOVE. */
enum mover { BY_MOVE, BY_MOVEV, BY_UFFDIO_MOVE };

static const char *const mover_name[] = {
	[BY_MOVE] = "RUST_MREMAP_IOC_MOVE",
	[BY_MOVEV] = "RUST_MREMAP_IOC_MOVEV",
	[BY_UFFDIO_MOVE] = "UFFDIO_MOVE",
};

/* What a move did: the return value, the bytes that arrived and the counters. */
struct outcome {
	int ret;
	uint64_t moved;
	uint64_t pmd, pte, huge, pud, relocated;
	/* RUST_MREMAP_IOC_MOVEV only: */
	uint32_t count, done, err_index;
	uint64_t vmoved;
};

/*
 * Move [src, src + len) to dst by @how, with the RUST_MREMAP_* @flags
 * (RUST_MREMAP_DONTWAKE becomes UFFDIO_MOVE_MODE_DONTWAKE for
 * UFFDIO_MOVE, through @uffd).  RUST_MREMAP_IOC_MOVEV gets two entries,
 * the first @split bytes and the rest, of the same offset dst - src.
 */
static void move_by(struct outcome *o, enum mover how, int fd, int uffd, unsigned int flags,
		    uint8_t *src, uint8_t *dst, size_t len, size_t split)
{
	struct rust_mremap_vec vec[2] = {
		{ (uintptr_t)src, (uintptr_t)dst, split },
		{ (uintptr_t)src + split, (uintptr_t)dst + split, len - split },
	};
	struct rust_mremap_movev mv;
	struct rust_mremap_move m;
	struct uffdio_move um;

	memset(o, 0, sizeof(*o));
	switch (how) {
	case BY_MOVE:
		o->ret = rm_move(fd, SELF, flags, src, dst, len, &m);
		o->moved = m.moved;
		o->pmd = m.pmd_moves;
		o->pte = m.pte_moves;
		o->huge = m.huge_pmd_moves;
		o->pud = m.pud_moves;
		o->relocated = m.folios_relocated;
		break;
	case BY_MOVEV:
		o->ret = rm_movev(fd, SELF, flags, vec, 2, &mv);
		o->count = 2;
		o->done = mv.done;
		o->err_index = mv.err_index;
		o->vmoved = mv.moved;
		for (uint32_t i = 0; i < mv.done && i < 2; i++)
			o->moved += vec[i].len;
		/* A done past count (not written back) shows as the garbage it is. */
		if (mv.done < 2)
			o->moved += mv.moved;
		else if (mv.done > 2)
			o->moved = mv.moved;
		o->pmd = mv.pmd_moves;
		o->pte = mv.pte_moves;
		o->huge = mv.huge_pmd_moves;
		o->pud = mv.pud_moves;
		o->relocated = mv.folios_relocated;
		break;
	case BY_UFFDIO_MOVE:
		memset(&um, 0, sizeof(um));
		um.src = (uintptr_t)src;
		um.dst = (uintptr_t)dst;
		um.len = len;
		um.mode = flags & RUST_MREMAP_DONTWAKE ? UFFDIO_MOVE_MODE_DONTWAKE : 0;
		o->ret = ioctl(uffd, UFFDIO_MOVE, &um) ? -errno : 0;
		o->moved = um.move > 0 ? (uint64_t)um.move : 0;
		break;
	}
}

/* The move succeeded and moved all @len bytes; says how it did not. */
static bool moved_all(const char *what, enum mover how, const struct outcome *o, size_t len)
{
	bool ok = true;

	CHECK(o->ret == 0 && o->moved == len, "%s, %s: %s, moved %llu of %zu bytes\n", what,
	      mover_name[how], o->ret ? strerror(-o->ret) : "success",
	      (unsigned long long)o->moved, len);
	if (how == BY_MOVEV)
		CHECK(o->ret || (o->done == o->count && o->vmoved == 0 && o->err_index == o->count),
		      "%s, %s: success with done %u, moved %llu, err_index %u of %u entries\n",
		      what, mover_name[how], o->done, (unsigned long long)o->vmoved, o->err_index,
		      o->count);
	return ok;
}

/*
 * The move by @how fails with -@want and moves nothing; the module's
 * ioctls are issued as a dry run first, then for real.  A vectored move
 * must name entry 0 (both entries are in the same VMAs).
 */
static bool refused(const char *what, enum mover how, int fd, int uffd, unsigned int flags,
		    uint8_t *src, uint8_t *dst, size_t len, int want)
{
	bool ok = true;

	for (int dry = how == BY_UFFDIO_MOVE ? 0 : 1; dry >= 0; dry--) {
		const char *d = dry ? " [dry run]" : "";
		struct outcome o;

		move_by(&o, how, fd, uffd, flags | (dry ? RUST_MREMAP_DRY_RUN : 0), src, dst, len,
			len / 2);
		CHECK(o.ret == -want, "%s, %s%s: returned %d (%s), expected -%d (%s)\n", what,
		      mover_name[how], d, o.ret, o.ret ? strerror(-o.ret) : "success", want,
		      strerror(want));
		CHECK(o.moved == 0, "%s, %s%s: moved %llu, expected 0\n", what, mover_name[how], d,
		      (unsigned long long)o.moved);
		if (how == BY_MOVEV)
			CHECK(o.done == 0 && o.vmoved == 0 && o.err_index == 0,
			      "%s, %s%s: done %u, moved %llu, err_index %u; expected 0, 0, 0\n",
			      what, mover_name[how], d, o.done, (unsigned long long)o.vmoved,
			      o.err_index);
	}
	return ok;
}

/* Both module ioctls refuse with -@want, and UFFDIO_MOVE too when @uffd >= 0. */
static bool all_refuse(const char *what, int fd, int uffd, uint8_t *src, uint8_t *dst,
		       size_t len, int want)
{
	bool ok = refused(what, BY_MOVE, fd, -1, 0, src, dst, len, want);

	ok &= refused(what, BY_MOVEV, fd, -1, 0, src, dst, len, want);
	if (uffd >= 0)
		ok &= refused(what, BY_UFFDIO_MOVE, fd, uffd, 0, src, dst, len, want);
	return ok;
}

/* ------------------------------------------- missing mode: accepted */

enum reg { REG_NONE = 0, REG_SRC = 1, REG_DST = 2, REG_BOTH = 3 };

static const char *const reg_name[] = {
	[REG_NONE] = "unregistered",
	[REG_SRC] = "src registered for missing faults",
	[REG_DST] = "dst registered for missing faults",
	[REG_BOTH] = "src and dst registered for missing faults",
};

static bool same_counters(const char *what, const struct outcome *a, const char *an,
			  const struct outcome *b, const char *bn)
{
	if (a->pmd == b->pmd && a->pte == b->pte && a->huge == b->huge && a->pud == b->pud &&
	    a->relocated == b->relocated)
		return true;
	ksft_print_msg(
		"%s: counters pmd/pte/huge/pud/relocated %s %llu/%llu/%llu/%llu/%llu, %s %llu/%llu/%llu/%llu/%llu\n",
		what, an, (unsigned long long)a->pmd, (unsigned long long)a->pte,
		(unsigned long long)a->huge, (unsigned long long)a->pud,
		(unsigned long long)a->relocated, bn, (unsigned long long)b->pmd,
		(unsigned long long)b->pte, (unsigned long long)b->huge,
		(unsigned long long)b->pud, (unsigned long long)b->relocated);
	return false;
}

/*
 * 2 MiB + 16 pages between PMD-aligned fresh VMAs (a whole table and 16
 * single entries), the registered pair and an unregistered reference pair
 * of the same geometry, moved the same way by @how: the registered move
 * gives what its dry run predicted and what the reference move gives.
 * Where only dst is registered, UFFDIO_MOVE accepts the same move.
 */
static enum res accept_test(int fd, enum reg reg, enum mover how)
{
	size_t len = RM_PMD + 16 * ps, split = RM_PMD;
	struct outcome dry = { 0 }, got, want, um;
	int us = -1, ud = -1, uk = -1;
	struct pair pr, ref, kp = { 0 };
	bool ok = true;

	if (!pair_map(&pr, len, len, RM_PMD, len))
		return R_FAIL;
	if (!pair_map(&ref, len, len, RM_PMD, len)) {
		pair_unmap(&pr);
		return R_FAIL;
	}
	if (reg & REG_SRC) {
		us = uffd_new(0);
		ok &= us >= 0 && uffd_reg(us, pr.src, pr.slen, MISSING);
	}
	if (reg & REG_DST) {
		/* Another context than src's: each side's rules come from its own. */
		ud = uffd_new(0);
		ok &= ud >= 0 && uffd_reg(ud, pr.dst, pr.dlen, MISSING);
	}
	if (!ok)
		goto out_close;

	if (how != BY_UFFDIO_MOVE) {
		move_by(&dry, how, fd, -1, RUST_MREMAP_DRY_RUN, pr.src, pr.dst, len, split);
		CHECK(dry.ret == 0 && dry.moved == 0, "%s, %s [dry run]: %s, moved %llu\n",
		      reg_name[reg], mover_name[how], dry.ret ? strerror(-dry.ret) : "success",
		      (unsigned long long)dry.moved);
	}
	move_by(&got, how, fd, -1, 0, pr.src, pr.dst, len, split);
	ok &= moved_all(reg_name[reg], how, &got, len);
	move_by(&want, how, fd, -1, 0, ref.src, ref.dst, len, split);
	ok &= moved_all("unregistered reference", how, &want, len);
	if (ok) {
		ok &= same_counters(mover_name[how], &got, reg_name[reg], &want, "unregistered");
		ok &= same_counters(mover_name[how], &got, "move", &dry, "dry run");
	}

	/* The kernel's own move accepts the registered destination as well. */
	if (reg == REG_DST && how == BY_MOVE) {
		if (!pair_map(&kp, len, len, RM_PMD, len)) {
			ok = false;
		} else {
			uk = uffd_new(0);
			if (uk < 0 || !uffd_reg(uk, kp.dst, kp.dlen, MISSING)) {
				ok = false;
			} else {
				move_by(&um, BY_UFFDIO_MOVE, fd, uk, 0, kp.src, kp.dst, len, 0);
				ok &= moved_all("dst registered (reference)", BY_UFFDIO_MOVE, &um,
						len);
			}
			if (uk >= 0)
				close(uk);
			ok &= rm_chk_pat("UFFDIO_MOVE's dst", kp.dst, len, kp.seed, 0);
			ok &= rm_chk_zero("UFFDIO_MOVE's src", kp.src, len);
			pair_unmap(&kp);
		}
	}
	/* Closing the userfaultfd unregisters: reading an empty page no longer blocks. */
	if (us >= 0)
		close(us);
	if (ud >= 0)
		close(ud);
	ok &= rm_chk_pat("dst", pr.dst, len, pr.seed, 0);
	ok &= rm_chk_zero("src", pr.src, len);
	ok &= rm_chk_pat("reference dst", ref.dst, len, ref.seed, 0);
	ok &= rm_chk_zero("reference src", ref.src, len);
	pair_unmap(&ref);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
out_close:
	if (us >= 0)
		close(us);
	if (ud >= 0)
		close(ud);
	pair_unmap(&ref);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_missing_dst_move(int fd)
{
	return accept_test(fd, REG_DST, BY_MOVE);
}

static enum res t_missing_dst_movev(int fd)
{
	return accept_test(fd, REG_DST, BY_MOVEV);
}

static enum res t_missing_src_move(int fd)
{
	return accept_test(fd, REG_SRC, BY_MOVE);
}

static enum res t_missing_src_movev(int fd)
{
	return accept_test(fd, REG_SRC, BY_MOVEV);
}

static enum res t_missing_both_move(int fd)
{
	return accept_test(fd, REG_BOTH, BY_MOVE);
}

static enum res t_missing_both_movev(int fd)
{
	return accept_test(fd, REG_BOTH, BY_MOVEV);
}

/* RUST_MREMAP_DONTWAKE (bit 3) is a known flag; without userfaultfd it changes nothing. */
static enum res t_dontwake_unregistered(int fd)
{
	struct outcome o;
	struct pair pr;
	bool ok = true;

	for (int how = BY_MOVE; how <= BY_MOVEV; how++) {
		if (!pair_map(&pr, 16 * ps, 16 * ps, ps, 16 * ps))
			return R_FAIL;
		move_by(&o, how, fd, -1, RUST_MREMAP_DONTWAKE, pr.src, pr.dst, 16 * ps, 8 * ps);
		ok &= moved_all("RUST_MREMAP_DONTWAKE, unregistered", how, &o, 16 * ps);
		ok &= rm_chk_pat("dst", pr.dst, 16 * ps, pr.seed, 0);
		ok &= rm_chk_zero("src", pr.src, 16 * ps);
		pair_unmap(&pr);
	}
	return ok ? R_PASS : R_FAIL;
}

/* ------------------------------------------------- wake of the waiters */

/* A thread of ours that reads one page and keeps a copy of what it read. */
struct waiter {
	_Atomic int tid;
	_Atomic int done;
	pthread_t th;
	uint8_t *addr;		/* the page it reads */
	uint8_t *buf;		/* what it read, ps bytes */
	bool started;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;
	const volatile uint64_t *p = (const volatile uint64_t *)w->addr;
	uint64_t *b = (uint64_t *)w->buf;

	atomic_store(&w->tid, rm_gettid());
	/* The first load faults; in a registered VMA it blocks until woken. */
	for (size_t i = 0; i < ps / sizeof(*b); i++)
		b[i] = p[i];
	atomic_store(&w->done, 1);
	return NULL;
}

/*
 * Start a waiter on the page at @addr and wait until it is blocked in the
 * missing fault there: with @read_msg, the monitor reads the fault's
 * message and checks its address, kind and thread; without, it only sees
 * a fault queued (poll), leaving the message unread.
 */
static bool waiter_block(struct waiter *w, int uffd, uint8_t *addr, bool read_msg)
{
	struct uffd_msg msg;
	bool ok = true;
	int r;

	memset(w, 0, sizeof(*w));
	w->addr = addr;
	w->buf = malloc(ps);
	if (!w->buf || pthread_create(&w->th, NULL, waiter_fn, w)) {
		ksft_print_msg("cannot start a thread\n");
		free(w->buf);
		w->buf = NULL;
		return false;
	}
	w->started = true;
	if (read_msg)
		r = uffd_read_msg(uffd, &msg, TIMEOUT_MS);
	else
		r = uffd_wait_readable(uffd, TIMEOUT_MS);
	if (r) {
		ksft_print_msg("no fault of the thread reading %p within %d s: %s\n", addr,
			       TIMEOUT_MS / 1000, strerror(-r));
		return false;
	}
	if (read_msg) {
		CHECK(msg.event == UFFD_EVENT_PAGEFAULT, "event %#x, expected a page fault\n",
		      msg.event);
		CHECK(msg.arg.pagefault.address == (uintptr_t)addr,
		      "fault at %#llx, expected %p\n",
		      (unsigned long long)msg.arg.pagefault.address, addr);
		CHECK(!(msg.arg.pagefault.flags & (UFFD_PAGEFAULT_FLAG_WRITE |
						   UFFD_PAGEFAULT_FLAG_WP)),
		      "fault flags %#llx, expected a missing read fault\n",
		      (unsigned long long)msg.arg.pagefault.flags);
		CHECK(msg.arg.pagefault.feat.ptid == (uint32_t)atomic_load(&w->tid),
		      "fault of thread %u, expected %d\n", msg.arg.pagefault.feat.ptid,
		      atomic_load(&w->tid));
	}
	/* From the queued fault to schedule() is a few instructions: let them pass. */
	rm_sleep_ms(SETTLE_MS);
	CHECK(!atomic_load(&w->done), "the thread reading %p returned before any move\n", addr);
	return ok;
}

/*
 * End every waiter: unregistering @len bytes at @vma wakes those still
 * blocked, which then fault in an ordinary page.  A thread that stays
 * blocked even then ends the program.
 */
static void waiters_end(struct waiter *w, size_t n, int uffd, void *vma, size_t len)
{
	uffd_unreg(uffd, vma, len);
	for (size_t i = 0; i < n; i++) {
		if (!w[i].started)
			continue;
		if (!wait_flag(&w[i].done, TIMEOUT_MS))
			ksft_exit_fail_msg("a thread stays blocked on %p after UFFDIO_UNREGISTER\n",
					   w[i].addr);
		pthread_join(w[i].th, NULL);
		w[i].started = false;
	}
}

/*
 * 8 pages move into a 12-page destination registered for missing faults.
 * Waiters block on dst pages 1 and 6 (one in each entry of the vectored
 * move) and on page 10, outside the move; with @read_msg the monitor has
 * read their faults, without (one waiter, page 1) the fault stays queued.
 * Then @how moves: the waiters in the moved range must wake by themselves
 * and read the moved bytes, the one outside must stay blocked, and no one
 * faults again.  With @dontwake no one wakes until UFFDIO_WAKE.
 */
static enum res wake_test(int fd, enum mover how, bool dontwake, bool read_msg)
{
	static const size_t page[] = { 1, 6, 10 };
	size_t nw = read_msg ? 3 : 1, len = 8 * ps;
	unsigned int flags = dontwake ? RUST_MREMAP_DONTWAKE : 0;
	struct waiter w[3] = { 0 };
	bool ok = true, inside;
	struct outcome o = { 0 };
	struct pair pr;
	char what[96];
	int uffd;

	if (!pair_map(&pr, len, 12 * ps, ps, len))
		return R_FAIL;
	uffd = uffd_new(UFFD_FEATURE_THREAD_ID);
	if (uffd < 0 || !uffd_reg(uffd, pr.dst, pr.dlen, MISSING)) {
		if (uffd >= 0)
			close(uffd);
		pair_unmap(&pr);
		return R_FAIL;
	}
	for (size_t i = 0; i < nw && ok; i++)
		ok &= waiter_block(&w[i], uffd, pr.dst + page[i] * ps, read_msg);
	if (!ok)
		goto out;

	snprintf(what, sizeof(what), "%s%s into a dst with blocked readers", mover_name[how],
		 dontwake ? " (DONTWAKE)" : "");
	move_by(&o, how, fd, uffd, flags, pr.src, pr.dst, len, 4 * ps);
	ok &= moved_all(what, how, &o, len);

	if (dontwake) {
		rm_sleep_ms(STILL_MS);
		for (size_t i = 0; i < nw; i++)
			CHECK(!atomic_load(&w[i].done),
			      "%s: the thread blocked on dst page %zu returned without UFFDIO_WAKE\n",
			      what, page[i]);
		CHECK(!uffd_wake(uffd, pr.dst, len), "UFFDIO_WAKE: %s\n", strerror(errno));
	}
	for (size_t i = 0; i < nw; i++) {
		inside = page[i] * ps < len;
		if (!inside || wait_flag(&w[i].done, TIMEOUT_MS))
			continue;
		ksft_print_msg(
			"%s: the thread blocked on dst page %zu was not woken within %d s%s\n",
			what, page[i], TIMEOUT_MS / 1000, dontwake ? " of UFFDIO_WAKE" : "");
		ok = false;
		/* Tell a missing wake from missing bytes: wake it ourselves. */
		uffd_wake(uffd, pr.dst + page[i] * ps, ps);
		if (wait_flag(&w[i].done, 2000))
			ksft_print_msg(
				"UFFDIO_WAKE released it: the bytes had arrived, the wake was missing\n");
	}
	for (size_t i = 0; i < nw; i++) {
		char name[64];

		if (page[i] * ps >= len || !atomic_load(&w[i].done))
			continue;
		snprintf(name, sizeof(name), "what the thread blocked on dst page %zu read",
			 page[i]);
		ok &= rm_chk_pat(name, w[i].buf, ps, pr.seed, page[i] * ps);
	}
	if (nw > 2) {
		if (!dontwake)
			rm_sleep_ms(STILL_MS);
		CHECK(!atomic_load(&w[2].done),
		      "%s: the thread blocked on dst page %zu, outside the move, returned\n", what,
		      page[2]);
	}
	/* Woken threads found their page; a thread woken outside the range faulted again. */
	ok &= uffd_quiet(uffd, what);
out:
	waiters_end(w, nw, uffd, pr.dst, pr.dlen);
	if (nw > 2 && w[2].buf)
		ok &= rm_chk_zero("what the thread outside the move read after UFFDIO_UNREGISTER",
				  w[2].buf, ps);
	for (size_t i = 0; i < nw; i++)
		free(w[i].buf);
	close(uffd);
	if (o.moved == len) {
		ok &= rm_chk_pat("dst", pr.dst, len, pr.seed, 0);
		ok &= rm_chk_zero("src", pr.src, len);
	} else {
		ok = false;
	}
	ok &= rm_chk_zero("dst beyond the move", pr.dst + len, pr.dlen - len);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_wake_move(int fd)
{
	return wake_test(fd, BY_MOVE, false, true);
}

static enum res t_wake_movev(int fd)
{
	return wake_test(fd, BY_MOVEV, false, true);
}

static enum res t_wake_move_unread(int fd)
{
	return wake_test(fd, BY_MOVE, false, false);
}

static enum res t_wake_movev_unread(int fd)
{
	return wake_test(fd, BY_MOVEV, false, false);
}

static enum res t_wake_uffdio_move(int fd)
{
	return wake_test(fd, BY_UFFDIO_MOVE, false, true);
}

static enum res t_dontwake_move(int fd)
{
	return wake_test(fd, BY_MOVE, true, true);
}

static enum res t_dontwake_movev(int fd)
{
	return wake_test(fd, BY_MOVEV, true, true);
}

static enum res t_dontwake_uffdio_move(int fd)
{
	return wake_test(fd, BY_UFFDIO_MOVE, true, true);
}

/* --------------------------------------------- other modes: EOPNOTSUPP */

/*
 * A 16-page pair with src (@on_src) or dst registered in @mode, which
 * includes WP: both ioctls refuse with EOPNOTSUPP (dry run and real), and
 * the memory is intact.
 */
static enum res wp_test(int fd, bool on_src, uint64_t mode)
{
	size_t len = 16 * ps;
	struct pair pr;
	char what[96];
	bool ok = true;
	int uffd;

	if (!pair_map(&pr, len, len, ps, len))
		return R_FAIL;
	uffd = uffd_new(UFFD_FEATURE_PAGEFAULT_FLAG_WP);
	if (uffd < 0 || !uffd_reg(uffd, on_src ? pr.src : pr.dst, len, mode)) {
		if (uffd >= 0)
			close(uffd);
		pair_unmap(&pr);
		return R_FAIL;
	}
	snprintf(what, sizeof(what), "%s registered in mode %s", on_src ? "src" : "dst",
		 mode & MISSING ? "MISSING|WP" : "WP");
	ok &= all_refuse(what, fd, -1, pr.src, pr.dst, len, EOPNOTSUPP);
	/* Unregister first: a missing page of a MISSING|WP VMA would block the check. */
	close(uffd);
	ok &= rm_chk_pat("src", pr.src, len, pr.seed, 0);
	ok &= rm_chk_zero("dst", pr.dst, len);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_wp_src(int fd)
{
	return wp_test(fd, true, WP);
}

static enum res t_wp_dst(int fd)
{
	return wp_test(fd, false, WP);
}

static enum res t_missing_wp_src(int fd)
{
	return wp_test(fd, true, MISSING | WP);
}

static enum res t_missing_wp_dst(int fd)
{
	return wp_test(fd, false, MISSING | WP);
}

/* ------------------------------------------- read-only source: EINVAL */

/*
 * A 16-page pair, both VMAs PROT_READ (the same protections), src filled
 * before; src (@reg_src) or dst registered for missing faults.  Both
 * ioctls refuse with EINVAL, as UFFDIO_MOVE does (it needs dst registered
 * with its context: asked where dst is); once unregistered, the same pair
 * moves.
 */
static enum res ro_test(int fd, bool reg_src)
{
	const char *what = reg_src ? "read-only src registered" :
				     "read-only src, dst registered";
	size_t len = 16 * ps;
	struct outcome o;
	struct pair pr;
	bool ok = true;
	long n;
	int uffd;

	if (!pair_map(&pr, len, len, ps, len))
		return R_FAIL;
	if (mprotect(pr.src, len, PROT_READ) || mprotect(pr.dst, len, PROT_READ)) {
		ksft_print_msg("mprotect(PROT_READ): %s\n", strerror(errno));
		pair_unmap(&pr);
		return R_FAIL;
	}
	uffd = uffd_new(0);
	if (uffd < 0 || !uffd_reg(uffd, reg_src ? pr.src : pr.dst, len, MISSING)) {
		if (uffd >= 0)
			close(uffd);
		pair_unmap(&pr);
		return R_FAIL;
	}
	ok &= all_refuse(what, fd, reg_src ? -1 : uffd, pr.src, pr.dst, len, EINVAL);
	/* src is populated (readable even registered); dst is looked at through pagemap. */
	ok &= rm_chk_pat("src", pr.src, len, pr.seed, 0);
	n = populated(pr.dst, len);
	CHECK(n == 0, "dst: %ld pages populated after the refusals\n", n);

	CHECK(!uffd_unreg(uffd, reg_src ? pr.src : pr.dst, len), "UFFDIO_UNREGISTER: %s\n",
	      strerror(errno));
	close(uffd);
	move_by(&o, BY_MOVE, fd, -1, 0, pr.src, pr.dst, len, 0);
	ok &= moved_all("the same read-only pair, unregistered", BY_MOVE, &o, len);
	ok &= rm_chk_pat("dst", pr.dst, len, pr.seed, 0);
	ok &= rm_chk_zero("src", pr.src, len);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_readonly_dst_registered(int fd)
{
	return ro_test(fd, false);
}

static enum res t_readonly_src_registered(int fd)
{
	return ro_test(fd, true);
}

/* -------------------------------------------------- mmap_changing: EAGAIN */

/* A thread that runs madvise(MADV_DONTNEED) or fork() and says when it returned. */
struct changer {
	pthread_t th;
	void *addr;
	size_t len;
	bool fork;
	int ret, err, status;
	_Atomic int done;
};

static void *changer_fn(void *arg)
{
	struct changer *c = arg;
	pid_t pid;

	if (c->fork) {
		/* Blocks, with UFFD_FEATURE_EVENT_FORK, until the monitor reads the event. */
		pid = fork();
		if (pid == 0)
			_exit(0);
		c->ret = pid < 0 ? -1 : 0;
		c->err = errno;
		while (pid > 0 && waitpid(pid, &c->status, 0) < 0 && errno == EINTR)
			;
	} else {
		/* Blocks, with UFFD_FEATURE_EVENT_REMOVE, until the monitor reads the event. */
		c->ret = madvise(c->addr, c->len, MADV_DONTNEED);
		c->err = errno;
	}
	atomic_store(&c->done, 1);
	return NULL;
}

enum change { CH_REMOVE_DST, CH_REMOVE_SRC, CH_FORK };

/*
 * A non-cooperative event pending on the context of one VMA of the move:
 *  - CH_REMOVE_DST: MADV_DONTNEED of the whole registered dst (16 pages;
 *    the move fills its first 8);
 *  - CH_REMOVE_SRC: MADV_DONTNEED of the last 8 pages of the registered
 *    16-page src (the move takes its first 8, which hold the pattern);
 *  - CH_FORK: fork() with dst registered.
 * While the event is queued and unread (mmap_changing), both ioctls give
 * EAGAIN and move nothing, as UFFDIO_MOVE does; once the monitor read it
 * and the changer returned, the move succeeds.
 */
static enum res change_test(int fd, enum change ch)
{
	static const char *const name[] = {
		[CH_REMOVE_DST] = "MADV_DONTNEED of the registered dst, event unread",
		[CH_REMOVE_SRC] = "MADV_DONTNEED in the registered src, event unread",
		[CH_FORK] = "fork() with dst registered, event unread",
	};
	uint64_t feature = ch == CH_FORK ? UFFD_FEATURE_EVENT_FORK : UFFD_FEATURE_EVENT_REMOVE;
	uint8_t expect_event = ch == CH_FORK ? UFFD_EVENT_FORK : UFFD_EVENT_REMOVE;
	bool on_src = ch == CH_REMOVE_SRC, ok = true;
	size_t len = 8 * ps;
	struct changer c = { 0 };
	uint8_t *reg_at;
	struct uffd_msg msg;
	struct outcome o;
	struct pair pr;
	bool started = false;
	int uffd, r;
	long n;

	if (!pair_map(&pr, on_src ? 2 * len : len, on_src ? len : 2 * len, ps, len))
		return R_FAIL;
	reg_at = on_src ? pr.src : pr.dst;
	uffd = uffd_new(feature);
	if (uffd < 0 || !uffd_reg(uffd, reg_at, 2 * len, MISSING)) {
		if (uffd >= 0)
			close(uffd);
		pair_unmap(&pr);
		return R_FAIL;
	}
	c.fork = ch == CH_FORK;
	c.addr = on_src ? pr.src + len : pr.dst;
	c.len = on_src ? len : 2 * len;
	fflush(stdout);
	if (pthread_create(&c.th, NULL, changer_fn, &c)) {
		ksft_print_msg("cannot start a thread\n");
		ok = false;
		goto out;
	}
	started = true;
	/* Readable with no fault pending: the event is queued, the changer waits for it. */
	r = uffd_wait_readable(uffd, TIMEOUT_MS);
	if (r) {
		ksft_print_msg("%s: no event queued within %d s: %s\n", name[ch],
			       TIMEOUT_MS / 1000, strerror(-r));
		ok = false;
		goto out;
	}
	rm_sleep_ms(SETTLE_MS);
	CHECK(!atomic_load(&c.done), "%s: the changer returned before its event was read\n",
	      name[ch]);

	ok &= all_refuse(name[ch], fd, on_src ? -1 : uffd, pr.src, pr.dst, len, EAGAIN);
	ok &= rm_chk_pat("src", pr.src, len, pr.seed, 0);
	n = populated(pr.dst, len);
	CHECK(n == 0, "dst: %ld pages populated after the refusals\n", n);

	r = uffd_read_msg(uffd, &msg, TIMEOUT_MS);
	CHECK(r == 0 && msg.event == expect_event, "%s: read event %#x (%s), expected %#x\n",
	      name[ch], r ? 0 : msg.event, r ? strerror(-r) : "ok", expect_event);
	if (!r && msg.event == UFFD_EVENT_REMOVE)
		CHECK(msg.arg.remove.start == (uintptr_t)c.addr &&
		      msg.arg.remove.end == (uintptr_t)c.addr + c.len,
		      "REMOVE event for %#llx..%#llx, expected %p..%p\n",
		      (unsigned long long)msg.arg.remove.start,
		      (unsigned long long)msg.arg.remove.end, c.addr, (uint8_t *)c.addr + c.len);
	if (!r && msg.event == UFFD_EVENT_FORK)
		close((int)msg.arg.fork.ufd);	/* the child's context */
	if (!wait_flag(&c.done, TIMEOUT_MS)) {
		ksft_print_msg("%s: the changer did not return within %d s of its event\n",
			       name[ch], TIMEOUT_MS / 1000);
		ok = false;
		goto out;
	}
	CHECK(c.ret == 0, "%s: the changer failed: %s\n", name[ch], strerror(c.err));
	CHECK(!c.fork || (WIFEXITED(c.status) && !WEXITSTATUS(c.status)),
	      "the child exited with status %#x\n", c.status);

	/* The event read, nothing is pending any more: the move goes through. */
	move_by(&o, BY_MOVE, fd, -1, 0, pr.src, pr.dst, len, 0);
	ok &= moved_all("after the monitor read the event", BY_MOVE, &o, len);
out:
	/* Closing the userfaultfd releases a changer still waiting for its event. */
	close(uffd);
	if (started) {
		if (!wait_flag(&c.done, TIMEOUT_MS))
			ksft_exit_fail_msg(
				"the changer stays blocked after the userfaultfd closed\n");
		pthread_join(c.th, NULL);
	}
	if (ok) {
		ok &= rm_chk_pat("dst", pr.dst, len, pr.seed, 0);
		ok &= rm_chk_zero("src", pr.src, len);
	}
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_mmap_changing_remove_dst(int fd)
{
	return change_test(fd, CH_REMOVE_DST);
}

static enum res t_mmap_changing_remove_src(int fd)
{
	return change_test(fd, CH_REMOVE_SRC);
}

static enum res t_mmap_changing_fork(int fd)
{
	return change_test(fd, CH_FORK);
}

/* ------------------------------------------------------------------ main */

static const struct {
	const char *name;
	enum res (*fn)(int fd);
} tests[] = {
	{ "missing_dst_move_accepted",			t_missing_dst_move },
	{ "missing_dst_movev_accepted",			t_missing_dst_movev },
	{ "missing_src_move_accepted",			t_missing_src_move },
	{ "missing_src_movev_accepted",			t_missing_src_movev },
	{ "missing_both_move_accepted",			t_missing_both_move },
	{ "missing_both_movev_accepted",		t_missing_both_movev },
	{ "dontwake_unregistered_moves",		t_dontwake_unregistered },
	{ "wake_move_blocked_readers",			t_wake_move },
	{ "wake_movev_blocked_readers",			t_wake_movev },
	{ "wake_move_unread_fault",			t_wake_move_unread },
	{ "wake_movev_unread_fault",			t_wake_movev_unread },
	{ "wake_uffdio_move_reference",			t_wake_uffdio_move },
	{ "dontwake_move_until_uffdio_wake",		t_dontwake_move },
	{ "dontwake_movev_until_uffdio_wake",		t_dontwake_movev },
	{ "dontwake_uffdio_move_reference",		t_dontwake_uffdio_move },
	{ "wp_src_EOPNOTSUPP",				t_wp_src },
	{ "wp_dst_EOPNOTSUPP",				t_wp_dst },
	{ "missing_wp_src_EOPNOTSUPP",			t_missing_wp_src },
	{ "missing_wp_dst_EOPNOTSUPP",			t_missing_wp_dst },
	{ "readonly_src_dst_registered_EINVAL",		t_readonly_dst_registered },
	{ "readonly_src_src_registered_EINVAL",		t_readonly_src_registered },
	{ "mmap_changing_remove_dst_EAGAIN",		t_mmap_changing_remove_dst },
	{ "mmap_changing_remove_src_EAGAIN",		t_mmap_changing_remove_src },
	{ "mmap_changing_fork_EAGAIN",			t_mmap_changing_fork },
};

int main(void)
{
	int fd;

	ps = rm_page_size();
	signal(SIGPIPE, SIG_IGN);
	ksft_print_header();
	ksft_set_plan(ARRAY_SIZE(tests));
	fd = rm_open();
	for (size_t i = 0; i < ARRAY_SIZE(tests); i++)
		rm_report(tests[i].name, tests[i].fn(fd));
	close(fd);
	ksft_finished();
}
