/* test_format.c — the DOWN, UP and GPU texts and the incident texts, exactly as people will read
 * them. Each row is a worker or an incident, the times involved and the expected text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alert/format.h"

#define T0 1795255332000LL /* 2026-11-21 10:02:12 UTC */

enum kind { DOWN, UP, GPUS };

struct format_case {
    const char *what;
    enum kind kind;
    struct worker_record worker;
    int64_t now_ms;
    int64_t extra_ms; /* DOWN: fail timeout; UP: down since; GPUS: the count before */
    const char *expected;
};

static const struct format_case cases[] = {
    {"down with GPUs",
     DOWN,
     {.name = "brickbox-43", .ip = "203.0.113.7", .gpus = 4, .last_seen_ms = T0},
     T0 + 180000,
     180000,
     "🔴 brickbox-43 is DOWN\nNo heartbeat for 3m 00s (limit 180s).\n"
     "Last seen: 2026-11-21 10:02:12 UTC from 203.0.113.7\nGPUs: 4"},
    {"down without GPUs",
     DOWN,
     {.name = "db-1", .ip = "2001:db8::1", .last_seen_ms = T0},
     T0 + 45500,
     30000,
     "🔴 db-1 is DOWN\nNo heartbeat for 45s (limit 30s).\n"
     "Last seen: 2026-11-21 10:02:12 UTC from 2001:db8::1"},
    {"down with site",
     DOWN,
     {.name = "gpu-7", .ip = "198.51.100.2", .site = "fra1", .gpus = 8, .last_seen_ms = T0},
     T0 + 3 * 3600000 + 4 * 60000,
     180000,
     "🔴 gpu-7 is DOWN\nNo heartbeat for 3h 04m (limit 180s).\n"
     "Last seen: 2026-11-21 10:02:12 UTC from 198.51.100.2\nSite: fra1\nGPUs: 8"},
    {"down, fractional limit, no ip",
     DOWN,
     {.name = "edge", .last_seen_ms = T0},
     T0 + 5000,
     2500,
     "🔴 edge is DOWN\nNo heartbeat for 5s (limit 2.5s).\nLast seen: 2026-11-21 10:02:12 UTC"},
    {"down, never seen",
     DOWN,
     {.name = "new-box"},
     T0,
     180000,
     "🔴 new-box is DOWN\nNo heartbeat yet (limit 180s).\nLast seen: never"},
    {"down, clock behind last seen",
     DOWN,
     {.name = "skew", .ip = "192.0.2.1", .last_seen_ms = T0},
     T0 - 1000,
     180000,
     "🔴 skew is DOWN\nNo heartbeat for 0s (limit 180s).\n"
     "Last seen: 2026-11-21 10:02:12 UTC from 192.0.2.1"},
    {"up",
     UP,
     {.name = "brickbox-43", .ip = "203.0.113.7", .gpus = 4},
     T0 + 180000,
     T0 - 132000,
     "🟢 brickbox-43 is UP\nBack at 2026-11-21 10:05:12 UTC from 203.0.113.7, after 5m 12s "
     "down."},
    {"up with site",
     UP,
     {.name = "gpu-7", .ip = "198.51.100.2", .site = "fra1"},
     T0 + 180000,
     T0 - 2 * 86400000LL - 3 * 3600000LL,
     "🟢 gpu-7 is UP\nBack at 2026-11-21 10:05:12 UTC from 198.51.100.2, after 2d 03h down.\n"
     "Site: fra1"},
    {"down, GPU check failed",
     DOWN,
     {.name = "gpu-9", .ip = "192.0.2.9", .gpus = WORKER_GPUS_FAILED, .last_seen_ms = T0},
     T0 + 60000,
     30000,
     "🔴 gpu-9 is DOWN\nNo heartbeat for 1m 00s (limit 30s).\n"
     "Last seen: 2026-11-21 10:02:12 UTC from 192.0.2.9\nGPUs: the GPU check failed"},
    {"a GPU lost",
     GPUS,
     {.name = "brickbox-43", .ip = "203.0.113.7", .gpus = 3},
     T0,
     4,
     "🟠 brickbox-43 lost a GPU: 4 → 3\nAt 2026-11-21 10:02:12 UTC from 203.0.113.7."},
    {"two GPUs lost",
     GPUS,
     {.name = "brickbox-43", .ip = "203.0.113.7", .gpus = 2},
     T0,
     4,
     "🟠 brickbox-43 lost 2 GPUs: 4 → 2\nAt 2026-11-21 10:02:12 UTC from 203.0.113.7."},
    {"the GPU check failing",
     GPUS,
     {.name = "gpu-7", .ip = "198.51.100.2", .site = "fra1", .gpus = WORKER_GPUS_FAILED},
     T0,
     8,
     "🟠 gpu-7 lost its GPUs: the GPU check failed (8 → GPU_ERR)\n"
     "At 2026-11-21 10:02:12 UTC from 198.51.100.2.\nSite: fra1"},
    {"a GPU back",
     GPUS,
     {.name = "brickbox-43", .ip = "203.0.113.7", .gpus = 4},
     T0,
     3,
     "🟢 brickbox-43 has its GPU back: 3 → 4\nAt 2026-11-21 10:02:12 UTC from 203.0.113.7."},
    {"the GPU check working again, no ip",
     GPUS,
     {.name = "edge", .gpus = 4},
     T0,
     WORKER_GPUS_FAILED,
     "🟢 edge has its GPUs back: GPU_ERR → 4\nAt 2026-11-21 10:02:12 UTC."},
    {"up, down time unknown, no ip",
     UP,
     {.name = "edge"},
     T0,
     0,
     "🟢 edge is UP\nBack at 2026-11-21 10:02:12 UTC."},
};

static void render(const struct format_case *c, char *buf, size_t buflen)
{
    if (c->kind == DOWN)
        alert_format_down(&c->worker, c->now_ms, c->extra_ms, buf, buflen);
    else if (c->kind == UP)
        alert_format_up(&c->worker, c->now_ms, c->extra_ms, buf, buflen);
    else
        alert_format_gpus(&c->worker, (int)c->extra_ms, c->now_ms, buf, buflen);
}

static void test_texts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[1024];
        render(&cases[i], buf, sizeof buf);
        if (strcmp(buf, cases[i].expected) != 0)
            fail_msg("%s:\n got: %s\nwant: %s", cases[i].what, buf, cases[i].expected);
    }
}

/* A short buffer gets a NUL-terminated prefix, never an overflow. */
static void test_truncation(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t len = 1; len < 40; len += 7) {
            char buf[64];
            memset(buf, 'x', sizeof buf);
            render(&cases[i], buf, len);
            assert_true(strlen(buf) < len);
            assert_int_equal(strncmp(buf, cases[i].expected, strlen(buf)), 0);
            assert_int_equal(buf[len], 'x');
        }
    }
}

/* ---- incident texts ---------------------------------------------------------------------- */

static const char *const boxes[] = {"box-1", "box-2", "box-3", "box-4", "box-5",
                                    "box-6", "box-7", "far-1", "far-2"};

struct incident_case {
    const char *what;
    enum incident_change change;
    struct alert_incident inc;
    const char *expected;
};

static const struct incident_case incident_cases[] = {
    {"network opened",
     INCIDENT_OPENED,
     {.announced = true,
      .classification = INCIDENT_NETWORK,
      .workers = 5,
      .scope_workers = 5,
      .scope = "behind 203.0.113.7 (site fra1)",
      .sites = 1,
      .names = boxes,
      .n_names = 5},
     "🔴 NETWORK ISSUE: 5 workers behind 203.0.113.7 (site fra1) went down\n"
     "box-1, box-2, box-3, box-4, box-5"},
    {"network opened, more names than shown, others elsewhere",
     INCIDENT_OPENED,
     {.announced = true,
      .classification = INCIDENT_NETWORK,
      .workers = 9,
      .scope_workers = 7,
      .scope = "behind 203.0.113.0/24",
      .networks = 3,
      .names = boxes,
      .n_names = 9},
     "🔴 NETWORK ISSUE: 7 workers behind 203.0.113.0/24 went down\n"
     "box-1, box-2, box-3, box-4, box-5, +2 more\nAlso down elsewhere: far-1, far-2"},
    {"widespread opened",
     INCIDENT_OPENED,
     {.announced = true,
      .classification = INCIDENT_WIDESPREAD,
      .workers = 14,
      .sites = 6,
      .names = boxes,
      .n_names = 9},
     "🔴 WIDESPREAD: 14 workers at 6 sites went down — possible DDoS or upstream outage\n"
     "box-1, box-2, box-3, box-4, box-5, +4 more"},
    {"widespread opened, sites and networks",
     INCIDENT_OPENED,
     {.announced = true,
      .classification = INCIDENT_WIDESPREAD,
      .workers = 5,
      .sites = 1,
      .networks = 2,
      .names = boxes,
      .n_names = 5},
     "🔴 WIDESPREAD: 5 workers at 1 site and 2 networks went down — possible DDoS or upstream "
     "outage\nbox-1, box-2, box-3, box-4, box-5"},
    {"widespread opened, networks only",
     INCIDENT_OPENED,
     {.announced = true,
      .classification = INCIDENT_WIDESPREAD,
      .workers = 5,
      .networks = 5,
      .names = boxes,
      .n_names = 5},
     "🔴 WIDESPREAD: 5 workers in 5 networks went down — possible DDoS or upstream outage\n"
     "box-1, box-2, box-3, box-4, box-5"},
    {"server opened, canaries",
     INCIDENT_OPENED,
     {.announced = true,
      .classification = INCIDENT_SERVER,
      .workers = 40,
      .fleet = 45,
      .canaries_failing = true},
     "⚠️ The monitor itself lost connectivity; 40 workers unreachable, not counted as down"},
    {"server opened, most of the fleet",
     INCIDENT_OPENED,
     {.announced = true,
      .classification = INCIDENT_SERVER,
      .workers = 9,
      .fleet = 10,
      .names = boxes,
      .n_names = 9},
     "⚠️ 9 of 10 workers went down at once — likely the monitor's own connection (its canaries "
     "still answer, so they count as down)\nbox-1, box-2, box-3, box-4, box-5, +4 more"},
    {"individual opened",
     INCIDENT_OPENED,
     {.announced = true,
      .classification = INCIDENT_INDIVIDUAL,
      .workers = 1,
      .names = boxes,
      .n_names = 1},
     ""}, /* individual incidents keep their per-worker texts */
    {"network grew",
     INCIDENT_GREW,
     {.announced = true,
      .classification = INCIDENT_NETWORK,
      .workers = 7,
      .previous_workers = 5,
      .scope_workers = 7,
      .scope = "behind 203.0.113.7 (site fra1)",
      .names = boxes,
      .n_names = 7},
     "🔴 NETWORK ISSUE growing: 7 workers down now (was 5), behind 203.0.113.7 (site fra1)\n"
     "box-1, box-2, box-3, box-4, box-5, +2 more"},
    {"network grew, some elsewhere",
     INCIDENT_GREW,
     {.announced = true,
      .classification = INCIDENT_NETWORK,
      .workers = 9,
      .previous_workers = 5,
      .scope_workers = 7,
      .scope = "behind 203.0.113.7",
      .names = boxes,
      .n_names = 9},
     "🔴 NETWORK ISSUE growing: 9 workers down now (was 5), 7 of them behind 203.0.113.7\n"
     "box-1, box-2, box-3, box-4, box-5, +2 more\nAlso down elsewhere: far-1, far-2"},
    {"widespread grew",
     INCIDENT_GREW,
     {.announced = true,
      .classification = INCIDENT_WIDESPREAD,
      .workers = 30,
      .previous_workers = 14,
      .sites = 9},
     "🔴 WIDESPREAD growing: 30 workers down now (was 14), at 9 sites"},
    {"server grew, canaries",
     INCIDENT_GREW,
     {.announced = true,
      .classification = INCIDENT_SERVER,
      .workers = 80,
      .previous_workers = 40,
      .canaries_failing = true},
     "⚠️ The monitor is still cut off: 80 workers unreachable now (was 40), not counted as "
     "down"},
    {"server grew, most of the fleet",
     INCIDENT_GREW,
     {.announced = true,
      .classification = INCIDENT_SERVER,
      .workers = 44,
      .previous_workers = 40,
      .fleet = 45},
     "⚠️ Monitor problem growing: 44 of 45 workers down now (was 40)"},
    {"individual to network",
     INCIDENT_RECLASSIFIED,
     {.announced = true,
      .classification = INCIDENT_NETWORK,
      .previous_classification = INCIDENT_INDIVIDUAL,
      .workers = 5,
      .scope_workers = 5,
      .scope = "at site fra1",
      .names = boxes,
      .n_names = 5},
     "🔴 Now a NETWORK ISSUE (was individual): 5 workers at site fra1 went down\n"
     "box-1, box-2, box-3, box-4, box-5"},
    {"network to widespread",
     INCIDENT_RECLASSIFIED,
     {.announced = true,
      .classification = INCIDENT_WIDESPREAD,
      .previous_classification = INCIDENT_NETWORK,
      .workers = 14,
      .sites = 6},
     "🔴 Now WIDESPREAD (was network issue): 14 workers at 6 sites went down — possible DDoS or "
     "upstream outage"},
    {"network to server",
     INCIDENT_RECLASSIFIED,
     {.announced = true,
      .classification = INCIDENT_SERVER,
      .previous_classification = INCIDENT_NETWORK,
      .workers = 6,
      .canaries_failing = true},
     "⚠️ Now a monitor problem (was network issue): the monitor itself lost connectivity; "
     "6 workers unreachable, not counted as down"},
    {"network closed",
     INCIDENT_CLOSED,
     {.announced = true,
      .classification = INCIDENT_NETWORK,
      .workers = 5,
      .scope_workers = 5,
      .scope = "behind 203.0.113.7 (site fra1)",
      .opened_ms = T0,
      .closed_ms = T0 + 240000},
     "✅ RESOLVED: network issue behind 203.0.113.7 (site fra1): 5 workers back after 4m 00s"},
    {"widespread closed",
     INCIDENT_CLOSED,
     {.announced = true,
      .classification = INCIDENT_WIDESPREAD,
      .workers = 14,
      .sites = 6,
      .opened_ms = T0,
      .closed_ms = T0 + 750000},
     "✅ RESOLVED: widespread outage at 6 sites: 14 workers back after 12m 30s"},
    {"server closed, canaries",
     INCIDENT_CLOSED,
     {.announced = true,
      .classification = INCIDENT_SERVER,
      .workers = 40,
      .canaries_failing = true,
      .opened_ms = T0,
      .closed_ms = T0 + 190000},
     "✅ RESOLVED: the monitor is connected again after 3m 10s; 40 workers were unreachable, "
     "not counted as down"},
    {"server closed, canaries, nobody affected",
     INCIDENT_CLOSED,
     {.announced = true,
      .classification = INCIDENT_SERVER,
      .canaries_failing = true,
      .opened_ms = T0,
      .closed_ms = T0 + 20000},
     "✅ RESOLVED: the monitor is connected again after 20s; no worker was affected"},
    {"server closed, most of the fleet",
     INCIDENT_CLOSED,
     {.announced = true,
      .classification = INCIDENT_SERVER,
      .workers = 9,
      .fleet = 10,
      .opened_ms = T0,
      .closed_ms = T0 + 61000},
     "✅ RESOLVED: monitor problem: 9 workers back after 1m 01s"},
    {"individual closed",
     INCIDENT_CLOSED,
     {.announced = true,
      .classification = INCIDENT_INDIVIDUAL,
      .workers = 1,
      .opened_ms = T0,
      .closed_ms = T0 + 5000},
     ""},
    {"network updated: nothing to tell",
     INCIDENT_UPDATED,
     {.announced = true,
      .classification = INCIDENT_NETWORK,
      .workers = 5,
      .scope_workers = 5,
      .scope = "at site fra1"},
     ""},
    {"network closed before it was announced",
     INCIDENT_CLOSED,
     {.classification = INCIDENT_NETWORK,
      .workers = 5,
      .scope_workers = 5,
      .scope = "at site fra1",
      .opened_ms = T0,
      .closed_ms = T0 + 5000},
     ""},
};

/* Renders c into buf; checks that it says it carries a message exactly when one is expected. */
static void render_incident(const struct incident_case *c, char *buf, size_t buflen)
{
    bool carries = alert_format_incident_message(c->change, &c->inc, buf, buflen);
    if (carries != (c->expected[0] != '\0'))
        fail_msg("%s: carries a message: %d", c->what, carries);
}

static void test_incident_texts(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof incident_cases / sizeof incident_cases[0]; i++) {
        char buf[1024];
        render_incident(&incident_cases[i], buf, sizeof buf);
        if (strcmp(buf, incident_cases[i].expected) != 0)
            fail_msg("%s:\n got: %s\nwant: %s", incident_cases[i].what, buf,
                     incident_cases[i].expected);
    }
}

static void test_incident_truncation(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof incident_cases / sizeof incident_cases[0]; i++) {
        for (size_t len = 1; len < 60; len += 11) {
            char buf[80];
            memset(buf, 'x', sizeof buf);
            render_incident(&incident_cases[i], buf, len);
            assert_true(strlen(buf) < len);
            assert_int_equal(strncmp(buf, incident_cases[i].expected, strlen(buf)), 0);
            assert_int_equal(buf[len], 'x');
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_texts),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_incident_texts),
        cmocka_unit_test(test_incident_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
