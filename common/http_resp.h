/* http_resp: strict, zero-copy parser of an upstream's HTTP/1.x response head (RFC 9112). */
#ifndef FORKD_HTTP_RESP_H
#define FORKD_HTTP_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http_parser.h"

/* How the body after the head is framed (RFC 9112 6.3). */
typedef enum {
    HTTP_RESP_BODY_NONE = 0, /* HEAD request, 1xx, 204, 304, or Content-Length: 0 */
    HTTP_RESP_BODY_LENGTH,   /* content_length bytes follow */
    HTTP_RESP_BODY_CHUNKED,  /* decode with http_chunked_parse() */
    HTTP_RESP_BODY_CLOSE     /* everything until the upstream closes */
} http_resp_body_t;

typedef struct {
    int version_minor; /* HTTP/1.0 or HTTP/1.1 (other 1.x parse as 1) */
    int status;        /* 100..599 */
    http_slice_t reason;

    http_header_t *headers; /* caller's array */
    size_t headers_cap;
    size_t nheaders;

    http_resp_body_t body;
    uint64_t content_length; /* HTTP_RESP_BODY_LENGTH, or has_length */
    int has_length;          /* a Content-Length (no Transfer-Encoding) even when no body follows
                                (HEAD, 304): what a GET would have had */
    int keep_alive;          /* the connection may carry another request after this body */

    const char *error; /* static string, set with HTTP_PARSE_BAD */
} http_response_t;

/*
 * Parse one response head from buf[0..len), the answer to a request whose
 * method was HEAD when head_request (its body is then none, whatever the
 * headers say). Returns the bytes of the head (through its empty line),
 * HTTP_PARSE_NEED_MORE while incomplete and within max_head bytes, or
 * HTTP_PARSE_BAD with resp->error set: a status line other than
 * "HTTP/1.x NNN[ reason]", a field line that is not "token: value" (no
 * obs-fold, no bare LF, no control byte in a value), more fields than
 * headers_cap, a head longer than max_head, Content-Length with something
 * but digits or two different values. Transfer-Encoding ending in chunked
 * wins over Content-Length (whose value is then ignored, and the
 * connection not reused); another final coding means a close-delimited
 * body. keep_alive is 0 for a close-delimited body, "Connection: close",
 * or HTTP/1.0 without "Connection: keep-alive". Pure: no allocation or I/O;
 * slices point into buf. No state between calls: call again from buf[0].
 */
ssize_t http_parse_response(const char *buf, size_t len, size_t max_head, int head_request,
                            http_response_t *resp);

/*
 * 1 when the comma-separated list value (a Connection header's) holds token
 * (ASCII case-insensitive), else 0.
 */
int http_list_has(http_slice_t value, const char *token);

#endif
