/* test_agent_logs.c — the agent's log folder: the JSONL line writer and its crash repair,
 * rotation and the size budget, mtr file names and pruning, record ids, and the backlog's
 * offset, chunks, acknowledgement, reset and cutting (on a libuv loop's thread pool). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "agent/backlog.h"
#include "agent/logs.h"

/* ---- helpers ----------------------------------------------------------------------------------
 */

static char *make_dir(void)
{
    char tmpl[] = "/tmp/fl-agent-logs-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void remove_dir(char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 22);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 22) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void write_all(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void join(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

/* ---- the line writer --------------------------------------------------------------------------
 */

static void test_append_writes_whole_lines(void **state)
{
    char *dir = make_dir();
    char path[600], err[256];
    join(path, sizeof path, dir, "a.jsonl");
    struct jsonl *f = jsonl_open(path, NULL, err, sizeof err);
    assert_non_null(f);
    assert_int_equal(jsonl_append(f, "{\"a\":1}", 7, err, sizeof err), 0);
    char big[10000];
    memset(big, 'x', sizeof big);
    big[0] = '"';
    big[sizeof big - 1] = '"';
    assert_int_equal(jsonl_append(f, big, sizeof big, err, sizeof err), 0);
    assert_int_equal(jsonl_size(f), 8 + 10001);
    assert_int_equal(jsonl_append(f, "{\n}", 3, err, sizeof err), -1);
    assert_non_null(strstr(err, "newline"));
    jsonl_free(f);
    size_t len;
    char *text = read_all(path, &len);
    assert_int_equal(len, 8 + 10001);
    assert_memory_equal(text, "{\"a\":1}\n\"xx", 11);
    assert_int_equal(text[len - 1], '\n');
    free(text);
    remove_dir(dir);
}

struct repair_case {
    const char *before;
    const char *after;
    int64_t cut;
};

static const struct repair_case repair_cases[] = {
    {"", "", 0},
    {"{\"a\":1}\n", "{\"a\":1}\n", 0},
    {"{\"a\":1}\n{\"b\":", "{\"a\":1}\n", 5},
    {"{\"a\":1}\n{\"b\":2}\n{\"c", "{\"a\":1}\n{\"b\":2}\n", 3},
    {"{\"half", "", 6},
};

static void test_open_cuts_a_partial_last_line(void **state)
{
    char *dir = make_dir();
    char path[600], err[256];
    join(path, sizeof path, dir, "r.jsonl");
    for (size_t i = 0; i < sizeof repair_cases / sizeof repair_cases[0]; i++) {
        write_all(path, repair_cases[i].before);
        int64_t cut = -1;
        struct jsonl *f = jsonl_open(path, &cut, err, sizeof err);
        assert_non_null(f);
        assert_int_equal(cut, repair_cases[i].cut);
        assert_int_equal(jsonl_size(f), (int64_t)strlen(repair_cases[i].after));
        assert_int_equal(jsonl_append(f, "{\"new\":1}", 9, err, sizeof err), 0);
        jsonl_free(f);
        char *text = read_all(path, NULL);
        char want[200];
        snprintf(want, sizeof want, "%s{\"new\":1}\n", repair_cases[i].after);
        assert_string_equal(text, want);
        free(text);
    }
    remove_dir(dir);
}

static void test_open_repairs_a_long_partial_line(void **state)
{
    char *dir = make_dir();
    char path[600], err[256];
    join(path, sizeof path, dir, "long.jsonl");
    /* A partial line longer than the repair block, after one good line. */
    char *text = malloc(20000);
    strcpy(text, "{\"ok\":1}\n{\"x\":\"");
    memset(text + strlen(text), 'y', 15000);
    text[15 + 15000] = '\0';
    write_all(path, text);
    free(text);
    struct jsonl *f = jsonl_open(path, NULL, err, sizeof err);
    assert_non_null(f);
    assert_int_equal(jsonl_size(f), 9);
    jsonl_free(f);
    assert_int_equal(file_size(path), 9);
    remove_dir(dir);
}

static void test_open_fails_with_a_named_error(void **state)
{
    char err[256] = "";
    struct jsonl *f = jsonl_open("/nonexistent-dir-fl/x.jsonl", NULL, err, sizeof err);
    assert_null(f);
    assert_non_null(strstr(err, "/nonexistent-dir-fl/x.jsonl"));
    jsonl_free(NULL);
}

/* ---- ids, names -------------------------------------------------------------------------------
 */

static void test_ids_count_per_kind(void **state)
{
    char *dir = make_dir();
    char err[256], id[LOGS_ID_MAX];
    struct agent_logs *l = agent_logs_open(dir, 1 << 20, 1763719200123, err, sizeof err);
    assert_non_null(l);
    agent_logs_next_id(l, 'm', id, sizeof id);
    assert_string_equal(id, "m-1763719200123-1");
    agent_logs_next_id(l, 'm', id, sizeof id);
    assert_string_equal(id, "m-1763719200123-2");
    agent_logs_next_id(l, 'd', id, sizeof id);
    assert_string_equal(id, "d-1763719200123-1");
    agent_logs_next_id(l, 'm', id, sizeof id);
    assert_string_equal(id, "m-1763719200123-3");
    agent_logs_free(l);
    agent_logs_free(NULL);
    remove_dir(dir);
}

static void test_mtr_name(void **state)
{
    char name[LOGS_MTR_NAME_MAX];
    /* 2026-11-21T10:00:05.400Z */
    agent_logs_mtr_name(1795255205400, name, sizeof name);
    assert_string_equal(name, "mtr/20261121T100005.400Z.json");
}

static void test_open_creates_the_folders(void **state)
{
    char *dir = make_dir();
    char data[600], err[256], path[700];
    join(data, sizeof data, dir, "deep/data");
    struct agent_logs *l = agent_logs_open(data, 1 << 20, 1, err, sizeof err);
    assert_non_null(l);
    snprintf(path, sizeof path, "%s/logs/mtr", data);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(path, sizeof path, "%s/logs/metrics.jsonl", data);
    assert_int_equal(file_size(path), 0);
    snprintf(path, sizeof path, "%s/logs", data);
    assert_string_equal(agent_logs_dir(l), path);
    agent_logs_free(l);
    remove_dir(dir);
}

/* ---- rotation and the budget ------------------------------------------------------------------
 */

static void test_rotation_keeps_the_total_under_the_budget(void **state)
{
    char *dir = make_dir();
    char err[256], line[300];
    const int64_t budget = 64 * 1024;
    struct agent_logs *l = agent_logs_open(dir, budget, 1, err, sizeof err);
    assert_non_null(l);
    char mtr_json[3000];
    memset(mtr_json, ' ', sizeof mtr_json);
    mtr_json[0] = '{';
    mtr_json[sizeof mtr_json - 1] = '}';
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(line, sizeof line,
                         "{\"id\":\"m-1-%d\",\"ok\":false,\"error\":\"timeout after 5000 ms\","
                         "\"pad\":\"....................................................\"}",
                         i);
        assert_int_equal(agent_logs_append(l, LOGS_METRICS, line, (size_t)n, err, sizeof err), 0);
        if (i % 10 == 0) {
            assert_int_equal(
                agent_logs_append(l, LOGS_DIAGNOSTICS, line, (size_t)n, err, sizeof err), 0);
            char name[LOGS_MTR_NAME_MAX];
            agent_logs_mtr_name(1795255205400 + i, name, sizeof name);
            assert_int_equal(
                agent_logs_write_mtr(l, name, mtr_json, sizeof mtr_json, err, sizeof err), 0);
        }
        agent_logs_enforce(l, 5000);
        assert_true(agent_logs_total(l) + 5000 <= budget);
    }
    /* What the handle counts is what is on disk. */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "du -sb --apparent-size '%s/logs' | cut -f1 > '%s/du'", dir, dir);
    assert_int_equal(system(cmd), 0);
    char du_path[700];
    snprintf(du_path, sizeof du_path, "%s/du", dir);
    char *du = read_all(du_path, NULL);
    int64_t on_disk = atoll(du);
    free(du);
    /* du counts the directories themselves too (a few KiB). */
    assert_true(on_disk <= budget + 3 * 4096);
    assert_true(on_disk >= agent_logs_total(l));
    /* metrics rotated: .1 exists and holds whole lines of the older records. */
    char path[700];
    snprintf(path, sizeof path, "%s/logs/metrics.jsonl.1", dir);
    size_t len;
    char *older = read_all(path, &len);
    assert_non_null(older);
    assert_true(len > 0);
    assert_int_equal(older[len - 1], '\n');
    assert_true(len <= (size_t)(budget * LOGS_STREAM_SHARE_PCT / 100));
    free(older);
    agent_logs_free(l);
    remove_dir(dir);
}

static void test_enforce_drops_oldest_mtr_first(void **state)
{
    char *dir = make_dir();
    char err[256], path[700];
    struct agent_logs *l = agent_logs_open(dir, 10000, 1, err, sizeof err);
    assert_non_null(l);
    char json[2000];
    memset(json, ' ', sizeof json);
    /* Written out of order: names, not write order, say which is oldest. */
    const int64_t times[] = {1795255205003, 1795255205001, 1795255205004, 1795255205002};
    for (int i = 0; i < 4; i++) {
        char name[LOGS_MTR_NAME_MAX];
        agent_logs_mtr_name(times[i], name, sizeof name);
        assert_int_equal(agent_logs_write_mtr(l, name, json, sizeof json, err, sizeof err), 0);
    }
    assert_int_equal(agent_logs_total(l), 8000);
    agent_logs_free(l);
    /* Re-open: the scan finds them; budget 10000 with 5000 bytes elsewhere → two must go. */
    l = agent_logs_open(dir, 10000, 2, err, sizeof err);
    assert_non_null(l);
    assert_int_equal(agent_logs_total(l), 8000);
    assert_int_equal(agent_logs_enforce(l, 5000), 2);
    const char *gone[] = {"20261121T100005.001Z", "20261121T100005.002Z"};
    const char *kept[] = {"20261121T100005.003Z", "20261121T100005.004Z"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/logs/mtr/%s.json", dir, gone[i]);
        assert_int_equal(file_size(path), -1);
        snprintf(path, sizeof path, "%s/logs/mtr/%s.json", dir, kept[i]);
        assert_int_equal(file_size(path), 2000);
    }
    assert_int_equal(agent_logs_enforce(l, 5000), 0);
    agent_logs_free(l);
    remove_dir(dir);
}

static void test_enforce_drops_rotated_files_when_no_mtr_left(void **state)
{
    char *dir = make_dir();
    char err[256], path[700];
    snprintf(path, sizeof path, "%s/logs", dir);
    mkdir(path, 0755);
    /* A metrics file larger than its share of a 10 KB budget: rotated at open. */
    char *big = malloc(4001);
    for (int i = 0; i < 40; i++)
        memcpy(big + i * 100,
               "{\"pad\":\"..........................................................."
               "..............................\"}\n",
               100);
    big[4000] = '\0';
    snprintf(path, sizeof path, "%s/logs/metrics.jsonl", dir);
    write_all(path, big);
    free(big);
    struct agent_logs *l = agent_logs_open(dir, 10000, 1, err, sizeof err);
    assert_non_null(l);
    snprintf(path, sizeof path, "%s/logs/metrics.jsonl.1", dir);
    assert_int_equal(file_size(path), 4000);
    assert_int_equal(agent_logs_total(l), 4000);
    assert_int_equal(agent_logs_enforce(l, 7000), 1);
    assert_int_equal(file_size(path), -1);
    assert_int_equal(agent_logs_total(l), 0);
    agent_logs_free(l);
    remove_dir(dir);
}

static void test_mtr_write_leaves_no_temporary_file(void **state)
{
    char *dir = make_dir();
    char err[256], path[700];
    struct agent_logs *l = agent_logs_open(dir, 1 << 20, 1, err, sizeof err);
    assert_non_null(l);
    snprintf(path, sizeof path, "%s/logs/mtr/stale.json.tmp", dir);
    write_all(path, "{");
    agent_logs_free(l);
    l = agent_logs_open(dir, 1 << 20, 1, err, sizeof err);
    assert_int_equal(file_size(path), -1); /* a crash's leftover is removed at open */
    assert_int_equal(
        agent_logs_write_mtr(l, "mtr/20261121T100005.400Z.json", "{\"a\":1}", 7, err, sizeof err),
        0);
    snprintf(path, sizeof path, "%s/logs/mtr/20261121T100005.400Z.json", dir);
    char *text = read_all(path, NULL);
    assert_string_equal(text, "{\"a\":1}");
    free(text);
    snprintf(path, sizeof path, "%s/logs/mtr/20261121T100005.400Z.json.tmp", dir);
    assert_int_equal(file_size(path), -1);
    agent_logs_free(l);
    remove_dir(dir);
}

/* ---- the backlog ------------------------------------------------------------------------------
 */

static void backlog_add(struct backlog *b, const char *kind, int i)
{
    char rec[200], err[256];
    int n = snprintf(rec, sizeof rec, "{\"id\":\"%c-1-%d\",\"time\":\"t\"}", kind[0], i);
    assert_int_equal(backlog_append(b, kind, rec, (size_t)n, err, sizeof err), 0);
}

/* The ids of a chunk's records, in order, as "m-1-0,d-1-1,...". */
static void chunk_ids(const struct backlog_chunk *c, char *buf, size_t len)
{
    json_error_t jerr;
    json_t *body = json_loadb(c->body, c->body_len, 0, &jerr);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "name")), "box-1");
    json_t *records = json_object_get(body, "records");
    assert_int_equal(json_array_size(records), (size_t)c->records);
    buf[0] = '\0';
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r)
    {
        const char *kind = json_string_value(json_object_get(r, "kind"));
        assert_non_null(kind);
        assert_int_equal(kind[0], json_string_value(json_object_get(r, "id"))[0]);
        strncat(buf, i ? "," : "", len - strlen(buf) - 1);
        strncat(buf, json_string_value(json_object_get(r, "id")), len - strlen(buf) - 1);
    }
    json_decref(body);
}

/* A refused record: the ones before it go first (1), then it is set aside with its reason (0)
 * and the offset moves past it; a wrong id or index changes nothing (-1). */
static void test_backlog_set_aside(void **state)
{
    char *dir = make_dir();
    char err[256], ids[200], path[700];
    struct backlog *b = backlog_open(dir, err, sizeof err);
    assert_non_null(b);
    for (int i = 0; i < 5; i++)
        backlog_add(b, "metric", i);
    struct backlog_chunk c;
    assert_int_equal(backlog_next_chunk(b, "box-1", 100, BACKLOG_CHUNK_BYTES, &c, err, sizeof err),
                     0);
    assert_int_equal(backlog_set_aside(b, &c, 2, "m-1-2", "bad", err, sizeof err), 1);
    assert_int_equal(backlog_offset(b), 0);
    assert_int_equal(backlog_set_aside(b, &c, 2, "m-1-3", "bad", err, sizeof err), -1);
    assert_string_equal(err, "backlog: the server named id \"m-1-3\" for record 2, which has another");
    assert_int_equal(backlog_set_aside(b, &c, 5, NULL, "bad", err, sizeof err), -1);
    backlog_chunk_free(&c);
    /* The two before it, then it alone at the front. */
    assert_int_equal(backlog_next_chunk(b, "box-1", 2, BACKLOG_CHUNK_BYTES, &c, err, sizeof err), 0);
    assert_int_equal(backlog_ack(b, &c, err, sizeof err), 0);
    backlog_chunk_free(&c);
    assert_int_equal(backlog_next_chunk(b, "box-1", 100, BACKLOG_CHUNK_BYTES, &c, err, sizeof err),
                     0);
    assert_int_equal(backlog_set_aside(b, &c, 0, "m-1-2", "records[0].time: expected a time", err,
                                       sizeof err),
                     0);
    assert_int_equal(backlog_set_aside(b, &c, 0, "m-1-2", "again", err, sizeof err), 1);
    backlog_chunk_free(&c);
    assert_int_equal(backlog_next_chunk(b, "box-1", 100, BACKLOG_CHUNK_BYTES, &c, err, sizeof err),
                     0);
    chunk_ids(&c, ids, sizeof ids);
    assert_string_equal(ids, "m-1-3,m-1-4");
    assert_int_equal(backlog_ack(b, &c, err, sizeof err), 0);
    backlog_chunk_free(&c);
    assert_false(backlog_pending(b));
    snprintf(path, sizeof path, "%s/backlog.rejected.jsonl", dir);
    char *text = read_all(path, NULL);
    json_t *line = json_loads(text, 0, NULL);
    assert_non_null(line);
    assert_string_equal(json_string_value(json_object_get(line, "error")),
                        "records[0].time: expected a time");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(line, "record"), "id")), "m-1-2");
    assert_non_null(json_string_value(json_object_get(line, "time")));
    json_decref(line);
    free(text);
    backlog_free(b);
    remove_dir(dir);
}

/* What a cut's callback saw. */
struct cut_seen {
    int calls;
    struct backlog_cut_result result;
};

static void on_cut(const struct backlog_cut_result *r, void *ctx)
{
    struct cut_seen *seen = ctx;
    seen->calls++;
    seen->result = *r;
}

/* Cuts b to cap on a loop of its own and waits for the end: the cut's rc, or
 * BACKLOG_CUT_NOT_NEEDED. */
static int cut_on_loop(struct backlog *b, int64_t cap, int *dropped_metrics,
                       int *dropped_diagnostics)
{
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct cut_seen seen = {0};
    char err[256];
    int rc = backlog_cut_start(b, &loop, cap, on_cut, &seen, err, sizeof err);
    *dropped_metrics = *dropped_diagnostics = 0;
    if (rc == 0) {
        assert_true(backlog_cutting(b));
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_int_equal(seen.calls, 1);
        assert_false(backlog_cutting(b));
        rc = seen.result.rc;
        *dropped_metrics = seen.result.dropped_metrics;
        *dropped_diagnostics = seen.result.dropped_diagnostics;
    }
    assert_int_equal(uv_loop_close(&loop), 0);
    return rc;
}

static void test_backlog_line_has_kind_first(void **state)
{
    char *dir = make_dir();
    char err[256], path[700];
    struct backlog *b = backlog_open(dir, err, sizeof err);
    assert_non_null(b);
    backlog_add(b, "metric", 1);
    assert_int_equal(backlog_append(b, "diagnostic", "{}", 2, err, sizeof err), 0);
    assert_int_equal(backlog_append(b, "metric", "[1]", 3, err, sizeof err), -1);
    backlog_free(b);
    snprintf(path, sizeof path, "%s/backlog.jsonl", dir);
    char *text = read_all(path, NULL);
    assert_string_equal(text, "{\"kind\":\"metric\",\"id\":\"m-1-1\",\"time\":\"t\"}\n"
                              "{\"kind\":\"diagnostic\"}\n");
    free(text);
    backlog_free(NULL);
    remove_dir(dir);
}

static void test_backlog_chunks_ack_and_reset(void **state)
{
    char *dir = make_dir();
    char err[256], ids[4000], path[700];
    struct backlog *b = backlog_open(dir, err, sizeof err);
    assert_non_null(b);
    for (int i = 0; i < 250; i++)
        backlog_add(b, i % 50 == 7 ? "diagnostic" : "metric", i);
    assert_true(backlog_pending(b));
    struct backlog_chunk c;
    assert_int_equal(backlog_next_chunk(b, "box-1", 100, BACKLOG_CHUNK_BYTES, &c, err, sizeof err),
                     0);
    assert_int_equal(c.records, 100);
    chunk_ids(&c, ids, sizeof ids);
    assert_int_equal(strncmp(ids, "m-1-0,m-1-1,m-1-2,m-1-3,m-1-4,m-1-5,m-1-6,d-1-7,m-1-8", 53), 0);
    /* Not acknowledged: the same chunk comes again. */
    struct backlog_chunk again;
    assert_int_equal(
        backlog_next_chunk(b, "box-1", 100, BACKLOG_CHUNK_BYTES, &again, err, sizeof err), 0);
    assert_int_equal(again.end, c.end);
    backlog_chunk_free(&again);
    assert_int_equal(backlog_ack(b, &c, err, sizeof err), 0);
    assert_int_equal(backlog_offset(b), c.end);
    /* The same answer twice (a retried request) changes nothing more. */
    assert_int_equal(backlog_ack(b, &c, err, sizeof err), 1);
    backlog_chunk_free(&c);
    snprintf(path, sizeof path, "%s/backlog.offset", dir);
    char *text = read_all(path, NULL);
    assert_int_equal(atoll(text), backlog_offset(b));
    free(text);

    /* Byte limit: small chunks, but never an empty one. */
    assert_int_equal(backlog_next_chunk(b, "box-1", 100, 200, &c, err, sizeof err), 0);
    assert_int_equal(c.records, 3);
    assert_true(c.body_len <= 200);
    chunk_ids(&c, ids, sizeof ids);
    assert_string_equal(ids, "m-1-100,m-1-101,m-1-102");
    assert_int_equal(backlog_ack(b, &c, err, sizeof err), 0);
    backlog_chunk_free(&c);
    assert_int_equal(backlog_next_chunk(b, "box-1", 100, 10, &c, err, sizeof err), 0);
    assert_int_equal(c.records, 1);
    backlog_chunk_free(&c);

    /* A restart in the middle: the offset is read back. */
    int64_t offset = backlog_offset(b);
    backlog_free(b);
    b = backlog_open(dir, err, sizeof err);
    assert_int_equal(backlog_offset(b), offset);
    int total = 103;
    while (backlog_pending(b)) {
        assert_int_equal(
            backlog_next_chunk(b, "box-1", 100, BACKLOG_CHUNK_BYTES, &c, err, sizeof err), 0);
        total += c.records;
        assert_int_equal(backlog_ack(b, &c, err, sizeof err), 0);
        backlog_chunk_free(&c);
    }
    assert_int_equal(total, 250);
    /* Everything acknowledged: emptied and reset. */
    assert_int_equal(backlog_size(b), 0);
    assert_int_equal(backlog_offset(b), 0);
    snprintf(path, sizeof path, "%s/backlog.jsonl", dir);
    assert_int_equal(file_size(path), 0);
    assert_int_equal(backlog_next_chunk(b, "box-1", 100, BACKLOG_CHUNK_BYTES, &c, err, sizeof err),
                     0);
    assert_int_equal(c.records, 0);
    assert_null(c.body);
    backlog_free(b);
    remove_dir(dir);
}

struct offset_case {
    const char *text;
    int64_t expected; /* -1: the real end of the first line */
};

static void test_backlog_untrusted_offset_counts_as_zero(void **state)
{
    const struct offset_case cases[] = {
        {"", 0}, {"abc", 0}, {"-5", 0}, {"99999", 0}, {"3", 0}, {"-1", 0}, {"EOL", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *dir = make_dir();
        char err[256], path[700];
        struct backlog *b = backlog_open(dir, err, sizeof err);
        backlog_add(b, "metric", 1);
        int64_t first = backlog_size(b);
        backlog_add(b, "metric", 2);
        backlog_free(b);
        snprintf(path, sizeof path, "%s/backlog.offset", dir);
        char text[32];
        if (cases[i].expected == -1)
            snprintf(text, sizeof text, "%lld\n", (long long)first);
        else
            snprintf(text, sizeof text, "%s", cases[i].text);
        write_all(path, text);
        b = backlog_open(dir, err, sizeof err);
        assert_int_equal(backlog_offset(b), cases[i].expected == -1 ? first : 0);
        backlog_free(b);
        remove_dir(dir);
    }
}

static void test_backlog_all_acknowledged_before_a_crash_is_reset(void **state)
{
    char *dir = make_dir();
    char err[256], path[700];
    struct backlog *b = backlog_open(dir, err, sizeof err);
    backlog_add(b, "metric", 1);
    int64_t size = backlog_size(b);
    backlog_free(b);
    snprintf(path, sizeof path, "%s/backlog.offset", dir);
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)size);
    write_all(path, text);
    b = backlog_open(dir, err, sizeof err);
    assert_false(backlog_pending(b));
    assert_int_equal(backlog_size(b), 0);
    assert_int_equal(backlog_offset(b), 0);
    backlog_free(b);
    remove_dir(dir);
}

static void test_backlog_skips_lines_that_are_not_records(void **state)
{
    char *dir = make_dir();
    char err[256], path[700], ids[200];
    snprintf(path, sizeof path, "%s/backlog.jsonl", dir);
    write_all(path, "garbage\n{\"kind\":\"metric\",\"id\":\"m-1-1\"}\n[1]\n{\"kind\":\"metric\","
                    "\"id\":\"m-1-2\"}\n{\"cut");
    struct backlog *b = backlog_open(dir, err, sizeof err);
    struct backlog_chunk c;
    assert_int_equal(backlog_next_chunk(b, "box-1", 100, BACKLOG_CHUNK_BYTES, &c, err, sizeof err),
                     0);
    assert_int_equal(c.records, 2);
    assert_int_equal(c.skipped, 2);
    chunk_ids(&c, ids, sizeof ids);
    assert_string_equal(ids, "m-1-1,m-1-2");
    backlog_chunk_free(&c);
    backlog_free(b);
    remove_dir(dir);
}

static void test_backlog_cut_drops_oldest_metrics_first(void **state)
{
    char *dir = make_dir();
    char err[256], ids[8000];
    struct backlog *b = backlog_open(dir, err, sizeof err);
    /* 10 acknowledged, then 3 diagnostics among 200 metrics. */
    for (int i = 0; i < 210; i++)
        backlog_add(b, i == 20 || i == 100 || i == 209 ? "diagnostic" : "metric", i);
    struct backlog_chunk c;
    assert_int_equal(backlog_next_chunk(b, "box-1", 10, BACKLOG_CHUNK_BYTES, &c, err, sizeof err),
                     0);
    assert_int_equal(backlog_ack(b, &c, err, sizeof err), 0);
    /* A chunk read before the cut must not move the offset afterwards. */
    struct backlog_chunk stale;
    assert_int_equal(
        backlog_next_chunk(b, "box-1", 10, BACKLOG_CHUNK_BYTES, &stale, err, sizeof err), 0);
    int64_t line = backlog_size(b) / 210;
    int64_t cap = line * 100;
    int metrics = -1, diags = -1;
    assert_int_equal(cut_on_loop(b, cap, &metrics, &diags), 0);
    assert_true(backlog_size(b) <= cap * 3 / 4);
    assert_int_equal(diags, 0);
    assert_true(metrics > 100);
    assert_int_equal(backlog_offset(b), 0);
    assert_int_equal(backlog_ack(b, &stale, err, sizeof err), 1);
    assert_int_equal(backlog_offset(b), 0);
    backlog_chunk_free(&stale);
    backlog_chunk_free(&c);
    /* What is left: the three diagnostics and the newest metrics, in order. */
    assert_int_equal(backlog_next_chunk(b, "box-1", 1000, 1 << 20, &c, err, sizeof err), 0);
    chunk_ids(&c, ids, sizeof ids);
    assert_int_equal(c.records, 200 - metrics);
    assert_int_equal(strncmp(ids, "d-1-20,d-1-100,m-1-", 19), 0);
    char *last_metrics = strstr(ids, "m-1-208,d-1-209");
    assert_non_null(last_metrics);
    backlog_chunk_free(&c);
    /* Under the cap: nothing to do. */
    assert_int_equal(cut_on_loop(b, cap, &metrics, &diags), BACKLOG_CUT_NOT_NEEDED);
    backlog_free(b);
    remove_dir(dir);
}

static void test_backlog_cut_drops_diagnostics_when_only_they_are_left(void **state)
{
    char *dir = make_dir();
    char err[256];
    struct backlog *b = backlog_open(dir, err, sizeof err);
    for (int i = 0; i < 20; i++)
        backlog_add(b, i < 2 ? "metric" : "diagnostic", i);
    int64_t line = backlog_size(b) / 20;
    int metrics, diags;
    assert_int_equal(cut_on_loop(b, line * 8, &metrics, &diags), 0);
    assert_int_equal(metrics, 2);
    assert_true(diags >= 12);
    assert_true(backlog_size(b) <= line * 6 + 20);
    backlog_free(b);
    remove_dir(dir);
}

/* A large backlog of equal-sized lines, record i a diagnostic when i % 1000 == 500 and a metric
 * otherwise: written straight to <dir>/backlog.jsonl. Returns the line length. */
#define BIG_RECORDS 50000
#define BIG_LINE 200

static void big_line(int i, char *buf)
{
    bool diag = i % 1000 == 500;
    int n = snprintf(buf, BIG_LINE + 1, "{\"kind\":\"%s\",\"id\":\"%c-1-%07d\",\"pad\":\"",
                     diag ? "diagnostic" : "metric", diag ? 'd' : 'm', i);
    memset(buf + n, 'x', (size_t)(BIG_LINE - n - 3));
    memcpy(buf + BIG_LINE - 3, "\"}\n", 4);
}

static char *write_big_backlog(const char *dir)
{
    char path[700];
    snprintf(path, sizeof path, "%s/backlog.jsonl", dir);
    char *text = malloc((size_t)BIG_RECORDS * BIG_LINE + 1);
    assert_non_null(text);
    for (int i = 0; i < BIG_RECORDS; i++)
        big_line(i, text + (size_t)i * BIG_LINE);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, (size_t)BIG_RECORDS * BIG_LINE, f),
                     (size_t)BIG_RECORDS * BIG_LINE);
    fclose(f);
    return text;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    int64_t size = file_size(path);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, (size_t)size, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* The cut runs on the thread pool and ends in its callback on the loop: meanwhile records are
 * still appended (and kept), no chunk is read, no acknowledgement moves the offset, and a
 * second cut is refused. The new file holds exactly what the rules keep, in order. */
static void test_backlog_cut_runs_on_the_thread_pool(void **state)
{
    char *dir = make_dir();
    char err[256], path[700], line[BIG_LINE + 1];
    char *old = write_big_backlog(dir);
    struct backlog *b = backlog_open(dir, err, sizeof err);
    assert_non_null(b);
    /* The first 100 records acknowledged; a chunk of the next ones is out for upload. */
    struct backlog_chunk c, in_flight;
    assert_int_equal(backlog_next_chunk(b, "box-1", 100, 1 << 20, &c, err, sizeof err), 0);
    assert_int_equal(backlog_ack(b, &c, err, sizeof err), 0);
    backlog_chunk_free(&c);
    assert_int_equal(backlog_next_chunk(b, "box-1", 100, 1 << 20, &in_flight, err, sizeof err), 0);
    assert_int_equal(in_flight.records, 100);

    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct cut_seen seen = {0}, second = {0};
    int64_t cap = (int64_t)BIG_RECORDS * BIG_LINE / 2;
    assert_int_equal(backlog_cut_start(b, &loop, cap, on_cut, &seen, err, sizeof err), 0);
    assert_true(backlog_cutting(b));
    assert_int_equal(backlog_cut_start(b, &loop, cap, on_cut, &second, err, sizeof err),
                     BACKLOG_CUT_BUSY);
    for (int i = 0; i < 3; i++)
        backlog_add(b, "metric", 900000 + i);
    assert_int_equal(backlog_next_chunk(b, "box-1", 100, 1 << 20, &c, err, sizeof err), 0);
    assert_int_equal(c.records, 0);
    assert_int_equal(backlog_ack(b, &in_flight, err, sizeof err), 1);
    assert_int_equal(backlog_offset(b), 100 * BIG_LINE);
    assert_int_equal(seen.calls, 0); /* the result comes only through the loop */

    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(second.calls, 0);
    assert_int_equal(seen.result.rc, 0);
    assert_int_equal(seen.result.size_before, (int64_t)BIG_RECORDS * BIG_LINE);
    assert_false(backlog_cutting(b));
    assert_int_equal(uv_loop_close(&loop), 0);

    /* Expected: the pending records without the oldest metrics that free enough bytes to get
     * under 3/4 of the cap (diagnostics all kept), then the three appended while it ran. */
    int pending = BIG_RECORDS - 100;
    int64_t need = (int64_t)pending * BIG_LINE - cap * 3 / 4;
    int drop = (int)((need + BIG_LINE - 1) / BIG_LINE);
    assert_int_equal(seen.result.dropped_metrics, drop);
    assert_int_equal(seen.result.dropped_diagnostics, 0);
    char *want = malloc((size_t)BIG_RECORDS * BIG_LINE + 1);
    size_t want_len = 0;
    int metrics_seen = 0;
    for (int i = 100; i < BIG_RECORDS; i++) {
        big_line(i, line);
        if (line[9] == 'm' && metrics_seen++ < drop)
            continue;
        memcpy(want + want_len, line, BIG_LINE);
        want_len += BIG_LINE;
    }
    for (int i = 0; i < 3; i++)
        want_len +=
            (size_t)sprintf(want + want_len,
                            "{\"kind\":\"metric\",\"id\":\"m-1-%d\",\"time\":\"t\"}\n", 900000 + i);
    size_t got_len;
    snprintf(path, sizeof path, "%s/backlog.jsonl", dir);
    char *got = read_file(path, &got_len);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    assert_int_equal(backlog_size(b), (int64_t)want_len);
    assert_int_equal(backlog_offset(b), 0);
    snprintf(path, sizeof path, "%s/backlog.offset", dir);
    char *offset = read_all(path, NULL);
    assert_string_equal(offset, "0\n");
    snprintf(path, sizeof path, "%s/backlog.jsonl.tmp", dir);
    assert_int_equal(file_size(path), -1);

    /* The chunk that was out during the cut is stale; uploads start again from the new file. */
    assert_int_equal(backlog_ack(b, &in_flight, err, sizeof err), 1);
    backlog_chunk_free(&in_flight);
    assert_int_equal(backlog_next_chunk(b, "box-1", 1, 1 << 20, &c, err, sizeof err), 0);
    assert_int_equal(c.start, 0);
    assert_int_equal(c.records, 1);
    assert_int_equal(
        memcmp(c.body + strlen("{\"name\":\"box-1\",\"records\":["), want, BIG_LINE - 1), 0);
    backlog_chunk_free(&c);
    free(offset);
    free(got);
    free(want);
    free(old);
    backlog_free(b);
    remove_dir(dir);
}

/* backlog_free while a cut runs abandons it safely: no callback, the file as it was, no
 * temporary file left once the loop has run. */
static void test_backlog_free_abandons_a_running_cut(void **state)
{
    char *dir = make_dir();
    char err[256], path[700];
    char *old = write_big_backlog(dir);
    struct backlog *b = backlog_open(dir, err, sizeof err);
    assert_non_null(b);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct cut_seen seen = {0};
    assert_int_equal(backlog_cut_start(b, &loop, 1000, on_cut, &seen, err, sizeof err), 0);
    backlog_free(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(seen.calls, 0);
    size_t len;
    snprintf(path, sizeof path, "%s/backlog.jsonl", dir);
    char *now = read_file(path, &len);
    assert_int_equal(len, (size_t)BIG_RECORDS * BIG_LINE);
    assert_memory_equal(now, old, len);
    snprintf(path, sizeof path, "%s/backlog.jsonl.tmp", dir);
    assert_int_equal(file_size(path), -1);
    free(now);
    free(old);
    remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_writes_whole_lines),
        cmocka_unit_test(test_open_cuts_a_partial_last_line),
        cmocka_unit_test(test_open_repairs_a_long_partial_line),
        cmocka_unit_test(test_open_fails_with_a_named_error),
        cmocka_unit_test(test_ids_count_per_kind),
        cmocka_unit_test(test_mtr_name),
        cmocka_unit_test(test_open_creates_the_folders),
        cmocka_unit_test(test_rotation_keeps_the_total_under_the_budget),
        cmocka_unit_test(test_enforce_drops_oldest_mtr_first),
        cmocka_unit_test(test_enforce_drops_rotated_files_when_no_mtr_left),
        cmocka_unit_test(test_mtr_write_leaves_no_temporary_file),
        cmocka_unit_test(test_backlog_line_has_kind_first),
        cmocka_unit_test(test_backlog_chunks_ack_and_reset),
        cmocka_unit_test(test_backlog_set_aside),
        cmocka_unit_test(test_backlog_untrusted_offset_counts_as_zero),
        cmocka_unit_test(test_backlog_all_acknowledged_before_a_crash_is_reset),
        cmocka_unit_test(test_backlog_skips_lines_that_are_not_records),
        cmocka_unit_test(test_backlog_cut_drops_oldest_metrics_first),
        cmocka_unit_test(test_backlog_cut_drops_diagnostics_when_only_they_are_left),
        cmocka_unit_test(test_backlog_cut_runs_on_the_thread_pool),
        cmocka_unit_test(test_backlog_free_abandons_a_running_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
