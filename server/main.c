/* main: command line, config check, then the master. */
#include <errno.h>
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
    fprintf(out, "usage: forkd [-c FILE] [-t] [-s SIGNAL] [-v] [-h]\n"
                 "  -c FILE  configuration file (default " DEFAULT_CONFIG ")\n"
                 "  -s SIG   signal the running master (through [server] pid_file):\n"
                 "           stop (TERM), quit (QUIT: graceful), reload (HUP), reopen (USR1)\n"
                 "  -t       check the configuration and exit (0 ok, 1 refused)\n"
                 "  -v       print the version and exit\n"
                 "  -h       this help\n");
}

/* forkd -s NAME: signal the master named by the pid file, like nginx -s. */
static int send_signal(const config_t *cfg, const char *name)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"stop", SIGTERM}, {"quit", SIGQUIT}, {"reload", SIGHUP}, {"reopen", SIGUSR1}};
    size_t i;
    pid_t pid;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            break;
        }
    }
    if (i == sizeof(names) / sizeof(names[0])) {
        fprintf(stderr, "forkd: unknown signal \"%s\" (stop, quit, reload, reopen)\n", name);
        return 1;
    }
    if (cfg->pid_file[0] == '\0') {
        fprintf(stderr, "forkd: -s needs [server] pid_file in the config\n");
        return 1;
    }
    pid = master_read_pid(cfg->pid_file);
    if (pid <= 0) {
        fprintf(stderr, "forkd: cannot read a pid from \"%s\"\n", cfg->pid_file);
        return 1;
    }
    if (kill(pid, names[i].sig) != 0) {
        fprintf(stderr, "forkd: kill(%d, %s) failed: %s\n", (int)pid, names[i].name,
                strerror(errno));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = DEFAULT_CONFIG, *sig = NULL;
    char err[CONFIG_ERR_LEN];
    int opt, test_only = 0, rc;
    config_t *cfg;
    log_t log;

    while ((opt = getopt(argc, argv, "c:ts:vh")) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 't': test_only = 1; break;
        case 's': sig = optarg; break;
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
    if (sig != NULL) {
        rc = send_signal(cfg, sig);
        free(cfg);
        return rc;
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
    rc = master_run(cfg, path, &log, argv);
    log_close(&log);
    return rc;
}
