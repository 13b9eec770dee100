# loopspec: conformance and benchmark suite for asyncio-style event loops.
#
#   make report   conformance and benchmarks on every implementation here, the
#                 model on every case, plots: results/report.md and .html
#   make check    the tests: unit tests, the model on every case under ASan
#                 and UBSan, the harness's own tests
#   make deps     install what is missing (Debian packages, npm packages, the
#                 loops from PyPI in harness/.venv)
#   make install  bin/loopspec, bin/loopspec-model and the harness, adapters,
#                 cases and expectation files under $(PREFIX) (and $(DESTDIR))

PYTHON  := /usr/bin/python3
CC      ?= cc
CFLAGS  ?= -O2
WARN    := -std=c11 -Wall -Wextra -Wno-unused-parameter
SAN     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

SRC     := $(sort $(wildcard model/src/*.c))
HDR     := $(wildcard model/src/*.h)
LIBSRC  := $(filter-out model/src/main.c,$(SRC))
TESTS   := $(sort $(wildcard model/tests/check_*.c))

REL     := model/build/release
ASN     := model/build/asan
GEN     := model/build/gen
REL_OBJ := $(patsubst model/src/%.c,$(REL)/%.o,$(SRC))
ASN_OBJ := $(patsubst model/src/%.c,$(ASN)/%.o,$(SRC))
ASN_LIB := $(filter-out $(ASN)/main.o,$(ASN_OBJ))
TEST_BIN := $(patsubst model/tests/%.c,$(ASN)/%,$(TESTS))

MODEL   := model/loopspec-model
MODEL_ASAN := $(ASN)/loopspec-model

.PHONY: all deps model install uninstall check unit-tests model-cases harness-tests report bench-model clean floor \
        fuzz-parser fuzz-run

all: model

model: $(MODEL)

deps:
	@sh tools/deps.sh

$(REL)/%.o: model/src/%.c $(HDR) $(GEN)/prelude.inc | $(REL)
	$(CC) $(WARN) $(CFLAGS) -I$(GEN) -DNDEBUG -c $< -o $@

$(ASN)/%.o: model/src/%.c $(HDR) $(GEN)/prelude.inc | $(ASN)
	$(CC) $(WARN) $(SAN) -I$(GEN) -c $< -o $@

# The prelude's source text as a C string literal.
$(GEN)/prelude.inc: model/src/prelude.aio | $(GEN)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@

$(REL) $(ASN) $(GEN):
	mkdir -p $@

$(MODEL): $(REL_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ -lm

$(MODEL_ASAN): $(ASN_OBJ)
	$(CC) $(SAN) -o $@ $^ -lm

$(ASN)/check_%: model/tests/check_%.c $(ASN_LIB) $(HDR) model/tests/testutil.h model/tests/observed.h
	$(CC) $(WARN) $(SAN) -Imodel/src $(shell pkg-config --cflags check) -o $@ $< $(ASN_LIB) \
	    $(shell pkg-config --libs check) -lm

unit-tests: $(TEST_BIN)
	@set -e; for t in $(TEST_BIN); do CK_VERBOSITY=normal ./$$t; done

model-cases: $(MODEL_ASAN)
	$(MODEL_ASAN) check --all-profiles -q cases model/tests/programs
	@echo "the same cases with a collection at every safe point, explained:"
	LOOPSPEC_GC_STRESS=1 $(MODEL_ASAN) check --all-profiles --explain -q model/tests/programs \
	    $(filter-out cases/bench/,$(sort $(wildcard cases/*/)))

harness-tests: $(MODEL)
	$(PYTHON) -m pytest -q harness/tests tools/tests

check: deps
	@$(MAKE) --no-print-directory unit-tests model-cases harness-tests

# The report (tools/make_report.py): conformance, benchmarks, timer latency,
# whole-process times and plots on every implementation installed here;
# results/report.md and results/report.html.
report: deps
	@$(MAKE) --no-print-directory model floor
	@$(PYTHON) tools/make_report.py

# The C floor of a sleep(0) switch (tools/floor.c), for the report.
FLOOR := model/build/floor
floor: $(FLOOR)

$(FLOOR): tools/floor.c
	@mkdir -p model/build
	$(CC) $(WARN) $(CFLAGS) -o $@ $<

# The model against its targets (tools/targets.py): the benchmark cases on
# the model and cpython-3.11, the C floor, a million pending tasks, the
# fuzzer's rate, the per-case overhead, the conformance run, callgrind.
bench-model: deps
	@$(MAKE) --no-print-directory model floor
	@$(PYTHON) tools/targets.py

# The suite on every implementation installed here (harness/loopspec): JSON,
# JUnit and the matrix under results/; fails when a result differs from
# results/expectations/.
.PHONY: conformance
conformance: deps
	@$(MAKE) --no-print-directory model
	@mkdir -p results
	@status=0; $(PYTHON) harness/loopspec run --impl all --json results/conformance.json \
	    --junit results/conformance.xml cases > results/conformance.txt || status=$$?; \
	cat results/conformance.txt; exit $$status

# Coverage-guided fuzzing (clang's libFuzzer): FUZZ_SECONDS each, corpus
# kept in model/fuzz/corpus-*, seeded from cases/.
FUZZ_SECONDS ?= 60
FUZZ_CC := clang
FUZZ_FLAGS := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I$(GEN) -Imodel/src
FUZZ_SRC := $(LIBSRC)

model/build/fuzz_%: model/fuzz/fuzz_%.c $(FUZZ_SRC) $(HDR) $(GEN)/prelude.inc
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_SRC) -lm

fuzz-parser fuzz-run: fuzz-%: model/build/fuzz_%
	@mkdir -p model/fuzz/corpus-$*
	@cp -n $$(find cases model/tests/programs -name '*.case') model/fuzz/regressions/* model/fuzz/corpus-$*/ 2>/dev/null || true
	@if [ -d model/fuzz/corpus/$* ]; then cp -n model/fuzz/corpus/$*/* model/fuzz/corpus-$*/ 2>/dev/null || true; fi
	model/build/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -timeout=10 \
	    -rss_limit_mb=2048 model/fuzz/corpus-$*

# Installation: PREFIX/bin/loopspec (a wrapper running the installed
# harness on Debian's Python), PREFIX/bin/loopspec-model, and under
# PREFIX/share/loopspec the harness with its adapters and Node packages,
# the cases and the expectation files.  DESTDIR stages it for packagers.
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(DESTDIR)$(PREFIX)/bin
SHAREDIR := $(PREFIX)/share/loopspec
DATADIR := $(DESTDIR)$(SHAREDIR)
HARNESS_FILES := casekit adapters loopspec observe ADAPTERS.md package.json \
                 package-lock.json requirements.lock
TAR_EXCLUDE := --exclude=__pycache__ --exclude='*.pyc'

install: $(MODEL)
	install -d $(BINDIR) $(DATADIR)/harness $(DATADIR)/cases $(DATADIR)/results/expectations
	install -m 755 $(MODEL) $(BINDIR)/loopspec-model
	tar -C harness $(TAR_EXCLUDE) -cf - $(HARNESS_FILES) \
	    $$(test -d harness/node_modules && echo node_modules) | tar -C $(DATADIR)/harness -xf -
	tar -C cases $(TAR_EXCLUDE) -cf - . | tar -C $(DATADIR)/cases -xf -
	install -m 644 results/expectations/*.txt $(DATADIR)/results/expectations/
	printf '#!/bin/sh\nexec $(PYTHON) %s/harness/loopspec "$$@"\n' '$(SHAREDIR)' > $(BINDIR)/loopspec
	chmod 755 $(BINDIR)/loopspec
	@echo "installed: $(BINDIR)/loopspec, $(BINDIR)/loopspec-model, $(DATADIR)"

uninstall:
	rm -f $(BINDIR)/loopspec $(BINDIR)/loopspec-model
	rm -rf $(DATADIR)

clean:
	rm -rf model/build $(MODEL)
