#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make deb: the Debian packages, in build/deb/, from this tree:
#   exmap-dkms    the module's source for DKMS, the udev rule, the group
#   libexmap1     the shared library
#   libexmap-dev  headers, static library, libexmap.so, libexmap.pc,
#                 man pages 3 and 4, the API documents
#   exmap-tools   test-exmap, exmap-demo, man pages 1
# Built with Debian's compiler flags in build/deb/build/, installed with
# `make install-*` into one root per package, then dpkg-shlibdeps,
# dpkg-gensymbols, dpkg-gencontrol and dpkg-deb; finally lintian, which
# must report no error. A native package: the version is VERSION's.
#
# Environment: EXMAP_DEB_MAINTAINER (the Maintainer field),
# EXMAP_DEB_LINTIAN=0 to skip lintian.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
VERSION=$(cat VERSION)
MAINTAINER=${EXMAP_DEB_MAINTAINER:-exmap developers <exmap@example.org>}
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
OUT=$REPO/build/deb
WORK=$OUT/work
PKGS=(exmap-dkms libexmap1 libexmap-dev exmap-tools)

log() { printf 'make deb: %s\n' "$*" >&2; }

rm -rf "$OUT"
mkdir -p "$WORK/debian"

# What dpkg-gencontrol and dpkg-shlibdeps read: a source tree's debian/.
sed "s|@MAINTAINER@|$MAINTAINER|" packaging/deb/control >"$WORK/debian/control"
# The changelog of a native package: one entry for this version, dated by
# the last commit so that the same tree builds the same packages.
date=$(git log -1 --format=%cD 2>/dev/null || date -R)
changelog() {
	printf 'exmap (%s) unstable; urgency=medium\n\n' "$VERSION"
	printf '  * Built from %s.\n\n' \
		"$(git describe --always --dirty 2>/dev/null || echo "exmap $VERSION")"
	printf ' -- %s  %s\n' "$MAINTAINER" "$date"
}
changelog >"$WORK/debian/changelog"
SOURCE_DATE_EPOCH=$(date -d "$date" +%s)
export SOURCE_DATE_EPOCH

# Debian's hardening flags, in a build directory of their own; the
# Makefile appends its own flags to these.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
export CFLAGS LDFLAGS
B=$OUT/build
log "building with dpkg-buildflags in $B"
make -s BUILD="$B" "$B/lib/libexmap.so" "$B/lib/libexmap.a" \
	"$B/bin/test-exmap" "$B/bin/exmap-demo" man

inst() { # PACKAGE make-target...
	local pkg=$1
	shift
	make -s BUILD="$B" DESTDIR="$WORK/debian/$pkg" PREFIX=/usr \
		LIBDIR="/usr/lib/$MA" DOCDIR="/usr/share/doc/$pkg" \
		UDEVRULESDIR=/lib/udev/rules.d "$@"
}
inst exmap-dkms install-dkms-src install-udev
inst libexmap1 install-lib
inst libexmap-dev install-dev
inst exmap-tools install-tools
# The -dev package's libexmap.so points at the runtime package's library.
rm -f "$WORK/debian/libexmap-dev/usr/lib/$MA/libexmap.so."*

for pkg in "${PKGS[@]}"; do
	root=$WORK/debian/$pkg
	doc=$root/usr/share/doc/$pkg
	mkdir -p "$doc"
	install -m 644 packaging/deb/copyright "$doc/copyright"
	gzip -9n <"$WORK/debian/changelog" >"$doc/changelog.gz"
	# Man pages compressed, their alias links pointing at the .gz.
	if [[ -d $root/usr/share/man ]]; then
		find "$root/usr/share/man" -type f -name '*.[1-9]' -exec gzip -9n {} +
		find "$root/usr/share/man" -type l -name '*.[1-9]' | while read -r l; do
			ln -sf "$(readlink "$l").gz" "$l.gz"
			rm "$l"
		done
	fi
	# Binaries without debugging information (no -dbgsym package).
	find "$root" -type f \( -name '*.so*' -o -perm -u+x \) | while read -r f; do
		file -b "$f" | grep -q '^ELF' || continue
		case $f in
		*.so*) strip --remove-section=.comment --remove-section=.note \
			--strip-unneeded "$f" ;;
		*) strip --remove-section=.comment --remove-section=.note "$f" ;;
		esac
	done
	find "$root" -name '*.a' -exec strip --strip-debug --remove-section=.comment \
		--remove-section=.note --enable-deterministic-archives {} +
done

# The package roots are debian/PACKAGE, where the dpkg tools look.
cd "$WORK"
mkdir -p "${PKGS[@]/#/debian/}"
cd debian
for pkg in "${PKGS[@]}"; do mkdir -p "$pkg/DEBIAN"; done
# libexmap1: shlibs and symbols files; the others' dependencies.
(cd .. && dpkg-gensymbols -plibexmap1 -Pdebian/libexmap1 -q)
sed -i '1a* Build-Depends-Package: libexmap-dev' libexmap1/DEBIAN/symbols
echo "libexmap 1 libexmap1 (>= $VERSION)" >libexmap1/DEBIAN/shlibs
(cd .. && dpkg-shlibdeps -Tdebian/libexmap1.substvars \
	debian/libexmap1/usr/lib/"$MA"/libexmap.so.1.*)
(cd .. && dpkg-shlibdeps -Tdebian/exmap-tools.substvars \
	debian/exmap-tools/usr/bin/*)

for pkg in "${PKGS[@]}"; do
	case $pkg in
	exmap-dkms)
		for s in postinst prerm; do
			sed "s/@VERSION@/$VERSION/" "$REPO/packaging/deb/exmap-dkms.$s" \
				>"$pkg/DEBIAN/$s"
			chmod 755 "$pkg/DEBIAN/$s"
		done ;;
	libexmap1)
		printf 'activate-noawait ldconfig\n' >"$pkg/DEBIAN/triggers" ;;
	esac
	# md5sums of every file, as dpkg and debsums expect.
	(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' |
		LC_ALL=C sort -z | xargs -0r md5sum >DEBIAN/md5sums)
	[[ -s $pkg/DEBIAN/md5sums ]] || rm "$pkg/DEBIAN/md5sums"
	subst=()
	[[ -f $pkg.substvars ]] && subst=(-Tdebian/"$pkg".substvars)
	(cd .. && dpkg-gencontrol -p"$pkg" -Pdebian/"$pkg" "${subst[@]}" \
		-Vmisc:Depends= -fdebian/files)
	# Owned by root whoever builds it, with dpkg's usual modes.
	find "$pkg" -type d -exec chmod 755 {} +
	dpkg-deb --root-owner-group -Zxz --build "$pkg" "$OUT" >/dev/null
done

cd "$OUT"
debs=()
for pkg in "${PKGS[@]}"; do debs+=("$(ls "$pkg"_"$VERSION"_*.deb)"); done
log "built ${debs[*]}"
if [[ ${EXMAP_DEB_LINTIAN:-1} != 0 ]]; then
	# Errors fail the build; warnings are shown.
	lintian --fail-on error --tag-display-limit 0 "${debs[@]}" >&2
	log "lintian: no errors"
fi
