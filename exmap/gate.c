// SPDX-License-Identifier: GPL-2.0
/*
 * The gate: the checks that every entry point makes before it hands a
 * request to an operation, in the order docs/api.md gives them. Checks of
 * one run of pages against the area's size are exmap_run_in_area() in
 * exmap.h; whether a run lies in a live piece of the area is a question for
 * area.c, asked under mmap_lock.
 */
#include <linux/fs.h>
#include <linux/sched.h>

#include "exmap.h"

/* SETUP has finished: -EINVAL before. */
int exmap_gate_ready(struct exmap_ctx *ctx)
{
	/* Pairs with the release at the end of SETUP. */
	return smp_load_acquire(&ctx->ready) ? 0 : -EINVAL;
}

/*
 * The caller is the process that mapped the area: -ENXIO without an area
 * or from another process (a forked child included). After
 * exmap_gate_ready().
 */
int exmap_gate_caller(struct exmap_ctx *ctx)
{
	/* Pairs with the release when the area is mapped. */
	if (smp_load_acquire(&ctx->mm) != current->mm)
		return -ENXIO;
	return 0;
}

/*
 * READ needs a backing store, WRITE one opened for writing: the module
 * uses the store only with the rights its fd was opened with. -EBADF
 * otherwise; other opcodes pass.
 */
int exmap_gate_io(struct exmap_ctx *ctx, unsigned int opcode)
{
	if (opcode != EXMAP_OP_READ && opcode != EXMAP_OP_WRITE)
		return 0;
	if (!ctx->backing)
		return -EBADF;
	if (opcode == EXMAP_OP_WRITE && !(ctx->backing->f_mode & FMODE_WRITE))
		return -EBADF;
	return 0;
}
