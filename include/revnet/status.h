/*
 * status.h: the status codes every fallible librevnet function returns.
 *
 * The human-readable message that goes with a failure lives on the context (rv_ctx_message),
 * in the style of SQLite's handle-scoped error messages. Nothing in lib/ prints or exits.
 */
#ifndef RV_STATUS_H
#define RV_STATUS_H

typedef enum {
    RV_OK = 0,
    RV_ERR_NOMEM,       /* an allocation failed (host or device) */
    RV_ERR_ARG,         /* a bad argument: NULL pointer, non-positive size, unknown name */
    RV_ERR_SHAPE,       /* tensor shapes that do not fit together */
    RV_ERR_IO,          /* a file could not be opened, read or written */
    RV_ERR_FORMAT,      /* a file exists but its contents are wrong (truncated, bad labels) */
    RV_ERR_NUMERIC,     /* NaN or inf where a finite value is required */
    RV_ERR_PLAN,        /* a run deviated from its memory plan */
    RV_ERR_UNSUPPORTED, /* valid request this build or backend cannot serve */
    RV_ERR_DEVICE,      /* the GPU runtime or a GPU library reported an error */
    RV_ERR_DB,          /* the results database refused an operation */
    RV_ERR_INTERRUPTED  /* stopped on request (SIGINT/SIGTERM) after saving state */
} rv_status;

/* A short constant name for a status ("out of memory", "shape mismatch", ...). */
const char *rv_status_name(rv_status s);

#endif
