#!/usr/bin/env bash
# Put the project's files into a kernel tree where the posted series puts
# them ('make series' makes the driver and selftests patches from exactly
# this).  Idempotent; a file is copied only when it differs, so make sees
# true mtimes.
#   intree.sh driver TREE     the UAPI header, its bindgen include
#                             (rust/uapi/uapi_helper.h) and its ioctl
#                             number's entry; the driver in
#                             drivers/misc/rust_mremap/, its Kconfig and
#                             Makefile hooks and its MAINTAINERS entry
#   intree.sh selftests TREE  the selftests in tools/testing/selftests/rust_mremap/
#                             and their entry in the selftests' TARGETS
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
what=$1 tree=$2

put() { # put SRC DST: copy when different
	mkdir -p "$(dirname "$2")"
	cmp -s "$1" "$2" || cp "$1" "$2"
}

# add_line FILE LINE AFTER-REGEX: insert LINE after the last line that
# matches AFTER-REGEX, unless FILE already has it.
add_line() {
	grep -qxF "$2" "$1" && return 0
	awk -v line="$2" -v re="$3" '
		{ l[NR] = $0; if ($0 ~ re) at = NR }
		END { for (i = 1; i <= NR; i++) { print l[i]; if (i == at) print line } }' \
		"$1" > "$1.tmp"
	grep -qxF "$2" "$1.tmp" || { echo "intree: no place for '$2' in $1" >&2; rm "$1.tmp"; exit 1; }
	mv "$1.tmp" "$1"
}

# add_block FILE BEFORE-REGEX: insert stdin's lines and an empty line before
# the first line that matches BEFORE-REGEX, unless FILE already has stdin's
# first line.
add_block() {
	local block
	block=$(cat)
	grep -qxF "$(head -n1 <<<"$block")" "$1" && return 0
	awk -v block="$block" -v re="$2" '
		!done && $0 ~ re { print block; print ""; done = 1 } { print }' "$1" > "$1.tmp"
	grep -qxF "$(head -n1 <<<"$block")" "$1.tmp" ||
		{ echo "intree: no place for the block in $1" >&2; rm "$1.tmp"; exit 1; }
	mv "$1.tmp" "$1"
}

case $what in
driver)
	put "$repo/include/uapi/linux/rust_mremap.h" "$tree/include/uapi/linux/rust_mremap.h"
	# bindgen turns the header into the `uapi` crate's types.
	add_line "$tree/rust/uapi/uapi_helper.h" '#include <uapi/linux/rust_mremap.h>' \
		'^#include <uapi/linux/'
	d=$tree/drivers/misc/rust_mremap
	for f in Kconfig Kbuild "$repo"/*.rs; do
		put "$repo/$(basename "$f")" "$d/$(basename "$f")"
	done
	# Files the driver no longer has.
	for f in "$d"/*.rs; do
		[ -e "$f" ] && [ ! -e "$repo/$(basename "$f")" ] && rm "$f"
	done
	add_line "$tree/Documentation/userspace-api/ioctl/ioctl-number.rst" \
		"$(printf '0xBB  00-02  %-56s%s' uapi/linux/rust_mremap.h '/dev/rust_mremap page-table move')" \
		'<mailto:pasha.tatashin@soleen.com>$'
	add_block "$tree/MAINTAINERS" '^RUST \[ALLOC\]$' <<-EOF
	RUST MREMAP DRIVER
	M:	rust_mremap developers <rust-mremap@localhost>
	L:	linux-mm@kvack.org
	L:	rust-for-linux@vger.kernel.org
	S:	Maintained
	F:	Documentation/userspace-api/rust_mremap.rst
	F:	drivers/misc/rust_mremap/
	F:	include/uapi/linux/rust_mremap.h
	F:	tools/testing/selftests/rust_mremap/
	EOF
	add_line "$tree/drivers/misc/Kconfig" 'source "drivers/misc/rust_mremap/Kconfig"' '^source "drivers/misc/issei/Kconfig"$'
	add_line "$tree/drivers/misc/Makefile" "$(printf 'obj-$(CONFIG_RUST_MREMAP)\t+= rust_mremap/')" \
		'^obj-\$\(CONFIG_INTEL_SSEI\)'
	;;
selftests)
	d=$tree/tools/testing/selftests/rust_mremap
	mkdir -p "$d"
	(cd "$repo/selftests" && git -C "$repo" ls-files --cached --others --exclude-standard \
		-- selftests | sed 's|^selftests/||') | while IFS= read -r f; do
		# The allowlist belongs to our harness (vm/guest-check.sh), not to kselftest.
		[ "$f" = skip-allowlist ] && continue
		[ -e "$repo/selftests/$f" ] && put "$repo/selftests/$f" "$d/$f"
	done
	# The old layout's leftovers would be built by nothing and posted by nobody.
	(cd "$d" && find . -type f | sed 's|^\./||') | while IFS= read -r f; do
		[ -e "$repo/selftests/$f" ] || rm "$d/$f"
	done
	add_line "$tree/tools/testing/selftests/Makefile" 'TARGETS += rust_mremap' \
		'^TARGETS \+= rust$'
	;;
*)
	echo "usage: intree.sh driver|selftests TREE" >&2; exit 2 ;;
esac
