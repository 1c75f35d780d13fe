# One target per step. The raw data are read from $BRAIN_TUMOR_DATA, else data/raw/.
#   make reproduce   install, then run the three notebooks top to bottom on the real data
#   make test        install, then unit tests + the notebooks re-executed (shorter schedule) and checked by nbval
# The outside scans (evaluation only) are read from $BRAIN_TUMOR_EXTERNAL when it is set, the second
# training source from $BRAIN_TUMOR_EXTRA.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NOTEBOOKS := data_prep.ipynb model.ipynb erroranalysis.ipynb
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0
# Executes notebooks in place like `jupyter nbconvert --execute --inplace`, printing each code cell's
# progress and an estimate of the time left to the terminal (nothing of it goes into the notebooks).
EXECUTE := $(PY) -m braintumor.notebook_runner --timeout 3600

.PHONY: venv lock docs data check-floors study source-study loso-study site-study new-scans-study extraction-study scope-study scope-cnn-study peer train evaluate reproduce test unit cv cv-all bench clean

# `make venv` installs the hashed lock (every transitive version), then the package itself; GPU=1
# takes the lock with TensorFlow's CUDA build (Linux x86-64 with an NVIDIA driver). `make lock`
# regenerates both locks from requirements.txt and requirements-dev.txt.
LOCK := $(if $(GPU),requirements-gpu.lock,requirements.lock)

STAMP := $(VENV)/.installed-$(basename $(LOCK))
venv: $(STAMP)
$(STAMP): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "make venv: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); 3.11 or newer is needed (make venv PYTHON=python3.11)" >&2; exit 2; }
	# An environment of the other lock (CPU <-> GPU) is replaced whole: two TensorFlow builds cannot share one.
	if ls $(VENV)/.installed* 2>/dev/null | grep -qvx '$(STAMP)'; then rm -rf $(VENV); fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	# TensorFlow's C++ start-up lines go to the terminal, not into the notebooks' outputs.
	mkdir -p $(VENV)/etc/ipython
	echo 'c.IPKernelApp.capture_fd_output = False' > $(VENV)/etc/ipython/ipython_kernel_config.py
	touch $@

# The lock's tool, pinned, in a folder of its own (not in .venv, which the lock builds).
UV_VERSION := 0.13.9
UV := build/lock-tool/bin/uv
LOCK_FLAGS := --python-version 3.11 --quiet --custom-compile-command "make lock"
lock:                           ## regenerate requirements.lock and requirements-gpu.lock (hashes, every platform), then check they resolve to wheels on macOS arm64 and Linux aarch64
	test -x $(UV) || { $(PYTHON) -m venv build/lock-tool && build/lock-tool/bin/pip install --quiet uv==$(UV_VERSION); }
	$(UV) pip compile requirements.txt requirements-dev.txt --universal --generate-hashes $(LOCK_FLAGS) -o requirements.lock
	sed -E 's/^tensorflow-cpu==([^;]+);/tensorflow[and-cuda]==\1;/' requirements.txt > build/requirements-gpu.txt
	grep -q '^tensorflow\[and-cuda\]==' build/requirements-gpu.txt
	$(UV) pip compile build/requirements-gpu.txt requirements-dev.txt --universal --generate-hashes $(LOCK_FLAGS) -o requirements-gpu.lock
	# Wheels only, as a laptop without a compiler needs: macOS 14 arm64 (ONNX Runtime's oldest) and Linux aarch64.
	MACOSX_DEPLOYMENT_TARGET=14.0 $(UV) pip compile requirements.lock --python-platform aarch64-apple-darwin --only-binary :all: $(LOCK_FLAGS) -o build/lock-macos-arm64.txt
	$(UV) pip compile requirements.lock --python-platform aarch64-manylinux_2_28 --only-binary :all: $(LOCK_FLAGS) -o build/lock-linux-aarch64.txt
	grep -q '^tensorflow==' build/lock-macos-arm64.txt && ! grep -q '^tensorflow-cpu==' build/lock-macos-arm64.txt
	@echo "make lock: requirements.lock and requirements-gpu.lock written; requirements.lock resolves to wheels on macOS 14 arm64 and Linux aarch64"

data: venv                      ## validate the raw data, write data/image_data.npz and data/splits.csv
	$(PY) -m braintumor prepare

study: venv data                ## resolution study of the reference CNN (slow, run once; its JSON is committed)
	$(PY) -m braintumor study resolution train --model reference --resolutions 64 96 112 128

source-study: venv data         ## source study: A alone and A + B rows, then their one scoring (slow; JSON committed)
	$(PY) -m braintumor study source train
	$(PY) -m braintumor study source score

loso-study: venv data          ## leave-one-source-out study over A, B and LGG, then the all-source model (slow; JSON and model committed)
	$(PY) -m braintumor study loso train
	$(PY) -m braintumor study loso final
	$(PY) -m braintumor study loso score

site-study: venv data          ## held-out-site study: leave one LGG site out with the A + LGG recipe, then the A + LGG model (slow; JSON and model committed)
	$(PY) -m braintumor study site train
	$(PY) -m braintumor study site final
	$(PY) -m braintumor study site score

new-scans-study: venv data     ## new-scans study, the model for scans from elsewhere: variant rows (resumable; 18 rows of 7-15 min alone on a 2-core Intel Xeon), the pick, the pick trained, its one scoring (JSON committed; model.ipynb retrains the pick)
	$(PY) -m braintumor study new-scans train
	$(PY) -m braintumor study new-scans pick
	$(PY) -m braintumor study new-scans final
	$(PY) -m braintumor study new-scans score

extraction-study: venv data    ## brain-extraction study (rule brain_extraction_default): its rows (resumable; each trained row about 15 min alone on a 2-core CPU), then the pick (JSON committed)
	$(PY) -m braintumor study extraction train
	$(PY) -m braintumor study extraction pick

scope-study: venv data          ## scope study (rule scope_check): leave-one-site-out rows and the pick, which writes model/new-scans/scope.json (minutes; needs $$BRAIN_TUMOR_LGG_T1); then, once, `study scope confirm`
	$(PY) -m braintumor study scope train
	$(PY) -m braintumor study scope pick

scope-cnn-study: venv data      ## second scope study (rule scope_sequence_cnn): leave-one-site-out rows of the sequence network, then the pick, which writes model/new-scans/scope.json and scope.onnx (about half an hour alone on a 2-core CPU; needs $$BRAIN_TUMOR_LGG_T1); then, once, `study scope-cnn confirm`
	$(PY) -m braintumor study scope-cnn train
	$(PY) -m braintumor study scope-cnn pick

# The improved-CNN search takes its candidates as JSON, e.g.
#   $(PY) -m braintumor study search train '[{"name": "e1", "architecture": {"resolution": 128, "augment": false}}]'

train: venv                     ## train and evaluate every model (model.ipynb)
	$(EXECUTE) model.ipynb

evaluate: venv                  ## error analysis and reports (erroranalysis.ipynb)
	$(EXECUTE) erroranalysis.ipynb

docs: venv                      ## re-render the model cards and the documents from the committed records and configurations (no training)
	$(PY) -m braintumor.reports.cards
	$(PY) -m braintumor.reports.render

reproduce: venv                 ## the whole pipeline, notebooks top to bottom
	$(EXECUTE) $(NOTEBOOKS)

unit: venv                      ## unit tests only (no real data needed)
	$(PY) -m pytest tests

# Two runs, so the unit tests' TensorFlow is gone before the notebooks' kernel starts (lower
# peak memory). The unit tests run on two workers (pytest-xdist), one per core of a 2-core CI machine. pytest runs its arguments in the order given: the notebooks feed each other.
# The notebooks run as a regression check: the same code on the shorter "check" schedule,
# writing into build/check/ so that the committed model, figures and reports stay as they are.
CHECK_OUTPUT := build/check
test: venv                      ## unit tests, then nbval re-executes the notebooks in order
	$(PY) -m pytest tests -n 2 --durations=5
	rm -rf $(CHECK_OUTPUT) && mkdir -p $(CHECK_OUTPUT)
	BRAIN_TUMOR_OUTPUT=$(CHECK_OUTPUT) BRAIN_TUMOR_SCHEDULE=check \
		$(PY) -m pytest --nbval $(NOTEBOOKS) --nbval-cell-timeout 3600 --durations=8

check-floors: venv data         ## floors of make test's checks from a seed sweep of the check schedule (about 10 min alone on a 2-core AMD EPYC; JSON committed)
	$(PY) scripts/check_floors.py

cv: venv data                   ## grouped cross-validation, 5 folds over train+val (slow; JSON committed)
	$(PY) -m braintumor study cv run

cv-all: venv data               ## the headline: grouped 5-fold cross-validation over all scans (slow; JSON committed)
	$(PY) -m braintumor study cv run --pool all

peer: venv                      ## this project's models beside detect-tumor (a VGG16 trained on B's source) on every held-out set (writes model/peer_comparison.json)
	$(PY) -m pip install --quiet -r bench/peer_requirements.txt
	$(PY) scripts/peer_comparison.py

bench: venv                     ## speed and memory of predict on this machine, ONNX Runtime and Keras side by side (writes model/benchmark.json)
	$(PY) bench/benchmark.py

clean:
	rm -rf data/image_data.npz data/extra_image_data.npz $(CHECK_OUTPUT)
