// SPDX-License-Identifier: GPL-2.0
/*
 * Description: rewiring. ALIAS maps a page's frame at other pages (writes
 * through one address are seen through the others), MOVE gives frames to
 * new pages and unmaps the old ones, QUERY counts mapped and shared pages.
 * A frame goes back to the pool only when its last page is gone, by FREE,
 * munmap or exit, exactly once; bad entries are refused with their
 * documented errno and change nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../helpers.h"

#define POOL	64
#define PAGES	2048	/* four page tables' worth */

struct ctx {
	int fd;
	char *area;
	struct exmap_iov *vec;
	struct exmap_rewire *rw;	/* the same page, seen as rewires */
};

static int ctx_setup(void **state)
{
	static struct ctx c;

	c.fd = t_open();
	assert_true(c.fd >= 0);
	assert_int_equal(t_setup(c.fd, POOL, 2), 0);
	c.area = t_map_area(c.fd, PAGES);
	assert_non_null(c.area);
	c.vec = t_map_interface(c.fd, 0);
	assert_non_null(c.vec);
	c.rw = (struct exmap_rewire *)c.vec;
	*state = &c;
	return 0;
}

static int ctx_teardown(void **state)
{
	struct ctx *c = *state;

	munmap(c->vec, T_PAGE);
	if (c->area)
		munmap(c->area, PAGES * T_PAGE);
	close(c->fd);
	return 0;
}

static int stats2(int fd, struct exmap_stats2 *st)
{
	return ioctl(fd, EXMAP_IOC_STATS2, st) ? -errno : 0;
}

static void set_rw(struct exmap_rewire *rw, uint32_t src, uint32_t dst,
		   uint16_t len)
{
	*rw = (struct exmap_rewire){ .src = src, .dst = dst, .len = len };
}

/* Maps pages [page, page + len) and writes a pattern of @tag into each. */
static void alloc_fill(struct ctx *c, uint32_t page, uint16_t len, int tag)
{
	t_fill_vec(c->vec, 1, page, 0, len);
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_ALLOC, 1), 0);
	for (uint32_t p = page; p < page + len; p++)
		memset(c->area + p * T_PAGE, tag + (int)(p - page),
		       T_PAGE);
}

static void free_run(struct ctx *c, uint32_t page, uint16_t len)
{
	t_fill_vec(c->vec, 1, page, 0, len);
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_FREE, 1), 0);
}

/* The frame counts of an idle context. */
static void assert_frames(struct ctx *c, uint64_t in_use, uint64_t shared)
{
	struct exmap_stats2 st;

	assert_int_equal(stats2(c->fd, &st), 0);
	assert_int_equal(st.base.frames_in_use, in_use);
	assert_int_equal(st.aliased_frames, shared);
	assert_int_equal(st.base.frames_in_use + st.base.frames_free,
			 st.base.frames_taken);
}

static void test_alias_shares_data(void **state)
{
	struct ctx *c = *state;
	struct exmap_stats2 st;

	alloc_fill(c, 0, 4, 'a');
	set_rw(&c->rw[0], 0, 600, 4);	/* into another page table */
	set_rw(&c->rw[1], 2, 9, 1);	/* same table, second alias of 2 */
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_ALIAS, 2), 0);
	assert_int_equal(c->rw[0].res, 4);
	assert_int_equal(c->rw[1].res, 1);
	for (int p = 0; p < 4; p++)
		assert_int_equal(c->area[(600 + p) * T_PAGE + 100], 'a' + p);
	assert_int_equal(c->area[9 * T_PAGE], 'a' + 2);

	/* A write through any address is seen through the others. */
	c->area[601 * T_PAGE + 7] = 'X';
	assert_int_equal(c->area[1 * T_PAGE + 7], 'X');
	c->area[9 * T_PAGE + 8] = 'Y';
	assert_int_equal(c->area[2 * T_PAGE + 8], 'Y');
	assert_int_equal(c->area[602 * T_PAGE + 8], 'Y');

	assert_frames(c, 4, 4);
	assert_int_equal(stats2(c->fd, &st), 0);
	assert_int_equal(st.alias_pages, 5);
	assert_int_equal(st.base.alloc_pages, 4);

	/* QUERY: mapped pages, and shared ones. */
	t_fill_vec(c->vec, 3, 0, 600, 8);	/* 0..7, 600..607, 1200.. */
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_QUERY, 3), 0);
	assert_int_equal(c->vec[0].res, 4);
	assert_int_equal(c->vec[1].res, 4);
	assert_int_equal(c->vec[2].res, 0);
	t_fill_vec(c->vec, 2, 0, 9, 1);		/* pages 0 and 9 */
	struct exmap_action q = { .nr = 2, .opcode = EXMAP_OP_QUERY,
				  .flags = EXMAP_ACTION_QUERY_SHARED };
	assert_int_equal(ioctl(c->fd, EXMAP_IOC_ACTION, &q), 0);
	assert_int_equal(c->vec[0].res, 1);
	assert_int_equal(c->vec[1].res, 1);

	/* FREE of one alias leaves the others; the frame goes last. */
	free_run(c, 0, 4);
	assert_true(t_read_faults(c->area));
	assert_int_equal(c->area[601 * T_PAGE + 7], 'X');
	assert_int_equal(c->area[9 * T_PAGE + 8], 'Y');
	assert_frames(c, 4, 1);		/* page 2's frame: at 9 and 602 */
	free_run(c, 600, 4);
	assert_true(t_read_faults(c->area + 600 * T_PAGE));
	assert_int_equal(c->area[9 * T_PAGE + 8], 'Y');
	assert_frames(c, 1, 0);
	free_run(c, 9, 1);
	assert_true(t_read_faults(c->area + 9 * T_PAGE));
	assert_frames(c, 0, 0);
}

static void test_move(void **state)
{
	struct ctx *c = *state;
	struct exmap_stats2 st, before;

	assert_int_equal(stats2(c->fd, &before), 0);
	alloc_fill(c, 10, 8, 'm');
	set_rw(&c->rw[0], 10, 1500, 8);
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_MOVE, 1), 0);
	assert_int_equal(c->rw[0].res, 8);
	for (int p = 0; p < 8; p++) {
		assert_true(t_read_faults(c->area + (10 + p) * T_PAGE));
		assert_int_equal(c->area[(1500 + p) * T_PAGE + 5], 'm' + p);
	}
	assert_frames(c, 8, 0);
	assert_int_equal(stats2(c->fd, &st), 0);
	assert_int_equal(st.move_pages - before.move_pages, 8);
	assert_int_equal(st.base.tlb_flushes - before.base.tlb_flushes, 1);

	/* Back again, in two entries of one call, then free it all. */
	set_rw(&c->rw[0], 1500, 10, 4);
	set_rw(&c->rw[1], 1504, 14, 4);
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_MOVE, 2), 0);
	assert_int_equal(c->area[13 * T_PAGE + 5], 'm' + 3);
	assert_int_equal(c->area[17 * T_PAGE + 5], 'm' + 7);
	free_run(c, 10, 8);
	assert_frames(c, 0, 0);
}

static void test_move_aliased(void **state)
{
	struct ctx *c = *state;

	alloc_fill(c, 20, 1, 'q');
	set_rw(&c->rw[0], 20, 30, 1);
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_ALIAS, 1), 0);
	set_rw(&c->rw[0], 30, 1800, 1);
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_MOVE, 1), 0);
	assert_true(t_read_faults(c->area + 30 * T_PAGE));
	c->area[1800 * T_PAGE] = 'Z';
	assert_int_equal(c->area[20 * T_PAGE], 'Z');
	assert_frames(c, 1, 1);
	free_run(c, 20, 1);
	assert_frames(c, 1, 0);
	assert_int_equal(c->area[1800 * T_PAGE], 'Z');
	free_run(c, 1800, 1);
	assert_frames(c, 0, 0);
}

/*
 * Entries that fail their check change nothing: -ENOENT for an unmapped
 * source page, -EEXIST for a mapped destination page, each entry alone.
 */
static void test_entry_errors(void **state)
{
	struct ctx *c = *state;

	alloc_fill(c, 40, 4, 'e');
	alloc_fill(c, 50, 1, 'f');
	set_rw(&c->rw[0], 40, 48, 4);	/* 48..51: 50 is mapped */
	set_rw(&c->rw[1], 43, 60, 2);	/* 44 is not mapped */
	set_rw(&c->rw[2], 40, 70, 2);	/* fine */
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_ALIAS, 3), 2);
	assert_int_equal(c->rw[0].res, -EEXIST);
	assert_int_equal(c->rw[1].res, -ENOENT);
	assert_int_equal(c->rw[2].res, 2);
	assert_true(t_read_faults(c->area + 48 * T_PAGE));
	assert_true(t_read_faults(c->area + 60 * T_PAGE));
	assert_int_equal(c->area[50 * T_PAGE], 'f');

	set_rw(&c->rw[0], 40, 50, 1);	/* MOVE onto a mapped page */
	set_rw(&c->rw[1], 44, 80, 1);	/* MOVE of an unmapped page */
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_MOVE, 2), 2);
	assert_int_equal(c->rw[0].res, -EEXIST);
	assert_int_equal(c->rw[1].res, -ENOENT);
	assert_int_equal(c->area[40 * T_PAGE], 'e');
	assert_int_equal(c->area[50 * T_PAGE], 'f');
	assert_true(t_read_faults(c->area + 80 * T_PAGE));

	free_run(c, 40, 4);
	free_run(c, 50, 1);
	free_run(c, 70, 2);
	assert_frames(c, 0, 0);
}

/* Malformed calls are refused whole, and the bad entry is marked. */
static void test_refused(void **state)
{
	struct ctx *c = *state;
	struct exmap_action a = { .opcode = EXMAP_OP_ALIAS, .nr = 2 };
	static const struct exmap_rewire bad[] = {
		{ .src = 0, .dst = 5, .len = 10 },		/* overlap */
		{ .src = 5, .dst = 0, .len = 10 },		/* overlap */
		{ .src = 0, .dst = 10, .len = 0 },
		{ .src = 0, .dst = 1000, .len = EXMAP_ENTRY_MAX_PAGES + 1 },
		{ .src = 0, .dst = PAGES - 1, .len = 2 },	/* past end */
		{ .src = PAGES, .dst = 10, .len = 1 },
		{ .src = 0, .dst = 10, .len = 1, .resv = 1 },
	};

	alloc_fill(c, 0, 1, 'r');
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		set_rw(&c->rw[0], 0, 20, 1);	/* a good first entry */
		c->rw[1] = bad[k];
		c->rw[1].res = 0;
		for (unsigned int op = EXMAP_OP_ALIAS; op <= EXMAP_OP_MOVE;
		     op++) {
			a.opcode = op;
			assert_int_equal(ioctl(c->fd, EXMAP_IOC_ACTION, &a),
					 -1);
			assert_int_equal(errno, EINVAL);
			assert_int_equal(c->rw[1].res, -EINVAL);
			c->rw[1].res = 0;
		}
		assert_true(t_read_faults(c->area + 20 * T_PAGE));
	}

	/* nr above 256; flags on anything but QUERY; unknown QUERY flags. */
	set_rw(&c->rw[0], 0, 20, 1);
	a = (struct exmap_action){ .opcode = EXMAP_OP_ALIAS,
				   .nr = EXMAP_REWIRE_VEC_MAX + 1 };
	assert_int_equal(ioctl(c->fd, EXMAP_IOC_ACTION, &a), -1);
	assert_int_equal(errno, EINVAL);
	a = (struct exmap_action){ .opcode = EXMAP_OP_ALIAS, .nr = 1,
				   .flags = EXMAP_ACTION_QUERY_SHARED };
	assert_int_equal(ioctl(c->fd, EXMAP_IOC_ACTION, &a), -1);
	assert_int_equal(errno, EINVAL);
	t_fill_vec(c->vec, 1, 0, 0, 1);
	a = (struct exmap_action){ .opcode = EXMAP_OP_QUERY, .nr = 1,
				   .flags = 2 };
	assert_int_equal(ioctl(c->fd, EXMAP_IOC_ACTION, &a), -1);
	assert_int_equal(errno, EINVAL);
	a.opcode = EXMAP_OP_MAX;
	a.flags = 0;
	assert_int_equal(ioctl(c->fd, EXMAP_IOC_ACTION, &a), -1);
	assert_int_equal(errno, EINVAL);

	assert_true(t_read_faults(c->area + 20 * T_PAGE));
	free_run(c, 0, 1);
	assert_frames(c, 0, 0);
}

/*
 * munmap of part of the area takes its pages away: a frame aliased inside
 * and outside the hole stays in use until its last page goes, and every
 * frame comes back exactly once.
 */
static void test_munmap_with_aliases(void **state)
{
	struct ctx *c = *state;
	struct exmap_stats2 st;

	alloc_fill(c, 0, 4, 'u');		/* frames A..D at 0..3 */
	set_rw(&c->rw[0], 0, 1030, 4);		/* aliased in the hole */
	set_rw(&c->rw[1], 1, 1100, 1);		/* B twice in the hole */
	set_rw(&c->rw[2], 2, 5, 1);		/* C again outside */
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_ALIAS, 3), 0);
	alloc_fill(c, 1040, 2, 'h');		/* only in the hole */
	assert_frames(c, 6, 4);

	/* Unmap pages 1024 .. 1535. */
	assert_int_equal(munmap(c->area + 1024 * T_PAGE, 512 * T_PAGE), 0);
	assert_frames(c, 4, 1);			/* C still at 2 and 5 */
	for (int p = 0; p < 4; p++)
		assert_int_equal(c->area[p * T_PAGE + 9], 'u' + p);
	assert_int_equal(c->area[5 * T_PAGE + 9], 'u' + 2);

	/* Rewiring into the hole is refused. */
	set_rw(&c->rw[0], 0, 1030, 1);
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_ALIAS, 1), -EINVAL);

	free_run(c, 0, 6);
	assert_frames(c, 0, 0);
	assert_int_equal(stats2(c->fd, &st), 0);
	assert_int_equal(st.base.frames_taken, 6);

	/* Everything goes, aliased or not, at the last munmap. */
	alloc_fill(c, 0, 1, 'v');
	set_rw(&c->rw[0], 0, 1800, 1);
	set_rw(&c->rw[1], 0, 3, 1);
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_ALIAS, 2), 0);
	assert_int_equal(munmap(c->area, 1024 * T_PAGE), 0);
	assert_frames(c, 1, 0);			/* at 1800 alone now */
	assert_int_equal(munmap(c->area + 1536 * T_PAGE, 512 * T_PAGE), 0);
	c->area = NULL;
	assert_frames(c, 0, 0);
}

/* munmap of one alias, then of the source: the frame goes with the last. */
static void test_munmap_one_alias(void **state)
{
	struct ctx *c = *state;

	alloc_fill(c, 100, 1, 's');
	set_rw(&c->rw[0], 100, 200, 1);
	set_rw(&c->rw[1], 100, 300, 1);
	assert_int_equal(t_action(c->fd, 0, EXMAP_OP_ALIAS, 2), 0);
	assert_frames(c, 1, 1);

	assert_int_equal(munmap(c->area + 200 * T_PAGE, T_PAGE), 0);
	assert_frames(c, 1, 1);			/* still at 100 and 300 */
	assert_int_equal(c->area[300 * T_PAGE], 's');
	assert_int_equal(munmap(c->area + 100 * T_PAGE, T_PAGE), 0);
	assert_frames(c, 1, 0);			/* at 300 alone */
	assert_int_equal(c->area[300 * T_PAGE + 1], 's');
	assert_int_equal(munmap(c->area + 300 * T_PAGE, T_PAGE), 0);
	assert_frames(c, 0, 0);
}

/* Exit and fork with aliases: the child has none; every frame returns. */
static void test_exit_with_aliases(void **state)
{
	long before = t_frames_held();
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = t_open();
		char *area;
		struct exmap_rewire *rw;

		if (fd < 0 || t_setup(fd, 32, 1))
			_exit(2);
		area = t_map_area(fd, 1024);
		rw = (struct exmap_rewire *)t_map_interface(fd, 0);
		if (!area || !rw)
			_exit(3);
		t_fill_vec((struct exmap_iov *)rw, 1, 0, 0, 16);
		if (t_action(fd, 0, EXMAP_OP_ALLOC, 1))
			_exit(4);
		for (int k = 0; k < 16; k++)
			rw[k] = (struct exmap_rewire){
				.src = k, .dst = 600 + k * 3, .len = 1 };
		if (t_action(fd, 0, EXMAP_OP_ALIAS, 16))
			_exit(5);
		/* A forked grandchild sees no area and may not rewire. */
		if (fork() == 0)
			_exit(t_action(fd, 0, EXMAP_OP_ALIAS, 1) == -ENXIO ?
			      0 : 6);
		wait(&status);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 7);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(t_frames_settle(before), before);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_alias_shares_data,
						ctx_setup, ctx_teardown),
		cmocka_unit_test_setup_teardown(test_move,
						ctx_setup, ctx_teardown),
		cmocka_unit_test_setup_teardown(test_move_aliased,
						ctx_setup, ctx_teardown),
		cmocka_unit_test_setup_teardown(test_entry_errors,
						ctx_setup, ctx_teardown),
		cmocka_unit_test_setup_teardown(test_refused,
						ctx_setup, ctx_teardown),
		cmocka_unit_test_setup_teardown(test_munmap_with_aliases,
						ctx_setup, ctx_teardown),
		cmocka_unit_test_setup_teardown(test_munmap_one_alias,
						ctx_setup, ctx_teardown),
		cmocka_unit_test(test_exit_with_aliases),
	};

	(void)argv;
	if (argc > 1 || !t_have_device())
		return T_EXIT_SKIP;
	return cmocka_run_group_tests_name("rewire", tests, NULL, NULL);
}
