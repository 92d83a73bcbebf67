// SPDX-License-Identifier: GPL-2.0
/*
 * Description: exmap-kvd and its client library, end to end: every
 * operation, pipelined requests, many clients at once, a restart; and
 * bad input, each answered with its error while the server serves on and
 * loses nothing: oversized keys and values (their payload skipped),
 * malformed headers, a stream that is not the protocol, messages cut
 * short by a disconnect, a client that leaves with requests in flight,
 * and a full store (ENOSPC). On the fallback backend on the host, on
 * exmap in the guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../kvtest.h"

static struct t_kvd kvd;
static uint8_t vbuf[KV_VALUE_MAX + 4096], got[KV_VALUE_MAX + 4096];

static size_t vlen_of(uint32_t num, uint32_t gen)
{
	uint32_t r = num * 2246822519u + gen * 3266489917u;

	return r % 11 == 0 ? 4096 + r % 30000 : 16 + r % 500;
}

static int put(struct kvc *c, uint32_t num, uint32_t gen)
{
	uint8_t k[KV_KEY_MAX];
	size_t len = vlen_of(num, gen);

	t_kv_val(vbuf, len, num, gen);
	return kvc_put(c, k, t_kv_key(k, num), vbuf, len);
}

/* The generation stored for @num: 0 absent, -1 wrong, -2 error. */
static long gen_of(struct kvc *c, uint32_t num)
{
	uint8_t k[KV_KEY_MAX];
	size_t len;
	int ret = kvc_get(c, k, t_kv_key(k, num), got, sizeof(got), &len);

	if (ret == -ENOENT)
		return 0;
	if (ret)
		return -2;
	return t_kv_val_gen(got, len, num);
}

/* A raw socket, for bytes the library would never send. */
static int raw_connect(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(a.sun_path, kvd.sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void raw_send(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* The next response on @fd; its payload (if any) is read and dropped. */
static struct kv_resp raw_recv(int fd)
{
	struct kv_resp r;
	size_t n = 0;

	while (n < sizeof(r)) {
		ssize_t k = recv(fd, (char *)&r + n, sizeof(r) - n, 0);

		assert_true(k > 0);
		n += k;
	}
	assert_int_equal(r.magic, KV_MAGIC);
	for (size_t left = r.len; left;) {
		ssize_t k = recv(fd, got, left < sizeof(got) ? left :
				 sizeof(got), 0);

		assert_true(k > 0);
		left -= k;
	}
	return r;
}

static void raw_req(int fd, uint8_t op, uint8_t flags, uint16_t klen,
		    uint16_t resv, uint32_t vlen, uint32_t arg)
{
	struct kv_req h = { .magic = KV_MAGIC, .op = op, .flags = flags,
			    .klen = klen, .resv = resv, .vlen = vlen,
			    .arg = arg };

	raw_send(fd, &h, sizeof(h));
}

static void start(void)
{
	assert_int_equal(t_kvd_start(&kvd, NULL), 0);
}

static void stop_clean(void)
{
	assert_int_equal(t_kvd_stop(&kvd, SIGTERM), 0);
}

static int setup(void **state)
{
	const char *dir = getenv("EXMAP_TEST_DIR");
	int fd;

	(void)state;
	kvd.fallback = access("/dev/exmap", F_OK) != 0;
	snprintf(kvd.store, sizeof(kvd.store), "%s/kv-server-XXXXXX",
		 dir ? dir : "/tmp");
	fd = mkstemp(kvd.store);
	if (fd < 0)
		return -1;
	close(fd);
	snprintf(kvd.sock, sizeof(kvd.sock), "/tmp/kv-server-%d.sock",
		 getpid());
	return t_kvd_format(&kvd, 24 << 20, 0) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	if (kvd.pid > 0)
		t_kvd_stop(&kvd, SIGKILL);
	unlink(kvd.store);
	unlink(kvd.sock);
	return 0;
}

static int count_pair(void *arg, const void *key, size_t klen,
		      const void *val, size_t vlen)
{
	uint32_t *expect = arg;
	uint8_t k[KV_KEY_MAX];
	size_t want = t_kv_key(k, *expect);

	(void)val;
	if (klen != want || memcmp(key, k, klen) ||
	    t_kv_val_gen(val, vlen, *expect) != 1)
		return -EBADMSG;
	*expect += 2;
	return 0;
}

static void test_operations(void **state)
{
	struct kvc *c;
	char stats[KV_STATS_BYTES + 1];
	uint32_t expect;
	long n;

	(void)state;
	start();
	c = t_kvc(&kvd);
	assert_non_null(c);
	for (uint32_t num = 0; num < 600; num += 2)
		assert_int_equal(put(c, num, 1), 0);
	for (uint32_t num = 0; num < 600; num++)
		assert_int_equal(gen_of(c, num), num % 2 ? 0 : 1);
	/* A scan of everything, then of a part, in key order. */
	expect = 0;
	n = kvc_scan(c, "", 0, "", 0, 0, count_pair, &expect);
	assert_int_equal(n, 300);
	assert_int_equal(expect, 600);
	{
		uint8_t from[KV_KEY_MAX], to[KV_KEY_MAX];

		expect = 100;
		n = kvc_scan(c, from, t_kv_key(from, 99), to,
			     t_kv_key(to, 200), 0, count_pair, &expect);
		assert_int_equal(n, 50);
		expect = 100;
		n = kvc_scan(c, from, t_kv_key(from, 100), "", 0, 7,
			     count_pair, &expect);
		assert_int_equal(n, 7);
	}
	/* Overwrite, delete, delete again. */
	assert_int_equal(put(c, 10, 2), 0);
	assert_int_equal(gen_of(c, 10), 2);
	{
		uint8_t k[KV_KEY_MAX];
		size_t kl = t_kv_key(k, 12);

		assert_int_equal(kvc_del(c, k, kl), 0);
		assert_int_equal(kvc_del(c, k, kl), -ENOENT);
		assert_int_equal(gen_of(c, 12), 0);
	}
	assert_true(kvc_stats(c, stats, sizeof(stats)) > 0);
	assert_non_null(strstr(stats, "keys 299\n"));
	assert_non_null(strstr(stats, kvd.fallback ? "backend fallback" :
					  "backend exmap"));
	kvc_close(c);

	/* A clean restart: nothing to replay, everything there. */
	stop_clean();
	start();
	c = t_kvc(&kvd);
	assert_int_equal(kvc_stats(c, stats, sizeof(stats)) > 0, 1);
	assert_non_null(strstr(stats, "recovered_records 0\n"));
	for (uint32_t num = 0; num < 600; num++)
		assert_int_equal(gen_of(c, num), num == 10 ? 2 :
				 num % 2 || num == 12 ? 0 : 1);
	kvc_close(c);
	stop_clean();
}

/* Pipelined requests (2,000; 600 under emulation) on one connection;
 * replies in order. */
static void test_pipelining(void **state)
{
	uint32_t pipelined = getenv("EXMAP_VM") ? 300 : 1000;
	struct kvc *c;
	struct kvc_reply r;
	uint8_t k[KV_KEY_MAX];

	(void)state;
	start();
	c = t_kvc(&kvd);
	for (uint32_t num = 0; num < pipelined; num++) {
		size_t len = vlen_of(num, 3);

		t_kv_val(vbuf, len, num, 3);
		assert_int_equal(kvc_send(c, KV_OP_PUT, k, t_kv_key(k, num),
					  vbuf, len, 0), 0);
		assert_int_equal(kvc_send(c, KV_OP_GET, k, t_kv_key(k, num),
					  NULL, 0, 0), 0);
	}
	for (uint32_t num = 0; num < pipelined; num++) {
		assert_int_equal(kvc_recv(c, &r), 0);
		assert_int_equal(r.op, KV_OP_PUT);
		assert_int_equal(r.status, KV_OK);
		assert_int_equal(kvc_recv(c, &r), 0);
		assert_int_equal(r.op, KV_OP_GET);
		assert_int_equal(r.status, KV_OK);
		assert_int_equal(t_kv_val_gen(r.data, r.len, num), 3);
	}
	kvc_close(c);
	stop_clean();
}

/* Eight client processes at once, each on its own keys. */
static void test_many_clients(void **state)
{
	uint32_t per_client = getenv("EXMAP_VM") ? 40 : 150;
	pid_t pids[8];
	struct kvc *c;

	(void)state;
	start();
	for (int p = 0; p < 8; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p])
			continue;
		c = t_kvc(&kvd);
		if (!c)
			_exit(2);
		for (uint32_t i = 0; i < per_client; i++) {
			uint32_t num = 10000 + p * 1000 + i;

			if (put(c, num, 1) || gen_of(c, num) != 1 ||
			    (i % 3 == 0 && put(c, num, 2)))
				_exit(1);
		}
		kvc_close(c);
		_exit(0);
	}
	for (int p = 0; p < 8; p++) {
		int st;

		assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	c = t_kvc(&kvd);
	for (int p = 0; p < 8; p++)
		for (uint32_t i = 0; i < per_client; i++)
			assert_int_equal(gen_of(c, 10000 + p * 1000 + i),
					 i % 3 == 0 ? 2 : 1);
	kvc_close(c);
	stop_clean();
}

/* Each malformed request gets its error; the connection serves on. */
static void test_bad_requests(void **state)
{
	static uint8_t junk[KV_VALUE_MAX + 5000];
	struct kv_resp r;
	struct kvc *c;
	int fd;

	(void)state;
	start();
	c = t_kvc(&kvd);
	assert_int_equal(put(c, 1, 1), 0);
	fd = raw_connect();

	/* Key and value over the limits: EMSGSIZE, payload skipped. */
	raw_req(fd, KV_OP_GET, 0, KV_KEY_MAX + 1, 0, 0, 0);
	raw_send(fd, junk, KV_KEY_MAX + 1);
	assert_int_equal(raw_recv(fd).status, KV_EMSGSIZE);
	raw_req(fd, KV_OP_PUT, 0, 4, 0, KV_VALUE_MAX + 1000, 0);
	raw_send(fd, junk, 4 + KV_VALUE_MAX + 1000);
	r = raw_recv(fd);
	assert_int_equal(r.op, KV_OP_PUT);
	assert_int_equal(r.status, KV_EMSGSIZE);
	/* Not applied: the 4-byte key (zeros) is not there. */
	raw_req(fd, KV_OP_GET, 0, 4, 0, 0, 0);
	raw_send(fd, junk, 4);
	assert_int_equal(raw_recv(fd).status, KV_ENOENT);

	/* Unknown op, flags, reserved bits, lengths an op does not take. */
	raw_req(fd, 99, 0, 1, 0, 0, 0);
	raw_send(fd, "k", 1);
	assert_int_equal(raw_recv(fd).status, KV_EINVAL);
	raw_req(fd, KV_OP_GET, 1, 1, 0, 0, 0);
	raw_send(fd, "k", 1);
	assert_int_equal(raw_recv(fd).status, KV_EINVAL);
	raw_req(fd, KV_OP_GET, 0, 1, 7, 0, 0);
	raw_send(fd, "k", 1);
	assert_int_equal(raw_recv(fd).status, KV_EINVAL);
	raw_req(fd, KV_OP_GET, 0, 0, 0, 0, 0);
	assert_int_equal(raw_recv(fd).status, KV_EINVAL);
	raw_req(fd, KV_OP_GET, 0, 1, 0, 3, 0);
	raw_send(fd, "kabc", 4);
	assert_int_equal(raw_recv(fd).status, KV_EINVAL);
	raw_req(fd, KV_OP_DELETE, 0, 1, 0, 0, 5);
	raw_send(fd, "k", 1);
	assert_int_equal(raw_recv(fd).status, KV_EINVAL);
	raw_req(fd, KV_OP_SCAN, 0, 0, 0, 0, 0);
	assert_int_equal(raw_recv(fd).status, KV_EINVAL);
	raw_req(fd, KV_OP_SCAN, 0, 0, 0, 0, KV_SCAN_MAX + 1);
	assert_int_equal(raw_recv(fd).status, KV_EINVAL);
	raw_req(fd, KV_OP_STATS, 0, 2, 0, 0, 0);
	raw_send(fd, "xx", 2);
	assert_int_equal(raw_recv(fd).status, KV_EINVAL);
	/* ... and the same connection still works. */
	raw_req(fd, KV_OP_STATS, 0, 0, 0, 0, 0);
	r = raw_recv(fd);
	assert_int_equal(r.status, KV_OK);
	assert_true(r.len > 100);

	/* Not the protocol: EPROTO, then the server hangs up. */
	raw_send(fd, "GET / HTTP/1.0\r\n\r\n", 18);
	assert_int_equal(raw_recv(fd).status, KV_EPROTO);
	assert_int_equal(recv(fd, junk, 16, 0), 0);
	close(fd);

	/* Everyone else was served all along. */
	assert_int_equal(gen_of(c, 1), 1);
	assert_int_equal(put(c, 2, 1), 0);
	kvc_close(c);
	stop_clean();
}

/*
 * Messages cut short by a disconnect change nothing; a client that
 * leaves with 200 PUTs unanswered leaves each applied whole or not at
 * all; the server serves on.
 */
static void test_disconnects(void **state)
{
	uint8_t k[KV_KEY_MAX];
	struct kv_req h = { .magic = KV_MAGIC, .op = KV_OP_PUT };
	struct kvc *c;
	size_t kl;
	int fd;

	(void)state;
	start();
	/* Half a header. */
	fd = raw_connect();
	raw_send(fd, &h, 7);
	close(fd);
	/* A whole header, half the key and value. */
	kl = t_kv_key(k, 500);
	t_kv_val(vbuf, 3000, 500, 1);
	h.klen = kl;
	h.vlen = 3000;
	fd = raw_connect();
	raw_send(fd, &h, sizeof(h));
	raw_send(fd, k, kl);
	raw_send(fd, vbuf, 1500);
	close(fd);
	/* 200 PUTs sent, the connection closed before any answer. */
	c = t_kvc(&kvd);
	for (uint32_t num = 600; num < 800; num++) {
		size_t len = vlen_of(num, 1);

		t_kv_val(vbuf, len, num, 1);
		assert_int_equal(kvc_send(c, KV_OP_PUT, k, t_kv_key(k, num),
					  vbuf, len, 0), 0);
	}
	assert_int_equal(kvc_flush(c), 0);
	kvc_close(c);

	c = t_kvc(&kvd);
	assert_int_equal(gen_of(c, 500), 0);
	for (uint32_t num = 600; num < 800; num++) {
		long g = gen_of(c, num);

		assert_true(g == 0 || g == 1);
	}
	{
		char stats[KV_STATS_BYTES + 1];
		const char *p;

		assert_true(kvc_stats(c, stats, sizeof(stats)) > 0);
		p = strstr(stats, "cut_requests ");
		assert_non_null(p);
		assert_true(atoi(p + 13) >= 2);
	}
	assert_int_equal(put(c, 501, 1), 0);
	kvc_close(c);
	/* The same after a restart from the log. */
	assert_int_equal(t_kvd_stop(&kvd, SIGKILL), 128 + SIGKILL);
	start();
	c = t_kvc(&kvd);
	assert_int_equal(gen_of(c, 500), 0);
	assert_int_equal(gen_of(c, 501), 1);
	kvc_close(c);
	stop_clean();
}

/* A full store: ENOSPC to the PUT that does not fit, all else goes on. */
static void test_full_store(void **state)
{
	struct kvc *c, *other;
	uint32_t n = 0;
	int ret;

	(void)state;
	/* 3 MiB: about 2.6 MiB of data pages. */
	assert_int_equal(t_kvd_format(&kvd, 3 << 20, 0), 0);
	start();
	c = t_kvc(&kvd);
	other = t_kvc(&kvd);
	for (;; n++) {
		size_t len = 20000;

		t_kv_val(vbuf, len, n, 1);
		{
			uint8_t k[KV_KEY_MAX];

			ret = kvc_put(c, k, t_kv_key(k, n), vbuf, len);
		}
		if (ret)
			break;
		assert_true(n < 1000);
	}
	assert_int_equal(ret, -ENOSPC);
	assert_true(n > 50);
	/* Both connections serve on; everything acknowledged is there. */
	assert_int_equal(put(other, n + 1, 1) == 0 ||
			 put(other, n + 1, 1) == -ENOSPC, 1);
	for (uint32_t num = 0; num < n; num++)
		assert_int_equal(gen_of(c, num), 1);
	/* A delete makes room for the next PUT. */
	{
		uint8_t k[KV_KEY_MAX];

		assert_int_equal(kvc_del(c, k, t_kv_key(k, 0)), 0);
		t_kv_val(vbuf, 20000, n, 1);
		assert_int_equal(kvc_put(c, k, t_kv_key(k, n), vbuf, 20000),
				 0);
	}
	kvc_close(c);
	kvc_close(other);
	assert_int_equal(t_kvd_stop(&kvd, SIGKILL), 128 + SIGKILL);
	start();
	c = t_kvc(&kvd);
	for (uint32_t num = 1; num <= n; num++)
		assert_int_equal(gen_of(c, num), 1);
	kvc_close(c);
	stop_clean();
	/* The check in --check-only walks the tree. */
	assert_int_equal(t_kvd_run(&kvd, "--check-only", NULL), 0);
}

/* A second server on the same socket is refused; a stale one is not. */
static void test_socket(void **state)
{
	struct t_kvd second;

	(void)state;
	start();
	second = kvd;
	assert_int_equal(t_kvd_run(&second, NULL), 1);
	stop_clean();
	/* A socket file left by a killed server is taken over. */
	start();
	assert_int_equal(t_kvd_stop(&kvd, SIGKILL), 128 + SIGKILL);
	assert_int_equal(access(kvd.sock, F_OK), 0);
	start();
	stop_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_operations, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pipelining, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_many_clients, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_disconnects, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_full_store, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_socket, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name(access("/dev/exmap", F_OK) ?
					   "kv-server-fallback" :
					   "kv-server-exmap", tests, NULL,
					   NULL) ? 1 : 0;
}
