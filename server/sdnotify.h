/* sdnotify: systemd glue: readiness (sd_notify), socket activation, journal priorities. */
#ifndef FORKD_SDNOTIFY_H
#define FORKD_SDNOTIFY_H

#include <stdint.h>

/*
 * Send one notify message ("READY=1\nSTATUS=..."), formatted. A no-op when
 * NOTIFY_SOCKET is not set. Returns what sd_notify() returns.
 */
int sdnotify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The watchdog interval systemd asked for (WatchdogSec=), in ms; 0 when none. */
uint64_t sdnotify_watchdog_ms(void);

/*
 * Sockets passed by systemd (LISTEN_FDS) or by an upgrading forkd master
 * (FORKD_INHERIT_FDS): stores up to max fds and returns their count (0 when
 * none were passed, -1 on a malformed variable). The variables are cleared so
 * that workers and later children do not see them.
 */
int sdnotify_inherited_fds(int *fds, int max);

/* Is stderr connected to the journal (JOURNAL_STREAM names it)? */
int sdnotify_stderr_is_journal(void);

#endif
