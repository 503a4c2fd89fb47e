/* tz.h — time zones from the system's tz database, read as TZif files (/usr/share/zoneinfo) by
 * a small reader of our own, so that a zone is a value and not process state: localtime_r under
 * a changed TZ would touch the environment every thread reads (docs/decisions.md). Used by the
 * cron schedules of maintenance windows (cron.h). */
#ifndef FAULTLINE_TZ_H
#define FAULTLINE_TZ_H

#include <stddef.h>
#include <stdint.h>

#define TZ_NAME_MAX 64
#define TZ_DIR "/usr/share/zoneinfo"

struct tz;

/* Loads the zone called name ("Europe/Berlin", "UTC") from dir (NULL: TZ_DIR). Names are
 * letters, digits and "/_-+", without "..", at most TZ_NAME_MAX bytes. Returns the zone (free
 * with tz_free), or NULL with err set:
 *   unknown time zone "Mars/Base" (expected an IANA name such as Europe/Berlin) */
struct tz *tz_load(const char *name, const char *dir, char *err, size_t errlen);

/* NULL is a no-op. */
void tz_free(struct tz *tz);

/* The zone's name as loaded. */
const char *tz_name(const struct tz *tz);

/* Seconds east of UTC in force at utc_s (seconds since the epoch): from the file's transitions,
 * and after the last one (Debian's files list them up to 2037; "slim" files stop earlier) from
 * its POSIX TZ rule; without a rule it reads, the last offset stays. */
int32_t tz_offset(const struct tz *tz, int64_t utc_s);

/* The instant (seconds since the epoch) at which the local wall-clock time local_s (a local
 * time written as if it were UTC, e.g. with timegm) occurs: its first occurrence when a clock
 * change repeats it, and when a clock change skips it, the instant it would have been under
 * the offset before the change (02:30 on the day Berlin skips 02:00-03:00 is 03:30 CEST), as
 * mktime does. */
int64_t tz_local_to_utc(const struct tz *tz, int64_t local_s);

#endif
