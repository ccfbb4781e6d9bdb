# Thin wrapper over scripts/ and CMake presets. The README's two commands: `make demo`, `make test`.
PRESET ?= release
JOBS ?= 2
PY ?= /usr/bin/python3
BUILD_DIR := build/$(PRESET)
BIN := $(BUILD_DIR)/bin/framering
DEMO_CONFIG ?= config/demo.yaml
DEMO_SECONDS ?=
# pytest runs against the release build; the sanitizer presets run ctest only.
PYTEST ?= $(if $(filter release,$(PRESET)),1,0)

.PHONY: deps configure build test test-tsan demo bench chaos fuzz fresh-check image format clean help

help:
	@echo "make deps | build | test [PRESET=release|debug|asan|tsan] | demo [DEMO_SECONDS=N] | bench [QUICK=1] | fresh-check | image | fuzz | chaos | format | clean"

deps:
	./scripts/deps.sh

configure: deps
	cmake --preset $(PRESET)

# build/bin points at the preset just built, so `build/bin/framering` (DESIGN.md's path) works.
build: configure
	cmake --build --preset $(PRESET) -j $(JOBS)
	ln -sfn $(PRESET)/bin build/bin

# C++ tests (ctest) and then Python tests (pytest) against the same build; ctest's summary last.
test: build
	@if [ "$(PYTEST)" = 1 ]; then \
	  FRAMERING_BIN=$(abspath $(BIN)) PYTHONPATH=$(abspath python) $(PY) -m pytest -q -p no:cacheprovider tests; \
	fi
	ctest --preset $(PRESET)

# The thread-based ring stress test under ThreadSanitizer (only the tsan-labelled tests).
test-tsan: deps
	cmake --preset tsan
	cmake --build --preset tsan -j $(JOBS) --target ringbuf_thread_test
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
