# SPDX-License-Identifier: GPL-2.0
# Installing: included by the top-level Makefile.
#
# make install [PREFIX=/usr/local] [DESTDIR=...] installs, in parts that the
# Debian packages take one by one (packaging/deb/build-debs.sh):
#   install-lib    libexmap.so.1 (shared, soname, version script)
#   install-dev    <libexmap.h>, <linux/exmap.h>, libexmap.a, libexmap.so,
#                  libexmap.pc, man pages 3 and 4, the API documents
#   install-tools  test-exmap, exmap-demo and their man pages
#   install-udev   the udev rule that gives /dev/exmap to the group "exmap",
#                  docs/permissions.md, modules-load.d and modprobe.d
#                  examples
# make dkms-install (as root) puts the module's source in
# /usr/src/exmap-VERSION and has DKMS build and install it for every kernel
# with headers; it is rebuilt for each new kernel from then on.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/exmap
# udev reads rules from /etc (the administrator's) and /lib (packages'),
# never from under /usr/local.
UDEVRULESDIR ?= /etc/udev/rules.d
DKMSSRCDIR ?= /usr/src
INSTALL ?= install

INSTALLED_TOOLS := test-exmap exmap-demo

install: install-lib install-dev install-tools install-udev

install-lib: $(LIB)/libexmap.so
	$(INSTALL) -d $(DESTDIR)$(LIBDIR)
	$(INSTALL) -m 644 $(LIB)/$(LIBEXMAP_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf $(LIBEXMAP_SO) $(DESTDIR)$(LIBDIR)/$(LIBEXMAP_SONAME)

install-dev: $(LIB)/libexmap.a $(LIB)/libexmap.so man
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR)/linux $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man4 \
		$(DESTDIR)$(DOCDIR)/examples
	$(INSTALL) -m 644 include/linux/exmap.h $(DESTDIR)$(INCLUDEDIR)/linux/
	$(INSTALL) -m 644 tools/libexmap/libexmap.h $(DESTDIR)$(INCLUDEDIR)/
	$(INSTALL) -m 644 $(LIB)/libexmap.a $(DESTDIR)$(LIBDIR)/
	ln -sf $(LIBEXMAP_SONAME) $(DESTDIR)$(LIBDIR)/libexmap.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    tools/libexmap/libexmap.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/libexmap.pc
	cp -P $(MAN)/man3/*.3 $(DESTDIR)$(MANDIR)/man3/
	$(INSTALL) -m 644 $(MAN)/man4/exmap.4 $(DESTDIR)$(MANDIR)/man4/
	$(INSTALL) -m 644 docs/api.md docs/libexmap.md docs/design.md \
		$(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 644 tools/libexmap/example.c \
		$(DESTDIR)$(DOCDIR)/examples/libexmap-example.c

install-tools: $(addprefix $(BIN)/,$(INSTALLED_TOOLS)) $(MAN1)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 755 $(addprefix $(BIN)/,$(INSTALLED_TOOLS)) \
		$(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/

install-udev:
	$(INSTALL) -d $(DESTDIR)$(UDEVRULESDIR) \
		$(DESTDIR)$(DOCDIR)/examples/modules-load.d \
		$(DESTDIR)$(DOCDIR)/examples/modprobe.d
	$(INSTALL) -m 644 packaging/60-exmap.rules $(DESTDIR)$(UDEVRULESDIR)/
	$(INSTALL) -m 644 docs/permissions.md $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 644 packaging/modules-load.d/exmap.conf \
		$(DESTDIR)$(DOCDIR)/examples/modules-load.d/
	$(INSTALL) -m 644 packaging/modprobe.d/exmap.conf \
		$(DESTDIR)$(DOCDIR)/examples/modprobe.d/

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(LIBEXMAP_SO) \
	      $(DESTDIR)$(LIBDIR)/$(LIBEXMAP_SONAME) \
	      $(DESTDIR)$(LIBDIR)/libexmap.so $(DESTDIR)$(LIBDIR)/libexmap.a \
	      $(DESTDIR)$(PKGCONFIGDIR)/libexmap.pc \
	      $(DESTDIR)$(INCLUDEDIR)/libexmap.h \
	      $(DESTDIR)$(INCLUDEDIR)/linux/exmap.h \
	      $(DESTDIR)$(MANDIR)/man4/exmap.4 \
	      $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(wildcard $(MAN)/man3/*.3))) \
	      $(addprefix $(DESTDIR)$(BINDIR)/,$(INSTALLED_TOOLS)) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1))) \
	      $(DESTDIR)$(UDEVRULESDIR)/60-exmap.rules
	rm -rf $(DESTDIR)$(DOCDIR)

# The module's source as DKMS wants it: dkms.conf at the top, the module
# in exmap/, the UAPI header it includes in include/linux/.
DKMS_SRC = $(DESTDIR)$(DKMSSRCDIR)/exmap-$(VERSION)

install-dkms-src:
	rm -rf $(DKMS_SRC)
	$(INSTALL) -d $(DKMS_SRC)/exmap $(DKMS_SRC)/include/linux
	$(INSTALL) -m 644 exmap/*.c exmap/*.h exmap/Kbuild exmap/Makefile \
		$(DKMS_SRC)/exmap/
	$(INSTALL) -m 644 include/linux/exmap.h $(DKMS_SRC)/include/linux/
	sed 's/@VERSION@/$(VERSION)/' packaging/dkms.conf.in \
		>$(DKMS_SRC)/dkms.conf

# For a checkout on a real machine. dkms remove first: a repeat install of
# the same version must pick up changed sources.
dkms-install: install-dkms-src
	-dkms remove exmap/$(VERSION) --all >/dev/null 2>&1
	dkms add exmap/$(VERSION)
	@built=0; for k in /lib/modules/*; do \
		[ -e $$k/build/Makefile ] || continue; \
		echo "dkms install exmap/$(VERSION) -k $${k##*/}"; \
		dkms install exmap/$(VERSION) -k $${k##*/} || exit 1; \
		built=1; \
	done; [ $$built = 1 ] || { echo "dkms-install: no kernel with headers;" \
		"install linux-headers-$$(uname -r)" >&2; exit 1; }
	dkms status exmap

dkms-uninstall:
	-dkms remove exmap/$(VERSION) --all
	rm -rf $(DESTDIR)$(DKMSSRCDIR)/exmap-$(VERSION)

deb:
	packaging/deb/build-debs.sh

.PHONY: install install-lib install-dev install-tools install-udev uninstall \
	install-dkms-src dkms-install dkms-uninstall deb
