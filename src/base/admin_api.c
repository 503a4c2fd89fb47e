/* admin_api.c — the server's admin API from the command line (admin_api.h). */
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/admin_api.h"
#include "base/httpc.h"

/* Decodes %XX of a URL's user or password part. */
static void url_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap; i++) {
        if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            out[n++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
}

int admin_server_parse(const char *url, struct admin_server *s)
{
    if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
        strlen(url) > 1024 || strpbrk(url, " \t\r\n"))
        return -1;
    const char *host = strstr(url, "://") + 3;
    const char *at = strchr(host, '@'), *slash = strchr(host, '/');
    char user[256] = "", pass[256] = "";
    if (at && (!slash || at < slash)) {
        const char *colon = memchr(host, ':', (size_t)(at - host));
        url_decode(host, (size_t)((colon ? colon : at) - host), user, sizeof user);
        if (colon)
            url_decode(colon + 1, (size_t)(at - colon - 1), pass, sizeof pass);
        host = at + 1;
    } else {
        const char *u = getenv("FAULTLINE_ADMIN_USER"), *p = getenv("FAULTLINE_ADMIN_PASSWORD");
        snprintf(user, sizeof user, "%s", u && *u ? u : "admin");
        snprintf(pass, sizeof pass, "%s", p ? p : "");
    }
    snprintf(s->base, sizeof s->base, "%.*s%s", (int)(strstr(url, "://") + 3 - url), url, host);
    size_t len = strlen(s->base);
    while (len && s->base[len - 1] == '/')
        s->base[--len] = '\0';
    char both[520], b64[sizeof s->auth - 32];
    int n = snprintf(both, sizeof both, "%s:%s", user, pass);
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)both, (size_t)n,
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(s->auth, sizeof s->auth, "Authorization: Basic %s", b64);
    return 0;
}

struct admin_client {
    uv_loop_t loop;
    struct httpc *http;
    struct admin_server server;
};

struct admin_client *admin_client_open(const char *url)
{
    struct admin_client *c = calloc(1, sizeof *c);
    if (!c || admin_server_parse(url, &c->server) != 0 || uv_loop_init(&c->loop) != 0) {
        free(c);
        return NULL;
    }
    if (!(c->http = httpc_new(&c->loop))) {
        uv_loop_close(&c->loop);
        free(c);
        return NULL;
    }
    return c;
}

const struct admin_server *admin_client_server(const struct admin_client *c)
{
    return &c->server;
}

struct exchange {
    struct admin_answer *out;
    bool done;
};

static void on_answer(const struct httpc_response *res, void *ctx)
{
    struct exchange *x = ctx;
    struct admin_answer *a = x->out;
    a->status = res->status;
    if (res->error)
        snprintf(a->error, sizeof a->error, "%s", res->error);
    a->body_cut = res->body_cut;
    if (res->body_len && (a->body = malloc(res->body_len + 1))) {
        memcpy(a->body, res->body, res->body_len);
        a->body[res->body_len] = '\0';
        a->body_len = res->body_len;
    }
    x->done = true;
}

void admin_client_call(struct admin_client *c, const char *method, const char *path,
                       const char *json_body, int timeout_ms, size_t max_body,
                       struct admin_answer *out)
{
    *out = (struct admin_answer){0};
    char url[4200];
    snprintf(url, sizeof url, "%s%s", c->server.base, path);
    const char *headers[] = {c->server.auth, "Content-Type: application/json", NULL};
    struct httpc_request req = {.method = method,
                                .url = url,
                                .headers = headers,
                                .body = json_body,
                                .body_len = json_body ? strlen(json_body) : 0,
                                .timeout_ms = timeout_ms,
                                .max_body = max_body};
    struct exchange x = {.out = out};
    if (httpc_start(c->http, &req, on_answer, &x) != 0) {
        snprintf(out->error, sizeof out->error, "out of memory");
        return;
    }
    while (!x.done)
        uv_run(&c->loop, UV_RUN_ONCE);
}

void admin_answer_free(struct admin_answer *a)
{
    free(a->body);
    a->body = NULL;
}

void admin_client_close(struct admin_client *c)
{
    if (!c)
        return;
    httpc_close(c->http);
    uv_run(&c->loop, UV_RUN_DEFAULT);
    uv_loop_close(&c->loop);
    free(c);
}
