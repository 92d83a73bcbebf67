// SPDX-License-Identifier: GPL-2.0
/*
 * bench-read: random 4 KiB reads from a device, one thread, in several ways:
 *
 *   exmap-read-N    ACTION READ of N scattered one-page entries per call;
 *                   one FREE per 64 pages read (batched eviction)
 *   exmap-alloc-N   the same with ALLOC instead of READ: the cost without
 *                   the I/O
 *   exmap-uring-D   IORING_OP_URING_CMD reads, D in flight; every 64
 *                   completions one FREE of those 64 pages
 *   exmap-pread     the one-page shortcut: pread() on the exmap fd; one
 *                   FREE per 64 pages
 *   uring-D         the baseline for exmap's I/O: plain io_uring, D reads
 *                   (O_DIRECT) in flight into random frames of a
 *                   faulted-in anonymous pool as large as exmap's (4096
 *                   frames), registered as a fixed buffer, the device a
 *                   fixed file: the best a buffer manager without exmap
 *                   does with one thread
 *   pread           pread(O_DIRECT) into one warm 4 KiB buffer: the device
 *                   and the system call alone
 *   pread-pool      pread(O_DIRECT) into a random frame of a faulted-in
 *                   anonymous pool as large as exmap's (4096 frames): a
 *                   buffer manager that reads into its own frames
 *   pread-madvise   pread(O_DIRECT) into fresh anonymous pages, one
 *                   madvise(MADV_DONTNEED) per 64 (memory handed back to
 *                   Linux, the plain Linux way): a miss and a later
 *                   eviction, as exmap's READ and FREE are
 *
 * usage: bench-read [-s seconds] [-r rounds] [-f pages] [-m mode]... DEVICE
 * -f: pages per FREE (and per madvise) instead of 64, up to 512.
 * Each mode runs for @seconds in all. With -r, the modes take turns in
 * that many rounds, each keeping its area, ring and buffers from one round
 * to the next, so that a slow stretch of an emulated machine falls on all
 * of them alike.
 * Prints one line per mode and round ("round MODE K reads seconds
 * cpu_seconds"), then one per mode over all rounds: name, reads/s, reads,
 * seconds, CPU seconds. bench-read.sh adds fio.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/exmap.h>

#include "bench-util.h"

#define PAGE		((size_t)EXMAP_PAGE_SIZE)
#define MAX_BATCH	64	/* entries per READ, io_uring depth */
#define POOL_FRAMES	4096	/* exmap's pool, pread-pool's frames */
#define MAX_MODES	16

/* What one mode did: reads completed, in how many seconds of wall time. */
struct meas {
	unsigned long reads;
	double secs;
};

static double seconds = 2;
static unsigned int free_batch = 64;	/* pages per FREE or madvise */
static uint64_t dev_pages;
static uint64_t rng = 88172645463325252ULL;

static uint32_t random_page(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % dev_pages);
}

struct exmap_bench {
	int fd;
	int store;
	char *area;
	struct exmap_iov *vec;	/* interface 0 */
};

static void exmap_open(struct exmap_bench *b, const char *dev)
{
	struct exmap_setup s = { .pool_size = POOL_FRAMES,
				  .nr_interfaces = 1 };

	b->store = open(dev, O_RDONLY | O_DIRECT);
	b->fd = open("/dev/exmap", O_RDWR);
	if (b->store < 0 || b->fd < 0)
		die("open");
	s.backing_fd = b->store;
	if (ioctl(b->fd, EXMAP_IOC_SETUP, &s))
		die("SETUP");
	b->area = mmap(NULL, dev_pages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, b->fd, EXMAP_OFF_AREA);
	b->vec = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd,
		      EXMAP_OFF_INTERFACE(0));
	if (b->area == MAP_FAILED || b->vec == MAP_FAILED)
		die("mmap");
}

static void exmap_close(struct exmap_bench *b)
{
	munmap(b->area, dev_pages * PAGE);
	munmap(b->vec, PAGE);
	close(b->fd);
	close(b->store);
}

static void action(int fd, unsigned int iface, unsigned int op,
		   unsigned int nr)
{
	struct exmap_action a = { .interface = iface, .nr = nr, .opcode = op };

	if (ioctl(fd, EXMAP_IOC_ACTION, &a) < 0)
		die("ACTION");
}

/* Distinct random pages: a page still mapped would not be read. */
static void random_vec(struct exmap_iov *vec, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		unsigned int j;

		do {
			vec[i].page = random_page();
			for (j = 0; j < i && vec[j].page != vec[i].page; j++)
				;
		} while (j < i);
		vec[i].len = 1;
	}
}

/* Where a pread mode reads to. */
enum pread_target {
	PREAD_WARM,	/* pread: one warm page */
	PREAD_FRESH,	/* pread-madvise: fresh pages, madvise per batch */
	PREAD_POOL,	/* pread-pool: a random frame of a faulted-in pool */
};

/*
 * One mode's state, kept across its rounds (-r): the area's page tables and
 * the device's file stay warm from one round to the next.
 */
struct mode {
	const char *name;
	struct meas total;
	double cpu;
	int (*run)(struct mode *m, double secs, struct meas *r);
	unsigned int param;	/* batch, depth */
	unsigned int op;	/* EXMAP_OP_READ or EXMAP_OP_ALLOC */
	enum pread_target target;	/* pread modes */
	int store;
	char *buf;
	size_t buf_pages;
	bool uring_plain;	/* uring-D: reads into buf through the ring */
	struct exmap_bench b;	/* exmap modes */
	struct io_uring ring;
	struct exmap_iov evict[EXMAP_VEC_MAX];
	unsigned int nfree;
};

/* Queues @page for eviction; every free_batch pages, one FREE of them all. */
static void evict_page(struct mode *m, uint64_t page)
{
	m->evict[m->nfree].page = page;
	m->evict[m->nfree].len = 1;
	if (++m->nfree < free_batch)
		return;
	/* On the same interface: frames stay local. */
	memcpy(m->b.vec, m->evict, m->nfree * sizeof(*m->evict));
	action(m->b.fd, 0, EXMAP_OP_FREE, m->nfree);
	m->nfree = 0;
}

/*
 * READ @batch scattered pages per call (or ALLOC them), and FREE every 64
 * pages read in one call, as a buffer manager evicts in batches.
 */
static int run_exmap_read(struct mode *m, double secs, struct meas *r)
{
	unsigned int batch = m->param;
	struct exmap_iov got[MAX_BATCH];
	double t0 = now(), t;

	do {
		for (int k = 0; k < 16; k++) {
			random_vec(m->b.vec, batch);
			action(m->b.fd, 0, m->op, batch);
			/* FREE reuses the vector: take the results first. */
			memcpy(got, m->b.vec, batch * sizeof(*got));
			for (unsigned int i = 0; i < batch; i++) {
				if (got[i].res < 0) {
					fprintf(stderr, "%s res %d\n",
						m->name, got[i].res);
					return -1;
				}
				evict_page(m, got[i].page);
			}
			r->reads += batch;
		}
		t = now();
	} while (t - t0 < secs);
	r->secs = t - t0;
	return 0;
}

/* The one-page shortcut: pread() on the exmap fd maps the page it reads. */
static int run_exmap_pread(struct mode *m, double secs, struct meas *r)
{
	double t0 = now(), t;

	do {
		for (int k = 0; k < 16; k++) {
			uint64_t page = random_page();

			if (pread(m->b.fd, m->b.area + page * PAGE, PAGE, 0) !=
			    (ssize_t)PAGE) {
				perror("exmap pread");
				return -1;
			}
			evict_page(m, page);
			r->reads++;
		}
		t = now();
	} while (t - t0 < secs);
	r->secs = t - t0;
	return 0;
}

static int run_exmap_uring(struct mode *m, double secs, struct meas *r)
{
	unsigned int inflight = 0, depth = m->param;
	double t0 = now(), t;
	int stop = 0;

	while (!stop || inflight) {
		struct io_uring_cqe *cqe;

		while (!stop && inflight < depth) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&m->ring);
			struct exmap_uring_cmd cmd = {
				.page = random_page(), .len = 1,
			};

			/* The exmap fd is the ring's registered file 0. */
			io_uring_prep_rw(IORING_OP_URING_CMD, sqe, 0, NULL, 0,
					 0);
			sqe->flags |= IOSQE_FIXED_FILE;
			sqe->cmd_op = EXMAP_OP_READ;
			memcpy(sqe->cmd, &cmd, sizeof(cmd));
			io_uring_sqe_set_data64(sqe, cmd.page);
			inflight++;
		}
		if (io_uring_submit_and_wait(&m->ring, 1) < 0)
			die("io_uring_submit_and_wait");
		while (io_uring_peek_cqe(&m->ring, &cqe) == 0) {
			/* 0: the page was in flight twice and is mapped. */
			if (cqe->res < 0) {
				fprintf(stderr, "uring res %d\n", cqe->res);
				return -1;
			}
			evict_page(m, cqe->user_data);
			inflight--;
			r->reads++;
			io_uring_cqe_seen(&m->ring, cqe);
		}
		if (!stop)
			stop = now() - t0 >= secs;
	}
	t = now();
	r->secs = t - t0;
	return 0;
}

/*
 * Plain io_uring, @depth reads in flight into random frames of the pool
 * (a registered buffer) from the device (a registered file).
 */
static int run_uring(struct mode *m, double secs, struct meas *r)
{
	unsigned int inflight = 0, depth = m->param;
	double t0 = now();
	int stop = 0;

	while (!stop || inflight) {
		struct io_uring_cqe *cqe;

		while (!stop && inflight < depth) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&m->ring);
			size_t frame = random_page() % m->buf_pages;

			io_uring_prep_read_fixed(sqe, 0, m->buf + frame * PAGE,
						 PAGE, (off_t)random_page() *
						 PAGE, 0);
			sqe->flags |= IOSQE_FIXED_FILE;
			inflight++;
		}
		if (io_uring_submit_and_wait(&m->ring, 1) < 0)
			die("io_uring_submit_and_wait");
		while (io_uring_peek_cqe(&m->ring, &cqe) == 0) {
			if (cqe->res != (int)PAGE) {
				fprintf(stderr, "uring res %d\n", cqe->res);
				return -1;
			}
			inflight--;
			r->reads++;
			io_uring_cqe_seen(&m->ring, cqe);
		}
		if (!stop)
			stop = now() - t0 >= secs;
	}
	r->secs = now() - t0;
	return 0;
}

/*
 * pread(O_DIRECT) into anonymous memory: one warm page (pread), a fresh
 * page each time with one madvise per 64 (pread-madvise), or a random
 * frame of a faulted-in pool as large as exmap's (pread-pool).
 */
static int run_pread(struct mode *m, double secs, struct meas *r)
{
	double t0 = now(), t;
	bool fresh = m->target == PREAD_FRESH;

	do {
		for (size_t i = 0; i < free_batch; i++) {
			size_t frame = 0;

			if (fresh)
				frame = i;
			else if (m->target == PREAD_POOL)
				frame = random_page() % m->buf_pages;

			if (pread(m->store, m->buf + frame * PAGE, PAGE,
				  (off_t)random_page() * PAGE) !=
			    (ssize_t)PAGE) {
				perror("pread");
				return -1;
			}
		}
		if (fresh && madvise(m->buf, free_batch * PAGE,
				     MADV_DONTNEED))
			die("madvise");
		r->reads += free_batch;
		t = now();
	} while (t - t0 < secs);
	r->secs = t - t0;
	return 0;
}

/* The device and the buffer of a mode that reads into anonymous memory. */
static bool pread_open(struct mode *m, const char *dev)
{
	struct iovec pool;

	m->buf_pages = m->target == PREAD_POOL ? POOL_FRAMES : free_batch;
	m->store = open(dev, O_RDONLY | O_DIRECT);
	if (m->store < 0)
		die("open device");
	m->buf = mmap(NULL, m->buf_pages * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (m->buf == MAP_FAILED)
		die("mmap");
	if (!m->uring_plain)
		return true;
	pool = (struct iovec){ .iov_base = m->buf,
			       .iov_len = m->buf_pages * PAGE };
	if (io_uring_queue_init(m->param * 2, &m->ring, 0) ||
	    io_uring_register_buffers(&m->ring, &pool, 1) ||
	    io_uring_register_files(&m->ring, &m->store, 1))
		die("io_uring setup");
	return true;
}

/* Sets @m up for mode @name on @dev; false if there is no such mode. */
static bool mode_open(struct mode *m, const char *name, const char *dev)
{
	memset(m, 0, sizeof(*m));
	m->name = name;
	if (!strncmp(name, "exmap-read-", 11) ||
	    !strncmp(name, "exmap-alloc-", 12)) {
		m->op = name[6] == 'r' ? EXMAP_OP_READ : EXMAP_OP_ALLOC;
		m->param = atoi(strrchr(name, '-') + 1);
		if (m->param < 1 || m->param > MAX_BATCH)
			return false;
		m->run = run_exmap_read;
	} else if (!strncmp(name, "exmap-uring-", 12)) {
		m->param = atoi(name + 12);
		if (m->param < 1 || m->param > MAX_BATCH)
			return false;
		m->run = run_exmap_uring;
	} else if (!strcmp(name, "exmap-pread")) {
		m->run = run_exmap_pread;
	} else if (!strncmp(name, "uring-", 6)) {
		m->param = atoi(name + 6);
		if (m->param < 1 || m->param > MAX_BATCH)
			return false;
		m->run = run_uring;
		m->uring_plain = true;
		m->target = PREAD_POOL;
		return pread_open(m, dev);
	} else if (!strcmp(name, "pread") || !strcmp(name, "pread-madvise") ||
		   !strcmp(name, "pread-pool")) {
		m->run = run_pread;
		if (!strcmp(name, "pread-madvise"))
			m->target = PREAD_FRESH;
		else if (!strcmp(name, "pread-pool"))
			m->target = PREAD_POOL;
		return pread_open(m, dev);
	} else {
		return false;
	}
	exmap_open(&m->b, dev);
	if (m->run == run_exmap_uring &&
	    (io_uring_queue_init(m->param * 2, &m->ring, 0) ||
	     io_uring_register_files(&m->ring, &m->b.fd, 1)))
		die("io_uring setup");
	return true;
}

static void mode_close(struct mode *m)
{
	if (m->buf) {
		if (m->uring_plain)
			io_uring_queue_exit(&m->ring);
		munmap(m->buf, m->buf_pages * PAGE);
		close(m->store);
		return;
	}
	if (m->run == run_exmap_uring)
		io_uring_queue_exit(&m->ring);
	exmap_close(&m->b);
}

int main(int argc, char **argv)
{
	static const char *const all[] = {
		"exmap-read-1", "exmap-read-8", "exmap-read-64",
		"exmap-pread", "exmap-uring-1", "exmap-uring-8",
		"exmap-uring-32", "exmap-uring-64", "uring-1", "uring-8",
		"uring-32", "uring-64", "pread", "pread-pool",
		"pread-madvise",
	};
	static struct mode modes[MAX_MODES];
	const char *names[MAX_MODES];
	int nmodes = 0, rounds = 1, opt, fd;
	const char *dev;

	while ((opt = getopt(argc, argv, "s:m:r:f:")) != -1) {
		if (opt == 's')
			seconds = atof(optarg);
		else if (opt == 'm' && nmodes < MAX_MODES)
			names[nmodes++] = optarg;
		else if (opt == 'r' && atoi(optarg) > 0)
			rounds = atoi(optarg);
		else if (opt == 'f' && atoi(optarg) > 0 &&
			 atoi(optarg) <= EXMAP_VEC_MAX)
			free_batch = atoi(optarg);
		else
			goto usage;
	}
	if (optind != argc - 1)
		goto usage;
	dev = argv[optind];
	fd = open(dev, O_RDONLY);
	if (fd < 0)
		die(dev);
	dev_pages = lseek(fd, 0, SEEK_END) / PAGE;
	close(fd);
	if (dev_pages > (1u << 20))
		dev_pages = 1u << 20;	/* a 4 GiB area is plenty */
	if (dev_pages < 2 * EXMAP_VEC_MAX) {
		fprintf(stderr, "%s: too small\n", dev);
		return 1;
	}
	if (!nmodes) {
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			names[nmodes++] = all[i];
	}
	for (int i = 0; i < nmodes; i++) {
		if (!mode_open(&modes[i], names[i], dev)) {
			fprintf(stderr, "unknown mode %s\n", names[i]);
			goto usage;
		}
	}

	/*
	 * Round-robin, so that drift of an emulated machine (other guests,
	 * the host's own work) hits every mode alike.
	 */
	for (int k = 0; k < rounds; k++) {
		for (int i = 0; i < nmodes; i++) {
			struct mode *m = &modes[i];
			struct meas r = { 0, 0 };
			double cpu = cpu_now();

			if (m->run(m, seconds / rounds, &r))
				return 1;
			cpu = cpu_now() - cpu;
			printf("round %s %d %lu %.6f %.6f\n", m->name, k,
			       r.reads, r.secs, cpu);
			m->cpu += cpu;
			m->total.reads += r.reads;
			m->total.secs += r.secs;
		}
	}
	for (int i = 0; i < nmodes; i++) {
		struct mode *m = &modes[i];

		printf("%-16s %12.0f %lu %.6f %.6f\n", m->name,
		       m->total.reads / m->total.secs, m->total.reads,
		       m->total.secs, m->cpu);
		mode_close(m);
	}
	return 0;
usage:
	fprintf(stderr,
		"usage: %s [-s seconds] [-r rounds] [-f pages] [-m mode]... "
		"DEVICE\n",
		argv[0]);
	return 2;
}
