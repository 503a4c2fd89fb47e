/* auth.h — who may call what: the fleet's API key for agents (Bearer or X-API-Key; also
 * ?api_key= on HTTP_AGENT_QUERY routes) and HTTP Basic for the admin, checked for every route by
 * its access column (http.h). Secrets are kept as keyed hashes (SipHash with a random key made
 * at start), so checking a presented secret takes the same time whatever it has in common with
 * the real one. */
#ifndef FAULTLINE_AUTH_H
#define FAULTLINE_AUTH_H

#include <stdbool.h>

#include "server/http.h"

struct auth;

/* Copies nothing: keeps only hashes. admin_pass NULL disables the admin (403). Returns NULL when
 * out of memory or when libsodium cannot start. */
struct auth *auth_new(const char *api_key, const char *admin_user, const char *admin_pass);
void auth_free(struct auth *auth);

/* The http_authorizer (ctx is the struct auth): answers 401 ("missing API key", "invalid API
 * key"), 401 with a Basic challenge, or 403 (admin disabled) and returns false when refused.
 * An address that presented wrong secrets too often (http_limits.auth_max_failures within
 * auth_window_ms) gets 429 with Retry-After before its secret is looked at; failed attempts are
 * logged with the address, at most ten lines a second. A valid API key marks the address as an
 * agent's (http_client_agent_seen). */
bool auth_check(struct http_request *req, enum http_access access, void *ctx);

#endif
