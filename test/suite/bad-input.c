// SPDX-License-Identifier: GPL-2.0
/*
 * Description: every malformed call is refused with its documented errno,
 * and changes nothing: no frame taken, no page mapped, a later good call
 * still works.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../helpers.h"

#define POOL	64
#define IFACES	4
#define PAGES	1024

struct fixture {
	int fd;
	char *area;
	struct exmap_iov *vec;
};

static int ready_setup(void **state)
{
	static struct fixture f;

	f.fd = t_open();
	assert_true(f.fd >= 0);
	assert_int_equal(t_setup(f.fd, POOL, IFACES), 0);
	f.area = t_map_area(f.fd, PAGES);
	assert_non_null(f.area);
	f.vec = t_map_interface(f.fd, 0);
	assert_non_null(f.vec);
	*state = &f;
	return 0;
}

static int ready_teardown(void **state)
{
	struct fixture *f = *state;

	munmap(f->vec, EXMAP_INTERFACE_SIZE);
	munmap(f->area, PAGES * T_PAGE);
	close(f->fd);
	return 0;
}

/* Nothing is mapped and no frame is in use. */
static void assert_untouched(struct fixture *f)
{
	struct exmap_stats st;

	assert_int_equal(t_stats(f->fd, &st), 0);
	assert_int_equal(st.frames_in_use, 0);
	assert_int_equal(st.alloc_pages, 0);
	assert_true(t_read_faults(f->area));
}

static void test_before_setup(void **state)
{
	struct exmap_action a = { .nr = 1 };
	struct exmap_stats st;
	int fd = t_open();

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, EXMAP_IOC_ACTION, &a), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(t_stats(fd, &st), -EINVAL);
	assert_null(t_map_area(fd, 16));
	assert_int_equal(errno, EINVAL);
	assert_null(t_map_interface(fd, 0));
	assert_int_equal(errno, EINVAL);
	/* None of that spoiled the context. */
	assert_int_equal(t_setup(fd, 8, 1), 0);
	close(fd);
}

static int setup_errno(struct exmap_setup *s)
{
	int fd = t_open(), ret;

	assert_true(fd >= 0);
	ret = ioctl(fd, EXMAP_IOC_SETUP, s) ? errno : 0;
	if (ret) {
		/* A refused SETUP leaves the context unset: a good one works. */
		assert_int_equal(t_setup(fd, 8, 1), 0);
	}
	close(fd);
	return ret;
}

static void test_setup_rejects(void **state)
{
	const struct exmap_setup good = {
		.pool_size = 8, .nr_interfaces = 1, .backing_fd = -1,
	};
	struct exmap_setup s;
	int pipefd[2];

	(void)state;
	s = good;
	assert_int_equal(setup_errno(&s), 0);

	s = good;
	s.pool_size = 0;
	assert_int_equal(setup_errno(&s), EINVAL);
	s = good;
	s.pool_size = EXMAP_AREA_MAX_PAGES + 1;
	assert_int_equal(setup_errno(&s), EINVAL);
	s = good;
	s.nr_interfaces = 0;
	assert_int_equal(setup_errno(&s), EINVAL);
	s = good;
	s.nr_interfaces = EXMAP_MAX_INTERFACES + 1;
	assert_int_equal(setup_errno(&s), EINVAL);
	s = good;
	s.flags = 1;
	assert_int_equal(setup_errno(&s), EINVAL);
	s = good;
	s.flags = 1ULL << 63;
	assert_int_equal(setup_errno(&s), EINVAL);
	s = good;
	s.resv[3] = 1;
	assert_int_equal(setup_errno(&s), EINVAL);
	s = good;
	s.api = 1;
	assert_int_equal(setup_errno(&s), EINVAL);
	s = good;
	s.backing_offset = 4096;
	assert_int_equal(setup_errno(&s), EINVAL);
	s = good;
	s.backing_fd = 1000;
	assert_int_equal(setup_errno(&s), EBADF);
	s = good;
	s.backing_fd = -2;
	assert_int_equal(setup_errno(&s), EBADF);

	assert_int_equal(pipe(pipefd), 0);
	s = good;
	s.backing_fd = pipefd[0];
	assert_int_equal(setup_errno(&s), EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);

	s = good;
	s.nr_interfaces = EXMAP_MAX_INTERFACES;
	assert_int_equal(setup_errno(&s), 0);
}

static void test_setup_reports(void **state)
{
	struct exmap_setup s = {
		.pool_size = 8, .nr_interfaces = 2, .backing_fd = -1,
	};
	int fd = t_open();

	(void)state;
	assert_int_equal(ioctl(fd, EXMAP_IOC_SETUP, &s), 0);
	assert_int_equal(s.api, EXMAP_API_VERSION);
	assert_true(s.ioctls & (1ULL << _EXMAP_ACTION));
	assert_true(s.ioctls & (1ULL << _EXMAP_STATS));
	close(fd);
}

static void test_setup_twice(void **state)
{
	struct fixture *f = *state;
	struct exmap_stats st;

	assert_int_equal(t_setup(f->fd, POOL * 2, 1), -EBUSY);
	assert_int_equal(t_stats(f->fd, &st), 0);
	assert_int_equal(st.pool_size, POOL);
}

static void test_unknown_ioctl(void **state)
{
	struct fixture *f = *state;
	char buf[256] = { 0 };

	assert_int_equal(ioctl(f->fd, _IOWR(EXMAP_IOC_MAGIC, 0x3f, buf), buf),
			 -1);
	assert_int_equal(errno, ENOTTY);
	assert_int_equal(ioctl(f->fd, _IOW('x', _EXMAP_ACTION,
					   struct exmap_action), buf), -1);
	assert_int_equal(errno, ENOTTY);
}

static void test_bad_pointer(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(ioctl(f->fd, EXMAP_IOC_ACTION, NULL), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(ioctl(f->fd, EXMAP_IOC_STATS, (void *)8), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(ioctl(f->fd, EXMAP_IOC_SETUP, NULL), -1);
	assert_int_equal(errno, EFAULT);
}

static int action_errno(struct fixture *f, struct exmap_action a)
{
	return ioctl(f->fd, EXMAP_IOC_ACTION, &a) ? errno : 0;
}

static void test_action_rejects(void **state)
{
	struct fixture *f = *state;
	const struct exmap_action good = {
		.interface = 0, .nr = 1, .opcode = EXMAP_OP_ALLOC,
	};
	struct exmap_action a;

	t_fill_vec(f->vec, EXMAP_VEC_MAX, 0, 1, 1);

	a = good;
	a.opcode = EXMAP_OP_MAX;
	assert_int_equal(action_errno(f, a), EINVAL);
	a.opcode = 0xffffffff;
	assert_int_equal(action_errno(f, a), EINVAL);
	a = good;
	a.interface = IFACES;
	assert_int_equal(action_errno(f, a), EINVAL);
	a.interface = 0xffffffff;
	assert_int_equal(action_errno(f, a), EINVAL);
	a = good;
	a.nr = 0;
	assert_int_equal(action_errno(f, a), EINVAL);
	a.nr = EXMAP_VEC_MAX + 1;
	assert_int_equal(action_errno(f, a), EINVAL);
	a = good;
	a.flags = 1;
	assert_int_equal(action_errno(f, a), EINVAL);
	assert_untouched(f);

	/* The limits themselves are fine. */
	struct exmap_iov *last = t_map_interface(f->fd, IFACES - 1);

	assert_non_null(last);
	t_fill_vec(last, EXMAP_VEC_MAX, 0, 1, 1);
	/* Results the module must overwrite: FREE of unmapped pages gives 0. */
	for (unsigned int i = 0; i < EXMAP_VEC_MAX; i++)
		last[i].res = -1234;
	a = good;
	a.interface = IFACES - 1;
	a.nr = EXMAP_VEC_MAX;
	a.opcode = EXMAP_OP_FREE;
	assert_int_equal(action_errno(f, a), 0);
	assert_int_equal(last[0].res, 0);
	assert_int_equal(last[EXMAP_VEC_MAX - 1].res, 0);
	munmap(last, T_PAGE);
}

/* Entry @bad of a vector of 8 is malformed: the call changes nothing. */
static void check_bad_entry(struct fixture *f, uint32_t page, uint16_t len)
{
	const int bad = 5;

	t_fill_vec(f->vec, 8, 0, 2, 1);
	f->vec[bad].page = page;
	f->vec[bad].len = len;
	assert_int_equal(t_action(f->fd, 0, EXMAP_OP_ALLOC, 8), -EINVAL);
	assert_int_equal(f->vec[bad].res, -EINVAL);
	assert_untouched(f);
}

static void test_bad_entries(void **state)
{
	struct fixture *f = *state;

	check_bad_entry(f, 0, 0);
	check_bad_entry(f, 0, EXMAP_ENTRY_MAX_PAGES + 1);
	check_bad_entry(f, 0, 0xffff);
	check_bad_entry(f, PAGES, 1);
	check_bad_entry(f, PAGES - 1, 2);
	check_bad_entry(f, 0xffffffff, 1);
	check_bad_entry(f, 0xffffffff, EXMAP_ENTRY_MAX_PAGES);
	/* The last page and a maximal entry are fine. */
	t_fill_vec(f->vec, 1, PAGES - 1, 0, 1);
	assert_int_equal(t_action(f->fd, 0, EXMAP_OP_ALLOC, 1), 0);
	assert_int_equal(t_action(f->fd, 0, EXMAP_OP_FREE, 1), 0);
	t_fill_vec(f->vec, 1, 0, 0, POOL);
	assert_int_equal(t_action(f->fd, 0, EXMAP_OP_ALLOC, 1), 0);
	assert_int_equal(f->vec[0].res, POOL);
	assert_int_equal(t_action(f->fd, 0, EXMAP_OP_FREE, 1), 0);
	assert_int_equal(f->vec[0].res, POOL);
}

static void test_pool_exhausted(void **state)
{
	struct fixture *f = *state;
	struct exmap_stats st;

	/* One entry larger than the pool: refused whole, nothing mapped. */
	t_fill_vec(f->vec, 1, 0, 0, POOL + 1);
	assert_int_equal(t_action(f->fd, 0, EXMAP_OP_ALLOC, 1), 1);
	assert_int_equal(f->vec[0].res, -ENOMEM);
	assert_int_equal(t_stats(f->fd, &st), 0);
	assert_int_equal(st.frames_in_use, 0);
	assert_true(t_read_faults(f->area));

	/* Three entries, room for two: the third fails, alone. */
	t_fill_vec(f->vec, 3, 0, 100, POOL / 2);
	assert_int_equal(t_action(f->fd, 0, EXMAP_OP_ALLOC, 3), 1);
	assert_int_equal(f->vec[0].res, POOL / 2);
	assert_int_equal(f->vec[1].res, POOL / 2);
	assert_int_equal(f->vec[2].res, -ENOMEM);
	assert_true(t_read_faults(f->area + 200 * T_PAGE));
	assert_int_equal(t_stats(f->fd, &st), 0);
	assert_int_equal(st.frames_in_use, POOL);

	/* Already mapped pages need no frame: this is not an error. */
	assert_int_equal(t_action(f->fd, 0, EXMAP_OP_ALLOC, 2), 0);
	assert_int_equal(f->vec[0].res, 0);
	assert_int_equal(f->vec[1].res, 0);

	assert_int_equal(t_action(f->fd, 0, EXMAP_OP_FREE, 3), 0);
	assert_int_equal(f->vec[2].res, 0);
	assert_int_equal(t_stats(f->fd, &st), 0);
	assert_int_equal(st.frames_in_use, 0);
	assert_int_equal(st.frames_taken, POOL);
}

/*
 * Entries may overlap and each page counts once, also when the pool is
 * nearly full: two entries over the same 8 pages need 8 frames, not 16;
 * 64 entries naming one page need one.
 */
static void test_overlap_small_pool(void **state)
{
	struct exmap_stats st;
	struct exmap_iov *vec;
	int fd = t_open();
	char *area;

	(void)state;
	assert_int_equal(t_setup(fd, 8, 1), 0);
	area = t_map_area(fd, 64);
	assert_non_null(area);
	vec = t_map_interface(fd, 0);
	assert_non_null(vec);

	t_fill_vec(vec, 2, 0, 0, 8);
	assert_int_equal(t_action(fd, 0, EXMAP_OP_ALLOC, 2), 0);
	assert_int_equal(vec[0].res, 8);
	assert_int_equal(vec[1].res, 0);
	assert_int_equal(t_stats(fd, &st), 0);
	assert_int_equal(st.frames_in_use, 8);
	assert_int_equal(st.frames_taken, 8);

	t_fill_vec(vec, 1, 0, 0, 8);
	assert_int_equal(t_action(fd, 0, EXMAP_OP_FREE, 1), 0);
	assert_int_equal(vec[0].res, 8);

	/* All 8 frames are free again: 64 entries of one page take one. */
	t_fill_vec(vec, 64, 3, 0, 1);
	assert_int_equal(t_action(fd, 0, EXMAP_OP_ALLOC, 64), 0);
	assert_int_equal(vec[0].res, 1);
	for (unsigned int i = 1; i < 64; i++)
		assert_int_equal(vec[i].res, 0);
	assert_int_equal(t_stats(fd, &st), 0);
	assert_int_equal(st.frames_in_use, 1);
	area[3 * T_PAGE] = 1;
	assert_true(t_read_faults(area + 4 * T_PAGE));

	munmap(vec, T_PAGE);
	munmap(area, 64 * T_PAGE);
	close(fd);
}

/*
 * A context with N pages mapped holds about N frames: 512 entries naming
 * one page take one frame from the system, not 512.
 */
static void test_overlap_takes_one_frame(void **state)
{
	long before = t_frames_held();
	struct exmap_stats st;
	struct exmap_iov *vec;
	int fd = t_open();
	char *area;

	(void)state;
	assert_true(before >= 0);
	assert_int_equal(t_setup(fd, 1024, 1), 0);
	area = t_map_area(fd, 64);
	assert_non_null(area);
	vec = t_map_interface(fd, 0);
	assert_non_null(vec);

	t_fill_vec(vec, EXMAP_VEC_MAX, 5, 0, 1);
	assert_int_equal(t_action(fd, 0, EXMAP_OP_ALLOC, EXMAP_VEC_MAX), 0);
	assert_int_equal(vec[0].res, 1);
	assert_int_equal(vec[EXMAP_VEC_MAX - 1].res, 0);
	assert_int_equal(t_stats(fd, &st), 0);
	assert_int_equal(st.frames_in_use, 1);
	assert_int_equal(st.frames_taken, 1);
	assert_int_equal(t_frames_held(), before + 1);

	munmap(vec, T_PAGE);
	munmap(area, 64 * T_PAGE);
	close(fd);
	assert_int_equal(t_frames_held(), before);
}

static void test_area_twice(void **state)
{
	struct fixture *f = *state;

	assert_null(t_map_area(f->fd, 16));
	assert_int_equal(errno, EBUSY);
}

static void test_area_private(void **state)
{
	int fd = t_open();
	void *p;

	(void)state;
	assert_int_equal(t_setup(fd, 8, 1), 0);
	p = mmap(NULL, 16 * T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
		 EXMAP_OFF_AREA);
	assert_true(p == MAP_FAILED);
	assert_int_equal(errno, EINVAL);
	/* Refused without a trace: a shared mapping still works. */
	p = t_map_area(fd, 16);
	assert_non_null(p);
	munmap(p, 16 * T_PAGE);
	close(fd);
}

static void test_interface_rejects(void **state)
{
	struct fixture *f = *state;
	void *p;

	p = mmap(NULL, 2 * T_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd,
		 EXMAP_OFF_INTERFACE(0));
	assert_true(p == MAP_FAILED);
	assert_int_equal(errno, EINVAL);
	assert_null(t_map_interface(f->fd, IFACES));
	assert_int_equal(errno, EINVAL);
	assert_null(t_map_interface(f->fd, 100000));
	assert_int_equal(errno, EINVAL);
	p = mmap(NULL, T_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, f->fd,
		 EXMAP_OFF_INTERFACE(1));
	assert_true(p == MAP_FAILED);
	assert_int_equal(errno, EINVAL);
	/*
	 * mmap() rounds a length up to whole pages before the module sees
	 * it: any length up to 4096 maps the interface page, longer ones are
	 * refused (above).
	 */
	p = mmap(NULL, 100, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd,
		 EXMAP_OFF_INTERFACE(0));
	assert_true(p != MAP_FAILED);
	f->vec[0].page = 4321;
	assert_int_equal(((struct exmap_iov *)p)[0].page, 4321);
	munmap(p, 100);
	p = mmap(NULL, T_PAGE + 1, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd,
		 EXMAP_OFF_INTERFACE(0));
	assert_true(p == MAP_FAILED);
	assert_int_equal(errno, EINVAL);
	/* A good interface mapping is the same page as any other of it. */
	p = t_map_interface(f->fd, 0);
	assert_non_null(p);
	f->vec[0].page = 1234;
	assert_int_equal(((struct exmap_iov *)p)[0].page, 1234);
	munmap(p, T_PAGE);
}

static void test_no_area(void **state)
{
	int fd = t_open();
	struct exmap_iov *vec;

	(void)state;
	assert_int_equal(t_setup(fd, 8, 1), 0);
	vec = t_map_interface(fd, 0);
	assert_non_null(vec);
	t_fill_vec(vec, 1, 0, 0, 1);
	assert_int_equal(t_action(fd, 0, EXMAP_OP_ALLOC, 1), -ENXIO);
	munmap(vec, T_PAGE);
	close(fd);
}

static void test_area_is_not_linux_memory(void **state)
{
	struct fixture *f = *state;
	void *moved, *dst;

	t_fill_vec(f->vec, 1, 0, 0, 4);
	assert_int_equal(t_action(f->fd, 0, EXMAP_OP_ALLOC, 1), 0);
	f->area[0] = 42;

	/* Linux may not zap, move or grow the area behind the module. */
	assert_int_equal(madvise(f->area, 4 * T_PAGE, MADV_DONTNEED), -1);
	assert_int_equal(errno, EINVAL);
	/*
	 * A place of its own to move to: MREMAP_FIXED unmaps whatever is at
	 * the destination even when the move then fails. Some address beside
	 * the area will not do: on 6.12, which puts the area on a 2 MiB
	 * boundary, ld.so was there one run in six, and went.
	 */
	dst = mmap(NULL, PAGES * T_PAGE, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(dst != MAP_FAILED);
	moved = mremap(f->area, PAGES * T_PAGE, PAGES * T_PAGE,
		       MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	assert_true(moved == MAP_FAILED);
	munmap(dst, PAGES * T_PAGE);
	moved = mremap(f->area, PAGES * T_PAGE, 2 * PAGES * T_PAGE, 0);
	assert_true(moved == MAP_FAILED);
	assert_int_equal(f->area[0], 42);

	assert_int_equal(t_action(f->fd, 0, EXMAP_OP_FREE, 1), 0);
	assert_int_equal(f->vec[0].res, 4);
}

static void test_other_process(void **state)
{
	struct fixture *f = *state;
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The area is not inherited: the child has none. */
		_exit(t_action(f->fd, 0, EXMAP_OP_ALLOC, 1) == -ENXIO ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_untouched(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_before_setup),
		cmocka_unit_test(test_setup_rejects),
		cmocka_unit_test(test_setup_reports),
		cmocka_unit_test_setup_teardown(test_setup_twice,
						ready_setup, ready_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_ioctl,
						ready_setup, ready_teardown),
		cmocka_unit_test_setup_teardown(test_bad_pointer,
						ready_setup, ready_teardown),
		cmocka_unit_test_setup_teardown(test_action_rejects,
						ready_setup, ready_teardown),
		cmocka_unit_test_setup_teardown(test_bad_entries,
						ready_setup, ready_teardown),
		cmocka_unit_test_setup_teardown(test_pool_exhausted,
						ready_setup, ready_teardown),
		cmocka_unit_test(test_overlap_small_pool),
		cmocka_unit_test(test_overlap_takes_one_frame),
		cmocka_unit_test_setup_teardown(test_area_twice,
						ready_setup, ready_teardown),
		cmocka_unit_test(test_area_private),
		cmocka_unit_test_setup_teardown(test_interface_rejects,
						ready_setup, ready_teardown),
		cmocka_unit_test(test_no_area),
		cmocka_unit_test_setup_teardown(test_area_is_not_linux_memory,
						ready_setup, ready_teardown),
		cmocka_unit_test_setup_teardown(test_other_process,
						ready_setup, ready_teardown),
	};

	if (!t_have_device())
		return T_EXIT_SKIP;
	return cmocka_run_group_tests_name("bad-input", tests, NULL, NULL);
}
