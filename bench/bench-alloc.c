// SPDX-License-Identifier: GPL-2.0
/*
 * bench-alloc: pages/s of allocate + touch + free in batches of 1 to 512
 * pages, exmap with one interface per thread ("exmap (1IF)" in the paper)
 * beside the Linux ways of doing the same: madvise(MADV_DONTNEED), munmap
 * and userfaultfd. See alloc-main.c for what is measured, alloc-exmap.c and
 * alloc-linux.c for the modes; -h lists the options.
 */
#define _GNU_SOURCE
#include "alloc.h"

int main(int argc, char **argv)
{
	static const char *const modes[] = {
		"exmap-1IF", "exmap-1IF-zero", "madvise", "munmap",
		"uffd-zero", "uffd-copy", NULL,
	};

	return alloc_main(argc, argv, "alloc", modes, "madvise");
}
