// SPDX-License-Identifier: GPL-2.0
/*
 * Description: data written with WRITE and made durable with fdatasync
 * survives a power-off. Run twice on the same disk, in two guest boots:
 *   exmap-io-persist write DEV   ALLOC, fill, WRITE, fdatasync
 *   exmap-io-persist check DEV   READ and compare
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "helpers.h"

#define PAGES	64
#define FIRST	1000

static uint64_t word(uint32_t page, unsigned int i)
{
	return 0xfeedface00000000ULL ^ ((uint64_t)page << 12) ^ i;
}

int main(int argc, char **argv)
{
	struct exmap_setup s = { .pool_size = PAGES, .nr_interfaces = 1 };
	int writing, fd, store, bad = 0;
	struct exmap_iov *vec;
	char *area;

	if (argc != 3 || (strcmp(argv[1], "write") && strcmp(argv[1], "check"))) {
		fprintf(stderr, "usage: %s write|check DEV\n", argv[0]);
		return 2;
	}
	writing = !strcmp(argv[1], "write");
	store = open(argv[2], O_RDWR | O_DIRECT);
	fd = t_open();
	if (store < 0 || fd < 0) {
		perror("open");
		return T_EXIT_FAIL;
	}
	s.backing_fd = store;
	if (ioctl(fd, EXMAP_IOC_SETUP, &s)) {
		perror("SETUP");
		return T_EXIT_FAIL;
	}
	area = t_map_area(fd, FIRST + PAGES);
	vec = t_map_interface(fd, 0);
	if (!area || !vec)
		return T_EXIT_FAIL;
	t_fill_vec(vec, 1, FIRST, 0, PAGES);

	if (writing) {
		if (t_action(fd, 0, EXMAP_OP_ALLOC, 1))
			return T_EXIT_FAIL;
		for (uint32_t p = 0; p < PAGES; p++) {
			uint64_t *q = (uint64_t *)(area + (FIRST + p) * T_PAGE);

			for (unsigned int i = 0; i < T_PAGE / 8; i++)
				q[i] = word(FIRST + p, i);
		}
		if (t_action(fd, 0, EXMAP_OP_WRITE, 1) || vec[0].res != PAGES ||
		    fdatasync(store)) {
			fprintf(stderr, "WRITE: res %d\n", vec[0].res);
			return T_EXIT_FAIL;
		}
		printf("io-persist: wrote %d pages, fdatasync done\n", PAGES);
		return T_EXIT_PASS;
	}

	if (t_action(fd, 0, EXMAP_OP_READ, 1) || vec[0].res != PAGES) {
		fprintf(stderr, "READ: res %d\n", vec[0].res);
		return T_EXIT_FAIL;
	}
	for (uint32_t p = 0; p < PAGES; p++) {
		uint64_t *q = (uint64_t *)(area + (FIRST + p) * T_PAGE);

		for (unsigned int i = 0; i < T_PAGE / 8; i++)
			bad += q[i] != word(FIRST + p, i);
	}
	printf("io-persist: %d pages read back, %d words differ\n", PAGES, bad);
	return bad ? T_EXIT_FAIL : T_EXIT_PASS;
}
