# SPDX-License-Identifier: GPL-2.0
#
# rust_mremap: the two commands of the README, and the pieces behind them.
#   make run     set up, build kernel + module, boot, load, show a move
#   make check   set up, build, lint (fails on a finding), check the posted series
#                round-trips to the tree we build, boot, run the whole selftest
#                suite through kselftest's runner
#   make series  write the series as it would be posted (SERIES_DIR=...)
#   make bench   set up, build, boot, run the benchmark
#   make fuzz    set up, build, boot, run the fuzzer: SEED=n SECONDS=n
#                (STRESS=n also runs the stress test for n seconds)
#   make one     set up, build, boot, run one selftest program:
#                T=rust_mremap_uffd_test ARGS="..." (the abuse module loaded)
# The kernel is built once into $(CACHE) and reused while its inputs are
# unchanged; iterating on the module rebuilds only the module.
# (The kernel build reads ./Kbuild, not this file.)

CACHE ?= $(HOME)/.cache/rust_mremap
export RUST_MREMAP_CACHE := $(CACHE)
# The kernel flavour (scripts/build-kernel.sh): "check" is the debug kernel
# the suite runs on; "bench" the production-like one 'make bench' builds.
FLAVOUR ?= check
bench: FLAVOUR := bench
flavour_sfx = $(if $(filter check,$(FLAVOUR)),,-$(FLAVOUR))
export RUST_MREMAP_FLAVOUR = $(FLAVOUR)
KDIR ?= $(CACHE)/build$(flavour_sfx)
export KDIR
MODDIR = $(CACHE)/module$(flavour_sfx)
export RUST_MREMAP_MODDIR = $(MODDIR)
# The selftests build as kselftest's TARGETS=rust_mremap in the cached tree
# (scripts/intree.sh copies them there), against that flavour's UAPI
# headers, and install with run_kselftest.sh, which the guest runs.
KSFT_DIR := $(CACHE)/src/tools/testing/selftests
KSFT_INSTALL = $(KDIR)/kselftest/kselftest_install
SELFTESTS_OUT = $(KSFT_INSTALL)/rust_mremap

run: module-oot selftests
	vm/run.sh run $(CURDIR)/vm/guest-run.sh $(MODDIR)/rust_mremap.ko $(SELFTESTS_OUT)/rust_mremap_demo

check: lint module-oot module-intree module-abuse selftests
	scripts/series.sh --check
	vm/run.sh check $(CURDIR)/vm/guest-check.sh $(MODDIR)/rust_mremap.ko $(KSFT_INSTALL) \
		$(MODDIR)-abuse/rust_mremap_abuse.ko $(KDIR)/drivers/misc/rust_mremap/rust_mremap.ko

bench: module-oot selftests
	vm/run.sh bench $(CURDIR)/vm/guest-bench.sh $(MODDIR)/rust_mremap.ko $(SELFTESTS_OUT)/rust_mremap_bench \
		$(FLAVOUR) $(BENCH_ARGS)

SEED ?= $(shell date +%s)
SECONDS ?= 300
fuzz: module-oot selftests
	vm/run.sh fuzz $(CURDIR)/vm/guest-fuzz.sh $(MODDIR)/rust_mremap.ko $(SELFTESTS_OUT) \
		$(SEED) $(SECONDS) $(STRESS)

one: module-oot module-abuse selftests
	vm/run.sh one $(CURDIR)/vm/guest-one.sh $(MODDIR)/rust_mremap.ko \
		$(MODDIR)-abuse/rust_mremap_abuse.ko $(SELFTESTS_OUT)/$(T) $(ARGS)

setup:
	@scripts/setup.sh

kernel: setup
	@scripts/build-kernel.sh >/dev/null

# Out of tree, against the cached kernel: the fast loop while iterating.
module-oot: kernel
	@scripts/build-module.sh >/dev/null

# In tree, as drivers/misc/rust_mremap with CONFIG_RUST_MREMAP=m.
module-intree: kernel
	@scripts/build-module.sh --in-tree >/dev/null

# The test-only module rust_mremap_abuse_test drives (selftests/abuse/).
module-abuse: kernel
	@scripts/build-module.sh --abuse >/dev/null

# Mainline's mm selftests (TARGETS=mm, which vm/guest-check.sh runs) install
# into the same tree first, with the kernel's LLVM (their page_frag test
# module builds against it; FORCE_TARGETS: a failed build fails); ours
# install second, whose install writes the runner's list: rust_mremap only.
LLVM_VERSION := $(shell . scripts/versions.env && echo $$LLVM_VERSION)
selftests: kernel
	@scripts/intree.sh selftests $(CACHE)/src
	@$(MAKE) -s -C $(KSFT_DIR) TARGETS=mm O=$(KDIR) LLVM=-$(LLVM_VERSION) \
		FORCE_TARGETS=1 install >/dev/null
	@$(MAKE) -s -C $(KSFT_DIR) TARGETS=rust_mremap O=$(KDIR) \
		RUST_MREMAP_REQUIRE_I386=1 install >/dev/null

# The posting: kernel patches, the driver and the selftests as patches for
# a pristine tree, with the cover letter (SERIES_DIR, default $(CACHE)/series).
series: kernel
	@scripts/series.sh $(SERIES_DIR)

# Kernel-style checks of the Rust code and the patch series.
lint: kernel
	scripts/lint.sh

clean:
	rm -rf $(CACHE)/module $(CACHE)/module-* $(KDIR)/kselftest

.PHONY: run check bench fuzz one series setup kernel module-oot module-intree module-abuse selftests lint clean
