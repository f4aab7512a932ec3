# Makefile for pgtls_audit, built with PGXS.
#
#   make [PG_CONFIG=/path/to/pg_config]     build the module
#   make install                            install it into that server
#   make installcheck                       pg_regress tests against a running
#                                           server (test/run sets one up)
#
# VPATH builds work too: mkdir build && cd build && make -f ../Makefile.
# The full suite (packages, PKI, TLS clusters, pg_regress and TAP) is
# test/run; see README.md.  The in-process cost probe used by test/bench is
# a separate, test-only module in test/modules/pgtls_audit_cost_probe/,
# built and installed by test/run, never by this Makefile.

EXTENSION = pgtls_audit
MODULE_big = pgtls_audit
# Listed one by one (a wildcard of the build directory is empty in a VPATH
# build).  A new source file must be added here.
OBJS = \
	src/pgtls_audit.o \
	src/common/files.o \
	src/common/findings_list.o \
	src/common/hosts_file.o \
	src/common/settings.o \
	src/common/x509.o \
	src/audit/client_hello.o \
	src/audit/format.o \
	src/audit/hooks.o \
	src/audit/log_file.o \
	src/audit/offer.o \
	src/audit/record.o \
	src/audit/tls.o \
	src/inventory/inventory.o \
	src/inventory/inventory_lock.o \
	src/inventory/lru_table.o \
	src/inventory/persist.o \
	src/inventory/views.o \
	src/certs/cert_info.o \
	src/certs/key_check.o \
	src/certs/parse.o \
	src/certs/server_files.o \
	src/config/ciphers.o \
	src/config/findings.o \
	src/config/hba_analysis.o \
	src/config/hba_cover.o \
	src/config/hba_findings.o \
	src/config/hba_match.o \
	src/config/hba_parse.o \
	src/config/hba_redact.o \
	src/config/hba_rules.o \
	src/config/hosts_checks.o \
	src/config/ssl_checks.o

# The install script is assembled from one SQL fragment per folder, next to
# the C code it declares, in this order (later fragments use earlier ones).
SQL_FRAGMENTS = src/pgtls_audit.sql src/inventory/inventory.sql \
	src/certs/certs.sql src/config/findings.sql src/diagnose/diagnose.sql
# Release 1.0's script is frozen; every later change to SQL objects goes into
# one upgrade script per release (see README, "Versions of the extension").
DATA = pgtls_audit--1.0.sql pgtls_audit--1.0--1.1.sql
DATA_built = pgtls_audit--1.1.sql
EXTRA_CLEAN = pgtls_audit--1.1.sql

REGRESS = $(basename $(notdir $(sort $(wildcard $(srcdir)/sql/*.sql))))
REGRESS_OPTS = --load-extension=pgtls_audit

# Before including PGXS, which copies PG_CPPFLAGS into CPPFLAGS.
PG_CPPFLAGS = -I$(srcdir)/src

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

override CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

# Export nothing but what the server looks up (the SQL-callable functions,
# their pg_finfo records, _PG_init, the magic block): every module shares
# one address space, and PostgreSQL loads modules RTLD_GLOBAL.  PGXS does
# this from 16 on (CFLAGS_SL_MODULE); on 15 we add it, and src/pg_compat.h
# makes PGDLLEXPORT mean "default visibility".
ifeq ($(CFLAGS_SL_MODULE),)
ifeq ($(GCC),yes)
override CFLAGS += -fvisibility=hidden
endif
endif

# Link OpenSSL the way the server itself was linked (as contrib/sslinfo does).
SSL_LIBS := $(filter -lssl -lcrypto, $(LIBS))
ifeq ($(SSL_LIBS),)
SSL_LIBS := -lssl -lcrypto
endif
SHLIB_LINK += $(SSL_LIBS)

# A VPATH build compiles src/**/*.c into the same folders of the build
# directory.
ifneq ($(srcdir),.)
$(OBJS): | src-dirs
.PHONY: src-dirs
src-dirs:
	@mkdir -p $(sort $(dir $(OBJS)))
endif

pgtls_audit--1.1.sql: $(addprefix $(srcdir)/,$(SQL_FRAGMENTS))
	cat $^ > $@

# ---- release: the PGXN distribution and the Debian package (README,
# "Install").  The release version is META.json's "version" (its X.Y is
# default_version; test/lib/check_versions.sh checks that pgtls_audit.control,
# META.json, debian/changelog and the README agree).  `make dist` archives
# the committed tree at HEAD (not the work tree) into
# pgtls_audit-VERSION.zip, as PGXN wants it.  debian/ builds with
# dpkg-buildpackage through pg_buildext (VPATH builds in build-N/).
DIST_VERSION = $(shell perl -MJSON::PP -e 'local $$/; print decode_json(<>)->{version}' $(srcdir)/META.json)
DIST_ZIP = pgtls_audit-$(DIST_VERSION).zip
dist:
	git -C $(srcdir) archive --format=zip --prefix=pgtls_audit-$(DIST_VERSION)/ \
		-o $(abspath $(DIST_ZIP)) HEAD
	@echo $(DIST_ZIP)
.PHONY: dist
