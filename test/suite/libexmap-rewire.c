// SPDX-License-Identifier: GPL-2.0
/*
 * Description: libexmap's rewiring calls on every backend that has them:
 * the module, and the fallback with EXMAP_OPT_REWIRE (memfd frames, one
 * mapping per page). The same calls give the same results: an alias shows
 * the source's data and takes its writes, MOVE leaves the source unmapped,
 * QUERY counts mapped and shared pages, entries that cannot be done fail
 * alone with -ENOENT or -EEXIST, frames are counted exactly. The plain
 * fallback refuses ALIAS and MOVE with -EOPNOTSUPP. Runs on the host
 * (fallbacks) and in the guest (all).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../tools/libexmap/libexmap.h"

#define PAGE	((size_t)EXMAP_PAGE_SIZE)

static enum exmap_backend backend;

static struct exmap *make(size_t area, size_t pool, unsigned int flags)
{
	struct exmap_opts o = {
		.area_pages = area, .pool_pages = pool, .nr_interfaces = 1,
		.backing_fd = -1, .backend = backend, .flags = flags,
	};
	struct exmap *x = NULL;

	assert_int_equal(exmap_create(&x, &o), 0);
	return x;
}

static sigjmp_buf fault_jmp;

static void on_fault(int sig)
{
	(void)sig;
	siglongjmp(fault_jmp, 1);
}

/* True if reading *p raises SIGSEGV (both backends' unmapped pages do). */
static int faults(const volatile char *p)
{
	struct sigaction sa = { .sa_handler = on_fault }, old;
	int hit = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(fault_jmp, 1) == 0)
		(void)*p;
	else
		hit = 1;
	sigaction(SIGSEGV, &old, NULL);
	return hit;
}

static struct exmap_stats2 stats(struct exmap *x)
{
	struct exmap_stats2 st;

	assert_int_equal(exmap_get_stats2(x, &st), 0);
	return st;
}

static void test_alias_move_query(void **state)
{
	struct exmap *x = make(2048, 32, EXMAP_OPT_REWIRE);
	struct exmap_if *i = exmap_interface(x, 0);
	char *area = exmap_area(x);
	struct exmap_stats2 st;

	(void)state;
	assert_int_equal(exmap_vec_add(i, 0, 4), 0);
	assert_int_equal(exmap_alloc(i), 0);
	for (int p = 0; p < 4; p++)
		memset(area + p * PAGE, 'a' + p, PAGE);

	/* The two kinds of vector do not mix. */
	assert_int_equal(exmap_rewire_add(i, 0, 100, 4), -EBUSY);
	exmap_vec_reset(i);
	assert_int_equal(exmap_rewire_add(i, 0, 100, 4), 0);
	assert_int_equal(exmap_vec_add(i, 0, 1), -EBUSY);
	assert_int_equal(exmap_rewire_add(i, 2, 1500, 1), 0);
	assert_int_equal(exmap_alias(i), 0);
	assert_int_equal(exmap_rewire_entry(i, 0)->res, 4);
	assert_int_equal(exmap_rewire_entry(i, 1)->res, 1);
	assert_int_equal(area[101 * PAGE + 9], 'b');
	area[1500 * PAGE + 3] = 'Z';
	assert_int_equal(area[2 * PAGE + 3], 'Z');
	assert_int_equal(area[102 * PAGE + 3], 'Z');
	st = stats(x);
	assert_int_equal(st.base.frames_in_use, 4);
	assert_int_equal(st.aliased_frames, 4);
	assert_int_equal(st.alias_pages, 5);

	/* QUERY: mapped, then shared. */
	exmap_vec_reset(i);
	assert_int_equal(exmap_vec_add(i, 0, 8), 0);
	assert_int_equal(exmap_vec_add(i, 1500, 2), 0);
	assert_int_equal(exmap_query(i, 0), 0);
	assert_int_equal(exmap_vec_entry(i, 0)->res, 4);
	assert_int_equal(exmap_vec_entry(i, 1)->res, 1);
	assert_int_equal(exmap_query(i, EXMAP_ACTION_QUERY_SHARED), 0);
	assert_int_equal(exmap_vec_entry(i, 0)->res, 4);
	assert_int_equal(exmap_query(i, 2), -EINVAL);

	/* MOVE an alias away; the source faults, the data moved. */
	exmap_vec_reset(i);
	assert_int_equal(exmap_rewire_add(i, 1500, 1700, 1), 0);
	assert_int_equal(exmap_move(i), 0);
	assert_true(faults(area + 1500 * PAGE));
	assert_int_equal(area[1700 * PAGE + 3], 'Z');
	assert_int_equal(stats(x).move_pages, 1);

	/* Entries that cannot be done fail alone and change nothing. */
	exmap_vec_reset(i);
	assert_int_equal(exmap_rewire_add(i, 0, 100, 1), 0);	/* mapped */
	assert_int_equal(exmap_rewire_add(i, 50, 60, 1), 0);	/* no src */
	assert_int_equal(exmap_rewire_add(i, 3, 61, 1), 0);	/* fine */
	assert_int_equal(exmap_alias(i), 2);
	assert_int_equal(exmap_rewire_entry(i, 0)->res, -EEXIST);
	assert_int_equal(exmap_rewire_entry(i, 1)->res, -ENOENT);
	assert_int_equal(exmap_rewire_entry(i, 2)->res, 1);
	assert_true(faults(area + 60 * PAGE));

	/* Malformed: overlapping runs. */
	exmap_vec_reset(i);
	assert_int_equal(exmap_rewire_add(i, 0, 2, 4), 0);
	assert_int_equal(exmap_alias(i), -EINVAL);

	/* FREE everything: every frame back, exactly. */
	exmap_vec_reset(i);
	assert_int_equal(exmap_vec_add(i, 0, 4), 0);
	assert_int_equal(exmap_vec_add(i, 61, 1), 0);
	assert_int_equal(exmap_free(i), 0);
	st = stats(x);
	assert_int_equal(st.base.frames_in_use, 4);	/* at 100..103 */
	assert_int_equal(st.aliased_frames, 1);		/* 2 at 102, 1700 */
	exmap_vec_reset(i);
	assert_int_equal(exmap_vec_add(i, 100, 4), 0);
	assert_int_equal(exmap_vec_add(i, 1700, 1), 0);
	assert_int_equal(exmap_free(i), 0);
	st = stats(x);
	assert_int_equal(st.base.frames_in_use, 0);
	assert_int_equal(st.aliased_frames, 0);
	assert_true(faults(area + 102 * PAGE));
	exmap_destroy(x);
}

/* Without the option the plain fallback cannot alias anonymous memory. */
static void test_fallback_refuses(void **state)
{
	struct exmap *x = make(64, 8, 0);
	struct exmap_if *i = exmap_interface(x, 0);

	(void)state;
	assert_int_equal(exmap_vec_add(i, 0, 1), 0);
	assert_int_equal(exmap_alloc(i), 0);
	assert_int_equal(exmap_query(i, 0), 0);
	assert_int_equal(exmap_vec_entry(i, 0)->res, 1);
	exmap_vec_reset(i);
	assert_int_equal(exmap_rewire_add(i, 0, 5, 1), 0);
	assert_int_equal(exmap_alias(i), -EOPNOTSUPP);
	assert_int_equal(exmap_move(i), -EOPNOTSUPP);
	exmap_destroy(x);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest rewire[] = {
		cmocka_unit_test(test_alias_move_query),
	};
	const struct CMUnitTest plain[] = {
		cmocka_unit_test(test_fallback_refuses),
	};
	int failed;

	(void)argv;
	if (argc > 1)
		return 77;
	backend = EXMAP_BACKEND_FALLBACK;
	failed = cmocka_run_group_tests_name("libexmap-rewire-memfd", rewire,
					     NULL, NULL);
	failed += cmocka_run_group_tests_name("libexmap-rewire-plain", plain,
					      NULL, NULL);
	if (access("/dev/exmap", F_OK) == 0) {
		backend = EXMAP_BACKEND_KERNEL;
		failed += cmocka_run_group_tests_name("libexmap-rewire-kernel",
						      rewire, NULL, NULL);
	}
	return failed;
}
