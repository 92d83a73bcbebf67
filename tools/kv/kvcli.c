// SPDX-License-Identifier: GPL-2.0
/* exmap-kv: the command-line client of exmap-kvd (docs/kv.md). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvclient.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: exmap-kv [-S SOCKET] COMMAND [ARGS]\n"
"  put KEY VALUE      store VALUE under KEY (VALUE - : standard input)\n"
"  get KEY            print the value\n"
"  del KEY            delete KEY\n"
"  scan FROM TO [MAX] print the pairs with FROM <= key < TO, in key order,\n"
"                     one \"key<TAB>value\" line each, non-printable bytes\n"
"                     as \\xNN (TO empty: no end)\n"
"  stats              print the server's counters\n"
"SOCKET: $EXMAP_KV_SOCKET, else /run/exmap-kv.sock.\n"
"Exit status: 0, 1 if the key is not there, 2 on an error.\n");
}

static void escaped(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\')
			fputs("\\\\", stdout);
		else if (isprint(p[i]) && p[i] != '\t')
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
}

static int print_pair(void *arg, const void *key, size_t klen,
		      const void *val, size_t vlen)
{
	(void)arg;
	escaped(key, klen);
	putchar('\t');
	escaped(val, vlen);
	putchar('\n');
	return 0;
}

static char *read_stdin(size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);

	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, stdin);

		n += r;
		if (r == 0)
			break;
		if (n == cap) {
			char *b = realloc(buf, cap *= 2);

			if (!b)
				free(buf);
			buf = b;
		}
		/* More than any value may be: the server says so. */
		if (n > KV_VALUE_MAX + 1)
			break;
	}
	*len = n;
	return buf;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "exmap-kv: %s: %s\n", what, strerror(-err));
	return err == -ENOENT ? 1 : 2;
}

int main(int argc, char **argv)
{
	const char *sock = getenv("EXMAP_KV_SOCKET");
	struct kvc *c;
	int opt, ret;

	if (!sock)
		sock = "/run/exmap-kv.sock";
	while ((opt = getopt(argc, argv, "+S:h")) != -1) {
		switch (opt) {
		case 'S':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argv += optind;
	argc -= optind;
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	ret = kvc_connect(&c, sock);
	if (ret)
		return fail(sock, ret);
	if (!strcmp(argv[0], "put") && argc == 3) {
		size_t len = strlen(argv[2]);
		char *val = argv[2];

		if (!strcmp(val, "-")) {
			val = read_stdin(&len);
			if (!val)
				return fail("put", -ENOMEM);
		}
		ret = kvc_put(c, argv[1], strlen(argv[1]), val, len);
		if (ret)
			return fail("put", ret);
	} else if (!strcmp(argv[0], "get") && argc == 2) {
		static char buf[KV_VALUE_MAX];
		size_t len;

		ret = kvc_get(c, argv[1], strlen(argv[1]), buf, sizeof(buf),
			      &len);
		if (ret)
			return fail(argv[1], ret);
		fwrite(buf, 1, len, stdout);
		if (isatty(STDOUT_FILENO))
			putchar('\n');
	} else if (!strcmp(argv[0], "del") && argc == 2) {
		ret = kvc_del(c, argv[1], strlen(argv[1]));
		if (ret)
			return fail(argv[1], ret);
	} else if (!strcmp(argv[0], "scan") && (argc == 3 || argc == 4)) {
		long n;
		unsigned long max = argc == 4 ? strtoul(argv[3], NULL, 10) : 0;

		n = kvc_scan(c, argv[1], strlen(argv[1]), argv[2],
			     strlen(argv[2]), max, print_pair, NULL);
		if (n < 0)
			return fail("scan", (int)n);
	} else if (!strcmp(argv[0], "stats") && argc == 1) {
		static char buf[KV_STATS_BYTES + 1];

		ret = kvc_stats(c, buf, sizeof(buf));
		if (ret < 0)
			return fail("stats", ret);
		fputs(buf, stdout);
	} else {
		usage(stderr);
		kvc_close(c);
		return 2;
	}
	if (fflush(stdout))
		return fail("stdout", -errno);
	kvc_close(c);
	return 0;
}
