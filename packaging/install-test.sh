#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The install test of make check: uses what `make deb` built in build/deb/
# the way a user of the packages would, without touching this machine's
# own system (everything goes to build/install-test/):
#   1. apt-get can install the four packages here (simulated);
#   2. they unpack into a scratch root;
#   3. the example of docs/libexmap.md (tools/libexmap/example.c, which
#      must be the same text) builds with `pkg-config --cflags --libs
#      libexmap` against that root and runs on the shared library there,
#      on the fallback backend;
#   4. the installed man pages render without a warning, aliases too;
#   5. DKMS builds exmap.ko from the packaged source for each kernel series
#      given (default: 6.1 6.12), against that kernel's packaged headers;
#   6. a guest boots each kernel with that exmap.ko and runs the packaged
#      test-exmap.
# usage: packaging/install-test.sh [SERIES...]
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
# shellcheck source=tools/vm/lib.sh
. tools/vm/lib.sh
(($#)) || set -- "${VM_SERIES_ALL[@]}"
VERSION=$(cat VERSION)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
T=$REPO/build/install-test
ROOT=$T/root
step() { printf 'install-test: %s\n' "$*" >&2; }
fail() { step "FAILED: $*"; exit 1; }

debs=()
for pkg in exmap-dkms libexmap1 libexmap-dev exmap-tools; do
	deb=$(ls build/deb/"$pkg"_"$VERSION"_*.deb 2>/dev/null) ||
		fail "no build/deb/${pkg}_${VERSION}_*.deb (make deb)"
	debs+=("$REPO/$deb")
done

step "apt-get can install ${debs[*]##*/} (simulated)"
apt-get install -s -q "${debs[@]}" >"$T.apt.log" 2>&1 ||
	{ cat "$T.apt.log" >&2; fail "apt-get install -s"; }

rm -rf "$T" && mkdir -p "$ROOT"
for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$ROOT"; done
step "unpacked into $ROOT"

step "the documented example is tools/libexmap/example.c"
doc_example() { # the C block under "## Example"
	sed -n '/^## Example$/,$p' "$1" | sed -n '/^```c$/,/^```$/p' | sed '1d;$d'
}
diff -u <(doc_example docs/libexmap.md) <(sed '1,/^ \*\/$/d' tools/libexmap/example.c) ||
	fail "docs/libexmap.md's example and tools/libexmap/example.c differ"
doc_example "$ROOT/usr/share/doc/libexmap-dev/libexmap.md" >"$T/example.c"

step "cc example.c \$(pkg-config --cflags --libs libexmap), against $ROOT"
export PKG_CONFIG_SYSROOT_DIR=$ROOT PKG_CONFIG_LIBDIR=$ROOT/usr/lib/$MA/pkgconfig
flags=$(pkg-config --cflags --libs libexmap)
[[ $(pkg-config --modversion libexmap) == "$VERSION" ]] || fail "libexmap.pc's version"
# shellcheck disable=SC2086 # the flags are words
cc -std=c11 -Wall -Wextra -Werror -o "$T/example" "$T/example.c" $flags
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR
lib=$(LD_LIBRARY_PATH=$ROOT/usr/lib/$MA ldd "$T/example" | awk '/libexmap/ {print $3}')
[[ $lib == "$ROOT/usr/lib/$MA/libexmap.so.1" ]] ||
	fail "the example does not use the packaged libexmap.so.1 (ldd: '$lib')"
out=$(LD_LIBRARY_PATH=$ROOT/usr/lib/$MA "$T/example")
want="fallback backend"
[[ -e /dev/exmap ]] && want="exmap backend"
[[ $out == "$want" ]] || fail "the example printed '$out', not '$want'"
step "the example ran: $out"

for page in "4 exmap" "3 exmap_create" "3 exmap_destroy" "3 libexmap" \
	"1 test-exmap" "1 exmap-demo"; do
	# shellcheck disable=SC2086 # "section name"
	err=$(MANWIDTH=80 man --warnings -M "$ROOT/usr/share/man" $page 2>&1 >/dev/null) &&
		[[ -z $err ]] || fail "man $page: ${err:-not found}"
done
step "man pages render: exmap(4), exmap_create(3), exmap_destroy(3), ..."

# DKMS in trees of its own, with the packaged source; then one guest boot
# per kernel with the module DKMS built and the packaged test-exmap.
dkms_opts=(--sourcetree "$ROOT/usr/src" --dkmstree "$T/dkms" --installtree "$T/installed")
mkdir -p "$T/dkms" "$T/installed"
dkms add "exmap/$VERSION" "${dkms_opts[@]}" >/dev/null
for series in "$@"; do
	(
		EXMAP_VM_KERNEL=$series
		export EXMAP_VM_KERNEL
		vm_detect_kernel
		step "dkms build exmap/$VERSION -k $KVER (headers $VM_KDIR)"
		start=$SECONDS
		dkms build "exmap/$VERSION" -k "$KVER" --kernelsourcedir "$VM_KDIR" \
			"${dkms_opts[@]}" >"$T/dkms-$KVER.log" 2>&1 ||
			{ cat "$T/dkms-$KVER.log" >&2
			  cat "$T/dkms/exmap/$VERSION/build/make.log" >&2 2>/dev/null || true
			  fail "dkms build for $KVER"; }
		ko=$T/dkms/exmap/$VERSION/$KVER/$(uname -m)/module/exmap.ko
		[[ -f $ko ]] || fail "dkms built no $ko"
		step "built in $((SECONDS - start)) s; test-exmap in a guest on $KVER"
		EXMAP_VM_NOBUILD=1 EXMAP_VM_BINDIR=$ROOT/usr/bin \
			"$REPO/tools/vm/run.sh" --kernel "$series" --module "$ko" \
			--timeout 300 -- test-exmap ||
			fail "test-exmap with the DKMS-built module on $KVER"
	)
done
step "passed"
