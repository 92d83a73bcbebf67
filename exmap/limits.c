// SPDX-License-Identifier: GPL-2.0
/*
 * Who may use /dev/exmap, and how much memory they may pin with it.
 *
 * Frames are pinned: the kernel cannot reclaim or swap them. So a context's
 * whole pool is charged at SETUP, up front, against the caller's
 * RLIMIT_MEMLOCK, counted per user (user_struct->locked_vm, as io_uring
 * does), so that one user's contexts together stay within one limit.
 * CAP_IPC_LOCK lifts the limit. Every frame is also charged to the memory
 * cgroup of the task that takes it (__GFP_ACCOUNT in pool.c).
 *
 * Frames are taken from the system with __GFP_RETRY_MAYFAIL, which fails
 * instead of calling the OOM killer, but only once reclaim has given up:
 * the machine is then at its last pages, and the next allocation anyone
 * else makes that may not fail wakes the OOM killer after all. So a pool
 * grows only while MemAvailable stays above a reserve ("reserve_pct" of
 * RAM); past it, entries fail with -ENOMEM as they would for a full pool.
 *
 * The device node's mode is a module parameter (default 0660, owner root);
 * the group that may open it is given by a udev rule (docs/permissions.md)
 * or, without udev, by the "group" parameter, which open() checks.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/sysfs.h>
#include <linux/uidgid.h>

#include "exmap.h"

static ushort mode = 0660;
module_param(mode, ushort, 0444);
MODULE_PARM_DESC(mode, "Mode of /dev/exmap (default 0660)");

static int group = -1;
module_param(group, int, 0444);
MODULE_PARM_DESC(group,
		 "If >= 0, only members of this group (or CAP_SYS_ADMIN) may open /dev/exmap");

/* Frames held by all contexts together: what exmap pins right now. */
atomic_long_t exmap_frames_held = ATOMIC_LONG_INIT(0);

static int exmap_frames_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&exmap_frames_held));
}

static const struct kernel_param_ops exmap_frames_ops = {
	.get = exmap_frames_get,
};
module_param_cb(frames, &exmap_frames_ops, NULL, 0444);
MODULE_PARM_DESC(frames, "Frames held by all contexts (read only)");

static unsigned int reserve_pct = 3;

static int exmap_reserve_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 0, 50);
}

static const struct kernel_param_ops exmap_reserve_ops = {
	.set = exmap_reserve_set,
	.get = param_get_uint,
};
module_param_cb(reserve_pct, &exmap_reserve_ops, &reserve_pct, 0644);
MODULE_PARM_DESC(reserve_pct,
		 "Percent of RAM that pools leave available to the rest of the system (0-50, default 3)");

/*
 * How many more frames the pools may take from the system now: what
 * MemAvailable holds above the reserve.
 */
unsigned long exmap_grow_allowance(void)
{
	unsigned long reserve = totalram_pages() / 100 * READ_ONCE(reserve_pct);
	long avail = si_mem_available();

	return avail > 0 && avail > reserve ? avail - reserve : 0;
}

umode_t exmap_dev_mode(void)
{
	return mode & 0666;
}

int exmap_may_open(void)
{
	kgid_t gid;

	if (group < 0 || capable(CAP_SYS_ADMIN))
		return 0;
	gid = make_kgid(current_user_ns(), group);
	if (gid_valid(gid) && in_group_p(gid))
		return 0;
	return -EACCES;
}

/*
 * Charges @pages frames to the calling user's RLIMIT_MEMLOCK. Returns 0 or
 * -EPERM when the user's contexts together would pass the limit.
 */
int exmap_limits_charge(struct exmap_ctx *ctx, unsigned long pages)
{
	unsigned long limit, cur, new;
	struct user_struct *user;

	if (capable(CAP_IPC_LOCK))
		return 0;
	limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	user = current_user();
	cur = atomic_long_read(&user->locked_vm);
	do {
		new = cur + pages;
		if (new > limit || new < cur)
			return -EPERM;
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, new));

	ctx->user = get_uid(user);
	ctx->charged_pages = pages;
	return 0;
}

void exmap_limits_uncharge(struct exmap_ctx *ctx)
{
	if (!ctx->user)
		return;
	atomic_long_sub(ctx->charged_pages, &ctx->user->locked_vm);
	free_uid(ctx->user);
	ctx->user = NULL;
}
