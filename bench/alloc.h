/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The allocate-touch-free benchmarks (bench-alloc, bench-steal): what a mode
 * is, and what the driver (alloc-main.c) shares with the modes
 * (alloc-exmap.c, alloc-linux.c).
 *
 * One run = one mode, a thread count and a batch size, for a fixed time.
 * Every mode counts "pages": a page that was made present, written once and
 * made absent again, in batches of @batch pages per call.
 */
#ifndef EXMAP_BENCH_ALLOC_H
#define EXMAP_BENCH_ALLOC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define PAGE		4096UL
#define MAX_THREADS	64
#define POOL_SLOTS	4	/* batches in flight between a pool pair */

struct alloc_run;
struct alloc_worker;

struct alloc_mode {
	const char *name;
	/* Uses /dev/exmap: the driver opens one context per run. */
	bool exmap;
	/* Threads come in pairs (one allocates, one frees): even counts only. */
	bool pairs;
	/* exmap only: interfaces per thread, and area pages per thread. */
	unsigned int ifaces_per_thread;
	size_t (*area_pages)(unsigned int threads, unsigned int batch);
	/* exmap only: pool size, if not area_pages (the area is sparse). */
	size_t (*pool_frames)(unsigned int threads, unsigned int batch);
	/* A thread: set up, alloc_start(), loop until alloc_stopped(). */
	void (*thread)(struct alloc_worker *w);
};

/* A handoff ring between one allocating and one freeing thread (pool). */
struct alloc_ring {
	_Alignas(64) atomic_int full[POOL_SLOTS];
};

struct alloc_run {
	const struct alloc_mode *mode;
	unsigned int threads;
	unsigned int batch;
	int fd;			/* exmap context, or -1 */
	char *area;
	size_t area_pages;
	pthread_barrier_t ready, go;
	atomic_int stop;
	struct alloc_ring rings[MAX_THREADS / 2];
};

struct alloc_worker {
	struct alloc_run *run;
	unsigned int id;
	unsigned long pages;	/* pages this thread completed */
	unsigned long retries;	/* ALLOCs repeated for want of free frames */
	double end;		/* when it left its loop */
	double cpu_start;	/* its CPU time when the run began */
	double cpu;		/* CPU seconds it spent in the run */
	int err;		/* errno of the first failure */
	const char *what;	/* and what failed */
};

/* Every thread calls this once, after its setup, even when that failed. */
void alloc_start(struct alloc_worker *w);

static inline bool alloc_stopped(struct alloc_worker *w)
{
	return atomic_load_explicit(&w->run->stop, memory_order_relaxed);
}

/* Records the first failure; the thread then stops. */
void alloc_fail(struct alloc_worker *w, const char *what, int err);

/* Writes one byte to each of @n pages from @base: the "touch". */
static inline void alloc_touch(char *base, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		((volatile char *)base)[i * PAGE] = 1;
}

extern const struct alloc_mode alloc_exmap_1if, alloc_exmap_1if_zero,
	alloc_exmap_2if, alloc_exmap_pool, alloc_exmap_spread;
extern const struct alloc_mode alloc_madvise, alloc_munmap,
	alloc_uffd_zero, alloc_uffd_copy;

/* The driver: both programs' main(), with their own suite and modes. */
int alloc_main(int argc, char **argv, const char *suite,
	       const char *const *default_modes, const char *baseline);

#endif
