/* http_resp: strict, zero-copy parser of an upstream's HTTP/1.x response head (RFC 9112). */
#include "http_resp.h"

#include <string.h>

/* RFC 9110 5.6.2 tchar */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A field value's byte (RFC 9110 5.5): VCHAR, obs-text, SP or HTAB. */
static int is_vbyte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static ssize_t bad(http_response_t *resp, const char *why)
{
    resp->error = why;
    return HTTP_PARSE_BAD;
}

/* The end of the line starting at p: the CR of its CRLF, or NULL when not all in. */
static const char *line_end(const char *p, const char *end)
{
    const char *cr = memchr(p, '\r', (size_t)(end - p));

    return cr != NULL && cr + 1 < end ? cr : NULL;
}

/* "HTTP/1.x NNN[ reason]" from p to eol. 0 ok, -1 bad (resp->error set). */
static int status_line(const char *p, const char *eol, http_response_t *resp)
{
    const char *q;

    if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != ' '
        || p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9'
        || (eol - p > 12 && p[12] != ' ')) {
        resp->error = "bad status line";
        return -1;
    }
    resp->version_minor = p[7] == '0' ? 0 : 1;
    resp->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    resp->reason.p = eol - p > 12 ? p + 13 : eol;
    resp->reason.len = (size_t)(eol - resp->reason.p);
    for (q = resp->reason.p; q < eol; q++) {
        if (!is_vbyte((unsigned char)*q)) {
            resp->error = "bad byte in the reason phrase";
            return -1;
        }
    }
    return 0;
}

/* One "name: value" line from p to eol into h. 0 ok, -1 bad (resp->error set). */
static int field_line(const char *p, const char *eol, http_header_t *h, http_response_t *resp)
{
    const char *q = p, *v, *ve;

    while (q < eol && is_tchar((unsigned char)*q)) {
        q++;
    }
    if (q == p || q == eol || *q != ':') {
        resp->error =
            p < eol && (*p == ' ' || *p == '\t') ? "obs-fold in a header" : "bad header field name";
        return -1;
    }
    h->name.p = p;
    h->name.len = (size_t)(q - p);
    for (v = q + 1; v < eol && (*v == ' ' || *v == '\t'); v++) {
    }
    for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--) {
    }
    for (q = v; q < ve; q++) {
        if (!is_vbyte((unsigned char)*q)) {
            resp->error = "bad byte in a header value";
            return -1;
        }
    }
    h->value.p = v;
    h->value.len = (size_t)(ve - v);
    return 0;
}

int http_list_has(http_slice_t value, const char *token)
{
    size_t tlen = strlen(token), i = 0, start, end;

    while (i < value.len) {
        while (i < value.len && (value.p[i] == ' ' || value.p[i] == '\t' || value.p[i] == ',')) {
            i++;
        }
        start = i;
        while (i < value.len && value.p[i] != ',') {
            i++;
        }
        end = i;
        while (end > start && (value.p[end - 1] == ' ' || value.p[end - 1] == '\t')) {
            end--;
        }
        if (end - start == tlen && strncasecmp(value.p + start, token, tlen) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The last coding of a Transfer-Encoding value is chunked. */
static int ends_chunked(http_slice_t v)
{
    const char *comma = v.len ? memrchr(v.p, ',', v.len) : NULL;
    http_slice_t last = v;

    if (comma != NULL) {
        last.p = comma + 1;
        last.len = (size_t)(v.p + v.len - last.p);
    }
    while (last.len > 0 && (*last.p == ' ' || *last.p == '\t')) {
        last.p++;
        last.len--;
    }
    return http_slice_eq_nocase(last, "chunked");
}

/* Content-Length's digits into *n; 0 ok, -1 bad or too large. */
static int parse_length(http_slice_t v, uint64_t *n)
{
    size_t i;

    *n = 0;
    if (v.len == 0 || v.len > 19) {
        return -1;
    }
    for (i = 0; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9') {
            return -1;
        }
        *n = *n * 10 + (uint64_t)(v.p[i] - '0');
    }
    return 0;
}

/* Body framing and keep-alive from the parsed fields (RFC 9112 6.3, 9.3). */
static int framing(http_response_t *resp, int head_request)
{
    int have_len = 0, chunked = 0, te = 0, close = 0, keep = 0;
    uint64_t n, len = 0;
    size_t i;

    for (i = 0; i < resp->nheaders; i++) {
        const http_header_t *h = &resp->headers[i];
        if (http_slice_eq_nocase(h->name, "content-length")) {
            if (parse_length(h->value, &n) != 0 || (have_len && n != len)) {
                resp->error = "bad or conflicting Content-Length";
                return -1;
            }
            have_len = 1;
            len = n;
        } else if (http_slice_eq_nocase(h->name, "transfer-encoding")) {
            te = 1;
            chunked = ends_chunked(h->value); /* the last field's last coding counts */
        } else if (http_slice_eq_nocase(h->name, "connection")) {
            close |= http_list_has(h->value, "close");
            keep |= http_list_has(h->value, "keep-alive");
        }
    }
    resp->keep_alive = !close && (resp->version_minor == 1 || keep) && !(te && have_len);
    resp->has_length = have_len && !te;
    resp->content_length = resp->has_length ? len : 0;
    if (head_request || resp->status < 200 || resp->status == 204 || resp->status == 304) {
        resp->body = HTTP_RESP_BODY_NONE;
    } else if (te) {
        resp->body = chunked ? HTTP_RESP_BODY_CHUNKED : HTTP_RESP_BODY_CLOSE;
    } else if (have_len) {
        resp->body = len ? HTTP_RESP_BODY_LENGTH : HTTP_RESP_BODY_NONE;
    } else {
        resp->body = HTTP_RESP_BODY_CLOSE;
    }
    if (resp->body == HTTP_RESP_BODY_CLOSE) {
        resp->keep_alive = 0;
    }
    return 0;
}

ssize_t http_parse_response(const char *buf, size_t len, size_t max_head, int head_request,
                            http_response_t *resp)
{
    const char *p = buf, *end = buf + (len < max_head ? len : max_head), *eol;

    resp->nheaders = 0;
    resp->error = NULL;
    resp->body = HTTP_RESP_BODY_NONE;
    resp->content_length = 0;
    resp->has_length = 0;
    if ((eol = line_end(p, end)) == NULL) {
        if (memchr(p, '\n', (size_t)(end - p)) != NULL) {
            return bad(resp, "bare LF in the status line");
        }
        return len >= max_head ? bad(resp, "response head too large") : HTTP_PARSE_NEED_MORE;
    }
    if (eol[1] != '\n' || memchr(p, '\n', (size_t)(eol - p)) != NULL) {
        return bad(resp, "bare CR or LF in the status line");
    }
    if (status_line(p, eol, resp) != 0) {
        return HTTP_PARSE_BAD;
    }
    for (p = eol + 2;; p = eol + 2) {
        if ((eol = line_end(p, end)) == NULL) {
            if (memchr(p, '\n', (size_t)(end - p)) != NULL) {
                return bad(resp, "bare LF in the head");
            }
            return len >= max_head ? bad(resp, "response head too large") : HTTP_PARSE_NEED_MORE;
        }
        if (eol[1] != '\n' || memchr(p, '\n', (size_t)(eol - p)) != NULL) {
            return bad(resp, "bare CR or LF in the head");
        }
        if (eol == p) {
            break;
        }
        if (resp->nheaders == resp->headers_cap) {
            return bad(resp, "too many header fields");
        }
        if (field_line(p, eol, &resp->headers[resp->nheaders], resp) != 0) {
            return HTTP_PARSE_BAD;
        }
        resp->nheaders++;
    }
    if (framing(resp, head_request) != 0) {
        return HTTP_PARSE_BAD;
    }
    return (ssize_t)(eol + 2 - buf);
}
