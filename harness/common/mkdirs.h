/*
 * mkdirs.h: creating a folder and its missing parents, as `mkdir -p` does: the results folder
 * beside a database, the checkpoint and lock folders of a run.
 */
#ifndef RB_MKDIRS_H
#define RB_MKDIRS_H

#include <stddef.h>
#include <revnet/status.h>

/* Creates dir and its missing parents (mode 0777 before umask), like mkdir -p. RV_ERR_IO
 * with the failing component in why (at most why_len bytes), RV_ERR_ARG for an empty or too
 * long path; needs no context. */
rv_status rb_mkdirs(const char *dir, char *why, size_t why_len);

#endif
