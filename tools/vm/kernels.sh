# shellcheck shell=bash
# The kernels the VM harness boots, by series (sourced by lib.sh):
#
#   6.1   Debian 12's own kernel: linux-image-amd64 and linux-headers-amd64,
#         installed system-wide like any package (VM_PACKAGES in lib.sh).
#   6.12  Debian's 6.12 for bookworm (the kernel of Debian 13), from
#         bookworm-backports or the bookworm security archive: its image,
#         modules and headers are unpacked under $EXMAP_KERNEL_CACHE
#         (~/.cache/exmap/kernels/VERSION/), downloaded once. Nothing is
#         installed on the machine itself, so its own boot and other users'
#         default kernel stay as they were.
#
# vm_series_kernel SERIES sets VM_ROOT ("" for a system-wide kernel, the
# unpacked tree otherwise) and KVER to the newest kernel of that series,
# getting it first when there is none.

VM_SERIES_DEFAULT=6.1
# shellcheck disable=SC2034 # used by make check's loop (tools/vm/check-kernels.sh)
VM_SERIES_ALL=(6.1 6.12)
VM_KERNEL_CACHE=${EXMAP_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/exmap/kernels}

# True if $1 names a series ("6.12") rather than a kernel version.
vm_is_series() { [[ $1 =~ ^[0-9]+\.[0-9]+$ ]]; }

# The newest version of series $1 that ROOT ($2, "" for the system) has
# with image, modules and headers.
vm_newest_in() {
    local series=$1 root=$2 img ver best=
    for img in "$root"/boot/vmlinuz-"$series".*-amd64; do
        [[ -e $img ]] || continue
        ver=${img##*/vmlinuz-}
        [[ $ver == "$series".* ]] || continue
        [[ -d $root/usr/src/linux-headers-$ver && -d $root/lib/modules/$ver ]] || continue
        [[ -z $root || -e $root/.complete ]] || continue
        best=$(printf '%s\n' "$best" "$ver" | sort -V | tail -n1)
    done
    echo "$best"
}

# Where an unpacked kernel of version $1 lives, if there is one.
vm_cached_root() { [[ -e $VM_KERNEL_CACHE/$1/.complete ]] && echo "$VM_KERNEL_CACHE/$1"; }

vm_series_kernel() {
    local series=$1 dir ver
    KVER=$(vm_newest_in "$series" "")
    VM_ROOT=
    [[ -n $KVER ]] && return 0
    [[ $series == "$VM_SERIES_DEFAULT" ]] &&
        vm_die "no Debian $series kernel with headers in /boot and /usr/src (make deps)"
    for dir in "$VM_KERNEL_CACHE"/"$series".*; do
        [[ -e $dir/.complete ]] || continue
        ver=$(vm_newest_in "$series" "$dir")
        [[ -n $ver ]] || continue
        if [[ -z $KVER ]] || [[ $(printf '%s\n' "$KVER" "$ver" | sort -V | tail -n1) == "$ver" ]]; then
            KVER=$ver VM_ROOT=$dir
        fi
    done
    [[ -n $KVER ]] && return 0
    vm_fetch_kernel "$series"
}

vm_as_root() {
    if ((EUID == 0)); then "$@"; else sudo "$@"; fi
}

# bookworm-backports in apt's sources, once: it carries Debian's 6.12
# kernels (with the security archive, which has newer ones).
vm_ensure_backports() {
    if grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        return 0
    fi
    vm_log "adding bookworm-backports to apt's sources"
    echo 'deb http://deb.debian.org/debian bookworm-backports main' |
        vm_as_root tee /etc/apt/sources.list.d/exmap-bookworm-backports.list >/dev/null
    vm_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
}

# The newest linux-image-SERIES.N+debM-amd64 that apt knows.
vm_newest_available() {
    apt-cache search --names-only "^linux-image-${1//./\\.}\\.[0-9]+\\+deb[0-9]+-amd64\$" |
        cut -d' ' -f1 | sed 's/^linux-image-//' | sort -V | tail -n1
}

# Download and unpack the newest kernel of series $1 with its headers;
# sets KVER and VM_ROOT.
vm_fetch_kernel() {
    local series=$1 ver tmp root pkgs deb
    vm_ensure_backports
    ver=$(vm_newest_available "$series")
    if [[ -z $ver ]]; then
        vm_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        ver=$(vm_newest_available "$series")
    fi
    [[ -n $ver ]] || vm_die "apt knows no linux-image-$series.*-amd64 (bookworm-backports)"
    # The headers' own dependencies: the common headers and kbuild.
    pkgs=("linux-image-$ver" "linux-headers-$ver")
    pkgs+=($(apt-cache depends "linux-headers-$ver" |
        sed -n 's/^ *Depends: \(linux-\(headers\|kbuild\)-[^ ]*\)$/\1/p'))
    vm_log "getting Linux $ver: ${pkgs[*]}"
    mkdir -p "$VM_KERNEL_CACHE"
    tmp=$(mktemp -d "$VM_KERNEL_CACHE/.fetch.XXXXXX")
    root=$tmp/root
    if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "${pkgs[@]}" >&2); then
        # Lists older than the archive: the version is gone from it.
        vm_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "${pkgs[@]}" >&2) ||
            { rm -rf "$tmp"; vm_die "cannot download ${pkgs[*]}"; }
    fi
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$root"; done
    rm -f "$tmp"/*.deb
    # The headers' Makefile includes the common part by its installed path.
    sed -i "s|^include /usr/src/|include $VM_KERNEL_CACHE/$ver/usr/src/|" \
        "$root/usr/src/linux-headers-$ver/Makefile"
    depmod -b "$root" "$ver"
    touch "$root/.complete"
    rm -rf "${VM_KERNEL_CACHE:?}/$ver"
    mv "$root" "$VM_KERNEL_CACHE/$ver"
    rmdir "$tmp"
    KVER=$ver VM_ROOT=$VM_KERNEL_CACHE/$ver
    vm_log "Linux $ver is in $VM_ROOT"
}
