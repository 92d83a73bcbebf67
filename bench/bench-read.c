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
 *   pread           pread(O_DIRECT) into a warm 4 KiB buffer
 *   pread-madvise   pread(O_DIRECT) into fresh anonymous pages, one
 *                   madvise(MADV_DONTNEED) per 64 (the plain Linux way)
 *
 * usage: bench-read [-s seconds] [-m mode]... DEVICE
 * Prints one line per mode: name, reads/s, reads, seconds, CPU seconds.
 * bench-read.sh adds fio.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/exmap.h>

#include "bench-util.h"

#define PAGE		((size_t)EXMAP_PAGE_SIZE)
#define FREE_BATCH	64

/* What one mode did: reads completed, in how many seconds of wall time. */
struct meas {
	unsigned long reads;
	double secs;
};

static double seconds = 2;
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
	struct exmap_setup s = { .pool_size = 4096, .nr_interfaces = 1 };

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

/*
 * READ @batch scattered pages per call (or ALLOC them), and FREE every 64
 * pages read in one call, as a buffer manager evicts in batches.
 */
static struct meas bench_exmap_read(const char *dev, unsigned int batch,
			       unsigned int op)
{
	struct exmap_iov evict[2 * FREE_BATCH];
	unsigned int nfree = 0;
	struct exmap_bench b;
	unsigned long reads = 0;
	double t0, t;

	exmap_open(&b, dev);
	t0 = now();
	do {
		for (int k = 0; k < 16; k++) {
			random_vec(b.vec, batch);
			action(b.fd, 0, op, batch);
			for (unsigned int i = 0; i < batch; i++) {
				if (b.vec[i].res < 0) {
					fprintf(stderr, "READ res %d\n",
						b.vec[i].res);
					exit(1);
				}
				evict[nfree++] = b.vec[i];
			}
			if (nfree >= FREE_BATCH) {
				/* On the same interface: frames stay local. */
				memcpy(b.vec, evict, nfree * sizeof(*evict));
				action(b.fd, 0, EXMAP_OP_FREE, nfree);
				nfree = 0;
			}
			reads += batch;
		}
		t = now();
	} while (t - t0 < seconds);
	exmap_close(&b);
	return (struct meas){ reads, t - t0 };
}

static struct meas bench_exmap_uring(const char *dev, unsigned int depth)
{
	unsigned int inflight = 0, nfree = 0;
	struct exmap_bench b;
	struct io_uring ring;
	unsigned long reads = 0;
	double t0, t;
	int stop = 0;

	exmap_open(&b, dev);
	if (io_uring_queue_init(depth * 2, &ring, 0))
		die("io_uring_queue_init");
	t0 = now();
	while (!stop || inflight) {
		struct io_uring_cqe *cqe;

		while (!stop && inflight < depth) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			struct exmap_uring_cmd cmd = {
				.page = random_page(), .len = 1,
			};

			io_uring_prep_rw(IORING_OP_URING_CMD, sqe, b.fd, NULL,
					 0, 0);
			sqe->cmd_op = EXMAP_OP_READ;
			memcpy(sqe->cmd, &cmd, sizeof(cmd));
			io_uring_sqe_set_data64(sqe, cmd.page);
			inflight++;
		}
		if (io_uring_submit_and_wait(&ring, 1) < 0)
			die("io_uring_submit_and_wait");
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			/* 0: the page was in flight twice and is mapped. */
			if (cqe->res < 0) {
				fprintf(stderr, "uring res %d\n", cqe->res);
				exit(1);
			}
			b.vec[nfree].page = cqe->user_data;
			b.vec[nfree].len = 1;
			nfree++;
			inflight--;
			reads++;
			io_uring_cqe_seen(&ring, cqe);
			if (nfree == FREE_BATCH) {
				action(b.fd, 0, EXMAP_OP_FREE, nfree);
				nfree = 0;
			}
		}
		if (!stop)
			stop = now() - t0 >= seconds;
	}
	t = now();
	io_uring_queue_exit(&ring);
	exmap_close(&b);
	return (struct meas){ reads, t - t0 };
}

static struct meas bench_pread(const char *dev, int fresh)
{
	unsigned long reads = 0;
	double t0, t;
	char *buf;
	int store;

	store = open(dev, O_RDONLY | O_DIRECT);
	if (store < 0)
		die("open device");
	buf = mmap(NULL, FREE_BATCH * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap");
	t0 = now();
	do {
		for (int i = 0; i < FREE_BATCH; i++) {
			char *dst = fresh ? buf + i * PAGE : buf;

			if (pread(store, dst, PAGE,
				  (off_t)random_page() * PAGE) != (ssize_t)PAGE)
				die("pread");
		}
		if (fresh && madvise(buf, FREE_BATCH * PAGE, MADV_DONTNEED))
			die("madvise");
		reads += FREE_BATCH;
		t = now();
	} while (t - t0 < seconds);
	munmap(buf, FREE_BATCH * PAGE);
	close(store);
	return (struct meas){ reads, t - t0 };
}

int main(int argc, char **argv)
{
	static const char *const all[] = {
		"exmap-read-1", "exmap-read-16", "exmap-read-64",
		"exmap-uring-1", "exmap-uring-8", "exmap-uring-32",
		"exmap-uring-64", "pread", "pread-madvise",
	};
	const char *modes[16];
	int nmodes = 0, opt, fd;
	const char *dev;

	while ((opt = getopt(argc, argv, "s:m:")) != -1) {
		if (opt == 's')
			seconds = atof(optarg);
		else if (opt == 'm' && nmodes < 16)
			modes[nmodes++] = optarg;
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
	if (!nmodes) {
		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			modes[nmodes++] = all[i];
	}

	for (int i = 0; i < nmodes; i++) {
		const char *m = modes[i];
		double cpu = cpu_now();
		struct meas r;

		if (!strncmp(m, "exmap-read-", 11))
			r = bench_exmap_read(dev, atoi(m + 11), EXMAP_OP_READ);
		else if (!strncmp(m, "exmap-alloc-", 12))
			r = bench_exmap_read(dev, atoi(m + 12), EXMAP_OP_ALLOC);
		else if (!strncmp(m, "exmap-uring-", 12))
			r = bench_exmap_uring(dev, atoi(m + 12));
		else if (!strcmp(m, "pread"))
			r = bench_pread(dev, 0);
		else if (!strcmp(m, "pread-madvise"))
			r = bench_pread(dev, 1);
		else
			goto usage;
		printf("%-16s %12.0f %lu %.6f %.6f\n", m, r.reads / r.secs,
		       r.reads, r.secs, cpu_now() - cpu);
		fflush(stdout);
	}
	return 0;
usage:
	fprintf(stderr, "usage: %s [-s seconds] [-m mode]... DEVICE\n",
		argv[0]);
	return 2;
}
