#!/bin/bash
# Build the guest initramfs: build-initramfs.sh RUN-CMD-FILE
# Prints the path of the finished (uncompressed, newc) cpio on stdout.
#
# The archive is two cpio archives concatenated (the kernel unpacks them in
# order, later files overwriting earlier ones):
#   base.cpio    busybox, bash, kernel modules + depmod output.  Expensive
#                to make and rarely changes, so it is cached under
#                build/vm/base-$KVER and rebuilt only when its inputs change.
#   overlay.cpio /init, exmap.ko, build/bin/*, test/*.sh, bench/*.sh, the
#                shared libraries those binaries need, and /run-cmd.sh.
#                Rebuilt on every run so the guest always sees fresh code.
#
# Environment: KVER/VM_MODDIR (else detected, see lib.sh), EXMAP_VM_MODULE
# (default build/module/$KVER/exmap/exmap.ko, which `make guest` builds;
# "none" = no module), EXMAP_VM_BINDIR (default
# build/bin), EXMAP_VM_MODPARAMS, EXMAP_VM_INTERACTIVE and
# EXMAP_VM_GUEST_TIMEOUT (settings for /init).
set -euo pipefail
# shellcheck source=tools/vm/lib.sh
. "$(dirname "$0")/lib.sh"

RUN_CMD=${1:?usage: build-initramfs.sh RUN-CMD-FILE}
[[ -n ${KVER:-} && -n ${VM_MODDIR:-} ]] || vm_detect_kernel
MODULE=${EXMAP_VM_MODULE:-$REPO/build/module/$KVER/exmap/exmap.ko}
BINDIR=${EXMAP_VM_BINDIR:-$REPO/build/bin}

# Kernel modules tests may want.  Missing or built-in ones are skipped, as
# the debug kernel plugged in later may configure them differently.  The
# crc32c ones are ext4's and jbd2's soft dependency ("crypto-crc32c"), which
# modules.dep does not list; without them ext4 mounts fail with ENOENT.
WANT_KMODS=(virtio_pci virtio_blk null_blk configfs loop ext4 brd dm_mod
    crc32c_generic crc32c_intel)

cpio_pack() { # DIR -> cpio on stdout; owner root whoever builds it
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet)
}

# Copy the dynamic loader and every library `ldd` lists for $2 into root $1,
# at the same path, so that host-built binaries run unchanged in the guest.
copy_libs() {
    local root=$1 bin=$2 line lib
    while read -r line; do
        case $line in
        *"not found"*)
            vm_log "warning: $bin needs ${line%% =>*}, which ldd cannot find"
            continue ;;
        *"=> /"*) lib=${line#*=> } ;;
        /*) lib=$line ;;
        *) continue ;; # linux-vdso, "statically linked", ...
        esac
        lib=${lib%% (*}
        # Already there, or already in the base archive (e.g. libc for bash).
        [[ -e $root$lib || -e ${BASE:?}$lib ]] && continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done < <(ldd "$bin" 2>/dev/null || true)
}

# Copy one module file (relative path from modules.dep) into the initramfs,
# decompressing it: depmod in the tree then sees a plain .ko, and busybox
# modprobe need not support the compression format.
copy_kmod() {
    local rel=$1 dst
    dst=$BASE/lib/modules/$KVER/${rel%.ko*}.ko
    [[ -e $dst ]] && return 0
    mkdir -p "$(dirname "$dst")"
    case $rel in
    *.ko) cp "$VM_MODDIR/$rel" "$dst" ;;
    *.ko.xz) xz -dc "$VM_MODDIR/$rel" >"$dst" ;;
    *.ko.gz) gzip -dc "$VM_MODDIR/$rel" >"$dst" ;;
    *.ko.zst) zstd -qdc "$VM_MODDIR/$rel" >"$dst" ;;
    *) vm_die "unknown module format: $rel" ;;
    esac
}

build_base() {
    rm -rf "$BASE" && mkdir -p "$BASE"
    (cd "$BASE" && mkdir -p bin sbin usr/bin usr/sbin dev proc sys tmp run root etc mnt var/tmp \
        lib/modules/"$KVER")

    # busybox provides the whole userland; one symlink per applet at the
    # path busybox itself expects (bin/, sbin/, usr/bin/, usr/sbin/).
    cp /bin/busybox "$BASE/bin/busybox"
    local applet
    for applet in $(/bin/busybox --list-full); do
        [[ -e $BASE/$applet ]] || ln -s /bin/busybox "$BASE/$applet"
    done
    # Real bash too: test scripts with "#!/bin/bash" must not silently run
    # under ash.  Copied after the applets so it replaces nothing important.
    rm -f "$BASE/bin/bash"
    cp /bin/bash "$BASE/bin/bash"
    copy_libs "$BASE" /bin/bash

    # Kernel modules and their dependencies, via the kernel's modules.dep
    # (dependencies listed there are already the full transitive closure).
    local dep=$VM_MODDIR/modules.dep m rel deps d f
    [[ -r $dep ]] || vm_die "$dep missing (run depmod for $KVER)"
    for m in "${WANT_KMODS[@]}"; do
        # Module names treat - and _ alike (dm_mod is dm-mod.ko).
        local re=${m//[-_]/[-_]}
        rel=$(grep -E "(^|/)$re\.ko(\.(xz|gz|zst))?:" "$dep" | head -n1 || true)
        if [[ -z $rel ]]; then
            if grep -qE "(^|/)$re\.ko$" "$VM_MODDIR/modules.builtin" 2>/dev/null; then
                vm_log "kernel module $m is built in"
            else
                vm_log "kernel module $m not available in $VM_MODDIR, skipped"
            fi
            continue
        fi
        deps=${rel#*:}
        copy_kmod "${rel%%:*}"
        for d in $deps; do copy_kmod "$d"; done
    done
    # modules.builtin lets modprobe succeed quietly for built-in modules.
    for f in modules.builtin modules.builtin.modinfo modules.order; do
        if [[ -r $VM_MODDIR/$f ]]; then cp "$VM_MODDIR/$f" "$BASE/lib/modules/$KVER/"; fi
    done
    depmod -b "$BASE" "$KVER"

    cpio_pack "$BASE" >"$BASE.cpio.tmp"
    mv "$BASE.cpio.tmp" "$BASE.cpio"
}

mkdir -p "$VM_OUT"
BASE=$VM_OUT/base-$KVER
# The cache key covers everything build_base reads; a change in any of them
# (new kernel package, busybox upgrade, edit of this script) rebuilds.
key=$(
    printf '%s\n' "$KVER" "$VM_MODDIR" "${WANT_KMODS[*]}"
    stat -Lc '%n %s %Y' /bin/busybox /bin/bash "$VM_MODDIR/modules.dep" "$0"
)
if [[ ! -f $BASE.cpio || $(cat "$BASE.key" 2>/dev/null) != "$key" ]]; then
    vm_log "building base initramfs for $KVER (cached for later runs)"
    rm -f "$BASE.key"
    build_base
    printf '%s\n' "$key" >"$BASE.key"
fi

# ---- per-run overlay ----
OV=$VM_OUT/overlay
rm -rf "$OV" && mkdir -p "$OV/lib/exmap" "$OV/opt/exmap/bin" "$OV/opt/exmap/scripts" "$OV/opt/exmap/build"
install -m 755 "$VM_DIR/init" "$OV/init"
install -m 755 "$VM_DIR/poweroff" "$OV/opt/exmap/scripts/exmap-vm-poweroff"
install -m 755 "$RUN_CMD" "$OV/run-cmd.sh"
# Settings for /init.  Not passed on the kernel command line because that
# mangles values with spaces or quotes.
mkdir -p "$OV/etc"
{
    echo "EXMAP_VM_MODPARAMS=$(vm_shquote "${EXMAP_VM_MODPARAMS:-}")"
    echo "EXMAP_VM_INTERACTIVE=$(vm_shquote "${EXMAP_VM_INTERACTIVE:-}")"
    echo "EXMAP_VM_GUEST_TIMEOUT=$(vm_shquote "${EXMAP_VM_GUEST_TIMEOUT:-}")"
} >"$OV/etc/exmap-vm.env"
# Scripts written against the repo layout ($dir/../build/bin) keep working.
ln -s ../bin "$OV/opt/exmap/build/bin"

if [[ $MODULE != none ]]; then
    [[ -f $MODULE ]] || vm_die "module $MODULE not found (build it, or set EXMAP_VM_MODULE)"
    cp "$MODULE" "$OV/lib/exmap/exmap.ko"
    # insmod wants the file, rmmod the name; the name may not be "exmap"
    # when EXMAP_VM_MODULE points at another module.
    name=$(modinfo -F name "$MODULE" 2>/dev/null || true)
    name=${name:-$(basename "$MODULE" .ko)}
    echo "${name//-/_}" >"$OV/lib/exmap/name"
    # A vermagic mismatch makes insmod fail in the guest with a terse
    # "Invalid module format"; say what is wrong up front.
    vermagic=$(modinfo -F vermagic "$MODULE" 2>/dev/null || true)
    if [[ -n $vermagic && ${vermagic%% *} != "$KVER" ]]; then
        vm_log "warning: $MODULE is built for ${vermagic%% *}, guest runs $KVER"
    fi
fi

if [[ -d $BINDIR ]]; then
    for f in "$BINDIR"/*; do
        [[ -f $f && -x $f ]] || continue
        cp "$f" "$OV/opt/exmap/bin/"
        copy_libs "$OV" "$f"
    done
fi

for f in "$REPO"/test/*.sh "$REPO"/bench/*.sh; do
    [[ -f $f ]] || continue
    if [[ -e $OV/opt/exmap/scripts/$(basename "$f") ]]; then
        vm_log "warning: two scripts named $(basename "$f"); $f wins"
    fi
    install -m 755 "$f" "$OV/opt/exmap/scripts/"
done

cpio_pack "$OV" >"$VM_OUT/overlay.cpio"
cat "$BASE.cpio" "$VM_OUT/overlay.cpio" >"$VM_OUT/initramfs.cpio"
echo "$VM_OUT/initramfs.cpio"
