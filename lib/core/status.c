/* status.c: names of the status codes. */
#include <revnet/status.h>

const char *rv_status_name(rv_status s)
{
    switch (s) {
    case RV_OK: return "ok";
    case RV_ERR_NOMEM: return "out of memory";
    case RV_ERR_ARG: return "bad argument";
    case RV_ERR_SHAPE: return "shape mismatch";
    case RV_ERR_IO: return "I/O error";
    case RV_ERR_FORMAT: return "bad file format";
    case RV_ERR_NUMERIC: return "non-finite value";
    case RV_ERR_PLAN: return "memory plan violated";
    case RV_ERR_UNSUPPORTED: return "unsupported";
    case RV_ERR_DEVICE: return "device error";
    case RV_ERR_DB: return "database error";
    case RV_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}
