/* cfg.h — `faultline cfg`: the check files from the command line (docs/checks.md, "faultline
 * cfg"):
 *   cfg validate DIR                            every error of DIR's check files (exit 1 if any)
 *   cfg export --server URL                     the server's running checks as a checks file
 *   cfg sync DIR --server URL [--nosync] [--dry-run]
 *                                               DIR's checks pushed as API checks; without
 *                                               --nosync, API checks DIR lacks are deleted
 * The admin's credentials come from the URL (http://USER:PASS@host:port) or from
 * FAULTLINE_ADMIN_USER and FAULTLINE_ADMIN_PASSWORD. Exit status 0 ok, 1 errors found or a
 * change failed, 2 usage. */
#ifndef FAULTLINE_CFG_H
#define FAULTLINE_CFG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

int cfg_main(int argc, char **argv);

/* cfg_yaml.c: writes {"checks": [...]} (or any JSON) as YAML to out; strings that would read
 * back as something else (true, 30, "") are quoted. Returns 0, or -1 when out of memory. */
int cfg_write_yaml(FILE *out, const json_t *doc);

/* cfg_remote.c: export and sync against a server. */
struct cfg_remote {
    const char *server; /* URL, possibly with USER:PASS@ */
    const char *dir;    /* sync: the local directory */
    bool nosync, dry_run;
};
int cfg_export(const struct cfg_remote *r);
int cfg_sync(const struct cfg_remote *r);

#endif
