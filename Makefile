# Makefile for pgtls_audit, built with PGXS.
#
#   make [PG_CONFIG=/path/to/pg_config]     build the module
#   make install                            install it into that server
#   make installcheck                       pg_regress tests against a running
#                                           server (test/run sets one up)
#
# The full suite (packages, PKI, TLS clusters, pg_regress and TAP) is
# test/run; see README.md.

EXTENSION = pgtls_audit
MODULE_big = pgtls_audit
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script is assembled from the fragments in src/sql/, in file
# name order, so that each concern keeps its SQL next to its C code.
# Release 1.0's script is frozen; every later change to SQL objects goes into
# one upgrade script per release (see README, "Versions of the extension").
DATA = pgtls_audit--1.0.sql pgtls_audit--1.0--1.1.sql
DATA_built = pgtls_audit--1.1.sql
EXTRA_CLEAN = pgtls_audit--1.1.sql

REGRESS = $(basename $(notdir $(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --load-extension=pgtls_audit

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

PG_CPPFLAGS += -I$(srcdir)/src
override CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

# Link OpenSSL the way the server itself was linked (as contrib/sslinfo does).
SSL_LIBS := $(filter -lssl -lcrypto, $(LIBS))
ifeq ($(SSL_LIBS),)
SSL_LIBS := -lssl -lcrypto
endif
SHLIB_LINK += $(SSL_LIBS)

pgtls_audit--1.1.sql: $(sort $(wildcard src/sql/*.sql))
	cat $^ > $@
