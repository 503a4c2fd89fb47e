/* auth.c — the API key and admin credentials, as keyed hashes compared in constant time, and
 * the throttle on addresses that keep presenting wrong ones. */
#include "server/auth.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/log.h"

#define REALM "faultline admin"
/* Lines about failed attempts: 20 at once, then ten a second. */
#define FAILURE_LOG_BURST 20
#define FAILURE_LOG_INTERVAL_MS 100

struct auth {
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    unsigned char api_key[crypto_shorthash_BYTES];
    unsigned char admin_user[crypto_shorthash_BYTES];
    unsigned char admin_pass[crypto_shorthash_BYTES];
    unsigned char metrics_token[crypto_shorthash_BYTES];
    bool admin_enabled;
    bool metrics_token_set;
    bool metrics_public;
    struct log_limit failure_log;
};

static void secret_hash(const struct auth *a, const char *secret,
                        unsigned char out[crypto_shorthash_BYTES])
{
    crypto_shorthash(out, (const unsigned char *)secret, strlen(secret), a->hash_key);
}

/* SipHash instead of BLAKE2b: the API key is checked on every heartbeat, and BLAKE2b was 3% of
 * the server's CPU there (BENCHMARKS.md). Without the random key nobody can aim for a collision. */
static bool secret_equal(const struct auth *a, const char *presented,
                         const unsigned char hash[crypto_shorthash_BYTES])
{
    unsigned char mine[crypto_shorthash_BYTES];
    secret_hash(a, presented, mine);
    return sodium_memcmp(mine, hash, sizeof mine) == 0;
}

struct auth *auth_new(const char *api_key, const char *admin_user, const char *admin_pass,
                      const char *metrics_token, bool metrics_public)
{
    struct auth *a = sodium_init() < 0 ? NULL : calloc(1, sizeof *a);
    if (!a)
        return NULL;
    crypto_shorthash_keygen(a->hash_key);
    secret_hash(a, api_key ? api_key : "", a->api_key);
    secret_hash(a, admin_user ? admin_user : "", a->admin_user);
    secret_hash(a, admin_pass ? admin_pass : "", a->admin_pass);
    secret_hash(a, metrics_token ? metrics_token : "", a->metrics_token);
    a->admin_enabled = admin_pass != NULL;
    a->metrics_token_set = metrics_token != NULL;
    a->metrics_public = metrics_public;
    a->failure_log.interval_ms = FAILURE_LOG_INTERVAL_MS;
    a->failure_log.burst = FAILURE_LOG_BURST;
    return a;
}

void auth_free(struct auth *auth)
{
    if (auth)
        sodium_memzero(auth, sizeof *auth);
    free(auth);
}

/* The key from "Authorization: Bearer KEY" or "X-API-Key: KEY", then (from_query) from
 * ?api_key=KEY; NULL if none. */
static const char *presented_key(struct http_request *req, bool from_query)
{
    const char *header = http_header(req, "Authorization");
    if (header && strncasecmp(header, "Bearer ", 7) == 0)
        return header + 7;
    header = http_header(req, "X-API-Key");
    return header || !from_query ? header : http_query(req, "api_key");
}

/* A wrong secret was presented (a missing one is no attempt): it counts against the address,
 * and the first of a window and the one that starts the throttle are logged, within the
 * log's budget. */
static void attempt_failed(struct http_request *req, struct auth *a, const char *what)
{
    int failures = http_client_auth_failed(req);
    int64_t now = clock_mono_ms();
    bool throttled = http_client_auth_wait_ms(req) > 0;
    char note[64];
    if ((failures == 1 || throttled) && log_limit_pass(&a->failure_log, now, note, sizeof note))
        log_warn("auth: %s from %s (%d in this window of %llds%s)%s", what, http_client_ip(req),
                 failures, (long long)(http_client_auth_window_ms(req) / 1000),
                 throttled ? ", now answered 429" : "", note);
}

static bool agent_allowed(struct http_request *req, struct auth *a, bool from_query)
{
    const char *key = presented_key(req, from_query);
    if (key && secret_equal(a, key, a->api_key)) {
        http_client_agent_seen(req);
        return true;
    }
    if (key)
        attempt_failed(req, a, "invalid API key");
    http_respond_error(req, 401, key ? "invalid API key" : "missing API key", NULL);
    return false;
}

static bool admin_allowed(struct http_request *req, struct auth *a)
{
    if (!a->admin_enabled) {
        http_respond_error(req, 403, "admin is disabled: set ADMIN_PASS to enable it", NULL);
        return false;
    }
    const char *user, *pass;
    bool ok = http_basic_auth(req, &user, &pass);
    /* Both comparisons always run, so timing does not tell which one failed. */
    bool user_ok = ok && secret_equal(a, user, a->admin_user);
    bool pass_ok = ok && secret_equal(a, pass, a->admin_pass);
    if (user_ok && pass_ok)
        return true;
    if (ok)
        attempt_failed(req, a, "wrong admin user or password");
    http_respond_auth_required(req, REALM);
    return false;
}

/* A scraper: the metrics token as a bearer token, else the admin login. */
static bool metrics_allowed(struct http_request *req, struct auth *a)
{
    const char *header = http_header(req, "Authorization");
    bool bearer = header && strncasecmp(header, "Bearer ", 7) == 0;
    if (bearer && a->metrics_token_set && secret_equal(a, header + 7, a->metrics_token))
        return true;
    if (bearer) {
        attempt_failed(req, a, "invalid metrics token");
        http_respond_error(req, 401, "invalid metrics token", NULL);
        return false;
    }
    if (!a->metrics_token_set && !a->admin_enabled) {
        http_respond_error(req, 403, "metrics are closed: set METRICS_TOKEN, ADMIN_PASS or "
                           "METRICS_PUBLIC=1", NULL);
        return false;
    }
    if (header || !a->metrics_token_set)
        return admin_allowed(req, a);
    http_respond_error(req, 401, "missing metrics token", NULL);
    return false;
}

bool auth_check(struct http_request *req, enum http_access access, void *ctx)
{
    struct auth *a = ctx;
    if (access == HTTP_PUBLIC || (access == HTTP_METRICS && a->metrics_public))
        return true;
    /* Checked before the secret, so a throttled address learns nothing about its guesses. */
    int64_t wait_ms = http_client_auth_wait_ms(req);
    if (wait_ms > 0) {
        http_respond_retry_after(req, 429,
                                 "too many failed attempts from this address; try again later",
                                 (wait_ms + 999) / 1000);
        return false;
    }
    if (access == HTTP_ADMIN)
        return admin_allowed(req, a);
    if (access == HTTP_METRICS)
        return metrics_allowed(req, a);
    return agent_allowed(req, a, access == HTTP_AGENT_QUERY);
}
