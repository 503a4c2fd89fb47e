/* flap.c — flapping detection; see flap.h. */
#include "alert/flap.h"

#include <stddef.h>

#define FLAP_WEIGHT_OLDEST 0.75
#define FLAP_WEIGHT_NEWEST 1.25

double flap_percent(const struct flap_state *st)
{
    /* As Nagios: weights rise linearly from the oldest to the newest slot of the window, and the
     * sum is over the whole window, so a short history understates (it cannot flap at once). */
    double sum = 0;
    for (int age = 0; age < st->observed; age++) {
        if (!(st->history >> age & 1))
            continue;
        int slot = FLAP_WINDOW - 1 - age; /* 0: oldest */
        sum += FLAP_WEIGHT_OLDEST +
               (FLAP_WEIGHT_NEWEST - FLAP_WEIGHT_OLDEST) * slot / (FLAP_WINDOW - 1);
    }
    return sum * 100.0 / FLAP_WINDOW;
}

enum flap_change flap_update(struct flap_state *st, bool changed, int64_t now_ms,
                             const struct flap_thresholds *t)
{
    static const struct flap_thresholds defaults = {FLAP_HIGH_DEFAULT, FLAP_LOW_DEFAULT};
    if (!t)
        t = &defaults;
    st->history = (st->history << 1 | (changed ? 1u : 0u)) & ((1u << FLAP_WINDOW) - 1);
    if (st->observed < FLAP_WINDOW)
        st->observed++;
    st->percent = flap_percent(st);
    if (!st->flapping && st->percent > t->high) {
        st->flapping = true;
        st->since_ms = now_ms;
        return FLAP_STARTED;
    }
    if (st->flapping && st->percent < t->low) {
        st->flapping = false;
        st->since_ms = 0;
        return FLAP_STOPPED;
    }
    return FLAP_SAME;
}
