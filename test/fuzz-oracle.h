/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fuzzer's data oracle (fuzz-oracle.c): a session whose threads keep a
 * shadow model of every page they own and check every call against it.
 * The fuzzer (test/suite/fuzz.c) runs such sessions between its chaos
 * sessions.
 */
#ifndef EXMAP_FUZZ_ORACLE_H
#define EXMAP_FUZZ_ORACLE_H

#include <stdatomic.h>
#include <stdint.h>

/* What the oracle sessions did, summed over the run (shared memory). */
struct oracle_tally {
	atomic_ulong sessions;
	atomic_ulong calls;		/* calls checked against the model */
	atomic_ulong pages_checked;	/* pages compared with the model */
	atomic_ulong stats_checked;	/* STATS compared with the model */
	atomic_ulong enomem;		/* entries short of frames */
	atomic_ulong rewired;		/* pages ALIAS and MOVE rewired */
};

/* Reports a mismatch; the first one fails the run. */
typedef void (*oracle_problem_fn)(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/*
 * Runs one oracle session for about @ms milliseconds in the calling process
 * (a session process the fuzzer forked) and ends it with _exit(). @dir is a
 * directory for the backing file (NULL: no backing store, ALLOC and FREE
 * only); @ops counts every operation, as the fuzzer's tally does.
 */
void oracle_session(uint64_t seed, unsigned int ms, const char *dir,
		    struct oracle_tally *tally, atomic_ulong *ops,
		    oracle_problem_fn problem) __attribute__((noreturn));

#endif
