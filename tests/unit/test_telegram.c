/* test_telegram.c — the Telegram channel's pure parts, table-driven: how each Bot API answer is
 * classified, the sendMessage body, token redaction and the chat-id listing; plus the
 * `faultline telegram` exit statuses that need no network (usage, missing token, unreachable
 * API on a closed loopback port). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alert/telegram.h"

struct classify_case {
    long status;
    const char *transport_error;
    const char *body;
    enum alert_result result;
    int64_t retry_after_ms;
    const char *error; /* expected text, or NULL for "" */
};

static const struct classify_case classify_cases[] = {
    {200, NULL, "{\"ok\":true,\"result\":{\"message_id\":7}}", ALERT_SENT, 0, NULL},
    {200, NULL, "not json", ALERT_RETRY, 0, "HTTP 200 (unreadable answer)"},
    {200, NULL, "", ALERT_RETRY, 0, "HTTP 200 (unreadable answer)"},
    {200, NULL, "[1,2]", ALERT_RETRY, 0, "HTTP 200 (unreadable answer)"},
    {200, NULL, "{\"ok\":false,\"description\":\"odd\"}", ALERT_RETRY, 0,
     "HTTP 200: odd (answer not ok)"},
    {0, "Couldn't connect to server", NULL, ALERT_RETRY, 0, "Couldn't connect to server"},
    {0, NULL, NULL, ALERT_RETRY, 0, "no answer"},
    {0, "cancelled", NULL, ALERT_RETRY, 0, "cancelled"},
    {429, NULL,
     "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 5\","
     "\"parameters\":{\"retry_after\":5}}",
     ALERT_RETRY, 5000, "HTTP 429: Too Many Requests: retry after 5"},
    {429, NULL, "rate limited", ALERT_RETRY, 0, "HTTP 429"},
    {502, NULL, "<html>Bad Gateway</html>", ALERT_RETRY, 0, "HTTP 502"},
    {500, NULL, "{\"ok\":false,\"error_code\":500,\"description\":\"Internal Server Error\"}",
     ALERT_RETRY, 0, "HTTP 500: Internal Server Error"},
    {401, NULL, "{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized\"}",
     ALERT_REJECTED, 0, "HTTP 401: Unauthorized (bad bot token: check TELEGRAM_TOKEN)"},
    {404, NULL, "{\"ok\":false,\"error_code\":404,\"description\":\"Not Found\"}", ALERT_REJECTED,
     0,
     "HTTP 404: Not Found (bad bot token or API URL: check TELEGRAM_TOKEN and "
     "TELEGRAM_API_URL)"},
    {400, NULL, "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}",
     ALERT_REJECTED, 0, "HTTP 400: Bad Request: chat not found (bad chat id: check CHAT_ID)"},
    {400, NULL,
     "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: group chat was upgraded "
     "to a supergroup chat\",\"parameters\":{\"migrate_to_chat_id\":-1001234567890}}",
     ALERT_REJECTED, 0,
     "HTTP 400: Bad Request: group chat was upgraded to a supergroup chat (the group became a "
     "supergroup: set CHAT_ID=-1001234567890)"},
    {400, NULL,
     "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: message is too long\"}",
     ALERT_REJECTED, 0, "HTTP 400: Bad Request: message is too long (message refused)"},
    {403, NULL,
     "{\"ok\":false,\"error_code\":403,\"description\":\"Forbidden: bot was kicked from the "
     "group chat\"}",
     ALERT_REJECTED, 0,
     "HTTP 403: Forbidden: bot was kicked from the group chat (the bot cannot post there: add "
     "it to the chat or check CHAT_ID)"},
    {408, NULL, "", ALERT_RETRY, 0, "HTTP 408"},
    {302, NULL, "", ALERT_RETRY, 0, "HTTP 302"},
    {413, NULL, "", ALERT_REJECTED, 0, "HTTP 413"},
};

static void test_classify(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof classify_cases / sizeof classify_cases[0]; i++) {
        const struct classify_case *c = &classify_cases[i];
        struct alert_outcome out;
        telegram_classify(c->status, c->transport_error, c->body, c->body ? strlen(c->body) : 0,
                          &out);
        const char *want = c->error ? c->error : "";
        if (out.result != c->result || out.retry_after_ms != c->retry_after_ms ||
            strcmp(out.error, want) != 0)
            fail_msg("case %zu (HTTP %ld): got result %d, retry %lld, \"%s\"; want %d, %lld, "
                     "\"%s\"",
                     i, c->status, out.result, (long long)out.retry_after_ms, out.error, c->result,
                     (long long)c->retry_after_ms, want);
    }
}

/* A huge description is cut to fit, never overflows. */
static void test_classify_long_description(void **state)
{
    (void)state;
    char body[2048];
    char desc[1500];
    memset(desc, 'd', sizeof desc - 1);
    desc[sizeof desc - 1] = '\0';
    snprintf(body, sizeof body, "{\"ok\":false,\"description\":\"%s\"}", desc);
    struct alert_outcome out;
    telegram_classify(400, NULL, body, strlen(body), &out);
    assert_int_equal(out.result, ALERT_REJECTED);
    assert_true(strlen(out.error) < sizeof out.error);
    assert_int_equal(strncmp(out.error, "HTTP 400: ddd", 13), 0);
}

struct body_case {
    const char *chat_id;
    const char *text;
    const char *expected;
};

static const struct body_case body_cases[] = {
    {"-1001234567", "🔴 a is DOWN\nline \"2\"",
     "{\"chat_id\":-1001234567,\"text\":\"🔴 a is DOWN\\nline \\\"2\\\"\","
     "\"disable_web_page_preview\":true}"},
    {"12345", "hi", "{\"chat_id\":12345,\"text\":\"hi\",\"disable_web_page_preview\":true}"},
    {"@ops_alerts", "hi",
     "{\"chat_id\":\"@ops_alerts\",\"text\":\"hi\",\"disable_web_page_preview\":true}"},
    {"99999999999999999999999", "big",
     "{\"chat_id\":\"99999999999999999999999\",\"text\":\"big\",\"disable_web_page_preview\":"
     "true}"},
    {"-5", "bad \xff utf8",
     "{\"chat_id\":-5,\"text\":\"bad ? utf8\",\"disable_web_page_preview\":true}"},
};

static void test_message_json(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof body_cases / sizeof body_cases[0]; i++) {
        char *json = telegram_message_json(body_cases[i].chat_id, NULL, body_cases[i].text);
        assert_non_null(json);
        assert_string_equal(json, body_cases[i].expected);
        free(json);
    }
}

/* A correction edits the message it replaces: editMessageText's body names it by message_id,
 * sendMessage's answer gives that id (the ref), and an edit to the same text counts as sent. */
static void test_edit(void **state)
{
    (void)state;
    char *json = telegram_message_json("-100123", "42", "new text");
    assert_string_equal(json, "{\"chat_id\":-100123,\"message_id\":42,\"text\":\"new text\","
                              "\"disable_web_page_preview\":true}");
    free(json);
    assert_null(telegram_message_json("-100123", "x42", "new text"));
    assert_null(telegram_message_json("-100123", "", "new text"));

    struct alert_outcome out;
    const char *sent = "{\"ok\":true,\"result\":{\"message_id\":7,\"text\":\"hi\"}}";
    telegram_classify(200, NULL, sent, strlen(sent), &out);
    assert_int_equal(out.result, ALERT_SENT);
    assert_string_equal(out.ref, "7");
    const char *no_id = "{\"ok\":true,\"result\":true}";
    telegram_classify(200, NULL, no_id, strlen(no_id), &out);
    assert_int_equal(out.result, ALERT_SENT);
    assert_string_equal(out.ref, "");
    const char *same = "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: message is "
                       "not modified: specified new message content and reply markup are exactly "
                       "the same as a current content and reply markup of the message\"}";
    telegram_classify(400, NULL, same, strlen(same), &out);
    assert_int_equal(out.result, ALERT_SENT);
    const char *gone = "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: message "
                       "to edit not found\"}";
    telegram_classify(400, NULL, gone, strlen(gone), &out);
    assert_int_equal(out.result, ALERT_REJECTED);
    assert_non_null(alert_channel_telegram.edit);
}

struct redact_case {
    const char *text;
    const char *token;
    size_t outlen;
    const char *expected;
};

static const struct redact_case redact_cases[] = {
    {"https://api.telegram.org/bot123:ABC/sendMessage", "123:ABC", 256,
     "https://api.telegram.org/bot<redacted>/sendMessage"},
    {"123:ABC and 123:ABC", "123:ABC", 256, "<redacted> and <redacted>"},
    {"nothing here", "123:ABC", 256, "nothing here"},
    {"no token set", NULL, 256, "no token set"},
    {"bot123:ABC/x", "123:ABC", 8, "bot<red"},
    {"abc", "", 256, "abc"},
};

static void test_redact(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof redact_cases / sizeof redact_cases[0]; i++) {
        char out[256];
        telegram_redact(redact_cases[i].text, redact_cases[i].token, out, redact_cases[i].outlen);
        assert_string_equal(out, redact_cases[i].expected);
    }
}

struct chats_case {
    const char *updates;
    bool as_json;
    int count;
    const char *expected; /* output, or NULL when an error is expected */
};

static const struct chats_case chats_cases[] = {
    {"{\"ok\":true,\"result\":[{\"update_id\":1,\"message\":{\"message_id\":1,\"chat\":{\"id\":"
     "-1001234567,\"type\":\"supergroup\",\"title\":\"Ops alerts\"},\"text\":\"/start\"}}]}",
     false, 1, "-1001234567  supergroup  Ops alerts\n"},
    {"{\"ok\":true,\"result\":[]}", false, 0, ""},
    {"{\"ok\":true,\"result\":["
     "{\"update_id\":1,\"my_chat_member\":{\"chat\":{\"id\":-42,\"type\":\"group\","
     "\"title\":\"Night shift\"}}},"
     "{\"update_id\":2,\"message\":{\"chat\":{\"id\":-42,\"type\":\"group\","
     "\"title\":\"Night shift\"}}},"
     "{\"update_id\":3,\"message\":{\"chat\":{\"id\":7001,\"type\":\"private\","
     "\"first_name\":\"Ada\",\"last_name\":\"L\",\"username\":\"ada\"}}},"
     "{\"update_id\":4,\"channel_post\":{\"chat\":{\"id\":-1009,\"type\":\"channel\","
     "\"username\":\"status_feed\"}}},"
     "{\"update_id\":5,\"callback_query\":{\"id\":\"q\",\"message\":{\"chat\":{\"id\":7002,"
     "\"type\":\"private\",\"first_name\":\"Bob\"}}}}]}",
     false, 4,
     "-42    group    Night shift\n"
     "7001   private  Ada L (@ada)\n"
     "-1009  channel  @status_feed\n"
     "7002   private  Bob\n"},
    {"{\"ok\":true,\"result\":[{\"update_id\":1,\"message\":{\"chat\":{\"id\":-5,\"type\":"
     "\"group\",\"title\":\"Ops\"}}}]}",
     true, 1, "[\n  {\n    \"id\": -5,\n    \"type\": \"group\",\n    \"name\": \"Ops\"\n  }\n]\n"},
    {"{\"ok\":true,\"result\":[]}", true, 0, "[]\n"},
    {"{\"ok\":false,\"description\":\"Unauthorized\"}", false, -1, NULL},
    {"garbage", false, -1, NULL},
};

static void test_list_chats(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof chats_cases / sizeof chats_cases[0]; i++) {
        const struct chats_case *c = &chats_cases[i];
        char *text = NULL;
        size_t len = 0;
        char err[256] = "";
        FILE *out = open_memstream(&text, &len);
        assert_non_null(out);
        int n =
            telegram_list_chats(c->updates, strlen(c->updates), c->as_json, out, err, sizeof err);
        fclose(out);
        assert_int_equal(n, c->count);
        if (c->expected)
            assert_string_equal(text, c->expected);
        else
            assert_true(err[0] != '\0');
        free(text);
    }
}

/* Runs `faultline telegram ARGS...` with a clean environment in an empty directory (no .env). */
static int run_cli(const char *token, const char *api_url, int argc, char **argv)
{
    unsetenv("TELEGRAM_TOKEN");
    unsetenv("TELEGRAM_API_URL");
    if (token)
        setenv("TELEGRAM_TOKEN", token, 1);
    if (api_url)
        setenv("TELEGRAM_API_URL", api_url, 1);
    return telegram_main(argc, argv);
}

static void test_cli_exit_statuses(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_telegram_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);

    char *none[] = {"telegram", NULL};
    char *help[] = {"telegram", "--help", NULL};
    char *unknown[] = {"telegram", "chat-ids", NULL};
    char *chat_id[] = {"telegram", "chat-id", NULL};
    char *chat_id_json[] = {"telegram", "chat-id", "--json", NULL};
    char *too_many[] = {"telegram", "chat-id", "extra", NULL};
    assert_int_equal(run_cli(NULL, NULL, 1, none), 2);
    assert_int_equal(run_cli(NULL, NULL, 2, help), 0);
    assert_int_equal(run_cli(NULL, NULL, 2, unknown), 2);
    assert_int_equal(run_cli(NULL, NULL, 2, chat_id), 2);
    assert_int_equal(run_cli(NULL, NULL, 3, too_many), 2);
    /* Port 9 on loopback: nothing listens there, so the connection is refused at once. */
    assert_int_equal(run_cli("123:ABC", "http://127.0.0.1:9", 2, chat_id), 1);
    assert_int_equal(run_cli("123:ABC", "http://127.0.0.1:9", 3, chat_id_json), 1);

    unsetenv("TELEGRAM_TOKEN");
    unsetenv("TELEGRAM_API_URL");
    assert_int_equal(chdir(cwd), 0);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_classify_long_description),
        cmocka_unit_test(test_message_json),
        cmocka_unit_test(test_edit),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_list_chats),
        cmocka_unit_test(test_cli_exit_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
