// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * libexmap's kernel backend: the ioctls of /dev/exmap, and for the
 * asynchronous calls one IORING_OP_URING_CMD per entry on the exmap fd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libexmap-int.h"

static void kernel_destroy(struct exmap *x)
{
	for (unsigned int k = 0; k < x->opts.nr_interfaces; k++) {
		if (x->ifs[k].vec)
			munmap(x->ifs[k].vec, EXMAP_INTERFACE_SIZE);
	}
	if (x->area)
		munmap(x->area, x->opts.area_pages * EXMAP_PAGE_SIZE);
	if (x->fd >= 0)
		close(x->fd);
}

static int kernel_create(struct exmap *x)
{
	struct exmap_setup s = {
		.pool_size = x->opts.pool_pages,
		.nr_interfaces = x->opts.nr_interfaces,
		.backing_fd = x->opts.backing_fd,
		.backing_offset = x->opts.backing_offset,
	};
	void *p;
	int ret;

	x->fd = open("/dev/exmap", O_RDWR | O_CLOEXEC);
	if (x->fd < 0)
		return -errno;
	if (ioctl(x->fd, EXMAP_IOC_SETUP, &s))
		goto fail;
	p = mmap(NULL, x->opts.area_pages * EXMAP_PAGE_SIZE,
		 PROT_READ | PROT_WRITE, MAP_SHARED, x->fd, EXMAP_OFF_AREA);
	if (p == MAP_FAILED)
		goto fail;
	x->area = p;
	for (unsigned int k = 0; k < x->opts.nr_interfaces; k++) {
		p = mmap(NULL, EXMAP_INTERFACE_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED, x->fd, EXMAP_OFF_INTERFACE(k));
		if (p == MAP_FAILED)
			goto fail;
		x->ifs[k].vec = p;
	}
	return 0;
fail:
	ret = -errno;
	kernel_destroy(x);
	return ret;
}

static int kernel_action(struct exmap_if *i, unsigned int opcode)
{
	struct exmap_action a = {
		.interface = i->idx, .nr = exmap_if_nr(i, opcode),
		.opcode = opcode, .flags = i->flags,
	};
	int ret = ioctl(i->x->fd, EXMAP_IOC_ACTION, &a);

	return ret < 0 ? -errno : ret;
}

static int kernel_stats(struct exmap *x, struct exmap_stats2 *st)
{
	return ioctl(x->fd, EXMAP_IOC_STATS2, st) ? -errno : 0;
}

/* Each entry becomes one command; the module maps a READ's pages itself. */
static int kernel_submit(struct exmap_if *i, unsigned int opcode)
{
	if (!i->as->have_ring)
		return -EOPNOTSUPP;
	for (unsigned int k = 0; k < i->nr; k++) {
		struct io_uring_sqe *sqe = exmap_async_sqe(i);
		struct exmap_uring_cmd cmd = {
			.page = i->vec[k].page, .len = i->vec[k].len,
			.interface = i->idx,
		};

		/* The exmap fd is the ring's registered file 0. */
		io_uring_prep_rw(IORING_OP_URING_CMD, sqe, 0, NULL, 0, 0);
		sqe->flags |= IOSQE_FIXED_FILE;
		sqe->cmd_op = opcode;
		memcpy(sqe->cmd, &cmd, sizeof(cmd));
		io_uring_sqe_set_data64(sqe, k);
	}
	return 0;
}

static int kernel_complete(struct exmap_if *i, const struct io_uring_cqe *cqe)
{
	unsigned int k = (unsigned int)cqe->user_data;

	i->vec[k].res = (int16_t)cqe->res;
	return (int)k;
}

const struct exmap_ops exmap_kernel_ops = {
	.create = kernel_create,
	.destroy = kernel_destroy,
	.action = kernel_action,
	.stats = kernel_stats,
	.submit = kernel_submit,
	.complete = kernel_complete,
};
