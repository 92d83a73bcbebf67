// SPDX-License-Identifier: GPL-2.0
/*
 * The buffer pool: misses, eviction, optimistic reads and shutdown.
 *
 * Misses lock the page exclusively, make room if the pool is full, READ the
 * page (one exmap call; or ALLOC for a page never written) and insert it in
 * the resident set. Eviction runs the clock over the resident set: an
 * unlocked page is marked, a page still marked on the next pass is latched
 * exclusively and becomes a victim; a batch of victims has its dirty pages
 * written back with one WRITE and is freed with one FREE (one TLB
 * shootdown), then the pages are set evicted, which bumps their versions.
 * An optimistic reader that touches a page freed under it gets SIGSEGV; the
 * handler jumps back to the start of the read, which restarts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bufpool.h"

#define BP_MAGIC	0x65786d61702d6270ULL	/* "exmap-bp" */

static __thread sigjmp_buf *bp_fault_jmp;

static void bp_fault(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (bp_fault_jmp)
		siglongjmp(*bp_fault_jmp, 1);
	/* Not inside an optimistic read: a real bug; die of it. */
	signal(sig, SIG_DFL);
	raise(sig);
}

int bp_install_fault_handler(void)
{
	struct sigaction sa = { .sa_sigaction = bp_fault,
				.sa_flags = SA_SIGINFO | SA_NODEFER };

	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSEGV, &sa, NULL) ? -errno : 0;
}

/* One exmap call on the thread's interface with one-page entries. */
static int bp_call(struct bp_thread *t, int (*op)(struct exmap_if *),
		   const uint64_t *pids, unsigned int n)
{
	exmap_vec_reset(t->i);
	for (unsigned int k = 0; k < n; k++)
		exmap_vec_add(t->i, (uint32_t)pids[k], 1);
	return op(t->i);
}

/* Under the exclusive latch of @pid. */
static void bp_set_dirty(struct bufpool *bp, uint64_t pid)
{
	if (!bp->dirty[pid]) {
		bp->dirty[pid] = 1;
		atomic_fetch_add(&bp->dirty_pages, 1);
	}
}

struct bp_victims {
	struct bufpool *bp;
	uint64_t pids[BP_EVICT_BATCH];
	unsigned int n;
};

static bool bp_clock_visit(uint64_t pid, void *arg)
{
	struct bp_victims *v = arg;
	page_state_t *ps = &v->bp->states[pid];
	uint64_t w = ps_load(ps);

	if (ps_state(w) == PS_MARKED) {
		if (!ps_try_lock_x(ps, w))
			return true;
		/* The latch makes the dirty flag stable. */
		if (v->bp->no_steal && v->bp->dirty[pid])
			ps_unlock_x_unchanged(ps, w);
		else
			v->pids[v->n++] = pid;
	} else if (ps_state(w) == PS_UNLOCKED) {
		ps_try_mark(ps, w);
	}
	return v->n < BP_EVICT_BATCH;
}

/* Evicts one batch: dirty victims written back, all freed in one call. */
static void bp_evict(struct bp_thread *t)
{
	struct bufpool *bp = t->bp;
	struct bp_victims v = { .bp = bp };
	uint64_t dirty[BP_EVICT_BATCH];
	unsigned int nd = 0, turns = 0;

	pthread_mutex_lock(&bp->evict_lock);
	if (atomic_load(&bp->resident) < bp->pool_pages) {
		pthread_mutex_unlock(&bp->evict_lock);
		return;
	}
	/* Two turns of the clock mark and then take; give up after four. */
	while (v.n < BP_EVICT_BATCH && turns < 4 * (bp->rs.mask + 1) / 256) {
		rs_clock(&bp->rs, 256, bp_clock_visit, &v);
		turns++;
	}
	for (unsigned int k = 0; k < v.n; k++) {
		if (bp->dirty[v.pids[k]])
			dirty[nd++] = v.pids[k];
	}
	if (nd) {
		if (bp_call(t, exmap_write, dirty, nd) != 0)
			abort();	/* the device failed: data would be lost */
		atomic_fetch_add(&bp->stats.written_bytes, nd * BP_PAGE);
	}
	if (v.n && bp_call(t, exmap_free, v.pids, v.n) < 0)
		abort();
	if (nd)
		atomic_fetch_sub(&bp->dirty_pages, nd);
	for (unsigned int k = 0; k < v.n; k++) {
		bp->dirty[v.pids[k]] = 0;
		rs_remove(&bp->rs, v.pids[k]);
		ps_unlock_x(&bp->states[v.pids[k]], true);
	}
	atomic_fetch_sub(&bp->resident, v.n);
	atomic_fetch_add(&bp->stats.evictions, v.n);
	pthread_mutex_unlock(&bp->evict_lock);
}

/* A page has arrived: it joins the resident set (and the clock). */
static void bp_arrived(struct bufpool *bp, uint64_t pid, bool fresh)
{
	rs_insert(&bp->rs, pid);
	atomic_fetch_add(&bp->resident, 1);
	if (fresh)
		return;
	atomic_fetch_add(&bp->stats.misses, 1);
	atomic_fetch_add(&bp->stats.read_bytes, BP_PAGE);
}

/*
 * One call for the @n pages @pids: ALLOC if @fresh, else READ; a READ of
 * several pages starts them all at once and takes each as it completes,
 * unlatching it there and then if @release. Fills @retry with the pages the
 * pool had no frame for (still latched) and returns how many.
 */
static unsigned int bp_fetch(struct bp_thread *t, const uint64_t *pids,
			     unsigned int n, bool fresh, bool release,
			     uint64_t *retry)
{
	struct bufpool *bp = t->bp;
	bool async = !fresh && n > 1;
	unsigned int r = 0;

	if (bp_call(t, fresh ? exmap_alloc : async ? exmap_read_submit :
		    exmap_read, pids, n) < 0)
		abort();
	for (unsigned int got = 0; got < n; got++) {
		int k = async ? exmap_reap(t->i) : (int)got;
		int res;

		if (k < 0)
			abort();	/* the ring failed */
		res = exmap_vec_entry(t->i, k)->res;
		if (res == -ENOMEM) {
			retry[r++] = pids[k];
		} else if (res < 0) {
			abort();	/* a read error: nothing to go on with */
		} else {
			bp_arrived(bp, pids[k], fresh);
			if (release)
				ps_unlock_x(&bp->states[pids[k]], false);
		}
	}
	return r;
}

/*
 * Brings the @n (at most BP_EVICT_BATCH) exclusively latched, evicted pages
 * @pids in (ALLOC if @fresh: pages never written), retrying those the pool
 * has no frame for once the clock has freed some. With @release each page
 * is unlatched as soon as it is in, else they all stay latched.
 */
static void bp_bring_in(struct bp_thread *t, const uint64_t *pids,
			unsigned int n, bool fresh, bool release)
{
	struct bufpool *bp = t->bp;
	uint64_t want[BP_EVICT_BATCH], retry[BP_EVICT_BATCH];

	memcpy(want, pids, n * sizeof(*want));
	/* When every resident page is latched, overshoot into the slack. */
	for (int k = 0; k < 4 && atomic_load(&bp->resident) >= bp->pool_pages;
	     k++)
		bp_evict(t);
	while (n) {
		n = bp_fetch(t, want, n, fresh, release, retry);
		if (n) {
			bp_evict(t);
			sched_yield();
		}
		memcpy(want, retry, n * sizeof(*want));
	}
}

static void bp_load(struct bp_thread *t, uint64_t pid, bool fresh)
{
	bp_bring_in(t, &pid, 1, fresh, false);
}

void bp_prefetch(struct bp_thread *t, const uint64_t *pids, unsigned int n)
{
	struct bufpool *bp = t->bp;
	uint64_t got[BP_EVICT_BATCH];
	unsigned int m = 0;

	/* A page another thread is bringing in, or already in, is skipped. */
	for (unsigned int i = 0; i < n && m < BP_EVICT_BATCH; i++) {
		page_state_t *ps = &bp->states[pids[i]];
		uint64_t w = ps_load(ps);

		if (ps_state(w) == PS_EVICTED && ps_try_lock_x(ps, w))
			got[m++] = pids[i];
	}
	if (m)
		bp_bring_in(t, got, m, false, true);
}

uint64_t bp_alloc_page(struct bp_thread *t)
{
	struct bufpool *bp = t->bp;
	uint64_t pid = atomic_fetch_add(&bp->next_page, 1);

	if (pid >= bp->area_pages)
		abort();	/* the area is the data's upper bound */
	while (!ps_try_lock_x(&bp->states[pid], ps_load(&bp->states[pid])))
		sched_yield();
	bp_load(t, pid, true);
	bp_set_dirty(bp, pid);
	return pid;
}

char *bp_fix_new(struct bp_thread *t, uint64_t pid)
{
	page_state_t *ps = &t->bp->states[pid];

	for (;;) {
		uint64_t w = ps_load(ps);

		if (!ps_try_lock_x(ps, w)) {
			sched_yield();
			continue;
		}
		if (ps_state(w) == PS_EVICTED)
			bp_load(t, pid, true);
		bp_set_dirty(t->bp, pid);
		return bp_addr(t->bp, pid);
	}
}

uint64_t bp_next_page(struct bufpool *bp)
{
	return atomic_load(&bp->next_page);
}

void bp_set_next_page(struct bufpool *bp, uint64_t pid)
{
	atomic_store(&bp->next_page, pid);
}

char *bp_fix_x(struct bp_thread *t, uint64_t pid)
{
	page_state_t *ps = &t->bp->states[pid];

	for (;;) {
		uint64_t w = ps_load(ps);

		if (!ps_try_lock_x(ps, w)) {
			sched_yield();
			continue;
		}
		if (ps_state(w) == PS_EVICTED)
			bp_load(t, pid, false);
		return bp_addr(t->bp, pid);
	}
}

char *bp_fix_s(struct bp_thread *t, uint64_t pid)
{
	page_state_t *ps = &t->bp->states[pid];

	for (;;) {
		uint64_t w = ps_load(ps);

		if (ps_state(w) == PS_EVICTED) {
			/* Read it in under the exclusive latch, then retry. */
			if (ps_try_lock_x(ps, w)) {
				bp_load(t, pid, false);
				ps_unlock_x(ps, false);
			}
			continue;
		}
		if (ps_try_lock_s(ps, w))
			return bp_addr(t->bp, pid);
		sched_yield();
	}
}

void bp_unfix_x(struct bp_thread *t, uint64_t pid, bool dirtied)
{
	if (dirtied)
		bp_set_dirty(t->bp, pid);
	ps_unlock_x(&t->bp->states[pid], false);
}

void bp_unfix_s(struct bp_thread *t, uint64_t pid)
{
	ps_unlock_s(&t->bp->states[pid]);
}

bool bp_opt_begin(struct bp_thread *t, uint64_t pid, uint64_t *seen)
{
	page_state_t *ps = &t->bp->states[pid];

	if (ps_optimistic_begin(ps, seen))
		return true;
	if (ps_state(*seen) == PS_EVICTED) {
		bp_fix_s(t, pid);
		bp_unfix_s(t, pid);
	} else {
		sched_yield();
	}
	return false;
}

bool bp_evicted(struct bp_thread *t, uint64_t pid)
{
	return ps_state(ps_load(&t->bp->states[pid])) == PS_EVICTED;
}

bool bp_opt_valid(struct bp_thread *t, uint64_t pid, uint64_t seen)
{
	return ps_optimistic_valid(&t->bp->states[pid], seen);
}

void bp_optimistic(struct bp_thread *t,
		   bool (*fn)(struct bp_thread *t, void *arg), void *arg)
{
	sigjmp_buf jb;

	for (;;) {
		/*
		 * The handler runs with SA_NODEFER and an empty sa_mask, so
		 * a fault leaves the signal mask as it was: no need to save
		 * it, which would cost a system call per lookup.
		 */
		if (sigsetjmp(jb, 0) == 0) {
			bool done;

			bp_fault_jmp = &jb;
			done = fn(t, arg);
			bp_fault_jmp = NULL;
			if (done)
				return;
		} else {
			bp_fault_jmp = NULL;
		}
		atomic_fetch_add(&t->bp->stats.restarts, 1);
	}
}

int bp_thread_init(struct bufpool *bp, struct bp_thread *t, unsigned int id)
{
	t->bp = bp;
	t->id = id;
	t->i = exmap_interface(bp->x, id);
	return t->i ? 0 : -EINVAL;
}

static void bp_free(struct bufpool *bp)
{
	if (bp->x)
		exmap_destroy(bp->x);
	if (bp->fd >= 0)
		close(bp->fd);
	rs_destroy(&bp->rs);
	free((void *)bp->states);
	free(bp->dirty);
	free(bp);
}

int bp_open(struct bufpool **out, const struct bp_opts *o)
{
	/* Frames in flight beyond pool_pages: page 0 and one batch a thread. */
	uint64_t slack = 1 + (uint64_t)(o->threads + 1) * BP_EVICT_BATCH;
	struct exmap_opts xo = {
		.area_pages = o->area_pages,
		.pool_pages = o->pool_pages + slack,
		.nr_interfaces = o->threads + 1,
		.backing_offset = o->backing_offset,
		.backend = o->backend,
	};
	struct bufpool *bp = calloc(1, sizeof(*bp));
	struct bp_thread t;
	int ret;

	if (!bp)
		return -ENOMEM;
	bp->fd = open(o->device, O_RDWR | O_DIRECT);
	if (bp->fd < 0 && o->backend == EXMAP_BACKEND_FALLBACK)
		bp->fd = open(o->device, O_RDWR);
	if (bp->fd < 0) {
		ret = -errno;
		free(bp);
		return ret;
	}
	bp->area_pages = o->area_pages;
	bp->pool_pages = o->pool_pages;
	bp->threads = o->threads;
	bp->no_steal = o->no_steal;
	pthread_mutex_init(&bp->evict_lock, NULL);
	bp->states = malloc(o->area_pages * sizeof(*bp->states));
	bp->dirty = calloc(o->area_pages, 1);
	ret = rs_init(&bp->rs, o->pool_pages + slack);
	if (!bp->states || !bp->dirty || ret) {
		bp_free(bp);
		return -ENOMEM;
	}
	for (uint64_t p = 0; p < o->area_pages; p++)
		ps_init_evicted(&bp->states[p]);
	xo.backing_fd = bp->fd;
	ret = exmap_create(&bp->x, &xo);
	if (ret) {
		bp->x = NULL;
		bp_free(bp);
		return ret;
	}
	bp->area = exmap_area(bp->x);

	/* Page 0: the metadata, resident for good, outside the clock. */
	bp_thread_init(bp, &t, o->threads);
	exmap_vec_reset(t.i);
	exmap_vec_add(t.i, 0, 1);
	ret = o->reuse ? exmap_read(t.i) : exmap_alloc(t.i);
	if (ret) {
		bp_free(bp);
		return ret < 0 ? ret : exmap_vec_entry(t.i, 0)->res;
	}
	bp->meta = (struct bp_meta *)bp->area;
	if (!o->reuse || bp->meta->magic != BP_MAGIC) {
		memset(bp->meta, 0, BP_PAGE);
		bp->meta->magic = BP_MAGIC;
		bp->meta->next_page = 1;
	}
	atomic_store(&bp->next_page, bp->meta->next_page);
	ps_try_lock_x(&bp->states[0], ps_load(&bp->states[0]));
	*out = bp;
	return 0;
}

struct bp_dirty_walk {
	struct bufpool *bp;
	uint64_t *pids;
	size_t n, max;
};

static bool bp_list_dirty(uint64_t pid, void *arg)
{
	struct bp_dirty_walk *w = arg;

	if (pid && w->bp->dirty[pid])
		w->pids[w->n++] = pid;
	return w->n < w->max;
}

size_t bp_dirty_list(struct bufpool *bp, uint64_t *pids, size_t max)
{
	struct bp_dirty_walk w = { .bp = bp, .pids = pids, .max = max };

	if (max)
		rs_walk(&bp->rs, bp_list_dirty, &w);
	return w.n;
}

/* One WRITE of up to EXMAP_VEC_MAX pages, which the caller latched. */
static int bp_write_run(struct bp_thread *t, const uint64_t *pids,
			unsigned int n)
{
	int ret = bp_call(t, exmap_write, pids, n);

	if (ret < 0)
		return ret;
	for (unsigned int k = 0; k < n; k++) {
		int res = exmap_vec_entry(t->i, k)->res;

		if (res < 0)
			return res;
	}
	return ret ? -EIO : 0;
}

int bp_write_back(struct bp_thread *t, const uint64_t *pids, size_t n)
{
	struct bufpool *bp = t->bp;
	int ret = 0;

	for (size_t done = 0; done < n && !ret; done += EXMAP_VEC_MAX) {
		unsigned int m = n - done < EXMAP_VEC_MAX ? n - done :
							    EXMAP_VEC_MAX;

		/* Shared latches: no eviction under the WRITE. */
		for (unsigned int k = 0; k < m; k++)
			bp_fix_s(t, pids[done + k]);
		ret = bp_write_run(t, pids + done, m);
		for (unsigned int k = 0; k < m; k++)
			bp_unfix_s(t, pids[done + k]);
		if (!ret)
			atomic_fetch_add(&bp->stats.written_bytes, m * BP_PAGE);
	}
	if (!ret && fdatasync(bp->fd))
		ret = -errno;
	if (ret)
		return ret;
	/*
	 * Clean only once on stable storage. Writers set the flag under the
	 * exclusive latch, which the caller keeps them from taking here.
	 */
	for (size_t k = 0; k < n; k++) {
		if (bp->dirty[pids[k]]) {
			bp->dirty[pids[k]] = 0;
			atomic_fetch_sub(&bp->dirty_pages, 1);
		}
	}
	return 0;
}

static bool bp_collect_dirty(uint64_t pid, void *arg)
{
	struct bp_thread *t = arg;

	if (t->bp->dirty[pid]) {
		if (exmap_vec_len(t->i) == EXMAP_VEC_MAX) {
			if (exmap_write(t->i) != 0)
				abort();
			exmap_vec_reset(t->i);
		}
		exmap_vec_add(t->i, (uint32_t)pid, 1);
		t->bp->dirty[pid] = 0;
		atomic_fetch_sub(&t->bp->dirty_pages, 1);
		atomic_fetch_add(&t->bp->stats.written_bytes, BP_PAGE);
	}
	return true;
}

int bp_close(struct bufpool *bp)
{
	struct bp_thread t;
	int ret = 0;

	bp_thread_init(bp, &t, bp->threads);
	exmap_vec_reset(t.i);
	/* A no-steal pool's caller decides what reaches the device. */
	if (!bp->no_steal)
		rs_walk(&bp->rs, bp_collect_dirty, &t);
	bp->meta->next_page = atomic_load(&bp->next_page);
	exmap_vec_add(t.i, 0, 1);
	if (exmap_write(t.i) != 0 || fdatasync(bp->fd))
		ret = -EIO;
	bp_free(bp);
	return ret;
}
