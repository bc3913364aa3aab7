# Thin wrapper over CMake; see README.md. `make test` is what CI runs.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
PORT       ?= 8080

.PHONY: all build run test unit integration lint bench fuzz clean deps

all: build

deps:
	@bash scripts/deps.sh

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRT_TESTS=OFF >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: deps build
	@mkdir -p data
	./$(BUILD)/realtime serve --listen 0.0.0.0:$(PORT) --data ./data

$(ASAN_BUILD)/realtime: FORCE
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRT_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
FORCE:

test: deps lint $(ASAN_BUILD)/realtime
	bash scripts/check-symbols.sh $(ASAN_BUILD)/librt.a
	cd $(ASAN_BUILD) && ctest --output-on-failure
	@# Skips and optional pass rates are printed by the tests; CTest hides
	@# the output of passing tests, so show those lines here.
	@grep -hE "SKIPPED|^draft[0-9-]+ (required|optional)" $(ASAN_BUILD)/Testing/Temporary/LastTest.log || true
	bash scripts/integration.sh $(ASAN_BUILD)/realtime

unit: $(ASAN_BUILD)/realtime
	cd $(ASAN_BUILD) && ctest --output-on-failure

integration: $(ASAN_BUILD)/realtime
	bash scripts/integration.sh $(ASAN_BUILD)/realtime

lint:
	bash scripts/check-format.sh

bench: deps build
	bash bench/run.sh $(BUILD)/realtime

fuzz:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRT_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	bash scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
