// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the smoke test to run first. Creates a context, sets it up,
 * maps an interface, allocates pages, writes and reads them back, frees
 * them, checks that a freed page faults and that the counters add up.
 * Prints each step; exits 0 only if every step holds (77 without module).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "helpers.h"

#define POOL_FRAMES	1024
#define AREA_PAGES	4096
#define NR_ENTRIES	16
#define ENTRY_PAGES	4
#define STRIDE		100

static int failures;

static void step(int ok, const char *what)
{
	printf("%-58s %s\n", what, ok ? "ok" : "FAILED");
	if (!ok)
		failures++;
}

static int entries_res(const struct exmap_iov *vec, int want)
{
	for (int i = 0; i < NR_ENTRIES; i++) {
		if (vec[i].res != want) {
			printf("  entry %d: res %d, expected %d\n", i,
			       vec[i].res, want);
			return 0;
		}
	}
	return 1;
}

static char *page_at(char *area, int entry, int page)
{
	return area + ((size_t)entry * STRIDE + page) * T_PAGE;
}

static int check_pattern(char *area)
{
	for (int e = 0; e < NR_ENTRIES; e++) {
		for (int p = 0; p < ENTRY_PAGES; p++) {
			char *pg = page_at(area, e, p);

			for (size_t b = 0; b < T_PAGE; b += 512) {
				if (pg[b] != (char)(e * 7 + p + b / 512))
					return 0;
			}
		}
	}
	return 1;
}

int main(void)
{
	const int total = NR_ENTRIES * ENTRY_PAGES;
	struct exmap_stats st;
	struct exmap_iov *vec;
	char *area;
	long held = t_frames_held();
	int fd, ret;

	fd = t_open();
	if (fd < 0) {
		printf("open /dev/exmap: %s: skipped\n", strerror(-fd));
		return T_EXIT_SKIP;
	}
	step(held >= 0, "open /dev/exmap, read the frames all contexts hold");

	ret = t_setup(fd, POOL_FRAMES, 2);
	step(ret == 0, "SETUP: pool of 1024 frames, 2 interfaces");
	if (ret)
		return T_EXIT_FAIL;

	area = t_map_area(fd, AREA_PAGES);
	step(area != NULL, "map an area of 4096 pages");
	vec = t_map_interface(fd, 0);
	step(vec != NULL, "map interface 0");
	if (!area || !vec)
		return T_EXIT_FAIL;

	step(t_read_faults(area), "an untouched area page raises SIGSEGV");

	t_fill_vec(vec, NR_ENTRIES, 0, STRIDE, ENTRY_PAGES);
	ret = t_action(fd, 0, EXMAP_OP_ALLOC, NR_ENTRIES);
	step(ret == 0 && entries_res(vec, ENTRY_PAGES),
	     "ALLOC 16 entries of 4 pages: every entry got 4 pages");

	for (int e = 0; e < NR_ENTRIES; e++)
		for (int p = 0; p < ENTRY_PAGES; p++) {
			char *pg = page_at(area, e, p);

			for (size_t b = 0; b < T_PAGE; b += 512)
				pg[b] = (char)(e * 7 + p + b / 512);
		}
	step(check_pattern(area), "write every page and read it back");

	ret = t_stats(fd, &st);
	step(ret == 0 && st.frames_in_use == (uint64_t)total &&
	     st.alloc_pages == (uint64_t)total,
	     "STATS: 64 frames in use, 64 pages allocated");

	ret = t_action(fd, 0, EXMAP_OP_ALLOC, NR_ENTRIES);
	step(ret == 0 && entries_res(vec, 0) && check_pattern(area),
	     "ALLOC again: nothing new mapped, data unchanged");
	t_stats(fd, &st);
	step(st.frames_in_use == (uint64_t)total,
	     "STATS: still 64 frames in use");

	ret = t_action(fd, 0, EXMAP_OP_FREE, NR_ENTRIES);
	step(ret == 0 && entries_res(vec, ENTRY_PAGES),
	     "FREE: every entry gave back 4 pages");

	step(t_read_faults(page_at(area, 0, 0)) &&
	     t_write_faults(page_at(area, NR_ENTRIES - 1, ENTRY_PAGES - 1)),
	     "a freed page raises SIGSEGV on read and on write");

	ret = t_stats(fd, &st);
	step(ret == 0 && st.frames_in_use == 0 &&
	     st.free_pages == (uint64_t)total && st.tlb_flushes == 1 &&
	     st.frames_taken == (uint64_t)total &&
	     st.frames_free == st.frames_taken && st.pool_size == POOL_FRAMES,
	     "STATS: 0 in use, 64 freed, one TLB flush, 64 frames free");
	printf("  pool %llu taken %llu in-use %llu free %llu allocs %llu "
	       "frees %llu flushes %llu steals %llu\n",
	       (unsigned long long)st.pool_size,
	       (unsigned long long)st.frames_taken,
	       (unsigned long long)st.frames_in_use,
	       (unsigned long long)st.frames_free,
	       (unsigned long long)st.alloc_pages,
	       (unsigned long long)st.free_pages,
	       (unsigned long long)st.tlb_flushes,
	       (unsigned long long)st.steals);

	ret = t_action(fd, 0, EXMAP_OP_ALLOC, NR_ENTRIES);
	t_stats(fd, &st);
	step(ret == 0 && st.frames_taken == (uint64_t)total,
	     "ALLOC after FREE reuses the pool's frames");

	step(t_frames_held() == held + total,
	     "the module holds 64 more frames than before the test");
	ret = munmap(vec, EXMAP_INTERFACE_SIZE) | munmap(area,
							  AREA_PAGES * T_PAGE);
	ret |= close(fd);
	step(ret == 0 && t_frames_held() == held,
	     "unmap and close: every frame goes back");

	printf("test-exmap: %s\n", failures ? "FAILED" : "all steps passed");
	return failures ? T_EXIT_FAIL : T_EXIT_PASS;
}
