/* webhook.h — the generic webhook channel: method (POST), headers, a JSON body template filled
 * with the message's fields (by default the message itself as JSON), an optional HMAC-SHA256
 * signature of the body (X-Faultline-Signature: sha256=HEX, keyed by secret) and the
 * idempotency header X-Faultline-Dedup (the outbox id: the same after a crash). */
#ifndef FAULTLINE_ALERT_WEBHOOK_H
#define FAULTLINE_ALERT_WEBHOOK_H

#include <stddef.h>

#include "alert/channel.h"

extern const struct alert_channel_type alert_channel_webhook;

/* Fills tmpl: {{FIELD}} becomes the field of fields_json (a JSON object) escaped for the inside
 * of a JSON string (no quotes added; absent fields are empty), {{json}} the whole object as
 * JSON. FIELD is one of text, subject, name, kind, severity, status (problem or resolved),
 * resolve, link, dedup_key, channel, id, event_id, time. Returns the body (caller frees), or NULL
 * with err set for an unknown or unclosed placeholder, or a result that is not JSON. */
char *webhook_render(const char *tmpl, const char *fields_json, char *err, size_t errlen);

#endif
