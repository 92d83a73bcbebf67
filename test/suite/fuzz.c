// SPDX-License-Identifier: GPL-2.0
/*
 * Description: a fuzzer. For a bounded time (EXMAP_FUZZ_SECONDS, default
 * 60) it runs one "session" process after another, chaos and oracle
 * sessions in turn.
 *
 * An oracle session (test/fuzz-oracle.c) keeps a shadow model of every
 * page and frame and checks every call against it: a mapped page holds the
 * pattern last written to its frame (through it or through an alias), an
 * unmapped page faults, READ returns the backing store's bytes, WRITE then
 * READ round-trips, ALIAS and MOVE rewire exactly as documented, QUERY
 * counts what the model holds, STATS and STATS2 equal the model.
 *
 * A chaos session sets up one
 * or two contexts with random, sometimes invalid, parameters and backing
 * stores, then several threads throw random and adversarial calls at them:
 * every opcode with random vectors, lengths and flags, the pread/pwrite and
 * io_uring forms, unknown ioctls, touches of mapped and unmapped pages.
 * Meanwhile the session's main thread munmaps and mprotects parts of the
 * area, remaps interfaces, forks, signals the workers and swaps the exmap
 * fd for /dev/null. A session ends by cleaning up and checking its counters,
 * by exiting from inside a worker, or by being SIGKILLed from outside.
 *
 * What a chaos session checks: every call returns a documented value
 * (results in range, errno from the documented set), a context whose area
 * is gone holds no frames in use; no data, which the chaos makes
 * unknowable. After every session of either kind the frames all contexts
 * hold return to where they started. The runner checks the kernel log.
 *
 * EXMAP_FUZZ_SEED makes a run repeatable as far as scheduling allows;
 * the seed is printed at the start.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <liburing.h>

#include "../fuzz-oracle.h"
#include "../helpers.h"

#define MAX_CTX		2
#define MAX_THREADS	4
#define MAX_IFACES	8
#define MAX_AREA	16384	/* pages */
#define FILE_PAGES	4096	/* backing file: 16 MiB */

/* Shared between the fuzzer and its sessions (MAP_SHARED). */
struct tally {
	atomic_ulong ops;
	atomic_ulong sessions;
	atomic_ulong ran[EXMAP_OP_MAX];	/* ACTIONs that ran, by opcode */
	atomic_ulong refused;		/* ACTIONs refused as a whole */
	atomic_ulong pages;		/* pages the ACTIONs that ran changed */
	struct oracle_tally oracle;
	atomic_int failed;
	char why[256];
};

static struct tally *tally;

struct ctx {
	int fd;			/* the exmap fd; /dev/null once "closed" */
	int backing;		/* 0 none, 1 read-write, 2 read-only */
	uint32_t nr_ifaces;
	uint32_t area_pages;
	char *area;
	struct exmap_iov *vec[MAX_IFACES];
	uint8_t replaced[MAX_AREA];	/* mapped over by chaos() */
};

struct session;

struct worker {
	struct session *se;
	unsigned int id;
};

struct session {
	struct ctx ctx[MAX_CTX];
	unsigned int nr_ctx;
	unsigned int nr_threads;
	pthread_t thread[MAX_THREADS];
	struct worker worker[MAX_THREADS];
	atomic_int stop;
	int exit_from_worker;	/* a worker calls _exit at this op count */
	int null_fd;
};

static void problem(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void problem(const char *fmt, ...)
{
	char buf[sizeof(tally->why)];
	va_list ap;
	int expected = 0;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (atomic_compare_exchange_strong(&tally->failed, &expected, 1))
		memcpy(tally->why, buf, sizeof(buf));
}

static uint64_t rnd(uint64_t *s)
{
	/* xorshift64*: cheap, and good enough to pick operations */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static uint32_t below(uint64_t *s, uint32_t n)
{
	return n ? rnd(s) % n : 0;
}

/* ---- faults on unmapped pages ---- */

static __thread sigjmp_buf fault_jmp;
static __thread volatile int fault_armed;

static void on_fault(int sig)
{
	if (fault_armed) {
		fault_armed = 0;
		siglongjmp(fault_jmp, 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void touch(char *addr, int write)
{
	if (sigsetjmp(fault_jmp, 1)) {
		fault_armed = 0;
		return;
	}
	fault_armed = 1;
	if (write)
		*(volatile char *)addr = 1;
	else
		(void)*(volatile char *)addr;
	fault_armed = 0;
}

/* ---- the oracle ---- */

static int errno_allowed(int err)
{
	switch (err) {
	case EINVAL: case EBADF: case ENXIO: case ENOMEM: case EFAULT:
	case ENOTTY: case EIO: case ENODATA: case EINTR:
	case EBUSY:	/* READ over a frame that ALIAS shares */
		return 1;
	}
	return 0;
}

static void check_action(int ret, int err, const struct exmap_iov *vec,
			 unsigned int nr, unsigned int opcode)
{
	if (ret < 0) {
		/*
		 * EINTR only with a fatal signal pending, which this process
		 * would not live to see.
		 */
		if (ret != -1 || !errno_allowed(err) || err == EINTR)
			problem("ACTION op %u nr %u: ret %d errno %d", opcode, nr,
			     ret, err);
		atomic_fetch_add_explicit(&tally->refused, 1,
					  memory_order_relaxed);
		return;
	}
	if ((unsigned int)ret > nr)
		problem("ACTION op %u: %d failed entries of %u", opcode, ret, nr);
	if (opcode < EXMAP_OP_MAX)
		atomic_fetch_add_explicit(&tally->ran[opcode], 1,
					  memory_order_relaxed);
	for (unsigned int i = 0; vec && i < nr; i++) {
		int res = vec[i].res;

		if (res > EXMAP_ENTRY_MAX_PAGES ||
		    (res < 0 && !errno_allowed(-res)))
			problem("ACTION op %u entry %u: res %d", opcode, i, res);
		if (res > 0)
			atomic_fetch_add_explicit(&tally->pages, res,
						  memory_order_relaxed);
	}
}

static void count_op(void)
{
	atomic_fetch_add_explicit(&tally->ops, 1, memory_order_relaxed);
}

/* ---- worker operations ---- */

/*
 * Most vectors are well formed, as a buffer manager sends them (ascending
 * runs inside the area), so that calls run and race; the others mix in
 * garbage, entries at or past the end, and edge lengths.
 */
static void random_vector(uint64_t *s, struct exmap_iov *vec, unsigned int nr,
			  uint32_t area_pages)
{
	int clean = below(s, 4) != 0;
	uint32_t page = below(s, area_pages);

	for (unsigned int i = 0; i < nr; i++) {
		switch (clean ? 3 : below(s, 4)) {
		case 0:		/* garbage */
			vec[i].page = (uint32_t)rnd(s);
			vec[i].len = (uint16_t)rnd(s);
			break;
		case 1:		/* at or past the end */
			vec[i].page = area_pages - below(s, 4);
			vec[i].len = 1 + below(s, 8);
			break;
		case 2:		/* an edge length */
			vec[i].page = below(s, area_pages);
			vec[i].len = below(s, 2) ? 0 : EXMAP_ENTRY_MAX_PAGES +
							below(s, 2);
			break;
		default:	/* an ascending run inside the area */
			page += below(s, 64);
			if (page >= area_pages)
				page = below(s, area_pages);
			vec[i].page = page;
			vec[i].len = 1 + below(s, below(s, 16) ? 8 : 512);
			if (vec[i].len > area_pages - page)
				vec[i].len = area_pages - page;
			break;
		}
		vec[i].res = (int16_t)rnd(s);
	}
}

/*
 * ALIAS and MOVE entries: most between random runs inside the area (so
 * that they hit mapped and unmapped pages and race with everything), some
 * garbage or bad in one field.
 */
static void random_rewires(uint64_t *s, struct exmap_rewire *rw,
			   unsigned int nr, uint32_t area_pages)
{
	for (unsigned int i = 0; i < nr; i++) {
		uint16_t len = 1 + below(s, below(s, 8) ? 8 : 64);

		rw[i] = (struct exmap_rewire){
			.src = below(s, area_pages), .dst = below(s, area_pages),
			.len = len, .res = (int16_t)rnd(s),
		};
		switch (below(s, 24)) {
		case 0:
			rw[i].src = (uint32_t)rnd(s);
			rw[i].len = (uint16_t)rnd(s);
			break;
		case 1:
			rw[i].resv = (uint32_t)rnd(s);
			break;
		case 2:
			rw[i].dst = rw[i].src;
			break;
		}
	}
}

/* An ALIAS or MOVE that ran: each res is len or a rewiring error. */
static void check_rewire(int ret, int err, const struct exmap_rewire *rw,
			 unsigned int nr, unsigned int opcode)
{
	check_action(ret, err, NULL, nr, opcode);
	for (unsigned int i = 0; ret >= 0 && rw && i < nr; i++) {
		int res = rw[i].res;

		if (res != rw[i].len && res != -ENOENT && res != -EEXIST &&
		    res != -ENOMEM)
			problem("%s entry %u (%u->%u+%u): res %d",
				opcode == EXMAP_OP_MOVE ? "MOVE" : "ALIAS", i,
				rw[i].src, rw[i].dst, rw[i].len, res);
	}
}

/* @own: no other thread uses this interface, so its results are ours. */
static void op_action(uint64_t *s, struct ctx *c, unsigned int iface,
		      int own)
{
	struct exmap_iov *vec = c->vec[iface];
	struct exmap_rewire *rw = (struct exmap_rewire *)vec;
	struct exmap_action a = { .interface = iface };
	unsigned int weights = below(s, 100);
	bool rewire;
	int ret;

	if (!vec)
		return;
	a.opcode = weights < 38 ? EXMAP_OP_ALLOC : weights < 68 ?
		   EXMAP_OP_FREE : weights < 78 ? EXMAP_OP_READ :
		   weights < 86 ? EXMAP_OP_WRITE : weights < 90 ?
		   EXMAP_OP_ALIAS : weights < 93 ? EXMAP_OP_MOVE :
		   weights < 95 ? EXMAP_OP_QUERY : below(s, 8);
	rewire = a.opcode == EXMAP_OP_ALIAS || a.opcode == EXMAP_OP_MOVE;
	a.nr = below(s, 16) ? 1 + below(s, 16) : 1 + below(s, EXMAP_VEC_MAX);
	if (!below(s, 20))
		a.nr = below(s, 2) ? 0 : EXMAP_VEC_MAX + 1 + below(s, 64);
	if (rewire && below(s, 16))
		a.nr = 1 + below(s, below(s, 4) ? 8 : EXMAP_REWIRE_VEC_MAX);
	if (!below(s, 30))
		a.flags = 1u << below(s, 32);
	else if (a.opcode == EXMAP_OP_QUERY && below(s, 2))
		a.flags = EXMAP_ACTION_QUERY_SHARED;
	if (!below(s, 30))
		a.interface = below(s, 2) ? c->nr_ifaces : (uint32_t)rnd(s);
	if (rewire)
		random_rewires(s, rw, a.nr > EXMAP_REWIRE_VEC_MAX ?
			       EXMAP_REWIRE_VEC_MAX : a.nr, c->area_pages);
	else
		random_vector(s, vec, a.nr > EXMAP_VEC_MAX ? EXMAP_VEC_MAX :
			      a.nr, c->area_pages);
	ret = ioctl(c->fd, EXMAP_IOC_ACTION, &a);
	if (rewire && a.interface == iface && a.nr <= EXMAP_REWIRE_VEC_MAX)
		check_rewire(ret, errno, own ? rw : NULL, a.nr, a.opcode);
	else if (!rewire && a.interface == iface && a.nr <= EXMAP_VEC_MAX)
		check_action(ret, errno, own ? vec : NULL, a.nr, a.opcode);
	else if (ret != -1 || !errno_allowed(errno))
		problem("bad ACTION accepted: ret %d", ret);
}

static void op_shortcut(uint64_t *s, struct ctx *c)
{
	uint32_t page = below(s, c->area_pages + 4);
	size_t len = (1 + below(s, 64)) * T_PAGE;
	off_t iface = below(s, c->nr_ifaces + 1);
	char *buf = c->area + (size_t)page * T_PAGE;
	ssize_t n;

	if (!below(s, 8))
		len += below(s, T_PAGE);	/* not a page multiple */
	if (!below(s, 8))
		buf += below(s, T_PAGE);	/* not aligned */
	n = below(s, 2) ? pread(c->fd, buf, len, iface) :
			  pwrite(c->fd, buf, len, iface);
	if (n < 0 && !errno_allowed(errno))
		problem("pread/pwrite: errno %d", errno);
	if (n > 0 && (size_t)n != len)
		problem("pread/pwrite: %zd of %zu bytes", n, len);
}

static void op_uring(uint64_t *s, struct ctx *c, struct io_uring *ring,
		     unsigned int *inflight)
{
	unsigned int n = 1 + below(s, 8);
	struct io_uring_cqe *cqe;
	int submitted;

	for (unsigned int i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		struct exmap_uring_cmd cmd = {
			.page = below(s, c->area_pages + 4),
			.len = below(s, 16) ? 1 + below(s, 32) : (uint16_t)rnd(s),
			.interface = below(s, c->nr_ifaces + 1),
			.resv = !below(s, 16),
			.flags = !below(s, 16),
		};

		if (!sqe)
			break;
		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, c->fd, NULL, 0, 0);
		sqe->cmd_op = below(s, 8) ? EXMAP_OP_READ + below(s, 2) :
					    below(s, 6);
		memcpy(sqe->cmd, &cmd, sizeof(cmd));
	}
	submitted = io_uring_submit(ring);
	if (submitted > 0)
		*inflight += submitted;
	/* Reap what completes; some are left in flight for exit to meet. */
	while (io_uring_peek_cqe(ring, &cqe) == 0 ||
	       (*inflight && below(s, 2) &&
		io_uring_wait_cqe(ring, &cqe) == 0)) {
		int res = cqe->res;

		(*inflight)--;
		if (res < 0 && !errno_allowed(-res) && res != -ECANCELED &&
		    res != -EOPNOTSUPP)
			problem("uring: res %d", res);
		if (res > EXMAP_ENTRY_MAX_PAGES)
			problem("uring: res %d pages", res);
		io_uring_cqe_seen(ring, cqe);
		count_op();
	}
}

static void op_misc(uint64_t *s, struct ctx *c)
{
	struct exmap_stats st;
	unsigned long cmd;

	switch (below(s, 4)) {
	case 0:
		if (ioctl(c->fd, EXMAP_IOC_STATS, &st) == 0 &&
		    st.frames_in_use > st.frames_taken)
			problem("STATS: %llu in use of %llu taken",
			     (unsigned long long)st.frames_in_use,
			     (unsigned long long)st.frames_taken);
		break;
	case 1:	/* a command number near the real ones */
		cmd = _IOC(below(s, 4), EXMAP_IOC_MAGIC, below(s, 8),
			   below(s, 256));
		if (cmd == EXMAP_IOC_ACTION)
			break;
		if (ioctl(c->fd, cmd, c->area) == 0 && cmd != EXMAP_IOC_STATS)
			problem("ioctl %#lx accepted", cmd);
		break;
	case 2:	/* bad pointers */
		ioctl(c->fd, EXMAP_IOC_ACTION, (void *)16);
		ioctl(c->fd, EXMAP_IOC_STATS, c->area);
		break;
	default: /* SETUP again must be refused */
		if (t_setup(c->fd, 1 + below(s, 64), 1) == 0)
			problem("second SETUP accepted");
		break;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct session *se = w->se;
	unsigned int id = w->id;
	uint64_t seed;
	struct io_uring ring;
	int have_ring;
	unsigned int inflight = 0;
	unsigned long ops = 0;

	seed = (uint64_t)getpid() * 2654435761u + id * 40503u + 1;
	have_ring = io_uring_queue_init(16, &ring, 0) == 0;

	while (!atomic_load(&se->stop)) {
		struct ctx *c = &se->ctx[below(&seed, se->nr_ctx)];
		unsigned int iface = id % c->nr_ifaces;
		unsigned int pick = below(&seed, 100);

		if (se->exit_from_worker && ops == (unsigned long)
		    se->exit_from_worker && id == 0)
			_exit(0);
		if (pick < 55)
			op_action(&seed, c, iface,
				  se->nr_threads <= c->nr_ifaces);
		else if (pick < 75)
			touch(c->area + (size_t)below(&seed, c->area_pages) *
			      T_PAGE, below(&seed, 2));
		else if (pick < 85)
			op_shortcut(&seed, c);
		else if (pick < 93 && have_ring)
			op_uring(&seed, c, &ring, &inflight);
		else
			op_misc(&seed, c);
		ops++;
		count_op();
	}
	if (have_ring)
		io_uring_queue_exit(&ring);
	return NULL;
}

/* ---- the session's own chaos ---- */

/* @late: near the session's end, where losing the context costs little. */
static void chaos(uint64_t *s, struct session *se, int late)
{
	struct ctx *c = &se->ctx[below(s, se->nr_ctx)];
	uint32_t first = below(s, c->area_pages);
	/* Small pieces: the area should stay mostly usable. */
	uint32_t most = c->area_pages - first < 64 ? c->area_pages - first : 64;
	size_t len = (1 + below(s, most)) * T_PAGE;
	char *p = c->area + (size_t)first * T_PAGE;
	unsigned int i = below(s, c->nr_ifaces);
	struct exmap_iov *vec;
	pid_t pid;

	switch (below(s, 64)) {
	case 0:
		/*
		 * A hole in the area, made by mapping over it in one step: a
		 * plain munmap would let the kernel reuse the range for the
		 * workers' own mappings, which their touches would then hit.
		 */
		if (mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			 MAP_FIXED, -1, 0) != p)
			problem("cannot map over the area: errno %d", errno);
		memset(c->replaced + first, 1, len / T_PAGE);
		break;
	case 1: case 2:
		mprotect(p, len, below(s, 3) ? PROT_READ | PROT_WRITE :
					       below(s, 2) ? PROT_READ :
							     PROT_NONE);
		break;
	case 3:	/* only over what is still the area */
		if (memchr(c->replaced + first, 1, len / T_PAGE))
			break;
		if (mremap(p, len, len * 2, MREMAP_MAYMOVE) != MAP_FAILED)
			problem("mremap of the area succeeded");
		break;
	case 4:
		madvise(p, len, below(s, 2) ? MADV_DONTNEED : MADV_WILLNEED);
		break;
	case 5:	/* a second mapping of an interface, in use, then gone */
		vec = t_map_interface(c->fd, below(s, 4) ? i : c->nr_ifaces +
					     below(s, 4));
		if (vec) {
			vec[below(s, EXMAP_VEC_MAX)].len = (uint16_t)rnd(s);
			munmap(vec, T_PAGE);
		}
		break;
	case 6: case 7:
		pthread_kill(se->thread[below(s, se->nr_threads)], SIGUSR1);
		break;
	case 8:	/* a child: sees no area, may not act */
		pid = fork();
		if (pid == 0) {
			struct exmap_action a = { .nr = 1 };

			if (ioctl(c->fd, EXMAP_IOC_ACTION, &a) == 0)
				problem("a forked child's ACTION ran");
			if (!c->replaced[first] &&
			    !t_read_faults(c->area + T_PAGE * first))
				problem("a forked child sees the area");
			_exit(0);
		}
		break;
	case 9:	/* the last reference to the context goes with its mappings */
		if (late && !below(s, 16))
			dup2(se->null_fd, c->fd);
		break;
	default:
		break;
	}
	/* Reap forked children; their exit status is not an oracle. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static int open_backing(uint64_t *s, int *kind)
{
	const char *dir = getenv("EXMAP_TEST_DIR");
	const char *dev;
	char path[256];
	int fd;

	switch (below(s, 5)) {
	case 0:
	case 1:
		if (!dir)
			break;
		snprintf(path, sizeof(path), "%s/exmap-fuzz", dir);
		fd = open(path, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC,
			  0600);
		if (fd < 0)
			break;
		if (ftruncate(fd, FILE_PAGES * T_PAGE) == 0) {
			*kind = 1;
			return fd;
		}
		close(fd);
		break;
	case 2:
		dev = getenv(below(s, 2) ? "EXMAP_TEST_BLKDEV" :
					   "EXMAP_TEST_BADDEV");
		if (!dev)
			break;
		fd = open(dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
		if (fd >= 0) {
			*kind = 2;
			return fd;
		}
		break;
	case 3:	/* not O_DIRECT: SETUP must refuse it */
		fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		*kind = -1;
		return fd;
	}
	*kind = 0;
	return -1;
}

static int setup_ctx(uint64_t *s, struct ctx *c)
{
	struct exmap_setup st = { .backing_fd = -1 };
	int kind, bfd;

	c->fd = t_open();
	if (c->fd < 0)
		return -1;
	/* First, sometimes, a SETUP that must be refused. */
	if (!below(s, 4)) {
		st.pool_size = below(s, 2) ? 0 : 1ULL << 33;
		st.nr_interfaces = 1 + below(s, 4);
		if (below(s, 2)) {
			st.pool_size = 16;
			st.flags = 1 + below(s, 8);
		}
		if (ioctl(c->fd, EXMAP_IOC_SETUP, &st) == 0)
			problem("bad SETUP accepted");
		memset(&st, 0, sizeof(st));
		st.backing_fd = -1;
	}
	bfd = open_backing(s, &kind);
	st.pool_size = 1 + below(s, below(s, 4) ? 1024 : 16384);
	st.nr_interfaces = 1 + below(s, MAX_IFACES);
	st.backing_fd = bfd;
	if (ioctl(c->fd, EXMAP_IOC_SETUP, &st) != 0) {
		if (kind >= 0)
			problem("SETUP: errno %d", errno);
		/* Try again without the unusable store. */
		st.backing_fd = -1;
		if (ioctl(c->fd, EXMAP_IOC_SETUP, &st) != 0)
			problem("SETUP without backing: errno %d", errno);
		kind = 0;
	} else if (kind < 0) {
		problem("SETUP accepted a file without O_DIRECT");
	}
	if (bfd >= 0)
		close(bfd);	/* the module holds its own reference */
	c->backing = kind;
	c->nr_ifaces = st.nr_interfaces;
	c->area_pages = 1 + below(s, MAX_AREA);
	c->area = t_map_area(c->fd, c->area_pages);
	if (!c->area) {
		problem("area mmap: errno %d", errno);
		return -1;
	}
	for (unsigned int i = 0; i < c->nr_ifaces; i++)
		c->vec[i] = t_map_interface(c->fd, i);
	return 0;
}

/*
 * Clean shutdown of a context: with its area unmapped, none of its frames
 * may still count as in use (they went back to the pool), and none may be
 * beyond the pool's size.
 */
static void close_ctx(struct ctx *c)
{
	struct exmap_stats st;

	munmap(c->area, (size_t)c->area_pages * T_PAGE);
	if (ioctl(c->fd, EXMAP_IOC_STATS, &st) == 0) {
		if (st.frames_in_use != 0)
			problem("%llu frames in use after munmap",
			     (unsigned long long)st.frames_in_use);
		if (st.frames_taken > st.pool_size)
			problem("%llu frames taken, pool %llu",
			     (unsigned long long)st.frames_taken,
			     (unsigned long long)st.pool_size);
	}
	for (unsigned int i = 0; i < c->nr_ifaces; i++)
		if (c->vec[i])
			munmap(c->vec[i], T_PAGE);
	close(c->fd);
}

static void run_session(uint64_t seed, unsigned int ms)
{
	struct session se = { .null_fd = open("/dev/null", O_RDWR) };
	struct timespec pause = { 0, 1000 * 1000 };
	struct timespec start, now;
	long elapsed;
	uint64_t *s = &seed;

	se.nr_ctx = 1 + below(s, MAX_CTX);
	for (unsigned int i = 0; i < se.nr_ctx; i++)
		if (setup_ctx(s, &se.ctx[i]))
			_exit(2);
	se.nr_threads = 1 + below(s, MAX_THREADS);
	if (!below(s, 4))
		se.exit_from_worker = 1 + below(s, 2000);
	for (unsigned int i = 0; i < se.nr_threads; i++) {
		se.worker[i].se = &se;
		se.worker[i].id = i;
		if (pthread_create(&se.thread[i], NULL, worker_main,
				   &se.worker[i]))
			_exit(2);
	}

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		clock_gettime(CLOCK_MONOTONIC, &now);
		elapsed = (now.tv_sec - start.tv_sec) * 1000 +
			  (now.tv_nsec - start.tv_nsec) / 1000000;
		chaos(s, &se, elapsed * 10 > ms * 9);
		nanosleep(&pause, NULL);
	} while (elapsed < ms);

	/* One way out in four is an exit with everything still running. */
	if (!below(s, 4))
		_exit(0);
	atomic_store(&se.stop, 1);
	for (unsigned int i = 0; i < se.nr_threads; i++)
		pthread_join(se.thread[i], NULL);
	for (unsigned int i = 0; i < se.nr_ctx; i++)
		close_ctx(&se.ctx[i]);
	while (wait(NULL) > 0)
		;
	_exit(0);
}

static void print_file(const char *path)
{
	char buf[2048];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = 0;
		printf("%s:\n%s\n", path, buf);
	}
}

/* Where every thread of a stuck session sleeps, for the bug report. */
static void dump_session(pid_t pgid)
{
	char path[512], stat[512];
	DIR *procs = opendir("/proc");
	struct dirent *p, *t;

	while (procs && (p = readdir(procs))) {
		int pid = atoi(p->d_name), fd, pg = -1;
		ssize_t n;
		char *close_paren;
		DIR *tasks;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, stat, sizeof(stat) - 1);
		close(fd);
		if (n <= 0)
			continue;
		stat[n] = 0;
		close_paren = strrchr(stat, ')');
		if (close_paren)
			sscanf(close_paren + 2, "%*c %*d %d", &pg);
		if (pg != pgid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task", pid);
		tasks = opendir(path);
		while (tasks && (t = readdir(tasks))) {
			if (t->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/task/%s/stack",
				 pid, t->d_name);
			print_file(path);
			snprintf(path, sizeof(path),
				 "/proc/%d/task/%s/syscall", pid, t->d_name);
			print_file(path);
		}
		if (tasks)
			closedir(tasks);
	}
	if (procs)
		closedir(procs);
	fflush(stdout);
}

/* Waits for a session; one that outlives its time by far is stuck. */
static int wait_session(pid_t pid, unsigned int ms, int *status)
{
	for (unsigned int waited = 0; ; waited += 10) {
		pid_t got = waitpid(pid, status, WNOHANG);

		if (got == pid)
			return 0;
		if (got < 0)
			return -1;
		if (waited > ms + 30000) {
			problem("session %d stuck", pid);
			dump_session(pid);
			kill(-pid, SIGKILL);
			waitpid(pid, status, 0);
			return 0;
		}
		usleep(10 * 1000);
	}
}

static void test_fuzz(void **state)
{
	const char *env = getenv("EXMAP_FUZZ_SECONDS");
	unsigned int seconds = env ? (unsigned int)atoi(env) : 60;
	uint64_t seed = getenv("EXMAP_FUZZ_SEED") ?
			strtoull(getenv("EXMAP_FUZZ_SEED"), NULL, 0) :
			(uint64_t)time(NULL);
	struct sigaction sa = { .sa_handler = on_fault,
				.sa_flags = SA_NODEFER };
	struct sigaction usr = { .sa_handler = on_usr1 };
	time_t start = time(NULL);
	long base = t_frames_held();
	unsigned long killed = 0, exited = 0;

	(void)state;
	assert_true(base >= 0);
	printf("fuzz: seed %#llx, %u s\n", (unsigned long long)seed, seconds);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGUSR1, &usr, NULL);	/* no SA_RESTART: calls see it */

	while (time(NULL) - start < seconds && !atomic_load(&tally->failed)) {
		uint64_t sseed = seed ^ (atomic_load(&tally->sessions) *
					 0x9e3779b97f4a7c15ULL);
		unsigned int ms = 100 + below(&sseed, 1500);
		int kill_after = below(&sseed, 3) ? -1 : (int)below(&sseed, ms);
		int status;
		pid_t pid;

		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			setpgid(0, 0);
			if (atomic_load(&tally->sessions) % 2)
				oracle_session(sseed ? sseed : 1, ms,
					       getenv("EXMAP_TEST_DIR"),
					       &tally->oracle, &tally->ops,
					       problem);
			run_session(sseed ? sseed : 1, ms);
		}
		setpgid(pid, pid);
		if (kill_after >= 0) {
			usleep(kill_after * 1000);
			kill(-pid, SIGKILL);
		}
		assert_int_equal(wait_session(pid, ms, &status), 0);
		kill(-pid, SIGKILL);	/* forked children left behind */
		if (WIFSIGNALED(status)) {
			if (WTERMSIG(status) != SIGKILL)
				problem("session died of signal %d",
				     WTERMSIG(status));
			killed++;
		} else if (WEXITSTATUS(status) != 0) {
			problem("session exited with %d", WEXITSTATUS(status));
		} else {
			exited++;
		}
		atomic_fetch_add(&tally->sessions, 1);
		if (t_frames_settle(base) != base)
			problem("frames held: %ld, before: %ld", t_frames_held(),
			     base);
	}
	printf("fuzz: %lu operations in %lu sessions (%lu killed, %lu exited) in %ld s\n",
	       atomic_load(&tally->ops), atomic_load(&tally->sessions),
	       killed, exited, (long)(time(NULL) - start));
	printf("fuzz: ACTIONs run: %lu ALLOC, %lu FREE, %lu READ, %lu WRITE, %lu ALIAS, %lu MOVE, %lu QUERY; %lu refused; %lu pages changed (exclusive interfaces only)\n",
	       atomic_load(&tally->ran[EXMAP_OP_ALLOC]),
	       atomic_load(&tally->ran[EXMAP_OP_FREE]),
	       atomic_load(&tally->ran[EXMAP_OP_READ]),
	       atomic_load(&tally->ran[EXMAP_OP_WRITE]),
	       atomic_load(&tally->ran[EXMAP_OP_ALIAS]),
	       atomic_load(&tally->ran[EXMAP_OP_MOVE]),
	       atomic_load(&tally->ran[EXMAP_OP_QUERY]),
	       atomic_load(&tally->refused), atomic_load(&tally->pages));
	printf("fuzz: oracle sessions: %lu, %lu calls checked against the model, %lu page checks, %lu STATS checks, %lu entries short of frames, %lu pages rewired\n",
	       atomic_load(&tally->oracle.sessions),
	       atomic_load(&tally->oracle.calls),
	       atomic_load(&tally->oracle.pages_checked),
	       atomic_load(&tally->oracle.stats_checked),
	       atomic_load(&tally->oracle.enomem),
	       atomic_load(&tally->oracle.rewired));
	if (atomic_load(&tally->failed))
		printf("fuzz: FAILED: %s (seed %#llx)\n", tally->why,
		       (unsigned long long)seed);
	assert_false(atomic_load(&tally->failed));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fuzz),
	};

	if (!t_have_device())
		return T_EXIT_SKIP;
	tally = mmap(NULL, sizeof(*tally), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tally == MAP_FAILED)
		return T_EXIT_FAIL;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
