/* mime: an open-addressing hash of lowercase extension -> type. */
#include "mime.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXT_MAX 16
#define DEFAULT_TYPE "application/octet-stream"

typedef struct {
    char ext[EXT_MAX]; /* "" = empty slot */
    const char *type;  /* points into types or a built-in literal */
} slot_t;

struct mime_table {
    slot_t *slots;
    size_t cap; /* power of two */
    size_t used;
    char **types; /* strings read from the file, freed with the table */
    size_t ntypes, types_cap;
};

/* Types that carry text, and so a charset: text/... and these. */
static const char *const text_types[] = {"application/javascript", "application/xml",
                                         "application/xhtml+xml", "application/rss+xml",
                                         "application/atom+xml"};

/* Types every static site needs, right even where mime.types is missing or odd. */
static const char *const builtin[][2] = {
    {"html", "text/html"},        {"htm", "text/html"},       {"css", "text/css"},
    {"js", "text/javascript"},    {"mjs", "text/javascript"}, {"json", "application/json"},
    {"txt", "text/plain"},        {"xml", "application/xml"}, {"svg", "image/svg+xml"},
    {"png", "image/png"},         {"jpg", "image/jpeg"},      {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},         {"webp", "image/webp"},     {"avif", "image/avif"},
    {"ico", "image/x-icon"},      {"woff", "font/woff"},      {"woff2", "font/woff2"},
    {"wasm", "application/wasm"}, {"pdf", "application/pdf"}, {"mp4", "video/mp4"},
    {"webm", "video/webm"},       {"mp3", "audio/mpeg"},      {"zip", "application/zip"},
    {"gz", "application/gzip"},
};

static size_t hash(const char *ext, size_t len)
{
    size_t h = 5381, i;

    for (i = 0; i < len; i++) {
        h = h * 33 + (unsigned char)tolower((unsigned char)ext[i]);
    }
    return h;
}

/* Find the slot for ext (lowercase compare): its own, or the empty one it would take. */
static slot_t *find(const mime_table_t *t, const char *ext, size_t len)
{
    size_t i = hash(ext, len) & (t->cap - 1);

    for (;;) {
        slot_t *s = &t->slots[i];
        if (s->ext[0] == '\0' || (strncasecmp(s->ext, ext, len) == 0 && s->ext[len] == '\0')) {
            return s;
        }
        i = (i + 1) & (t->cap - 1);
    }
}

static int grow(mime_table_t *t)
{
    slot_t *old = t->slots;
    size_t oldcap = t->cap, i;

    t->cap = oldcap ? oldcap * 2 : 256;
    t->slots = calloc(t->cap, sizeof(slot_t));
    if (t->slots == NULL) {
        t->slots = old;
        t->cap = oldcap;
        return -1;
    }
    for (i = 0; i < oldcap; i++) {
        if (old[i].ext[0] != '\0') {
            *find(t, old[i].ext, strlen(old[i].ext)) = old[i];
        }
    }
    free(old);
    return 0;
}

/* Add ext -> type unless ext is known already (first one wins). */
static int add(mime_table_t *t, const char *ext, size_t len, const char *type)
{
    slot_t *s;
    size_t i;

    if (len == 0 || len >= EXT_MAX) {
        return 0;
    }
    if ((t->used + 1) * 2 > t->cap && grow(t) != 0) {
        return -1;
    }
    s = find(t, ext, len);
    if (s->ext[0] != '\0') {
        return 0;
    }
    for (i = 0; i < len; i++) {
        s->ext[i] = (char)tolower((unsigned char)ext[i]);
    }
    s->ext[len] = '\0';
    s->type = type;
    t->used++;
    return 0;
}

/* Keep a copy of a type string from the file; NULL when out of memory. */
static const char *keep(mime_table_t *t, const char *type, size_t len)
{
    char *copy;

    if (t->ntypes == t->types_cap) {
        size_t cap = t->types_cap ? t->types_cap * 2 : 256;
        char **n = realloc(t->types, cap * sizeof(char *));
        if (n == NULL) {
            return NULL;
        }
        t->types = n;
        t->types_cap = cap;
    }
    copy = strndup(type, len);
    if (copy != NULL) {
        t->types[t->ntypes++] = copy;
    }
    return copy;
}

/* One mime.types line: "type ext ext ..."; '#' starts a comment. */
static int add_line(mime_table_t *t, char *line)
{
    const char *type = NULL;
    char *tok, *save = NULL, *hashmark = strchr(line, '#');

    if (hashmark != NULL) {
        *hashmark = '\0';
    }
    for (tok = strtok_r(line, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (type == NULL) {
            type = keep(t, tok, strlen(tok));
            if (type == NULL) {
                return -1;
            }
        } else if (add(t, tok, strlen(tok), type) != 0) {
            return -1;
        }
    }
    return 0;
}

mime_table_t *mime_load(const char *path)
{
    mime_table_t *t = calloc(1, sizeof(*t));
    size_t i;
    FILE *fp;
    char line[1024];

    if (t == NULL || grow(t) != 0) {
        mime_free(t);
        return NULL;
    }
    for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
        if (add(t, builtin[i][0], strlen(builtin[i][0]), builtin[i][1]) != 0) {
            mime_free(t);
            return NULL;
        }
    }
    fp = path ? fopen(path, "r") : NULL;
    if (fp == NULL) {
        return t;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        if (add_line(t, line) != 0) {
            fclose(fp);
            mime_free(t);
            return NULL;
        }
    }
    fclose(fp);
    return t;
}

void mime_free(mime_table_t *t)
{
    size_t i;

    if (t == NULL) {
        return;
    }
    for (i = 0; i < t->ntypes; i++) {
        free(t->types[i]);
    }
    free(t->types);
    free(t->slots);
    free(t);
}

const char *mime_type(const mime_table_t *t, const char *name, size_t len)
{
    size_t i = len;
    const slot_t *s;

    while (i > 0 && name[i - 1] != '.' && name[i - 1] != '/') {
        i--;
    }
    if (i == 0 || name[i - 1] != '.' || len - i >= EXT_MAX || len == i) {
        return DEFAULT_TYPE;
    }
    s = find(t, name + i, len - i);
    return s->ext[0] ? s->type : DEFAULT_TYPE;
}

int mime_set(mime_table_t *t, const char *ext, const char *type)
{
    size_t len = strlen(ext);
    const char *copy;
    slot_t *s;

    if (len == 0 || len >= EXT_MAX) {
        return 0;
    }
    copy = keep(t, type, strlen(type));
    if (copy == NULL) {
        return -1;
    }
    s = find(t, ext, len);
    if (s->ext[0] != '\0') {
        s->type = copy;
        return 0;
    }
    return add(t, ext, len, copy);
}

/* Does type (maybe with parameters) carry text without saying its charset? */
static int wants_charset(const char *type)
{
    size_t len = strcspn(type, " ;"), i;

    if (strcasestr(type, "charset=") != NULL) {
        return 0;
    }
    if (len > 5 && strncasecmp(type, "text/", 5) == 0) {
        return 1;
    }
    for (i = 0; i < sizeof(text_types) / sizeof(text_types[0]); i++) {
        if (strlen(text_types[i]) == len && strncasecmp(type, text_types[i], len) == 0) {
            return 1;
        }
    }
    return 0;
}

int mime_add_charset(mime_table_t *t, const char *charset)
{
    char buf[512];
    size_t i;
    int n;

    for (i = 0; charset[0] != '\0' && i < t->cap; i++) {
        slot_t *s = &t->slots[i];
        if (s->ext[0] == '\0' || !wants_charset(s->type)) {
            continue;
        }
        n = snprintf(buf, sizeof(buf), "%s; charset=%s", s->type, charset);
        if (n < 0 || (size_t)n >= sizeof(buf) || (s->type = keep(t, buf, (size_t)n)) == NULL) {
            return -1;
        }
    }
    return 0;
}
