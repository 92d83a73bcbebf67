// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the buffer pool and its B+tree on every backend this
 * machine has, with a pool far smaller than the data: every key inserted
 * is found with its value (looked up one at a time and in batches),
 * updates stick, the clock evicts (and writes
 * back) while threads read optimistically, and closing and reopening the
 * pool on the same store finds all the data. Runs on the host (fallback)
 * in make check and in the guest (both backends).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../tools/bufpool/btree.h"

#define KEYS	12000
#define POOL	24	/* pages: the tree needs about a hundred */

static enum exmap_backend backend;
static char store[256];

static uint64_t value_of(uint64_t key, uint64_t gen)
{
	return key * 0x9e3779b97f4a7c15ULL + gen;
}

static struct bufpool *open_pool(bool reuse, unsigned int threads)
{
	struct bp_opts o = {
		.device = store, .area_pages = 4096, .pool_pages = POOL,
		.threads = threads, .backend = backend, .reuse = reuse,
	};
	struct bufpool *bp = NULL;

	/*
	 * cmocka points SIGSEGV at its own handler for the length of each
	 * test: an optimistic read that met a page evicted under it would
	 * end the program (exit status 255) instead of restarting.
	 */
	assert_int_equal(bp_install_fault_handler(), 0);
	assert_int_equal(bp_open(&bp, &o), 0);
	return bp;
}

/*
 * A fresh pool for @threads threads with keys 0 .. KEYS-1 inserted in
 * order by @t, the last thread.
 */
static struct bufpool *open_loaded(unsigned int threads, struct bp_thread *t,
				   struct btree *bt)
{
	struct bufpool *bp = open_pool(false, threads);

	bp_thread_init(bp, t, threads - 1);
	assert_int_equal(bt_open(bt, bp, t), 0);
	for (uint64_t k = 0; k < KEYS; k++)
		bt_insert(bt, t, k, value_of(k, 0));
	return bp;
}

static void test_insert_lookup_restart(void **state)
{
	struct bp_thread t;
	struct bufpool *bp;
	struct btree bt;
	uint64_t val;

	(void)state;
	bp = open_pool(false, 1);
	bp_thread_init(bp, &t, 0);
	assert_int_equal(bt_open(&bt, bp, &t), 0);
	/* A scattered insertion order: splits everywhere. */
	for (uint64_t i = 0; i < KEYS; i++)
		bt_insert(&bt, &t, (i * 7919) % KEYS,
			  value_of((i * 7919) % KEYS, 0));
	assert_true(atomic_load(&bp->stats.evictions) > 0);
	assert_true(atomic_load(&bp->resident) <= POOL + 2);
	for (uint64_t k = 0; k < KEYS; k++) {
		assert_true(bt_lookup(&bt, &t, k, &val));
		assert_int_equal(val, value_of(k, 0));
	}
	assert_false(bt_lookup(&bt, &t, KEYS + 5, &val));
	for (uint64_t k = 0; k < KEYS; k += 3)
		assert_true(bt_update(&bt, &t, k, value_of(k, 1)));
	assert_false(bt_update(&bt, &t, KEYS + 5, 1));
	assert_int_equal(bp_close(bp), 0);

	/* Reopened: everything is still there, updates included. */
	bp = open_pool(true, 1);
	bp_thread_init(bp, &t, 0);
	assert_int_equal(bt_open(&bt, bp, &t), 0);
	for (uint64_t k = 0; k < KEYS; k++) {
		assert_true(bt_lookup(&bt, &t, k, &val));
		assert_int_equal(val, value_of(k, k % 3 == 0));
	}
	assert_int_equal(bp_close(bp), 0);
}

/*
 * Lookups in batches: every key is found with its value, absent keys are
 * not, and the pages missing for a batch are read in (misses grow while
 * the pool is far smaller than the tree).
 */
static void test_lookup_many(void **state)
{
	uint64_t keys[BT_BATCH_MAX], vals[BT_BATCH_MAX], seed = 88172645;
	bool found[BT_BATCH_MAX];
	unsigned long misses;
	struct bp_thread t;
	struct bufpool *bp;
	struct btree bt;

	(void)state;
	bp = open_loaded(1, &t, &bt);
	misses = atomic_load(&bp->stats.misses);
	for (unsigned int round = 0; round < 60; round++) {
		unsigned int n = 1 + round % BT_BATCH_MAX, hits = 0;

		for (unsigned int i = 0; i < n; i++) {
			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			/* One key in eight is past the last one. */
			keys[i] = seed % (KEYS + KEYS / 7);
			hits += keys[i] < KEYS;
		}
		assert_int_equal(bt_lookup_many(&bt, &t, keys, n, vals,
						found), hits);
		for (unsigned int i = 0; i < n; i++) {
			assert_int_equal(found[i], keys[i] < KEYS);
			if (found[i])
				assert_int_equal(vals[i],
						 value_of(keys[i], 0));
		}
	}
	assert_true(atomic_load(&bp->stats.misses) > misses + 100);
	assert_true(atomic_load(&bp->resident) <=
		    POOL + 1 + 2 * BT_BATCH_MAX);
	assert_int_equal(bp_close(bp), 0);
}

struct reader {
	struct btree *bt;
	struct bp_thread t;
	atomic_uchar *updated;	/* keys some thread set to generation 2 */
	bool batched;		/* looks keys up in batches */
	int bad;
};

/* A value read is one that was written: generation 0, or 2 once updated. */
static bool value_ok(uint64_t key, uint64_t val)
{
	return val == value_of(key, 0) || val == value_of(key, 2);
}

static void *reader_main(void *arg)
{
	uint64_t keys[BT_BATCH_MAX], vals[BT_BATCH_MAX];
	struct reader *r = arg;
	uint64_t seed = (uintptr_t)r | 1, val;
	bool found[BT_BATCH_MAX];
	unsigned int nb = 0;

	for (int i = 0; i < 5000; i++) {
		uint64_t k;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		k = seed % KEYS;
		if (k % 5 == 0) {
			/* Marked first: readers may see it at once. */
			atomic_store(&r->updated[k], 1);
			r->bad += !bt_update(r->bt, &r->t, k, value_of(k, 2));
		} else if (r->batched) {
			keys[nb++] = k;
			if (nb < BT_BATCH_MAX)
				continue;
			bt_lookup_many(r->bt, &r->t, keys, nb, vals, found);
			for (unsigned int j = 0; j < nb; j++)
				r->bad += !found[j] ||
					  !value_ok(keys[j], vals[j]);
			nb = 0;
		} else if (!bt_lookup(r->bt, &r->t, k, &val) ||
			   !value_ok(k, val)) {
			r->bad++;
		}
	}
	return NULL;
}

/*
 * Three threads look up (one of them in batches, whose misses are read in
 * together and unlatched one by one) and update while the clock evicts
 * under them: every value read is one that was written, optimistic reads
 * restarted when a page went away under them, and afterwards every key
 * holds the last value written to it.
 */
static void test_threads_under_eviction(void **state)
{
	static atomic_uchar updated[KEYS];
	struct reader r[3];
	pthread_t tid[3];
	struct bp_thread t;
	struct bufpool *bp;
	struct btree bt;
	uint64_t val;

	(void)state;
	memset(updated, 0, sizeof(updated));
	bp = open_loaded(4, &t, &bt);
	for (int i = 0; i < 3; i++) {
		r[i] = (struct reader){ .bt = &bt, .updated = updated,
					.batched = i == 2 };
		bp_thread_init(bp, &r[i].t, i);
		assert_int_equal(pthread_create(&tid[i], NULL, reader_main,
						&r[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(r[i].bad, 0);
	}
	assert_true(atomic_load(&bp->stats.misses) > 0);
	assert_true(atomic_load(&bp->stats.evictions) > 0);
	assert_true(atomic_load(&bp->stats.restarts) > 0);
	for (uint64_t k = 0; k < KEYS; k++) {
		assert_true(bt_lookup(&bt, &t, k, &val));
		assert_int_equal(val, value_of(k, atomic_load(&updated[k]) ?
						  2 : 0));
	}
	assert_int_equal(bp_close(bp), 0);
}

/* Fills page @pid with a pattern of @gen. */
static void fill_page(char *p, uint64_t pid, uint64_t gen)
{
	for (unsigned int i = 0; i < BP_PAGE / 8; i++)
		((uint64_t *)p)[i] = value_of(pid * 4096 + i, gen);
}

static bool page_is(const char *p, uint64_t pid, uint64_t gen)
{
	for (unsigned int i = 0; i < BP_PAGE / 8; i++)
		if (((const uint64_t *)p)[i] != value_of(pid * 4096 + i, gen))
			return false;
	return true;
}

#define NS_OFFSET	(8 * BP_PAGE)
#define NS_PAGES	(3 * POOL)
#define NS_DIRTY	(POOL / 3)

/* Page @pid as the device holds it (at NS_OFFSET, the pool's page 0). */
static bool stored_is(uint64_t pid, uint64_t gen)
{
	char buf[BP_PAGE];
	int fd = open(store, O_RDONLY);
	bool same;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, BP_PAGE, NS_OFFSET + pid * BP_PAGE),
			 BP_PAGE);
	close(fd);
	same = page_is(buf, pid, gen);
	return same;
}

/*
 * A no-steal pool at an offset of the device: eviction never writes a
 * dirty page (the device keeps the old contents while the pool cycles
 * through three times its size), bp_write_back() writes them all and they
 * are clean after; bp_fix_new() makes an evicted page resident without
 * reading it.
 */
static void test_no_steal_write_back(void **state)
{
	struct bp_opts o = {
		.device = store, .backing_offset = NS_OFFSET,
		.area_pages = 1024, .pool_pages = POOL, .threads = 1,
		.backend = backend, .no_steal = true,
	};
	uint64_t pids[NS_PAGES], dirty[NS_PAGES];
	struct bp_thread t;
	struct bufpool *bp;
	unsigned long ev;

	(void)state;
	assert_int_equal(bp_install_fault_handler(), 0);
	assert_int_equal(bp_open(&bp, &o), 0);
	bp_thread_init(bp, &t, 0);
	/* Written and made clean a batch at a time: the pool is small. */
	for (unsigned int i = 0; i < NS_PAGES; i++) {
		pids[i] = bp_alloc_page(&t);
		fill_page(bp_addr(bp, pids[i]), pids[i], 0);
		bp_unfix_x(&t, pids[i], true);
		if (atomic_load(&bp->dirty_pages) >= POOL / 2) {
			size_t n = bp_dirty_list(bp, dirty, NS_PAGES);

			assert_int_equal(n, atomic_load(&bp->dirty_pages));
			assert_int_equal(bp_write_back(&t, dirty, n), 0);
			assert_int_equal(atomic_load(&bp->dirty_pages), 0);
		}
	}
	assert_int_equal(bp_write_back(&t, dirty,
				       bp_dirty_list(bp, dirty, NS_PAGES)), 0);
	for (unsigned int i = 0; i < NS_PAGES; i++)
		assert_true(stored_is(pids[i], 0));

	for (unsigned int i = 0; i < NS_DIRTY; i++) {
		char *p = bp_fix_x(&t, pids[i]);

		fill_page(p, pids[i], 1);
		bp_unfix_x(&t, pids[i], true);
	}
	assert_int_equal(atomic_load(&bp->dirty_pages), NS_DIRTY);
	ev = atomic_load(&bp->stats.evictions);
	for (int round = 0; round < 3; round++) {
		for (unsigned int i = NS_DIRTY; i < NS_PAGES; i++) {
			char *p = bp_fix_s(&t, pids[i]);

			assert_true(page_is(p, pids[i], 0));
			bp_unfix_s(&t, pids[i]);
		}
	}
	assert_true(atomic_load(&bp->stats.evictions) > ev + NS_PAGES);
	for (unsigned int i = 0; i < NS_DIRTY; i++) {
		assert_false(bp_evicted(&t, pids[i]));
		assert_true(page_is(bp_addr(bp, pids[i]), pids[i], 1));
		assert_true(stored_is(pids[i], 0));
	}
	assert_int_equal(bp_dirty_list(bp, dirty, NS_PAGES), NS_DIRTY);
	assert_int_equal(bp_write_back(&t, dirty, NS_DIRTY), 0);
	assert_int_equal(atomic_load(&bp->dirty_pages), 0);
	assert_int_equal(bp_dirty_list(bp, dirty, NS_PAGES), 0);
	for (unsigned int i = 0; i < NS_DIRTY; i++)
		assert_true(stored_is(pids[i], 1));

	/* Reused page: no read, dirty, resident; written back on demand. */
	for (int round = 0; round < 2; round++) {
		for (unsigned int i = NS_DIRTY; i < NS_PAGES; i++) {
			bp_fix_s(&t, pids[i]);
			bp_unfix_s(&t, pids[i]);
		}
	}
	assert_true(bp_evicted(&t, pids[0]));
	fill_page(bp_fix_new(&t, pids[0]), pids[0], 2);
	bp_unfix_x(&t, pids[0], true);
	assert_int_equal(atomic_load(&bp->dirty_pages), 1);
	assert_int_equal(bp_write_back(&t, pids, 1), 0);
	assert_true(stored_is(pids[0], 2));
	assert_int_equal(bp_next_page(bp), pids[NS_PAGES - 1] + 1);
	assert_int_equal(bp_close(bp), 0);
}

static int setup_store(void **state)
{
	const char *dir = getenv("EXMAP_TEST_DIR");
	int fd;

	(void)state;
	snprintf(store, sizeof(store), "%s/bufpool-XXXXXX",
		 dir ? dir : "/tmp");
	fd = mkstemp(store);
	if (fd < 0 || ftruncate(fd, 4096 * 4096) || close(fd))
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
		cmocka_unit_test_setup_teardown(test_insert_lookup_restart,
						setup_store, remove_store),
		cmocka_unit_test_setup_teardown(test_lookup_many, setup_store,
						remove_store),
		cmocka_unit_test_setup_teardown(test_threads_under_eviction,
						setup_store, remove_store),
		cmocka_unit_test_setup_teardown(test_no_steal_write_back,
						setup_store, remove_store),
	};
	int failed;

	backend = EXMAP_BACKEND_FALLBACK;
	failed = cmocka_run_group_tests_name("bufpool-fallback", tests, NULL,
					     NULL);
	if (failed || access("/dev/exmap", F_OK))
		return failed ? 1 : 0;
	/* The module needs O_DIRECT, which tmpfs lacks: a real file system. */
	if (!getenv("EXMAP_TEST_DIR")) {
		printf("bufpool-exmap: no EXMAP_TEST_DIR: skipped\n");
		return 77;
	}
	backend = EXMAP_BACKEND_KERNEL;
	failed = cmocka_run_group_tests_name("bufpool-exmap", tests, NULL,
					     NULL);
	return failed ? 1 : 0;
}
