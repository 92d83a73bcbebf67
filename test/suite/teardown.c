// SPDX-License-Identifier: GPL-2.0
/*
 * Description: every way a context or part of its area goes away gives all
 * frames back: munmap (whole and in part), close, process exit, exit while
 * other threads are inside ALLOC or FREE, a kill, and fork. Checked through
 * the counters where the context lives on, and through the frames all
 * contexts hold (module parameter "frames") where it does not. The races
 * are set up with a handshake, and each asserts that it happened: that a
 * call was inside the module when the area or the process went away. The
 * runner checks the kernel log afterwards.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../helpers.h"

/* 64 MiB: long calls, and a clear mark in the frames count. */
#define BIG_FRAMES	16384
/* Rounds of each race; it must have happened in at least half of them. */
#define RACE_ROUNDS	4

/*
 * What a child reports to the parent through shared memory: the frames
 * all contexts held while it ran, and its threads' calls into the module,
 * counted just before each call and just after it returns.
 */
struct child_log {
	long frames;
	atomic_ulong entered[4], returned[4];
};

static struct child_log *child_log;

struct ctx {
	int fd;
	char *area;
	size_t pages;
	struct exmap_iov *vec;
};

static void ctx_open(struct ctx *c, uint64_t pool, unsigned int ifaces,
		     size_t pages)
{
	c->fd = t_open();
	assert_true(c->fd >= 0);
	assert_int_equal(t_setup(c->fd, pool, ifaces), 0);
	c->pages = pages;
	c->area = t_map_area(c->fd, pages);
	assert_non_null(c->area);
	c->vec = t_map_interface(c->fd, 0);
	assert_non_null(c->vec);
}

/* Maps @n pages from @first in 512-page entries and writes each one. */
static void alloc_range(struct ctx *c, uint32_t first, uint32_t n)
{
	uint32_t done = 0;

	while (done < n) {
		unsigned int nr = 0;

		while (nr < EXMAP_VEC_MAX && done < n) {
			uint32_t len = n - done < 512 ? n - done : 512;

			c->vec[nr].page = first + done;
			c->vec[nr].len = len;
			done += len;
			nr++;
		}
		assert_int_equal(t_action(c->fd, 0, EXMAP_OP_ALLOC, nr), 0);
	}
	for (uint32_t p = 0; p < n; p++)
		c->area[(first + p) * T_PAGE] = (char)(p | 1);
}

static uint64_t in_use(int fd)
{
	struct exmap_stats st;

	assert_int_equal(t_stats(fd, &st), 0);
	assert_int_equal(st.frames_free, st.frames_taken - st.frames_in_use);
	return st.frames_in_use;
}

/*
 * Every frame is back: the module's count of frames held by all contexts
 * is what it was, exactly (after io_uring's exit work, if any).
 */
static void assert_frames_back(long before_frames)
{
	assert_int_equal(t_frames_settle(before_frames), before_frames);
}

static void test_munmap_whole(void **state)
{
	struct ctx c;

	(void)state;
	ctx_open(&c, 4096, 1, 8192);
	alloc_range(&c, 100, 3000);
	assert_int_equal(in_use(c.fd), 3000);
	assert_int_equal(munmap(c.area, c.pages * T_PAGE), 0);
	assert_int_equal(in_use(c.fd), 0);
	/* The area is gone for good: no second one, no more actions. */
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_ALLOC, 1), -EINVAL);
	close(c.fd);
}

static void test_munmap_part(void **state)
{
	struct ctx c;

	(void)state;
	ctx_open(&c, 4096, 1, 4096);
	alloc_range(&c, 0, 2048);
	/* A hole of 300 pages in the middle of what is mapped. */
	assert_int_equal(munmap(c.area + 1000 * T_PAGE, 300 * T_PAGE), 0);
	assert_int_equal(in_use(c.fd), 2048 - 300);
	for (uint32_t p = 0; p < 2048; p++) {
		if (p >= 1000 && p < 1300)
			continue;
		assert_int_equal(c.area[p * T_PAGE], (char)(p | 1));
	}
	/* Entries in or across the hole are refused; around it they work. */
	t_fill_vec(c.vec, 1, 1100, 0, 1);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_ALLOC, 1), -EINVAL);
	t_fill_vec(c.vec, 1, 990, 0, 20);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 1), -EINVAL);
	assert_int_equal(in_use(c.fd), 2048 - 300);
	t_fill_vec(c.vec, 2, 900, 500, 100);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 2), 0);
	assert_int_equal(c.vec[0].res, 100);
	assert_int_equal(c.vec[1].res, 100);
	assert_int_equal(in_use(c.fd), 2048 - 500);
	/* Shrinking the area from its end gives those frames back too. */
	assert_int_equal(munmap(c.area + 2000 * T_PAGE, 2096 * T_PAGE), 0);
	assert_int_equal(in_use(c.fd), 2000 - 500);
	assert_int_equal(munmap(c.area, 1000 * T_PAGE), 0);
	assert_int_equal(munmap(c.area + 1300 * T_PAGE, 700 * T_PAGE), 0);
	assert_int_equal(in_use(c.fd), 0);
	close(c.fd);
}

static void test_mprotect_split(void **state)
{
	struct ctx c;

	(void)state;
	ctx_open(&c, 1024, 1, 1024);
	alloc_range(&c, 0, 1024);
	/* Read-only in the middle splits the VMA in three. */
	assert_int_equal(mprotect(c.area + 100 * T_PAGE, 100 * T_PAGE,
				  PROT_READ), 0);
	assert_int_equal(c.area[150 * T_PAGE], (char)(150 | 1));
	assert_true(t_write_faults(c.area + 150 * T_PAGE));
	/* FREE across the pieces of one area is still one call. */
	t_fill_vec(c.vec, 1, 50, 0, 200);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 1), -EINVAL);
	t_fill_vec(c.vec, 3, 50, 100, 50);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 3), 0);
	assert_int_equal(in_use(c.fd), 1024 - 150);
	/* Each page gets its own piece's protection, whatever comes first. */
	t_fill_vec(c.vec, 2, 60, 100, 1);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_ALLOC, 2), 0);
	assert_false(t_write_faults(c.area + 60 * T_PAGE));
	assert_false(t_read_faults(c.area + 160 * T_PAGE));
	assert_true(t_write_faults(c.area + 160 * T_PAGE));
	assert_int_equal(munmap(c.area, 1024 * T_PAGE), 0);
	assert_int_equal(in_use(c.fd), 0);
	close(c.fd);
}

struct racer {
	struct ctx *c;
	unsigned int iface;
	atomic_int *stop;
	atomic_int *phase;	/* 0 before the munmap, 1 in it, 2 after */
	atomic_int in_call;	/* set just before a call, cleared after */
	atomic_int refused_after;	/* refused since the munmap returned */
	unsigned long calls, refused, gone, bad, hits;
};

/*
 * ALLOC and FREE of one page and of 64 scattered pages, round and round,
 * in a slice of the area of its own (threads that free each other's pages
 * may see a transient -ENOMEM, see docs/api.md), never touching the area:
 * each call must either be refused with EINVAL (the area is gone) or give
 * every entry a count of pages in 0 .. len or, if it met the munmap half
 * done, -EINVAL. A call that began before the munmap returned and met the
 * area gone is a hit: the race happened.
 */
static void *alloc_free_racing(void *arg)
{
	struct racer *r = arg;
	struct exmap_iov *vec = t_map_interface(r->c->fd, r->iface);
	unsigned int seed = r->iface;

	if (!vec) {
		r->bad++;
		atomic_store(&r->refused_after, 1);
		return NULL;
	}
	do {
		unsigned int nr = r->calls % 2 ? 64 : 1;
		unsigned int op = r->calls % 4 < 2 ? EXMAP_OP_ALLOC :
						     EXMAP_OP_FREE;
		int ret, phase, met = 0;

		for (unsigned int i = 0; i < nr; i++) {
			vec[i].page = (r->iface - 1) * 1024 +
				      rand_r(&seed) % 1024;
			vec[i].len = 1;
		}
		phase = atomic_load(r->phase);
		atomic_store(&r->in_call, 1);
		ret = t_action(r->c->fd, r->iface, op, nr);
		atomic_store(&r->in_call, 0);
		r->calls++;
		if (ret == -EINVAL) {
			r->refused++;
			r->hits += phase < 2;
			if (phase == 2)
				atomic_store(&r->refused_after, 1);
			continue;
		}
		if (ret < 0) {
			print_message("op %u of %u: %d\n", op, nr, ret);
			r->bad++;
			continue;
		}
		for (unsigned int i = 0; i < nr; i++) {
			met += vec[i].res == -EINVAL;
			if (vec[i].res != -EINVAL &&
			    (vec[i].res < 0 || vec[i].res > 1)) {
				print_message("op %u entry %u: res %d\n", op,
					      i, vec[i].res);
				r->bad++;
			}
		}
		r->gone += met;
		r->hits += met && phase < 2;
	} while (!atomic_load(r->stop));
	munmap(vec, T_PAGE);
	return NULL;
}

/*
 * munmap() of the whole area while other threads run ALLOC and FREE on it:
 * the calls that race with it see the area whole or gone, never anything
 * else, and every frame comes back. The munmap starts while a racer is
 * inside a call, and each round lasts until every racer has been refused
 * after it; in at least half the rounds a call that began before the
 * munmap returned must have met it.
 */
static void test_munmap_whole_while_busy(void **state)
{
	struct racer r[3];
	pthread_t th[3];
	atomic_int stop = 0, phase;
	unsigned long calls = 0, refused = 0, gone = 0;
	int rounds_hit = 0, rounds = 5 * RACE_ROUNDS;
	struct ctx c;

	(void)state;
	for (int round = 0; round < rounds; round++) {
		unsigned long hits = 0;
		bool inside = false;

		/* A pool as big as the area: no entry can run short. */
		ctx_open(&c, 4096, 4, 4096);
		alloc_range(&c, 0, 512);
		atomic_store(&phase, 0);
		for (int i = 0; i < 3; i++) {
			r[i] = (struct racer){ .c = &c, .iface = i + 1,
					       .stop = &stop,
					       .phase = &phase };
			assert_int_equal(pthread_create(&th[i], NULL,
							alloc_free_racing,
							&r[i]), 0);
		}
		/* The handshake: munmap while some racer is in a call. */
		while (!inside) {
			for (int i = 0; i < 3; i++)
				inside |= atomic_load(&r[i].in_call) ||
					  atomic_load(&r[i].refused_after);
		}
		atomic_store(&phase, 1);
		assert_int_equal(munmap(c.area, c.pages * T_PAGE), 0);
		atomic_store(&phase, 2);
		for (int i = 0; i < 3; i++)
			while (!atomic_load(&r[i].refused_after))
				sched_yield();
		atomic_store(&stop, 1);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(pthread_join(th[i], NULL), 0);
			assert_int_equal(r[i].bad, 0);
			calls += r[i].calls;
			refused += r[i].refused;
			gone += r[i].gone;
			hits += r[i].hits;
		}
		rounds_hit += hits > 0;
		atomic_store(&stop, 0);
		assert_int_equal(in_use(c.fd), 0);
		munmap(c.vec, T_PAGE);
		close(c.fd);
	}
	print_message("%lu calls, %lu refused, %lu entries met the munmap; "
		      "a call met it in %d of %d rounds\n", calls, refused,
		      gone, rounds_hit, rounds);
	assert_true(rounds_hit * 2 >= rounds);
}

static void test_close_then_munmap(void **state)
{
	long frames = t_frames_held();
	struct ctx c;

	(void)state;
	ctx_open(&c, BIG_FRAMES, 1, BIG_FRAMES);
	alloc_range(&c, 0, BIG_FRAMES);
	assert_int_equal(t_frames_held(), frames + BIG_FRAMES);
	close(c.fd);
	/* The mappings keep the context alive after close. */
	assert_int_equal(c.area[(BIG_FRAMES - 1) * T_PAGE],
			 (char)((BIG_FRAMES - 1) | 1));
	assert_int_equal(t_frames_held(), frames + BIG_FRAMES);
	munmap(c.vec, T_PAGE);
	munmap(c.area, c.pages * T_PAGE);
	assert_frames_back(frames);
}

/*
 * Runs @body in a child, which must end by exit (status 0) or by the
 * signal @expect_signal, having held at least @held frames on the way;
 * then every frame is back.
 */
static void run_child(void (*body)(void), int expect_signal, long held)
{
	long frames = t_frames_held();
	int status;
	pid_t pid;

	memset(child_log, 0, sizeof(*child_log));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		body();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (expect_signal) {
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), expect_signal);
	} else {
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_true(child_log->frames >= frames + held);
	assert_frames_back(frames);
}

static void exit_with_pages(void)
{
	struct ctx c;

	ctx_open(&c, BIG_FRAMES, 1, BIG_FRAMES);
	alloc_range(&c, 0, BIG_FRAMES);
	child_log->frames = t_frames_held();
	/* Exit without munmap or close. */
}

static void test_exit(void **state)
{
	(void)state;
	run_child(exit_with_pages, 0, BIG_FRAMES);
}

struct busy {
	struct ctx *c;
	unsigned int iface;
};

/*
 * Loops ALLOC and FREE of 512 pages on its own interface until the process
 * ends, counting each call in the child log before and after it.
 */
static void *alloc_free_forever(void *arg)
{
	struct busy *b = arg;
	struct exmap_iov *vec = t_map_interface(b->c->fd, b->iface);
	uint32_t base = BIG_FRAMES / 2 + (b->iface - 1) * EXMAP_VEC_MAX;
	atomic_ulong *in = &child_log->entered[b->iface];
	atomic_ulong *out = &child_log->returned[b->iface];

	if (!vec)
		_exit(3);
	t_fill_vec(vec, EXMAP_VEC_MAX, base, 1, 1);
	for (;;) {
		int ret;

		atomic_fetch_add(in, 1);
		ret = t_action(b->c->fd, b->iface, EXMAP_OP_ALLOC,
			       EXMAP_VEC_MAX);
		atomic_fetch_add(out, 1);
		if (ret < 0)
			_exit(4);
		atomic_fetch_add(in, 1);
		ret = t_action(b->c->fd, b->iface, EXMAP_OP_FREE,
			       EXMAP_VEC_MAX);
		atomic_fetch_add(out, 1);
		if (ret < 0)
			_exit(4);
	}
	return NULL;
}

/* @n threads on interfaces 1..n; returns once every one is inside a call. */
static void start_busy(struct ctx *c, struct busy *b, pthread_t *tid,
		       int n)
{
	for (int i = 0; i < n; i++) {
		b[i] = (struct busy){ .c = c, .iface = 1 + i };
		if (pthread_create(&tid[i], NULL, alloc_free_forever, &b[i]))
			_exit(5);
	}
	for (int i = 1; i <= n; i++)
		while (atomic_load(&child_log->entered[i]) < 4 ||
		       atomic_load(&child_log->entered[i]) ==
		       atomic_load(&child_log->returned[i]))
			;
}

/* Threads of the child that died inside a call. */
static int died_inside(void)
{
	int n = 0;

	for (int i = 0; i < 4; i++)
		n += atomic_load(&child_log->entered[i]) !=
		     atomic_load(&child_log->returned[i]);
	return n;
}

static void exit_while_busy(void)
{
	struct busy b[3];
	pthread_t tid[3];
	struct ctx c;

	ctx_open(&c, BIG_FRAMES, 4, BIG_FRAMES);
	alloc_range(&c, 0, BIG_FRAMES / 2);
	start_busy(&c, b, tid, 3);
	child_log->frames = t_frames_held();
	/* exit_group while the others are inside ALLOC or FREE. */
	exit(0);
}

/*
 * Exit and SIGKILL while threads are inside calls: every frame comes back,
 * and in at least half the rounds a thread was inside a call when the
 * process went (it had entered one and never returned).
 */
static void race_rounds(void (*body)(void), int expect_signal)
{
	int rounds_hit = 0;

	for (int round = 0; round < RACE_ROUNDS; round++) {
		run_child(body, expect_signal, BIG_FRAMES / 2);
		rounds_hit += died_inside() > 0;
	}
	print_message("threads died inside a call in %d of %d rounds\n",
		      rounds_hit, RACE_ROUNDS);
	assert_true(rounds_hit * 2 >= RACE_ROUNDS);
}

static void test_exit_while_busy(void **state)
{
	(void)state;
	race_rounds(exit_while_busy, 0);
}

static void killed_while_busy(void)
{
	struct busy b[2];
	pthread_t tid[2];
	struct ctx c;

	ctx_open(&c, BIG_FRAMES, 4, BIG_FRAMES);
	alloc_range(&c, 0, BIG_FRAMES / 2);
	start_busy(&c, b, tid, 2);
	child_log->frames = t_frames_held();
	kill(getpid(), SIGKILL);
}

static void test_kill_while_busy(void **state)
{
	(void)state;
	race_rounds(killed_while_busy, SIGKILL);
}

static void test_fork(void **state)
{
	struct ctx c;
	int status;
	pid_t pid;

	(void)state;
	ctx_open(&c, 1024, 1, 1024);
	alloc_range(&c, 0, 1024);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Neither the area nor the interface came along. */
		int ok = t_read_faults(c.area) && t_read_faults(c.vec) &&
			 t_action(c.fd, 0, EXMAP_OP_FREE, 1) == -ENXIO;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The parent's pages are untouched. */
	for (uint32_t p = 0; p < 1024; p++)
		assert_int_equal(c.area[p * T_PAGE], (char)(p | 1));
	assert_int_equal(in_use(c.fd), 1024);
	munmap(c.area, c.pages * T_PAGE);
	assert_int_equal(in_use(c.fd), 0);
	close(c.fd);
}

static void many_contexts(void)
{
	struct ctx c[16];

	for (int i = 0; i < 16; i++) {
		ctx_open(&c[i], BIG_FRAMES / 16, 1, BIG_FRAMES / 16);
		alloc_range(&c[i], 0, BIG_FRAMES / 16);
	}
	child_log->frames = t_frames_held();
	/* Half closed by hand, half by exit. */
	for (int i = 0; i < 8; i++) {
		munmap(c[i].area, c[i].pages * T_PAGE);
		close(c[i].fd);
	}
}

static void test_many_contexts(void **state)
{
	(void)state;
	run_child(many_contexts, 0, BIG_FRAMES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_munmap_whole),
		cmocka_unit_test(test_munmap_part),
		cmocka_unit_test(test_munmap_whole_while_busy),
		cmocka_unit_test(test_mprotect_split),
		cmocka_unit_test(test_close_then_munmap),
		cmocka_unit_test(test_exit),
		cmocka_unit_test(test_exit_while_busy),
		cmocka_unit_test(test_kill_while_busy),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_many_contexts),
	};

	if (!t_have_device())
		return T_EXIT_SKIP;
	child_log = mmap(NULL, sizeof(*child_log), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (child_log == MAP_FAILED)
		return T_EXIT_FAIL;
	return cmocka_run_group_tests_name("teardown", tests, NULL, NULL);
}
