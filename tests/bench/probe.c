/*
 * probe: the ceiling of this machine for `make bench`. A pre-fork libevent
 * server that answers every request with the same canned 612-byte page, under
 * the header lines a static file server sends, and keeps the connection
 * alive: no parsing beyond finding "\r\n\r\n", no files.
 * Whatever forkd does on top of this costs throughput; the bench shows how much.
 * usage: probe PORT WORKERS
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BODY_LEN 612

typedef struct {
    struct event ev;
    int fd;
    size_t have; /* bytes of an unfinished head, to find "\r\n\r\n" across reads */
    char tail[3];
} pconn_t;

static char response[2048], response_close[2048];
static size_t response_len, response_close_len;

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    pconn_t *c = arg;
    char buf[16384];
    ssize_t n;
    int i, answers = 0;
    (void)what;

    n = read(fd, buf, sizeof(buf));
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        event_del(&c->ev);
        close(fd);
        free(c);
        return;
    }
    /* count request ends; a match may span reads (kept in tail) */
    for (i = 0; i < n; i++) {
        char ch = buf[i];
        if (ch == '\n' && c->have >= 3 && c->tail[0] == '\r' && c->tail[1] == '\n'
            && c->tail[2] == '\r') {
            answers++;
        }
        c->tail[0] = c->tail[1];
        c->tail[1] = c->tail[2];
        c->tail[2] = ch;
        c->have++;
    }
    /* ab without -k speaks HTTP/1.0 and waits for the close */
    if (answers > 0 && memmem(buf, (size_t)n, "HTTP/1.0", 8) != NULL
        && memmem(buf, (size_t)n, "eep-Alive", 9) == NULL) {
        if (write(fd, response_close, response_close_len) < 0) {
            /* closing anyway */
        }
        event_del(&c->ev);
        close(fd);
        free(c);
        return;
    }
    for (; answers > 0; answers--) {
        if (write(fd, response, response_len) < 0) {
            break;
        }
        c->have = 0;
    }
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct event_base *base = arg;
    int fd, on = 1, i;
    (void)what;

    for (i = 0; i < 64; i++) {
        fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
        pconn_t *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        event_assign(&c->ev, base, fd, EV_READ | EV_PERSIST, on_read, c);
        event_add(&c->ev, NULL);
    }
}

#define HEAD_FMT                                                                                   \
    "HTTP/1.1 200 OK\r\nServer: probe\r\nDate: %s\r\nContent-Type: text/html; charset=utf-8\r\n"   \
    "Content-Length: %d\r\nLast-Modified: %s\r\nETag: \"6b0ab4c4-%x\"\r\n"                         \
    "Accept-Ranges: bytes\r\nConnection: "

static void httpdate(time_t t, char *out)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 30, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    int lfd, on = 1, workers, i;
    char body[BODY_LEN + 1], date[30];

    if (argc != 3) {
        fprintf(stderr, "usage: probe PORT WORKERS\n");
        return 1;
    }
    memset(body, 'x', BODY_LEN);
    body[BODY_LEN] = '\0';
    /*
     * The header set a static file server sends for this file (forkd's and
     * nginx's differ by a few bytes), Date frozen at start: the ceiling for
     * this response, so forkd/probe measures the server's work, not the
     * size of what it must send.
     */
    httpdate(time(NULL), date);
    response_len = (size_t)snprintf(response, sizeof(response), HEAD_FMT "keep-alive\r\n\r\n%s",
                                    date, BODY_LEN, date, BODY_LEN, body);
    response_close_len =
        (size_t)snprintf(response_close, sizeof(response_close), HEAD_FMT "close\r\n\r\n%s", date,
                         BODY_LEN, date, BODY_LEN, body);
    workers = atoi(argv[2]);
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 4096) != 0) {
        perror("probe: bind/listen");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    for (i = 0; i < workers; i++) {
        if (fork() == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            struct event_base *base = event_base_new();
            struct event *ev = event_new(base, lfd, EV_READ | EV_PERSIST, on_accept, base);
            event_add(ev, NULL);
            event_base_dispatch(base);
            return 0;
        }
    }
    signal(SIGTERM, SIG_DFL);
    while (wait(NULL) > 0) {
    }
    return 0;
}
