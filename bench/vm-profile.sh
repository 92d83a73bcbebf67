#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Where an ALLOC/touch/FREE cycle spends its time: boots one guest with
# perf and runs bench/alloc-profile.sh in it (see docs/design.md, "Where
# the time goes"). Options go to alloc-profile.sh, for example
#   bench/vm-profile.sh -t 1 -b "1 512"
# The output is also kept in build/bench/profile.txt.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
command -v perf >/dev/null ||
	{ apt-get update -q && apt-get install -y -q linux-perf; }
make -s guest
bindir=build/profile-bin
rm -rf "$bindir" && mkdir -p "$bindir" build/bench
cp build/bin/* "$bindir/"
cp "$(command -v perf)" "$bindir/"
EXMAP_VM_NOBUILD=1 EXMAP_VM_BINDIR=$bindir EXMAP_VM_DEBUG=0 EXMAP_VM_TSC=1 \
	tools/vm/run.sh -- alloc-profile.sh "$@" | tee build/bench/profile.txt
