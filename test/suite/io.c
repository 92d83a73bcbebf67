// SPDX-License-Identifier: GPL-2.0
/*
 * Description: READ and WRITE against a backing store: data written outside
 * the module comes back exactly through READ (single pages, long runs,
 * scattered vectors), WRITE + FREE + READ returns what was written, on a
 * block device and on a regular file; failing and short reads fail their
 * entry only and leak nothing; several threads read at once; the pread and
 * pwrite shortcut; io_uring with many commands in flight, and an exit with
 * commands still in flight. Stores come from exmap-devices.sh; a test whose
 * store is missing is skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#include <liburing.h>

#include "../helpers.h"

#define DEV_PAGES	4096	/* 16 MiB used of the test device */
#define AREA_PAGES	8192	/* the area reaches past the device's end */
#define POOL		4096

struct io_ctx {
	int fd;			/* /dev/exmap */
	int store;		/* the backing fd, O_DIRECT */
	char *area;
	struct exmap_iov *vec;
};

static uint64_t word(uint32_t page, unsigned int i, uint32_t salt)
{
	return ((uint64_t)salt << 48) ^ ((uint64_t)page << 16) ^ i ^
	       0x0123456789abULL;
}

/* Writes @n pages of pattern @salt from @first with plain pwrite + fsync. */
static void fill_store(const char *path, uint32_t first, uint32_t n,
		       uint32_t salt)
{
	uint64_t buf[T_PAGE / 8];
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	assert_true(fd >= 0);
	for (uint32_t p = first; p < first + n; p++) {
		for (unsigned int i = 0; i < T_PAGE / 8; i++)
			buf[i] = word(p, i, salt);
		assert_int_equal(pwrite(fd, buf, T_PAGE, (off_t)p * T_PAGE),
				 T_PAGE);
	}
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

static int page_is(const char *area, uint32_t page, uint32_t devpage,
		   uint32_t salt)
{
	const uint64_t *q = (const uint64_t *)(area + (size_t)page * T_PAGE);

	for (unsigned int i = 0; i < T_PAGE / 8; i++) {
		if (q[i] != word(devpage, i, salt))
			return 0;
	}
	return 1;
}

static void fill_area(char *area, uint32_t page, uint32_t n, uint32_t salt)
{
	for (uint32_t p = page; p < page + n; p++) {
		uint64_t *q = (uint64_t *)(area + (size_t)p * T_PAGE);

		for (unsigned int i = 0; i < T_PAGE / 8; i++)
			q[i] = word(p, i, salt);
	}
}

static int setup_backing(int fd, int store, uint64_t offset)
{
	struct exmap_setup s = {
		.pool_size = POOL,
		.nr_interfaces = 8,
		.backing_fd = store,
		.backing_offset = offset,
	};

	return ioctl(fd, EXMAP_IOC_SETUP, &s) ? -errno : 0;
}

/* Opens a context backed by @path (O_DIRECT, @flags). */
static int io_open(struct io_ctx *c, const char *path, int flags,
		   uint64_t offset)
{
	c->store = open(path, flags | O_DIRECT);
	assert_true(c->store >= 0);
	c->fd = t_open();
	assert_true(c->fd >= 0);
	assert_int_equal(setup_backing(c->fd, c->store, offset), 0);
	c->area = t_map_area(c->fd, AREA_PAGES);
	assert_non_null(c->area);
	c->vec = t_map_interface(c->fd, 0);
	assert_non_null(c->vec);
	return 0;
}

static void io_close(struct io_ctx *c)
{
	struct exmap_stats st;

	munmap(c->area, AREA_PAGES * T_PAGE);
	assert_int_equal(t_stats(c->fd, &st), 0);
	assert_int_equal(st.frames_in_use, 0);
	assert_int_equal(st.frames_free, st.frames_taken);
	munmap(c->vec, T_PAGE);
	close(c->fd);
	close(c->store);
}

static const char *blkdev(void)
{
	return getenv("EXMAP_TEST_BLKDEV");
}

static int need(const char *what)
{
	return what && *what;
}

static void test_read_block(void **state)
{
	uint32_t scattered[64];
	struct exmap_stats st;
	struct io_ctx c;

	(void)state;
	if (!need(blkdev()))
		skip();
	fill_store(blkdev(), 0, DEV_PAGES, 1);
	io_open(&c, blkdev(), O_RDWR, 0);

	/* Single pages, including the first and the last of the device. */
	t_fill_vec(c.vec, 3, 0, 0, 1);
	c.vec[1].page = 1;
	c.vec[2].page = DEV_PAGES - 1;
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_READ, 3), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(c.vec[i].res, 1);
		assert_true(page_is(c.area, c.vec[i].page, c.vec[i].page, 1));
	}

	/* Long runs. */
	t_fill_vec(c.vec, 2, 100, 900, EXMAP_ENTRY_MAX_PAGES);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_READ, 2), 0);
	for (uint32_t p = 0; p < EXMAP_ENTRY_MAX_PAGES; p++) {
		assert_true(page_is(c.area, 100 + p, 100 + p, 1));
		assert_true(page_is(c.area, 1000 + p, 1000 + p, 1));
	}

	/* 64 scattered pages in one call, in no particular order. */
	for (int i = 0; i < 64; i++) {
		scattered[i] = 2000 + ((i * 37) % 64) * 29;
		c.vec[i].page = scattered[i];
		c.vec[i].len = 1;
	}
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_READ, 64), 0);
	for (int i = 0; i < 64; i++) {
		assert_int_equal(c.vec[i].res, 1);
		assert_true(page_is(c.area, scattered[i], scattered[i], 1));
	}

	assert_int_equal(t_stats(c.fd, &st), 0);
	assert_int_equal(st.read_pages, 3 + 2 * 512 + 64);
	assert_int_equal(st.read_calls, 3);
	assert_int_equal(st.frames_in_use, 3 + 2 * 512 + 64);
	io_close(&c);
}

static void test_read_errors_are_per_entry(void **state)
{
	struct exmap_stats st;
	struct exmap_iov *vec;
	uint32_t end;
	off_t size;
	char *area;
	int fd, store;

	(void)state;
	if (!need(blkdev()))
		skip();
	fill_store(blkdev(), 0, 16, 1);
	store = open(blkdev(), O_RDWR | O_DIRECT);
	assert_true(store >= 0);
	size = lseek(store, 0, SEEK_END);
	end = (uint32_t)(size / T_PAGE);
	/* An area that reaches 8 pages past the device's end. */
	fd = t_open();
	assert_int_equal(setup_backing(fd, store, 0), 0);
	area = t_map_area(fd, end + 8);
	assert_non_null(area);
	vec = t_map_interface(fd, 0);
	assert_non_null(vec);

	/* Past the end, across it, and a good one between. */
	t_fill_vec(vec, 3, 0, 0, 1);
	vec[0].page = end;
	vec[1].page = 7;
	vec[2].page = end - 2;
	vec[2].len = 4;
	assert_int_equal(t_action(fd, 0, EXMAP_OP_READ, 3), 2);
	assert_int_equal(vec[0].res, -ENODATA);
	assert_int_equal(vec[1].res, 1);
	assert_int_equal(vec[2].res, -ENODATA);
	assert_true(page_is(area, 7, 7, 1));
	assert_true(t_read_faults(area + (size_t)end * T_PAGE));
	assert_true(t_read_faults(area + (size_t)(end - 2) * T_PAGE));
	assert_int_equal(t_stats(fd, &st), 0);
	assert_int_equal(st.frames_in_use, 1);
	assert_int_equal(st.read_pages, 1);
	assert_int_equal(st.frames_free, st.frames_taken - 1);
	munmap(area, (size_t)(end + 8) * T_PAGE);
	munmap(vec, T_PAGE);
	close(fd);
	close(store);
}

static void test_read_keeps_mapped_pages(void **state)
{
	struct io_ctx c;

	(void)state;
	if (!need(blkdev()))
		skip();
	fill_store(blkdev(), 40, 16, 3);
	io_open(&c, blkdev(), O_RDWR, 0);
	t_fill_vec(c.vec, 1, 50, 0, 1);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_ALLOC, 1), 0);
	memset(c.area + 50 * T_PAGE, 'X', T_PAGE);
	/* READ skips what is mapped: page 50 keeps its contents. */
	t_fill_vec(c.vec, 1, 48, 0, 4);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_READ, 1), 0);
	assert_int_equal(c.vec[0].res, 3);
	assert_int_equal(c.area[50 * T_PAGE + 100], 'X');
	assert_true(page_is(c.area, 48, 48, 3));
	assert_true(page_is(c.area, 51, 51, 3));
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 1), 0);
	io_close(&c);
}

static void test_write_free_read(void **state)
{
	struct exmap_stats st;
	struct io_ctx c;

	(void)state;
	if (!need(blkdev()))
		skip();
	fill_store(blkdev(), 200, 64, 1);
	io_open(&c, blkdev(), O_RDWR, 0);
	t_fill_vec(c.vec, 2, 200, 32, 32);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_ALLOC, 2), 0);
	fill_area(c.area, 200, 64, 2);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_WRITE, 2), 0);
	assert_int_equal(c.vec[0].res, 32);
	assert_int_equal(c.vec[1].res, 32);
	/* WRITE leaves the pages mapped and unchanged. */
	assert_true(page_is(c.area, 230, 230, 2));
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 2), 0);
	assert_true(t_read_faults(c.area + 200 * T_PAGE));
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_READ, 2), 0);
	for (uint32_t p = 200; p < 264; p++)
		assert_true(page_is(c.area, p, p, 2));
	assert_int_equal(t_stats(c.fd, &st), 0);
	assert_int_equal(st.write_pages, 64);
	assert_int_equal(st.write_calls, 1);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 2), 0);
	io_close(&c);
}

static void test_write_unmapped(void **state)
{
	struct io_ctx c;

	(void)state;
	if (!need(blkdev()))
		skip();
	fill_store(blkdev(), 300, 8, 1);
	io_open(&c, blkdev(), O_RDWR, 0);
	/* Pages 300..303 mapped, 304..307 not: the second entry fails. */
	t_fill_vec(c.vec, 1, 300, 0, 4);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_ALLOC, 1), 0);
	fill_area(c.area, 300, 4, 5);
	t_fill_vec(c.vec, 2, 300, 3, 4);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_WRITE, 2), 1);
	assert_int_equal(c.vec[0].res, 4);
	assert_int_equal(c.vec[1].res, -EFAULT);
	t_fill_vec(c.vec, 1, 300, 0, 8);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 1), 0);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_READ, 1), 0);
	/* The failed entry wrote nothing: 303 (first entry) new, 304 old. */
	assert_true(page_is(c.area, 303, 303, 5));
	assert_true(page_is(c.area, 304, 304, 1));
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 1), 0);
	io_close(&c);
}

static void test_backing_rules(void **state)
{
	struct exmap_setup s = { .pool_size = 8, .nr_interfaces = 1 };
	int fd, store, ro, wo, buffered;
	struct exmap_iov *vec;
	char *area;

	(void)state;
	if (!need(blkdev()))
		skip();
	store = open(blkdev(), O_RDWR | O_DIRECT);
	ro = open(blkdev(), O_RDONLY | O_DIRECT);
	wo = open(blkdev(), O_WRONLY | O_DIRECT);
	buffered = open(blkdev(), O_RDWR);
	assert_true(store >= 0 && ro >= 0 && wo >= 0 && buffered >= 0);

	fd = t_open();
	assert_int_equal(setup_backing(fd, buffered, 0), -EINVAL);
	assert_int_equal(setup_backing(fd, wo, 0), -EBADF);
	assert_int_equal(setup_backing(fd, store, 100), -EINVAL);
	/* SETUP leaves its input fields as they were. */
	s.backing_fd = store;
	s.backing_offset = 4 * T_PAGE;
	assert_int_equal(ioctl(fd, EXMAP_IOC_SETUP, &s), 0);
	assert_int_equal(s.backing_fd, store);
	assert_int_equal(s.backing_offset, 4 * T_PAGE);
	close(fd);

	/* Without a backing store, READ and WRITE have nothing to use. */
	fd = t_open();
	assert_int_equal(t_setup(fd, 8, 1), 0);
	area = t_map_area(fd, 16);
	vec = t_map_interface(fd, 0);
	t_fill_vec(vec, 1, 0, 0, 1);
	assert_int_equal(t_action(fd, 0, EXMAP_OP_READ, 1), -EBADF);
	assert_int_equal(t_action(fd, 0, EXMAP_OP_WRITE, 1), -EBADF);
	munmap(area, 16 * T_PAGE);
	munmap(vec, T_PAGE);
	close(fd);

	/* A read-only store: READ works, WRITE is refused. */
	fill_store(blkdev(), 0, 1, 9);
	fd = t_open();
	assert_int_equal(setup_backing(fd, ro, 0), 0);
	/* The module holds its own reference: the caller's fd may go. */
	close(ro);
	area = t_map_area(fd, 16);
	vec = t_map_interface(fd, 0);
	t_fill_vec(vec, 1, 0, 0, 1);
	assert_int_equal(t_action(fd, 0, EXMAP_OP_READ, 1), 0);
	assert_true(page_is(area, 0, 0, 9));
	assert_int_equal(t_action(fd, 0, EXMAP_OP_WRITE, 1), -EBADF);
	munmap(area, 16 * T_PAGE);
	munmap(vec, T_PAGE);
	close(fd);
	close(store);
	close(wo);
	close(buffered);
}

static void test_backing_offset(void **state)
{
	struct io_ctx c;

	(void)state;
	if (!need(blkdev()))
		skip();
	fill_store(blkdev(), 256, 4, 4);
	io_open(&c, blkdev(), O_RDWR, 256 * T_PAGE);
	t_fill_vec(c.vec, 1, 0, 0, 4);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_READ, 1), 0);
	for (uint32_t p = 0; p < 4; p++)
		assert_true(page_is(c.area, p, 256 + p, 4));
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 1), 0);
	io_close(&c);
}

static void test_regular_file(void **state)
{
	const char *dir = getenv("EXMAP_TEST_DIR");
	char path[256];
	struct io_ctx c;

	(void)state;
	if (!need(dir))
		skip();
	snprintf(path, sizeof(path), "%s/store", dir);
	unlink(path);
	fill_store(path, 0, 1024, 6);
	io_open(&c, path, O_RDWR, 0);

	t_fill_vec(c.vec, 4, 0, 300, 100);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_READ, 4), 0);
	for (uint32_t e = 0; e < 4; e++)
		assert_int_equal(c.vec[e].res, 100);
	for (uint32_t e = 0; e < 4; e++)
		for (uint32_t p = e * 300; p < e * 300 + 100 && p < 1024; p++)
			assert_true(page_is(c.area, p, p, 6));
	fill_area(c.area, 300, 100, 7);
	t_fill_vec(c.vec, 1, 300, 0, 100);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_WRITE, 1), 0);
	assert_int_equal(c.vec[0].res, 100);
	t_fill_vec(c.vec, 4, 0, 300, 100);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 4), 0);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_READ, 4), 0);
	assert_true(page_is(c.area, 350, 350, 7));
	assert_true(page_is(c.area, 99, 99, 6));
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 4), 0);

	/* A truncated file: reads reaching past its end fail, alone. */
	assert_int_equal(ftruncate(c.store, 1000 * T_PAGE), 0);
	t_fill_vec(c.vec, 3, 998, 0, 4);
	c.vec[1].page = 1010;
	c.vec[1].len = 1;
	c.vec[2].page = 990;
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_READ, 3), 2);
	assert_int_equal(c.vec[0].res, -ENODATA);
	assert_int_equal(c.vec[1].res, -ENODATA);
	assert_int_equal(c.vec[2].res, 4);
	assert_true(t_read_faults(c.area + 998 * T_PAGE));
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 3), 0);
	io_close(&c);
	unlink(path);
}

static void test_device_errors(void **state)
{
	const char *bad = getenv("EXMAP_TEST_BADDEV");
	struct exmap_stats st;
	struct io_ctx c;

	(void)state;
	if (!need(bad))
		skip();
	fill_store(bad, 8, 200, 8);
	io_open(&c, bad, O_RDWR, 0);
	/* Pages 0..7 sit on bad sectors. */
	t_fill_vec(c.vec, 4, 0, 0, 1);
	c.vec[1].page = 100;
	c.vec[2].page = 4;
	c.vec[2].len = 8;	/* 4..11: part bad */
	c.vec[3].page = 150;
	c.vec[3].len = 8;
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_READ, 4), 2);
	assert_int_equal(c.vec[0].res, -EIO);
	assert_int_equal(c.vec[1].res, 1);
	assert_int_equal(c.vec[2].res, -EIO);
	assert_int_equal(c.vec[3].res, 8);
	assert_true(page_is(c.area, 100, 100, 8));
	assert_true(page_is(c.area, 157, 157, 8));
	assert_true(t_read_faults(c.area + 8 * T_PAGE));
	assert_int_equal(t_stats(c.fd, &st), 0);
	assert_int_equal(st.frames_in_use, 9);
	assert_int_equal(st.frames_free, st.frames_taken - 9);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 4), 0);
	io_close(&c);
}

struct reader {
	struct io_ctx *c;
	unsigned int id;
	const char *error;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct exmap_iov *vec = t_map_interface(r->c->fd, r->id);

	if (!vec) {
		r->error = "map interface";
		return NULL;
	}
	for (int round = 0; round < 20 && !r->error; round++) {
		/* Own pages plus pages every reader reads. */
		for (int i = 0; i < 16; i++) {
			vec[i].page = 1000 + r->id * 100 + i * 3;
			vec[i].len = 2;
		}
		vec[16].page = 3000 + round;
		vec[16].len = 4;
		if (t_action(r->c->fd, r->id, EXMAP_OP_READ, 17) != 0) {
			r->error = "READ";
			break;
		}
		for (int i = 0; i < 17; i++)
			for (uint32_t p = 0; p < vec[i].len; p++)
				if (!page_is(r->c->area, vec[i].page + p,
					     vec[i].page + p, 1))
					r->error = "data";
		/* Own pages only: the shared ones stay for the others. */
		if (t_action(r->c->fd, r->id, EXMAP_OP_FREE, 16) != 0)
			r->error = "FREE";
	}
	munmap(vec, T_PAGE);
	return NULL;
}

static void test_threads(void **state)
{
	struct reader r[4];
	pthread_t tid[4];
	struct io_ctx c;

	(void)state;
	if (!need(blkdev()))
		skip();
	fill_store(blkdev(), 1000, 2100, 1);
	io_open(&c, blkdev(), O_RDWR, 0);
	for (unsigned int i = 0; i < 4; i++) {
		r[i] = (struct reader){ .c = &c, .id = 1 + i };
		assert_int_equal(pthread_create(&tid[i], NULL, reader_main,
						&r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(tid[i], NULL);
		if (r[i].error)
			fail_msg("reader %d: %s", i, r[i].error);
	}
	t_fill_vec(c.vec, 1, 3000, 0, 24);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 1), 0);
	assert_int_equal(c.vec[0].res, 23);
	io_close(&c);
}

static void test_shortcut(void **state)
{
	struct io_ctx c;
	char *p;

	(void)state;
	if (!need(blkdev()))
		skip();
	fill_store(blkdev(), 500, 8, 10);
	io_open(&c, blkdev(), O_RDWR, 0);
	p = c.area + 500 * T_PAGE;
	assert_int_equal(pread(c.fd, p, 4 * T_PAGE, 3), 4 * T_PAGE);
	assert_true(page_is(c.area, 503, 503, 10));
	fill_area(c.area, 500, 4, 11);
	assert_int_equal(pwrite(c.fd, p, 4 * T_PAGE, 0), 4 * T_PAGE);
	t_fill_vec(c.vec, 1, 500, 0, 4);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 1), 0);
	assert_int_equal(pread(c.fd, p, 4 * T_PAGE, 0), 4 * T_PAGE);
	assert_true(page_is(c.area, 501, 501, 11));
	/* Malformed: unaligned, empty, outside the area, bad interface. */
	assert_int_equal(pread(c.fd, p + 1, T_PAGE, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(pread(c.fd, p, 100, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(pread(c.fd, p, 0, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(pread(c.fd, c.area + AREA_PAGES * T_PAGE, T_PAGE, 0),
			 -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(pread(c.fd, p, T_PAGE, 8), -1);
	assert_int_equal(errno, EINVAL);
	/* A WRITE of an unmapped page is the entry's EFAULT. */
	assert_int_equal(pwrite(c.fd, c.area + 600 * T_PAGE, T_PAGE, 0), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 1), 0);
	io_close(&c);
}

static void prep_cmd(struct io_uring_sqe *sqe, int fd, unsigned int op,
		     uint32_t page, uint16_t len, uint64_t tag)
{
	struct exmap_uring_cmd cmd = {
		.page = page, .len = len, .interface = 1,
	};

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = op;
	memcpy(sqe->cmd, &cmd, sizeof(cmd));
	io_uring_sqe_set_data64(sqe, tag);
}

/* Keeps @depth commands in flight until pages first..first+n are done. */
static void uring_run(struct io_uring *ring, int fd, unsigned int op,
		      uint32_t first, uint32_t n, unsigned int depth)
{
	uint32_t next = first, done = 0, inflight = 0;
	struct io_uring_cqe *cqe;

	while (done < n) {
		while (inflight < depth && next < first + n) {
			prep_cmd(io_uring_get_sqe(ring), fd, op, next, 1,
				 next);
			next++;
			inflight++;
		}
		assert_true(io_uring_submit(ring) >= 0);
		assert_int_equal(io_uring_wait_cqe(ring, &cqe), 0);
		if (cqe->res != 1)
			fail_msg("page %llu: res %d",
				 (unsigned long long)cqe->user_data, cqe->res);
		io_uring_cqe_seen(ring, cqe);
		inflight--;
		done++;
	}
}

static void test_uring(void **state)
{
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	struct io_ctx c;

	(void)state;
	if (!need(blkdev()))
		skip();
	fill_store(blkdev(), 0, 512, 12);
	io_open(&c, blkdev(), O_RDWR, 0);
	assert_int_equal(io_uring_queue_init(64, &ring, 0), 0);

	uring_run(&ring, c.fd, EXMAP_OP_READ, 0, 512, 32);
	for (uint32_t p = 0; p < 512; p++)
		assert_true(page_is(c.area, p, p, 12));
	fill_area(c.area, 0, 512, 13);
	uring_run(&ring, c.fd, EXMAP_OP_WRITE, 0, 512, 32);
	t_fill_vec(c.vec, 1, 0, 0, 512);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 1), 0);
	uring_run(&ring, c.fd, EXMAP_OP_READ, 0, 512, 8);
	for (uint32_t p = 0; p < 512; p++)
		assert_true(page_is(c.area, p, p, 13));

	/* A bad command completes with its errno. */
	prep_cmd(io_uring_get_sqe(&ring), c.fd, EXMAP_OP_ALLOC, 0, 1, 0);
	assert_int_equal(io_uring_submit(&ring), 1);
	assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
	assert_int_equal(cqe->res, -EINVAL);
	io_uring_cqe_seen(&ring, cqe);
	prep_cmd(io_uring_get_sqe(&ring), c.fd, EXMAP_OP_READ,
		 AREA_PAGES - 1, 2, 0);
	assert_int_equal(io_uring_submit(&ring), 1);
	assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
	assert_int_equal(cqe->res, -EINVAL);
	io_uring_cqe_seen(&ring, cqe);

	io_uring_queue_exit(&ring);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 1), 0);
	io_close(&c);
}

static const char *slowdev(void)
{
	return getenv("EXMAP_TEST_SLOWDEV");
}

/*
 * Cancellation by io_uring: its worker pool is held to one thread, kept
 * busy by a buffered read of the slow device, and READ commands forced to
 * the workers wait behind it; a cancel of everything on the exmap fd
 * cancels them before the module sees them. At least one cancellation is
 * certain (the slow read holds the only worker far longer than the cancel
 * takes); each command completes whole or is cancelled, nothing in
 * between, and what is mapped is what completed.
 */
static void test_uring_cancel(void **state)
{
	unsigned int workers[2] = { 1, 1 };
	unsigned long mapped = 0, cancelled = 0;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct exmap_stats st;
	struct io_uring ring;
	struct io_ctx c;
	long said = -1;
	char *buf;
	int slow;

	(void)state;
	if (!need(blkdev()) || !need(slowdev()))
		skip();
	fill_store(blkdev(), 0, 256, 14);
	io_open(&c, blkdev(), O_RDWR, 0);
	assert_int_equal(io_uring_queue_init(64, &ring, 0), 0);
	assert_int_equal(io_uring_register_iowq_max_workers(&ring, workers),
			 0);
	/*
	 * Buffered, out of the page cache, at a page no run has read: the
	 * worker waits for the device.
	 */
	slow = open(slowdev(), O_RDONLY);
	assert_true(slow >= 0);
	assert_int_equal(posix_fadvise(slow, 0, 0, POSIX_FADV_DONTNEED), 0);
	buf = malloc(T_PAGE);
	assert_non_null(buf);
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, slow, buf, T_PAGE,
			   (1 + getpid() % 2000) * 2 * T_PAGE);
	sqe->flags |= IOSQE_ASYNC;
	io_uring_sqe_set_data64(sqe, 1000);
	for (uint32_t p = 0; p < 32; p++) {
		sqe = io_uring_get_sqe(&ring);
		prep_cmd(sqe, c.fd, EXMAP_OP_READ, p * 8, 8, p + 1);
		sqe->flags |= IOSQE_ASYNC;
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_cancel_fd(sqe, c.fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data64(sqe, 0);
	assert_int_equal(io_uring_submit(&ring), 34);
	for (int i = 0; i < 34; i++) {
		assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
		if (cqe->user_data == 0) {
			said = cqe->res;
		} else if (cqe->user_data == 1000) {
			assert_int_equal(cqe->res, T_PAGE);
		} else {
			uint32_t first = (cqe->user_data - 1) * 8;

			if (cqe->res == 8) {
				mapped += 8;
				assert_true(page_is(c.area, first + 7,
						    first + 7, 14));
			} else {
				assert_int_equal(cqe->res, -ECANCELED);
				cancelled++;
				assert_true(t_read_faults(c.area +
						(size_t)first * T_PAGE));
			}
		}
		io_uring_cqe_seen(&ring, cqe);
	}
	/* For CANCEL_ALL, res counts io_uring's sweeps, not requests. */
	print_message("%lu of 32 READs cancelled (cancel res %ld)\n",
		      cancelled, said);
	assert_true(cancelled > 0);
	assert_int_equal(t_stats(c.fd, &st), 0);
	assert_int_equal(st.frames_in_use, mapped);
	io_uring_queue_exit(&ring);
	free(buf);
	close(slow);
	t_fill_vec(c.vec, 1, 0, 0, 256);
	assert_int_equal(t_action(c.fd, 0, EXMAP_OP_FREE, 1), 0);
	io_close(&c);
}

struct submitter {
	struct io_uring *ring;
	int fd;
};

/* Submits 16 READs of the slow device and leaves before they complete. */
static void *submit_and_leave(void *arg)
{
	struct submitter *s = arg;

	for (uint32_t p = 0; p < 16; p++)
		prep_cmd(io_uring_get_sqe(s->ring), s->fd, EXMAP_OP_READ,
			 p * 4, 4, p + 1);
	return (void *)(intptr_t)io_uring_submit(s->ring);
}

/*
 * The module's own cancellation: READs whose submitting thread is gone
 * when their data arrives map nothing, complete with -ECANCELED (on the
 * ring, which the process still has) and give their frames back. Certain:
 * the slow device takes far longer than a thread's exit.
 */
static void test_uring_submitter_gone(void **state)
{
	struct io_uring_cqe *cqe;
	struct exmap_stats st;
	struct submitter s;
	struct io_uring ring;
	struct io_ctx c;
	pthread_t tid;
	void *ret;

	(void)state;
	if (!need(slowdev()))
		skip();
	io_open(&c, slowdev(), O_RDONLY, 0);
	assert_int_equal(io_uring_queue_init(16, &ring, 0), 0);
	s = (struct submitter){ .ring = &ring, .fd = c.fd };
	assert_int_equal(pthread_create(&tid, NULL, submit_and_leave, &s), 0);
	assert_int_equal(pthread_join(tid, &ret), 0);
	assert_int_equal((intptr_t)ret, 16);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
		assert_int_equal(cqe->res, -ECANCELED);
		io_uring_cqe_seen(&ring, cqe);
	}
	assert_int_equal(t_stats(c.fd, &st), 0);
	assert_int_equal(st.frames_in_use, 0);
	assert_int_equal(st.read_calls, 16);
	for (uint32_t p = 0; p < 64; p++)
		assert_true(t_read_faults(c.area + (size_t)p * T_PAGE));
	io_uring_queue_exit(&ring);
	io_close(&c);
}

/* A child that leaves with 64 reads in flight. */
static void exit_in_flight(void)
{
	struct io_uring ring;
	struct io_ctx c;

	io_open(&c, blkdev(), O_RDWR, 0);
	if (io_uring_queue_init(64, &ring, 0))
		_exit(2);
	for (uint32_t p = 0; p < 64; p++)
		prep_cmd(io_uring_get_sqe(&ring), c.fd, EXMAP_OP_READ,
			 p * 8, 8, p);
	if (io_uring_submit(&ring) != 64)
		_exit(3);
	_exit(0);
}

static void test_uring_exit_in_flight(void **state)
{
	long frames = t_frames_held();
	int status;
	pid_t pid;

	(void)state;
	if (!need(blkdev()))
		skip();
	for (int round = 0; round < 5; round++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			exit_in_flight();
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	/* Every frame comes back, once io_uring's exit work has run. */
	assert_int_equal(t_frames_settle(frames), frames);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_block),
		cmocka_unit_test(test_read_errors_are_per_entry),
		cmocka_unit_test(test_read_keeps_mapped_pages),
		cmocka_unit_test(test_write_free_read),
		cmocka_unit_test(test_write_unmapped),
		cmocka_unit_test(test_backing_rules),
		cmocka_unit_test(test_backing_offset),
		cmocka_unit_test(test_regular_file),
		cmocka_unit_test(test_device_errors),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_shortcut),
		cmocka_unit_test(test_uring),
		cmocka_unit_test(test_uring_cancel),
		cmocka_unit_test(test_uring_submitter_gone),
		cmocka_unit_test(test_uring_exit_in_flight),
	};

	if (!t_have_device())
		return T_EXIT_SKIP;
	return cmocka_run_group_tests_name("io", tests, NULL, NULL);
}
