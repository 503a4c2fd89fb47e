/* auth.h — who may call what: the fleet's API key for agents (Bearer or X-API-Key; also
 * ?api_key= on HTTP_AGENT_QUERY routes), HTTP Basic for the admin, and for scrapers of /metrics
 * the metrics token (Bearer) or the admin's login, unless METRICS_PUBLIC opens them to anyone;
 * checked for every route by its access column (http.h). Secrets are kept as keyed hashes
 * (SipHash with a random key made at start), so checking a presented secret takes the same time
 * whatever it has in common with the real one. */
#ifndef FAULTLINE_AUTH_H
#define FAULTLINE_AUTH_H

#include <stdbool.h>

#include "server/http.h"

struct auth;

/* Copies nothing: keeps only hashes. admin_pass NULL disables the admin (403); metrics_token
 * NULL leaves scrapers the admin login only; metrics_public lets anyone scrape. Returns NULL
 * when out of memory or when libsodium cannot start. */
struct auth *auth_new(const char *api_key, const char *admin_user, const char *admin_pass,
                      const char *metrics_token, bool metrics_public);
void auth_free(struct auth *auth);

/* The http_authorizer (ctx is the struct auth): answers 401 ("missing API key", "invalid API
 * key"), 401 with a Basic challenge, or 403 (admin disabled) and returns false when refused.
 * A scraper (HTTP_METRICS) with a bearer token that is not METRICS_TOKEN gets 401 "invalid
 * metrics token"; without credentials 401 "missing metrics token" when METRICS_TOKEN is set,
 * else the admin's Basic challenge; 403 when neither METRICS_TOKEN nor the admin is set.
 * An address that presented wrong secrets too often (http_limits.auth_max_failures within
 * auth_window_ms) gets 429 with Retry-After before its secret is looked at; failed attempts are
 * logged with the address, at most ten lines a second. A valid API key marks the address as an
 * agent's (http_client_agent_seen). */
bool auth_check(struct http_request *req, enum http_access access, void *ctx);

#endif
