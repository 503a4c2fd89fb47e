/* tags.h — an agent's labels (TAGS=region=eu,role=gpu, plus its SITE as the tag `site`) and the
 * test of a check's `run_on: {tags: {...}}` against them: a check runs on an agent when every
 * pair it names is among the agent's tags. Shared by the agent (TAGS validated at start) and the
 * server (the heartbeat's `tags`, the assignments). Pure. */
#ifndef FAULTLINE_CHECK_TAGS_H
#define FAULTLINE_CHECK_TAGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define TAGS_TEXT_MAX 512
#define TAGS_EXPECTED "NAME=VALUE pairs separated by commas, e.g. region=eu,role=gpu"

/* Reads text ("region=eu,role=gpu"; NULL or "" for none) and site (NULL: none) into a new JSON
 * object {NAME: VALUE}. Names and values are 1-64 letters, digits or ._-:()@+; a name given twice
 * is an error. Returns the object, or NULL with err naming the pair and what was expected. */
json_t *tags_parse(const char *text, const char *site, char *err, size_t errlen);

/* For the settings table: whether text is a valid TAGS value. */
bool tags_valid(const char *text);

/* Whether every NAME: VALUE of want (a run_on.tags object) is in have. An empty want matches. */
bool tags_match(const json_t *want, const json_t *have);

/* Whether a check definition (its JSON) runs on agents, and whether on the server (run_on
 * absent or `server`). */
bool tags_runs_on_agents(const json_t *def);
bool tags_runs_on_server(const json_t *def);

#endif
