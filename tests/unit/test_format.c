/* test_format.c — the DOWN and UP texts, exactly as people will read them. Each row is a worker,
 * the times involved and the expected text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "alert/format.h"

#define T0 1795255332000LL /* 2026-11-21 10:02:12 UTC */

enum kind { DOWN, UP };

struct format_case {
    const char *what;
    enum kind kind;
    struct worker_record worker;
    int64_t now_ms;
    int64_t extra_ms; /* DOWN: fail timeout; UP: down since */
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
    else
        alert_format_up(&c->worker, c->now_ms, c->extra_ms, buf, buflen);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_texts),
        cmocka_unit_test(test_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
