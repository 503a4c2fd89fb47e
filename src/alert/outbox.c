/* outbox.c — delivers committed notifications (see outbox.h). Each configured channel has a
 * queue of copied messages in id order and one uv_timer; the head message is sent, and on
 * failure it stays at the head until it goes through, so people read events in the order they
 * happened. Every outcome is written back to the store (sent / retry / failed), with the
 * channel's id of a delivered message (its ref). A correction (it replaces an earlier message)
 * edits that message in place when the channel can edit and the ref is known, else it is sent
 * as a new message; a correction queued behind the message it replaces gets its ref once that
 * is delivered. The members of an alert group (alert/group.h) wait for their group's deadline
 * while the rest pass them, then the due members of one group go out as one message.
 *
 * Pacing belongs to the destination, not to the channel: every instance of a type that reports
 * the same destination key (channel.h) takes its turns from one shared bucket (struct
 * outbox_bucket, owned by the outbox), so two channels on one chat together keep the chat's
 * pace. Each still has its own queue, timer and timeout; what waits behind the shared pace
 * merges into a digest per channel. A 429's wait empties the bucket for all its channels.
 *
 * Shutdown: outbox_close abandons an attempt in flight. Its row is still pending in the store,
 * so it is sent again after a restart: a duplicate is preferable to a lost alert. */
#include "alert/outbox.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alert/channel.h"
#include "alert/group.h"
#include "base/clock.h"
#include "base/httpc.h"
#include "base/log.h"

#define OUTBOX_BACKOFF_FIRST_MS 1000
#define OUTBOX_BACKOFF_MAX_MS (5 * 60 * 1000)
#define OUTBOX_DIGEST_MAX 3800  /* bytes of text in one digest (Telegram takes 4096) */
#define OUTBOX_DIGEST_COUNT 100 /* messages in one digest at most */
/* A send reaches the service up to a network's jitter after it starts: the token comes back this
 * much (percent) later than the gap, so two sends never arrive closer than the service allows. */
#define OUTBOX_PACE_MARGIN_PERCENT 10
/* A stored next_attempt_ms further ahead than this is taken as a clock jump. */
#define OUTBOX_WAIT_MAX_MS (24 * 60 * 60 * 1000)

/* A message copied out of an outbox_record; the queue owns it. */
struct outbox_msg {
    struct outbox_msg *next;
    int64_t id;
    int attempts;
    int64_t next_attempt_ms;   /* wall clock; 0 = now */
    int64_t replaces;          /* a correction: the message it replaces; 0 if none */
    char ref[CHANNEL_REF_MAX]; /* a correction: the chat's id of the message it edits */
    char *text;
    int64_t event_id;
    char dedup_key[ALERT_KEY_MAX];
    bool resolve;
    json_t *fields; /* the message's fields (an object, maybe empty) */
};

struct outbox_channel;

/* The pace of one destination, shared by every channel instance that sends there: a bucket of
 * one token, back gap_ms after it is taken. */
struct outbox_bucket {
    const struct alert_channel_type *type;
    const char *key;        /* borrowed from the first channel's state (closed after this is
                             * last used); may hold a secret: compared, never logged */
    int64_t gap_ms;         /* the largest gap its channels asked for */
    int64_t token_due_mono; /* when the token is back; 0: it is there */
};

/* One send in flight. The channel's callback owns it once send() is called: if the outbox has
 * closed meanwhile, channel is NULL and the callback only frees it. */
struct outbox_attempt {
    struct outbox_channel *channel;
    bool edit;     /* an edit of the message the head replaces, not a send */
    size_t merged; /* messages from the head this attempt carries (a digest: more than 1) */
};

struct outbox_channel {
    struct outbox *box;
    const char *name; /* the instance's name, as in outbox rows */
    const struct alert_channel_type *type;
    void *state;
    uv_timer_t *timer; /* heap: freed by its close callback, which may run after the outbox */
    struct outbox_msg *head, *tail;
    size_t count;
    struct outbox_attempt *flight;   /* non-NULL while the head is being sent */
    unsigned long long sent, failed; /* outbox_stats */
    struct outbox_bucket *bucket;    /* its destination's pace (in box->buckets); NULL: none */
    bool paced;                      /* the head waits for the pace: what queues behind it merges */
};

struct outbox {
    struct store *store;
    struct httpc *http;
    struct alert_channel_config env_telegram; /* borrows the settings' strings */
    struct alert_channel_field env_fields[3];
    struct outbox_channel *channels;
    size_t n_channels;
    struct outbox_bucket *buckets; /* one per destination key, at most one per channel */
    size_t n_buckets;
};

static void outbox_send_head(uv_timer_t *timer);

/* ---- queue ------------------------------------------------------------------------------- */

static void msg_free(struct outbox_msg *msg)
{
    if (msg) {
        free(msg->text);
        json_decref(msg->fields);
        free(msg);
    }
}

static bool queue_has(const struct outbox_channel *ch, int64_t id)
{
    for (const struct outbox_msg *m = ch->head; m; m = m->next)
        if (m->id == id)
            return true;
    return false;
}

/* Keeps id order; the head is never displaced while it is being sent. */
static void queue_insert(struct outbox_channel *ch, struct outbox_msg *msg)
{
    struct outbox_msg **at = &ch->head;
    if (ch->flight && *at)
        at = &(*at)->next;
    while (*at && (*at)->id < msg->id)
        at = &(*at)->next;
    msg->next = *at;
    *at = msg;
    if (!msg->next)
        ch->tail = msg;
    ch->count++;
}

static void queue_pop(struct outbox_channel *ch)
{
    struct outbox_msg *msg = ch->head;
    ch->head = msg->next;
    if (!ch->head)
        ch->tail = NULL;
    ch->count--;
    msg_free(msg);
}

/* ---- sending ----------------------------------------------------------------------------- */
static const char *field_text(const struct outbox_msg *msg, const char *key);

/* A member of an alert group (alert/group.h) waiting for its group's deadline. */
static bool msg_held(const struct outbox_msg *msg, int64_t now)
{
    return msg->attempts == 0 && msg->next_attempt_ms > now && field_text(msg, "group")[0];
}

/* Unlinks the message after prev (NULL: the head) and links it after at (NULL: as the head). */
static void queue_move(struct outbox_channel *ch, struct outbox_msg *prev, struct outbox_msg *at)
{
    struct outbox_msg **from = prev ? &prev->next : &ch->head;
    struct outbox_msg *msg = *from;
    if (prev == at || msg == at)
        return;
    *from = msg->next;
    if (ch->tail == msg)
        ch->tail = prev;
    struct outbox_msg **to = at ? &at->next : &ch->head;
    msg->next = *to;
    *to = msg;
    if (!msg->next)
        ch->tail = msg;
}

/* While the head is held for its group, the message due first goes ahead of it, so a group's
 * wait never delays another alert. */
static void queue_promote_due(struct outbox_channel *ch)
{
    int64_t now = clock_wall_ms();
    if (ch->flight || !ch->head || !msg_held(ch->head, now))
        return;
    struct outbox_msg *best_prev = NULL, *best = ch->head;
    for (struct outbox_msg *prev = ch->head, *m = prev->next; m; prev = m, m = m->next)
        if (m->next_attempt_ms < best->next_attempt_ms) {
            best = m;
            best_prev = prev;
        }
    if (best != ch->head)
        queue_move(ch, best_prev, NULL);
}

/* Gathers right behind the head the other members of its group that are due (same group, both
 * problems or both resolves); returns how many the group has there, head included. */
static size_t queue_gather_group(struct outbox_channel *ch)
{
    const char *group = field_text(ch->head, "group");
    if (!group[0] || ch->head->replaces)
        return 1;
    /* the head's deadline counts as now: the timer may fire a little before it */
    int64_t now = clock_wall_ms();
    if (ch->head->next_attempt_ms > now)
        now = ch->head->next_attempt_ms;
    size_t n = 1;
    struct outbox_msg *last = ch->head;
    for (struct outbox_msg *prev = ch->head, *m = prev->next; m; m = prev->next) {
        bool member = !m->replaces && m->resolve == ch->head->resolve &&
                      m->next_attempt_ms <= now && strcmp(field_text(m, "group"), group) == 0;
        if (!member) {
            prev = m;
            continue;
        }
        if (prev != last)
            queue_move(ch, prev, last);
        else
            prev = m;
        last = m;
        n++;
    }
    return n;
}

/* How long until bucket's token is back (0: it is there; NULL: no pacing). */
static int64_t bucket_wait_ms(const struct outbox_bucket *bucket)
{
    int64_t wait = bucket ? bucket->token_due_mono - clock_mono_ms() : 0;
    return wait > 0 ? wait : 0;
}

/* The peer asked to wait (a 429's retry_after): no channel of the destination sends sooner. */
static void bucket_hold(struct outbox_bucket *bucket, int64_t wait_ms)
{
    int64_t due = clock_mono_ms() + wait_ms;
    if (bucket && wait_ms > 0 && due > bucket->token_due_mono)
        bucket->token_due_mono = due;
}

/* Arms the channel's timer for its head message (at once, or when its retry is due). Sends
 * always start from the timer, so a channel that answers synchronously cannot recurse. */
static void channel_schedule(struct outbox_channel *ch)
{
    if (ch->flight || !ch->head)
        return;
    queue_promote_due(ch);
    int64_t wait = ch->head->next_attempt_ms - clock_wall_ms();
    if (ch->head->next_attempt_ms == 0 || wait < 0)
        wait = 0;
    if (wait > OUTBOX_WAIT_MAX_MS)
        wait = OUTBOX_WAIT_MAX_MS;
    int64_t pace_wait = bucket_wait_ms(ch->bucket);
    ch->paced = pace_wait > 0 && pace_wait > wait;
    if (ch->paced)
        wait = pace_wait;
    /* Timers count from the loop's cached time, which is stale after blocking work (such as
     * loading the outbox at startup): refresh it so a wall-clock wait is not cut short. */
    uv_update_time(ch->timer->loop);
    uv_timer_start(ch->timer, outbox_send_head, (uint64_t)wait, 0);
}

/* 1 s after the first failure, doubling, plus up to a quarter more at random (so channels
 * that failed together do not retry in step), at most 5 min. */
static int64_t backoff_ms(int attempts)
{
    int64_t ms = OUTBOX_BACKOFF_FIRST_MS;
    for (int i = 1; i < attempts && ms < OUTBOX_BACKOFF_MAX_MS; i++)
        ms *= 2;
    static uint64_t seed;
    if (!seed)
        seed = (uint64_t)clock_mono_ms() * 6364136223846793005ULL + 1442695040888963407ULL;
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    ms += (int64_t)(seed % (uint64_t)(ms / 4 + 1));
    return ms < OUTBOX_BACKOFF_MAX_MS ? ms : OUTBOX_BACKOFF_MAX_MS;
}

static void channel_retry_later(struct outbox_channel *ch, const struct alert_outcome *outcome)
{
    struct outbox_msg *msg = ch->head;
    int64_t wait = backoff_ms(msg->attempts);
    if (outcome->retry_after_ms > wait)
        wait = outcome->retry_after_ms;
    bucket_hold(ch->bucket, outcome->retry_after_ms);
    msg->next_attempt_ms = clock_wall_ms() + wait;
    store_outbox_retry(ch->box->store, msg->id, msg->attempts, msg->next_attempt_ms,
                       outcome->error);
    char shown[32];
    clock_format_duration(wait, shown, sizeof shown);
    log_warn("%s: send failed (attempt %d): %s; retrying in %s", ch->name, msg->attempts,
             outcome->error, shown);
}

/* msg was delivered as ref: corrections of it waiting in the queue will edit it. */
static void pass_ref_on(struct outbox_channel *ch, const struct outbox_msg *msg, const char *ref)
{
    for (struct outbox_msg *m = msg->next; ref[0] && m; m = m->next)
        if (m->replaces == msg->id)
            snprintf(m->ref, sizeof m->ref, "%s", ref);
}

static void failure_recorded(int status, const struct event_record *ev,
                             const struct outbox_record *msgs, size_t n, void *ctx)
{
    (void)msgs;
    (void)n;
    (void)ctx;
    if (status != 0)
        log_error("alert: the alert_failed event of channel %s could not be stored", ev->worker);
}

/* A channel refused msg for good: an alert_failed event tells the admin (the API's events and
 * /admin list it). */
static void record_failure(struct outbox_channel *ch, const struct outbox_msg *msg,
                           const char *error)
{
    json_t *d = json_pack("{s:s, s:s, s:I, s:s, s:s}", "channel", ch->name, "type",
                          ch->type->name, "message", (json_int_t)msg->id, "about",
                          field_text(msg, "subject"), "error", error);
    if (msg->dedup_key[0])
        json_object_set_new(d, "dedup_key", json_string(msg->dedup_key));
    char *details = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    struct event_record ev = {.time_ms = clock_wall_ms(),
                              .kind = EVENT_ALERT_FAILED,
                              .details_json = details};
    snprintf(ev.worker, sizeof ev.worker, "%s", ch->name);
    store_append_event(ch->box->store, NULL, &ev, NULL, 0, failure_recorded, NULL);
    free(details);
}

static void outbox_attempt_done(const struct alert_outcome *outcome, void *ctx)
{
    struct outbox_attempt *attempt = ctx;
    struct outbox_channel *ch = attempt->channel;
    bool edit = attempt->edit;
    size_t merged = attempt->merged;
    free(attempt);
    if (!ch)
        return; /* abandoned by outbox_close */
    ch->flight = NULL;
    struct outbox_msg *msg = ch->head;
    msg->attempts++;
    const char *ref = outcome->ref[0] ? outcome->ref : edit ? msg->ref : "";
    switch (outcome->result) {
    case ALERT_SENT:
        for (size_t i = 0; i < merged; i++) {
            msg = ch->head;
            ch->sent++;
            store_outbox_sent(ch->box->store, msg->id, msg->attempts ? msg->attempts : 1,
                              clock_wall_ms(), ref);
            log_debug("%s: %s message %lld (attempt %d%s)", ch->name, edit ? "edited" : "sent",
                      (long long)msg->id, msg->attempts, merged > 1 ? ", in a digest" : "");
            if (merged == 1) /* a digest's ref is no single message's to edit */
                pass_ref_on(ch, msg, ref);
            queue_pop(ch);
        }
        break;
    case ALERT_RETRY:
        ch->failed++;
        channel_retry_later(ch, outcome);
        break;
    case ALERT_REJECTED:
        ch->failed++;
        if (edit) { /* e.g. the message was deleted from the chat: send it as a new one */
            log_warn("%s: message %lld could not edit the one it replaces (%s); sending it anew",
                     ch->name, (long long)msg->id, outcome->error);
            msg->ref[0] = '\0';
            break;
        }
        for (size_t i = 0; i < merged; i++) {
            msg = ch->head;
            store_outbox_failed(ch->box->store, msg->id, msg->attempts ? msg->attempts : 1,
                                outcome->error);
            log_error("%s: message %lld refused for good (attempt %d): %s; marked failed",
                      ch->name, (long long)msg->id, msg->attempts, outcome->error);
            record_failure(ch, msg, outcome->error);
            queue_pop(ch);
        }
        break;
    }
    channel_schedule(ch);
}

static const char *field_text(const struct outbox_msg *msg, const char *key)
{
    const char *v = json_string_value(json_object_get(msg->fields, key));
    return v ? v : "";
}

/* What the channel gets for msg; borrows from msg. */
static struct alert_delivery delivery_of(const struct outbox_msg *msg, char *fields_text)
{
    struct alert_delivery d = {.id = msg->id,
                               .event_id = msg->event_id,
                               .text = msg->text,
                               .subject = field_text(msg, "subject"),
                               .name = field_text(msg, "name"),
                               .link = field_text(msg, "link"),
                               .dedup_key = msg->dedup_key,
                               .severity = ALERT_SEVERITY_WARNING,
                               .resolve = msg->resolve,
                               .fields_json = fields_text ? fields_text : "{}"};
    if (alert_kind_parse(field_text(msg, "kind"), &d.kind) != 0)
        d.kind = ALERT_KIND_WORKER;
    alert_severity_parse(field_text(msg, "severity"), &d.severity);
    return d;
}

/* The message as the channel's JSON (fields, text, ids); NULL when out of memory. */
static json_t *message_json(const struct outbox_channel *ch, const struct outbox_msg *msg)
{
    json_t *all = json_deep_copy(msg->fields);
    json_object_set_new(all, "text", json_string(msg->text));
    json_object_set_new(all, "id", json_integer(msg->id));
    if (msg->event_id)
        json_object_set_new(all, "event_id", json_integer(msg->event_id));
    json_object_set_new(all, "channel", json_string(ch->name));
    return all;
}

/* How many messages from the head one digest takes: new messages (not corrections) that are
 * due, while their texts fit. */
static size_t digest_count(const struct outbox_channel *ch)
{
    size_t n = 0, bytes = 0;
    int64_t now = clock_wall_ms();
    for (const struct outbox_msg *m = ch->head; m && n < OUTBOX_DIGEST_COUNT; m = m->next) {
        size_t len = strlen(m->text) + 2;
        if (m->replaces || m->next_attempt_ms > now || (n > 0 && bytes + len > OUTBOX_DIGEST_MAX))
            break;
        bytes += len;
        n++;
    }
    return n;
}

/* Sends the first merge messages of the queue as one digest: a line that says how many, then
 * each text whole. Returns 0, or -1 (out of memory: the head goes alone). */
static int send_digest(struct outbox_channel *ch, size_t merge, struct outbox_attempt *attempt)
{
    size_t len = 128;
    const struct outbox_msg *m = ch->head;
    for (size_t i = 0; i < merge; i++, m = m->next)
        len += strlen(m->text) + 2;
    char *text = malloc(len);
    json_t *list = json_array(), *all = json_object();
    if (!text || !list || !all) {
        free(text);
        json_decref(list);
        json_decref(all);
        return -1;
    }
    size_t used = (size_t)snprintf(text, len, "🗂 %zu alerts, held back by this channel's rate "
                                              "limit and sent together:", merge);
    enum alert_severity worst = ALERT_SEVERITY_INFO;
    m = ch->head;
    for (size_t i = 0; i < merge; i++, m = m->next) {
        used += (size_t)snprintf(text + used, len - used, "\n\n%s", m->text);
        enum alert_severity s;
        if (alert_severity_parse(field_text(m, "severity"), &s) == 0 && s > worst)
            worst = s;
        json_array_append_new(list, message_json(ch, m));
    }
    char subject[64];
    snprintf(subject, sizeof subject, "%zu alerts", merge);
    json_object_set_new(all, "digest", json_true());
    json_object_set_new(all, "subject", json_string(subject));
    json_object_set_new(all, "severity", json_string(alert_severity_name(worst)));
    json_object_set_new(all, "text", json_string(text));
    json_object_set_new(all, "id", json_integer(ch->head->id));
    json_object_set_new(all, "channel", json_string(ch->name));
    json_object_set_new(all, "messages", list);
    char *fields_text = json_dumps(all, JSON_COMPACT);
    json_decref(all);
    struct alert_delivery d = delivery_of(ch->head, fields_text);
    d.text = text;
    d.subject = subject;
    d.severity = worst;
    d.resolve = false;
    d.dedup_key = "";
    attempt->merged = merge;
    log_info("%s: %zu messages held back by the pace go out as one digest", ch->name, merge);
    ch->type->send(ch->state, &d, outbox_attempt_done, attempt);
    free(fields_text);
    free(text);
    return 0;
}

/* Sends the head and the merge members of its group gathered behind it as one message: the
 * group's subject (alert_groups_merge_fields), then each member's text on its own line. Returns
 * 0, or -1 (out of memory: the head goes alone). */
static int send_group(struct outbox_channel *ch, size_t merge, struct outbox_attempt *attempt)
{
    size_t len = 1;
    json_t **members = calloc(merge, sizeof *members);
    const struct outbox_msg *m = ch->head;
    for (size_t i = 0; i < merge; i++, m = m->next) {
        len += strlen(m->text) + 1;
        if (members)
            members[i] = m->fields;
    }
    char *text = malloc(len);
    json_t *all = members ? alert_groups_merge_fields(members, merge, field_text(ch->head, "group"))
                          : NULL;
    free(members);
    if (!text || !all) {
        free(text);
        json_decref(all);
        return -1;
    }
    size_t used = 0;
    m = ch->head;
    for (size_t i = 0; i < merge; i++, m = m->next)
        used += (size_t)snprintf(text + used, len - used, "%s%s", i ? "\n" : "", m->text);
    json_object_set_new(all, "text", json_string(text));
    json_object_set_new(all, "id", json_integer(ch->head->id));
    if (ch->head->event_id)
        json_object_set_new(all, "event_id", json_integer(ch->head->event_id));
    json_object_set_new(all, "channel", json_string(ch->name));
    char *fields_text = json_dumps(all, JSON_COMPACT);
    struct alert_delivery d = delivery_of(ch->head, fields_text);
    d.text = text;
    d.subject = json_string_value(json_object_get(all, "subject"));
    attempt->merged = merge;
    log_info("%s: %zu alerts of %s sent as one", ch->name, merge, field_text(ch->head, "group"));
    ch->type->send(ch->state, &d, outbox_attempt_done, attempt);
    json_decref(all);
    free(fields_text);
    free(text);
    return 0;
}

static void outbox_send_head(uv_timer_t *timer)
{
    struct outbox_channel *ch = timer->data;
    if (ch->flight || !ch->head)
        return;
    if (bucket_wait_ms(ch->bucket) > 0) { /* another channel of the destination took the token */
        channel_schedule(ch);
        return;
    }
    struct outbox_attempt *attempt = malloc(sizeof *attempt);
    if (!attempt) {
        uv_timer_start(ch->timer, outbox_send_head, OUTBOX_BACKOFF_FIRST_MS, 0);
        return;
    }
    struct outbox_msg *msg = ch->head;
    attempt->channel = ch;
    attempt->edit = msg->replaces && msg->ref[0] && ch->type->edit;
    attempt->merged = 1;
    ch->flight = attempt;
    if (ch->bucket)
        ch->bucket->token_due_mono =
            clock_mono_ms() + ch->bucket->gap_ms * (100 + OUTBOX_PACE_MARGIN_PERCENT) / 100;
    if (attempt->edit) {
        ch->type->edit(ch->state, msg->ref, msg->text, outbox_attempt_done, attempt);
        return;
    }
    size_t group = queue_gather_group(ch);
    if (group > 1 && send_group(ch, group, attempt) == 0)
        return;
    /* A message tried before goes again alone, as it was: the failed attempt may have reached
     * the receiver, and a repeat should be recognisable as one. */
    size_t merge = ch->paced && ch->type->digest && msg->attempts == 0 ? digest_count(ch) : 1;
    if (merge > 1 && send_digest(ch, merge, attempt) == 0)
        return;
    json_t *all = message_json(ch, msg);
    char *fields_text = all ? json_dumps(all, JSON_COMPACT) : NULL;
    json_decref(all);
    struct alert_delivery d = delivery_of(msg, fields_text);
    ch->type->send(ch->state, &d, outbox_attempt_done, attempt);
    free(fields_text);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static void timer_free(uv_handle_t *handle)
{
    free(handle);
}

/* The bucket of ch's destination: the one its type and key already have, else a new one. */
static struct outbox_bucket *bucket_for(struct outbox *box, const struct outbox_channel *ch)
{
    int64_t gap_ms = 0;
    const char *key = ch->type->destination ? ch->type->destination(ch->state, &gap_ms) : NULL;
    if (!key)
        return NULL;
    size_t i = 0;
    while (i < box->n_buckets &&
           (box->buckets[i].type != ch->type || strcmp(box->buckets[i].key, key) != 0))
        i++;
    struct outbox_bucket *b = &box->buckets[i];
    if (i == box->n_buckets) {
        *b = (struct outbox_bucket){.type = ch->type, .key = key};
        box->n_buckets++;
    }
    if (gap_ms > b->gap_ms)
        b->gap_ms = gap_ms;
    return b;
}

/* Opens instance cfg into ch. Returns 0, or -1 with err ("WHERE: FIELD: ...") on failure. */
static int channel_open(struct outbox *box, uv_loop_t *loop, const struct alert_channel_config *cfg,
                        struct outbox_channel *ch, char *err, size_t errlen)
{
    const struct alert_channel_type *type = alert_channel_type_find(cfg->type);
    char why[256] = "";
    struct alert_channel_env env = {.loop = loop, .http = box->http};
    void *state = type ? type->open(cfg, &env, why, sizeof why) : NULL;
    if (!state) {
        snprintf(err, errlen, "%s: channel %s: %s", cfg->where, cfg->name,
                 type ? why : "unknown type");
        return -1;
    }
    ch->timer = malloc(sizeof *ch->timer);
    if (!ch->timer) {
        type->close(state);
        snprintf(err, errlen, "alert: out of memory");
        return -1;
    }
    uv_timer_init(loop, ch->timer);
    ch->timer->data = ch;
    ch->box = box;
    ch->name = cfg->name;
    ch->type = type;
    ch->state = state;
    ch->bucket = bucket_for(box, ch);
    log_info("alert: channel %s (%s) ready", cfg->name, type->name);
    return 0;
}

struct outbox *outbox_new(uv_loop_t *loop, struct store *store,
                          const struct alert_settings *settings, char *err, size_t errlen)
{
    struct outbox *box = calloc(1, sizeof *box);
    if (box) {
        box->store = store;
        box->channels = calloc(settings->n_channels + 1, sizeof *box->channels);
        box->buckets = calloc(settings->n_channels + 1, sizeof *box->buckets);
        box->http = httpc_new(loop);
    }
    if (!box || !box->channels || !box->buckets || !box->http) {
        snprintf(err, errlen, "alert: out of memory");
        outbox_close(box);
        return NULL;
    }
    int env = alert_settings_env_telegram(settings, &box->env_telegram, box->env_fields, err,
                                          errlen);
    for (size_t i = 0; env >= 0 && i < settings->n_channels + (size_t)env; i++) {
        const struct alert_channel_config *cfg =
            i < settings->n_channels ? &settings->channels[i] : &box->env_telegram;
        if (channel_open(box, loop, cfg, &box->channels[box->n_channels], err, errlen) != 0)
            env = -1;
        else
            box->n_channels++;
    }
    if (env < 0) {
        outbox_close(box);
        return NULL;
    }
    if (box->n_channels == 0)
        log_info("alert: no channel configured; events are recorded but not sent");
    return box;
}

size_t outbox_channel_names(const struct outbox *box, const char **names, size_t max)
{
    for (size_t i = 0; box && i < box->n_channels && i < max; i++)
        names[i] = box->channels[i].name;
    return box ? box->n_channels : 0;
}

static struct outbox_channel *channel_find(struct outbox *box, const char *name)
{
    for (size_t i = 0; i < box->n_channels; i++)
        if (strcmp(box->channels[i].name, name) == 0)
            return &box->channels[i];
    return NULL;
}

void outbox_enqueue(struct outbox *box, const struct outbox_record *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct outbox_channel *ch = channel_find(box, msgs[i].channel);
        if (!ch) {
            log_debug("alert: message %lld for %s kept pending (channel not configured)",
                      (long long)msgs[i].id, msgs[i].channel);
            continue;
        }
        if (queue_has(ch, msgs[i].id))
            continue;
        struct outbox_msg *msg = calloc(1, sizeof *msg);
        if (msg)
            msg->text = strdup(msgs[i].text ? msgs[i].text : "");
        if (!msg || !msg->text) {
            /* Still pending in the store: it goes out after the next restart. */
            log_error("alert: out of memory, message %lld left for the next start",
                      (long long)msgs[i].id);
            msg_free(msg);
            continue;
        }
        msg->id = msgs[i].id;
        msg->attempts = msgs[i].attempts;
        msg->next_attempt_ms = msgs[i].next_attempt_ms;
        msg->replaces = msgs[i].replaces;
        msg->event_id = msgs[i].event_id;
        msg->resolve = msgs[i].resolve;
        snprintf(msg->dedup_key, sizeof msg->dedup_key, "%s", msgs[i].dedup_key);
        msg->fields = msgs[i].fields_json ? json_loads(msgs[i].fields_json, 0, NULL) : NULL;
        if (!json_is_object(msg->fields)) {
            json_decref(msg->fields);
            msg->fields = json_object();
        }
        snprintf(msg->ref, sizeof msg->ref, "%s", msgs[i].ref);
        queue_insert(ch, msg);
        channel_schedule(ch);
    }
}

size_t outbox_pending(const struct outbox *box)
{
    size_t n = 0;
    for (size_t i = 0; box && i < box->n_channels; i++)
        n += box->channels[i].count;
    return n;
}

size_t outbox_stats(const struct outbox *box, struct outbox_channel_stats *out, size_t max)
{
    for (size_t i = 0; box && i < box->n_channels && i < max; i++) {
        const struct outbox_channel *ch = &box->channels[i];
        out[i] = (struct outbox_channel_stats){ch->name, ch->count, ch->sent, ch->failed};
    }
    return box ? box->n_channels : 0;
}

void outbox_close(struct outbox *box)
{
    if (!box)
        return;
    for (size_t i = 0; i < box->n_channels; i++) {
        struct outbox_channel *ch = &box->channels[i];
        uv_timer_stop(ch->timer);
        uv_close((uv_handle_t *)ch->timer, timer_free);
        if (ch->flight)
            ch->flight->channel = NULL;
        ch->flight = NULL;
    }
    /* Cancels what is in flight: the callbacks find their attempts abandoned. Channel attempts
     * never read channel state from their callbacks, so closing the states next is safe even if
     * httpc delivers the cancellations later. */
    httpc_close(box->http);
    for (size_t i = 0; i < box->n_channels; i++) {
        struct outbox_channel *ch = &box->channels[i];
        ch->type->close(ch->state);
        while (ch->head)
            queue_pop(ch);
    }
    free(box->channels);
    free(box->buckets);
    free(box);
}
