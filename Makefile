# Makefile for the crm extension (PGXS)

EXTENSION = crm
EXTVERSION = 0.3.0

MODULE_big = crm
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
HEADERS = $(wildcard src/*.h)

# The install script is built from its parts in sql/install/, in this
# order: each part needs only what the parts before it create.
INSTALL_PARTS = $(addprefix sql/install/, \
	00_header.sql \
	10_clients.sql \
	15_fast_path.sql \
	20_catalog.sql \
	30_orders.sql \
	40_incidents.sql \
	50_interactions.sql \
	60_client_card.sql \
	70_profile.sql \
	71_rfm.sql \
	72_segments.sql \
	73_rfm_scores.sql \
	74_abc.sql \
	75_cross_sell.sql \
	76_churn.sql \
	77_churn_refresh.sql \
	78_churn_contact.sql \
	79_profiles.sql \
	80_clv.sql \
	80_clv_models.sql \
	80_clv_validation.sql \
	81_loyalty.sql \
	82_loyalty_fast.sql \
	83_loyalty_jobs.sql \
	84_loyalty_ops.sql \
	84_loyalty_households.sql \
	85_loyalty_verify.sql \
	86_discount.sql \
	87_discount_price.sql \
	88_discount_record.sql \
	89_pricing_cache.sql \
	89_service_levels.sql \
	90_dump.sql \
	91_staff.sql \
	93_jobs.sql \
	95_security.sql \
	97_distribute.sql)
ifneq ($(sort $(INSTALL_PARTS)),$(sort $(wildcard sql/install/*.sql)))
$(error sql/install/ and INSTALL_PARTS in the Makefile list different files)
endif
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

# crm_demo, the demo data generator, is an extension of its own (demo/):
# built, installed and cleaned with crm
.PHONY: demo demo-install demo-clean
all: demo
install: demo-install
clean: demo-clean
demo:
	$(MAKE) -C demo PG_CONFIG=$(PG_CONFIG)
demo-install:
	$(MAKE) -C demo PG_CONFIG=$(PG_CONFIG) install
demo-clean:
	$(MAKE) -C demo PG_CONFIG=$(PG_CONFIG) clean

# Everything: build, install, then pg_regress, isolation and pgTAP in a throwaway cluster.
.PHONY: test prove
test: all
	$(MAKE) install
	test/run-all

# pgTAP tests only, against the server in PGHOST/PGPORT.
prove:
	pg_prove --ext .sql -r test/pgtap
