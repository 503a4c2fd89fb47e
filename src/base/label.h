/* label.h — the one rule for names people give things: worker names and site tags are 1-64
 * letters, digits or ._-:()@+ (so "brickbox-43(4)" works and nothing needs escaping in a URL
 * path, a log line or HTML). The agent, the server and the settings all check with this. */
#ifndef FAULTLINE_LABEL_H
#define FAULTLINE_LABEL_H

#include <stdbool.h>

#define LABEL_MAX 64
#define LABEL_RULE "1-64 letters, digits or ._-:()@+"

/* True when text follows the rule. */
bool label_valid(const char *text);

#endif
