// SPDX-License-Identifier: GPL-2.0
/*
 * The rows of a suite's report: repetitions as they were measured, and per
 * repeated configuration the aggregates Google Benchmark computes (mean,
 * median, stddev) plus min and max, each number taken on its own: the min
 * of real_time and the min of items_per_second come from different
 * repetitions. Strings are taken from the first repetition.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

void report_oom(void)
{
	fputs("bench-report: out of memory\n", stderr);
	exit(1);
}

const char *rec_get(const struct rec *r, const char *key)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->kv[i].key, key))
			return r->kv[i].val;
	return NULL;
}

void rec_set(struct rec *r, const char *key, const char *val)
{
	char *v = strdup(val);

	if (!v)
		report_oom();
	for (int i = 0; i < r->n; i++) {
		if (!strcmp(r->kv[i].key, key)) {
			r->kv[i].val = v;
			return;
		}
	}
	if (r->n == MAX_KEYS) {
		free(v);
		return;
	}
	r->kv[r->n].key = strdup(key);
	if (!r->kv[r->n].key)
		report_oom();
	r->kv[r->n++].val = v;
}

void recs_add(struct recs *rs, const struct rec *r)
{
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? 2 * rs->cap : 64;
		rs->v = realloc(rs->v, rs->cap * sizeof(*rs->v));
		if (!rs->v)
			report_oom();
	}
	rs->v[rs->n++] = *r;
}

bool is_number(const char *s)
{
	char *end;
	double d;

	if (!*s)
		return false;
	errno = 0;
	d = strtod(s, &end);
	return !*end && !errno && isfinite(d) &&
	       strspn(s, "0123456789+-.eE") == strlen(s);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The statistic @what of @v[0..n-1] (sorted in place). */
static double stat(const char *what, double *v, size_t n)
{
	double sum = 0, mean, sq = 0;

	qsort(v, n, sizeof(*v), cmp_double);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	mean = sum / n;
	if (!strcmp(what, "mean"))
		return mean;
	if (!strcmp(what, "median"))
		return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	if (!strcmp(what, "min"))
		return v[0];
	if (!strcmp(what, "max"))
		return v[n - 1];
	for (size_t i = 0; i < n; i++)
		sq += (v[i] - mean) * (v[i] - mean);
	return n > 1 ? sqrt(sq / (n - 1)) : 0;	/* stddev */
}

/* Keys that describe a repetition, not the configuration. */
static bool per_repetition(const char *k)
{
	return !strcmp(k, "repetition_index") || !strcmp(k, "run_type") ||
	       !strcmp(k, "name") || !strcmp(k, "run_name") ||
	       !strcmp(k, "repetitions") || !strcmp(k, "iterations");
}

static void add_aggregates(const struct recs *in, const size_t *idx,
			   size_t n, struct recs *out)
{
	static const char *const stats[] = {
		"mean", "median", "stddev", "min", "max",
	};
	const struct rec *first = &in->v[idx[0]];
	const char *name = rec_get(first, "name");
	double *v = malloc(n * sizeof(*v));
	char buf[64], aname[512];

	if (!v)
		report_oom();
	for (size_t s = 0; s < sizeof(stats) / sizeof(stats[0]); s++) {
		struct rec a = { .n = 0 };

		snprintf(aname, sizeof(aname), "%s_%s", name, stats[s]);
		rec_set(&a, "name", aname);
		rec_set(&a, "run_name", name);
		rec_set(&a, "run_type", "aggregate");
		snprintf(buf, sizeof(buf), "%zu", n);
		rec_set(&a, "repetitions", buf);
		rec_set(&a, "iterations", buf);
		rec_set(&a, "aggregate_name", stats[s]);
		for (int k = 0; k < first->n; k++) {
			const char *key = first->kv[k].key, *val;
			size_t m = 0;

			if (per_repetition(key))
				continue;
			for (size_t i = 0; i < n; i++) {
				val = rec_get(&in->v[idx[i]], key);
				if (val && is_number(val))
					v[m++] = strtod(val, NULL);
			}
			if (m == n && is_number(first->kv[k].val)) {
				snprintf(buf, sizeof(buf), "%.6g",
					 stat(stats[s], v, m));
				rec_set(&a, key, buf);
			} else {
				rec_set(&a, key, first->kv[k].val);
			}
		}
		recs_add(out, &a);
	}
	free(v);
}

void report_rows(const struct recs *in, const char *suite, struct recs *out)
{
	size_t *idx = malloc((in->n + 1) * sizeof(*idx));
	char *done = calloc(in->n + 1, 1);
	char buf[32];

	if (!idx || !done)
		report_oom();
	out->n = 0;
	for (size_t i = 0; i < in->n; i++) {
		const char *name = rec_get(&in->v[i], "name");
		size_t n = 0;

		if (done[i] || strcmp(rec_get(&in->v[i], "suite"), suite))
			continue;
		/* Every record of this name, in the order they came. */
		for (size_t j = i; j < in->n; j++) {
			const struct rec *r = &in->v[j];

			if (done[j] || strcmp(rec_get(r, "suite"), suite) ||
			    strcmp(rec_get(r, "name"), name))
				continue;
			done[j] = 1;
			idx[n++] = j;
		}
		for (size_t k = 0; k < n; k++) {
			struct rec r = in->v[idx[k]];

			rec_set(&r, "run_name", name);
			rec_set(&r, "run_type", "iteration");
			snprintf(buf, sizeof(buf), "%zu", n);
			rec_set(&r, "repetitions", buf);
			snprintf(buf, sizeof(buf), "%zu", k);
			rec_set(&r, "repetition_index", buf);
			recs_add(out, &r);
		}
		if (n > 1)
			add_aggregates(in, idx, n, out);
	}
	free(idx);
	free(done);
}
