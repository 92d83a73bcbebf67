// SPDX-License-Identifier: GPL-2.0
/* Writes result records; see record.h for the format. */
#include "record.h"

void record_begin(FILE *f, const char *suite, const char *name,
		  double iterations, double real_s, double cpu_s)
{
	double it = iterations > 0 ? iterations : 1;

	fprintf(f, "suite=%s name=%s iterations=%.0f real_time=%.6g "
		"cpu_time=%.6g time_unit=ns", suite, name, iterations,
		real_s * 1e9 / it, cpu_s * 1e9 / it);
}

void record_str(FILE *f, const char *key, const char *val)
{
	fprintf(f, " %s=%s", key, val);
}

void record_num(FILE *f, const char *key, double val)
{
	fprintf(f, " %s=%.6g", key, val);
}

void record_end(FILE *f)
{
	fputc('\n', f);
	fflush(f);
}
