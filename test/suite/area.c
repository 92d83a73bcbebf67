// SPDX-License-Identifier: GPL-2.0
/*
 * Description: where the area is placed. An area of 2 MiB or more whose
 * address the kernel chooses starts at a 2 MiB boundary, so that each
 * aligned run of 512 pages has a page table of its own; an address given
 * with MAP_FIXED, or a hint the kernel can honour, is kept as it is.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "../helpers.h"

#define TWO_MIB		(2UL << 20)

/* A context set up with one interface; the caller maps the area. */
static int t_context(void)
{
	int fd = t_open();

	assert_true(fd >= 0);
	assert_int_equal(t_setup(fd, 16, 1), 0);
	return fd;
}

static void test_large_area_aligned(void **state)
{
	/* Sizes that are and are not multiples of 2 MiB. */
	static const size_t pages[] = { 512, 1024, 513, 4096 + 3 };

	(void)state;
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		int fd = t_context();
		char *area = t_map_area(fd, pages[i]);

		assert_non_null(area);
		assert_int_equal((uintptr_t)area % TWO_MIB, 0);
		/* The area works where it landed. */
		struct exmap_iov *vec = t_map_interface(fd, 0);

		assert_non_null(vec);
		t_fill_vec(vec, 1, pages[i] - 1, 0, 1);
		assert_int_equal(t_action(fd, 0, EXMAP_OP_ALLOC, 1), 0);
		assert_int_equal(vec[0].res, 1);
		area[(pages[i] - 1) * T_PAGE] = 7;
		munmap(vec, T_PAGE);
		munmap(area, pages[i] * T_PAGE);
		close(fd);
	}
}

static void test_fixed_address_kept(void **state)
{
	int fd = t_context();
	char *hole, *area;

	(void)state;
	/* Find room, then map the area one page past a 2 MiB boundary. */
	hole = mmap(NULL, 3 * TWO_MIB, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(hole != MAP_FAILED);
	hole = (char *)(((uintptr_t)hole + TWO_MIB - 1) & ~(TWO_MIB - 1)) +
	       T_PAGE;
	area = mmap(hole, TWO_MIB, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED, fd, EXMAP_OFF_AREA);
	assert_true(area == hole);
	munmap(area, TWO_MIB);
	close(fd);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_large_area_aligned),
		cmocka_unit_test(test_fixed_address_kept),
	};

	(void)argv;
	if (argc > 1)
		return T_EXIT_SKIP;
	if (!t_have_device())
		return T_EXIT_SKIP;
	return cmocka_run_group_tests_name("area", tests, NULL, NULL);
}
