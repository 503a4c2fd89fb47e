/* cli.c — `faultline probe`: one probe run from the command line on a loop of its own, through
 * the same machinery as the agent and the server: ping, trace, tcp, dns and gateway print a
 * table (MTR-like for trace) or, with --json, the object of probe_json.h; `check TYPE TARGET
 * [--opt NAME=VALUE]...` runs any type of the probe table (probe_type.h) and prints its result
 * as JSON. The probe's own options (--count, --rounds, --opt, ...) are read here; the rest
 * (--help, --config, settings) goes through cli_parse like every subcommand. See cli.h. */
#include "probe/cli.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/num.h"
#include "probe/probe.h"
#include "probe/probe_json.h"
#include "probe/probe_type.h"

#define PING_INTERVAL_MS 250
#define EXIT_ANSWERED 0
#define EXIT_SILENT 1

enum verb_bit { PING = 1, TRACE = 2, TCP = 4, DNS = 8, GATEWAY = 16, CHECK = 32, ALL = 63 };
#define CHECK_OPTS_MAX 32

struct probe_args {
    long count, rounds, max_hops, port;
    double timeout_s;
    bool json;
    bool given[5];                    /* which rows of probe_options were on the command line */
    const char *opts[CHECK_OPTS_MAX]; /* check: the --opt NAME=VALUE texts */
    int n_opts;
};

/* A numeric option of the probe itself. */
struct probe_option {
    const char *flag;
    size_t offset; /* of its long (or, for --timeout, double) in struct probe_args */
    double min, max;
    const char *expected;
    unsigned verbs; /* the verbs it applies to */
};

static const struct probe_option probe_options[] = {
    {"--count", offsetof(struct probe_args, count), 1, 1000, "a number of probes 1..1000",
     PING | GATEWAY},
    {"--rounds", offsetof(struct probe_args, rounds), 1, 100, "a number of rounds 1..100", TRACE},
    {"--max-hops", offsetof(struct probe_args, max_hops), 1, TRACE_MAX_HOPS,
     "a number of hops 1..64", TRACE},
    {"--port", offsetof(struct probe_args, port), 1, 65535, "a TCP port 1..65535", TCP},
    {"--timeout", offsetof(struct probe_args, timeout_s), 0.001, 600,
     "a positive number of seconds (at most 600)", ALL},
};
#define PROBE_OPTION_COUNT (sizeof probe_options / sizeof probe_options[0])

static const char *const probe_settings[] = {"LOG_LEVEL"};

static const struct cli_spec probe_cli = {
    .command = "probe",
    .usage =
        "probe ping|trace|tcp|dns|gateway [TARGET] [--count N] [--rounds K] [--max-hops H] "
        "[--port P] [--timeout SECONDS] [--json] | probe check TYPE TARGET [--opt NAME=VALUE]... "
        "[--timeout SECONDS] [--json]",
    .description =
        "Runs one network probe, as the agent does when it diagnoses a failed heartbeat.\n\n"
        "  ping HOST       ICMP echo, --count probes (default 5) 250 ms apart\n"
        "  trace HOST      MTR-style path: per hop address, loss, best/avg/worst RTT over\n"
        "                  --rounds rounds (default 5), up to --max-hops hops (default 30)\n"
        "  tcp HOST        TCP connect to --port (required); a refusal proves the host is up\n"
        "  dns NAME        resolution time through the system's resolvers\n"
        "  gateway         pings the default gateway of /proc/net/route\n"
        "  check TYPE TARGET  runs one probe of a check type (tcp, http, dns, icmp, exec) as the\n"
        "                  check engine does; --opt NAME=VALUE sets an option of the type (VALUE\n"
        "                  is read as JSON when it parses, else as a string), e.g.\n"
        "                  --opt tls_verify=false, --opt 'command=[\"/bin/true\"]'\n\n"
        "  --timeout SECONDS  wait for each answer (default 2)\n"
        "  --json             print the result as one JSON object\n\n"
        "ICMP goes through a raw socket (root or CAP_NET_RAW), else an ICMP datagram socket\n"
        "(net.ipv4.ping_group_range), else UDP probes whose ICMP errors are read with IP_RECVERR\n"
        "(any user); the output names the method. FAULTLINE_ICMP_METHOD=raw|icmp-datagram|\n"
        "udp-recverr forces one.\n\n"
        "Exit status: 0 the target answered (tcp: connected or refused; check: no error), 1 it\n"
        "did not, 2 usage.",
    .options = probe_settings,
    .option_count = 1,
    .max_positional = 3,
    .json = true,
};

/* Prints "faultline probe: <message>" and the usage line; returns 2. */
__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_fail(&probe_cli, msg);
    fprintf(stderr, "usage: faultline %s\n", probe_cli.usage);
    return CLI_EXIT_USAGE;
}

/* Stores text as the value of option o; 0, or 2 after printing what was expected. */
static int set_option(struct probe_args *args, const struct probe_option *o, const char *text)
{
    char msg[300];
    char *field = (char *)args + o->offset;
    if (o->offset == offsetof(struct probe_args, timeout_s)) {
        char *end = NULL;
        errno = 0;
        double v = text ? strtod(text, &end) : NAN;
        if (!text || !*text || *end || errno || !isfinite(v) || v < o->min || v > o->max) {
            if (!text)
                return usage_error("%s: expected %s, got nothing", o->flag, o->expected);
            return usage_error("%s: expected %s, got \"%.60s\"", o->flag, o->expected, text);
        }
        *(double *)(void *)field = v;
    } else {
        int64_t v;
        if (num_parse_int64(o->flag, text, (int64_t)o->min, (int64_t)o->max, o->expected, &v, msg,
                            sizeof msg) != 0)
            return usage_error("%s", msg);
        *(long *)(void *)field = (long)v;
    }
    args->given[o - probe_options] = true;
    return 0;
}

/* Takes the probe's own options out of argv (rest gets what is left, argv[0] first). */
static int take_probe_options(int argc, char **argv, struct probe_args *args, char **rest,
                              int *nrest)
{
    *nrest = 0;
    rest[(*nrest)++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const struct probe_option *o = NULL;
        const char *value = NULL;
        for (size_t k = 0; k < PROBE_OPTION_COUNT && !o; k++) {
            size_t n = strlen(probe_options[k].flag);
            if (!strncmp(argv[i], probe_options[k].flag, n) &&
                (argv[i][n] == '\0' || argv[i][n] == '=')) {
                o = &probe_options[k];
                value = argv[i][n] == '=' ? argv[i] + n + 1 : (i + 1 < argc ? argv[++i] : NULL);
            }
        }
        if (!o && !strcmp(argv[i], "--opt")) {
            if (i + 1 >= argc || !strchr(argv[i + 1], '='))
                return usage_error("--opt: expected NAME=VALUE, got %s",
                                   i + 1 < argc ? argv[i + 1] : "nothing");
            if (args->n_opts == CHECK_OPTS_MAX)
                return usage_error("--opt: at most %d", CHECK_OPTS_MAX);
            args->opts[args->n_opts++] = argv[++i];
        } else if (!o) {
            rest[(*nrest)++] = argv[i];
        } else if (set_option(args, o, value) != 0)
            return CLI_EXIT_USAGE;
    }
    return 0;
}

static int timeout_ms(const struct probe_args *args)
{
    return (int)ceil(args->timeout_s * 1000.0);
}

/* Prints obj on one line; 0 or -1 when it could not be built. */
static int print_json(json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(obj);
    if (!text) {
        fprintf(stderr, "faultline probe: cannot write the result as JSON\n");
        return -1;
    }
    printf("%s\n", text);
    free(text);
    return 0;
}

/* The reason a probe could not run, after what was printed so far. */
static void report_error(const char *error)
{
    fflush(stdout);
    fprintf(stderr, "faultline probe: %s\n", error);
}

static void print_ping(const struct ping_result *r)
{
    if (r->error[0] && r->sent == 0) {
        report_error(r->error);
        return;
    }
    printf("ping %s (%s), method %s\n", r->target, r->addr, probe_method_name(r->method));
    printf("%d sent, %d received, %.1f%% loss", r->sent, r->received, r->loss_pct);
    if (r->received)
        printf(", rtt min/avg/max %.2f/%.2f/%.2f ms", r->rtt_min_ms, r->rtt_avg_ms, r->rtt_max_ms);
    printf("\n");
    if (r->error[0])
        report_error(r->error);
}

/* ---- running one probe on a loop of its own ---------------------------------------------- */

/* The loop and env of one command; a done callback copies its result and closes the env, after
 * which uv_run returns. */
struct cli_loop {
    uv_loop_t loop;
    struct probe_env *env;
};

static int loop_open(struct cli_loop *l)
{
    char err[PROBE_ERROR_MAX];
    if (uv_loop_init(&l->loop) != 0)
        return -1;
    l->env = probe_env_new(&l->loop, err, sizeof err);
    if (!l->env) {
        uv_loop_close(&l->loop);
        report_error(err);
        return -1;
    }
    return 0;
}

/* Runs until the probe is done (the env closed by its callback), then closes the loop. */
static void loop_run(struct cli_loop *l)
{
    uv_run(&l->loop, UV_RUN_DEFAULT);
    uv_loop_close(&l->loop);
}

/* A run that could not start: the env closes, nothing else is pending. */
static void loop_abandon(struct cli_loop *l)
{
    probe_env_close(l->env);
    loop_run(l);
}

struct ping_wait {
    struct cli_loop *l;
    struct ping_result *out;
};

static void on_ping(const struct ping_result *r, void *ctx)
{
    struct ping_wait *w = ctx;
    *w->out = *r;
    probe_env_close(w->l->env);
}

/* probe_ping on a loop of its own: *out gets the result. */
static void ping_now(const char *target, int count, int wait_ms, struct ping_result *out)
{
    struct cli_loop l;
    if (loop_open(&l) != 0) {
        memset(out, 0, sizeof *out);
        snprintf(out->error, sizeof out->error, "cannot set up the event loop");
        return;
    }
    struct ping_wait w = {&l, out};
    if (!probe_ping_start(l.env, target, count, PING_INTERVAL_MS, wait_ms, on_ping, &w, out))
        loop_abandon(&l);
    else
        loop_run(&l);
}

static int finish_ping(const struct probe_args *args, struct ping_result *r)
{
    if (args->json) {
        if (print_json(ping_result_json(r)) != 0)
            return EXIT_SILENT;
    } else {
        print_ping(r);
    }
    return r->received > 0 ? EXIT_ANSWERED : EXIT_SILENT;
}

static int run_ping(const struct probe_args *args, char **pos)
{
    struct ping_result r;
    ping_now(pos[1], (int)args->count, timeout_ms(args), &r);
    return finish_ping(args, &r);
}

static int run_gateway(const struct probe_args *args, char **pos)
{
    char gw[PROBE_ADDR_MAX];
    struct ping_result r;
    if (probe_default_gateway(gw, sizeof gw) != 0) {
        memset(&r, 0, sizeof r);
        snprintf(r.target, sizeof r.target, "gateway");
        snprintf(r.error, sizeof r.error, "no IPv4 default route in /proc/net/route");
        return finish_ping(args, &r);
    }
    ping_now(gw, (int)args->count, timeout_ms(args), &r);
    snprintf(r.target, sizeof r.target, "gateway");
    return finish_ping(args, &r);
}

static void print_hop(const struct trace_hop *h)
{
    printf("%3d  %-39s %5.1f%% %5d", h->ttl, h->addr[0] ? h->addr : "???", h->loss_pct, h->sent);
    if (h->received)
        printf(" %8.2f %8.2f %8.2f\n", h->best_ms, h->avg_ms, h->worst_ms);
    else
        printf(" %8s %8s %8s\n", "-", "-", "-");
}

struct trace_wait {
    struct cli_loop *l;
    struct trace_result *out;
};

static void on_trace(const struct trace_result *r, void *ctx)
{
    struct trace_wait *w = ctx;
    *w->out = *r;
    probe_env_close(w->l->env);
}

static int run_trace(const struct probe_args *args, char **pos)
{
    struct trace_result *r = calloc(1, sizeof *r);
    struct cli_loop l;
    if (!r || loop_open(&l) != 0) {
        free(r);
        fprintf(stderr, "faultline probe: out of memory\n");
        return EXIT_SILENT;
    }
    struct trace_wait w = {&l, r};
    if (!probe_trace_start(l.env, pos[1], (int)args->max_hops, (int)args->rounds, timeout_ms(args),
                           on_trace, &w, r))
        loop_abandon(&l);
    else
        loop_run(&l);
    int rc = r->reached ? EXIT_ANSWERED : EXIT_SILENT;
    if (args->json) {
        if (print_json(trace_result_json(r)) != 0)
            rc = EXIT_SILENT;
    } else if (r->error[0] && r->n_hops == 0) {
        report_error(r->error);
    } else {
        printf("trace to %s (%s), method %s, rounds %d: %s\n", r->target, r->addr,
               probe_method_name(r->method), r->rounds, r->reached ? "reached" : "not reached");
        printf("HOP  %-39s %6s %5s %8s %8s %8s\n", "ADDRESS", "LOSS", "SENT", "BEST", "AVG",
               "WORST");
        for (int i = 0; i < r->n_hops; i++)
            print_hop(&r->hops[i]);
        if (r->error[0])
            report_error(r->error);
    }
    free(r);
    return rc;
}

/* ---- one probe of the table ------------------------------------------------------------------ */

struct type_wait {
    struct cli_loop *l;
    const struct probe_type *type;
    json_t *json; /* the result as JSON */
    bool failed;
};

static void on_type_done(const struct probe_result *r, void *ctx)
{
    struct type_wait *w = ctx;
    w->failed = !r->ran || r->error[0];
    w->json = probe_result_json(w->type, r);
    probe_env_close(w->l->env);
}

/* Parses def for type and runs one probe; 0, or -1 with err (the usage error's text). */
static int run_type(const struct probe_type *type, const json_t *def, int timeout,
                    struct type_wait *w, char *err, size_t errlen)
{
    const char *field = "";
    char why[PROBE_ERROR_MAX];
    void *options = type->parse(def, &field, why, sizeof why);
    if (!options) {
        snprintf(err, errlen, "%s: %s: %s", type->name, field, why);
        return -1;
    }
    struct cli_loop l;
    if (loop_open(&l) != 0) {
        type->free_options(options);
        snprintf(err, errlen, "cannot set up the event loop");
        return -1;
    }
    w->l = &l;
    w->type = type;
    if (!type->start(l.env, options, timeout, on_type_done, w, why, sizeof why)) {
        loop_abandon(&l);
        type->free_options(options);
        snprintf(err, errlen, "%s: %s", type->name, why);
        return -1;
    }
    loop_run(&l);
    type->free_options(options);
    return 0;
}

struct tcp_wait {
    struct cli_loop *l;
    struct tcp_result *out;
};

static void on_tcp(const struct tcp_result *r, void *ctx)
{
    struct tcp_wait *w = ctx;
    *w->out = *r;
    probe_env_close(w->l->env);
}

static int run_tcp(const struct probe_args *args, char **pos)
{
    struct tcp_result r;
    struct cli_loop l;
    int ran = 0;
    if (loop_open(&l) != 0) {
        r = (struct tcp_result){.port = (int)args->port};
        snprintf(r.error, sizeof r.error, "cannot set up the event loop");
        ran = -1;
    } else {
        struct tcp_wait w = {&l, &r};
        if (!probe_tcp_start(l.env, pos[1], (int)args->port, timeout_ms(args), on_tcp, &w, &r)) {
            ran = -1;
            loop_abandon(&l);
        } else {
            loop_run(&l);
        }
    }
    if (args->json) {
        if (print_json(tcp_result_json(&r)) != 0)
            return EXIT_SILENT;
    } else if (ran != 0) {
        report_error(r.error);
    } else if (r.ok) {
        printf("tcp %s port %d: connected in %.2f ms\n", r.addr, r.port, r.connect_ms);
    } else if (r.reachable) {
        printf("tcp %s port %d: refused in %.2f ms (the host is reachable)\n", r.addr, r.port,
               r.connect_ms);
    } else {
        printf("tcp %s port %d: %s (unreachable)\n", r.addr, r.port, r.error);
    }
    return r.reachable ? EXIT_ANSWERED : EXIT_SILENT;
}

struct dns_wait {
    struct cli_loop *l;
    struct dns_result *out;
};

static void on_dns(const struct dns_result *r, void *ctx)
{
    struct dns_wait *w = ctx;
    *w->out = *r;
    probe_env_close(w->l->env);
}

static int run_dns(const struct probe_args *args, char **pos)
{
    struct dns_result r;
    struct cli_loop l;
    int ran = 0;
    if (loop_open(&l) != 0) {
        memset(&r, 0, sizeof r);
        snprintf(r.error, sizeof r.error, "cannot set up the event loop");
        ran = -1;
    } else {
        struct dns_wait w = {&l, &r};
        if (!probe_dns_start(l.env, pos[1], timeout_ms(args), on_dns, &w, &r)) {
            ran = -1;
            loop_abandon(&l);
        } else {
            loop_run(&l);
        }
    }
    if (args->json) {
        if (print_json(dns_result_json(&r)) != 0)
            return EXIT_SILENT;
    } else if (ran != 0) {
        report_error(r.error);
    } else if (r.ok) {
        printf("dns %s: %s in %.2f ms\n", r.name, r.addr, r.ms);
    } else {
        printf("dns %s: %s (after %.2f ms)\n", r.name, r.error, r.ms);
    }
    return r.ok ? EXIT_ANSWERED : EXIT_SILENT;
}

/* An --opt value: JSON when it parses as JSON, else the text as a string. */
static json_t *opt_value(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(text);
}

static int run_check(const struct probe_args *args, char **pos)
{
    const struct probe_type *type = probe_type_find(pos[1]);
    if (!type) {
        char names[200] = "";
        for (size_t i = 0; probe_types[i]; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     probe_types[i]->name);
        return usage_error("check: unknown type \"%.60s\" (expected %s)", pos[1], names);
    }
    json_t *def = json_pack("{s:s}", "target", pos[2]);
    for (int i = 0; def && i < args->n_opts; i++) {
        const char *eq = strchr(args->opts[i], '=');
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(eq - args->opts[i]), args->opts[i]);
        json_object_set_new(def, name, opt_value(eq + 1));
    }
    struct type_wait w = {0};
    char err[PROBE_ERROR_MAX + 64];
    int ran = def ? run_type(type, def, timeout_ms(args), &w, err, sizeof err) : -1;
    json_decref(def);
    if (ran != 0)
        return usage_error("%s", def ? err : "out of memory");
    if (!w.json) {
        fprintf(stderr, "faultline probe: cannot write the result as JSON\n");
        return EXIT_SILENT;
    }
    char *text = json_dumps(w.json, args->json ? JSON_COMPACT | JSON_REAL_PRECISION(10)
                                               : JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(w.json);
    if (text)
        printf("%s\n", text);
    free(text);
    return w.failed ? EXIT_SILENT : EXIT_ANSWERED;
}

struct probe_verb {
    const char *name;
    unsigned bit;
    int targets; /* positional arguments after the verb */
    int (*run)(const struct probe_args *args, char **positional);
};

static const struct probe_verb probe_verbs[] = {
    {"ping", PING, 1, run_ping},
    {"trace", TRACE, 1, run_trace},
    {"tcp", TCP, 1, run_tcp},
    {"dns", DNS, 1, run_dns},
    {"gateway", GATEWAY, 0, run_gateway},
    {"check", CHECK, 2, run_check},
};

/* Checks the verb against its target and options; NULL after printing a usage error. */
static const struct probe_verb *pick_verb(char **positional, int n, const struct probe_args *args)
{
    if (n == 0) {
        usage_error("expected what to probe: ping, trace, tcp, dns, gateway or check");
        return NULL;
    }
    const struct probe_verb *v = NULL;
    for (size_t i = 0; i < sizeof probe_verbs / sizeof probe_verbs[0]; i++)
        if (!strcmp(positional[0], probe_verbs[i].name))
            v = &probe_verbs[i];
    if (!v) {
        usage_error("unknown probe \"%.60s\" (expected ping, trace, tcp, dns, gateway or check)",
                    positional[0]);
        return NULL;
    }
    if (v->bit == CHECK && n < 3) {
        usage_error("check: expected a TYPE and a TARGET");
        return NULL;
    }
    if (v->targets == 1 && n < 2) {
        usage_error("%s: expected a TARGET (a host name or an IP address)", v->name);
        return NULL;
    }
    if (n > v->targets + 1) {
        if (v->targets == 0)
            usage_error("%s: takes no TARGET, got \"%.60s\"", v->name, positional[1]);
        else
            usage_error("unexpected argument \"%.60s\"", positional[v->targets + 1]);
        return NULL;
    }
    if (args->n_opts > 0 && v->bit != CHECK) {
        usage_error("--opt: does not apply to %s", v->name);
        return NULL;
    }
    for (size_t k = 0; k < PROBE_OPTION_COUNT; k++) {
        if (args->given[k] && !(probe_options[k].verbs & v->bit)) {
            usage_error("%s: does not apply to %s", probe_options[k].flag, v->name);
            return NULL;
        }
    }
    if (v->bit == TCP && args->port == 0) {
        usage_error("tcp: expected --port P");
        return NULL;
    }
    return v;
}

int probe_main(int argc, char **argv)
{
    struct probe_args args = {.count = 5, .rounds = 5, .max_hops = 30, .timeout_s = 2};
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest)
        return EXIT_SILENT;
    int nrest = 0;
    int rc = take_probe_options(argc, argv, &args, rest, &nrest);
    if (rc != 0) {
        free(rest);
        return rc;
    }
    struct config cfg;
    char *positional[3];
    struct cli_args cli = {.positional = positional};
    config_init(&cfg);
    enum cli_result parsed = cli_parse(&probe_cli, nrest, rest, &cfg, &cli);
    if (parsed != CLI_RUN) {
        rc = parsed == CLI_EXIT_OK ? 0 : CLI_EXIT_USAGE;
    } else {
        args.json = cli.json;
        const struct probe_verb *v = pick_verb(positional, cli.positional_count, &args);
        rc = v ? v->run(&args, positional) : CLI_EXIT_USAGE;
    }
    config_free(&cfg);
    free(rest);
    return rc;
}
