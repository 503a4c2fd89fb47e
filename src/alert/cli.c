/* cli.c — `faultline alert test` (cli.h): opens the one channel asked for on a loop of its own,
 * sends one test message straight through it (no store, no outbox, no pacing), and prints the
 * outcome: "CHANNEL: delivered (ANSWER)" on stdout, or "CHANNEL: not delivered: WHY" on
 * stderr. */
#include "alert/cli.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alert/channel.h"
#include "alert/settings.h"
#include "base/cli.h"
#include "base/clock.h"
#include "base/httpc.h"

static const char *const alert_cli_options[] = {"TELEGRAM_TOKEN", "CHAT_ID", "TELEGRAM_API_URL",
                                                "PUBLIC_URL", "LOG_LEVEL"};

static const struct cli_spec alert_cli = {
    .command = "alert",
    .usage = "alert test CHANNEL [--config FILE]",
    .description =
        "Alerting helpers.\n\n"
        "  test CHANNEL   sends a test message through the channel of that name (channels: in\n"
        "                 the --config file, or telegram from TELEGRAM_TOKEN and CHAT_ID) and\n"
        "                 prints the channel's answer.\n\n"
        "Exit status: 0 delivered, 1 not delivered, 2 usage or configuration error.",
    .options = alert_cli_options,
    .option_count = 5,
    .max_positional = 2,
};

struct test_run {
    bool done;
    struct alert_outcome outcome;
};

static void test_sent(const struct alert_outcome *outcome, void *ctx)
{
    struct test_run *run = ctx;
    run->outcome = *outcome;
    run->done = true;
}

/* The test message for channel name. */
static void test_message(const char *name, const struct alert_settings *s, char *text,
                         size_t len, char *fields, size_t flen, struct alert_delivery *d)
{
    char host[128] = "?", when[CLOCK_ISO_LEN];
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    clock_format_iso(clock_wall_ms(), when, sizeof when);
    snprintf(text, len, "✅ faultline test message to channel %s, from %s at %s. If you read "
             "this, alerts reach you here.", name, host, when);
    const char *link = s->public_url ? s->public_url : "";
    json_t *f = json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s, s:i, s:s}", "kind", "test",
                          "severity", "info", "resolve", 0, "name", name, "subject",
                          "faultline test message", "text", text, "link", link, "time", when,
                          "id", 0, "channel", name);
    char *dump = f ? json_dumps(f, JSON_COMPACT) : NULL;
    snprintf(fields, flen, "%s", dump ? dump : "{}");
    free(dump);
    json_decref(f);
    *d = (struct alert_delivery){.text = text,
                                 .subject = "faultline test message",
                                 .name = name,
                                 .link = link,
                                 .dedup_key = "",
                                 .kind = ALERT_KIND_TEST,
                                 .severity = ALERT_SEVERITY_INFO,
                                 .fields_json = fields};
}

/* Sends the test through cfg; returns the exit status. */
static int test_channel(const struct alert_channel_config *cfg, const struct alert_settings *s)
{
    const struct alert_channel_type *type = alert_channel_type_find(cfg->type);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct httpc *http = httpc_new(&loop);
    struct alert_channel_env env = {.loop = &loop, .http = http};
    char err[512] = "";
    void *state = type && http ? type->open(cfg, &env, err, sizeof err) : NULL;
    int rc = 1;
    if (!state) {
        fprintf(stderr, "faultline alert: %s: channel %s: %s\n", cfg->where, cfg->name,
                err[0] ? err : "cannot open");
        rc = 2;
    } else {
        char text[512], fields[2048];
        struct alert_delivery d;
        struct test_run run = {0};
        test_message(cfg->name, s, text, sizeof text, fields, sizeof fields, &d);
        type->send(state, &d, test_sent, &run);
        while (!run.done && uv_run(&loop, UV_RUN_ONCE))
            ;
        const struct alert_outcome *o = &run.outcome;
        if (run.done && o->result == ALERT_SENT) {
            /* error holds the answer of an HTTP channel ("slack: HTTP 200: ok"); ref the
             * channel's id of the message (Telegram's message_id). */
            printf("%s: delivered", cfg->name);
            if (o->error[0])
                printf(" (%s)", o->error);
            if (o->ref[0])
                printf(", ref %s", o->ref);
            putchar('\n');
            rc = 0;
        } else {
            fprintf(stderr, "%s: not delivered: %s%s\n", cfg->name,
                    run.done ? o->error : "no answer",
                    run.done && o->result == ALERT_REJECTED ? " (refused for good)" : "");
        }
        type->close(state);
    }
    httpc_close(http);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return rc;
}

static int alert_test(const char *name, const struct alert_settings *s)
{
    struct alert_channel_config env_cfg;
    struct alert_channel_field env_fields[3];
    char err[512];
    for (size_t i = 0; i < s->n_channels; i++)
        if (strcmp(s->channels[i].name, name) == 0)
            return test_channel(&s->channels[i], s);
    int env = alert_settings_env_telegram(s, &env_cfg, env_fields, err, sizeof err);
    if (env < 0)
        return cli_fail(&alert_cli, err);
    if (env > 0 && strcmp(name, "telegram") == 0)
        return test_channel(&env_cfg, s);
    char msg[600];
    size_t used = (size_t)snprintf(msg, sizeof msg, "no channel named \"%.64s\" (channels:", name);
    for (size_t i = 0; i < s->n_channels && used < sizeof msg; i++)
        used += (size_t)snprintf(msg + used, sizeof msg - used, " %s", s->channels[i].name);
    snprintf(msg + (used < sizeof msg ? used : sizeof msg - 1),
             sizeof msg - (used < sizeof msg ? used : sizeof msg - 1), "%s%s)",
             env > 0 ? " telegram" : "", s->n_channels || env > 0 ? "" : " none");
    return cli_fail(&alert_cli, msg);
}

int alert_main(int argc, char **argv)
{
    struct config cfg;
    struct alert_settings settings;
    char *pos[2];
    struct cli_args args = {.positional = pos};
    config_init(&cfg);
    config_attach(&cfg, &alert_settings_table, &settings);
    int rc;
    enum cli_result parsed = cli_parse(&alert_cli, argc, argv, &cfg, &args);
    if (parsed != CLI_RUN)
        rc = parsed == CLI_EXIT_OK ? 0 : 2;
    else if (args.positional_count == 2 && strcmp(pos[0], "test") == 0)
        rc = alert_test(pos[1], &settings);
    else
        rc = cli_fail(&alert_cli, args.positional_count && strcmp(pos[0], "test") != 0
                                      ? "unknown command (expected: test CHANNEL)"
                                      : "expected: test CHANNEL");
    config_free(&cfg);
    return rc;
}
