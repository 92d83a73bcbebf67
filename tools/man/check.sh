#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Checks the man pages in DIR (default build/man): every page renders at
# 80 columns without a warning from man (groff), every alias link leads
# to a page, man finds exmap(4) and exmap_create(3) by name, and exmap(4)
# names every constant, ioctl and structure of include/linux/exmap.h.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-build/man}
fail=0
n=0
for page in "$dir"/man*/*.[1-9]; do
	if [[ -L $page ]]; then
		[[ -f $page ]] || { echo "check-man: $page: dangling link"; fail=1; }
		continue
	fi
	n=$((n + 1))
	if ! err=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null) ||
		[[ -n $err ]]; then
		echo "check-man: $page:"
		echo "$err" | sed 's/^/  /'
		fail=1
	fi
	# Code blocks are not filled: a long line would wrap on the terminal.
	wide=$(MANWIDTH=80 LC_ALL=C.UTF-8 man -E UTF-8 -l "$page" 2>/dev/null |
		while IFS= read -r line; do
			(($(printf '%s' "$line" | wc -L) > 80)) && printf '  %s\n' "$line"
		done || true)
	if [[ -n $wide ]]; then
		echo "check-man: $page: lines wider than 80 columns:"
		echo "$wide"
		fail=1
	fi
done
for want in "4 exmap" "3 exmap_create" "3 exmap_destroy" "3 libexmap" "1 test-exmap"; do
	# shellcheck disable=SC2086 # "section name"
	man -M "$dir" -w $want >/dev/null 2>&1 || { echo "check-man: man $want: not found"; fail=1; }
done
text=$(MANWIDTH=200 man -l "$dir/man4/exmap.4" 2>/dev/null)
for name in $(grep -oE '\b_?EXMAP_[A-Z0-9_]*[A-Z0-9]\b|struct exmap_[a-z_]+' \
	include/linux/exmap.h | grep -v '_H$' | sort -u | tr ' ' '~'); do
	grep -qF -- "${name/\~/ }" <<<"$text" ||
		{ echo "check-man: exmap(4) does not mention ${name/\~/ } (add it to docs/api.md)"; fail=1; }
done
((fail == 0)) && echo "check-man: $n pages render cleanly"
exit "$fail"
