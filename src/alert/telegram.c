/* telegram.c — the Telegram Bot API channel (sendMessage, and editMessageText for corrections,
 * through the loop's HTTP client, each answer sorted into sent / retry / rejected by
 * telegram_classify; a delivered message's message_id is its ref) and the
 * `faultline telegram chat-id` helper that lists the chats the bot has seen (getUpdates).
 * The bot token is part of every URL, so URLs and error texts are redacted before anyone sees
 * them: "…/bot<redacted>/sendMessage". */
#include "alert/telegram.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/log.h"

#define TELEGRAM_TIMEOUT_MS 15000
#define TELEGRAM_BODY_MAX (1 << 20)
#define TELEGRAM_DEFAULT_API "https://api.telegram.org"
#define TELEGRAM_RETRY_AFTER_MAX_S 86400

/* ---- classification ---------------------------------------------------------------------- */

static json_t *parse_object(const char *body, size_t len)
{
    if (!body || len == 0)
        return NULL;
    json_t *root = json_loadb(body, len, 0, NULL);
    if (root && !json_is_object(root)) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* "HTTP 400: Bad Request: chat not found (bad chat id: check CHAT_ID)" */
static void set_outcome(struct alert_outcome *out, enum alert_result result, long status,
                        const char *desc, const char *hint)
{
    out->result = result;
    int n = snprintf(out->error, sizeof out->error, "HTTP %ld", status);
    size_t used = n > 0 ? (size_t)n : 0;
    if (desc && *desc && used < sizeof out->error)
        used += (size_t)snprintf(out->error + used, sizeof out->error - used, ": %s", desc);
    if (hint && used < sizeof out->error)
        snprintf(out->error + used, sizeof out->error - used, " (%s)", hint);
}

static void classify_success(json_t *root, long status, const char *desc, struct alert_outcome *out)
{
    json_t *ok = root ? json_object_get(root, "ok") : NULL;
    json_t *id = json_object_get(json_object_get(root, "result"), "message_id");
    if (json_is_true(ok)) {
        out->result = ALERT_SENT;
        if (json_is_integer(id))
            snprintf(out->ref, sizeof out->ref, "%lld", (long long)json_integer_value(id));
    } else if (!ok)
        set_outcome(out, ALERT_RETRY, status, NULL, "unreadable answer");
    else
        set_outcome(out, ALERT_RETRY, status, desc, "answer not ok");
}

static void classify_flood(json_t *root, const char *desc, struct alert_outcome *out)
{
    json_t *params = root ? json_object_get(root, "parameters") : NULL;
    double secs = json_number_value(json_object_get(params, "retry_after"));
    if (secs > TELEGRAM_RETRY_AFTER_MAX_S)
        secs = TELEGRAM_RETRY_AFTER_MAX_S;
    if (secs > 0)
        out->retry_after_ms = (int64_t)(secs * 1000.0);
    set_outcome(out, ALERT_RETRY, 429, desc, NULL);
}

/* 400 and 403 say something about the chat (or, for 400, the message itself). */
static void classify_refusal(json_t *root, long status, const char *desc, struct alert_outcome *out)
{
    json_t *params = root ? json_object_get(root, "parameters") : NULL;
    json_t *moved = json_object_get(params, "migrate_to_chat_id");
    if (json_is_integer(moved)) {
        char hint[96];
        snprintf(hint, sizeof hint, "the group became a supergroup: set CHAT_ID=%lld",
                 (long long)json_integer_value(moved));
        set_outcome(out, ALERT_REJECTED, status, desc, hint);
    } else if (desc && strstr(desc, "message is not modified")) {
        out->result = ALERT_SENT; /* an edit to the text it already has */
    } else if (status == 403) {
        set_outcome(out, ALERT_REJECTED, status, desc,
                    "the bot cannot post there: add it to the chat or check CHAT_ID");
    } else if (desc && strstr(desc, "chat")) {
        set_outcome(out, ALERT_REJECTED, status, desc, "bad chat id: check CHAT_ID");
    } else {
        set_outcome(out, ALERT_REJECTED, status, desc, "message refused");
    }
}

void telegram_classify(long status, const char *transport_error, const char *body, size_t body_len,
                       struct alert_outcome *out)
{
    memset(out, 0, sizeof *out);
    if (transport_error || status == 0) {
        out->result = ALERT_RETRY;
        snprintf(out->error, sizeof out->error, "%s",
                 transport_error ? transport_error : "no answer");
        return;
    }
    json_t *root = parse_object(body, body_len);
    const char *desc = root ? json_string_value(json_object_get(root, "description")) : NULL;
    if (status >= 200 && status < 300)
        classify_success(root, status, desc, out);
    else if (status == 429)
        classify_flood(root, desc, out);
    else if (status >= 500)
        set_outcome(out, ALERT_RETRY, status, desc, NULL);
    else if (status == 401)
        set_outcome(out, ALERT_REJECTED, status, desc, "bad bot token: check TELEGRAM_TOKEN");
    else if (status == 404)
        set_outcome(out, ALERT_REJECTED, status, desc,
                    "bad bot token or API URL: check TELEGRAM_TOKEN and TELEGRAM_API_URL");
    else if (status == 400 || status == 403)
        classify_refusal(root, status, desc, out);
    else if (status == 408 || status == 425 || status < 400)
        set_outcome(out, ALERT_RETRY, status, desc, NULL);
    else
        set_outcome(out, ALERT_REJECTED, status, desc, NULL);
    json_decref(root);
}

/* ---- message body and redaction ---------------------------------------------------------- */

static json_t *chat_id_value(const char *chat_id)
{
    const char *p = chat_id[0] == '-' ? chat_id + 1 : chat_id;
    if (*p) {
        char *end;
        errno = 0;
        long long id = strtoll(chat_id, &end, 10);
        if (*end == '\0' && errno == 0)
            return json_integer(id);
    }
    return json_string(chat_id);
}

/* jansson refuses invalid UTF-8; rather than lose an alert, send '?' for the bad bytes. */
static json_t *text_value(const char *text)
{
    json_t *v = json_string(text);
    if (v)
        return v;
    char *copy = strdup(text);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    v = json_string(copy);
    free(copy);
    return v;
}

char *telegram_message_json(const char *chat_id, const char *ref, const char *text)
{
    json_t *msg = json_object();
    if (!msg)
        return NULL;
    json_object_set_new(msg, "chat_id", chat_id_value(chat_id ? chat_id : ""));
    size_t members = 3;
    if (ref) {
        char *end;
        errno = 0;
        long long id = strtoll(ref, &end, 10);
        json_object_set_new(msg, "message_id",
                            *ref && !*end && errno == 0 && id > 0 ? json_integer(id) : NULL);
        members++;
    }
    json_object_set_new(msg, "text", text_value(text ? text : ""));
    json_object_set_new(msg, "disable_web_page_preview", json_true());
    char *out = json_object_size(msg) == members ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    return out;
}

void telegram_redact(const char *text, const char *token, char *out, size_t outlen)
{
    static const char mask[] = "<redacted>";
    if (outlen == 0)
        return;
    size_t tlen = token ? strlen(token) : 0;
    size_t used = 0;
    while (*text && used + 1 < outlen) {
        if (tlen && strncmp(text, token, tlen) == 0) {
            size_t n = strlen(mask) < outlen - 1 - used ? strlen(mask) : outlen - 1 - used;
            memcpy(out + used, mask, n);
            used += n;
            text += tlen;
        } else {
            out[used++] = *text++;
        }
    }
    out[used] = '\0';
}

/* ---- the channel ------------------------------------------------------------------------- */

/* Channel state. Owns its strings; http and the config belong to the caller (the outbox). */
struct telegram {
    struct httpc *http;
    char *token;
    char *chat_id;
    char *send_url; /* contains the token: never log it unredacted */
    char *edit_url; /* the same */
    char *destination; /* the pacing key: send_url and chat_id (so it holds the token too) */
};

/* One attempt. It holds its own copy of the token so that its callback, which httpc may run
 * after the channel is closed (httpc_close cancels), never reads the channel state. */
struct telegram_attempt {
    alert_sent_cb done;
    void *ctx;
    char *token;
};

static bool is_set(const char *s)
{
    return s && *s;
}

static void telegram_close(void *state)
{
    struct telegram *tg = state;
    if (!tg)
        return;
    free(tg->token);
    free(tg->chat_id);
    free(tg->send_url);
    free(tg->edit_url);
    free(tg->destination);
    free(tg);
}

static char *join_url(const char *base, const char *token, const char *method)
{
    size_t n = strlen(base) + strlen(token) + strlen(method) + 6;
    char *url = malloc(n);
    if (url)
        snprintf(url, n, "%s/bot%s/%s", base, token, method);
    return url;
}

/* An integer of at most 20 digits, optionally negative, or @channel. */
static bool chat_id_valid(const char *v)
{
    if (v[0] == '@')
        return v[1] != '\0' && strlen(v) <= 64;
    const char *p = v[0] == '-' ? v + 1 : v;
    if (!*p || strlen(p) > 20)
        return false;
    return strspn(p, "0123456789") == strlen(p);
}

static void *telegram_open(const struct alert_channel_config *cfg,
                           const struct alert_channel_env *env, char *err, size_t errlen)
{
    const char *token = alert_channel_text(cfg, "token");
    const char *chat = alert_channel_text(cfg, "chat_id");
    const char *url = alert_channel_text(cfg, "url");
    if (!is_set(token) || strpbrk(token, "/?# ")) {
        snprintf(err, errlen, "token: expected a bot token from BotFather");
        return NULL;
    }
    if (!chat || !chat_id_valid(chat)) {
        snprintf(err, errlen, "chat_id: expected a numeric chat id (e.g. -123456789) or "
                              "@channel, got \"%.40s\"", chat ? chat : "");
        return NULL;
    }
    if (url && !config_check_url(url)) {
        snprintf(err, errlen, "url: expected %s, got \"%.80s\"", CONFIG_EXPECT_URL, url);
        return NULL;
    }
    struct telegram *tg = calloc(1, sizeof *tg);
    char base[1100];
    snprintf(base, sizeof base, "%s", is_set(url) ? url : TELEGRAM_DEFAULT_API);
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        base[--blen] = '\0';
    if (tg) {
        tg->http = env->http;
        tg->token = strdup(token);
        tg->chat_id = strdup(chat);
        tg->send_url = join_url(base, token, "sendMessage");
        tg->edit_url = join_url(base, token, "editMessageText");
        tg->destination = join_url(base, token, chat);
    }
    if (!tg || !tg->token || !tg->chat_id || !tg->send_url || !tg->edit_url || !tg->destination) {
        telegram_close(tg);
        snprintf(err, errlen, "telegram: out of memory");
        return NULL;
    }
    return tg;
}

static void telegram_attempt_done(const struct httpc_response *res, void *ctx)
{
    struct telegram_attempt *at = ctx;
    struct alert_outcome outcome;
    telegram_classify(res->status, res->error, res->body, res->body_len, &outcome);
    char clean[sizeof outcome.error];
    telegram_redact(outcome.error, at->token, clean, sizeof clean);
    memcpy(outcome.error, clean, sizeof clean);
    at->done(&outcome, at->ctx);
    free(at->token);
    free(at);
}

/* POSTs body (owned) to url; done runs once with the outcome. */
static void telegram_post(struct telegram *tg, const char *url, char *body, alert_sent_cb done,
                          void *ctx)
{
    static const char *const headers[] = {"Content-Type: application/json", NULL};
    struct telegram_attempt *at = calloc(1, sizeof *at);
    if (at) {
        at->done = done;
        at->ctx = ctx;
        at->token = strdup(tg->token);
    }
    struct httpc_request req = {.method = "POST",
                                .url = url,
                                .headers = headers,
                                .body = body,
                                .body_len = body ? strlen(body) : 0,
                                .timeout_ms = TELEGRAM_TIMEOUT_MS};
    if (!body || !at || !at->token || httpc_start(tg->http, &req, telegram_attempt_done, at)) {
        struct alert_outcome outcome = {.result = ALERT_RETRY, .error = "out of memory"};
        if (at)
            free(at->token);
        free(at);
        free(body);
        done(&outcome, ctx);
        return;
    }
    char shown[512];
    telegram_redact(url, tg->token, shown, sizeof shown);
    log_debug("telegram: POST %s", shown);
    free(body);
}

static void telegram_send(void *state, const struct alert_delivery *msg, alert_sent_cb done,
                          void *ctx)
{
    struct telegram *tg = state;
    telegram_post(tg, tg->send_url, telegram_message_json(tg->chat_id, NULL, msg->text), done,
                  ctx);
}

/* editMessageText answers with the message, whose message_id is ref again. */
static void telegram_edit(void *state, const char *ref, const char *text, alert_sent_cb done,
                          void *ctx)
{
    struct telegram *tg = state;
    telegram_post(tg, tg->edit_url, telegram_message_json(tg->chat_id, ref, text), done, ctx);
}

/* Telegram allows a bot about one message a second in a chat, and 20 a minute in a group (a
 * negative chat id): one bucket per API, bot and chat. */
static const char *telegram_destination(void *state, int64_t *gap_ms)
{
    const struct telegram *tg = state;
    *gap_ms = tg->chat_id[0] == '-' ? 3000 : 1000;
    return tg->destination;
}

static const struct alert_field_spec telegram_fields[] = {
    {"token", ALERT_FIELD_REQUIRED | ALERT_FIELD_SECRET},
    {"chat_id", ALERT_FIELD_REQUIRED},
    {"url", 0},
};

const struct alert_channel_type alert_channel_telegram = {
    .name = "telegram",
    .fields = telegram_fields,
    .n_fields = sizeof telegram_fields / sizeof telegram_fields[0],
    .open = telegram_open,
    .send = telegram_send,
    .edit = telegram_edit,
    .destination = telegram_destination,
    .digest = true,
    .close = telegram_close,
};

/* ---- `faultline telegram chat-id` -------------------------------------------------------- */

static void chat_display_name(json_t *chat, char *buf, size_t buflen)
{
    const char *title = json_string_value(json_object_get(chat, "title"));
    const char *first = json_string_value(json_object_get(chat, "first_name"));
    const char *last = json_string_value(json_object_get(chat, "last_name"));
    const char *user = json_string_value(json_object_get(chat, "username"));
    if (title)
        snprintf(buf, buflen, "%s", title);
    else if (first && user)
        snprintf(buf, buflen, "%s%s%s (@%s)", first, last ? " " : "", last ? last : "", user);
    else if (first)
        snprintf(buf, buflen, "%s%s%s", first, last ? " " : "", last ? last : "");
    else if (user)
        snprintf(buf, buflen, "@%s", user);
    else
        snprintf(buf, buflen, "-");
}

static bool chats_contain(json_t *chats, json_int_t id)
{
    size_t i;
    json_t *c;
    json_array_foreach(chats, i, c)
    {
        if (json_integer_value(json_object_get(c, "id")) == id)
            return true;
    }
    return false;
}

/* An update carries its chat in message.chat, channel_post.chat, my_chat_member.chat, ... or,
 * for callback queries, one level deeper (callback_query.message.chat). */
static void collect_chats(json_t *update, json_t *chats)
{
    const char *key;
    json_t *part;
    json_object_foreach(update, key, part)
    {
        json_t *chat = json_object_get(part, "chat");
        if (!chat)
            chat = json_object_get(json_object_get(part, "message"), "chat");
        json_t *id = json_object_get(chat, "id");
        if (json_is_integer(id) && !chats_contain(chats, json_integer_value(id)))
            json_array_append(chats, chat);
    }
}

static void print_chat_lines(json_t *chats, FILE *out)
{
    int id_w = 0, type_w = 0;
    size_t i;
    json_t *c;
    json_array_foreach(chats, i, c)
    {
        char id[32];
        int n = snprintf(id, sizeof id, "%lld",
                         (long long)json_integer_value(json_object_get(c, "id")));
        const char *type = json_string_value(json_object_get(c, "type"));
        int tn = type ? (int)strlen(type) : 1;
        id_w = n > id_w ? n : id_w;
        type_w = tn > type_w ? tn : type_w;
    }
    json_array_foreach(chats, i, c)
    {
        char name[256];
        const char *type = json_string_value(json_object_get(c, "type"));
        chat_display_name(c, name, sizeof name);
        fprintf(out, "%-*lld  %-*s  %s\n", id_w,
                (long long)json_integer_value(json_object_get(c, "id")), type_w, type ? type : "-",
                name);
    }
}

static void print_chat_json(json_t *chats, FILE *out)
{
    json_t *list = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(chats, i, c)
    {
        char name[256];
        chat_display_name(c, name, sizeof name);
        const char *type = json_string_value(json_object_get(c, "type"));
        json_t *row =
            json_pack("{s:I, s:s, s:s}", "id", json_integer_value(json_object_get(c, "id")), "type",
                      type ? type : "", "name", name);
        if (row)
            json_array_append_new(list, row);
    }
    json_dumpf(list, out, JSON_INDENT(2));
    fputc('\n', out);
    json_decref(list);
}

int telegram_list_chats(const char *updates, size_t len, bool as_json, FILE *out, char *err,
                        size_t errlen)
{
    json_t *root = parse_object(updates, len);
    json_t *result = root ? json_object_get(root, "result") : NULL;
    if (!json_is_true(json_object_get(root, "ok")) || !json_is_array(result)) {
        snprintf(err, errlen,
                 "unexpected answer from getUpdates (not {\"ok\":true,\"result\":[...]})");
        json_decref(root);
        return -1;
    }
    json_t *chats = json_array();
    size_t i;
    json_t *update;
    json_array_foreach(result, i, update)
    {
        collect_chats(update, chats);
    }
    int count = (int)json_array_size(chats);
    if (as_json)
        print_chat_json(chats, out);
    else
        print_chat_lines(chats, out);
    json_decref(chats);
    json_decref(root);
    return count;
}

struct fetch_buffer {
    char *data;
    size_t len;
};

static size_t fetch_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct fetch_buffer *buf = userdata;
    size_t n = size * nmemb;
    if (buf->len + n > TELEGRAM_BODY_MAX)
        return 0;
    char *grown = realloc(buf->data, buf->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + buf->len, ptr, n);
    buf->data = grown;
    buf->len += n;
    buf->data[buf->len] = '\0';
    return n;
}

/* Blocking GET (a CLI has no loop to keep alive). Returns 0 with the answer in *buf (caller
 * frees data) and *status, or -1 with the transport error in err. */
static int fetch_url(const char *url, struct fetch_buffer *buf, long *status, char *err,
                     size_t errlen)
{
    char curl_err[CURL_ERROR_SIZE] = "";
    CURL *curl = curl_easy_init();
    if (!curl) {
        snprintf(err, errlen, "cannot start libcurl");
        return -1;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, fetch_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, buf);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)TELEGRAM_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "faultline/" FAULTLINE_VERSION);
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

static const char *const telegram_cli_options[] = {"TELEGRAM_TOKEN", "TELEGRAM_API_URL",
                                                   "LOG_LEVEL"};

static const struct cli_spec telegram_cli = {
    .command = "telegram",
    .usage = "telegram chat-id [--json] [options]",
    .description =
        "Telegram helpers.\n\n"
        "  chat-id   lists the chats your bot has seen (id, type, name), to find the CHAT_ID\n"
        "            to set. Add the bot to your group and send /start there first.\n"
        "            --json prints a JSON array of {id, type, name}.\n\n"
        "Exit status: 0 ok, 1 the Bot API could not be reached or refused, 2 usage.",
    .options = telegram_cli_options,
    .option_count = 3,
    .max_positional = 1,
    .json = true,
};

static int telegram_chat_id(const struct config *cfg, const struct alert_settings *settings,
                            bool as_json)
{
    char err[512], shown[1024];
    if (config_require(cfg, "TELEGRAM_TOKEN", err, sizeof err) != 0)
        return cli_fail(&telegram_cli, err);
    const char *base =
        is_set(settings->telegram_api_url) ? settings->telegram_api_url : TELEGRAM_DEFAULT_API;
    char *url = join_url(base, settings->telegram_token, "getUpdates");
    struct fetch_buffer buf = {0};
    long status = 0;
    int rc = url ? fetch_url(url, &buf, &status, err, sizeof err) : -1;
    if (rc != 0) {
        telegram_redact(url ? url : base, settings->telegram_token, shown, sizeof shown);
        fprintf(stderr, "faultline telegram: cannot reach %s: %s\n", shown,
                url ? err : "out of memory");
        free(url);
        return 1;
    }
    free(url);
    struct alert_outcome outcome;
    telegram_classify(status, NULL, buf.data, buf.len, &outcome);
    int count = -1;
    if (outcome.result != ALERT_SENT)
        snprintf(err, sizeof err, "getUpdates failed: %s", outcome.error);
    else
        count = telegram_list_chats(buf.data, buf.len, as_json, stdout, err, sizeof err);
    free(buf.data);
    if (count < 0) {
        telegram_redact(err, settings->telegram_token, shown, sizeof shown);
        fprintf(stderr, "faultline telegram: %s\n", shown);
        return 1;
    }
    if (count == 0)
        fprintf(as_json ? stderr : stdout, "No chats yet: add the bot to your group and send "
                                           "/start, then run this again.\n");
    return 0;
}

int telegram_main(int argc, char **argv)
{
    struct config cfg;
    struct alert_settings settings;
    char *verb[1];
    struct cli_args args = {.positional = verb};
    config_init(&cfg);
    config_attach(&cfg, &alert_settings_table, &settings);
    int rc;
    enum cli_result parsed = cli_parse(&telegram_cli, argc, argv, &cfg, &args);
    if (parsed != CLI_RUN) {
        rc = parsed == CLI_EXIT_OK ? 0 : 2;
    } else if (args.positional_count == 1 && strcmp(verb[0], "chat-id") == 0) {
        rc = telegram_chat_id(&cfg, &settings, args.json);
    } else {
        char msg[160];
        if (args.positional_count == 0)
            snprintf(msg, sizeof msg, "expected a command: chat-id");
        else
            snprintf(msg, sizeof msg, "unknown command \"%.60s\" (expected chat-id)", verb[0]);
        rc = cli_fail(&telegram_cli, msg);
        fprintf(stderr, "usage: faultline %s\n", telegram_cli.usage);
    }
    config_free(&cfg);
    return rc;
}
