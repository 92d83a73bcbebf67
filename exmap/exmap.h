/* SPDX-License-Identifier: GPL-2.0 */
/*
 * exmap: internal declarations shared by the module's files.
 *
 * Who owns what:
 *   main.c       the misc device, open/release, mmap dispatch, fdinfo
 *   ioctl.c      ioctl dispatch, argument validation, SETUP and STATS
 *   action.c     ACTION: loading a vector, ALLOC and FREE
 *   pagetable.c  installing and clearing PTEs for a run of entries
 *   tlb.c        the one TLB shootdown per FREE call
 *   io.c         READ and WRITE against the backing store
 *   uring.c      READ and WRITE through io_uring (IORING_OP_URING_CMD)
 *   shortcut.c   pread/pwrite on the exmap fd for one run of pages
 *   limits.c     device permissions and the RLIMIT_MEMLOCK charge
 *   pool.c       the frame pool: per-interface lists, global list, stealing
 *   area.c       the area VMA: fault, split, close (frame reclaim)
 *   interface.c  interface pages and their mmap
 */
#ifndef EXMAP_INTERNAL_H
#define EXMAP_INTERNAL_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>

#include <linux/exmap.h>

struct file;
struct seq_file;

/*
 * A kernel copy of one vector entry. The user may change the interface page
 * while a call runs, so every call validates and then works on this copy.
 */
struct exmap_entry {
	u32 page;
	u16 len;
	s16 res;
};

struct exmap_ctx;
struct exmap_io;

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

struct exmap_interface {
	/* Serialises calls on this interface and guards @entries. */
	struct mutex lock;
	/* The page user space maps; allocated on first use. */
	struct page *vec_page;
	struct exmap_entry *entries;
	struct exmap_io_space *io_space;	/* READ/WRITE, on first use */

	/* This interface's free frames, linked through page->lru. */
	spinlock_t free_lock;
	struct list_head free;
	unsigned long nr_free;
} ____cacheline_aligned_in_smp;

struct exmap_pool {
	unsigned long size;

	/* Frames given back by interfaces with too many free ones. */
	spinlock_t lock;
	struct list_head free;
	unsigned long nr_free;

	/*
	 * Every frame taken from the system, by the order it was taken in:
	 * the list of what to give back at release and to scan when part of
	 * the area goes away. Growth is serialised by @grow_lock.
	 */
	struct mutex grow_lock;
	struct xarray frames;
	unsigned long taken;

	atomic_long_t in_use;
};

struct exmap_counters {
	atomic64_t alloc_pages;
	atomic64_t free_pages;
	atomic64_t tlb_flushes;
	atomic64_t steals;
	atomic64_t read_pages;
	atomic64_t read_calls;
	atomic64_t write_pages;
	atomic64_t write_calls;
};

struct exmap_ctx {
	/* Guards SETUP and the creation of the area. */
	struct mutex setup_lock;
	/* Set once SETUP has finished; read with smp_load_acquire(). */
	bool ready;

	unsigned int nr_interfaces;
	struct exmap_interface *ifaces;
	struct exmap_pool pool;

	/* The area: fixed once mapped; @mm is the process that mapped it. */
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

	struct exmap_counters stats;
};

/* Frames record the area page they are mapped at as page index + 1. */
static inline void exmap_frame_set_mapped(struct page *page, u32 index)
{
	set_page_private(page, (unsigned long)index + 1);
}

static inline void exmap_frame_set_unmapped(struct page *page)
{
	set_page_private(page, 0);
}

/* The address of area page @page. */
static inline unsigned long exmap_entry_addr(struct exmap_ctx *ctx, u32 page)
{
	return ctx->area_start + ((unsigned long)page << PAGE_SHIFT);
}

/* ioctl.c */
long exmap_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
int exmap_io_allowed(struct exmap_ctx *ctx, unsigned int opcode);

/* action.c */
long exmap_action(struct exmap_ctx *ctx, const struct exmap_action *act);

/* pagetable.c */
struct bio_vec;
unsigned long exmap_pt_install(struct mm_struct *mm,
			       unsigned long area_start,
			       struct exmap_entry *entries, unsigned int nr,
			       struct list_head *frames, struct bio_vec *slots,
			       const u32 *first_slot);
int exmap_pt_clear(struct mm_struct *mm, unsigned long area_start,
		   struct exmap_entry *entries, unsigned int nr,
		   struct list_head *frames, struct vm_area_struct **vma);
int exmap_pt_collect(struct mm_struct *mm, unsigned long area_start,
		     struct exmap_entry *entries, unsigned int nr,
		     struct bio_vec *slots, const u32 *first_slot);

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
void exmap_io_map(struct exmap_io *io, struct mm_struct *mm);
int exmap_io_sync(struct exmap_ctx *ctx, unsigned int ifidx, bool write,
		  struct exmap_entry *entries, unsigned int nr,
		  struct exmap_io_space *space);

/* shortcut.c */
ssize_t exmap_shortcut_read(struct file *file, char __user *buf,
			    size_t count, loff_t *ppos);
ssize_t exmap_shortcut_write(struct file *file, const char __user *buf,
			     size_t count, loff_t *ppos);

/* uring.c */
struct io_uring_cmd;
int exmap_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags);

/* tlb.c */
void exmap_tlb_batch_begin(struct mm_struct *mm);
void exmap_tlb_notify(struct mm_struct *mm, unsigned long start,
		      unsigned int pages);
void exmap_tlb_batch_end(struct mm_struct *mm, struct vm_area_struct *vma,
			 bool flush);

/* pool.c */
void exmap_pool_init(struct exmap_ctx *ctx, unsigned long size);
void exmap_pool_destroy(struct exmap_ctx *ctx);
unsigned long exmap_pool_get_free(struct exmap_ctx *ctx, unsigned int ifidx,
				  unsigned long want, struct list_head *out);
unsigned long exmap_pool_get(struct exmap_ctx *ctx, unsigned int ifidx,
			     unsigned long want, struct list_head *out,
			     bool may_sleep);
void exmap_pool_put(struct exmap_ctx *ctx, unsigned int ifidx,
		    struct list_head *frames, unsigned long nr);
void exmap_pool_reclaim(struct exmap_ctx *ctx, unsigned long first,
			unsigned long end);
unsigned long exmap_pool_nr_taken(struct exmap_ctx *ctx);

/* area.c */
int exmap_area_mmap(struct exmap_ctx *ctx, struct vm_area_struct *vma);
struct vm_area_struct *exmap_area_vma(struct exmap_ctx *ctx,
				      struct mm_struct *mm,
				      unsigned long start, unsigned long end);
bool exmap_area_whole(struct exmap_ctx *ctx);
void exmap_entries_recheck(struct exmap_ctx *ctx, struct mm_struct *mm,
			   struct exmap_entry *entries, unsigned int nr,
			   int err);
bool exmap_vma_in_area(struct vm_area_struct *vma, unsigned long area_start);
struct vm_area_struct *exmap_entry_vma(struct exmap_ctx *ctx,
				       struct mm_struct *mm,
				       const struct exmap_entry *e);

/* interface.c */
int exmap_interfaces_init(struct exmap_ctx *ctx, unsigned int nr);
void exmap_interfaces_destroy(struct exmap_ctx *ctx);
struct exmap_iov *exmap_interface_vec(struct exmap_interface *iface);
int exmap_interface_mmap(struct exmap_ctx *ctx, struct vm_area_struct *vma);

/* limits.c */
extern atomic_long_t exmap_frames_held;
umode_t exmap_dev_mode(void);
int exmap_may_open(void);
unsigned long exmap_grow_allowance(void);
int exmap_limits_charge(struct exmap_ctx *ctx, unsigned long pages);
void exmap_limits_uncharge(struct exmap_ctx *ctx);

/* main.c */
void exmap_stats_fill(struct exmap_ctx *ctx, struct exmap_stats *st);

#endif /* EXMAP_INTERNAL_H */
