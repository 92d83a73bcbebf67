#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs the guest test programs one after another, each with a time limit,
# and checks the kernel log after each so a problem is pinned on the test
# that caused it. Exit codes: 0 pass, 77 skip, anything else fails.
# Usage: exmap-run-tests.sh [test-name...]   (default: all, smoke test first)

TIMEOUT=${EXMAP_TEST_TIMEOUT:-300}
PATTERN='BUG:|Oops|WARNING:|[Bb]ad page state|soft lockup|blocked for more than|general protection|Kernel panic|Redzone|Poison overwritten|Object padding|list_add corruption|list_del corruption|kernel BUG|KASAN|UBSAN|circular locking|inconsistent lock state|sleeping function called'

if [ $# -eq 0 ]; then
	set -- test-exmap
	for t in $(ls /opt/exmap/bin 2>/dev/null | grep '^exmap-test-' | sort); do
		set -- "$@" "$t"
	done
fi

. exmap-devices.sh

passed=0 failed=0 skipped=0 failed_names=
for t in "$@"; do
	echo "=== $t"
	# Not dmesg -c: the harness scans the whole log again at the end.
	seen=$(dmesg | wc -l)
	start=$(date +%s)
	timeout "$TIMEOUT" "$t"
	rc=$?
	took=$(( $(date +%s) - start ))
	log=$(dmesg | tail -n +$((seen + 1)) | grep -E "$PATTERN")
	if [ -n "$log" ]; then
		echo "$log"
		echo "=== $t: kernel log shows a problem"
		rc=1
	fi
	case $rc in
	0) passed=$((passed + 1)); echo "=== $t: pass (${took}s)" ;;
	77) skipped=$((skipped + 1)); echo "=== $t: skip" ;;
	*) failed=$((failed + 1)); failed_names="$failed_names $t"
	   echo "=== $t: FAIL (status $rc, ${took}s)" ;;
	esac
done

[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
