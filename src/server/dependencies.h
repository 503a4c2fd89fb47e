/* dependencies.h — worker dependencies (`dependencies:`, alert/depend.h) in the running server:
 * while a parent (a check in warning or critical, or a worker DOWN) is down, a child worker's
 * DOWN is recorded as suppressed and not told; the children held are listed in the parent's
 * messages; when the parent is up again, each child still down whose DOWN was due is told then
 * (its UP then resolves it), one whose DOWN was not due yet is left to the correlation engine.
 * A child never told gets no resolve (the router has no channel told of it).
 *
 * Who calls what (all on the loop thread):
 *   events.c     dependencies_hold_down at a worker's DOWN (the event records the parent),
 *                dependencies_up at its UP (a child forgotten, a parent's children released)
 *   incidents.c  dependencies_take_due when the engine says a worker's DOWN is due: true when
 *                it is held (not told now, told at its release)
 *   checks.c     dependencies_held_names for a parent check's texts, dependencies_up when it
 *                is OK again
 *   server.c     dependencies_restore at start, once the fleet and the check states are restored
 * The held children live in memory; at a restart they are rebuilt from each worker's latest
 * DOWN event (held_back_by), read on the store thread (dependencies_restore). */
#ifndef FAULTLINE_SERVER_DEPENDENCIES_H
#define FAULTLINE_SERVER_DEPENDENCIES_H

#include <stdbool.h>
#include <stddef.h>

#include "alert/depend.h"
#include "model/worker.h"

struct dependencies;
struct fleet;
struct checks;
struct store;
struct alert_router;

/* Tells the DOWN of worker now (a held child released); ctx is the caller's. */
typedef void (*dependencies_tell_fn)(const struct worker_record *w, void *ctx);

/* rules and fleet are borrowed for its life. NULL when out of memory. */
struct dependencies *dependencies_new(const struct depend_settings *rules, struct fleet *fleet);
void dependencies_free(struct dependencies *d); /* NULL: no-op */
/* The check engine (opened after it; NULL: no check is down) and who tells a released DOWN. */
void dependencies_set_checks(struct dependencies *d, struct checks *checks);
void dependencies_set_tell(struct dependencies *d, dependencies_tell_fn tell, void *ctx);
/* Logs a warning, with file:line:column, for each depends_on name that is neither a check nor
 * a worker known now (it counts as up until one of that name exists). Returns how many. */
size_t dependencies_warn_unknown(const struct dependencies *d);

/* w went DOWN: when a parent of it is down, w is held and the parent's name returned (valid
 * while the rules are); NULL otherwise. NULL d: NULL. */
const char *dependencies_hold_down(struct dependencies *d, const struct worker_record *w);
/* The DOWN of worker is due now: true when it is held (not to be told now; it is told when its
 * parents are up again). */
bool dependencies_take_due(struct dependencies *d, const char *worker);
/* name (a worker or a check) is up: as a child it is no longer held; as a parent, its children
 * held with no other parent down are released (told if their DOWN was due). */
void dependencies_up(struct dependencies *d, const char *name);
/* At start, once the fleet and the check states are restored (before the loop runs): reads on
 * the store thread the latest DOWN event of each worker restored DOWN that a rule applies to;
 * one recorded held back (held_back_by) and still DOWN since, not told before the restart
 * (its problem not open in router, borrowed for d's life), is held again, due, under a parent
 * down now, or told now (dependencies_set_tell) when none is. */
void dependencies_restore(struct dependencies *d, struct store *store,
                          const struct alert_router *router);
/* The children held while parent is down, into names (borrowed until the next call that changes
 * d); returns how many (at most max). */
size_t dependencies_held_names(const struct dependencies *d, const char *parent, const char **names,
                               size_t max);

/* Appends "\nHeld back, depending on it: NAME, ..." to a parent's text (len bytes in all) when
 * it holds children. */
void dependencies_append_held(const struct dependencies *d, const char *parent, char *text,
                              size_t len);

#endif
