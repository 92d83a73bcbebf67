// SPDX-License-Identifier: GPL-2.0
/*
 * The fuzzer's data oracle: a session that knows what every page must hold.
 *
 * One context, one to three threads, each with its own interface and its
 * own blocks of 64 pages (block b belongs to thread b % threads), so that
 * every page has exactly one writer and the model of it is exact. Per page
 * the model says whether it is unmapped, mapped (to which frame), or gone
 * (mapped over: no longer part of the area); per frame, what it holds (the
 * pattern of a page and a tag, or "unknown" for the undefined contents of
 * an ALLOC'd frame that could not be written) and at how many pages it is
 * mapped, since ALIAS maps one frame at several pages and MOVE takes a
 * frame from one page to another (a thread rewires only its own pages, so
 * its frames stay its own); per block, the protection of its piece; per
 * page of the backing file, what was last written there (tag 0: zeros).
 *
 * Every operation is one entry of a table (ops[] below): it makes its call,
 * checks each result against the model, updates the model, and names the
 * pages it touched. After every call those pages and a few others are
 * checked: a mapped, readable page holds its pattern (so READ returns the
 * backing file's bytes and WRITE, FREE, READ round-trips), a read-only one
 * refuses writes, an unmapped or gone page faults. STATS must equal the
 * model's counters: after every call with one thread, every 16 calls with
 * more (calls hold a lock shared, the check holds it exclusively, so the
 * counters are at rest). With one thread the pool is sometimes smaller
 * than the data and ENOMEM must come exactly where docs/api.md says it
 * does; with more, only a pool too small for all of them may run short.
 *
 * A new opcode (or page size, or flag) is a new entry in ops[] with its own
 * model update; the checks after each call then cover it too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "fuzz-oracle.h"
#include "helpers.h"

#define BLOCK		64	/* pages; a thread owns whole blocks */
#define MAX_BLOCKS	64
#define MAX_PAGES	(MAX_BLOCKS * BLOCK)
#define MAX_THREADS	3
#define MAX_ENTRIES	16
#define VERIFY_MAX	48	/* pages checked after a call, at most */
/*
 * Of those, pages that must fault, checked at most: each check is a
 * SIGSEGV, which costs a millisecond or more under emulation and KASAN.
 */
#define FAULTS_PER_CALL	8
#define FAULTS_AT_END	256
#define STATS_EVERY	16	/* calls between STATS checks if threaded */
#define TAG_UNKNOWN	UINT32_MAX
#define RES_UNSET	(-32000)	/* a result no call writes */

#define MAX_REWIRES	8	/* entries of one ALIAS or MOVE */
#define NO_FRAME	UINT32_MAX

enum page_state { PG_UNMAPPED, PG_MAPPED, PG_GONE };

/* What a frame (or a page of the file) holds: page @src's pattern @tag. */
struct content {
	uint32_t src;
	uint32_t tag;
};

struct frame_model {
	struct content c;
	uint32_t refs;		/* pages it is mapped at */
};

struct page_model {
	uint8_t state;
	uint32_t frame;		/* PG_MAPPED: index into oracle.frame[] */
};

struct block_model {
	int prot;
	bool gone;
};

/* The context's counters as the model predicts them. */
struct counts {
	atomic_ulong in_use, alloc_pages, free_pages, tlb_flushes;
	atomic_ulong read_pages, read_calls, write_pages, write_calls;
	atomic_ulong aliased, alias_pages, move_pages, query_calls;
};

struct oracle {
	int fd;
	int store;		/* the backing file, or -1 */
	char *area;
	uint32_t area_pages;
	uint32_t store_pages;	/* the backing file's size */
	uint64_t pool;
	unsigned int nr_threads;
	bool exact;		/* one thread: ENOMEM just when predicted */
	bool ample;		/* a pool no set of calls can exhaust */
	long reserve_kb;	/* below this MemAvailable, ENOMEM is allowed */
	struct page_model page[MAX_PAGES];
	/* Thread i's frames are frame[i * MAX_PAGES ...]: a frame per page. */
	struct frame_model frame[MAX_THREADS * MAX_PAGES];
	struct content stored[MAX_PAGES];
	struct block_model block[MAX_BLOCKS];
	struct counts model;
	pthread_rwlock_t quiet;	/* calls shared, STATS check exclusive */
	atomic_int stop;
	struct oracle_tally *tally;
	atomic_ulong *ops;
	oracle_problem_fn problem;
};

struct othread {
	struct oracle *o;
	unsigned int id;
	uint64_t rng;
	uint32_t next_tag;
	struct exmap_iov *vec;	/* the interface page */
	uint32_t free_frame[MAX_PAGES];	/* unused indexes of its frames */
	uint32_t nr_free_frames;
	struct io_uring ring;
	bool have_ring;
	unsigned long calls;
	uint32_t touched[VERIFY_MAX];
	unsigned int ntouched;
	unsigned int faults_left;	/* fault checks left for this call */
	pthread_t tid;
};

struct oracle_op {
	const char *name;
	unsigned int weight;
	bool needs_store;
	void (*run)(struct othread *t);
};

/* ---- randomness, patterns ---- */

static uint64_t rnd(struct othread *t)
{
	t->rng ^= t->rng >> 12;
	t->rng ^= t->rng << 25;
	t->rng ^= t->rng >> 27;
	return t->rng * 0x2545f4914f6cdd1dULL;
}

static uint32_t below(struct othread *t, uint32_t n)
{
	return n ? rnd(t) % n : 0;
}

static uint64_t pattern_word(uint32_t page, uint32_t tag, unsigned int i)
{
	uint64_t x = ((uint64_t)page << 32 | tag) * 0x9e3779b97f4a7c15ULL +
		     i * 0xbf58476d1ce4e5b9ULL;

	return x ^ (x >> 29);
}

/* Tag 0 is zeros: what a file reads where nothing was written. */
static void fill_page(char *dst, uint32_t page, uint32_t tag)
{
	uint64_t *q = (uint64_t *)dst;

	for (unsigned int i = 0; i < T_PAGE / 8; i++)
		q[i] = tag ? pattern_word(page, tag, i) : 0;
}

static bool page_holds(const char *src, uint32_t page, uint32_t tag)
{
	const uint64_t *q = (const uint64_t *)src;

	for (unsigned int i = 0; i < T_PAGE / 8; i++)
		if (q[i] != (tag ? pattern_word(page, tag, i) : 0))
			return false;
	return true;
}

/* A tag no other page of this session has had: thread, then a count. */
static uint32_t new_tag(struct othread *t)
{
	return (t->id + 1) << 28 | (++t->next_tag & 0x0fffffff);
}

/* ---- touching pages that may fault ---- */

static __thread sigjmp_buf o_jmp;
static __thread volatile int o_armed;

static void o_fault(int sig)
{
	if (o_armed) {
		o_armed = 0;
		siglongjmp(o_jmp, 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* 1: holds @tag (any contents for TAG_UNKNOWN), 0: differs, -1: faults. */
static int guarded_compare(const char *addr, uint32_t page, uint32_t tag)
{
	volatile int r = -1;

	if (sigsetjmp(o_jmp, 0) == 0) {
		o_armed = 1;
		(void)*(const volatile char *)addr;
		r = tag == TAG_UNKNOWN ? 1 : page_holds(addr, page, tag);
		o_armed = 0;
	}
	return r;
}

/* Whether writing faults; writes back what was there, so nothing changes. */
static bool guarded_write_faults(char *addr)
{
	volatile bool faulted = true;

	if (sigsetjmp(o_jmp, 0) == 0) {
		o_armed = 1;
		*(volatile char *)addr = *(volatile char *)addr;
		o_armed = 0;
		faulted = false;
	}
	return faulted;
}

/* Writes a pattern; false if the page faulted (the model was wrong). */
static bool guarded_fill(char *addr, uint32_t page, uint32_t tag)
{
	volatile bool ok = false;

	if (sigsetjmp(o_jmp, 0) == 0) {
		o_armed = 1;
		fill_page(addr, page, tag);
		o_armed = 0;
		ok = true;
	}
	return ok;
}

/* ---- the model ---- */

static void count(atomic_ulong *c, unsigned long n)
{
	atomic_fetch_add(c, n);
}

static struct frame_model *frame_of(struct oracle *o, uint32_t p)
{
	return &o->frame[o->page[p].frame];
}

/* Maps page @p, unmapped, to a new frame of thread @t holding @c. */
static void map_new_frame(struct othread *t, uint32_t p, struct content c)
{
	struct oracle *o = t->o;
	uint32_t f;

	if (!t->nr_free_frames) {
		o->problem("oracle: model out of frames");
		_exit(2);
	}
	f = t->free_frame[--t->nr_free_frames];
	o->frame[f] = (struct frame_model){ .c = c, .refs = 1 };
	o->page[p] = (struct page_model){ .state = PG_MAPPED, .frame = f };
}

/* Maps page @p, unmapped, to frame @f too (ALIAS). */
static void map_frame(struct oracle *o, uint32_t p, uint32_t f)
{
	if (++o->frame[f].refs == 2)
		count(&o->model.aliased, 1);
	o->page[p] = (struct page_model){ .state = PG_MAPPED, .frame = f };
}

/*
 * Page @p, mapped, is unmapped (to @state); returns whether its frame went
 * back to the pool, that is, whether this was its last page.
 */
static bool unmap_page(struct othread *t, uint32_t p, uint8_t state)
{
	struct oracle *o = t->o;
	uint32_t f = o->page[p].frame;

	o->page[p] = (struct page_model){ .state = state, .frame = NO_FRAME };
	if (--o->frame[f].refs == 1)
		atomic_fetch_sub(&o->model.aliased, 1);
	if (o->frame[f].refs)
		return false;
	t->free_frame[t->nr_free_frames++] = f;
	return true;
}

static bool shared(struct oracle *o, uint32_t p)
{
	return o->page[p].state == PG_MAPPED && frame_of(o, p)->refs > 1;
}

/*
 * A mapped page of a writable piece gets a new pattern, seen at every page
 * its frame is mapped at.
 */
static void scribble(struct othread *t, uint32_t p)
{
	struct oracle *o = t->o;
	struct frame_model *fm;

	if (o->page[p].state != PG_MAPPED ||
	    o->block[p / BLOCK].prot != (PROT_READ | PROT_WRITE))
		return;
	fm = frame_of(o, p);
	fm->c = (struct content){ .src = p, .tag = new_tag(t) };
	if (!guarded_fill(o->area + (size_t)p * T_PAGE, p, fm->c.tag))
		o->problem("oracle: writing mapped page %u faults", p);
}

static bool owns(struct othread *t, uint32_t page)
{
	return (page / BLOCK) % t->o->nr_threads == t->id;
}

static const char *state_name(uint8_t s)
{
	return s == PG_MAPPED ? "mapped" : s == PG_GONE ? "gone" : "unmapped";
}

static void touched(struct othread *t, uint32_t page)
{
	if (t->ntouched < VERIFY_MAX)
		t->touched[t->ntouched++] = page;
	else
		t->touched[below(t, VERIFY_MAX)] = page;
}

static void touched_entries(struct othread *t, const struct exmap_iov *v,
			    unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		for (uint32_t p = v[i].page; p < v[i].page + v[i].len; p++)
			touched(t, p);
}

/* The page as the model has it, against what the area shows. */
static void check_page(struct othread *t, uint32_t p)
{
	struct oracle *o = t->o;
	struct page_model *pm = &o->page[p];
	int prot = o->block[p / BLOCK].prot;
	char *addr = o->area + (size_t)p * T_PAGE;
	struct content c;
	int r;

	if (pm->state != PG_MAPPED || prot == PROT_NONE) {
		if (!t->faults_left)
			return;
		t->faults_left--;
		atomic_fetch_add_explicit(&o->tally->pages_checked, 1,
					  memory_order_relaxed);
		if (guarded_compare(addr, p, TAG_UNKNOWN) != -1)
			o->problem("oracle: page %u (%s, prot %d) does not "
				   "fault", p, state_name(pm->state), prot);
		return;
	}
	atomic_fetch_add_explicit(&o->tally->pages_checked, 1,
				  memory_order_relaxed);
	c = o->frame[pm->frame].c;
	r = guarded_compare(addr, c.src, c.tag);
	if (r < 0)
		o->problem("oracle: mapped page %u faults", p);
	else if (!r)
		o->problem("oracle: page %u does not hold page %u's pattern "
			   "%#x (frame at %u pages)", p, c.src, c.tag,
			   o->frame[pm->frame].refs);
	else if (prot == PROT_READ && !guarded_write_faults(addr))
		o->problem("oracle: page %u of a read-only piece takes writes",
			   p);
}

static void check_touched(struct othread *t)
{
	/* From a random start: the fault checks fall on any of the pages. */
	unsigned int first = t->ntouched ? below(t, t->ntouched) : 0;

	t->faults_left = FAULTS_PER_CALL;
	for (unsigned int i = 0; i < t->ntouched; i++)
		check_page(t, t->touched[(first + i) % t->ntouched]);
	t->ntouched = 0;
	/* And a couple of pages the call should not have changed. */
	for (int k = 0; k < 2; k++) {
		uint32_t p = below(t, t->o->area_pages);

		if (owns(t, p))
			check_page(t, p);
	}
}

static unsigned int count_state(struct oracle *o, const struct exmap_iov *e,
				uint8_t state)
{
	unsigned int n = 0;

	for (uint32_t p = e->page; p < e->page + e->len; p++)
		n += o->page[p].state == state;
	return n;
}

static void map_pages(struct othread *t, const struct exmap_iov *e,
		      bool from_store)
{
	struct oracle *o = t->o;

	for (uint32_t p = e->page; p < e->page + e->len; p++) {
		struct content unknown = { .src = p, .tag = TAG_UNKNOWN };

		if (o->page[p].state != PG_MAPPED)
			map_new_frame(t, p, from_store ? o->stored[p] :
							 unknown);
	}
}

/* Is an ENOMEM for an entry that the pool could serve explained? */
static bool system_short(struct oracle *o)
{
	long avail = t_meminfo_kb("MemAvailable");

	return avail >= 0 && avail < o->reserve_kb;
}

/*
 * An entry got -ENOMEM; @fits says whether the pool, as the model counts
 * it, had the frames. One thread: only when it had not. More: only with a
 * pool that is not ample. Either way when the machine itself runs short.
 */
static void check_enomem(struct othread *t, const char *what, bool fits)
{
	struct oracle *o = t->o;

	atomic_fetch_add_explicit(&o->tally->enomem, 1, memory_order_relaxed);
	if (o->exact ? !fits : !o->ample)
		return;
	if (!system_short(o))
		o->problem("oracle: %s: ENOMEM with the pool's frames free "
			   "(pool %llu, %lu in use)", what,
			   (unsigned long long)o->pool,
			   atomic_load(&o->model.in_use));
}

/*
 * Up to @max entries inside the thread's live blocks, ascending and apart
 * (each in one block, below @limit): the vectors a buffer manager sends.
 */
static unsigned int pick_vector(struct othread *t, struct exmap_iov *v,
				unsigned int max, uint32_t limit)
{
	struct oracle *o = t->o;
	uint32_t nblocks = o->area_pages / BLOCK, b, off;
	unsigned int n = 0;

	b = t->id + o->nr_threads * below(t, nblocks / o->nr_threads + 1);
	off = below(t, BLOCK);
	max = 1 + below(t, max);
	while (n < max && b < nblocks) {
		uint32_t page = b * BLOCK + off, room = BLOCK - off, len;

		if (off >= BLOCK || o->block[b].gone || page >= limit) {
			b += o->nr_threads;
			off = below(t, 16);
			continue;
		}
		len = 1 + below(t, below(t, 4) ? (room < 8 ? room : 8) : room);
		if (len > limit - page)
			len = limit - page;
		v[n++] = (struct exmap_iov){ .page = page, .len = len };
		off += len + below(t, 8);
		if (!below(t, 3))
			off = BLOCK;	/* on to another block */
	}
	return n;
}

/* An ACTION on the thread's interface; results the call must overwrite. */
static int action(struct othread *t, unsigned int op,
		  const struct exmap_iov *v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		t->vec[i] = v[i];
		t->vec[i].res = RES_UNSET;
	}
	return t_action(t->o->fd, t->id, op, n);
}

/* ---- operations ---- */

static void op_alloc(struct othread *t)
{
	struct oracle *o = t->o;
	struct exmap_iov v[MAX_ENTRIES];
	unsigned int n = pick_vector(t, v, MAX_ENTRIES, o->area_pages);
	long avail = (long)o->pool - (long)atomic_load(&o->model.in_use);
	int ret, failed = 0;

	if (!n)
		return;
	ret = action(t, EXMAP_OP_ALLOC, v, n);
	if (ret < 0) {
		o->problem("oracle: ALLOC refused: %d", ret);
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		int res = t->vec[i].res;
		unsigned int need = count_state(o, &v[i], PG_UNMAPPED);

		if (res == -ENOMEM) {
			check_enomem(t, "ALLOC", (long)need <= avail);
			failed++;
			continue;
		}
		if (res != (int)need) {
			o->problem("oracle: ALLOC entry %u (%u+%u): res %d, "
				   "%u unmapped", i, v[i].page, v[i].len, res,
				   need);
			return;
		}
		map_pages(t, &v[i], false);
		avail -= need;
		count(&o->model.in_use, need);
		count(&o->model.alloc_pages, need);
	}
	if (ret != failed)
		o->problem("oracle: ALLOC returned %d, %d entries failed", ret,
			   failed);
	/* Give the new pages a pattern where the piece lets us write. */
	for (unsigned int i = 0; i < n; i++)
		for (uint32_t p = v[i].page; p < v[i].page + v[i].len; p++)
			if (o->page[p].state == PG_MAPPED &&
			    frame_of(o, p)->c.tag == TAG_UNKNOWN)
				scribble(t, p);
	touched_entries(t, v, n);
}

static void op_free(struct othread *t)
{
	struct oracle *o = t->o;
	struct exmap_iov v[MAX_ENTRIES];
	unsigned int n = pick_vector(t, v, MAX_ENTRIES, o->area_pages);
	unsigned long freed = 0, frames = 0;
	int ret;

	if (!n)
		return;
	ret = action(t, EXMAP_OP_FREE, v, n);
	if (ret != 0) {
		o->problem("oracle: FREE returned %d", ret);
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		unsigned int had = count_state(o, &v[i], PG_MAPPED);

		if (t->vec[i].res != (int)had) {
			o->problem("oracle: FREE entry %u (%u+%u): res %d, %u "
				   "mapped", i, v[i].page, v[i].len,
				   t->vec[i].res, had);
			return;
		}
		for (uint32_t p = v[i].page; p < v[i].page + v[i].len; p++)
			if (o->page[p].state == PG_MAPPED)
				frames += unmap_page(t, p, PG_UNMAPPED);
		freed += had;
	}
	atomic_fetch_sub(&o->model.in_use, frames);
	count(&o->model.free_pages, freed);
	count(&o->model.tlb_flushes, freed > 0);
	touched_entries(t, v, n);
}

/*
 * The outcome of READ entry @e that got @res (pages newly mapped, or
 * -errno) with @avail frames left for it: checks it, updates the model.
 * Returns whether the entry failed. An entry with a page whose frame is
 * mapped at another page too gets -EBUSY once its data has come.
 */
static bool read_entry(struct othread *t, const struct exmap_iov *e, int res,
		       long *avail, const char *what)
{
	struct oracle *o = t->o;
	unsigned int unmapped = count_state(o, e, PG_UNMAPPED);
	bool past_end = e->page + e->len > o->store_pages;
	bool busy = false;

	for (uint32_t p = e->page; p < e->page + e->len; p++)
		busy |= shared(o, p);

	if (res == -ENOMEM) {
		/* READ takes a frame for every page, mapped or not. */
		check_enomem(t, what, e->len <= *avail);
		return true;
	}
	*avail -= e->len;
	if (past_end) {
		if (res != -ENODATA)
			o->problem("oracle: %s %u+%u past the store's end "
				   "(%u pages): res %d", what, e->page, e->len,
				   o->store_pages, res);
		return true;
	}
	if (busy) {
		if (res != -EBUSY)
			o->problem("oracle: %s %u+%u over a shared frame: res "
				   "%d", what, e->page, e->len, res);
		count(&o->model.read_pages, e->len);
		return true;
	}
	if (res != (int)unmapped) {
		o->problem("oracle: %s %u+%u: res %d, %u unmapped", what,
			   e->page, e->len, res, unmapped);
		return true;
	}
	map_pages(t, e, true);
	count(&o->model.in_use, unmapped);
	count(&o->model.alloc_pages, unmapped);
	count(&o->model.read_pages, e->len);
	return false;
}

/* The outcome of WRITE entry @e: len, or -EFAULT with a page unmapped. */
static bool write_entry(struct othread *t, const struct exmap_iov *e, int res,
			const char *what)
{
	struct oracle *o = t->o;
	int want = count_state(o, e, PG_MAPPED) == e->len ? e->len : -EFAULT;

	if (res != want) {
		o->problem("oracle: %s %u+%u: res %d, expected %d", what,
			   e->page, e->len, res, want);
		return true;
	}
	if (res < 0)
		return true;
	for (uint32_t p = e->page; p < e->page + e->len; p++)
		o->stored[p] = frame_of(o, p)->c;
	count(&o->model.write_pages, e->len);
	return false;
}

static void op_read(struct othread *t)
{
	struct oracle *o = t->o;
	struct exmap_iov v[MAX_ENTRIES];
	unsigned int n = pick_vector(t, v, MAX_ENTRIES, o->area_pages);
	long avail = (long)o->pool - (long)atomic_load(&o->model.in_use);
	int ret, failed = 0;

	if (!n)
		return;
	ret = action(t, EXMAP_OP_READ, v, n);
	if (ret < 0) {
		o->problem("oracle: READ refused: %d", ret);
		return;
	}
	count(&o->model.read_calls, 1);
	for (unsigned int i = 0; i < n; i++)
		failed += read_entry(t, &v[i], t->vec[i].res, &avail, "READ");
	if (ret != failed)
		o->problem("oracle: READ returned %d, %d entries failed", ret,
			   failed);
	touched_entries(t, v, n);
}

static void op_write(struct othread *t)
{
	struct oracle *o = t->o;
	struct exmap_iov v[MAX_ENTRIES];
	unsigned int n = pick_vector(t, v, MAX_ENTRIES, o->store_pages);
	int ret, failed = 0;

	if (!n)
		return;
	ret = action(t, EXMAP_OP_WRITE, v, n);
	if (ret < 0) {
		o->problem("oracle: WRITE refused: %d", ret);
		return;
	}
	count(&o->model.write_calls, 1);
	for (unsigned int i = 0; i < n; i++)
		failed += write_entry(t, &v[i], t->vec[i].res, "WRITE");
	if (ret != failed)
		o->problem("oracle: WRITE returned %d, %d entries failed", ret,
			   failed);
	touched_entries(t, v, n);
}

/* pread/pwrite on the exmap fd: one entry; the byte count or -errno. */
static int shortcut(struct othread *t, const struct exmap_iov *e, bool write)
{
	char *buf = t->o->area + (size_t)e->page * T_PAGE;
	size_t len = (size_t)e->len * T_PAGE;
	ssize_t n = write ? pwrite(t->o->fd, buf, len, t->id) :
			    pread(t->o->fd, buf, len, t->id);

	return n < 0 ? -errno : n == (ssize_t)len ? 0 : -EMSGSIZE;
}

static void op_pread(struct othread *t)
{
	struct oracle *o = t->o;
	long avail = (long)o->pool - (long)atomic_load(&o->model.in_use);
	struct exmap_iov e;
	int ret;

	if (!pick_vector(t, &e, 1, o->area_pages))
		return;
	ret = shortcut(t, &e, false);
	count(&o->model.read_calls, 1);
	/* The count of pages it mapped is not returned: take the model's. */
	read_entry(t, &e, ret ? ret : (int)count_state(o, &e, PG_UNMAPPED),
		   &avail, "pread");
	touched_entries(t, &e, 1);
}

static void op_pwrite(struct othread *t)
{
	struct oracle *o = t->o;
	struct exmap_iov e;
	int ret;

	if (!pick_vector(t, &e, 1, o->store_pages))
		return;
	ret = shortcut(t, &e, true);
	count(&o->model.write_calls, 1);
	write_entry(t, &e, ret ? ret : e.len, "pwrite");
	touched_entries(t, &e, 1);
}

/* One io_uring command, submitted and waited for: its res. */
static int uring_cmd(struct othread *t, const struct exmap_iov *e,
		     unsigned int op)
{
	struct exmap_uring_cmd cmd = {
		.page = e->page, .len = e->len, .interface = t->id,
	};
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
	struct io_uring_cqe *cqe;
	int res;

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, t->o->fd, NULL, 0, 0);
	sqe->cmd_op = op;
	memcpy(sqe->cmd, &cmd, sizeof(cmd));
	if (io_uring_submit_and_wait(&t->ring, 1) != 1 ||
	    io_uring_wait_cqe(&t->ring, &cqe)) {
		t->o->problem("oracle: io_uring submit or wait failed");
		return RES_UNSET;
	}
	res = cqe->res;
	io_uring_cqe_seen(&t->ring, cqe);
	return res;
}

static void op_uring_read(struct othread *t)
{
	struct oracle *o = t->o;
	long avail = (long)o->pool - (long)atomic_load(&o->model.in_use);
	struct exmap_iov e;

	if (!t->have_ring || !pick_vector(t, &e, 1, o->area_pages))
		return;
	count(&o->model.read_calls, 1);
	read_entry(t, &e, uring_cmd(t, &e, EXMAP_OP_READ), &avail,
		   "io_uring READ");
	touched_entries(t, &e, 1);
}

static void op_uring_write(struct othread *t)
{
	struct oracle *o = t->o;
	struct exmap_iov e;

	if (!t->have_ring || !pick_vector(t, &e, 1, o->store_pages))
		return;
	count(&o->model.write_calls, 1);
	write_entry(t, &e, uring_cmd(t, &e, EXMAP_OP_WRITE),
		    "io_uring WRITE");
	touched_entries(t, &e, 1);
}

/* New patterns in mapped pages of writable pieces. */
static void op_scribble(struct othread *t)
{
	struct oracle *o = t->o;
	struct exmap_iov v[4];
	unsigned int n = pick_vector(t, v, 4, o->area_pages);

	for (unsigned int i = 0; i < n; i++)
		for (uint32_t p = v[i].page; p < v[i].page + v[i].len; p++)
			scribble(t, p);
	touched_entries(t, v, n);
}

/* mprotect of one whole block: its pages keep their frames. */
static void op_protect(struct othread *t)
{
	static const int prots[] = { PROT_READ | PROT_WRITE,
				     PROT_READ | PROT_WRITE, PROT_READ,
				     PROT_NONE };
	struct oracle *o = t->o;
	struct exmap_iov e;
	uint32_t b;
	int prot = prots[below(t, 4)];

	if (!pick_vector(t, &e, 1, o->area_pages))
		return;
	b = e.page / BLOCK;
	if (mprotect(o->area + (size_t)b * BLOCK * T_PAGE, BLOCK * T_PAGE,
		     prot)) {
		o->problem("oracle: mprotect: errno %d", errno);
		return;
	}
	o->block[b].prot = prot;
	for (uint32_t p = b * BLOCK; p < (b + 1) * BLOCK; p += 1 + below(t, 8))
		touched(t, p);
}

/*
 * A block mapped over in one step (a hole in the area, as a munmap leaves,
 * that the kernel cannot hand to anyone else): its frames go back to the
 * pool unless ALIAS mapped them at a page elsewhere too, its pages fault
 * for good. A thread keeps at least one block.
 */
static void op_hole(struct othread *t)
{
	struct oracle *o = t->o;
	unsigned int mine = 0;
	struct exmap_iov e;
	unsigned long had = 0;
	uint32_t b;
	char *p;

	for (b = t->id; b < o->area_pages / BLOCK; b += o->nr_threads)
		mine += !o->block[b].gone;
	if (mine < 2 || !pick_vector(t, &e, 1, o->area_pages))
		return;
	b = e.page / BLOCK;
	p = o->area + (size_t)b * BLOCK * T_PAGE;
	if (mmap(p, BLOCK * T_PAGE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p) {
		o->problem("oracle: cannot map over block %u: errno %d", b,
			   errno);
		return;
	}
	for (uint32_t q = b * BLOCK; q < (b + 1) * BLOCK; q++) {
		if (o->page[q].state == PG_MAPPED)
			had += unmap_page(t, q, PG_GONE);
		else
			o->page[q].state = PG_GONE;
	}
	o->block[b].gone = true;
	atomic_fetch_sub(&o->model.in_use, had);
	for (uint32_t q = b * BLOCK; q < (b + 1) * BLOCK; q += 1 + below(t, 8))
		touched(t, q);
}

/*
 * A vector with one bad entry (in a hole, of length 0 or above 512, past
 * the area's end) among good ones: the call is refused, only the bad entry
 * gets -EINVAL, and nothing changes.
 */
static void op_bad_entry(struct othread *t)
{
	static const unsigned int ops_with_store[] = {
		EXMAP_OP_ALLOC, EXMAP_OP_FREE, EXMAP_OP_READ, EXMAP_OP_WRITE,
	};
	struct oracle *o = t->o;
	struct exmap_iov v[MAX_ENTRIES];
	unsigned int n = pick_vector(t, v, MAX_ENTRIES - 1, o->area_pages);
	unsigned int bad = below(t, n + 1), op;
	uint32_t hole = UINT32_MAX;
	int ret;

	op = ops_with_store[below(t, o->store >= 0 ? 4 : 2)];
	for (uint32_t b = t->id; b < o->area_pages / BLOCK;
	     b += o->nr_threads)
		if (o->block[b].gone)
			hole = b * BLOCK;
	memmove(&v[bad + 1], &v[bad], (n - bad) * sizeof(v[0]));
	switch (below(t, 4)) {
	case 0:
		if (hole != UINT32_MAX) {
			v[bad] = (struct exmap_iov){
				.page = hole + below(t, 60),
				.len = 1 + below(t, 4) };
			break;
		}
		/* fall through */
	case 1:
		v[bad] = (struct exmap_iov){ .page = below(t, o->area_pages),
					     .len = 0 };
		break;
	case 2:
		v[bad] = (struct exmap_iov){
			.page = 0, .len = EXMAP_ENTRY_MAX_PAGES + 1 };
		break;
	default:
		v[bad] = (struct exmap_iov){
			.page = o->area_pages - below(t, 4), .len = 8 };
		break;
	}
	ret = action(t, op, v, n + 1);
	if (ret != -EINVAL)
		o->problem("oracle: op %u with bad entry %u (%u+%u): %d", op,
			   bad, v[bad].page, v[bad].len, ret);
	for (unsigned int i = 0; i <= n; i++) {
		int want = i == bad ? -EINVAL : RES_UNSET;

		if (t->vec[i].res != want)
			o->problem("oracle: refused op %u: entry %u res %d, "
				   "expected %d", op, i, t->vec[i].res, want);
	}
	v[bad] = v[n];	/* the good ones: unchanged, checked below */
	touched_entries(t, v, n);
}

/*
 * A run of at most @max pages inside one of the thread's live blocks: with
 * @want, from the first page in state @state after a random start, as long
 * as the pages stay in it; else anywhere. False if none was found.
 */
static bool pick_run(struct othread *t, bool want, uint8_t state,
		     uint32_t max, uint32_t *page, uint32_t *len)
{
	struct oracle *o = t->o;
	uint32_t per = o->area_pages / BLOCK / o->nr_threads, b, off, p;

	b = t->id + o->nr_threads * below(t, per);
	if (o->block[b].gone)
		return false;
	off = below(t, BLOCK);
	for (uint32_t k = 0; want && k < BLOCK; k++, off = (off + 1) % BLOCK)
		if (o->page[b * BLOCK + off].state == state)
			break;
	p = b * BLOCK + off;
	if (want && o->page[p].state != state)
		return false;
	*page = p;
	*len = 1;
	while (*len < max && off + *len < BLOCK &&
	       (!want || o->page[p + *len].state == state))
		(*len)++;
	return true;
}

/* Entry @e of a bad kind: refused with EINVAL however the pages are. */
static void bad_rewire(struct othread *t, struct exmap_rewire *e)
{
	uint32_t area = t->o->area_pages;

	switch (below(t, 4)) {
	case 0:		/* the runs overlap */
		e->dst = e->src + below(t, e->len);
		break;
	case 1:
		e->resv = 1 + below(t, 1000);
		break;
	case 2:
		e->len = below(t, 2) ? 0 : EXMAP_ENTRY_MAX_PAGES + 1;
		break;
	default:	/* past the area's end */
		e->dst = area - below(t, e->len);
		break;
	}
}

/*
 * ALIAS or MOVE of a few runs of the thread's pages, most of them aimed at
 * mapped sources and unmapped destinations, some anywhere (-ENOENT,
 * -EEXIST), and sometimes one bad entry (the call refused). Entries are
 * done in order, so the model follows them one by one.
 */
static void op_rewire(struct othread *t, bool move)
{
	struct oracle *o = t->o;
	struct exmap_rewire *vec = (struct exmap_rewire *)t->vec;
	struct exmap_rewire v[MAX_REWIRES];
	unsigned int n = 0, want = 1 + below(t, MAX_REWIRES), failed = 0;
	const char *name = move ? "MOVE" : "ALIAS";
	unsigned long done = 0;
	int ret, bad = -1;

	for (unsigned int i = 0; i < want; i++) {
		bool aim = below(t, 5) != 0;
		uint32_t src, slen, dst, dlen;

		if (!pick_run(t, aim, PG_MAPPED, 1 + below(t, 8), &src,
			      &slen) ||
		    !pick_run(t, aim, PG_UNMAPPED, slen, &dst, &dlen) ||
		    (src < dst + dlen && dst < src + dlen))
			continue;
		v[n++] = (struct exmap_rewire){ .src = src, .dst = dst,
						.len = dlen };
	}
	if (!n)
		return;
	if (!below(t, 12)) {
		bad = below(t, n);
		bad_rewire(t, &v[bad]);
	}
	for (unsigned int i = 0; i < n; i++) {
		vec[i] = v[i];
		vec[i].res = RES_UNSET;
	}
	ret = t_action(o->fd, t->id, move ? EXMAP_OP_MOVE : EXMAP_OP_ALIAS, n);
	if (bad >= 0) {
		if (ret != -EINVAL)
			o->problem("oracle: %s with bad entry %d (%u->%u+%u "
				   "resv %u): %d", name, bad, v[bad].src,
				   v[bad].dst, v[bad].len, v[bad].resv, ret);
		for (unsigned int i = 0; i < n; i++)
			if (vec[i].res != ((int)i == bad ? -EINVAL : RES_UNSET))
				o->problem("oracle: refused %s: entry %u res "
					   "%d", name, i, vec[i].res);
		v[bad] = v[--n];	/* the others: unchanged, checked */
		goto touched;
	}
	if (ret < 0) {
		o->problem("oracle: %s refused: %d", name, ret);
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct exmap_iov s = { .page = v[i].src, .len = v[i].len };
		struct exmap_iov d = { .page = v[i].dst, .len = v[i].len };
		int res = v[i].len;

		if (count_state(o, &s, PG_MAPPED) != v[i].len)
			res = -ENOENT;
		else if (count_state(o, &d, PG_UNMAPPED) != v[i].len)
			res = -EEXIST;
		if (vec[i].res != res) {
			o->problem("oracle: %s entry %u (%u->%u+%u): res %d, "
				   "expected %d", name, i, v[i].src, v[i].dst,
				   v[i].len, vec[i].res, res);
			return;
		}
		if (res < 0) {
			failed++;
			continue;
		}
		for (uint32_t k = 0; k < v[i].len; k++) {
			uint32_t f = o->page[v[i].src + k].frame;

			if (move) {
				o->page[v[i].dst + k] = o->page[v[i].src + k];
				o->page[v[i].src + k] = (struct page_model){
					.state = PG_UNMAPPED,
					.frame = NO_FRAME };
			} else {
				map_frame(o, v[i].dst + k, f);
			}
		}
		done += v[i].len;
	}
	if (ret != (int)failed)
		o->problem("oracle: %s returned %d, %u entries failed", name,
			   ret, failed);
	count(move ? &o->model.move_pages : &o->model.alias_pages, done);
	atomic_fetch_add_explicit(&o->tally->rewired, done,
				  memory_order_relaxed);
	count(&o->model.tlb_flushes, move && done);
touched:
	for (unsigned int i = 0; i < n; i++) {
		struct exmap_iov s = { .page = v[i].src, .len = v[i].len };
		struct exmap_iov d = { .page = v[i].dst, .len = v[i].len };

		touched_entries(t, &s, 1);
		touched_entries(t, &d, 1);
	}
}

static void op_alias(struct othread *t)
{
	op_rewire(t, false);
}

static void op_move(struct othread *t)
{
	op_rewire(t, true);
}

/* QUERY: mapped pages (or shared ones) per entry; nothing changes. */
static void op_query(struct othread *t)
{
	struct oracle *o = t->o;
	struct exmap_iov v[MAX_ENTRIES];
	unsigned int n = pick_vector(t, v, MAX_ENTRIES, o->area_pages);
	bool want_shared = below(t, 2);
	struct exmap_action a = {
		.interface = t->id, .nr = n, .opcode = EXMAP_OP_QUERY,
		.flags = want_shared ? EXMAP_ACTION_QUERY_SHARED : 0,
	};
	int ret;

	if (!n)
		return;
	for (unsigned int i = 0; i < n; i++) {
		t->vec[i] = v[i];
		t->vec[i].res = RES_UNSET;
	}
	ret = ioctl(o->fd, EXMAP_IOC_ACTION, &a);
	if (ret) {
		o->problem("oracle: QUERY returned %d, errno %d", ret, errno);
		return;
	}
	count(&o->model.query_calls, 1);
	for (unsigned int i = 0; i < n; i++) {
		int want = 0;

		for (uint32_t p = v[i].page; p < v[i].page + v[i].len; p++)
			want += want_shared ? shared(o, p) :
					      o->page[p].state == PG_MAPPED;
		if (t->vec[i].res != want)
			o->problem("oracle: QUERY%s entry %u (%u+%u): res %d, "
				   "model %d", want_shared ? " shared" : "", i,
				   v[i].page, v[i].len, t->vec[i].res, want);
	}
}

struct stat_pair {
	const char *name;
	uint64_t seen;
	unsigned long want;
};

/* STATS against the model, with every call at rest. */
static void check_stats(struct oracle *o)
{
	struct counts *m = &o->model;
	struct exmap_stats2 st2;
	struct exmap_stats st;

	if (ioctl(o->fd, EXMAP_IOC_STATS2, &st2)) {
		o->problem("oracle: STATS2 failed: errno %d", errno);
		return;
	}
	st = st2.base;
	atomic_fetch_add(&o->tally->stats_checked, 1);

	const struct stat_pair c[] = {
		{ "frames_in_use", st.frames_in_use, atomic_load(&m->in_use) },
		{ "alloc_pages", st.alloc_pages, atomic_load(&m->alloc_pages) },
		{ "free_pages", st.free_pages, atomic_load(&m->free_pages) },
		{ "tlb_flushes", st.tlb_flushes, atomic_load(&m->tlb_flushes) },
		{ "read_pages", st.read_pages, atomic_load(&m->read_pages) },
		{ "read_calls", st.read_calls, atomic_load(&m->read_calls) },
		{ "write_pages", st.write_pages, atomic_load(&m->write_pages) },
		{ "write_calls", st.write_calls, atomic_load(&m->write_calls) },
		{ "aliased_frames", st2.aliased_frames,
		  atomic_load(&m->aliased) },
		{ "alias_pages", st2.alias_pages, atomic_load(&m->alias_pages) },
		{ "move_pages", st2.move_pages, atomic_load(&m->move_pages) },
		{ "query_calls", st2.query_calls, atomic_load(&m->query_calls) },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (c[i].seen != c[i].want)
			o->problem("oracle: STATS %s %llu, model %lu",
				   c[i].name, (unsigned long long)c[i].seen,
				   c[i].want);
	if (st.frames_taken > o->pool || st.pool_size != o->pool ||
	    st.frames_in_use + st.frames_free != st.frames_taken)
		o->problem("oracle: STATS pool %llu taken %llu in use %llu "
			   "free %llu", (unsigned long long)st.pool_size,
			   (unsigned long long)st.frames_taken,
			   (unsigned long long)st.frames_in_use,
			   (unsigned long long)st.frames_free);
}

static void op_stats(struct othread *t)
{
	(void)t;	/* run by the loop below, outside the shared lock */
}

static const struct oracle_op ops[] = {
	{ "ALLOC",		20, false, op_alloc },
	{ "FREE",		16, false, op_free },
	{ "READ",		12, true,  op_read },
	{ "WRITE",		 8, true,  op_write },
	{ "pread",		 4, true,  op_pread },
	{ "pwrite",		 3, true,  op_pwrite },
	{ "io_uring READ",	 4, true,  op_uring_read },
	{ "io_uring WRITE",	 2, true,  op_uring_write },
	{ "scribble",		10, false, op_scribble },
	{ "mprotect",		 2, false, op_protect },
	{ "hole",		 1, false, op_hole },
	{ "bad entry",		 3, false, op_bad_entry },
	{ "ALIAS",		 6, false, op_alias },
	{ "MOVE",		 5, false, op_move },
	{ "QUERY",		 3, false, op_query },
	{ "STATS",		 3, false, op_stats },
};

static const struct oracle_op *pick_op(struct othread *t)
{
	unsigned int total = 0, r;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!ops[i].needs_store || t->o->store >= 0)
			total += ops[i].weight;
	r = below(t, total);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (ops[i].needs_store && t->o->store < 0)
			continue;
		if (r < ops[i].weight)
			return &ops[i];
		r -= ops[i].weight;
	}
	return &ops[0];
}

static void *othread_main(void *arg)
{
	struct othread *t = arg;
	struct oracle *o = t->o;

	while (!atomic_load(&o->stop)) {
		const struct oracle_op *op = pick_op(t);

		if (op->run != op_stats) {
			pthread_rwlock_rdlock(&o->quiet);
			op->run(t);
			check_touched(t);
			pthread_rwlock_unlock(&o->quiet);
			atomic_fetch_add_explicit(&o->tally->calls, 1,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(t->o->ops, 1,
						  memory_order_relaxed);
		}
		if (op->run == op_stats || o->nr_threads == 1 ||
		    ++t->calls % STATS_EVERY == 0) {
			pthread_rwlock_wrlock(&o->quiet);
			check_stats(o);
			pthread_rwlock_unlock(&o->quiet);
		}
	}
	return NULL;
}

/* ---- the session ---- */

static int open_store(struct oracle *o, const char *dir)
{
	char path[512];
	int fd;

	if (!dir)
		return -1;
	snprintf(path, sizeof(path), "%s/exmap-oracle-%d", dir, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return -1;
	unlink(path);	/* the module keeps its own reference */
	if (ftruncate(fd, (off_t)o->store_pages * T_PAGE)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void setup(struct oracle *o, struct othread *t, const char *dir)
{
	struct exmap_setup s = { .backing_fd = -1 };
	pthread_rwlockattr_t attr;
	long total = t_meminfo_kb("MemTotal");
	long pct = t_param_read("reserve_pct");

	o->area_pages = BLOCK * (o->nr_threads + below(t, MAX_BLOCKS -
						       o->nr_threads + 1));
	o->store_pages = o->area_pages;
	if (o->exact)	/* the end of the store within reach */
		o->store_pages -= below(t, o->area_pages / 4 + 1);
	o->reserve_kb = total > 0 && pct >= 0 ? total / 100 * pct * 2 : 0;
	if (o->exact)
		o->pool = 16 + below(t, o->area_pages + 64);
	else if (o->ample)
		o->pool = o->area_pages + o->nr_threads * MAX_ENTRIES *
					  EXMAP_ENTRY_MAX_PAGES;
	else
		o->pool = 16 + below(t, o->area_pages / 2);
	o->store = open_store(o, dir);
	s.pool_size = o->pool;
	s.nr_interfaces = o->nr_threads;
	s.backing_fd = o->store;
	o->fd = t_open();
	if (o->fd < 0 || ioctl(o->fd, EXMAP_IOC_SETUP, &s)) {
		o->problem("oracle: open or SETUP: errno %d", errno);
		_exit(2);
	}
	o->area = t_map_area(o->fd, o->area_pages);
	if (!o->area) {
		o->problem("oracle: area mmap: errno %d", errno);
		_exit(2);
	}
	for (uint32_t b = 0; b < o->area_pages / BLOCK; b++)
		o->block[b].prot = PROT_READ | PROT_WRITE;
	/* Writers first: a STATS check must not wait for ever. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&o->quiet, &attr);
}

void oracle_session(uint64_t seed, unsigned int ms, const char *dir,
		    struct oracle_tally *tally, atomic_ulong *ops_count,
		    oracle_problem_fn problem)
{
	struct sigaction sa = { .sa_handler = o_fault,
				.sa_flags = SA_NODEFER };
	struct othread th[MAX_THREADS] = { 0 };
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	struct oracle *o = calloc(1, sizeof(*o));
	struct othread main_thread = { 0 }, *main_t = &main_thread;

	if (!o)
		_exit(2);
	o->tally = tally;
	o->ops = ops_count;
	o->problem = problem;
	main_t->o = o;
	main_t->rng = seed | 1;
	o->nr_threads = 1 + below(main_t, MAX_THREADS);
	o->exact = o->nr_threads == 1;
	o->ample = !o->exact && below(main_t, 2);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	setup(o, main_t, dir);
	atomic_fetch_add(&tally->sessions, 1);

	for (unsigned int i = 0; i < o->nr_threads; i++) {
		th[i].o = o;
		th[i].id = i;
		th[i].rng = seed * (2 * i + 3) | 1;
		for (uint32_t k = 0; k < MAX_PAGES; k++)
			th[i].free_frame[k] = i * MAX_PAGES + MAX_PAGES - 1 - k;
		th[i].nr_free_frames = MAX_PAGES;
		th[i].vec = t_map_interface(o->fd, i);
		th[i].have_ring = !io_uring_queue_init(4, &th[i].ring, 0);
		if (!th[i].vec) {
			problem("oracle: interface %u: errno %d", i, errno);
			_exit(2);
		}
	}
	for (unsigned int i = 0; i < o->nr_threads; i++)
		if (pthread_create(&th[i].tid, NULL, othread_main, &th[i]))
			_exit(2);
	for (unsigned int waited = 0; waited < ms; waited += 10)
		nanosleep(&pause, NULL);
	/* One way out in four is an exit with the threads still running. */
	if (!below(main_t, 4))
		_exit(0);
	atomic_store(&o->stop, 1);
	for (unsigned int i = 0; i < o->nr_threads; i++)
		pthread_join(th[i].tid, NULL);

	/* At rest: every mapped page of the area, and the counters. */
	main_t->faults_left = FAULTS_AT_END;
	for (uint32_t p = 0; p < o->area_pages; p++)
		check_page(main_t, p);
	check_stats(o);
	munmap(o->area, (size_t)o->area_pages * T_PAGE);
	atomic_store(&o->model.in_use, 0);
	atomic_store(&o->model.aliased, 0);
	check_stats(o);
	_exit(0);
}
