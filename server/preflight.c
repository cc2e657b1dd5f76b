/* preflight: resolve the workers' user, check the files a start will open, as their opener. */
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "module.h"

/* How long the workers' files and the modules' test-load may take (an init that hangs) */
#define PREFLIGHT_CHILD_MS 10000
/*
 * The child's last word when all is well (with exit status 0: a module's init
 * that calls exit(0) is no success), and its exit status when it refused
 * (with its reason as last word): any other is a surprise.
 */
#define CHILD_OK "ok"
#define CHILD_REFUSED 3

/* err = "file:line: " + the message, blaming section/name's line. Returns -1. */
static int refuse(const config_t *cfg, const char *section, const char *name,
                  char err[CONFIG_ERR_LEN], const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int refuse(const config_t *cfg, const char *section, const char *name,
                  char err[CONFIG_ERR_LEN], const char *fmt, ...)
{
    va_list ap;
    int n;

    n = snprintf(err, CONFIG_ERR_LEN, "%.200s:%d: %s: ", cfg->path, config_line(cfg, section, name),
                 name);
    va_start(ap, fmt);
    vsnprintf(err + n, CONFIG_ERR_LEN - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static int resolve_user(const config_t *cfg, run_as_t *as, char err[CONFIG_ERR_LEN])
{
    struct passwd *pw;
    struct group *gr;

    memset(as, 0, sizeof(*as));
    as->uid = geteuid();
    as->gid = getegid();
    if (cfg->user[0] != '\0') {
        pw = getpwnam(cfg->user);
        if (pw == NULL) {
            return refuse(cfg, "server", "user", err, "unknown user '%s'", cfg->user);
        }
        if (geteuid() == 0) {
            as->drop = 1;
            as->uid = pw->pw_uid;
            as->gid = pw->pw_gid;
            snprintf(as->user, sizeof(as->user), "%s", cfg->user);
        }
    }
    if (cfg->group[0] != '\0') {
        gr = getgrnam(cfg->group);
        if (gr == NULL) {
            return refuse(cfg, "server", "group", err, "unknown group '%s'", cfg->group);
        }
        if (as->drop) {
            as->gid = gr->gr_gid;
        }
    }
    return 0;
}

/* The directory a file named by path would be created in (dir: CONFIG_PATH_MAX bytes). */
static void dir_of(const char *path, char *dir)
{
    char *slash;

    snprintf(dir, CONFIG_PATH_MAX, "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == dir) {
        dir[1] = '\0';
    } else {
        *slash = '\0';
    }
}

/* Can we create files in path's directory? 0 yes, -1 with err set. */
static int check_dir(const config_t *cfg, const char *section, const char *name, const char *path,
                     char err[CONFIG_ERR_LEN])
{
    char dir[CONFIG_PATH_MAX];
    struct stat st;

    dir_of(path, dir);
    if (stat(dir, &st) != 0) {
        return refuse(cfg, section, name, err, "directory '%s': %s", dir, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return refuse(cfg, section, name, err, "'%s' is not a directory", dir);
    }
    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0) {
        return refuse(cfg, section, name, err, "cannot create files in '%s': %s", dir,
                      strerror(errno));
    }
    return 0;
}

/*
 * A log file: missing (then we must be able to create it), or a regular
 * file of its own, which we can write when writable is set. 0 ok, -1 err.
 */
static int check_log(const config_t *cfg, const char *name, const char *path, int writable,
                     char err[CONFIG_ERR_LEN])
{
    struct stat st;

    if (path[0] == '\0') {
        return 0;
    }
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT) {
            return refuse(cfg, "log", name, err, "'%s': %s", path, strerror(errno));
        }
        return check_dir(cfg, "log", name, path, err);
    }
    if (S_ISLNK(st.st_mode)) {
        return refuse(cfg, "log", name, err, "'%s' is a symbolic link (refused)", path);
    }
    if (!S_ISREG(st.st_mode)) {
        return refuse(cfg, "log", name, err, "'%s' is not a regular file", path);
    }
    if (st.st_nlink != 1) {
        return refuse(cfg, "log", name, err, "'%s' has other hard links (refused)", path);
    }
    if (writable && faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) != 0) {
        return refuse(cfg, "log", name, err, "'%s' is not writable: %s", path, strerror(errno));
    }
    return 0;
}

/* What a worker opens once it runs as its user: the docroot and the access log. */
static int worker_checks(const config_t *cfg, const char *who, char err[CONFIG_ERR_LEN])
{
    struct stat st;
    int i, line;

    for (i = 0; i < cfg->nsites; i++) {
        const char *root = cfg->sites[i].root;
        if (faccessat(AT_FDCWD, root, R_OK | X_OK, AT_EACCESS) != 0) {
            line = config_site_line(cfg, i, "root");
            snprintf(err, CONFIG_ERR_LEN, "%.200s:%d: root: '%s' is not readable%s: %s", cfg->path,
                     line != 0 ? line : config_site_line(cfg, 0, "root"), root, who,
                     strerror(errno));
            return -1;
        }
    }
    if (cfg->access_log[0] != '\0' && lstat(cfg->access_log, &st) == 0
        && faccessat(AT_FDCWD, cfg->access_log, W_OK, AT_EACCESS) != 0) {
        return refuse(cfg, "log", "access_log", err, "'%s' is not writable%s: %s", cfg->access_log,
                      who, strerror(errno));
    }
    return 0;
}

/*
 * The child of checks_in_child(): become the workers' user (when they
 * drop), check their files, test-load the modules. Every message goes to
 * fd NUL-terminated; the last one is the reason, or CHILD_OK. Never returns.
 */
static void child_checks(const config_t *cfg, const run_as_t *as, int fd) __attribute__((noreturn));

static void child_checks(const config_t *cfg, const run_as_t *as, int fd)
{
    char err[CONFIG_ERR_LEN], who[96] = "";
    ssize_t n;

    if (as->drop) {
        snprintf(who, sizeof(who), " by user %s", as->user);
    }
    if (as->drop
        && (initgroups(as->user, as->gid) != 0 || setgid(as->gid) != 0 || setuid(as->uid) != 0)) {
        refuse(cfg, "server", "user", err, "cannot switch to user %s: %s", as->user,
               strerror(errno));
    } else if (worker_checks(cfg, who, err) == 0 && modules_test_load(cfg, fd, err) == 0) {
        snprintf(err, sizeof(err), "%s", CHILD_OK);
    }
    n = write(fd, err, strlen(err) + 1);
    _exit(n < 0 ? 2 : strcmp(err, CHILD_OK) == 0 ? 0 : CHILD_REFUSED);
}

/*
 * Read what the child writes to fd until it closes it, for at most
 * PREFLIGHT_CHILD_MS: its last NUL-terminated message goes to err ("" when
 * none). Returns 0, or -1 when the deadline passed.
 */
static int read_child(int fd, char err[CONFIG_ERR_LEN])
{
    char buf[4 * CONFIG_ERR_LEN];
    struct pollfd pfd = {fd, POLLIN, 0};
    struct timespec now;
    int64_t start, left;
    size_t got = 0, last = 0, i;
    ssize_t n;

    clock_gettime(CLOCK_MONOTONIC, &now);
    start = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    err[0] = '\0';
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        left = start + PREFLIGHT_CHILD_MS - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
        if (left <= 0) {
            return -1;
        }
        n = poll(&pfd, 1, (int)left);
        if (n <= 0) { /* the deadline (checked above), or a signal */
            continue;
        }
        if (got == sizeof(buf)) { /* keep the message being read: drop all before it */
            memmove(buf, buf + last, got - last);
            got = last > 0 ? got - last : 0; /* no NUL in all that: not a message */
            last = 0;
        }
        n = read(fd, buf + got, sizeof(buf) - got);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
            return 0;
        }
        for (i = got; n > 0 && i < got + (size_t)n; i++) {
            if (buf[i] == '\0') {
                snprintf(err, CONFIG_ERR_LEN, "%s", buf + last);
                last = i + 1;
            }
        }
        got += n > 0 ? (size_t)n : 0;
    }
}

/*
 * worker_checks() and the modules' test-load (modules_test_load()) in a
 * throwaway child that has become the workers' user, as a worker does:
 * access(2) as root would say yes to everything, and a module's code must
 * never run in the master. A child that outlives PREFLIGHT_CHILD_MS (an
 * init that hangs) is killed. 0 ok, -1 err.
 */
static int checks_in_child(const config_t *cfg, const run_as_t *as, char err[CONFIG_ERR_LEN])
{
    int fds[2], status = 0, timed_out;
    size_t len;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(err, CONFIG_ERR_LEN, "pipe() failed: %s", strerror(errno));
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        snprintf(err, CONFIG_ERR_LEN, "fork() failed: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_checks(cfg, as, fds[1]);
    }
    close(fds[1]);
    timed_out = read_child(fds[0], err);
    close(fds[0]);
    if (timed_out) {
        kill(pid, SIGKILL);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0 && strcmp(err, CHILD_OK) == 0) {
        return 0;
    }
    if (err[0] == '\0') {
        snprintf(err, CONFIG_ERR_LEN, "%.200s:0: checking the workers' files and modules",
                 cfg->path);
    }
    len = strlen(err);
    if (timed_out) {
        snprintf(err + len, CONFIG_ERR_LEN - len, ": no answer within %d s",
                 PREFLIGHT_CHILD_MS / 1000);
    } else if (WIFSIGNALED(status)) {
        snprintf(err + len, CONFIG_ERR_LEN - len, ": killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    } else if (WEXITSTATUS(status) != CHILD_REFUSED) { /* a module's init called exit() */
        snprintf(err + len, CONFIG_ERR_LEN - len, ": exited with status %d", WEXITSTATUS(status));
    }
    return -1;
}

int preflight_check(const config_t *cfg, run_as_t *as, char err[CONFIG_ERR_LEN])
{
    if (resolve_user(cfg, as, err) != 0) {
        return -1;
    }
    if (cfg->pid_file[0] != '\0' && check_dir(cfg, "server", "pid_file", cfg->pid_file, err) != 0) {
        return -1;
    }
    /* the master opens (or creates) both logs; workers reopen them after logrotate */
    if (check_log(cfg, "error_log", cfg->error_log, 1, err) != 0
        || check_log(cfg, "access_log", cfg->access_log, !as->drop, err) != 0) {
        return -1;
    }
    if (!as->drop && cfg->nmodules == 0) {
        return worker_checks(cfg, "", err);
    }
    return checks_in_child(cfg, as, err);
}
