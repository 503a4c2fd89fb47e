/* textfile.c — the "textfile" collector, node_exporter's textfile-collector convention: every
 * *.prom file in METRICS_TEXTFILE_DIR (written elsewhere and renamed into place, so never read
 * half-written) is Prometheus text format; its samples are pushed with the host's.
 * node_textfile_mtime_seconds{file} tells when each file last changed, and
 * node_textfile_scrape_error is 1 when a file could not be read or had a bad line (the bad lines
 * are dropped, the rest kept). */
#include "collect/collect.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "model/metric_text.h"

#define TEXTFILE_MAX_BYTES (4 << 20)

struct textfile_refusals {
    const char *file;
    char *err;
    size_t errlen;
    int count;
};

static void textfile_refused(void *ctx, size_t line, const char *error)
{
    struct textfile_refusals *r = ctx;
    if (r->count++ == 0)
        err_set(r->err, r->errlen, "%s line %zu: %s", r->file, line, error);
}

static bool textfile_is_prom(const char *name)
{
    size_t len = strlen(name);
    return name[0] != '.' && len > 5 && strcmp(name + len - 5, ".prom") == 0;
}

/* Reads one file whole (at most TEXTFILE_MAX_BYTES). Returns 0, or -1 with err set. */
static int textfile_read(const char *path, char **text, size_t *len, struct stat *st, char *err,
                         size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return err_set(err, errlen, "%s: %s", path, strerror(errno));
    if (fstat(fileno(f), st) != 0 || st->st_size > TEXTFILE_MAX_BYTES) {
        fclose(f);
        return err_set(err, errlen, "%s: larger than %d bytes, skipped", path, TEXTFILE_MAX_BYTES);
    }
    *text = malloc((size_t)st->st_size + 1);
    *len = *text ? fread(*text, 1, (size_t)st->st_size, f) : 0;
    bool failed = !*text || ferror(f);
    fclose(f);
    if (failed) {
        free(*text);
        return err_set(err, errlen, "%s: cannot read", path);
    }
    (*text)[*len] = '\0';
    return 0;
}

/* Reads one .prom file into out. Returns 0, or -1 with err set (what it could read is kept). */
static int textfile_one(const char *dir, const char *name, struct metric_list *out, char *err,
                        size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    if (textfile_read(path, &text, &len, &st, err, errlen) != 0)
        return -1;
    struct textfile_refusals r = {path, err, errlen, 0};
    int accepted = metric_text_parse(text, len, out, textfile_refused, &r);
    free(text);
    metric_list_add(out, "node_textfile_mtime_seconds",
                    "Unixtime mtime of textfiles successfully read.", "gauge",
                    (double)st.st_mtim.tv_sec, 1, "file", name);
    if (accepted < 0)
        return err_set(err, errlen, "%s: out of memory", path);
    if (r.count > 1) {
        size_t used = strlen(err);
        snprintf(err + used, errlen - used, " (and %d more bad lines)", r.count - 1);
    }
    return r.count > 0 ? -1 : 0;
}

static int textfile_collect(struct metric_list *out, const struct collect_options *opts, char *err,
                            size_t errlen)
{
    if (!opts->textfile_dir)
        return 0;
    struct dirent **names = NULL;
    int n = scandir(opts->textfile_dir, &names, NULL, alphasort);
    int rc = 0;
    if (n < 0)
        rc = err_set(err, errlen, "%s: %s", opts->textfile_dir, strerror(errno));
    for (int i = 0; i < n; i++) {
        char e[512];
        if (textfile_is_prom(names[i]->d_name) &&
            textfile_one(opts->textfile_dir, names[i]->d_name, out, e, sizeof e) != 0 && rc == 0)
            rc = err_set(err, errlen, "%s", e);
        free(names[i]);
    }
    free(names);
    metric_list_add(out, "node_textfile_scrape_error",
                    "1 if there was an error opening or reading a file, 0 otherwise", "gauge",
                    rc != 0, 0);
    return rc;
}

const struct collector collect_textfile = {"textfile", textfile_collect, 0};
