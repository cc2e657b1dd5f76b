/* errpage: error_page_NNN files served in place of the built-in error pages. */
#include "errpage.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "beneath.h"
#include "config.h"
#include "filecache.h"
#include "mime.h"

/* A response is done with the page's cache entry (forkd_release_fn). */
static void release_page(void *self, void *entry)
{
    fc_entry_t *e = entry;

    (void)self;
    filecache_release_sent(e->owner, e);
}

/*
 * The cache entry of the page at rel (below the root, no leading '/'), with
 * a reference for the caller; NULL when it cannot be served (*why says why).
 */
static fc_entry_t *page_entry(static_t *st, const char *rel, uint64_t now, const char **why)
{
    fc_entry_t *e = filecache_get(&st->fc, st->root_fd, rel, now);
    const char *name;
    struct stat sb;
    int fd;

    if (e != NULL) {
        return e;
    }
    fd = beneath_open(st->resolve, st->root_fd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        *why = strerror(errno);
        return NULL;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        *why = "not a regular file";
        close(fd);
        return NULL;
    }
    name = strrchr(rel, '/');
    name = name != NULL ? name + 1 : rel;
    e = filecache_put(&st->fc, rel, fd, &sb, mime_type(st->mime, name, strlen(name)), now);
    if (e == NULL) {
        *why = "out of memory or read error";
        close(fd);
    }
    return e;
}

void errpage_send(static_t *st, forkd_req_t *req, forkd_resp_t *resp, int status)
{
    forkd_server_t *srv = forkd_req_server(req);
    int i = config_error_page(status);
    const char *page = i >= 0 ? st->conf->error_page[i] : "", *why = "";
    fc_entry_t *e;

    if (page[0] == '\0') {
        forkd_resp_error(resp, status);
        return;
    }
    e = page_entry(st, page + 1, forkd_now_ms(srv), &why);
    if (e == NULL) {
        /* debug: a missing page would otherwise write a line per 404 */
        forkd_log(srv, FORKD_LOG_DEBUG, "error_page_%d %s: %s; the built-in page instead", status,
                  page, why);
        forkd_resp_error(resp, status);
        return;
    }
    forkd_resp_status(resp, status);
    forkd_resp_content_type(resp, e->content_type);
    if (e->data != NULL) {
        forkd_resp_body_ref(resp, e->data, (size_t)e->size, release_page, e);
    } else {
        forkd_resp_body_file(resp, e->fd, 0, (uint64_t)e->size, release_page, e);
    }
}
