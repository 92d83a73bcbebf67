// SPDX-License-Identifier: GPL-2.0
/*
 * The exmap modes of the allocate-touch-free benchmarks:
 *
 *   exmap-1IF     each thread ALLOCs, touches and FREEs @batch neighbouring
 *                 pages (one one-page entry each) on its own interface: its
 *                 frames stay on its own free list.
 *   exmap-1IF-zero  the same, and each page is cleared (memset) before the
 *                 touch: exmap reuses frames as they were left, while the
 *                 Linux modes get every page zeroed by the kernel; this is
 *                 exmap paying for that too.
 *   exmap-spread  the same with every entry in its own page table (2 MiB
 *                 apart), as a buffer manager's scattered victims are.
 *   exmap-2IF     each thread ALLOCs on one interface and FREEs on another:
 *                 the freed frames land on the second interface's list, so
 *                 every ALLOC has to steal them back.
 *   exmap-pool    threads in pairs: one ALLOCs and touches, hands the batch
 *                 through a ring to its partner, which FREEs it on its own
 *                 interface (a buffer manager whose evicting threads are not
 *                 the ones that read).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/exmap.h>

#include "alloc.h"

#define SPREAD	512	/* pages between entries: one page table each */

static struct exmap_iov *map_interface(struct alloc_worker *w,
				       unsigned int idx)
{
	struct exmap_iov *vec;

	vec = mmap(NULL, EXMAP_INTERFACE_SIZE, PROT_READ | PROT_WRITE,
		   MAP_SHARED, w->run->fd, EXMAP_OFF_INTERFACE(idx));
	if (vec == MAP_FAILED) {
		alloc_fail(w, "mmap interface", errno);
		return NULL;
	}
	return vec;
}

static void fill(struct exmap_iov *vec, unsigned int n, size_t first,
		 size_t stride)
{
	for (unsigned int i = 0; i < n; i++) {
		vec[i].page = first + i * stride;
		vec[i].len = 1;
	}
}

/* True if every entry that failed says ENOMEM. */
static bool only_enomem(const struct exmap_iov *vec, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (vec[i].res < 0 && vec[i].res != -ENOMEM)
			return false;
	return true;
}

/*
 * One ACTION call; false (and the thread's error set) if anything failed.
 * With @retry, an ALLOC that found too few free frames is repeated (it
 * maps only what is still unmapped): in the pool mode the frames it needs
 * may be on their way between free lists in a concurrent FREE.
 */
static bool action(struct alloc_worker *w, struct exmap_iov *vec,
		   unsigned int iface, unsigned int op, bool retry)
{
	struct exmap_action a = {
		.interface = iface, .nr = w->run->batch, .opcode = op,
	};
	int ret = ioctl(w->run->fd, EXMAP_IOC_ACTION, &a);

	while (retry && ret > 0 && only_enomem(vec, a.nr) &&
	       !alloc_stopped(w)) {
		w->retries++;
		sched_yield();
		ret = ioctl(w->run->fd, EXMAP_IOC_ACTION, &a);
	}
	if (ret > 0 && retry && alloc_stopped(w))
		return false;	/* stopped while short of frames: no error */
	if (ret < 0) {
		alloc_fail(w, op == EXMAP_OP_ALLOC ? "ALLOC" : "FREE", errno);
		return false;
	}
	if (ret > 0) {
		int err = EIO;

		for (unsigned int i = 0; i < a.nr; i++)
			if (vec[i].res < 0) {
				err = -vec[i].res;
				break;
			}
		alloc_fail(w, op == EXMAP_OP_ALLOC ? "ALLOC entry" :
			   "FREE entry", err);
		return false;
	}
	return true;
}

/* ALLOC on @ai, touch (after clearing, if @zero), FREE on @fi. */
static void alloc_free_loop(struct alloc_worker *w, size_t stride,
			    unsigned int ai, unsigned int fi, bool zero)
{
	struct alloc_run *r = w->run;
	size_t first = (size_t)w->id * r->batch * stride;
	struct exmap_iov *av, *fv = NULL;
	char *base = r->area + first * PAGE;

	av = map_interface(w, ai);
	if (av && fi != ai)
		fv = map_interface(w, fi);
	else
		fv = av;
	if (av)
		fill(av, r->batch, first, stride);
	if (fv && fv != av)
		fill(fv, r->batch, first, stride);
	alloc_start(w);
	while (fv && !w->err && !alloc_stopped(w)) {
		if (!action(w, av, ai, EXMAP_OP_ALLOC, false))
			break;
		if (zero)
			for (unsigned int i = 0; i < r->batch; i++)
				memset(base + i * stride * PAGE, 0, PAGE);
		if (stride == 1) {
			alloc_touch(base, r->batch);
		} else {
			for (unsigned int i = 0; i < r->batch; i++)
				alloc_touch(base + i * stride * PAGE, 1);
		}
		if (!action(w, fv, fi, EXMAP_OP_FREE, false))
			break;
		w->pages += r->batch;
	}
	if (fv && fv != av)
		munmap(fv, EXMAP_INTERFACE_SIZE);
	if (av)
		munmap(av, EXMAP_INTERFACE_SIZE);
}

static void thread_1if(struct alloc_worker *w)
{
	alloc_free_loop(w, 1, w->id, w->id, false);
}

static void thread_1if_zero(struct alloc_worker *w)
{
	alloc_free_loop(w, 1, w->id, w->id, true);
}

static void thread_spread(struct alloc_worker *w)
{
	alloc_free_loop(w, SPREAD, w->id, w->id, false);
}

static void thread_2if(struct alloc_worker *w)
{
	alloc_free_loop(w, 1, 2 * w->id, 2 * w->id + 1, false);
}

/*
 * Waits until ring slot @s is @want; false if the run stopped first. The
 * partner may be descheduled (more threads than CPUs): yield while waiting.
 */
static bool wait_slot(struct alloc_worker *w, atomic_int *slot, int want)
{
	while (atomic_load_explicit(slot, memory_order_acquire) != want) {
		if (alloc_stopped(w))
			return false;
		sched_yield();
	}
	return true;
}

static void thread_pool(struct alloc_worker *w)
{
	struct alloc_run *r = w->run;
	unsigned int pairs = r->threads / 2;
	bool allocator = w->id < pairs;
	unsigned int pair = allocator ? w->id : w->id - pairs;
	unsigned int iface = 2 * pair + !allocator;
	size_t first = (size_t)pair * POOL_SLOTS * r->batch;
	struct alloc_ring *ring = &r->rings[pair];
	struct exmap_iov *vec;

	vec = map_interface(w, iface);
	alloc_start(w);
	for (unsigned int s = 0; vec && !w->err; s = (s + 1) % POOL_SLOTS) {
		size_t page = first + (size_t)s * r->batch;

		if (!wait_slot(w, &ring->full[s], !allocator))
			break;
		fill(vec, r->batch, page, 1);
		if (allocator) {
			if (!action(w, vec, iface, EXMAP_OP_ALLOC, true))
				break;
			alloc_touch(r->area + page * PAGE, r->batch);
		} else {
			if (!action(w, vec, iface, EXMAP_OP_FREE, false))
				break;
			/* Only the freeing side counts: a page's full cycle. */
			w->pages += r->batch;
		}
		atomic_store_explicit(&ring->full[s], allocator,
				      memory_order_release);
	}
	if (vec)
		munmap(vec, EXMAP_INTERFACE_SIZE);
}

static size_t pages_per_thread(unsigned int threads, unsigned int batch)
{
	return (size_t)threads * batch;
}

static size_t pages_spread(unsigned int threads, unsigned int batch)
{
	return (size_t)threads * batch * SPREAD;
}

static size_t pages_pool(unsigned int threads, unsigned int batch)
{
	return (size_t)(threads / 2) * POOL_SLOTS * batch;
}

const struct alloc_mode alloc_exmap_1if = {
	.name = "exmap-1IF", .exmap = true, .ifaces_per_thread = 1,
	.area_pages = pages_per_thread, .thread = thread_1if,
};

const struct alloc_mode alloc_exmap_1if_zero = {
	.name = "exmap-1IF-zero", .exmap = true, .ifaces_per_thread = 1,
	.area_pages = pages_per_thread, .thread = thread_1if_zero,
};

const struct alloc_mode alloc_exmap_spread = {
	.name = "exmap-spread", .exmap = true, .ifaces_per_thread = 1,
	.area_pages = pages_spread, .pool_frames = pages_per_thread,
	.thread = thread_spread,
};

const struct alloc_mode alloc_exmap_2if = {
	.name = "exmap-2IF", .exmap = true, .ifaces_per_thread = 2,
	.area_pages = pages_per_thread, .thread = thread_2if,
};

const struct alloc_mode alloc_exmap_pool = {
	.name = "exmap-pool", .exmap = true, .pairs = true,
	.ifaces_per_thread = 1, .area_pages = pages_pool,
	.thread = thread_pool,
};
