/* clock.h — the two clocks faultline uses. Timeouts and deadlines use the monotonic clock, so a
 * wall-clock jump never marks a worker DOWN; times shown to people and stored use wall time in
 * UTC milliseconds since the epoch, formatted as ISO 8601. */
#ifndef FAULTLINE_CLOCK_H
#define FAULTLINE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define CLOCK_ISO_LEN 32

/* Milliseconds of CLOCK_MONOTONIC: only differences mean anything. */
int64_t clock_mono_ms(void);

/* Milliseconds since the Unix epoch, UTC. */
int64_t clock_wall_ms(void);

/* Writes "2026-11-21T10:00:00.123Z" into buf (at least CLOCK_ISO_LEN bytes). */
void clock_format_iso(int64_t wall_ms, char *buf, size_t buflen);

/* The range clock_parse_iso accepts: from 2000-01-01T00:00:00Z up to, not including,
 * 2100-01-01T00:00:00Z. */
#define CLOCK_PARSE_MIN_MS 946684800000LL
#define CLOCK_PARSE_END_MS 4102444800000LL

/* Parses a time from outside. Two forms:
 *   "2026-11-21T10:00:00Z": a real calendar date and time (no 24:00, no leap second 60), an
 *   optional fraction of 1 to 9 digits (kept to the millisecond), and a zone, "Z" or "+HH:MM" /
 *   "-HH:MM" (converted to UTC);
 *   "1795255200": whole seconds since the Unix epoch, digits only.
 * Returns 0 and sets *wall_ms when the text is one of those and falls within the range above;
 * returns -1 (and leaves *wall_ms alone) for anything else. */
int clock_parse_iso(const char *text, int64_t *wall_ms);

/* Writes a short human duration: "45s", "5m 12s", "3h 04m", "2d 03h". */
void clock_format_duration(int64_t ms, char *buf, size_t buflen);

#endif
