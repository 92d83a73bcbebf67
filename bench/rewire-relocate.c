// SPDX-License-Identifier: GPL-2.0
/*
 * relocate: move K pages scattered over a large area to K new addresses
 * (a compaction, or a page that changes its id), and back, K = 1 to 512.
 *
 *   exmap-move   one MOVE call of K one-page entries (one shootdown;
 *                two calls for 512: a vector holds 256 such entries)
 *   exmap-copy   without rewiring: ALLOC the K destinations in one call,
 *                memcpy each page, FREE the K sources in one call
 *   mremap       anonymous memory, one mremap(MREMAP_FIXED) per page
 *
 * Pages/s; every moved page is checked at its new address.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "bench-util.h"
#include "rewire.h"

#define AREA	(1UL << 20)	/* pages: 4 GiB of address space */
#define SPREAD	1024		/* pages between two sources */

/* Source k of set @s (0 or 1): scattered; the two sets do not meet. */
static uint32_t page_of(unsigned int s, unsigned int k)
{
	return (uint32_t)(s * (AREA / 2) + k * SPREAD + (k * 7) % SPREAD);
}

static void check(const char *base, unsigned int s, unsigned int k,
		  unsigned int tag)
{
	if (*(const volatile unsigned int *)(base + page_of(s, k) * PAGE) !=
	    tag + k)
		die("relocate: a page lost its data");
}

static void relocate_exmap(const struct rw_opts *o, unsigned int nr,
			   bool copy)
{
	struct rw_exmap x;
	double t0, secs;
	unsigned long moved = 0;
	unsigned int s = 0;

	if (rw_exmap_open(&x, AREA, 2 * nr))
		return;
	for (unsigned int k = 0; k < nr; k++)
		x.vec[k] = (struct exmap_iov){ .page = page_of(0, k), .len = 1 };
	rw_exmap_action(&x, EXMAP_OP_ALLOC, nr);
	for (unsigned int k = 0; k < nr; k++)
		*(unsigned int *)(x.area + page_of(0, k) * PAGE) = 1000 + k;

	t0 = now();
	do {
		for (unsigned int k = 0; copy && k < nr; k++)
			x.vec[k] = (struct exmap_iov){
				.page = page_of(!s, k), .len = 1 };
		/* A vector holds 256 rewiring entries: 512 take two calls. */
		for (unsigned int k0 = 0; !copy && k0 < nr;
		     k0 += EXMAP_REWIRE_VEC_MAX) {
			unsigned int n = nr - k0 < EXMAP_REWIRE_VEC_MAX ?
					 nr - k0 : EXMAP_REWIRE_VEC_MAX;

			for (unsigned int k = 0; k < n; k++)
				x.rw[k] = (struct exmap_rewire){
					.src = page_of(s, k0 + k),
					.dst = page_of(!s, k0 + k), .len = 1 };
			rw_exmap_action(&x, EXMAP_OP_MOVE, n);
		}
		if (copy) {
			rw_exmap_action(&x, EXMAP_OP_ALLOC, nr);
			for (unsigned int k = 0; k < nr; k++)
				memcpy(x.area + page_of(!s, k) * PAGE,
				       x.area + page_of(s, k) * PAGE, PAGE);
			for (unsigned int k = 0; k < nr; k++)
				x.vec[k] = (struct exmap_iov){
					.page = page_of(s, k), .len = 1 };
			rw_exmap_action(&x, EXMAP_OP_FREE, nr);
		}
		s = !s;
		moved += nr;
		for (unsigned int k = 0; k < nr; k += 61)
			check(x.area, s, k, 1000);
		secs = now() - t0;
	} while (secs < o->seconds);
	rw_exmap_close(&x);
	rw_report(o, "relocate", NULL, copy ? "exmap-copy" : "exmap-move", nr,
		  moved, secs, NULL, 0);
}

static void relocate_mremap(const struct rw_opts *o, unsigned int nr)
{
	char *base;
	double t0, secs;
	unsigned long moved = 0;
	unsigned int s = 0;

	base = mmap(NULL, AREA * PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		die("mmap");
	for (unsigned int k = 0; k < nr; k++)
		*(unsigned int *)(base + page_of(0, k) * PAGE) = 1000 + k;

	t0 = now();
	do {
		for (unsigned int k = 0; k < nr; k++) {
			if (mremap(base + page_of(s, k) * PAGE, PAGE, PAGE,
				   MREMAP_MAYMOVE | MREMAP_FIXED,
				   base + page_of(!s, k) * PAGE) == MAP_FAILED)
				die("mremap");
		}
		s = !s;
		moved += nr;
		for (unsigned int k = 0; k < nr; k += 61)
			check(base, s, k, 1000);
		secs = now() - t0;
	} while (secs < o->seconds);
	munmap(base, AREA * PAGE);
	rw_report(o, "relocate", NULL, "mremap", nr, moved, secs, NULL, 0);
}

void rw_relocate(const struct rw_opts *o)
{
	static const unsigned int sizes[] = { 1, 8, 64, 512 };

	for (unsigned int i = 0; i < 4; i++) {
		if (o->quick && sizes[i] > 64)
			break;
		relocate_exmap(o, sizes[i], false);
		relocate_exmap(o, sizes[i], true);
		relocate_mremap(o, sizes[i]);
	}
}
