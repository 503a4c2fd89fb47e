/* tls.c — loading, serving and reloading the server's certificate and key with GnuTLS; see
 * tls.h. A pair leaving service is kept for TLS_RETIRED_KEEP_MS before it is freed: GnuTLS keeps
 * pointers to the pair it was handed for the rest of a handshake, and MHD's connection timeout
 * bounds how long a handshake can last. */
#include "server/tls.h"

#include <errno.h>
#include <gnutls/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"

#define TLS_FILE_MAX (1024 * 1024)
#define TLS_CHAIN_MAX 16
#define TLS_RETIRED_KEEP_MS (10 * 60 * 1000)

/* A certificate chain and its key, as loaded from the files. */
struct tls_pair {
    gnutls_pcert_st certs[TLS_CHAIN_MAX];
    unsigned cert_count;
    gnutls_privkey_t key;
    bool expired;
    char about[400];
    uint64_t retired_at; /* loop time it left service */
    struct tls_pair *next_retired;
};

/* A reload on the thread pool: the work reads only the paths and fills pair or err. */
struct tls_reload {
    uv_work_t work;
    struct tls_credentials *creds;
    struct tls_pair *pair;
    char err[512];
};

struct tls_credentials {
    char *cert_path, *key_path;
    struct tls_pair *current;
    struct tls_pair *retired;  /* out of service, freed TLS_RETIRED_KEEP_MS later */
    struct tls_reload *reload; /* in flight; NULL when none */
    bool reload_again;         /* asked for while one ran */
    bool closing;              /* closed while a reload ran: freed when it returns */
};

/* What handshakes get; see tls_credentials_callback. Loop thread only. */
static struct tls_credentials *tls_serving;

/* ---- loading ---------------------------------------------------------------------------- */

static void tls_pair_free(struct tls_pair *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->cert_count; i++)
        gnutls_pcert_deinit(&p->certs[i]);
    gnutls_privkey_deinit(p->key);
    free(p);
}

/* Reads the whole file into out->data (malloc'd: the caller frees it). */
static int tls_read_file(const char *setting, const char *path, gnutls_datum_t *out, char *err,
                         size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err, errlen, "%s: cannot read \"%s\": %s", setting, path, strerror(errno));
    unsigned char *buf = malloc(TLS_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, TLS_FILE_MAX + 1, f) : 0;
    int failed = !buf || ferror(f), why = errno;
    fclose(f);
    if (failed || n > TLS_FILE_MAX || n == 0) {
        free(buf);
        if (failed)
            return err_set(err, errlen, "%s: cannot read \"%s\": %s", setting, path,
                           buf ? strerror(why) : "out of memory");
        return err_set(err, errlen, "%s: \"%s\" is %s, expected a PEM file", setting, path,
                       n ? "larger than 1 MiB" : "empty");
    }
    out->data = buf;
    out->size = (unsigned)n;
    return 0;
}

static bool tls_key_fits(const struct tls_pair *p)
{
    gnutls_pubkey_t pub = NULL;
    gnutls_datum_t ours = {0}, theirs = {0};
    bool same = gnutls_pubkey_init(&pub) == 0 &&
                gnutls_pubkey_import_privkey(pub, p->key, 0, 0) == 0 &&
                gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &ours) == 0 &&
                gnutls_pubkey_export2(p->certs[0].pubkey, GNUTLS_X509_FMT_DER, &theirs) == 0 &&
                ours.size == theirs.size && memcmp(ours.data, theirs.data, ours.size) == 0;
    gnutls_free(ours.data);
    gnutls_free(theirs.data);
    gnutls_pubkey_deinit(pub);
    return same;
}

/* Fills p->about and p->expired from the server's certificate. */
static void tls_pair_describe(struct tls_pair *p)
{
    gnutls_x509_crt_t crt;
    if (gnutls_pcert_export_x509(&p->certs[0], &crt) < 0) {
        snprintf(p->about, sizeof p->about, "a certificate GnuTLS cannot describe");
        return;
    }
    gnutls_datum_t dn = {0};
    unsigned char serial[64];
    size_t serial_len = sizeof serial;
    char hex[2 * sizeof serial + 1] = "?";
    if (gnutls_x509_crt_get_serial(crt, serial, &serial_len) == 0)
        for (size_t i = 0; i < serial_len; i++)
            snprintf(hex + 2 * i, 3, "%02X", serial[i]);
    time_t expires = gnutls_x509_crt_get_expiration_time(crt);
    struct tm tm;
    char when[32] = "?";
    if (expires != (time_t)-1 && gmtime_r(&expires, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
    p->expired = expires != (time_t)-1 && expires < time(NULL);
    int dn_rc = gnutls_x509_crt_get_dn3(crt, &dn, 0);
    snprintf(p->about, sizeof p->about, "subject %.200s, serial %s, expires %s%s",
             dn_rc == 0 ? (const char *)dn.data : "?", hex, when, p->expired ? ", EXPIRED" : "");
    gnutls_free(dn.data);
    gnutls_x509_crt_deinit(crt);
}

static int tls_pair_import(struct tls_pair *p, const char *cert_path, const gnutls_datum_t *cert,
                           const char *key_path, const gnutls_datum_t *key, char *err,
                           size_t errlen)
{
    p->cert_count = TLS_CHAIN_MAX;
    int rc =
        gnutls_pcert_list_import_x509_raw(p->certs, &p->cert_count, cert, GNUTLS_X509_FMT_PEM, 0);
    if (rc < 0) {
        p->cert_count = 0;
        return err_set(err, errlen,
                       "TLS_CERT: \"%s\": expected PEM certificates (the server's first, then "
                       "its chain, at most %d): %s",
                       cert_path, TLS_CHAIN_MAX, gnutls_strerror(rc));
    }
    if (gnutls_privkey_init(&p->key) < 0)
        return err_set(err, errlen, "TLS_KEY: out of memory");
    rc = gnutls_privkey_import_x509_raw(p->key, key, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (rc < 0)
        return err_set(err, errlen, "TLS_KEY: \"%s\": expected an unencrypted PEM private key: %s",
                       key_path, gnutls_strerror(rc));
    if (!tls_key_fits(p))
        return err_set(err, errlen,
                       "TLS_KEY: \"%s\" is not the key of the certificate in TLS_CERT \"%s\"",
                       key_path, cert_path);
    tls_pair_describe(p);
    return 0;
}

/* Reads and checks a pair. Safe on any thread. Returns NULL with err set. */
static struct tls_pair *tls_pair_load(const char *cert_path, const char *key_path, char *err,
                                      size_t errlen)
{
    gnutls_datum_t cert = {0}, key = {0};
    struct tls_pair *p = calloc(1, sizeof *p);
    if (!p) {
        err_set(err, errlen, "TLS_CERT: out of memory");
        return NULL;
    }
    if (tls_read_file("TLS_CERT", cert_path, &cert, err, errlen) != 0 ||
        tls_read_file("TLS_KEY", key_path, &key, err, errlen) != 0 ||
        tls_pair_import(p, cert_path, &cert, key_path, &key, err, errlen) != 0) {
        tls_pair_free(p);
        p = NULL;
    }
    free(cert.data);
    if (key.data) /* the key's bytes do not outlive the load */
        memset(key.data, 0, key.size);
    free(key.data);
    return p;
}

/* ---- the credentials ---------------------------------------------------------------------- */

static void tls_credentials_free(struct tls_credentials *c)
{
    while (c->retired) {
        struct tls_pair *p = c->retired;
        c->retired = p->next_retired;
        tls_pair_free(p);
    }
    tls_pair_free(c->current);
    free(c->cert_path);
    free(c->key_path);
    free(c);
}

struct tls_credentials *tls_credentials_open(const char *cert_path, const char *key_path, char *err,
                                             size_t errlen)
{
    struct tls_credentials *c = calloc(1, sizeof *c);
    if (!c || !(c->cert_path = strdup(cert_path)) || !(c->key_path = strdup(key_path))) {
        err_set(err, errlen, "TLS_CERT: out of memory");
        if (c)
            tls_credentials_free(c);
        return NULL;
    }
    c->current = tls_pair_load(cert_path, key_path, err, errlen);
    if (!c->current) {
        tls_credentials_free(c);
        return NULL;
    }
    return c;
}

const char *tls_credentials_about(const struct tls_credentials *creds)
{
    return creds->current->about;
}

bool tls_credentials_expired(const struct tls_credentials *creds)
{
    return creds->current->expired;
}

/* Puts the pair in service out of it; frees those out long enough. */
static void tls_retire(struct tls_credentials *c, struct tls_pair *old, uint64_t now)
{
    old->retired_at = now;
    old->next_retired = c->retired;
    c->retired = old;
    for (struct tls_pair **pp = &c->retired; *pp;) {
        struct tls_pair *p = *pp;
        if (now - p->retired_at >= TLS_RETIRED_KEEP_MS) {
            *pp = p->next_retired;
            tls_pair_free(p);
        } else {
            pp = &p->next_retired;
        }
    }
}

static void tls_reload_work(uv_work_t *w)
{
    struct tls_reload *r = w->data;
    r->pair = tls_pair_load(r->creds->cert_path, r->creds->key_path, r->err, sizeof r->err);
}

static void tls_reload_done(uv_work_t *w, int status)
{
    struct tls_reload *r = w->data;
    struct tls_credentials *c = r->creds;
    c->reload = NULL;
    if (c->closing) {
        tls_pair_free(r->pair);
        free(r);
        tls_credentials_free(c);
        return;
    }
    if (!r->pair) {
        log_error("tls: reload failed: %s (still serving %s)", r->err, c->current->about);
    } else {
        tls_retire(c, c->current, uv_now(w->loop));
        c->current = r->pair;
        log_write(c->current->expired ? LOG_WARN : LOG_INFO,
                  "tls: reloaded %s and %s, now serving %s", c->cert_path, c->key_path,
                  c->current->about);
    }
    uv_loop_t *loop = w->loop;
    free(r);
    if (c->reload_again) {
        c->reload_again = false;
        tls_credentials_reload(c, loop);
    }
}

void tls_credentials_reload(struct tls_credentials *creds, uv_loop_t *loop)
{
    if (creds->reload) {
        creds->reload_again = true;
        return;
    }
    struct tls_reload *r = calloc(1, sizeof *r);
    if (!r) {
        log_error("tls: reload failed: out of memory (still serving %s)", creds->current->about);
        return;
    }
    r->creds = creds;
    r->work.data = r;
    if (uv_queue_work(loop, &r->work, tls_reload_work, tls_reload_done) != 0) {
        log_error("tls: reload failed: cannot queue the work (still serving %s)",
                  creds->current->about);
        free(r);
        return;
    }
    creds->reload = r;
}

/* gnutls_certificate_retrieve_function2: the pair in service, owned by tls_serving. */
static int tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                        const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                        gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    if (!tls_serving)
        return -1;
    struct tls_pair *p = tls_serving->current;
    *pcert = p->certs;
    *pcert_length = p->cert_count;
    *pkey = p->key;
    return 0;
}

gnutls_certificate_retrieve_function2 *tls_credentials_callback(struct tls_credentials *creds)
{
    tls_serving = creds;
    return tls_retrieve;
}

void tls_credentials_close(struct tls_credentials *creds)
{
    if (!creds)
        return;
    if (tls_serving == creds)
        tls_serving = NULL;
    if (creds->reload)
        creds->closing = true;
    else
        tls_credentials_free(creds);
}
