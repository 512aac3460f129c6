# LiverLesionAI — the two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv if it is missing. torch is pinned to the CPU wheel first (a bare `torch` would pull CUDA).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TORCH_PIN := torch==2.13.0
APT_PACKAGES := chromium libegl1 libegl-mesa0 libgl1-mesa-dri libosmesa6 orthanc orthanc-dicomweb dicom3tools
DEMO_DIR := out/demo

.PHONY: demo test test-fast bench web lint system-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_PIN)
	$(PY) -m pip install --quiet -e ".[torch,train,mrml,web,pacs,cohort,dev]"
	touch $(STAMP)

# Debian packages for headless rendering and browser tests, and Node.js/npm when there is none (only what is
# missing; needs root or sudo).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@test -d Testing/web/node_modules/playwright-core || (cd Testing/web && npm ci --silent --no-audit --no-fund)

## Run Segment & Classify on the bundled sample (a phantom made on the fly) and print the lesion table.
demo: $(STAMP)
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/liverlesion phantom --seed 7 --lesions 4 -o $(DEMO_DIR)/phantom
	$(VENV)/bin/liverlesion segment $(DEMO_DIR)/phantom/ct.nrrd -o $(DEMO_DIR)/result
	$(VENV)/bin/liverlesion evaluate $(DEMO_DIR)/result/labelmap.nii.gz $(DEMO_DIR)/phantom/labels.nrrd

## The whole test suite (core, CLI, real MRML, real browser).
test: $(STAMP) system-deps
	$(PY) -m pytest -q Testing

test-fast: $(STAMP)
	$(PY) -m pytest -q Testing -m "not slow and not browser"

bench: $(STAMP)
	$(PY) benchmarks/bench_phantom.py
	$(PY) benchmarks/bench_inference.py

web: $(STAMP) system-deps
	$(VENV)/bin/liverlesion web --host 127.0.0.1 --port 8080

lint: $(STAMP)
	$(VENV)/bin/ruff check LiverLesionAI Testing benchmarks

clean:
	rm -rf out build .pytest_cache
