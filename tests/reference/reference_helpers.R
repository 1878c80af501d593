## Shared by make_metafor_reference.R and make_two_group_reference.R (sourced from the
## repository root, as both scripts are run): the byte-stable JSON writer and the fit
## helpers that capture warnings and errors.


## ---------------------------------------------------------------------------
## JSON serializer
## ---------------------------------------------------------------------------
## Conventions:
##  * named list            -> object (keys in insertion order)
##  * unnamed list          -> array
##  * A(x)                  -> array, whatever the length of x (0, 1, ...)
##  * atomic of length 1    -> scalar; longer atomic -> array
##  * numeric NA/NaN/Inf    -> null; doubles via sprintf("%.17g")
##  * NULL                  -> null

A <- function(x) structure(list(v = unname(x)), class = "jarr")

json_str <- function(s) {
  if (is.na(s)) return("null")
  s <- enc2utf8(as.character(s))
  s <- gsub("\\", "\\\\", s, fixed = TRUE)
  s <- gsub("\"", "\\\"", s, fixed = TRUE)
  s <- gsub("\n", "\\n", s, fixed = TRUE)
  s <- gsub("\r", "\\r", s, fixed = TRUE)
  s <- gsub("\t", "\\t", s, fixed = TRUE)
  cp <- utf8ToInt(s)
  if (any(cp < 32L | cp > 126L)) {
    out <- vapply(cp, function(u) {
      if (u < 32L || u > 126L) {
        if (u > 0xFFFF) {                       # surrogate pair
          u <- u - 0x10000
          sprintf("\\u%04x\\u%04x", 0xD800 + (u %/% 0x400), 0xDC00 + (u %% 0x400))
        } else sprintf("\\u%04x", u)
      } else intToUtf8(u)
    }, "")
    s <- paste(out, collapse = "")
  }
  paste0("\"", s, "\"")
}

json_scalar <- function(x) {
  if (is.null(x)) return("null")
  if (is.factor(x)) x <- as.character(x)
  if (is.logical(x)) return(if (is.na(x)) "null" else if (x) "true" else "false")
  if (is.character(x)) return(json_str(x))
  if (is.integer(x)) return(if (is.na(x)) "null" else as.character(x))
  if (is.numeric(x)) {
    if (!is.finite(x)) return("null")
    return(sprintf("%.17g", x))
  }
  stop("cannot serialize type ", typeof(x))
}

json <- function(x, ind = 0L) {
  pad  <- strrep(" ", ind)
  pad1 <- strrep(" ", ind + 1L)
  if (inherits(x, "jarr")) {
    v <- x$v
    if (is.list(v)) return(json(unname(v), ind))
    if (length(v) == 0L) return("[]")
    return(paste0("[", paste(vapply(seq_along(v), function(i) json_scalar(v[i]), ""),
                             collapse = ", "), "]"))
  }
  if (is.null(x)) return("null")
  if (is.list(x)) {
    nm <- names(x)
    if (length(x) == 0L) return(if (is.null(nm)) "[]" else "{}")
    if (is.null(nm)) {
      items <- vapply(x, json, "", ind = ind + 1L)
      return(paste0("[\n", paste0(pad1, items, collapse = ",\n"), "\n", pad, "]"))
    }
    stopifnot(!anyDuplicated(nm), all(nzchar(nm)))
    items <- vapply(seq_along(x), function(i)
      paste0(json_str(nm[i]), ": ", json(x[[i]], ind + 1L)), "")
    return(paste0("{\n", paste0(pad1, items, collapse = ",\n"), "\n", pad, "}"))
  }
  x <- unname(x)
  if (length(x) == 1L) return(json_scalar(x))
  json(A(x), ind)
}

## ---------------------------------------------------------------------------
## helpers
## ---------------------------------------------------------------------------

## evaluate expr, collecting warnings (muffled) and turning an error into a
## "fiterr" object.
capture <- function(expr) {
  warns <- character(0)
  val <- withCallingHandlers(
    tryCatch(expr, error = function(e)
      structure(list(msg = conditionMessage(e)), class = "fiterr")),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  list(value = val, warnings = warns)
}
is_err <- function(x) inherits(x, "fiterr")
