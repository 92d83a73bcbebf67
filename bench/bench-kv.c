// SPDX-License-Identifier: GPL-2.0
/*
 * bench-kv: exmap-kv and LMDB under the same load from client processes.
 *
 *   bench-kv load -S SOCK -n KEYS -v VLEN         fill exmap-kvd
 *   bench-kv run  -S SOCK -n KEYS -v VLEN ...     measure exmap-kvd
 *   bench-kv lmdb-load -d DIR -n KEYS -v VLEN     fill an LMDB
 *   bench-kv lmdb-run  -d DIR -n KEYS -v VLEN ... measure it
 * run options: -c CLIENTS (processes), -o get|put|mix, -N OPS (all clients
 * together) or -t SECONDS (after -w SECONDS of warm-up), -e ENGINE and
 * -s SUITE (the record's names), -r RECORDS (append a result record).
 *
 * Each client process does one operation at a time and times each. The
 * keys are "user" and 12 digits, the values VLEN bytes; GETs and PUTs
 * pick keys uniformly at random. A PUT is durable when it returns on both
 * sides: exmap-kvd acknowledges after its group commit's fdatasync, LMDB's
 * mdb_txn_commit() fsyncs (MDB_NOSYNC and MDB_NOMETASYNC off). LMDB's
 * readers reuse their read transaction (mdb_txn_reset/renew) and the
 * environment is opened with MDB_NORDAHEAD, as its docs advise for random
 * reads of a database larger than memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <lmdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tools/kv/kvclient.h"
#include "record.h"

#define MAX_LAT		(1u << 22)	/* latencies kept, all clients */

struct opts {
	const char *mode, *sock, *dir, *op, *engine, *suite, *records;
	unsigned long keys, vlen, clients, ops;
	double secs, warm;
};

struct shared {
	unsigned long done[64];
	float lat[MAX_LAT];		/* microseconds */
	_Atomic unsigned long nlat;
	volatile int go, stop;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static size_t key_of(char *k, unsigned long i)
{
	return (size_t)snprintf(k, 32, "user%012lu", i);
}

static void val_of(uint8_t *v, size_t len, unsigned long i, unsigned long gen)
{
	for (size_t b = 0; b < len; b++)
		v[b] = (uint8_t)(i * 31 + gen + b);
	if (len >= 16) {
		memcpy(v, &i, 8);
		memcpy(v + 8, &gen, 8);
	}
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench-kv: %s: %s\n", what,
		err > 0 ? mdb_strerror(err) : strerror(-err));
	exit(1);
}

/* ---- the engines ---- */

struct engine {
	struct kvc *c;
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *rtxn;
};

static void lmdb_open(struct engine *e, const struct opts *o)
{
	int ret = mdb_env_create(&e->env);

	if (!ret)
		ret = mdb_env_set_mapsize(e->env, (size_t)16 << 30);
	if (!ret)
		ret = mdb_env_set_maxreaders(e->env, 256);
	if (!ret)
		ret = mdb_env_open(e->env, o->dir, MDB_NORDAHEAD, 0644);
	if (ret)
		die("mdb_env_open", ret);
}

static void engine_open(struct engine *e, const struct opts *o)
{
	memset(e, 0, sizeof(*e));
	if (o->dir) {
		MDB_txn *t;
		int ret;

		lmdb_open(e, o);
		ret = mdb_txn_begin(e->env, NULL, 0, &t);
		if (!ret)
			ret = mdb_dbi_open(t, NULL, 0, &e->dbi);
		if (!ret)
			ret = mdb_txn_commit(t);
		if (ret)
			die("mdb_dbi_open", ret);
		return;
	}
	for (int k = 0; k < 100; k++) {
		if (!kvc_connect(&e->c, o->sock))
			return;
		usleep(100000);
	}
	die(o->sock, -ECONNREFUSED);
}

static void engine_close(struct engine *e)
{
	if (e->c)
		kvc_close(e->c);
	if (e->rtxn)
		mdb_txn_abort(e->rtxn);
	if (e->env)
		mdb_env_close(e->env);
}

static void engine_get(struct engine *e, const struct opts *o,
		       unsigned long i)
{
	static uint8_t buf[KV_VALUE_MAX];
	char k[32];
	size_t kl = key_of(k, i), len = 0;
	unsigned long got = ~0UL;
	int ret;

	if (e->c) {
		ret = kvc_get(e->c, k, kl, buf, sizeof(buf), &len);
		if (ret)
			die("GET", ret);
		memcpy(&got, buf, 8);
	} else {
		MDB_val key = { kl, k }, val;

		ret = e->rtxn ? mdb_txn_renew(e->rtxn) :
		      mdb_txn_begin(e->env, NULL, MDB_RDONLY, &e->rtxn);
		if (!ret)
			ret = mdb_get(e->rtxn, e->dbi, &key, &val);
		if (ret)
			die("mdb_get", ret);
		/* Copied out, as a server would have to. */
		len = val.mv_size;
		memcpy(buf, val.mv_data, len);
		mdb_txn_reset(e->rtxn);
		memcpy(&got, buf, 8);
	}
	if (len != o->vlen || got != i)
		die("GET: wrong value", -EBADMSG);
}

static void engine_put(struct engine *e, const struct opts *o,
		       unsigned long i, unsigned long gen)
{
	static uint8_t buf[KV_VALUE_MAX];
	char k[32];
	size_t kl = key_of(k, i);
	int ret;

	val_of(buf, o->vlen, i, gen);
	if (e->c) {
		ret = kvc_put(e->c, k, kl, buf, o->vlen);
		if (ret)
			die("PUT", ret);
	} else {
		MDB_val key = { kl, k }, val = { o->vlen, buf };
		MDB_txn *t;

		ret = mdb_txn_begin(e->env, NULL, 0, &t);
		if (!ret)
			ret = mdb_put(t, e->dbi, &key, &val, 0);
		if (!ret)
			ret = mdb_txn_commit(t);
		if (ret)
			die("mdb_put", ret);
	}
}

/* ---- loading ---- */

static void load(const struct opts *o)
{
	static uint8_t buf[KV_VALUE_MAX];
	double t0 = now();

	if (o->dir) {
		struct engine e;
		MDB_txn *t = NULL;
		int ret = 0;

		engine_open(&e, o);
		for (unsigned long i = 0; i < o->keys && !ret; i++) {
			char k[32];
			MDB_val key = { key_of(k, i), k }, val = { o->vlen, buf };

			if (!t)
				ret = mdb_txn_begin(e.env, NULL, 0, &t);
			val_of(buf, o->vlen, i, 0);
			/* Keys come in order: appended, pages filled. */
			if (!ret)
				ret = mdb_put(t, e.dbi, &key, &val, MDB_APPEND);
			if (!ret && (i % 20000 == 19999 || i == o->keys - 1)) {
				ret = mdb_txn_commit(t);
				t = NULL;
			}
		}
		if (ret)
			die("LMDB load", ret);
		engine_close(&e);
	} else {
		struct kvc *c;
		struct kvc_reply r;
		unsigned long sent = 0, got = 0;

		if (kvc_connect(&c, o->sock))
			die(o->sock, -ECONNREFUSED);
		/* 64 in flight: group commits of many records. */
		while (got < o->keys) {
			while (sent < o->keys && sent - got < 64) {
				char k[32];

				val_of(buf, o->vlen, sent, 0);
				kvc_send(c, KV_OP_PUT, k, key_of(k, sent), buf,
					 o->vlen, 0);
				sent++;
			}
			if (kvc_recv(c, &r) || r.status)
				die("load", r.status ? -r.status : -EIO);
			got++;
		}
		kvc_close(c);
	}
	printf("bench-kv: loaded %lu keys of %lu bytes in %.1f s\n", o->keys,
	       o->vlen, now() - t0);
}

/* ---- measuring ---- */

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void client(const struct opts *o, struct shared *sh, unsigned int id)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (id + 1) + getpid();
	unsigned long quota = o->ops ? o->ops / o->clients +
			      (id < o->ops % o->clients) : ~0UL, n = 0;
	bool timed = !o->ops;
	struct engine e;
	double t_warm_end;

	engine_open(&e, o);
	while (!sh->go)
		usleep(1000);
	t_warm_end = now() + (timed ? o->warm : 0);
	while (n < quota && !sh->stop) {
		unsigned long i = rnd(&x) % o->keys;
		bool put = !strcmp(o->op, "put") ||
			   (!strcmp(o->op, "mix") && rnd(&x) % 2);
		double t0 = now(), dt;

		if (put)
			engine_put(&e, o, i, n + 1);
		else
			engine_get(&e, o, i);
		dt = now() - t0;
		if (timed && t0 < t_warm_end)
			continue;
		n++;
		{
			unsigned long slot = atomic_fetch_add(&sh->nlat, 1);

			if (slot < MAX_LAT)
				sh->lat[slot] = (float)(dt * 1e6);
		}
	}
	sh->done[id] = n;
	engine_close(&e);
	exit(0);
}

static int fcmp(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

static void run(const struct opts *o)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long total = 0, nlat;
	double t0, secs;
	pid_t pids[64];
	char name[160];
	FILE *f;

	if (sh == MAP_FAILED || o->clients > 64)
		die("setup", -ENOMEM);
	for (unsigned int c = 0; c < o->clients; c++) {
		pids[c] = fork();
		if (!pids[c])
			client(o, sh, c);
	}
	usleep(200000);		/* all connected */
	t0 = now();
	sh->go = 1;
	if (!o->ops) {
		usleep((useconds_t)((o->warm + o->secs) * 1e6));
		sh->stop = 1;
	}
	for (unsigned int c = 0; c < o->clients; c++) {
		int st;

		waitpid(pids[c], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			die("a client failed", -EIO);
	}
	secs = now() - t0 - (o->ops ? 0 : o->warm);
	for (unsigned int c = 0; c < o->clients; c++)
		total += sh->done[c];
	nlat = atomic_load(&sh->nlat);
	if (nlat > MAX_LAT)
		nlat = MAX_LAT;
	qsort(sh->lat, nlat, sizeof(float), fcmp);
	snprintf(name, sizeof(name), "%s/%s/clients:%lu", o->engine, o->op,
		 o->clients);
	printf("bench-kv: %-28s %9lu ops in %6.2f s: %9.0f ops/s, p50 %7.1f "
	       "us, p99 %8.1f us\n", name, total, secs, total / secs,
	       nlat ? sh->lat[nlat / 2] : 0, nlat ? sh->lat[nlat * 99 / 100] :
	       0);
	if (o->records && (f = fopen(o->records, "a"))) {
		record_begin(f, o->suite, name, total, secs, secs);
		record_num(f, "items_per_second", total / secs);
		record_str(f, "engine", o->engine);
		record_str(f, "op", o->op);
		record_num(f, "clients", o->clients);
		record_num(f, "keys", o->keys);
		record_num(f, "value_bytes", o->vlen);
		record_num(f, "p50_us", nlat ? sh->lat[nlat / 2] : 0);
		record_num(f, "p99_us", nlat ? sh->lat[nlat * 99 / 100] : 0);
		record_end(f);
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	struct opts o = { .keys = 100000, .vlen = 100, .clients = 1,
			  .op = "get", .engine = "exmap", .suite = "kv",
			  .warm = 1 };
	int c;

	if (argc < 2) {
		fprintf(stderr, "usage: see bench/bench-kv.c\n");
		return 2;
	}
	o.mode = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "S:d:n:v:c:o:N:t:w:e:s:r:")) != -1) {
		switch (c) {
		case 'S': o.sock = optarg; break;
		case 'd': o.dir = optarg; break;
		case 'n': o.keys = strtoul(optarg, NULL, 0); break;
		case 'v': o.vlen = strtoul(optarg, NULL, 0); break;
		case 'c': o.clients = strtoul(optarg, NULL, 0); break;
		case 'o': o.op = optarg; break;
		case 'N': o.ops = strtoul(optarg, NULL, 0); break;
		case 't': o.secs = atof(optarg); break;
		case 'w': o.warm = atof(optarg); break;
		case 'e': o.engine = optarg; break;
		case 's': o.suite = optarg; break;
		case 'r': o.records = optarg; break;
		default: return 2;
		}
	}
	if (o.vlen < 16 || o.vlen > KV_VALUE_MAX || !o.keys ||
	    (!o.sock == !o.dir))
		die("bad options", -EINVAL);
	if (!strcmp(o.mode, "load") || !strcmp(o.mode, "lmdb-load"))
		load(&o);
	else
		run(&o);
	return 0;
}
