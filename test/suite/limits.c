// SPDX-License-Identifier: GPL-2.0
/*
 * Description: who may open /dev/exmap and how much they may pin. The
 * node's mode keeps other users out by default; the "group" parameter
 * lets one group in; a pool is charged to the user's RLIMIT_MEMLOCK
 * across all their contexts, refused with EPERM past it, and uncharged
 * when the context goes. Needs root (to become another user) and, for the
 * group parameter, the module file to reload it with.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../helpers.h"

#define NOBODY		65534
#define GROUP		4242
#define MODULE_KO	"/lib/exmap/exmap.ko"

/* Runs @body as user nobody (with @groups), returns its exit status. */
static int as_nobody(int (*body)(void), gid_t *groups, int ngroups,
		     rlim_t memlock)
{
	struct rlimit rl = { memlock, memlock };
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (setrlimit(RLIMIT_MEMLOCK, &rl) ||
		    setgroups(ngroups, groups) || setgid(NOBODY) ||
		    setuid(NOBODY))
			_exit(90);
		_exit(body());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int open_errno(void)
{
	int fd = t_open();

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return -fd;
}

static void test_default_mode(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(stat("/dev/exmap", &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(as_nobody(open_errno, NULL, 0, 0), EACCES);
}

/* 16 frames of 4 KiB fit a 64 KiB limit; 17 do not. */
static int within_and_over(void)
{
	int a = t_open(), b = t_open(), c = t_open();

	if (a < 0 || b < 0 || c < 0)
		return 10;
	if (t_setup(a, 17, 1) != -EPERM)
		return 11;
	/* A refused SETUP charged nothing and left the context usable. */
	if (t_setup(a, 16, 1) != 0)
		return 12;
	/* The limit is the user's, across contexts. */
	if (t_setup(b, 1, 1) != -EPERM)
		return 13;
	close(a);
	/* Closing gave the charge back. */
	if (t_setup(b, 16, 1) != 0)
		return 14;
	if (t_setup(c, 1, 1) != -EPERM)
		return 15;
	close(b);
	close(c);
	return 0;
}

static void test_memlock_limit(void **state)
{
	struct stat st;

	(void)state;
	assert_int_equal(stat("/dev/exmap", &st), 0);
	assert_int_equal(chmod("/dev/exmap", 0666), 0);
	assert_int_equal(as_nobody(within_and_over, NULL, 0, 64 * 1024), 0);
	assert_int_equal(chmod("/dev/exmap", st.st_mode & 07777), 0);
	/* root has CAP_IPC_LOCK: no limit. */
	{
		struct rlimit rl = { 0, 0 }, old;
		int fd = t_open();

		getrlimit(RLIMIT_MEMLOCK, &old);
		setrlimit(RLIMIT_MEMLOCK, &rl);
		assert_int_equal(t_setup(fd, 1 << 20, 1), 0);
		setrlimit(RLIMIT_MEMLOCK, &old);
		close(fd);
	}
}

static int reload(const char *params)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "rmmod exmap && insmod %s %s && "
		 "for i in 1 2 3 4 5; do [ -e /dev/exmap ] && break; "
		 "sleep 0.2; done", MODULE_KO, params);
	return system(cmd);
}

static void test_group_parameter(void **state)
{
	gid_t member = GROUP, other = GROUP + 1;

	(void)state;
	if (access(MODULE_KO, R_OK))
		skip();
	assert_int_equal(reload("mode=0666 group=4242"), 0);
	assert_int_equal(as_nobody(open_errno, &other, 1, 0), EACCES);
	assert_int_equal(as_nobody(open_errno, &member, 1, 0), 0);
	assert_int_equal(open_errno(), 0);	/* CAP_SYS_ADMIN */
	assert_int_equal(reload(""), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_mode),
		cmocka_unit_test(test_memlock_limit),
		cmocka_unit_test(test_group_parameter),
	};

	if (!t_have_device())
		return T_EXIT_SKIP;
	if (geteuid() != 0) {
		printf("not root: skipped\n");
		return T_EXIT_SKIP;
	}
	return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
