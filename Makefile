# Two commands for a new user: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.demo-installed

.PHONY: test demo lint env clean-env bodies-gl

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e '.[test,bodies]'
	touch $(STAMP)

# The Bodies benchmark renders with MuJoCo through Mesa's EGL (MUJOCO_GL=egl, the default; or
# MUJOCO_GL=osmesa with Debian libosmesa6, not installed here). As root with apt-get, install the Debian GL libraries it needs;
# otherwise say which ones to install (the tests that render then report a skip naming them).
GL_DEBS := libegl1 libegl-mesa0 libgl1-mesa-dri
bodies-gl:
	@if ldconfig -p 2>/dev/null | grep -q libEGL_mesa.so.0; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(GL_DEBS) \
	    >/dev/null && echo "installed $(GL_DEBS) for the Bodies renderer"; \
	else echo "Bodies renderer: install the Debian packages $(GL_DEBS) (as root: make bodies-gl)"; fi

# The demo also needs the external annotator (dlib, for the RealFaces labels) and the
# supervised baseline (MediaPipe 0.10.21, the last release that ships its face-mesh model).
# Its wheel declares numpy<2, protobuf<5, jax, jaxlib, sentencepiece, sounddevice and
# opencv-contrib-python; the face mesh runs beside numpy 2 and protobuf 6 (which tensorboard
# >= 2.21 needs) and uses none of the others. So what it does use is installed first and
# mediapipe last with --no-deps: pip has no conflict to report (`pip check` still lists the
# declared requirements). Wheels exist for CPython 3.9-3.12 on Linux x86_64, macOS and Windows
# only: elsewhere one line says so and the baseline row is skipped (pip's answer in MP_LOG).
MP_LOG := $(VENV)/mediapipe-wheel.log
MP_DEPS := absl-py attrs flatbuffers 'protobuf>=6.31.1,<7' opencv-python-headless

$(DEMO_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,annotate]'
	@if $(BIN)/python -m pip install --quiet --dry-run --no-deps mediapipe==0.10.21 \
	    >$(MP_LOG) 2>&1; then \
	  echo "$(BIN)/python -m pip install --quiet $(MP_DEPS)"; \
	  $(BIN)/python -m pip install --quiet $(MP_DEPS) && \
	  echo "$(BIN)/python -m pip install --quiet --no-deps mediapipe==0.10.21" && \
	  $(BIN)/python -m pip install --quiet --no-deps mediapipe==0.10.21 || \
	  echo "MediaPipe could not be installed (see above): the supervised baseline row will be skipped"; \
	elif grep -q "No matching distribution" $(MP_LOG); then \
	  echo "No MediaPipe 0.10.21 wheel for this Python/platform: the supervised baseline row will be skipped"; \
	else \
	  echo "MediaPipe 0.10.21 could not be looked up (see $(MP_LOG)): the supervised baseline row will be skipped"; \
	fi
	touch $(DEMO_STAMP)

env: $(STAMP)

test: $(STAMP) bodies-gl
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

demo: $(DEMO_STAMP)
	$(BIN)/python -m landmarks.demo

clean-env:
	rm -rf $(VENV)
