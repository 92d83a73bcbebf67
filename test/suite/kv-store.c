// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the exmap-kv store (tools/kv/kvstore.h) without its
 * server: random PUTs, overwrites and DELETEs against a model through a
 * pool far smaller than the data (checkpoints and eviction all along),
 * a close and a reopen; a writer SIGKILLed at random moments, after which
 * every acknowledged write is there, none is half there and the tree
 * checker passes; a full store (ENOSPC) that loses nothing and serves on;
 * a damaged newest superblock; inputs it must refuse. On the fallback
 * backend on the host, on both in the guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../tools/kv/kvstore.h"

static enum exmap_backend backend;
static char store[256];

#define KEYS		2000
#define POOL		96

struct model {
	uint32_t gen[KEYS];		/* 0: absent */
	uint32_t acked[KEYS];		/* crash test: the last acknowledged */
	uint32_t issued[KEYS];		/* crash test: the last sent */
};

static size_t mkkey(uint8_t *k, uint32_t num)
{
	size_t len = 6 + (num * 37) % 120;

	for (size_t i = 0; i < len; i++)
		k[i] = "0123456789abcdef"[(num >> (4 * (5 - (i < 6 ? i : 5)))) &
					 15];
	for (size_t i = 6; i < len; i++)
		k[i] = (uint8_t)('a' + (num + i) % 26);
	return len;
}

static size_t vlen_of(uint32_t num, uint32_t gen)
{
	uint32_t r = num * 2654435761u ^ gen * 40503u;

	switch (r % 16) {
	case 0:
		return 2000 + r % 14000;	/* overflow pages */
	case 1:
		return 0;
	default:
		return 8 + r % 300;
	}
}

/* A value names its key and generation, so any mix-up shows. */
static void mkval(uint8_t *v, uint32_t num, uint32_t gen, size_t len)
{
	for (size_t i = 0; i < len; i++)
		v[i] = (uint8_t)(num * 131 + gen * 7 + i + (i >> 7));
	if (len >= 8) {
		memcpy(v, &num, 4);
		memcpy(v + 4, &gen, 4);
	}
}

static struct kv_store *open_store(unsigned int threads)
{
	struct kv_store_opts o = {
		.path = store, .backend = backend, .pool_pages = POOL,
		.threads = threads,
	};
	struct kv_store *s;

	assert_int_equal(kv_store_open(&s, &o), 0);
	return s;
}

static void format(uint64_t size, uint64_t log_pages)
{
	struct kv_format_opts f = { .path = store, .size = size,
				    .log_pages = log_pages,
				    .backend = backend };

	assert_int_equal(kv_format(&f), 0);
}

static void check(struct kv_store *s, struct bp_thread *t)
{
	struct kvt_check_result r;

	if (kv_store_check(s, t, &r))
		fail_msg("tree check: %s", r.why);
}

/* The value of @num is generation @gen (0: absent), in full. */
static bool has(struct kv_store *s, struct bp_thread *t, uint32_t num,
		uint32_t gen)
{
	static uint8_t buf[KV_VALUE_MAX], want[KV_VALUE_MAX];
	uint8_t k[KV_KEY_MAX];
	struct kvt_get g = { .key = k, .klen = mkkey(k, num), .buf = buf };

	kv_get_many(s, t, &g, 1);
	if (!g.found)
		return gen == 0;
	if (!gen || g.vlen != vlen_of(num, gen))
		return false;
	mkval(want, num, gen, g.vlen);
	return !memcmp(buf, want, g.vlen);
}

/* The generation found for @num: 0 if absent, UINT32_MAX if garbled. */
static uint32_t gen_found(struct kv_store *s, struct bp_thread *t,
			  uint32_t num, uint32_t lo, uint32_t hi)
{
	for (uint32_t gen = lo; gen <= hi; gen++)
		if (has(s, t, num, gen))
			return gen;
	return UINT32_MAX;
}

static int put(struct kv_store *s, struct bp_thread *t, uint32_t num,
	       uint32_t gen, uint64_t *lsn)
{
	static __thread uint8_t v[KV_VALUE_MAX];
	uint8_t k[KV_KEY_MAX];
	size_t len = vlen_of(num, gen);

	mkval(v, num, gen, len);
	return kv_put(s, t, k, mkkey(k, num), v, len, lsn);
}

static int del(struct kv_store *s, struct bp_thread *t, uint32_t num,
	       uint64_t *lsn)
{
	uint8_t k[KV_KEY_MAX];

	return kv_del(s, t, k, mkkey(k, num), lsn);
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void test_model_and_reopen(void **state)
{
	static struct model m;
	struct kv_store *s;
	struct bp_thread t;
	uint64_t seed = 0x1234567, lsn = 0;

	(void)state;
	memset(&m, 0, sizeof(m));
	format(16 << 20, 256);
	s = open_store(1);
	kv_store_thread(s, &t, 0);
	/* Fewer under emulation: still checkpoints and eviction. */
	int ops = getenv("EXMAP_VM") ? 2500 : 6000;

	for (int op = 0; op < ops; op++) {
		uint64_t r = rnd(&seed);
		uint32_t num = r % KEYS;
		uint64_t l;

		if (r % 5 == 0) {
			assert_int_equal(del(s, &t, num, &l),
					 m.gen[num] ? 0 : -ENOENT);
			m.gen[num] = 0;
		} else {
			uint32_t gen = m.acked[num] + 1;

			m.acked[num] = gen;
			assert_int_equal(put(s, &t, num, gen, &l), 0);
			m.gen[num] = gen;
		}
		if (l > lsn)
			lsn = l;
	}
	assert_int_equal(kv_log_wait(s->log, lsn), 0);
	assert_true(atomic_load(&s->stats.checkpoints) > 3);
	assert_true(atomic_load(&s->bp->stats.evictions) > 0);
	assert_true(atomic_load(&s->log->stats.groups) > 1);
	for (uint32_t num = 0; num < KEYS; num++)
		assert_true(has(s, &t, num, m.gen[num]));
	check(s, &t);
	assert_int_equal(kv_store_close(s), 0);

	s = open_store(1);
	kv_store_thread(s, &t, 0);
	assert_int_equal(s->recovered_records, 0);
	for (uint32_t num = 0; num < KEYS; num++)
		assert_true(has(s, &t, num, m.gen[num]));
	check(s, &t);
	assert_int_equal(kv_store_close(s), 0);
}

/* ---- SIGKILL of a writer ---- */

#define WRITERS		3

struct shared {
	struct model m;
	volatile int ready;
};

struct writer {
	struct kv_store *s;
	struct shared *sh;
	unsigned int id;
	uint64_t seed;
};

/* Thread @id owns the keys num % WRITERS == id: one op at a time each. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct bp_thread t;

	kv_store_thread(w->s, &t, w->id);
	for (;;) {
		uint64_t r = rnd(&w->seed), lsn;
		uint32_t num = (r % (KEYS / WRITERS)) * WRITERS + w->id;
		uint32_t gen = w->sh->m.issued[num] + 1;
		int ret;

		/* Deletes are generation 0 with gen as a tombstone: keep
		 * it simple, only PUTs here; the server test deletes. */
		w->sh->m.issued[num] = gen;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		ret = put(w->s, &t, num, gen, &lsn);
		if (ret || kv_log_wait(w->s->log, lsn))
			_exit(3);
		w->sh->m.acked[num] = gen;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	return NULL;
}

static void child_writes(struct shared *sh, uint64_t seed)
{
	struct writer w[WRITERS];
	pthread_t tid[WRITERS];
	struct kv_store *s;
	struct kv_store_opts o = {
		.path = store, .backend = backend, .pool_pages = POOL,
		.threads = WRITERS,
	};

	if (kv_store_open(&s, &o))
		_exit(2);
	sh->ready = 1;
	for (unsigned int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){ .s = s, .sh = sh, .id = i,
					.seed = seed * 7 + i + 1 };
		pthread_create(&tid[i], NULL, writer_main, &w[i]);
	}
	for (;;)
		pause();
}

static void test_sigkill(void **state)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned int rounds = getenv("EXMAP_VM") ? 6 : 25, garbled = 0;
	uint64_t seed = (uint64_t)time(NULL), acked_total = 0, replayed = 0;

	(void)state;
	assert_true(sh != MAP_FAILED);
	memset(sh, 0, sizeof(*sh));
	format(16 << 20, 256);
	print_message("sigkill: seed %llu\n", (unsigned long long)seed);
	for (unsigned int round = 0; round < rounds; round++) {
		struct timespec ts;
		struct kv_store *s;
		struct bp_thread t;
		pid_t pid;
		int status;

		sh->ready = 0;
		pid = fork();
		assert_true(pid >= 0);
		if (!pid)
			child_writes(sh, seed + round);
		while (!sh->ready) {
			if (waitpid(pid, &status, WNOHANG) == pid)
				fail_msg("writer died: status %d", status);
			usleep(1000);
		}
		/* From at once to a quarter of a second. */
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(rnd(&seed) % 250) * 1000000;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));

		s = open_store(1);
		kv_store_thread(s, &t, 0);
		replayed += s->recovered_records;
		check(s, &t);
		for (uint32_t num = 0; num < KEYS; num++) {
			struct model *m = &sh->m;
			uint32_t g = gen_found(s, &t, num, m->acked[num],
					       m->issued[num]);

			/* Acknowledged: there; sent: there whole or not. */
			if (g == UINT32_MAX) {
				print_message("key %u: neither generation "
					      "%u..%u\n", num, m->acked[num],
					      m->issued[num]);
				garbled++;
				continue;
			}
			acked_total += m->acked[num] != 0;
			m->acked[num] = m->issued[num] = g;
		}
		assert_int_equal(kv_store_close(s), 0);
	}
	print_message("sigkill: %u rounds, %llu keys acknowledged, %llu "
		      "records replayed\n", rounds,
		      (unsigned long long)acked_total,
		      (unsigned long long)replayed);
	assert_true(replayed > 0);
	assert_int_equal(garbled, 0);
	assert_true(acked_total > 0);
	munmap(sh, sizeof(*sh));
}

/* A full store refuses PUTs, keeps everything, and takes them again
 * once DELETEs made room. */
static void test_enospc(void **state)
{
	static struct model m;
	struct kv_store *s;
	struct bp_thread t;
	uint32_t n = 0, big = 0;
	uint64_t lsn = 0, l;
	int ret;

	(void)state;
	memset(&m, 0, sizeof(m));
	format(2 << 20, 256);
	s = open_store(1);
	kv_store_thread(s, &t, 0);
	for (;;) {
		ret = put(s, &t, n, 1, &l);
		if (ret == -ENOSPC)
			break;
		assert_int_equal(ret, 0);
		m.gen[n++] = 1;
		lsn = l;
		assert_true(n < KEYS);
	}
	assert_true(n > 10);
	assert_int_equal(kv_log_wait(s->log, lsn), 0);
	/* Small values still fit where large ones do not. */
	for (uint32_t num = n; num < KEYS && !big; num++)
		if (vlen_of(num, 1) > 1000)
			big = num;
	assert_int_equal(put(s, &t, big, 1, &l), -ENOSPC);
	for (uint32_t num = 0; num < n; num++)
		assert_true(has(s, &t, num, 1));
	check(s, &t);
	/* Deleting the values with overflow pages frees them. */
	for (uint32_t num = 0; num < n; num++) {
		if (vlen_of(num, 1) > 1000) {
			assert_int_equal(del(s, &t, num, &l), 0);
			m.gen[num] = 0;
		}
	}
	assert_int_equal(put(s, &t, big, 1, &l), 0);
	m.gen[big] = 1;
	assert_int_equal(kv_store_close(s), 0);
	s = open_store(1);
	kv_store_thread(s, &t, 0);
	for (uint32_t num = 0; num < KEYS; num++)
		assert_true(has(s, &t, num, m.gen[num]));
	check(s, &t);
	assert_int_equal(kv_store_close(s), 0);
}

/* With the newest superblock damaged, the older one and the log it
 * points to recover everything. */
static void test_superblock_damage(void **state)
{
	struct kv_store *s;
	struct bp_thread t;
	uint64_t l, seq;
	char zero[4096] = { 0 };
	int fd;

	(void)state;
	format(16 << 20, 256);
	s = open_store(1);
	kv_store_thread(s, &t, 0);
	for (uint32_t num = 0; num < 50; num++)
		assert_int_equal(put(s, &t, num, 1, &l), 0);
	assert_int_equal(kv_checkpoint(s, &t), 0);
	for (uint32_t num = 50; num < 100; num++)
		assert_int_equal(put(s, &t, num, 1, &l), 0);
	assert_int_equal(kv_checkpoint(s, &t), 0);
	assert_int_equal(kv_log_wait(s->log, l), 0);
	seq = s->sb.seq;
	/* A crash now: nothing more reaches the device. */
	s->error = -EIO;
	assert_int_equal(kv_store_close(s), -EIO);

	fd = open(store, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, zero, 4096, (seq % 2) * 4096), 4096);
	close(fd);
	s = open_store(1);
	kv_store_thread(s, &t, 0);
	for (uint32_t num = 0; num < 100; num++)
		assert_true(has(s, &t, num, 1));
	check(s, &t);
	assert_int_equal(kv_store_close(s), 0);
}

static void test_refused(void **state)
{
	uint8_t k[KV_KEY_MAX + 1] = { 0 }, *v = calloc(1, KV_VALUE_MAX + 1);
	struct kv_store_opts o = {
		.path = store, .backend = backend, .pool_pages = POOL,
		.threads = 1,
	};
	struct kv_format_opts f = { .path = store, .size = 64 * 4096,
				    .backend = backend };
	struct kv_store *s;
	struct bp_thread t;
	uint64_t l;

	(void)state;
	/* Not a store: zeros. */
	assert_int_equal(kv_store_open(&s, &o), -EUCLEAN);
	/* Too small to hold one. */
	assert_int_equal(kv_format(&f), -EINVAL);
	format(4 << 20, 256);
	o.pool_pages = 8;
	assert_int_equal(kv_store_open(&s, &o), -EINVAL);
	s = open_store(1);
	kv_store_thread(s, &t, 0);
	assert_int_equal(kv_put(s, &t, k, 0, v, 1, &l), -EMSGSIZE);
	assert_int_equal(kv_put(s, &t, k, KV_KEY_MAX + 1, v, 1, &l),
			 -EMSGSIZE);
	assert_int_equal(kv_put(s, &t, k, 1, v, KV_VALUE_MAX + 1, &l),
			 -EMSGSIZE);
	assert_int_equal(kv_del(s, &t, k, 0, &l), -EMSGSIZE);
	assert_int_equal(kv_del(s, &t, k, 1, &l), -ENOENT);
	/* The largest key and value are taken. */
	memset(k, 'k', KV_KEY_MAX);
	assert_int_equal(kv_put(s, &t, k, KV_KEY_MAX, v, KV_VALUE_MAX, &l),
			 0);
	assert_int_equal(s->tree.keys, 1);
	check(s, &t);
	assert_int_equal(kv_store_close(s), 0);
	free(v);
}

static int setup_store(void **state)
{
	const char *dir = getenv("EXMAP_TEST_DIR");
	int fd;

	(void)state;
	snprintf(store, sizeof(store), "%s/kv-store-XXXXXX",
		 dir ? dir : "/tmp");
	fd = mkstemp(store);
	if (fd < 0 || close(fd))
		return -1;
	return 0;
}

static int remove_store(void **state)
{
	(void)state;
	unlink(store);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_model_and_reopen,
						setup_store, remove_store),
		cmocka_unit_test_setup_teardown(test_sigkill, setup_store,
						remove_store),
		cmocka_unit_test_setup_teardown(test_enospc, setup_store,
						remove_store),
		cmocka_unit_test_setup_teardown(test_superblock_damage,
						setup_store, remove_store),
		cmocka_unit_test_setup_teardown(test_refused, setup_store,
						remove_store),
	};
	int failed;

	/* The host runs the fallback; the guest, slower, exmap only. */
	backend = EXMAP_BACKEND_FALLBACK;
	failed = getenv("EXMAP_VM") ? 0 :
		 cmocka_run_group_tests_name("kv-store-fallback", tests,
					     NULL, NULL);
	if (access("/dev/exmap", F_OK) == 0 && getenv("EXMAP_TEST_DIR")) {
		backend = EXMAP_BACKEND_KERNEL;
		failed += cmocka_run_group_tests_name("kv-store-exmap", tests,
						      NULL, NULL);
	}
	return failed ? 1 : 0;
}
