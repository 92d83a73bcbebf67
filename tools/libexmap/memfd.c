// SPDX-License-Identifier: LGPL-2.1 OR MIT
/*
 * libexmap's rewiring fallback: the fallback backend with EXMAP_OPT_REWIRE,
 * for machines without the module. It rewires the classic way: frames are
 * pages of a memfd, and every mapped page of the area is a MAP_SHARED |
 * MAP_FIXED mapping of its frame's offset. ALIAS maps the same offset at
 * another address, MOVE moves the mapping with mremap(), FREE puts a
 * PROT_NONE mapping back. Unmapped pages are PROT_NONE, so touching one
 * raises SIGSEGV, as with the module.
 *
 * The costs are the known ones of this way: a system call, a VMA and a
 * TLB shootdown per page (neighbouring pages whose frames are neighbours in
 * the memfd share a VMA), a page fault on the first touch of each mapping,
 * and vm.max_map_count (65,530 by default), past which mmap() fails: the
 * entry then gets -ENOMEM, with the pages before it left as they were done.
 *
 * One lock guards the frame table; calls are serialised.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libexmap-int.h"

#define PAGE	EXMAP_PAGE_SIZE

struct exmap_memfd {
	pthread_mutex_t lock;
	int fd;			/* pool_pages frames */
	uint32_t *frame_of;	/* area page -> frame + 1; 0: unmapped */
	uint32_t *refs;		/* frame -> pages mapping it */
	uint32_t *free;		/* free frames, a stack */
	uint32_t nr_free;
	uint32_t fresh;		/* frames never used: fresh .. pool_pages */
	struct exmap_stats2 st;
};

static char *page_addr(struct exmap *x, uint64_t p)
{
	return x->area + p * PAGE;
}

static int mapped(struct exmap_memfd *m, uint64_t p)
{
	return m->frame_of[p] != 0;
}

static uint64_t frames_available(struct exmap *x)
{
	struct exmap_memfd *m = x->memfd;

	return m->nr_free + (x->opts.pool_pages - m->fresh);
}

static uint32_t frame_take(struct exmap *x)
{
	struct exmap_memfd *m = x->memfd;

	return m->nr_free ? m->free[--m->nr_free] : m->fresh++;
}

/* Maps frame @f at page @p. */
static int map_frame(struct exmap *x, uint64_t p, uint32_t f)
{
	void *r = mmap(page_addr(x, p), PAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, x->memfd->fd, (off_t)f * PAGE);

	return r == MAP_FAILED ? -errno : 0;
}

/* Puts PROT_NONE back over pages [p, p + n). */
static int unmap_pages(struct exmap *x, uint64_t p, uint64_t n)
{
	void *r = mmap(page_addr(x, p), n * PAGE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
		       -1, 0);

	return r == MAP_FAILED ? -errno : 0;
}

/* Page @p's frame loses a mapping; a frame mapped nowhere goes back. */
static void frame_drop(struct exmap *x, uint64_t p)
{
	struct exmap_memfd *m = x->memfd;
	uint32_t f = m->frame_of[p] - 1;

	m->frame_of[p] = 0;
	if (m->refs[f] == 2)
		m->st.aliased_frames--;
	if (--m->refs[f] == 0) {
		m->free[m->nr_free++] = f;
		m->st.base.frames_in_use--;
	}
}

static unsigned long count_mapped(struct exmap_memfd *m, uint64_t page,
				  uint64_t len, int shared)
{
	unsigned long n = 0;

	for (uint64_t p = page; p < page + len; p++) {
		if (!mapped(m, p))
			continue;
		n += !shared || m->refs[m->frame_of[p] - 1] >= 2;
	}
	return n;
}

static int do_free(struct exmap *x, const struct exmap_iov *e)
{
	struct exmap_memfd *m = x->memfd;
	uint64_t end = (uint64_t)e->page + e->len, p = e->page, run;
	int freed = 0, err;

	while (p < end) {
		if (!mapped(m, p)) {
			p++;
			continue;
		}
		for (run = p; run < end && mapped(m, run); run++)
			;
		err = unmap_pages(x, p, run - p);
		if (err)
			return err;
		m->st.base.tlb_flushes++;
		for (; p < run; p++, freed++)
			frame_drop(x, p);
	}
	m->st.base.free_pages += freed;
	return freed;
}

/* Maps a fresh frame at every unmapped page; all or nothing. */
static int do_alloc(struct exmap *x, const struct exmap_iov *e)
{
	struct exmap_memfd *m = x->memfd;
	uint64_t end = (uint64_t)e->page + e->len;
	unsigned long need = e->len - count_mapped(m, e->page, e->len, 0);
	int got = 0, err;
	uint32_t f;

	if (need > frames_available(x))
		return -ENOMEM;
	for (uint64_t p = e->page; p < end; p++) {
		if (mapped(m, p))
			continue;
		f = frame_take(x);
		err = map_frame(x, p, f);
		if (err) {
			m->free[m->nr_free++] = f;
			return err == -ENOMEM || err == -EAGAIN ? -ENOMEM :
								  err;
		}
		m->frame_of[p] = f + 1;
		m->refs[f] = 1;
		m->st.base.frames_in_use++;
		got++;
	}
	m->st.base.alloc_pages += got;
	return got;
}

static int do_read(struct exmap *x, const struct exmap_iov *e)
{
	struct exmap_memfd *m = x->memfd;
	uint64_t end = (uint64_t)e->page + e->len;
	uint8_t was[EXMAP_ENTRY_MAX_PAGES];
	int got, ret = 0;
	ssize_t r;

	for (uint64_t p = e->page; p < end; p++)
		was[p - e->page] = mapped(m, p);
	got = do_alloc(x, e);
	if (got <= 0)
		return got;
	for (uint64_t p = e->page; p < end && !ret; p++) {
		if (was[p - e->page])
			continue;
		r = pread(x->opts.backing_fd, page_addr(x, p), PAGE,
			  x->opts.backing_offset + p * PAGE);
		if (r != (ssize_t)PAGE)
			ret = r < 0 ? -errno : -ENODATA;
	}
	if (ret) {
		/* All or nothing: the new pages go again. */
		for (uint64_t p = e->page; p < end; p++) {
			if (!was[p - e->page] && mapped(m, p) &&
			    !unmap_pages(x, p, 1))
				frame_drop(x, p);
		}
		m->st.base.alloc_pages -= got;
		return ret;
	}
	m->st.base.read_pages += got;
	return got;
}

static int do_write(struct exmap *x, const struct exmap_iov *e)
{
	ssize_t w;

	if (count_mapped(x->memfd, e->page, e->len, 0) != e->len)
		return -EFAULT;
	w = pwrite(x->opts.backing_fd, page_addr(x, e->page), e->len * PAGE,
		   x->opts.backing_offset + e->page * PAGE);
	if (w != (ssize_t)(e->len * PAGE))
		return w < 0 ? -errno : -EIO;
	x->memfd->st.base.write_pages += e->len;
	return e->len;
}

/* ALIAS or MOVE of one entry: checked whole first, then page by page. */
static int do_rewire(struct exmap *x, const struct exmap_rewire *e,
		     int move)
{
	struct exmap_memfd *m = x->memfd;
	uint32_t f;
	int done;

	if (count_mapped(m, e->src, e->len, 0) != e->len)
		return -ENOENT;
	if (count_mapped(m, e->dst, e->len, 0))
		return -EEXIST;
	for (done = 0; done < e->len; done++) {
		uint64_t s = (uint64_t)e->src + done, d = (uint64_t)e->dst + done;

		f = m->frame_of[s] - 1;
		if (move) {
			void *r = mremap(page_addr(x, s), PAGE, PAGE,
					 MREMAP_MAYMOVE | MREMAP_FIXED,
					 page_addr(x, d));

			if (r == MAP_FAILED || unmap_pages(x, s, 1))
				return -errno;
			m->frame_of[d] = f + 1;
			m->frame_of[s] = 0;
			m->st.base.tlb_flushes++;
			continue;
		}
		if (map_frame(x, d, f))
			return -ENOMEM;
		m->frame_of[d] = f + 1;
		if (++m->refs[f] == 2)
			m->st.aliased_frames++;
	}
	if (move)
		m->st.move_pages += done;
	else
		m->st.alias_pages += done;
	return done;
}

static int check_rewire(struct exmap *x, struct exmap_if *i)
{
	struct exmap_rewire *rw = (struct exmap_rewire *)i->vec;

	for (unsigned int k = 0; k < i->nr_rewire; k++) {
		uint64_t s = rw[k].src, d = rw[k].dst, n = rw[k].len;

		if (!n || n > EXMAP_ENTRY_MAX_PAGES || rw[k].resv ||
		    s + n > x->opts.area_pages || d + n > x->opts.area_pages ||
		    (s < d + n && d < s + n)) {
			rw[k].res = -EINVAL;
			return -EINVAL;
		}
	}
	return 0;
}

static int memfd_action(struct exmap_if *i, unsigned int opcode)
{
	struct exmap *x = i->x;
	struct exmap_memfd *m = x->memfd;
	int rewire = opcode == EXMAP_OP_ALIAS || opcode == EXMAP_OP_MOVE;
	int failed = 0, res, ret;

	if (opcode >= EXMAP_OP_MAX)
		return -EINVAL;
	ret = rewire ? check_rewire(x, i) : exmap_vec_check(i);
	if (ret)
		return ret;
	if ((opcode == EXMAP_OP_READ || opcode == EXMAP_OP_WRITE) &&
	    x->opts.backing_fd < 0)
		return -EBADF;

	pthread_mutex_lock(&m->lock);
	for (unsigned int k = 0; k < exmap_if_nr(i, opcode); k++) {
		struct exmap_rewire *rw = &((struct exmap_rewire *)i->vec)[k];
		struct exmap_iov *e = &i->vec[k];

		switch (opcode) {
		case EXMAP_OP_ALLOC:
			res = do_alloc(x, e);
			break;
		case EXMAP_OP_FREE:
			res = do_free(x, e);
			break;
		case EXMAP_OP_READ:
			res = do_read(x, e);
			break;
		case EXMAP_OP_WRITE:
			res = do_write(x, e);
			break;
		case EXMAP_OP_QUERY:
			res = count_mapped(m, e->page, e->len, i->flags != 0);
			break;
		default:
			rw->res = (int16_t)do_rewire(x, rw,
						     opcode == EXMAP_OP_MOVE);
			failed += rw->res < 0;
			continue;
		}
		e->res = (int16_t)res;
		failed += res < 0;
	}
	if (opcode == EXMAP_OP_READ)
		m->st.base.read_calls++;
	if (opcode == EXMAP_OP_WRITE)
		m->st.base.write_calls++;
	if (opcode == EXMAP_OP_QUERY)
		m->st.query_calls++;
	pthread_mutex_unlock(&m->lock);
	return failed;
}

static int memfd_stats(struct exmap *x, struct exmap_stats2 *st)
{
	struct exmap_memfd *m = x->memfd;

	pthread_mutex_lock(&m->lock);
	*st = m->st;
	st->base.pool_size = x->opts.pool_pages;
	st->base.frames_taken = m->fresh;
	st->base.frames_free = m->fresh - st->base.frames_in_use;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static void memfd_destroy(struct exmap *x)
{
	struct exmap_memfd *m = x->memfd;

	if (x->area)
		munmap(x->area, x->opts.area_pages * PAGE);
	for (unsigned int k = 0; k < x->opts.nr_interfaces; k++)
		free(x->ifs[k].fallback_vec);
	if (!m)
		return;
	if (m->frame_of)
		munmap(m->frame_of, x->opts.area_pages * sizeof(uint32_t));
	free(m->refs);
	free(m->free);
	if (m->fd >= 0)
		close(m->fd);
	pthread_mutex_destroy(&m->lock);
	free(m);
	x->memfd = NULL;
}

static int memfd_create_backend(struct exmap *x)
{
	struct exmap_memfd *m = calloc(1, sizeof(*m));
	void *p;

	if (!m)
		return -ENOMEM;
	x->memfd = m;
	pthread_mutex_init(&m->lock, NULL);
	m->fd = memfd_create("exmap-frames", MFD_CLOEXEC);
	if (m->fd < 0 || ftruncate(m->fd, (off_t)x->opts.pool_pages * PAGE))
		goto fail;
	/* Touched only where pages are mapped: sparse. */
	p = mmap(NULL, x->opts.area_pages * sizeof(uint32_t),
		 PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		goto fail;
	m->frame_of = p;
	m->refs = calloc(x->opts.pool_pages, sizeof(*m->refs));
	m->free = calloc(x->opts.pool_pages, sizeof(*m->free));
	if (!m->refs || !m->free)
		goto fail;
	p = mmap(NULL, x->opts.area_pages * PAGE, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		goto fail;
	x->area = p;
	for (unsigned int k = 0; k < x->opts.nr_interfaces; k++) {
		x->ifs[k].fallback_vec = calloc(EXMAP_VEC_MAX,
						sizeof(struct exmap_iov));
		if (!x->ifs[k].fallback_vec)
			goto fail;
		x->ifs[k].vec = x->ifs[k].fallback_vec;
	}
	return 0;
fail:
	memfd_destroy(x);
	return -ENOMEM;
}

const struct exmap_ops exmap_memfd_ops = {
	.create = memfd_create_backend,
	.destroy = memfd_destroy,
	.action = memfd_action,
	.stats = memfd_stats,
};
