// SPDX-License-Identifier: GPL-2.0
/*
 * SETUP: fixes a context's pool size, interfaces and backing store, once;
 * and the teardown of all of that when the context is released.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/sched/mm.h>
#include <linux/string.h>

#include "exmap.h"

/* Flags SETUP knows; none yet. */
#define EXMAP_SETUP_KNOWN_FLAGS	0ULL

/*
 * A backing store must be a block device or regular file opened with
 * O_DIRECT for reading: the module reads whole frames straight into it.
 */
static int exmap_backing_get(struct exmap_ctx *ctx, int fd, u64 offset)
{
	struct file *file;
	umode_t mode;

	if (fd == -1)
		return offset ? -EINVAL : 0;
	if (offset % EXMAP_PAGE_SIZE || offset > LLONG_MAX)
		return -EINVAL;
	file = fget(fd);
	if (!file)
		return -EBADF;
	mode = file_inode(file)->i_mode;
	if (!(file->f_mode & FMODE_READ)) {
		fput(file);
		return -EBADF;
	}
	if ((!S_ISREG(mode) && !S_ISBLK(mode)) ||
	    !(file->f_flags & O_DIRECT)) {
		fput(file);
		return -EINVAL;
	}
	ctx->backing = file;
	ctx->backing_offset = offset;
	return 0;
}

/* The argument's input fields are well formed: 0 or -EINVAL. */
static int exmap_setup_prep(const struct exmap_setup *s)
{
	if (!s->pool_size || s->pool_size > EXMAP_AREA_MAX_PAGES ||
	    !s->nr_interfaces || s->nr_interfaces > EXMAP_MAX_INTERFACES ||
	    s->flags & ~EXMAP_SETUP_KNOWN_FLAGS ||
	    memchr_inv(s->resv, 0, sizeof(s->resv)) || s->api || s->ioctls)
		return -EINVAL;
	return 0;
}

/*
 * Sets the context up as @s asks: 0, or -errno with nothing set up (a
 * second SETUP gets -EBUSY). Never faults on user memory: the caller copies
 * the argument in and out outside setup_lock, which mmap takes under
 * mmap_lock.
 */
int exmap_setup(struct exmap_ctx *ctx, const struct exmap_setup *s)
{
	int ret = exmap_setup_prep(s);

	if (ret)
		return ret;

	mutex_lock(&ctx->setup_lock);
	ret = -EBUSY;
	if (ctx->ready)
		goto out;
	ret = exmap_limits_charge(ctx, s->pool_size);
	if (ret)
		goto out;
	ret = exmap_backing_get(ctx, s->backing_fd, s->backing_offset);
	if (ret)
		goto out_uncharge;
	ret = exmap_interfaces_init(ctx, s->nr_interfaces);
	if (ret)
		goto out_backing;
	exmap_pool_init(ctx, s->pool_size);

	/* Publishes the interfaces and pool to lockless readers. */
	smp_store_release(&ctx->ready, true);
	mutex_unlock(&ctx->setup_lock);
	return 0;

out_backing:
	if (ctx->backing) {
		fput(ctx->backing);
		ctx->backing = NULL;
	}
out_uncharge:
	exmap_limits_uncharge(ctx);
out:
	mutex_unlock(&ctx->setup_lock);
	return ret;
}

/* The last reference is gone: no VMA maps any frame of the context. */
void exmap_teardown(struct exmap_ctx *ctx)
{
	if (ctx->ready) {
		exmap_pool_destroy(ctx);
		exmap_interfaces_destroy(ctx);
	}
	if (ctx->backing)
		fput(ctx->backing);
	exmap_limits_uncharge(ctx);
	if (ctx->mm)
		mmdrop(ctx->mm);
}
