// SPDX-License-Identifier: GPL-2.0
/*
 * Description: exmap-kv across a power-off, in two guest boots on the
 * same disks:
 *   exmap-kv-durable load STORE JOURNAL   formats STORE, serves it, runs
 *       three pipelining writers, and records what was acknowledged on
 *       JOURNAL (a raw device, O_DSYNC, every few milliseconds); after 1.5
 *       to 4 s it powers the guest off (exmap-vm-poweroff) mid-load
 *   exmap-kv-durable check STORE JOURNAL  recovers the store (--check
 *       walks the tree) and finds every write the journal has as
 *       acknowledged, and no torn value
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "kvtest.h"
#include "../tools/kv/crc32c.h"

#define WRITERS		3
#define KEYS		900
#define DEPTH		8

struct journal {
	uint64_t seq;
	uint32_t crc;
	uint32_t keys;
	uint32_t acked[KEYS];	/* the newest acknowledged generation */
};

_Static_assert(sizeof(struct journal) <= 4096, "a journal page");

static _Atomic uint32_t acked[KEYS];
static struct t_kvd kvd;

static size_t vlen_of(uint32_t num, uint32_t gen)
{
	uint32_t r = num * 2246822519u ^ gen * 3266489917u;

	return r % 13 == 0 ? 4000 + r % 12000 : 16 + r % 700;
}

static void *writer_main(void *arg)
{
	static __thread uint8_t v[KV_VALUE_MAX];
	unsigned int id = (unsigned int)(uintptr_t)arg;
	struct kvc *c = t_kvc(&kvd);
	uint32_t q[DEPTH], qg[DEPTH], gen[KEYS / WRITERS] = { 0 };
	unsigned int head = 0, n = 0;
	uint64_t x = 88172645463325252ULL + id;
	uint8_t k[KV_KEY_MAX];
	struct kvc_reply r;

	if (!c)
		return NULL;
	for (;;) {
		while (n < DEPTH) {
			uint32_t slot, num;
			size_t len;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			slot = x % (KEYS / WRITERS);
			num = slot * WRITERS + id;
			q[(head + n) % DEPTH] = num;
			qg[(head + n) % DEPTH] = ++gen[slot];
			len = vlen_of(num, gen[slot]);
			t_kv_val(v, len, num, gen[slot]);
			if (kvc_send(c, KV_OP_PUT, k, t_kv_key(k, num), v, len,
				     0))
				return NULL;
			n++;
		}
		if (kvc_recv(c, &r) || r.status != KV_OK)
			return NULL;
		atomic_store(&acked[q[head]], qg[head]);
		head = (head + 1) % DEPTH;
		n--;
	}
}

static int journal_open(const char *path, int flags)
{
	int fd = open(path, flags | O_DIRECT);

	if (fd < 0)
		perror(path);
	return fd;
}

static int load(const char *journal_path)
{
	struct journal *j;
	pthread_t tid[WRITERS];
	struct timespec start, now;
	uint64_t ms;
	int fd;

	if (posix_memalign((void **)&j, 4096, 4096))
		return T_EXIT_FAIL;
	memset(j, 0, 4096);
	fd = journal_open(journal_path, O_RDWR | O_DSYNC);
	if (fd < 0)
		return T_EXIT_FAIL;
	/* Both slots empty first: an old run's journal must not count. */
	if (pwrite(fd, j, 4096, 0) != 4096 || pwrite(fd, j, 4096, 4096) != 4096)
		return T_EXIT_FAIL;
	if (t_kvd_format(&kvd, 0, 4) || t_kvd_start(&kvd, NULL)) {
		fprintf(stderr, "kv-durable: exmap-kvd did not start\n");
		return T_EXIT_FAIL;
	}
	for (unsigned int i = 0; i < WRITERS; i++)
		pthread_create(&tid[i], NULL, writer_main,
			       (void *)(uintptr_t)i);
	clock_gettime(CLOCK_MONOTONIC, &start);
	srand(start.tv_nsec);
	ms = 1500 + rand() % 2500;
	printf("kv-durable: load running; power off after %llu ms\n",
	       (unsigned long long)ms);
	fflush(stdout);
	for (;;) {
		j->seq++;
		j->keys = KEYS;
		for (unsigned int k = 0; k < KEYS; k++)
			j->acked[k] = atomic_load(&acked[k]);
		j->crc = 0;
		j->crc = crc32c(0, j, sizeof(*j));
		if (pwrite(fd, j, 4096, (j->seq % 2) * 4096) != 4096) {
			perror("journal");
			return T_EXIT_FAIL;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((uint64_t)(now.tv_sec - start.tv_sec) * 1000 +
		    (now.tv_nsec - start.tv_nsec) / 1000000 > ms)
			break;
		usleep(5000);
	}
	printf("kv-durable: journal %llu written; powering off\n",
	       (unsigned long long)j->seq);
	fflush(stdout);
	/* Reports status 0 to the harness and cuts the power: no sync. */
	execlp("exmap-vm-poweroff", "exmap-vm-poweroff", (char *)NULL);
	perror("exmap-vm-poweroff");
	return T_EXIT_FAIL;
}

static int check(const char *journal_path)
{
	static uint8_t v[KV_VALUE_MAX];
	struct journal *j, best = { 0 };
	unsigned long found = 0, newer = 0;
	uint8_t k[KV_KEY_MAX];
	struct kvc *c;
	int fd, bad = 0;

	if (posix_memalign((void **)&j, 4096, 8192))
		return T_EXIT_FAIL;
	fd = journal_open(journal_path, O_RDONLY);
	if (fd < 0 || pread(fd, j, 8192, 0) != 8192)
		return T_EXIT_FAIL;
	for (int s = 0; s < 2; s++) {
		struct journal *e = (void *)((char *)j + s * 4096);
		uint32_t crc = e->crc;

		e->crc = 0;
		if (e->keys == KEYS && crc32c(0, e, sizeof(*e)) == crc &&
		    e->seq > best.seq)
			best = *e;
	}
	if (!best.seq) {
		fprintf(stderr, "kv-durable: no journal: did the load run?\n");
		return T_EXIT_FAIL;
	}
	if (t_kvd_start(&kvd, "--check", NULL)) {
		fprintf(stderr, "kv-durable: exmap-kvd did not recover\n");
		return T_EXIT_FAIL;
	}
	c = t_kvc(&kvd);
	for (uint32_t num = 0; num < KEYS && c; num++) {
		size_t len;
		int ret = kvc_get(c, k, t_kv_key(k, num), v, sizeof(v), &len);
		long g = ret ? 0 : t_kv_val_gen(v, len, num);

		if ((ret && ret != -ENOENT) || g < 0 ||
		    (uint32_t)g < best.acked[num]) {
			fprintf(stderr, "kv-durable: key %u: %s %ld, "
				"acknowledged %u\n", num,
				ret ? strerror(-ret) : "gen", g,
				best.acked[num]);
			bad++;
		}
		found += best.acked[num] != 0;
		newer += (uint32_t)g > best.acked[num];
	}
	kvc_close(c);
	if (!c || t_kvd_stop(&kvd, SIGTERM) ||
	    t_kvd_run(&kvd, "--check-only", NULL))
		bad++;
	printf("kv-durable: journal %llu: %lu keys acknowledged before the "
	       "power-off, all there (%lu newer, unacknowledged, whole); "
	       "%d problems\n", (unsigned long long)best.seq, found, newer,
	       bad);
	return bad ? T_EXIT_FAIL : T_EXIT_PASS;
}

int main(int argc, char **argv)
{
	if (argc != 4 || (strcmp(argv[1], "load") && strcmp(argv[1], "check"))) {
		fprintf(stderr, "usage: %s load|check STORE JOURNAL\n",
			argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(kvd.store, sizeof(kvd.store), "%s", argv[2]);
	snprintf(kvd.sock, sizeof(kvd.sock), "/tmp/kv-durable.sock");
	kvd.fallback = access("/dev/exmap", F_OK) != 0;
	kvd.pool_mb = 4;
	return !strcmp(argv[1], "load") ? load(argv[3]) : check(argv[3]);
}
