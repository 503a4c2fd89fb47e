/* cron.h — five-field cron expressions ("0 2 * * 6": minute, hour, day of month, month, day of
 * week), as Vixie cron reads them, and their next firing in a time zone (tz.h). Used by the
 * recurring maintenance windows (alert/silence.h). Pure: no clock, no I/O. */
#ifndef FAULTLINE_CRON_H
#define FAULTLINE_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tz;

/* Each field as a bit set: bit n set when value n matches. */
struct cron {
    uint64_t minutes;  /* 0-59 */
    uint32_t hours;    /* 0-23 */
    uint32_t days;     /* 1-31 */
    uint16_t months;   /* 1-12 */
    uint8_t weekdays;  /* 0-6, Sunday 0 (7 is read as 0) */
    bool days_star, weekdays_star; /* written as "*": see cron_next */
};

/* Parses text: five fields separated by spaces, each a list (",") of "*", "N", "N-M", with an
 * optional step "/S"; months and weekdays also by name (jan, mon); or one of @yearly,
 * @annually, @monthly, @weekly, @daily, @midnight, @hourly. Returns 0, or -1 with err set, e.g.
 *   field 2 (hour): expected 0-23, got "25"
 *   expected 5 fields (minute hour day-of-month month day-of-week), got 4 */
int cron_parse(const char *text, struct cron *out, char *err, size_t errlen);

/* The first instant (seconds since the epoch) after after_s, strictly, at which c fires in the
 * zone tz (local wall-clock time; NULL: UTC), or -1 when none lies within the next 5 years
 * ("0 0 30 2 *"). When both the day of month and the day of week are restricted, a day matching
 * either fires (Vixie cron). A local time a clock change repeats fires once, at its first
 * occurrence; one it skips fires as tz_local_to_utc says (an hour later). */
int64_t cron_next(const struct cron *c, const struct tz *tz, int64_t after_s);

#endif
