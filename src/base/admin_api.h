/* admin_api.h — the command-line side of the server's admin API, one for `faultline cfg`,
 * `faultline silence` and `faultline monitor --server`: the server's URL split from the admin's
 * credentials (the URL's USER:PASS@, else FAULTLINE_ADMIN_USER, by default admin, and
 * FAULTLINE_ADMIN_PASSWORD), and, for the commands that wait for each answer, one request at a
 * time on a private loop over the HTTP client (httpc.h). */
#ifndef FAULTLINE_BASE_ADMIN_API_H
#define FAULTLINE_BASE_ADMIN_API_H

#include <stdbool.h>
#include <stddef.h>

struct admin_server {
    char base[2048]; /* the URL without credentials nor trailing '/': also what messages show */
    char auth[800];  /* "Authorization: Basic ..." */
};

/* Fills s from url; returns -1 when url is not an http:// or https:// URL of at most 1024
 * characters without white space (callers say so in their own words). */
int admin_server_parse(const char *url, struct admin_server *s);

struct admin_answer {
    long status;     /* 0 when no answer came: error says why */
    char *body;      /* malloc'd, NUL-terminated; NULL when none */
    size_t body_len;
    bool body_cut;   /* longer than max_body */
    char error[300]; /* "" or what went wrong on the way */
};

struct admin_client;

/* NULL when url is not an http(s) URL (see admin_server_parse) or out of memory. */
struct admin_client *admin_client_open(const char *url);
const struct admin_server *admin_client_server(const struct admin_client *c);

/* method base+path with json_body (may be NULL) as application/json; waits for the answer
 * (at most timeout_ms, max_body bytes kept) into out, which admin_answer_free releases. */
void admin_client_call(struct admin_client *c, const char *method, const char *path,
                       const char *json_body, int timeout_ms, size_t max_body,
                       struct admin_answer *out);
void admin_answer_free(struct admin_answer *a);
void admin_client_close(struct admin_client *c);

#endif
