// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvtest.h"
#include "../tools/kv/crc32c.h"

const char *t_kv_bindir(void)
{
	static char dir[4096];

	if (!dir[0]) {
		ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

		if (n <= 0)
			return ".";
		dir[n] = 0;
		/* dirname() may return a pointer into dir, or a literal. */
		{
			char *d = dirname(dir);

			memmove(dir, d, strlen(d) + 1);
		}
	}
	return dir;
}

static pid_t spawn(struct t_kvd *d, const char **extra, int nextra,
		   bool quiet)
{
	const char *argv[24];
	char kvd[4200], pool[16];
	int n = 0;
	pid_t pid;

	snprintf(kvd, sizeof(kvd), "%s/exmap-kvd", t_kv_bindir());
	snprintf(pool, sizeof(pool), "%u", d->pool_mb ? d->pool_mb : 4);
	argv[n++] = kvd;
	argv[n++] = "--store";
	argv[n++] = d->store;
	argv[n++] = "-S";
	argv[n++] = d->sock;
	argv[n++] = "-p";
	argv[n++] = pool;
	argv[n++] = "-w";
	argv[n++] = "2";
	if (d->fallback)
		argv[n++] = "--fallback";
	for (int k = 0; k < nextra; k++)
		argv[n++] = extra[k];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		if (quiet && !freopen("/dev/null", "w", stderr))
			_exit(126);
		execv(kvd, (char **)argv);
		_exit(127);
	}
	return pid;
}

static int wait_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int t_kvd_format(struct t_kvd *d, uint64_t size, unsigned int log_mb)
{
	const char *extra[5] = { "--format", "--check-only" };
	char sz[32], lg[32];
	int n = 2;

	if (size) {
		snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
		extra[n++] = "--size";
		extra[n++] = sz;
	}
	if (log_mb) {
		snprintf(lg, sizeof(lg), "--log-mb=%u", log_mb);
		extra[n++] = lg;
	}
	return wait_status(spawn(d, extra, n, true));
}

struct kvc *t_kvc(struct t_kvd *d)
{
	struct kvc *c = NULL;

	for (int k = 0; k < 600; k++) {
		if (!kvc_connect(&c, d->sock))
			return c;
		usleep(50000);
	}
	return NULL;
}

int t_kvd_start(struct t_kvd *d, ...)
{
	const char *extra[4];
	struct kvc *c;
	int n = 0, st;
	va_list ap;

	va_start(ap, d);
	while (n < 4 && (extra[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	d->pid = spawn(d, extra, n, false);
	if (d->pid < 0)
		return -1;
	/* Serving once it answers; dead if it exits first. */
	for (int k = 0; k < 1200; k++) {
		if (!kvc_connect(&c, d->sock)) {
			kvc_close(c);
			return 0;
		}
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = -1;
			return WIFEXITED(st) ? WEXITSTATUS(st) :
					       128 + WTERMSIG(st);
		}
		usleep(25000);
	}
	kill(d->pid, SIGKILL);
	wait_status(d->pid);
	d->pid = -1;
	return -1;
}

int t_kvd_run(struct t_kvd *d, ...)
{
	const char *extra[4];
	int n = 0;
	va_list ap;

	va_start(ap, d);
	while (n < 4 && (extra[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	return wait_status(spawn(d, extra, n, false));
}

int t_kvd_stop(struct t_kvd *d, int sig)
{
	int st;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, sig);
	st = wait_status(d->pid);
	d->pid = -1;
	return st;
}

size_t t_kv_key(uint8_t *k, uint32_t num)
{
	size_t len = 6 + (num * 2654435761u) % 195;

	snprintf((char *)k, 7, "%06u", num % 1000000);
	for (size_t i = 6; i < len; i++)
		k[i] = (uint8_t)('a' + (num * 7 + i) % 26);
	return len;
}

struct vhead {
	uint32_t num, gen, len, crc;
};

void t_kv_val(uint8_t *v, size_t len, uint32_t num, uint32_t gen)
{
	struct vhead h = { .num = num, .gen = gen, .len = (uint32_t)len };

	for (size_t i = sizeof(h); i < len; i++)
		v[i] = (uint8_t)(num * 31 + gen * 17 + i);
	h.crc = crc32c(0, v + sizeof(h), len - sizeof(h));
	h.crc = crc32c(h.crc, &h, offsetof(struct vhead, crc));
	memcpy(v, &h, sizeof(h));
}

long t_kv_val_gen(const uint8_t *v, size_t len, uint32_t num)
{
	struct vhead h;
	uint32_t crc;

	if (len < sizeof(h))
		return -1;
	memcpy(&h, v, sizeof(h));
	if (h.num != num || h.len != len)
		return -1;
	crc = crc32c(0, v + sizeof(h), len - sizeof(h));
	crc = crc32c(crc, &h, offsetof(struct vhead, crc));
	return crc == h.crc ? (long)h.gen : -1;
}
