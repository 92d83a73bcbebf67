// SPDX-License-Identifier: GPL-2.0
/*
 * READ and WRITE through io_uring: IORING_OP_URING_CMD on the exmap fd, one
 * run of pages per command (struct exmap_uring_cmd), so that one thread
 * keeps many misses in flight and reaps them as they complete.
 *
 * The command is issued in the submitting task: frames are taken and the
 * kiocb submitted, and the command returns -EIOCBQUEUED. When the device is
 * done, the completion is passed to the submitting task as task work,
 * where the READ's frames are mapped under that task's mmap_lock. If the
 * task is exiting, io_uring runs the task work elsewhere; then nothing is
 * mapped, the frames go back and the command completes with -ECANCELED.
 *
 * On the first, non-blocking issue nothing may sleep: when mmap_lock or
 * frames are not to be had at once, -EAGAIN sends the command to io_uring's
 * worker threads, which issue it again allowed to block.
 */
#include <linux/bvec.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "compat.h"
#include "exmap.h"

/* Runs up to this many pages need no allocation but the request's. */
#define EXMAP_URING_INLINE	8

struct exmap_uring_req {
	struct exmap_io io;
	struct exmap_entry entry;
	struct exmap_io_cmd cmd;
	u32 first_slot;
	struct bio_vec slots[EXMAP_URING_INLINE];
	struct io_uring_cmd *ioucmd;
	struct file *file;	/* keeps the context alive */
};

static struct exmap_uring_req **exmap_uring_pdu(struct io_uring_cmd *ioucmd)
{
	BUILD_BUG_ON(sizeof(struct exmap_uring_req *) >
		     sizeof(ioucmd->pdu));
	return (struct exmap_uring_req **)ioucmd->pdu;
}

static void exmap_uring_req_free(struct exmap_uring_req *req)
{
	exmap_io_destroy(&req->io);
	fput(req->file);
	kfree(req);
}

static void exmap_uring_finish(struct io_uring_cmd *ioucmd,
			       unsigned int issue_flags)
{
	struct exmap_uring_req *req = *exmap_uring_pdu(ioucmd);
	struct exmap_io *io = &req->io;
	struct exmap_ctx *ctx = io->ctx;
	unsigned long moved;
	long res;

	moved = exmap_io_results(io);
	exmap_count_io(ctx, NULL, io->write, moved);
	if (!io->write) {
		if (current->mm == ctx->mm && !(current->flags & PF_EXITING)) {
			exmap_count_mapped(ctx, NULL,
					   exmap_io_map(io, current->mm));
		} else {
			if (req->entry.res >= 0)
				req->entry.res = -ECANCELED;
			exmap_io_put_frames(io);
		}
	}
	res = req->entry.res;
	exmap_uring_req_free(req);
	io_uring_cmd_done(ioucmd, res, 0, issue_flags);
}

static void exmap_uring_io_done(struct exmap_io *io)
{
	struct exmap_uring_req *req = container_of(io, struct exmap_uring_req,
						   io);

	io_uring_cmd_complete_in_task(req->ioucmd, exmap_uring_finish);
}

/*
 * Reads and checks the command, in the order of an ACTION's checks (see
 * gate.c); the run obeys the rules of an ACTION entry.
 */
static int exmap_uring_prep(struct exmap_ctx *ctx, struct io_uring_cmd *ioucmd,
			    struct exmap_entry *entry, unsigned int *ifidx)
{
	const struct exmap_uring_cmd *c = exmap_uring_cmd_bytes(ioucmd);
	u32 interface, flags;
	u16 resv;
	int ret;

	ret = exmap_gate_ready(ctx);
	if (ret)
		return ret;
	entry->page = READ_ONCE(c->page);
	entry->len = READ_ONCE(c->len);
	entry->res = 0;
	resv = READ_ONCE(c->resv);
	interface = READ_ONCE(c->interface);
	flags = READ_ONCE(c->flags);
	if ((ioucmd->cmd_op != EXMAP_OP_READ &&
	     ioucmd->cmd_op != EXMAP_OP_WRITE) ||
	    resv || flags || interface >= ctx->nr_interfaces)
		return -EINVAL;
	ret = exmap_gate_io(ctx, ioucmd->cmd_op);
	if (ret)
		return ret;
	ret = exmap_gate_caller(ctx);
	if (ret)
		return ret;
	if (!exmap_run_in_area(ctx, entry->page, entry->len))
		return -EINVAL;
	*ifidx = interface;
	return 0;
}

/*
 * Under mmap_lock: checks that the entry lies in one piece of the area and,
 * for WRITE, records its frames.
 */
static int exmap_uring_check(struct exmap_ctx *ctx,
			     struct exmap_uring_req *req,
			     struct mm_struct *mm, bool nowait)
{
	int ret;

	if (nowait) {
		if (!mmap_read_trylock(mm))
			return -EAGAIN;
	} else if (mmap_read_lock_killable(mm)) {
		return -EINTR;
	}
	ret = exmap_entry_vma(ctx, mm, &req->entry) ? 0 : -EINVAL;
	if (!ret && req->io.write)
		exmap_io_collect(&req->io, mm);
	mmap_read_unlock(mm);
	return ret;
}

int exmap_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags)
{
	struct exmap_ctx *ctx = ioucmd->file->private_data;
	bool nowait = issue_flags & IO_URING_F_NONBLOCK;
	struct mm_struct *mm = current->mm;
	struct exmap_io_space space;
	struct exmap_uring_req *req;
	unsigned int ifidx;
	int ret;

	req = kmalloc(sizeof(*req), nowait ? GFP_NOWAIT : GFP_KERNEL);
	if (!req)
		return nowait ? -EAGAIN : -ENOMEM;
	ret = exmap_uring_prep(ctx, ioucmd, &req->entry, &ifidx);
	if (ret)
		goto out_free;
	space = (struct exmap_io_space){
		.cmds = &req->cmd, .first_slot = &req->first_slot,
		.slots = req->slots, .max_nr = 1,
		.max_pages = EXMAP_URING_INLINE,
	};
	ret = exmap_io_init(&req->io, ctx, ifidx,
			    ioucmd->cmd_op == EXMAP_OP_WRITE, &req->entry, 1,
			    nowait ? GFP_NOWAIT : GFP_KERNEL, &space);
	if (ret) {
		ret = nowait ? -EAGAIN : ret;
		goto out_free;
	}

	/* A READ needs no lock before the I/O while the area is whole. */
	if (req->io.write || !exmap_area_whole(ctx)) {
		ret = exmap_uring_check(ctx, req, mm, nowait);
		if (ret)
			goto out_io;
	}

	if (!req->io.write) {
		if (!exmap_io_get_frames(&req->io, nowait) && nowait) {
			ret = -EAGAIN;
			goto out_io;
		}
	}

	req->ioucmd = ioucmd;
	req->file = get_file(ioucmd->file);
	*exmap_uring_pdu(ioucmd) = req;
	exmap_io_submit(&req->io, exmap_uring_io_done);
	return -EIOCBQUEUED;

out_io:
	exmap_io_destroy(&req->io);
out_free:
	kfree(req);
	return ret;
}
