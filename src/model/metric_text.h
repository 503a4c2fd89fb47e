/* model/metric_text.h — the reader of Prometheus text exposition format 0.0.4: what agents push
 * (POST /api/v1/metrics/NAME) and what the textfile and exec collectors read, so one parser
 * serves all. Strict, line by line: a line that breaks a rule is refused with an error naming
 * the metric, label or value and what was expected, and every other line is kept. Never aborts,
 * whatever the input.
 *
 * The rules: metric names [a-zA-Z_:][a-zA-Z0-9_:]*; label names [a-zA-Z_][a-zA-Z0-9_]* and not
 * starting with "__", each once per sample; label values in double quotes, UTF-8, with only the
 * escapes \\, \" and \n; values are floats (NaN, +Inf and -Inf too); an optional timestamp is an
 * integer of milliseconds (read and dropped: the receiver stamps samples itself); a series
 * (name and labels) once per text; `# TYPE` (counter, gauge, histogram, summary, untyped) and
 * `# HELP` once per metric, TYPE before its samples; other `#` lines are comments. A label with
 * an empty value is the same as no label (as in Prometheus), so it is dropped. */
#ifndef FAULTLINE_MODEL_METRIC_TEXT_H
#define FAULTLINE_MODEL_METRIC_TEXT_H

#include <stddef.h>

#include "model/metric.h"

/* Longest line read (a longer one is refused). */
#define METRIC_TEXT_LINE_MAX 65536

/* One accepted sample, valid only during the call that receives it. */
struct metric_text_sample {
    size_t line;                       /* 1-based */
    const char *family;                /* the metric its TYPE/HELP name (name less _bucket, _sum
                                        * or _count for histograms and summaries); the same
                                        * pointer for every sample of a metric, until
                                        * metric_text_each returns */
    const char *type;                  /* static: "counter", "gauge", "histogram", "summary",
                                        * "untyped" (no TYPE line) */
    const char *help;                  /* the HELP text, unescaped, or NULL (kept as long
                                        * as family) */
    const char *name;                  /* the sample's own name */
    const struct metric_label *labels; /* sorted by name */
    size_t nlabels;
    double value;
    const char *value_text; /* the value as written (valid for Prometheus), not NUL-terminated */
    size_t value_len;
};

/* Reads text and hands each valid sample to on_sample, in order. on_sample returns 0 to count it
 * accepted, 1 to refuse it (with its error written to err, errlen bytes) or -1 to stop (out of
 * memory). For each refused line (by the rules or by on_sample) calls refused (may be NULL)
 * with its 1-based line number and the error, e.g. `label name "2x" of metric "up": expected
 * [a-zA-Z_][a-zA-Z0-9_]*`; errors quote outside text as printable ASCII (other bytes as \xNN).
 * Returns how many samples were accepted, or -1 when out of memory or stopped. */
int metric_text_each(const char *text, size_t len,
                     int (*on_sample)(void *ctx, const struct metric_text_sample *s, char *err,
                                      size_t errlen),
                     void (*refused)(void *ctx, size_t line, const char *error), void *ctx);

/* Appends every valid sample of text to out, as metric_text_each reads them, with its metric's
 * TYPE, HELP (owned) and, for a histogram's or summary's _bucket, _sum and _count, the metric's
 * name as family, so that metric_list_to_text writes them back as they came. Returns how many
 * samples were accepted, or -1 when out of memory (out keeps what was added; free it with
 * metric_list_free). */
int metric_text_parse(const char *text, size_t len, struct metric_list *out,
                      void (*refused)(void *ctx, size_t line, const char *error), void *ctx);

#endif
