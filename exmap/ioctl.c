// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl dispatch and argument checks.
 *
 * Order of checks, as in userfaultfd: a failed copy gives -EFAULT, a call
 * before SETUP or malformed arguments give -EINVAL, a second SETUP gives
 * -EBUSY, a pool over the caller's RLIMIT_MEMLOCK -EPERM, unknown commands
 * give -ENOTTY.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "exmap.h"

#define EXMAP_SETUP_FLAGS	0ULL

#define EXMAP_IOCTLS	(BIT_ULL(_EXMAP_SETUP) | BIT_ULL(_EXMAP_ACTION) | \
			 BIT_ULL(_EXMAP_STATS))

static bool exmap_ready(struct exmap_ctx *ctx)
{
	/* Pairs with the release at the end of SETUP. */
	return smp_load_acquire(&ctx->ready);
}

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

static long exmap_ioctl_setup(struct exmap_ctx *ctx, void __user *arg)
{
	struct exmap_setup s;
	long ret;

	if (copy_from_user(&s, arg, sizeof(s)))
		return -EFAULT;
	if (!s.pool_size || s.pool_size > EXMAP_AREA_MAX_PAGES ||
	    !s.nr_interfaces || s.nr_interfaces > EXMAP_MAX_INTERFACES ||
	    s.flags & ~EXMAP_SETUP_FLAGS ||
	    memchr_inv(s.resv, 0, sizeof(s.resv)) || s.api || s.ioctls)
		return -EINVAL;

	/* Fail on an unwritable argument before anything is set up. */
	if (copy_to_user(arg, &s, sizeof(s)))
		return -EFAULT;

	mutex_lock(&ctx->setup_lock);
	ret = -EBUSY;
	if (ctx->ready)
		goto out;
	ret = exmap_limits_charge(ctx, s.pool_size);
	if (ret)
		goto out;
	ret = exmap_backing_get(ctx, s.backing_fd, s.backing_offset);
	if (ret)
		goto out_uncharge;
	ret = exmap_interfaces_init(ctx, s.nr_interfaces);
	if (ret)
		goto out_backing;
	exmap_pool_init(ctx, s.pool_size);

	/* Publishes the interfaces and pool to lockless readers. */
	smp_store_release(&ctx->ready, true);
	mutex_unlock(&ctx->setup_lock);

	/*
	 * Outside setup_lock: a fault here takes mmap_lock, which mmap
	 * holds while it takes setup_lock. Writability was checked above.
	 */
	s.api = EXMAP_API_VERSION;
	s.ioctls = EXMAP_IOCTLS;
	if (copy_to_user(arg, &s, sizeof(s)))
		return -EFAULT;
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

/*
 * READ needs a backing store, WRITE one opened for writing: the module
 * uses the store only with the rights its fd was opened with.
 */
int exmap_io_allowed(struct exmap_ctx *ctx, unsigned int opcode)
{
	if (opcode != EXMAP_OP_READ && opcode != EXMAP_OP_WRITE)
		return 0;
	if (!ctx->backing)
		return -EBADF;
	if (opcode == EXMAP_OP_WRITE && !(ctx->backing->f_mode & FMODE_WRITE))
		return -EBADF;
	return 0;
}

static long exmap_ioctl_action(struct exmap_ctx *ctx, void __user *arg)
{
	struct exmap_action a;
	int ret;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if (!exmap_ready(ctx))
		return -EINVAL;
	if (a.flags || a.opcode >= EXMAP_OP_MAX ||
	    a.interface >= ctx->nr_interfaces ||
	    !a.nr || a.nr > EXMAP_VEC_MAX)
		return -EINVAL;
	ret = exmap_io_allowed(ctx, a.opcode);
	if (ret)
		return ret;
	return exmap_action(ctx, &a);
}

static long exmap_ioctl_stats(struct exmap_ctx *ctx, void __user *arg)
{
	struct exmap_stats st;

	if (!exmap_ready(ctx))
		return -EINVAL;
	exmap_stats_fill(ctx, &st);
	if (copy_to_user(arg, &st, sizeof(st)))
		return -EFAULT;
	return 0;
}

long exmap_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct exmap_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case EXMAP_IOC_SETUP:
		return exmap_ioctl_setup(ctx, uarg);
	case EXMAP_IOC_ACTION:
		return exmap_ioctl_action(ctx, uarg);
	case EXMAP_IOC_STATS:
		return exmap_ioctl_stats(ctx, uarg);
	default:
		return -ENOTTY;
	}
}
