// SPDX-License-Identifier: GPL-2.0
/*
 * alltoone: N pages of address space onto one frame, each touched once
 * (the rewiring paper's first experiment). Timed from nothing to the last
 * touch: setup, the N mappings, N first touches, teardown.
 *
 *   exmap  one ALLOC, then ALIAS in calls of 256 one-page entries; the
 *          touches take no fault (the PTEs are set)
 *   memfd  a one-page memfd mmap()ed at each page with MAP_FIXED |
 *          MAP_SHARED: a system call and a VMA per page (neighbours do
 *          not merge: they map the same offset), a page fault per first
 *          touch, and vm.max_map_count (65,530 by default) as the limit
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench-util.h"
#include "rewire.h"

static unsigned long touch_all(const char *base, size_t first, size_t n)
{
	unsigned long sum = 0;

	for (size_t k = first; k < first + n; k++)
		sum += ((const volatile char *)base)[k * PAGE + (k % 64) * 8];
	return sum;
}

static void alltoone_exmap(const struct rw_opts *o, size_t n)
{
	struct rw_exmap x;
	double t0, t1;
	size_t k;

	t0 = now();
	if (rw_exmap_open(&x, n + 1, 1))
		return;
	x.vec[0] = (struct exmap_iov){ .page = 0, .len = 1 };
	rw_exmap_action(&x, EXMAP_OP_ALLOC, 1);
	memset(x.area, 1, PAGE);
	for (k = 1; k <= n;) {
		unsigned int nr = 0;

		for (; nr < EXMAP_REWIRE_VEC_MAX && k <= n; nr++, k++)
			x.rw[nr] = (struct exmap_rewire){
				.src = 0, .dst = k, .len = 1 };
		rw_exmap_action(&x, EXMAP_OP_ALIAS, nr);
	}
	if (touch_all(x.area, 1, n) != n)
		die("alltoone: an alias does not show the frame");
	rw_exmap_close(&x);
	t1 = now();
	rw_report(o, "alltoone", NULL, "exmap", n, n, t1 - t0, NULL, 0);
}

static void alltoone_memfd(const struct rw_opts *o, size_t n)
{
	size_t k, mapped = 0;
	char *base;
	double t0, t1;
	int fd;

	t0 = now();
	fd = memfd_create("alltoone", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, PAGE))
		die("memfd");
	if (pwrite(fd, (char[1]){ 1 }, 1, 0) != 1)
		die("memfd write");
	for (k = 1; k < 64; k++)
		if (pwrite(fd, (char[1]){ 1 }, 1, k * 8) != 1)
			die("memfd write");
	base = mmap(NULL, (n + 1) * PAGE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		die("mmap reserve");
	for (k = 1; k <= n; k++) {
		if (mmap(base + k * PAGE, PAGE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
			break;
		mapped++;
	}
	if (touch_all(base, 1, mapped) != mapped)
		die("alltoone: a mapping does not show the page");
	munmap(base, (n + 1) * PAGE);
	close(fd);
	t1 = now();
	/* Past the map count limit: how far it got. */
	rw_report(o, "alltoone", NULL, "memfd", n, mapped, t1 - t0,
		  mapped < n ? "failed_at" : NULL, (double)mapped + 1);
	if (mapped < n)
		printf("  memfd: mmap failed after %zu mappings (%s)\n",
		       mapped, strerror(ENOMEM));
}

void rw_alltoone(const struct rw_opts *o)
{
	static const size_t full[] = { 1000, 10000, 60000, 100000, 1000000 };
	static const size_t quick[] = { 1000, 10000 };
	const size_t *ns = o->quick ? quick : full;
	size_t count = o->quick ? 2 : 5;

	for (size_t i = 0; i < count; i++) {
		alltoone_exmap(o, ns[i]);
		alltoone_memfd(o, ns[i]);
	}
}
