# SPDX-License-Identifier: GPL-2.0
#
# make demo       the demo, in the VM (installs what it needs)
# make check      host-side tests, then the guest test suite in the VM
# make bench      the benchmarks, in one guest boot; JSON, CSV and figures
# make bench-native  the same benchmarks on this machine, module loaded, as root
# make            module and user programs; the module for the running kernel
#                 when its headers are installed, else for the harness kernel
# make guest      what the VM harness packs: build/module/KVER/exmap/exmap.ko
#                 and build/bin/*
# make deps       install the Debian packages everything needs
# make checkpatch the module against the kernel's coding style
# make check-debug the guest suite and a long fuzzer run on a debug kernel
#                 (KASAN, lockdep, ...; built once, about 25 min, cached)
# make install    libexmap, headers, libexmap.pc, tools, man pages, udev rule
#                 (PREFIX=/usr/local, DESTDIR; see "Installing" below)
# make dkms-install  the module's source under /usr/src, built and installed
#                 by DKMS for every kernel with headers (as root)
# make deb        Debian packages in build/deb (exmap-dkms, libexmap1,
#                 libexmap-dev, exmap-tools)
# make man        the man pages, in build/man

# A recipe that fails must not leave a half-written target behind.
.DELETE_ON_ERROR:

CC ?= cc
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -Wall -Wextra -Werror -Iinclude -pthread
LDLIBS += -pthread

BUILD := build
BIN := $(BUILD)/bin
OBJ := $(BUILD)/obj

VERSION := $(shell cat VERSION)

# The harness kernel: the one tools/vm/run.sh boots (it passes KVER and
# HARNESS_KDIR), else the newest Debian 6.1 kernel whose headers are
# installed (tools/vm/kernels.sh).
ifeq ($(KVER),)
HARNESS_KDIR ?= $(lastword $(sort $(wildcard /usr/src/linux-headers-6.1.*-amd64)))
KVER := $(patsubst linux-headers-%,%,$(notdir $(HARNESS_KDIR)))
else
HARNESS_KDIR ?= /usr/src/linux-headers-$(KVER)
endif
RUNNING_KDIR := /lib/modules/$(shell uname -r)/build
KDIR ?= $(if $(wildcard $(RUNNING_KDIR)/Makefile),$(RUNNING_KDIR),$(HARNESS_KDIR))

TEST_HELPERS := $(OBJ)/test/helpers.o

# libexmap: static and shared, with a version script. The soname changes
# only with an incompatible change of the library's ABI.
LIB := $(BUILD)/lib
LIBEXMAP_SONAME := libexmap.so.1
LIBEXMAP_SO := $(LIBEXMAP_SONAME).0
LIBEXMAP_SRCS := $(filter-out tools/libexmap/example.c,$(wildcard tools/libexmap/*.c))
LIBEXMAP_OBJS := $(LIBEXMAP_SRCS:%.c=$(OBJ)/%.o)
LIBEXMAP_PIC := $(LIBEXMAP_SRCS:%.c=$(OBJ)/pic/%.o)
SUITE_SRCS := $(sort $(wildcard test/suite/*.c))
SUITE_PROGS := $(SUITE_SRCS:test/suite/%.c=$(BIN)/exmap-test-%)
GUEST_PROGS := $(BIN)/test-exmap $(BIN)/exmap-io-persist $(SUITE_PROGS) \
	       $(BIN)/bench-alloc $(BIN)/bench-steal $(BIN)/bench-read \
	       $(BIN)/bench-report $(BIN)/bench-rewire $(BIN)/exmap-demo \
	       $(BIN)/libexmap-example $(BIN)/exmap-kvd $(BIN)/exmap-kv \
	       $(BIN)/exmap-kv-durable $(BIN)/bench-kv

all: module tools

module:
	$(MAKE) -C exmap KDIR=$(KDIR)

# The guest always runs the harness kernel. Its module is built out of
# the tree, in build/module/KVER/ (links to the sources), so that modules
# for several kernels live side by side and none is rebuilt when another
# kernel's is.
GUEST_MODDIR := $(BUILD)/module/$(KVER)

guest-module:
	@test -e $(HARNESS_KDIR)/Makefile || \
		{ echo "no headers in '$(HARNESS_KDIR)' (KVER=$(KVER))" >&2; exit 1; }
	@mkdir -p $(GUEST_MODDIR)/exmap
	@ln -sfn $(CURDIR)/include $(GUEST_MODDIR)/include
	@ln -sf $(addprefix $(CURDIR)/,$(wildcard exmap/*.[ch]) exmap/Kbuild \
		exmap/Makefile) $(GUEST_MODDIR)/exmap/
	$(MAKE) -C $(GUEST_MODDIR)/exmap KDIR=$(HARNESS_KDIR)

tools: $(GUEST_PROGS) $(LIB)/libexmap.so $(LIB)/libexmapkv.so.1

$(LIB)/libexmap.a: $(LIBEXMAP_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(OBJ)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -fPIC -c -o $@ $<

$(LIB)/$(LIBEXMAP_SO): $(LIBEXMAP_PIC) tools/libexmap/libexmap.map
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(LIBEXMAP_SONAME) \
		-Wl,--version-script=tools/libexmap/libexmap.map -Wl,-z,defs \
		-o $@ $(LIBEXMAP_PIC) -luring $(LDLIBS)

$(LIB)/libexmap.so: $(LIB)/$(LIBEXMAP_SO)
	ln -sf $(LIBEXMAP_SO) $(LIB)/$(LIBEXMAP_SONAME)
	ln -sf $(LIBEXMAP_SONAME) $@

$(OBJ)/tools/libexmap/%.o $(OBJ)/pic/tools/libexmap/%.o: \
	tools/libexmap/libexmap.h tools/libexmap/libexmap-int.h \
	include/linux/exmap.h

guest: guest-module tools

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BIN)/test-exmap: $(OBJ)/test/test-exmap.o $(TEST_HELPERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/bench-read: $(OBJ)/bench/bench-read.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -l:liburing.a $(LDLIBS)

$(BIN)/exmap-io-persist: $(OBJ)/test/io-persist.o $(TEST_HELPERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Programs on libexmap.a: it needs liburing, linked statically as well.
LIBEXMAP_LDLIBS := -l:liburing.a

BUFPOOL_SRCS := $(filter-out tools/bufpool/demo.c,$(wildcard tools/bufpool/*.c))
BUFPOOL_OBJS := $(BUFPOOL_SRCS:%.c=$(OBJ)/%.o)


$(BIN)/exmap-test-bufpool-units: $(OBJ)/test/suite/bufpool-units.o \
				 $(BUFPOOL_OBJS) $(LIB)/libexmap.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBEXMAP_LDLIBS) $(LDLIBS)

# exmap-kv: the store (tools/kv/, on the buffer pool), its server, client
# library and command-line client.
KV_MAINS := tools/kv/kvd.c tools/kv/kvcli.c tools/kv/kvclient.c
KV_SRCS := $(filter-out $(KV_MAINS),$(wildcard tools/kv/*.c))
KV_OBJS := $(KV_SRCS:%.c=$(OBJ)/%.o) $(BUFPOOL_OBJS) $(LIB)/libexmap.a

$(OBJ)/tools/kv/%.o: tools/kv/*.h tools/bufpool/*.h

KVCLIENT_OBJS := $(OBJ)/tools/kv/kvclient.o

$(LIB)/libexmapkv.a: $(KVCLIENT_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIB)/libexmapkv.so.1: $(OBJ)/pic/tools/kv/kvclient.o tools/kv/kvclient.map
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -Wl,-soname,libexmapkv.so.1 \
		-Wl,--version-script=tools/kv/kvclient.map -Wl,-z,defs \
		-o $@ $(OBJ)/pic/tools/kv/kvclient.o $(LDLIBS)

$(OBJ)/pic/tools/kv/%.o: tools/kv/*.h

$(BIN)/exmap-kvd: $(OBJ)/tools/kv/kvd.o $(KV_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBEXMAP_LDLIBS) $(LDLIBS)

$(BIN)/exmap-kv: $(OBJ)/tools/kv/kvcli.o $(LIB)/libexmapkv.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

KVTEST_OBJS := $(OBJ)/test/kvtest.o $(OBJ)/tools/kv/crc32c.o \
	       $(LIB)/libexmapkv.a

$(BIN)/exmap-test-kv-server: $(OBJ)/test/suite/kv-server.o $(KVTEST_OBJS) \
			     | $(BIN)/exmap-kvd
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) -lcmocka $(LDLIBS)

$(BIN)/exmap-kv-durable: $(OBJ)/test/kv-durable.o $(KVTEST_OBJS) \
			 | $(BIN)/exmap-kvd
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(BIN)/exmap-test-kv-crash: $(OBJ)/test/suite/kv-crash.o $(KVTEST_OBJS) \
			    | $(BIN)/exmap-kvd
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $(filter %.o %.a,$^) $(LDLIBS)

$(BIN)/exmap-test-kv-units $(BIN)/exmap-test-kv-store: $(BIN)/exmap-test-%: \
		$(OBJ)/test/suite/%.o $(KV_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LIBEXMAP_LDLIBS) $(LDLIBS)

$(BIN)/exmap-demo: $(OBJ)/tools/bufpool/demo.o $(BUFPOOL_OBJS) $(LIB)/libexmap.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBEXMAP_LDLIBS) $(LDLIBS)

$(BIN)/exmap-test-bufpool: $(OBJ)/test/suite/bufpool.o $(BUFPOOL_OBJS) \
			   $(LIB)/libexmap.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBEXMAP_LDLIBS) $(LDLIBS)

# The example includes <libexmap.h>, as a program outside the tree does.
$(OBJ)/tools/libexmap/example.o: CFLAGS += -Itools/libexmap

$(BIN)/libexmap-example: $(OBJ)/tools/libexmap/example.o $(LIB)/libexmap.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBEXMAP_LDLIBS) $(LDLIBS)

$(BIN)/exmap-test-libexmap $(BIN)/exmap-test-libexmap-rewire: \
		$(BIN)/exmap-test-%: $(OBJ)/test/suite/%.o $(LIB)/libexmap.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBEXMAP_LDLIBS) $(LDLIBS)

# The fuzzer's data oracle is a file of its own.
$(BIN)/exmap-test-fuzz: $(OBJ)/test/fuzz-oracle.o

# liburing is linked statically: the guest then needs no copy of it.
$(BIN)/exmap-test-io $(BIN)/exmap-test-fuzz: $(BIN)/exmap-test-%: \
		$(OBJ)/test/suite/%.o $(TEST_HELPERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcmocka -l:liburing.a $(LDLIBS)

$(BIN)/exmap-test-%: $(OBJ)/test/suite/%.o $(TEST_HELPERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

# bench-alloc and bench-steal: one driver, different modes by default.
ALLOC_OBJS := $(addprefix $(OBJ)/bench/,alloc-main.o alloc-exmap.o \
		alloc-linux.o sysstat.o record.o)

$(BIN)/bench-alloc $(BIN)/bench-steal: $(BIN)/%: $(OBJ)/bench/%.o $(ALLOC_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

REWIRE_OBJS := $(addprefix $(OBJ)/bench/,rewire-main.o rewire-alltoone.o \
		rewire-deque.o rewire-relocate.o record.o)

$(BIN)/bench-rewire: $(REWIRE_OBJS) $(LIB)/libexmap.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBEXMAP_LDLIBS) $(LDLIBS)

$(BIN)/bench-report: $(OBJ)/bench/bench-report.o $(OBJ)/bench/report-rows.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ -lm $(LDLIBS)

# LMDB linked statically, as liburing: the guest needs no copy of it.
$(BIN)/bench-kv: $(OBJ)/bench/bench-kv.o $(OBJ)/bench/record.o \
		 $(LIB)/libexmapkv.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ -l:liblmdb.a $(LDLIBS)

$(OBJ)/test/%.o $(OBJ)/test/suite/%.o: include/linux/exmap.h test/helpers.h \
	test/kvtest.h tools/kv/*.h
$(OBJ)/bench/%.o: include/linux/exmap.h bench/bench-util.h bench/alloc.h \
		  bench/record.h bench/sysstat.h bench/rewire.h \
		  tools/libexmap/libexmap.h

# Man pages: exmap(4) and libexmap(3) with one page per function family
# are made from docs/api.md and docs/libexmap.md (tools/man/md2man.py);
# test-exmap(1) and exmap-demo(1) are written in roff. Dated by the last
# commit, so that a rebuild of the same tree gives the same pages.
MAN := $(BUILD)/man
DOC_DATE := $(shell git log -1 --format=%cs 2>/dev/null || date +%F)
MD2MAN := python3 tools/man/md2man.py
MD2MAN_OPTS = --date $(DOC_DATE) --source "exmap $(VERSION)" --manual exmap
MAN1 := $(MAN)/man1/test-exmap.1 $(MAN)/man1/exmap-demo.1

$(MAN)/man4/exmap.4: docs/api.md man/exmap.4.head man/exmap.4.tail \
		     tools/man/md2man.py
	@mkdir -p $(dir $@)
	$(MD2MAN) page $< $@ --name exmap --section 4 $(MD2MAN_OPTS) \
		--head man/exmap.4.head --tail man/exmap.4.tail \
		--sh "Example=EXAMPLES" --sh "Errors at a glance=ERRORS" \
		--see-also "libexmap(3)" --see-also "test-exmap(1)" \
		--see-also "ioctl(2)" --see-also "mmap(2)" \
		--see-also "madvise(2)" --see-also "io_uring_enter(2)"

# One page per "## name, name - what" section, and a link per alias.
$(MAN)/man3/.stamp: docs/libexmap.md tools/libexmap/libexmap.map \
		    man/libexmap.3.head tools/man/md2man.py
	rm -rf $(MAN)/man3 && mkdir -p $(MAN)/man3
	$(MD2MAN) functions $< $(MAN)/man3 --section 3 $(MD2MAN_OPTS) \
		--include libexmap.h --library "exmap library (*libexmap*, *-lexmap*)" \
		--symbols tools/libexmap/libexmap.map \
		--see-also "libexmap(3)" --see-also "exmap(4)"
	$(MD2MAN) page $< $(MAN)/man3/libexmap.3 --name libexmap --section 3 \
		$(MD2MAN_OPTS) --head man/libexmap.3.head --skip-functions \
		--sh "Example=EXAMPLES" --see-also "exmap(4)"
	touch $@

$(MAN)/man1/%.1: man/%.1 VERSION
	@mkdir -p $(dir $@)
	sed 's/@DATE@/$(DOC_DATE)/;s/@VERSION@/$(VERSION)/' $< >$@

man: $(MAN)/man4/exmap.4 $(MAN)/man3/.stamp $(MAN1)

# Every page renders without a warning from man, at 80 columns.
check-man: man
	tools/man/check.sh $(MAN)

include packaging/install.mk
# Every object depends on the headers it includes, as the compiler lists
# them (-MMD): a header that changes rebuilds what uses it.
DEPFLAGS = -MMD -MP
-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

deps:
	tools/deps.sh

# tools/vm/run.sh installs packages and runs `make guest` itself. The guest
# suite runs on each kernel series (CHECK_KERNELS) with two fresh virtio
# disks; the durability tests (exmap's and exmap-kv's power-off) boot the
# default kernel twice on the same disks.
# Then the Debian packages are built and installed into a scratch root:
# the documented example builds with pkg-config, DKMS builds the packaged
# module for each kernel and the packaged test-exmap runs with it.
VM_DISKS := $(BUILD)/vm/disk-a.img $(BUILD)/vm/disk-b.img
PERSIST_DISK := $(BUILD)/vm/persist.img
# exmap-kv across a power-off: its store and the journal of what it
# acknowledged, on the same two boots.
KV_DISKS := $(BUILD)/vm/kv-store.img $(BUILD)/vm/kv-journal.img
CHECK_KERNELS := 6.1 6.12

check: deps checkpatch check-man
	$(MAKE) tools
	$(BIN)/exmap-test-libexmap
	$(BIN)/exmap-test-libexmap-rewire
	$(BIN)/libexmap-example
	$(BIN)/exmap-test-bufpool-units
	$(BIN)/exmap-test-bufpool
	$(BIN)/exmap-test-kv-units
	$(BIN)/exmap-test-kv-store
	$(BIN)/exmap-test-kv-server
	$(BIN)/exmap-test-kv-crash
	tools/vm/selftest.sh
	@mkdir -p $(BUILD)/vm
	for k in $(CHECK_KERNELS); do \
		rm -f $(VM_DISKS) && truncate -s 64M $(VM_DISKS) && \
		tools/vm/run.sh --kernel $$k $(VM_DISKS:%=--disk %) -- \
			env EXMAP_TEST_NO_SKIP=1 exmap-run-tests.sh || exit 1; \
	done
	rm -f $(PERSIST_DISK) $(KV_DISKS)
	truncate -s 64M $(PERSIST_DISK) $(KV_DISKS)
	EXMAP_VM_NOBUILD=1 tools/vm/run.sh --disk $(PERSIST_DISK) \
		$(KV_DISKS:%=--disk %) -- 'exmap-io-persist write /dev/vda && \
		exmap-kv-durable load /dev/vdb /dev/vdc'
	EXMAP_VM_NOBUILD=1 tools/vm/run.sh --disk $(PERSIST_DISK) \
		$(KV_DISKS:%=--disk %) -- 'exmap-io-persist check /dev/vda && \
		exmap-kv-durable check /dev/vdb /dev/vdc'
	$(MAKE) deb
	packaging/install-test.sh $(CHECK_KERNELS)

# The buffer-pool demo on a fresh virtio disk (and on null_blk), exmap and
# the fallback side by side. Allocator debugging off and the TSC as the
# guest's clock (see tools/vm/run.sh): it is a measurement.
demo: deps
	@mkdir -p $(BUILD)/vm $(BUILD)/demo
	rm -f $(BUILD)/vm/demo.img
	truncate -s 1G $(BUILD)/vm/demo.img
	EXMAP_VM_DEBUG=0 EXMAP_VM_TSC=1 tools/vm/run.sh \
		--disk $(BUILD)/vm/demo.img -- \
		exmap-demo.sh
	cp $(BUILD)/vm/console.log $(BUILD)/demo/demo-$$(date +%Y-%m-%d-%H%M%S).log

# One guest boot runs bench/run-all.sh; build/bench/results/DATE/ gets the
# records, SUITE.json and .csv, docs/figures/ the plots. BENCH_ARGS:
# run-all.sh options and suites.
bench: deps
	bench/vm-bench.sh $(BENCH_ARGS)

# No VM: this machine, with exmap.ko loaded, as root (null_blk, /dev/exmap).
bench-native: tools
	d=$(BUILD)/bench/results/native-$$(date +%Y-%m-%d-%H%M%S) && \
	bench/run-all.sh -o $$d/records.txt -r $$d -p $$d/figures $(BENCH_ARGS)

checkpatch:
	tools/checkpatch.sh

check-debug: deps
	tools/vm/check-debug.sh

clean:
	-$(MAKE) -C exmap KDIR=$(HARNESS_KDIR) clean
	rm -rf $(BUILD)

.PHONY: all module guest-module tools guest deps check check-debug demo bench bench-native \
	checkpatch clean man check-man
