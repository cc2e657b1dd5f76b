/* main: command line, config check, then the master. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "master.h"

#define FORKD_VERSION "0.1.0"
#define DEFAULT_CONFIG "/etc/forkd/forkd.ini"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: forkd [-c FILE] [-t] [-v] [-h]\n"
            "  -c FILE  configuration file (default " DEFAULT_CONFIG ")\n"
            "  -t       check the configuration and exit (0 ok, 1 refused)\n"
            "  -v       print the version and exit\n"
            "  -h       this help\n");
}

int main(int argc, char **argv)
{
    const char *path = DEFAULT_CONFIG;
    char err[CONFIG_ERR_LEN];
    int opt, test_only = 0, rc;
    config_t *cfg;
    log_t log;

    while ((opt = getopt(argc, argv, "c:tvh")) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 't': test_only = 1; break;
        case 'v': printf("forkd " FORKD_VERSION "\n"); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 1;
    }

    cfg = malloc(sizeof(*cfg));
    if (cfg == NULL) {
        fprintf(stderr, "forkd: out of memory\n");
        return 1;
    }
    if (config_load(cfg, path, err) != 0) {
        fprintf(stderr, "forkd: %s\n", err);
        free(cfg);
        return 1;
    }
    if (test_only) {
        printf("forkd: configuration file %s test is successful\n", path);
        free(cfg);
        return 0;
    }
    if (log_open(&log, cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "forkd: error log: %s\n", err);
        free(cfg);
        return 1;
    }
    /* a client that goes away must not kill a process with SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    rc = master_run(cfg, &log);
    log_close(&log);
    free(cfg);
    return rc;
}
