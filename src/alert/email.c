/* email.c — the email channel (email.h). Each send copies what it needs into a job for the
 * thread pool (curl's easy interface blocks), so the loop never waits for a mail server and a
 * job never reads the channel, which may close meanwhile. SMTP 5xx answers (a refused
 * recipient, a failed login) are refused for good; connection problems and 4xx retry. */
#include "alert/email.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EMAIL_TIMEOUT_MS 30000
#define EMAIL_TO_MAX 32

struct email {
    uv_loop_t *loop;
    char *smtp_url, *from, *username, *password, *ca_file;
    char *destination; /* the pacing key: "SMTP_URL ACCOUNT", the account being the username, or
                          from when there is none */
    char **to;
    size_t n_to;
    bool plain; /* tls: none */
    int64_t timeout_ms;
};

/* ---- the mail ---------------------------------------------------------------------------- */

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* The subject on one line, RFC 2047 base64 when it is not ASCII, into out. */
static void subject_header(const char *subject, char *out, size_t len)
{
    char line[512];
    size_t n = 0;
    for (const char *p = subject; *p && n + 1 < sizeof line; p++)
        line[n++] = (*p == '\r' || *p == '\n') ? ' ' : *p;
    line[n] = '\0';
    if (is_ascii(line)) {
        snprintf(out, len, "Subject: %s", line);
        return;
    }
    char b64[sizeof line * 4 / 3 + 8];
    sodium_bin2base64(b64, sizeof b64, (const unsigned char *)line, n,
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, len, "Subject: =?UTF-8?B?%s?=", b64);
}

char *email_message(const char *from, const char *const *to, size_t n_to,
                    const struct alert_delivery *msg)
{
    char subject[1024], date[64], to_line[2048] = "";
    subject_header(msg->subject[0] ? msg->subject : "faultline alert", subject, sizeof subject);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    size_t used = 0;
    for (size_t i = 0; i < n_to && used < sizeof to_line; i++)
        used += (size_t)snprintf(to_line + used, sizeof to_line - used, "%s%s", i ? ", " : "",
                                 to[i]);
    const char *at = strchr(from, '@');
    size_t len = strlen(msg->text) * 2 + strlen(msg->link) + 4096;
    char *mail = malloc(len);
    if (!mail)
        return NULL;
    used = (size_t)snprintf(mail, len,
                            "From: %s\r\nTo: %s\r\n%s\r\nDate: %s\r\n"
                            "Message-ID: <faultline-%lld@%s>\r\nMIME-Version: 1.0\r\n"
                            "Content-Type: text/plain; charset=utf-8\r\n"
                            "Content-Transfer-Encoding: 8bit\r\n",
                            from, to_line, subject, date, (long long)msg->id,
                            at && at[1] ? at + 1 : "faultline");
    if (msg->dedup_key[0])
        used += (size_t)snprintf(mail + used, len - used, "X-Faultline-Dedup: %s\r\n",
                                 msg->dedup_key);
    used += (size_t)snprintf(mail + used, len - used, "\r\n");
    for (const char *p = msg->text; *p && used + 3 < len; p++) { /* bare LF to CRLF */
        if (*p == '\n' && (p == msg->text || p[-1] != '\r'))
            mail[used++] = '\r';
        mail[used++] = *p;
    }
    mail[used] = '\0';
    if (msg->link[0])
        snprintf(mail + used, len - used, "\r\n\r\n%s\r\n", msg->link);
    else
        snprintf(mail + used, len - used, "\r\n");
    return mail;
}

/* ---- a send on the thread pool ----------------------------------------------------------- */

struct email_job {
    uv_work_t work;
    char *url, *from, *username, *password, *ca_file, *mail;
    char **to;
    size_t n_to, sent_bytes;
    bool plain;
    long timeout_ms;
    struct alert_outcome outcome;
    alert_sent_cb done;
    void *ctx;
};

static size_t email_read(char *buf, size_t size, size_t nmemb, void *arg)
{
    struct email_job *job = arg;
    size_t left = strlen(job->mail) - job->sent_bytes;
    size_t n = size * nmemb < left ? size * nmemb : left;
    memcpy(buf, job->mail + job->sent_bytes, n);
    job->sent_bytes += n;
    return n;
}

static void email_transfer(uv_work_t *work)
{
    struct email_job *job = work->data;
    char curl_err[CURL_ERROR_SIZE] = "";
    CURL *c = curl_easy_init();
    struct curl_slist *rcpt = NULL;
    for (size_t i = 0; i < job->n_to; i++)
        rcpt = curl_slist_append(rcpt, job->to[i]);
    if (!c || !rcpt) {
        job->outcome = (struct alert_outcome){.result = ALERT_RETRY, .error = "email: out of memory"};
        curl_slist_free_all(rcpt);
        curl_easy_cleanup(c);
        return;
    }
    curl_easy_setopt(c, CURLOPT_URL, job->url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, job->from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, email_read);
    curl_easy_setopt(c, CURLOPT_READDATA, job);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, job->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USE_SSL, job->plain ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL);
    if (job->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, job->ca_file);
    if (job->username)
        curl_easy_setopt(c, CURLOPT_USERNAME, job->username);
    if (job->password)
        curl_easy_setopt(c, CURLOPT_PASSWORD, job->password);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    struct alert_outcome *out = &job->outcome;
    out->result = rc == CURLE_OK                                  ? ALERT_SENT
                  : code >= 500 || rc == CURLE_LOGIN_DENIED ? ALERT_REJECTED
                                                            : ALERT_RETRY;
    const char *why = curl_err[0] ? curl_err : curl_easy_strerror(rc);
    if (rc != CURLE_OK && code)
        snprintf(out->error, sizeof out->error, "email: %.200s (SMTP %ld)", why, code);
    else if (rc != CURLE_OK)
        snprintf(out->error, sizeof out->error, "email: %.200s", why);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
}

static void email_job_free(struct email_job *job)
{
    free(job->url);
    free(job->from);
    free(job->username);
    if (job->password)
        sodium_memzero(job->password, strlen(job->password));
    free(job->password);
    free(job->ca_file);
    free(job->mail);
    for (size_t i = 0; i < job->n_to; i++)
        free(job->to[i]);
    free(job->to);
    free(job);
}

static void email_transferred(uv_work_t *work, int status)
{
    struct email_job *job = work->data;
    if (status == UV_ECANCELED)
        job->outcome = (struct alert_outcome){.result = ALERT_RETRY, .error = "email: cancelled"};
    job->done(&job->outcome, job->ctx);
    email_job_free(job);
}

static char *dup_or_null(const char *s, bool *ok)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *ok = false;
    return d;
}

static void email_send(void *state, const struct alert_delivery *msg, alert_sent_cb done, void *ctx)
{
    struct email *em = state;
    struct email_job *job = calloc(1, sizeof *job);
    bool ok = job != NULL;
    if (ok) {
        job->work.data = job;
        job->url = dup_or_null(em->smtp_url, &ok);
        job->from = dup_or_null(em->from, &ok);
        job->username = dup_or_null(em->username, &ok);
        job->password = dup_or_null(em->password, &ok);
        job->ca_file = dup_or_null(em->ca_file, &ok);
        job->mail = email_message(em->from, (const char *const *)em->to, em->n_to, msg);
        job->to = calloc(em->n_to, sizeof *job->to);
        ok = ok && job->mail && job->to;
        for (size_t i = 0; ok && i < em->n_to; i++, job->n_to++)
            job->to[i] = dup_or_null(em->to[i], &ok);
        job->plain = em->plain;
        job->timeout_ms = (long)em->timeout_ms;
        job->done = done;
        job->ctx = ctx;
    }
    if (!ok || uv_queue_work(em->loop, &job->work, email_transfer, email_transferred) != 0) {
        struct alert_outcome outcome = {.result = ALERT_RETRY, .error = "email: out of memory"};
        if (job)
            email_job_free(job);
        done(&outcome, ctx);
    }
}

/* ---- the channel ------------------------------------------------------------------------- */

static void email_close(void *state)
{
    struct email *em = state;
    if (!em)
        return;
    free(em->smtp_url);
    free(em->from);
    free(em->username);
    if (em->password)
        sodium_memzero(em->password, strlen(em->password));
    free(em->password);
    free(em->ca_file);
    free(em->destination);
    for (size_t i = 0; i < em->n_to; i++)
        free(em->to[i]);
    free(em->to);
    free(em);
}

/* An address: something@something, with no spaces, brackets or line breaks. */
static bool address_valid(const char *a)
{
    const char *at = strchr(a, '@');
    return at && at != a && at[1] && strlen(a) < 255 && !strpbrk(a, " <>\r\n,;\"");
}

static int email_check(const struct alert_channel_config *cfg, char *err, size_t errlen)
{
    const char *url = alert_channel_text(cfg, "smtp_url"), *from = alert_channel_text(cfg, "from");
    const char *tls = alert_channel_text(cfg, "tls");
    const struct alert_channel_field *to = alert_channel_field(cfg, "to");
    if (!url || (strncmp(url, "smtp://", 7) && strncmp(url, "smtps://", 8)) || strpbrk(url, " \r\n"))
        return snprintf(err, errlen, "smtp_url: expected smtp://HOST[:PORT] or smtps://HOST[:PORT]"), -1;
    if (!from || !address_valid(from))
        return snprintf(err, errlen, "from: expected an address (name@example.org), got \"%.80s\"",
                        from ? from : ""), -1;
    if (!to || to->n_items == 0 || to->n_items > EMAIL_TO_MAX)
        return snprintf(err, errlen, "to: expected 1 to %d addresses", EMAIL_TO_MAX), -1;
    for (size_t i = 0; i < to->n_items; i++)
        if (!address_valid(to->items[i]))
            return snprintf(err, errlen, "to: expected addresses (name@example.org), got \"%.80s\"",
                            to->items[i]), -1;
    if (tls && strcmp(tls, "none") && strcmp(tls, "starttls"))
        return snprintf(err, errlen, "tls: expected starttls or none, got \"%.20s\"", tls), -1;
    if (!alert_channel_text(cfg, "username") != !alert_channel_text(cfg, "password"))
        return snprintf(err, errlen, "username and password: give both, or neither"), -1;
    return 0;
}

/* The SMTP server and the account whose sending rate it limits. */
static char *email_destination_key(const struct email *em, bool *ok)
{
    if (!*ok)
        return NULL;
    const char *account = em->username ? em->username : em->from;
    size_t n = strlen(em->smtp_url) + strlen(account) + 2;
    char *key = malloc(n);
    if (key)
        snprintf(key, n, "%s %s", em->smtp_url, account);
    else
        *ok = false;
    return key;
}

static void *email_open(const struct alert_channel_config *cfg, const struct alert_channel_env *env,
                        char *err, size_t errlen)
{
    if (email_check(cfg, err, errlen) != 0)
        return NULL;
    const struct alert_channel_field *to = alert_channel_field(cfg, "to");
    const char *tls = alert_channel_text(cfg, "tls"), *timeout = alert_channel_text(cfg, "timeout");
    struct email *em = calloc(1, sizeof *em);
    bool ok = em && sodium_init() >= 0;
    if (ok) {
        em->loop = env->loop;
        em->timeout_ms = EMAIL_TIMEOUT_MS;
        em->plain = tls && !strcmp(tls, "none");
        em->smtp_url = dup_or_null(alert_channel_text(cfg, "smtp_url"), &ok);
        em->from = dup_or_null(alert_channel_text(cfg, "from"), &ok);
        em->username = dup_or_null(alert_channel_text(cfg, "username"), &ok);
        em->password = dup_or_null(alert_channel_text(cfg, "password"), &ok);
        em->ca_file = dup_or_null(alert_channel_text(cfg, "ca_file"), &ok);
        em->destination = email_destination_key(em, &ok);
        em->to = calloc(to->n_items, sizeof *em->to);
        ok = ok && em->to;
        for (size_t i = 0; ok && i < to->n_items; i++, em->n_to++)
            em->to[i] = dup_or_null(to->items[i], &ok);
    }
    if (!ok) {
        email_close(em);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (timeout && alert_timeout_ms(timeout, &em->timeout_ms) != 0) {
        email_close(em);
        snprintf(err, errlen, "timeout: expected seconds from 0.001 to 600, got \"%.20s\"", timeout);
        return NULL;
    }
    return em;
}

/* At most one mail a second per SMTP account, well under what relays accept. */
static const char *email_destination(void *state, int64_t *gap_ms)
{
    const struct email *em = state;
    *gap_ms = 1000;
    return em->destination;
}

static const struct alert_field_spec email_fields[] = {
    {"smtp_url", ALERT_FIELD_REQUIRED},
    {"from", ALERT_FIELD_REQUIRED},
    {"to", ALERT_FIELD_REQUIRED | ALERT_FIELD_LIST},
    {"username", 0},
    {"password", ALERT_FIELD_SECRET},
    {"tls", 0},
    {"ca_file", 0},
    {"timeout", 0},
};

const struct alert_channel_type alert_channel_email = {
    .name = "email",
    .fields = email_fields,
    .n_fields = sizeof email_fields / sizeof email_fields[0],
    .open = email_open,
    .send = email_send,
    .destination = email_destination,
    .digest = true,
    .close = email_close,
};
