#!/usr/bin/env Rscript
## Reference values for the profile-likelihood CI of the GLMM's mean logit (mu).
##
## Usage (from the repository root):
##   Rscript tests/reference/make_profile_reference.R tests/reference/glmm_profile.json
##
## metafor's rma.glmm has no profile-likelihood CI for mu, so the reference is lme4,
## the engine metafor itself calls: glmer(cbind(x, n - x) ~ 1 + (1 | study),
## family = binomial, nAGQ) for each dataset, and then two independent computations
## of the 95% profile-likelihood interval of the intercept:
##  * "lme4_confint": confint(profile(fit, which = "(Intercept)", delta.cutoff =
##    1/32)), lme4's own profile, whose limits come from a spline through profiled
##    points (accurate to about 1e-4; it moves by that much with delta.cutoff);
##  * "devfun": the limits solved directly, without splines, on lme4's own deviance
##    function (update(fit, devFunOnly = TRUE), arguments c(theta, beta)): the
##    deviance minimised over theta = tau >= 0 by optimize() at each fixed beta, the
##    limit found by uniroot() where it exceeds its minimum by qchisq(0.95, 1).
## The output is byte-stable (no dates, paths or timings; %.17g numbers).

suppressPackageStartupMessages(library(lme4))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 1L) stop("usage: Rscript make_profile_reference.R <out.json>")

DATASETS <- list(
  list(name = "four series",      x = c(16, 10, 4, 43),        n = c(17, 12, 8, 58),        nAGQ = 7),
  list(name = "three series",     x = c(3, 5, 9),              n = c(4, 8, 12),             nAGQ = 7),
  list(name = "k = 2, a 0%",      x = c(0, 16),                n = c(1, 22),                nAGQ = 7),
  list(name = "clearance design", x = c(33, 0, 3, 1, 2, 17),   n = c(43, 1, 4, 1, 5, 22),   nAGQ = 7),
  list(name = "heterogeneous",    x = c(2, 8, 15, 20, 1),      n = c(10, 12, 20, 25, 9),    nAGQ = 7),
  list(name = "near 100%",        x = c(5, 5, 4),              n = c(5, 5, 5),              nAGQ = 7),
  list(name = "large n",          x = c(250, 410, 300),        n = c(300, 500, 400),        nAGQ = 7),
  list(name = "Laplace",          x = c(2, 8, 15, 20, 1),      n = c(10, 12, 20, 25, 9),    nAGQ = 1)
)
LEVEL <- 0.95

num <- function(v) if (is.finite(v)) sprintf("%.17g", v) else "null"
str_ <- function(s) paste0('"', gsub('"', '\\\\"', s), '"')
vec <- function(v) paste0("[", paste(vapply(v, num, ""), collapse = ", "), "]")

one <- function(d) {
  dat <- data.frame(x = d$x, n = d$n, study = factor(seq_along(d$x)))
  fit <- suppressMessages(glmer(cbind(x, n - x) ~ 1 + (1 | study), data = dat,
                                family = binomial, nAGQ = d$nAGQ))
  pr <- suppressWarnings(profile(fit, which = "(Intercept)", signames = FALSE,
                                 delta.cutoff = 1 / 32, maxpts = 1000))
  ci <- suppressWarnings(confint(pr, level = LEVEL))
  dev <- update(fit, devFunOnly = TRUE)
  prof <- function(beta) {
    o <- optimize(function(t) dev(c(t, beta)), c(0, 30), tol = 1e-12)
    min(o$objective, dev(c(0, beta)))
  }
  b <- unname(fixef(fit))
  opt <- optimize(prof, c(b - 1, b + 1), tol = 1e-12)
  d0 <- min(opt$objective, prof(b))
  bhat <- if (opt$objective < prof(b)) opt$minimum else b
  g <- function(beta) prof(beta) - d0 - qchisq(LEVEL, 1)
  lim <- function(side) {
    far <- bhat + side * 15
    if (g(far) < 0) return(side * Inf)
    uniroot(g, sort(c(bhat, far)), tol = 1e-12)$root
  }
  paste0("    {", str_("name"), ": ", str_(d$name), ", ",
         str_("x"), ": ", vec(d$x), ", ", str_("n"), ": ", vec(d$n), ", ",
         str_("nAGQ"), ": ", d$nAGQ, ",\n     ",
         str_("mu"), ": ", num(bhat), ", ",
         str_("tau"), ": ", num(unname(getME(fit, "theta"))), ",\n     ",
         str_("lme4_confint"), ": ", vec(unname(ci[1, ])), ",\n     ",
         str_("devfun"), ": ", vec(c(lim(-1), lim(1))), "}")
}

body <- paste(vapply(DATASETS, one, ""), collapse = ",\n")
src <- paste0("{", str_("R"), ": ", str_(R.version.string), ", ",
              str_("lme4"), ": ", str_(as.character(packageVersion("lme4"))), ", ",
              str_("script"), ": ", str_("tests/reference/make_profile_reference.R"), "}")
out <- paste0("{\n  ", str_("source"), ": ", src, ",\n  ", str_("level"), ": ", num(LEVEL),
              ",\n  ", str_("cases"), ": [\n", body, "\n  ]\n}\n")
writeLines(out, args[1], sep = "")
