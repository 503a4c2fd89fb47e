/* format.h — the texts people read at night. One function per kind of notification; each writes
 * plain text (no markup) into buf. */
#ifndef FAULTLINE_ALERT_FORMAT_H
#define FAULTLINE_ALERT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* "🔴 brickbox-43 is DOWN" + when, silence length, last-seen time and IP. */
void alert_format_down(const struct worker_record *w, int64_t now_ms, int64_t fail_timeout_ms,
                       char *buf, size_t buflen);

/* "🟢 brickbox-43 is UP" + when, IP, and how long it was down (down_since_ms). */
void alert_format_up(const struct worker_record *w, int64_t now_ms, int64_t down_since_ms,
                     char *buf, size_t buflen);

#endif
