// SPDX-License-Identifier: GPL-2.0
/*
 * exmap-demo: a B+tree in a vmcache-style buffer pool, on exmap or on the
 * fallback backend. Loads N keys, runs random lookups (or a lookup/update
 * mix; lookups one at a time or in batches whose misses are read in with
 * one call) from T threads for S seconds with a progress line a second,
 * verifies every key, and writes everything back. With -r it reopens the
 * data a previous run left on the device and verifies it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "btree.h"

struct demo {
	struct bufpool *bp;
	struct btree bt;
	uint64_t keys;
	unsigned int threads;
	unsigned int batch;
	int update_pct;
	atomic_int stop;
	atomic_ulong ops;
	atomic_ulong loaded;
	atomic_ulong bad;
	atomic_ulong run_cpu_ns;	/* the workers' CPU time in the run */
};

struct worker {
	struct demo *d;
	struct bp_thread t;
	unsigned int id;
	pthread_t tid;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of the calling thread, in nanoseconds. */
static unsigned long thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000UL + ts.tv_nsec;
}

static uint64_t value_of(uint64_t key)
{
	uint64_t v = key * 0x9e3779b97f4a7c15ULL;

	return v ^ (v >> 29);
}

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *load_main(void *arg)
{
	struct worker *w = arg;
	struct demo *d = w->d;

	for (uint64_t k = w->id; k < d->keys; k += d->threads) {
		bt_insert(&d->bt, &w->t, k, value_of(k));
		atomic_fetch_add(&d->loaded, 1);
	}
	return NULL;
}

/* Looks up @n keys in one batch and checks what comes back. */
static void check_many(struct demo *d, struct worker *w, const uint64_t *keys,
		       unsigned int n, uint64_t *vals, bool *found)
{
	if (!n)
		return;
	bt_lookup_many(&d->bt, &w->t, keys, n, vals, found);
	for (unsigned int i = 0; i < n; i++) {
		if (!found[i] || vals[i] != value_of(keys[i]))
			atomic_fetch_add(&d->bad, 1);
	}
}

static void *run_main(void *arg)
{
	struct worker *w = arg;
	struct demo *d = w->d;
	uint64_t seed = 0x2545f4914f6cdd1dULL * (w->id + 1), key, val;
	uint64_t keys[BT_BATCH_MAX], vals[BT_BATCH_MAX];
	bool found[BT_BATCH_MAX];
	unsigned int nb = 0;
	unsigned long cpu = thread_cpu_ns();

	while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
		for (int k = 0; k < 64; k++) {
			key = next_rand(&seed) % d->keys;
			if ((int)(next_rand(&seed) % 100) < d->update_pct) {
				/* Rewrites the same value: the page is dirty. */
				if (!bt_update(&d->bt, &w->t, key,
					       value_of(key)))
					atomic_fetch_add(&d->bad, 1);
			} else if (d->batch > 1) {
				keys[nb++] = key;
				if (nb == d->batch) {
					check_many(d, w, keys, nb, vals, found);
					nb = 0;
				}
			} else if (!bt_lookup(&d->bt, &w->t, key, &val) ||
				   val != value_of(key)) {
				atomic_fetch_add(&d->bad, 1);
			}
		}
		atomic_fetch_add(&d->ops, 64);
	}
	check_many(d, w, keys, nb, vals, found);
	atomic_fetch_add(&d->run_cpu_ns, thread_cpu_ns() - cpu);
	return NULL;
}

static void *verify_main(void *arg)
{
	struct worker *w = arg;
	struct demo *d = w->d;
	uint64_t val;

	for (uint64_t k = w->id; k < d->keys; k += d->threads) {
		if (!bt_lookup(&d->bt, &w->t, k, &val) || val != value_of(k))
			atomic_fetch_add(&d->bad, 1);
		atomic_fetch_add(&d->loaded, 1);
	}
	return NULL;
}

struct snap {
	double t;
	unsigned long ops, misses, evictions, rd, wr;
};

static void take(struct demo *d, struct snap *s, atomic_ulong *count)
{
	s->t = now();
	s->ops = atomic_load(count);
	s->misses = atomic_load(&d->bp->stats.misses);
	s->evictions = atomic_load(&d->bp->stats.evictions);
	s->rd = atomic_load(&d->bp->stats.read_bytes);
	s->wr = atomic_load(&d->bp->stats.written_bytes);
}

static void progress(const char *phase, const struct snap *a,
		     const struct snap *b)
{
	double dt = b->t - a->t;

	printf("%-7s %10.0f ops/s %9.0f misses/s %9.0f evictions/s "
	       "%7.1f MB/s read %7.1f MB/s written\n", phase,
	       (b->ops - a->ops) / dt, (b->misses - a->misses) / dt,
	       (b->evictions - a->evictions) / dt, (b->rd - a->rd) / dt / 1e6,
	       (b->wr - a->wr) / dt / 1e6);
	fflush(stdout);
}

/* Runs @fn on every worker; prints progress until they finish or time. */
static double phase(struct demo *d, struct worker *w, void *(*fn)(void *),
		    const char *name, atomic_ulong *count, double seconds,
		    struct snap *total)
{
	struct snap start, last, cur;
	int done = 0;

	take(d, &start, count);
	last = start;
	atomic_store(&d->stop, 0);
	for (unsigned int i = 0; i < d->threads; i++)
		pthread_create(&w[i].tid, NULL, fn, &w[i]);
	while (!done) {
		usleep(seconds > 0 && seconds < 1 ? seconds * 1e6 : 1e6);
		take(d, &cur, count);
		progress(name, &last, &cur);
		last = cur;
		if (seconds > 0 && cur.t - start.t >= seconds)
			break;
		done = atomic_load(count) - start.ops >= (fn == run_main ?
							  ~0UL : d->keys);
	}
	atomic_store(&d->stop, 1);
	for (unsigned int i = 0; i < d->threads; i++)
		pthread_join(w[i].tid, NULL);
	take(d, &cur, count);
	total->t = cur.t - start.t;
	total->ops = cur.ops - start.ops;
	total->misses = cur.misses - start.misses;
	total->evictions = cur.evictions - start.evictions;
	total->rd = cur.rd - start.rd;
	total->wr = cur.wr - start.wr;
	return total->t;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s -d DEVICE [-b exmap|fallback] [-p POOL_MB] "
		"[-n KEYS] [-t THREADS] [-s SECONDS] [-u UPDATE_PCT] "
		"[-B BATCH] [-r]\n"
		"  -B BATCH  look keys up BATCH at a time (2..%d): the pages\n"
		"            missing for a batch are read in with one call\n",
		prog, BT_BATCH_MAX);
	exit(2);
}

int main(int argc, char **argv)
{
	struct bp_opts o = { .threads = 1, .backend = EXMAP_BACKEND_AUTO };
	struct snap load = { 0 }, run = { 0 }, verify = { 0 };
	struct demo d = { .keys = 1000000, .threads = 1, .batch = 1 };
	double seconds = 10, pool_mb = 16;
	struct worker *w;
	int opt, ret;

	while ((opt = getopt(argc, argv, "d:b:p:n:t:s:u:B:r")) != -1) {
		switch (opt) {
		case 'd': o.device = optarg; break;
		case 'b':
			o.backend = !strcmp(optarg, "exmap") ?
				    EXMAP_BACKEND_KERNEL :
				    !strcmp(optarg, "fallback") ?
				    EXMAP_BACKEND_FALLBACK : EXMAP_BACKEND_AUTO;
			break;
		case 'p': pool_mb = atof(optarg); break;
		case 'n': d.keys = strtoull(optarg, NULL, 0); break;
		case 't': d.threads = atoi(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'u': d.update_pct = atoi(optarg); break;
		case 'B': d.batch = atoi(optarg); break;
		case 'r': o.reuse = true; break;
		default: usage(argv[0]);
		}
	}
	if (!o.device || !d.keys || d.threads < 1 || d.threads > 64 ||
	    pool_mb <= 0 || d.batch < 1 || d.batch > BT_BATCH_MAX)
		usage(argv[0]);
	o.threads = d.threads;
	o.pool_pages = (uint64_t)(pool_mb * 1e6 / BP_PAGE);
	/* Leaves end up at least half full: room for twice the data. */
	o.area_pages = 2 * (d.keys / (BT_FANOUT / 2) + 1) + 1024;

	if (bp_install_fault_handler())
		return 1;
	ret = bp_open(&d.bp, &o);
	if (ret) {
		fprintf(stderr, "bp_open: %s\n", strerror(-ret));
		return 1;
	}
	w = calloc(d.threads, sizeof(*w));
	for (unsigned int i = 0; i < d.threads; i++) {
		w[i].d = &d;
		w[i].id = i;
		bp_thread_init(d.bp, &w[i].t, i);
	}
	bt_open(&d.bt, d.bp, &w[0].t);
	printf("exmap-demo: backend %s, %llu keys, pool %.0f MB, "
	       "%u threads, lookups in batches of %u, %s\n",
	       exmap_backend_name(exmap_backend_of(d.bp->x)),
	       (unsigned long long)d.keys, pool_mb, d.threads, d.batch,
	       o.reuse ? "reusing the data on the device" : "loading");

	if (!o.reuse)
		phase(&d, w, load_main, "load", &d.loaded, 0, &load);
	if (seconds > 0)
		phase(&d, w, run_main, d.update_pct ? "mix" : "lookup",
		      &d.ops, seconds, &run);
	atomic_store(&d.loaded, 0);
	phase(&d, w, verify_main, "verify", &d.loaded, 0, &verify);

	printf("summary: backend=%s keys=%llu data_mb=%.1f pool_mb=%.0f "
	       "threads=%u batch=%u load_s=%.1f run_s=%.3f cpu_s=%.3f "
	       "ops_per_s=%.0f misses_per_s=%.0f evictions=%lu read_mb=%.1f "
	       "written_mb=%.1f restarts=%lu bad=%lu\n",
	       exmap_backend_name(exmap_backend_of(d.bp->x)),
	       (unsigned long long)d.keys,
	       atomic_load(&d.bp->next_page) * BP_PAGE / 1e6, pool_mb,
	       d.threads, d.batch, load.t, run.t,
	       atomic_load(&d.run_cpu_ns) / 1e9,
	       run.t > 0 ? run.ops / run.t : 0,
	       run.t > 0 ? run.misses / run.t : 0,
	       atomic_load(&d.bp->stats.evictions),
	       atomic_load(&d.bp->stats.read_bytes) / 1e6,
	       atomic_load(&d.bp->stats.written_bytes) / 1e6,
	       atomic_load(&d.bp->stats.restarts), atomic_load(&d.bad));
	ret = bp_close(d.bp);
	free(w);
	if (ret || atomic_load(&d.bad)) {
		printf("exmap-demo: FAILED (%lu bad keys, close %d)\n",
		       atomic_load(&d.bad), ret);
		return 1;
	}
	printf("exmap-demo: all %llu keys verified\n",
	       (unsigned long long)d.keys);
	return 0;
}
