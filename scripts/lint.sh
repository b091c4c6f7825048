#!/usr/bin/env bash
# Kernel-style checks: rustfmt and clippy (CLIPPY=1) on the module and on
# the kernel crate our patches extend, checkpatch on every patch of the
# series and on the C selftests.  Exits non-zero on any finding.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=versions.env
. "$here/versions.env"
cache=${RUST_MREMAP_CACHE:-$HOME/.cache/rust_mremap}
src=$cache/src build=${KDIR:-$cache/build}
rc=0
fail() { echo "lint: $*" >&2; rc=1; }
# It builds against the cached tree: not while scripts/build-kernel.sh does.
exec 9>"$cache/build.lock"
flock 9

# rustfmt, with the kernel's own configuration.
rustfmt --check --edition 2021 --config-path "$src/.rustfmt.toml" "$repo"/*.rs "$repo"/selftests/abuse/*.rs \
	"$repo"/selftests/abuse/compile_fail/*.rs ||
	fail "rustfmt: the module is not formatted (run rustfmt as above without --check)"
(cd "$src" && rustfmt --check --edition 2021 --config-path .rustfmt.toml \
	rust/kernel/mm.rs rust/kernel/mm/pgtable.rs rust/kernel/mm/virt.rs rust/kernel/task.rs) ||
	fail "rustfmt: the patched kernel crate is not formatted"

# clippy: the module, then the kernel crate (touching a file forces the check).
out=$(make -s -C "$build" LLVM="-$LLVM_VERSION" CLIPPY=1 M="$repo" MO="$cache/module-clippy" modules 2>&1)
grep -E '^(warning|error)' <<<"$out" && { echo "$out" >&2; fail "clippy: the module"; }
out=$(make -s -C "$build" LLVM="-$LLVM_VERSION" CLIPPY=1 M="$repo/selftests/abuse" MO="$cache/module-clippy-abuse" modules 2>&1)
grep -E '^(warning|error)' <<<"$out" && { echo "$out" >&2; fail "clippy: the test-only abuse module"; }
# kernel::mm::pgtable's misuses must not compile: every crate of
# selftests/abuse/compile_fail/ fails with exactly the rustc error its
# "//! expect:" line names (and no other; "other" is an error rustc gives
# no code), with the text its "//! expect-message:" line gives and the note
# its "//! expect-note:" line gives (so that it fails for the misuse, not
# for a typo), and control.rs, the sound use they depart from, compiles.
cf=$repo/selftests/abuse/compile_fail
rm -rf "$cache/compile-fail"
out=$(make -s -k -C "$build" LLVM="-$LLVM_VERSION" M="$cf" MO="$cache/compile-fail" modules 2>&1)
for f in "$cf"/*.rs; do
	name=$(basename "$f" .rs)
	want=$(sed -n 's,^//! expect: ,,p' "$f")
	# The error codes rustc gave this file: an "error[E...]" line, then its "--> file" line.
	got=$(awk -v f="/$name.rs:" '/^error\[E[0-9]+\]/ { code = substr($1, 7, 5) }
		/^error/ && !/^error\[/ { code = "other" }
		/^warning/ { code = "" }
		index($0, "--> ") && index($0, f) && code { print code; code = "" }' <<<"$out" | sort -u | tr '\n' ' ')
	if [ "$want" = pass ]; then
		[ -z "$got" ] && [ -f "$cache/compile-fail/$name.o" ] ||
			fail "compile_fail/$name.rs must compile (got: ${got:-no object})"
	elif [ "$got" != "$want " ]; then
		fail "compile_fail/$name.rs: expected exactly rustc error $want, got: ${got:-it compiled}"
	elif msg=$(sed -n 's,^//! expect-message: ,,p' "$f") && [ -n "$msg" ] &&
		! grep -qF "error${want:+[$want]}: $msg" <<<"$out" && ! grep -qF "error: $msg" <<<"$out"; then
		fail "compile_fail/$name.rs: rustc did not say: $msg"
	elif note=$(sed -n 's,^//! expect-note: ,,p' "$f") && [ -n "$note" ] &&
		! grep -A12 "/$name.rs:" <<<"$out" | grep -qF -- "$note"; then
		# An E0599 crate fails as any typo of a method name would, unless rustc's
		# note names the type the method does exist for.
		fail "compile_fail/$name.rs: rustc's note did not name: $note"
	else
		echo "lint: compile_fail/$name.rs fails to compile with $want, as it must" >&2
	fi
done
[ $rc = 0 ] || echo "$out" | head -n 80 >&2

touch "$src/rust/kernel/mm/pgtable.rs"
out=$(make -s -C "$build" LLVM="-$LLVM_VERSION" CLIPPY=1 -j"$(nproc)" rust/kernel.o 2>&1)
grep -E '^(warning|error)' <<<"$out" && { echo "$out" >&2; fail "clippy: the kernel crate"; }

# checkpatch: the series (a new file's MAINTAINERS reminder is covered by
# the existing mm/ and rust/kernel/mm/ entries) and the selftests; the
# posting's driver and selftests patches: scripts/series.sh --check.
# The cover letter's diffstat (git's) names files past 75 columns.
# A mainline commit a patch cites cannot be looked up without mainline's
# history (the cached tree is one commit): UNKNOWN_COMMIT_ID.
for p in "$repo"/kernel/patches/*.patch; do
	ignore=FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID
	case $p in */0000-cover-letter.patch) ignore+=,COMMIT_LOG_LONG_LINE ;; esac
	"$src/scripts/checkpatch.pl" --no-tree -q --ignore "$ignore" "$p" ||
		fail "checkpatch: $(basename "$p")"
done
# In the tests, volatile forces a real read, ENOSYS is a syscall's answer
# being checked, and a word in a message may match a function's name.
"$src/scripts/checkpatch.pl" --no-tree -q \
	--ignore FILE_PATH_CHANGES,VOLATILE,ENOSYS,EMBEDDED_FUNCTION_NAME \
	-f "$repo"/selftests/*.c "$repo"/selftests/*.h "$repo"/include/uapi/linux/rust_mremap.h ||
	fail "checkpatch: selftests or UAPI header"
# Long lines are only CHECKs with -f, but warnings in a posted patch (the
# series' selftests patch): find them here already.
"$src/scripts/checkpatch.pl" --no-tree -q --strict --types LONG_LINE,LONG_LINE_STRING,LONG_LINE_COMMENT \
	-f "$repo"/selftests/*.c "$repo"/selftests/*.h "$repo"/*.rs "$repo"/selftests/abuse/*.rs \
	"$repo"/selftests/abuse/compile_fail/*.rs ||
	fail "checkpatch: long lines"

[ $rc = 0 ] && echo "lint: clean" >&2
exit $rc
