/* flap.h — flapping detection, as Nagios does it: of the last FLAP_WINDOW observations of a
 * state, the share that were changes, newer ones weighing more (from 0.75 for the oldest to
 * 1.25 for the newest), as a percentage. Above the high threshold the thing starts flapping;
 * it stops once the share falls below the low threshold. The check engine keeps one struct
 * flap_state per check, the fleet one per worker (fleet_flap_observe), and each tells only the
 * start (one "flapping" notice) and the stop. Pure: the caller passes the time. docs/silences.md. */
#ifndef FAULTLINE_FLAP_H
#define FAULTLINE_FLAP_H

#include <stdbool.h>
#include <stdint.h>

#define FLAP_WINDOW 20
#define FLAP_HIGH_DEFAULT 50.0 /* % */
#define FLAP_LOW_DEFAULT 25.0  /* % */

struct flap_thresholds {
    double high, low; /* percent, 0 < low <= high <= 100 */
};

/* Zeroed is a valid start (nothing observed, not flapping). */
struct flap_state {
    uint32_t history; /* bit 0: the newest observation; a set bit was a change */
    int observed;     /* observations so far, at most FLAP_WINDOW */
    bool flapping;
    int64_t since_ms; /* when flapping started; 0 when not flapping */
    double percent;   /* the last computed share of change */
};

enum flap_change {
    FLAP_SAME,    /* flapping or not, as before */
    FLAP_STARTED, /* entered flapping at this observation */
    FLAP_STOPPED, /* left flapping at this observation */
};

/* Records one observation (changed: the state differs from the one before it) at now_ms with t
 * (NULL: the defaults) and says whether flapping started or stopped. */
enum flap_change flap_update(struct flap_state *st, bool changed, int64_t now_ms,
                             const struct flap_thresholds *t);

/* The weighted share of change (0-100) over the observations st holds. */
double flap_percent(const struct flap_state *st);

#endif
