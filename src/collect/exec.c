/* exec.c — the "exec" collector: the METRICS_EXEC commands, each run without a shell and killed
 * at its timeout, print Prometheus text format that is pushed with the host's metrics (bad lines
 * dropped and named, the rest kept). Also METRICS_EXEC's parser; see collect.h. */
#include "collect/collect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "model/metric_text.h"

#define EXEC_OUTPUT_CAP (4 << 20)
#define EXEC_TIMEOUT_MIN_MS 100
#define EXEC_TIMEOUT_MAX_MS 300000

void collect_exec_free(struct collect_exec *cmds, size_t count)
{
    for (size_t i = 0; cmds && i < count; i++)
        for (size_t j = 0; cmds[i].argv[j]; j++)
            free(cmds[i].argv[j]);
    free(cmds);
}

static bool exec_name_valid(const char *s, size_t len)
{
    if (len == 0 || len >= COLLECT_EXEC_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
              s[i] == '-'))
            return false;
    return true;
}

/* Splits the words of the command at whitespace into cmd->argv. */
static int exec_words(char *command, struct collect_exec *cmd, size_t entry, char *err,
                      size_t errlen)
{
    size_t n = 0;
    for (char *save = NULL, *w = strtok_r(command, " \t", &save); w;
         w = strtok_r(NULL, " \t", &save)) {
        if (n == COLLECT_EXEC_ARGS_MAX)
            return err_set(err, errlen, "METRICS_EXEC: command %zu (%s) has more than %d words",
                           entry, cmd->name, COLLECT_EXEC_ARGS_MAX);
        if (!(cmd->argv[n++] = strdup(w)))
            return err_set(err, errlen, "METRICS_EXEC: out of memory");
    }
    if (n == 0)
        return err_set(err, errlen, "METRICS_EXEC: command %zu (%s) has no COMMAND", entry,
                       cmd->name);
    return 0;
}

/* One "NAME:TIMEOUT:COMMAND ARGS" entry (the 1-based entry-th) into cmd. */
static int exec_entry(char *text, size_t entry, struct collect_exec *cmd, char *err, size_t errlen)
{
    char *first = strchr(text, ':');
    char *second = first ? strchr(first + 1, ':') : NULL;
    if (!second)
        return err_set(err, errlen,
                       "METRICS_EXEC: command %zu \"%.100s\": expected NAME:TIMEOUT:COMMAND "
                       "[ARGS...]",
                       entry, text);
    *first = *second = '\0';
    if (!exec_name_valid(text, strlen(text)))
        return err_set(err, errlen,
                       "METRICS_EXEC: command %zu: NAME \"%.64s\": expected 1 to %d of "
                       "[a-z0-9_-]",
                       entry, text, COLLECT_EXEC_NAME_MAX - 1);
    snprintf(cmd->name, sizeof cmd->name, "%s", text);
    char *end;
    double seconds = strtod(first + 1, &end);
    if (end == first + 1 || *end != '\0' || !(seconds * 1000 >= EXEC_TIMEOUT_MIN_MS) ||
        seconds * 1000 > EXEC_TIMEOUT_MAX_MS)
        return err_set(err, errlen,
                       "METRICS_EXEC: command %zu (%s): TIMEOUT \"%.32s\": expected seconds "
                       "from 0.1 to 300",
                       entry, cmd->name, first + 1);
    cmd->timeout_ms = (int)(seconds * 1000);
    return exec_words(second + 1, cmd, entry, err, errlen);
}

int collect_exec_parse(const char *text, struct collect_exec **cmds, size_t *count, char *err,
                       size_t errlen)
{
    *cmds = NULL;
    *count = 0;
    char *copy = strdup(text ? text : "");
    struct collect_exec *list = calloc(COLLECT_EXEC_MAX, sizeof *list);
    int rc = copy && list ? 0 : err_set(err, errlen, "METRICS_EXEC: out of memory");
    size_t n = 0;
    for (char *save = NULL, *e = rc == 0 ? strtok_r(copy, ";", &save) : NULL; e && rc == 0;
         e = strtok_r(NULL, ";", &save)) {
        e += strspn(e, " \t\n");
        if (*e == '\0')
            continue;
        if (n == COLLECT_EXEC_MAX)
            rc = err_set(err, errlen, "METRICS_EXEC: more than %d commands", COLLECT_EXEC_MAX);
        else
            rc = exec_entry(e, n + 1, &list[n], err, errlen);
        n++;
    }
    free(copy);
    if (rc != 0) {
        collect_exec_free(list, n < COLLECT_EXEC_MAX ? n : COLLECT_EXEC_MAX);
        return -1;
    }
    *cmds = list;
    *count = n;
    return 0;
}

bool collect_exec_valid(const char *text)
{
    struct collect_exec *cmds;
    size_t n;
    char err[256];
    if (collect_exec_parse(text, &cmds, &n, err, sizeof err) != 0)
        return false;
    collect_exec_free(cmds, n);
    return true;
}

struct exec_refusals {
    const char *name;
    char *err;
    size_t errlen;
    int count;
};

static void exec_refused(void *ctx, size_t line, const char *error)
{
    struct exec_refusals *r = ctx;
    if (r->count++ == 0)
        err_set(r->err, r->errlen, "%s: output line %zu: %s", r->name, line, error);
}

/* Runs one command into out. Returns 0, or -1 with err set. */
static int exec_one(const struct collect_exec *cmd, const atomic_bool *cancel,
                    struct metric_list *out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    char why[384];
    int rc = collect_run(cmd->argv, cmd->timeout_ms, cancel, EXEC_OUTPUT_CAP, &text, &len, why,
                         sizeof why);
    if (rc == 1)
        return err_set(err, errlen, "%s: %s: not found", cmd->name, cmd->argv[0]);
    if (rc != 0) {
        free(text);
        return err_set(err, errlen, "%s: %s", cmd->name, why);
    }
    struct exec_refusals r = {cmd->name, err, errlen, 0};
    int accepted = metric_text_parse(text, len, out, exec_refused, &r);
    free(text);
    if (accepted < 0)
        return err_set(err, errlen, "%s: out of memory", cmd->name);
    return r.count > 0 ? -1 : 0;
}

static int exec_collect(struct metric_list *out, const struct collect_options *opts, char *err,
                        size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; i < opts->exec_count; i++) {
        char e[512];
        if (exec_one(&opts->exec[i], opts->cancel, out, e, sizeof e) != 0 && rc == 0)
            rc = err_set(err, errlen, "%s", e);
    }
    return rc;
}

const struct collector collect_exec = {"exec", exec_collect, EXEC_TIMEOUT_MAX_MS};
