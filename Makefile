# Two entry points, each doing all set-up on a fresh machine:
#   make demo   build (release) and run the main job: a poisoned CLIP cleaned end to end
#   make test   build and run every test: Swift (swift-testing), data-parallel parity under mpirun
#               (scripts/test_mpi.sh), the C ABI and the Python package
#               (also pip-installed into a fresh venv: scripts/test_pip_install.sh),
#               the quick demo (its report checked, and rendered in headless Chromium),
#               a package that depends on this one by version (the README's Swift example),
#               and a short run of every fuzz target (FUZZ_TEST_SECONDS each)
#   make fuzz   longer fuzzing: FUZZ_SECONDS per target, FUZZ_TARGETS to choose (default: all)
SWIFT_BUILD ?= .build
CONFIG ?= release
BIN = $(SWIFT_BUILD)/$(CONFIG)

FUZZ_SECONDS ?= 300
FUZZ_TEST_SECONDS ?= 15
FUZZ_TARGETS ?=

.PHONY: setup build demo test bench fuzz

setup:
	@scripts/setup.sh

build: setup
	swift build -c $(CONFIG) --scratch-path $(SWIFT_BUILD) --product cleanclip-cli
	swift build -c $(CONFIG) --scratch-path $(SWIFT_BUILD) --product cleanclip
	scripts/build_mpi_plugin.sh $(BIN)
	@mkdir -p bin && ln -sf ../$(BIN)/cleanclip-cli bin/cleanclip

demo: build
	bin/cleanclip demo $(ARGS)

test: build
	swift build -c $(CONFIG) --scratch-path $(SWIFT_BUILD) --build-tests
	swift test -c $(CONFIG) --scratch-path $(SWIFT_BUILD) --skip-build --skip DataParallelTests
	CLEANCLIP_BUILD_DIR=$(SWIFT_BUILD) CONFIG=$(CONFIG) SKIP_BUILD=1 scripts/test_mpi.sh
	CLEANCLIP_BUILD_DIR=$(SWIFT_BUILD) SKIP_BUILD=1 scripts/test_bindings.sh
	CLEANCLIP_BUILD_DIR=$(SWIFT_BUILD) scripts/test_pip_install.sh
	@rm -rf $(SWIFT_BUILD)/demo-quick
	bin/cleanclip demo --quick --report $(SWIFT_BUILD)/demo-quick
	python3 scripts/check_demo_report.py --quick $(SWIFT_BUILD)/demo-quick
	scripts/test_report_screenshot.sh $(SWIFT_BUILD)/demo-quick
	Tests/Package/run.sh
	Tests/Fuzz/run.sh $(FUZZ_TEST_SECONDS)

# The side-by-side table needs torch, open_clip_torch, onnx and onnxruntime in $(PYTHON)
# (venv/bin/python when that exists); without them it prints cleanclip's figures alone.
PYTHON ?= $(if $(wildcard venv/bin/python),venv/bin/python,python3)
bench: build
	$(PYTHON) scripts/bench.py $(ARGS)

fuzz: setup
	Tests/Fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)
