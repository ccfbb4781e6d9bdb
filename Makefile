# Thin wrapper over scripts/ and CMake presets. The README's two commands: `make demo`, `make test`.
PRESET ?= release
JOBS ?= 2
PY ?= /usr/bin/python3
BUILD_DIR := build/$(PRESET)
BIN := $(BUILD_DIR)/bin/framering
DEMO_CONFIG ?= config/demo.yaml
DEMO_SECONDS ?=
# Where ccache is installed (not on a fresh machine, which needs nothing of it), compilations are
# cached by content with paths relative to this checkout, so a second clone of the same commit (CI's)
# rebuilds in seconds instead of minutes. A launcher chosen by the caller wins.
CCACHE := $(shell command -v ccache 2>/dev/null)
ifneq ($(CCACHE),)
export CMAKE_CXX_COMPILER_LAUNCHER ?= $(CCACHE)
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1
endif
# pytest runs the end-to-end suites against the preset's build: all of them for release and
# debug; under ASan+UBSan (several times slower) one suite per kind of process: libav decoding
# into slots (ingest files), a worker with each analytic (workers), the supervisor with restarts (run),
# the recorder muxing from the packet ring (recorder).
PYTEST_SUITES_release := tests
PYTEST_SUITES_debug := tests
PYTEST_SUITES_asan := tests/ingest/test_ingest_files.py tests/workers/test_workers_ingest.py tests/run/test_run.py \
  tests/recorder
PYTEST_SUITES ?= $(PYTEST_SUITES_$(PRESET))
# ASan in the processes the tests start: leaks fail them (LSan), reports name the file and line.
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
  LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: deps configure build test test-tsan demo bench chaos fuzz fresh-check minimal-check image format clean help

help:
	@echo "make deps | build | test [PRESET=release|debug|asan|tsan] | demo [DEMO_SECONDS=N] | bench [QUICK=1] | fresh-check | minimal-check | image | fuzz | chaos | format | clean"

deps:
	./scripts/deps.sh

configure: deps
	cmake --preset $(PRESET)

# build/bin points at the preset just built, so `build/bin/framering` (docs/design.md's path) works.
build: configure
	cmake --build --preset $(PRESET) -j $(JOBS)
	ln -sfn $(PRESET)/bin build/bin

# C++ tests (ctest) and then Python tests (pytest) against the same build; ctest's summary last.
test: build
	@if [ -n "$(PYTEST_SUITES)" ]; then \
	  $(if $(filter asan,$(PRESET)),$(SAN_ENV)) FRAMERING_BIN=$(abspath $(BIN)) PYTHONPATH=$(abspath python) \
	    $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_SUITES); \
	fi
	ctest --preset $(PRESET)

# ThreadSanitizer over the threaded parts (only the tsan-labelled tests): the ring's thread
# stress test, ReaderGate, the metrics HTTP server under parallel scrapes, the supervisor.
TSAN_TARGETS := ringbuf_thread_test reader_gate_test metrics_concurrency_test run_test
test-tsan: deps
	cmake --preset tsan
	cmake --build --preset tsan -j $(JOBS) --target $(TSAN_TARGETS)
	ctest --preset tsan

demo: build
	FRAMERING_DEMO_SECONDS=$(DEMO_SECONDS) ./scripts/demo.sh $(BIN) $(DEMO_CONFIG)

bench: build
	QUICK=$(QUICK) ./scripts/bench.sh $(BUILD_DIR)

# 100 random kill -9 / SIGSTOP actions on a running pipeline, then the checks (tests/reliability/chaos.py).
chaos: build
	$(PY) tests/reliability/chaos.py --bin $(abspath $(BIN)) --actions $(or $(ACTIONS),100)

# Bounded libFuzzer runs, FUZZ_SECONDS (default 60) per target (clang `fuzz` preset).
fuzz:
	./tests/fuzz/run_fuzzers.sh $(or $(FUZZ_SECONDS),60)

# The release image's configuration: the binary alone, without GTest, Google Benchmark or ZeroMQ.
minimal-check: deps
	./scripts/check-minimal-build.sh

# The README's two commands on a minimal Debian 12 root made with debootstrap (needs root; ~15 min).
fresh-check:
	./scripts/fresh-check.sh

# framering:<version> and the camera simulator image from deploy/ (podman, or docker; as root it
# installs and configures podman and makes debian:bookworm locally where no registry answers).
image:
	./scripts/image.sh

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	rm -rf build
