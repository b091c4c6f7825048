// SPDX-License-Identifier: GPL-2.0
/*
 * What 'make run' shows: the device answers, and (once the move exists) a
 * real move in another process.
 */
#include "rust_mremap_lib.h"

int main(void)
{
	struct rust_mremap_version v = { 0 };
	int fd = open(RM_DEV, O_RDWR | O_CLOEXEC);

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
	if (v.abi_version != RUST_MREMAP_ABI_VERSION || v.move_size != sizeof(struct rust_mremap_move)) {
		printf("demo: ABI mismatch with include/uapi/linux/rust_mremap.h\n");
		return 1;
	}
	return 0;
}
