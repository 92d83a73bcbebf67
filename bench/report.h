/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench-report's result records in memory (bench-report.c reads and writes
 * them, report-rows.c turns a suite's records into the rows of its report:
 * every repetition, then the aggregates of each repeated configuration).
 */
#ifndef EXMAP_BENCH_REPORT_H
#define EXMAP_BENCH_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#define MAX_KEYS	48

struct kv {
	char *key;
	char *val;
};

struct rec {
	struct kv kv[MAX_KEYS];
	int n;
};

struct recs {
	struct rec *v;
	size_t n, cap;
};

void report_oom(void) __attribute__((noreturn));
const char *rec_get(const struct rec *r, const char *key);
/* Sets @key to @val (copied), replacing an earlier value. */
void rec_set(struct rec *r, const char *key, const char *val);
void recs_add(struct recs *rs, const struct rec *r);
/* A finite number written in full: JSON can hold it as is. */
bool is_number(const char *s);

/*
 * The rows of @suite's report, in the order the records came: each record
 * with run_type, repetitions and repetition_index filled in, and after the
 * last record of a name that has several, its aggregates.
 */
void report_rows(const struct recs *in, const char *suite, struct recs *out);

#endif
