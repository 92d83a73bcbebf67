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
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
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

/* The entry @k has not been reaped before; marks it. */
static bool first_time(bool *seen, int k, int n)
{
	if (k < 0 || k >= n || seen[k])
		return false;
	seen[k] = true;
	return true;
}

/* An unmapped page: faults on the module, reads zeros on the fallback. */
static bool unmapped_looks_unmapped(struct exmap *x, uint32_t page)
{
	struct exmap_stats st;

	if (exmap_get_stats(x, &st))
		return false;
	if (backend == EXMAP_BACKEND_FALLBACK)
		return ((char *)exmap_area(x))[page * PAGE] == 0;
	return true;	/* in_use, checked by the caller, says the rest */
}

/*
 * Asynchronous READ and WRITE: every entry comes back exactly once, with
 * the result the synchronous call gives; an entry with a page mapped in
 * its middle reads around it; a failed entry maps nothing; a refused call
 * starts nothing; destroy waits for what is in flight.
 */
static void test_async(void **state)
{
	bool seen[8] = { false };
	struct exmap_if *i;
	struct exmap *x;
	char path[256], *area;
	int fd;

	(void)state;
	fd = backing_file(path, 64 * PAGE);
	if (fd < 0) {
		unlink(path);
		skip();
	}
	x = make(256, 256, 1, fd);
	i = exmap_interface(x, 0);
	area = exmap_area(x);
	assert_int_equal(exmap_reap(i), -ENOENT);
	assert_int_equal(exmap_vec_add(i, 2, 1), 0);
	assert_int_equal(exmap_alloc(i), 0);
	strcpy(area + 2 * PAGE, "kept");

	exmap_vec_reset(i);
	assert_int_equal(exmap_vec_add(i, 0, 5), 0);	/* around page 2 */
	assert_int_equal(exmap_vec_add(i, 10, 1), 0);
	assert_int_equal(exmap_vec_add(i, 20, 3), 0);
	assert_int_equal(exmap_vec_add(i, 60, 8), 0);	/* past the end */
	assert_int_equal(exmap_vec_add(i, 30, 1), 0);
	assert_int_equal(exmap_read_submit(i), 5);
	/* One batch at a time on an interface. */
	assert_int_equal(exmap_read_submit(i), -EBUSY);
	assert_int_equal(exmap_alloc(i), -EBUSY);
	for (int n = 0; n < 5; n++)
		assert_true(first_time(seen, exmap_reap(i), 5));
	assert_int_equal(exmap_reap(i), -ENOENT);
	assert_int_equal(exmap_vec_entry(i, 0)->res, 4);
	assert_int_equal(exmap_vec_entry(i, 1)->res, 1);
	assert_int_equal(exmap_vec_entry(i, 2)->res, 3);
	assert_int_equal(exmap_vec_entry(i, 3)->res, -ENODATA);
	assert_int_equal(exmap_vec_entry(i, 4)->res, 1);
	assert_string_equal(area, "page 0");
	assert_string_equal(area + 2 * PAGE, "kept");
	assert_string_equal(area + 4 * PAGE, "page 4");
	assert_string_equal(area + 22 * PAGE, "page 22");
	assert_string_equal(area + 30 * PAGE, "page 30");
	assert_int_equal(in_use(x), 10);
	assert_true(unmapped_looks_unmapped(x, 60));
	assert_true(unmapped_looks_unmapped(x, 63));

	/* WRITE: one entry written, one with an unmapped page refused. */
	strcpy(area + 21 * PAGE, "new 21");
	exmap_vec_reset(i);
	assert_int_equal(exmap_vec_add(i, 20, 3), 0);
	assert_int_equal(exmap_vec_add(i, 40, 1), 0);
	assert_int_equal(exmap_write_submit(i), 2);
	memset(seen, 0, sizeof(seen));
	for (int n = 0; n < 2; n++)
		assert_true(first_time(seen, exmap_reap(i), 2));
	assert_int_equal(exmap_vec_entry(i, 0)->res, 3);
	assert_int_equal(exmap_vec_entry(i, 1)->res, -EFAULT);
	exmap_vec_reset(i);
	assert_int_equal(exmap_vec_add(i, 20, 3), 0);
	assert_int_equal(exmap_free(i), 0);
	assert_int_equal(exmap_read(i), 0);
	assert_string_equal(area + 21 * PAGE, "new 21");

	/* A bad entry: refused, nothing started. */
	assert_int_equal(exmap_vec_add(i, 250, 10), 0);
	assert_int_equal(exmap_read_submit(i), -EINVAL);
	assert_int_equal(exmap_vec_entry(i, 1)->res, -EINVAL);
	assert_int_equal(exmap_reap(i), -ENOENT);

	/* Left in flight: destroy waits for it. */
	exmap_vec_reset(i);
	assert_int_equal(exmap_vec_add(i, 40, 8), 0);
	assert_int_equal(exmap_vec_add(i, 50, 1), 0);
	assert_int_equal(exmap_read_submit(i), 2);
	exmap_destroy(x);
	close(fd);
	unlink(path);
}

/* Makes io_uring_setup fail with ENOSYS, as on a kernel without it. */
static int forbid_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]),
				   .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* In a child without io_uring: the fallback reads and writes in turn. */
static int without_io_uring(int fd)
{
	struct exmap_opts o = {
		.area_pages = 64, .pool_pages = 64, .nr_interfaces = 1,
		.backing_fd = fd, .backend = EXMAP_BACKEND_FALLBACK,
	};
	struct exmap_if *i;
	struct exmap *x;
	char *area;
	int ok;

	if (forbid_io_uring() || exmap_create(&x, &o))
		return 2;
	i = exmap_interface(x, 0);
	area = exmap_area(x);
	exmap_vec_add(i, 1, 2);
	exmap_vec_add(i, 7, 1);
	exmap_vec_add(i, 62, 2);
	ok = exmap_read(i) == 0 && !strcmp(area + 2 * PAGE, "page 2") &&
	     !strcmp(area + 7 * PAGE, "page 7") &&
	     exmap_vec_entry(i, 0)->res == 2;
	strcpy(area + 7 * PAGE, "seven");
	ok = ok && exmap_write_submit(i) == 3;
	for (int n = 0; n < 3; n++)
		ok = ok && exmap_reap(i) >= 0;
	ok = ok && exmap_reap(i) == -ENOENT &&
	     exmap_vec_entry(i, 1)->res == 1;
	exmap_destroy(x);
	return ok ? 0 : 1;
}

static void test_fallback_without_io_uring(void **state)
{
	char path[256], buf[64];
	int fd, status;
	pid_t pid;

	(void)state;
	fd = backing_file(path, 64 * PAGE);
	assert_true(fd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(without_io_uring(fd));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(fd);
	/* Not O_DIRECT: a 64-byte read. */
	fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, buf, sizeof(buf), 7 * PAGE), sizeof(buf));
	assert_string_equal(buf, "seven");
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
		cmocka_unit_test(test_async),
	};
	const struct CMUnitTest fallback_only[] = {
		cmocka_unit_test(test_fallback_without_io_uring),
	};
	int failed;

	backend = EXMAP_BACKEND_FALLBACK;
	failed = cmocka_run_group_tests_name("libexmap-fallback", tests, NULL,
					     NULL);
	failed += cmocka_run_group_tests_name("libexmap-fallback-only",
					      fallback_only, NULL, NULL);
	if (access("/dev/exmap", F_OK) == 0) {
		backend = EXMAP_BACKEND_KERNEL;
		failed += cmocka_run_group_tests_name("libexmap-kernel", tests,
						      NULL, NULL);
	}
	return failed ? 1 : 0;
}
