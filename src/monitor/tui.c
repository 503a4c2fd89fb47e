/* tui.c — `monitor live`: ncurses on the loop. Keys arrive through a uv_poll on stdin, the
 * refresh and the spinner are uv timers, collections run on the same loop (monitor_plan_start),
 * so the screen answers keys while nodes are being asked. Each tab shows the text of a view
 * (views.h), coloured by the health words in it. The terminal is restored on q, Ctrl-C, SIGINT,
 * SIGTERM and on any exit() (atexit). */
#include "monitor/tui.h"

#include <curses.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "monitor/alerts.h"
#include "monitor/views.h"

#define TUI_SPIN_MS 120
#define TUI_KEY_CTRL_C 3

enum tui_tab { TAB_OVERVIEW, TAB_NODES, TAB_SERVICES, TAB_MESH, TAB_ALERTS, TAB_COUNT };

static const char *const tab_names[TAB_COUNT] = {"Overview", "Nodes", "Services", "Mesh", "Alerts"};
static const enum monitor_view tab_views[TAB_COUNT] = {MONITOR_VIEW_CLUSTER, MONITOR_VIEW_NODE,
                                                       MONITOR_VIEW_SERVICE, MONITOR_VIEW_MESH,
                                                       MONITOR_VIEW_ALERTS};

struct tui {
    uv_loop_t *loop;
    const struct monitor_plan *plan;
    const struct monitor_settings *settings;
    struct monitor_collection *collecting; /* NULL when idle */
    struct monitor_snapshot snap;
    struct monitor_alerts alerts;
    bool have_snap, quitting;
    int64_t updated_ms;
    char error[256];
    int tab, scroll, spin;
    uv_poll_t input;
    uv_timer_t refresh, spinner;
    uv_signal_t sigint, sigterm;
};

static bool screen_active;
static int stdin_flags = -1; /* uv_poll makes stdin non-blocking; the shell gets it back */

static void restore_terminal(void)
{
    if (screen_active) {
        endwin();
        screen_active = false;
    }
    if (stdin_flags != -1) {
        fcntl(STDIN_FILENO, F_SETFL, stdin_flags);
        stdin_flags = -1;
    }
}

/* ---- drawing ------------------------------------------------------------------------------ */

static short line_colour(const char *line)
{
    if (strstr(line, "critical") || strstr(line, "unreachable"))
        return 3;
    if (strstr(line, "warning"))
        return 2;
    if (strstr(line, "healthy"))
        return 1;
    return 0;
}

static void draw_tabs(struct tui *t)
{
    static const char spinner[] = "|/-\\";
    move(0, 0);
    clrtoeol();
    attron(A_BOLD);
    printw("faultline monitor");
    attroff(A_BOLD);
    if (t->plan->environment)
        printw(" %s", t->plan->environment);
    printw(" ");
    for (int i = 0; i < TAB_COUNT; i++) {
        if (i == t->tab)
            attron(A_REVERSE);
        printw(i == t->tab ? "[%s]" : " %s ", tab_names[i]);
        if (i == t->tab)
            attroff(A_REVERSE);
    }
    if (t->collecting)
        printw(" %c collecting", spinner[t->spin % 4]);
}

static void draw_status(struct tui *t)
{
    move(1, 0);
    clrtoeol();
    if (t->error[0]) {
        attron(COLOR_PAIR(3));
        printw("%.*s", COLS - 1, t->error);
        attroff(COLOR_PAIR(3));
    } else if (t->have_snap) {
        char at[CLOCK_ISO_LEN];
        clock_format_iso(t->updated_ms, at, sizeof at);
        printw("updated %.19s, %zu nodes, %zu critical, %zu warning, %zu info", at, t->snap.count,
               monitor_alerts_count(&t->alerts, MONITOR_CRITICAL),
               monitor_alerts_count(&t->alerts, MONITOR_WARNING),
               monitor_alerts_count(&t->alerts, MONITOR_INFO));
    } else {
        printw("collecting the first reports...");
    }
    mvprintw(LINES - 1, 0, "%.*s", COLS - 1,
             "Tab/Shift-Tab: tabs  j/k: scroll  r: refresh  q: quit");
    clrtoeol();
}

static void draw_body(struct tui *t)
{
    for (int y = 2; y < LINES - 1; y++) {
        move(y, 0);
        clrtoeol();
    }
    if (!t->have_snap)
        return;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return;
    monitor_view_print(mem, tab_views[t->tab], &t->snap, &t->alerts);
    fclose(mem);
    int rows = LINES - 3, line = 0;
    if (t->scroll < 0)
        t->scroll = 0;
    for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL, line++) {
        nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        int y = line - t->scroll + 2;
        if (line < t->scroll || y >= 2 + rows)
            continue;
        short c = line_colour(p);
        if (c)
            attron(COLOR_PAIR(c));
        mvprintw(y, 0, "%.*s", COLS - 1, p);
        if (c)
            attroff(COLOR_PAIR(c));
    }
    if (t->scroll > line - 1)
        t->scroll = line > 0 ? line - 1 : 0;
    free(text);
}

static void draw(struct tui *t)
{
    draw_tabs(t);
    draw_status(t);
    draw_body(t);
    refresh();
}

/* ---- collecting --------------------------------------------------------------------------- */

static void start_collection(struct tui *t);

static void on_refresh(uv_timer_t *timer)
{
    start_collection(timer->data);
}

static void on_collected(struct monitor_snapshot *snap, void *ctx)
{
    struct tui *t = ctx;
    t->collecting = NULL;
    uv_timer_stop(&t->spinner);
    if (t->quitting) {
        monitor_snapshot_clear(snap);
        return;
    }
    monitor_snapshot_clear(&t->snap);
    monitor_alerts_free(&t->alerts);
    t->snap = *snap;
    monitor_alerts_derive(&t->snap, &t->settings->thresholds, &t->alerts);
    t->have_snap = true;
    t->updated_ms = clock_wall_ms();
    uv_timer_start(&t->refresh, on_refresh, (uint64_t)t->settings->refresh_ms, 0);
    draw(t);
}

static void on_spin(uv_timer_t *timer)
{
    struct tui *t = timer->data;
    t->spin++;
    draw_tabs(t);
    refresh();
}

static void start_collection(struct tui *t)
{
    if (t->collecting || t->quitting)
        return;
    uv_timer_stop(&t->refresh);
    t->error[0] = '\0';
    t->collecting =
        monitor_plan_start(t->loop, t->plan, on_collected, t, t->error, sizeof t->error);
    if (t->collecting)
        uv_timer_start(&t->spinner, on_spin, TUI_SPIN_MS, TUI_SPIN_MS);
    draw(t);
}

/* ---- keys and signals --------------------------------------------------------------------- */

static void quit(struct tui *t)
{
    if (t->quitting)
        return;
    t->quitting = true;
    restore_terminal();
    monitor_collection_cancel(t->collecting);
    uv_poll_stop(&t->input);
    uv_close((uv_handle_t *)&t->input, NULL);
    uv_close((uv_handle_t *)&t->refresh, NULL);
    uv_close((uv_handle_t *)&t->spinner, NULL);
    uv_close((uv_handle_t *)&t->sigint, NULL);
    uv_close((uv_handle_t *)&t->sigterm, NULL);
}

static void on_key(struct tui *t, int key)
{
    switch (key) {
    case 'q':
    case 'Q':
    case TUI_KEY_CTRL_C:
        quit(t);
        return;
    case '\t':
    case KEY_RIGHT:
        t->tab = (t->tab + 1) % TAB_COUNT;
        t->scroll = 0;
        break;
    case KEY_BTAB:
    case KEY_LEFT:
        t->tab = (t->tab + TAB_COUNT - 1) % TAB_COUNT;
        t->scroll = 0;
        break;
    case 'j':
    case KEY_DOWN:
        t->scroll++;
        break;
    case 'k':
    case KEY_UP:
        t->scroll--;
        break;
    case 'r':
    case 'R':
        start_collection(t);
        return;
    case KEY_RESIZE:
        clear();
        break;
    default:
        return;
    }
    draw(t);
}

static void on_input(uv_poll_t *p, int status, int events)
{
    struct tui *t = p->data;
    for (int key; !t->quitting && (key = getch()) != ERR;)
        on_key(t, key);
}

static void on_signal(uv_signal_t *s, int signum)
{
    quit(s->data);
}

int monitor_tui_run(uv_loop_t *loop, const struct monitor_plan *plan,
                    const struct monitor_settings *settings)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "faultline monitor: live needs a terminal (use cluster, alerts or "
                        "report for a pipe)\n");
        return 2;
    }
    struct tui t = {.loop = loop, .plan = plan, .settings = settings};
    stdin_flags = fcntl(STDIN_FILENO, F_GETFL);
    atexit(restore_terminal);
    initscr();
    screen_active = true;
    raw(); /* Ctrl-C arrives as a key; SIGINT from elsewhere is still handled below */
    noecho();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    curs_set(0);
    if (has_colors()) {
        start_color();
        use_default_colors();
        init_pair(1, COLOR_GREEN, -1);
        init_pair(2, COLOR_YELLOW, -1);
        init_pair(3, COLOR_RED, -1);
    }
    t.input.data = t.refresh.data = t.spinner.data = t.sigint.data = t.sigterm.data = &t;
    uv_poll_init(loop, &t.input, STDIN_FILENO);
    uv_poll_start(&t.input, UV_READABLE, on_input);
    uv_timer_init(loop, &t.refresh);
    uv_timer_init(loop, &t.spinner);
    uv_signal_init(loop, &t.sigint);
    uv_signal_start(&t.sigint, on_signal, SIGINT);
    uv_signal_init(loop, &t.sigterm);
    uv_signal_start(&t.sigterm, on_signal, SIGTERM);
    start_collection(&t);
    uv_run(loop, UV_RUN_DEFAULT);
    restore_terminal();
    monitor_snapshot_clear(&t.snap);
    monitor_alerts_free(&t.alerts);
    return 0;
}
