// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the buffer pool's building blocks on their own: the
 * page-state word (shared and exclusive latches, marking, versions,
 * optimistic validation) and the resident set (insert, remove, the clock's
 * walk), single-threaded and with threads racing. Needs no module: runs on
 * the host in make check, and in the guest.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "../../tools/bufpool/pagestate.h"
#include "../../tools/bufpool/residentset.h"

static void test_latches(void **state)
{
	page_state_t ps;
	uint64_t w, seen;

	(void)state;
	ps_init_evicted(&ps);
	w = ps_load(&ps);
	assert_int_equal(ps_state(w), PS_EVICTED);
	assert_false(ps_try_lock_s(&ps, w));
	assert_false(ps_optimistic_begin(&ps, &seen));
	/* A miss: evicted -> locked -> unlocked, version 1. */
	assert_true(ps_try_lock_x(&ps, w));
	assert_int_equal(ps_state(ps_load(&ps)), PS_LOCKED);
	assert_false(ps_try_lock_x(&ps, ps_load(&ps)));
	assert_false(ps_try_lock_s(&ps, ps_load(&ps)));
	ps_unlock_x(&ps, false);
	w = ps_load(&ps);
	assert_int_equal(ps_state(w), PS_UNLOCKED);
	assert_int_equal(ps_version(w), 1);

	/* Shared holders count up and down; exclusive waits for zero. */
	assert_true(ps_try_lock_s(&ps, ps_load(&ps)));
	assert_true(ps_try_lock_s(&ps, ps_load(&ps)));
	assert_int_equal(ps_state(ps_load(&ps)), 2);
	assert_false(ps_try_lock_x(&ps, ps_load(&ps)));
	ps_unlock_s(&ps);
	ps_unlock_s(&ps);
	assert_int_equal(ps_state(ps_load(&ps)), PS_UNLOCKED);
	assert_int_equal(ps_version(ps_load(&ps)), 1);

	/* A stale expected word fails. */
	assert_false(ps_try_lock_x(&ps, ps_make(PS_UNLOCKED, 0)));

	/* Marking: only from unlocked; a reader clears it again. */
	assert_true(ps_optimistic_begin(&ps, &seen));
	assert_true(ps_try_mark(&ps, ps_load(&ps)));
	assert_int_equal(ps_state(ps_load(&ps)), PS_MARKED);
	assert_false(ps_try_mark(&ps, ps_load(&ps)));
	assert_true(ps_optimistic_valid(&ps, seen));
	assert_true(ps_try_lock_s(&ps, ps_load(&ps)));
	assert_int_equal(ps_state(ps_load(&ps)), 1);
	ps_unlock_s(&ps);
	/* So does an optimistic reader, without moving the version. */
	assert_true(ps_try_mark(&ps, ps_load(&ps)));
	assert_true(ps_optimistic_begin(&ps, &seen));
	assert_int_equal(ps_state(ps_load(&ps)), PS_UNLOCKED);
	assert_int_equal(ps_version(ps_load(&ps)), 1);
	assert_true(ps_optimistic_valid(&ps, seen));

	/* Any exclusive hold invalidates an optimistic read. */
	assert_true(ps_optimistic_begin(&ps, &seen));
	assert_true(ps_try_lock_x(&ps, ps_load(&ps)));
	assert_false(ps_optimistic_valid(&ps, seen));
	ps_unlock_x(&ps, true);
	assert_false(ps_optimistic_valid(&ps, seen));
	assert_int_equal(ps_state(ps_load(&ps)), PS_EVICTED);
	assert_int_equal(ps_version(ps_load(&ps)), 2);

	/* The shared count stops short of the special states. */
	assert_true(ps_try_lock_x(&ps, ps_load(&ps)));
	ps_unlock_x(&ps, false);
	for (int i = 0; i < PS_MAX_SHARED; i++)
		assert_true(ps_try_lock_s(&ps, ps_load(&ps)));
	assert_false(ps_try_lock_s(&ps, ps_load(&ps)));
	for (int i = 0; i < PS_MAX_SHARED; i++)
		ps_unlock_s(&ps);
	assert_int_equal(ps_state(ps_load(&ps)), PS_UNLOCKED);
}

struct counter {
	page_state_t ps;
	long value;		/* guarded by the exclusive latch */
};

static void *bump(void *arg)
{
	struct counter *c = arg;

	for (int i = 0; i < 20000; i++) {
		while (!ps_try_lock_x(&c->ps, ps_load(&c->ps)))
			;
		c->value++;
		ps_unlock_x(&c->ps, false);
	}
	return NULL;
}

static void test_latch_threads(void **state)
{
	struct counter c = { .value = 0 };
	pthread_t tid[4];

	(void)state;
	atomic_init(&c.ps, ps_make(PS_UNLOCKED, 0));
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, bump, &c), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(tid[i], NULL);
	assert_int_equal(c.value, 4 * 20000);
	assert_int_equal(ps_version(ps_load(&c.ps)), 4 * 20000);
}

static bool collect(uint64_t page, void *arg)
{
	uint64_t *seen = arg;

	seen[page]++;
	return true;
}

static void test_resident_set(void **state)
{
	struct resident_set rs;
	uint64_t seen[1000] = { 0 };

	(void)state;
	assert_int_equal(rs_init(&rs, 1000), 0);
	for (uint64_t p = 0; p < 1000; p += 2)
		rs_insert(&rs, p);
	for (uint64_t p = 0; p < 1000; p++)
		assert_int_equal(rs_contains(&rs, p), p % 2 == 0);
	assert_true(rs_remove(&rs, 10));
	assert_false(rs_remove(&rs, 10));
	assert_false(rs_remove(&rs, 11));
	assert_false(rs_contains(&rs, 10));
	/* One full turn of the clock sees every resident page once. */
	rs_clock(&rs, rs.mask + 1, collect, seen);
	for (uint64_t p = 0; p < 1000; p++)
		assert_int_equal(seen[p], p % 2 == 0 && p != 10);
	/* Long use: tombstones everywhere, lookups still end. */
	for (int round = 0; round < 50; round++) {
		for (uint64_t p = 0; p < 1000; p++)
			rs_insert(&rs, 100000 + round * 1000 + p);
		for (uint64_t p = 0; p < 1000; p++)
			assert_true(rs_remove(&rs, 100000 + round * 1000 + p));
	}
	assert_false(rs_contains(&rs, 5));
	assert_true(rs_contains(&rs, 4));
	rs_destroy(&rs);
}

struct rs_worker {
	struct resident_set *rs;
	uint64_t base;
	int bad;
};

static void *rs_churn(void *arg)
{
	struct rs_worker *w = arg;

	for (int round = 0; round < 200; round++) {
		for (uint64_t p = 0; p < 200; p++)
			rs_insert(w->rs, w->base + p);
		for (uint64_t p = 0; p < 200; p++)
			w->bad += !rs_contains(w->rs, w->base + p);
		for (uint64_t p = 0; p < 200; p++)
			w->bad += !rs_remove(w->rs, w->base + p);
	}
	return NULL;
}

static void test_resident_set_threads(void **state)
{
	struct resident_set rs;
	struct rs_worker w[4];
	pthread_t tid[4];

	(void)state;
	assert_int_equal(rs_init(&rs, 800), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct rs_worker){ .rs = &rs, .base = i * 1000000 };
		assert_int_equal(pthread_create(&tid[i], NULL, rs_churn,
						&w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	rs_destroy(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latches),
		cmocka_unit_test(test_latch_threads),
		cmocka_unit_test(test_resident_set),
		cmocka_unit_test(test_resident_set_threads),
	};

	return cmocka_run_group_tests_name("bufpool-units", tests, NULL,
					   NULL);
}
