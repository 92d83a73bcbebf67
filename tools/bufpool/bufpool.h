/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A vmcache-style buffer pool over libexmap: page ids map 1:1 to addresses
 * of the area, a page-state word per page says whether it is resident and
 * who holds it, a resident set and a clock pick victims, and victims are
 * written back (if dirty) and freed in batches.
 *
 * Page 0 holds the pool's metadata (so a restart finds its data); callers
 * get pages from 1 on.
 */
#ifndef BUFPOOL_H
#define BUFPOOL_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../libexmap/libexmap.h"
#include "pagestate.h"
#include "residentset.h"

#define BP_PAGE		((uint64_t)EXMAP_PAGE_SIZE)
#define BP_EVICT_BATCH	64

struct bp_meta {
	uint64_t magic;
	uint64_t next_page;	/* pages handed out so far */
	uint64_t user[6];	/* the caller's (the B+tree keeps its root) */
};

struct bp_opts {
	const char *device;		/* backing file or block device */
	uint64_t backing_offset;	/* byte offset of page 0 on the device */
	uint64_t area_pages;		/* virtual size: the data's upper bound */
	uint64_t pool_pages;		/* resident pages at most */
	unsigned int threads;
	enum exmap_backend backend;
	bool reuse;			/* keep the data found on the device */
	/*
	 * Eviction never takes a dirty page: the caller writes dirty pages
	 * back itself (bp_write_back(), at its checkpoints), so that the
	 * device holds only states the caller chose. It must keep the dirty
	 * pages (bp->dirty_pages) well below pool_pages.
	 */
	bool no_steal;
};

struct bp_stats {
	atomic_ulong misses;
	atomic_ulong evictions;
	atomic_ulong read_bytes;
	atomic_ulong written_bytes;
	atomic_ulong restarts;
};

struct bufpool {
	struct exmap *x;
	int fd;
	char *area;
	page_state_t *states;
	uint8_t *dirty;			/* set under the exclusive latch */
	struct resident_set rs;
	atomic_ulong resident;
	atomic_ulong dirty_pages;	/* pages whose dirty flag is set */
	atomic_ulong next_page;
	uint64_t area_pages, pool_pages;
	unsigned int threads;
	bool no_steal;
	pthread_mutex_t evict_lock;
	struct bp_stats stats;
	struct bp_meta *meta;		/* page 0, resident for good */
};

/* Per thread: its libexmap interface and its fault recovery point. */
struct bp_thread {
	struct bufpool *bp;
	struct exmap_if *i;
	unsigned int id;
};

int bp_open(struct bufpool **out, const struct bp_opts *opts);
/*
 * Writes every dirty page back (a no-steal pool: none) and the metadata,
 * and releases it all.
 */
int bp_close(struct bufpool *bp);
int bp_thread_init(struct bufpool *bp, struct bp_thread *t, unsigned int id);
/* Makes the calling thread's SIGSEGV recoverable inside bp_optimistic(). */
int bp_install_fault_handler(void);

static inline char *bp_addr(struct bufpool *bp, uint64_t pid)
{
	return bp->area + pid * BP_PAGE;
}

/*
 * Brings in, with one READ call, those of the up to BP_EVICT_BATCH pages
 * @pids that are evicted and that no other thread is bringing in: on the
 * exmap backend their reads are all in flight at once. Leaves them
 * unlatched and resident (for the moment: the clock may take them again).
 */
void bp_prefetch(struct bp_thread *t, const uint64_t *pids, unsigned int n);
/* A new page, exclusively latched and resident (contents undefined). */
uint64_t bp_alloc_page(struct bp_thread *t);
/*
 * Latches @pid exclusively for a caller that will overwrite all of it (a
 * page it reuses): made resident without reading the device, and dirty.
 */
char *bp_fix_new(struct bp_thread *t, uint64_t pid);
/* The next page bp_alloc_page() hands out; a caller's recovery sets it. */
uint64_t bp_next_page(struct bufpool *bp);
void bp_set_next_page(struct bufpool *bp, uint64_t pid);

/*
 * Lists up to @max dirty pages (page 0 excluded) into @pids; returns how
 * many. With no writer at work the list is complete.
 */
size_t bp_dirty_list(struct bufpool *bp, uint64_t *pids, size_t max);
/*
 * Writes the @n pages @pids back (WRITE calls of up to EXMAP_VEC_MAX
 * entries, each page latched shared meanwhile), then fdatasync()s the
 * device; on success the pages are clean. The caller keeps writers off
 * these pages. 0, or -errno with the pages still dirty.
 */
int bp_write_back(struct bp_thread *t, const uint64_t *pids, size_t n);
/* Latch a page, reading it in on a miss. */
char *bp_fix_x(struct bp_thread *t, uint64_t pid);
char *bp_fix_s(struct bp_thread *t, uint64_t pid);
void bp_unfix_x(struct bp_thread *t, uint64_t pid, bool dirtied);
void bp_unfix_s(struct bp_thread *t, uint64_t pid);

/*
 * Optimistic reads: fn reads pages through bp_opt_begin()/bp_opt_valid()
 * and returns true when done; a fault (page evicted under it) or a false
 * return restarts it. Pages it finds evicted are brought in first.
 */
bool bp_opt_begin(struct bp_thread *t, uint64_t pid, uint64_t *seen);
bool bp_opt_valid(struct bp_thread *t, uint64_t pid, uint64_t seen);
/* Whether @pid is evicted at this moment (a hint: it may change at once). */
bool bp_evicted(struct bp_thread *t, uint64_t pid);
void bp_optimistic(struct bp_thread *t, bool (*fn)(struct bp_thread *t,
						  void *arg), void *arg);

#endif
