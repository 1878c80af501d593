#!/usr/bin/env Rscript
## Pinned reference values from R/metafor for the two-group (comparative) engine:
## analysis/stats/two_group*.py (pool_two_group, study_effects).
##
## Usage:
##   Rscript tests/reference/make_two_group_reference.R tests/reference/metafor_two_group.json
##   Rscript tests/reference/make_two_group_reference.R --glmm-precision
##
## The first form writes ONE JSON file, byte-stable on re-runs (no dates or paths;
## numbers via sprintf("%.17g"); keys in a fixed order; NA/NaN/Inf/NULL as null).
## The second form writes nothing: it refits the GLMMs with other optimisers (glmer
## optimizer for UM.FS; optim/BFGS and a tighter integrate() tolerance for CM.EL) and
## prints the largest relative differences, as guidance for test tolerances.
##
## Packages: metafor, lme4, BiasedUrn (for CM.EL), metadat (Debian r-cran-*).  The
## serializer is the one of make_metafor_reference.R (copied: that script runs its
## whole build when sourced).

suppressPackageStartupMessages({
  library(metafor)
  library(lme4)
  library(BiasedUrn)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) stop("usage: Rscript make_two_group_reference.R <out.json> | --glmm-precision")

SCRIPT <- "tests/reference/make_two_group_reference.R"
source("tests/reference/reference_helpers.R")  # JSON writer and fit helpers (run from the repo root)


## ---------------------------------------------------------------------------
## helpers
## ---------------------------------------------------------------------------

## capture() and is_err() come from reference_helpers.R
n1 <- function(x) if (is.null(x) || length(x) == 0L) NA_real_ else unname(as.numeric(x)[1])
nv <- function(x) A(unname(as.numeric(x)))

mkcase <- function(id, dataset, kind, call, args, f, values) {
  out <- list(id = id, dataset = dataset, kind = kind, call = call, args = args)
  if (is_err(f$value)) {
    out$error <- f$value$msg
    out$warnings <- A(f$warnings)
  } else {
    values$warnings <- A(f$warnings)
    out$values <- values
  }
  out
}

## ---------------------------------------------------------------------------
## data sets (treated ai/n1i, control ci/n2i)
## ---------------------------------------------------------------------------

tg <- function(study_id, ai, n1i, ci, n2i, origin)
  list(study_id = as.character(study_id), ai = as.integer(ai), n1i = as.integer(n1i),
       ci = as.integer(ci), n2i = as.integer(n2i), origin = origin)

ds <- list()
ds$bcg <- with(metadat::dat.bcg, tg(paste(author, year), tpos, tpos + tneg, cpos, cpos + cneg,
  "metadat::dat.bcg (13 BCG trials): treated tpos/(tpos+tneg), control cpos/(cpos+cneg); study_id = author year"))
ds$nielweise2007 <- with(metadat::dat.nielweise2007, tg(paste(author, year), ai, n1i, ci, n2i,
  "metadat::dat.nielweise2007 (18 trials; zero-event arms; study 15, Yucel 2004, is double-zero)"))
ds$sparse <- tg(1:5, c(0, 1, 0, 2, 3), c(10, 8, 5, 7, 20), c(3, 0, 0, 5, 1), c(12, 9, 6, 8, 20),
  "synthetic sparse set: zero treated arms (1, 3), a zero control arm (2, 3), study 3 double-zero")
ds$k2 <- with(metadat::dat.bcg[1:2, ], tg(paste(author, year), tpos, tpos + tneg, cpos, cpos + cneg,
  "metadat::dat.bcg trials 1-2 (k = 2)"))
ds$k1 <- with(metadat::dat.bcg[1, ], tg(paste(author, year), tpos, tpos + tneg, cpos, cpos + cneg,
  "metadat::dat.bcg trial 1 (k = 1)"))
ds$review_clearance <- tg("clearance", 2, 5, 4, 9,
  "the review's randomised comparison: clearance 2/5 with IVIG versus 4/9 without (k = 1)")
ds$review_zero <- tg("zero", 0, 5, 0, 9,
  "the review's double-zero comparison: 0/5 versus 0/9 (k = 1)")
ds$review_graft <- tg("graft", 6, 22, 15, 28,
  "the review's controlled graft-loss comparison: 6/22 with IVIG versus 15/28 without (k = 1)")
ds$graft2 <- tg(c("graft", "synthetic"), c(6, 3), c(22, 12), c(15, 5), c(28, 11), paste(
  "two-study graft-loss set: the review's 6/22 versus 15/28 plus a SYNTHETIC second study 3/12 versus",
  "5/11 (a placeholder for a second controlled study; not review data)"))

## ---------------------------------------------------------------------------
## case builders
## ---------------------------------------------------------------------------

cases <- list()
add_case <- function(cs) cases[[length(cases) + 1L]] <<- cs
CTRL <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
tr_of <- function(measure) if (measure %in% c("OR", "RR")) "exp" else "identity"

pred_vals <- function(res, measure) {
  p <- capture(predict(res))
  pt <- capture(if (measure %in% c("OR", "RR")) predict(res, transf = exp) else predict(res))
  v <- list()
  if (!is_err(p$value)) {
    v$pi.lb <- n1(if (is.null(p$value$pi.lb)) p$value$ci.lb else p$value$pi.lb)
    v$pi.ub <- n1(if (is.null(p$value$pi.ub)) p$value$ci.ub else p$value$pi.ub)
  }
  if (!is_err(pt$value)) {
    q <- pt$value
    v$transf <- list(estimate = n1(q$pred), ci.lb = n1(q$ci.lb), ci.ub = n1(q$ci.ub),
                     pi.lb = n1(if (is.null(q$pi.lb)) q$ci.lb else q$pi.lb),
                     pi.ub = n1(if (is.null(q$pi.ub)) q$ci.ub else q$pi.ub))
  }
  v
}

fit_vals <- function(res, measure) {
  v <- list(test_used = res$test, b = n1(res$b), se = n1(res$se), zval = n1(res$zval),
            pval = n1(res$pval), ci.lb = n1(res$ci.lb), ci.ub = n1(res$ci.ub),
            tau2 = n1(res$tau2), I2 = n1(res$I2), H2 = n1(res$H2), k = as.integer(res$k))
  if (!is.null(res$ddf) && !is.na(res$ddf[1])) v$df <- n1(res$ddf)
  if (!is.null(res$QE)) { v$QE <- n1(res$QE); v$QEp <- n1(res$QEp) }
  c(v, pred_vals(res, measure))
}

case_escalc <- function(name, d, measure, drop00) {
  f <- capture(escalc(measure = measure, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i,
                      add = 1/2, to = "only0", drop00 = drop00))
  cl <- sprintf("escalc(measure=\"%s\", ai=ai, n1i=n1i, ci=ci, n2i=n2i, add=1/2, to=\"only0\", drop00=%s)",
                measure, drop00)
  mkcase(paste(name, "escalc", measure, if (drop00) "drop00" else "keep00", sep = "/"), name, "escalc", cl,
         list(measure = measure, add = 0.5, to = "only0", drop00 = drop00), f,
         if (is_err(f$value)) NULL else list(yi = nv(f$value$yi), vi = nv(f$value$vi)))
}

case_uni <- function(name, d, measure, method, test, drop00) {
  f <- capture(rma(measure = measure, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, add = 1/2,
                   to = "only0", drop00 = drop00, method = method, test = test, control = CTRL))
  cl <- sprintf(paste0("res <- rma(measure=\"%s\", ai=ai, n1i=n1i, ci=ci, n2i=n2i, add=1/2, to=\"only0\", ",
                       "drop00=%s, method=\"%s\", test=\"%s\", control=list(threshold=1e-12, tol=1e-12, ",
                       "maxiter=10000)); predict(res)%s; weights(res)"),
                measure, drop00, method, test, if (tr_of(measure) == "exp") "; predict(res, transf=exp)" else "")
  v <- NULL
  if (!is_err(f$value)) {
    v <- fit_vals(f$value, measure)
    v$weights <- nv(weights(f$value))
  }
  mkcase(paste(name, "rma.uni", measure, method, test, if (drop00) "drop00" else "keep00", sep = "/"),
         name, "rma.uni", cl, list(measure = measure, method = method, test = test, drop00 = drop00,
         add = 0.5, to = "only0", transf = tr_of(measure)), f, v)
}

case_mh <- function(name, d, measure) {
  f <- capture(rma.mh(measure = measure, ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i))
  cl <- sprintf("res <- rma.mh(measure=\"%s\", ai=ai, n1i=n1i, ci=ci, n2i=n2i); predict(res)%s; weights(res)  # metafor defaults: add=1/2, to=\"only0\", drop00=TRUE for yi/vi only",
                measure, if (tr_of(measure) == "exp") "; predict(res, transf=exp)" else "")
  v <- NULL
  if (!is_err(f$value)) {
    v <- fit_vals(f$value, measure)
    v$k.yi <- as.integer(f$value$k.yi)
    w <- capture(weights(f$value))
    v$weights <- if (is_err(w$value)) NULL else nv(w$value)
  }
  mkcase(paste(name, "rma.mh", measure, sep = "/"), name, "rma.mh", cl,
         list(measure = measure, transf = tr_of(measure)), f, v)
}

case_peto <- function(name, d) {
  f <- capture(rma.peto(ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i))
  cl <- "res <- rma.peto(ai=ai, n1i=n1i, ci=ci, n2i=n2i); predict(res); predict(res, transf=exp); weights(res)  # metafor defaults"
  v <- NULL
  if (!is_err(f$value)) {
    v <- fit_vals(f$value, "OR")
    v$k.yi <- as.integer(f$value$k.yi)
    v$weights <- nv(weights(f$value))
  }
  mkcase(paste(name, "rma.peto", "OR", sep = "/"), name, "rma.peto", cl, list(measure = "OR", transf = "exp"), f, v)
}

fit_glmm <- function(d, model, method, test, control = NULL) {
  if (is.null(control))
    capture(rma.glmm(measure = "OR", ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, model = model,
                     method = method, test = test))
  else
    capture(rma.glmm(measure = "OR", ai = d$ai, n1i = d$n1i, ci = d$ci, n2i = d$n2i, model = model,
                     method = method, test = test, control = control))
}

case_glmm <- function(name, d, model, method, test) {
  f <- fit_glmm(d, model, method, test)
  cl <- sprintf(paste0("res <- rma.glmm(measure=\"OR\", ai=ai, n1i=n1i, ci=ci, n2i=n2i, model=\"%s\", ",
                       "method=\"%s\", test=\"%s\"); predict(res); predict(res, transf=exp)  # metafor defaults ",
                       "otherwise: nAGQ=7, drop00=TRUE, glmer (UM.FS) / nlminb + integrate + BiasedUrn (CM.EL)"),
                model, method, test)
  v <- NULL
  if (!is_err(f$value)) {
    r <- f$value
    v <- fit_vals(r, "OR")
    v <- c(v, list(QE.Wld = n1(r$QE.Wld), QEp.Wld = n1(r$QEp.Wld), QE.LRT = n1(r$QE.LRT),
                   QEp.LRT = n1(r$QEp.LRT), QE.df = n1(r$QE.df), logLik = n1(logLik(r))))
    if (model == "CM.EL") v <- c(v, cmel_exact(d, n1(r$b)))
  }
  mkcase(paste(name, "rma.glmm", "OR", model, method, test, sep = "/"), name, "rma.glmm", cl,
         list(measure = "OR", model = model, method = method, test = test, nAGQ = 7L, transf = "exp"), f, v)
}

## exact conditional OR quantities with a tight root finder (the definitions of
## fisher.test, whose own uniroot() calls stop at tol = .Machine$double.eps^0.25)
dnhyper <- function(x, m, n, k, ncp) {
  lo <- max(0L, k - n); hi <- min(k, m); s <- lo:hi
  d <- dhyper(s, m, n, k, log = TRUE) + log(ncp) * s
  d <- exp(d - max(d)); list(s = s, d = d / sum(d))
}
pnhyper_upper <- function(x, m, n, k, ncp) { z <- dnhyper(x, m, n, k, ncp); sum(z$d[z$s >= x]) }
pnhyper_lower <- function(x, m, n, k, ncp) { z <- dnhyper(x, m, n, k, ncp); sum(z$d[z$s <= x]) }
mnhyper <- function(m, n, k, ncp) { z <- dnhyper(0, m, n, k, ncp); sum(z$s * z$d) }
tight_root <- function(f) uniroot(f, c(-60, 60), tol = 1e-13, extendInt = "upX", maxiter = 10000)$root

## CM.EL quantities in closed form from dhyper() (no numerical Hessian): the Wald-type
## Q of the saturated conditional model (each study's conditional MLE log OR, variance =
## inverse conditional information; studies with a zero cell have an infinite MLE and
## contribute 0), and the conditional information at metafor's estimate b.
cmel_exact <- function(d, b) {
  keep <- !((d$ai == 0 & d$ci == 0) | (d$ai == d$n1i & d$ci == d$n2i))
  y <- w <- numeric(0); info <- 0
  for (i in which(keep)) {
    a <- d$ai[i]; m <- d$n1i[i]; n <- d$n2i[i]; kk <- a + d$ci[i]
    lo <- max(0L, kk - n); hi <- min(kk, m)
    z <- dnhyper(a, m, n, kk, exp(b)); info <- info + sum(z$s^2 * z$d) - sum(z$s * z$d)^2
    if (a > lo && a < hi) {
      yi <- tight_root(function(s) mnhyper(m, n, kk, exp(s)) - a)
      z <- dnhyper(a, m, n, kk, exp(yi))
      y <- c(y, yi); w <- c(w, sum(z$s^2 * z$d) - sum(z$s * z$d)^2)
    }
  }
  q <- if (length(y) > 1) sum(w * (y - sum(w * y) / sum(w))^2) else 0
  list(QE.Wld.exact = q, QE.Wld.exact.df = length(y) - 1L, se.at.b.exact = 1 / sqrt(info))
}

case_study <- function(name, d, level) {
  k <- length(d$ai)
  out <- list(fisher_p = rep(NA_real_, k), fisher_lo = rep(NA_real_, k), fisher_hi = rep(NA_real_, k),
              fisher_est = rep(NA_real_, k), tight_lo = rep(NA_real_, k), tight_hi = rep(NA_real_, k),
              tight_est = rep(NA_real_, k), wilson1_lo = rep(NA_real_, k), wilson1_hi = rep(NA_real_, k),
              wilson0_lo = rep(NA_real_, k), wilson0_hi = rep(NA_real_, k), newcombe_lo = rep(NA_real_, k),
              newcombe_hi = rep(NA_real_, k))
  al <- 1 - level
  for (i in seq_len(k)) {
    a <- d$ai[i]; b <- d$n1i[i] - a; c <- d$ci[i]; dd <- d$n2i[i] - c
    ft <- fisher.test(matrix(c(a, c, b, dd), 2), conf.level = level)
    out$fisher_p[i] <- ft$p.value; out$fisher_est[i] <- ft$estimate
    out$fisher_lo[i] <- ft$conf.int[1]; out$fisher_hi[i] <- ft$conf.int[2]
    m <- a + b; n <- c + dd; kk <- a + c; lo <- max(0L, kk - n); hi <- min(kk, m)
    if (lo < hi) {
      out$tight_lo[i] <- if (a == lo) 0 else exp(tight_root(function(s) pnhyper_upper(a, m, n, kk, exp(s)) - al / 2))
      out$tight_hi[i] <- if (a == hi) Inf else exp(tight_root(function(s) al / 2 - pnhyper_lower(a, m, n, kk, exp(s))))
      out$tight_est[i] <- if (a == lo) 0 else if (a == hi) Inf else exp(tight_root(function(s) mnhyper(m, n, kk, exp(s)) - a))
    }
    w1 <- suppressWarnings(prop.test(a, d$n1i[i], conf.level = level, correct = FALSE)$conf.int)
    w0 <- suppressWarnings(prop.test(c, d$n2i[i], conf.level = level, correct = FALSE)$conf.int)
    p1 <- a / d$n1i[i]; p0 <- c / d$n2i[i]
    out$wilson1_lo[i] <- w1[1]; out$wilson1_hi[i] <- w1[2]; out$wilson0_lo[i] <- w0[1]; out$wilson0_hi[i] <- w0[2]
    out$newcombe_lo[i] <- p1 - p0 - sqrt((p1 - w1[1])^2 + (w0[2] - p0)^2)
    out$newcombe_hi[i] <- p1 - p0 + sqrt((w1[2] - p1)^2 + (p0 - w0[1])^2)
  }
  cl <- paste("per study: fisher.test(matrix(c(a, c, b, d), 2), conf.level=level) (p.value, estimate, conf.int);",
              "tight_*: the same conditional MLE and exact limits solved with uniroot(tol=1e-13) on log(ncp)",
              "using dhyper(); wilson*: prop.test(x, n, correct=FALSE)$conf.int; newcombe_*: Newcombe (1998)",
              "method 10 from those Wilson limits")
  f <- list(value = out, warnings = character(0))
  mkcase(paste(name, "study", sprintf("%.2f", level), sep = "/"), name, "study", cl,
         list(conf_level = level), f, lapply(out, nv))
}

## ---------------------------------------------------------------------------
## optional: GLMM optimiser precision (prints, writes nothing)
## ---------------------------------------------------------------------------
if (args[1] == "--glmm-precision") {
  rel <- function(a, b) abs(a - b) / pmax(abs(a), abs(b), 1e-12)
  keys <- c("b", "se", "tau2", "ci.lb", "ci.ub")
  get <- function(f) if (is_err(f$value)) NULL else
    c(b = n1(f$value$b), se = n1(f$value$se), tau2 = n1(f$value$tau2), ci.lb = n1(f$value$ci.lb), ci.ub = n1(f$value$ci.ub))
  alts <- list(
    UM.FS = list(bobyqa = list(glmerCtrl = list(optimizer = "bobyqa")),
                 Nelder_Mead = list(glmerCtrl = list(optimizer = "Nelder_Mead")),
                 nlminbwrap = list(glmerCtrl = list(optimizer = "nlminbwrap"))),
    CM.EL = list(optim_BFGS = list(optimizer = "optim", optmethod = "BFGS"),
                 tight_integrate = list(intCtrl = list(rel.tol = 1e-10, subdivisions = 1000L))))
  for (nm in setdiff(names(ds), c("k1", "review_clearance", "review_zero", "review_graft"))) {
    for (model in names(alts)) {
      base <- get(fit_glmm(ds[[nm]], model, "ML", "z"))
      for (o in names(alts[[model]])) {
        alt <- get(fit_glmm(ds[[nm]], model, "ML", "z", alts[[model]][[o]]))
        if (is.null(base) || is.null(alt)) { cat(nm, model, o, "fit failed\n"); next }
        r <- rel(base, alt)
        cat(sprintf("%-16s %-6s %-16s %s\n", nm, model, o, paste(sprintf("%s=%.1e", keys, r), collapse = " ")))
      }
    }
  }
  quit(save = "no", status = 0)
}

## ---------------------------------------------------------------------------
## build all cases
## ---------------------------------------------------------------------------

MEASURES <- c("OR", "RR", "RD")
for (nm in names(ds)) {
  d <- ds[[nm]]
  k <- length(d$ai)
  for (m in MEASURES) add_case(case_escalc(nm, d, m, TRUE))
  methods <- if (k == 1L) "EE" else if (nm %in% c("bcg", "nielweise2007")) c("EE", "DL", "REML", "PM", "ML") else c("EE", "DL", "REML")
  for (m in MEASURES) for (me in methods) for (te in c("z", "knha")) add_case(case_uni(nm, d, m, me, te, TRUE))
  if (nm == "nielweise2007") for (m in MEASURES) add_case(case_uni(nm, d, m, "REML", "z", FALSE))
  for (m in MEASURES) add_case(case_mh(nm, d, m))
  add_case(case_peto(nm, d))
  for (model in c("UM.FS", "CM.EL")) {
    add_case(case_glmm(nm, d, model, "ML", "z"))
    add_case(case_glmm(nm, d, model, "EE", "z"))
    if (nm %in% c("bcg", "sparse")) add_case(case_glmm(nm, d, model, "ML", "t"))
  }
  add_case(case_study(nm, d, 0.95))
  if (nm %in% c("bcg", "sparse")) add_case(case_study(nm, d, 0.90))
}

stopifnot(!anyDuplicated(vapply(cases, `[[`, "", "id")))

pv <- function(p) as.character(utils::packageVersion(p))
out <- list(
  source = list(
    R = R.version.string, metafor = pv("metafor"), lme4 = pv("lme4"), BiasedUrn = pv("BiasedUrn"),
    metadat = pv("metadat"), script = SCRIPT,
    note = paste(
      "Reference values for the two-group engine. rma.uni fits use control=list(threshold=1e-12,",
      "tol=1e-12, maxiter=10000) and drop00=TRUE (the engine's default) unless the id ends in keep00;",
      "rma.mh, rma.peto and rma.glmm use metafor's defaults. A failed fit has \"error\" instead of",
      "\"values\"; warnings are recorded either way. For EE models predict() has no prediction",
      "interval: pi.lb/pi.ub are set to ci.lb/ci.ub. Numbers are %.17g; NA/NaN/Inf/NULL are null.")),
  datasets = lapply(ds, function(d)
    sapply(names(d), function(f) if (f == "origin") d[[f]] else A(d[[f]]), simplify = FALSE, USE.NAMES = TRUE)),
  cases = cases)

txt <- paste0(json(out), "\n")
con <- file(args[1], open = "wb")
writeChar(txt, con, eos = NULL, useBytes = TRUE)
close(con)
cat(sprintf("wrote %s: %d cases, %d bytes\n", args[1], length(cases), nchar(txt, type = "bytes")))
