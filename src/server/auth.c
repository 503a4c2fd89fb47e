/* auth.c — the API key and admin credentials, as keyed hashes compared in constant time. */
#include "server/auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REALM "faultline admin"

struct auth {
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
    unsigned char api_key[crypto_shorthash_BYTES];
    unsigned char admin_user[crypto_shorthash_BYTES];
    unsigned char admin_pass[crypto_shorthash_BYTES];
    bool admin_enabled;
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

struct auth *auth_new(const char *api_key, const char *admin_user, const char *admin_pass)
{
    struct auth *a = sodium_init() < 0 ? NULL : calloc(1, sizeof *a);
    if (!a)
        return NULL;
    crypto_shorthash_keygen(a->hash_key);
    secret_hash(a, api_key ? api_key : "", a->api_key);
    secret_hash(a, admin_user ? admin_user : "", a->admin_user);
    secret_hash(a, admin_pass ? admin_pass : "", a->admin_pass);
    a->admin_enabled = admin_pass != NULL;
    return a;
}

void auth_free(struct auth *auth)
{
    if (auth)
        sodium_memzero(auth, sizeof *auth);
    free(auth);
}

/* The key from "Authorization: Bearer KEY" or "X-API-Key: KEY"; NULL if neither. */
static const char *presented_key(struct http_request *req)
{
    const char *header = http_header(req, "Authorization");
    if (header && strncasecmp(header, "Bearer ", 7) == 0)
        return header + 7;
    return http_header(req, "X-API-Key");
}

static bool agent_allowed(struct http_request *req, const struct auth *a)
{
    const char *key = presented_key(req);
    if (key && secret_equal(a, key, a->api_key))
        return true;
    http_respond_error(req, 401, key ? "invalid API key" : "missing API key", NULL);
    return false;
}

static bool admin_allowed(struct http_request *req, const struct auth *a)
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
    http_respond_auth_required(req, REALM);
    return false;
}

bool auth_check(struct http_request *req, enum http_access access, void *ctx)
{
    const struct auth *a = ctx;
    switch (access) {
    case HTTP_PUBLIC:
        return true;
    case HTTP_AGENT:
        return agent_allowed(req, a);
    case HTTP_ADMIN:
        return admin_allowed(req, a);
    }
    return false;
}
