// SPDX-License-Identifier: GPL-2.0
/*
 * Description: libexmap on every backend this machine has (the fallback
 * always, the module where /dev/exmap exists): the same calls give the same
 * results. ALLOC skips mapped pages, FREE gives pages back, an entry the
 * pool cannot serve fails whole, READ and WRITE move data to and from a
 * backing file, several threads work at once, bad options are refused. Runs
 * on the host (fallback) and in the guest (both).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../tools/libexmap/libexmap.h"

#define PAGE	((size_t)EXMAP_PAGE_SIZE)

static enum exmap_backend backend;

static struct exmap *make(size_t area, size_t pool, unsigned int ifs,
			  int fd)
{
	struct exmap_opts o = {
		.area_pages = area, .pool_pages = pool, .nr_interfaces = ifs,
		.backing_fd = fd, .backend = backend,
	};
	struct exmap *x = NULL;

	assert_int_equal(exmap_create(&x, &o), 0);
	assert_int_equal(exmap_backend_of(x), backend);
	return x;
}

static uint64_t in_use(struct exmap *x)
{
	struct exmap_stats st;

	assert_int_equal(exmap_get_stats(x, &st), 0);
	return st.frames_in_use;
}

static void test_bad_options(void **state)
{
	struct exmap_opts o = {
		.area_pages = 16, .pool_pages = 16, .nr_interfaces = 1,
		.backing_fd = -1, .backend = backend,
	};
	struct exmap *x;

	(void)state;
	o.area_pages = 0;
	assert_int_equal(exmap_create(&x, &o), -EINVAL);
	o.area_pages = 16;
	o.nr_interfaces = 0;
	assert_int_equal(exmap_create(&x, &o), -EINVAL);
	o.nr_interfaces = EXMAP_MAX_INTERFACES + 1;
	assert_int_equal(exmap_create(&x, &o), -EINVAL);
	o.nr_interfaces = 1;
	o.backing_offset = 4096;
	assert_int_equal(exmap_create(&x, &o), -EINVAL);
	o.backing_offset = 0;
	o.backend = 7;
	assert_int_equal(exmap_create(&x, &o), -EINVAL);
}

static void test_alloc_free(void **state)
{
	struct exmap *x = make(1024, 64, 2, -1);
	struct exmap_if *i = exmap_interface(x, 0);
	char *area = exmap_area(x);

	(void)state;
	assert_null(exmap_interface(x, 2));
	assert_int_equal(exmap_vec_add(i, 10, 4), 0);
	assert_int_equal(exmap_vec_add(i, 100, 8), 0);
	assert_int_equal(exmap_alloc(i), 0);
	assert_int_equal(exmap_vec_entry(i, 0)->res, 4);
	assert_int_equal(exmap_vec_entry(i, 1)->res, 8);
	memset(area + 10 * PAGE, 'a', 4 * PAGE);
	assert_int_equal(in_use(x), 12);
	/* Again: nothing new, data kept. */
	assert_int_equal(exmap_alloc(i), 0);
	assert_int_equal(exmap_vec_entry(i, 0)->res, 0);
	assert_int_equal(area[13 * PAGE], 'a');
	/* Past the pool: fails whole. */
	exmap_vec_reset(i);
	assert_int_equal(exmap_vec_add(i, 500, 60), 0);
	assert_int_equal(exmap_alloc(i), 1);
	assert_int_equal(exmap_vec_entry(i, 0)->res, -ENOMEM);
	assert_int_equal(in_use(x), 12);
	/* Bad entries refuse the call. */
	exmap_vec_reset(i);
	assert_int_equal(exmap_vec_add(i, 1020, 8), 0);
	assert_int_equal(exmap_alloc(i), -EINVAL);
	assert_int_equal(exmap_vec_entry(i, 0)->res, -EINVAL);
	/* FREE gives everything back. */
	exmap_vec_reset(i);
	assert_int_equal(exmap_vec_add(i, 0, 512), 0);
	assert_int_equal(exmap_free(i), 0);
	assert_int_equal(exmap_vec_entry(i, 0)->res, 12);
	assert_int_equal(in_use(x), 0);
	/* Without a backing store there is nothing to read. */
	assert_int_equal(exmap_read(i), -EBADF);
	exmap_destroy(x);
}

static void test_vector_full(void **state)
{
	struct exmap *x = make(1024, 1024, 1, -1);
	struct exmap_if *i = exmap_interface(x, 0);

	(void)state;
	for (unsigned int k = 0; k < EXMAP_VEC_MAX; k++)
		assert_int_equal(exmap_vec_add(i, k, 1), 0);
	assert_int_equal(exmap_vec_add(i, 600, 1), -ENOSPC);
	assert_int_equal(exmap_vec_len(i), EXMAP_VEC_MAX);
	assert_int_equal(exmap_alloc(i), 0);
	assert_int_equal(in_use(x), EXMAP_VEC_MAX);
	assert_int_equal(exmap_free(i), 0);
	assert_int_equal(in_use(x), 0);
	exmap_destroy(x);
}

/* A backing file: O_DIRECT where the file system has it (the module needs it). */
static int backing_file(char *path, size_t len)
{
	const char *dir = getenv("EXMAP_TEST_DIR");
	int fd;

	snprintf(path, 256, "%s/libexmap-XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)len), 0);
	for (size_t p = 0; p < len / PAGE; p++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "page %zu", p);
		assert_int_equal(pwrite(fd, buf, sizeof(buf), p * PAGE),
				 sizeof(buf));
	}
	assert_int_equal(fsync(fd), 0);
	close(fd);
	fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0 && backend == EXMAP_BACKEND_FALLBACK)
		fd = open(path, O_RDWR);
	return fd;
}

static void test_read_write(void **state)
{
	char path[256], want[64];
	struct exmap_if *i;
	struct exmap *x;
	char *area;
	int fd;

	(void)state;
	fd = backing_file(path, 256 * PAGE);
	if (fd < 0) {
		unlink(path);
		skip();
	}
	x = make(256, 256, 1, fd);
	i = exmap_interface(x, 0);
	area = exmap_area(x);
	assert_int_equal(exmap_vec_add(i, 3, 5), 0);
	assert_int_equal(exmap_vec_add(i, 200, 1), 0);
	assert_int_equal(exmap_read(i), 0);
	assert_int_equal(exmap_vec_entry(i, 0)->res, 5);
	assert_string_equal(area + 7 * PAGE, "page 7");
	assert_string_equal(area + 200 * PAGE, "page 200");
	/* Change, write back, free, read again. */
	strcpy(area + 4 * PAGE, "changed");
	assert_int_equal(exmap_write(i), 0);
	assert_int_equal(exmap_vec_entry(i, 0)->res, 5);
	assert_int_equal(exmap_free(i), 0);
	assert_int_equal(in_use(x), 0);
	assert_int_equal(exmap_read(i), 0);
	assert_string_equal(area + 4 * PAGE, "changed");
	snprintf(want, sizeof(want), "page %d", 5);
	assert_string_equal(area + 5 * PAGE, want);
	/* WRITE of an unmapped page fails that entry. */
	exmap_vec_reset(i);
	assert_int_equal(exmap_vec_add(i, 100, 1), 0);
	assert_int_equal(exmap_write(i), 1);
	assert_int_equal(exmap_vec_entry(i, 0)->res, -EFAULT);
	exmap_destroy(x);
	close(fd);
	unlink(path);
}

struct worker {
	struct exmap *x;
	unsigned int id;
	int bad;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct exmap_if *i = exmap_interface(w->x, w->id);
	char *area = exmap_area(w->x);

	for (int round = 0; round < 50; round++) {
		uint32_t first = w->id * 256 + (round % 4) * 64;

		exmap_vec_reset(i);
		exmap_vec_add(i, first, 32);
		exmap_vec_add(i, first + 40, 16);
		if (exmap_alloc(i) != 0)
			w->bad++;
		/* Only what was allocated: the module faults elsewhere. */
		for (uint32_t p = first; p < first + 56; p++)
			if (p < first + 32 || p >= first + 40)
				area[p * PAGE] = (char)(w->id + round);
		for (uint32_t p = first; p < first + 56; p++)
			if (p < first + 32 || p >= first + 40)
				w->bad += area[p * PAGE] !=
					  (char)(w->id + round);
		if (exmap_free(i) != 0)
			w->bad++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct exmap *x = make(4 * 256, 4 * 48, 4, -1);
	struct worker w[4];
	pthread_t tid[4];

	(void)state;
	for (unsigned int k = 0; k < 4; k++) {
		w[k] = (struct worker){ .x = x, .id = k };
		assert_int_equal(pthread_create(&tid[k], NULL, worker_main,
						&w[k]), 0);
	}
	for (int k = 0; k < 4; k++) {
		pthread_join(tid[k], NULL);
		assert_int_equal(w[k].bad, 0);
	}
	assert_int_equal(in_use(x), 0);
	exmap_destroy(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_alloc_free),
		cmocka_unit_test(test_vector_full),
		cmocka_unit_test(test_read_write),
		cmocka_unit_test(test_threads),
	};
	int failed;

	backend = EXMAP_BACKEND_FALLBACK;
	failed = cmocka_run_group_tests_name("libexmap-fallback", tests, NULL,
					     NULL);
	if (access("/dev/exmap", F_OK) == 0) {
		backend = EXMAP_BACKEND_KERNEL;
		failed += cmocka_run_group_tests_name("libexmap-kernel", tests,
						      NULL, NULL);
	}
	return failed ? 1 : 0;
}
