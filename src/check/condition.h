/* condition.h — a check's conditions: a small expression language read once, at load time,
 * into a tree, then evaluated against each probe result (docs/checks.md, "Conditions").
 *
 *   [STATUS] == 200            [RESPONSE_TIME] < 300ms        [BODY].data[0].state == "up"
 *   [HEADER].Content-Type contains "json"   [CERT_EXPIRES_IN] > 14d    [LOSS] <= 5%
 *   len([DNS_ANSWER]) >= 1     [OUTPUT] matches "^OK"         [CONNECTED] == true
 *
 * A placeholder the check's type does not fill, an operator that does not fit its operands, a
 * unit that does not fit the placeholder or a regular expression that does not compile is a
 * load error. Evaluation gives pass or fail and, on failure, a message a person can read:
 * "[STATUS] == 200 failed: 503". */
#ifndef FAULTLINE_CHECK_CONDITION_H
#define FAULTLINE_CHECK_CONDITION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/probe_type.h"

#define CONDITION_MESSAGE_MAX 256

struct condition; /* one parsed condition; owned by the caller of condition_parse */

/* Parses text, allowing only the placeholders in the placeholders bit set (PH_BIT(...)).
 * warning: the condition only warns when it fails (the `warning: "..."` form). On error returns
 * NULL and writes "at column N: what was expected" into err. */
struct condition *condition_parse(const char *text, uint32_t placeholders, bool warning, char *err,
                                  size_t errlen);
void condition_free(struct condition *c); /* NULL: no-op */

const char *condition_text(const struct condition *c); /* as written */
bool condition_is_warning(const struct condition *c);

/* What conditions are evaluated against: one probe result and its body read as JSON once
 * (lazily, by the first condition with a [BODY] path). Init before, free after. */
struct condition_subject {
    const struct probe_result *result;
    json_t *body_json;
    bool body_parsed;
};
void condition_subject_init(struct condition_subject *s, const struct probe_result *result);
void condition_subject_free(struct condition_subject *s);

/* True when c holds for s. When it does not, message gets "TEXT failed: VALUE". */
bool condition_eval(const struct condition *c, struct condition_subject *s, char *message,
                    size_t messagelen);

#endif
