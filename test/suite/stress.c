// SPDX-License-Identifier: GPL-2.0
/*
 * Description: several threads ALLOC, write their own pattern, verify it
 * and FREE, at once, on their own interfaces and then crossing interfaces
 * (allocate on one, free on another that nobody allocates on) with a pool
 * too small for all of them, so that frames must move between interfaces.
 * At the end every frame is free and the counters add up. Then a pool twice
 * the machine's memory, allocated until the module stops at the memory it
 * leaves to the system (reserve_pct), the same with a reserve of half the
 * machine, and long ALLOC, FREE and READ calls under a storm of signals.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "../helpers.h"

#define THREADS		4
#define REGION		4096	/* pages of area per thread */
#define ROUNDS		60

struct shared {
	int fd;
	char *area;
	int cross;		/* free on an interface no one allocates on */
	pthread_barrier_t barrier;
};

struct worker {
	struct shared *sh;
	unsigned int id;
	uint64_t pool;
	unsigned long pages;
	unsigned long enomem;
	/* Rounds that needed more frames than the whole pool on their own. */
	unsigned long certain;
	const char *error;
};

static uint64_t pattern(unsigned int id, unsigned int round, uint32_t page)
{
	return ((uint64_t)id << 48) ^ ((uint64_t)round << 32) ^ page ^
	       0x5a5a5a5a5a5aULL;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;
	unsigned int alloc_if = w->id;
	unsigned int free_if = sh->cross ? THREADS + w->id : w->id;
	struct exmap_iov *av = t_map_interface(sh->fd, alloc_if);
	struct exmap_iov *fv = t_map_interface(sh->fd, free_if);
	unsigned int seed = w->id * 7919 + 1;

	if (!av || !fv) {
		w->error = "map interface";
		return NULL;
	}
	for (unsigned int round = 0; round < ROUNDS && !w->error; round++) {
		unsigned int nr = 1 + rand_r(&seed) % 64;
		struct exmap_iov vec[64];
		uint64_t need = 0;
		int ret;

		/* Random non-overlapping entries inside the own region. */
		for (unsigned int i = 0; i < nr; i++) {
			vec[i].page = w->id * REGION + i * (REGION / 64) +
				      rand_r(&seed) % 32;
			vec[i].len = 1 + rand_r(&seed) % 30;
			vec[i].res = 0;
			need += vec[i].len;
		}
		/* Nothing mapped at the start of a round: some entry fails. */
		w->certain += need > w->pool;
		memcpy(av, vec, nr * sizeof(vec[0]));
		ret = t_action(sh->fd, alloc_if, EXMAP_OP_ALLOC, nr);
		if (ret < 0) {
			w->error = "ALLOC refused";
			break;
		}
		for (unsigned int i = 0; i < nr; i++) {
			vec[i].res = av[i].res;
			if (vec[i].res == -ENOMEM) {
				w->enomem++;
				continue;
			}
			if (vec[i].res != vec[i].len) {
				w->error = "ALLOC entry result";
				break;
			}
			for (uint32_t p = 0; p < vec[i].len; p++) {
				uint64_t *q = (uint64_t *)(sh->area +
					(size_t)(vec[i].page + p) * T_PAGE);

				for (int k = 0; k < 512; k += 64)
					q[k] = pattern(w->id, round,
						       vec[i].page + p);
			}
		}
		sched_yield();
		for (unsigned int i = 0; i < nr && !w->error; i++) {
			if (vec[i].res < 0)
				continue;
			for (uint32_t p = 0; p < vec[i].len; p++) {
				uint64_t *q = (uint64_t *)(sh->area +
					(size_t)(vec[i].page + p) * T_PAGE);

				for (int k = 0; k < 512; k += 64) {
					if (q[k] != pattern(w->id, round,
							    vec[i].page + p))
						w->error = "pattern changed";
				}
			}
			w->pages += vec[i].len;
		}
		memcpy(fv, vec, nr * sizeof(vec[0]));
		ret = t_action(sh->fd, free_if, EXMAP_OP_FREE, nr);
		if (ret != 0) {
			w->error = "FREE failed";
			break;
		}
		for (unsigned int i = 0; i < nr; i++) {
			int want = vec[i].res < 0 ? 0 : vec[i].len;

			if (fv[i].res != want)
				w->error = "FREE entry result";
		}
	}
	return NULL;
}

static void run(uint64_t pool, int cross, unsigned long *enomem,
		unsigned long *certain)
{
	struct worker w[THREADS];
	pthread_t tid[THREADS];
	struct shared sh = { .cross = cross };
	struct exmap_stats st;
	unsigned long pages = 0;

	sh.fd = t_open();
	assert_true(sh.fd >= 0);
	assert_int_equal(t_setup(sh.fd, pool, 2 * THREADS), 0);
	sh.area = t_map_area(sh.fd, THREADS * REGION);
	assert_non_null(sh.area);

	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .sh = &sh, .id = i, .pool = pool };
		assert_int_equal(pthread_create(&tid[i], NULL, worker_main,
						&w[i]), 0);
	}
	*enomem = 0;
	*certain = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(tid[i], NULL);
		if (w[i].error)
			fail_msg("thread %d: %s", i, w[i].error);
		pages += w[i].pages;
		*enomem += w[i].enomem;
		*certain += w[i].certain;
	}

	assert_int_equal(t_stats(sh.fd, &st), 0);
	assert_int_equal(st.frames_in_use, 0);
	assert_int_equal(st.alloc_pages, st.free_pages);
	assert_int_equal(st.alloc_pages, pages);
	assert_true(st.frames_taken <= pool);
	assert_int_equal(st.frames_free, st.frames_taken);
	/* Frames freed on the other interfaces came back to the allocators. */
	if (cross)
		assert_true(st.steals > 0);
	munmap(sh.area, THREADS * REGION * T_PAGE);
	close(sh.fd);
}

static void test_own_interfaces(void **state)
{
	unsigned long enomem, certain;

	(void)state;
	/* Room for every thread's largest round: no entry may fail. */
	run(THREADS * 64 * 30, 0, &enomem, &certain);
	assert_int_equal(enomem, 0);
	assert_int_equal(certain, 0);
}

static void test_crossing_small_pool(void **state)
{
	unsigned long enomem, certain;

	(void)state;
	/*
	 * Too small for all: entries fail with ENOMEM and nothing leaks. A
	 * round that alone needs more than the pool fails at least one entry
	 * whatever the other threads do, and the seeds make some rounds
	 * that large.
	 */
	run(1000, 1, &enomem, &certain);
	printf("entries refused for want of frames: %lu (at least %lu "
	       "certain)\n", enomem, certain);
	assert_true(certain > 0);
	assert_true(enomem >= certain);
}

struct race {
	int fd;
	atomic_int stop;
	unsigned long rounds;
};

/* Frees the racing region over and over on its own interface. */
static void *free_loop(void *arg)
{
	struct race *r = arg;
	struct exmap_iov *vec = t_map_interface(r->fd, 1);

	if (!vec)
		return NULL;
	while (!atomic_load(&r->stop)) {
		t_fill_vec(vec, 8, 0, 64, 64);
		if (t_action(r->fd, 1, EXMAP_OP_FREE, 8) < 0)
			break;
	}
	return NULL;
}

static void test_alloc_races_free(void **state)
{
	struct race r = { 0 };
	struct exmap_stats st;
	struct exmap_iov *vec;
	pthread_t tid;
	char *area;

	(void)state;
	/*
	 * A pool smaller than the region: every ALLOC runs short, counts
	 * what is mapped, and meanwhile the other thread frees pages.
	 */
	r.fd = t_open();
	assert_true(r.fd >= 0);
	assert_int_equal(t_setup(r.fd, 300, 2), 0);
	area = t_map_area(r.fd, 512);
	assert_non_null(area);
	vec = t_map_interface(r.fd, 0);
	assert_non_null(vec);
	assert_int_equal(pthread_create(&tid, NULL, free_loop, &r), 0);
	for (int i = 0; i < 3000; i++) {
		t_fill_vec(vec, 8, 0, 64, 64);
		assert_true(t_action(r.fd, 0, EXMAP_OP_ALLOC, 8) >= 0);
		for (int e = 0; e < 8; e++) {
			if (vec[e].res != -ENOMEM)
				assert_true(vec[e].res >= 0 &&
					    vec[e].res <= 64);
		}
	}
	atomic_store(&r.stop, 1);
	pthread_join(tid, NULL);
	t_fill_vec(vec, 8, 0, 64, 64);
	assert_int_equal(t_action(r.fd, 0, EXMAP_OP_FREE, 8), 0);
	assert_int_equal(t_stats(r.fd, &st), 0);
	assert_int_equal(st.frames_in_use, 0);
	assert_int_equal(st.frames_free, st.frames_taken);
	assert_true(st.frames_taken <= 300);
	munmap(vec, T_PAGE);
	munmap(area, 512 * T_PAGE);
	close(r.fd);
}

#define RESERVE_PARAM	"/sys/module/exmap/parameters/reserve_pct"

/* The squeeze tests ALLOC in calls of BIG_NR entries of BIG_LEN pages. */
#define BIG_NR		64
#define BIG_LEN		512
#define BIG_STEP	((size_t)BIG_NR * BIG_LEN)

/* The module's reserve_pct, or -1. */
static int reserve_get(void)
{
	return (int)t_param_read("reserve_pct");
}

/* Writes @val to reserve_pct: 0 or the errno of the write. */
static int reserve_set(const char *val)
{
	int fd = open(RESERVE_PARAM, O_WRONLY), err = 0;

	if (fd < 0)
		return errno;
	if (write(fd, val, strlen(val)) < 0)
		err = errno;
	close(fd);
	return err;
}

/*
 * ALLOCs a pool of @pages (a multiple of BIG_STEP) until the module says
 * ENOMEM, and checks that entries only ever fail whole with
 * ENOMEM and that the frame counts add up. Returns the pages mapped; sets
 * *@avail_kb to MemAvailable when ENOMEM came.
 */
static unsigned long alloc_until_enomem(size_t pages, long *avail_kb)
{
	const unsigned int nr = BIG_NR, len = BIG_LEN;
	long held = t_frames_held();
	struct exmap_stats st;
	struct exmap_iov *vec;
	unsigned long mapped = 0;
	int fd, failed = 0;
	char *area;

	assert_true(held >= 0);
	fd = t_open();
	assert_true(fd >= 0);
	assert_int_equal(t_setup(fd, pages, 1), 0);
	area = t_map_area(fd, pages);
	assert_non_null(area);
	vec = t_map_interface(fd, 0);
	assert_non_null(vec);
	/*
	 * A FREE over unmapped pages allocates the area's page tables now,
	 * so that near the end of memory only frames are asked for.
	 */
	for (size_t p = 0; p < pages; p += BIG_STEP) {
		t_fill_vec(vec, nr, p, len, len);
		assert_int_equal(t_action(fd, 0, EXMAP_OP_FREE, nr), 0);
	}
	/* ALLOC until the module says no: entries fail, nothing else. */
	for (size_t p = 0; p < pages && !failed; p += BIG_STEP) {
		int ret;

		t_fill_vec(vec, nr, p, len, len);
		ret = t_action(fd, 0, EXMAP_OP_ALLOC, nr);
		assert_true(ret >= 0);
		for (unsigned int i = 0; i < nr; i++) {
			if (vec[i].res == -ENOMEM)
				failed = 1;
			else
				assert_int_equal(vec[i].res, len);
			if (vec[i].res > 0)
				mapped += vec[i].res;
		}
	}
	*avail_kb = t_meminfo_kb("MemAvailable");
	assert_true(failed);
	assert_int_equal(t_stats(fd, &st), 0);
	assert_int_equal(st.frames_in_use, mapped);

	/* The last frames are usable, and all go back. */
	memset(area, 0x5a, T_PAGE);
	for (size_t p = 0; p < pages; p += BIG_STEP) {
		t_fill_vec(vec, nr, p, len, len);
		assert_int_equal(t_action(fd, 0, EXMAP_OP_FREE, nr), 0);
	}
	assert_int_equal(t_stats(fd, &st), 0);
	assert_int_equal(st.frames_in_use, 0);
	munmap(vec, T_PAGE);
	munmap(area, pages * T_PAGE);
	close(fd);
	assert_int_equal(t_frames_held(), held);
	return mapped;
}

/* A pool twice the machine: the module stops at its reserve. */
static void test_pool_beyond_memory(void **state)
{
	long total_kb = t_meminfo_kb("MemTotal"), before_kb = t_mem_free_kb();
	int pct = reserve_get();
	size_t pages = ((size_t)total_kb / 4 * 2) / BIG_STEP * BIG_STEP;
	unsigned long mapped;
	long avail_kb;

	(void)state;
	assert_true(total_kb > 0 && before_kb > 0);
	assert_in_range(pct, 0, 50);
	mapped = alloc_until_enomem(pages, &avail_kb);
	printf("mapped %lu of %ld MiB before ENOMEM, %ld MiB still available "
	       "(reserve %d %%)\n", mapped / 256, total_kb / 1024,
	       avail_kb / 1024, pct);
	/* Most of the machine was handed out before the module said no... */
	assert_true(mapped * 4 > (unsigned long)before_kb / 2);
	/* ...but not its last pages, on which the OOM killer would wake. */
	assert_true(avail_kb >= total_kb / 100 * pct / 2);
	/* Every frame went back: alloc_until_enomem() checked the count. */
}

static int saved_reserve = -1;

static int reserve_save(void **state)
{
	(void)state;
	saved_reserve = reserve_get();
	return saved_reserve < 0;
}

static int reserve_restore(void **state)
{
	char val[16];

	(void)state;
	snprintf(val, sizeof(val), "%d\n", saved_reserve);
	return reserve_set(val);
}

/*
 * reserve_pct at 50: a pool of three quarters of the machine stops with
 * half of it still available. Values outside 0-50 are refused.
 */
static void test_reserve(void **state)
{
	long total_kb = t_meminfo_kb("MemTotal");
	size_t pages = ((size_t)total_kb / 4 * 3 / 4) / BIG_STEP * BIG_STEP;
	unsigned long mapped;
	long avail_kb;

	(void)state;
	assert_int_equal(reserve_set("50\n"), 0);
	assert_int_equal(reserve_get(), 50);
	assert_int_equal(reserve_set("51\n"), EINVAL);
	assert_int_equal(reserve_set("-1\n"), EINVAL);
	assert_int_equal(reserve_set("half\n"), EINVAL);
	assert_int_equal(reserve_get(), 50);

	mapped = alloc_until_enomem(pages, &avail_kb);
	printf("reserve 50 %%: mapped %lu MiB, %ld of %ld MiB available\n",
	       mapped / 256, avail_kb / 1024, total_kb / 1024);
	assert_true(mapped > 0);
	assert_true(avail_kb >= total_kb * 45 / 100);
	assert_true(mapped * 4 < (unsigned long)total_kb * 55 / 100);
}

struct storm {
	pthread_t target;
	atomic_int stop;
	unsigned long sent;
};

static void on_usr1(int sig)
{
	(void)sig;
}

/* Signals the target thread as fast as it can until told to stop. */
static void *signal_storm(void *arg)
{
	struct storm *st = arg;

	while (!atomic_load(&st->stop)) {
		pthread_kill(st->target, SIGUSR1);
		st->sent++;
		usleep(50);
	}
	return NULL;
}

static void storm_start(struct storm *st, pthread_t *tid)
{
	/* No SA_RESTART: a call that let the signal through would fail. */
	struct sigaction sa = { .sa_handler = on_usr1 };

	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	st->target = pthread_self();
	atomic_store(&st->stop, 0);
	assert_int_equal(pthread_create(tid, NULL, signal_storm, st), 0);
}

static void storm_stop(struct storm *st, pthread_t tid)
{
	atomic_store(&st->stop, 1);
	pthread_join(tid, NULL);
	signal(SIGUSR1, SIG_DFL);
}

/*
 * Long ALLOC and FREE calls (64 entries of 512 pages) under a storm of
 * signals that are not fatal: every call completes whole, as documented
 * (the module's waits are killable, not interruptible).
 */
static void test_signals_during_alloc(void **state)
{
	const unsigned int nr = 64, len = 512;
	struct storm storm = { 0 };
	struct exmap_stats st;
	struct exmap_iov *vec;
	pthread_t tid;
	char *area;
	int fd;

	(void)state;
	fd = t_open();
	assert_true(fd >= 0);
	assert_int_equal(t_setup(fd, nr * len, 1), 0);
	area = t_map_area(fd, nr * len);
	assert_non_null(area);
	vec = t_map_interface(fd, 0);
	assert_non_null(vec);
	storm_start(&storm, &tid);
	for (int round = 0; round < 10; round++) {
		t_fill_vec(vec, nr, 0, len, len);
		assert_int_equal(t_action(fd, 0, EXMAP_OP_ALLOC, nr), 0);
		for (unsigned int i = 0; i < nr; i++)
			assert_int_equal(vec[i].res, len);
		area[(size_t)round * len * T_PAGE] = 1;
		t_fill_vec(vec, nr, 0, len, len);
		assert_int_equal(t_action(fd, 0, EXMAP_OP_FREE, nr), 0);
		for (unsigned int i = 0; i < nr; i++)
			assert_int_equal(vec[i].res, len);
	}
	storm_stop(&storm, tid);
	printf("%lu signals sent\n", storm.sent);
	assert_true(storm.sent > 0);
	assert_int_equal(t_stats(fd, &st), 0);
	assert_int_equal(st.frames_in_use, 0);
	assert_int_equal(st.alloc_pages, 10ULL * nr * len);
	munmap(vec, T_PAGE);
	munmap(area, (size_t)nr * len * T_PAGE);
	close(fd);
}

/*
 * The same for READ of the whole test disk, checked against the disk's
 * contents read the ordinary way.
 */
static void test_signals_during_read(void **state)
{
	const char *dev = getenv("EXMAP_TEST_BLKDEV");
	const unsigned int len = 512;
	struct storm storm = { 0 };
	struct exmap_setup s = { 0 };
	struct exmap_stats st;
	struct exmap_iov *vec;
	unsigned int nr;
	pthread_t tid;
	char *area, *copy;
	off_t size;
	int fd, bfd;

	(void)state;
	if (!dev)
		skip();
	bfd = open(dev, O_RDONLY | O_DIRECT);
	assert_true(bfd >= 0);
	size = lseek(bfd, 0, SEEK_END);
	nr = size / (len * T_PAGE);
	if (nr > EXMAP_VEC_MAX)
		nr = EXMAP_VEC_MAX;
	assert_true(nr > 0);
	copy = mmap(NULL, (size_t)nr * len * T_PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(copy != MAP_FAILED);
	assert_int_equal(pread(bfd, copy, (size_t)nr * len * T_PAGE, 0),
			 (ssize_t)nr * len * T_PAGE);

	fd = t_open();
	assert_true(fd >= 0);
	s.pool_size = nr * len;
	s.nr_interfaces = 1;
	s.backing_fd = bfd;
	assert_int_equal(ioctl(fd, EXMAP_IOC_SETUP, &s), 0);
	area = t_map_area(fd, nr * len);
	assert_non_null(area);
	vec = t_map_interface(fd, 0);
	assert_non_null(vec);
	storm_start(&storm, &tid);
	for (int round = 0; round < 3; round++) {
		t_fill_vec(vec, nr, 0, len, len);
		assert_int_equal(t_action(fd, 0, EXMAP_OP_READ, nr), 0);
		for (unsigned int i = 0; i < nr; i++)
			assert_int_equal(vec[i].res, len);
		assert_memory_equal(area, copy, (size_t)nr * len * T_PAGE);
		t_fill_vec(vec, nr, 0, len, len);
		assert_int_equal(t_action(fd, 0, EXMAP_OP_FREE, nr), 0);
	}
	storm_stop(&storm, tid);
	printf("%lu signals sent\n", storm.sent);
	assert_int_equal(t_stats(fd, &st), 0);
	assert_int_equal(st.frames_in_use, 0);
	assert_int_equal(st.read_pages, 3ULL * nr * len);
	munmap(vec, T_PAGE);
	munmap(area, (size_t)nr * len * T_PAGE);
	munmap(copy, (size_t)nr * len * T_PAGE);
	close(fd);
	close(bfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_interfaces),
		cmocka_unit_test(test_crossing_small_pool),
		cmocka_unit_test(test_alloc_races_free),
		cmocka_unit_test(test_pool_beyond_memory),
		cmocka_unit_test_setup_teardown(test_reserve, reserve_save,
						reserve_restore),
		cmocka_unit_test(test_signals_during_alloc),
		cmocka_unit_test(test_signals_during_read),
	};

	if (!t_have_device())
		return T_EXIT_SKIP;
	return cmocka_run_group_tests_name("stress", tests, NULL, NULL);
}
