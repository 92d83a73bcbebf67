/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The page-state word of the buffer pool: one 64-bit word per page of the
 * area, as in vmcache. The top 8 bits are the state, the low 56 bits a
 * version that every exclusive unlock and every eviction bumps, so that an
 * optimistic reader can tell whether the page changed under it.
 *
 *   0          unlocked
 *   1 .. 252   held shared by that many readers
 *   253        locked exclusively
 *   254        marked: unlocked, and the clock has cleared its reference bit
 *   255        evicted: not resident
 *
 * All operations are lock-free compare-and-swaps on the word.
 */
#ifndef BUFPOOL_PAGESTATE_H
#define BUFPOOL_PAGESTATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum {
	PS_UNLOCKED = 0,
	PS_MAX_SHARED = 252,
	PS_LOCKED = 253,
	PS_MARKED = 254,
	PS_EVICTED = 255,
};

#define PS_VERSION_MASK	((1ULL << 56) - 1)

typedef _Atomic uint64_t page_state_t;

static inline uint64_t ps_state(uint64_t w)
{
	return w >> 56;
}

static inline uint64_t ps_version(uint64_t w)
{
	return w & PS_VERSION_MASK;
}

static inline uint64_t ps_make(uint64_t state, uint64_t version)
{
	return (state << 56) | (version & PS_VERSION_MASK);
}

static inline uint64_t ps_load(page_state_t *ps)
{
	return atomic_load_explicit(ps, memory_order_acquire);
}

static inline void ps_init_evicted(page_state_t *ps)
{
	atomic_store(ps, ps_make(PS_EVICTED, 0));
}

/* Exclusive from @old, which must be unlocked, marked or evicted. */
static inline bool ps_try_lock_x(page_state_t *ps, uint64_t old)
{
	uint64_t s = ps_state(old);

	if (s != PS_UNLOCKED && s != PS_MARKED && s != PS_EVICTED)
		return false;
	return atomic_compare_exchange_strong(ps, &old,
					      ps_make(PS_LOCKED,
						      ps_version(old)));
}

/* Ends an exclusive hold: unlocked, or evicted; the version moves on. */
static inline void ps_unlock_x(page_state_t *ps, bool evicted)
{
	uint64_t w = ps_load(ps);

	atomic_store_explicit(ps, ps_make(evicted ? PS_EVICTED : PS_UNLOCKED,
					  ps_version(w) + 1),
			      memory_order_release);
}

/*
 * Ends an exclusive hold that changed nothing: the word goes back to @old,
 * what it was before the lock, so optimistic readers need not restart.
 */
static inline void ps_unlock_x_unchanged(page_state_t *ps, uint64_t old)
{
	atomic_store_explicit(ps, old, memory_order_release);
}

/* One more shared holder, from an unlocked, marked or shared @old. */
static inline bool ps_try_lock_s(page_state_t *ps, uint64_t old)
{
	uint64_t s = ps_state(old), next;

	if (s < PS_MAX_SHARED)
		next = s + 1;
	else if (s == PS_MARKED)
		next = 1;
	else
		return false;
	return atomic_compare_exchange_strong(ps, &old,
					      ps_make(next, ps_version(old)));
}

static inline void ps_unlock_s(page_state_t *ps)
{
	uint64_t old = ps_load(ps);

	while (!atomic_compare_exchange_weak(ps, &old,
					     ps_make(ps_state(old) - 1,
						     ps_version(old))))
		;
}

/* Clears the reference bit of an unlocked page (clock's first pass). */
static inline bool ps_try_mark(page_state_t *ps, uint64_t old)
{
	if (ps_state(old) != PS_UNLOCKED)
		return false;
	return atomic_compare_exchange_strong(ps, &old,
					      ps_make(PS_MARKED,
						      ps_version(old)));
}

/*
 * Optimistic read: remember the version of a page that no one holds
 * exclusively; after reading, it is valid only if the word still equals
 * what was remembered, apart from the reference bit.
 */
static inline bool ps_optimistic_begin(page_state_t *ps, uint64_t *seen)
{
	uint64_t w = ps_load(ps), s = ps_state(w);

	/*
	 * A read is a use: give a marked page its second chance, or the
	 * clock evicts the pages every lookup goes through (the inner nodes),
	 * which only optimistic readers touch. If the swap loses a race, the
	 * validation sorts out whatever won.
	 */
	if (s == PS_MARKED)
		atomic_compare_exchange_strong(ps, &w,
					       ps_make(PS_UNLOCKED,
						       ps_version(w)));
	*seen = w;
	return ps_state(w) != PS_LOCKED && ps_state(w) != PS_EVICTED;
}

static inline bool ps_optimistic_valid(page_state_t *ps, uint64_t seen)
{
	uint64_t w;

	atomic_thread_fence(memory_order_acquire);
	w = ps_load(ps);
	return ps_version(w) == ps_version(seen) &&
	       ps_state(w) != PS_LOCKED && ps_state(w) != PS_EVICTED;
}

#endif
