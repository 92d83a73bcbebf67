// SPDX-License-Identifier: GPL-2.0
/* System counters the benchmarks read around a run; see sysstat.h. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sysstat.h"

long long sys_tlb_shootdowns(void)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char *line = NULL;
	size_t cap = 0;
	long long sum = -1;

	if (!f)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		char *p = line + strspn(line, " ");

		if (strncmp(p, "TLB:", 4))
			continue;
		/* One count per CPU, then the description. */
		sum = 0;
		for (p += 4;;) {
			char *end;
			long long v = strtoll(p, &end, 10);

			if (end == p)
				break;
			sum += v;
			p = end;
		}
		break;
	}
	free(line);
	fclose(f);
	return sum;
}

void sys_reset_peak_rss(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	/* "5" resets VmHWM (Documentation/filesystems/proc.rst). */
	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

long sys_rss_pages(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	size_t len = strlen(field);
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, len) && line[len] == ':') {
			kb = strtol(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb < 0 ? -1 : kb / 4;
}

long sys_exmap_frames(void)
{
	FILE *f = fopen("/sys/module/exmap/parameters/frames", "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}
