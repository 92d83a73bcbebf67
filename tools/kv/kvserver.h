/* SPDX-License-Identifier: GPL-2.0 */
/*
 * exmap-kvd's serving side: a thread per worker, each with its own epoll
 * set, the connections the acceptor hands it, and its own buffer-pool
 * interface. A worker reads every request its ready connections have
 * sent; the GETs at their front go to the tree as one batch (the pages
 * they miss are read with one call), the rest one by one. Responses go
 * out in each connection's request order, each once the log is durable up
 * to the change it depends on: a PUT's or DELETE's own record, for a GET,
 * SCAN or not-found the last change of the leaves it read. The store's
 * committer wakes the workers through an eventfd when the log moves.
 */
#ifndef KV_SERVER_H
#define KV_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>

#include "kvstore.h"

struct kv_server_stats {
	atomic_ulong connections, requests, rejected, bad_streams;
	atomic_ulong cut_requests, batches, batched_gets;
};

struct kv_worker;

struct kv_server {
	struct kv_store *store;
	int lfd;
	atomic_uint nworkers;
	struct kv_worker *workers;
	atomic_bool stop;
	unsigned int next_worker;
	struct kv_server_stats stats;
};

/*
 * Listens on @path (a stale socket file there is replaced; a live server
 * there is an error, -EADDRINUSE).
 */
int kv_server_listen(struct kv_server *srv, const char *path);
/* Starts @n workers, using the store's bp_thread ids 0 .. n-1. */
int kv_server_start(struct kv_server *srv, struct kv_store *s,
		    unsigned int n);
/* Accepts until kv_server_stop(); hands connections round-robin. */
void kv_server_accept_loop(struct kv_server *srv, int stop_fd);
/* Makes the workers end and waits for them; closes every connection. */
void kv_server_stop(struct kv_server *srv);
/* Frees the workers: after the store is closed (its committer calls
 * kv_server_notify() until then). */
void kv_server_destroy(struct kv_server *srv);
/* The store's notify hook: the log's durable end moved. */
void kv_server_notify(void *arg);

#endif
