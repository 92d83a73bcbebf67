// SPDX-License-Identifier: GPL-2.0
/*
 * The ioctls: copy the argument in, hand it to its operation, copy the
 * result out. Unknown commands get -ENOTTY.
 */
#include <linux/fs.h>
#include <linux/uaccess.h>

#include "exmap.h"

#define EXMAP_IOCTLS	(BIT_ULL(_EXMAP_SETUP) | BIT_ULL(_EXMAP_ACTION) | \
			 BIT_ULL(_EXMAP_STATS) | BIT_ULL(_EXMAP_STATS2))

static long exmap_ioctl_setup(struct exmap_ctx *ctx, void __user *arg)
{
	struct exmap_setup s;
	int ret;

	if (copy_from_user(&s, arg, sizeof(s)))
		return -EFAULT;
	/*
	 * Fail on an unwritable argument before anything is set up: the
	 * answer is copied out after SETUP, when it can no longer be undone.
	 */
	if (copy_to_user(arg, &s, sizeof(s)))
		return -EFAULT;
	ret = exmap_setup(ctx, &s);
	if (ret)
		return ret;
	s.api = EXMAP_API_VERSION;
	s.ioctls = EXMAP_IOCTLS;
	if (copy_to_user(arg, &s, sizeof(s)))
		return -EFAULT;
	return 0;
}

static long exmap_ioctl_action(struct exmap_ctx *ctx, void __user *arg)
{
	struct exmap_action a;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	return exmap_action(ctx, &a);
}

/* STATS copies the first part of what STATS2 copies whole. */
static long exmap_ioctl_stats(struct exmap_ctx *ctx, void __user *arg,
			      size_t size)
{
	struct exmap_stats2 st;
	int ret = exmap_gate_ready(ctx);

	if (ret)
		return ret;
	exmap_stats_fill(ctx, &st);
	if (copy_to_user(arg, &st, size))
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
		return exmap_ioctl_stats(ctx, uarg, sizeof(struct exmap_stats));
	case EXMAP_IOC_STATS2:
		return exmap_ioctl_stats(ctx, uarg,
					 sizeof(struct exmap_stats2));
	default:
		return -ENOTTY;
	}
}
