// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "helpers.h"

int t_open(void)
{
	int fd = open("/dev/exmap", O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int t_have_device(void)
{
	int fd = t_open();

	if (fd < 0) {
		printf("no /dev/exmap (%s): skipped\n", strerror(-fd));
		return 0;
	}
	close(fd);
	return 1;
}

int t_setup(int fd, uint64_t pool_size, uint32_t nr_interfaces)
{
	struct exmap_setup s = {
		.pool_size = pool_size,
		.nr_interfaces = nr_interfaces,
		.backing_fd = -1,
	};

	return ioctl(fd, EXMAP_IOC_SETUP, &s) ? -errno : 0;
}

void *t_map_area(int fd, size_t pages)
{
	void *p = mmap(NULL, pages * T_PAGE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, EXMAP_OFF_AREA);

	return p == MAP_FAILED ? NULL : p;
}

struct exmap_iov *t_map_interface(int fd, unsigned int idx)
{
	void *p = mmap(NULL, EXMAP_INTERFACE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, EXMAP_OFF_INTERFACE(idx));

	return p == MAP_FAILED ? NULL : p;
}

int t_action(int fd, unsigned int interface, unsigned int opcode,
	     unsigned int nr)
{
	struct exmap_action a = {
		.interface = interface,
		.nr = nr,
		.opcode = opcode,
	};
	int ret = ioctl(fd, EXMAP_IOC_ACTION, &a);

	return ret < 0 ? -errno : ret;
}

int t_stats(int fd, struct exmap_stats *st)
{
	return ioctl(fd, EXMAP_IOC_STATS, st) ? -errno : 0;
}

void t_fill_vec(struct exmap_iov *vec, unsigned int nr, uint32_t first,
		uint32_t stride, uint16_t len)
{
	for (unsigned int i = 0; i < nr; i++) {
		vec[i].page = first + i * stride;
		vec[i].len = len;
		vec[i].res = 0;
	}
}

static sigjmp_buf t_fault_jmp;

static void t_fault_handler(int sig)
{
	(void)sig;
	siglongjmp(t_fault_jmp, 1);
}

static int t_probe(const volatile void *raddr, volatile void *waddr)
{
	struct sigaction sa = { .sa_handler = t_fault_handler }, old;
	volatile int faulted = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(t_fault_jmp, 1) == 0) {
		if (raddr)
			(void)*(const volatile char *)raddr;
		else
			*(volatile char *)waddr = 1;
	} else {
		faulted = 1;
	}
	sigaction(SIGSEGV, &old, NULL);
	return faulted;
}

int t_read_faults(const volatile void *addr)
{
	return t_probe(addr, NULL);
}

int t_write_faults(volatile void *addr)
{
	return t_probe(NULL, addr);
}

long t_param_read(const char *name)
{
	char path[128];
	FILE *f;
	long n = -1;

	snprintf(path, sizeof(path), "/sys/module/exmap/parameters/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

long t_frames_held(void)
{
	return t_param_read("frames");
}

/*
 * Contexts whose last reference an exiting io_uring drops are released by
 * a kernel worker after the process is reaped: wait up to 10 s for the
 * frames to come back to @base. Returns the count last seen.
 */
long t_frames_settle(long base)
{
	long n = t_frames_held();

	for (int i = 0; i < 200 && n != base; i++) {
		usleep(50 * 1000);
		n = t_frames_held();
	}
	return n;
}

long t_meminfo_kb(const char *field)
{
	FILE *f = fopen("/proc/meminfo", "r");
	size_t n = strlen(field);
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, n) && line[n] == ':' &&
		    sscanf(line + n + 1, "%ld", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

long t_mem_free_kb(void)
{
	return t_meminfo_kb("MemFree");
}
