/* log.h — the one way faultline writes diagnostics: a line per message on stderr,
 * "2026-11-21T10:00:00.123Z warn  telegram: ...". Library code returns errors; only the
 * top level of a subcommand and long-running loops log. Messages start with their module's
 * name ("store: ...", "telegram: ..."). */
#ifndef FAULTLINE_LOG_H
#define FAULTLINE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

/* Sets the lowest level that is printed. Default LOG_INFO. */
void log_set_level(enum log_level level);

/* Parses "debug", "info", "warn" or "error"; returns 0, or -1 for any other text. */
int log_level_parse(const char *text, enum log_level *out);

void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A budget for lines an outsider can cause (one per failed login, one per refused connection):
 * a burst of up to `burst` lines, then one more every interval_ms. Set interval_ms and burst;
 * the rest starts at zero. */
struct log_limit {
    int64_t interval_ms;
    unsigned burst;
    unsigned tokens;
    int64_t refilled_ms;
    unsigned held_back; /* lines not written since the last one */
};

/* True when a line may be written at now_ms; note then gets "" or, when lines were held back
 * since the last one, " (N similar lines held back)" to end the line with. False counts one
 * more held back. */
bool log_limit_pass(struct log_limit *limit, int64_t now_ms, char *note, size_t notelen);

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
