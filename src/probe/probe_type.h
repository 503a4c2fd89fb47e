/* probe_type.h — the probe table: every check type (tcp, http, dns, icmp, exec, ...) is one
 * const struct probe_type, one file in src/probe/ plus one row in probe_types[] (probe_table.c).
 * A probe is a state machine stepped by the libuv loop that started it: it never blocks a
 * thread, and only exec spawns (uv_spawn). The check engine (src/check/), the server's
 * canaries, the agent's diagnostics and `faultline probe` all run probes through this table.
 *
 * A probe measures; it does not judge. It fills a struct probe_result with what it saw, and the
 * check's conditions (src/check/condition.h) decide OK, WARNING or CRITICAL from the
 * placeholders the type declares it fills. Options are parsed once, at load time, from the
 * check's definition as JSON (YAML files are read into JSON by the check loader, which maps a
 * failing member back to its file, line and column). */
#ifndef FAULTLINE_PROBE_TYPE_H
#define FAULTLINE_PROBE_TYPE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "probe/probe.h"

/* The condition placeholders (docs/checks.md). A type's `placeholders` is the set it fills,
 * as bits (1u << PH_...); a condition naming one its type does not fill is a load error. */
enum probe_placeholder {
    PH_STATUS,          /* [STATUS]: HTTP status code */
    PH_RESPONSE_TIME,   /* [RESPONSE_TIME]: ms from start to the answer (every type) */
    PH_BODY,            /* [BODY], [BODY].json.path: the response body (HTTP) or banner (TCP) */
    PH_HEADER,          /* [HEADER].Name: a response header, case-insensitive */
    PH_CONNECTED,       /* [CONNECTED]: the connection (or exchange) succeeded */
    PH_CERT_EXPIRES_IN, /* [CERT_EXPIRES_IN]: ms until the peer certificate's notAfter */
    PH_DNS_RCODE,       /* [DNS_RCODE]: "NOERROR", "NXDOMAIN", "SERVFAIL", ... */
    PH_DNS_ANSWER,      /* [DNS_ANSWER]: the answers, as text, one per record */
    PH_RTT,             /* [RTT]: average round trip in ms */
    PH_LOSS,            /* [LOSS]: percent of echo requests unanswered, 0..100 */
    PH_EXIT_CODE,       /* [EXIT_CODE]: an exec probe's exit status */
    PH_OUTPUT,          /* [OUTPUT]: an exec probe's output (before the perfdata '|') */
    PH_COUNT
};
#define PH_BIT(p) (1u << (p))

/* Names as written in conditions, without brackets: "STATUS", "RESPONSE_TIME", ... */
const char *probe_placeholder_name(enum probe_placeholder p);
/* -1 when name is not a placeholder. */
int probe_placeholder_find(const char *name);

/* Loop-wide resources shared by the probes of one loop: the ICMP sockets (one per address
 * family), the libcurl multi handle, the c-ares channel. One per loop; the caller owns it. Its
 * idle handles do not keep the loop alive: uv_run returns once the runs started are done. */
struct probe_env;
struct probe_env *probe_env_new(uv_loop_t *loop, char *err, size_t errlen);
/* Closes the shared sockets and channels, and frees the env once their handles are closed (the
 * loop must run on). Cancel the runs in flight first: a run does not outlive its env. */
void probe_env_close(struct probe_env *env);

/* One Nagios performance-data item ("label=value[UOM];warn;crit;min;max"). */
struct probe_perfdata {
    char label[64];
    double value;
    char unit[8];
};
#define PROBE_PERFDATA_MAX 16

/* What one run saw. Valid only during the done callback: copy what you keep. Members the type
 * does not fill are zero. */
struct probe_result {
    bool ran;                    /* false: could not run (bad target, no socket): error says why */
    char error[PROBE_ERROR_MAX]; /* also set when it ran but failed (refused, timed out, ...) */
    bool timed_out;
    double response_time_ms;
    bool connected;              /* tcp: connected and the exchange (tls, send, expect) ok */
    bool reachable;              /* tcp: accepted or refused (a refusal proves the host is up) */
    int status;                  /* HTTP status, 0 when none */
    const char *body;            /* HTTP body / TCP banner, NUL-terminated, possibly truncated */
    size_t body_len;
    const json_t *headers;       /* HTTP: {"lower-case-name": "value"}, NULL when none */
    bool has_cert;
    int64_t cert_expires_in_ms;  /* may be negative (expired) */
    char dns_rcode[16];
    const char *const *dns_answers; /* n_dns_answers texts ("192.0.2.1", "10 mx.example.") */
    size_t n_dns_answers;
    double rtt_ms, loss_pct;
    int sent, received;          /* ICMP echoes */
    int exit_code;               /* exec: -1 when killed by a signal or the timeout */
    const char *output;          /* exec: before '|', NUL-terminated, truncated to a bound */
    struct probe_perfdata perfdata[PROBE_PERFDATA_MAX];
    size_t n_perfdata;
    char addr[PROBE_ADDR_MAX];   /* the address probed, after resolving */
};

/* Runs exactly once per started probe, on the loop thread, unless the run was cancelled. */
typedef void (*probe_done_cb)(const struct probe_result *result, void *ctx);

struct probe_run; /* one probe in flight, owned by its type until done runs or it is cancelled */

struct probe_type {
    /* MUST: the `type:` of a check ("tcp"). */
    const char *name;
    /* MUST: the placeholders it fills (PH_BIT(...) | ...). */
    uint32_t placeholders;
    /* MUST: the default condition when a check has none ("[CONNECTED] == true"). */
    const char *default_condition;
    /* MUST: parses the check's definition (the whole check object: target and the type's own
     * members) into the type's options. On error returns NULL, names the member in *field
     * ("target", "headers.Accept", static or inside def) and says what was expected in err,
     * e.g. "\"abc\" is not host:port (expected a port 1-65535)". */
    void *(*parse)(const json_t *def, const char **field, char *err, size_t errlen);
    /* MUST: frees what parse returned. */
    void (*free_options)(void *options);
    /* MUST: starts a run that ends within timeout_ms (the type enforces it). Returns NULL with
     * err set when it cannot start (then done is never called). */
    struct probe_run *(*start)(struct probe_env *env, const void *options, int timeout_ms,
                               probe_done_cb done, void *ctx, char *err, size_t errlen);
    /* MUST: stops a run in flight; done is not called afterwards. */
    void (*cancel)(struct probe_run *run);
    /* MAY (NULL: the generic shape of probe_result_json): the result as JSON. */
    json_t *(*result_json)(const struct probe_result *result);
    /* MAY (NULL: any): the members parse reads, target included when the type takes one,
     * NULL-terminated; the check loader names any other member as unknown. */
    const char *const *members;
};

/* NULL-terminated registration table (probe_table.c). */
extern const struct probe_type *const probe_types[];
/* The type named name, or NULL. */
const struct probe_type *probe_type_find(const char *name);
/* The generic JSON of a result: the members the type fills, by placeholder name in lower case
 * ("status", "response_time_ms", ...), plus "error" when set. New reference. */
json_t *probe_result_json(const struct probe_type *type, const struct probe_result *result);

/* A result kept after its run, compact (result_copy.c); free() frees it. */
struct probe_result_copy;
/* A copy of result as type reported it, or NULL when out of memory. */
struct probe_result_copy *probe_result_copy(const struct probe_type *type,
                                            const struct probe_result *result);
/* probe_result_json of the copied result. New reference. */
json_t *probe_result_copy_json(const struct probe_result_copy *copy);

#endif
