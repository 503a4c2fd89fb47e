/* cfg.c — `faultline cfg` (cfg.h): the arguments, and `cfg validate DIR`, which reads the
 * directory as the server does and prints every error. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg/cfg.h"
#include "check/checkdef.h"

static const char usage_text[] =
    "usage: faultline cfg validate DIR\n"
    "       faultline cfg export --server URL\n"
    "       faultline cfg sync DIR --server URL [--nosync] [--dry-run]\n"
    "\n"
    "Check files (docs/checks.md). validate lists every error of DIR's *.yaml files (exit 1\n"
    "when there is one). export prints the server's running checks as a checks file. sync\n"
    "pushes DIR's checks to the server as API checks and, unless --nosync, deletes the API\n"
    "checks DIR does not have; --dry-run prints what it would do. The admin's credentials come\n"
    "from the URL (http://USER:PASS@HOST:PORT) or from FAULTLINE_ADMIN_USER and\n"
    "FAULTLINE_ADMIN_PASSWORD.\n";

static int usage_fail(const char *msg)
{
    fprintf(stderr, "faultline cfg: %s\n\n%s", msg, usage_text);
    return 2;
}

static int validate(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "faultline cfg: %s: not a directory\n", dir);
        return 2;
    }
    struct checkdef_set set;
    checkdef_set_init(&set);
    checkdef_load_dir(&set, dir, probe_type_find);
    size_t n = json_array_size(set.errors);
    for (size_t i = 0; i < n; i++) {
        char text[1024];
        checkdef_error_text(json_array_get(set.errors, i), text, sizeof text);
        printf("%s\n", text);
    }
    if (n)
        fprintf(stderr, "%zu error(s) in %s\n", n, dir);
    else
        printf("%s: %zu check(s), no errors\n", dir, set.n);
    checkdef_set_free(&set);
    return n ? 1 : 0;
}

/* Reads --server URL, --nosync, --dry-run and at most one positional (DIR) from argv[2..]. */
static int parse_args(int argc, char **argv, struct cfg_remote *r, const char **dir)
{
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
            r->server = argv[++i];
        else if (strncmp(argv[i], "--server=", 9) == 0)
            r->server = argv[i] + 9;
        else if (strcmp(argv[i], "--nosync") == 0)
            r->nosync = true;
        else if (strcmp(argv[i], "--dry-run") == 0)
            r->dry_run = true;
        else if (argv[i][0] == '-' || *dir)
            return usage_fail(argv[i][0] == '-' ? "unknown option" : "one directory only");
        else
            *dir = argv[i];
    }
    return 0;
}

int cfg_main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc < 2)
        return usage_fail("expected validate, export or sync");
    struct cfg_remote r = {0};
    const char *dir = NULL;
    if (parse_args(argc, argv, &r, &dir) != 0)
        return 2;
    r.dir = dir;
    if (!strcmp(argv[1], "validate")) {
        if (!dir || r.server || r.nosync || r.dry_run)
            return usage_fail("validate takes DIR only");
        return validate(dir);
    }
    if (!r.server)
        return usage_fail("--server URL is required");
    if (!strcmp(argv[1], "export"))
        return dir || r.nosync || r.dry_run ? usage_fail("export takes --server URL only")
                                            : cfg_export(&r);
    if (!strcmp(argv[1], "sync"))
        return dir ? cfg_sync(&r) : usage_fail("sync takes DIR");
    return usage_fail("expected validate, export or sync");
}
