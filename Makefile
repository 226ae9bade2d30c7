# Two commands for a new user: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed

.PHONY: test demo lint env clean-env

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The demo also needs the external annotator (dlib, for the RealFaces labels) and the
# supervised baseline (MediaPipe 0.10.21, the last release that ships its face-mesh model; it
# declares numpy<2 but runs beside numpy 2, hence --no-deps; protobuf 6 suits it and
# tensorboard alike). Without MediaPipe (e.g. not Python 3.11) the baseline row is skipped.
$(DEMO_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,annotate]'
	( $(BIN)/python -m pip install --quiet --no-deps mediapipe==0.10.21 && \
	  $(BIN)/python -m pip install --quiet absl-py attrs flatbuffers 'protobuf>=6.31.1,<7' \
	    opencv-python-headless ) || \
	  echo "MediaPipe could not be installed: the supervised baseline row will be skipped"
	touch $(DEMO_STAMP)

env: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

demo: $(DEMO_STAMP)
	$(BIN)/python -m landmarks.demo

clean-env:
	rm -rf $(VENV)
