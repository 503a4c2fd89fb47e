/* label.h — the one rule for names people give things: worker names and site tags are 1-64
 * letters, digits or ._-:()@+ (so "brickbox-43(4)" works and nothing needs escaping in a URL
 * path, a log line or HTML). The agent, the server and the settings all check with this. */
#ifndef FAULTLINE_LABEL_H
#define FAULTLINE_LABEL_H

#include <stdbool.h>
#include <stddef.h>

#define LABEL_MAX 64
#define LABEL_RULE "1-64 letters, digits or ._-:()@+"

/* True when text follows the rule. */
bool label_valid(const char *text);

/* Labels (tags) of a thing, such as an agent's TAGS=region=eu,role=gpu: key=value pairs,
 * borrowed from their owner for as long as the set is used. Keys are unique. */
struct label {
    const char *key, *value;
};

struct label_set {
    const struct label *items;
    size_t count;
};

/* The value of key in set (which may be NULL), or NULL when it has none. */
const char *label_set_get(const struct label_set *set, const char *key);

#endif
