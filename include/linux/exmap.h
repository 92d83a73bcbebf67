/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * exmap: explicit control of a memory-mapped area for buffer managers.
 *
 * User-space API. Self-contained: needs only <linux/types.h> and
 * <linux/ioctl.h>. Every struct is made of naturally aligned fixed-size
 * fields; reserved fields must be zero on input and are zero on output.
 *
 * Life of a context:
 *   fd = open("/dev/exmap", O_RDWR);         a new, empty context
 *   ioctl(fd, EXMAP_IOC_SETUP, &setup);       pool size, interfaces, flags
 *   area = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
 *               EXMAP_OFF_AREA);              nothing mapped yet
 *   vec = mmap(NULL, EXMAP_INTERFACE_SIZE, PROT_READ | PROT_WRITE,
 *              MAP_SHARED, fd, EXMAP_OFF_INTERFACE(i));
 *   fill vec[0..n-1], then ioctl(fd, EXMAP_IOC_ACTION, &action);
 *
 * See docs/api.md for the full reference.
 */
#ifndef _UAPI_LINUX_EXMAP_H
#define _UAPI_LINUX_EXMAP_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define EXMAP_API_VERSION	1

/* Size of one frame and one area page: frames are always 4 KiB. */
#define EXMAP_PAGE_SIZE		4096ULL

/* Most interfaces one context may have. */
#define EXMAP_MAX_INTERFACES	1024

/* Most entries in one interface vector (one call). */
#define EXMAP_VEC_MAX		512

/* Most entries in one vector of struct exmap_rewire (ALIAS, MOVE). */
#define EXMAP_REWIRE_VEC_MAX	256

/* Most pages one vector entry may cover. */
#define EXMAP_ENTRY_MAX_PAGES	512

/* Most pages one area may have: a page index is a __u32 (16 TiB). */
#define EXMAP_AREA_MAX_PAGES	(1ULL << 32)

/*
 * mmap offsets. The area is mapped at offset 0, interface i at
 * EXMAP_OFF_INTERFACE(i), with a length of exactly EXMAP_INTERFACE_SIZE.
 */
#define EXMAP_OFF_AREA		0ULL
#define EXMAP_INTERFACE_SIZE	EXMAP_PAGE_SIZE
#define EXMAP_OFF_INTERFACE(i)	(((__u64)(i) + 1) * EXMAP_INTERFACE_SIZE)

/*
 * struct exmap_setup - argument of EXMAP_IOC_SETUP; once per context.
 *
 * @pool_size:	in: most frames (4 KiB pages) the context may hold at once,
 *		mapped or free. Frames are taken from the system lazily, up to
 *		this number, and given back when the context is released.
 *		1 .. EXMAP_AREA_MAX_PAGES.
 * @nr_interfaces: in: number of interfaces, 1 .. EXMAP_MAX_INTERFACES.
 * @backing_fd:	in: file descriptor of the backing store for READ and
 *		WRITE, or -1 for none. The module keeps its own reference.
 * @flags:	in: EXMAP_SETUP_* flags; unknown bits give EINVAL.
 * @backing_offset: in: byte offset on the backing store of area page 0;
 *		a multiple of EXMAP_PAGE_SIZE. Must be 0 without a backing fd.
 * @resv:	in: must be zero.
 * @api:	out: EXMAP_API_VERSION of the module.
 * @ioctls:	out: bit (1 << _EXMAP_<CMD>) set for every ioctl this module
 *		supports.
 */
struct exmap_setup {
	__u64 pool_size;
	__u32 nr_interfaces;
	__s32 backing_fd;
	__u64 flags;
	__u64 backing_offset;
	__u64 resv[4];
	__u64 api;
	__u64 ioctls;
};

/*
 * Opcodes of EXMAP_IOC_ACTION. Each works on the calling interface's
 * vector; see docs/api.md for the exact semantics of each.
 */
enum {
	/* Map a fresh frame at every unmapped page of each entry. */
	EXMAP_OP_ALLOC = 0,
	/* Unmap every mapped page of each entry and give its frame back. */
	EXMAP_OP_FREE = 1,
	/* Allocate, then fill the new frames from the backing store. */
	EXMAP_OP_READ = 2,
	/* Write the mapped pages of each entry to the backing store. */
	EXMAP_OP_WRITE = 3,
	/*
	 * Rewiring: the vector holds struct exmap_rewire entries.
	 * ALIAS maps the frames of mapped source pages at unmapped
	 * destination pages too; MOVE gives them to the destination and
	 * unmaps the source (one TLB shootdown per call).
	 */
	EXMAP_OP_ALIAS = 4,
	EXMAP_OP_MOVE = 5,
	/* Count the mapped pages of each entry; changes nothing. */
	EXMAP_OP_QUERY = 6,
	EXMAP_OP_MAX
};

/*
 * Flags of struct exmap_action. EXMAP_ACTION_QUERY_SHARED, with QUERY only:
 * count instead the pages of each entry whose frame is also mapped at
 * another page (by ALIAS).
 */
#define EXMAP_ACTION_QUERY_SHARED	(1U << 0)

/*
 * struct exmap_iov - one entry of an interface vector (8 bytes).
 *
 * An interface page holds EXMAP_VEC_MAX of them.
 *
 * @page:	in: index of the first area page of the entry.
 * @len:	in: number of pages, 1 .. EXMAP_ENTRY_MAX_PAGES.
 * @res:	out: written by every call that gets past validation: the
 *		number of pages the entry changed (>= 0), or -errno if the
 *		entry failed. See docs/api.md.
 */
struct exmap_iov {
	__u32 page;
	__u16 len;
	__s16 res;
};

/*
 * struct exmap_rewire - one entry of an ALIAS or MOVE vector (16 bytes).
 *
 * An interface page holds EXMAP_REWIRE_VEC_MAX of them, in place of the
 * struct exmap_iov entries the other opcodes use.
 *
 * @src:	in: first area page of the source run.
 * @dst:	in: first area page of the destination run; the two runs may
 *		not overlap.
 * @len:	in: number of pages of each run, 1 .. EXMAP_ENTRY_MAX_PAGES.
 * @res:	out: pages rewired (len on success), or -errno: -ENOENT if a
 *		source page was not mapped, -EEXIST if a destination page was
 *		mapped (the entry changed nothing in both cases). See
 *		docs/api.md.
 * @resv:	in: must be zero.
 */
struct exmap_rewire {
	__u32 src;
	__u32 dst;
	__u16 len;
	__s16 res;
	__u32 resv;
};

/*
 * struct exmap_action - argument of EXMAP_IOC_ACTION.
 *
 * @interface:	in: interface whose vector holds the entries.
 * @nr:		in: number of entries, 1 .. EXMAP_VEC_MAX
 *		(.. EXMAP_REWIRE_VEC_MAX for ALIAS and MOVE).
 * @opcode:	in: EXMAP_OP_*.
 * @flags:	in: EXMAP_ACTION_QUERY_SHARED with QUERY, else zero.
 *
 * Returns -1 with errno when the call as a whole is refused: nothing was
 * done and no entry was changed, except that the first invalid entry gets
 * res = -EINVAL. Otherwise returns the number of entries that failed
 * (0: all succeeded); each entry's res says what happened to it.
 */
struct exmap_action {
	__u32 interface;
	__u32 nr;
	__u32 opcode;
	__u32 flags;
};

/*
 * struct exmap_stats - argument of EXMAP_IOC_STATS; a snapshot of the
 * context's counters. Page counts are in frames (4 KiB).
 *
 * @pool_size:	the pool size given at SETUP.
 * @frames_taken: frames taken from the system and not yet given back.
 * @frames_in_use: frames mapped in the area.
 * @frames_free: frames taken and not mapped (frames_taken - frames_in_use
 *		while no call is in flight).
 * @alloc_pages: pages mapped by ALLOC and READ since SETUP.
 * @free_pages:	pages unmapped by FREE since SETUP.
 * @tlb_flushes: TLB shootdowns issued by FREE.
 * @steals:	frames taken from another interface's free list.
 * @read_pages, @read_calls: pages filled from the backing store, and calls.
 * @write_pages, @write_calls: pages written to the backing store, and calls.
 * @resv:	zero.
 */
struct exmap_stats {
	__u64 pool_size;
	__u64 frames_taken;
	__u64 frames_in_use;
	__u64 frames_free;
	__u64 alloc_pages;
	__u64 free_pages;
	__u64 tlb_flushes;
	__u64 steals;
	__u64 read_pages;
	__u64 read_calls;
	__u64 write_pages;
	__u64 write_calls;
	__u64 resv[4];
};

/*
 * struct exmap_stats2 - argument of EXMAP_IOC_STATS2: the counters of
 * struct exmap_stats and those added after it (256 bytes).
 *
 * @base:	as EXMAP_IOC_STATS gives it.
 * @aliased_frames: frames mapped at more than one page now (by ALIAS).
 * @alias_pages: pages mapped by ALIAS since SETUP.
 * @move_pages:	pages moved by MOVE since SETUP.
 * @query_calls: QUERY calls.
 * @resv:	zero.
 */
struct exmap_stats2 {
	struct exmap_stats base;
	__u64 aliased_frames;
	__u64 alias_pages;
	__u64 move_pages;
	__u64 query_calls;
	__u64 resv[12];
};

/*
 * struct exmap_uring_cmd - READ or WRITE of one run of pages through
 * io_uring: IORING_OP_URING_CMD on the exmap fd, with sqe->cmd_op set to
 * EXMAP_OP_READ or EXMAP_OP_WRITE and this struct in sqe->cmd (it fits a
 * plain 64-byte SQE). The completion's res is the number of pages mapped
 * (READ: pages newly mapped) or written, or -errno.
 *
 * @page, @len:	the run, as in struct exmap_iov.
 * @resv:	must be zero.
 * @interface:	interface whose free list supplies READ's frames. Commands
 *		on one interface may be in flight together.
 * @flags:	must be zero.
 */
struct exmap_uring_cmd {
	__u32 page;
	__u16 len;
	__u16 resv;
	__u32 interface;
	__u32 flags;
};

#define EXMAP_IOC_MAGIC		0xE7

#define _EXMAP_SETUP		0x00
#define _EXMAP_ACTION		0x01
#define _EXMAP_STATS		0x02
#define _EXMAP_STATS2		0x03

#define EXMAP_IOC_SETUP		_IOWR(EXMAP_IOC_MAGIC, _EXMAP_SETUP, \
				      struct exmap_setup)
#define EXMAP_IOC_ACTION	_IOW(EXMAP_IOC_MAGIC, _EXMAP_ACTION, \
				     struct exmap_action)
#define EXMAP_IOC_STATS		_IOR(EXMAP_IOC_MAGIC, _EXMAP_STATS, \
				     struct exmap_stats)
#define EXMAP_IOC_STATS2	_IOR(EXMAP_IOC_MAGIC, _EXMAP_STATS2, \
				     struct exmap_stats2)

#endif /* _UAPI_LINUX_EXMAP_H */
