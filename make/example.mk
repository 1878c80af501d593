# A second question of the same shape (examples/EXAMPLE/): the same steps as make/pipeline.mk
# on another data package, with no line of code that knows either question. Built files go
# to EXOUT (default: the example's own folder; git-ignored, like data/derived and figures/).
EXAMPLE  ?= pritz1997
EXDIR    := examples/$(EXAMPLE)
EXOUT    ?= $(EXDIR)
EXRAW    := $(EXDIR)/datapackage.json $(EXDIR)/question.toml $(wildcard $(EXDIR)/raw/*.csv)
EXRES    := $(EXOUT)/derived/results.json
EXAUD    := $(EXOUT)/derived/claims_audit.json
EXCAL    := $(EXOUT)/derived/calibration.json
EXDESIGN := $(EXOUT)/derived/calibration_design.json
EXTAB    := $(EXOUT)/derived/tables.json
EXFIG    := $(EXOUT)/figures/manifest.json
EXOFIG   := $(EXOUT)/figures/outcome_manifest.json
EXCFIG   := $(EXOUT)/figures/calibration_manifest.json
EXREPORT := $(EXOUT)/report/report.html
EX_REPLICATES ?= $(REPLICATES)

example: $(EXREPORT)                                ## Build the second question's report (examples/pritz1997/)

$(EXRES): $(EXRAW) $(PKG) | $(STAMP)
	@mkdir -p $(@D)
	$(RUN) analyze --in $(EXDIR)/datapackage.json --out $@

$(EXAUD): $(EXRES) $(EXRAW) $(PKG)
	$(RUN) audit --in $(EXDIR)/datapackage.json --results $(EXRES) --out $@

# the design (study sizes only) is rewritten only when its content changes, as in pipeline.mk
$(EXDESIGN): $(EXRAW) $(PKG) | $(STAMP)
	@mkdir -p $(@D)
	$(RUN) design --in $(EXDIR)/datapackage.json --out $@

$(EXCAL): $(EXDESIGN) $(PKG)
	$(RUN) calibrate --design $(EXDESIGN) --replicates $(EX_REPLICATES) --jobs 2 --quiet --out $@

$(EXTAB): $(EXRES) $(EXAUD) $(EXCAL) $(PKG)
	$(RUN) tables --results $(EXRES) --audit $(EXAUD) --calibration $(EXCAL) --outdir $(@D) --manifest $@

$(EXFIG): $(EXRES) $(EXAUD) $(PKG)
	$(RUN) figures --only evidence --results $(EXRES) --audit $(EXAUD) --outdir $(@D) --manifest $@

$(EXOFIG): $(EXRES) $(PKG)
	$(RUN) figures --only outcomes --results $(EXRES) --outdir $(@D) --manifest $@

$(EXCFIG): $(EXRES) $(EXCAL) $(PKG)
	$(RUN) figures --only calibration --results $(EXRES) --calibration $(EXCAL) --outdir $(@D) --manifest $@

$(EXREPORT): $(TEMPLATES) $(EXDIR)/references.bib $(EXRES) $(EXAUD) $(EXCAL) $(EXFIG) $(EXOFIG) $(EXCFIG) $(EXTAB) $(PKG)
	@mkdir -p $(@D)
	$(RUN) report --results $(EXRES) --audit $(EXAUD) --calibration $(EXCAL) --manifest $(EXFIG) \
	  --decision $(EXDIR)/decisions/primary_method.json \
	  --extra-manifest $(EXOFIG) --extra-manifest $(EXCFIG) \
	  --template report/templates/report.html.j2 --bib $(EXDIR)/references.bib --out $@
