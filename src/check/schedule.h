/* schedule.h — when each check runs next: a min-heap of due times on one uv_timer. First runs
 * are spread by a jitter taken from the check's name (deterministic), so that many checks loaded
 * at once do not fire together; then each run is due one interval after the previous due time
 * (not after the run), so periods do not drift. When the loop falls behind by whole intervals,
 * the missed slots are skipped instead of fired in a burst. */
#ifndef FAULTLINE_CHECK_SCHEDULE_H
#define FAULTLINE_CHECK_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Embedded in what is scheduled (the owner finds itself with container_of-style arithmetic). */
struct schedule_entry {
    uint64_t due;      /* uv_now() time of the next run */
    uint64_t interval; /* ms */
    size_t slot;       /* 1 + index in the heap; 0 when not scheduled */
};

/* Called on the loop for each entry that is due, after it was given its next due time: fire
 * may remove or re-add any entry, this one included. */
typedef void (*schedule_fire_cb)(struct schedule_entry *entry, void *ctx);

struct schedule;
struct schedule *schedule_new(uv_loop_t *loop, schedule_fire_cb fire, void *ctx);
/* Stops the timer and frees (after the loop closed the timer); entries are not touched. */
void schedule_free(struct schedule *s);

/* Schedules entry every interval_ms, the first run after the jitter of name over
 * min(interval_ms, spread_ms). */
void schedule_add(struct schedule *s, struct schedule_entry *entry, const char *name,
                  uint64_t interval_ms, uint64_t spread_ms);
/* Schedules entry with its first run after first_ms (0: as soon as the loop turns). */
void schedule_add_at(struct schedule *s, struct schedule_entry *entry, uint64_t interval_ms,
                     uint64_t first_ms);
void schedule_remove(struct schedule *s, struct schedule_entry *entry); /* not scheduled: no-op */
size_t schedule_count(const struct schedule *s);

/* A run fired more than this after its due time is late (the loop could not keep up). */
#define SCHEDULE_LATE_MS 1000

/* Counts since schedule_new: what the load did to punctuality. */
struct schedule_stats {
    uint64_t fired;   /* entries handed to fire */
    uint64_t late;    /* of those, fired more than SCHEDULE_LATE_MS after their due time */
    uint64_t skipped; /* slots not fired because the loop fell a whole interval behind */
};
struct schedule_stats schedule_stats(const struct schedule *s);

/* The delay of a first run: a hash of name, below spread_ms (0 when spread_ms is 0). */
uint64_t schedule_jitter(const char *name, uint64_t spread_ms);

#endif
