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

#define MAX_KEYS	48
#define MAX_SUITES	16

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

static struct rec context;
static struct recs results;

static void oom(void)
{
	fputs("bench-report: out of memory\n", stderr);
	exit(1);
}

static const char *get(const struct rec *r, const char *key)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->kv[i].key, key))
			return r->kv[i].val;
	return NULL;
}

/* A finite number written in full: JSON can hold it as is. */
static bool is_number(const char *s)
{
	char *end;
	double d;

	if (!*s)
		return false;
	errno = 0;
	d = strtod(s, &end);
	return !*end && !errno && isfinite(d) && strspn(s, "0123456789+-.eE") ==
	       strlen(s);
}

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
			oom();
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
		if (!parse(line, &r) || !get(&r, "name") ||
		    !get(&r, "iterations") || !get(&r, "real_time") ||
		    !get(&r, "cpu_time"))
			goto bad;
		if (results.n == results.cap) {
			results.cap = results.cap ? 2 * results.cap : 64;
			results.v = realloc(results.v,
					    results.cap * sizeof(*results.v));
			if (!results.v)
				oom();
		}
		results.v[results.n++] = r;
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

static void write_context(FILE *f, const char *suite)
{
	char host[256] = "unknown", date[64];
	const char *v;
	time_t t = time(NULL);

	gethostname(host, sizeof(host) - 1);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S%z", localtime(&t));
	fputs("{\n  \"context\": {\n    \"date\": ", f);
	json_string(f, (v = get(&context, "date")) ? v : date);
	fputs(",\n    \"host_name\": ", f);
	json_string(f, (v = get(&context, "host_name")) ? v : host);
	fprintf(f, ",\n    \"executable\": \"exmap bench suite %s\",\n", suite);
	v = get(&context, "num_cpus");
	fprintf(f, "    \"num_cpus\": %s,\n", v && is_number(v) ? v : "0");
	fputs("    \"mhz_per_cpu\": 0,\n    \"cpu_scaling_enabled\": false,\n"
	      "    \"caches\": [],\n    \"load_avg\": [],\n"
	      "    \"library_build_type\": \"release\",\n"
	      "    \"json_schema_version\": 1", f);
	for (int i = 0; i < context.n; i++) {
		const char *k = context.kv[i].key;

		if (!strcmp(k, "date") || !strcmp(k, "host_name") ||
		    !strcmp(k, "num_cpus"))
			continue;	/* shown above */
		fputs(",\n    ", f);
		json_string(f, k);
		fputs(": ", f);
		json_value(f, context.kv[i].val);
	}
	fputs("\n  },\n", f);
}

static void write_json(FILE *f, const char *suite)
{
	const char *families[256];
	int nfam = 0, per_family[256] = { 0 };
	bool first = true;

	write_context(f, suite);
	fputs("  \"benchmarks\": [", f);
	for (size_t i = 0; i < results.n; i++) {
		const struct rec *r = &results.v[i];
		const char *name = get(r, "name"), *v;
		int fam;

		if (strcmp(get(r, "suite"), suite))
			continue;
		for (fam = 0; fam < nfam; fam++)
			if (family_len(families[fam]) == family_len(name) &&
			    !strncmp(families[fam], name, family_len(name)))
				break;
		if (fam == nfam && nfam < 256)
			families[nfam++] = name;
		fputs(first ? "\n    {\n" : ",\n    {\n", f);
		first = false;
		fputs("      \"name\": ", f);
		json_string(f, name);
		fprintf(f, ",\n      \"family_index\": %d,\n"
			"      \"per_family_instance_index\": %d,\n"
			"      \"run_name\": ", fam, per_family[fam]++);
		json_string(f, (v = get(r, "run_name")) ? v : name);
		fputs(",\n      \"run_type\": \"iteration\",\n"
		      "      \"repetitions\": 1,\n"
		      "      \"repetition_index\": 0,\n", f);
		fprintf(f, "      \"threads\": %s,\n",
			(v = get(r, "threads")) && is_number(v) ? v : "1");
		fprintf(f, "      \"iterations\": %s,\n", get(r, "iterations"));
		fprintf(f, "      \"real_time\": %s,\n", get(r, "real_time"));
		fprintf(f, "      \"cpu_time\": %s,\n", get(r, "cpu_time"));
		fputs("      \"time_unit\": ", f);
		json_string(f, (v = get(r, "time_unit")) ? v : "ns");
		if ((v = get(r, "items_per_second")))
			fprintf(f, ",\n      \"items_per_second\": %s", v);
		if ((v = get(r, "label"))) {
			fputs(",\n      \"label\": ", f);
			json_string(f, v);
		}
		for (int k = 0; k < r->n; k++) {
			if (is_fixed(r->kv[k].key))
				continue;
			fputs(",\n      ", f);
			json_string(f, r->kv[k].key);
			fputs(": ", f);
			json_value(f, r->kv[k].val);
		}
		fputs("\n    }", f);
	}
	fputs("\n  ]\n}\n", f);
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

/* Google Benchmark's CSV columns, then the suite's own in first-seen order. */
static void write_csv(FILE *f, const char *suite)
{
	static const char *const head[] = {
		"name", "iterations", "real_time", "cpu_time", "time_unit",
		"bytes_per_second", "items_per_second", "label",
		"error_occurred", "error_message",
	};
	const size_t nhead = sizeof(head) / sizeof(head[0]);
	const char *cols[MAX_KEYS * 4];
	size_t ncols = 0;

	for (size_t i = 0; i < nhead; i++)
		cols[ncols++] = head[i];
	for (size_t i = 0; i < results.n; i++) {
		const struct rec *r = &results.v[i];

		if (strcmp(get(r, "suite"), suite))
			continue;
		for (int k = 0; k < r->n; k++) {
			const char *key = r->kv[k].key;
			size_t c;

			if (!strcmp(key, "suite"))
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
	for (size_t i = 0; i < results.n; i++) {
		const struct rec *r = &results.v[i];

		if (strcmp(get(r, "suite"), suite))
			continue;
		for (size_t c = 0; c < ncols; c++) {
			if (c)
				fputc(',', f);
			csv_field(f, get(r, cols[c]));
		}
		fputc('\n', f);
	}
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
		const char *s = get(&results.v[i], "suite");
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
