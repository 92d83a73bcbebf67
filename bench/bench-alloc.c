// SPDX-License-Identifier: GPL-2.0
/*
 * bench-alloc: pages/s of allocate + touch + free in batches, per thread.
 *
 *   exmap-near:    ALLOC 512 one-page entries of neighbouring pages, write a
 *                  byte to each page, FREE them (one TLB shootdown).
 *   exmap-spread:  the same with each entry in its own page table (2 MiB
 *                  apart), as a buffer manager's scattered victims are.
 *   madvise:       the Linux baseline: write a byte to each of 512
 *                  anonymous pages (page faults), then one
 *                  madvise(MADV_DONTNEED) over them.
 *
 * Each configuration runs with 1 and 2 threads (or -t N), each thread on
 * its own interface and its own part of the area, for -s seconds. Prints
 * pages/s and the ratio of each exmap variant to the baseline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/exmap.h>

#include "bench-util.h"

#define BATCH		512
#define SPREAD		512	/* pages between entries: one page table */
#define PAGE		((size_t)EXMAP_PAGE_SIZE)
#define MAX_THREADS	64

enum mode { MODE_NEAR, MODE_SPREAD, MODE_MADVISE, NR_MODES };

static const char *const mode_names[NR_MODES] = {
	"exmap-near", "exmap-spread", "madvise",
};

struct run {
	enum mode mode;
	int threads;
	double seconds;
	int fd;
	char *area;
	pthread_barrier_t start;
	atomic_int stop;
};

struct worker {
	struct run *run;
	int id;
	unsigned long pages;
	int err;
};

static size_t stride_of(enum mode mode)
{
	return mode == MODE_SPREAD ? SPREAD : 1;
}

/* Pages of area each thread owns. */
static size_t thread_span(enum mode mode)
{
	return BATCH * stride_of(mode);
}

static void exmap_loop(struct worker *w)
{
	struct run *r = w->run;
	size_t stride = stride_of(r->mode);
	size_t first = (size_t)w->id * thread_span(r->mode);
	struct exmap_action act = { .interface = w->id, .nr = BATCH };
	struct exmap_iov *vec;
	char *base = r->area + first * PAGE;

	vec = mmap(NULL, EXMAP_INTERFACE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_SHARED, r->fd, EXMAP_OFF_INTERFACE(w->id));
	if (vec == MAP_FAILED)
		die("mmap interface");
	for (int i = 0; i < BATCH; i++) {
		vec[i].page = first + i * stride;
		vec[i].len = 1;
	}

	pthread_barrier_wait(&r->start);
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		act.opcode = EXMAP_OP_ALLOC;
		if (ioctl(r->fd, EXMAP_IOC_ACTION, &act) != 0) {
			w->err = errno ? errno : EIO;
			break;
		}
		for (int i = 0; i < BATCH; i++)
			base[i * stride * PAGE] = 1;
		act.opcode = EXMAP_OP_FREE;
		if (ioctl(r->fd, EXMAP_IOC_ACTION, &act) != 0) {
			w->err = errno ? errno : EIO;
			break;
		}
		w->pages += BATCH;
	}
	munmap(vec, EXMAP_INTERFACE_SIZE);
}

static void madvise_loop(struct worker *w)
{
	struct run *r = w->run;
	char *mem;

	mem = mmap(NULL, BATCH * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap anonymous");
	pthread_barrier_wait(&r->start);
	while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
		for (int i = 0; i < BATCH; i++)
			mem[i * PAGE] = 1;
		if (madvise(mem, BATCH * PAGE, MADV_DONTNEED)) {
			w->err = errno;
			break;
		}
		w->pages += BATCH;
	}
	munmap(mem, BATCH * PAGE);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (w->run->mode == MODE_MADVISE)
		madvise_loop(w);
	else
		exmap_loop(w);
	return NULL;
}

static void exmap_prepare(struct run *r)
{
	struct exmap_setup s = {
		.pool_size = (uint64_t)BATCH * r->threads,
		.nr_interfaces = r->threads,
		.backing_fd = -1,
	};
	size_t pages = thread_span(r->mode) * r->threads;

	r->fd = open("/dev/exmap", O_RDWR | O_CLOEXEC);
	if (r->fd < 0)
		die("open /dev/exmap");
	if (ioctl(r->fd, EXMAP_IOC_SETUP, &s))
		die("EXMAP_IOC_SETUP");
	r->area = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, r->fd, EXMAP_OFF_AREA);
	if (r->area == MAP_FAILED)
		die("mmap area");
}

/* Returns pages/s over all threads. */
static double run_one(enum mode mode, int threads, double seconds,
		      struct exmap_stats *st)
{
	struct worker w[MAX_THREADS] = { 0 };
	pthread_t tid[MAX_THREADS];
	struct run r = {
		.mode = mode, .threads = threads, .seconds = seconds, .fd = -1,
	};
	unsigned long pages = 0;
	double t0, t1;

	if (mode != MODE_MADVISE)
		exmap_prepare(&r);
	pthread_barrier_init(&r.start, NULL, threads + 1);
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){ .run = &r, .id = i };
		if (pthread_create(&tid[i], NULL, worker_main, &w[i]))
			die("pthread_create");
	}
	pthread_barrier_wait(&r.start);
	t0 = now();
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&r.stop, 1);
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		if (w[i].err) {
			errno = w[i].err;
			die(mode_names[mode]);
		}
		pages += w[i].pages;
	}
	t1 = now();
	pthread_barrier_destroy(&r.start);

	memset(st, 0, sizeof(*st));
	if (r.fd >= 0) {
		if (ioctl(r.fd, EXMAP_IOC_STATS, st))
			die("EXMAP_IOC_STATS");
		munmap(r.area, thread_span(mode) * threads * PAGE);
		close(r.fd);
	}
	return pages / (t1 - t0);
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-s seconds] [-t threads]...\n"
		"  default: -s 2 -t 1 -t 2\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	int threads[MAX_THREADS], nthreads = 0, opt;
	double seconds = 2;

	while ((opt = getopt(argc, argv, "s:t:h")) != -1) {
		switch (opt) {
		case 's':
			seconds = atof(optarg);
			break;
		case 't':
			if (nthreads == MAX_THREADS)
				usage(argv[0]);
			threads[nthreads] = atoi(optarg);
			if (threads[nthreads] < 1 ||
			    threads[nthreads] > MAX_THREADS)
				usage(argv[0]);
			nthreads++;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (seconds <= 0)
		usage(argv[0]);
	if (!nthreads) {
		threads[nthreads++] = 1;
		threads[nthreads++] = 2;
	}

	printf("bench-alloc: batch %d pages, %.1f s per run, %ld CPUs\n",
	       BATCH, seconds, sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-13s %7s %14s %9s %12s\n", "mode", "threads", "pages/s",
	       "ratio", "flushes/pg");
	for (int t = 0; t < nthreads; t++) {
		double rate[NR_MODES];
		struct exmap_stats st[NR_MODES];

		/* The baseline first: every ratio is against this run. */
		for (int m = NR_MODES - 1; m >= 0; m--)
			rate[m] = run_one(m, threads[t], seconds, &st[m]);
		for (int m = 0; m < NR_MODES; m++) {
			double per_page = st[m].free_pages ?
				(double)st[m].tlb_flushes / st[m].free_pages :
				0;

			printf("%-13s %7d %14.0f %8.1fx %12.4f\n",
			       mode_names[m], threads[t], rate[m],
			       rate[m] / rate[MODE_MADVISE], per_page);
		}
	}
	return 0;
}
