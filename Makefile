# bkvn-ivig-evidence: build the report from data/raw. Every artefact is a file target whose
# prerequisites include the package code, so a rebuild redoes only what changed.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules --jobs=2 --output-sync=target

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
RUN    := $(PY) -m analysis
PKG    := $(wildcard analysis/*.py analysis/*/*.py analysis/*/*/*.py) pyproject.toml
export SOURCE_DATE_EPOCH := 1767225600
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0
# Python caches compiled modules in __pycache__ (git-ignored) unless told not to; an
# environment that sets PYTHONDONTWRITEBYTECODE makes every step recompile the ~100
# modules it imports (0.15-0.2 s a step), so the build uses Python's default.
unexport PYTHONDONTWRITEBYTECODE
# many small numpy problems in parallel make jobs: one BLAS thread each is faster
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

.PHONY: all report report-pdf figures example test check-data update-hashes bibtex references bench notebooks notebook slides calibration calibration-rule audit cite lint clean distclean help
.DEFAULT_GOAL := report

# --- environment: a pinned virtualenv built from the repository's own lock file ----------
$(STAMP): requirements.lock pyproject.toml
	@echo "Building $(VENV) from requirements.lock (about a minute, once; installs the evsynth command)..."
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

include make/pipeline.mk
include make/slides.mk
include make/example.mk

test: $(STAMP)                                      ## Run the test suite (what CI runs)
	$(PY) -m pytest

check-data: $(STAMP)                                ## Validate data/ (schema, hashes, rules)
	$(RUN) check-data --in data/datapackage.json

update-hashes: $(STAMP)                             ## Record the sha256 of changed raw files (say why in data/README.md)
	$(RUN) update-hashes --in data/datapackage.json

bibtex: $(STAMP)                                    ## Regenerate the study entries of report/references.bib
	$(RUN) bibtex --in data/datapackage.json --bib report/references.bib

references:                                         ## Regenerate R metafor reference values
	Rscript tests/reference/make_metafor_reference.R tests/reference/metafor.json
	Rscript tests/reference/make_two_group_reference.R tests/reference/metafor_two_group.json
	git diff --stat --exit-code -- tests/reference/metafor.json tests/reference/metafor_two_group.json

bench: $(STAMP)                                     ## Time the engine (and R metafor if present) and the build
	$(PY) benchmarks/bench.py
	$(PY) benchmarks/bench_build.py

lint: $(STAMP)                                      ## ruff, no fixes
	$(VENV)/bin/ruff check analysis tests

clean:                                              ## Remove built artefacts (never data/raw)
	rm -rf data/derived/*.json data/derived/*.csv data/derived/.calibration_design.stamp data/derived/.calibration_replicates figures/manifest.json figures/outcome_manifest.json figures/calibration_manifest.json figures/export_manifest.json figures/*.png figures/*.svg figures/*.pdf figures/*.txt report/report.html report/report.pdf build/browser slides/*.pdf slides/*.png slides/*.svg build/notebooks examples/*/derived examples/*/figures examples/*/report

distclean: clean                                    ## Also remove the environment
	rm -rf $(VENV)

help:                                               ## List targets
	@grep -hE '^[a-zA-Z_%/.-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
