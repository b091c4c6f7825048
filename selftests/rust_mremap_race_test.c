// SPDX-License-Identifier: GPL-2.0
/*
 * rust_mremap_race_test: whole-table moves into a fresh destination (the
 * default, sharing path) racing rmap walkers that flush one address.
 *
 * A table moved without the rmap lock lets a walker that passed
 * page_vma_mapped_walk()'s checks at the source address X, holding the
 * table's PTE lock, finish after the table moved: its ptep_clear_flush()
 * flushes X only, migration frees the old folio, and a TLB entry for the
 * destination Y that another CPU cached after the move still maps the old
 * page: stores through it are lost.  mremap() takes the rmap lock for
 * every table and PUD move (should_take_rmap_locks(), commit
 * 97113eb39fa7), and so does the module.
 *
 * Each round maps a source of TABLES page tables and a fresh destination,
 * fills the source, and moves it while
 *   - a thread soft-offlines source pages one after the other
 *     (MADV_SOFT_OFFLINE: get the page, then migrate it with an rmap walk
 *     that flushes one address), and another compacts memory now and then;
 *   - a thread on the other CPU reads the destination in a loop, so that
 *     its TLB caches destination entries as soon as the tables arrive, and
 *     after the move stores a marker into every destination page.
 * Then every byte is checked: the pattern everywhere, the marker in every
 * page.  A lost store, a lost page or a page of another round fails.
 *
 * Under TCG the window (a few instructions between a walker's PTE-lock
 * check and its flush, against one table move) is seldom if ever hit: the
 * test bounds how often it tries (RACE_SECONDS) and says how many soft
 * offlines raced a move; it is a guard against losing data, not a proof
 * that none can be.
 */

#include "rust_mremap_lib.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#define TABLES		4
#define LEN		(TABLES * RM_PMD)
#define RACE_SECONDS	10
#define MARK_OFF	64	/* where the toucher's marker goes in each page */
#define RW		(PROT_READ | PROT_WRITE)

static size_t ps;
static int fd;
static uint8_t *volatile g_src, *volatile g_dst;
static atomic_uint round_no;		/* odd while a move is under way */
static atomic_bool stop;
static atomic_ulong offlined, offline_during_move, stored;
static atomic_uint stores_done;		/* the round whose stores are done */
static atomic_long touch_delay_ns = 50000; /* after a move starts, before touching */

static long ns_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000000L + t.tv_nsec - t0->tv_nsec;
}

static void pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Soft-offline source pages in turn, whatever round it is. */
static void *offliner(void *arg)
{
	size_t i = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		uint8_t *src = g_src;
		unsigned int r = atomic_load(&round_no);

		if (!src) {
			sched_yield();
			continue;
		}
		i = (i + 97) % (LEN / ps);
		if (!madvise(src + i * ps, ps, MADV_SOFT_OFFLINE)) {
			atomic_fetch_add(&offlined, 1);
			if ((r & 1) || atomic_load(&round_no) != r)
				atomic_fetch_add(&offline_during_move, 1);
		}
	}
	return NULL;
}

/* Compact memory now and then: migration of whatever it finds, ours too. */
static void *compactor(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		int c = open("/proc/sys/vm/compact_memory", O_WRONLY | O_CLOEXEC);

		if (c >= 0) {
			if (write(c, "1", 1) < 0)
				break;
			close(c);
		}
		usleep(20000);
	}
	return NULL;
}

/*
 * On the other CPU: read the destination while the move runs (caching its
 * entries as they arrive), then store the round's marker into every page.
 */
static void *toucher(void *arg)
{
	unsigned int done = 0;

	(void)arg;
	pin_to(1);
	while (!atomic_load(&stop)) {
		unsigned int r = atomic_load(&round_no);
		uint8_t *dst = g_dst;

		if (!dst || r == done) {
			sched_yield();
			continue;
		}
		if (r & 1) {
			/*
			 * A move is under way: touch what may have arrived.  Not
			 * before the ioctl holds the mmap lock, or the touch
			 * maps the zero page and the move fails with EEXIST
			 * (the main thread then waits longer next round); once
			 * it holds it, a touch of a table not moved yet waits
			 * in the fault handler and finds the table after.
			 */
			struct timespec t0;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			while (ns_since(&t0) < atomic_load(&touch_delay_ns) &&
			       atomic_load(&round_no) == r)
				;
			for (size_t off = 0; off < LEN && atomic_load(&round_no) == r; off += ps)
				(void)*(volatile uint8_t *)(dst + off);
			while (atomic_load(&round_no) == r)
				sched_yield();
			continue;
		}
		for (size_t off = 0; off < LEN; off += ps) {
			*(volatile uint32_t *)(dst + off + MARK_OFF) = r;
			atomic_fetch_add(&stored, 1);
		}
		done = r;
		atomic_store(&stores_done, r);
	}
	return NULL;
}

/* The pattern of round @r at @off, but for the marker word. */
static bool check_round(const uint8_t *dst, unsigned int r, size_t *bad)
{
	for (size_t off = 0; off < LEN; off += ps) {
		uint32_t mark = *(const volatile uint32_t *)(dst + off + MARK_OFF);

		if (mark != r || rm_check(dst + off, MARK_OFF, r, off) != (size_t)-1 ||
		    rm_check(dst + off + MARK_OFF + 4, ps - MARK_OFF - 4, r,
			     off + MARK_OFF + 4) != (size_t)-1) {
			*bad = off;
			return false;
		}
	}
	return true;
}

int main(void)
{
	pthread_t th[3];
	struct timespec t0, t;
	unsigned int rounds = 0, early = 0;
	bool ok = true;
	size_t bad = 0;

	ps = rm_page_size();
	ksft_print_header();
	ksft_set_plan(1);
	fd = rm_open();
	pin_to(0);
	if (pthread_create(&th[0], NULL, offliner, NULL) ||
	    pthread_create(&th[1], NULL, compactor, NULL) ||
	    pthread_create(&th[2], NULL, toucher, NULL))
		ksft_exit_fail_msg("pthread_create\n");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		unsigned int r = 2 * (rounds + 1);
		uint8_t *src = rm_map_at(rm_find_hole(LEN, RM_PMD, 0, RM_PMD), LEN, RW);
		uint8_t *dst = rm_map_at(rm_find_hole(LEN, RM_PMD, 0, RM_PMD), LEN, RW);
		struct rust_mremap_move m;
		bool touched_early;
		int ret;

		if (!src || !dst)
			ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
		for (size_t off = 0; off < LEN; off += ps) {
			rm_fill(src + off, ps, r, off);
			*(uint32_t *)(src + off + MARK_OFF) = 0;
		}
		g_dst = dst;
		g_src = src;
		atomic_store(&round_no, r - 1);
		ret = rm_move(fd, RUST_MREMAP_PIDFD_SELF, 0, src, dst, LEN, &m);
		atomic_store(&round_no, r);
		touched_early = ret == -EEXIST && !m.moved;
		if (touched_early) {
			/* The toucher was early (see toucher()): wait longer. */
			long d = atomic_load(&touch_delay_ns);

			atomic_store(&touch_delay_ns, d < 5000000 ? 2 * d : d);
			early++;
		} else {
			atomic_store(&touch_delay_ns, atomic_load(&touch_delay_ns) * 15 / 16);
		}
		if (!touched_early && (ret || m.moved != LEN || m.pmd_moves != TABLES)) {
			ksft_print_msg("round %u: move: %s, moved %llu, %llu tables\n", rounds,
				       strerror(-ret), (unsigned long long)m.moved,
				       (unsigned long long)m.pmd_moves);
			ok = false;
		}
		g_src = NULL;
		while (atomic_load(&stores_done) != r)
			sched_yield();
		if (ok && !touched_early && !check_round(dst, r, &bad)) {
			ksft_print_msg("round %u: the page at +%#zx lost a store or its bytes\n",
				       rounds, bad);
			ok = false;
		}
		g_dst = NULL;
		munmap(src, LEN);
		munmap(dst, LEN);
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (ok && t.tv_sec - t0.tv_sec < RACE_SECONDS);

	atomic_store(&stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	ksft_print_msg("%u moves of %d tables into fresh destinations\n", rounds, TABLES);
	ksft_print_msg("(%u refused: destination touched before the move began)\n", early);
	ksft_print_msg("%lu pages soft-offlined (%lu during a move), %lu stores through dst\n",
		       atomic_load(&offlined), atomic_load(&offline_during_move),
		       atomic_load(&stored));
	if (ok && early * 2 > rounds) {
		ksft_print_msg("most rounds touched the destination too early\n");
		ok = false;
	}
	if (ok && !atomic_load(&offline_during_move)) {
		ksft_print_msg("no soft offline ran during a move: the race was not tried\n");
		ok = false;
	}
	ksft_test_result(ok, "table_moves_racing_migration_lose_nothing\n");
	ksft_finished();
}
