/* mime: file extension to Content-Type, from /etc/mime.types with a built-in fallback. */
#ifndef FORKD_MIME_H
#define FORKD_MIME_H

#include <stddef.h>

typedef struct mime_table mime_table_t;

/*
 * Build a table from a mime.types file (path may be NULL or unreadable: then
 * only the built-in types are known). Built-in types win over the file for
 * the web's common extensions (html, css, js, json, svg, ...).
 * Returns a table the caller frees with mime_free(), or NULL when out of memory.
 */
mime_table_t *mime_load(const char *path);

void mime_free(mime_table_t *t);

/* ext (no dot, any case) is type from now on ([mime] lines). 0 ok, -1 out of memory. */
int mime_set(mime_table_t *t, const char *ext, const char *type);

/*
 * Add "; charset=charset" to every text type (text/..., application/javascript,
 * application/xml and the XML feeds) that does not name its charset already.
 * Call it after mime_set(). 0 ok, -1 out of memory.
 */
int mime_add_charset(mime_table_t *t, const char *charset);

/*
 * Content-Type for a file name (the part after its last '.', any case);
 * "application/octet-stream" when unknown. The string lives as long as t.
 */
const char *mime_type(const mime_table_t *t, const char *name, size_t len);

#endif
