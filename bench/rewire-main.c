// SPDX-License-Identifier: GPL-2.0
/*
 * bench-rewire: exmap's rewiring (ALIAS, MOVE) against the classic way of
 * rewiring and against copying. Suites:
 *
 *   alltoone   map N pages onto one frame and touch each: ALIAS against a
 *              memfd mmap()ed once per page (which stops at
 *              vm.max_map_count)
 *   deque      a double-ended queue whose storage grows at both ends by
 *              rewiring pages: on exmap, on libexmap's memfd fallback, and
 *              a chunked deque of 4 KiB blocks (std::deque's design)
 *   relocate   move 1 to 512 scattered pages to new addresses: MOVE
 *              against ALLOC + memcpy + FREE and against mremap per page
 *
 * usage: bench-rewire [-s SECONDS] [-o RECORDS] [-q] [SUITE...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench-util.h"
#include "record.h"
#include "rewire.h"

int rw_exmap_open(struct rw_exmap *x, size_t area_pages, size_t pool)
{
	struct exmap_setup s = {
		.pool_size = pool, .nr_interfaces = 1, .backing_fd = -1,
	};
	void *p;

	memset(x, 0, sizeof(*x));
	x->fd = open("/dev/exmap", O_RDWR | O_CLOEXEC);
	if (x->fd < 0)
		return -errno;
	if (ioctl(x->fd, EXMAP_IOC_SETUP, &s))
		die("EXMAP_IOC_SETUP");
	p = mmap(NULL, area_pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 x->fd, EXMAP_OFF_AREA);
	if (p == MAP_FAILED)
		die("mmap area");
	x->area = p;
	x->pages = area_pages;
	p = mmap(NULL, EXMAP_INTERFACE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED, x->fd, EXMAP_OFF_INTERFACE(0));
	if (p == MAP_FAILED)
		die("mmap interface");
	x->vec = p;
	x->rw = p;
	return 0;
}

void rw_exmap_close(struct rw_exmap *x)
{
	munmap(x->vec, EXMAP_INTERFACE_SIZE);
	munmap(x->area, x->pages * PAGE);
	close(x->fd);
}

void rw_exmap_action(struct rw_exmap *x, unsigned int opcode,
		     unsigned int nr)
{
	struct exmap_action a = { .nr = nr, .opcode = opcode };
	int ret = ioctl(x->fd, EXMAP_IOC_ACTION, &a);

	if (ret < 0)
		die("EXMAP_IOC_ACTION");
	if (ret > 0) {
		fprintf(stderr, "bench-rewire: opcode %u: %d entries failed\n",
			opcode, ret);
		exit(1);
	}
}

void rw_report(const struct rw_opts *o, const char *bench, const char *load,
	       const char *impl, unsigned long size, double items,
	       double secs, const char *extra_key, double extra)
{
	char name[128];

	snprintf(name, sizeof(name), "%s%s%s/%s/size:%lu", bench,
		 load ? "/" : "", load ? load : "", impl, size);
	printf("%-40s %12.0f items %10.4f s %14.0f items/s", name, items,
	       secs, secs > 0 ? items / secs : 0);
	if (extra_key)
		printf("  %s=%g", extra_key, extra);
	putchar('\n');
	fflush(stdout);
	if (!o->rec)
		return;
	/* Single-threaded and spent in the calls: CPU time = wall time. */
	record_begin(o->rec, "rewire", name, items, secs, secs);
	record_num(o->rec, "items_per_second", secs > 0 ? items / secs : 0);
	record_str(o->rec, "bench", bench);
	if (load)
		record_str(o->rec, "load", load);
	record_str(o->rec, "impl", impl);
	record_num(o->rec, "size", size);
	if (extra_key)
		record_num(o->rec, extra_key, extra);
	record_end(o->rec);
}

int main(int argc, char **argv)
{
	struct rw_opts o = { .seconds = 1 };
	int opt;

	while ((opt = getopt(argc, argv, "s:o:qh")) != -1) {
		switch (opt) {
		case 's':
			o.seconds = atof(optarg);
			break;
		case 'o':
			o.rec = fopen(optarg, "a");
			if (!o.rec)
				die(optarg);
			break;
		case 'q':
			o.quick = true;
			break;
		default:
			fprintf(stderr, "usage: %s [-s SECONDS] [-o RECORDS] "
				"[-q] [alltoone|deque|relocate...]\n", argv[0]);
			return 2;
		}
	}
	for (int k = optind; k < argc || k == optind; k++) {
		const char *s = k < argc ? argv[k] : "all";
		bool all = !strcmp(s, "all");

		if (all || !strcmp(s, "alltoone"))
			rw_alltoone(&o);
		if (all || !strcmp(s, "deque"))
			rw_deque(&o);
		if (all || !strcmp(s, "relocate"))
			rw_relocate(&o);
		if (!all && strcmp(s, "alltoone") && strcmp(s, "deque") &&
		    strcmp(s, "relocate")) {
			fprintf(stderr, "bench-rewire: no suite %s\n", s);
			return 2;
		}
	}
	if (o.rec)
		fclose(o.rec);
	return 0;
}
