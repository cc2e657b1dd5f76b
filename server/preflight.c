/* preflight: resolve the workers' user, check the files a start will open, as their opener. */
#include "preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

    if (faccessat(AT_FDCWD, cfg->root, R_OK | X_OK, AT_EACCESS) != 0) {
        return refuse(cfg, "static", "root", err, "'%s' is not readable%s: %s", cfg->root, who,
                      strerror(errno));
    }
    if (cfg->access_log[0] != '\0' && lstat(cfg->access_log, &st) == 0
        && faccessat(AT_FDCWD, cfg->access_log, W_OK, AT_EACCESS) != 0) {
        return refuse(cfg, "log", "access_log", err, "'%s' is not writable%s: %s", cfg->access_log,
                      who, strerror(errno));
    }
    return 0;
}

/*
 * worker_checks() in a child that has become the workers' user, as a worker
 * does: access(2) as root would say yes to everything. 0 ok, -1 err.
 */
static int checks_as_user(const config_t *cfg, const run_as_t *as, char err[CONFIG_ERR_LEN])
{
    char who[96];
    int fds[2], status;
    ssize_t n, got = 0;
    pid_t pid;

    snprintf(who, sizeof(who), " by user %s", as->user);
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
        if (initgroups(as->user, as->gid) != 0 || setgid(as->gid) != 0 || setuid(as->uid) != 0) {
            refuse(cfg, "server", "user", err, "cannot switch to user %s: %s", as->user,
                   strerror(errno));
        } else if (worker_checks(cfg, who, err) == 0) {
            _exit(0);
        }
        n = write(fds[1], err, strlen(err));
        _exit(n < 0 ? 2 : 1);
    }
    close(fds[1]);
    while (got < CONFIG_ERR_LEN - 1
           && (n = read(fds[0], err + got, (size_t)(CONFIG_ERR_LEN - 1 - got))) > 0) {
        got += n;
    }
    err[got] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    if (got == 0) {
        refuse(cfg, "server", "user", err, "checking files as user %s failed", as->user);
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
    return as->drop ? checks_as_user(cfg, as, err) : worker_checks(cfg, "", err);
}
