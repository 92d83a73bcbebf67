// SPDX-License-Identifier: GPL-2.0
/*
 * bench-report: turns result records (record.h) into Google Benchmark's
 * JSON format, one SUITE.json per suite, so that Google Benchmark's own
 * tools (compare.py) read them, and a SUITE.csv beside each in Google
 * Benchmark's CSV layout, for plotting and spreadsheets.
 *
 * usage: bench-report OUTDIR [RECORDS...]    (no RECORDS: stdin)
 *
 * Input lines: "context key=value ..." describes the machine; a line that
 * starts with "suite=" is one result; anything else is ignored, so a whole
 * console log can be fed in. A value may be "double quoted" to hold spaces.
 *
 * Results of one name with repetitions=N (N > 1) are N runs of the same
 * configuration, each with its repetition_index; they are written as they
 * are, followed by their aggregates (mean, median, stddev, min, max of
 * every number, each taken on its own, as Google Benchmark does), so that
 * compare.py can test the difference. cpu_time is written only where a
 * record has one: it is left out where it was not measured.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

#define MAX_SUITES	16

static struct rec context;
static struct recs results;

/* Splits "k=v k2="v 2"" in place into @r. Returns false on a bad line. */
static bool parse(char *p, struct rec *r)
{
	r->n = 0;
	for (;;) {
		char *key, *val;

		p += strspn(p, " \t\r\n");
		if (!*p)
			return r->n > 0;
		key = p;
		p = strchr(p, '=');
		if (!p || r->n == MAX_KEYS)
			return false;
		*p++ = '\0';
		if (*p == '"') {
			val = ++p;
			p = strchr(p, '"');
			if (!p)
				return false;
		} else {
			val = p;
			p += strcspn(p, " \t\r\n");
		}
		if (*p)
			*p++ = '\0';
		r->kv[r->n].key = strdup(key);
		r->kv[r->n].val = strdup(val);
		if (!r->kv[r->n].key || !r->kv[r->n].val)
			report_oom();
		r->n++;
	}
}

/* A later context line overrides a key an earlier one set. */
static void set_context(const struct kv *kv)
{
	for (int i = 0; i < context.n; i++) {
		if (!strcmp(context.kv[i].key, kv->key)) {
			context.kv[i] = *kv;
			return;
		}
	}
	if (context.n < MAX_KEYS)
		context.kv[context.n++] = *kv;
}

static void read_input(FILE *f, const char *what)
{
	char *line = NULL;
	size_t cap = 0;
	unsigned long nr = 0;

	while (getline(&line, &cap, f) > 0) {
		struct rec r;

		nr++;
		if (!strncmp(line, "context ", 8)) {
			if (!parse(line + 8, &r))
				goto bad;
			for (int i = 0; i < r.n; i++)
				set_context(&r.kv[i]);
			continue;
		}
		if (strncmp(line, "suite=", 6))
			continue;
		if (!parse(line, &r) || !rec_get(&r, "name") ||
		    !rec_get(&r, "iterations") || !rec_get(&r, "real_time"))
			goto bad;
		recs_add(&results, &r);
		continue;
bad:
		fprintf(stderr, "bench-report: %s:%lu: bad record, skipped\n",
			what, nr);
	}
	free(line);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_value(FILE *f, const char *v)
{
	if (is_number(v))
		fputs(v, f);
	else
		json_string(f, v);
}

/* Keys that get fixed places (JSON) or columns (CSV). */
static bool is_fixed(const char *k)
{
	static const char *const fixed[] = {
		"suite", "name", "run_name", "run_type", "iterations",
		"real_time", "cpu_time", "time_unit", "threads",
		"items_per_second", "bytes_per_second", "label",
		"repetitions", "repetition_index", "aggregate_name",
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (!strcmp(k, fixed[i]))
			return true;
	return false;
}

/* The family is the name up to the first '/': "madvise/threads:1/batch:8". */
static size_t family_len(const char *name)
{
	return strcspn(name, "/");
}

/* "L1 Data 49152 2 ..." as Google Benchmark's list of cache objects. */
static void json_caches(FILE *f, const char *v)
{
	char type[32];
	int level, used, first = 1;
	long size, sharing;

	fputc('[', f);
	while (sscanf(v, " %d %31s %ld %ld%n", &level, type, &size, &sharing,
		      &used) == 4) {
		fprintf(f, "%s\n      { \"type\": ", first ? "" : ",");
		json_string(f, type);
		fprintf(f, ", \"level\": %d, \"size\": %ld, "
			"\"num_sharing\": %ld }", level, size, sharing);
		first = 0;
		v += used;
	}
	fputs(first ? "]" : "\n    ]", f);
}

/* "0.52 0.58 0.59" as a list of numbers. */
static void json_numbers(FILE *f, const char *v)
{
	double d;
	int used, first = 1;

	fputc('[', f);
	while (sscanf(v, " %lf%n", &d, &used) == 1) {
		fprintf(f, "%s%g", first ? "" : ", ", d);
		first = 0;
		v += used;
	}
	fputc(']', f);
}

/*
 * The machine as the records' context lines describe it: what was read
 * from it (run-all.sh), nothing assumed. Keys Google Benchmark knows get
 * its types (caches, load_avg, cpu_scaling_enabled); the rest follow.
 */
static void write_context(FILE *f, const char *suite)
{
	char host[256] = "unknown", date[64];
	const char *v;
	time_t t = time(NULL);

	gethostname(host, sizeof(host) - 1);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S%z", localtime(&t));
	fputs("{\n  \"context\": {\n    \"date\": ", f);
	json_string(f, (v = rec_get(&context, "date")) ? v : date);
	fputs(",\n    \"host_name\": ", f);
	json_string(f, (v = rec_get(&context, "host_name")) ? v : host);
	fprintf(f, ",\n    \"executable\": \"exmap bench suite %s\"", suite);
	fputs(",\n    \"json_schema_version\": 1", f);
	for (int i = 0; i < context.n; i++) {
		const char *k = context.kv[i].key;

		v = context.kv[i].val;
		if (!strcmp(k, "date") || !strcmp(k, "host_name"))
			continue;	/* shown above */
		fputs(",\n    ", f);
		json_string(f, k);
		fputs(": ", f);
		if (!strcmp(k, "caches"))
			json_caches(f, v);
		else if (!strcmp(k, "load_avg"))
			json_numbers(f, v);
		else if (!strcmp(v, "true") || !strcmp(v, "false"))
			fputs(v, f);
		else
			json_value(f, v);
	}
	fputs("\n  },\n", f);
}

static void json_field(FILE *f, const char *key, const char *v, bool raw)
{
	fputs(",\n      ", f);
	json_string(f, key);
	fputs(": ", f);
	if (raw)
		fputs(v, f);
	else
		json_value(f, v);
}

static void write_json(FILE *f, const char *suite)
{
	const char *families[256], *instances[1024];
	int nfam = 0, ninst = 0, per_family[256] = { 0 }, inst_of[1024];
	struct recs rows = { 0 };
	bool first = true;

	report_rows(&results, suite, &rows);
	write_context(f, suite);
	fputs("  \"benchmarks\": [", f);
	for (size_t i = 0; i < rows.n; i++) {
		const struct rec *r = &rows.v[i];
		const char *run = rec_get(r, "run_name"), *v;
		bool agg = !strcmp(rec_get(r, "run_type"), "aggregate");
		int fam, in;

		for (fam = 0; fam < nfam; fam++)
			if (family_len(families[fam]) == family_len(run) &&
			    !strncmp(families[fam], run, family_len(run)))
				break;
		if (fam == nfam && nfam < 255)
			families[nfam++] = run;
		/* One instance per configuration, shared by its repetitions. */
		for (in = 0; in < ninst && strcmp(instances[in], run); in++)
			;
		if (in == ninst && ninst < 1023) {
			instances[ninst] = run;
			inst_of[ninst++] = per_family[fam]++;
		}
		fputs(first ? "\n    {\n" : ",\n    {\n", f);
		first = false;
		fputs("      \"name\": ", f);
		json_string(f, rec_get(r, "name"));
		fprintf(f, ",\n      \"family_index\": %d", fam);
		fprintf(f, ",\n      \"per_family_instance_index\": %d",
			inst_of[in]);
		json_field(f, "run_name", run, false);
		json_field(f, "run_type", rec_get(r, "run_type"), false);
		json_field(f, "repetitions", rec_get(r, "repetitions"), true);
		if (!agg)
			json_field(f, "repetition_index",
				   rec_get(r, "repetition_index"), true);
		v = rec_get(r, "threads");
		json_field(f, "threads", v && is_number(v) ? v : "1", true);
		if (agg) {
			json_field(f, "aggregate_name",
				   rec_get(r, "aggregate_name"), false);
			json_field(f, "aggregate_unit", "time", false);
		}
		json_field(f, "iterations", rec_get(r, "iterations"), true);
		json_field(f, "real_time", rec_get(r, "real_time"), true);
		/* Left out where it was not measured. */
		if ((v = rec_get(r, "cpu_time")))
			json_field(f, "cpu_time", v, true);
		v = rec_get(r, "time_unit");
		json_field(f, "time_unit", v ? v : "ns", false);
		if ((v = rec_get(r, "items_per_second")))
			json_field(f, "items_per_second", v, true);
		if ((v = rec_get(r, "label")))
			json_field(f, "label", v, false);
		for (int k = 0; k < r->n; k++)
			if (!is_fixed(r->kv[k].key))
				json_field(f, r->kv[k].key, r->kv[k].val,
					   false);
		fputs("\n    }", f);
	}
	fputs("\n  ]\n}\n", f);
	free(rows.v);
}

static void csv_field(FILE *f, const char *v)
{
	if (!v)
		return;
	if (is_number(v))
		fputs(v, f);
	else
		fprintf(f, "\"%s\"", v);
}

/*
 * Google Benchmark's CSV columns, then the suite's own in first-seen order;
 * a row per repetition and per aggregate (named NAME_mean and so on).
 */
static void write_csv(FILE *f, const char *suite)
{
	static const char *const head[] = {
		"name", "iterations", "real_time", "cpu_time", "time_unit",
		"bytes_per_second", "items_per_second", "label",
		"error_occurred", "error_message",
	};
	const size_t nhead = sizeof(head) / sizeof(head[0]);
	const char *cols[MAX_KEYS * 4];
	struct recs rows = { 0 };
	size_t ncols = 0;

	report_rows(&results, suite, &rows);
	for (size_t i = 0; i < nhead; i++)
		cols[ncols++] = head[i];
	for (size_t i = 0; i < rows.n; i++) {
		const struct rec *r = &rows.v[i];

		for (int k = 0; k < r->n; k++) {
			const char *key = r->kv[k].key;
			size_t c;

			if (!strcmp(key, "suite") || !strcmp(key, "run_name") ||
			    !strcmp(key, "run_type"))
				continue;
			for (c = 0; c < ncols && strcmp(cols[c], key); c++)
				;
			if (c == ncols && ncols < sizeof(cols) / sizeof(*cols))
				cols[ncols++] = key;
		}
	}
	for (size_t c = 0; c < ncols; c++)
		fprintf(f, "%s%s", c ? "," : "", cols[c]);
	fputc('\n', f);
	for (size_t i = 0; i < rows.n; i++) {
		for (size_t c = 0; c < ncols; c++) {
			if (c)
				fputc(',', f);
			csv_field(f, rec_get(&rows.v[i], cols[c]));
		}
		fputc('\n', f);
	}
	free(rows.v);
}

static void write_file(const char *dir, const char *suite, const char *ext,
		       void (*fn)(FILE *, const char *))
{
	char path[4096], tmp[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, suite, ext);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		perror(tmp);
		exit(1);
	}
	fn(f, suite);
	/* Renamed into place: a reader never sees half a file. */
	if (fclose(f) || rename(tmp, path)) {
		perror(path);
		exit(1);
	}
	printf("bench-report: %s\n", path);
}

int main(int argc, char **argv)
{
	const char *suites[MAX_SUITES];
	int nsuites = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s OUTDIR [RECORDS...]\n", argv[0]);
		return 2;
	}
	if (argc == 2)
		read_input(stdin, "stdin");
	for (int i = 2; i < argc; i++) {
		FILE *f = fopen(argv[i], "r");

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		read_input(f, argv[i]);
		fclose(f);
	}
	for (size_t i = 0; i < results.n; i++) {
		const char *s = rec_get(&results.v[i], "suite");
		int j;

		for (j = 0; j < nsuites && strcmp(suites[j], s); j++)
			;
		if (j == nsuites && nsuites < MAX_SUITES)
			suites[nsuites++] = s;
	}
	if (!nsuites) {
		fputs("bench-report: no records\n", stderr);
		return 1;
	}
	for (int i = 0; i < nsuites; i++) {
		write_file(argv[1], suites[i], "json", write_json);
		write_file(argv[1], suites[i], "csv", write_csv);
	}
	return 0;
}
