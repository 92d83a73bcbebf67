// SPDX-License-Identifier: GPL-2.0
/*
 * Description: a debugger's view of the area. /proc/PID/mem and ptrace
 * read and write a mapped page as it is (through the area's access
 * callback, since nothing can pin its frames); an unmapped page is an
 * error, not zeros; a freed page is an error again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "../helpers.h"

struct ctx {
	int fd;
	char *area;
	struct exmap_iov *vec;
};

static int ctx_setup(void **state)
{
	static struct ctx c;

	c.fd = t_open();
	assert_true(c.fd >= 0);
	assert_int_equal(t_setup(c.fd, 8, 1), 0);
	c.area = t_map_area(c.fd, 64);
	assert_non_null(c.area);
	c.vec = t_map_interface(c.fd, 0);
	assert_non_null(c.vec);
	t_fill_vec(c.vec, 1, 2, 0, 2);		/* pages 2 and 3 */
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_ALLOC, 1), 0);
	memset(c.area + 2 * T_PAGE, 'p', 2 * T_PAGE);
	*state = &c;
	return 0;
}

static int ctx_teardown(void **state)
{
	struct ctx *c = *state;

	munmap(c->vec, T_PAGE);
	munmap(c->area, 64 * T_PAGE);
	close(c->fd);
	return 0;
}

static void test_proc_mem(void **state)
{
	struct ctx *c = *state;
	char buf[T_PAGE + 16];
	int mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	off_t at = (off_t)(uintptr_t)(c->area + 2 * T_PAGE);

	assert_true(mem >= 0);
	/* A read across the two mapped pages, done page by page. */
	assert_int_equal(pread(mem, buf, sizeof(buf), at + 100), sizeof(buf));
	for (size_t k = 0; k < sizeof(buf); k++)
		assert_int_equal(buf[k], 'p');
	/* A write shows in the area. */
	assert_int_equal(pwrite(mem, "hello", 5, at + 7), 5);
	assert_memory_equal(c->area + 2 * T_PAGE + 7, "hello", 5);

	/* Unmapped: an error, not zeros. */
	assert_int_equal(pread(mem, buf, 16, at - T_PAGE), -1);
	assert_int_equal(errno, EIO);
	/* A read that runs into an unmapped page stops there. */
	assert_int_equal(pread(mem, buf, 64, at + 2 * T_PAGE - 32), 32);

	/* Freed: an error again. */
	t_fill_vec(c->vec, 1, 2, 0, 1);
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_FREE, 1), 0);
	assert_int_equal(pread(mem, buf, 16, at), -1);
	close(mem);
}

/* The child attaches to its parent, as a debugger would. */
static void test_ptrace(void **state)
{
	struct ctx *c = *state;
	long *word = (long *)(c->area + 3 * T_PAGE + 64);
	long *hole = (long *)(c->area + 5 * T_PAGE);
	pid_t parent = getpid(), pid;
	int status;

	*word = 0x1122334455667788L;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		long v;

		if (ptrace(PTRACE_ATTACH, parent, NULL, NULL) ||
		    waitpid(parent, &status, 0) != parent)
			_exit(10);
		errno = 0;
		v = ptrace(PTRACE_PEEKDATA, parent, word, NULL);
		if (errno || v != 0x1122334455667788L)
			_exit(11);
		if (ptrace(PTRACE_POKEDATA, parent, word, (void *)0x42L))
			_exit(12);
		errno = 0;
		ptrace(PTRACE_PEEKDATA, parent, hole, NULL);
		if (errno != EIO && errno != EFAULT)
			_exit(13);
		ptrace(PTRACE_DETACH, parent, NULL, NULL);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(*word, 0x42L);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_proc_mem, ctx_setup,
						ctx_teardown),
		cmocka_unit_test_setup_teardown(test_ptrace, ctx_setup,
						ctx_teardown),
	};

	(void)argv;
	if (argc > 1 || !t_have_device())
		return T_EXIT_SKIP;
	return cmocka_run_group_tests_name("access", tests, NULL, NULL);
}
