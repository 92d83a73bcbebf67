/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the exmap-kv tests: run exmap-kvd (the one next to the test
 * program) as a child, and keys and values that check themselves.
 */
#ifndef EXMAP_TEST_KVTEST_H
#define EXMAP_TEST_KVTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../tools/kv/kvclient.h"

struct t_kvd {
	pid_t pid;
	char store[256];
	char sock[108];
	bool fallback;
	unsigned int pool_mb;
};

/* The directory of this program (where exmap-kvd is too). */
const char *t_kv_bindir(void);
/*
 * Formats @d->store (a file: @size bytes; 0: a block device) with
 * exmap-kvd --format --check-only; 0 or its exit status.
 */
int t_kvd_format(struct t_kvd *d, uint64_t size, unsigned int log_mb);
/*
 * Starts exmap-kvd on @d->store and @d->sock, with up to four more
 * arguments (NULL-terminated), and waits until it serves. 0, or the exit
 * status it ended with (or -1).
 */
int t_kvd_start(struct t_kvd *d, ...);
/* Runs exmap-kvd with up to four more arguments to its end: its status. */
int t_kvd_run(struct t_kvd *d, ...);
/* Sends @sig and waits: the exit status, or 128 + the signal. */
int t_kvd_stop(struct t_kvd *d, int sig);
/* A connection, retried while the server starts. NULL on failure. */
struct kvc *t_kvc(struct t_kvd *d);

/* Key @num: 6 to 200 bytes, sorting as the numbers do. */
size_t t_kv_key(uint8_t *k, uint32_t num);
/*
 * Value of key @num, generation @gen: @len bytes (at least 16) that name
 * both and carry their own CRC, so that a torn or misplaced value shows.
 */
void t_kv_val(uint8_t *v, size_t len, uint32_t num, uint32_t gen);
/* The generation in a value that checks out for @num, or -1. */
long t_kv_val_gen(const uint8_t *v, size_t len, uint32_t num);

#endif
