// SPDX-License-Identifier: GPL-2.0
/*
 * The driver of the allocate-touch-free benchmarks: runs every mode for
 * every thread count and batch size, measures, prints a table and writes
 * result records (record.h).
 *
 * Measured per run:
 *   pages/s        completed pages (present, written, absent again) per
 *                  second of wall time, all threads together;
 *   tlb/page       TLB shootdown interrupts (/proc/interrupts, all CPUs)
 *                  per page: what the other CPUs paid for the frees;
 *   peak frames    the most pages present at once: exmap's frames_in_use,
 *                  sampled every few ms; for the Linux modes the growth of
 *                  the process's peak RSS over the run (exact);
 *   frames held    exmap: frames the module held for all contexts (sampled).
 *
 *   CPU time       of the worker threads over the run (their own clocks).
 *
 * Each configuration runs -r times (default 3) for a third of the time,
 * the modes in turn and in a rotating order, and the table shows the best
 * run and the median: on a shared or emulated machine interference only
 * ever slows a run down, and each mode gets the same chances to dodge it.
 * The records hold every run as a repetition (repetitions=N,
 * repetition_index=i), its ratio taken against the baseline's run of the
 * same round; bench-report adds the aggregates.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/exmap.h>

#include "alloc.h"
#include "bench-util.h"
#include "record.h"
#include "sysstat.h"

#define MAX_LIST	16
#define MAX_REPS	9
#define SAMPLE_NS	5000000L

static const struct alloc_mode *const all_modes[] = {
	&alloc_exmap_1if, &alloc_exmap_1if_zero, &alloc_exmap_spread,
	&alloc_exmap_2if,
	&alloc_exmap_pool, &alloc_madvise, &alloc_munmap, &alloc_uffd_zero,
	&alloc_uffd_copy,
};

struct result {
	const struct alloc_mode *mode;
	unsigned long pages;
	double secs, cpu;
	long long tlb;		/* -1: not known here */
	long peak_frames;
	long frames_held;	/* -1: not exmap */
	unsigned long retries;
	struct exmap_stats st;
	/* Over the repetitions: the median and the worst pages/s. */
	double median, worst;
	int reps;
	int round;		/* which repetition this run was */
	double vs_base;		/* to the baseline's run of that round */
};

struct worker_slot {
	struct alloc_worker w;
	pthread_t tid;
};

static struct alloc_run run;	/* static: its rings want 64-byte alignment */
static struct worker_slot slots[MAX_THREADS];

void alloc_start(struct alloc_worker *w)
{
	pthread_barrier_wait(&w->run->ready);
	pthread_barrier_wait(&w->run->go);
	w->cpu_start = thread_cpu_now();
}

void alloc_fail(struct alloc_worker *w, const char *what, int err)
{
	if (!w->err) {
		w->err = err ? err : EIO;
		w->what = what;
	}
}

static void *worker_main(void *arg)
{
	struct alloc_worker *w = arg;

	w->run->mode->thread(w);
	w->end = now();
	w->cpu = thread_cpu_now() - w->cpu_start;
	return NULL;
}

static void exmap_open(struct alloc_run *r)
{
	const struct alloc_mode *m = r->mode;
	struct exmap_setup s = {
		.pool_size = (m->pool_frames ? m->pool_frames :
			      m->area_pages)(r->threads, r->batch),
		.nr_interfaces = r->threads * m->ifaces_per_thread,
		.backing_fd = -1,
	};

	r->area_pages = m->area_pages(r->threads, r->batch);
	r->fd = open("/dev/exmap", O_RDWR | O_CLOEXEC);
	if (r->fd < 0)
		die("open /dev/exmap");
	if (ioctl(r->fd, EXMAP_IOC_SETUP, &s))
		die("EXMAP_IOC_SETUP");
	r->area = mmap(NULL, r->area_pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, r->fd, EXMAP_OFF_AREA);
	if (r->area == MAP_FAILED)
		die("mmap area");
}

static void exmap_sample(struct alloc_run *r, struct result *res)
{
	struct exmap_stats st;
	long held = sys_exmap_frames();

	if (!ioctl(r->fd, EXMAP_IOC_STATS, &st) &&
	    (long)st.frames_in_use > res->peak_frames)
		res->peak_frames = st.frames_in_use;
	if (held > res->frames_held)
		res->frames_held = held;
}

/* Sleeps until @end, sampling exmap's counters on the way. */
static void wait_sampling(struct alloc_run *r, struct result *res, double end)
{
	for (double t = now(); t < end; t = now()) {
		double left = end - t;
		struct timespec ts = { 0, SAMPLE_NS };

		if (left < SAMPLE_NS / 1e9)
			ts.tv_nsec = (long)(left * 1e9);
		nanosleep(&ts, NULL);
		if (r->fd >= 0)
			exmap_sample(r, res);
	}
}

static struct result run_one(const struct alloc_mode *mode,
			     unsigned int threads, unsigned int batch,
			     double seconds)
{
	struct result res = { .mode = mode, .frames_held = -1 };
	struct alloc_run *r = &run;
	long long tlb0;
	double t0, end = 0;
	long rss0 = 0;

	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->threads = threads;
	r->batch = batch;
	r->fd = -1;
	if (mode->exmap) {
		exmap_open(r);
		res.frames_held = 0;
	}
	pthread_barrier_init(&r->ready, NULL, threads + 1);
	pthread_barrier_init(&r->go, NULL, threads + 1);
	for (unsigned int i = 0; i < threads; i++) {
		slots[i].w = (struct alloc_worker){ .run = r, .id = i };
		if (pthread_create(&slots[i].tid, NULL, worker_main,
				   &slots[i].w))
			die("pthread_create");
	}

	pthread_barrier_wait(&r->ready);	/* every thread set up */
	sys_reset_peak_rss();
	rss0 = sys_rss_pages("VmRSS");
	tlb0 = sys_tlb_shootdowns();
	pthread_barrier_wait(&r->go);
	t0 = now();
	wait_sampling(r, &res, t0 + seconds);
	atomic_store(&r->stop, 1);
	for (unsigned int i = 0; i < threads; i++) {
		struct alloc_worker *w = &slots[i].w;

		pthread_join(slots[i].tid, NULL);
		if (w->err) {
			fprintf(stderr, "%s, %u threads, batch %u: %s: %s\n",
				mode->name, threads, batch, w->what,
				strerror(w->err));
			exit(1);
		}
		res.pages += w->pages;
		res.retries += w->retries;
		res.cpu += w->cpu;
		if (w->end > end)
			end = w->end;
	}
	res.secs = end - t0;
	res.tlb = sys_tlb_shootdowns();
	res.tlb = tlb0 < 0 || res.tlb < 0 ? -1 : res.tlb - tlb0;
	pthread_barrier_destroy(&r->ready);
	pthread_barrier_destroy(&r->go);

	if (r->fd >= 0) {
		exmap_sample(r, &res);
		if (ioctl(r->fd, EXMAP_IOC_STATS, &res.st))
			die("EXMAP_IOC_STATS");
		munmap(r->area, r->area_pages * PAGE);
		close(r->fd);
	} else {
		long hwm = sys_rss_pages("VmHWM");

		res.peak_frames = hwm >= 0 && rss0 >= 0 && hwm > rss0 ?
				  hwm - rss0 : 0;
	}
	return res;
}

static double rate(const struct result *res)
{
	return res->secs > 0 ? res->pages / res->secs : 0;
}

/* One line of the table: the best run, with the median beside it. */
static void print_row(const struct result *res, unsigned int threads,
		      unsigned int batch, const struct result *base)
{
	double pages = res->pages ? res->pages : 1;
	char tlb[32] = "-", ratio[32] = "";

	if (res->tlb >= 0)
		snprintf(tlb, sizeof(tlb), "%.4f", res->tlb / pages);
	if (base && rate(base) > 0)
		snprintf(ratio, sizeof(ratio), "%.2fx", rate(res) / rate(base));
	printf("%-14s %7u %6u %12.0f %12.0f %9s %10s %8ld\n",
	       res->mode->name, threads, batch, rate(res), res->median, ratio,
	       tlb, res->peak_frames);
	fflush(stdout);
}

/* The record of one run, a repetition of its configuration. */
static void record_run(FILE *rec, const char *suite, const struct result *res,
		       unsigned int threads, unsigned int batch, int reps,
		       const char *baseline)
{
	double pages = res->pages ? res->pages : 1;
	char name[128];

	snprintf(name, sizeof(name), "%s/threads:%u/batch:%u",
		 res->mode->name, threads, batch);
	record_begin(rec, suite, name, res->pages, res->secs, res->cpu);
	record_num(rec, "repetitions", reps);
	record_num(rec, "repetition_index", res->round);
	record_num(rec, "items_per_second", rate(res));
	record_str(rec, "mode", res->mode->name);
	record_num(rec, "threads", threads);
	record_num(rec, "batch", batch);
	if (res->tlb >= 0) {
		record_num(rec, "tlb_shootdowns", res->tlb);
		record_num(rec, "tlb_per_page", res->tlb / pages);
	}
	record_num(rec, "peak_frames", res->peak_frames);
	if (res->frames_held >= 0) {
		record_num(rec, "frames_held", res->frames_held);
		record_num(rec, "exmap_flushes_per_page",
			   res->st.tlb_flushes / pages);
		record_num(rec, "steals_per_page", res->st.steals / pages);
		record_num(rec, "alloc_retries", res->retries);
	}
	if (baseline && res->vs_base > 0) {
		record_str(rec, "baseline", baseline);
		record_num(rec, "vs_baseline", res->vs_base);
	}
	record_end(rec);
}

static int by_rate(const void *a, const void *b)
{
	double x = rate(a), y = rate(b);

	return (x > y) - (x < y);
}

/*
 * All modes of one configuration, side by side: @reps rounds, each running
 * every mode once, starting one mode later each round.
 */
static void run_group(FILE *rec, const char *suite,
		      const struct alloc_mode *const *modes, int nmodes,
		      unsigned int threads, unsigned int batch, double seconds,
		      int reps, const char *baseline)
{
	static struct result runs[MAX_LIST][MAX_REPS];
	struct result best[MAX_LIST];
	const struct alloc_mode *act[MAX_LIST];
	int n = 0, b = -1;

	for (int m = 0; m < nmodes; m++)
		if (!modes[m]->pairs || threads % 2 == 0)
			act[n++] = modes[m];
	for (int r = 0; r < reps; r++)
		for (int k = 0; k < n; k++) {
			int m = (k + r) % n;

			runs[m][r] = run_one(act[m], threads, batch,
					     seconds / reps);
			runs[m][r].round = r;
		}
	for (int m = 0; m < n; m++)
		if (baseline && !strcmp(act[m]->name, baseline))
			b = m;
	/* Side by side: each run against the baseline's of its round. */
	for (int m = 0; m < n; m++)
		for (int r = 0; r < reps; r++) {
			if (b >= 0 && rate(&runs[b][r]) > 0)
				runs[m][r].vs_base = rate(&runs[m][r]) /
						     rate(&runs[b][r]);
			if (rec)
				record_run(rec, suite, &runs[m][r], threads,
					   batch, reps, b >= 0 ? baseline :
					   NULL);
		}
	for (int m = 0; m < n; m++) {
		qsort(runs[m], reps, sizeof(runs[m][0]), by_rate);
		best[m] = runs[m][reps - 1];
		best[m].median = rate(&runs[m][reps / 2]);
		best[m].worst = rate(&runs[m][0]);
		best[m].reps = reps;
	}
	for (int m = 0; m < n; m++)
		print_row(&best[m], threads, batch, b >= 0 ? &best[b] : NULL);
}

static const struct alloc_mode *find_mode(const char *name)
{
	for (size_t i = 0; i < sizeof(all_modes) / sizeof(*all_modes); i++)
		if (!strcmp(all_modes[i]->name, name))
			return all_modes[i];
	return NULL;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-s seconds] [-r reps] [-t threads]... "
		"[-b batch]... [-m mode]... [-B baseline] [-o records]\n"
		"  defaults: -s 1 -r 3, threads 1 2 4 ... up to the CPUs, "
		"batches 1 8 64 512\n  modes:", prog);
	for (size_t i = 0; i < sizeof(all_modes) / sizeof(*all_modes); i++)
		fprintf(stderr, " %s", all_modes[i]->name);
	fputc('\n', stderr);
	exit(2);
}

static unsigned int parse_count(const char *s, unsigned int max,
				const char *prog)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (*end || v < 1 || v > max)
		usage(prog);
	return v;
}

int alloc_main(int argc, char **argv, const char *suite,
	       const char *const *default_modes, const char *baseline)
{
	const struct alloc_mode *modes[MAX_LIST];
	unsigned int threads[MAX_LIST], batches[MAX_LIST];
	int nmodes = 0, nthreads = 0, nbatches = 0, opt;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double seconds = 1;
	int reps = 3;
	FILE *rec = NULL;

	while ((opt = getopt(argc, argv, "s:r:t:b:m:B:o:h")) != -1) {
		switch (opt) {
		case 'r':
			reps = parse_count(optarg, MAX_REPS, argv[0]);
			break;
		case 's':
			seconds = atof(optarg);
			if (seconds <= 0)
				usage(argv[0]);
			break;
		case 't':
			if (nthreads == MAX_LIST)
				usage(argv[0]);
			threads[nthreads++] = parse_count(optarg, MAX_THREADS,
							  argv[0]);
			break;
		case 'b':
			if (nbatches == MAX_LIST)
				usage(argv[0]);
			batches[nbatches++] = parse_count(optarg, EXMAP_VEC_MAX,
							  argv[0]);
			break;
		case 'm':
			if (nmodes == MAX_LIST || !find_mode(optarg))
				usage(argv[0]);
			modes[nmodes++] = find_mode(optarg);
			break;
		case 'B':
			baseline = optarg;
			break;
		case 'o':
			rec = fopen(optarg, "a");
			if (!rec)
				die(optarg);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);
	if (!nmodes) {
		for (; *default_modes && nmodes < MAX_LIST; default_modes++)
			modes[nmodes++] = find_mode(*default_modes);
	}
	if (!nthreads) {
		for (long t = 1; t <= cpus && nthreads < MAX_LIST - 1; t *= 2)
			threads[nthreads++] = t;
		if (cpus > 1 && cpus <= MAX_THREADS &&
		    threads[nthreads - 1] != cpus)
			threads[nthreads++] = cpus;
	}
	if (!nbatches) {
		static const unsigned int def[] = { 1, 8, 64, 512 };

		for (size_t i = 0; i < sizeof(def) / sizeof(*def); i++)
			batches[nbatches++] = def[i];
	}

	printf("%s: %.2f s per configuration in %d runs, %ld CPUs; "
	       "ratio against %s\n", suite, seconds, reps, cpus,
	       baseline ? baseline : "-");
	printf("%-14s %7s %6s %12s %12s %9s %10s %8s\n", "mode", "threads",
	       "batch", "best pages/s", "median", "ratio", "tlb/page", "peak");
	for (int t = 0; t < nthreads; t++)
		for (int b = 0; b < nbatches; b++)
			run_group(rec, suite, modes, nmodes, threads[t],
				  batches[b], seconds, reps, baseline);
	if (rec)
		fclose(rec);
	return 0;
}
