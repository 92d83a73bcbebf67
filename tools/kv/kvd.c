// SPDX-License-Identifier: GPL-2.0
/*
 * exmap-kvd: the exmap-kv server. Owns the store (an exmap context, or
 * libexmap's fallback backend) and serves it on a Unix socket; see
 * docs/kv.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "kvserver.h"

#define DEFAULT_SOCKET	"/run/exmap-kv.sock"

static void usage(FILE *f)
{
	fprintf(f,
"usage: exmap-kvd --store PATH [options]\n"
"  -s, --store PATH    block device or file that holds the store\n"
"  -S, --socket PATH   Unix socket to serve on (" DEFAULT_SOCKET ")\n"
"      --format        make a new, empty store on PATH first (its old\n"
"                      contents are lost); a file is created\n"
"      --size SIZE     with --format, a file's size (K, M, G suffixes)\n"
"      --log-mb N      with --format, the log's size in MiB (default: a\n"
"                      sixteenth of the store, 1 to 256 MiB)\n"
"  -p, --pool-mb N     buffer pool in MiB (64)\n"
"  -w, --workers N     worker threads (one per online CPU)\n"
"      --fallback      libexmap's fallback backend: no /dev/exmap needed\n"
"      --check         walk the tree after recovery; exit 3 if damaged\n"
"      --check-only    recover, check, checkpoint and exit\n"
"  -h, --help\n"
"Exit status: 0 after SIGTERM or SIGINT, 1 on an error, 3 if --check\n"
"found damage.\n");
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'G': case 'g':
		v <<= 10;
		/* fallthrough */
	case 'M': case 'm':
		v <<= 10;
		/* fallthrough */
	case 'K': case 'k':
		v <<= 10;
		end++;
		break;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int number(const char *s, uint64_t *out, uint64_t max)
{
	return parse_size(s, out) || *out == 0 || *out > max ? -1 : 0;
}

int main(int argc, char **argv)
{
	enum { O_FORMAT = 256, O_SIZE, O_LOG, O_FALLBACK, O_CHECK,
	       O_CHECK_ONLY };
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "socket", required_argument, NULL, 'S' },
		{ "format", no_argument, NULL, O_FORMAT },
		{ "size", required_argument, NULL, O_SIZE },
		{ "log-mb", required_argument, NULL, O_LOG },
		{ "pool-mb", required_argument, NULL, 'p' },
		{ "workers", required_argument, NULL, 'w' },
		{ "fallback", no_argument, NULL, O_FALLBACK },
		{ "check", no_argument, NULL, O_CHECK },
		{ "check-only", no_argument, NULL, O_CHECK_ONLY },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct kv_server srv = { .lfd = -1 };
	struct kv_format_opts fo = { 0 };
	struct kv_store_opts so = { .backend = EXMAP_BACKEND_KERNEL,
				    .notify = kv_server_notify,
				    .notify_arg = &srv };
	const char *sock = DEFAULT_SOCKET;
	uint64_t pool_mb = 64, workers = 0, v;
	bool format = false, check = false, check_only = false;
	struct kv_store *s;
	sigset_t sigs;
	int c, ret, sfd, status = 0;

	while ((c = getopt_long(argc, argv, "s:S:p:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			so.path = fo.path = optarg;
			break;
		case 'S':
			sock = optarg;
			break;
		case O_FORMAT:
			format = true;
			break;
		case O_SIZE:
			if (parse_size(optarg, &fo.size))
				goto bad;
			break;
		case O_LOG:
			if (number(optarg, &v, 1 << 20))
				goto bad;
			fo.log_pages = v * 256;
			break;
		case 'p':
			if (number(optarg, &pool_mb, 1 << 20))
				goto bad;
			break;
		case 'w':
			if (number(optarg, &workers, 512))
				goto bad;
			break;
		case O_FALLBACK:
			so.backend = EXMAP_BACKEND_FALLBACK;
			break;
		case O_CHECK:
			check = true;
			break;
		case O_CHECK_ONLY:
			check = check_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (!so.path || optind != argc) {
		usage(stderr);
		return 1;
	}
	if (!workers) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		workers = n > 0 ? (uint64_t)n : 1;
	}
	fo.backend = so.backend;
	so.pool_pages = pool_mb * 256;
	so.threads = workers;

	/* Signals come through a signalfd; every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);

	if (so.backend == EXMAP_BACKEND_KERNEL && access("/dev/exmap", F_OK)) {
		fprintf(stderr, "exmap-kvd: no /dev/exmap (load exmap.ko, or "
			"use --fallback)\n");
		return 1;
	}
	if (format) {
		ret = kv_format(&fo);
		if (ret) {
			fprintf(stderr, "exmap-kvd: format %s: %s\n", so.path,
				strerror(-ret));
			return 1;
		}
	}
	ret = kv_store_open(&s, &so);
	if (ret) {
		fprintf(stderr, "exmap-kvd: open %s: %s\n", so.path,
			strerror(-ret));
		return 1;
	}
	if (check) {
		struct kvt_check_result r;

		ret = kv_store_check(s, &s->own, &r);
		fprintf(stderr, "exmap-kvd: check: %s%s; %llu keys, %llu "
			"leaves, %llu inner, %llu overflow, %llu free, height "
			"%llu\n", ret ? "DAMAGED: " : "consistent", r.why,
			(unsigned long long)r.keys,
			(unsigned long long)r.leaves,
			(unsigned long long)r.inners,
			(unsigned long long)r.overflow,
			(unsigned long long)r.free_pages,
			(unsigned long long)r.height);
		if (ret || check_only) {
			kv_store_close(s);
			return ret ? 3 : 0;
		}
	}
	ret = kv_server_listen(&srv, sock);
	if (!ret)
		ret = kv_server_start(&srv, s, workers);
	if (ret) {
		fprintf(stderr, "exmap-kvd: %s: %s\n", sock, strerror(-ret));
		kv_server_stop(&srv);
		kv_store_close(s);
		kv_server_destroy(&srv);
		return 1;
	}
	fprintf(stderr, "exmap-kvd: serving %s on %s (%s, %llu keys, "
		"%llu records replayed, %llu workers, pool %llu MiB)\n",
		so.path, sock, exmap_backend_name(exmap_backend_of(s->bp->x)),
		(unsigned long long)s->tree.keys,
		(unsigned long long)s->recovered_records,
		(unsigned long long)workers, (unsigned long long)pool_mb);
	kv_server_accept_loop(&srv, sfd);
	kv_server_stop(&srv);
	if (s->error) {
		fprintf(stderr, "exmap-kvd: the device failed; stopped "
			"(restart to recover)\n");
		status = 1;
	}
	ret = kv_store_close(s);
	kv_server_destroy(&srv);
	unlink(sock);
	if (ret && !status) {
		fprintf(stderr, "exmap-kvd: close: %s\n", strerror(-ret));
		status = 1;
	}
	return status;
bad:
	fprintf(stderr, "exmap-kvd: bad value for --%s: %s\n",
		c == 'p' ? "pool-mb" : c == 'w' ? "workers" :
		c == O_SIZE ? "size" : "log-mb", optarg);
	return 1;
}
