# The two commands a newcomer runs (README.md): `make demo` and `make test`.
# Both install what is missing, configure with the `ci` preset (build/), build, then run.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD := build

.PHONY: demo test deps python build package bench fuzz asan clean gpu-bundle gpu-check

deps:
	@bash scripts/install-deps.sh

python: deps
	@bash scripts/setup-python.sh $(BUILD)

build: deps
	@cmake --preset ci >/dev/null
	@cmake --build --preset ci -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

# The .deb and the relocatable tarball, into build/packages/ (cmake/package.cmake; README "Install").
package: build
	@bash scripts/package.sh $(BUILD)

test: build python
	@ctest --preset ci -j $(JOBS)

bench: deps
	@bash bench/run.sh

fuzz: deps
	@bash scripts/fuzz.sh

asan: deps
	@bash scripts/setup-python.sh $(BUILD)/asan
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	@ctest --preset asan -j $(JOBS)

# The GPU proof kit (docs/cuda.md): gpu-bundle here (needs apt), gpu-check on the GPU machine
# (offline; GPU_CHECK_ARGS="--bundle DIR" or "--dry-run").
gpu-bundle:
	@bash scripts/gpu-bundle.sh

gpu-check:
	@bash scripts/gpu-check.sh $(GPU_CHECK_ARGS)

clean:
	rm -rf $(BUILD)
