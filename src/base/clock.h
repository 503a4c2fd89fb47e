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

/* Parses an ISO 8601 UTC time ("2026-11-21T10:00:00Z", fraction optional) or a plain number of
 * seconds since the epoch. Returns 0 and sets *wall_ms, or -1. */
int clock_parse_iso(const char *text, int64_t *wall_ms);

/* Writes a short human duration: "45s", "5m 12s", "3h 04m", "2d 03h". */
void clock_format_duration(int64_t ms, char *buf, size_t buflen);

#endif
