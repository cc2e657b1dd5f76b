/*
 * forkd.h: the request handler API, all a handler sees of the server
 * (installed as forkd/forkd.h). Types are opaque; every function says what
 * it borrows and what it copies. Handlers run on their worker's event loop,
 * one at a time: nothing here is thread-safe, but for what a [route] pool =
 * yes handler calls on its thread (see forkd_req_cancelled()).
 */
#ifndef FORKD_H
#define FORKD_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Bumped whenever anything below changes incompatibly. */
#define FORKD_ABI 1

/* A request being answered; valid from the handler's call until its response is finished. */
typedef struct forkd_req forkd_req_t;
/* The response to that request, under construction until it is finished. */
typedef struct forkd_resp forkd_resp_t;
/* The worker serving the request: its event loop, clock and log. Lives as long as the worker. */
typedef struct forkd_server forkd_server_t;

/* What a handler returns. */
#define FORKD_DONE 0  /* the response is filled in: send it now */
#define FORKD_ASYNC 1 /* the handler calls forkd_resp_finish() later (timer, its own I/O) */

/*
 * A request handler: fill resp and return FORKD_DONE, or keep resp and
 * return FORKD_ASYNC. self is the handler's own context, as registered.
 */
typedef int (*forkd_handler_fn)(forkd_req_t *req, forkd_resp_t *resp, void *self);

typedef enum {
    FORKD_METHOD_OTHER = 0, /* never reaches a handler (answered 501) */
    FORKD_GET,
    FORKD_HEAD,
    FORKD_POST,
    FORKD_PUT,
    FORKD_DELETE,
    FORKD_CONNECT, /* never reaches a handler (answered 501) */
    FORKD_OPTIONS,
    FORKD_TRACE,
    FORKD_PATCH
} forkd_method_t;

/* A set of methods as one bit each: FORKD_METHOD_BIT(FORKD_GET) | FORKD_METHOD_BIT(FORKD_HEAD). */
#define FORKD_METHOD_BIT(m) (1u << (m))

/*
 * The request. Strings are borrowed from the request (valid until its
 * response is finished) and are not NUL-terminated unless said; a len
 * argument may be NULL when the caller does not want the length.
 */

forkd_method_t forkd_req_method(const forkd_req_t *req);

/* The method token as received ("GET"), *len bytes. */
const char *forkd_req_method_name(const forkd_req_t *req, size_t *len);

/* The path: percent-decoded, dot segments removed, starts with '/'; NUL-terminated. */
const char *forkd_req_path(const forkd_req_t *req, size_t *len);

/*
 * The path as the client sent it (still percent-encoded, dot segments
 * kept: "/" for an absolute-form target without one), *len bytes; for a
 * proxy, which forwards what it was given (routing used forkd_req_path()).
 */
const char *forkd_req_raw_path(const forkd_req_t *req, size_t *len);

/* The raw query (after '?', still percent-encoded), *len bytes; NULL when there is none. */
const char *forkd_req_query(const forkd_req_t *req, size_t *len);

/*
 * The value of the first header field named name (ASCII case-insensitive),
 * without surrounding whitespace, *len bytes (0 for an empty value); NULL
 * when the request has none.
 */
const char *forkd_req_header(const forkd_req_t *req, const char *name, size_t *len);

/* How many header fields the request has, for forkd_req_header_at(). */
size_t forkd_req_header_count(const forkd_req_t *req);

/*
 * Header field i (0 .. count - 1) in the order received: its name as sent
 * and its value. 0 ok, -1 when i is out of range (nothing set).
 */
int forkd_req_header_at(const forkd_req_t *req, size_t i, const char **name, size_t *name_len,
                        const char **value, size_t *value_len);

/* The HTTP version as 10 * major + minor: 10 or 11. */
int forkd_req_version(const forkd_req_t *req);

/*
 * The client's socket address, *len bytes (may be NULL): an AF_INET or
 * AF_INET6 address with its port, or an AF_UNIX one without a path for a
 * client of a unix socket (it has no address).
 */
const struct sockaddr *forkd_req_peer(const forkd_req_t *req, socklen_t *len);

/* An id for the request, never given to another one in this worker's lifetime (never 0). */
uint64_t forkd_req_id(const forkd_req_t *req);

/*
 * The request's X-Request-Id, as the response and the JSON access log carry
 * it: the one a trusted balancer or proxy sent ([server] proxy_from, [http]
 * real_ip_from; 1..64 characters of letters, digits and "-_.:"), else one
 * forkd made (32 hex digits, unique across workers and restarts). To pass on
 * to an application server or log with it. NUL-terminated, lives with req.
 */
const char *forkd_req_request_id(const forkd_req_t *req);

/*
 * The request body, *len bytes, for a route that takes one; NULL otherwise
 * (no route option, or no body sent).
 */
const char *forkd_req_body(const forkd_req_t *req, size_t *len);

/* The worker serving the request. */
forkd_server_t *forkd_req_server(const forkd_req_t *req);

/*
 * The response. Its status starts at 0 (a handler must set one), with no
 * header and an empty body. The body is one of: text built in the response
 * (forkd_resp_body_copy(), forkd_resp_printf()), memory the handler lends
 * (forkd_resp_body_ref()), a file range (forkd_resp_body_file()), or ranges
 * of a file each after a text (forkd_resp_body_parts()); setting
 * one replaces the one before, releasing it at once. For HEAD, 204 and 304
 * no body is sent (HEAD still gets its Content-Length).
 */

/* The status code, 100..599; a response sent with another (or none) is answered with a 500. */
void forkd_resp_status(forkd_resp_t *resp, int status);

/* The status set so far (by forkd_resp_status() or forkd_resp_error()), 0 when none. */
int forkd_resp_get_status(const forkd_resp_t *resp);

/*
 * Add the header line "name: value" (both copied, NUL-terminated, with no
 * CR or LF: the caller checks what comes from a client). Server, Date,
 * Content-Length and Connection are the server's own. The first KiB of
 * lines lives in the response; more are held in memory allocated for this
 * response (about 1 MiB in all). 0 ok, -1 past that or out of memory: the
 * line is not added.
 */
int forkd_resp_header(forkd_resp_t *resp, const char *name, const char *value);

/* forkd_resp_header() with the name and value as nlen and vlen bytes (no NUL needed). */
int forkd_resp_header_len(forkd_resp_t *resp, const char *name, size_t nlen, const char *value,
                          size_t vlen);

/*
 * How long the application server behind this handler (an upstream) took
 * for the response, in microseconds: the JSON access log's upstream_us
 * ([log] format = json), null when never called. A proxy handler calls it
 * once it has the upstream's answer.
 */
void forkd_resp_upstream_time(forkd_resp_t *resp, uint64_t us);

/*
 * For a HEAD request: the Content-Length the same request with GET would
 * have had (RFC 9110 9.3.2), sent although no body is. For a handler that
 * knows the length without having the body (a proxy passing on an app's
 * answer to HEAD). Ignored for any other method; without it a HEAD answer
 * says the length of the body the handler set.
 */
void forkd_resp_head_length(forkd_resp_t *resp, uint64_t len);

/*
 * Switch protocols (a WebSocket upgrade through a proxy): with status 101
 * and the handler's header lines (Upgrade: ...), the answer says
 * "Connection: Upgrade"; once it is sent, the client's connection leaves
 * HTTP and is joined to fd (the handler's non-blocking socket to an app,
 * given to forkd: it closes it): bytes pass both ways until both sides
 * closed, either fails, or nothing passes for idle_ms (0: never). early[0..
 * len) (copied) are bytes already read from fd for the client. The
 * response still ends with forkd_resp_finish(), logged as a 101. 0 ok; -1
 * (fd still the caller's) unless the status is 101 and the request asked
 * for it (HTTP/1.1, an Upgrade field, no body), or out of memory.
 */
int forkd_resp_tunnel(forkd_resp_t *resp, int fd, const void *early, size_t len, uint32_t idle_ms);

/*
 * The Content-Type; borrowed: type must stay valid until the response is
 * sent (a string literal, or the handler's own long-lived table). NULL: no
 * Content-Type; one longer than 255 bytes is not sent either. Like a
 * header's value it must hold no CR or LF.
 */
void forkd_resp_content_type(forkd_resp_t *resp, const char *type);

/*
 * Called once when lent memory or a file is no longer used by the response:
 * after it is sent, or when the request ends or the body is replaced. self
 * is the context of the handler that the request was routed to.
 */
typedef void (*forkd_release_fn)(void *self, void *arg);

/* The body is a copy of p[0..len). 0 ok, -1 out of memory (the body is then empty). */
int forkd_resp_body_copy(forkd_resp_t *resp, const void *p, size_t len);

/*
 * Append formatted text to the body built in the response (from the
 * start, if the body was lent memory or a file). 0 ok, -1 out of memory
 * (the text is then not added).
 */
int forkd_resp_printf(forkd_resp_t *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The body is p[0..len), borrowed, not copied. release(self, arg) is called
 * when the response no longer needs it; release NULL: p outlives the request
 * (a literal, the request's own body).
 */
void forkd_resp_body_ref(forkd_resp_t *resp, const void *p, size_t len, forkd_release_fn release,
                         void *arg);

/*
 * The body is len bytes of the file open as fd, from offset off (sent with
 * sendfile() at that offset: fd's own offset is neither used nor moved, so
 * responses may share an fd). With release NULL the response takes fd and
 * closes it when done; otherwise fd is borrowed and release(self, arg)
 * called when done. A file that turns out shorter than off + len ends the
 * connection (the length was promised).
 */
void forkd_resp_body_file(forkd_resp_t *resp, int fd, off_t off, uint64_t len,
                          forkd_release_fn release, void *arg);

/* One piece of a forkd_resp_body_parts() body: text_len bytes of text, then a file range. */
typedef struct {
    size_t text_len; /* of the text before the range */
    off_t off;       /* the range: len bytes of the file from off (0: the text alone) */
    uint64_t len;
} forkd_part_t;

/*
 * The body is n pieces in order, each its text and then its range of the
 * file open as fd: the texts are text[0..), one after the other
 * (parts[0].text_len bytes, then parts[1].text_len, ...). For a body that
 * mixes a file's bytes with text of its own, a multipart/byteranges one:
 * each part's delimiter and headers, then its bytes, and a last piece of
 * text alone closing it. Content-Length is the sum of it all. text and
 * parts are copied; fd and release are as for forkd_resp_body_file() (the
 * ranges are sent with sendfile(), a file shorter than promised ends the
 * connection). 0 ok; -1 out of memory: the body is empty and fd still the
 * caller's (neither closed nor released).
 */
int forkd_resp_body_parts(forkd_resp_t *resp, int fd, const char *text, const forkd_part_t *parts,
                          size_t n, forkd_release_fn release, void *arg);

/*
 * Status and a small HTML page saying it (the body is replaced; headers
 * already added stay).
 */
void forkd_resp_error(forkd_resp_t *resp, int status);

/* Close the connection after this response (it says "Connection: close"). */
void forkd_resp_close(forkd_resp_t *resp);

/* A timer's callback: on the worker's loop, with the response it was set on. */
typedef void (*forkd_timer_fn)(forkd_resp_t *resp, void *arg);

/*
 * Call cb(resp, arg) in ms milliseconds, once, from the worker's loop; one
 * timer per response (a second one while the first is pending fails),
 * dropped (never called) if the request ends first. The handler returns
 * FORKD_ASYNC and cb finishes the response. 0 ok, -1 failed (no timer:
 * answer at once instead).
 */
int forkd_resp_timer(forkd_resp_t *resp, uint32_t ms, forkd_timer_fn cb, void *arg);

/*
 * An async handler's response is filled in: send it. After this call req
 * and resp are the server's again: the handler must not touch them.
 */
void forkd_resp_finish(forkd_resp_t *resp);

/*
 * Answering later, safely. While a handler that returned FORKD_ASYNC holds
 * the request, the request may end without it: the client goes away (its
 * connection reads end of input, or is reset), [http] handler_timeout passes
 * (counted from the handler's return; the server answers 504), or the
 * worker stops. So a handler keeps a reference to the request, never a
 * pointer: forkd_lookup() gives the response back while the request is
 * pending and NULL once it is gone, and an abort callback tells the handler
 * at once. A client that shuts down its sending side after a pipelined
 * request still waits for its answers; one that sends nothing more after
 * this request and shuts down (or closes) is taken as gone, as nginx does.
 * A req or resp pointer is good for the call that got it, no longer: its
 * memory serves the connection's next request. (forkd_resp_finish() called
 * within the handler's own call counts as returning FORKD_DONE.)
 */

/* A reference to a request: a plain value, safe to keep after the request is gone. */
typedef struct {
    uint64_t id; /* the request's forkd_req_id(); 0 refers to no request */
} forkd_ref_t;

/* The reference to req. */
forkd_ref_t forkd_req_ref(const forkd_req_t *req);

/*
 * The response of the request ref refers to while it is pending (its
 * handler returned FORKD_ASYNC and has not finished it), else NULL: the
 * request is gone (answered, aborted, timed out, its connection closed),
 * or its handler has not returned yet. On the worker's loop only. The
 * pointer is good until the caller returns to the loop or finishes the
 * response: keep ref, not it.
 */
forkd_resp_t *forkd_lookup(forkd_server_t *srv, forkd_ref_t ref);

/* The request a response answers (for forkd_pool_submit() from a callback). */
forkd_req_t *forkd_resp_req(forkd_resp_t *resp);

/* Why a pending request ended without its handler's answer. */
#define FORKD_ABORT_CLIENT 1  /* the client went away: nothing is sent */
#define FORKD_ABORT_TIMEOUT 2 /* handler_timeout passed: the server answered 504 */
#define FORKD_ABORT_STOP 3    /* the worker stops, or is out of memory: the connection closes */

/* An abort callback: on the worker's loop; forkd_lookup(srv, ref) is NULL by then. */
typedef void (*forkd_abort_fn)(forkd_server_t *srv, forkd_ref_t ref, int why, void *arg);

/*
 * Call cb(srv, ref, why, arg) once if the request ends while pending and
 * unfinished (see FORKD_ABORT_*), right when it does: within milliseconds
 * of the client's close. By then the response has released what it held
 * (its body, its timer) and the request's pool jobs are cancelled; cb
 * frees what the handler kept for the request, except what a job still
 * uses (its done frees that). Never called for a request the handler
 * finished, nor one answered with FORKD_DONE. One per request: another
 * call replaces cb and arg. From the handler, or a callback while the
 * request is pending.
 */
void forkd_req_on_abort(forkd_req_t *req, forkd_abort_fn cb, void *arg);

/*
 * Blocking work on the worker's thread pool ([server] threads): a job runs
 * on a pool thread, where no forkd_ function may be called (none is
 * thread-safe, and the request may be gone meanwhile): it works on its arg
 * alone. cancelled turns non-zero once the request is gone (aborted, timed
 * out, answered) or the worker stops: a long job polls it and returns early.
 */
typedef void (*forkd_job_fn)(void *arg, const volatile int *cancelled);

/*
 * After the job, on the worker's loop: forkd_lookup(srv, ref) gives the
 * response to finish, or NULL (the request is gone: just free arg).
 */
typedef void (*forkd_done_fn)(forkd_server_t *srv, forkd_ref_t ref, void *arg);

/*
 * Run job(arg, cancelled) on one of the worker's threads (jobs beyond
 * [server] threads wait their turn, first come first served), then
 * done(srv, ref, arg) on its loop: exactly once, after the job returned,
 * or instead of it when the job was cancelled before a thread took it. At
 * the worker's exit every job is cancelled and waited for up to
 * graceful_timeout, then done runs; a job still running after that never
 * gets its done (the process exits). With threads = 0 the job runs at once
 * on the loop, inside this call, and no other client of the worker is
 * served until it returns (the lesson of /demo/block); done still comes
 * later, from the loop. arg is the handler's: job and done borrow it, done
 * frees it. A request may have several jobs at once. From the handler
 * (which then returns FORKD_ASYNC), or a callback while the request is
 * pending. 0 ok; -1 when the request is not the handler's, or the worker
 * stops or is out of memory: no job, no done, arg is still the caller's.
 */
int forkd_pool_submit(forkd_req_t *req, forkd_job_fn job, forkd_done_fn done, void *arg);

/*
 * Streaming a response: its body as the handler produces it, of a length
 * not known in advance (a large export, Server-Sent Events). After
 * forkd_resp_stream() the head is sent at once (no Content-Length):
 * HTTP/1.1 bodies go out chunked, HTTP/1.0 ones end with the connection's
 * close (the response then says "Connection: close"), and for HEAD no body
 * is sent (writes are taken and dropped). forkd_resp_finish() ends the
 * body (the last chunk) and the request. The server holds at most
 * FORKD_STREAM_BUFFER bytes written but not yet sent: a handler writes
 * while forkd_resp_write() takes its bytes, and when it takes fewer than
 * offered asks forkd_resp_on_writable() to be called back once the client
 * has read enough. A stream is pending like any FORKD_ASYNC request
 * (forkd_lookup(), the abort callback when the client goes away), but
 * handler_timeout stops counting once it started: a stream may stay quiet
 * as long as it likes (its handler sends what keeps the client and any
 * proxy waiting), while a client that reads slower than [http] min_rate
 * while data waits for it is cut (FORKD_ABORT_CLIENT), as is one that
 * takes nothing for send_timeout. When the worker stops gracefully a stream
 * runs on like any response in flight, until [server] graceful_timeout:
 * then it ends with FORKD_ABORT_STOP (so an endless stream delays a reload
 * by graceful_timeout at most; an EventSource client reconnects by itself).
 * The access log has the bytes sent; a stream the client left unfinished
 * is logged 499.
 */
#define FORKD_STREAM_BUFFER (64 * 1024)

/*
 * Start streaming resp (status and headers set before this call are sent;
 * later ones are ignored; a body set before is dropped; a status outside
 * 200..599 is sent as 500). From the handler, which then returns
 * FORKD_ASYNC (returning FORKD_DONE ends the stream there, as
 * forkd_resp_finish() would), or a callback while the request is pending.
 * 0 ok; -1 the
 * response already started, the request is not pending, or no memory for
 * the stream's buffer (nothing sent: answer otherwise).
 */
int forkd_resp_stream(forkd_resp_t *resp);

/*
 * Append p[0..len) to the streamed body (copied). Returns how many bytes
 * were taken, 0..len: fewer than len when FORKD_STREAM_BUFFER bytes are
 * waiting for the client (keep the rest, and call forkd_resp_on_writable());
 * -1 when resp is not a started stream. len 0 is a no-op (it never ends
 * the body: forkd_resp_finish() does).
 */
ssize_t forkd_resp_write(forkd_resp_t *resp, const void *p, size_t len);

/*
 * End a started stream as cut short (its source failed midway): what was
 * written is still sent, then the connection closes without the last
 * chunk, so the client (or a cache) sees the body is incomplete instead of
 * taking it for whole. Like forkd_resp_finish() afterwards: req and resp
 * are the server's again. On a response that is not a started stream it is
 * forkd_resp_close() then forkd_resp_finish(). (An HTTP/1.0 client's body
 * ends with the close anyway: it cannot tell.)
 */
void forkd_resp_abort(forkd_resp_t *resp);

/* A stream's room callback: on the worker's loop, with the stream's response. */
typedef void (*forkd_writable_fn)(forkd_resp_t *resp, void *arg);

/*
 * Call cb(resp, arg) once, from the loop, when what waits for the client
 * has fallen to half of FORKD_STREAM_BUFFER or less (soon after this call
 * if it already has): there cb writes more, finishes, or asks again.
 * Another call replaces cb and arg. Never called once the request ended
 * (the abort callback says so). 0 ok, -1 resp is not a started stream.
 */
int forkd_resp_on_writable(forkd_resp_t *resp, forkd_writable_fn cb, void *arg);

/*
 * Streaming a request body: on a route with body = stream the handler is
 * called as soon as the head is in (the body still to come; forkd_req_body()
 * is NULL), registers cb here and returns FORKD_ASYNC. cb(resp, p, len,
 * last, arg) then runs on the loop for each piece as it arrives (p
 * borrowed for the call; chunked framing removed), the last call with last
 * set (and len possibly 0); the body stays within max_body_size and the
 * body_timeout and min_rate rules, and a client that breaks them ends the
 * request (the abort callback, FORKD_ABORT_CLIENT). The handler answers
 * once it has seen the last piece: a response finished earlier is sent
 * after the rest of the body is read and discarded. With no cb registered
 * the body is read and discarded. From the handler's own call only.
 * A request with no body gets one call (len 0, last set). A stream
 * started before the last piece goes out once the body is read (its
 * writes are held within FORKD_STREAM_BUFFER meanwhile).
 */
typedef void (*forkd_body_fn)(forkd_resp_t *resp, const char *p, size_t len, int last, void *arg);
void forkd_req_on_body(forkd_req_t *req, forkd_body_fn cb, void *arg);

/*
 * Backpressure for a streamed request body: paused non-zero, the server
 * stops reading the client (no more pieces come; TCP holds the client back
 * once the kernel's buffers are full) until a call with paused 0, after
 * which the bytes already read come first and reading goes on. Paused time
 * counts neither for body_timeout nor for min_rate, and a client that goes
 * away meanwhile is seen only after the resume: the handler bounds the wait
 * with a timeout of its own. Answering (forkd_resp_finish()) resumes (the
 * rest of the body is then read and discarded). From the handler's call or
 * later on the loop, for instance from a body callback. 0 ok, -1 no body
 * still to come for the handler (or a pool = yes handler's copy).
 */
int forkd_req_body_pause(forkd_req_t *req, int paused);

/*
 * A [route] with pool = yes has its handler called on one of the worker's
 * threads: blocking code written plainly, while the loop serves everyone
 * else. It gets a copy of the request and a response of its own, which are
 * its thread's alone, and it answers by returning FORKD_DONE (anything else
 * is answered 500); its response is then sent from the loop. On its thread
 * it may call the forkd_req_ readers (its copy's strings live until it
 * returns), the forkd_resp_ setters of status, headers, Content-Type and
 * body (a release callback runs later, on the loop), forkd_req_cancelled()
 * and forkd_log(), and nothing else: forkd_resp_timer(),
 * forkd_pool_submit() and the streaming calls fail, forkd_resp_finish(),
 * forkd_req_on_abort() and forkd_req_on_body() do nothing. handler_timeout, a client that goes
 * away and a stop end the real request as for any pending one (a 504, a
 * close): the thread is not interrupted, its answer is dropped.
 */

/*
 * Non-zero once the request a pool = yes handler is running for is gone
 * (aborted, timed out) or the worker stops: a long handler polls it and
 * returns early. 0 on the loop (a handler there has forkd_lookup()).
 */
int forkd_req_cancelled(const forkd_req_t *req);

/* The worker: for a handler's own timers and I/O. */
struct event_base *forkd_event_base(forkd_server_t *srv);

/* Milliseconds of the monotonic clock the server's timeouts use (coarse: good to a few ms). */
uint64_t forkd_now_ms(forkd_server_t *srv);

/* Log levels of forkd_log(), those of [log] level. */
#define FORKD_LOG_ERROR 0
#define FORKD_LOG_WARN 1
#define FORKD_LOG_INFO 2
#define FORKD_LOG_DEBUG 3

/*
 * One line in the error log, if level is enabled ([log] level). Text from
 * a client must be escaped by the caller: a line feed in it would forge a
 * line.
 */
void forkd_log(forkd_server_t *srv, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Modules. A module is a shared object that exports the descriptor
 *
 *     const forkd_module_t forkd_module = {FORKD_ABI, "hello", init, fini, handlers};
 *
 * [module NAME] path = FILE.so loads it into every worker, after fork and
 * after the worker has become [server] user; [route PATH] handler =
 * NAME:function sends requests to the handler called function in handlers[].
 * A module built for another ABI, a missing function, a .so that does not
 * load or an init that fails is refused by forkd -t, at start and on reload
 * (then the workers of the old configuration serve on), before any worker
 * uses it: the module is test-loaded (dlopen, init, fini) in a throwaway
 * process first, so init must be harmless to run once more than there are
 * workers. A reload starts new workers that load the .so afresh: code is
 * never swapped inside a running worker. Replace a .so in use by renaming
 * a new file over it, never by writing into it (see forkd(8)).
 */

/* A module's own keys: the lines of its [module NAME] section but path. */
typedef struct forkd_config forkd_config_t;

/*
 * The value of key name in keys, NUL-terminated ("" when written empty),
 * or NULL when the section does not set it. Borrowed: valid until fini.
 */
const char *forkd_config_get(const forkd_config_t *keys, const char *name);

/* One function a module offers to [route] handler = MODULE:name. */
typedef struct {
    const char *name; /* a C identifier; NULL ends the array */
    forkd_handler_fn fn;
} forkd_handler_def_t;

/*
 * What forkd_module holds. abi comes first and stays first in every ABI:
 * forkd reads it before anything else of a module.
 */
typedef struct {
    int abi;          /* FORKD_ABI, as the module was built */
    const char *name; /* for log lines: the module's own name */
    /*
     * Called once in each worker before it serves (and once in the
     * test-load, where srv serves no request), on the worker's loop, with
     * the worker (the forkd_server_t its requests give: keep it for
     * forkd_lookup(), forkd_event_base()) and the module's keys, both
     * borrowed until fini returns. Sets *self, which the module's handlers
     * and fini get. Returns 0, or non-zero after saying why with
     * forkd_log(srv, FORKD_LOG_ERROR, ...): that line is the reason the
     * start or reload is refused with. NULL: nothing to set up (self NULL).
     */
    int (*init)(forkd_server_t *srv, const forkd_config_t *keys, void **self);
    /*
     * Called when the worker exits (not when it is killed), once init
     * succeeded, after its connections closed and its pool jobs returned
     * (or graceful_timeout passed waiting for them). NULL: none.
     */
    void (*fini)(void *self);
    const forkd_handler_def_t *handlers; /* ended by {NULL, NULL} */
} forkd_module_t;

/* What a module defines (forkd itself never does). */
extern const forkd_module_t forkd_module;

#endif
