#!/bin/bash
# Self-check of the VM harness: tools/vm/selftest.sh [--full]
#
# Boots the guest a few times with a tiny module and program of its own
# (built here, under build/vm/selftest/), so that it tests the harness and
# not the current state of exmap:
#   exit 0 -> 0 (and the module is loaded, the program and its shared
#   libraries work), exit 3 -> 3, a "WARNING:" in the kernel log -> 1.
# --full adds a module that fails to load, a kernel panic and a timeout
# (about a minute more).
set -euo pipefail
# shellcheck source=tools/vm/lib.sh
. "$(dirname "$0")/lib.sh"

FULL=0
[[ ${1:-} == --full ]] && FULL=1
vm_ensure_packages
vm_detect_kernel
KDIR=$VM_KDIR

ST=$VM_OUT/selftest
rm -rf "$ST" && mkdir -p "$ST/mod" "$ST/fail" "$ST/bin"
cat >"$ST/mod/selftest_hello.c" <<'EOF'
#include <linux/module.h>
static int __init st_init(void) { pr_info("selftest_hello: loaded\n"); return 0; }
static void __exit st_exit(void) { pr_info("selftest_hello: unloaded\n"); }
module_init(st_init);
module_exit(st_exit);
MODULE_LICENSE("GPL");
EOF
echo 'obj-m := selftest_hello.o' >"$ST/mod/Kbuild"
cat >"$ST/fail/selftest_fail.c" <<'EOF'
#include <linux/module.h>
static int __init st_init(void) { return -ENODEV; }
module_init(st_init);
MODULE_LICENSE("GPL");
EOF
echo 'obj-m := selftest_fail.o' >"$ST/fail/Kbuild"
# A program linked against cmocka: checks that ldd's libraries and the
# dynamic loader made it into the guest.
cat >"$ST/selftest-prog.c" <<'EOF'
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
static void t(void **state) { (void)state; assert_int_equal(1, 1); }
int main(void) {
	const struct CMUnitTest tests[] = { cmocka_unit_test(t) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
EOF
vm_log "selftest: building test module and program for $KVER"
make -s -C "$KDIR" M="$ST/mod" modules >"$ST/build.log" 2>&1 || { cat "$ST/build.log"; exit 1; }
if ((FULL)); then
    make -s -C "$KDIR" M="$ST/fail" modules >"$ST/build.log" 2>&1 || { cat "$ST/build.log"; exit 1; }
fi
cc -o "$ST/bin/selftest-prog" "$ST/selftest-prog.c" -lcmocka

export EXMAP_VM_NOBUILD=1 EXMAP_VM_MODULE=$ST/mod/selftest_hello.ko EXMAP_VM_BINDIR=$ST/bin
failed=0
# check NAME EXPECTED-STATUS [OUTPUT-REGEX] -- run.sh ARGS...
check() {
    local name=$1 want=$2 re=$3 rc=0 start=$SECONDS
    shift 4
    "$VM_DIR/run.sh" "$@" >"$ST/$name.log" 2>&1 || rc=$?
    if [[ $want == nonzero && $rc != 0 || $rc == "$want" ]] &&
        { [[ -z $re ]] || grep -qE -- "$re" "$ST/$name.log"; }; then
        vm_log "selftest: PASS $name (status $rc, $((SECONDS - start)) s)"
    else
        vm_log "selftest: FAIL $name: status $rc, expected $want${re:+ and output matching /$re/}"
        sed 's/^/    /' "$ST/$name.log" >&2
        failed=1
    fi
}

check exit0 0 '^cmocka-ok-and-module-loaded' -- \
    'selftest-prog >/dev/null 2>&1 && grep -q "^selftest_hello " /proc/modules &&
     echo cmocka-ok-and-module-loaded'
check exit3 3 'kernel log clean' -- 'exit 3'
check warning 1 'kernel log shows a problem' -- "echo '<4>WARNING: injected' > /dev/kmsg"
if ((FULL)); then
    check insmod-fail 1 'failed to load' -- \
        --module "$ST/fail/selftest_fail.ko" 'echo should not run'
    check panic 1 'Kernel panic' -- 'echo c > /proc/sysrq-trigger'
    check timeout 124 'timed out' -- --timeout 40 'sleep 600'
fi
((failed == 0)) && vm_log "selftest: all passed"
exit "$failed"
