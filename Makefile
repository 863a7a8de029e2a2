# feegate, for people: a thin wrapper over CMake. CI runs `make test` (see .ci/run).
#   make deps          install the missing Debian packages (root; prints the command otherwise)
#   make build         RelWithDebInfo into build/
#   make build-asan    AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/
#   make test          deps, format-check, both builds, every test (ctest) in both, tidy, fuzz
#   make fuzz          the libFuzzer targets (clang) into build-fuzz/, each run FUZZ_SECONDS (30)
#   make demo          the embedded database, the bank simulator and the gateway, in the foreground
#   make bench         the benchmark (bench/run.sh)
#   make format | format-check | tidy | clean
SHELL := /bin/bash
.DEFAULT_GOAL := build
.PHONY: deps build build-asan test test-build test-asan fuzz demo bench format format-check tidy clean

DEBIAN_PACKAGES := build-essential cmake pkg-config clang clang-tidy clang-format libevent-dev \
	libssl-dev libpq-dev postgresql-15 libprotobuf-c-dev protobuf-c-compiler libjansson-dev \
	libcmocka-dev libxml2-dev libxmlsec1-dev xmlsec1 libcairo2-dev libpango1.0-dev \
	libqrencode-dev libsodium-dev liboath-dev oathtool fonts-dejavu-core poppler-utils curl nodejs npm libclang-rt-14-dev chromium \
	haproxy

BUILD_DIR := build
ASAN_DIR := build-asan
FUZZ_DIR := build-fuzz
FUZZ_SECONDS ?= 30
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# Any sanitizer report ends the process with an error, and leaks are reported.
SANITIZER_ENV := ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	LSAN_OPTIONS=exitcode=23
CTEST := ctest --output-on-failure -j2
# Our C sources: everything but build trees, the node modules and var/.
C_FILES = $(shell find . \( -name 'build*' -o -name .git -o -name node_modules -o -name var \) -prune \
	-o -type f \( -name '*.c' -o -name '*.h' \) -print | sort)

# A package counts as present when dpkg says installed; npm also when the command exists
# (NodeSource's nodejs ships npm and conflicts with Debian's npm package).
deps:
	@if ! command -v dpkg-query >/dev/null 2>&1; then \
		echo "deps: not a Debian system; install the equivalents of: $(DEBIAN_PACKAGES)"; exit 0; \
	fi; \
	missing=""; \
	for p in $(DEBIAN_PACKAGES); do \
		if [ "$$p" = npm ] && command -v npm >/dev/null 2>&1; then \
			continue; \
		fi; \
		if ! dpkg-query -W -f='$${db:Status-Status}\n' "$$p" 2>/dev/null | grep -qx installed; then \
			missing="$$missing $$p"; \
		fi; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: every package is installed"; exit 0; fi; \
	echo "deps: missing:$$missing"; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "deps: run as root, or: sudo apt-get update && sudo apt-get install -y$$missing"; \
		exit 1; \
	fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q && apt-get install -y -q --no-install-recommends$$missing

build:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD_DIR) -j $(JOBS)

build-asan:
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=Debug -DFEEGATE_SANITIZE=ON
	cmake --build $(ASAN_DIR) -j $(JOBS)

# Sequential on purpose (also under make -j): the format check, the plain run, clang-tidy,
# the sanitized run, then the fuzzers, each even if an earlier one failed (every summary is worth
# reading); fails if any failed.
test: deps
	@status=0; \
	$(MAKE) --no-print-directory format-check || status=1; \
	$(MAKE) --no-print-directory test-build || status=1; \
	$(MAKE) --no-print-directory tidy || status=1; \
	$(MAKE) --no-print-directory test-asan || status=1; \
	$(MAKE) --no-print-directory fuzz || status=1; \
	if [ $$status != 0 ]; then echo "test: FAILED (see the ctest summaries above)"; fi; \
	exit $$status

test-build: build
	cd $(BUILD_DIR) && $(SANITIZER_ENV) $(CTEST)

test-asan: build-asan
	cd $(ASAN_DIR) && $(SANITIZER_ENV) $(CTEST)

# The parsers of outside bytes under libFuzzer + ASan + UBSan (tests/fuzz/), bounded in time.
fuzz:
	cmake -S . -B $(FUZZ_DIR) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DFEEGATE_FUZZ=ON \
		-DFEEGATE_TESTS=OFF -DFEEGATE_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_adapters fuzz_portal fuzz_form
	cd $(FUZZ_DIR) && $(SANITIZER_ENV) $(CTEST) -L fuzz

demo: deps
	$(MAKE) --no-print-directory build
	./$(BUILD_DIR)/gateway/feegate demo

bench: deps
	$(MAKE) --no-print-directory build
	bash bench/run.sh

format:
	clang-format -i $(C_FILES)

format-check:
	clang-format --dry-run --Werror $(C_FILES)

# .clang-tidy's checks as errors over every C file; two checks ratcheted against
# tests/tidy/baseline.txt (see tests/tidy/tidy.sh).
tidy: build
	bash tests/tidy/tidy.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
