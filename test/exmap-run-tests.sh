#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs the guest test programs one after another, each with a time limit,
# and checks the kernel log after each so a problem is pinned on the test
# that caused it. Exit codes: 0 pass, 77 skip, anything else fails.
# A program that passes with skipped cmocka cases counts as skipped too,
# and is named with the cases it skipped.
# With EXMAP_TEST_NO_SKIP=1 (make check, make check-debug: every test has
# what it needs there) a skip fails the run as a failure does.
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

out=/tmp/exmap-test.out
passed=0 failed=0 skipped=0 failed_names= skipped_names=
for t in "$@"; do
	echo "=== $t"
	# Not dmesg -c: the harness scans the whole log again at the end.
	seen=$(dmesg | wc -l)
	start=$(date +%s)
	# The output is shown as it comes and kept, to count skipped cases.
	{ timeout "$TIMEOUT" "$t" 2>&1; echo $? >$out.rc; } | tee $out
	rc=$(cat $out.rc)
	took=$(( $(date +%s) - start ))
	log=$(dmesg | tail -n +$((seen + 1)) | grep -E "$PATTERN")
	if [ -n "$log" ]; then
		echo "$log"
		echo "=== $t: kernel log shows a problem"
		rc=1
	fi
	# cmocka names each skipped case twice: as it runs, and in the summary.
	cases=$(grep '^\[  SKIPPED \] ' $out | grep -v ' test(s)' | sort -u |
		sed 's/^\[  SKIPPED \] //' | tr '\n' ' ')
	[ "$rc" = 0 ] && [ -n "$cases" ] && rc=77
	case $rc in
	0) passed=$((passed + 1)); echo "=== $t: pass (${took}s)" ;;
	77) skipped=$((skipped + 1))
	    skipped_names="$skipped_names $t${cases:+(${cases% })}"
	    echo "=== $t: skip${cases:+ (cases: ${cases% })}" ;;
	*) failed=$((failed + 1)); failed_names="$failed_names $t"
	   echo "=== $t: FAIL (status $rc, ${took}s)" ;;
	esac
done

[ -n "$failed_names" ] && echo "failed:$failed_names"
[ -n "$skipped_names" ] && echo "skipped:$skipped_names"
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "${EXMAP_TEST_NO_SKIP:-0}" = 1 ] && [ "$skipped" -gt 0 ]; then
	echo "tests: FAILED: EXMAP_TEST_NO_SKIP=1 and $skipped skipped"
	exit 1
fi
[ "$failed" -eq 0 ]
