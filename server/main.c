/* main: command line, config check, then the master. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "master.h"
#include "pidfile.h"
#include "preflight.h"
#include "sdnotify.h"

#define FORKD_VERSION "0.1.0"
/* set by the Makefile for main.o: the pkg-config versions of the libraries and the flags */
#ifndef FORKD_BUILD_LIBS
#define FORKD_BUILD_LIBS "unknown"
#endif
#ifndef FORKD_BUILD_FLAGS
#define FORKD_BUILD_FLAGS "unknown"
#endif
#define DEFAULT_CONFIG "/etc/forkd/forkd.ini"
/* -s reload: the new workers get 5 s to serve, checks and forks come on top */
#define RELOAD_WAIT_MS 30000

static void usage(FILE *out)
{
    fprintf(out, "usage: forkd [-c FILE] [-t] [-s SIGNAL] [-v] [-V] [-h]\n"
                 "  -c FILE  configuration file (default " DEFAULT_CONFIG ")\n"
                 "  -s SIG   signal the running master ($MAINPID under systemd, else\n"
                 "           [server] pid_file): stop (TERM), quit (QUIT: graceful),\n"
                 "           reload (HUP: waits for the outcome, fails if refused),\n"
                 "           reopen (USR1)\n"
                 "  -t       check the configuration and what a start needs, and exit\n"
                 "           (0 ok, 1 refused)\n"
                 "  -v, --version  print the version and exit\n"
                 "  -V       the version, the libraries' versions and the build flags\n"
                 "  -h, --help     this help\n");
}

/* forkd -V: what a bug report needs (nginx -V's role). */
static void print_build_info(void)
{
    printf("forkd " FORKD_VERSION "\n"
           "libraries (built with): " FORKD_BUILD_LIBS "\n"
           "libevent at run time: %s\n"
           "build flags: " FORKD_BUILD_FLAGS "\n",
           event_get_version());
}

/*
 * An error on stderr. Under systemd (stderr is the journal) it carries the
 * err priority, so `journalctl -p err` shows why a start or reload failed.
 */
static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void complain(const char *fmt, ...)
{
    va_list ap;

    fputs(sdnotify_stderr_is_journal() ? "<3>forkd: " : "forkd: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/*
 * The master to signal: systemd tells its ExecReload=/ExecStop= commands in
 * $MAINPID (always current, even after a binary upgrade); otherwise the pid
 * file. -1 after saying why not.
 */
static pid_t master_pid(const config_t *cfg)
{
    const char *env = getenv("MAINPID");
    char *end;
    long v;
    pid_t pid;

    if (env != NULL && env[0] != '\0') {
        v = strtol(env, &end, 10);
        if (*end == '\0' && v > 0 && v <= 0x7fffffff) {
            return (pid_t)v;
        }
    }
    if (cfg->pid_file[0] == '\0') {
        complain("-s needs [server] pid_file in the config (or $MAINPID)");
        return -1;
    }
    pid = pidfile_read(cfg->pid_file);
    if (pid <= 0 && access(cfg->pid_file, F_OK) != 0 && errno == ENOENT) {
        complain("forkd is not running (no pid file %s)", cfg->pid_file);
    } else if (pid <= 0) {
        complain("cannot read a pid from \"%s\"", cfg->pid_file);
    } else if (kill(pid, 0) != 0 && errno == ESRCH) {
        complain("forkd is not running (pid %d in %s is gone: a stale pid file)", (int)pid,
                 cfg->pid_file);
        return -1;
    }
    return pid;
}

/* reload: HUP, then wait for the master to say how it went (see master_request_reload()). */
static int reload_and_wait(pid_t pid)
{
    int rc = master_request_reload(pid, RELOAD_WAIT_MS);

    switch (rc) {
    case MASTER_RELOAD_OK: return 0;
    case MASTER_RELOAD_REFUSED:
        complain("reload refused by the master (pid %d); it keeps serving the old "
                 "configuration (its error log says why)",
                 (int)pid);
        return 1;
    case MASTER_RELOAD_FAILED:
        complain("reload failed: the new workers could not start; the master (pid %d) keeps "
                 "serving with the old ones (its error log says why)",
                 (int)pid);
        return 1;
    default:
        complain("reload: %s from the master (pid %d)",
                 errno == EAGAIN ? "no answer in time" : strerror(errno), (int)pid);
        return 1;
    }
}

/* forkd -s NAME: signal the running master, like nginx -s. */
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
        complain("unknown signal \"%s\" (stop, quit, reload, reopen)", name);
        return 1;
    }
    pid = master_pid(cfg);
    if (pid <= 0) {
        return 1;
    }
    if (names[i].sig == SIGHUP) {
        return reload_and_wait(pid);
    }
    if (kill(pid, names[i].sig) != 0) {
        complain("kill(%d, %s) failed: %s", (int)pid, names[i].name, strerror(errno));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'v'}, {NULL, 0, NULL, 0}};
    const char *path = DEFAULT_CONFIG, *sig = NULL;
    char err[CONFIG_ERR_LEN];
    int opt, test_only = 0, rc;
    config_t *cfg;
    run_as_t as;
    log_t log;

    /* files forkd creates (pid file, logs) are never group- or world-writable */
    umask(umask(0) | 022);
    while ((opt = getopt_long(argc, argv, "c:ts:vVh", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 't': test_only = 1; break;
        case 's': sig = optarg; break;
        case 'v': printf("forkd " FORKD_VERSION "\n"); return 0;
        case 'V': print_build_info(); return 0;
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
        complain("out of memory");
        return 1;
    }
    if (config_load(cfg, path, err) != 0) {
        complain("%s", err);
        free(cfg);
        return 1;
    }
    if (sig != NULL) {
        rc = send_signal(cfg, sig);
        free(cfg);
        return rc;
    }
    if (preflight_check(cfg, &as, err) != 0) {
        complain("%s", err);
        free(cfg);
        return 1;
    }
    if (test_only) {
        printf("forkd: configuration file %s test is successful\n", path);
        free(cfg);
        return 0;
    }
    if (log_open(&log, cfg, as.drop ? as.uid : (uid_t)-1, as.gid, err, sizeof(err)) != 0) {
        complain("error log: %s", err);
        free(cfg);
        return 1;
    }
    /* a client that goes away must not kill a process with SIGPIPE */
    signal(SIGPIPE, SIG_IGN);
    rc = master_run(cfg, &as, &log, argv);
    log_close(&log);
    return rc;
}
