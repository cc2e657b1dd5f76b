/*
 * fake_server: the worker as code on forkd.h sees it (forkd_server_t), for
 * unit tests: its event base, clock and log are the test's own variables
 * (base, now_ms; logged counts forkd_log() calls). Included once, by the
 * test's .c file, in place of server.o.
 */
#ifndef FORKD_TEST_FAKE_SERVER_H
#define FORKD_TEST_FAKE_SERVER_H

#include <event2/event.h>
#include <stdint.h>

#include "forkd.h"

static struct event_base *base;
static uint64_t now_ms;
static int logged;

struct event_base *forkd_event_base(forkd_server_t *srv)
{
    (void)srv;
    return base;
}

uint64_t forkd_now_ms(forkd_server_t *srv)
{
    (void)srv;
    return now_ms;
}

void forkd_log(forkd_server_t *srv, int level, const char *fmt, ...)
{
    (void)srv;
    (void)level;
    (void)fmt;
    logged++;
}

#endif
