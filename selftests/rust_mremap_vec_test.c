// SPDX-License-Identifier: GPL-2.0
/*
 * rust_mremap vectored move selftest: RUST_MREMAP_IOC_MOVEV (ABI 3, with
 * ABI 4's uffd field).
 *
 *  - the errno table of the vectored call, in the order of its checks: the
 *    struct, flags, reserved fields, uffd without its flag and count, the
 *    array, each entry's arguments, overlaps between entries, the pidfd,
 *    the task size, each entry's VMAs, each entry's plan; every refusal
 *    (issued as a dry run, then for real) must report done 0, moved 0, the
 *    right err_index and no counter, and leave every byte where it was, the
 *    entries before the failing one included;
 *  - count = RUST_MREMAP_VEC_MAX is accepted;
 *  - a dry run reports the sums of the single dry runs of its entries;
 *  - successful vectors: scattered chunks packed densely into a fresh VMA
 *    (they relocate), mutually PMD-aligned chunks (whole tables, shared and
 *    relocated), one entry moving as one move would (sharing and
 *    relocating), two source VMAs into one fresh VMA (relocate), a downward
 *    own overlap, empty and populated entries, a THP, a table and single
 *    entries in one call;
 *  - part-way stops: every allocation of a vector failed in turn
 *    (fail-nth): done, moved, err_index and the counters say exactly what
 *    moved; a pinned page in entry k refuses the vector up front; a caller
 *    killed during a long vector leaves every page at exactly one place,
 *    the moved part a prefix in array order.
 *
 * Every test keeps a model of every page of its regions (which pattern it
 * holds, or none, and its PFN) and checks the regions against it through
 * /proc/self/pagemap and the bytes: nothing moved means nothing changed,
 * and whatever moved arrived as the same physical page.
 *
 * Runs as root with /dev/rust_mremap present.
 */
#include "rust_mremap_lib.h"

#include <signal.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/io_uring.h>

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup	425
#endif
#ifndef __NR_io_uring_register
#define __NR_io_uring_register	427
#endif

#define SELF		RUST_MREMAP_PIDFD_SELF
#define RW		(PROT_READ | PROT_WRITE)
#define DRY		RUST_MREMAP_DRY_RUN
#define PARTIAL		RUST_MREMAP_PARTIAL
#define RELOC		RUST_MREMAP_RELOCATE
#define VMAX		RUST_MREMAP_VEC_MAX
#define YAMA_SCOPE	"/proc/sys/kernel/yama/ptrace_scope"

#define NE		4	/* entries of the errno scene */
#define KM		2	/* the middle entry an error is put in */

static size_t ps;			/* base page size */
static size_t ch;			/* bytes of one entry of the errno scene: 4 pages */
static uintptr_t va_limit;		/* the end of the user address space (a power of two) */
static unsigned int next_seed = 0x7ec00000;

/* ---------------------------------------------------------------- helpers */

static const char *err_str(int ret)
{
	return ret ? strerror(-ret) : "success";
}

static uint64_t ua(const void *p)
{
	return (uintptr_t)p;
}

static struct rust_mremap_vec ent(const void *src, const void *dst, size_t len)
{
	struct rust_mremap_vec v = { .src = ua(src), .dst = ua(dst), .len = len };

	return v;
}

/* A child that shares our memory (fork) and exits once *@go_wr is closed. */
static pid_t fork_holder(int *go_wr)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC)) {
		ksft_print_msg("pipe: %s\n", strerror(errno));
		return -1;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char c;

		close(p[1]);
		_exit(read(p[0], &c, 1) < 0);
	}
	close(p[0]);
	if (pid < 0) {
		ksft_print_msg("fork: %s\n", strerror(errno));
		close(p[1]);
		return -1;
	}
	*go_wr = p[1];
	return pid;
}

static bool holder_release(pid_t pid, int go_wr)
{
	close(go_wr);
	return rm_wait_status(pid) == 0;
}

/* Pin the page at @p as an io_uring fixed buffer (FOLL_PIN | FOLL_LONGTERM); 0 or -errno. */
static int pin_page(void *p, int *ring_out)
{
	struct io_uring_params prm;
	struct iovec iov = { .iov_base = p, .iov_len = ps };
	int ring, e;

	memset(&prm, 0, sizeof(prm));
	ring = (int)syscall(__NR_io_uring_setup, 1, &prm);
	if (ring < 0)
		return -errno;
	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS, &iov, 1)) {
		e = errno;
		close(ring);
		return -e;
	}
	*ring_out = ring;
	return 0;
}

/* ------------------------------------------------------------- counters */

static struct rm_cnt cnt_m(const struct rust_mremap_move *m)
{
	struct rm_cnt c = { m->pmd_moves, m->pte_moves, m->huge_pmd_moves, m->pud_moves,
			    m->folios_relocated };

	return c;
}

static void cnt_add(struct rm_cnt *a, const struct rm_cnt *b)
{
	a->pmd += b->pmd;
	a->pte += b->pte;
	a->huge += b->huge;
	a->pud += b->pud;
	a->rel += b->rel;
}

/* ------------------------------------------------------ region placement */

/*
 * K_ANON_NORESERVE: private anonymous, MAP_NORESERVE (large, mostly empty).
 * K_FILE_PRIVATE: MAP_PRIVATE of an unlinked temporary file.
 */
enum kind { K_ANON, K_ANON_NORESERVE, K_ANON_SHARED, K_FILE_PRIVATE };

/* Map @len bytes of @k at exactly @addr. */
static void *map_kind(void *addr, size_t len, enum kind k)
{
	int flags = MAP_FIXED_NOREPLACE, fd = -1;
	void *p;

	if (k == K_ANON)
		return rm_map_at(addr, len, RW);
	if (k == K_FILE_PRIVATE) {
		char path[] = "/tmp/rust_mremap_vec_XXXXXX";

		fd = mkstemp(path);
		if (fd < 0) {
			ksft_print_msg("mkstemp: %s\n", strerror(errno));
			return NULL;
		}
		unlink(path);
		if (ftruncate(fd, len)) {
			ksft_print_msg("ftruncate: %s\n", strerror(errno));
			close(fd);
			return NULL;
		}
		flags |= MAP_PRIVATE;
	} else if (k == K_ANON_SHARED) {
		flags |= MAP_SHARED | MAP_ANONYMOUS;
	} else {
		flags |= MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	}
	p = mmap(addr, len, RW, flags, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED) {
		ksft_print_msg("mmap kind %d at %p: %s\n", k, addr, strerror(errno));
		return NULL;
	}
	if (p != addr) {
		munmap(p, len);
		return NULL;
	}
	if (k == K_ANON_NORESERVE)
		madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static bool map_guard(void *at)
{
	void *p = mmap(at, ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		       MAP_FIXED_NOREPLACE, -1, 0);

	if (p == at)
		return true;
	if (p != MAP_FAILED)
		munmap(p, ps);
	ksft_print_msg("cannot map a guard page at %p\n", at);
	return false;
}

/* --------------------------------------------------------------- the model */

/*
 * The model of a test's regions: for each page, whether it is populated
 * and with what (a page of some region's pattern, or the zero page), and
 * the PFN it had when the test started.  A move moves the model's pages as
 * the module must move the real ones; w_verify() then compares.
 */
enum pstate { P_NONE, P_ZERO, P_DATA };

struct wpage {
	uint8_t state;
	uint8_t ovma;		/* P_DATA: the region whose pattern it holds */
	uint32_t opage;		/* ... at this page of that region */
	uint64_t pfn;		/* when populated and present at w_snap(); 0 if unknown */
};

struct wvma {
	uint8_t *p;
	size_t len;
	unsigned int seed;
	bool anon;		/* private anonymous: pagemap must agree with the model */
	struct wpage *pg;
};

#define W_VMAS	16

struct world {
	int n;
	struct wvma v[W_VMAS];
};

static void w_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
}

static uint8_t *wp(struct world *w, int i)
{
	return w->v[i].p;
}

static void w_destroy(struct world *w)
{
	for (int i = 0; i < w->n; i++) {
		struct wvma *v = &w->v[i];

		munmap(v->p - ps, ps);
		munmap(v->p + v->len, ps);
		munmap(v->p, v->len);	/* fails for a sealed region: it stays */
		free(v->pg);
	}
	w->n = 0;
}

/*
 * Map a region of @len bytes of @k starting at an offset @off within
 * @align, with @guard bytes free around it when placed, and a PROT_NONE
 * page right below and above it: it never merges with another mapping (a
 * fresh region stays never-faulted whatever is mapped later), and no move
 * realigns past its ends.  Returns its index or -1.
 */
static int w_map_g(struct world *w, enum kind k, size_t len, size_t align, size_t off,
		   size_t guard)
{
	uint8_t *h, *p;
	struct wvma *v;

	if (w->n == W_VMAS) {
		ksft_print_msg("too many regions\n");
		return -1;
	}
	h = rm_find_hole(len + 2 * ps, align, (off + align - ps) % align, guard);
	if (!h) {
		ksft_print_msg("no hole of %zu bytes\n", len + 2 * ps);
		return -1;
	}
	if (!map_guard(h))
		return -1;
	p = map_kind(h + ps, len, k);
	if (!p) {
		munmap(h, ps);
		return -1;
	}
	if (!map_guard(p + len)) {
		munmap(h, ps);
		munmap(p, len);
		return -1;
	}
	v = &w->v[w->n];
	v->pg = calloc(len / ps, sizeof(*v->pg));
	if (!v->pg) {
		munmap(h, len + 2 * ps);
		return -1;
	}
	v->p = p;
	v->len = len;
	v->seed = next_seed++;
	v->anon = k == K_ANON || k == K_ANON_NORESERVE;
	return w->n++;
}

static int w_map(struct world *w, enum kind k, size_t len, size_t align)
{
	return w_map_g(w, k, len, align, 0, RM_MB(2));
}

/*
 * A fresh world of two anonymous regions, A (@alen bytes, @aalign-aligned)
 * and B; their indices in *@a and *@b.  False (and no world) if either
 * cannot be mapped.
 */
static bool w_two(struct world *w, size_t alen, size_t aalign, size_t blen, size_t balign,
		  int *a, int *b)
{
	w_init(w);
	*a = w_map(w, K_ANON, alen, aalign);
	*b = *a < 0 ? -1 : w_map(w, K_ANON, blen, balign);
	if (*b < 0) {
		w_destroy(w);
		return false;
	}
	return true;
}

/* Fill [off, off + len) of region @i with its pattern (page aligned). */
static void w_fill(struct world *w, int i, size_t off, size_t len)
{
	struct wvma *v = &w->v[i];

	rm_fill(v->p + off, len, v->seed, off);
	for (size_t o = off; o < off + len; o += ps) {
		struct wpage *pg = &v->pg[o / ps];

		pg->state = P_DATA;
		pg->ovma = (uint8_t)i;
		pg->opage = (uint32_t)(o / ps);
	}
}

/* Fill one page in every @stride of [off, off + len); returns how many. */
static size_t w_fill_sparse(struct world *w, int i, size_t off, size_t len, size_t stride)
{
	size_t n = 0;

	for (size_t o = off; o < off + len; o += stride * ps, n++)
		w_fill(w, i, o, ps);
	return n;
}

/* Read [off, off + len) of region @i: the zero page gets mapped there. */
static void w_zero(struct world *w, int i, size_t off, size_t len)
{
	struct wvma *v = &w->v[i];

	for (size_t o = off; o < off + len; o += ps) {
		(void)*(volatile uint8_t *)(v->p + o);
		v->pg[o / ps].state = P_ZERO;
	}
}

static bool w_pagemap(const struct wvma *v, uint64_t **out)
{
	size_t n = v->len / ps;
	uint64_t *e = malloc(n * sizeof(*e));

	if (!e || !rm_pagemap(v->p, n, e)) {
		ksft_print_msg("/proc/self/pagemap of %p: %s\n", (void *)v->p, strerror(errno));
		free(e);
		return false;
	}
	*out = e;
	return true;
}

/*
 * Record the PFN of every populated page, checking that what is populated
 * is what the model says (the set-up went as planned).
 */
static bool w_snap(struct world *w)
{
	for (int i = 0; i < w->n; i++) {
		struct wvma *v = &w->v[i];
		uint64_t *e;

		if (!v->anon)
			continue;
		if (!w_pagemap(v, &e))
			return false;
		for (size_t pi = 0; pi < v->len / ps; pi++) {
			struct wpage *pg = &v->pg[pi];
			bool pop = e[pi] & (RM_PM_PRESENT | RM_PM_SWAP);

			if (pop != (pg->state != P_NONE)) {
				ksft_print_msg("set-up: page %zu of region %d is %s, expected %s\n",
					       pi, i, pop ? "populated" : "empty",
					       pop ? "empty" : "populated");
				free(e);
				return false;
			}
			pg->pfn = (e[pi] & RM_PM_PRESENT) ? e[pi] & RM_PM_PFN : 0;
		}
		free(e);
	}
	return true;
}

static struct wpage *w_page(struct world *w, uint64_t a)
{
	for (int i = 0; i < w->n; i++) {
		struct wvma *v = &w->v[i];

		if (a >= ua(v->p) && a < ua(v->p) + v->len)
			return &v->pg[(a - ua(v->p)) / ps];
	}
	return NULL;
}

/* Move the model's pages of [src, src + len) to dst, in ascending order as the module does. */
static bool w_move(struct world *w, uint64_t src, uint64_t dst, uint64_t len)
{
	for (uint64_t o = 0; o < len; o += ps) {
		struct wpage *s = w_page(w, src + o), *d = w_page(w, dst + o);

		if (!s || !d) {
			ksft_print_msg("model: %#llx or %#llx is in no region of the test\n",
				       (unsigned long long)(src + o),
				       (unsigned long long)(dst + o));
			return false;
		}
		*d = *s;
		memset(s, 0, sizeof(*s));
	}
	return true;
}

/* Entries [0, done) moved whole, the first @moved bytes of entry done. */
static bool w_apply(struct world *w, const struct rust_mremap_vec *v, unsigned int count,
		    unsigned int done, uint64_t moved)
{
	bool ok = true;

	for (unsigned int i = 0; i < done && i < count; i++)
		ok &= w_move(w, v[i].src, v[i].dst, v[i].len);
	if (done < count && moved)
		ok &= w_move(w, v[done].src, v[done].dst, moved);
	return ok;
}

/*
 * Every page of every region as the model says: populated or not
 * (pagemap, private anonymous regions), the same physical page as at
 * w_snap() for a populated page, and its bytes.
 */
static bool w_verify(struct world *w, const char *what)
{
	bool ok = true;

	for (int i = 0; i < w->n; i++) {
		struct wvma *v = &w->v[i];
		uint64_t *e = NULL;

		if (v->anon && !w_pagemap(v, &e)) {
			ok = false;
			continue;
		}
		for (size_t pi = 0; pi < v->len / ps; pi++) {
			const struct wpage *pg = &v->pg[pi];
			const uint8_t *a = v->p + pi * ps;
			const char *bad = NULL;
			char held[64];

			if (e) {
				bool pop = e[pi] & (RM_PM_PRESENT | RM_PM_SWAP);

				if (pop != (pg->state != P_NONE))
					bad = pop ? "populated, expected empty" :
						    "empty, expected populated";
				else if (pg->pfn && (e[pi] & RM_PM_PRESENT) &&
					 (e[pi] & RM_PM_PFN) != pg->pfn)
					bad = "another physical page than the one that moved there";
			}
			if (!bad && pg->state == P_DATA &&
			    rm_check(a, ps, w->v[pg->ovma].seed, (size_t)pg->opage * ps) !=
			    (size_t)-1)
				bad = "wrong bytes";
			else if (!bad && pg->state == P_ZERO && !rm_all_zero(a, ps))
				bad = "not zero";
			if (!bad)
				continue;
			if (pg->state == P_DATA)
				snprintf(held, sizeof(held), "page %u of region %u", pg->opage,
					 pg->ovma);
			else
				snprintf(held, sizeof(held), "%s",
					 pg->state == P_ZERO ? "the zero page" : "nothing");
			ksft_print_msg("%s: region %d page %zu (%p): %s (should hold %s)\n", what,
				       i, pi, (const void *)a, bad, held);
			ok = false;
			break;
		}
		free(e);
	}
	return ok;
}

/* ------------------------------------------------------- expectations */

static const struct rm_cnt zero_cnt;

/*
 * The output of a call: @want (0 or -errno), done, moved, err_index
 * @ia or @ib, and the counters @c (unless NULL).
 */
static bool chk_out(const char *what, int ret, const struct rust_mremap_movev *m, int want,
		    uint32_t done, uint64_t moved, uint32_t ia, uint32_t ib, const struct rm_cnt *c)
{
	struct rm_cnt got = rm_cnt_v(m);
	bool ok = true;

	CHECK(ret == want, "%s: returned %d (%s), expected %d (%s)\n", what, ret, err_str(ret),
	      want, err_str(want));
	CHECK(m->done == done, "%s: done %u, expected %u\n", what, m->done, done);
	CHECK(m->moved == moved, "%s: moved %llu, expected %llu\n", what,
	      (unsigned long long)m->moved, (unsigned long long)moved);
	if (ia == ib)
		CHECK(m->err_index == ia, "%s: err_index %u, expected %u\n", what, m->err_index,
		      ia);
	else
		CHECK(m->err_index == ia || m->err_index == ib,
		      "%s: err_index %u, expected %u or %u\n", what, m->err_index, ia, ib);
	if (c)
		ok &= rm_cnt_eq(what, &got, c);
	return ok;
}

/* A successful call (a dry run: done 0) with the counters @c. */
static bool chk_ok(const char *what, int ret, const struct rust_mremap_movev *m,
		   unsigned int count, bool dry, const struct rm_cnt *c)
{
	return chk_out(what, ret, m, 0, dry ? 0 : count, 0, count, count, c);
}

/*
 * Issue the call as a dry run and then for real; both must fail with
 * -@want, done 0, moved 0, err_index @ia or @ib and no counter.
 */
static bool expect_verr_raw(const char *what, int fd, const struct rust_mremap_movev *tmpl,
			    int want, uint32_t ia, uint32_t ib)
{
	static const unsigned int extra[2] = { DRY, 0 };
	bool ok = true;

	for (int i = 0; i < 2; i++) {
		struct rust_mremap_movev m = *tmpl;
		char label[160];
		int ret;

		rm_poison_outv(&m);
		m.flags |= extra[i];
		ret = ioctl(fd, RUST_MREMAP_IOC_MOVEV, &m) ? -errno : 0;
		snprintf(label, sizeof(label), "%s%s", what, i ? "" : " [dry run]");
		ok &= chk_out(label, ret, &m, -want, 0, 0, ia, ib, &zero_cnt);
	}
	return ok;
}

static bool expect_verr(const char *what, int fd, int pidfd, unsigned int flags,
			const struct rust_mremap_vec *vec, unsigned int count, int want,
			uint32_t ia, uint32_t ib)
{
	struct rust_mremap_movev m;

	memset(&m, 0, sizeof(m));
	m.pidfd = pidfd;
	m.flags = flags;
	m.vec = ua(vec);
	m.count = count;
	return expect_verr_raw(what, fd, &m, want, ia, ib);
}

/*
 * A successful vector: its dry run (done 0, nothing changes) and then the
 * call (done count), both with the counters @want; then every region as
 * the model says after the whole vector moved.
 */
static bool move_all(const char *what, int fd, struct world *w, unsigned int flags,
		     const struct rust_mremap_vec *v, unsigned int n, const struct rm_cnt *want)
{
	struct rust_mremap_movev m;
	char label[160];
	bool ok;
	int ret;

	if (!w_snap(w))
		return false;
	snprintf(label, sizeof(label), "%s [dry run]", what);
	ret = rm_movev(fd, SELF, flags | DRY, v, n, &m);
	ok = chk_ok(label, ret, &m, n, true, want);
	ok &= w_verify(w, label);
	ret = rm_movev(fd, SELF, flags, v, n, &m);
	ok &= chk_ok(what, ret, &m, n, false, want);
	if (!ret)
		ok &= w_apply(w, v, n, n, 0);
	else if (m.done < n && m.moved <= v[m.done].len)
		ok &= w_apply(w, v, n, m.done, m.moved);
	else
		return false;
	ok &= w_verify(w, what);
	return ok;
}

/* ------------------------------------------------------------ the scene */

/*
 * The errno tests' scene: NE entries of 4 pages each, from a filled
 * region A to a fresh region B at the same offsets (one move of the
 * scene's entries would share rmap identity).
 */
struct scene {
	struct world w;
	int a, b;
	struct rust_mremap_vec v[NE];
};

static bool scene_init(struct scene *s)
{
	w_init(&s->w);
	s->a = w_map(&s->w, K_ANON, NE * ch, ps);
	s->b = s->a < 0 ? -1 : w_map(&s->w, K_ANON, NE * ch, ps);
	if (s->b < 0) {
		w_destroy(&s->w);
		return false;
	}
	w_fill(&s->w, s->a, 0, NE * ch);
	for (int i = 0; i < NE; i++)
		s->v[i] = ent(wp(&s->w, s->a) + i * ch, wp(&s->w, s->b) + i * ch, ch);
	return true;
}

/* The scene's vector is refused with -@want at @ia or @ib; nothing changed.  Ends the scene. */
static enum res scene_refused(int fd, struct scene *s, const char *what, int pidfd,
			      unsigned int flags, int want, uint32_t ia, uint32_t ib)
{
	bool ok = w_snap(&s->w);

	if (ok)
		ok = expect_verr(what, fd, pidfd, flags, s->v, NE, want, ia, ib);
	ok &= w_verify(&s->w, what);
	w_destroy(&s->w);
	return ok ? R_PASS : R_FAIL;
}

/* --------------------------------------- 1-3: the struct, fields, array */

static enum res t_bad_struct(int fd)
{
	struct rust_mremap_movev *m;
	struct scene s;
	bool ok = true;
	uint8_t *q;
	int ret;

	if (!scene_init(&s))
		return R_FAIL;
	if (!w_snap(&s.w)) {
		w_destroy(&s.w);
		return R_FAIL;
	}
	ret = ioctl(fd, RUST_MREMAP_IOC_MOVEV, (void *)1) ? -errno : 0;
	CHECK(ret == -EFAULT, "MOVEV with arg 1: returned %d (%s), expected EFAULT\n", ret,
	      err_str(ret));

	/* pidfd, flags and vec readable, the rest of the struct unmapped. */
	q = mmap(NULL, 2 * ps, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED) {
		ksft_print_msg("mmap: %s\n", strerror(errno));
		ok = false;
	} else {
		munmap(q + ps, ps);
		m = (struct rust_mremap_movev *)(q + ps - 16);
		m->pidfd = SELF;
		m->flags = 0;
		m->vec = ua(s.v);
		ret = ioctl(fd, RUST_MREMAP_IOC_MOVEV, m) ? -errno : 0;
		CHECK(ret == -EFAULT,
		      "MOVEV, struct straddling an unmapped page: returned %d (%s), expected EFAULT\n",
		      ret, err_str(ret));
		munmap(q, ps);
	}

	/* A valid call in a read-only struct: the outputs cannot be written back. */
	q = mmap(NULL, ps, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED) {
		ksft_print_msg("mmap: %s\n", strerror(errno));
		ok = false;
	} else {
		m = (struct rust_mremap_movev *)q;
		memset(m, 0, sizeof(*m));
		m->pidfd = SELF;
		m->vec = ua(s.v);
		m->count = NE;
		mprotect(q, ps, PROT_READ);
		ret = ioctl(fd, RUST_MREMAP_IOC_MOVEV, m) ? -errno : 0;
		CHECK(ret == -EFAULT,
		      "MOVEV of valid entries, struct read-only: returned %d (%s), expected EFAULT with nothing moved\n",
		      ret, err_str(ret));
		munmap(q, ps);
	}
	ok &= w_verify(&s.w, "after the bad struct pointers");
	w_destroy(&s.w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * The lowest unknown bit (bit 6 since ABI 5) and bit 31: EINVAL.  Every
 * known bit (DONTWAKE, bit 3, since ABI 3; UFFD, bit 4, since ABI 4, with a
 * userfaultfd in uffd) but PARTIAL (bit 5, ABI 5, which a dry run does not
 * take) is accepted: a dry run with all of them succeeds.
 */
static enum res t_unknown_flag(int fd)
{
	struct rm_cnt want = { .pte = NE * ch / ps, .rel = NE * ch / ps };
	struct rust_mremap_movev m;
	struct scene s;
	int ret, uffd;
	bool ok;

	if (!scene_init(&s))
		return R_FAIL;
	uffd = rm_uffd_open(0, NULL);
	if (uffd < 0) {
		ksft_print_msg("userfaultfd: %s\n", strerror(errno));
		w_destroy(&s.w);
		return R_FAIL;
	}
	ok = w_snap(&s.w);
	ok = ok && expect_verr("lowest unknown flag bit", fd, SELF, RM_FLAG_FIRST_UNKNOWN, s.v, NE,
			       EINVAL, NE, NE);
	ok = ok && expect_verr("flag bit 31", fd, SELF, 1U << 31, s.v, NE, EINVAL, NE, NE);
	if (ok) {
		memset(&m, 0, sizeof(m));
		m.pidfd = SELF;
		/* But RUST_MREMAP_PARTIAL, which a dry run does not take (t_partial_dry_run). */
		m.flags = RUST_MREMAP_FLAGS_ALL & ~RUST_MREMAP_PARTIAL;
		m.vec = ua(s.v);
		m.count = NE;
		m.uffd = uffd;
		rm_poison_outv(&m);
		ret = ioctl(fd, RUST_MREMAP_IOC_MOVEV, &m) ? -errno : 0;
		ok = chk_ok("every known flag but PARTIAL (a relocating dry run)", ret, &m, NE,
			    true, &want);
	}
	close(uffd);
	ok &= w_verify(&s.w, "after unknown flags");
	w_destroy(&s.w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * @field: -1 uffd without RUST_MREMAP_UFFD (reserved0 until ABI 4; here
 * also the device's fd, an open fd the module must not look at without the
 * flag), 0 or 1 reserved[field].
 */
static enum res reserved_test(int fd, int field)
{
	const uint64_t vals[] = { 1, 1ULL << 31, 1ULL << 63, (uint64_t)fd };
	struct rust_mremap_movev m;
	struct scene s;
	bool ok;

	if (!scene_init(&s))
		return R_FAIL;
	ok = w_snap(&s.w);
	for (size_t i = 0; ok && i < ARRAY_SIZE(vals); i++) {
		char what[80];

		if (field < 0 && vals[i] >> 32)
			continue;
		if (field >= 0 && vals[i] == (uint64_t)fd)
			continue;
		memset(&m, 0, sizeof(m));
		m.pidfd = SELF;
		m.vec = ua(s.v);
		m.count = NE;
		if (field < 0)
			m.uffd = (int32_t)vals[i];
		else
			m.reserved[field] = vals[i];
		snprintf(what, sizeof(what), "%s = %#llx",
			 field < 0 ? "uffd without RUST_MREMAP_UFFD" : field ? "reserved[1]" :
			 "reserved[0]", (unsigned long long)vals[i]);
		ok = expect_verr_raw(what, fd, &m, EINVAL, NE, NE);
	}
	ok &= w_verify(&s.w, "after non-zero reserved fields");
	w_destroy(&s.w);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_uffd_without_flag(int fd)
{
	return reserved_test(fd, -1);
}

static enum res t_reserved_0(int fd)
{
	return reserved_test(fd, 0);
}

static enum res t_reserved_1(int fd)
{
	return reserved_test(fd, 1);
}

static enum res t_count_zero(int fd)
{
	struct scene s;
	bool ok;

	if (!scene_init(&s))
		return R_FAIL;
	ok = w_snap(&s.w);
	ok = ok && expect_verr("count 0", fd, SELF, 0, s.v, 0, EINVAL, 0, 0);
	/* The count is checked before the array is read. */
	ok = ok && expect_verr("count 0, vec NULL", fd, SELF, 0, NULL, 0, EINVAL, 0, 0);
	ok &= w_verify(&s.w, "after count 0");
	w_destroy(&s.w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * MAX + 1 entries whose first NE are the scene's and the rest zero (len 0:
 * were the array read, entry NE would be refused with err_index NE).
 */
static enum res t_count_max_plus_1(int fd)
{
	struct rust_mremap_vec *big = calloc(VMAX + 1, sizeof(*big));
	struct scene s;
	bool ok;

	if (!big || !scene_init(&s)) {
		free(big);
		return R_FAIL;
	}
	memcpy(big, s.v, sizeof(s.v));
	ok = w_snap(&s.w);
	ok = ok && expect_verr("count MAX + 1", fd, SELF, 0, big, VMAX + 1, EINVAL, VMAX + 1,
			       VMAX + 1);
	/* The count is checked before the array is read. */
	ok = ok && expect_verr("count MAX + 1, vec NULL", fd, SELF, 0, NULL, VMAX + 1, EINVAL,
			       VMAX + 1, VMAX + 1);
	ok &= w_verify(&s.w, "after count MAX + 1");
	w_destroy(&s.w);
	free(big);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_vec_null(int fd)
{
	struct scene s;
	bool ok;

	if (!scene_init(&s))
		return R_FAIL;
	ok = w_snap(&s.w);
	ok = ok && expect_verr("vec NULL", fd, SELF, 0, NULL, NE, EFAULT, NE, NE);
	ok &= w_verify(&s.w, "after vec NULL");
	w_destroy(&s.w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * An array over three pages whose middle one is unmapped: two valid
 * entries at the end of the first page, two at the start of the third.
 */
static enum res t_vec_middle_page_unmapped(int fd)
{
	const size_t esz = sizeof(struct rust_mremap_vec);
	struct rust_mremap_vec *arr;
	unsigned int third, count;
	struct scene s;
	uint8_t *q;
	bool ok;

	if (!scene_init(&s))
		return R_FAIL;
	q = mmap(NULL, 3 * ps, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED) {
		ksft_print_msg("mmap: %s\n", strerror(errno));
		w_destroy(&s.w);
		return R_FAIL;
	}
	arr = (struct rust_mremap_vec *)(q + ps - 2 * esz);
	/* The first entry that lies wholly in the third page. */
	third = (unsigned int)((ps + 2 * esz + esz - 1) / esz);
	count = third + 2;
	arr[0] = s.v[0];
	arr[1] = s.v[1];
	arr[third] = s.v[2];
	arr[third + 1] = s.v[3];
	munmap(q + ps, ps);
	ok = w_snap(&s.w);
	ok = ok && expect_verr("the array's middle page unmapped", fd, SELF, 0, arr, count, EFAULT,
			       count, count);
	ok &= w_verify(&s.w, "after an array with a hole");
	munmap(q, ps);
	munmap(q + 2 * ps, ps);
	w_destroy(&s.w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * The scene's NE entries, the last one's final 8 bytes (its len) in an
 * unmapped page.  @entry0_bad: entry 0 has len 0 too, which is only found
 * once the array is in (EFAULT wins: the whole array is copied first).
 */
static enum res vec_tail_test(int fd, bool entry0_bad)
{
	const size_t esz = sizeof(struct rust_mremap_vec);
	struct rust_mremap_vec *arr;
	struct scene s;
	uint8_t *q;
	bool ok;

	if (!scene_init(&s))
		return R_FAIL;
	q = mmap(NULL, 2 * ps, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED) {
		ksft_print_msg("mmap: %s\n", strerror(errno));
		w_destroy(&s.w);
		return R_FAIL;
	}
	arr = (struct rust_mremap_vec *)(q + ps - NE * esz + 8);
	memcpy(arr, s.v, sizeof(s.v));
	if (entry0_bad)
		arr[0].len = 0;
	munmap(q + ps, ps);
	ok = w_snap(&s.w);
	ok = ok && expect_verr(entry0_bad ? "last entry's len unmapped, entry 0 len 0" :
				"last entry's len unmapped", fd, SELF, 0, arr, NE, EFAULT, NE, NE);
	ok &= w_verify(&s.w, "after an array running into an unmapped page");
	munmap(q, ps);
	w_destroy(&s.w);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_vec_tail_unmapped(int fd)
{
	return vec_tail_test(fd, false);
}

static enum res t_order_array_before_entries(int fd)
{
	return vec_tail_test(fd, true);
}

/* -------------------------------------- 4: each entry's argument checks */

enum argbad {
	A_LEN0, A_SRC_HALF, A_DST_HALF, A_LEN_HALF, A_SRC_WRAP, A_DST_WRAP, A_UP_OVERLAP,
	A_DST_EQ_SRC, A_SRC_BEYOND, A_DST_BEYOND,
};

/* Entry KM of the scene made invalid: EINVAL, err_index KM. */
static enum res arg_test(int fd, enum argbad which)
{
	static const char *const names[] = {
		[A_LEN0] = "entry 2: len 0",
		[A_SRC_HALF] = "entry 2: src + page/2",
		[A_DST_HALF] = "entry 2: dst + page/2",
		[A_LEN_HALF] = "entry 2: len - page/2",
		[A_SRC_WRAP] = "entry 2: src the last page, len 2 pages",
		[A_DST_WRAP] = "entry 2: dst the last page, len 2 pages",
		[A_UP_OVERLAP] = "entry 2: dst = src + page",
		[A_DST_EQ_SRC] = "entry 2: dst = src",
		[A_SRC_BEYOND] = "entry 2: src past the task size",
		[A_DST_BEYOND] = "entry 2: dst past the task size",
	};
	uint64_t top = UINTPTR_MAX & ~(uint64_t)(ps - 1);
	struct rust_mremap_vec *e;
	struct scene s;

	if (!scene_init(&s))
		return R_FAIL;
	e = &s.v[KM];
	switch (which) {
	case A_LEN0:
		e->len = 0;
		break;
	case A_SRC_HALF:
		e->src += ps / 2;
		e->len -= ps;
		break;
	case A_DST_HALF:
		e->dst += ps / 2;
		e->len -= ps;
		break;
	case A_LEN_HALF:
		e->len -= ps / 2;
		break;
	case A_SRC_WRAP:
		e->src = top;
		e->len = 2 * ps;
		break;
	case A_DST_WRAP:
		e->dst = top;
		e->len = 2 * ps;
		break;
	case A_UP_OVERLAP:
		/* Also overlaps entry 3's source: the per-entry check comes first. */
		e->dst = e->src + ps;
		break;
	case A_DST_EQ_SRC:
		e->dst = e->src;
		break;
	case A_SRC_BEYOND:
		e->src = va_limit - ps;
		e->len = 2 * ps;
		break;
	case A_DST_BEYOND:
		e->dst = va_limit - ps;
		e->len = 2 * ps;
		break;
	}
	return scene_refused(fd, &s, names[which], SELF, 0, EINVAL, KM, KM);
}

static enum res t_arg_len0(int fd)
{
	return arg_test(fd, A_LEN0);
}

static enum res t_arg_src_half(int fd)
{
	return arg_test(fd, A_SRC_HALF);
}

static enum res t_arg_dst_half(int fd)
{
	return arg_test(fd, A_DST_HALF);
}

static enum res t_arg_len_half(int fd)
{
	return arg_test(fd, A_LEN_HALF);
}

static enum res t_arg_src_wrap(int fd)
{
	return arg_test(fd, A_SRC_WRAP);
}

static enum res t_arg_dst_wrap(int fd)
{
	return arg_test(fd, A_DST_WRAP);
}

static enum res t_arg_up_overlap(int fd)
{
	return arg_test(fd, A_UP_OVERLAP);
}

static enum res t_arg_dst_eq_src(int fd)
{
	return arg_test(fd, A_DST_EQ_SRC);
}

static enum res t_arg_src_beyond(int fd)
{
	return arg_test(fd, A_SRC_BEYOND);
}

static enum res t_arg_dst_beyond(int fd)
{
	return arg_test(fd, A_DST_BEYOND);
}

/* ------------------------------------------ 5: overlaps between entries */

enum ovl {
	O_SRC_SRC, O_DST_DST, O_DST_ON_EARLIER_SRC, O_DST_ON_LATER_SRC, O_SAME, O_FIRST_LAST,
	O_CROSS_SORTED,
};

/*
 * Two entries overlap (each valid alone): EINVAL at either of them.  Each
 * case runs twice: as built, and with the entries in reverse order.  The
 * module checks a vector whose sources, and destinations, each ascend
 * without overlapping (as a collector's do) without sorting it, and sorts
 * any other: a reversed vector is never one, and O_CROSS_SORTED is a
 * cross-side overlap in a vector that is.
 */
static enum res overlap_test(int fd, enum ovl which)
{
	static const char *const names[] = {
		[O_SRC_SRC] = "entries 1 and 2: sources overlap",
		[O_DST_DST] = "entries 1 and 2: destinations overlap",
		[O_DST_ON_EARLIER_SRC] = "entry 2's dst is entry 1's src",
		[O_DST_ON_LATER_SRC] = "entry 1's dst is entry 2's src",
		[O_SAME] = "entry 2 = entry 1",
		[O_FIRST_LAST] = "entries 0 and 3: the same source",
		[O_CROSS_SORTED] = "entries 0 and 3: a dst on a src, both sides ascending",
	};
	bool ok = true;

	for (int rev = 0; rev < 2; rev++) {
		uint32_t ia = 1, ib = 2;
		struct scene s;
		char what[128];

		if (!scene_init(&s))
			return R_FAIL;
		switch (which) {
		case O_SRC_SRC:
			s.v[2].src = s.v[1].src + ps;
			break;
		case O_DST_DST:
			s.v[2].dst = s.v[1].dst + ps;
			break;
		case O_DST_ON_EARLIER_SRC:
			/* [src_2 - len, src_2): a downward move next to its own source. */
			s.v[2].dst = s.v[1].src;
			break;
		case O_DST_ON_LATER_SRC:
			/* [src_1 + len, ...): an upward move right above its own source. */
			s.v[1].dst = s.v[2].src;
			break;
		case O_SAME:
			s.v[2] = s.v[1];
			break;
		case O_FIRST_LAST:
			s.v[3].src = s.v[0].src;
			ia = 0;
			ib = 3;
			break;
		case O_CROSS_SORTED:
			/* The destinations still ascend, wherever B lies. */
			if (s.v[0].src > s.v[0].dst)
				s.v[3].dst = s.v[0].src;
			else
				s.v[0].dst = s.v[3].src;
			ia = 0;
			ib = 3;
			break;
		}
		if (rev) {
			for (int i = 0; i < NE / 2; i++) {
				struct rust_mremap_vec t = s.v[i];

				s.v[i] = s.v[NE - 1 - i];
				s.v[NE - 1 - i] = t;
			}
			ia = NE - 1 - ia;
			ib = NE - 1 - ib;
		}
		snprintf(what, sizeof(what), "%s%s", names[which], rev ? " [reversed]" : "");
		ok &= scene_refused(fd, &s, what, SELF, 0, EINVAL, ia, ib) == R_PASS;
	}
	return ok ? R_PASS : R_FAIL;
}

static enum res t_ovl_src_src(int fd)
{
	return overlap_test(fd, O_SRC_SRC);
}

static enum res t_ovl_dst_dst(int fd)
{
	return overlap_test(fd, O_DST_DST);
}

static enum res t_ovl_dst_on_earlier_src(int fd)
{
	return overlap_test(fd, O_DST_ON_EARLIER_SRC);
}

static enum res t_ovl_dst_on_later_src(int fd)
{
	return overlap_test(fd, O_DST_ON_LATER_SRC);
}

static enum res t_ovl_same(int fd)
{
	return overlap_test(fd, O_SAME);
}

static enum res t_ovl_first_last(int fd)
{
	return overlap_test(fd, O_FIRST_LAST);
}

static enum res t_ovl_cross_sorted(int fd)
{
	return overlap_test(fd, O_CROSS_SORTED);
}

/* ----------------------------------------------------------- 6: the pidfd */

static enum res t_pidfd_ebadf(int fd)
{
	struct scene s;
	int efd, cfd;
	bool ok;

	if (!scene_init(&s))
		return R_FAIL;
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0) {
		ksft_print_msg("eventfd: %s\n", strerror(errno));
		w_destroy(&s.w);
		return R_FAIL;
	}
	cfd = dup(efd);		/* a number that is no open fd */
	close(cfd);
	ok = w_snap(&s.w);
	ok = ok && expect_verr("pidfd = eventfd", fd, efd, 0, s.v, NE, EBADF, NE, NE);
	ok = ok && expect_verr("pidfd = closed fd", fd, cfd, 0, s.v, NE, EBADF, NE, NE);
	close(efd);
	ok &= w_verify(&s.w, "after bad pidfds");
	w_destroy(&s.w);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_pidfd_esrch(int fd)
{
	struct scene s;
	int pidfd, st;
	enum res r;
	pid_t pid;

	if (!scene_init(&s))
		return R_FAIL;
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0) {
		ksft_print_msg("fork: %s\n", strerror(errno));
		w_destroy(&s.w);
		return R_FAIL;
	}
	/* Not reaped yet: the pidfd opens (a zombie at worst). */
	pidfd = rm_pidfd_open(pid);
	st = rm_wait_status(pid);
	if (pidfd < 0 || st != 0) {
		ksft_print_msg("pidfd_open: %s, child status %d\n", strerror(errno), st);
		if (pidfd >= 0)
			close(pidfd);
		w_destroy(&s.w);
		return R_FAIL;
	}
	r = scene_refused(fd, &s, "pidfd of a reaped child", pidfd, 0, ESRCH, NE, NE);
	close(pidfd);
	return r;
}

/* ------------------------------------------------- 9: each entry's VMAs */

enum vbad { V_SRC_HOLE, V_DST_HOLE, V_SRC_PAST_END, V_SRC_SEALED, V_DST_SEALED, V_SRC_FILE,
	    V_DST_SHARED, V_PROT };

/* Entry KM's source or destination made unacceptable; the other entries are fine. */
static enum res vma_test(int fd, enum vbad which)
{
	static const struct {
		const char *name;
		int err;
	} c[] = {
		[V_SRC_HOLE] = { "entry 2's src in a hole", EFAULT },
		[V_DST_HOLE] = { "entry 2's dst in a hole", EFAULT },
		[V_SRC_PAST_END] = { "entry 2's src runs a page past its VMA", EFAULT },
		[V_SRC_SEALED] = { "entry 2's src sealed", EPERM },
		[V_DST_SEALED] = { "entry 2's dst sealed", EPERM },
		[V_SRC_FILE] = { "entry 2's src a MAP_PRIVATE file", EOPNOTSUPP },
		[V_DST_SHARED] = { "entry 2's dst MAP_SHARED|MAP_ANONYMOUS", EOPNOTSUPP },
		[V_PROT] = { "entry 2's src read-only, dst read-write", EINVAL },
	};
	struct rust_mremap_vec *e;
	struct scene s;
	uint8_t *x;
	int i;

	if (!scene_init(&s))
		return R_FAIL;
	e = &s.v[KM];
	switch (which) {
	case V_SRC_HOLE:
	case V_DST_HOLE:
		x = rm_find_hole(ch, ps, 0, ps);
		if (!x) {
			w_destroy(&s.w);
			return R_FAIL;
		}
		if (which == V_SRC_HOLE)
			e->src = ua(x);
		else
			e->dst = ua(x);
		break;
	default:
		i = w_map(&s.w, which == V_SRC_FILE ? K_FILE_PRIVATE :
			  which == V_DST_SHARED ? K_ANON_SHARED : K_ANON, ch, ps);
		if (i < 0) {
			w_destroy(&s.w);
			return R_FAIL;
		}
		x = wp(&s.w, i);
		if (which != V_DST_SEALED && which != V_DST_SHARED)
			w_fill(&s.w, i, 0, ch);
		if ((which == V_SRC_SEALED || which == V_DST_SEALED) &&
		    syscall(__NR_mseal, x, ch, 0)) {
			ksft_print_msg("mseal: %s\n", strerror(errno));
			w_destroy(&s.w);
			return R_FAIL;
		}
		if (which == V_PROT && mprotect(x, ch, PROT_READ)) {
			ksft_print_msg("mprotect: %s\n", strerror(errno));
			w_destroy(&s.w);
			return R_FAIL;
		}
		if (which == V_DST_SEALED || which == V_DST_SHARED)
			e->dst = ua(x);
		else
			e->src = ua(which == V_SRC_PAST_END ? x + ps : x);
		break;
	}
	return scene_refused(fd, &s, c[which].name, SELF, 0, c[which].err, KM, KM);
}

static enum res t_vma_src_hole(int fd)
{
	return vma_test(fd, V_SRC_HOLE);
}

static enum res t_vma_dst_hole(int fd)
{
	return vma_test(fd, V_DST_HOLE);
}

static enum res t_vma_src_past_end(int fd)
{
	return vma_test(fd, V_SRC_PAST_END);
}

static enum res t_vma_src_sealed(int fd)
{
	return vma_test(fd, V_SRC_SEALED);
}

static enum res t_vma_dst_sealed(int fd)
{
	return vma_test(fd, V_DST_SEALED);
}

static enum res t_vma_src_file(int fd)
{
	return vma_test(fd, V_SRC_FILE);
}

static enum res t_vma_dst_shared(int fd)
{
	return vma_test(fd, V_DST_SHARED);
}

static enum res t_vma_prot(int fd)
{
	return vma_test(fd, V_PROT);
}

/* ------------------------------------------------- 10: each entry's plan */

/* One page populated in the last entry's destination: EEXIST there, both rmap modes. */
static enum res t_eexist_last(int fd)
{
	static const unsigned int flags[] = { 0, RELOC };
	bool ok = true;

	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		struct scene s;

		if (!scene_init(&s))
			return R_FAIL;
		w_fill(&s.w, s.b, (NE - 1) * ch + ps, ps);
		ok &= scene_refused(fd, &s, flags[i] ? "last dst populated, relocating" :
				    "last dst populated", SELF, flags[i], EEXIST, NE - 1,
				    NE - 1) == R_PASS;
	}
	return ok ? R_PASS : R_FAIL;
}

/*
 * The errno scene with a forked child alive (its pid; *@go releases it,
 * holder_release()) and every source page written again by us, COW broken,
 * but the second page of the last entry, which the child still shares.
 * -1 (no scene) on failure.
 */
static pid_t scene_fork_shared_page(struct scene *s, int *go)
{
	size_t keep = (NE - 1) * ch + ps;
	pid_t pid;

	if (!scene_init(s))
		return -1;
	pid = fork_holder(go);
	if (pid < 0) {
		w_destroy(&s->w);
		return -1;
	}
	for (size_t off = 0; off < NE * ch; off += ps) {
		volatile uint8_t *b = wp(&s->w, s->a) + off;

		if (off != keep)
			*b = *b;
	}
	return pid;
}

/*
 * RUST_MREMAP_RELOCATE, a forked child alive, every source page written
 * again by us (COW broken: exclusive) but one in the last entry, which the
 * child still shares: EBUSY there, nothing moved.
 */
static enum res t_ebusy_last_fork_relocate(int fd)
{
	struct scene s;
	enum res r;
	pid_t pid;
	int go;

	pid = scene_fork_shared_page(&s, &go);
	if (pid < 0)
		return R_FAIL;
	r = scene_refused(fd, &s, "last entry's page shared with a child, relocating", SELF, RELOC,
			  EBUSY, NE - 1, NE - 1);
	if (!holder_release(pid, go)) {
		ksft_print_msg("the child did not exit cleanly\n");
		r = R_FAIL;
	}
	return r;
}

/*
 * No flag: entries 0-2 share rmap identity (A to fresh B, same offset), the
 * last moves within one VMA C, so it relocates; a forked child shares all
 * of it.  Sharing moves shared folios, relocating cannot: EBUSY in the
 * last entry, nothing moved.  Once the child is gone and C written again,
 * the same vector moves.
 */
static enum res t_ebusy_last_fork_by_rule(int fd)
{
	struct rm_cnt want = { .pte = 4 * ch / ps, .rel = ch / ps };
	struct rust_mremap_vec v[NE];
	struct world w;
	int a, b, c, go;
	bool ok;
	pid_t pid;

	w_init(&w);
	a = w_map(&w, K_ANON, 3 * ch, ps);
	b = a < 0 ? -1 : w_map(&w, K_ANON, 3 * ch, ps);
	c = b < 0 ? -1 : w_map(&w, K_ANON, 3 * ch, ps);
	if (c < 0) {
		w_destroy(&w);
		return R_FAIL;
	}
	w_fill(&w, a, 0, 3 * ch);
	w_fill(&w, c, 0, ch);
	for (int i = 0; i < 3; i++)
		v[i] = ent(wp(&w, a) + i * ch, wp(&w, b) + i * ch, ch);
	v[3] = ent(wp(&w, c), wp(&w, c) + 2 * ch, ch);
	pid = fork_holder(&go);
	if (pid < 0) {
		w_destroy(&w);
		return R_FAIL;
	}
	ok = w_snap(&w);
	ok = ok && expect_verr("last entry within one VMA, its pages shared with a child", fd,
			       SELF, 0, v, NE, EBUSY, NE - 1, NE - 1);
	ok &= w_verify(&w, "after EBUSY");
	if (!holder_release(pid, go)) {
		ksft_print_msg("the child did not exit cleanly\n");
		ok = false;
	}
	for (size_t off = 0; off < ch; off += ps) {
		volatile uint8_t *p = wp(&w, c) + off;

		*p = *p;
	}
	if (ok)
		ok = move_all("the same vector, the child gone", fd, &w, 0, v, NE, &want);
	w_destroy(&w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * The errno scene with the second page of entry 1 pinned by io_uring (close
 * *@ring to unpin): R_PASS, or the result the test ends with (a skip if the
 * pin is not possible here; no scene then).
 */
static enum res scene_pinned(struct scene *s, int *ring)
{
	int ret;

	if (!scene_init(s))
		return R_FAIL;
	ret = pin_page(wp(&s->w, s->a) + ch + ps, ring);
	if (ret) {
		w_destroy(&s->w);
		return skip("io_uring pin of a page: %s", strerror(-ret));
	}
	return R_PASS;
}

/*
 * A page of entry 1's source pinned by io_uring.  Relocating: EBUSY at
 * entry 1, nothing moved (entry 0 neither).  Sharing: everything moves,
 * the pinned page too, as one move moves it.
 */
static enum res t_ebusy_pinned(int fd)
{
	struct rm_cnt want = { .pte = NE * ch / ps };
	struct scene s;
	enum res r;
	int ring;
	bool ok;

	r = scene_pinned(&s, &ring);
	if (r != R_PASS)
		return r;
	ok = w_snap(&s.w);
	ok = ok && expect_verr("entry 1's page pinned, relocating", fd, SELF, RELOC, s.v, NE,
			       EBUSY, 1, 1);
	ok &= w_verify(&s.w, "after EBUSY");
	if (ok)
		ok = move_all("entry 1's page pinned, sharing", fd, &s.w, 0, s.v, NE, &want);
	close(ring);
	w_destroy(&s.w);
	return ok ? R_PASS : R_FAIL;
}

/* The errno scene with entry 0's source in a hole (no VMA); false if there is none. */
static bool scene_src_hole(struct scene *s)
{
	uint8_t *hole;

	if (!scene_init(s))
		return false;
	hole = rm_find_hole(ch, ps, 0, ps);
	if (!hole) {
		w_destroy(&s->w);
		return false;
	}
	s->v[0].src = ua(hole);
	return true;
}

/*
 * A vector of one entry: the module moves it as it moves a single
 * RUST_MREMAP_IOC_MOVE (one pair for the checks, the plan and the move),
 * and what refuses that entry must still name it: err_index 0, not 1 (=
 * count, which means the call itself).  A source in a hole (EFAULT), a
 * populated destination (EEXIST, with and without RUST_MREMAP_RELOCATE:
 * the faulted destination has an identity of its own, so both relocate)
 * and, relocating, a pinned page (EBUSY); dry and real (expect_verr()),
 * memory unchanged.
 */
static enum res t_one_entry_refusals(int fd)
{
	static const unsigned int flags[] = { 0, RELOC };
	struct scene s;
	bool ok = true;
	enum res r;
	int ring;

	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		if (!scene_init(&s))
			return R_FAIL;
		w_fill(&s.w, s.b, (NE - 1) * ch + ps, ps);
		ok &= w_snap(&s.w) &&
		      expect_verr(flags[i] ? "one entry, dst populated, relocating" :
				  "one entry, dst populated", fd, SELF, flags[i], &s.v[NE - 1], 1,
				  EEXIST, 0, 0);
		ok &= w_verify(&s.w, "after EEXIST");
		w_destroy(&s.w);
	}
	if (!scene_src_hole(&s))
		return R_FAIL;
	ok &= w_snap(&s.w) &&
	      expect_verr("one entry, source in a hole", fd, SELF, 0, &s.v[0], 1, EFAULT, 0, 0);
	ok &= w_verify(&s.w, "after EFAULT");
	w_destroy(&s.w);
	if (!ok)
		return R_FAIL;
	r = scene_pinned(&s, &ring);
	if (r != R_PASS)
		return r;
	ok &= w_snap(&s.w) &&
	      expect_verr("one entry, a page pinned, relocating", fd, SELF, RELOC, &s.v[1], 1,
			  EBUSY, 0, 0);
	ok &= w_verify(&s.w, "after EBUSY");
	close(ring);
	w_destroy(&s.w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * Fill region @i (one PMD, PMD-aligned) as one THP (MADV_HUGEPAGE, then
 * MADV_COLLAPSE if the faults did not make one); says so if it is not.
 */
static bool w_fill_thp(struct world *w, int i)
{
	bool ok = true;

	madvise(wp(w, i), RM_PMD, MADV_HUGEPAGE);
	w_fill(w, i, 0, RM_PMD);
	if (rm_anon_huge_kb(wp(w, i)) < 2048)
		madvise(wp(w, i), RM_PMD, MADV_COLLAPSE);
	CHECK(rm_anon_huge_kb(wp(w, i)) >= 2048,
	      "the THP source is not one THP (AnonHugePages %ld kB, THP %s)\n",
	      rm_anon_huge_kb(wp(w, i)), rm_thp_setting());
	return ok;
}

/*
 * Ascending vectors the unsorted check must accept (both within one VMA
 * C, so they relocate): a source that ends where another entry's
 * destination starts, and an entry whose destination overlaps its own
 * source downwards.
 */
static enum res t_sorted_vector_edges(int fd)
{
	const struct rm_cnt want = { .pte = 2 * ch / ps, .rel = 2 * ch / ps };
	bool ok = true;

	for (int own = 0; own < 2; own++) {
		const char *what = own ? "ascending, an entry overlapping its own source" :
				   "ascending, a source ending where a destination starts";
		struct rust_mremap_vec v[2];
		struct world w;
		uint8_t *c;
		int ci;

		w_init(&w);
		ci = w_map(&w, K_ANON, 5 * ch, ps);
		if (ci < 0) {
			w_destroy(&w);
			return R_FAIL;
		}
		c = wp(&w, ci);
		w_fill(&w, ci, ch, ch);
		w_fill(&w, ci, 3 * ch, ch);
		v[0] = ent(c + ch, c, ch);
		/* [c + ch, c + 2ch) ends where [c + 2ch, ...) starts; or overlaps its own source */
		v[1] = ent(c + 3 * ch, own ? c + 2 * ch + 2 * ps : c + 2 * ch, ch);
		ok &= move_all(what, fd, &w, 0, v, 2, &want);
		w_destroy(&w);
	}
	return ok ? R_PASS : R_FAIL;
}

/*
 * The plan's memory of a destination slot without a page table must not
 * hide a populated page in the next slot: entry 0's destination lies in a
 * 2 MiB slot of B with no table, entry 1's starts in the same slot and
 * runs into the next, whose first page is populated: EEXIST at entry 1,
 * nothing moved, with and without RUST_MREMAP_RELOCATE.
 */
static enum res t_eexist_past_an_empty_slot(int fd)
{
	static const unsigned int flags[] = { 0, RELOC };
	bool ok = true;

	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		struct rust_mremap_vec v[2];
		struct world w;
		int a, b;

		if (!w_two(&w, 4 * ps, ps, 2 * RM_PMD, RM_PMD, &a, &b))
			return R_FAIL;
		w_fill(&w, a, 0, 4 * ps);
		w_fill(&w, b, RM_PMD, ps);
		v[0] = ent(wp(&w, a), wp(&w, b), ps);
		v[1] = ent(wp(&w, a) + ps, wp(&w, b) + RM_PMD - ps, 2 * ps);
		ok &= w_snap(&w);
		ok &= expect_verr(flags[i] ? "a populated slot after an empty one, relocating" :
				  "a populated slot after an empty one", fd, SELF, flags[i], v, 2,
				  EEXIST, 1, 1);
		ok &= w_verify(&w, "after EEXIST");
		w_destroy(&w);
	}
	return ok ? R_PASS : R_FAIL;
}

/* ------------------------------------ RUST_MREMAP_PARTIAL: no plan */

/*
 * A relocating vector under RUST_MREMAP_PARTIAL: not planned, so what
 * cannot move stops it where it is met.  Entry @done cannot move from byte
 * @moved on: the call fails with -@want there, entries [0, done) and the
 * first @moved bytes of entry done moved (page by page, each folio
 * relocated: the scene's entries are 4 pages), and nothing else changed.
 */
static bool expect_partial_f(const char *what, int fd, struct world *w, unsigned int flags,
			     const struct rust_mremap_vec *v, unsigned int n, int want,
			     uint32_t done, uint64_t moved)
{
	struct rust_mremap_movev m;
	struct rm_cnt c = { 0 };
	uint64_t bytes = moved;
	bool ok;
	int ret;

	for (uint32_t i = 0; i < done; i++)
		bytes += v[i].len;
	c.pte = c.rel = bytes / ps;
	if (!w_snap(w))
		return false;
	ret = rm_movev(fd, SELF, flags | PARTIAL, v, n, &m);
	ok = chk_out(what, ret, &m, -want, done, moved, want ? done : n, want ? done : n, &c);
	ok &= w_apply(w, v, n, done, moved);
	ok &= w_verify(w, what);
	return ok;
}

static bool expect_partial(const char *what, int fd, struct world *w,
			   const struct rust_mremap_vec *v, unsigned int n, int want,
			   uint32_t done, uint64_t moved)
{
	return expect_partial_f(what, fd, w, RELOC, v, n, want, done, moved);
}

/*
 * RUST_MREMAP_PARTIAL stops at a pinned page (the second page of entry 1)
 * with entry 0 and the page before it moved; without the flag the same
 * vector moves nothing (t_ebusy_pinned).
 */
static enum res t_partial_stops_at_pinned(int fd)
{
	struct scene s;
	enum res r;
	int ring;
	bool ok;

	r = scene_pinned(&s, &ring);
	if (r != R_PASS)
		return r;
	ok = expect_partial("entry 1's second page pinned, partial", fd, &s.w, s.v, NE, EBUSY, 1,
			    ps);
	close(ring);
	w_destroy(&s.w);

	/*
	 * RUST_MREMAP_PARTIAL alone, as a collector passes it: the entries
	 * pack into B in reverse order, at different offsets, so they
	 * relocate by the rule (no RUST_MREMAP_RELOCATE), and stop the same.
	 */
	r = scene_pinned(&s, &ring);
	if (r != R_PASS)
		return r;
	for (int i = 0; i < NE; i++)
		s.v[i].dst = ua(wp(&s.w, s.b) + (NE - 1 - i) * ch);
	ok &= expect_partial_f("entry 1's second page pinned, packed by rule, partial", fd, &s.w,
			       0, s.v, NE, EBUSY, 1, ps);
	close(ring);
	w_destroy(&s.w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * RUST_MREMAP_PARTIAL with a forked child sharing the second page of the
 * last entry (every page but that one written again: exclusive): EBUSY in
 * the last entry after its first page, everything before it moved.
 */
static enum res t_partial_stops_at_fork_shared(int fd)
{
	struct scene s;
	bool ok;
	pid_t pid;
	int go;

	pid = scene_fork_shared_page(&s, &go);
	if (pid < 0)
		return R_FAIL;
	ok = expect_partial("last entry's second page shared with a child, partial", fd, &s.w,
			    s.v, NE, EBUSY, NE - 1, ps);
	if (!holder_release(pid, go)) {
		ksft_print_msg("the child did not exit cleanly\n");
		ok = false;
	}
	w_destroy(&s.w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * What a relocating move that stops early leaves behind: the module gives
 * the destinations a run will need their page tables before it starts, at
 * most 32 ahead (TABLES_AHEAD in batch.rs), and those stay, empty.  TA_N
 * one-page entries out of one source table, each into its own destination
 * PMD of a fresh VMA, mutually misaligned (none may move as a whole
 * table), the first entry's page pinned, RUST_MREMAP_PARTIAL: EBUSY at
 * entry 0, nothing moved, and VmPTE grows by no more than 32 tables and
 * the PMD tables the destination may need; without the bound it would
 * grow by TA_N.
 */
#define TA_N	96
static enum res t_partial_tables_ahead_bounded(int fd)
{
	struct rust_mremap_vec v[TA_N];
	struct rust_mremap_movev m;
	struct rm_cnt none = { 0 };
	long before, after, tables, gib = 0;
	uint64_t last = UINT64_MAX;
	struct world w;
	int a, b, ring, ret;
	bool ok = true;

	if (!w_two(&w, TA_N * ps, RM_PMD, TA_N * RM_PMD, RM_PMD, &a, &b))
		return R_FAIL;
	w_fill(&w, a, 0, TA_N * ps);
	for (int i = 0; i < TA_N; i++) {
		v[i] = ent(wp(&w, a) + i * ps, wp(&w, b) + i * RM_PMD + RM_PMD / 2, ps);
		/* The PMD tables the first 33 destinations may need, one per GiB. */
		if (i <= 32 && v[i].dst >> 30 != last) {
			last = v[i].dst >> 30;
			gib++;
		}
	}
	ret = pin_page(wp(&w, a), &ring);
	if (ret) {
		w_destroy(&w);
		return skip("io_uring pin of a page: %s", strerror(-ret));
	}
	CHECK(w_snap(&w), "cannot snapshot the regions\n");
	/* Around the call alone: the model's own buffers are touched before. */
	before = rm_vmpte_kb();
	ret = rm_movev(fd, SELF, RELOC | PARTIAL, v, TA_N, &m);
	after = rm_vmpte_kb();
	ok &= chk_out("entry 0's page pinned, 96 destination PMDs", ret, &m, -EBUSY, 0, 0, 0, 0,
		      &none);
	ok &= w_verify(&w, "after EBUSY at entry 0");
	CHECK(before >= 0 && after >= 0, "VmPTE unreadable\n");
	tables = (after - before) * 1024 / (long)ps;
	ksft_print_msg("page tables left behind: %ld (VmPTE %ld -> %ld kB), %ld GiB spanned\n",
		       tables, before, after, gib);
	/*
	 * 32 PTE tables prepared ahead of the run (none without the
	 * preparation: the walk allocates its own, and nothing moved), the PMD
	 * tables above them, and at most a PUD table.
	 */
	CHECK(tables >= 32 && tables <= 32 + gib + 1,
	      "%ld page tables left behind, expected 32 to %ld\n", tables, 32 + gib + 1);
	close(ring);
	w_destroy(&w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * RUST_MREMAP_PARTIAL where a whole page table would move: entry 0 moves
 * its table whole; entry 1's table holds a pinned page at +1 MiB, so it
 * cannot move whole, and goes entry by entry up to that page: EBUSY with
 * exactly the 1 MiB before it moved, as UFFDIO_MOVE stops at the page (not
 * at the table's start).  The same through RUST_MREMAP_IOC_MOVE.
 */
static enum res t_partial_table_stops_at_page(int fd)
{
	const struct rm_cnt want_v = { .pmd = 1, .pte = 256, .rel = 512 + 256 };
	const struct rm_cnt want_m = { .pte = 256, .rel = 256 };
	bool ok = true;

	for (int single = 0; single < 2; single++) {
		const char *what = single ?
			"MOVE of a table with a page pinned at +1 MiB, partial" :
			"a table, then one with a page pinned at +1 MiB, partial";
		struct rust_mremap_vec v[2];
		struct world w;
		int a, b, ring, ret;

		if (!w_two(&w, 2 * RM_PMD, RM_PMD, 2 * RM_PMD, RM_PMD, &a, &b))
			return R_FAIL;
		w_fill(&w, a, 0, 2 * RM_PMD);
		v[0] = ent(wp(&w, a), wp(&w, b), RM_PMD);
		v[1] = ent(wp(&w, a) + RM_PMD, wp(&w, b) + RM_PMD, RM_PMD);
		ret = pin_page(wp(&w, a) + RM_PMD + RM_MB(1), &ring);
		if (ret) {
			w_destroy(&w);
			return skip("io_uring pin of a page: %s", strerror(-ret));
		}
		ok &= w_snap(&w);
		if (single) {
			struct rust_mremap_move m;
			struct rm_cnt got;

			ret = rm_move(fd, SELF, RELOC | PARTIAL, (void *)(uintptr_t)v[1].src,
				      (void *)(uintptr_t)v[1].dst, RM_PMD, &m);
			got = cnt_m(&m);
			CHECK(ret == -EBUSY && m.moved == RM_MB(1),
			      "%s: %d (%s), moved %llu, expected EBUSY and 1 MiB\n", what, ret,
			      err_str(ret), (unsigned long long)m.moved);
			ok &= rm_cnt_eq(what, &got, &want_m);
			ok &= w_move(&w, v[1].src, v[1].dst, RM_MB(1));
		} else {
			struct rust_mremap_movev m;

			ret = rm_movev(fd, SELF, RELOC | PARTIAL, v, 2, &m);
			ok &= chk_out(what, ret, &m, -EBUSY, 1, RM_MB(1), 1, 1, &want_v);
			ok &= w_apply(&w, v, 2, 1, RM_MB(1));
		}
		ok &= w_verify(&w, what);
		close(ring);
		w_destroy(&w);
	}
	return ok ? R_PASS : R_FAIL;
}

/*
 * RUST_MREMAP_PARTIAL on the first half of a THP that a forked child
 * shares: EBUSY, nothing moved, and the THP still mapped whole (the walk
 * looks before it splits, as move_pages() does; the plan used to be what
 * refused it).
 */
static enum res t_partial_shared_thp_not_split(int fd)
{
	struct rust_mremap_move m;
	struct world w;
	int t, tb, go, ret;
	bool ok = true;
	pid_t pid;

	if (!rm_thp_available())
		return skip("no transparent huge pages (THP %s)", rm_thp_setting());
	w_init(&w);
	t = w_map(&w, K_ANON, RM_PMD, RM_PMD);
	tb = t < 0 ? -1 : w_map(&w, K_ANON, RM_PMD, RM_PMD);
	if (tb < 0) {
		w_destroy(&w);
		return R_FAIL;
	}
	ok &= w_fill_thp(&w, t);
	pid = ok ? fork_holder(&go) : -1;
	if (pid < 0) {
		w_destroy(&w);
		return R_FAIL;
	}
	ok &= w_snap(&w);
	ret = rm_move(fd, SELF, RELOC | PARTIAL, wp(&w, t), wp(&w, tb), RM_MB(1), &m);
	CHECK(ret == -EBUSY && m.moved == 0, "half a shared THP, partial: %d (%s), moved %llu\n",
	      ret, err_str(ret), (unsigned long long)m.moved);
	CHECK(rm_anon_huge_kb(wp(&w, t)) >= 2048,
	      "the shared THP was split (AnonHugePages %ld kB)\n", rm_anon_huge_kb(wp(&w, t)));
	ok &= w_verify(&w, "half a shared THP, partial");
	if (!holder_release(pid, go)) {
		ksft_print_msg("the child did not exit cleanly\n");
		ok = false;
	}
	w_destroy(&w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * RUST_MREMAP_PARTIAL changes nothing where nothing is in the way, nor for
 * a populated destination (EEXIST up front, nothing moved), nor for a move
 * that shares rmap identity: without RUST_MREMAP_RELOCATE the errno
 * scene's vector shares, and moves a pinned page as one move does.
 */
static enum res t_partial_no_obstacle(int fd)
{
	const struct rm_cnt share = { .pte = NE * ch / ps };
	struct rust_mremap_movev m;
	struct scene s;
	bool ok = true;
	int ring, ret;

	if (!scene_init(&s))
		return R_FAIL;
	ok &= expect_partial("nothing in the way, partial", fd, &s.w, s.v, NE, 0, NE, 0);
	w_destroy(&s.w);

	if (!scene_init(&s))
		return R_FAIL;
	w_fill(&s.w, s.b, (NE - 1) * ch + ps, ps);
	ok &= w_snap(&s.w);
	ret = rm_movev(fd, SELF, RELOC | PARTIAL, s.v, NE, &m);
	ok &= chk_out("last dst populated, partial", ret, &m, -EEXIST, 0, 0, NE - 1, NE - 1,
		      &zero_cnt);
	ok &= w_verify(&s.w, "last dst populated, partial");
	w_destroy(&s.w);

	if (!scene_init(&s))
		return R_FAIL;
	ret = pin_page(wp(&s.w, s.a) + ch + ps, &ring);
	if (ret) {
		w_destroy(&s.w);
		return skip("io_uring pin of a page: %s", strerror(-ret));
	}
	ok &= w_snap(&s.w);
	ret = rm_movev(fd, SELF, PARTIAL, s.v, NE, &m);
	ok &= chk_out("sharing, partial", ret, &m, 0, NE, 0, NE, NE, &share);
	ok &= w_apply(&s.w, s.v, NE, NE, 0);
	ok &= w_verify(&s.w, "sharing, partial");
	close(ring);
	w_destroy(&s.w);
	return ok ? R_PASS : R_FAIL;
}

/* A dry run is the plan: RUST_MREMAP_PARTIAL with RUST_MREMAP_DRY_RUN is EINVAL, both ioctls. */
static enum res t_partial_dry_run(int fd)
{
	struct rust_mremap_move one;
	struct rust_mremap_movev m;
	struct scene s;
	bool ok;
	int ret;

	if (!scene_init(&s))
		return R_FAIL;
	ok = w_snap(&s.w);
	ret = rm_movev(fd, SELF, RELOC | PARTIAL | DRY, s.v, NE, &m);
	ok &= chk_out("MOVEV partial dry run", ret, &m, -EINVAL, 0, 0, NE, NE, &zero_cnt);
	ret = rm_move(fd, SELF, RELOC | PARTIAL | DRY, (void *)(uintptr_t)s.v[0].src,
		      (void *)(uintptr_t)s.v[0].dst, ch, &one);
	CHECK(ret == -EINVAL && one.moved == 0, "MOVE partial dry run: %d (%s), moved %llu\n",
	      ret, err_str(ret), (unsigned long long)one.moved);
	ok &= w_verify(&s.w, "partial dry runs");
	w_destroy(&s.w);
	return ok ? R_PASS : R_FAIL;
}

/* --------------------------------------------- the order of the checks */

/* Entries 0 and 1 overlap (step 5), entry 3 has len 0 (step 4): EINVAL at 3. */
static enum res t_order_args_before_overlap(int fd)
{
	struct scene s;

	if (!scene_init(&s))
		return R_FAIL;
	s.v[1].src = s.v[0].src;
	s.v[3].len = 0;
	return scene_refused(fd, &s, "entries 0/1 overlap, entry 3 len 0", SELF, 0, EINVAL, 3, 3);
}

/* Entries 1 and 2 overlap (step 5), the pidfd is bad (step 6): EINVAL. */
static enum res t_order_overlap_before_pidfd(int fd)
{
	struct scene s;
	enum res r;
	int efd;

	if (!scene_init(&s))
		return R_FAIL;
	efd = eventfd(0, EFD_CLOEXEC);
	s.v[2].dst = s.v[1].dst;
	r = scene_refused(fd, &s, "entries 1/2 overlap, pidfd = eventfd", efd, 0, EINVAL, 1, 2);
	close(efd);
	return r;
}

/* The pidfd is bad (step 6), entry 2 is past the task size (step 7): EBADF. */
static enum res t_order_pidfd_before_task_size(int fd)
{
	struct scene s;
	enum res r;
	int efd;

	if (!scene_init(&s))
		return R_FAIL;
	efd = eventfd(0, EFD_CLOEXEC);
	s.v[2].src = va_limit - ps;
	s.v[2].len = 2 * ps;
	r = scene_refused(fd, &s, "pidfd = eventfd, entry 2 past the task size", efd, 0, EBADF, NE,
			  NE);
	close(efd);
	return r;
}

/* Entry 0's src in a hole (step 9), entry 2 past the task size (step 7): EINVAL at 2. */
static enum res t_order_task_size_before_vmas(int fd)
{
	struct scene s;

	if (!scene_src_hole(&s))
		return R_FAIL;
	s.v[2].dst = va_limit - ps;
	s.v[2].len = 2 * ps;
	return scene_refused(fd, &s, "entry 0 src in a hole, entry 2 past the task size", SELF, 0,
			     EINVAL, 2, 2);
}

/*
 * Entry 0's destination populated (step 10), entry 2's source in a hole
 * (step 9): every entry's VMAs are checked before any plan, EFAULT at 2.
 */
static enum res t_order_vmas_before_plans(int fd)
{
	struct scene s;
	uint8_t *hole;

	if (!scene_init(&s))
		return R_FAIL;
	hole = rm_find_hole(ch, ps, 0, ps);
	if (!hole) {
		w_destroy(&s.w);
		return R_FAIL;
	}
	w_fill(&s.w, s.b, 0, ps);
	s.v[2].src = ua(hole);
	return scene_refused(fd, &s, "entry 0 dst populated, entry 2 src in a hole", SELF, 0,
			     EFAULT, 2, 2);
}

/* The VMA checks in array order: entry 1 sealed, entry 2 a file, or the other way round. */
static enum res t_order_vmas_in_array_order(int fd)
{
	bool ok = true;

	for (int sealed_first = 1; sealed_first >= 0; sealed_first--) {
		struct scene s;
		int sl, fl;

		if (!scene_init(&s))
			return R_FAIL;
		sl = w_map(&s.w, K_ANON, ch, ps);
		fl = sl < 0 ? -1 : w_map(&s.w, K_FILE_PRIVATE, ch, ps);
		if (fl < 0 || syscall(__NR_mseal, wp(&s.w, sl), ch, 0)) {
			ksft_print_msg("set-up (mseal: %s)\n", strerror(errno));
			w_destroy(&s.w);
			return R_FAIL;
		}
		s.v[sealed_first ? 1 : 2].src = ua(wp(&s.w, sl));
		s.v[sealed_first ? 2 : 1].src = ua(wp(&s.w, fl));
		ok &= scene_refused(fd, &s, sealed_first ? "entry 1 sealed, entry 2 a file" :
				    "entry 1 a file, entry 2 sealed", SELF, 0,
				    sealed_first ? EPERM : EOPNOTSUPP, 1, 1) == R_PASS;
	}
	return ok ? R_PASS : R_FAIL;
}

/* Relocating: entry 1 pinned and entry 2's dst populated, or the other way round. */
static enum res t_order_plans_in_array_order(int fd)
{
	bool ok = true;

	for (int busy_first = 1; busy_first >= 0; busy_first--) {
		size_t pin_off = (busy_first ? 1 : 2) * ch + ps;
		size_t pop_off = (busy_first ? 2 : 1) * ch + ps;
		struct scene s;
		int ring, ret;

		if (!scene_init(&s))
			return R_FAIL;
		w_fill(&s.w, s.b, pop_off, ps);
		ret = pin_page(wp(&s.w, s.a) + pin_off, &ring);
		if (ret) {
			w_destroy(&s.w);
			return skip("io_uring pin of a page: %s", strerror(-ret));
		}
		ok &= scene_refused(fd, &s, busy_first ? "entry 1 pinned, entry 2 dst populated" :
				    "entry 1 dst populated, entry 2 pinned", SELF, RELOC,
				    busy_first ? EBUSY : EEXIST, 1, 1) == R_PASS;
		close(ring);
	}
	return ok ? R_PASS : R_FAIL;
}

/* ------------------------------------------------------- successes */

/*
 * RUST_MREMAP_VEC_MAX one-page entries over 256 MiB, 4 pages populated:
 * accepted, every entry moves (empty ones move nothing).
 */
static enum res t_count_max(int fd)
{
	static const unsigned int pop[] = { 0, 1, VMAX / 2, VMAX - 1 };
	struct rust_mremap_vec *v = calloc(VMAX, sizeof(*v));
	struct rm_cnt want = { .pte = ARRAY_SIZE(pop) };
	struct world w;
	int64_t t0;
	int s, d;
	bool ok;

	if (!v)
		return R_FAIL;
	w_init(&w);
	s = w_map(&w, K_ANON_NORESERVE, (size_t)VMAX * ps, RM_PMD);
	d = s < 0 ? -1 : w_map(&w, K_ANON_NORESERVE, (size_t)VMAX * ps, RM_PMD);
	if (d < 0) {
		w_destroy(&w);
		free(v);
		return R_FAIL;
	}
	for (size_t i = 0; i < VMAX; i++)
		v[i] = ent(wp(&w, s) + i * ps, wp(&w, d) + i * ps, ps);
	for (size_t i = 0; i < ARRAY_SIZE(pop); i++)
		w_fill(&w, s, (size_t)pop[i] * ps, ps);
	t0 = rm_now_ns();
	ok = move_all("65536 one-page entries", fd, &w, 0, v, VMAX, &want);
	ksft_print_msg("65536 entries: dry run, move and checks took %.0f ms\n",
		       (double)(rm_now_ns() - t0) / 1e6);
	w_destroy(&w);
	free(v);
	return ok ? R_PASS : R_FAIL;
}

/*
 * The dry run of a vector reports the sums of the single dry runs of its
 * entries, where every entry's rmap mode is the one a single move has:
 * a whole table into its own fresh VMA, single pages (and two zero pages
 * when sharing) into their own fresh VMA, a move within one VMA, an empty
 * entry.  Then the vector moves with exactly those counters.
 */
static enum res dry_run_test(int fd, unsigned int flags)
{
	struct rust_mremap_vec v[4];
	struct rm_cnt sum = { 0 }, hand;
	struct world w;
	int p, pb, q, qb, c, e, eb;
	size_t ptab;
	bool ok = true;

	w_init(&w);
	p = w_map(&w, K_ANON, RM_PMD, RM_PMD);
	pb = p < 0 ? -1 : w_map(&w, K_ANON, RM_PMD, RM_PMD);
	q = pb < 0 ? -1 : w_map(&w, K_ANON, 32 * ps, ps);
	qb = q < 0 ? -1 : w_map_g(&w, K_ANON, 32 * ps, RM_PMD, ps, RM_MB(2));
	c = qb < 0 ? -1 : w_map(&w, K_ANON, 16 * ps, ps);
	e = c < 0 ? -1 : w_map(&w, K_ANON, 8 * ps, ps);
	eb = e < 0 ? -1 : w_map(&w, K_ANON, 8 * ps, ps);
	if (eb < 0) {
		w_destroy(&w);
		return R_FAIL;
	}
	ptab = w_fill_sparse(&w, p, 0, RM_PMD, 8);
	w_fill(&w, q, 0, 16 * ps);
	if (!(flags & RELOC))
		w_zero(&w, q, 16 * ps, 2 * ps);
	w_fill(&w, c, 8 * ps, 8 * ps);
	v[0] = ent(wp(&w, p), wp(&w, pb), RM_PMD);
	v[1] = ent(wp(&w, q), wp(&w, qb), 32 * ps);
	v[2] = ent(wp(&w, c) + 8 * ps, wp(&w, c), 8 * ps);
	v[3] = ent(wp(&w, e), wp(&w, eb), 8 * ps);
	if (!w_snap(&w)) {
		w_destroy(&w);
		return R_FAIL;
	}
	for (int i = 0; i < 4; i++) {
		struct rust_mremap_move m;
		struct rm_cnt one;
		int ret = rm_move(fd, SELF, flags | DRY, (void *)(uintptr_t)v[i].src,
				  (void *)(uintptr_t)v[i].dst, v[i].len, &m);

		CHECK(ret == 0 && m.moved == 0, "single dry run of entry %d: %s, moved %llu\n", i,
		      err_str(ret), (unsigned long long)m.moved);
		one = cnt_m(&m);
		cnt_add(&sum, &one);
	}
	/* What the single dry runs must say, by hand. */
	hand.pmd = 1;
	hand.pte = 16 + 8 + (flags & RELOC ? 0 : 2);
	hand.huge = 0;
	hand.pud = 0;
	hand.rel = flags & RELOC ? ptab + 16 + 8 : 8;
	ok &= rm_cnt_eq("the sum of the single dry runs", &sum, &hand);
	ok &= w_verify(&w, "after the single dry runs");
	if (ok)
		ok = move_all(flags & RELOC ? "relocating vector" : "vector", fd, &w, flags, v, 4,
			      &sum);
	w_destroy(&w);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_dry_run_sums(int fd)
{
	return dry_run_test(fd, 0);
}

static enum res t_dry_run_sums_relocate(int fd)
{
	return dry_run_test(fd, RELOC);
}

/*
 * 16 of the 32 64 KiB chunks of a filled 2 MiB from-space, in scrambled
 * order, packed densely into a fresh to-space: different offsets into one
 * fresh VMA, so every entry relocates, every page one PTE move and one
 * relocated folio; the other chunks stay where they are.
 */
static enum res t_dense_pack(int fd)
{
	static const unsigned char pick[16] = {
		29, 3, 17, 8, 22, 0, 13, 31, 5, 26, 11, 19, 2, 24, 9, 15,
	};
	const size_t chunk = RM_KB(64);
	struct rust_mremap_vec v[16];
	struct rm_cnt want = { .pte = 16 * chunk / ps, .rel = 16 * chunk / ps };
	struct world w;
	int a, b;
	bool ok;

	if (!w_two(&w, 32 * chunk, RM_PMD, 16 * chunk, ps, &a, &b))
		return R_FAIL;
	w_fill(&w, a, 0, 32 * chunk);
	for (int i = 0; i < 16; i++)
		v[i] = ent(wp(&w, a) + pick[i] * chunk, wp(&w, b) + i * chunk, chunk);
	ok = move_all("16 scattered 64 KiB chunks packed densely", fd, &w, 0, v, 16, &want);
	w_destroy(&w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * Two PMD-aligned 2 MiB chunks (a page in 8 populated) of a 6 MiB region
 * to a fresh PMD-aligned region: whole tables.  @shared: at their own
 * offsets (the destination adopts: no folio relocated); else swapped
 * (different offsets: every folio relocated with its table).
 */
static enum res pmd_chunks_test(int fd, bool shared)
{
	struct rust_mremap_vec v[2];
	struct rm_cnt want = { .pmd = 2 };
	struct world w;
	uint8_t *a, *b;
	int ai, bi;
	size_t n;
	bool ok;

	w_init(&w);
	ai = w_map(&w, K_ANON, 3 * RM_PMD, RM_PMD);
	bi = ai < 0 ? -1 : w_map(&w, K_ANON, 3 * RM_PMD, RM_PMD);
	if (bi < 0) {
		w_destroy(&w);
		return R_FAIL;
	}
	n = w_fill_sparse(&w, ai, 0, 3 * RM_PMD, 8) / 3;
	a = wp(&w, ai);
	b = wp(&w, bi);
	if (shared) {
		v[0] = ent(a, b, RM_PMD);
		v[1] = ent(a + 2 * RM_PMD, b + 2 * RM_PMD, RM_PMD);
	} else {
		v[0] = ent(a + 2 * RM_PMD, b, RM_PMD);
		v[1] = ent(a, b + RM_PMD, RM_PMD);
		want.rel = 2 * n;
	}
	ok = move_all(shared ? "two 2 MiB chunks, same offsets" : "two 2 MiB chunks, swapped", fd,
		      &w, 0, v, 2, &want);
	w_destroy(&w);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_pmd_chunks_shared(int fd)
{
	return pmd_chunks_test(fd, true);
}

static enum res t_pmd_chunks_relocated(int fd)
{
	return pmd_chunks_test(fd, false);
}

/*
 * One entry of 3 MiB from A into a fresh B does what one move of the same
 * arguments does (on a twin pair): one whole table and the last MiB entry
 * by entry, no folio relocated when sharing, every folio when relocating.
 */
static enum res single_like_move_test(int fd, unsigned int flags)
{
	const size_t len = RM_MB(3);
	struct rust_mremap_move m;
	struct rust_mremap_vec v;
	struct world w;
	struct rm_cnt want, one;
	int a, b, a2, b2, ret;
	size_t tail, all;
	bool ok = true;

	w_init(&w);
	a = w_map(&w, K_ANON, len, RM_PMD);
	b = a < 0 ? -1 : w_map(&w, K_ANON, len, RM_PMD);
	a2 = b < 0 ? -1 : w_map(&w, K_ANON, len, RM_PMD);
	b2 = a2 < 0 ? -1 : w_map(&w, K_ANON, len, RM_PMD);
	if (b2 < 0) {
		w_destroy(&w);
		return R_FAIL;
	}
	all = w_fill_sparse(&w, a, 0, len, 4);
	w_fill_sparse(&w, a2, 0, len, 4);
	tail = RM_MB(1) / ps / 4;
	want.pmd = 1;
	want.pte = tail;
	want.huge = 0;
	want.pud = 0;
	want.rel = flags & RELOC ? all : 0;
	if (!w_snap(&w)) {
		w_destroy(&w);
		return R_FAIL;
	}
	ret = rm_move(fd, SELF, flags, wp(&w, a2), wp(&w, b2), len, &m);
	CHECK(ret == 0 && m.moved == len, "the single move: %s, moved %llu of %zu\n",
	      err_str(ret), (unsigned long long)m.moved, len);
	one = cnt_m(&m);
	ok &= rm_cnt_eq("the single move", &one, &want);
	ok &= w_move(&w, ua(wp(&w, a2)), ua(wp(&w, b2)), len);
	ok &= w_verify(&w, "after the single move");
	v = ent(wp(&w, a), wp(&w, b), len);
	if (ok)
		ok = move_all(flags & RELOC ? "one entry, relocating" : "one entry", fd, &w, flags,
			      &v, 1, &want);
	w_destroy(&w);
	return ok ? R_PASS : R_FAIL;
}

static enum res t_single_like_move(int fd)
{
	return single_like_move_test(fd, 0);
}

static enum res t_single_like_move_relocate(int fd)
{
	return single_like_move_test(fd, RELOC);
}

/*
 * Entries from two source VMAs into one fresh VMA: each alone would share
 * (its single dry run relocates nothing), together they relocate.
 */
static enum res t_two_sources_relocate(int fd)
{
	struct rm_cnt want = { .pte = 16, .rel = 16 };
	struct rust_mremap_vec v[2];
	struct world w;
	int a, c, b;
	bool ok = true;

	w_init(&w);
	a = w_map(&w, K_ANON, 8 * ps, ps);
	c = a < 0 ? -1 : w_map(&w, K_ANON, 8 * ps, ps);
	b = c < 0 ? -1 : w_map(&w, K_ANON, 32 * ps, ps);
	if (b < 0) {
		w_destroy(&w);
		return R_FAIL;
	}
	w_fill(&w, a, 0, 8 * ps);
	w_fill(&w, c, 0, 8 * ps);
	v[0] = ent(wp(&w, a), wp(&w, b), 8 * ps);
	v[1] = ent(wp(&w, c), wp(&w, b) + 16 * ps, 8 * ps);
	for (int i = 0; i < 2; i++) {
		struct rust_mremap_move m;
		int ret = rm_move(fd, SELF, DRY, (void *)(uintptr_t)v[i].src,
				  (void *)(uintptr_t)v[i].dst, v[i].len, &m);

		CHECK(ret == 0 && m.folios_relocated == 0,
		      "single dry run of entry %d: %s, folios_relocated %llu (expected a sharing move)\n",
		      i, err_str(ret), (unsigned long long)m.folios_relocated);
	}
	if (ok)
		ok = move_all("two source VMAs into one fresh VMA", fd, &w, 0, v, 2, &want);
	w_destroy(&w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * An entry moving 8 pages down by 4 within one VMA (its destination
 * overlaps its own source: allowed, relocating), after an ordinary entry.
 */
static enum res t_downward_own_overlap(int fd)
{
	struct rm_cnt want = { .pte = 12, .rel = 8 };
	struct rust_mremap_vec v[2];
	struct world w;
	int a, b, c;
	bool ok;

	w_init(&w);
	a = w_map(&w, K_ANON, 4 * ps, ps);
	b = a < 0 ? -1 : w_map(&w, K_ANON, 4 * ps, ps);
	c = b < 0 ? -1 : w_map(&w, K_ANON, 16 * ps, ps);
	if (c < 0) {
		w_destroy(&w);
		return R_FAIL;
	}
	w_fill(&w, a, 0, 4 * ps);
	w_fill(&w, c, 8 * ps, 8 * ps);
	v[0] = ent(wp(&w, a), wp(&w, b), 4 * ps);
	v[1] = ent(wp(&w, c) + 8 * ps, wp(&w, c) + 4 * ps, 8 * ps);
	ok = move_all("an entry with a downward own overlap", fd, &w, 0, v, 2, &want);
	w_destroy(&w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * Populated, never-touched and zero-page entries mixed, and one from a
 * VMA never faulted at all: the empty ones move nothing, the zero pages
 * move as entries.
 */
static enum res t_mixed_empty_populated(int fd)
{
	struct rm_cnt want = { .pte = 8 + 3 + 2 };
	struct rust_mremap_vec v[5];
	struct world w;
	int a, b, e, eb;
	bool ok;

	w_init(&w);
	a = w_map(&w, K_ANON, 32 * ps, ps);
	b = a < 0 ? -1 : w_map(&w, K_ANON, 32 * ps, ps);
	e = b < 0 ? -1 : w_map(&w, K_ANON, 8 * ps, ps);
	eb = e < 0 ? -1 : w_map(&w, K_ANON, 8 * ps, ps);
	if (eb < 0) {
		w_destroy(&w);
		return R_FAIL;
	}
	w_fill(&w, a, 0, 8 * ps);
	w_zero(&w, a, 16 * ps, 3 * ps);
	w_fill(&w, a, 20 * ps, ps);
	w_fill(&w, a, 23 * ps, ps);
	for (int i = 0; i < 4; i++)
		v[i] = ent(wp(&w, a) + i * 8 * ps, wp(&w, b) + i * 8 * ps, 8 * ps);
	v[4] = ent(wp(&w, e), wp(&w, eb), 8 * ps);
	ok = move_all("empty and populated entries", fd, &w, 0, v, 5, &want);
	w_destroy(&w);
	return ok ? R_PASS : R_FAIL;
}

/*
 * A THP, a whole page table and 16 single pages in one call: the counters
 * are the sums of the single dry runs (1 THP, 1 table, 16 PTEs), and the
 * THP arrives whole.
 */
static enum res t_counters_summed(int fd)
{
	struct rm_cnt want = { .pmd = 1, .pte = 16, .huge = 1 }, sum = { 0 };
	struct rust_mremap_vec v[3];
	struct world w;
	int t, tb, p, pb, q, qb;
	bool ok = true;

	if (!rm_thp_available())
		return skip("no transparent huge pages (THP %s)", rm_thp_setting());
	w_init(&w);
	t = w_map(&w, K_ANON, RM_PMD, RM_PMD);
	tb = t < 0 ? -1 : w_map(&w, K_ANON, RM_PMD, RM_PMD);
	p = tb < 0 ? -1 : w_map(&w, K_ANON, RM_PMD, RM_PMD);
	pb = p < 0 ? -1 : w_map(&w, K_ANON, RM_PMD, RM_PMD);
	q = pb < 0 ? -1 : w_map(&w, K_ANON, 16 * ps, ps);
	qb = q < 0 ? -1 : w_map_g(&w, K_ANON, 16 * ps, RM_PMD, 3 * ps, RM_MB(2));
	if (qb < 0) {
		w_destroy(&w);
		return R_FAIL;
	}
	ok &= w_fill_thp(&w, t);
	w_fill_sparse(&w, p, 0, RM_PMD, 8);
	w_fill(&w, q, 0, 16 * ps);
	v[0] = ent(wp(&w, t), wp(&w, tb), RM_PMD);
	v[1] = ent(wp(&w, p), wp(&w, pb), RM_PMD);
	v[2] = ent(wp(&w, q), wp(&w, qb), 16 * ps);
	for (int i = 0; ok && i < 3; i++) {
		struct rust_mremap_move m;
		struct rm_cnt one;
		int ret = rm_move(fd, SELF, DRY, (void *)(uintptr_t)v[i].src,
				  (void *)(uintptr_t)v[i].dst, v[i].len, &m);

		CHECK(ret == 0, "single dry run of entry %d: %s\n", i, err_str(ret));
		one = cnt_m(&m);
		cnt_add(&sum, &one);
	}
	if (ok)
		ok = rm_cnt_eq("the sum of the single dry runs", &sum, &want);
	if (ok)
		ok = move_all("a THP, a table and 16 pages", fd, &w, 0, v, 3, &want);
	CHECK(!ok || rm_anon_huge_kb(wp(&w, tb)) >= 2048,
	      "the THP did not arrive whole (AnonHugePages %ld kB at the destination)\n",
	      rm_anon_huge_kb(wp(&w, tb)));
	w_destroy(&w);
	return ok ? R_PASS : R_FAIL;
}

/* ------------------------------------------- part-way: fault injection */

#define FN_ENTRIES	3
#define FN_LEN		RM_KB(128)
#define FN_GUARD	RM_MB(16)
#define MAX_NTH		300
#define MISSES		4	/* runs in a row that reach no n-th allocation: done */

/*
 * FN_ENTRIES entries of 128 KiB, each destination straddling a PMD
 * boundary of a fresh region (two destination tables to allocate per
 * entry, on the way), sources and destinations mutually misaligned (entry
 * by entry).  @share: each entry from its own VMA into its own fresh VMA
 * (sharing, adopting); else all from one VMA into one fresh VMA at
 * different offsets (relocating).
 */
static bool fn_build(struct world *w, struct rust_mremap_vec *v, bool share)
{
	int a, b;

	w_init(w);
	if (!share) {
		a = w_map_g(w, K_ANON, RM_MB(6), RM_PMD, 0, FN_GUARD);
		b = a < 0 ? -1 : w_map_g(w, K_ANON, RM_MB(8), RM_PMD, 0, FN_GUARD);
		if (b < 0)
			goto fail;
		for (int i = 0; i < FN_ENTRIES; i++) {
			size_t so = i * RM_PMD + (i + 1) * ps, dof = (i + 1) * RM_PMD - FN_LEN / 2;

			w_fill(w, a, so, FN_LEN);
			v[i] = ent(wp(w, a) + so, wp(w, b) + dof, FN_LEN);
		}
		return true;
	}
	for (int i = 0; i < FN_ENTRIES; i++) {
		a = w_map_g(w, K_ANON, FN_LEN, RM_PMD, (i + 1) * ps, FN_GUARD);
		b = a < 0 ? -1 : w_map_g(w, K_ANON, 2 * FN_LEN, RM_PMD, RM_PMD - FN_LEN,
					 FN_GUARD);
		if (b < 0)
			goto fail;
		w_fill(w, a, 0, FN_LEN);
		v[i] = ent(wp(w, a), wp(w, b) + FN_LEN / 2, FN_LEN);
	}
	return true;
fail:
	w_destroy(w);
	return false;
}

/* The result of one injected run against the model; NULL when exact. */
static const char *fn_check(struct world *w, const struct rust_mremap_vec *v, int ret,
			    const struct rust_mremap_movev *m, bool share)
{
	uint64_t pages, done, moved;
	struct rm_cnt got = rm_cnt_v(m);

	if (ret && ret != -ENOMEM)
		return "an injected failure gave another errno than ENOMEM";
	if (!ret) {
		if (m->done != FN_ENTRIES || m->moved || m->err_index != FN_ENTRIES)
			return "success, but done, moved, err_index are not count, 0, count";
		done = FN_ENTRIES;
		moved = 0;
	} else {
		done = m->done;
		moved = m->moved;
		if (done >= FN_ENTRIES || moved > v[done].len || moved % ps)
			return "ENOMEM with done or moved out of range";
		/*
		 * err_index is done; a failure before anything moved (the
		 * array's copy, the planning) may also name no entry.
		 */
		if (m->err_index != done && (done || moved || m->err_index != FN_ENTRIES))
			return "err_index is not done";
		/*
		 * Relocating, the only allocations inside an entry are its
		 * destination page tables: a stop part-way is where one failed,
		 * at a destination PMD boundary, everything before it moved.
		 */
		if (!share && moved && (v[done].dst + moved) % RM_PMD)
			return "ENOMEM part-way, not at a destination PMD boundary";
	}
	pages = moved / ps;
	for (uint64_t i = 0; i < done; i++)
		pages += v[i].len / ps;
	if (got.pmd || got.huge || got.pud || got.pte != pages || got.rel != (share ? 0 : pages))
		return "the counters are not the sums of what moved";
	if (!w_apply(w, v, FN_ENTRIES, (unsigned int)done, moved))
		return "the model cannot apply the result";
	if (!w_verify(w, "after the injected failure"))
		return "the memory is not as done and moved say";
	return NULL;
}

static enum res failnth_test(int fd, bool share)
{
	size_t enomem = 0, in_entry = 0, later = 0, first_moved = 0;
	int misses = 0, allocs = 0, nth_fd, n;
	const char *why = NULL, *missing;

	nth_fd = rm_failnth_open(&missing);
	if (missing)
		return skip(
			"%s unavailable (CONFIG_FAULT_INJECTION_DEBUG_FS, FAILSLAB, FAIL_PAGE_ALLOC)",
			missing);
	for (n = 1; n <= MAX_NTH; n++) {
		struct rust_mremap_vec v[FN_ENTRIES];
		struct rust_mremap_movev m;
		struct world w;
		int ret, left;

		if (!fn_build(&w, v, share)) {
			why = "could not map the regions";
			break;
		}
		if (!w_snap(&w)) {
			why = "the set-up is not as planned";
			w_destroy(&w);
			break;
		}
		if (!rm_failnth_arm(nth_fd, n)) {
			why = "cannot write fail-nth";
			w_destroy(&w);
			break;
		}
		ret = rm_movev(fd, SELF, 0, v, FN_ENTRIES, &m);
		/* Read and disarm before touching memory: a fault left armed would hit us. */
		if (!rm_failnth_disarm(nth_fd, &left)) {
			why = "cannot read or reset fail-nth";
			w_destroy(&w);
			break;
		}
		why = fn_check(&w, v, ret, &m, share);
		w_destroy(&w);
		if (why) {
			ksft_print_msg(
				"fail-nth %d: returned %d (%s), done %u moved %llu err_index %u\n",
				n, ret, err_str(ret), m.done, (unsigned long long)m.moved,
				m.err_index);
			break;
		}
		if (ret) {
			enomem++;
			if (m.moved) {
				in_entry++;
				if (!first_moved)
					first_moved = m.moved;
			}
			if (m.done)
				later++;
		}
		/* See rust_mremap_nomem_test: only several misses in a row end the sweep. */
		if (left != 0) {
			if (++misses == MISSES)
				break;
		} else {
			misses = 0;
			allocs = n;
		}
	}
	rm_failnth_restore();
	close(nth_fd);
	if (!why && n > MAX_NTH)
		why = "the call kept allocating past the limit of this test";
	if (!why && !enomem)
		why = "no injected failure reached the call (fault injection inert?)";
	if (!why && !in_entry)
		why = "no failure stopped inside an entry (moved > 0)";
	if (!why && !later)
		why = "no failure stopped in a later entry (done > 0)";
	ksft_print_msg(
		"%s: %d allocations, %zu ENOMEM stops (%zu inside an entry, first at %zu bytes; %zu after entry 0 moved)%s%s\n",
		share ? "sharing" : "relocating", allocs, enomem, in_entry, first_moved, later,
		why ? ": " : ", all exact", why ? why : "");
	return why ? R_FAIL : R_PASS;
}

static enum res t_failnth_relocating(int fd)
{
	return failnth_test(fd, false);
}

static enum res t_failnth_sharing(int fd)
{
	return failnth_test(fd, true);
}

/* ------------------------------------------------ part-way: fatal signal */

#define FS_LEN		RM_MB(256)
#define FS_ENTRIES	32
#define FS_MARK		256	/* pages: every 256th holds a pattern (a real page) */
#define FS_TRIALS	4

struct fs_result {
	int ret;
	uint32_t done;
	uint64_t moved;
};

/*
 * The caller: opens the device and a pidfd of the parent, receives the
 * entries, says "about to call" and moves the parent's memory.
 */
static __noreturn void fs_child(pid_t parent, int go_rd, int ready_wr, int res_wr)
{
	struct rust_mremap_vec v[FS_ENTRIES];
	struct rust_mremap_movev m;
	struct fs_result res;
	int fd, pidfd;
	char c = 'C';

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(5);
	fd = open(RM_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		_exit(2);
	pidfd = rm_pidfd_open(parent);
	if (pidfd < 0)
		_exit(3);
	if (!rm_read_full(go_rd, v, sizeof(v)))
		_exit(4);
	if (!rm_write_full(ready_wr, &c, 1))
		_exit(6);
	res.ret = rm_movev(fd, pidfd, 0, v, FS_ENTRIES, &m);
	res.done = m.done;
	res.moved = m.moved;
	rm_write_full(res_wr, &res, sizeof(res));
	_exit(0);
}

static bool fs_pop(uint64_t e)
{
	return e & (RM_PM_PRESENT | RM_PM_SWAP);
}

/*
 * After the call: entries in array order (entry i is chunk FS_ENTRIES - 1
 * - i) are wholly at dst, then one entry whose prefix is, then entries
 * wholly at src; every page at exactly one of its two places, the marker
 * pages' bytes where they are.  *@total: pages at dst.
 */
static bool fs_verify(uint8_t *src, uint8_t *dst, unsigned int seed, uint64_t *es,
		      uint64_t *ed, size_t *total, int *stop_entry)
{
	const size_t n = FS_LEN / ps, cp = n / FS_ENTRIES;
	int stop = -1;
	bool ok = true;

	*total = 0;
	if (!rm_pagemap(src, n, es) || !rm_pagemap(dst, n, ed)) {
		ksft_print_msg("/proc/self/pagemap: %s\n", strerror(errno));
		return false;
	}
	for (int i = 0; ok && i < FS_ENTRIES; i++) {
		size_t base = (FS_ENTRIES - 1 - i) * cp, k = 0;

		while (k < cp && fs_pop(ed[base + k]) && !fs_pop(es[base + k]))
			k++;
		for (size_t j = base + k; j < base + cp; j++) {
			if (!fs_pop(es[j]) || fs_pop(ed[j])) {
				ksft_print_msg(
					"entry %d page %zu: at src %d, at dst %d, after a prefix of %zu pages at dst\n",
					i, j - base, fs_pop(es[j]), fs_pop(ed[j]), k);
				ok = false;
				break;
			}
		}
		if (ok && stop >= 0 && k) {
			ksft_print_msg("entry %d moved %zu pages after entry %d stopped\n", i, k,
				       stop);
			ok = false;
		}
		if (stop < 0 && k < cp)
			stop = i;
		*total += k;
	}
	*stop_entry = stop;
	for (size_t j = 0; ok && j < n; j += FS_MARK) {
		bool at_dst = fs_pop(ed[j]);
		uint8_t *here = (at_dst ? dst : src) + j * ps;
		uint8_t *other = (at_dst ? src : dst) + j * ps;

		if (rm_check(here, ps, seed, j * ps) != (size_t)-1 || !rm_all_zero(other, ps)) {
			ksft_print_msg(
				"marker page %zu: wrong bytes at %s, or the other side not empty\n",
				j, at_dst ? "dst" : "src");
			ok = false;
		}
	}
	return ok;
}

static uint8_t *fs_map(size_t off)
{
	uint8_t *h = rm_find_hole(FS_LEN, RM_PMD, off, RM_PMD);

	if (!h)
		return NULL;
	return map_kind(h, FS_LEN, K_ANON_NORESERVE);
}

/*
 * One trial: a child moves 256 MiB of our memory (zero pages, a marker
 * every 256 pages) as 32 entries of 8 MiB in descending address order,
 * mutually misaligned (entry by entry), and is killed @delay ns after it
 * announced the call.  *@landed: -1 the kill came before anything moved,
 * 1 after everything, 0 part-way.
 */
static bool fs_trial(int fd, int64_t *delay, int *landed)
{
	int go[2] = { -1, -1 }, ready[2] = { -1, -1 }, resp[2] = { -1, -1 };
	const size_t n = FS_LEN / ps, cp = n / FS_ENTRIES;
	struct rust_mremap_vec v[FS_ENTRIES];
	unsigned int seed = next_seed++;
	uint64_t *es = NULL, *ed = NULL;
	uint8_t *src = NULL, *dst = NULL;
	struct rust_mremap_movev m;
	struct rm_cnt want = { .pte = n };
	struct fs_result res;
	bool ok = true, have_res;
	int64_t t0, t_dry;
	size_t total = 0;
	pid_t pid, self;
	int ret, st, stop = -1;
	char b;

	*landed = -1;
	if (pipe2(go, O_CLOEXEC) || pipe2(ready, O_CLOEXEC) || pipe2(resp, O_CLOEXEC)) {
		ksft_print_msg("pipe: %s\n", strerror(errno));
		ok = false;
		goto out;
	}
	/* Fork before the regions exist: the caller shares none of their pages. */
	self = getpid();
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		close(ready[0]);
		close(resp[0]);
		fs_child(self, go[0], ready[1], resp[1]);
	}
	close(go[0]);
	close(ready[1]);
	close(resp[1]);
	go[0] = ready[1] = resp[1] = -1;
	if (pid < 0) {
		ksft_print_msg("fork: %s\n", strerror(errno));
		ok = false;
		goto out;
	}
	es = malloc(n * sizeof(*es));
	ed = malloc(n * sizeof(*ed));
	src = fs_map(0);
	dst = src ? fs_map(ps) : NULL;
	if (!es || !ed || !src || !dst || madvise(src, FS_LEN, MADV_POPULATE_READ)) {
		ksft_print_msg("set-up of two 256 MiB regions failed: %s\n", strerror(errno));
		ok = false;
		goto out_kill;
	}
	for (size_t j = 0; j < n; j += FS_MARK)
		rm_fill(src + j * ps, ps, seed, j * ps);
	for (int i = 0; i < FS_ENTRIES; i++) {
		size_t off = (FS_ENTRIES - 1 - i) * cp * ps;

		v[i] = ent(src + off, dst + off, cp * ps);
	}
	t0 = rm_now_ns();
	ret = rm_movev(fd, SELF, DRY, v, FS_ENTRIES, &m);
	t_dry = rm_now_ns() - t0;
	ok = chk_ok("dry run of the 256 MiB vector", ret, &m, FS_ENTRIES, true, &want);
	if (!ok)
		goto out_kill;
	if (*delay <= 0)
		*delay = t_dry * 6 / 5;
	ksft_print_msg("dry run took %.1f ms; SIGKILL %.1f ms after the call\n",
		       (double)t_dry / 1e6, (double)*delay / 1e6);
	/* The caller holds our mmap lock: fault in now what we run in the window. */
	rm_sleep_ns(1000);
	kill(pid, 0);
	waitpid(pid, &st, WNOHANG);
	(void)rm_now_ns();
	if (!rm_write_full(go[1], v, sizeof(v)) || !rm_read_full(ready[0], &b, 1)) {
		ksft_print_msg("the caller did not start the call\n");
		ok = false;
		goto out_kill;
	}
	rm_sleep_ns(*delay);
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	have_res = rm_read_full(resp[0], &res, sizeof(res));
	ok = fs_verify(src, dst, seed, es, ed, &total, &stop);
	ksft_print_msg("%zu of %zu pages at dst, stopped in entry %d; the caller %s\n", total, n,
		       stop, have_res ? "returned before the kill" : "was killed in the call");
	if (have_res) {
		/* It returned before the kill: it finished. */
		CHECK(res.ret == 0 && res.done == FS_ENTRIES && total == n,
		      "the call returned %d (%s), done %u moved %llu, with %zu of %zu pages moved\n",
		      res.ret, err_str(res.ret), res.done, (unsigned long long)res.moved, total, n);
	}
	*landed = total == n ? 1 : total ? 0 : -1;
	goto out;
out_kill:
	if (pid > 0) {
		kill(pid, SIGKILL);
		rm_wait_status(pid);
	}
out:
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (ready[i] >= 0)
			close(ready[i]);
		if (resp[i] >= 0)
			close(resp[i]);
	}
	if (src)
		munmap(src, FS_LEN);
	if (dst)
		munmap(dst, FS_LEN);
	free(es);
	free(ed);
	return ok;
}

/*
 * A caller killed during a long vector: every page is at exactly one of
 * its two places, the moved part a prefix in array order.  The delay
 * adapts until a kill lands part-way (at most FS_TRIALS trials).
 */
static enum res t_fatal_signal(int fd)
{
	bool ok = true, partway = false;
	int64_t delay = 0;
	long scope;

	if (rm_read_long(YAMA_SCOPE, &scope) && scope >= 3)
		return skip("kernel.yama.ptrace_scope = 3 forbids ptrace attach, even for root");
	for (int t = 0; ok && !partway && t < FS_TRIALS; t++) {
		int landed;

		ok = fs_trial(fd, &delay, &landed);
		partway = landed == 0;
		if (landed > 0)
			delay /= 2;
		else if (landed < 0)
			delay = delay * 2 + 1000000;
	}
	CHECK(!ok || partway, "no kill landed part-way in %d trials\n", FS_TRIALS);
	return ok ? R_PASS : R_FAIL;
}

/* ------------------------------------------------------------------ main */

static const struct {
	const char *name;
	enum res (*fn)(int fd);
} tests[] = {
	{ "bad_struct_EFAULT",				t_bad_struct },
	{ "unknown_flag_EINVAL",			t_unknown_flag },
	{ "uffd_without_flag_EINVAL",			t_uffd_without_flag },
	{ "reserved_array_0_EINVAL",			t_reserved_0 },
	{ "reserved_array_1_EINVAL",			t_reserved_1 },
	{ "count_zero_EINVAL",				t_count_zero },
	{ "count_max_plus_1_EINVAL",			t_count_max_plus_1 },
	{ "vec_null_EFAULT",				t_vec_null },
	{ "vec_middle_page_unmapped_EFAULT",		t_vec_middle_page_unmapped },
	{ "vec_tail_unmapped_EFAULT",			t_vec_tail_unmapped },
	{ "entry_len_zero_EINVAL",			t_arg_len0 },
	{ "entry_misaligned_src_EINVAL",		t_arg_src_half },
	{ "entry_misaligned_dst_EINVAL",		t_arg_dst_half },
	{ "entry_misaligned_len_EINVAL",		t_arg_len_half },
	{ "entry_src_wraps_EINVAL",			t_arg_src_wrap },
	{ "entry_dst_wraps_EINVAL",			t_arg_dst_wrap },
	{ "entry_upward_own_overlap_EINVAL",		t_arg_up_overlap },
	{ "entry_dst_eq_src_EINVAL",			t_arg_dst_eq_src },
	{ "entry_src_beyond_task_size_EINVAL",		t_arg_src_beyond },
	{ "entry_dst_beyond_task_size_EINVAL",		t_arg_dst_beyond },
	{ "overlap_src_src_EINVAL",			t_ovl_src_src },
	{ "overlap_dst_dst_EINVAL",			t_ovl_dst_dst },
	{ "overlap_dst_on_earlier_src_EINVAL",		t_ovl_dst_on_earlier_src },
	{ "overlap_dst_on_later_src_EINVAL",		t_ovl_dst_on_later_src },
	{ "overlap_same_entry_twice_EINVAL",		t_ovl_same },
	{ "overlap_first_last_EINVAL",			t_ovl_first_last },
	{ "overlap_cross_sides_sorted_vector_EINVAL",	t_ovl_cross_sorted },
	{ "sorted_vector_edges_accepted",		t_sorted_vector_edges },
	{ "pidfd_not_a_pidfd_EBADF",			t_pidfd_ebadf },
	{ "pidfd_reaped_ESRCH",				t_pidfd_esrch },
	{ "entry_src_in_hole_EFAULT",			t_vma_src_hole },
	{ "entry_dst_in_hole_EFAULT",			t_vma_dst_hole },
	{ "entry_src_past_vma_end_EFAULT",		t_vma_src_past_end },
	{ "entry_src_sealed_EPERM",			t_vma_src_sealed },
	{ "entry_dst_sealed_EPERM",			t_vma_dst_sealed },
	{ "entry_src_file_private_EOPNOTSUPP",		t_vma_src_file },
	{ "entry_dst_shared_anon_EOPNOTSUPP",		t_vma_dst_shared },
	{ "entry_prot_mismatch_EINVAL",			t_vma_prot },
	{ "last_entry_dst_populated_EEXIST",		t_eexist_last },
	{ "dst_populated_past_an_empty_slot_EEXIST",	t_eexist_past_an_empty_slot },
	{ "last_entry_fork_shared_relocate_EBUSY",	t_ebusy_last_fork_relocate },
	{ "last_entry_fork_shared_within_vma_EBUSY",	t_ebusy_last_fork_by_rule },
	{ "entry_pinned_relocate_EBUSY_share_moves",	t_ebusy_pinned },
	{ "one_entry_refusals_name_entry_0",		t_one_entry_refusals },
	{ "partial_tables_ahead_bounded",		t_partial_tables_ahead_bounded },
	{ "partial_stops_at_pinned_page",		t_partial_stops_at_pinned },
	{ "partial_stops_at_fork_shared_page",		t_partial_stops_at_fork_shared },
	{ "partial_table_stops_at_the_page",		t_partial_table_stops_at_page },
	{ "partial_shared_thp_not_split_EBUSY",		t_partial_shared_thp_not_split },
	{ "partial_no_obstacle_eexist_sharing",		t_partial_no_obstacle },
	{ "partial_with_dry_run_EINVAL",		t_partial_dry_run },
	{ "order_entry_args_before_overlaps",		t_order_args_before_overlap },
	{ "order_overlaps_before_pidfd",		t_order_overlap_before_pidfd },
	{ "order_pidfd_before_task_size",		t_order_pidfd_before_task_size },
	{ "order_task_size_before_vmas",		t_order_task_size_before_vmas },
	{ "order_all_vmas_before_any_plan",		t_order_vmas_before_plans },
	{ "order_vmas_in_array_order",			t_order_vmas_in_array_order },
	{ "order_plans_in_array_order",			t_order_plans_in_array_order },
	{ "order_array_copied_before_entries",		t_order_array_before_entries },
	{ "count_max_accepted",				t_count_max },
	{ "dry_run_sums_single_dry_runs",		t_dry_run_sums },
	{ "dry_run_sums_single_dry_runs_relocate",	t_dry_run_sums_relocate },
	{ "dense_pack_relocates",			t_dense_pack },
	{ "pmd_chunks_same_offset_share",		t_pmd_chunks_shared },
	{ "pmd_chunks_swapped_relocate",		t_pmd_chunks_relocated },
	{ "one_entry_as_one_move",			t_single_like_move },
	{ "one_entry_as_one_move_relocate",		t_single_like_move_relocate },
	{ "two_sources_into_fresh_vma_relocate",	t_two_sources_relocate },
	{ "downward_own_overlap",			t_downward_own_overlap },
	{ "mixed_empty_and_populated",			t_mixed_empty_populated },
	{ "counters_summed_thp_table_ptes",		t_counters_summed },
	{ "failnth_relocating_exact",			t_failnth_relocating },
	{ "failnth_sharing_exact",			t_failnth_sharing },
	{ "fatal_signal_prefix_in_array_order",		t_fatal_signal },
};

int main(void)
{
	int fd;

	ps = rm_page_size();
	ch = 4 * ps;
	signal(SIGPIPE, SIG_IGN);
	ksft_print_header();
	ksft_set_plan(ARRAY_SIZE(tests));
	fd = rm_open();
	va_limit = rm_user_va_limit();
	for (size_t i = 0; i < ARRAY_SIZE(tests); i++)
		rm_report(tests[i].name, tests[i].fn(fd));
	close(fd);
	ksft_finished();
}
