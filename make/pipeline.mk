# The analysis pipeline: raw -> derived -> figures -> report. Every target is a file whose
# prerequisites are its inputs and the package code ($(PKG)).
RAW      := data/datapackage.json data/question.toml $(wildcard data/raw/*.csv)
TEMPLATES := $(wildcard report/templates/*.j2 report/templates/*/*.j2)
DERIVED  := data/derived
VALID    := $(DERIVED)/validated.json
RESULTS  := $(DERIVED)/results.json
AUDIT    := $(DERIVED)/claims_audit.json
CALIB    := $(DERIVED)/calibration.json
TABLES   := $(DERIVED)/tables.json
MANIFEST := figures/manifest.json
OUTFIG   := figures/outcome_manifest.json
CALFIG   := figures/calibration_manifest.json
# The report path simulates 500 replicates per scenario (Monte Carlo SE <= 1 point at 95%
# coverage); `make calibration REPLICATES=2000` runs the full default grid.
REPLICATES ?= 500
REPORT   := report/report.html

report: $(REPORT)                                   ## Build everything into report/report.html
all: report

# `analyze` loads the package through the same validation as `make check-data` (schema,
# rules, hashes) and stops with its message, so a broken package fails here, first.
$(VALID): $(RAW) $(PKG) | $(STAMP)
	$(RUN) check-data --in data/datapackage.json --out $@

$(RESULTS): $(RAW) $(PKG) | $(STAMP)
	$(RUN) analyze --in data/datapackage.json --out $@

$(AUDIT): $(RESULTS) $(RAW) $(PKG)
	$(RUN) audit --in data/datapackage.json --results $(RESULTS) --out $@

$(CALIB): $(RESULTS) $(PKG)
	$(RUN) calibrate --results $(RESULTS) --replicates $(REPLICATES) --out $@

$(TABLES): $(RESULTS) $(AUDIT) $(CALIB) $(PKG)
	$(RUN) tables --results $(RESULTS) --audit $(AUDIT) --calibration $(CALIB) --outdir $(DERIVED) --manifest $@

$(MANIFEST): $(RESULTS) $(AUDIT) $(PKG)
	$(RUN) figures --only evidence --results $(RESULTS) --audit $(AUDIT) --outdir figures --manifest $@

$(OUTFIG): $(RESULTS) $(PKG)
	$(RUN) figures --only outcomes --results $(RESULTS) --outdir figures --manifest $@

$(CALFIG): $(RESULTS) $(CALIB) $(PKG)
	$(RUN) figures --only calibration --results $(RESULTS) --calibration $(CALIB) --outdir figures --manifest $@

$(REPORT): $(TEMPLATES) report/references.bib $(RESULTS) $(AUDIT) $(CALIB) $(MANIFEST) $(OUTFIG) $(CALFIG) $(TABLES) $(PKG)
	$(RUN) report --results $(RESULTS) --audit $(AUDIT) --calibration $(CALIB) --manifest $(MANIFEST) \
	  --extra-manifest $(OUTFIG) --extra-manifest $(CALFIG) \
	  --template report/templates/report.html.j2 --bib report/references.bib --out $@

# The A4 handout: Chromium prints the HTML with its print stylesheet (report/templates/report.html.j2).
PDF      := report/report.pdf

report-pdf: $(PDF)                                  ## Print the report to an A4 PDF handout (needs Chromium)

$(PDF): $(REPORT) $(PKG)
	$(RUN) report-pdf --html $(REPORT) --out $@

audit: $(AUDIT)                                     ## Print the claims audit in the terminal
	$(RUN) audit --in data/datapackage.json --results $(RESULTS)

calibration: $(CALIB) $(CALFIG)  ## Simulate interval coverage for this design

cite: $(STAMP)                                      ## Print how to cite the package and studies
	$(RUN) cite
