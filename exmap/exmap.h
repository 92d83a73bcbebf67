/* SPDX-License-Identifier: GPL-2.0 */
/*
 * exmap: internal declarations shared by the module's files.
 *
 * The module in layers, top down (docs/design.md has the picture). Each
 * layer calls only the layers below it.
 *
 *   entry points  thin adapters from a system call to an operation
 *     main.c        the misc device, open/release, mmap dispatch, fdinfo
 *     ioctl.c       ioctl dispatch: copies arguments in and out
 *     uring.c       READ and WRITE as io_uring commands
 *     shortcut.c    READ and WRITE as pread/pwrite on the exmap fd
 *   gate          gate.c: the checks every entry point makes on a request
 *   operations
 *     setup.c       SETUP
 *     action.c      ACTION: the interface's vector in and out, dispatch
 *     alloc.c       ALLOC and FREE of a vector
 *     rewire.c      ALIAS, MOVE and QUERY
 *     io.c          READ and WRITE of a vector against the backing store
 *     stats.c       the counters and STATS
 *   mechanisms
 *     pagetable.c   installing, clearing and reading the area's PTEs
 *     tlb.c         TLB shootdowns for FREE
 *     pool.c        the frame pool: per-interface stacks, global stack
 *     alias.c       frames mapped at several pages: counts, alias map
 *     area.c        the area VMA: fault, split, close (frame reclaim)
 *     interface.c   interface pages and their mmap
 *     limits.c      device permissions, RLIMIT_MEMLOCK, the memory reserve
 *   compat.h      what differs between the kernels it builds for (6.1, 6.12)
 *
 * Lock order, outermost first (lockdep checks it in the debug kernel):
 *
 *   iface->lock -> mmap_lock (read) -> pool->grow_lock -> page allocator
 *                                   -> PTE lock -> iface->free_lock
 *                                               -> pool->lock
 *                                   -> PTE lock -> PTE lock (nested, in
 *                                      address order) -> aliases' xa_lock
 *   iface->lock -> sb_writers -> file system, block layer   (READ, WRITE)
 *   mmap_lock (write, or read after munmap's downgrade) -> pool->lock
 *   mmap_lock (write) -> ctx->setup_lock                    (mmap)
 *
 * iface->free_lock and pool->lock nest only in that order, in the pool.
 * No lock of the module is held while the device does I/O, except
 * iface->lock by an ACTION that waits for its own READ or WRITE.
 */
#ifndef EXMAP_INTERNAL_H
#define EXMAP_INTERNAL_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/fs.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>

#include <linux/exmap.h>

struct bio_vec;
struct file;
struct io_uring_cmd;
struct seq_file;
struct vm_area_struct;

/*
 * A kernel copy of one vector entry. The user may change the interface page
 * while a call runs, so every call validates and then works on this copy.
 * While a call runs, res counts the pages done for the entry; an entry with
 * res < 0 has failed and takes no further part.
 */
struct exmap_entry {
	u32 page;
	u16 len;
	s16 res;
};

/*
 * mmap_assert_locked() and mmap_assert_write_locked() call dump_mm() under
 * CONFIG_DEBUG_VM, which is not exported to modules: lockdep alone checks.
 */
#define exmap_assert_mmap_locked(mm)	lockdep_assert_held(&(mm)->mmap_lock)
#define exmap_assert_mmap_write_locked(mm) \
	lockdep_assert_held_write(&(mm)->mmap_lock)

/* A kernel copy of one struct exmap_rewire entry (ALIAS, MOVE). */
struct exmap_rewire_entry {
	u32 src;
	u32 dst;
	u16 len;
	s16 res;
};

static inline bool exmap_entry_live(const struct exmap_entry *e)
{
	return e->res >= 0;
}

/*
 * A stack of frames, linked through page->lru.next: frames are pages this
 * module took from the page allocator and owns, never on an LRU list, so
 * the field is free for its use (the page allocator's users do the same
 * with lru). Pushing and popping touch only the frame itself, which the
 * caller touches anyway to record where it is mapped.
 */
struct exmap_frames {
	struct page *head;
	struct page *tail;
	unsigned long nr;
};

#define EXMAP_FRAMES_INIT	((struct exmap_frames){ NULL, NULL, 0 })

static inline struct page **exmap_frame_link(struct page *page)
{
	return (struct page **)&page->lru.next;
}

static inline void exmap_frames_push(struct exmap_frames *f,
				     struct page *page)
{
	*exmap_frame_link(page) = f->head;
	if (!f->head)
		f->tail = page;
	f->head = page;
	f->nr++;
}

static inline struct page *exmap_frames_pop(struct exmap_frames *f)
{
	struct page *page = f->head;

	if (!page)
		return NULL;
	f->head = *exmap_frame_link(page);
	if (!f->head)
		f->tail = NULL;
	f->nr--;
	return page;
}

/*
 * Where a frame is. page->private holds
 *   0                           while it is not mapped;
 *   the area page index + 1     while it is mapped at that one page;
 *   EXMAP_FRAME_FREEING + the interface index
 *                               while a FREE on that interface owns it:
 *                               mapped still, but no other call may unmap
 *                               it (see alloc.c, the range flush);
 *   EXMAP_FRAME_ALIASED + n     while it is mapped at n pages, each of
 *                               them recorded in ctx->aliases (alias.c).
 */
#define EXMAP_FRAME_FREEING	(1UL << 40)
#define EXMAP_FRAME_ALIASED	(1UL << 41)

static inline void exmap_frame_set_mapped(struct page *page, u32 index)
{
	set_page_private(page, (unsigned long)index + 1);
}

static inline void exmap_frame_set_unmapped(struct page *page)
{
	set_page_private(page, 0);
}

static inline bool exmap_frame_is_aliased(unsigned long v)
{
	return v >= EXMAP_FRAME_ALIASED;
}

static inline bool exmap_frame_is_freeing(unsigned long v)
{
	return v >= EXMAP_FRAME_FREEING && v < EXMAP_FRAME_ALIASED;
}

/*
 * The area page index a frame is mapped at, if it is mapped at exactly one
 * page and not being freed; false otherwise.
 */
static inline bool exmap_frame_index(struct page *page, unsigned long *index)
{
	unsigned long v = page_private(page);

	if (!v || v >= EXMAP_FRAME_FREEING)
		return false;
	*index = v - 1;
	return true;
}

/* One entry's I/O. */
struct exmap_io_cmd {
	struct kiocb iocb;
	struct exmap_io *io;
	long ret;
};

/*
 * Arrays an I/O may use instead of allocating its own: an interface's (used
 * under its lock) or ones inline in a request. Allocation is slow enough to
 * matter next to a fast device.
 */
struct exmap_io_space {
	struct exmap_io_cmd *cmds;
	u32 *first_slot;
	struct bio_vec *slots;
	unsigned int max_nr;
	unsigned int max_pages;
};

struct exmap_ctx;

/* One READ or WRITE of a vector (see io.c). */
struct exmap_io {
	struct exmap_ctx *ctx;
	unsigned int ifidx;
	bool write;
	struct exmap_entry *entries;
	unsigned int nr;
	unsigned long pages;
	struct exmap_io_cmd *cmds;	/* one per entry */
	u32 *first_slot;		/* each entry's first page in @slots */
	struct bio_vec *slots;		/* the frame of each page */
	bool own_arrays;		/* allocated, not from a space */
	bool sync_ok;			/* the submitter waits for the I/O */
	atomic_t pending;
	void (*done)(struct exmap_io *io);
	struct completion wait;
};

/*
 * Counters of one interface, changed only by calls that hold its lock, so
 * plain adds suffice; STATS sums them without the lock. The unlocked paths
 * (io_uring commands, the shortcut, reclaim) count in struct
 * exmap_shared_counters instead.
 */
struct exmap_counters {
	u64 mapped;		/* pages mapped by ALLOC and READ */
	u64 unmapped;		/* pages unmapped by FREE */
	u64 released;		/* frames FREE gave back to the pool */
	u64 alias_pages;
	u64 move_pages;
	u64 query_calls;
	u64 tlb_flushes;
	u64 read_pages;
	u64 read_calls;
	u64 write_pages;
	u64 write_calls;
};

struct exmap_shared_counters {
	atomic64_t mapped;
	atomic64_t reclaimed;	/* frames given back by munmap and exit */
	atomic64_t shared;	/* frames mapped at two pages or more */
	atomic64_t steals;
	atomic64_t read_pages;
	atomic64_t read_calls;
	atomic64_t write_pages;
	atomic64_t write_calls;
};

struct exmap_interface {
	/* Serialises ACTION calls on this interface; guards all below it. */
	struct mutex lock;
	struct exmap_entry *entries;		/* the kernel copy */
	struct exmap_rewire_entry *rewires;	/* ALIAS, MOVE: the copy */
	struct exmap_io_space *io_space;	/* READ/WRITE, on first use */
	struct exmap_counters stats;

	/* The page user space maps; allocated on first use, no lock. */
	struct page *vec_page;

	/* This interface's free frames. */
	spinlock_t free_lock;
	struct exmap_frames free;
} ____cacheline_aligned_in_smp;

struct exmap_pool {
	unsigned long size;

	/* Frames given back by interfaces with too many free ones. */
	spinlock_t lock;
	struct exmap_frames free;

	/*
	 * Every frame taken from the system, by the order it was taken in:
	 * the list of what to give back at release and to scan when part of
	 * the area goes away. Growth is serialised by @grow_lock.
	 */
	struct mutex grow_lock;
	struct xarray frames;
	unsigned long taken;

	/*
	 * Area page index -> frame, for every page whose frame is in the
	 * EXMAP_FRAME_ALIASED state (alias.c). Its xa_lock nests inside
	 * PTE locks.
	 */
	struct xarray aliases;
};

struct exmap_ctx {
	/* Guards SETUP and the creation of the area. */
	struct mutex setup_lock;
	/* Set once SETUP has finished; read with smp_load_acquire(). */
	bool ready;

	unsigned int nr_interfaces;
	struct exmap_interface *ifaces;
	struct exmap_pool pool;

	/*
	 * The area: fixed once mapped; @mm is the process that mapped it,
	 * published with smp_store_release() after the other fields.
	 */
	struct mm_struct *mm;
	unsigned long area_start;
	unsigned long area_pages;
	/* See exmap_area_whole(). */
	bool area_whole;

	struct file *backing;
	loff_t backing_offset;

	/* The user charged for the pool, and how much (limits.c). */
	struct user_struct *user;
	unsigned long charged_pages;

	struct exmap_shared_counters stats;
};

/* Entry geometry: the address range of area pages. */
static inline unsigned long exmap_page_addr(const struct exmap_ctx *ctx,
					    unsigned long page)
{
	return ctx->area_start + (page << PAGE_SHIFT);
}

static inline unsigned long exmap_entry_start(const struct exmap_ctx *ctx,
					      const struct exmap_entry *e)
{
	return exmap_page_addr(ctx, e->page);
}

static inline unsigned long exmap_entry_end(const struct exmap_ctx *ctx,
					    const struct exmap_entry *e)
{
	return exmap_page_addr(ctx, (unsigned long)e->page + e->len);
}

/* The area page index of address @addr inside the area. */
static inline unsigned long exmap_addr_page(const struct exmap_ctx *ctx,
					    unsigned long addr)
{
	return (addr - ctx->area_start) >> PAGE_SHIFT;
}

/* True if area pages [page, page + len) lie within the area's size. */
static inline bool exmap_run_in_area(const struct exmap_ctx *ctx, u64 page,
				     u64 len)
{
	return len && len <= EXMAP_ENTRY_MAX_PAGES &&
	       page + len <= ctx->area_pages;
}

/* The entry points: main.c's file operations call these. */
long exmap_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
int exmap_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags);
ssize_t exmap_shortcut_read(struct file *file, char __user *buf,
			    size_t count, loff_t *ppos);
ssize_t exmap_shortcut_write(struct file *file, const char __user *buf,
			     size_t count, loff_t *ppos);

/* gate.c */
int exmap_gate_ready(struct exmap_ctx *ctx);
int exmap_gate_caller(struct exmap_ctx *ctx);
int exmap_gate_io(struct exmap_ctx *ctx, unsigned int opcode);

/* setup.c */
int exmap_setup(struct exmap_ctx *ctx, const struct exmap_setup *s);
void exmap_teardown(struct exmap_ctx *ctx);

/* action.c */
long exmap_action(struct exmap_ctx *ctx, const struct exmap_action *act);

/* rewire.c */
long exmap_rewire(struct exmap_ctx *ctx, unsigned int ifidx, bool move,
		  unsigned int nr);
void exmap_query(struct exmap_ctx *ctx, unsigned int ifidx,
		 struct exmap_entry *entries, unsigned int nr, bool shared);

/* alloc.c */
void exmap_alloc(struct exmap_ctx *ctx, unsigned int ifidx,
		 struct vm_area_struct *vma, struct exmap_entry *entries,
		 unsigned int nr);
void exmap_free(struct exmap_ctx *ctx, unsigned int ifidx,
		struct vm_area_struct *vma, struct exmap_entry *entries,
		unsigned int nr);

/* io.c */
int exmap_io_init(struct exmap_io *io, struct exmap_ctx *ctx,
		  unsigned int ifidx, bool write, struct exmap_entry *entries,
		  unsigned int nr, gfp_t gfp, struct exmap_io_space *space);
struct exmap_io_space *exmap_io_space_alloc(void);
void exmap_io_space_free(struct exmap_io_space *space);
void exmap_io_destroy(struct exmap_io *io);
bool exmap_io_get_frames(struct exmap_io *io, bool nowait);
void exmap_io_put_frames(struct exmap_io *io);
void exmap_io_collect(struct exmap_io *io, struct mm_struct *mm);
void exmap_io_submit(struct exmap_io *io, void (*done)(struct exmap_io *));
unsigned long exmap_io_results(struct exmap_io *io);
unsigned long exmap_io_map(struct exmap_io *io, struct mm_struct *mm);
int exmap_io_sync(struct exmap_ctx *ctx, unsigned int ifidx, bool write,
		  struct exmap_entry *entries, unsigned int nr,
		  struct exmap_io_space *space, struct exmap_counters *count);

/* stats.c */
void exmap_count_io(struct exmap_ctx *ctx, struct exmap_counters *c,
		    bool write, unsigned long pages);
void exmap_count_mapped(struct exmap_ctx *ctx, struct exmap_counters *c,
			unsigned long pages);
void exmap_stats_fill(struct exmap_ctx *ctx, struct exmap_stats2 *st);

/* pagetable.c */
unsigned long exmap_pt_install(struct exmap_ctx *ctx, struct mm_struct *mm,
			       struct vm_area_struct *vma,
			       struct exmap_entry *entries, unsigned int nr,
			       struct exmap_frames *frames,
			       struct bio_vec *slots, const u32 *first_slot);
unsigned long exmap_pt_clear(struct exmap_ctx *ctx, struct mm_struct *mm,
			     struct exmap_entry *entries, unsigned int nr,
			     unsigned long owner, struct exmap_frames *frames);
unsigned long exmap_pt_mark(struct exmap_ctx *ctx, struct mm_struct *mm,
			    unsigned long start, unsigned long end,
			    unsigned long owner, struct exmap_frames *frames);
void exmap_pt_collect(struct exmap_ctx *ctx, struct mm_struct *mm,
		      struct exmap_entry *entries, unsigned int nr,
		      struct bio_vec *slots, const u32 *first_slot,
		      bool shared);
int exmap_pt_access(struct mm_struct *mm, unsigned long addr, void *buf,
		    int len, bool write);
int exmap_pt_rewire(struct exmap_ctx *ctx, struct mm_struct *mm,
		    struct vm_area_struct *dvma,
		    struct exmap_rewire_entry *e, bool move);

/* tlb.c */
void exmap_tlb_batch_begin(struct mm_struct *mm);
void exmap_tlb_notify(struct mm_struct *mm, unsigned long start,
		      unsigned long end);
void exmap_tlb_batch_end(struct mm_struct *mm, struct vm_area_struct *vma,
			 bool flush);
void exmap_tlb_zap_range(struct vm_area_struct *vma, unsigned long start,
			 unsigned long end);

/* pool.c */
void exmap_pool_init(struct exmap_ctx *ctx, unsigned long size);
void exmap_pool_destroy(struct exmap_ctx *ctx);
unsigned long exmap_pool_get(struct exmap_ctx *ctx, unsigned int ifidx,
			     unsigned long want, struct exmap_frames *out,
			     bool may_grow);
void exmap_pool_put(struct exmap_ctx *ctx, unsigned int ifidx,
		    struct exmap_frames *frames);
void exmap_pool_reclaim(struct exmap_ctx *ctx, unsigned long first,
			unsigned long end);
unsigned long exmap_pool_nr_taken(struct exmap_ctx *ctx);

/* area.c */
int exmap_area_mmap(struct exmap_ctx *ctx, struct vm_area_struct *vma);
struct vm_area_struct *exmap_area_vma(struct exmap_ctx *ctx,
				      struct mm_struct *mm,
				      unsigned long start, unsigned long end);
struct vm_area_struct *exmap_entry_vma(struct exmap_ctx *ctx,
				       struct mm_struct *mm,
				       const struct exmap_entry *e);
struct vm_area_struct *exmap_area_whole_vma(struct exmap_ctx *ctx,
					    struct mm_struct *mm);
bool exmap_area_whole(struct exmap_ctx *ctx);
unsigned int exmap_entries_outside(struct exmap_ctx *ctx,
				   struct mm_struct *mm,
				   const struct exmap_entry *entries,
				   unsigned int nr);
void exmap_entries_fail_outside(struct exmap_ctx *ctx, struct mm_struct *mm,
				struct exmap_entry *entries, unsigned int nr,
				int err);

/* interface.c */
int exmap_interfaces_init(struct exmap_ctx *ctx, unsigned int nr);
void exmap_interfaces_destroy(struct exmap_ctx *ctx);
struct exmap_iov *exmap_interface_vec(struct exmap_interface *iface);
int exmap_interface_mmap(struct exmap_ctx *ctx, struct vm_area_struct *vma);

/* alias.c */
int exmap_alias_reserve(struct exmap_ctx *ctx, unsigned long index);
void exmap_alias_unreserve(struct exmap_ctx *ctx, unsigned long index);
int exmap_alias_add(struct exmap_ctx *ctx, struct page *page,
		    unsigned long src, unsigned long dst);
int exmap_alias_move(struct exmap_ctx *ctx, struct page *page,
		     unsigned long src, unsigned long dst);
bool exmap_alias_remove(struct exmap_ctx *ctx, struct page *page,
			unsigned long index);
bool exmap_alias_shared(struct page *page);
void exmap_alias_reclaim(struct exmap_ctx *ctx, unsigned long first,
			 unsigned long end, struct exmap_frames *freed);

/* limits.c */
extern atomic_long_t exmap_frames_held;
umode_t exmap_dev_mode(void);
int exmap_may_open(void);
unsigned long exmap_grow_allowance(void);
int exmap_limits_charge(struct exmap_ctx *ctx, unsigned long pages);
void exmap_limits_uncharge(struct exmap_ctx *ctx);

#endif /* EXMAP_INTERNAL_H */
