# SPDX-License-Identifier: GPL-2.0
#
# make demo       the demo, in the VM (installs what it needs)
# make check      host-side tests, then the guest test suite in the VM
# make bench      the benchmarks, in one guest boot; JSON, CSV and figures
# make bench-native  the same benchmarks on this machine, module loaded, as root
# make            module and user programs; the module for the running kernel
#                 when its headers are installed, else for the harness kernel
# make guest      what the VM harness packs: exmap/exmap.ko and build/bin/*
# make deps       install the Debian packages everything needs
# make checkpatch the module against the kernel's coding style
# make check-debug the guest suite and a long fuzzer run on a debug kernel
#                 (KASAN, lockdep, ...; built once, about 25 min, cached)

# A recipe that fails must not leave a half-written target behind.
.DELETE_ON_ERROR:

CC ?= cc
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -Wall -Wextra -Werror -Iinclude -pthread
LDLIBS += -pthread

BUILD := build
BIN := $(BUILD)/bin
OBJ := $(BUILD)/obj

# The harness kernel: the one tools/vm/run.sh boots (it passes KVER), else
# the newest Debian kernel whose headers are installed.
ifneq ($(KVER),)
HARNESS_KDIR := /usr/src/linux-headers-$(KVER)
else
HARNESS_KDIR := $(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64)))
endif
RUNNING_KDIR := /lib/modules/$(shell uname -r)/build
KDIR ?= $(if $(wildcard $(RUNNING_KDIR)/Makefile),$(RUNNING_KDIR),$(HARNESS_KDIR))

TEST_HELPERS := $(OBJ)/test/helpers.o

# libexmap: static and shared, with a version script.
LIB := $(BUILD)/lib
LIBEXMAP_SRCS := $(filter-out tools/libexmap/example.c,$(wildcard tools/libexmap/*.c))
LIBEXMAP_OBJS := $(LIBEXMAP_SRCS:%.c=$(OBJ)/%.o)
LIBEXMAP_PIC := $(LIBEXMAP_SRCS:%.c=$(OBJ)/pic/%.o)
SUITE_SRCS := $(sort $(wildcard test/suite/*.c))
SUITE_PROGS := $(SUITE_SRCS:test/suite/%.c=$(BIN)/exmap-test-%)
GUEST_PROGS := $(BIN)/test-exmap $(BIN)/exmap-io-persist $(SUITE_PROGS) \
	       $(BIN)/bench-alloc $(BIN)/bench-steal $(BIN)/bench-read \
	       $(BIN)/bench-report $(BIN)/exmap-demo \
	       $(BIN)/libexmap-example

all: module tools

module:
	$(MAKE) -C exmap KDIR=$(KDIR)

# The guest always runs the harness kernel.
guest-module:
	$(MAKE) -C exmap KDIR=$(HARNESS_KDIR)

tools: $(GUEST_PROGS) $(LIB)/libexmap.so.1

$(LIB)/libexmap.a: $(LIBEXMAP_OBJS)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(OBJ)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -fPIC -c -o $@ $<

$(LIB)/libexmap.so.1: $(LIBEXMAP_PIC) tools/libexmap/libexmap.map
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -Wl,-soname,libexmap.so.1 \
		-Wl,--version-script=tools/libexmap/libexmap.map -Wl,-z,defs \
		-o $@ $(LIBEXMAP_PIC) -luring $(LDLIBS)


guest: guest-module tools

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BIN)/test-exmap: $(OBJ)/test/test-exmap.o $(TEST_HELPERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/bench-read: $(OBJ)/bench/bench-read.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ -l:liburing.a $(LDLIBS)

$(BIN)/exmap-io-persist: $(OBJ)/test/io-persist.o $(TEST_HELPERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Programs on libexmap.a: it needs liburing, linked statically as well.
LIBEXMAP_LDLIBS := -l:liburing.a

BUFPOOL_SRCS := $(filter-out tools/bufpool/demo.c,$(wildcard tools/bufpool/*.c))
BUFPOOL_OBJS := $(BUFPOOL_SRCS:%.c=$(OBJ)/%.o)


$(BIN)/exmap-test-bufpool-units: $(OBJ)/test/suite/bufpool-units.o \
				 $(BUFPOOL_OBJS) $(LIB)/libexmap.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LIBEXMAP_LDLIBS) $(LDLIBS)

$(BIN)/exmap-demo: $(OBJ)/tools/bufpool/demo.o $(BUFPOOL_OBJS) $(LIB)/libexmap.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBEXMAP_LDLIBS) $(LDLIBS)

$(BIN)/exmap-test-bufpool: $(OBJ)/test/suite/bufpool.o $(BUFPOOL_OBJS) \
			   $(LIB)/libexmap.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LIBEXMAP_LDLIBS) $(LDLIBS)

$(BIN)/libexmap-example: $(OBJ)/tools/libexmap/example.o $(LIB)/libexmap.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBEXMAP_LDLIBS) $(LDLIBS)

$(BIN)/exmap-test-libexmap $(BIN)/exmap-test-libexmap-rewire: \
		$(BIN)/exmap-test-%: $(OBJ)/test/suite/%.o $(LIB)/libexmap.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LIBEXMAP_LDLIBS) $(LDLIBS)

# The fuzzer's data oracle is a file of its own.
$(BIN)/exmap-test-fuzz: $(OBJ)/test/fuzz-oracle.o

# liburing is linked statically: the guest then needs no copy of it.
$(BIN)/exmap-test-io $(BIN)/exmap-test-fuzz: $(BIN)/exmap-test-%: \
		$(OBJ)/test/suite/%.o $(TEST_HELPERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka -l:liburing.a $(LDLIBS)

$(BIN)/exmap-test-%: $(OBJ)/test/suite/%.o $(TEST_HELPERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

# bench-alloc and bench-steal: one driver, different modes by default.
ALLOC_OBJS := $(addprefix $(OBJ)/bench/,alloc-main.o alloc-exmap.o \
		alloc-linux.o sysstat.o record.o)

$(BIN)/bench-alloc $(BIN)/bench-steal: $(BIN)/%: $(OBJ)/bench/%.o $(ALLOC_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/bench-report: $(OBJ)/bench/bench-report.o $(OBJ)/bench/report-rows.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ -lm $(LDLIBS)

# Every object depends on the headers it includes, as the compiler lists
# them (-MMD): a header that changes rebuilds what uses it.
DEPFLAGS = -MMD -MP
-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

deps:
	tools/deps.sh

# tools/vm/run.sh installs packages and runs `make guest` itself. The guest
# suite gets two fresh virtio disks; the durability test boots twice on one.
VM_DISKS := $(BUILD)/vm/disk-a.img $(BUILD)/vm/disk-b.img
PERSIST_DISK := $(BUILD)/vm/persist.img

check: deps checkpatch
	$(MAKE) tools
	$(BIN)/exmap-test-libexmap
	$(BIN)/exmap-test-libexmap-rewire
	$(BIN)/libexmap-example
	$(BIN)/exmap-test-bufpool-units
	$(BIN)/exmap-test-bufpool
	tools/vm/selftest.sh
	@mkdir -p $(BUILD)/vm
	rm -f $(VM_DISKS) $(PERSIST_DISK)
	truncate -s 64M $(VM_DISKS) $(PERSIST_DISK)
	tools/vm/run.sh $(VM_DISKS:%=--disk %) -- \
		env EXMAP_TEST_NO_SKIP=1 exmap-run-tests.sh
	EXMAP_VM_NOBUILD=1 tools/vm/run.sh --disk $(PERSIST_DISK) -- \
		exmap-io-persist write /dev/vda
	EXMAP_VM_NOBUILD=1 tools/vm/run.sh --disk $(PERSIST_DISK) -- \
		exmap-io-persist check /dev/vda

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
	$(MAKE) -C exmap KDIR=$(HARNESS_KDIR) clean
	rm -rf $(BUILD)

.PHONY: all module guest-module tools guest deps check check-debug demo bench bench-native \
	checkpatch clean
