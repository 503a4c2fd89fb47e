/* test_config.c — settings: defaults, validation messages, .env and YAML parsing, precedence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/config.h"

static void test_defaults(void **state)
{
    struct config cfg;
    config_init(&cfg);
    assert_int_equal(cfg.server_port, 5000);
    assert_int_equal(cfg.fail_timeout_ms, 180000);
    assert_int_equal(cfg.ping_interval_ms, 30000);
    assert_string_equal(cfg.admin_user, "admin");
    assert_string_equal(cfg.data_dir, "./data");
    assert_string_equal(cfg.telegram_api_url, "https://api.telegram.org");
    assert_string_equal(cfg.listen_addr, "0.0.0.0");
    assert_null(cfg.api_key);
    assert_null(cfg.admin_pass);
    config_free(&cfg);
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
    {"SERVER_ADDR", "a b", "SERVER_ADDR: expected a host name or IP address, got \"a b\""},
    {"SITE", "fra 1", "SITE: expected 1-64 letters, digits or ._-:()@+, got \"fra 1\""},
};

static void test_bad_values_name_setting_value_and_expectation(void **state)
{
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        struct config cfg;
        config_init(&cfg);
        char err[256];
        assert_int_equal(config_set(&cfg, bad_values[i].name, bad_values[i].value, err, sizeof err), -1);
        assert_string_equal(err, bad_values[i].message);
        config_free(&cfg);
    }
}

static void test_secrets_are_not_echoed(void **state)
{
    struct config cfg;
    config_init(&cfg);
    char long_key[5000];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    char err[256];
    assert_int_equal(config_set(&cfg, "API_KEY", long_key, err, sizeof err), -1);
    assert_non_null(strstr(err, "(hidden)"));
    assert_null(strstr(err, "kkkk"));
    config_free(&cfg);
}

static void test_good_values(void **state)
{
    struct config cfg;
    config_init(&cfg);
    char err[256];
    assert_int_equal(config_set(&cfg, "fail-timeout", "1.5", err, sizeof err), 0);
    assert_int_equal(cfg.fail_timeout_ms, 1500);
    assert_int_equal(config_set(&cfg, "server_port", "8080", err, sizeof err), 0);
    assert_int_equal(cfg.server_port, 8080);
    assert_int_equal(config_set(&cfg, "TELEGRAM_API_URL", "http://127.0.0.1:9/", err, sizeof err), 0);
    assert_string_equal(cfg.telegram_api_url, "http://127.0.0.1:9");
    assert_int_equal(config_set(&cfg, "CHAT_ID", "-100123", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, "CHAT_ID", "@ops", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, "LISTEN_ADDR", "::1", err, sizeof err), 0);
    assert_int_equal(config_set(&cfg, "NOT_A_SETTING", "x", err, sizeof err), -2);
    /* An empty value leaves the setting as it was. */
    assert_int_equal(config_set(&cfg, "SERVER_PORT", "", err, sizeof err), 0);
    assert_int_equal(cfg.server_port, 8080);
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
    struct config cfg;
    config_init(&cfg);
    char err[256] = "";
    assert_int_equal(config_apply_env_text(&cfg, text, err, sizeof err), 0);
    assert_string_equal(cfg.chat_id, "-123456789");
    assert_string_equal(cfg.api_key, "s3cret # not a comment");
    assert_int_equal(cfg.fail_timeout_ms, 180000);
    assert_string_equal(cfg.admin_pass, "p#ss");
    config_free(&cfg);
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
    config_free(&cfg);
}

static void test_yaml(void **state)
{
    const char *yaml = "api_key: abc\nFAIL_TIMEOUT: 2.5\nserver_port: 6000\nadmin_pass: null\n"
                       "telegram_token: ~\nchat_id: \"\"\nsite: \"null\"\n";
    struct config cfg;
    config_init(&cfg);
    char err[256];
    assert_int_equal(config_apply_yaml_text(&cfg, yaml, strlen(yaml), err, sizeof err), 0);
    assert_string_equal(cfg.api_key, "abc");
    assert_int_equal(cfg.fail_timeout_ms, 2500);
    assert_int_equal(cfg.server_port, 6000);
    assert_null(cfg.admin_pass);     /* YAML null means not set */
    assert_null(cfg.telegram_token); /* so does ~ */
    assert_null(cfg.chat_id);
    assert_string_equal(cfg.site, "null"); /* a quoted "null" is text */
    config_free(&cfg);
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
};

static void test_yaml_errors(void **state)
{
    for (size_t i = 0; i < sizeof bad_yamls / sizeof bad_yamls[0]; i++) {
        struct config cfg;
        config_init(&cfg);
        char err[256] = "";
        const char *t = bad_yamls[i].text;
        assert_int_equal(config_apply_yaml_text(&cfg, t, strlen(t), err, sizeof err), -1);
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
    fputs("SERVER_PORT: 1111\nFAIL_TIMEOUT: 11\nPING_INTERVAL: 11\nADMIN_USER: yaml\n", f);
    fclose(f);
    f = fopen(env, "w");
    fputs("SERVER_PORT=2222\nFAIL_TIMEOUT=22\nPING_INTERVAL=22\n", f);
    fclose(f);
    char *environ_list[] = {"SERVER_PORT=3333", "FAIL_TIMEOUT=33", "fail_timeout=99", NULL};
    char *flags[] = {"--server-port", "4444"};
    struct config_sources src = {.yaml_path = yaml, .env_file = env, .environ = environ_list,
                                 .flag_count = 2, .flags = flags};
    struct config cfg;
    config_init(&cfg);
    char err[256] = "";
    assert_int_equal(config_load(&cfg, &src, err, sizeof err), 0);
    assert_int_equal(cfg.server_port, 4444);
    assert_int_equal(cfg.fail_timeout_ms, 33000);
    assert_int_equal(cfg.ping_interval_ms, 22000);
    assert_string_equal(cfg.admin_user, "yaml");
    assert_int_equal(cfg.telegram_api_url[0], 'h');
    config_free(&cfg);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bad_values_name_setting_value_and_expectation),
        cmocka_unit_test(test_secrets_are_not_echoed),
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_env_text_like_the_reference),
        cmocka_unit_test(test_env_text_errors_name_the_line),
        cmocka_unit_test(test_yaml),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_flag_errors),
        cmocka_unit_test(test_require),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
