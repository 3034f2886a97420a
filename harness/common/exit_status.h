/*
 * exit_status.h: how every part of the harness tells the user that something failed: the exit
 * status a command returns and the one error line it prints. Only commands print and exit;
 * the other parts return these statuses with their message in the caller's buffer (README.md,
 * "How it is built").
 */
#ifndef RB_EXIT_STATUS_H
#define RB_EXIT_STATUS_H

/* Exit statuses: 0 success, 1 the work failed (I/O, numeric, device), 2 bad usage (unknown
 * flag, architecture, mode or malformed value). */
enum { RB_EXIT_OK = 0, RB_EXIT_FAIL = 1, RB_EXIT_USAGE = 2 };

/* Prints "revbench <cmd>: <message>\n" to stderr. */
void rb_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
