/* checks_fixture.h — the fixture of the check engine's unit tests: a loop kept alive by a
 * ticking timer, a real store and a CHECKS_DIR in a temporary directory, the engine opened on
 * them (at setup, and again as after a restart), and files written as editors save them.
 * Included once per test program, after fake_probe.h. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <uv.h>

#include "server/checks.h"
#include "store/store.h"

struct fixture {
    char dir[64], checks_dir[96];
    uv_loop_t loop;
    uv_timer_t tick;
    struct store *store;
    struct checks *checks;
};

static void on_tick(uv_timer_t *t) {}

/* Writes text to CHECKS_DIR/name through a temporary file and a rename, as editors save. */
static void write_file(struct fixture *fx, const char *name, const char *text)
{
    char path[160], tmp[170];
    snprintf(path, sizeof path, "%s/%s", fx->checks_dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", fx->checks_dir, name);
    FILE *f = fopen(tmp, "w");
    fputs(text, f);
    fclose(f);
    rename(tmp, path);
}

/* The engine on fx's loop, store and directory, types found by find; stale_min_ms 0: the
 * engine's default. */
static void fixture_open_checks(struct fixture *fx, checkdef_find_fn find, int stale_min_ms)
{
    char err[256];
    struct checks_options o = {.loop = &fx->loop,
                               .store = fx->store,
                               .env = (struct probe_env *)&fx->loop,
                               .find = find,
                               .dir = fx->checks_dir,
                               .history = 3,
                               .reload_delay_ms = 50,
                               .stale_min_ms = stale_min_ms};
    fx->checks = checks_open(&o, err, sizeof err);
    assert_non_null(fx->checks);
}

/* A new fixture in /tmp/PREFIX-XXXXXX with its loop and store; the caller opens the engine. */
static struct fixture *fixture_new(const char *prefix)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/%s-XXXXXX", prefix);
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->checks_dir, sizeof fx->checks_dir, "%s/checks.d", fx->dir);
    mkdir(fx->checks_dir, 0700);
    uv_loop_init(&fx->loop);
    uv_timer_init(&fx->loop, &fx->tick);
    uv_timer_start(&fx->tick, on_tick, 10, 10);
    char err[256], uri[128];
    store_default_uri(fx->dir, uri, sizeof uri);
    if (store_open(&fx->loop, uri, &fx->store, err, sizeof err) != 0)
        fail_msg("store_open: %s", err);
    return fx;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    checks_close(fx->checks);
    store_close(fx->store);
    uv_close((uv_handle_t *)&fx->tick, NULL);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    uv_loop_close(&fx->loop);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}
