/* test_outbox.c — the outbox against a real store (SQLite in a temp dir) and a fake Telegram Bot
 * API on 127.0.0.1 (a thread that answers from a script): retries with backoff, 429
 * retry_after, order behind a failing message, rejection, restart with pending messages, close
 * with a send in flight, and channels that are not configured. Loopback only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "alert/outbox.h"
#include "base/clock.h"
#include "base/config.h"

#define TOKEN "123:ABC"
#define MAX_REQUESTS 16
#define OK_BODY "{\"ok\":true,\"result\":{\"message_id\":1}}"

/* ---- fake Bot API ------------------------------------------------------------------------ */

struct fake_reply {
    int status;
    const char *body;
    int delay_ms;
};

struct fake_request {
    char line[256]; /* "POST /bot123:ABC/sendMessage HTTP/1.1" */
    char body[1024];
    int64_t at_ms; /* monotonic */
};

struct fake_server {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t lock;
    const struct fake_reply *replies; /* the last one repeats */
    size_t n_replies;
    struct fake_request requests[MAX_REQUESTS];
    size_t served;
    volatile bool stop;
};

/* Reads one request (headers and Content-Length body) into req. Returns 0 or -1. */
static int fake_read_request(int fd, struct fake_request *req)
{
    char buf[4096];
    size_t len = 0;
    char *end = NULL;
    while (!end && len < sizeof buf - 1) {
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return -1;
    size_t body_len = 0;
    char *cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl)
        body_len = strtoul(cl + 17, NULL, 10);
    size_t head = (size_t)(end + 4 - buf);
    while (len - head < body_len && len < sizeof buf - 1) {
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
    }
    snprintf(req->line, sizeof req->line, "%.*s", (int)strcspn(buf, "\r\n"), buf);
    snprintf(req->body, sizeof req->body, "%s", buf + head);
    return 0;
}

static void fake_answer(int fd, const struct fake_reply *reply)
{
    if (reply->delay_ms)
        usleep((useconds_t)reply->delay_ms * 1000);
    char out[2048];
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     reply->status, strlen(reply->body), reply->body);
    /* The client may have gone (close test): no SIGPIPE. */
    if (send(fd, out, (size_t)n, MSG_NOSIGNAL) < 0)
        return;
}

static void *fake_serve(void *arg)
{
    struct fake_server *s = arg;
    while (!s->stop) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0)
            continue;
        struct fake_request req = {0};
        if (fake_read_request(fd, &req) == 0) {
            pthread_mutex_lock(&s->lock);
            size_t i = s->served;
            req.at_ms = clock_mono_ms();
            if (i < MAX_REQUESTS)
                s->requests[i] = req;
            s->served++;
            const struct fake_reply *reply = &s->replies[i < s->n_replies ? i : s->n_replies - 1];
            pthread_mutex_unlock(&s->lock);
            fake_answer(fd, reply);
        }
        close(fd);
    }
    return NULL;
}

static void fake_start(struct fake_server *s, const struct fake_reply *replies, size_t n)
{
    memset(s, 0, sizeof *s);
    s->replies = replies;
    s->n_replies = n;
    pthread_mutex_init(&s->lock, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s->fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(s->fd, 8), 0);
    socklen_t alen = sizeof addr;
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&addr, &alen), 0);
    s->port = ntohs(addr.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, fake_serve, s), 0);
}

static size_t fake_served(struct fake_server *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->served;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void fake_stop(struct fake_server *s)
{
    s->stop = true;
    pthread_join(s->thread, NULL);
    close(s->fd);
    pthread_mutex_destroy(&s->lock);
}

/* ---- harness: a loop, a store, a config, an outbox ---------------------------------------- */

struct harness {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps uv_run(UV_RUN_ONCE) from sleeping forever */
    char dir[64];
    struct store *store;
    struct config cfg;
    struct alert_settings alert;
    struct outbox *box;
    size_t enqueued;
};

static void tick(uv_timer_t *t)
{
    (void)t;
}

static void harness_open_store(struct harness *h)
{
    char err[256], uri[128];
    assert_int_equal(store_default_uri(h->dir, uri, sizeof uri), 0);
    assert_int_equal(store_open(&h->loop, uri, &h->store, err, sizeof err), 0);
}

/* Opens everything; port 0 leaves Telegram unconfigured. */
static void harness_start(struct harness *h, int port)
{
    memset(h, 0, sizeof *h);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    uv_timer_init(&h->loop, &h->tick);
    uv_timer_start(&h->tick, tick, 20, 20);
    snprintf(h->dir, sizeof h->dir, "/tmp/test_outbox_XXXXXX");
    assert_non_null(mkdtemp(h->dir));
    harness_open_store(h);
    config_init(&h->cfg);
    config_attach(&h->cfg, &alert_settings_table, &h->alert);
    char err[256];
    if (port) {
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
        assert_int_equal(config_set(&h->cfg, "TELEGRAM_TOKEN", TOKEN, err, sizeof err), 0);
        assert_int_equal(config_set(&h->cfg, "CHAT_ID", "100", err, sizeof err), 0);
        assert_int_equal(config_set(&h->cfg, "TELEGRAM_API_URL", url, err, sizeof err), 0);
    }
    h->box = outbox_new(&h->loop, h->store, &h->alert, err, sizeof err);
    assert_non_null(h->box);
}

/* Runs the loop until cond(h) holds; fails after timeout_ms. */
static void harness_run_until(struct harness *h, bool (*cond)(struct harness *), int timeout_ms)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    while (!cond(h)) {
        if (clock_mono_ms() > deadline)
            fail_msg("timed out after %d ms", timeout_ms);
        uv_run(&h->loop, UV_RUN_ONCE);
    }
}

static void harness_close_outbox(struct harness *h)
{
    outbox_close(h->box);
    h->box = NULL;
}

static void harness_stop(struct harness *h)
{
    outbox_close(h->box);
    store_close(h->store);
    uv_close((uv_handle_t *)&h->tick, NULL);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    config_free(&h->cfg);
}

static void harness_cleanup_dir(struct harness *h)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", h->dir);
    assert_int_equal(system(cmd), 0);
}

/* What the server does when an event is committed: hand its messages to the outbox. */
static void event_committed(int status, const struct event_record *ev,
                            const struct outbox_record *msgs, size_t n, void *ctx)
{
    struct harness *h = ctx;
    assert_int_equal(status, 0);
    (void)ev;
    outbox_enqueue(h->box, msgs, n);
    h->enqueued += n;
}

/* Appends a DOWN event for worker with one Telegram message per text. */
static void append_event(struct harness *h, const char *worker, const char *const *texts, size_t n,
                         int64_t next_attempt_ms, int attempts)
{
    struct event_record ev = {.time_ms = clock_wall_ms(), .kind = EVENT_DOWN};
    snprintf(ev.worker, sizeof ev.worker, "%s", worker);
    struct outbox_record msgs[4] = {0};
    for (size_t i = 0; i < n; i++) {
        snprintf(msgs[i].channel, sizeof msgs[i].channel, "telegram");
        msgs[i].text = texts[i];
        msgs[i].created_ms = ev.time_ms;
        msgs[i].next_attempt_ms = next_attempt_ms;
        msgs[i].attempts = attempts;
    }
    store_append_event(h->store, NULL, &ev, msgs, n, event_committed, h);
}

static size_t want_enqueued;

static bool all_delivered(struct harness *h)
{
    return h->enqueued >= want_enqueued && outbox_pending(h->box) == 0;
}

static bool enqueued_enough(struct harness *h)
{
    return h->enqueued >= want_enqueued;
}

/* ---- reading the database behind the store's back (after store_close) --------------------- */

struct row {
    char status[16];
    int attempts;
    char error[256];
};

static size_t read_rows(const char *dir, struct row *rows, size_t max)
{
    char path[128];
    snprintf(path, sizeof path, "%s/faultline.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT status, attempts, coalesce(last_error, '') "
                                        "FROM outbox ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    size_t n = 0;
    while (n < max && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(rows[n].status, sizeof rows[n].status, "%s", sqlite3_column_text(st, 0));
        rows[n].attempts = sqlite3_column_int(st, 1);
        snprintf(rows[n].error, sizeof rows[n].error, "%s", sqlite3_column_text(st, 2));
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Events of kind for worker; the details of the last one into details. Returns how many. */
static int read_event(const char *dir, const char *kind, const char *worker, char *details,
                      size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/faultline.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT details FROM events WHERE kind = ?1 AND "
                                            "worker = ?2 ORDER BY id",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, worker, -1, SQLITE_STATIC);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(details, len, "%s", sqlite3_column_text(st, 0));
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* ---- tests ------------------------------------------------------------------------------- */

/* 502 twice, then 200: delivered once after 1 s and 2 s of backoff; the second message waits
 * behind the first and goes out after it. */
static void test_retry_then_sent_in_order(void **state)
{
    (void)state;
    static const struct fake_reply replies[] = {
        {502, "<html>Bad Gateway</html>", 0},
        {502, "<html>Bad Gateway</html>", 0},
        {200, OK_BODY, 0},
    };
    struct fake_server srv;
    fake_start(&srv, replies, 3);
    struct harness h;
    harness_start(&h, srv.port);
    const char *texts[] = {"first", "second"};
    want_enqueued = 2;
    append_event(&h, "brickbox-43", texts, 2, 0, 0);
    harness_run_until(&h, all_delivered, 10000);
    harness_stop(&h);
    fake_stop(&srv);

    assert_int_equal(srv.served, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(srv.requests[i].line, "POST /bot" TOKEN "/sendMessage HTTP/1.1");
        const char *want = i < 3 ? "{\"chat_id\":100,\"text\":\"first\","
                                   "\"disable_web_page_preview\":true}"
                                 : "{\"chat_id\":100,\"text\":\"second\","
                                   "\"disable_web_page_preview\":true}";
        assert_string_equal(srv.requests[i].body, want);
    }
    int64_t gap1 = srv.requests[1].at_ms - srv.requests[0].at_ms;
    int64_t gap2 = srv.requests[2].at_ms - srv.requests[1].at_ms;
    assert_true(gap1 >= 950 && gap1 < 2500);
    assert_true(gap2 >= 1950 && gap2 < 4000);

    struct row rows[4];
    assert_int_equal(read_rows(h.dir, rows, 4), 2);
    assert_string_equal(rows[0].status, "sent");
    assert_int_equal(rows[0].attempts, 3); /* two failed attempts and the one that went through */
    assert_string_equal(rows[1].status, "sent");
    harness_cleanup_dir(&h);
}

/* 429 with retry_after 2 waits 2 s, longer than the 1 s backoff. */
static void test_429_waits_retry_after(void **state)
{
    (void)state;
    static const struct fake_reply replies[] = {
        {429,
         "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 2\","
         "\"parameters\":{\"retry_after\":2}}",
         0},
        {200, OK_BODY, 0},
    };
    struct fake_server srv;
    fake_start(&srv, replies, 2);
    struct harness h;
    harness_start(&h, srv.port);
    const char *texts[] = {"flood"};
    want_enqueued = 1;
    append_event(&h, "w", texts, 1, 0, 0);
    harness_run_until(&h, all_delivered, 10000);
    harness_stop(&h);
    fake_stop(&srv);

    assert_int_equal(srv.served, 2);
    int64_t gap = srv.requests[1].at_ms - srv.requests[0].at_ms;
    assert_true(gap >= 1950 && gap < 4000);
    struct row rows[2];
    assert_int_equal(read_rows(h.dir, rows, 2), 1);
    assert_string_equal(rows[0].status, "sent");
    assert_int_equal(rows[0].attempts, 2); /* the 429 and the one that went through */
    harness_cleanup_dir(&h);
}

/* 400 chat not found: the message is marked failed with Telegram's reason (and no token) and
 * the next one goes out. */
static void test_rejected_moves_on(void **state)
{
    (void)state;
    static const struct fake_reply replies[] = {
        {400, "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}",
         0},
        {200, OK_BODY, 0},
    };
    struct fake_server srv;
    fake_start(&srv, replies, 2);
    struct harness h;
    harness_start(&h, srv.port);
    const char *texts[] = {"one", "two"};
    want_enqueued = 2;
    append_event(&h, "w", texts, 2, 0, 0);
    harness_run_until(&h, all_delivered, 10000);
    harness_stop(&h);
    fake_stop(&srv);

    assert_int_equal(srv.served, 2);
    struct row rows[2];
    assert_int_equal(read_rows(h.dir, rows, 2), 2);
    assert_string_equal(rows[0].status, "failed");
    assert_int_equal(rows[0].attempts, 1);
    assert_non_null(strstr(rows[0].error, "chat not found"));
    assert_non_null(strstr(rows[0].error, "CHAT_ID"));
    assert_null(strstr(rows[0].error, TOKEN));
    assert_string_equal(rows[1].status, "sent");
    /* The admin sees it: an alert_failed event that names the channel and the reason. */
    char details[512];
    assert_int_equal(read_event(h.dir, "alert_failed", "telegram", details, sizeof details), 1);
    assert_non_null(strstr(details, "\"channel\":\"telegram\""));
    assert_non_null(strstr(details, "chat not found"));
    assert_null(strstr(details, TOKEN));
    harness_cleanup_dir(&h);
}

/* Six messages at once to one chat: the first goes at once, the other five wait for the pace
 * (1 s in a private chat) and go out together as one digest that holds every text. */
static void test_pace_merges_a_burst_into_a_digest(void **state)
{
    (void)state;
    static const struct fake_reply replies[] = {{200, OK_BODY, 0}};
    struct fake_server srv;
    fake_start(&srv, replies, 1);
    struct harness h;
    harness_start(&h, srv.port);
    const char *texts[] = {"m0", "m1", "m2", "m3"};
    want_enqueued = 4;
    append_event(&h, "w", texts, 4, 0, 0);
    harness_run_until(&h, all_delivered, 10000);
    harness_stop(&h);
    fake_stop(&srv);

    assert_int_equal(srv.served, 2);
    assert_non_null(strstr(srv.requests[0].body, "\"text\":\"m0\""));
    assert_non_null(strstr(srv.requests[1].body, "3 alerts, held back"));
    assert_non_null(strstr(srv.requests[1].body, "\\n\\nm1\\n\\nm2\\n\\nm3\""));
    int64_t gap = srv.requests[1].at_ms - srv.requests[0].at_ms;
    assert_true(gap >= 950 && gap < 2500);
    struct row rows[4];
    assert_int_equal(read_rows(h.dir, rows, 4), 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(rows[i].status, "sent");
    harness_cleanup_dir(&h);
}

/* Reopens h's outbox with the channels tg-a and tg-b on the fake at port, in chats chat_a and
 * chat_b (besides the "telegram" channel of the environment, in chat 100). */
static void harness_two_chats(struct harness *h, int port, const char *chat_a, const char *chat_b)
{
    static char url[64], token[] = TOKEN, chats[2][16];
    static char k_token[] = "token", k_chat[] = "chat_id", k_url[] = "url", type[] = "telegram";
    static char names[2][8] = {"tg-a", "tg-b"};
    static struct alert_channel_field fields[2][3];
    static struct alert_channel_config cfgs[2];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    snprintf(chats[0], sizeof chats[0], "%s", chat_a);
    snprintf(chats[1], sizeof chats[1], "%s", chat_b);
    for (size_t i = 0; i < 2; i++) {
        fields[i][0] = (struct alert_channel_field){.key = k_token, .text = token};
        fields[i][1] = (struct alert_channel_field){.key = k_chat, .text = chats[i]};
        fields[i][2] = (struct alert_channel_field){.key = k_url, .text = url};
        cfgs[i] = (struct alert_channel_config){
            .name = names[i], .type = type, .fields = fields[i], .n_fields = 3};
    }
    harness_close_outbox(h);
    h->alert.channels = cfgs;
    h->alert.n_channels = 2;
    char err[256];
    h->box = outbox_new(&h->loop, h->store, &h->alert, err, sizeof err);
    assert_non_null(h->box);
}

/* One message each for tg-a and tg-b, run to delivery; the fake's requests tell the gap. */
static int64_t gap_between_two_channels(const char *chat_a, const char *chat_b)
{
    static const struct fake_reply replies[] = {{200, OK_BODY, 0}};
    struct fake_server srv;
    fake_start(&srv, replies, 1);
    struct harness h;
    harness_start(&h, srv.port);
    harness_two_chats(&h, srv.port, chat_a, chat_b);
    struct event_record ev = {.time_ms = clock_wall_ms(), .kind = EVENT_DOWN};
    snprintf(ev.worker, sizeof ev.worker, "w");
    struct outbox_record msgs[2] = {{.channel = "tg-a", .text = "to a"},
                                    {.channel = "tg-b", .text = "to b"}};
    want_enqueued = 2;
    store_append_event(h.store, NULL, &ev, msgs, 2, event_committed, &h);
    harness_run_until(&h, all_delivered, 10000);
    harness_close_outbox(&h);
    h.alert.channels = NULL; /* the static configs are not the config's to free */
    h.alert.n_channels = 0;
    harness_stop(&h);
    fake_stop(&srv);
    assert_int_equal(srv.served, 2);
    assert_non_null(strstr(srv.requests[0].body, "\"text\":\"to a\""));
    assert_non_null(strstr(srv.requests[1].body, "\"text\":\"to b\""));
    struct row rows[2];
    assert_int_equal(read_rows(h.dir, rows, 2), 2);
    assert_string_equal(rows[0].status, "sent");
    assert_string_equal(rows[1].status, "sent");
    harness_cleanup_dir(&h);
    return srv.requests[1].at_ms - srv.requests[0].at_ms;
}

/* Two channels on one chat share its bucket: the second waits for the chat's pace (1 s). */
static void test_pace_shared_by_one_destination(void **state)
{
    (void)state;
    int64_t gap = gap_between_two_channels("200", "200");
    assert_true(gap >= 950 && gap < 2500);
}

/* Two channels on different chats have a bucket each: neither waits for the other. */
static void test_pace_apart_for_two_destinations(void **state)
{
    (void)state;
    int64_t gap = gap_between_two_channels("200", "300");
    assert_true(gap >= 0 && gap < 500);
}

static void reload_one(const struct outbox_record *rec, void *ctx)
{
    struct harness *h = ctx;
    outbox_enqueue(h->box, rec, 1);
    h->enqueued++;
}

/* What the follow-up does: remember the ids of the committed messages, then send them. */
static int64_t committed_id;

static void messages_committed(int status, const struct event_record *ev,
                               const struct outbox_record *msgs, size_t n, void *ctx)
{
    (void)ev;
    assert_int_equal(status, 0);
    assert_int_equal(n, 1);
    committed_id = msgs[0].id;
    event_committed(status, NULL, msgs, n, ctx);
}

/* One Telegram message with text, replacing the message replaces (0: none). */
static void append_message(struct harness *h, const char *text, int64_t replaces)
{
    struct outbox_record msg = {.text = text, .created_ms = clock_wall_ms(), .replaces = replaces};
    snprintf(msg.channel, sizeof msg.channel, "telegram");
    store_append_messages(h->store, &msg, 1, messages_committed, h);
}

static size_t read_refs(const char *dir, char refs[][CHANNEL_REF_MAX], size_t max)
{
    char path[128];
    snprintf(path, sizeof path, "%s/faultline.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT coalesce(ref, '') FROM outbox ORDER BY id", -1,
                                        &st, NULL),
                     SQLITE_OK);
    size_t n = 0;
    while (n < max && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(refs[n], CHANNEL_REF_MAX, "%s", sqlite3_column_text(st, 0));
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* A correction edits the message it replaces (editMessageText with the message_id Telegram gave
 * it), also when it was queued before that message was delivered; an edit Telegram refuses
 * (the message is gone) is sent as a new message. */
static void test_correction_edits_in_place(void **state)
{
    (void)state;
    static const struct fake_reply replies[] = {
        {200, "{\"ok\":true,\"result\":{\"message_id\":77}}", 300},
        {200, "{\"ok\":true,\"result\":{\"message_id\":77}}", 0},
        {400, "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: message to edit "
              "not found\"}",
         0},
        {200, "{\"ok\":true,\"result\":{\"message_id\":78}}", 0},
    };
    struct fake_server srv;
    fake_start(&srv, replies, 4);
    struct harness h;
    harness_start(&h, srv.port);
    want_enqueued = 1;
    append_message(&h, "first", 0);
    harness_run_until(&h, enqueued_enough, 5000);
    int64_t first = committed_id;
    /* the first is in flight (its answer takes 300 ms): the correction is queued behind it */
    want_enqueued = 2;
    append_message(&h, "second", first);
    harness_run_until(&h, all_delivered, 5000);
    want_enqueued = 3;
    append_message(&h, "third", committed_id);
    harness_run_until(&h, all_delivered, 5000);
    harness_stop(&h);
    fake_stop(&srv);

    assert_int_equal(srv.served, 4);
    assert_string_equal(srv.requests[0].line, "POST /bot" TOKEN "/sendMessage HTTP/1.1");
    assert_string_equal(srv.requests[1].line, "POST /bot" TOKEN "/editMessageText HTTP/1.1");
    assert_string_equal(srv.requests[1].body, "{\"chat_id\":100,\"message_id\":77,\"text\":"
                                              "\"second\",\"disable_web_page_preview\":true}");
    assert_string_equal(srv.requests[2].line, "POST /bot" TOKEN "/editMessageText HTTP/1.1");
    assert_string_equal(srv.requests[2].body, "{\"chat_id\":100,\"message_id\":77,\"text\":"
                                              "\"third\",\"disable_web_page_preview\":true}");
    assert_string_equal(srv.requests[3].line, "POST /bot" TOKEN "/sendMessage HTTP/1.1");
    assert_string_equal(srv.requests[3].body,
                        "{\"chat_id\":100,\"text\":\"third\",\"disable_web_page_preview\":true}");
    struct row rows[3];
    assert_int_equal(read_rows(h.dir, rows, 3), 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(rows[i].status, "sent");
    char refs[3][CHANNEL_REF_MAX];
    assert_int_equal(read_refs(h.dir, refs, 3), 3);
    assert_string_equal(refs[0], "77");
    assert_string_equal(refs[1], "77");
    assert_string_equal(refs[2], "78");
    harness_cleanup_dir(&h);
}

/* A message pending at a restart, due in 1 s: the restarted outbox waits for it, then sends. */
static void test_restart_respects_next_attempt(void **state)
{
    (void)state;
    static const struct fake_reply replies[] = {{200, OK_BODY, 0}};
    struct fake_server srv;
    fake_start(&srv, replies, 1);
    struct harness h;
    harness_start(&h, 0); /* first life: Telegram not configured, the row stays pending */
    const char *texts[] = {"from before"};
    int64_t due = clock_wall_ms() + 1000;
    want_enqueued = 1;
    append_event(&h, "w", texts, 1, due, 3);
    harness_run_until(&h, all_delivered, 5000);
    assert_int_equal(srv.served, 0);
    outbox_close(h.box);
    store_close(h.store);

    char err[256], url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    assert_int_equal(config_set(&h.cfg, "TELEGRAM_TOKEN", TOKEN, err, sizeof err), 0);
    assert_int_equal(config_set(&h.cfg, "CHAT_ID", "@ops", err, sizeof err), 0);
    assert_int_equal(config_set(&h.cfg, "TELEGRAM_API_URL", url, err, sizeof err), 0);
    harness_open_store(&h);
    h.box = outbox_new(&h.loop, h.store, &h.alert, err, sizeof err);
    assert_non_null(h.box);
    h.enqueued = 0;
    assert_int_equal(store_load_pending_outbox(h.store, reload_one, &h, err, sizeof err), 0);
    assert_int_equal(h.enqueued, 1);
    assert_int_equal(outbox_pending(h.box), 1);
    harness_run_until(&h, all_delivered, 5000);
    int64_t sent_wall = clock_wall_ms();
    harness_stop(&h);
    fake_stop(&srv);

    assert_int_equal(srv.served, 1);
    assert_true(sent_wall >= due - 50);
    assert_non_null(strstr(srv.requests[0].body, "\"chat_id\":\"@ops\""));
    struct row rows[1];
    assert_int_equal(read_rows(h.dir, rows, 1), 1);
    assert_string_equal(rows[0].status, "sent");
    harness_cleanup_dir(&h);
}

/* outbox_close with a send in flight: the attempt is abandoned (no use after free: run under
 * ASan) and the message is still pending for the next start. */
static void test_close_in_flight(void **state)
{
    (void)state;
    static const struct fake_reply replies[] = {{200, OK_BODY, 1500}};
    struct fake_server srv;
    fake_start(&srv, replies, 1);
    struct harness h;
    harness_start(&h, srv.port);
    const char *texts[] = {"in flight"};
    append_event(&h, "w", texts, 1, 0, 0);
    int64_t deadline = clock_mono_ms() + 5000;
    while (fake_served(&srv) == 0 && clock_mono_ms() < deadline)
        uv_run(&h.loop, UV_RUN_ONCE);
    assert_int_equal(fake_served(&srv), 1);
    assert_int_equal(outbox_pending(h.box), 1);
    harness_close_outbox(&h);
    store_close(h.store);

    char err[256];
    harness_open_store(&h);
    h.box = outbox_new(&h.loop, h.store, &h.alert, err, sizeof err);
    h.enqueued = 0;
    assert_int_equal(store_load_pending_outbox(h.store, reload_one, &h, err, sizeof err), 0);
    assert_int_equal(h.enqueued, 1); /* resent after a restart: a duplicate, never a loss */
    harness_close_outbox(&h);
    harness_stop(&h);
    fake_stop(&srv);
    harness_cleanup_dir(&h);
}

/* No TELEGRAM_TOKEN / CHAT_ID: no channel, messages stay in the store. */
static void test_not_configured(void **state)
{
    (void)state;
    struct harness h;
    harness_start(&h, 0);
    const char *names[4];
    assert_int_equal(outbox_channel_names(h.box, names, 4), 0);
    struct outbox_record rec = {.id = 1, .channel = "telegram", .text = "x"};
    outbox_enqueue(h.box, &rec, 1);
    assert_int_equal(outbox_pending(h.box), 0);
    harness_stop(&h);
    harness_cleanup_dir(&h);
}

/* Half a configuration is an error that names the missing setting; a full one lists telegram. */
static void test_open_errors(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct config cfg;
    struct alert_settings alert;
    config_init(&cfg);
    config_attach(&cfg, &alert_settings_table, &alert);
    char err[256];
    assert_int_equal(config_set(&cfg, "TELEGRAM_TOKEN", TOKEN, err, sizeof err), 0);
    assert_null(outbox_new(&loop, NULL, &alert, err, sizeof err));
    assert_non_null(strstr(err, "CHAT_ID"));
    assert_null(strstr(err, TOKEN));
    assert_int_equal(config_set(&cfg, "CHAT_ID", "42", err, sizeof err), 0);
    struct outbox *box = outbox_new(&loop, NULL, &alert, err, sizeof err);
    assert_non_null(box);
    const char *names[4];
    assert_int_equal(outbox_channel_names(box, names, 4), 1);
    assert_string_equal(names[0], "telegram");
    outbox_close(box);
    outbox_close(NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_then_sent_in_order),
        cmocka_unit_test(test_429_waits_retry_after),
        cmocka_unit_test(test_rejected_moves_on),
        cmocka_unit_test(test_pace_merges_a_burst_into_a_digest),
        cmocka_unit_test(test_pace_shared_by_one_destination),
        cmocka_unit_test(test_pace_apart_for_two_destinations),
        cmocka_unit_test(test_correction_edits_in_place),
        cmocka_unit_test(test_restart_respects_next_attempt),
        cmocka_unit_test(test_close_in_flight),
        cmocka_unit_test(test_not_configured),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
