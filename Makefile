# gazeloc: one Makefile for the whole house.
#
#   make            libraries and every program under apps/          (build/bin/gazeloc-*)
#   make test       builds and runs every Check suite (SUITE=name runs the suites whose name starts so)
#   make bench      gazeloc-bench: ours beside PyTorch, measured in the same run; then tools/bench_mpi.sh
#   make bench-mpi  data-parallel training: step time and scaling on 1 and 2 ranks (docs/mpi.md)
#   make demo       the main job on the synthetic default
#   make deps       installs the Debian packages the project needs (only those missing)
#   make install    PREFIX=/usr/local: programs, headers and libraries
#   switches        SANITIZE=1 (ASan+UBSan), DEBUG=1 (-O0), CUDA=1 (tensor/cuda with nvcc),
#                   MPI=1 / MPI=0 (dist/ over Open MPI or serial; default: 1 where mpicc is found)
#
# Layout: each module folder (base, labeler, gaze, tensor, autograd, nn, data, eval) is one static
# library with one public header <module>/<module>.h. Files named *_avx2.c and *_avx512.c are compiled
# with their own ISA flags; everything else targets baseline x86-64, and the code picks a path at run
# time (base/cpu.c), so one build runs on every machine of a cluster.

PREFIX ?= /usr/local
PYTHON ?= /usr/bin/python3
CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif

# Modules from the bottom up; a module may use only the ones before it (gaze, labeler and dist stand on
# base alone).
MODULES := base dist labeler gaze tensor autograd nn data eval
LINK_ORDER := eval data nn autograd tensor gaze labeler dist base

# dist/ (data-parallel training, docs/mpi.md): dist/mpi.c over Open MPI with mpicc's flags, or dist/serial.c
# (one process). Only dist/mpi.c sees the MPI headers; programs link the library where they use it.
MPI ?= $(if $(shell command -v mpicc 2>/dev/null),1,0)
ifeq ($(MPI),1)
MPI_CFLAGS := $(shell mpicc --showme:compile)
MPI_LIBS := -Wl,--push-state,--as-needed $(shell mpicc --showme:link) -Wl,--pop-state
DIST_OUT := dist/serial.c
else
DIST_OUT := dist/mpi.c
endif

BUILD := build/release
OPT := -O3
ifeq ($(DEBUG),1)
BUILD := build/debug
OPT := -O0
endif
ifeq ($(SANITIZE),1)
BUILD := build/sanitize
OPT := -O1
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

PKGS := hwloc libcjson libxxhash stb
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lhwloc -lcjson -lxxhash -lstb)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lpthread)

CPPFLAGS := -I. -D_DEFAULT_SOURCE $(PKG_CFLAGS)
CFLAGS := -std=c11 $(OPT) -g -Wall -Wextra -Werror -fopenmp -MMD -MP $(SAN)
LDLIBS := $(PKG_LIBS) $(MPI_LIBS) -lm
LDFLAGS := -fopenmp $(SAN)

ISA_avx2 := -mavx2 -mfma
ISA_avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mprefer-vector-width=512

# ---------------------------------------------------------------- sources

module_src = $(filter-out $(1)/cuda/% $(DIST_OUT),$(wildcard $(1)/*.c $(1)/*/*.c))
LIB = $(BUILD)/lib/libgazeloc_$(1).a
ALL_LIBS := $(foreach m,$(LINK_ORDER),$(if $(call module_src,$(m)),$(call LIB,$(m))))

# apps/NAME.c -> gazeloc-NAME; apps/NAME/*.c -> gazeloc-NAME (several files)
APP_SINGLE := $(basename $(notdir $(wildcard apps/*.c)))
APP_MULTI := $(notdir $(patsubst %/,%,$(dir $(wildcard apps/*/*.c))))
APPS := $(sort $(APP_SINGLE) $(APP_MULTI))
APP_BINS := $(APPS:%=$(BUILD)/bin/gazeloc-%)

TEST_SRC := tests/main.c $(wildcard tests/*/*.c)
TEST_BIN := $(BUILD)/bin/gazeloc-tests

.PHONY: all libs test bench bench-mpi demo deps clean install check-cuda
all: check-cuda $(ALL_LIBS) $(APP_BINS)
libs: $(ALL_LIBS)

# ---------------------------------------------------------------- rules

$(BUILD)/obj/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ISA_avx2) -c $< -o $@

$(BUILD)/obj/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ISA_avx512) -c $< -o $@

$(BUILD)/obj/dist/mpi.o: dist/mpi.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(MPI_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests -I$(BUILD)/gen $(CHECK_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -I$(BUILD)/gen $(CFLAGS) -c $< -o $@

define module_rule
$(call LIB,$(1)): $(patsubst %.c,$(BUILD)/obj/%.o,$(call module_src,$(1)))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$(filter %.o,$$^)
endef
$(foreach m,$(MODULES),$(if $(call module_src,$(m)),$(eval $(call module_rule,$(m)))))

# The MPI switch is recorded, so that changing it rebuilds the dist archive (and relinks the programs).
$(BUILD)/gen/mpi.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo "MPI=$(MPI)" > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp
$(call LIB,dist): $(BUILD)/gen/mpi.stamp
FORCE:

define app_rule
$(BUILD)/bin/gazeloc-$(1): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard apps/$(1).c apps/$(1)/*.c)) $(ALL_LIBS)
	@mkdir -p $$(dir $$@)
	$(CC) $(LDFLAGS) -o $$@ $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard apps/$(1).c apps/$(1)/*.c)) $(ALL_LIBS) $(LDLIBS)
endef
$(foreach a,$(APPS),$(eval $(call app_rule,$(a))))

# Suites and benchmarks register themselves: every `Suite *suite_NAME(void)` under tests/ and every
# `void bench_NAME(bench_ctx *)` under apps/bench/ is listed in a generated file, so adding one never
# means editing a shared list.
$(BUILD)/gen/suites.inc: $(wildcard tests/*/*.c)
	@mkdir -p $(dir $@)
	@grep -ho '^Suite \*suite_[a-z0-9_]*(void)' $^ /dev/null | sed 's/^Suite \*suite_\([a-z0-9_]*\)(void)/SUITE(\1)/' | sort -u > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp

$(BUILD)/gen/benches.inc: $(wildcard apps/bench/*.c)
	@mkdir -p $(dir $@)
	@grep -ho '^void bench_[a-z0-9_]*(bench_ctx \*[a-z]*)' $^ /dev/null | sed 's/^void bench_\([a-z0-9_]*\)(.*/BENCH(\1)/' | sort -u > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp

$(BUILD)/obj/tests/main.o: $(BUILD)/gen/suites.inc
$(BUILD)/obj/apps/bench/main.o: $(BUILD)/gen/benches.inc

$(TEST_BIN): $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SRC)) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SRC)) $(ALL_LIBS) $(CHECK_LIBS) $(LDLIBS)

# ---------------------------------------------------------------- jobs

deps:
	@sh tools/deps.sh

# The tests find the tools/ oracles and ../shared through these variables. Under the sanitizers the
# suites run slower, so Check's timeouts are stretched.
TEST_ENV := GAZELOC_ROOT=$(CURDIR) GAZELOC_PYTHON=$(PYTHON) GAZELOC_BIN=$(CURDIR)/$(BUILD)/bin
ifeq ($(SANITIZE),1)
TEST_ENV += CK_TIMEOUT_MULTIPLIER=4 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
endif

test: deps
	@$(MAKE) --no-print-directory all $(TEST_BIN)
	$(TEST_ENV) $(TEST_BIN) $(SUITE)

# PyTorch's figures come from Debian's python3-torch over OpenBLAS. The machine's environment may set
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (work-arounds for old OpenBLAS builds) that slow a current one:
# the benchmarks run without them (tests keep the environment as it is).
bench: deps
	@$(MAKE) --no-print-directory all
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(TEST_ENV) $(BUILD)/bin/gazeloc-bench $(BENCH)
	@if [ -z "$(BENCH)" ]; then $(TEST_ENV) sh tools/bench_mpi.sh $(BUILD)/bin; fi

# Data-parallel training alone (tools/bench_mpi.sh, docs/mpi.md "Scaling").
bench-mpi: deps
	@$(MAKE) --no-print-directory all
	$(TEST_ENV) sh tools/bench_mpi.sh $(BUILD)/bin

demo: deps
	@$(MAKE) --no-print-directory all
	$(TEST_ENV) sh tools/demo.sh $(BUILD)/bin

check-cuda:
ifeq ($(CUDA),1)
	@if [ ! -d tensor/cuda ]; then echo "CUDA=1: the CUDA backend (tensor/cuda/) does not exist yet; build without CUDA=1." >&2; exit 1; fi
	@command -v nvcc >/dev/null || { echo "CUDA=1: nvcc not found on PATH" >&2; exit 1; }
endif

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/gazeloc
	install -m 755 $(APP_BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(ALL_LIBS) $(DESTDIR)$(PREFIX)/lib/
	for m in $(MODULES); do if [ -f $$m/$$m.h ]; then install -d $(DESTDIR)$(PREFIX)/include/gazeloc/$$m && install -m 644 $$m/*.h $(DESTDIR)$(PREFIX)/include/gazeloc/$$m/; fi; done
	# the labeler's rule files, where gazeloc-label looks for them after installation
	cd labeler/rules && find . -type f -name '*.txt' -exec install -D -m 644 {} $(DESTDIR)$(PREFIX)/share/gazeloc/labeler/rules/{} \;

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
