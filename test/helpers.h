/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the test programs: thin wrappers over the raw ioctls
 * (the tests check the kernel interface itself, not a library over it),
 * and a probe for SIGSEGV on a single access.
 */
#ifndef EXMAP_TEST_HELPERS_H
#define EXMAP_TEST_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include <linux/exmap.h>

#define T_EXIT_PASS	0
#define T_EXIT_FAIL	1
#define T_EXIT_SKIP	77

#define T_PAGE		((size_t)EXMAP_PAGE_SIZE)

/* True if /dev/exmap can be opened; says why not when it cannot. */
int t_have_device(void);
/* Opens /dev/exmap; returns the fd, or -errno. */
int t_open(void);
/* SETUP with no backing store; returns 0 or -errno. */
int t_setup(int fd, uint64_t pool_size, uint32_t nr_interfaces);
/* Maps an area of @pages pages; returns NULL and sets errno on failure. */
void *t_map_area(int fd, size_t pages);
/* Maps interface @idx; returns NULL and sets errno on failure. */
struct exmap_iov *t_map_interface(int fd, unsigned int idx);
/* ACTION; returns the ioctl's result, or -errno. */
int t_action(int fd, unsigned int interface, unsigned int opcode,
	     unsigned int nr);
/* STATS; returns 0 or -errno. */
int t_stats(int fd, struct exmap_stats *st);
/* Fills vec[0..nr-1] with entries (first + i * stride, len). */
void t_fill_vec(struct exmap_iov *vec, unsigned int nr, uint32_t first,
		uint32_t stride, uint16_t len);
/* True if reading *addr raises SIGSEGV (the signal is caught). */
int t_read_faults(const volatile void *addr);
/* True if writing *addr raises SIGSEGV (the signal is caught). */
int t_write_faults(volatile void *addr);
/* A numeric module parameter of exmap, or -1. */
long t_param_read(const char *name);
/* Frames all exmap contexts hold (module parameter "frames"), or -1. */
long t_frames_held(void);
long t_frames_settle(long base);
/* A line of /proc/meminfo in KiB ("MemTotal", "MemAvailable"...), or -1. */
long t_meminfo_kb(const char *field);
/* Free memory of the machine in KiB (MemFree of /proc/meminfo). */
long t_mem_free_kb(void);

#endif
