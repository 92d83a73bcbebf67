#!/bin/bash
# Build Linux 6.1 from Debian's linux-source-6.1 with the checkers in
# debug-kernel.config (KASAN, lockdep, DEBUG_VM, PAGE_TABLE_CHECK,
# DEBUG_ATOMIC_SLEEP) for the VM harness, and cache it outside the
# repository.  Prints, on stdout, the lines to put in the environment of
# tools/vm/run.sh (EXMAP_VM_KERNEL, EXMAP_VM_PVH, EXMAP_VM_CPU,
# EXMAP_VM_KVER, EXMAP_VM_MODDIR) and of the module build (EXMAP_DEBUG_KDIR).
#
# The cache is ${EXMAP_DEBUG_KERNEL_CACHE:-~/.cache/exmap/debug-kernel},
# keyed by the source tarball and the configuration; a repeat run with the
# same inputs costs nothing.  The first build takes about 25 minutes on
# two cores.
set -euo pipefail
# shellcheck source=tools/vm/lib.sh
. "$(dirname "$0")/lib.sh"

CACHE=${EXMAP_DEBUG_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/exmap/debug-kernel}
FRAGMENT=$VM_DIR/debug-kernel.config
JOBS=${EXMAP_DEBUG_KERNEL_JOBS:-$(nproc)}

need=()
for p in bc:bc bison:bison flex:flex libelf-dev:/usr/include/libelf.h \
	libssl-dev:/usr/include/openssl/ssl.h xz-utils:xz kmod:depmod; do
	probe=${p#*:}
	if [[ $probe == /* ]]; then [[ -e $probe ]] || need+=("${p%%:*}")
	else command -v "$probe" >/dev/null || need+=("${p%%:*}"); fi
done
tarball=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)
[[ -n $tarball ]] || need+=(linux-source-6.1)
if ((${#need[@]})); then
	vm_log "installing: ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${need[@]}" >&2
	tarball=/usr/src/linux-source-6.1.tar.xz
fi

key=$(stat -Lc '%n %s %Y' "$tarball"; sha256sum "$FRAGMENT" | cut -d' ' -f1)
SRC=$CACHE/src
OBJ=$CACHE/obj
MODS=$CACHE/mods
if [[ ! -f $CACHE/done || $(cat "$CACHE/key" 2>/dev/null) != "$key" ]]; then
	rm -rf "$CACHE/done" "$OBJ" "$MODS"
	mkdir -p "$CACHE"
	if [[ ! -f $SRC/Makefile || $(cat "$CACHE/src.key" 2>/dev/null) != "${key%%$'\n'*}" ]]; then
		vm_log "unpacking $tarball"
		rm -rf "$SRC" && mkdir -p "$SRC"
		tar -C "$SRC" --strip-components=1 -xf "$tarball"
		printf '%s\n' "${key%%$'\n'*}" >"$CACHE/src.key"
	fi
	mkdir -p "$OBJ"
	vm_log "configuring the debug kernel in $OBJ"
	make -s -C "$SRC" O="$OBJ" x86_64_defconfig >&2
	# merge_config.sh warns about every option the fragment names that
	# Kconfig then overrides; only the final check below matters.
	(cd "$OBJ" && "$SRC"/scripts/kconfig/merge_config.sh -m -O "$OBJ" \
		.config "$SRC"/kernel/configs/kvm_guest.config "$FRAGMENT" \
		>/dev/null)
	make -s -C "$SRC" O="$OBJ" olddefconfig >&2
	for opt in KASAN PROVE_LOCKING DEBUG_VM PAGE_TABLE_CHECK \
		DEBUG_ATOMIC_SLEEP MODULES IO_URING VIRTIO_BLK PVH; do
		grep -q "^CONFIG_$opt=y" "$OBJ/.config" ||
			vm_die "CONFIG_$opt did not survive olddefconfig"
	done
	vm_log "building the debug kernel with $JOBS jobs (about 25 min on 2 cores)"
	make -s -C "$SRC" O="$OBJ" -j"$JOBS" bzImage modules >&2
	make -s -C "$SRC" O="$OBJ" INSTALL_MOD_PATH="$MODS" \
		modules_install >&2
	printf '%s\n' "$key" >"$CACHE/key"
	touch "$CACHE/done"
fi

kver=$(cat "$OBJ/include/config/kernel.release")
# The bzImage, booted the classic way: 6.1's PVH entry code runs
# KASAN-instrumented before KASAN's shadow exists and the guest dies
# without a word.  And no 5-level paging: under KASAN, 6.1 reports a wild
# access in the first spinlock when QEMU's "max" CPU offers LA57.
echo "EXMAP_VM_KERNEL=$OBJ/arch/x86/boot/bzImage"
echo "EXMAP_VM_PVH=0"
echo "EXMAP_VM_CPU=max,la57=off"
echo "EXMAP_VM_KVER=$kver"
echo "EXMAP_VM_MODDIR=$MODS/lib/modules/$kver"
echo "EXMAP_DEBUG_KDIR=$OBJ"
