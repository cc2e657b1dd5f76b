/* test_beneath: the O_NOFOLLOW walk answers as openat2(RESOLVE_BENEATH) does, case by case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "beneath.h"

#define FLAGS (O_RDONLY | O_NONBLOCK | O_NOCTTY)

typedef struct {
    char dir[64]; /* the tree; www/ inside it is the root, outside.txt beside it */
    int root_fd;
} fixture_t;

/* One request below www/: what it must give, "<dir>", "<fifo>", the contents or an errno. */
typedef struct {
    const char *rel;
    const char *want; /* NULL: fails with err */
    int err;
} row_t;

static const row_t rows[] = {
    {"", "<dir>", 0},
    {"plain.txt", "plain", 0},
    {"sub/", "<dir>", 0},
    {"sub//index.html", "sub", 0},
    {"sub/./index.html", "sub", 0},
    {"sub/link-up.html", "index", 0}, /* "../index.html" from sub/: stays inside */
    {"sub/deep", "plain", 0},         /* "../link-sub/../plain.txt" */
    {"sub/updir/plain.txt", "plain", 0},
    {"sub/updir", "<dir>", 0},
    {"link-inside.txt", "plain", 0},
    {"link-sub", "<dir>", 0},
    {"link-sub/", "<dir>", 0},
    {"link-sub/index.html", "sub", 0},
    {"link-sub-slash/index.html", "sub", 0},
    {"dotlink/plain.txt", "plain", 0},
    {"chain-1", "plain", 0}, /* 40 symlinks: the most the kernel follows */
    {"fifo", "<fifo>", 0},   /* O_NONBLOCK: opened, not waited on */
    {"link-outside", NULL, EXDEV},
    {"link-abs-inside", NULL, EXDEV}, /* absolute, even into the root */
    {"link-etc/passwd", NULL, EXDEV},
    {"sub/link-outin", NULL, EXDEV}, /* "../../www/plain.txt": out and back in */
    {"dotdotlink/outside.txt", NULL, EXDEV},
    {"../outside.txt", NULL, EXDEV},
    {"sub/../../outside.txt", NULL, EXDEV},
    {"/etc/passwd", NULL, EXDEV},
    {"loop-a", NULL, ELOOP},
    {"self", NULL, ELOOP},
    {"chain-0", NULL, ELOOP}, /* 41 symlinks */
    {"dangling", NULL, ENOENT},
    {"nope", NULL, ENOENT},
    {"nope/x", NULL, ENOENT},
    {"plain.txt/x", NULL, ENOTDIR},
    {"plain.txt/", NULL, ENOTDIR},
    {"link-inside.txt/", NULL, ENOTDIR},
};

/* The tree's symlinks (name below www/, target); link-abs-inside is made apart. */
static const char *const links[][2] = {
    {"sub/link-up.html", "../index.html"},
    {"sub/deep", "../link-sub/../plain.txt"},
    {"sub/updir", ".."},
    {"sub/link-outin", "../../www/plain.txt"},
    {"link-inside.txt", "plain.txt"},
    {"link-sub", "sub"},
    {"link-sub-slash", "sub/"},
    {"dotlink", "."},
    {"dotdotlink", ".."},
    {"link-outside", "/etc/passwd"},
    {"link-etc", "../../../../../../etc"},
    {"loop-a", "loop-b"},
    {"loop-b", "loop-a"},
    {"self", "self"},
    {"dangling", "nope"},
};

static void put(const char *dir, const char *rel, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void link_at(const char *dir, const char *rel, const char *target)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    char www[128], path[256], name[32], target[32];
    int i;

    if (f == NULL) {
        return -1;
    }
    strcpy(f->dir, "/tmp/test_beneath_XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        return -1;
    }
    snprintf(www, sizeof(www), "%s/www", f->dir);
    snprintf(path, sizeof(path), "%s/sub", www);
    if (mkdir(www, 0755) != 0 || mkdir(path, 0755) != 0) {
        return -1;
    }
    put(f->dir, "outside.txt", "OUTSIDE");
    put(www, "index.html", "index");
    put(www, "plain.txt", "plain");
    put(www, "sub/index.html", "sub");
    for (i = 0; i < (int)(sizeof(links) / sizeof(links[0])); i++) {
        link_at(www, links[i][0], links[i][1]);
    }
    snprintf(path, sizeof(path), "%s/plain.txt", www);
    link_at(www, "link-abs-inside", path);
    for (i = 0; i <= BENEATH_MAX_LINKS; i++) {
        snprintf(name, sizeof(name), "chain-%d", i);
        snprintf(target, sizeof(target), "chain-%d", i + 1);
        link_at(www, name, i == BENEATH_MAX_LINKS ? "plain.txt" : target);
    }
    snprintf(path, sizeof(path), "%s/fifo", www);
    if (mkfifo(path, 0644) != 0) {
        return -1;
    }
    f->root_fd = open(www, O_PATH | O_DIRECTORY | O_CLOEXEC);
    *state = f;
    return f->root_fd < 0 ? -1 : 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    close(f->root_fd);
    nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* What beneath_open() gave for rel, as a row's want/err would say it. */
static void open_one(const fixture_t *f, beneath_mode_t mode, const char *rel, char *got,
                     size_t gotsz, int *err)
{
    struct stat st;
    ssize_t n;
    int fd;

    *err = 0;
    got[0] = '\0';
    errno = 0;
    fd = beneath_open(mode, f->root_fd, rel, FLAGS);
    if (fd < 0) {
        *err = errno;
        return;
    }
    assert_int_equal(fstat(fd, &st), 0);
    if (S_ISDIR(st.st_mode)) {
        snprintf(got, gotsz, "<dir>");
    } else if (S_ISFIFO(st.st_mode)) {
        snprintf(got, gotsz, "<fifo>");
    } else {
        n = read(fd, got, gotsz - 1);
        got[n > 0 ? n : 0] = '\0';
    }
    close(fd);
}

/* Every row in mode; prints the row that differs. */
static void check_rows(const fixture_t *f, beneath_mode_t mode)
{
    char got[64];
    size_t i;
    int err;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        open_one(f, mode, rows[i].rel, got, sizeof(got), &err);
        if (rows[i].want != NULL) {
            if (err != 0) {
                print_error("%s \"%s\": %s\n", beneath_call(mode), rows[i].rel, strerror(err));
            }
            assert_int_equal(err, 0);
            assert_string_equal(got, rows[i].want);
        } else {
            if (err != rows[i].err) {
                print_error("%s \"%s\": got \"%s\" / %s, want %s\n", beneath_call(mode),
                            rows[i].rel, got, strerror(err), strerror(rows[i].err));
            }
            assert_int_equal(err, rows[i].err);
        }
    }
}

static int count_fds(void)
{
    char path[64];
    int fd, n = 0;

    for (fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n += access(path, F_OK) == 0;
    }
    return n;
}

static void test_walk_rows(void **state)
{
    const fixture_t *f = *state;
    int before = count_fds();

    check_rows(f, BENEATH_WALK);
    assert_int_equal(count_fds(), before); /* every directory the walk opened is closed */
}

/* The table itself checked against the kernel, where openat2() works. */
static void test_openat2_rows(void **state)
{
    const fixture_t *f = *state;

    unsetenv(BENEATH_ENV);
    if (beneath_probe(NULL, 0) != BENEATH_OPENAT2) {
        skip();
    }
    check_rows(f, BENEATH_OPENAT2);
}

static void test_walk_names_too_long(void **state)
{
    const fixture_t *f = *state;
    char rel[NAME_MAX + 2]; /* one byte over NAME_MAX */
    int fd;

    memset(rel, 'a', sizeof(rel) - 1);
    rel[sizeof(rel) - 1] = '\0';
    errno = 0;
    fd = beneath_open(BENEATH_WALK, f->root_fd, rel, FLAGS);
    assert_int_equal(fd, -1);
    assert_int_equal(errno, ENAMETOOLONG);
}

static void test_probe_env_forces_walk(void **state)
{
    char why[128];

    (void)state;
    setenv(BENEATH_ENV, "walk", 1);
    assert_int_equal(beneath_probe(why, sizeof(why)), BENEATH_WALK);
    assert_non_null(strstr(why, "FORKD_RESOLVE=walk"));
    setenv(BENEATH_ENV, "something else", 1);
    beneath_probe(why, sizeof(why));
    assert_null(strstr(why, "FORKD_RESOLVE"));
    unsetenv(BENEATH_ENV);
    assert_string_equal(beneath_call(BENEATH_WALK), "openat");
    assert_string_equal(beneath_call(BENEATH_OPENAT2), "openat2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_rows),
        cmocka_unit_test(test_openat2_rows),
        cmocka_unit_test(test_walk_names_too_long),
        cmocka_unit_test(test_probe_env_forces_walk),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
