// SPDX-License-Identifier: GPL-2.0
/*
 * Description: exmap-kvd SIGKILLed at random moments under a write load,
 * many times. Three clients pipeline PUTs and DELETEs (eight in flight
 * each, values from 16 bytes to overflow pages) on keys of their own
 * while a fourth reads; then the server is killed, restarted (in the
 * guest, every fifth time after rmmod and insmod of exmap.ko), its tree
 * checked (--check), and every key compared with what the clients were
 * told: a write acknowledged is there; a write sent but not acknowledged
 * is there whole or not at all; a value a reader saw is not lost; and
 * nothing else is there. Prints the number of kill points.
 *
 * EXMAP_KV_CRASH_ROUNDS (default 40 in the guest, 100 on the host),
 * EXMAP_KV_CRASH_SECONDS (default 100 in the guest: no new round after
 * that, once ten have run; none on the host),
 * EXMAP_KV_CRASH_SEED, EXMAP_KV_STORE (default $EXMAP_TEST_BLKDEV, else
 * a file in $EXMAP_TEST_DIR or /tmp).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../helpers.h"
#include "../kvtest.h"

#define WRITERS		3
#define KEYS_EACH	300
#define KEYS		(WRITERS * KEYS_EACH)
#define DEPTH		8

/* Op index and whether the key is there after it. */
struct kstate {
	uint32_t gen;
	bool present;
};

struct key {
	struct kstate acked;		/* after the last acknowledged op */
	uint32_t next_gen;
	_Atomic uint32_t seen;		/* a reader saw this gen (0: none) */
};

static struct key keys[KEYS];
static struct t_kvd kvd;
static unsigned long replayed, replay_rounds;
static atomic_bool stop_load;
static uint64_t seed;

struct inflight {
	uint32_t num;
	struct kstate st;
};

struct writer {
	unsigned int id;
	uint64_t rnd;
	struct inflight q[DEPTH];
	unsigned int head, n;		/* sent, not yet answered */
	unsigned long acked;
	pthread_t tid;
};

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Keys num % 8 == 7 are never deleted: the reader's. */
static bool put_only(uint32_t num)
{
	return num % 8 == 7;
}

static size_t vlen_of(uint32_t num, uint32_t gen)
{
	uint32_t r = num * 2246822519u ^ gen * 3266489917u;

	return r % 13 == 0 ? 4000 + r % 12000 : 16 + r % 700;
}

static void *writer_main(void *arg)
{
	static __thread uint8_t v[KV_VALUE_MAX];
	struct writer *w = arg;
	struct kvc *c = t_kvc(&kvd);
	struct kvc_reply r;
	uint8_t k[KV_KEY_MAX];

	if (!c)
		return NULL;
	while (!atomic_load(&stop_load)) {
		/* Keep DEPTH in flight. */
		while (w->n < DEPTH) {
			uint64_t x = rnd(&w->rnd);
			uint32_t num = (x % KEYS_EACH) * WRITERS + w->id;
			struct key *key = &keys[num];
			struct inflight *f = &w->q[(w->head + w->n) % DEPTH];
			size_t kl = t_kv_key(k, num);
			int ret;

			f->num = num;
			f->st.gen = ++key->next_gen;
			if ((x >> 32) % 6 == 0 && !put_only(num)) {
				f->st.present = false;
				ret = kvc_send(c, KV_OP_DELETE, k, kl, NULL, 0,
					       0);
			} else {
				size_t len = vlen_of(num, f->st.gen);

				f->st.present = true;
				t_kv_val(v, len, num, f->st.gen);
				ret = kvc_send(c, KV_OP_PUT, k, kl, v, len, 0);
			}
			if (ret)
				goto out;
			w->n++;
		}
		if (kvc_recv(c, &r))
			break;		/* the server is gone */
		{
			struct inflight *f = &w->q[w->head];

			if (r.status != KV_OK &&
			    !(r.status == KV_ENOENT && !f->st.present)) {
				fprintf(stderr, "kv-crash: key %u: status %u\n",
					f->num, r.status);
				exit(T_EXIT_FAIL);
			}
			/* A DELETE of an absent key changes nothing, and
			 * says so: the state is absent either way. */
			keys[f->num].acked = f->st;
			w->head = (w->head + 1) % DEPTH;
			w->n--;
			w->acked++;
		}
	}
out:
	kvc_close(c);
	return NULL;
}

static void *reader_main(void *arg)
{
	uint64_t x = *(uint64_t *)arg;
	struct kvc *c = t_kvc(&kvd);
	uint32_t sent[4];
	struct kvc_reply r;
	uint8_t k[KV_KEY_MAX];
	unsigned int n = 0, head = 0;

	if (!c)
		return NULL;
	while (!atomic_load(&stop_load)) {
		while (n < 4) {
			uint32_t num = (rnd(&x) % (KEYS / 8)) * 8 + 7;

			sent[(head + n++) % 4] = num;
			if (kvc_send(c, KV_OP_GET, k, t_kv_key(k, num), NULL,
				     0, 0))
				goto out;
		}
		if (kvc_recv(c, &r))
			break;
		if (r.status == KV_OK) {
			uint32_t num = sent[head];
			long g = t_kv_val_gen(r.data, r.len, num);

			if (g < 0) {
				fprintf(stderr, "kv-crash: read a bad value "
					"of key %u\n", num);
				exit(T_EXIT_FAIL);
			}
			if ((uint32_t)g > atomic_load(&keys[num].seen))
				atomic_store(&keys[num].seen, (uint32_t)g);
		}
		head = (head + 1) % 4;
		n--;
	}
out:
	kvc_close(c);
	return NULL;
}

/*
 * After a restart: each key must be in a state that some prefix of its
 * ops since the last check gives, at least the acknowledged one. That
 * state is the new starting point.
 */
static int verify(struct writer *w, unsigned int round)
{
	static uint8_t v[KV_VALUE_MAX];
	struct kvc *c = t_kvc(&kvd);
	uint8_t k[KV_KEY_MAX];
	int bad = 0;

	if (!c)
		return 1;
	{
		char stats[KV_STATS_BYTES + 1];
		const char *p;

		if (kvc_stats(c, stats, sizeof(stats)) > 0 &&
		    (p = strstr(stats, "recovered_records "))) {
			unsigned long n = strtoul(p + 18, NULL, 10);

			replayed += n;
			replay_rounds += n > 0;
		}
	}
	for (uint32_t num = 0; num < KEYS; num++) {
		struct key *key = &keys[num];
		struct writer *o = &w[num % WRITERS];
		struct kstate found = { 0 };
		bool ok = false;
		size_t len;
		int ret = kvc_get(c, k, t_kv_key(k, num), v, sizeof(v), &len);

		if (ret == 0) {
			long g = t_kv_val_gen(v, len, num);

			if (g < 0) {
				fprintf(stderr, "kv-crash: round %u: key %u: "
					"torn value (%zu bytes)\n", round, num,
					len);
				bad++;
				continue;
			}
			found = (struct kstate){ (uint32_t)g, true };
		} else if (ret != -ENOENT) {
			fprintf(stderr, "kv-crash: GET: %s\n", strerror(-ret));
			kvc_close(c);
			return 1;
		}
		/* The acknowledged state, or that after an unanswered op. */
		ok = found.present ? found.gen == key->acked.gen &&
				     key->acked.present :
				     !key->acked.present;
		for (unsigned int i = 0; i < o->n && !ok; i++) {
			struct inflight *f = &o->q[(o->head + i) % DEPTH];

			if (f->num == num && f->st.present == found.present &&
			    (!found.present || f->st.gen == found.gen))
				ok = true;
		}
		if (ok && found.present && found.gen < atomic_load(&key->seen))
			ok = false;
		if (!ok) {
			fprintf(stderr, "kv-crash: round %u: key %u is %s %u; "
				"acknowledged %s %u, seen %u\n", round, num,
				found.present ? "gen" : "absent", found.gen,
				key->acked.present ? "gen" : "absent",
				key->acked.gen, atomic_load(&key->seen));
			bad++;
			continue;
		}
		key->acked = found;
		if (!found.present)
			key->acked.gen = key->next_gen;
		atomic_store(&key->seen, 0);
	}
	for (unsigned int i = 0; i < WRITERS; i++)
		w[i].n = 0;
	kvc_close(c);
	return bad ? 1 : 0;
}

/* A failing run must not leave its server behind. */
static void kill_server(void)
{
	if (kvd.pid > 0)
		t_kvd_stop(&kvd, SIGKILL);
}

static int reload_module(void)
{
	char cmd[256], name[64] = "exmap";
	FILE *f = fopen("/lib/exmap/name", "r");

	if (f) {
		if (!fscanf(f, "%63s", name))
			strcpy(name, "exmap");
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "rmmod %s && insmod /lib/exmap/exmap.ko",
		 name);
	return system(cmd);
}

int main(int argc, char **argv)
{
	const char *env = getenv("EXMAP_KV_CRASH_ROUNDS");
	const char *store = getenv("EXMAP_KV_STORE");
	bool guest = getenv("EXMAP_VM") && !access("/lib/exmap/exmap.ko",
						     F_OK);
	/* The guest is slower: fewer there, and make check runs both. */
	unsigned int rounds = env ? atoi(env) : getenv("EXMAP_VM") ? 40 : 100;
	unsigned int reloads = 0, round;
	/*
	 * And a time budget, for a host shared with other guests: the
	 * rounds run within it all count; at least ten must.
	 */
	const char *secs_env = getenv("EXMAP_KV_CRASH_SECONDS");
	double budget = secs_env ? atof(secs_env) :
			getenv("EXMAP_VM") ? 100 : 0;
	struct timespec t0, t1;
	struct writer w[WRITERS];
	unsigned long acked = 0;
	bool tmp = false;
	uint64_t rx;
	int st;

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	atexit(kill_server);
	seed = getenv("EXMAP_KV_CRASH_SEED") ?
	       strtoull(getenv("EXMAP_KV_CRASH_SEED"), NULL, 0) :
	       (uint64_t)time(NULL) * 2654435761u;
	kvd.fallback = access("/dev/exmap", F_OK) != 0;
	if (!store)
		store = getenv("EXMAP_TEST_BLKDEV");
	if (store) {
		snprintf(kvd.store, sizeof(kvd.store), "%s", store);
	} else {
		const char *dir = getenv("EXMAP_TEST_DIR");
		int fd;

		snprintf(kvd.store, sizeof(kvd.store), "%s/kv-crash-XXXXXX",
			 dir ? dir : "/tmp");
		fd = mkstemp(kvd.store);
		if (fd < 0)
			return T_EXIT_FAIL;
		close(fd);
		tmp = true;
	}
	snprintf(kvd.sock, sizeof(kvd.sock), "/tmp/kv-crash-%d.sock",
		 getpid());
	kvd.pool_mb = 2;
	printf("kv-crash: %s backend, store %s, %u rounds, seed %llu\n",
	       kvd.fallback ? "fallback" : "exmap", kvd.store, rounds,
	       (unsigned long long)seed);
	if (t_kvd_format(&kvd, tmp ? 32 << 20 : 0, 2)) {
		fprintf(stderr, "kv-crash: format failed\n");
		return T_EXIT_FAIL;
	}
	memset(w, 0, sizeof(w));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (round = 0; round < rounds; round++) {
		pthread_t reader;
		struct timespec ts;
		uint64_t delay;

		st = t_kvd_start(&kvd, "--check", NULL);
		if (st) {
			fprintf(stderr, "kv-crash: round %u: exmap-kvd exited "
				"%d (3: the tree check failed)\n", round, st);
			return T_EXIT_FAIL;
		}
		if (verify(w, round))
			return T_EXIT_FAIL;
		atomic_store(&stop_load, false);
		for (unsigned int i = 0; i < WRITERS; i++) {
			w[i].id = i;
			w[i].rnd = seed ^ (round * 7919 + i + 1);
			pthread_create(&w[i].tid, NULL, writer_main, &w[i]);
		}
		rx = seed + round;
		pthread_create(&reader, NULL, reader_main, &rx);
		/* Mostly short: many kills land in recovery's checkpoint,
		 * in group commits, in checkpoints. */
		delay = rnd(&seed) % 100 < 20 ? rnd(&seed) % 20 :
						rnd(&seed) % 400;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)delay * 1000000;
		nanosleep(&ts, NULL);
		st = t_kvd_stop(&kvd, SIGKILL);
		atomic_store(&stop_load, true);
		for (unsigned int i = 0; i < WRITERS; i++)
			pthread_join(w[i].tid, NULL);
		pthread_join(reader, NULL);
		if (st != 128 + SIGKILL) {
			fprintf(stderr, "kv-crash: round %u: exmap-kvd ended "
				"%d before the kill\n", round, st);
			return T_EXIT_FAIL;
		}
		if (guest && round % 5 == 4) {
			if (reload_module()) {
				fprintf(stderr, "kv-crash: rmmod/insmod failed\n");
				return T_EXIT_FAIL;
			}
			reloads++;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (budget && t1.tv_sec - t0.tv_sec > budget &&
		    round + 1 >= 10) {
			round++;
			break;
		}
	}
	rounds = round;
	for (unsigned int i = 0; i < WRITERS; i++)
		acked += w[i].acked;
	/* A last check, then a clean stop and a check of what it left. */
	if (t_kvd_start(&kvd, "--check", NULL) || verify(w, rounds) ||
	    t_kvd_stop(&kvd, SIGTERM) ||
	    t_kvd_run(&kvd, "--check-only", NULL)) {
		fprintf(stderr, "kv-crash: the final check failed\n");
		return T_EXIT_FAIL;
	}
	printf("kv-crash: %u kill points, %lu writes acknowledged, %lu "
	       "records replayed in %lu restarts, %u module reloads: every "
	       "acknowledged write found, no torn value\n", rounds, acked,
	       replayed, replay_rounds, reloads);
	if (tmp)
		unlink(kvd.store);
	return acked ? T_EXIT_PASS : T_EXIT_FAIL;
}
