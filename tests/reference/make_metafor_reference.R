#!/usr/bin/env Rscript
## Pinned reference values from R/metafor for the Python meta-analysis code.
##
## Usage:
##   Rscript tests/reference/make_metafor_reference.R tests/reference/metafor.json
##   Rscript tests/reference/make_metafor_reference.R --glmm-precision
##
## The first form writes ONE JSON file.  The output is byte-stable on re-runs
## (no dates, timestamps or paths; numbers printed with sprintf("%.17g");
## keys in a fixed order; NA/NaN/Inf/NULL written as JSON null).
## The second form writes nothing: it refits every GLMM (ML, nAGQ=7) with
## other glmer optimizers and prints the largest relative differences, as
## guidance for test tolerances (see tests/reference/README.md).
##
## Only packages that are already installed are used: metafor, lme4 and
## metadat (Debian r-cran-* packages).  jsonlite is NOT needed: the JSON is
## written by the small serializer below so the byte layout is under our
## control.

suppressPackageStartupMessages({
  library(metafor)
  library(lme4)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) {
  stop("usage: Rscript make_metafor_reference.R <out.json> | --glmm-precision | --uni-precision")
}

SCRIPT <- "tests/reference/make_metafor_reference.R"
source("tests/reference/reference_helpers.R")  # JSON writer and fit helpers (run from the repo root)

n1 <- function(x) if (is.null(x)) NA_real_ else unname(as.numeric(x)[1])
nv <- function(x) A(unname(as.numeric(x)))

fmtnum <- function(x) {               # compact number for call strings
  s <- format(x, digits = 15, scientific = FALSE)
  if (abs(x) > 0 && abs(x) < 1e-4) s <- format(x, digits = 15, scientific = TRUE)
  s
}
deparse_list <- function(l) {
  if (length(l) == 0L) return("list()")
  parts <- vapply(names(l), function(k) {
    v <- l[[k]]
    if (is.list(v)) paste0(k, "=", deparse_list(v))
    else if (is.character(v)) paste0(k, "=\"", v, "\"")
    else paste0(k, "=", fmtnum(v))
  }, "")
  paste0("list(", paste(parts, collapse = ", "), ")")
}
ctrl_json <- function(l) lapply(l, function(v) if (is.list(v)) ctrl_json(v) else v)

mkcase <- function(id, dataset, kind, call, args, values = NULL, error = NULL,
                   warnings = NULL) {
  out <- list(id = id, dataset = dataset, kind = kind, call = call, args = args)
  if (!is.null(error)) {
    out$error <- error
    out$warnings <- A(if (is.null(warnings)) character(0) else warnings)
  } else {
    out$values <- values
  }
  out
}

## ---------------------------------------------------------------------------
## datasets
## ---------------------------------------------------------------------------

RNGkind("Mersenne-Twister", "Inversion", "Rejection")

crisafulli_embedded <- data.frame(
  study = c("Brooks (1977)", "Danieli (1977)", "Takeshita (1977)", "Drummond (1979)",
            "Cowan (1980)", "Danieli (1980)", "Bertolotto (1981)", "Monckton (1982)",
            "Dellamonica (1983)", "Nigro (1983)", "Scheuerbrandt (1986)",
            "Mostacciuolo (1987)", "Takeshita (1988)", "Greenberg (1989)",
            "Tangsrud (1989)", "Merlini (1992)", "van Essen (1992)", "Bradley (1993)",
            "Peterlin (1997)", "Drousiotou (1998)", "Jeppesen (2003)", "Talkop (2003)",
            "Eyskens (2006)", "Dooley (2010)", "Mendell (2012)", "Moat (2013)"),
  cases = as.integer(c(47, 66, 19, 2, 99, 105, 73, 110, 12, 156, 48, 76, 50, 5, 16,
                       20, 397, 9, 29, 5, 21, 11, 51, 40, 6, 72)),
  total = as.integer(c(177413, 234396, 91157, 10000, 532302, 371698, 301283, 420374,
                       71091, 721163, 176600, 292637, 261254, 18000, 72963, 77654,
                       1673791, 34219, 210324, 30014, 111703, 62188, 281214, 190521,
                       37649, 369780)),
  stringsAsFactors = FALSE)

get_crisafulli <- function() {
  e <- new.env()
  ok <- suppressWarnings(tryCatch({
    utils::data("dat.crisafulli2020", package = "metadat", envir = e)
    exists("dat.crisafulli2020", envir = e, inherits = FALSE)
  }, error = function(err) FALSE))
  if (ok) {
    d <- get("dat.crisafulli2020", envir = e)
    stopifnot(identical(as.character(d$study), crisafulli_embedded$study),
              identical(as.integer(d$cases), crisafulli_embedded$cases),
              identical(as.integer(d$total), crisafulli_embedded$total))
  }
  crisafulli_embedded
}

make_large400 <- function() {
  set.seed(20261123)
  k <- 400
  ni <- sample(5:60, k, replace = TRUE)
  true <- rnorm(k, qlogis(0.7), 0.8)
  xi <- rbinom(k, ni, plogis(true))
  list(study_id = as.character(seq_len(k)), events = as.integer(xi), n = as.integer(ni))
}

sp <- function(study_id, events, n, origin)
  list(study_id = as.character(study_id), events = as.integer(events),
       n = as.integer(n), origin = origin)

ds <- list()
ds$pritz1997 <- with(metadat::dat.pritz1997, sp(authors, xi, ni,
  "metadat::dat.pritz1997 (xi/ni; 14 studies); study_id = authors"))
ds$miller1978 <- sp(1:4, c(3, 6, 10, 1), c(11, 17, 21, 6),
  "Miller (1978), Am Stat 32:138 (double-arcsine back-transformation example); xi=(3,6,10,1), ni=(11,17,21,6)")
ds$nielweise_control <- with(metadat::dat.nielweise2007, sp(paste(author, year), ci, n2i,
  "metadat::dat.nielweise2007 control arm (ci/n2i); study_id = author year"))
ds$nielweise_treat <- with(metadat::dat.nielweise2007, sp(paste(author, year), ai, n1i,
  "metadat::dat.nielweise2007 treatment arm (ai/n1i; six zero-event arms); study_id = author year"))
ds$crisafulli2020 <- with(get_crisafulli(), sp(study, cases, total,
  paste("metadat dat.crisafulli2020 (cases/total; 26 studies). Not shipped in the installed",
        "metadat 1.2-0, so the script embeds a copy of metadat's data-raw/dat.crisafulli2020.csv;",
        "the embedded data.frame reproduces the md5 checked in metadat's own test",
        "(digest md5 fee9264067c19c6e53294e4c72eec7ef). If a newer metadat provides the",
        "dataset, the script checks it is identical.")))
ds$meta_issue35 <- sp(1:2, c(5, 116), c(119, 170),
  "R package 'meta' GitHub issue #35 (k=2); xi=(5,116), ni=(119,170)")
ds$meta_help <- sp(1:4, 4:1, 10 * 1:4,
  "R package 'meta' help-page example (metaprop): xi=4:1, ni=10*1:4")
ds$sparse <- sp(1:7, c(0, 3, 5, 1, 10, 0, 1), c(1, 10, 5, 1, 12, 8, 1),
  "synthetic: n=1 case reports, 0% and 100% studies; xi=(0,3,5,1,10,0,1), ni=(1,10,5,1,12,8,1)")
ds$ft_pitfall <- sp(1:5, c(0, 1, 2, 30, 60), c(10, 15, 20, 3000, 6000),
  "synthetic Freeman-Tukey back-transformation pitfall (very unequal n); xi=(0,1,2,30,60), ni=(10,15,20,3000,6000)")
L4 <- make_large400()
ds$large400 <- sp(L4$study_id, L4$events, L4$n, paste(
  "synthetic, R code: RNGkind(\"Mersenne-Twister\",\"Inversion\",\"Rejection\"); set.seed(20261123); k <- 400;",
  "ni <- sample(5:60, k, replace=TRUE); true <- rnorm(k, qlogis(0.7), 0.8);",
  "xi <- rbinom(k, ni, plogis(true))"))
ds$single <- sp(1, 7, 10, "synthetic single study (k=1): xi=7, ni=10")

SINGLE_PROP <- names(ds)

## two-group data sets
tg <- list()
tg$comp3 <- list(study_id = c("1", "2", "3"),
                 ai = as.integer(c(8, 5, 0)), n1i = as.integer(c(10, 12, 6)),
                 ci = as.integer(c(3, 4, 2)), n2i = as.integer(c(9, 15, 7)),
                 origin = "synthetic comparative data: treated ai/n1i, control ci/n2i")
tg$nielweise2007 <- with(metadat::dat.nielweise2007, list(
  study_id = paste(author, year),
  ai = as.integer(ai), n1i = as.integer(n1i), ci = as.integer(ci), n2i = as.integer(n2i),
  origin = "metadat::dat.nielweise2007 (treated ai/n1i, control ci/n2i; study 15 is double-zero)"))

## ---------------------------------------------------------------------------
## settings
## ---------------------------------------------------------------------------

MEASURES <- c("PLO", "PFT", "PAS", "PLN", "PR")
METHODS  <- c("EE", "DL", "REML", "PM", "ML")
TESTS    <- c("z", "knha")
CTRL     <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
CTRL_ADJ <- c(CTRL, list(stepadj = 0.5))
CI_CTRL  <- list(tol = 1e-12)

default_add <- function(measure) if (measure %in% c("PAS", "PFT")) 0 else 0.5

transf_info <- function(measure) switch(measure,
  PLO = list(name = "transf.ilogit", call = ", transf=transf.ilogit"),
  PAS = list(name = "transf.iarcsin", call = ", transf=transf.iarcsin"),
  PLN = list(name = "exp", call = ", transf=exp"),
  PR  = list(name = "identity", call = ""),
  PFT = list(name = "transf.ipft.hm", call = ", transf=transf.ipft.hm, targs=list(ni=ni)"))

do_predict <- function(res, measure, ni) {
  switch(measure,
    PLO = predict(res, transf = transf.ilogit),
    PAS = predict(res, transf = transf.iarcsin),
    PLN = predict(res, transf = exp),
    PR  = predict(res),
    PFT = predict(res, transf = transf.ipft.hm, targs = list(ni = ni)))
}

## predict() block; for EE models metafor gives no PI: pi = ci
pred_block <- function(p) {
  pi.lb <- if (is.null(p$pi.lb)) p$ci.lb else p$pi.lb
  pi.ub <- if (is.null(p$pi.ub)) p$ci.ub else p$pi.ub
  list(pred = n1(p$pred), pred.se = n1(p$se), ci.lb = n1(p$ci.lb), ci.ub = n1(p$ci.ub),
       pi.lb = n1(pi.lb), pi.ub = n1(pi.ub))
}

confint_block <- function(ci) {
  r <- ci$random
  row <- function(nm) list(estimate = n1(r[nm, "estimate"]), ci.lb = n1(r[nm, "ci.lb"]),
                           ci.ub = n1(r[nm, "ci.ub"]))
  list(tau2 = row("tau^2"), tau = row("tau"), I2 = row("I^2(%)"), H2 = row("H^2"),
       ci.null = if (is.null(ci$ci.null)) NA else isTRUE(ci$ci.null),
       lb.sign = if (is.null(ci$lb.sign)) "" else ci$lb.sign,
       ub.sign = if (is.null(ci$ub.sign)) "" else ci$ub.sign)
}

stat_name <- function(test) if (test == "z") "zval" else "tval"

## ---------------------------------------------------------------------------
## case builders
## ---------------------------------------------------------------------------

cases <- list()
add_case <- function(cs) cases[[length(cases) + 1L]] <<- cs

## 1. escalc --------------------------------------------------------------------
case_escalc <- function(name, d, measure) {
  xi <- d$events; ni <- d$n
  f <- capture(escalc(measure = measure, xi = xi, ni = ni))
  cl <- sprintf("escalc(measure=\"%s\", xi=xi, ni=ni)  # metafor defaults: add=%s, to=\"only0\"",
                measure, fmtnum(default_add(measure)))
  a <- list(measure = measure, add = default_add(measure), to = "only0")
  id <- paste(name, "escalc", measure, sep = "/")
  if (is_err(f$value)) return(mkcase(id, name, "escalc", cl, a, error = f$value$msg,
                                     warnings = f$warnings))
  mkcase(id, name, "escalc", cl, a,
         values = list(yi = nv(f$value$yi), vi = nv(f$value$vi), warnings = A(f$warnings)))
}

## 2. rma.uni -------------------------------------------------------------------
fit_uni <- function(xi, ni, measure, method, test) {
  ctrl <- CTRL
  f <- capture(rma(measure = measure, xi = xi, ni = ni, method = method, test = test,
                   control = ctrl))
  if (is_err(f$value) && method %in% c("REML", "ML")) {
    ctrl <- CTRL_ADJ
    f <- capture(rma(measure = measure, xi = xi, ni = ni, method = method, test = test,
                     control = ctrl))
  }
  f$control <- ctrl
  f
}

case_uni <- function(name, d, measure, method, test) {
  xi <- d$events; ni <- d$n
  f <- fit_uni(xi, ni, measure, method, test)
  ti <- transf_info(measure)
  cl <- paste0(
    sprintf("res <- rma(measure=\"%s\", xi=xi, ni=ni, method=\"%s\", test=\"%s\", control=%s)",
            measure, method, test, deparse_list(f$control)),
    "; predict(res", ti$call, ")  # ", ti$name, " back-transform; also predict(res) on the model scale",
    "; weights(res)",
    if (method != "EE") paste0("; confint(res, control=", deparse_list(CI_CTRL), ")$random") else "",
    if (method %in% c("ML", "REML")) "; logLik(res)" else "")
  a <- list(measure = measure, method = method, test = test,
            control = ctrl_json(f$control), add = default_add(measure), to = "only0",
            transf = ti$name)
  id <- paste(name, "rma.uni", measure, method, test, sep = "/")
  if (is_err(f$value)) return(mkcase(id, name, "rma.uni", cl, a, error = f$value$msg,
                                     warnings = f$warnings))
  res <- f$value
  warns <- f$warnings
  v <- list(test_used = res$test, b = n1(res$b), se = n1(res$se))
  v[[stat_name(res$test)]] <- n1(res$zval)
  if (res$test != "z") v$df <- n1(res$ddf)
  v <- c(v, list(pval = n1(res$pval), ci.lb = n1(res$ci.lb), ci.ub = n1(res$ci.ub),
                 tau2 = n1(res$tau2), se.tau2 = n1(res$se.tau2), I2 = n1(res$I2),
                 H2 = n1(res$H2), QE = n1(res$QE), QEp = n1(res$QEp), k = as.integer(res$k)))
  pr <- capture(predict(res))
  warns <- c(warns, pr$warnings)
  if (is_err(pr$value)) v$predict_error <- pr$value$msg else v <- c(v, pred_block(pr$value)[c("pred", "pred.se", "pi.lb", "pi.ub")])
  w <- capture(weights(res))
  v$weights <- if (is_err(w$value)) NULL else nv(w$value)
  pt <- capture(do_predict(res, measure, ni))
  warns <- c(warns, pt$warnings)
  if (is_err(pt$value)) {
    v$transf_error <- pt$value$msg
  } else {
    pb <- pred_block(pt$value)
    v$transf <- list(estimate = pb$pred, ci.lb = pb$ci.lb, ci.ub = pb$ci.ub,
                     pi.lb = pb$pi.lb, pi.ub = pb$pi.ub)
  }
  if (method %in% c("ML", "REML")) v$logLik <- n1(logLik(res))
  if (method != "EE") {
    ci <- capture(confint(res, control = CI_CTRL))
    if (is_err(ci$value)) v$confint_random_error <- ci$value$msg
    else v$confint_random <- confint_block(ci$value)
    v$confint_warnings <- A(ci$warnings)
  }
  v$warnings <- A(warns)
  mkcase(id, name, "rma.uni", cl, a, values = v)
}

## 3. rma.glmm ------------------------------------------------------------------
glmm_call <- function(method, nAGQ, test, extra = "") {
  paste0("rma.glmm(measure=\"PLO\", xi=xi, ni=ni, method=\"", method, "\"",
         if (method == "ML") paste0(", nAGQ=", nAGQ) else "",
         ", test=\"", test, "\"", extra, ")")
}

fit_glmm <- function(xi, ni, method, nAGQ, test, control = NULL) {
  if (is.null(control))
    capture(rma.glmm(measure = "PLO", xi = xi, ni = ni, method = method, nAGQ = nAGQ, test = test))
  else
    capture(rma.glmm(measure = "PLO", xi = xi, ni = ni, method = method, nAGQ = nAGQ, test = test,
                     control = control))
}

glmm_values <- function(res, warns) {
  v <- list(test_used = res$test, b = n1(res$b), se = n1(res$se))
  v[[stat_name(res$test)]] <- n1(res$zval)
  if (res$test != "z") v$df <- n1(res$ddf)
  v <- c(v, list(pval = n1(res$pval), ci.lb = n1(res$ci.lb), ci.ub = n1(res$ci.ub),
                 tau2 = n1(res$tau2), I2 = n1(res$I2), H2 = n1(res$H2),
                 QE.Wld = n1(res$QE.Wld), QEp.Wld = n1(res$QEp.Wld),
                 QE.LRT = n1(res$QE.LRT), QEp.LRT = n1(res$QEp.LRT), QE.df = n1(res$QE.df),
                 k = as.integer(res$k), logLik = n1(logLik(res))))
  p  <- capture(predict(res))
  pt <- capture(predict(res, transf = transf.ilogit))
  warns <- c(warns, p$warnings, pt$warnings)
  if (!is_err(p$value)) v <- c(v, pred_block(p$value)[c("pred", "pred.se", "pi.lb", "pi.ub")])
  if (!is_err(pt$value)) {
    pb <- pred_block(pt$value)
    v$transf <- list(estimate = pb$pred, ci.lb = pb$ci.lb, ci.ub = pb$ci.ub,
                     pi.lb = pb$pi.lb, pi.ub = pb$pi.ub)
  }
  v$warnings <- A(warns)
  v
}

case_glmm <- function(name, d, method, nAGQ, test) {
  xi <- d$events; ni <- d$n
  f <- fit_glmm(xi, ni, method, nAGQ, test)
  cl <- paste0("res <- ", glmm_call(method, nAGQ, test),
               "; predict(res); predict(res, transf=transf.ilogit); logLik(res)",
               "  # metafor defaults otherwise (ML: lme4::glmer with default glmerControl; EE and saturated model: glm)")
  a <- list(measure = "PLO", method = method, nAGQ = if (method == "ML") as.integer(nAGQ) else NULL,
            test = test, transf = "transf.ilogit")
  if (is.null(a$nAGQ)) a$nAGQ <- NULL
  id <- paste(c(name, "rma.glmm", "PLO", method, if (method == "ML") paste0("nAGQ", nAGQ), test),
              collapse = "/")
  if (is_err(f$value)) return(mkcase(id, name, "rma.glmm", cl, a, error = f$value$msg,
                                     warnings = f$warnings))
  mkcase(id, name, "rma.glmm", cl, a, values = glmm_values(f$value, f$warnings))
}

## 4. leave1out -----------------------------------------------------------------
case_l1o_uni <- function(name, d) {
  xi <- d$events; ni <- d$n
  f <- fit_uni(xi, ni, "PLO", "REML", "z")
  cl <- sprintf("res <- rma(measure=\"PLO\", xi=xi, ni=ni, method=\"REML\", test=\"z\", control=%s); leave1out(res)",
                deparse_list(f$control))
  a <- list(measure = "PLO", method = "REML", test = "z", control = ctrl_json(f$control))
  id <- paste(name, "leave1out", "rma.uni", "PLO", "REML", "z", sep = "/")
  if (is_err(f$value)) return(mkcase(id, name, "leave1out", cl, a, error = f$value$msg))
  l <- capture(leave1out(f$value))
  if (is_err(l$value)) return(mkcase(id, name, "leave1out", cl, a, error = l$value$msg))
  L <- l$value
  v <- list(omitted = A(seq_along(xi)), estimate = nv(L$estimate), se = nv(L$se),
            zval = nv(L$zval), pval = nv(L$pval), ci.lb = nv(L$ci.lb), ci.ub = nv(L$ci.ub),
            Q = nv(L$Q), Qp = nv(L$Qp), tau2 = nv(L$tau2), I2 = nv(L$I2), H2 = nv(L$H2),
            warnings = A(c(f$warnings, l$warnings)))
  mkcase(id, name, "leave1out", cl, a, values = v)
}

case_l1o_glmm <- function(name, d) {
  xi <- d$events; ni <- d$n
  k <- length(xi)
  cl <- "for (i in seq_along(xi)) rma.glmm(measure=\"PLO\", xi=xi[-i], ni=ni[-i], method=\"ML\", nAGQ=7, test=\"z\")"
  a <- list(measure = "PLO", method = "ML", nAGQ = 7L, test = "z")
  id <- paste(name, "leave1out", "rma.glmm", "PLO", "ML", "nAGQ7", "z", sep = "/")
  out <- list(b = rep(NA_real_, k), se = rep(NA_real_, k), ci.lb = rep(NA_real_, k),
              ci.ub = rep(NA_real_, k), tau2 = rep(NA_real_, k), I2 = rep(NA_real_, k))
  errs <- rep(NA_character_, k)
  warns <- vector("list", k)
  for (i in seq_len(k)) {
    f <- fit_glmm(xi[-i], ni[-i], "ML", 7, "z")
    warns[[i]] <- A(f$warnings)
    if (is_err(f$value)) { errs[i] <- f$value$msg; next }
    r <- f$value
    out$b[i] <- n1(r$b); out$se[i] <- n1(r$se); out$ci.lb[i] <- n1(r$ci.lb)
    out$ci.ub[i] <- n1(r$ci.ub); out$tau2[i] <- n1(r$tau2); out$I2[i] <- n1(r$I2)
  }
  v <- c(list(omitted = A(seq_len(k))), lapply(out, nv),
         list(errors = A(errs), warnings = warns))
  mkcase(id, name, "leave1out", cl, a, values = v)
}

## 5. binomial CIs --------------------------------------------------------------
BX <- as.integer(c(81, 15, 0, 1, 0, 1, 3, 7, 27, 0))
BN <- as.integer(c(263, 148, 20, 29, 1, 1, 3, 50, 30, 5))

binom_ci <- function(method, x, n, cl) {
  a <- 1 - cl
  z <- qnorm(1 - a / 2)
  r <- switch(method,
    "clopper-pearson" = binom.test(x, n, conf.level = cl)$conf.int,
    "wilson" = suppressWarnings(prop.test(x, n, conf.level = cl, correct = FALSE)$conf.int),
    "wilson-cc" = suppressWarnings(prop.test(x, n, conf.level = cl, correct = TRUE)$conf.int),
    "jeffreys" = c(if (x == 0) 0 else qbeta(a / 2, x + 0.5, n - x + 0.5),
                   if (x == n) 1 else qbeta(1 - a / 2, x + 0.5, n - x + 0.5)),
    "agresti-coull" = {
      nt <- n + z^2; pt <- (x + z^2 / 2) / nt; h <- z * sqrt(pt * (1 - pt) / nt)
      c(max(0, pt - h), min(1, pt + h))
    },
    "wald" = {
      p <- x / n; h <- z * sqrt(p * (1 - p) / n)
      c(max(0, p - h), min(1, p + h))
    })
  as.numeric(r)
}
BINOM_FORMULA <- list(
  "clopper-pearson" = "binom.test(x, n, conf.level=cl)$conf.int  # exact; lower=0 if x=0, upper=1 if x=n, alpha/2 in each tail",
  "wilson" = "suppressWarnings(prop.test(x, n, conf.level=cl, correct=FALSE)$conf.int)",
  "wilson-cc" = "suppressWarnings(prop.test(x, n, conf.level=cl, correct=TRUE)$conf.int)  # R uses YATES=min(0.5, abs(x-n/2)); here always 0.5",
  "jeffreys" = "a <- 1-cl; c(if (x==0) 0 else qbeta(a/2, x+0.5, n-x+0.5), if (x==n) 1 else qbeta(1-a/2, x+0.5, n-x+0.5))  # Brown, Cai & DasGupta (2001)",
  "agresti-coull" = "z <- qnorm(1-(1-cl)/2); nt <- n+z^2; pt <- (x+z^2/2)/nt; h <- z*sqrt(pt*(1-pt)/nt); c(max(0, pt-h), min(1, pt+h))",
  "wald" = "z <- qnorm(1-(1-cl)/2); p <- x/n; h <- z*sqrt(p*(1-p)/n); c(max(0, p-h), min(1, p+h))")

case_binom <- function(method, cl) {
  ci <- t(vapply(seq_along(BX), function(i) binom_ci(method, BX[i], BN[i], cl), c(0, 0)))
  mkcase(paste("binom_ci", method, sprintf("%.2f", cl), sep = "/"), NULL, "binom_ci",
         paste0("for each (x, n): ", BINOM_FORMULA[[method]]),
         list(method = method, conf_level = cl, x = A(BX), n = A(BN)),
         values = list(lower = nv(ci[, 1]), upper = nv(ci[, 2])))
}

## 6. two-group -----------------------------------------------------------------
case_tg_escalc <- function(name, d, measure) {
  ai <- d$ai; n1i <- d$n1i; ci <- d$ci; n2i <- d$n2i
  f <- capture(escalc(measure = measure, ai = ai, n1i = n1i, ci = ci, n2i = n2i,
                      add = 1/2, to = "only0"))
  cl <- sprintf("escalc(measure=\"%s\", ai=ai, n1i=n1i, ci=ci, n2i=n2i, add=1/2, to=\"only0\")", measure)
  a <- list(measure = measure, add = 0.5, to = "only0", drop00 = FALSE)
  id <- paste(name, "two_group", "escalc", measure, sep = "/")
  if (is_err(f$value)) return(mkcase(id, name, "two_group", cl, a, error = f$value$msg))
  mkcase(id, name, "two_group", cl, a,
         values = list(yi = nv(f$value$yi), vi = nv(f$value$vi), warnings = A(f$warnings)))
}

case_tg_rma <- function(name, d, measure, method, test) {
  ai <- d$ai; n1i <- d$n1i; ci <- d$ci; n2i <- d$n2i
  f <- capture(rma(measure = measure, ai = ai, n1i = n1i, ci = ci, n2i = n2i, add = 1/2,
                   to = "only0", method = method, test = test, control = CTRL))
  tr <- if (measure %in% c("OR", "RR")) "exp" else "identity"
  cl <- sprintf(paste0("res <- rma(measure=\"%s\", ai=ai, n1i=n1i, ci=ci, n2i=n2i, add=1/2, to=\"only0\", ",
                       "method=\"%s\", test=\"%s\", control=%s); predict(res)%s; weights(res)"),
                measure, method, test, deparse_list(CTRL),
                if (tr == "exp") "; predict(res, transf=exp)" else "")
  a <- list(measure = measure, method = method, test = test, control = ctrl_json(CTRL),
            add = 0.5, to = "only0", transf = tr)
  id <- paste(name, "two_group", "rma.uni", measure, method, test, sep = "/")
  if (is_err(f$value)) return(mkcase(id, name, "two_group", cl, a, error = f$value$msg,
                                     warnings = f$warnings))
  res <- f$value
  v <- list(test_used = res$test, b = n1(res$b), se = n1(res$se))
  v[[stat_name(res$test)]] <- n1(res$zval)
  if (res$test != "z") v$df <- n1(res$ddf)
  v <- c(v, list(pval = n1(res$pval), ci.lb = n1(res$ci.lb), ci.ub = n1(res$ci.ub),
                 tau2 = n1(res$tau2), se.tau2 = n1(res$se.tau2), I2 = n1(res$I2),
                 H2 = n1(res$H2), QE = n1(res$QE), QEp = n1(res$QEp), k = as.integer(res$k)))
  v <- c(v, pred_block(predict(res))[c("pred", "pred.se", "pi.lb", "pi.ub")])
  v$weights <- nv(weights(res))
  pb <- pred_block(if (tr == "exp") predict(res, transf = exp) else predict(res))
  v$transf <- list(estimate = pb$pred, ci.lb = pb$ci.lb, ci.ub = pb$ci.ub,
                   pi.lb = pb$pi.lb, pi.ub = pb$pi.ub)
  if (method %in% c("ML", "REML")) v$logLik <- n1(logLik(res))
  v$warnings <- A(f$warnings)
  mkcase(id, name, "two_group", cl, a, values = v)
}

## ---------------------------------------------------------------------------
## optional: GLMM optimizer precision check (prints, writes nothing)
## ---------------------------------------------------------------------------
if (args[1] == "--glmm-precision") {
  OPTS <- list(default = NULL,
               nlminbwrap = list(glmerCtrl = list(optimizer = "nlminbwrap")),
               Nelder_Mead = list(glmerCtrl = list(optimizer = "Nelder_Mead")),
               bobyqa = list(glmerCtrl = list(optimizer = "bobyqa")))
  keys <- c("b", "se", "ci.lb", "ci.ub", "tau2", "I2", "pi.lb", "pi.ub", "logLik")
  get <- function(f) {
    if (is_err(f$value)) return(NULL)
    r <- f$value; p <- predict(r)
    c(b = n1(r$b), se = n1(r$se), ci.lb = n1(r$ci.lb), ci.ub = n1(r$ci.ub), tau2 = n1(r$tau2),
      I2 = n1(r$I2), pi.lb = n1(p$pi.lb), pi.ub = n1(p$pi.ub), logLik = n1(logLik(r)))
  }
  rel <- function(a, b) abs(a - b) / pmax(abs(a), abs(b), 1e-300)
  overall <- setNames(rep(0, length(keys)), keys)
  for (nm in setdiff(SINGLE_PROP, "single")) {
    d <- ds[[nm]]
    for (q in c(7, 1)) {
      base <- get(fit_glmm(d$events, d$n, "ML", q, "z"))
      for (o in names(OPTS)[-1]) {
        alt <- get(fit_glmm(d$events, d$n, "ML", q, "z", OPTS[[o]]))
        if (is.null(base) || is.null(alt)) { cat(nm, "nAGQ", q, o, "fit failed\n"); next }
        rd <- rel(base, alt)
        if (q == 7) overall <- pmax(overall, rd)
        cat(sprintf("%-18s nAGQ=%d %-12s max rel diff %.2e (%s); tau2 %.10g vs %.10g\n",
                    nm, q, o, max(rd), names(rd)[which.max(rd)], base["tau2"], alt["tau2"]))
      }
    }
  }
  cat("\nmax relative difference per quantity over data sets (nAGQ=7, default vs other optimizers):\n")
  print(signif(overall, 3))
  quit(save = "no", status = 0)
}

## ---------------------------------------------------------------------------
## optional: rma.uni tolerance check (prints, writes nothing)
## refits REML/ML/PM with threshold=tol=1e-15 and compares with the pinned
## 1e-12 settings; relative differences above 1e-9 are printed.
## ---------------------------------------------------------------------------
if (args[1] == "--uni-precision") {
  TIGHT <- list(threshold = 1e-15, tol = 1e-15, maxiter = 100000)
  rel <- function(a, b) abs(a - b) / max(abs(b), 1e-300)
  for (nm in setdiff(SINGLE_PROP, "single")) {
    xi <- ds[[nm]]$events; ni <- ds[[nm]]$n
    for (m in MEASURES) for (me in c("REML", "ML", "PM")) {
      a <- suppressWarnings(rma(measure = m, xi = xi, ni = ni, method = me, control = CTRL))
      b <- suppressWarnings(rma(measure = m, xi = xi, ni = ni, method = me, control = TIGHT))
      ca <- suppressWarnings(confint(a, control = CI_CTRL)$random)
      cb <- suppressWarnings(confint(b, control = list(tol = 1e-15))$random)
      r <- c(tau2 = rel(a$tau2, b$tau2), b = rel(a$b[1], b$b[1]), se = rel(a$se, b$se),
             tau2.ci.lb = rel(ca[1, 2], cb[1, 2]), tau2.ci.ub = rel(ca[1, 3], cb[1, 3]),
             I2.ci.ub = rel(ca[3, 3], cb[3, 3]))
      if (max(r) > 1e-9)
        cat(sprintf("%-18s %-3s %-4s tau2=%-12.6g abs.diff.tau2=%.1e rel: %s\n", nm, m, me, b$tau2,
                    abs(a$tau2 - b$tau2),
                    paste(sprintf("%s=%.1e", names(r), r), collapse = " ")))
    }
  }
  quit(save = "no", status = 0)
}

## ---------------------------------------------------------------------------
## build all cases
## ---------------------------------------------------------------------------

for (nm in SINGLE_PROP) for (m in MEASURES) add_case(case_escalc(nm, ds[[nm]], m))

for (nm in SINGLE_PROP) for (m in MEASURES) for (me in METHODS) for (te in TESTS) {
  if (nm == "single" && me != "EE") next
  add_case(case_uni(nm, ds[[nm]], m, me, te))
}

for (nm in SINGLE_PROP) {
  add_case(case_glmm(nm, ds[[nm]], "ML", 7, "z"))
  add_case(case_glmm(nm, ds[[nm]], "ML", 1, "z"))
  add_case(case_glmm(nm, ds[[nm]], "EE", 7, "z"))
  if (nm %in% c("pritz1997", "sparse")) {
    add_case(case_glmm(nm, ds[[nm]], "ML", 7, "t"))
    add_case(case_glmm(nm, ds[[nm]], "ML", 1, "t"))
    add_case(case_glmm(nm, ds[[nm]], "EE", 7, "t"))
  }
}

for (nm in c("pritz1997", "sparse")) {
  add_case(case_l1o_uni(nm, ds[[nm]]))
  add_case(case_l1o_glmm(nm, ds[[nm]]))
}

for (me in names(BINOM_FORMULA)) for (cl in c(0.90, 0.95, 0.99)) add_case(case_binom(me, cl))

for (nm in names(tg)) {
  for (m in c("OR", "RR", "RD")) add_case(case_tg_escalc(nm, tg[[nm]], m))
  for (m in c("OR", "RR", "RD")) for (me in c("DL", "REML")) for (te in TESTS)
    add_case(case_tg_rma(nm, tg[[nm]], m, me, te))
}

stopifnot(!anyDuplicated(vapply(cases, `[[`, "", "id")))

## ---------------------------------------------------------------------------
## write
## ---------------------------------------------------------------------------

pv <- function(p) as.character(utils::packageVersion(p))
out <- list(
  source = list(
    R = R.version.string,
    metafor = pv("metafor"),
    lme4 = pv("lme4"),
    metadat = pv("metadat"),
    script = SCRIPT,
    note = paste(
      "Reference values computed with R/metafor for bkvn-ivig-evidence tests.",
      "rma.uni fits use control=list(threshold=1e-12, tol=1e-12, maxiter=10000)",
      "(stepadj=0.5 added only if the fit fails without it; the control used is in each case's call/args);",
      "Q-profile tau^2 CIs use confint(res, control=list(tol=1e-12)).",
      "rma.glmm fits use metafor defaults (glmer from lme4, default glmerControl), so their",
      "precision is that of lme4's optimizer, not 1e-12: see tests/reference/README.md.",
      "For EE models predict() has no prediction interval; pi.lb/pi.ub are set equal to ci.lb/ci.ub.",
      "Numbers are printed with %.17g; NA/NaN/Inf/NULL are JSON null.",
      "Two-group data sets (comp3, nielweise2007) use ai/n1i/ci/n2i instead of events/n.")),
  datasets = lapply(c(ds, tg), function(d)
    sapply(names(d), function(f) if (f == "origin") d[[f]] else A(d[[f]]),
           simplify = FALSE, USE.NAMES = TRUE)),
  cases = cases)

txt <- paste0(json(out), "\n")
con <- file(args[1], open = "wb")
writeChar(txt, con, eos = NULL, useBytes = TRUE)
close(con)
cat(sprintf("wrote %s: %d cases, %d bytes\n", args[1], length(cases), nchar(txt, type = "bytes")))
