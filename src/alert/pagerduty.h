/* pagerduty.h — the PagerDuty channel: Events API v2 (url, by default the vendor's), one event
 * per message: a problem triggers, its resolve resolves, both under the message's dedup key, so
 * a duplicate after a crash only updates the same alert. */
#ifndef FAULTLINE_ALERT_PAGERDUTY_H
#define FAULTLINE_ALERT_PAGERDUTY_H

#include "alert/channel.h"

extern const struct alert_channel_type alert_channel_pagerduty;

#define PAGERDUTY_EVENTS_URL "https://events.pagerduty.com/v2/enqueue"

/* The event for msg (caller frees), or NULL when out of memory: event_action trigger (or
 * resolve), dedup_key (the message's, or "faultline-ID" for a one-off), and for a trigger the
 * payload (summary, source, severity critical/warning/info, component, custom_details) and
 * the link. */
char *pagerduty_event_json(const char *routing_key, const struct alert_delivery *msg);

#endif
