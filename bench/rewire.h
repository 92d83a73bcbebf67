/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The rewiring benchmarks (bench-rewire): what the suites share. Each
 * suite measures exmap's ALIAS or MOVE beside the classic way of rewiring
 * (a memfd mapped page by page with mmap(MAP_FIXED | MAP_SHARED), or
 * mremap) and beside not rewiring at all (copying, a chunked deque), and
 * writes one result record per configuration (record.h).
 */
#ifndef EXMAP_BENCH_REWIRE_H
#define EXMAP_BENCH_REWIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/exmap.h>

#define PAGE	4096UL

struct rw_opts {
	double seconds;		/* per measurement, where it is timed */
	FILE *rec;		/* result records, or NULL */
	bool quick;		/* smaller sizes (tests, -q) */
};

/* A bare exmap context: raw ioctls, one interface. */
struct rw_exmap {
	int fd;
	char *area;
	size_t pages;
	struct exmap_iov *vec;
	struct exmap_rewire *rw;	/* the same page */
};

/* Opens a context, or returns -errno (no module: the suite skips it). */
int rw_exmap_open(struct rw_exmap *x, size_t area_pages, size_t pool);
void rw_exmap_close(struct rw_exmap *x);
/* ACTION on interface 0; dies on a refused call or a failed entry. */
void rw_exmap_action(struct rw_exmap *x, unsigned int opcode,
		     unsigned int nr);

/*
 * Prints and records one result: @items done in @secs by implementation
 * @impl of benchmark @bench (@load: the deque's workload, or NULL) at size
 * @size. The record is named BENCH[/LOAD]/IMPL/size:SIZE.
 */
void rw_report(const struct rw_opts *o, const char *bench, const char *load,
	       const char *impl, unsigned long size, double items,
	       double secs, const char *extra_key, double extra);

void rw_alltoone(const struct rw_opts *o);
void rw_deque(const struct rw_opts *o);
void rw_relocate(const struct rw_opts *o);

#endif
