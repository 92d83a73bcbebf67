/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Result records: one text line per measured configuration,
 *
 *   suite=alloc name=madvise/threads:1/batch:8 iterations=123 ...
 *
 * that bench-report turns into Google Benchmark JSON and CSV. A line format
 * rather than JSON straight away, so that shell scripts (fio, the buffer-pool
 * demo) can emit the same records with printf, and so that the guest only
 * has to ship plain text back to the host.
 */
#ifndef EXMAP_BENCH_RECORD_H
#define EXMAP_BENCH_RECORD_H

#include <stdio.h>

/*
 * Starts a record of @suite named @name; real time and CPU time are in
 * seconds for all @iterations together (they become ns per iteration).
 * Values must not contain spaces.
 */
void record_begin(FILE *f, const char *suite, const char *name,
		  double iterations, double real_s, double cpu_s);
void record_str(FILE *f, const char *key, const char *val);
void record_num(FILE *f, const char *key, double val);
void record_end(FILE *f);

#endif
