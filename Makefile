# Makefile for the crm extension (PGXS)

EXTENSION = crm
EXTVERSION = 0.3.0

MODULE_big = crm
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
HEADERS = $(wildcard src/*.h)

# The install script is built from its parts in sql/install/, in name order.
INSTALL_PARTS = $(sort $(wildcard sql/install/*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
# Released versions keep their full install script, frozen as shipped, and
# every upgrade step sql/crm--A--B.sql is installed beside them.
DATA = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))

# pg_regress inputs: every sql/*.sql that is not an install or upgrade script.
REGRESS = $(sort $(patsubst sql/%.sql,%,$(filter-out sql/$(EXTENSION)--%,$(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION) --dbname=crm_regression

# isolation specs
ISOLATION = $(sort $(patsubst test/isolation/specs/%.spec,%,$(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=$(EXTENSION) --dbname=crm_isolation

PG_CFLAGS = -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -Wno-missing-field-initializers

EXTRA_CLEAN = regression.diffs regression.out results output_iso tmp_check

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(INSTALL_PARTS)
	cat $^ > $@

# Everything: build, install, then pg_regress, isolation and pgTAP in a throwaway cluster.
.PHONY: test prove
test: all
	$(MAKE) install
	test/run-all

# pgTAP tests only, against the server in PGHOST/PGPORT.
prove:
	pg_prove --ext .sql -r test/pgtap
