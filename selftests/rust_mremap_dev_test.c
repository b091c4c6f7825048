// SPDX-License-Identifier: GPL-2.0
/*
 * The device itself: node, mode, ABI handshake, unknown commands.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "rust_mremap_lib.h"

int main(void)
{
	struct rust_mremap_version v;
	struct stat st;
	int fd, ret;

	ksft_print_header();
	ksft_set_plan(5);

	if (stat(RM_DEV, &st))
		ksft_exit_fail_msg("stat %s: %s\n", RM_DEV, strerror(errno));
	ksft_test_result(S_ISCHR(st.st_mode) && (st.st_mode & 07777) == 0600 && st.st_uid == 0,
			 "device: %s is a root-owned char device, mode 0600 (got %o)\n", RM_DEV,
			 st.st_mode & 07777);

	fd = rm_open();

	memset(&v, 0xa5, sizeof(v));
	ret = ioctl(fd, RUST_MREMAP_IOC_VERSION, &v);
	ksft_test_result(ret == 0 && v.abi_version == RUST_MREMAP_ABI_VERSION &&
			 v.move_size == sizeof(struct rust_mremap_move) &&
			 v.flags == RUST_MREMAP_FLAGS_ALL,
			 "version: ABI %u, move_size %u == %zu, flags 0x%llx\n", v.abi_version,
			 v.move_size, sizeof(struct rust_mremap_move), (unsigned long long)v.flags);

	ret = ioctl(fd, RUST_MREMAP_IOC_VERSION, (void *)8);
	ksft_test_result(ret == -1 && errno == EFAULT, "version: bad pointer -> EFAULT\n");

	ret = ioctl(fd, _IO(RUST_MREMAP_IOC_MAGIC, 0x7f), 0);
	ksft_test_result(ret == -1 && errno == ENOTTY, "ioctl: unknown command -> ENOTTY\n");

	ret = ioctl(fd, _IOR(RUST_MREMAP_IOC_MAGIC, 0x00, __u32), &v);
	ksft_test_result(ret == -1 && errno == ENOTTY,
			 "ioctl: VERSION number with the wrong size -> ENOTTY\n");

	close(fd);
	ksft_finished();
}
