// SPDX-License-Identifier: GPL-2.0
/*
 * What 'make run' shows: the device answers, and a real move in another
 * process.  A child maps 5 MiB at a 1 MiB offset within a PMD (source) and
 * an empty 5 MiB at the same offset (destination), fills the source and
 * waits; the parent moves the child's memory through a pidfd (a dry run
 * first, then the move) and prints the counters; the child checks its own
 * bytes.
 */
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "rust_mremap_lib.h"

#define LEN	RM_MB(5)
#define SEED	0x5eed

static void print_move(const char *what, const struct rust_mremap_move *m)
{
	printf(
	       "demo: %-9s moved %llu bytes: pmd_moves=%llu pte_moves=%llu huge_pmd_moves=%llu pud_moves=%llu folios_relocated=%llu\n",
	       what, (unsigned long long)m->moved, (unsigned long long)m->pmd_moves,
	       (unsigned long long)m->pte_moves, (unsigned long long)m->huge_pmd_moves,
	       (unsigned long long)m->pud_moves, (unsigned long long)m->folios_relocated);
}

/* The target: map, fill, report ready, wait, then check its own memory. */
static int child(char *src, char *dst, int ready_fd, int go_fd)
{
	char c;

	if (!rm_map_at(src, LEN, PROT_READ | PROT_WRITE) ||
	    !rm_map_at(dst, LEN, PROT_READ | PROT_WRITE))
		return 10;
	rm_fill(src, LEN, SEED, 0);
	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &c, 1) != 1)
		return 11;
	if (rm_check(dst, LEN, SEED, 0) != (size_t)-1)
		return 12;
	if (!rm_all_zero(src, LEN))
		return 13;
	return 0;
}

int main(void)
{
	struct rust_mremap_version v = { 0 };
	struct rust_mremap_move m;
	int ready[2], go[2], fd, pidfd, status, ret;
	struct timespec t0, t1;
	char *src, *dst, c;
	pid_t pid;

	fd = open(RM_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("demo: open %s: %s\n", RM_DEV, strerror(errno));
		return 1;
	}
	if (ioctl(fd, RUST_MREMAP_IOC_VERSION, &v)) {
		printf("demo: RUST_MREMAP_IOC_VERSION: %s\n", strerror(errno));
		return 1;
	}
	printf("demo: %s answers: ABI %u, struct rust_mremap_move %u bytes, flags 0x%llx\n",
	       RM_DEV, v.abi_version, v.move_size, (unsigned long long)v.flags);
	if (v.abi_version != RUST_MREMAP_ABI_VERSION ||
	    v.move_size != sizeof(struct rust_mremap_move)) {
		printf("demo: ABI mismatch with include/uapi/linux/rust_mremap.h\n");
		return 1;
	}

	/* Holes with room below, at a 1 MiB offset within a PMD. */
	src = rm_find_hole(LEN, RM_PMD, RM_MB(1), RM_MB(4));
	dst = rm_find_hole(LEN + RM_MB(16), RM_PMD, RM_MB(1), RM_MB(4));
	if (!src || !dst || pipe(ready) || pipe(go))
		return 1;
	dst += RM_MB(8);	/* away from src: the two holes may overlap */
	if (dst < src + LEN + RM_MB(2) && src < dst + LEN + RM_MB(2))
		dst += RM_MB(16);

	pid = fork();
	if (pid == 0)
		_exit(child(src, dst, ready[1], go[0]));
	if (read(ready[0], &c, 1) != 1) {
		printf("demo: the target did not start\n");
		return 1;
	}
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		printf("demo: pidfd_open: %s\n", strerror(errno));
		return 1;
	}
	printf("demo: target pid %d: move %p..%p -> %p (5 MiB, both 1 MiB into a PMD)\n",
	       pid, src, src + LEN, dst);

	ret = rm_move(fd, pidfd, RUST_MREMAP_DRY_RUN, src, dst, LEN, &m);
	if (ret) {
		printf("demo: dry run: %s\n", strerror(-ret));
		return 1;
	}
	print_move("dry run:", &m);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = rm_move(fd, pidfd, 0, src, dst, LEN, &m);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ret) {
		printf("demo: move: %s (moved %llu)\n", strerror(-ret),
		       (unsigned long long)m.moved);
		return 1;
	}
	print_move("move:", &m);
	printf("demo: the move took %.1f us\n",
	       (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3);

	if (write(go[1], "g", 1) != 1 || waitpid(pid, &status, 0) != pid)
		return 1;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("demo: the target found its memory wrong (status 0x%x)\n", status);
		return 1;
	}
	printf("demo: the target read every byte back at the destination, zeros at the source\n");
	if (m.moved != LEN || m.pmd_moves != 3 || m.pte_moves != 0) {
		printf("demo: expected 3 whole page tables moved (realigned), got the above\n");
		return 1;
	}
	return 0;
}
