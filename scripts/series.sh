#!/usr/bin/env bash
# The series as it would be posted: the kernel patches of kernel/patches/,
# then the driver and its selftests as two patches made from this
# repository's files by scripts/intree.sh (their messages are in
# kernel/posting/), and the cover letter: the subject and text of
# kernel/patches/0000-cover-letter.patch with git's shortlog and diffstat.
#   series.sh [DIR]    write the posting into DIR (default <cache>/series)
#   series.sh --check  write it into a scratch directory, apply it with
#                      'git am' to a pristine tree, and check that the tree it
#                      gives is, file for file, the tree 'make check' builds
#                      and tests (the cached source with the driver and the
#                      selftests in place), and that checkpatch is clean
# Needs the cached source tree (scripts/build-kernel.sh) and its 'pristine'
# tag; builds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cache=${RUST_MREMAP_CACHE:-$HOME/.cache/rust_mremap}
src=$cache/src
say() { echo "series: $*" >&2; }

check=0
if [ "${1:-}" = --check ]; then
	check=1 out=$(mktemp -d)
else
	out=${1:-$cache/series}
fi
git -C "$src" rev-parse -q --verify pristine >/dev/null ||
	{ say "no pristine tree in $src (run scripts/build-kernel.sh)"; exit 1; }

author='rust_mremap developers <rust-mremap@localhost>'
# The two made commits carry the date of this repository's last commit, so
# the same repository gives the same posting.
GIT_AUTHOR_DATE=$(git -C "$repo" log -1 --format=%aD 2>/dev/null || date -R)
GIT_COMMITTER_DATE=$GIT_AUTHOR_DATE
export GIT_AUTHOR_DATE GIT_COMMITTER_DATE
gitw() { git -C "$1" -c user.name='rust_mremap developers' -c user.email=rust-mremap@localhost \
	-c core.hooksPath=/dev/null "${@:2}"; }
scratch=()
cleanup() {
	for w in "${scratch[@]}"; do git -C "$src" worktree remove -f "$w" 2>/dev/null || rm -rf "$w"; done
	git -C "$src" worktree prune
	[ $check = 0 ] || rm -rf "$out"
}
trap cleanup EXIT
worktree() { # worktree VAR: a pristine worktree of the cached source, its path in VAR
	local dir
	dir=$(mktemp -d)
	scratch+=("$dir")
	git -C "$src" worktree add -q --detach "$dir" pristine
	printf -v "$1" %s "$dir"
}
am() { # am TREE PATCH...
	local t=$1; shift
	gitw "$t" am -q --whitespace=error "$@" || { gitw "$t" am --abort; say "does not apply"; exit 1; }
}

# 1. Build the series in a scratch tree: the kernel patches, then the two
#    commits intree.sh's files make.
worktree w
mapfile -t patches < <(grep -v '^\s*#' "$repo/kernel/patches/series" | sed '/^\s*$/d')
am "$w" "${patches[@]/#/$repo/kernel/patches/}"
"$here/intree.sh" driver "$w"
gitw "$w" add -f -A -- include/uapi/linux/rust_mremap.h rust/uapi/uapi_helper.h \
	Documentation/userspace-api/ioctl/ioctl-number.rst drivers/misc MAINTAINERS
gitw "$w" commit -q --author="$author" -F "$repo/kernel/posting/driver.msg"
"$here/intree.sh" selftests "$w"
gitw "$w" add -f -A -- tools/testing/selftests/rust_mremap tools/testing/selftests/Makefile
gitw "$w" commit -q --author="$author" -F "$repo/kernel/posting/selftests.msg"
n=$(gitw "$w" rev-list --count pristine..HEAD)

# 2. The posting: format-patch numbers them n/N and writes the cover
#    letter's shortlog and diffstat; its subject and text are ours.
mkdir -p "$out"
rm -f "$out"/*.patch
gitw "$w" format-patch -q --zero-commit --no-signature --cover-letter -o "$out" pristine..HEAD
python3 - "$repo/kernel/patches/0000-cover-letter.patch" "$out/0000-cover-letter.patch" <<'PY'
import re, sys
ours, gen = (open(f).read().split("\n") for f in sys.argv[1:])
subject = next(l for l in ours if l.startswith("Subject: ")).split("] ", 1)[1]
text = ours[ours.index("") + 1:next(i for i, l in enumerate(ours) if re.match(r"rust_mremap developers \(\d+\):$", l))]
head = gen[:gen.index("")]
tail = gen[next(i for i, l in enumerate(gen) if re.match(r"rust_mremap developers \(\d+\):$", l)):]
head = [re.sub(r"\*\*\* SUBJECT HERE \*\*\*", subject, l) for l in head]
open(sys.argv[2], "w").write("\n".join(head + [""] + text + tail))
PY

if [ $check = 0 ]; then
	say "$n patches and the cover letter in $out"
	exit 0
fi

# 3. The round trip: the posting applies to pristine ...
worktree r
mapfile -t posted < <(ls "$out"/*.patch | grep -v '/0000-cover-letter\.patch$')
am "$r" "${posted[@]}"
[ "$(gitw "$r" rev-list --count pristine..HEAD)" = "$n" ] || { say "applied the wrong number of patches"; exit 1; }

# ... and gives exactly what the cached source holds: every file the series
# touches is the same there, and the cached source changes nothing else.
bad=0
series_files=$(gitw "$r" diff --name-only pristine HEAD | sort)
built_files=$( { gitw "$src" diff --name-only pristine; \
	gitw "$src" ls-files --others --exclude-standard; } | sort -u)
while IFS= read -r f; do
	if [ -e "$r/$f" ]; then
		cmp -s "$r/$f" "$src/$f" || { say "differs from what we build: $f"; bad=1; }
	else
		[ ! -e "$src/$f" ] || { say "the series deletes $f, the built tree has it"; bad=1; }
	fi
done <<<"$series_files"
extra=$(comm -13 <(echo "$series_files") <(echo "$built_files"))
[ -z "$extra" ] || { say "the built tree changes what the series does not:"; echo "$extra" >&2; bad=1; }

# The cover letter in the repository is the posted one (its shortlog and
# diffstat included): regenerate it with 'make series' after a change.
diff -u <(grep -v '^Date: ' "$repo/kernel/patches/0000-cover-letter.patch") \
	<(grep -v '^Date: ' "$out/0000-cover-letter.patch") >&2 ||
	{ say "kernel/patches/0000-cover-letter.patch is not the posted cover letter (cp it from 'make series')"; bad=1; }

# checkpatch on the two patches made here (scripts/lint.sh checks the rest).
for p in "${posted[@]: -2}"; do
	"$src/scripts/checkpatch.pl" --no-tree -q \
		--ignore FILE_PATH_CHANGES,VOLATILE,ENOSYS,EMBEDDED_FUNCTION_NAME "$p" >&2 ||
		{ say "checkpatch: $(basename "$p")"; bad=1; }
done
[ $bad = 0 ] || exit 1
say "round trip: $n patches apply to pristine $(gitw "$src" log -1 --format=%s pristine | sed 's/^pristine //') and give the tree we build and test"
