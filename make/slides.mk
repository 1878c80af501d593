# The journal-club deck and the notebooks (included by the Makefile after make/pipeline.mk,
# whose RESULTS, AUDIT and CALIB it uses). No notebook is a prerequisite of anything.

# --- slides: a 16:9 PDF plus each figure slide as PNG (2000 x 1125) and SVG ------------
DECK         := slides/journal-club.pdf
SLIDE_INPUTS := $(RESULTS) $(AUDIT) $(CALIB) report/references.bib CITATION.cff

slides: $(DECK)                                     ## Build the journal-club deck (slides/)

# One recipe writes the PDF (the target, written last and atomically) and the PNG/SVG files
# beside it, from the same derived results as the report.
$(DECK): $(SLIDE_INPUTS) $(PKG)
	$(RUN) slides --results $(RESULTS) --audit $(AUDIT) --calibration $(CALIB) \
	  --bib report/references.bib --cff CITATION.cff --out $@

# --- notebooks: executed headless into build/notebooks/ (git-ignored) ------------------
# The sources in notebooks/ are stored with outputs stripped and are never overwritten;
# each executed copy asserts that its numbers equal data/derived/, and is also saved as a
# self-contained HTML page beside it, to read without Jupyter. Like every built file the
# pages are not committed: they would change with each data change and hold figures.
NOTEBOOKS    := $(sort $(wildcard notebooks/[0-9][0-9]-*.ipynb))
EXECUTED     := $(patsubst notebooks/%,build/notebooks/%,$(NOTEBOOKS))
NB_HTML      := $(EXECUTED:.ipynb=.html)
NB_TIMEOUT   ?= 300

notebooks: $(EXECUTED) $(NB_HTML)                   ## Execute every notebook, also as HTML (build/notebooks/)

# Its log is kept to errors: the exporter warns that plot images have no alt text (each is
# introduced by the markdown cell above it). The tables carry fixed ids (Styler.set_uuid), so a
# rebuild writes the same bytes.
build/notebooks/%.html: build/notebooks/%.ipynb | $(STAMP)
	$(VENV)/bin/jupyter nbconvert --to html --log-level ERROR --output-dir $(@D) $<

# The kernel's own log is kept to errors: its start-up warning about unencrypted TCP
# concerns a local, headless kernel that lives only for this run (cell errors still fail).
build/notebooks/%.ipynb: notebooks/%.ipynb $(RESULTS) $(AUDIT) $(PKG) | $(STAMP)
	@mkdir -p $(@D)
	$(VENV)/bin/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=$(NB_TIMEOUT) \
	  --ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.extra_arguments=--IPKernelApp.log_level=ERROR \
	  --output-dir $(@D) --log-level WARN $<

notebook: $(RESULTS) $(AUDIT) | $(STAMP)            ## Open the notebooks in JupyterLab (pinned env)
	$(VENV)/bin/jupyter lab notebooks/
