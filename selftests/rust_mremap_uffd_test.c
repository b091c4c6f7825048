// SPDX-License-Identifier: GPL-2.0
/*
 * rust_mremap userfaultfd selftest (ABI 4).
 *
 * A VMA registered with userfaultfd for missing faults only is accepted on
 * either side of RUST_MREMAP_IOC_MOVE and RUST_MREMAP_IOC_MOVEV, under
 * UFFDIO_MOVE's rules, from its monitor only, and is refused in any other
 * mode:
 *  - the monitor rule (ABI 4): a move into or out of a registered VMA needs
 *    RUST_MREMAP_UFFD and, in uffd, a userfaultfd of the context the VMA is
 *    registered with (one context for both sides).  EPERM without the flag,
 *    with another context's userfaultfd (of this mm or of another), with
 *    src and dst registered with two contexts, and for a vector whose last
 *    entry alone touches a registered VMA (err_index names it, found before
 *    any entry's plan); EBADF for a uffd that is no userfaultfd; EINVAL for
 *    a uffd without the flag; the uffd is looked at after the pidfd and the
 *    ranges and before the task size; the flag with a userfaultfd on
 *    unregistered VMAs changes nothing.  Each refusal is a dry run and a
 *    real call of both ioctls, and moves nothing (src keeps its bytes on its
 *    physical pages, dst stays unpopulated);
 *  - registered for missing faults (destination, source, both): the
 *    monitor's move gives the counters the same move gives unregistered,
 *    and the bytes arrive;
 *  - a thread of the target blocked in a missing fault on a destination
 *    page wakes when the move puts bytes there, returns within WAKE_MS and
 *    reads exactly them (never resolved with UFFDIO_COPY/ZEROPAGE/WAKE),
 *    whichever path moved the page, as the counters show: single entries of
 *    a sharing move or of a relocating run, a whole page table, a THP, a
 *    walk extent into a page table the move allocates, a walk extent within
 *    one VMA, and in a target that is another process, moved by the monitor
 *    that holds its userfaultfd; a thread blocked outside the moved range
 *    stays blocked; with RUST_MREMAP_DONTWAKE no one wakes until
 *    UFFDIO_WAKE, the negative control of each path.  UFFDIO_MOVE itself
 *    runs the cases of the first path as a reference for what the test
 *    expects of the kernel;
 *  - registered with UFFDIO_REGISTER_MODE_WP (alone or with MISSING):
 *    EOPNOTSUPP, memory intact, with the monitor's flag or without;
 *  - a read-only source with either VMA registered: EINVAL for the monitor,
 *    as UFFDIO_MOVE gives (validate_move_areas()), EPERM for anyone else,
 *    while the same pair unregistered moves;
 *  - a non-cooperative event the monitor has not read (mmap_changing: a
 *    MADV_DONTNEED with UFFD_FEATURE_EVENT_REMOVE, a fork with
 *    UFFD_FEATURE_EVENT_FORK): EAGAIN for the monitor and nothing moves, as
 *    UFFDIO_MOVE, and EPERM for anyone else (the monitor rule comes first);
 *    once the event is read, the monitor's move succeeds.
 *
 * Every wait is bounded: a missing wake fails the test, and a blocked
 * thread is then released (UFFDIO_WAKE, then UFFDIO_UNREGISTER, after which
 * it faults in an ordinary page) so that the program ends.
 *
 * Runs as root with /dev/rust_mremap present.
 */
#include "rust_mremap_lib.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/userfaultfd.h>

#define SELF		RUST_MREMAP_PIDFD_SELF
#define RW		(PROT_READ | PROT_WRITE)
#define TIMEOUT_MS	10000	/* the longest any wait but a woken thread's may take */
#define WAKE_MS		2000	/* the longest a woken thread may take to return */
#define SETTLE_MS	100	/* after its fault is seen, until a thread surely sleeps */
#define STILL_MS	300	/* how long a thread that must stay blocked is watched */
#define MISSING		UFFDIO_REGISTER_MODE_MISSING
#define WP		UFFDIO_REGISTER_MODE_WP
/*
 * Not a flag of the module: move_by() then writes its uffd argument into
 * the uffd field without RUST_MREMAP_UFFD, a call the module must refuse.
 */
#define FIELD_ONLY	(1U << 31)

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

/* The pagemap entries of the @len bytes at @p, malloc()ed; NULL (said) if unreadable. */
static uint64_t *pagemap_of(const void *p, size_t len)
{
	uint64_t *e = malloc(len / ps * sizeof(*e));

	if (e && rm_pagemap(p, len / ps, e))
		return e;
	ksft_print_msg("cannot read the pagemap of %p + %#zx\n", p, len);
	free(e);
	return NULL;
}

/*
 * Pages of [p, p + len) that are populated (present or swapped), from
 * pagemap: how a registered VMA is looked at without reading it (a read of
 * a missing page there would block); -1 if pagemap cannot be read.
 */
static long populated(const void *p, size_t len)
{
	uint64_t *e = pagemap_of(p, len);
	long cnt = 0;

	if (!e)
		return -1;
	for (size_t i = 0; i < len / ps; i++)
		cnt += !!(e[i] & (RM_PM_PRESENT | RM_PM_SWAP));
	free(e);
	return cnt;
}

/*
 * The THPeligible line of /proc/self/smaps for the VMA starting at @start
 * (1: a fault in an empty PMD of it goes to do_huge_pmd_anonymous_page()),
 * or -1 if there is none.
 */
static int thp_eligible(const void *start)
{
	return (int)rm_smaps_field(start, "THPeligible:");
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

/* ------------------------------------------ a target in another process */

/* Send @fd over the unix socket @sock (SCM_RIGHTS); whether it went. */
static bool send_fd(int sock, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;

	memset(&u, 0, sizeof(u));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &mh, 0) == 1;
}

/* Receive an fd sent by send_fd() on @sock, waiting at most @ms; -1 (said) if none came. */
static int recv_fd(int sock, long ms)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	int fd;

	memset(&u, 0, sizeof(u));
	if (poll(&pfd, 1, (int)ms) != 1 || recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != 1) {
		ksft_print_msg("no fd received within %ld ms: %s\n", ms, strerror(errno));
		return -1;
	}
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int))) {
		ksft_print_msg("a message without an fd\n");
		return -1;
	}
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* Send the command @cmd over @sock and wait at most @ms for the verdict; whether it is yes. */
static bool ask(int sock, char cmd, long ms)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	char r = 0;

	if (write(sock, &cmd, 1) != 1) {
		ksft_print_msg("command '%c': %s\n", cmd, strerror(errno));
		return false;
	}
	if (poll(&pfd, 1, (int)ms) != 1 || read(sock, &r, 1) != 1) {
		ksft_print_msg("no answer to command '%c' within %ld ms\n", cmd, ms);
		return false;
	}
	return r == 1;
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

/*
 * Nothing moved: the first @len bytes of src still hold the pattern, on the
 * physical pages @pfns recorded (pagemap_of()), and no page of dst is
 * populated (looked at through pagemap: a registered dst cannot be read).
 */
static bool untouched(const char *what, const struct pair *pr, size_t len, const uint64_t *pfns)
{
	char name[160];
	bool ok = true;
	long n;

	snprintf(name, sizeof(name), "%s: src", what);
	ok &= rm_chk_pat(name, pr->src, len, pr->seed, 0);
	CHECK(pfns && rm_same_pfns(name, pfns, pr->src, len / ps),
	      "%s: the physical pages of src changed (or are unknown)\n", what);
	n = populated(pr->dst, pr->dlen);
	CHECK(n == 0, "%s: %ld pages of dst populated, expected none\n", what, n);
	return ok;
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
 * Move [src, src + len) of the target @pidfd to dst by @how, with the
 * RUST_MREMAP_* @flags.  With RUST_MREMAP_UFFD (or FIELD_ONLY), @uffd goes
 * into the uffd field of the module's ioctls; UFFDIO_MOVE is issued on
 * @uffd, with RUST_MREMAP_DONTWAKE as UFFDIO_MOVE_MODE_DONTWAKE.
 * RUST_MREMAP_IOC_MOVEV gets two entries, the first @split bytes and the
 * rest, of the same offset dst - src, or one entry if @split is 0 or @len.
 */
static void move_at(struct outcome *o, enum mover how, int fd, int pidfd, int uffd,
		    unsigned int flags, uint8_t *src, uint8_t *dst, size_t len, size_t split)
{
	uint32_t count = split && split < len ? 2 : 1;
	struct rust_mremap_vec vec[2] = {
		{ (uintptr_t)src, (uintptr_t)dst, count == 2 ? split : len },
		{ (uintptr_t)src + split, (uintptr_t)dst + split, len - split },
	};
	int32_t field = flags & (RUST_MREMAP_UFFD | FIELD_ONLY) ? uffd : 0;
	struct rust_mremap_movev mv;
	struct rust_mremap_move m;
	struct uffdio_move um;

	flags &= ~FIELD_ONLY;
	memset(o, 0, sizeof(*o));
	switch (how) {
	case BY_MOVE:
		memset(&m, 0, sizeof(m));
		m.pidfd = pidfd;
		m.flags = flags;
		m.src = (uintptr_t)src;
		m.dst = (uintptr_t)dst;
		m.len = len;
		m.uffd = field;
		rm_poison_out(&m);
		o->ret = ioctl(fd, RUST_MREMAP_IOC_MOVE, &m) ? -errno : 0;
		o->moved = m.moved;
		o->pmd = m.pmd_moves;
		o->pte = m.pte_moves;
		o->huge = m.huge_pmd_moves;
		o->pud = m.pud_moves;
		o->relocated = m.folios_relocated;
		break;
	case BY_MOVEV:
		memset(&mv, 0, sizeof(mv));
		mv.pidfd = pidfd;
		mv.flags = flags;
		mv.vec = (uintptr_t)vec;
		mv.count = count;
		mv.uffd = field;
		rm_poison_outv(&mv);
		o->ret = ioctl(fd, RUST_MREMAP_IOC_MOVEV, &mv) ? -errno : 0;
		o->count = count;
		o->done = mv.done;
		o->err_index = mv.err_index;
		o->vmoved = mv.moved;
		for (uint32_t i = 0; i < mv.done && i < count; i++)
			o->moved += vec[i].len;
		/* A done past count (not written back) shows as the garbage it is. */
		if (mv.done < count)
			o->moved += mv.moved;
		else if (mv.done > count)
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

/* move_at() in the caller's own memory. */
static void move_by(struct outcome *o, enum mover how, int fd, int uffd, unsigned int flags,
		    uint8_t *src, uint8_t *dst, size_t len, size_t split)
{
	move_at(o, how, fd, SELF, uffd, flags, src, dst, len, split);
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
 * The move by @how of the target @pidfd fails with -@want and moves
 * nothing; the module's ioctls are issued as a dry run first, then for
 * real, and report no counter.  A vectored move (two entries in the same
 * VMAs) must name entry 0, or with @no_entry none (err_index 2): an error
 * of the call's own fields, its pidfd or its uffd.
 */
static bool refused_by(const char *what, enum mover how, int fd, int pidfd, int uffd,
		       unsigned int flags, uint8_t *src, uint8_t *dst, size_t len, int want,
		       bool no_entry)
{
	bool ok = true;

	for (int dry = how == BY_UFFDIO_MOVE ? 0 : 1; dry >= 0; dry--) {
		const char *d = dry ? " [dry run]" : "";
		struct outcome o;
		uint32_t idx;

		move_at(&o, how, fd, pidfd, uffd, flags | (dry ? RUST_MREMAP_DRY_RUN : 0), src,
			dst, len, len / 2);
		CHECK(o.ret == -want, "%s, %s%s: returned %d (%s), expected -%d (%s)\n", what,
		      mover_name[how], d, o.ret, o.ret ? strerror(-o.ret) : "success", want,
		      strerror(want));
		CHECK(o.moved == 0, "%s, %s%s: moved %llu, expected 0\n", what, mover_name[how], d,
		      (unsigned long long)o.moved);
		if (how != BY_UFFDIO_MOVE)
			CHECK(!o.pmd && !o.pte && !o.huge && !o.pud && !o.relocated,
			      "%s, %s%s: counters pmd/pte/huge/pud/relocated %llu/%llu/%llu/%llu/%llu, expected none\n",
			      what, mover_name[how], d, (unsigned long long)o.pmd,
			      (unsigned long long)o.pte, (unsigned long long)o.huge,
			      (unsigned long long)o.pud, (unsigned long long)o.relocated);
		idx = no_entry ? o.count : 0;
		if (how == BY_MOVEV)
			CHECK(o.done == 0 && o.vmoved == 0 && o.err_index == idx,
			      "%s, %s%s: done %u, moved %llu, err_index %u; expected 0, 0, %u\n",
			      what, mover_name[how], d, o.done, (unsigned long long)o.vmoved,
			      o.err_index, idx);
	}
	return ok;
}

/* refused_by() in the caller's own memory, the error in an entry. */
static bool refused(const char *what, enum mover how, int fd, int uffd, unsigned int flags,
		    uint8_t *src, uint8_t *dst, size_t len, int want)
{
	return refused_by(what, how, fd, SELF, uffd, flags, src, dst, len, want, false);
}

/*
 * Both module ioctls, given @uffd and @flags, refuse with -@want; with
 * @uffdio too UFFDIO_MOVE on @uffd.
 */
static bool all_refuse(const char *what, int fd, int uffd, unsigned int flags, bool uffdio,
		       uint8_t *src, uint8_t *dst, size_t len, int want)
{
	bool ok = refused(what, BY_MOVE, fd, uffd, flags, src, dst, len, want);

	ok &= refused(what, BY_MOVEV, fd, uffd, flags, src, dst, len, want);
	if (uffdio)
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
 * single entries), the registered pair (both sides with one context, the
 * monitor's) and an unregistered reference pair of the same geometry,
 * moved the same way by @how, the registered one by its monitor
 * (RUST_MREMAP_UFFD and the context's fd): the registered move gives what
 * its dry run predicted and what the reference move gives.  Where only dst
 * is registered, UFFDIO_MOVE accepts the same move.
 */
static enum res accept_test(int fd, enum reg reg, enum mover how)
{
	size_t len = RM_PMD + 16 * ps, split = RM_PMD;
	struct outcome dry = { 0 }, got, want, um;
	int u, uk = -1;
	struct pair pr, ref, kp = { 0 };
	bool ok = true;

	if (!pair_map(&pr, len, len, RM_PMD, len))
		return R_FAIL;
	if (!pair_map(&ref, len, len, RM_PMD, len)) {
		pair_unmap(&pr);
		return R_FAIL;
	}
	u = uffd_new(0);
	ok = u >= 0;
	if (ok && (reg & REG_SRC))
		ok = uffd_reg(u, pr.src, pr.slen, MISSING);
	if (ok && (reg & REG_DST))
		ok = uffd_reg(u, pr.dst, pr.dlen, MISSING);
	if (!ok)
		goto out_close;

	if (how != BY_UFFDIO_MOVE) {
		move_by(&dry, how, fd, u, RUST_MREMAP_UFFD | RUST_MREMAP_DRY_RUN, pr.src, pr.dst,
			len, split);
		CHECK(dry.ret == 0 && dry.moved == 0, "%s, %s [dry run]: %s, moved %llu\n",
		      reg_name[reg], mover_name[how], dry.ret ? strerror(-dry.ret) : "success",
		      (unsigned long long)dry.moved);
	}
	move_by(&got, how, fd, u, RUST_MREMAP_UFFD, pr.src, pr.dst, len, split);
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
	close(u);
	ok &= rm_chk_pat("dst", pr.dst, len, pr.seed, 0);
	ok &= rm_chk_zero("src", pr.src, len);
	ok &= rm_chk_pat("reference dst", ref.dst, len, ref.seed, 0);
	ok &= rm_chk_zero("reference src", ref.src, len);
	pair_unmap(&ref);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
out_close:
	if (u >= 0)
		close(u);
	pair_unmap(&ref);
	pair_unmap(&pr);
	return R_FAIL;
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

/*
 * A flag that is no business of unregistered VMAs changes nothing there:
 * RUST_MREMAP_DONTWAKE (bit 3), and RUST_MREMAP_UFFD (bit 4) with a
 * userfaultfd (registered on nothing): both ioctls move it all.
 */
static enum res flag_unregistered_test(int fd, unsigned int flag)
{
	struct outcome o;
	struct pair pr;
	bool ok = true;
	int u = -1;

	if (flag == RUST_MREMAP_UFFD) {
		u = uffd_new(0);
		if (u < 0)
			return R_FAIL;
	}
	for (int how = BY_MOVE; how <= BY_MOVEV; how++) {
		if (!pair_map(&pr, 16 * ps, 16 * ps, ps, 16 * ps)) {
			ok = false;
			break;
		}
		move_by(&o, how, fd, u, flag, pr.src, pr.dst, 16 * ps, 8 * ps);
		ok &= moved_all(flag == RUST_MREMAP_UFFD ?
				"RUST_MREMAP_UFFD with a userfaultfd, unregistered" :
				"RUST_MREMAP_DONTWAKE, unregistered", how, &o, 16 * ps);
		ok &= rm_chk_pat("dst", pr.dst, 16 * ps, pr.seed, 0);
		ok &= rm_chk_zero("src", pr.src, 16 * ps);
		pair_unmap(&pr);
	}
	if (u >= 0)
		close(u);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_dontwake_unregistered(int fd)
{
	return flag_unregistered_test(fd, RUST_MREMAP_DONTWAKE);
}

static enum res t_uffd_flag_unregistered(int fd)
{
	return flag_unregistered_test(fd, RUST_MREMAP_UFFD);
}

/* ------------------------------------------------ the monitor rule (ABI 4) */

enum mon {
	MON_DST_NO_FLAG, MON_SRC_NO_FLAG, MON_NOT_UFFD, MON_FIELD_NO_FLAG, MON_OTHER_DST,
	MON_OTHER_SRC, MON_TWO_CONTEXTS,
};

/* One call of mon_test(): its uffd and flags, and what it must give. */
struct attempt {
	const char *what;
	int uffd;
	unsigned int flags;
	int want;
	bool no_entry;		/* an error of the call (err_index == count), not of an entry */
	bool reg_third;		/* first register context B on a third VMA */
};

#define ATTEMPT(w, u, f, e, ...) \
	((struct attempt){ .what = (w), .uffd = (u), .flags = (f), .want = (e), __VA_ARGS__ })

/*
 * A 16-page pair, src filled, registered for missing faults with context
 * A on one side or, for MON_TWO_CONTEXTS, with A on src and B on dst; then
 * calls that break the monitor rule, each refused by both ioctls (dry run
 * and real) with nothing moved:
 *  - MON_DST_NO_FLAG, MON_SRC_NO_FLAG: dst (src) registered, no
 *    RUST_MREMAP_UFFD: EPERM (a module without the rule moves it);
 *  - MON_NOT_UFFD: dst registered, the flag with an eventfd, /dev/null, the
 *    device, a closed fd and -1: EBADF;
 *  - MON_FIELD_NO_FLAG: dst registered, A's fd (and -1) in uffd without the
 *    flag: EINVAL, as a reserved field;
 *  - MON_OTHER_DST, MON_OTHER_SRC: dst (src) registered with A, the flag
 *    with context B, registered on nothing, then on a third VMA: EPERM;
 *  - MON_TWO_CONTEXTS: the flag with A, with B, and no flag: EPERM.
 * Then, but for MON_TWO_CONTEXTS (no one fd may move that), the monitor's
 * move, the flag with A, moves it all: the refusals were the rule's.
 */
static enum res mon_test(int fd, enum mon mon)
{
	const bool two = mon == MON_TWO_CONTEXTS;
	const bool on_src = mon == MON_SRC_NO_FLAG || mon == MON_OTHER_SRC || two;
	const unsigned int flag = RUST_MREMAP_UFFD;
	size_t len = 16 * ps, na = 0;
	int a = -1, b = -1, efd = -1, nfd = -1, cfd;
	struct pair pr, third = { 0 };
	struct attempt at[6];
	uint64_t *pfns = NULL;
	struct outcome o;
	bool ok = true;
	char what[224];
	long n;

	if (!pair_map(&pr, len, len, ps, len))
		return R_FAIL;
	pfns = pagemap_of(pr.src, len);
	a = uffd_new(0);
	if (!pfns || a < 0 || !uffd_reg(a, on_src ? pr.src : pr.dst, len, MISSING)) {
		ok = false;
		goto out;
	}
	if (two || mon == MON_OTHER_DST || mon == MON_OTHER_SRC) {
		b = uffd_new(0);
		if (b < 0 || (two && !uffd_reg(b, pr.dst, len, MISSING))) {
			ok = false;
			goto out;
		}
	}
	switch (mon) {
	case MON_DST_NO_FLAG:
	case MON_SRC_NO_FLAG:
		at[na++] = ATTEMPT("no RUST_MREMAP_UFFD", -1, 0, EPERM);
		break;
	case MON_NOT_UFFD:
		efd = eventfd(0, EFD_CLOEXEC);
		nfd = open("/dev/null", O_RDWR | O_CLOEXEC);
		/* A number no fd has: nothing opens an fd between here and the calls. */
		cfd = dup(a);
		close(cfd);
		if (efd < 0 || nfd < 0 || cfd < 0) {
			ksft_print_msg("eventfd, /dev/null or dup: %s\n", strerror(errno));
			ok = false;
			goto out;
		}
		at[na++] = ATTEMPT("the flag with an eventfd", efd, flag, EBADF, .no_entry = true);
		at[na++] = ATTEMPT("the flag with /dev/null", nfd, flag, EBADF, .no_entry = true);
		at[na++] = ATTEMPT("the flag with the device's fd", fd, flag, EBADF,
				   .no_entry = true);
		at[na++] = ATTEMPT("the flag with a closed fd", cfd, flag, EBADF, .no_entry = true);
		at[na++] = ATTEMPT("the flag with fd -1", -1, flag, EBADF, .no_entry = true);
		break;
	case MON_FIELD_NO_FLAG:
		at[na++] = ATTEMPT("the userfaultfd in uffd without RUST_MREMAP_UFFD", a,
				   FIELD_ONLY, EINVAL, .no_entry = true);
		at[na++] = ATTEMPT("uffd -1 without RUST_MREMAP_UFFD", -1, FIELD_ONLY, EINVAL,
				   .no_entry = true);
		break;
	case MON_OTHER_DST:
	case MON_OTHER_SRC:
		at[na++] = ATTEMPT("the flag with another context, registered nowhere", b, flag,
				   EPERM);
		at[na++] = ATTEMPT("the flag with another context, registered elsewhere", b, flag,
				   EPERM, .reg_third = true);
		break;
	case MON_TWO_CONTEXTS:
		at[na++] = ATTEMPT("the flag with src's context", a, flag, EPERM);
		at[na++] = ATTEMPT("the flag with dst's context", b, flag, EPERM);
		at[na++] = ATTEMPT("no RUST_MREMAP_UFFD", -1, 0, EPERM);
		break;
	}

	for (size_t i = 0; i < na; i++) {
		if (at[i].reg_third &&
		    (!pair_map(&third, ps, ps, ps, 0) || !uffd_reg(b, third.dst, ps, MISSING))) {
			ok = false;
			goto out;
		}
		snprintf(what, sizeof(what), "%s, %s",
			 two ? "src and dst registered with two contexts" :
			 on_src ? reg_name[REG_SRC] : reg_name[REG_DST], at[i].what);
		for (int how = BY_MOVE; how <= BY_MOVEV; how++)
			ok &= refused_by(what, how, fd, SELF, at[i].uffd, at[i].flags, pr.src,
					 pr.dst, len, at[i].want, at[i].no_entry);
		ok &= untouched(what, &pr, len, pfns);
	}
	if (!two) {
		move_by(&o, BY_MOVE, fd, a, flag, pr.src, pr.dst, len, 0);
		ok &= moved_all("the monitor's move", BY_MOVE, &o, len);
		if (!o.ret) {
			/* dst is populated now; an empty registered src cannot be read. */
			ok &= rm_chk_pat("dst", pr.dst, len, pr.seed, 0);
			n = populated(pr.src, len);
			CHECK(n == 0, "src: %ld pages populated after the move\n", n);
		}
	}
out:
	if (efd >= 0)
		close(efd);
	if (nfd >= 0)
		close(nfd);
	if (b >= 0)
		close(b);
	if (a >= 0)
		close(a);
	free(pfns);
	pair_unmap(&third);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_mon_dst_no_flag(int fd)
{
	return mon_test(fd, MON_DST_NO_FLAG);
}

static enum res t_mon_src_no_flag(int fd)
{
	return mon_test(fd, MON_SRC_NO_FLAG);
}

static enum res t_mon_not_uffd(int fd)
{
	return mon_test(fd, MON_NOT_UFFD);
}

static enum res t_mon_field_no_flag(int fd)
{
	return mon_test(fd, MON_FIELD_NO_FLAG);
}

static enum res t_mon_other_dst(int fd)
{
	return mon_test(fd, MON_OTHER_DST);
}

static enum res t_mon_other_src(int fd)
{
	return mon_test(fd, MON_OTHER_SRC);
}

static enum res t_mon_two_contexts(int fd)
{
	return mon_test(fd, MON_TWO_CONTEXTS);
}

/* A vectored move with the uffd @u and @flags fails with EPERM at its last entry, dry and real. */
static bool vec_refused(const char *what, int fd, const struct rust_mremap_vec *vec,
			uint32_t count, int u, unsigned int flags)
{
	bool ok = true;

	for (int dry = 1; dry >= 0; dry--) {
		struct rust_mremap_movev m;
		int ret;

		memset(&m, 0, sizeof(m));
		m.pidfd = SELF;
		m.flags = flags | (dry ? RUST_MREMAP_DRY_RUN : 0);
		m.vec = (uintptr_t)vec;
		m.count = count;
		m.uffd = u;
		rm_poison_outv(&m);
		ret = ioctl(fd, RUST_MREMAP_IOC_MOVEV, &m) ? -errno : 0;
		CHECK(ret == -EPERM && m.done == 0 && m.moved == 0 && m.err_index == count - 1,
		      "%s%s: returned %d (%s), done %u, moved %llu, err_index %u; expected EPERM, 0, 0, %u\n",
		      what, dry ? " [dry run]" : "", ret, ret ? strerror(-ret) : "success", m.done,
		      (unsigned long long)m.moved, m.err_index, count - 1);
		CHECK(!m.pmd_moves && !m.pte_moves && !m.huge_pmd_moves && !m.pud_moves &&
		      !m.folios_relocated, "%s%s: counters set on a refusal\n", what,
		      dry ? " [dry run]" : "");
	}
	return ok;
}

/*
 * RUST_MREMAP_IOC_MOVEV of three entries: two between unregistered VMAs,
 * the last into a registered dst (@on_src: out of a registered src).
 * Without the flag, and with the flag and another context: EPERM at entry
 * 2, done 0, moved 0, dry run and real, and nothing of any entry moved.  A
 * vector whose first entry would give EEXIST and whose last breaks the
 * rule: EPERM at the last (every entry's VMAs are checked before any
 * entry's plan).  Then the monitor's vector moves all three.
 */
static enum res vector_test(int fd, bool on_src)
{
	size_t len = 16 * ps, half = 8 * ps, cl = 4 * ps;
	struct pair a = { 0 }, b = { 0 }, c = { 0 };
	uint64_t *pa = NULL, *pb = NULL;
	struct rust_mremap_vec vec[3], vec2[2];
	struct rust_mremap_movev m;
	const char *side = on_src ? "the last entry out of a registered src" :
				    "the last entry into a registered dst";
	char what[160];
	int u = -1, v = -1, ret;
	bool ok = true;
	long n;

	if (!pair_map(&a, len, len, ps, len) || !pair_map(&b, len, len, ps, len) ||
	    !pair_map(&c, cl, cl, ps, cl)) {
		ok = false;
		goto out;
	}
	c.dst[0] = 0x5a;	/* entry 0 of the second vector: EEXIST, were it planned */
	pa = pagemap_of(a.src, len);
	pb = pagemap_of(b.src, len);
	u = uffd_new(0);
	v = uffd_new(0);
	if (!pa || !pb || u < 0 || v < 0 || !uffd_reg(u, on_src ? b.src : b.dst, len, MISSING)) {
		ok = false;
		goto out;
	}
	vec[0] = (struct rust_mremap_vec){ (uintptr_t)a.src, (uintptr_t)a.dst, half };
	vec[1] = (struct rust_mremap_vec){ (uintptr_t)a.src + half, (uintptr_t)a.dst + half, half };
	vec[2] = (struct rust_mremap_vec){ (uintptr_t)b.src, (uintptr_t)b.dst, len };
	vec2[0] = (struct rust_mremap_vec){ (uintptr_t)c.src, (uintptr_t)c.dst, cl };
	vec2[1] = vec[2];

	snprintf(what, sizeof(what), "%s, no RUST_MREMAP_UFFD", side);
	ok &= vec_refused(what, fd, vec, 3, 0, 0);
	snprintf(what, sizeof(what), "%s, the flag with another context", side);
	ok &= vec_refused(what, fd, vec, 3, v, RUST_MREMAP_UFFD);
	snprintf(what, sizeof(what), "%s, no RUST_MREMAP_UFFD, entry 0 into a populated dst", side);
	ok &= vec_refused(what, fd, vec2, 2, 0, 0);
	ok &= untouched("the unregistered entries", &a, len, pa);
	ok &= untouched("the registered entry", &b, len, pb);
	ok &= rm_chk_pat("the populated dst's src", c.src, cl, c.seed, 0);
	CHECK(c.dst[0] == 0x5a && rm_all_zero(c.dst + 1, cl - 1),
	      "the populated dst changed\n");

	memset(&m, 0, sizeof(m));
	m.pidfd = SELF;
	m.flags = RUST_MREMAP_UFFD;
	m.vec = (uintptr_t)vec;
	m.count = 3;
	m.uffd = u;
	rm_poison_outv(&m);
	ret = ioctl(fd, RUST_MREMAP_IOC_MOVEV, &m) ? -errno : 0;
	CHECK(ret == 0 && m.done == 3 && m.moved == 0 && m.err_index == 3,
	      "the monitor's vector: returned %d (%s), done %u, moved %llu, err_index %u\n", ret,
	      ret ? strerror(-ret) : "success", m.done, (unsigned long long)m.moved, m.err_index);
	if (!ret) {
		ok &= rm_chk_pat("the unregistered entries' dst", a.dst, len, a.seed, 0);
		ok &= rm_chk_zero("the unregistered entries' src", a.src, len);
		ok &= rm_chk_pat("the registered entry's dst", b.dst, len, b.seed, 0);
		n = populated(b.src, len);
		CHECK(n == 0, "the registered entry's src: %ld pages populated\n", n);
	}
out:
	if (u >= 0)
		close(u);
	if (v >= 0)
		close(v);
	free(pa);
	free(pb);
	pair_unmap(&a);
	pair_unmap(&b);
	pair_unmap(&c);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_mon_vector_dst(int fd)
{
	return vector_test(fd, false);
}

static enum res t_mon_vector_src(int fd)
{
	return vector_test(fd, true);
}

/*
 * Where the uffd checks stand in the errno order, both ioctls: uffd
 * without the flag is a field error (EINVAL, before a bad pidfd's EBADF);
 * the flag's fd is looked at after the pidfd (a reaped child's: ESRCH, not
 * EBADF) and the ranges (a misaligned src: EINVAL), and before the task
 * size (a dst past it: EBADF, where without the flag or with a userfaultfd
 * it is EINVAL).
 */
static enum res t_mon_errno_order(int fd)
{
	static const unsigned int flag = RUST_MREMAP_UFFD;
	uint8_t *far = (uint8_t *)rm_user_va_limit();
	size_t len = 16 * ps;
	int u = -1, efd = -1, reaped = -1;
	uint64_t *pfns = NULL;
	struct pair pr;
	bool ok = true;
	pid_t pid;

	if (!pair_map(&pr, len, len, ps, len))
		return R_FAIL;
	pfns = pagemap_of(pr.src, len);
	u = uffd_new(0);
	efd = eventfd(0, EFD_CLOEXEC);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(0);
	/* Not reaped yet: the pidfd opens (a zombie at worst); then reaped. */
	reaped = pid > 0 ? rm_pidfd_open(pid) : -1;
	if (pid > 0 && rm_wait_status(pid) != 0)
		reaped = -1;
	if (!pfns || u < 0 || efd < 0 || reaped < 0) {
		ksft_print_msg("set-up (userfaultfd, eventfd, a reaped child's pidfd): %s\n",
			       strerror(errno));
		ok = false;
		goto out;
	}
	for (int how = BY_MOVE; how <= BY_MOVEV; how++) {
		ok &= refused_by("uffd without the flag, pidfd an eventfd", how, fd, efd, u,
				 FIELD_ONLY, pr.src, pr.dst, len, EINVAL, true);
		ok &= refused_by("the flag with an eventfd, pidfd of a reaped child", how, fd,
				 reaped, efd, flag, pr.src, pr.dst, len, ESRCH, true);
		ok &= refused_by("the flag with an eventfd, src misaligned", how, fd, SELF, efd,
				 flag, pr.src + 1, pr.dst, len, EINVAL, false);
		ok &= refused_by("the flag with an eventfd, dst past the task size", how, fd, SELF,
				 efd, flag, pr.src, far, len, EBADF, true);
		ok &= refused_by("no flag, dst past the task size", how, fd, SELF, -1, 0, pr.src,
				 far, len, EINVAL, false);
		ok &= refused_by("the flag with a userfaultfd, dst past the task size", how, fd,
				 SELF, u, flag, pr.src, far, len, EINVAL, false);
	}
	ok &= untouched("after the refusals", &pr, len, pfns);
out:
	if (reaped >= 0)
		close(reaped);
	if (efd >= 0)
		close(efd);
	if (u >= 0)
		close(u);
	free(pfns);
	pair_unmap(&pr);
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
 * After a move of @len bytes to @dst, each of the @nw waiters whose page
 * lies in [dst, dst + len) must return within WAKE_MS and have read what
 * the move put there, the pattern of @seed at the page's offset from dst;
 * with @dontwake, no waiter may return for STILL_MS, until UFFDIO_WAKE,
 * after which the same holds.  Waiters outside the range are left alone.
 */
static bool waiters_woken(const char *what, struct waiter *w, size_t nw, int uffd, uint8_t *dst,
			  size_t len, unsigned int seed, bool dontwake)
{
	bool ok = true;

	if (dontwake) {
		rm_sleep_ms(STILL_MS);
		for (size_t i = 0; i < nw; i++)
			CHECK(!atomic_load(&w[i].done),
			      "%s: the thread blocked on dst page %zu returned without UFFDIO_WAKE\n",
			      what, (size_t)(w[i].addr - dst) / ps);
		CHECK(!uffd_wake(uffd, dst, len), "UFFDIO_WAKE: %s\n", strerror(errno));
	}
	for (size_t i = 0; i < nw; i++) {
		size_t off = (size_t)(w[i].addr - dst);
		char name[96];

		if (off >= len)
			continue;
		if (!wait_flag(&w[i].done, WAKE_MS)) {
			ksft_print_msg(
				"%s: the thread blocked on dst page %zu did not return within %d ms%s\n",
				what, off / ps, WAKE_MS, dontwake ? " of UFFDIO_WAKE" : "");
			ok = false;
			/* Tell a missing wake from missing bytes: wake it ourselves. */
			uffd_wake(uffd, w[i].addr, ps);
			if (wait_flag(&w[i].done, TIMEOUT_MS))
				ksft_print_msg(
					"UFFDIO_WAKE released it: the bytes had arrived, the wake was missing\n");
			continue;
		}
		snprintf(name, sizeof(name), "what the thread blocked on dst page %zu read",
			 off / ps);
		ok &= rm_chk_pat(name, w[i].buf, ps, seed, off);
	}
	return ok;
}

/*
 * 8 pages move into a 12-page destination registered for missing faults,
 * by its monitor.  Waiters block on dst pages 1 and 6 (one in each entry
 * of the vectored move) and on page 10, outside the move; with @read_msg
 * the monitor has read their faults, without (one waiter, page 1) the
 * fault stays queued.  Then @how moves: the waiters in the moved range
 * must wake by themselves and read the moved bytes, the one outside must
 * stay blocked, and no one faults again.  With @dontwake no one wakes
 * until UFFDIO_WAKE.  The module's moves take single entries (their
 * faults gave dst a page table), sharing rmap identity (dst never had a
 * folio) or with @reloc by a relocating run, as the counters show.
 */
static enum res wake_test(int fd, enum mover how, bool dontwake, bool read_msg, bool reloc)
{
	static const size_t page[] = { 1, 6, 10 };
	size_t nw = read_msg ? 3 : 1, len = 8 * ps;
	unsigned int flags = RUST_MREMAP_UFFD | (dontwake ? RUST_MREMAP_DONTWAKE : 0) |
			     (reloc ? RUST_MREMAP_RELOCATE : 0);
	struct outcome o = { 0 }, want = { 0 };
	struct waiter w[3] = { 0 };
	bool ok = true;
	struct pair pr;
	char what[128];
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

	snprintf(what, sizeof(what), "%s%s%s into a dst with blocked readers", mover_name[how],
		 reloc ? " (RELOCATE)" : "", dontwake ? " (DONTWAKE)" : "");
	move_by(&o, how, fd, uffd, flags, pr.src, pr.dst, len, 4 * ps);
	ok &= moved_all(what, how, &o, len);
	if (how != BY_UFFDIO_MOVE && !o.ret) {
		want.pte = len / ps;
		want.relocated = reloc ? len / ps : 0;
		ok &= same_counters(what, &o, "move", &want,
				    reloc ? "a relocating run" : "a sharing move");
	}
	ok &= waiters_woken(what, w, nw, uffd, pr.dst, len, pr.seed, dontwake);
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
	return wake_test(fd, BY_MOVE, false, true, false);
}

static enum res t_wake_movev(int fd)
{
	return wake_test(fd, BY_MOVEV, false, true, false);
}

static enum res t_wake_move_unread(int fd)
{
	return wake_test(fd, BY_MOVE, false, false, false);
}

static enum res t_wake_movev_unread(int fd)
{
	return wake_test(fd, BY_MOVEV, false, false, false);
}

static enum res t_wake_uffdio_move(int fd)
{
	return wake_test(fd, BY_UFFDIO_MOVE, false, true, false);
}

static enum res t_dontwake_move(int fd)
{
	return wake_test(fd, BY_MOVE, true, true, false);
}

static enum res t_dontwake_movev(int fd)
{
	return wake_test(fd, BY_MOVEV, true, true, false);
}

static enum res t_dontwake_uffdio_move(int fd)
{
	return wake_test(fd, BY_UFFDIO_MOVE, true, true, false);
}

static enum res t_wake_move_run(int fd)
{
	return wake_test(fd, BY_MOVE, false, true, true);
}

static enum res t_wake_movev_run(int fd)
{
	return wake_test(fd, BY_MOVEV, false, true, true);
}

static enum res t_dontwake_move_run(int fd)
{
	return wake_test(fd, BY_MOVE, true, true, true);
}

/* ---------------------------------------- the wake on every path of a move */

enum path { PATH_TABLE, PATH_THP, PATH_NEW_TABLE, PATH_OWN_OVERLAP };

static const char *const path_name[] = {
	[PATH_TABLE] = "a whole page table",
	[PATH_THP] = "a THP",
	[PATH_NEW_TABLE] = "single entries into a page table the move allocates",
	[PATH_OWN_OVERLAP] = "a walk extent within one VMA",
};

/*
 * Two threads blocked in missing faults in the registered destination
 * wake when the monitor's relocating move puts their pages there by @path,
 * return within WAKE_MS and read the moved bytes; the counters, the same
 * in the dry run, show the path:
 *  - PATH_TABLE: 2 MiB between PMD-aligned VMAs, src of 4 KiB pages: one
 *    page table moves whole (pmd_moves 1, its 512 folios relocated);
 *  - PATH_THP: the same, src one THP: huge_pmd_moves 1, one folio;
 *  - PATH_NEW_TABLE: 8 pages into the start of a 2 MiB dst with no page
 *    table: the relocating run cannot take them, the walk allocates the
 *    table (pte_moves 8; vectored, the second entry then goes by the run);
 *  - PATH_OWN_OVERLAP: 8 pages 4 pages down within one registered VMA: an
 *    entry whose source and destination overlap goes by the walk alone
 *    (pte_moves 8).
 * In the first three dst is THP-eligible (MADV_HUGEPAGE), so that a read
 * fault in its empty PMD goes to userfaultfd from
 * do_huge_pmd_anonymous_page() and leaves no page table, where a fault in
 * a 4 KiB VMA allocates one.  @dontwake is the negative control: no one
 * returns until UFFDIO_WAKE.
 */
static enum res path_wake_test(int fd, enum path path, enum mover how, bool dontwake)
{
	const bool thp_dst = path != PATH_OWN_OVERLAP;
	const unsigned int flags = RUST_MREMAP_UFFD | RUST_MREMAP_RELOCATE |
				   (dontwake ? RUST_MREMAP_DONTWAKE : 0);
	struct outcome want = { 0 }, dry = { 0 }, o = { 0 };
	size_t len, split, reg_len, page[2];
	struct waiter w[2] = { 0 };
	uint8_t *src, *dst, *reg, *h;
	struct pair pr = { 0 };
	size_t nw = 0;
	char what[160];
	bool ok = true;
	int uffd = -1;
	long kb;

	if (thp_dst && !rm_thp_available())
		return skip("kernel without CONFIG_TRANSPARENT_HUGEPAGE: faults leave page tables");
	switch (path) {
	case PATH_TABLE:
	case PATH_THP:
		len = split = RM_PMD;
		page[0] = 3;
		page[1] = 300;
		if (!pair_map(&pr, len, len, RM_PMD, 0))
			return R_FAIL;
		if (path == PATH_THP && madvise(pr.src, len, MADV_HUGEPAGE)) {
			ksft_print_msg("MADV_HUGEPAGE of src: %s\n", strerror(errno));
			ok = false;
		}
		rm_fill(pr.src, len, pr.seed, 0);
		want.pmd = path == PATH_TABLE;
		want.huge = path == PATH_THP;
		want.relocated = path == PATH_TABLE ? len / ps : 1;
		src = pr.src;
		dst = reg = pr.dst;
		reg_len = pr.dlen;
		break;
	case PATH_NEW_TABLE:
		len = 8 * ps;
		split = 4 * ps;
		page[0] = 1;
		page[1] = 6;
		if (!pair_map(&pr, len, RM_PMD, RM_PMD, len))
			return R_FAIL;
		want.pte = want.relocated = len / ps;
		src = pr.src;
		dst = reg = pr.dst;
		reg_len = pr.dlen;
		break;
	case PATH_OWN_OVERLAP:
	default:
		/* One PMD-aligned 16-page VMA: pages 4-11 hold the pattern, move to 0-7. */
		len = split = 8 * ps;
		page[0] = 1;
		page[1] = 3;
		reg_len = 16 * ps;
		h = rm_find_hole(reg_len, RM_PMD, 0, RM_PMD);
		pr.src = h ? rm_map_at(h, reg_len, RW) : NULL;
		if (!pr.src) {
			ksft_print_msg("cannot map %zu bytes\n", reg_len);
			return R_FAIL;
		}
		pr.slen = reg_len;
		pr.seed = next_seed++;
		reg = dst = pr.src;
		src = reg + 4 * ps;
		rm_fill(src, len, pr.seed, 0);
		want.pte = want.relocated = len / ps;
		break;
	}
	if (thp_dst) {
		if (madvise(dst, RM_PMD, MADV_HUGEPAGE)) {
			ksft_print_msg("MADV_HUGEPAGE of dst: %s\n", strerror(errno));
			ok = false;
		}
		CHECK(thp_eligible(dst) == 1,
		      "dst is not THP-eligible (transparent_hugepage/enabled: %s): a fault there allocates a page table\n",
		      rm_thp_setting());
	}
	if (path == PATH_THP) {
		kb = rm_anon_huge_kb(src);
		CHECK(kb == (long)(RM_PMD >> 10),
		      "src: AnonHugePages %ld kB, expected one THP (transparent_hugepage/enabled: %s)\n",
		      kb, rm_thp_setting());
	}
	if (!ok)
		goto out;
	uffd = uffd_new(UFFD_FEATURE_THREAD_ID);
	if (uffd < 0 || !uffd_reg(uffd, reg, reg_len, MISSING)) {
		ok = false;
		goto out;
	}
	for (nw = 0; nw < 2 && ok; nw++)
		ok &= waiter_block(&w[nw], uffd, dst + page[nw] * ps, true);
	if (!ok)
		goto out;

	snprintf(what, sizeof(what), "%s, %s%s", path_name[path], mover_name[how],
		 dontwake ? " (DONTWAKE)" : "");
	move_by(&dry, how, fd, uffd, flags | RUST_MREMAP_DRY_RUN, src, dst, len, split);
	CHECK(dry.ret == 0 && dry.moved == 0, "%s [dry run]: %s, moved %llu\n", what,
	      dry.ret ? strerror(-dry.ret) : "success", (unsigned long long)dry.moved);
	if (!dry.ret)
		ok &= same_counters(what, &dry, "dry run", &want, "expected");
	move_by(&o, how, fd, uffd, flags, src, dst, len, split);
	ok &= moved_all(what, how, &o, len);
	if (!o.ret)
		ok &= same_counters(what, &o, "move", &want, "expected");
	ok &= waiters_woken(what, w, nw, uffd, dst, len, pr.seed, dontwake);
	ok &= uffd_quiet(uffd, what);
out:
	if (uffd >= 0) {
		waiters_end(w, nw, uffd, reg, reg_len);
		close(uffd);
	}
	for (size_t i = 0; i < nw; i++)
		free(w[i].buf);
	if (o.moved == len) {
		ok &= rm_chk_pat("dst", dst, len, pr.seed, 0);
		if (path == PATH_OWN_OVERLAP)
			ok &= rm_chk_zero("the VMA above the move", dst + len, reg_len - len);
		else
			ok &= rm_chk_zero("src", src, len);
	} else {
		ok = false;
	}
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_wake_move_table(int fd)
{
	return path_wake_test(fd, PATH_TABLE, BY_MOVE, false);
}

static enum res t_wake_movev_table(int fd)
{
	return path_wake_test(fd, PATH_TABLE, BY_MOVEV, false);
}

static enum res t_dontwake_move_table(int fd)
{
	return path_wake_test(fd, PATH_TABLE, BY_MOVE, true);
}

static enum res t_wake_move_thp(int fd)
{
	return path_wake_test(fd, PATH_THP, BY_MOVE, false);
}

static enum res t_wake_movev_thp(int fd)
{
	return path_wake_test(fd, PATH_THP, BY_MOVEV, false);
}

static enum res t_dontwake_move_thp(int fd)
{
	return path_wake_test(fd, PATH_THP, BY_MOVE, true);
}

static enum res t_wake_move_new_table(int fd)
{
	return path_wake_test(fd, PATH_NEW_TABLE, BY_MOVE, false);
}

static enum res t_wake_movev_new_table(int fd)
{
	return path_wake_test(fd, PATH_NEW_TABLE, BY_MOVEV, false);
}

static enum res t_dontwake_move_new_table(int fd)
{
	return path_wake_test(fd, PATH_NEW_TABLE, BY_MOVE, true);
}

static enum res t_wake_move_own_overlap(int fd)
{
	return path_wake_test(fd, PATH_OWN_OVERLAP, BY_MOVE, false);
}

static enum res t_wake_movev_own_overlap(int fd)
{
	return path_wake_test(fd, PATH_OWN_OVERLAP, BY_MOVEV, false);
}

static enum res t_dontwake_move_own_overlap(int fd)
{
	return path_wake_test(fd, PATH_OWN_OVERLAP, BY_MOVE, true);
}

/* ------------------------------------------- a target in another process */

/*
 * The target child of other_process_test(): fills src, registers dst for
 * missing faults with a userfaultfd of its own (a userfaultfd belongs to
 * the mm that created it), sends it to the parent, its monitor, and blocks
 * a thread in a read of dst page @page.  Then it answers the parent's
 * commands, 1 for yes:
 *  'c': nothing moved (src as filled, on the same physical pages; dst
 *       unpopulated) and the thread still blocked;
 *  's': the thread is still blocked STILL_MS later;
 *  'w': the thread returned within WAKE_MS and read the moved bytes, and
 *       dst holds them all, src none;
 *  'q': end (as does the end of the socket).
 * It exits 0 unless the set-up failed or its thread stayed blocked even
 * after UFFDIO_UNREGISTER.
 */
static __noreturn void target_child(int sock, struct pair *pr, size_t len, size_t page)
{
	struct waiter w = { 0 };
	uint64_t *pfns;
	char c, yes;
	int uffd;
	long n;

	rm_fill(pr->src, len, pr->seed, 0);
	pfns = pagemap_of(pr->src, len);
	uffd = uffd_new(UFFD_FEATURE_THREAD_ID);
	if (!pfns || uffd < 0 || !uffd_reg(uffd, pr->dst, pr->dlen, MISSING) ||
	    !send_fd(sock, uffd)) {
		ksft_print_msg("the target child's set-up failed\n");
		fflush(stdout);
		_exit(2);
	}
	w.addr = pr->dst + page * ps;
	w.buf = malloc(ps);
	if (!w.buf || pthread_create(&w.th, NULL, waiter_fn, &w)) {
		ksft_print_msg("the target child cannot start a thread\n");
		fflush(stdout);
		_exit(3);
	}
	while (read(sock, &c, 1) == 1 && c != 'q') {
		bool ok = true;

		switch (c) {
		case 'c':
			ok &= rm_chk_pat("the target's src", pr->src, len, pr->seed, 0);
			ok &= rm_same_pfns("the target's src", pfns, pr->src, len / ps);
			n = populated(pr->dst, pr->dlen);
			CHECK(n == 0, "the target's dst: %ld pages populated\n", n);
			CHECK(!atomic_load(&w.done), "the target's thread returned\n");
			break;
		case 's':
			rm_sleep_ms(STILL_MS);
			CHECK(!atomic_load(&w.done),
			      "the target's thread returned without UFFDIO_WAKE\n");
			break;
		case 'w':
			if (!wait_flag(&w.done, WAKE_MS)) {
				ksft_print_msg("the target's thread did not return within %d ms\n",
					       WAKE_MS);
				ok = false;
				break;
			}
			ok &= rm_chk_pat("what the target's thread read", w.buf, ps, pr->seed,
					 page * ps);
			ok &= rm_chk_pat("the target's dst", pr->dst, len, pr->seed, 0);
			ok &= rm_chk_zero("the target's src", pr->src, len);
			break;
		default:
			ok = false;
		}
		yes = ok;
		fflush(stdout);
		if (write(sock, &yes, 1) != 1)
			break;
	}
	/* Unregistered, a blocked thread faults in an ordinary page. */
	uffd_unreg(uffd, pr->dst, pr->dlen);
	if (!wait_flag(&w.done, TIMEOUT_MS)) {
		ksft_print_msg("the target's thread stays blocked after UFFDIO_UNREGISTER\n");
		fflush(stdout);
		_exit(4);
	}
	pthread_join(w.th, NULL);
	fflush(stdout);
	_exit(0);
}

/*
 * The target is a child (target_child()), its dst registered with its own
 * userfaultfd, which it sends to us, its monitor, over a unix socket
 * (SCM_RIGHTS); a thread of it blocks in a fault on dst page 2, which the
 * monitor reads.  Moves of 8 pages by @how through a pidfd of the child:
 * without RUST_MREMAP_UFFD, and with the flag and a userfaultfd of our own
 * (another mm's context), EPERM and nothing moves; with the flag and the
 * child's userfaultfd, it moves (single entries, sharing), and the child's
 * thread returns within WAKE_MS with the moved bytes (with @dontwake, not
 * before UFFDIO_WAKE, which the monitor issues on the child's context).
 */
static enum res other_process_test(int fd, enum mover how, bool dontwake)
{
	const size_t len = 8 * ps, page = 2;
	const unsigned int flags = RUST_MREMAP_UFFD | (dontwake ? RUST_MREMAP_DONTWAKE : 0);
	int sv[2] = { -1, -1 }, uffd = -1, mine = -1, pidfd = -1, st;
	struct outcome o = { 0 }, want = { .pte = len / ps };
	struct uffd_msg msg;
	struct pair pr;
	bool ok = true;
	char what[128];
	pid_t pid;
	int r;

	/* Mapped here, filled by the child: its folios are its own, not COW-shared with ours. */
	if (!pair_map(&pr, len, 12 * ps, ps, 0))
		return R_FAIL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		ksft_print_msg("socketpair: %s\n", strerror(errno));
		pair_unmap(&pr);
		return R_FAIL;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		target_child(sv[1], &pr, len, page);
	}
	close(sv[1]);
	if (pid < 0) {
		ksft_print_msg("fork: %s\n", strerror(errno));
		close(sv[0]);
		pair_unmap(&pr);
		return R_FAIL;
	}
	uffd = recv_fd(sv[0], TIMEOUT_MS);
	mine = uffd_new(0);
	pidfd = rm_pidfd_open(pid);
	if (uffd < 0 || mine < 0 || pidfd < 0) {
		ksft_print_msg("the child's userfaultfd, our own, the child's pidfd: %d, %d, %d\n",
			       uffd, mine, pidfd);
		ok = false;
		goto out;
	}
	/* The monitor reads the fault of the child's thread. */
	r = uffd_read_msg(uffd, &msg, TIMEOUT_MS);
	if (r || msg.event != UFFD_EVENT_PAGEFAULT ||
	    msg.arg.pagefault.address != (uintptr_t)(pr.dst + page * ps)) {
		ksft_print_msg("the child's fault: %s, event %#x at %#llx, expected %p\n",
			       r ? strerror(-r) : "read", r ? 0 : msg.event,
			       r ? 0ULL : (unsigned long long)msg.arg.pagefault.address,
			       pr.dst + page * ps);
		ok = false;
		goto out;
	}
	rm_sleep_ms(SETTLE_MS);

	ok &= refused_by("another process's registered dst, no RUST_MREMAP_UFFD", how, fd, pidfd,
			 -1, 0, pr.src, pr.dst, len, EPERM, false);
	ok &= refused_by("another process's registered dst, the flag with our own userfaultfd",
			 how, fd, pidfd, mine, RUST_MREMAP_UFFD, pr.src, pr.dst, len, EPERM, false);
	CHECK(ask(sv[0], 'c', TIMEOUT_MS), "the child: something moved after the refusals\n");

	snprintf(what, sizeof(what), "the monitor of another process%s",
		 dontwake ? " (DONTWAKE)" : "");
	move_at(&o, how, fd, pidfd, uffd, flags, pr.src, pr.dst, len, 4 * ps);
	ok &= moved_all(what, how, &o, len);
	if (o.ret) {
		ok = false;
		goto out;
	}
	ok &= same_counters(what, &o, "move", &want, "expected");
	if (dontwake) {
		CHECK(ask(sv[0], 's', TIMEOUT_MS + STILL_MS),
		      "the child: its thread returned before UFFDIO_WAKE\n");
		CHECK(!uffd_wake(uffd, pr.dst, len), "UFFDIO_WAKE of the child's context: %s\n",
		      strerror(errno));
	}
	CHECK(ask(sv[0], 'w', TIMEOUT_MS + WAKE_MS),
	      "the child: its thread was not woken, or read the wrong bytes\n");
	ok &= uffd_quiet(uffd, what);
out:
	if (write(sv[0], "q", 1) != 1)
		ok = false;
	close(sv[0]);
	st = rm_wait_status(pid);
	CHECK(st == 0, "the target child exited with %d\n", st);
	if (pidfd >= 0)
		close(pidfd);
	if (mine >= 0)
		close(mine);
	if (uffd >= 0)
		close(uffd);
	pair_unmap(&pr);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_other_process_move(int fd)
{
	return other_process_test(fd, BY_MOVE, false);
}

static enum res t_other_process_movev(int fd)
{
	return other_process_test(fd, BY_MOVEV, false);
}

static enum res t_other_process_dontwake(int fd)
{
	return other_process_test(fd, BY_MOVE, true);
}

/* --------------------------------------------- other modes: EOPNOTSUPP */

/*
 * A 16-page pair with src (@on_src) or dst registered in @mode, which
 * includes WP: both ioctls refuse with EOPNOTSUPP (dry run and real), with
 * the monitor's flag and fd or without (the mode is refused before the
 * monitor rule is looked at), and the memory is intact.
 */
static enum res wp_test(int fd, bool on_src, uint64_t mode)
{
	size_t len = 16 * ps;
	struct pair pr;
	char what[128];
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
	ok &= all_refuse(what, fd, -1, 0, false, pr.src, pr.dst, len, EOPNOTSUPP);
	snprintf(what, sizeof(what), "%s registered in mode %s, the monitor's flag",
		 on_src ? "src" : "dst", mode & MISSING ? "MISSING|WP" : "WP");
	ok &= all_refuse(what, fd, uffd, RUST_MREMAP_UFFD, false, pr.src, pr.dst, len,
			 EOPNOTSUPP);
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
 * ioctls refuse the monitor with EINVAL, as UFFDIO_MOVE does (it needs dst
 * registered with its context: asked where dst is), and anyone else with
 * EPERM (the monitor rule comes first); nothing moves.  Once unregistered,
 * the same pair moves.
 */
static enum res ro_test(int fd, bool reg_src)
{
	const char *what = reg_src ? "read-only src registered" :
				     "read-only src, dst registered";
	size_t len = 16 * ps;
	uint64_t *pfns;
	struct outcome o;
	char label[96];
	struct pair pr;
	bool ok = true;
	int uffd;

	if (!pair_map(&pr, len, len, ps, len))
		return R_FAIL;
	if (mprotect(pr.src, len, PROT_READ) || mprotect(pr.dst, len, PROT_READ)) {
		ksft_print_msg("mprotect(PROT_READ): %s\n", strerror(errno));
		pair_unmap(&pr);
		return R_FAIL;
	}
	pfns = pagemap_of(pr.src, len);
	uffd = uffd_new(0);
	if (!pfns || uffd < 0 || !uffd_reg(uffd, reg_src ? pr.src : pr.dst, len, MISSING)) {
		if (uffd >= 0)
			close(uffd);
		free(pfns);
		pair_unmap(&pr);
		return R_FAIL;
	}
	snprintf(label, sizeof(label), "%s, no RUST_MREMAP_UFFD", what);
	ok &= all_refuse(label, fd, -1, 0, false, pr.src, pr.dst, len, EPERM);
	snprintf(label, sizeof(label), "%s, the monitor's move", what);
	ok &= all_refuse(label, fd, uffd, RUST_MREMAP_UFFD, !reg_src, pr.src, pr.dst, len, EINVAL);
	/* src is populated (readable even registered); dst is looked at through pagemap. */
	ok &= untouched(what, &pr, len, pfns);
	free(pfns);

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

/* ------------------------------------- mmap_changing: EAGAIN, after EPERM */

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
 * the monitor EAGAIN and move nothing, as UFFDIO_MOVE does, and anyone else
 * EPERM (the monitor rule is checked first); once the monitor read it and
 * the changer returned, the monitor's move succeeds.
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
	uint64_t *pfns;
	struct pair pr;
	bool started = false;
	char what[128];
	int uffd, r;

	if (!pair_map(&pr, on_src ? 2 * len : len, on_src ? len : 2 * len, ps, len))
		return R_FAIL;
	reg_at = on_src ? pr.src : pr.dst;
	pfns = pagemap_of(pr.src, len);
	uffd = uffd_new(feature);
	if (!pfns || uffd < 0 || !uffd_reg(uffd, reg_at, 2 * len, MISSING)) {
		if (uffd >= 0)
			close(uffd);
		free(pfns);
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

	snprintf(what, sizeof(what), "%s, no RUST_MREMAP_UFFD", name[ch]);
	ok &= all_refuse(what, fd, -1, 0, false, pr.src, pr.dst, len, EPERM);
	snprintf(what, sizeof(what), "%s, the monitor's move", name[ch]);
	ok &= all_refuse(what, fd, uffd, RUST_MREMAP_UFFD, !on_src, pr.src, pr.dst, len, EAGAIN);
	ok &= untouched(name[ch], &pr, len, pfns);

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

	/* The event read, nothing is pending any more: the monitor's move goes through. */
	move_by(&o, BY_MOVE, fd, uffd, RUST_MREMAP_UFFD, pr.src, pr.dst, len, 0);
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
	free(pfns);
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
	{ "uffd_flag_unregistered_moves",		t_uffd_flag_unregistered },
	{ "monitor_dst_no_flag_EPERM",			t_mon_dst_no_flag },
	{ "monitor_src_no_flag_EPERM",			t_mon_src_no_flag },
	{ "monitor_not_a_userfaultfd_EBADF",		t_mon_not_uffd },
	{ "monitor_uffd_without_flag_EINVAL",		t_mon_field_no_flag },
	{ "monitor_other_context_dst_EPERM",		t_mon_other_dst },
	{ "monitor_other_context_src_EPERM",		t_mon_other_src },
	{ "monitor_two_contexts_EPERM",			t_mon_two_contexts },
	{ "monitor_vector_last_entry_dst_EPERM",	t_mon_vector_dst },
	{ "monitor_vector_last_entry_src_EPERM",	t_mon_vector_src },
	{ "monitor_errno_order",			t_mon_errno_order },
	{ "wake_move_blocked_readers",			t_wake_move },
	{ "wake_movev_blocked_readers",			t_wake_movev },
	{ "wake_move_unread_fault",			t_wake_move_unread },
	{ "wake_movev_unread_fault",			t_wake_movev_unread },
	{ "wake_uffdio_move_reference",			t_wake_uffdio_move },
	{ "dontwake_move_until_uffdio_wake",		t_dontwake_move },
	{ "dontwake_movev_until_uffdio_wake",		t_dontwake_movev },
	{ "dontwake_uffdio_move_reference",		t_dontwake_uffdio_move },
	{ "wake_move_relocating_run",			t_wake_move_run },
	{ "wake_movev_relocating_run",			t_wake_movev_run },
	{ "dontwake_move_relocating_run",		t_dontwake_move_run },
	{ "wake_move_table",				t_wake_move_table },
	{ "wake_movev_table",				t_wake_movev_table },
	{ "dontwake_move_table",			t_dontwake_move_table },
	{ "wake_move_thp",				t_wake_move_thp },
	{ "wake_movev_thp",				t_wake_movev_thp },
	{ "dontwake_move_thp",				t_dontwake_move_thp },
	{ "wake_move_new_table",			t_wake_move_new_table },
	{ "wake_movev_new_table",			t_wake_movev_new_table },
	{ "dontwake_move_new_table",			t_dontwake_move_new_table },
	{ "wake_move_own_overlap_walk",			t_wake_move_own_overlap },
	{ "wake_movev_own_overlap_walk",		t_wake_movev_own_overlap },
	{ "dontwake_move_own_overlap_walk",		t_dontwake_move_own_overlap },
	{ "wake_other_process_move",			t_other_process_move },
	{ "wake_other_process_movev",			t_other_process_movev },
	{ "dontwake_other_process",			t_other_process_dontwake },
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
