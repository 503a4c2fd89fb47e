/* test_config.c — settings: defaults, validation messages, .env and YAML parsing, precedence,
 * module tables, YAML sections and their file:line:column errors, and the base helpers the
 * settings use (err_set, num_parse_int64, --json in cli_parse). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/settings.h"
#include "alert/settings.h"
#include "base/cli.h"
#include "base/config.h"
#include "base/log.h"
#include "settings_tables.h"
#include "base/err.h"
#include "base/num.h"
#include "server/settings.h"

/* A config with every module's table attached, as if one command used them all. */
struct all {
    struct config cfg;
    struct server_settings server;
    struct rca_settings rca;
    struct alert_settings alert;
    struct agent_settings agent;
};

static void all_init(struct all *a)
{
    config_init(&a->cfg);
    assert_int_equal(config_attach(&a->cfg, &server_settings_table, &a->server), 0);
    assert_int_equal(config_attach(&a->cfg, &rca_settings_table, &a->rca), 0);
    assert_int_equal(config_attach(&a->cfg, &alert_settings_table, &a->alert), 0);
    assert_int_equal(config_attach(&a->cfg, &agent_settings_table, &a->agent), 0);
}


static void test_defaults(void **state)
{
    struct all a;
    all_init(&a);
    assert_int_equal(a.cfg.server_port, 5000);
    assert_int_equal(a.cfg.fail_timeout_ms, 180000);
    assert_int_equal(a.cfg.ping_interval_ms, 30000);
    assert_string_equal(a.server.admin_user, "admin");
    assert_string_equal(a.cfg.data_dir, "./data");
    assert_string_equal(a.alert.telegram_api_url, "https://api.telegram.org");
    assert_string_equal(a.server.listen_addr, "0.0.0.0");
    assert_null(a.cfg.api_key);
    assert_null(a.server.admin_pass);
    assert_int_equal(a.rca.window_ms, 60000);
    assert_int_equal(a.rca.threshold, 5);
    assert_int_equal(a.rca.hold_ms, 0);
    assert_string_equal(a.rca.canaries, "gateway,1.1.1.1");
    assert_int_equal(a.rca.canary_interval_ms, 10000);
    assert_string_equal(a.agent.server_addr, "127.0.0.1");
    assert_string_equal(a.agent.diag_targets, "8.8.8.8,1.1.1.1");
    assert_null(a.agent.diag_gateway);
    assert_int_equal(a.agent.diag_ping_count, 10);
    assert_int_equal(a.agent.log_max_mb, 50);
    config_free(&a.cfg);
}

struct bad_value {
    const char *name, *value, *message;
};

static const struct bad_value bad_values[] = {
    {"FAIL_TIMEOUT", "abc", "FAIL_TIMEOUT: expected a positive number of seconds, got \"abc\""},
    {"FAIL_TIMEOUT", "-5", "FAIL_TIMEOUT: expected a positive number of seconds, got \"-5\""},
    {"FAIL_TIMEOUT", "0", "FAIL_TIMEOUT: expected a positive number of seconds, got \"0\""},
    {"PING_INTERVAL", "30s", "PING_INTERVAL: expected a positive number of seconds, got \"30s\""},
    {"SERVER_PORT", "70000", "SERVER_PORT: expected a port number from 1 to 65535, got \"70000\""},
    {"SERVER_PORT", "http", "SERVER_PORT: expected a port number from 1 to 65535, got \"http\""},
    {"LISTEN_ADDR", "localhost", "LISTEN_ADDR: expected an IPv4 or IPv6 address, got \"localhost\""},
    {"TELEGRAM_API_URL", "ftp://x", "TELEGRAM_API_URL: expected an http:// or https:// URL, got \"ftp://x\""},
    {"CHAT_ID", "12abc", "CHAT_ID: expected a numeric chat id (e.g. -123456789) or @channel, got \"12abc\""},
    {"LOG_LEVEL", "loud", "LOG_LEVEL: expected one of debug, info, warn, error, got \"loud\""},
    {"SERVER_ADDR", "a b",
     "SERVER_ADDR: expected a host name or IP address, alone or after http:// or https:// (the "
     "port is SERVER_PORT), got \"a b\""},
    {"SERVER_TLS", "yes", "SERVER_TLS: expected a whole number from 0 to 1, got \"yes\""},
    {"TLS_HSTS", "-1", "TLS_HSTS: expected a whole number from 0 to 1000000000, got \"-1\""},
    {"SITE", "fra 1", "SITE: expected 1-64 letters, digits or ._-:()@+, got \"fra 1\""},
    {"RCA_THRESHOLD", "0", "RCA_THRESHOLD: expected a whole number from 1 to 1000000, got \"0\""},
    {"LOG_MAX_MB", "5.5", "LOG_MAX_MB: expected a whole number from 1 to 1000000, got \"5.5\""},
    {"DIAG_TARGETS", "a b", "DIAG_TARGETS: expected a comma-separated list of at most 16 host or "
                            "host:port entries (\"gateway\" allowed), or none, got \"a b\""},
};

static void test_bad_values_name_setting_value_and_expectation(void **state)
{
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        struct all a;
        all_init(&a);
        char err[256];
        assert_int_equal(config_set(&a.cfg, bad_values[i].name, bad_values[i].value, err, sizeof err), -1);
        assert_string_equal(err, bad_values[i].message);
        config_free(&a.cfg);
    }
}

struct server_addr_case {
    const char *addr;
    bool ok;
    const char *host;
    bool https;
};

static const struct server_addr_case server_addr_cases[] = {
    {"monitor.example.net", true, "monitor.example.net", false},
    {"192.0.2.7", true, "192.0.2.7", false},
    {"2001:db8::1", true, "2001:db8::1", false},
    {"http://monitor.example.net", true, "monitor.example.net", false},
    {"https://monitor.example.net", true, "monitor.example.net", true},
    {"https://[2001:db8::1]", true, "2001:db8::1", true},
    {"https://2001:db8::1", true, "2001:db8::1", true},
    {"https://monitor.example.net:8443", false, NULL, false}, /* the port is SERVER_PORT */
    {"https://", false, NULL, false},
    {"https://[]", false, NULL, false},
    {"ftp://monitor.example.net", false, NULL, false},
    {"https://a b", false, NULL, false},
    {"https://x/path", false, NULL, false},
};

static void test_server_addr_split(void **state)
{
    for (size_t i = 0; i < sizeof server_addr_cases / sizeof server_addr_cases[0]; i++) {
        const struct server_addr_case *c = &server_addr_cases[i];
        char host[256] = "";
        bool https = !c->https;
        assert_int_equal(agent_server_addr_split(c->addr, host, sizeof host, &https), c->ok);
        if (!c->ok)
            continue;
        assert_string_equal(host, c->host);
        assert_int_equal(https, c->https);
    }
}

static void test_secrets_are_not_echoed(void **state)
{
    struct all a;
    all_init(&a);
    char long_key[5000];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    char err[256];
    static const char *const secrets[] = {"API_KEY", "ADMIN_PASS", "TELEGRAM_TOKEN"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(config_set(&a.cfg, secrets[i], long_key, err, sizeof err), -1);
        assert_non_null(strstr(err, "(hidden)"));
        assert_null(strstr(err, "kkkk"));
    }
    config_free(&a.cfg);
}

static void test_good_values(void **state)
{
    struct all a;
    all_init(&a);
    struct config cfg = a.cfg; /* the tables stay attached to a's settings */
    char err[256];
    assert_int_equal(config_set(&cfg, "fail-timeout", "1.5", err, sizeof err), 0);
    assert_int_equal(cfg.fail_timeout_ms, 1500);
    assert_int_equal(config_set(&cfg, "server_port", "8080", err, sizeof err), 0);
    assert_int_equal(cfg.server_port, 8080);
    assert_int_equal(config_set(&cfg, "TELEGRAM_API_URL", "http://127.0.0.1:9/", err, sizeof err), 0);
    assert_string_equal(a.alert.telegram_api_url, "http://127.0.0.1:9");
    assert_int_equal(config_set(&cfg, "CHAT_ID", "-100123", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, "CHAT_ID", "@ops", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, "LISTEN_ADDR", "::1", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, "NOT_A_SETTING", "x", err, sizeof err), -2);
    /* An empty value leaves the setting as it was. */
    assert_int_equal(config_set(&cfg, "SERVER_PORT", "", err, sizeof err), 0);
    assert_int_equal(cfg.server_port, 8080);
    assert_int_equal(config_set(&cfg, "rca-threshold", "7", err, sizeof err), 0);
    assert_int_equal(a.rca.threshold, 7);
    assert_int_equal(config_set(&cfg, "DIAG_GATEWAY", "10.0.0.1", err, sizeof err), 0);
    assert_string_equal(a.agent.diag_gateway, "10.0.0.1");
    config_free(&cfg);
}

static void test_env_text_like_the_reference(void **state)
{
    const char *text = "# server settings\n"
                       "CHAT_ID=-123456789          # Your Telegram chat ID\n"
                       "export API_KEY=\"s3cret # not a comment\"\n"
                       "FAIL_TIMEOUT=180            # Seconds before marking as down\n"
                       "\n"
                       "UNRELATED_THING=whatever\n"
                       "ADMIN_PASS='p#ss'\n";
    struct all a;
    all_init(&a);
    char err[256] = "";
    assert_int_equal(config_apply_env_text(&a.cfg, text, err, sizeof err), 0);
    assert_string_equal(a.alert.chat_id, "-123456789");
    assert_string_equal(a.cfg.api_key, "s3cret # not a comment");
    assert_int_equal(a.cfg.fail_timeout_ms, 180000);
    assert_string_equal(a.server.admin_pass, "p#ss");
    config_free(&a.cfg);
}

static void test_env_text_errors_name_the_line(void **state)
{
    struct config cfg;
    config_init(&cfg);
    char err[256];
    assert_int_equal(config_apply_env_text(&cfg, "API_KEY=x\nFAIL_TIMEOUT=abc\n", err, sizeof err), -1);
    assert_string_equal(err, "line 2: FAIL_TIMEOUT: expected a positive number of seconds, got \"abc\"");
    assert_int_equal(config_apply_env_text(&cfg, "just words\n", err, sizeof err), -1);
    assert_string_equal(err, "line 1: expected NAME=VALUE, got \"just words\"");
    /* YAML-style "NAME: value" in .env: the value (a secret, often) is not echoed. */
    assert_int_equal(config_apply_env_text(&cfg, "API_KEY: s3cret-token\n", err, sizeof err), -1);
    assert_string_equal(err, "line 1: expected NAME=VALUE, got \"API_KEY: ...\"");
    config_free(&cfg);
}

static void test_yaml(void **state)
{
    const char *yaml = "api_key: abc\nFAIL_TIMEOUT: 2.5\nserver_port: 6000\nadmin_pass: null\n"
                       "telegram_token: ~\nchat_id: \"\"\nsite: \"null\"\n";
    struct all a;
    all_init(&a);
    char err[256];
    assert_int_equal(config_apply_yaml_text(&a.cfg, NULL, yaml, strlen(yaml), err, sizeof err), 0);
    assert_string_equal(a.cfg.api_key, "abc");
    assert_int_equal(a.cfg.fail_timeout_ms, 2500);
    assert_int_equal(a.cfg.server_port, 6000);
    assert_null(a.server.admin_pass);     /* YAML null means not set */
    assert_null(a.alert.telegram_token); /* so does ~ */
    assert_null(a.alert.chat_id);
    assert_string_equal(a.agent.site, "null"); /* a quoted "null" is text */
    config_free(&a.cfg);
}

struct bad_yaml {
    const char *text, *message;
};

static const struct bad_yaml bad_yamls[] = {
    {"colour: blue\n", "line 1: colour: not a faultline setting"},
    {"api_key: x\nserver_port: [1, 2]\n", "line 2: expected NAME: value, got a list"},
    {"server_port: 99999\n", "line 1: SERVER_PORT: expected a port number from 1 to 65535, got \"99999\""},
    {"a: {b: c}\n", "line 1: expected NAME: value, got a nested mapping"},
    {"key: \"unterminated\n", NULL},
    {"just text\n", "line 1: expected a mapping of settings"},
    {"- a\n- b\n", "line 1: expected NAME: value, got a list"},
    {"api_key: x\n---\ncolour: blue\n", "line 3: colour: not a faultline setting"},
};

static void test_yaml_errors(void **state)
{
    for (size_t i = 0; i < sizeof bad_yamls / sizeof bad_yamls[0]; i++) {
        struct all a;
        all_init(&a);
        struct config cfg = a.cfg;
        char err[256] = "";
        const char *t = bad_yamls[i].text;
        assert_int_equal(config_apply_yaml_text(&cfg, NULL, t, strlen(t), err, sizeof err), -1);
        if (bad_yamls[i].message)
            assert_string_equal(err, bad_yamls[i].message);
        else
            assert_true(strlen(err) > 0);
        config_free(&cfg);
    }
}

/* flags > environment > .env > YAML > defaults */
static void test_precedence(void **state)
{
    char dir[] = "/tmp/faultline-config-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char yaml[256], env[256];
    snprintf(yaml, sizeof yaml, "%s/c.yaml", dir);
    snprintf(env, sizeof env, "%s/.env", dir);
    FILE *f = fopen(yaml, "w");
    fputs("SERVER_PORT: 1111\nFAIL_TIMEOUT: 11\nPING_INTERVAL: 11\nADMIN_USER: yaml\n"
          "TELEGRAM_API_URL: http://yaml.example\n",
          f);
    fclose(f);
    f = fopen(env, "w");
    fputs("SERVER_PORT=2222\nFAIL_TIMEOUT=22\nPING_INTERVAL=22\n", f);
    fclose(f);
    char *environ_list[] = {"SERVER_PORT=3333", "FAIL_TIMEOUT=33", "fail_timeout=99", NULL};
    char *flags[] = {"--server-port", "4444"};
    struct config_sources src = {.yaml_path = yaml, .env_file = env, .environ = environ_list,
                                 .flag_count = 2, .flags = flags};
    struct all a;
    all_init(&a);
    char err[256] = "";
    assert_int_equal(config_load(&a.cfg, &src, err, sizeof err), 0);
    assert_int_equal(a.cfg.server_port, 4444);
    assert_int_equal(a.cfg.fail_timeout_ms, 33000);
    assert_int_equal(a.cfg.ping_interval_ms, 22000);
    assert_string_equal(a.server.admin_user, "yaml");
    assert_string_equal(a.alert.telegram_api_url, "http://yaml.example"); /* YAML alone */
    config_free(&a.cfg);
    unlink(yaml);
    unlink(env);
    rmdir(dir);
}

static void test_flag_errors(void **state)
{
    struct config cfg;
    config_init(&cfg);
    char err[256];
    char *unknown[] = {"--colour=blue"};
    struct config_sources src = {.flag_count = 1, .flags = unknown};
    assert_int_equal(config_load(&cfg, &src, err, sizeof err), -1);
    assert_string_equal(err, "unknown option \"--colour\" (see --help)");
    char *bad[] = {"--fail-timeout=soon"};
    src.flags = bad;
    assert_int_equal(config_load(&cfg, &src, err, sizeof err), -1);
    assert_string_equal(err, "FAIL_TIMEOUT: expected a positive number of seconds, got \"soon\"");
    char *missing_file[] = {NULL};
    struct config_sources yaml_src = {.yaml_path = "/nonexistent/x.yaml", .flags = missing_file};
    assert_int_equal(config_load(&cfg, &yaml_src, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.yaml"));
    config_free(&cfg);
}

static void test_require(void **state)
{
    struct config cfg;
    config_init(&cfg);
    char err[256];
    assert_int_equal(config_require(&cfg, "API_KEY", err, sizeof err), -1);
    assert_string_equal(err, "API_KEY: required, not set (environment, .env or --config)");
    config_set(&cfg, "API_KEY", "k", err, sizeof err);
    assert_int_equal(config_require(&cfg, "API_KEY", err, sizeof err), 0);
    config_free(&cfg);
}

/* ---- module tables ------------------------------------------------------------------------ */

/* No two modules claim one name, and every row is complete. */
static void test_settings_tables_are_well_formed(void **state)
{
    for (size_t t = 0; t < settings_table_count; t++) {
        const struct config_table *table = settings_tables[t];
        assert_non_null(table->module);
        for (size_t i = 0; i < table->option_count; i++) {
            const struct config_option *opt = &table->options[i];
            assert_non_null(opt->help);
            assert_true(opt->kind != CONFIG_INT || opt->min <= opt->max);
            assert_true(opt->check == NULL || opt->expected != NULL);
            for (size_t u = t; u < settings_table_count; u++)
                for (size_t k = u == t ? i + 1 : 0; k < settings_tables[u]->option_count; k++)
                    assert_string_not_equal(opt->name, settings_tables[u]->options[k].name);
            struct config cfg;
            config_init(&cfg);
            char err[256];
            /* No module takes a shared name. */
            assert_int_equal(config_set(&cfg, opt->name, "x", err, sizeof err), -2);
            config_free(&cfg);
        }
    }
}

/* A command fills only the tables it attached; the others' settings are still accepted (and
 * checked) from every source, so one .env or YAML file serves the server and the agent. */
static void test_registered_tables_are_checked_not_kept(void **state)
{
    config_register_tables(settings_tables, settings_table_count);
    struct config cfg;
    struct agent_settings agent;
    config_init(&cfg);
    assert_int_equal(config_attach(&cfg, &agent_settings_table, &agent), 0);
    char err[256];
    assert_int_equal(config_set(&cfg, "RCA_WINDOW", "30", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, "RCA_WINDOW", "soon", err, sizeof err), -1);
    assert_string_equal(err, "RCA_WINDOW: expected a positive number of seconds, got \"soon\"");
    assert_int_equal(config_set(&cfg, "CHAT_ID", "general", err, sizeof err), -1);
    assert_int_equal(config_set(&cfg, "NOT_A_SETTING", "x", err, sizeof err), -2);
    assert_string_equal(err, "NOT_A_SETTING: not a faultline setting");
    const char *yaml = "api_key: k\nlisten_addr: 127.0.0.1\nsite: fra1\n";
    assert_int_equal(config_apply_yaml_text(&cfg, NULL, yaml, strlen(yaml), err, sizeof err), 0);
    assert_string_equal(agent.site, "fra1");
    assert_int_equal(config_apply_env_text(&cfg, "ADMIN_PASS=x\nLISTEN_ADDR=nowhere\n", err,
                                           sizeof err), -1);
    assert_string_equal(err, "line 2: LISTEN_ADDR: expected an IPv4 or IPv6 address, got "
                             "\"nowhere\"");
    char *flags[] = {"--rca-threshold", "9", "--diag-ping-count=3"};
    struct config_sources src = {.flag_count = 3, .flags = flags};
    assert_int_equal(config_load(&cfg, &src, err, sizeof err), 0);
    assert_int_equal(agent.diag_ping_count, 3);
    /* A required setting of a table the command did not attach is not set for it. */
    assert_int_equal(config_require(&cfg, "TELEGRAM_TOKEN", err, sizeof err), -1);
    config_free(&cfg);
    assert_null(agent.site); /* freed with the config */
    config_register_tables(NULL, 0);
}

static void test_attach_limit(void **state)
{
    struct config cfg;
    struct agent_settings agent[CONFIG_MODULES_MAX + 1];
    config_init(&cfg);
    for (int i = 0; i < CONFIG_MODULES_MAX; i++)
        assert_int_equal(config_attach(&cfg, &agent_settings_table, &agent[i]), 0);
    assert_int_equal(config_attach(&cfg, &agent_settings_table, &agent[CONFIG_MODULES_MAX]), -1);
    config_free(&cfg);
}

/* ---- YAML sections ------------------------------------------------------------------------ */

/* A section of the kind the next modules bring: a list of mappings, read into settings. */
struct probe_list {
    int count;
    char names[4][32];
    int ports[4];
    int reads; /* times the reader ran, with or without settings */
};

static int probes_reads_without_settings;

static int read_probes(const struct config_node *value, void *settings, char *err, size_t errlen)
{
    struct probe_list *list = settings;
    if (!list)
        probes_reads_without_settings++;
    if (config_node_type(value) != CONFIG_NODE_SEQUENCE)
        return config_node_fail(value, err, errlen, "expected a list of probes");
    for (size_t i = 0; i < config_node_length(value); i++) {
        struct config_node item = config_node_item(value, i);
        if (config_node_type(&item) != CONFIG_NODE_MAPPING)
            return config_node_fail(&item, err, errlen, "expected a mapping");
        for (size_t k = 0; k < config_node_length(&item); k++) {
            struct config_node key = config_node_key_at(&item, k);
            const char *name = config_node_text(&key);
            if (!name || (strcmp(name, "name") && strcmp(name, "port")))
                return config_node_fail(&key, err, errlen, "expected one of name, port");
        }
        struct config_node name = config_node_get(&item, "name");
        struct config_node port = config_node_get(&item, "port");
        if (config_node_type(&name) == CONFIG_NODE_NONE)
            return config_node_fail(&name, err, errlen, "required");
        const char *text = config_node_text(&port);
        int64_t n;
        char inner[160];
        if (num_parse_int64("port", text, 1, 65535, CONFIG_EXPECT_PORT, &n, inner, sizeof inner))
            return config_node_fail(&port, err, errlen, "%s", inner + strlen("port: "));
        if (list && list->count < 4) {
            snprintf(list->names[list->count], sizeof list->names[0], "%s",
                     config_node_text(&name));
            list->ports[list->count++] = (int)n;
        }
    }
    if (list)
        list->reads++;
    return 0;
}

static const struct config_section probe_sections[] = {{"probes", read_probes}};
static const struct config_table probe_table = {
    .module = "test", .sections = probe_sections, .section_count = 1};

static int yaml_with_probes(struct probe_list *list, const char *file, const char *text, char *err)
{
    struct config cfg;
    config_init(&cfg);
    if (list)
        config_attach(&cfg, &probe_table, list);
    int rc = config_apply_yaml_text(&cfg, file, text, strlen(text), err, 256);
    config_free(&cfg);
    return rc;
}

static void test_section_reader_gets_the_nodes(void **state)
{
    const char *yaml = "api_key: k\n"
                       "probes:\n"
                       "  - name: edge\n"
                       "    port: 443\n"
                       "  - {name: core, port: 22}\n"
                       "server_port: 6000\n";
    struct probe_list list = {0};
    char err[256] = "";
    assert_int_equal(yaml_with_probes(&list, "f.yaml", yaml, err), 0);
    assert_int_equal(list.reads, 1);
    assert_int_equal(list.count, 2);
    assert_string_equal(list.names[0], "edge");
    assert_int_equal(list.ports[0], 443);
    assert_string_equal(list.names[1], "core");
    assert_int_equal(list.ports[1], 22);
    /* Registered but not attached: the reader only checks. */
    static const struct config_table *const tables[] = {&probe_table};
    config_register_tables(tables, 1);
    probes_reads_without_settings = 0;
    assert_int_equal(yaml_with_probes(NULL, "f.yaml", yaml, err), 0);
    assert_int_equal(probes_reads_without_settings, 1);
    config_register_tables(NULL, 0);
    /* Neither registered nor reserved: an unknown setting, as before. */
    assert_int_equal(yaml_with_probes(NULL, "f.yaml", yaml, err), -1);
    assert_string_equal(err, "f.yaml line 3: expected NAME: value, got a list");
}

struct section_error {
    const char *file, *text, *message;
};

static const struct section_error section_errors[] = {
    {"f.yaml", "probes:\n  - name: edge\n    port: 443\n  - name: core\n    port: http\n",
     "f.yaml:5:11: probes[1].port: expected a port number from 1 to 65535, got \"http\""},
    {NULL, "probes:\n  - name: edge\n    port: 443\n  - name: core\n    port: http\n",
     "5:11: probes[1].port: expected a port number from 1 to 65535, got \"http\""},
    {"f.yaml", "probes:\n  - port: 1\n", "f.yaml:2:5: probes[0].name: required"},
    {"f.yaml", "probes:\n  - name: a\n    colour: blue\n",
     "f.yaml:3:5: probes[0].colour: expected one of name, port"},
    {"f.yaml", "probes: none\n", "f.yaml:1:9: probes: expected a list of probes"},
    {"f.yaml", "probes:\n  - just text\n", "f.yaml:2:5: probes[0]: expected a mapping"},
    {"f.yaml", "probes:\n  - name: a\n    port:\n", "f.yaml:3:10: probes[0].port: expected a "
                                                  "port number from 1 to 65535, got \"\""},
};

static void test_section_errors_name_file_line_column(void **state)
{
    for (size_t i = 0; i < sizeof section_errors / sizeof section_errors[0]; i++) {
        struct probe_list list = {0};
        char err[256] = "";
        const struct section_error *e = &section_errors[i];
        assert_int_equal(yaml_with_probes(&list, e->file, e->text, err), -1);
        assert_string_equal(err, e->message);
    }
}

/* checks, channels, routes, silences: refused until the module that reads them exists. */
static void test_reserved_sections_are_refused(void **state)
{
    char dir[] = "/tmp/faultline-config-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char yaml[256];
    snprintf(yaml, sizeof yaml, "%s/c.yaml", dir);
    static const char *const names[] = {"checks", "channels", "routes", "silences"};
    for (size_t i = 0; i < 4; i++) {
        FILE *f = fopen(yaml, "w");
        fprintf(f, "api_key: k\n  # note\n%s:\n  - type: x\n", names[i]);
        fclose(f);
        struct config cfg;
        config_init(&cfg);
        struct config_sources src = {.yaml_path = yaml};
        char err[512], want[512];
        assert_int_equal(config_load(&cfg, &src, err, sizeof err), -1);
        snprintf(want, sizeof want, "%s:3:1: %s: not supported by this version of faultline",
                 yaml, names[i]);
        assert_string_equal(err, want);
        config_free(&cfg);
    }
    unlink(yaml);
    rmdir(dir);
}

/* ---- helpers ------------------------------------------------------------------------------ */

static void test_err_set(void **state)
{
    char err[8];
    assert_int_equal(err_set(err, sizeof err, "%s %d", "abc", 12345), -1);
    assert_string_equal(err, "abc 123"); /* cut to the buffer */
    assert_int_equal(err_set(NULL, 0, "nothing %d", 1), -1);
    err[0] = 'x';
    assert_int_equal(err_set(err, 0, "nothing"), -1);
    assert_int_equal(err[0], 'x');
}

struct num_case {
    const char *text;
    int64_t min, max;
    const char *expected;
    int rc;
    int64_t value;
    const char *message;
};

static const struct num_case num_cases[] = {
    {"42", 1, 100, NULL, 0, 42, NULL},
    {"-7", -10, 10, NULL, 0, -7, NULL},
    {"1000", 1, 1000, NULL, 0, 1000, NULL},
    {"1001", 1, 1000, NULL, -1, 0, "limit: expected a whole number from 1 to 1000, got \"1001\""},
    {"0", 1, 1000, "a number from 1 to 1000", -1, 0,
     "limit: expected a number from 1 to 1000, got \"0\""},
    {"12abc", 1, 1000, NULL, -1, 0, "limit: expected a whole number from 1 to 1000, got \"12abc\""},
    {"", 1, 1000, NULL, -1, 0, "limit: expected a whole number from 1 to 1000, got \"\""},
    {"2.5", 1, 1000, NULL, -1, 0, "limit: expected a whole number from 1 to 1000, got \"2.5\""},
    {"99999999999999999999", 1, 1000, NULL, -1, 0,
     "limit: expected a whole number from 1 to 1000, got \"99999999999999999999\""},
    {NULL, 1, 1000, NULL, -1, 0, "limit: expected a whole number from 1 to 1000, got nothing"},
    {"9223372036854775807", 0, INT64_MAX, NULL, 0, INT64_MAX, NULL},
};

static void test_num_parse_int64(void **state)
{
    for (size_t i = 0; i < sizeof num_cases / sizeof num_cases[0]; i++) {
        const struct num_case *c = &num_cases[i];
        int64_t v = -99;
        char err[160] = "";
        assert_int_equal(num_parse_int64("limit", c->text, c->min, c->max, c->expected, &v, err,
                                         sizeof err),
                         c->rc);
        if (c->rc == 0)
            assert_int_equal(v, c->value);
        else
            assert_string_equal(err, c->message);
    }
    int64_t v;
    assert_int_equal(num_parse_int64("x", "5", 1, 3, NULL, &v, NULL, 0), -1); /* err optional */
}

/* --json is a field of the spec: taken out of argv anywhere after the command, an unknown option
 * for commands that do not print JSON. */
extern char **environ;

/* cli_parse reads the environment and ./.env: run it with neither (an empty environment, a
 * fresh working directory), and put the log level back afterwards. */
struct cli_sandbox {
    char **saved_environ;
    char saved_cwd[4096];
    char dir[64];
};

static void cli_sandbox_enter(struct cli_sandbox *sb)
{
    static char *empty[] = {NULL};
    assert_non_null(getcwd(sb->saved_cwd, sizeof sb->saved_cwd));
    snprintf(sb->dir, sizeof sb->dir, "/tmp/faultline-cli-XXXXXX");
    assert_non_null(mkdtemp(sb->dir));
    assert_int_equal(chdir(sb->dir), 0);
    sb->saved_environ = environ;
    environ = empty;
}

static void cli_sandbox_leave(struct cli_sandbox *sb)
{
    environ = sb->saved_environ;
    assert_int_equal(chdir(sb->saved_cwd), 0);
    assert_int_equal(rmdir(sb->dir), 0);
    log_set_level(LOG_INFO);
}

static void test_cli_json(void **state)
{
    struct cli_sandbox sb;
    cli_sandbox_enter(&sb);
    static const char *const no_options[] = {"LOG_LEVEL"};
    struct cli_spec spec = {.command = "t", .usage = "t", .description = "d",
                            .options = no_options, .option_count = 1, .max_positional = 2,
                            .json = true};
    char *argv[] = {"t", "a.jsonl", "--json", "--log-level", "warn", "b.jsonl"};
    char *positional[2];
    struct cli_args args = {.positional = positional};
    struct config cfg;
    config_init(&cfg);
    assert_int_equal(cli_parse(&spec, 6, argv, &cfg, &args), CLI_RUN);
    assert_true(args.json);
    assert_int_equal(args.positional_count, 2);
    assert_string_equal(positional[0], "a.jsonl");
    assert_string_equal(positional[1], "b.jsonl");
    assert_string_equal(cfg.log_level, "warn");
    config_free(&cfg);
    char *plain[] = {"t", "a.jsonl"};
    config_init(&cfg);
    assert_int_equal(cli_parse(&spec, 2, plain, &cfg, &args), CLI_RUN);
    assert_false(args.json);
    config_free(&cfg);
    spec.json = false;
    char *json[] = {"t", "--json"};
    config_init(&cfg);
    assert_int_equal(cli_parse(&spec, 2, json, &cfg, &args), CLI_EXIT_USAGE);
    config_free(&cfg);
    cli_sandbox_leave(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bad_values_name_setting_value_and_expectation),
        cmocka_unit_test(test_server_addr_split),
        cmocka_unit_test(test_secrets_are_not_echoed),
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_env_text_like_the_reference),
        cmocka_unit_test(test_env_text_errors_name_the_line),
        cmocka_unit_test(test_yaml),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_flag_errors),
        cmocka_unit_test(test_require),
        cmocka_unit_test(test_settings_tables_are_well_formed),
        cmocka_unit_test(test_registered_tables_are_checked_not_kept),
        cmocka_unit_test(test_attach_limit),
        cmocka_unit_test(test_section_reader_gets_the_nodes),
        cmocka_unit_test(test_section_errors_name_file_line_column),
        cmocka_unit_test(test_reserved_sections_are_refused),
        cmocka_unit_test(test_err_set),
        cmocka_unit_test(test_num_parse_int64),
        cmocka_unit_test(test_cli_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
