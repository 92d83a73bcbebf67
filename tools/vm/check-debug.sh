#!/bin/bash
# make check-debug: the guest test suite and a long fuzzer run on a debug
# kernel (KASAN, lockdep, DEBUG_VM, PAGE_TABLE_CHECK, DEBUG_ATOMIC_SLEEP),
# built once by build-debug-kernel.sh and cached outside the repository.
#
# Usage: check-debug.sh [TEST...]   (default: the whole guest suite)
# Environment: EXMAP_FUZZ_SECONDS (default 900) for the fuzzer's run;
# everything build-debug-kernel.sh and run.sh read.
set -euo pipefail
# shellcheck source=tools/vm/lib.sh
. "$(dirname "$0")/lib.sh"
cd "$REPO"

while IFS='=' read -r name value; do
	export "$name=$value"
done < <("$VM_DIR/build-debug-kernel.sh")

# exmap.ko for the debug kernel, built from a copy of the sources so that
# exmap/exmap.ko (for the packaged kernel) stays as it is.
mod=$REPO/build/debug-module
rm -rf "$mod" && mkdir -p "$mod/exmap"
cp exmap/*.c exmap/*.h exmap/Kbuild "$mod/exmap/"
ln -s ../../include "$mod/include"
make -s -C "$EXMAP_DEBUG_KDIR" M="$mod/exmap" modules
make -s tools

disks=("$VM_OUT/debug-a.img" "$VM_OUT/debug-b.img")
rm -f "${disks[@]}"
truncate -s 64M "${disks[@]}"
fuzz=${EXMAP_FUZZ_SECONDS:-900}
# Each test may take ten times its usual time under KASAN and lockdep.
EXMAP_VM_NOBUILD=1 EXMAP_VM_MODULE=$mod/exmap/exmap.ko \
	EXMAP_VM_TIMEOUT=${EXMAP_VM_TIMEOUT:-$((fuzz + 2400))} \
	"$VM_DIR/run.sh" --disk "${disks[0]}" --disk "${disks[1]}" -- \
	"EXMAP_TEST_NO_SKIP=1 EXMAP_TEST_TIMEOUT=$((fuzz + 600)) EXMAP_FUZZ_SECONDS=$fuzz exmap-run-tests.sh $*"
