/* request: what a handler reads of a request (forkd_req_*), over the parsed head. */
#include "http.h"

_Static_assert((int)FORKD_GET == (int)HTTP_METHOD_GET && (int)FORKD_HEAD == (int)HTTP_METHOD_HEAD
                   && (int)FORKD_POST == (int)HTTP_METHOD_POST
                   && (int)FORKD_PUT == (int)HTTP_METHOD_PUT
                   && (int)FORKD_DELETE == (int)HTTP_METHOD_DELETE
                   && (int)FORKD_CONNECT == (int)HTTP_METHOD_CONNECT
                   && (int)FORKD_OPTIONS == (int)HTTP_METHOD_OPTIONS
                   && (int)FORKD_TRACE == (int)HTTP_METHOD_TRACE
                   && (int)FORKD_PATCH == (int)HTTP_METHOD_PATCH
                   && (int)FORKD_PATCH + 1 == (int)HTTP_METHOD_COUNT,
               "forkd_method_t is http_method_t");

/* Store n in *len unless len is NULL; returns p. */
static const char *with_len(const char *p, size_t n, size_t *len)
{
    if (len != NULL) {
        *len = n;
    }
    return p;
}

forkd_method_t forkd_req_method(const forkd_req_t *req)
{
    return (forkd_method_t)req->h.method;
}

const char *forkd_req_method_name(const forkd_req_t *req, size_t *len)
{
    return with_len(req->h.method_name.p, req->h.method_name.len, len);
}

const char *forkd_req_path(const forkd_req_t *req, size_t *len)
{
    return with_len(req->path, req->path_len, len);
}

const char *forkd_req_raw_path(const forkd_req_t *req, size_t *len)
{
    return with_len(req->h.path.p, req->h.path.len, len);
}

const char *forkd_req_query(const forkd_req_t *req, size_t *len)
{
    return with_len(req->h.query.p, req->h.query.len, len);
}

const char *forkd_req_header(const forkd_req_t *req, const char *name, size_t *len)
{
    const http_header_t *hd = http_find_header(&req->h, name);

    return hd != NULL ? with_len(hd->value.p, hd->value.len, len) : with_len(NULL, 0, len);
}

size_t forkd_req_header_count(const forkd_req_t *req)
{
    return req->h.nheaders;
}

int forkd_req_header_at(const forkd_req_t *req, size_t i, const char **name, size_t *name_len,
                        const char **value, size_t *value_len)
{
    const http_header_t *hd;

    if (i >= req->h.nheaders) {
        return -1;
    }
    hd = &req->h.headers[i];
    *name = with_len(hd->name.p, hd->name.len, name_len);
    *value = with_len(hd->value.p, hd->value.len, value_len);
    return 0;
}

int forkd_req_version(const forkd_req_t *req)
{
    return 10 + req->h.version_minor;
}

const struct sockaddr *forkd_req_peer(const forkd_req_t *req, socklen_t *len)
{
    if (len != NULL) {
        *len = req->peer_len;
    }
    return req->peer;
}

uint64_t forkd_req_id(const forkd_req_t *req)
{
    return req->id;
}

const char *forkd_req_request_id(const forkd_req_t *req)
{
    return req->xid;
}

const char *forkd_req_body(const forkd_req_t *req, size_t *len)
{
    return with_len(req->body, req->body != NULL ? req->body_len : 0, len);
}

forkd_server_t *forkd_req_server(const forkd_req_t *req)
{
    return req->srv;
}

forkd_ref_t forkd_req_ref(const forkd_req_t *req)
{
    forkd_ref_t ref = {req->id};

    return ref;
}

void forkd_req_on_abort(forkd_req_t *req, forkd_abort_fn cb, void *arg)
{
    req->abort_cb = cb;
    req->abort_arg = arg;
}

int forkd_req_cancelled(const forkd_req_t *req)
{
    return req->cancelled != NULL && *req->cancelled;
}
