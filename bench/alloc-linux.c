// SPDX-License-Identifier: GPL-2.0
/*
 * The Linux baselines of the allocate-touch-free benchmarks, each on
 * private anonymous memory of its own thread:
 *
 *   madvise    touch @batch pages (one page fault each), then one
 *              madvise(MADV_DONTNEED) over them: what a buffer manager
 *              without exmap does.
 *   munmap     mmap @batch pages, touch them, munmap them.
 *   uffd-zero  userfaultfd, the kernel's own explicit-paging interface:
 *              UFFDIO_ZEROPAGE maps the shared zero page over the batch in
 *              one call, the touch then copies it (a write fault each),
 *              MADV_DONTNEED drops them.
 *   uffd-copy  the same with UFFDIO_COPY, which allocates and fills fresh
 *              pages in one call: the touch then faults no more.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

static void *map_anon(struct alloc_worker *w, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		alloc_fail(w, "mmap anonymous", errno);
		return NULL;
	}
	return p;
}

static void thread_madvise(struct alloc_worker *w)
{
	size_t len = w->run->batch * PAGE;
	char *mem = map_anon(w, len);

	alloc_start(w);
	while (mem && !w->err && !alloc_stopped(w)) {
		alloc_touch(mem, w->run->batch);
		if (madvise(mem, len, MADV_DONTNEED)) {
			alloc_fail(w, "madvise", errno);
			break;
		}
		w->pages += w->run->batch;
	}
	if (mem)
		munmap(mem, len);
}

static void thread_munmap(struct alloc_worker *w)
{
	size_t len = w->run->batch * PAGE;

	alloc_start(w);
	while (!w->err && !alloc_stopped(w)) {
		char *mem = map_anon(w, len);

		if (!mem)
			break;
		alloc_touch(mem, w->run->batch);
		if (munmap(mem, len)) {
			alloc_fail(w, "munmap", errno);
			break;
		}
		w->pages += w->run->batch;
	}
}

/*
 * A userfaultfd with @mem registered for missing pages. User-mode-only
 * first: it is what an unprivileged user may open while
 * vm.unprivileged_userfaultfd is 0, and it is all this benchmark needs.
 */
static int uffd_open(struct alloc_worker *w, char *mem, size_t len)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)mem, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int fd;

	fd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (fd < 0 && errno == EINVAL)
		fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd < 0) {
		alloc_fail(w, "userfaultfd", errno);
		return -1;
	}
	if (ioctl(fd, UFFDIO_API, &api) || ioctl(fd, UFFDIO_REGISTER, &reg)) {
		alloc_fail(w, "UFFDIO_API/REGISTER", errno);
		close(fd);
		return -1;
	}
	return fd;
}

/* Populates [mem, mem + len) in one call, or more if the kernel asks. */
static bool uffd_fill(struct alloc_worker *w, int fd, char *mem, size_t len,
		      const char *src)
{
	size_t done = 0;

	while (done < len) {
		long long n;
		int ret;

		if (src) {
			struct uffdio_copy c = {
				.dst = (unsigned long)(mem + done),
				.src = (unsigned long)(src + done),
				.len = len - done,
			};

			ret = ioctl(fd, UFFDIO_COPY, &c);
			n = c.copy;
		} else {
			struct uffdio_zeropage z = {
				.range = { .start = (unsigned long)(mem + done),
					   .len = len - done },
			};

			ret = ioctl(fd, UFFDIO_ZEROPAGE, &z);
			n = z.zeropage;
		}
		/* EAGAIN: the mm changed under it; n says what was done. */
		if (ret && errno != EAGAIN) {
			alloc_fail(w, src ? "UFFDIO_COPY" : "UFFDIO_ZEROPAGE",
				   errno);
			return false;
		}
		if (n > 0)
			done += n;
	}
	return true;
}

static void uffd_loop(struct alloc_worker *w, bool copy)
{
	size_t len = w->run->batch * PAGE;
	char *mem = map_anon(w, len), *src = NULL;
	int fd = -1;

	if (mem)
		fd = uffd_open(w, mem, len);
	if (fd >= 0 && copy) {
		src = map_anon(w, len);
		if (src)
			memset(src, 1, len);	/* present before the start */
	}
	alloc_start(w);
	while (fd >= 0 && (src || !copy) && !w->err && !alloc_stopped(w)) {
		if (!uffd_fill(w, fd, mem, len, src))
			break;
		alloc_touch(mem, w->run->batch);
		if (madvise(mem, len, MADV_DONTNEED)) {
			alloc_fail(w, "madvise", errno);
			break;
		}
		w->pages += w->run->batch;
	}
	if (src)
		munmap(src, len);
	if (fd >= 0)
		close(fd);
	if (mem)
		munmap(mem, len);
}

static void thread_uffd_zero(struct alloc_worker *w)
{
	uffd_loop(w, false);
}

static void thread_uffd_copy(struct alloc_worker *w)
{
	uffd_loop(w, true);
}

const struct alloc_mode alloc_madvise = {
	.name = "madvise", .thread = thread_madvise,
};

const struct alloc_mode alloc_munmap = {
	.name = "munmap", .thread = thread_munmap,
};

const struct alloc_mode alloc_uffd_zero = {
	.name = "uffd-zero", .thread = thread_uffd_zero,
};

const struct alloc_mode alloc_uffd_copy = {
	.name = "uffd-copy", .thread = thread_uffd_copy,
};
