// SPDX-License-Identifier: GPL-2.0
/*
 * bench-steal: allocate + touch + free where frames change interface:
 * "exmap-2IF" (each thread ALLOCs on one interface and FREEs on another,
 * so every ALLOC steals) and "exmap-pool" (allocating and freeing threads
 * in pairs, batches handed over through a ring), beside "exmap-1IF", where
 * frames never move. Same driver and options as bench-alloc.
 */
#define _GNU_SOURCE
#include "alloc.h"

int main(int argc, char **argv)
{
	static const char *const modes[] = {
		"exmap-1IF", "exmap-2IF", "exmap-pool", NULL,
	};

	return alloc_main(argc, argv, "steal", modes, "exmap-1IF");
}
