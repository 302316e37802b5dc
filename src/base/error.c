/* Thread-local error message and status names. */
#include "base.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char err_msg[1024];
static _Thread_local dc_status err_status;

static const char *const status_names[] = {
    "DC_OK", "DC_ERR_ARG", "DC_ERR_SHAPE", "DC_ERR_NOMEM", "DC_ERR_IO",
    "DC_ERR_FORMAT", "DC_ERR_STATE", "DC_ERR_NUMERIC",
};
_Static_assert(DC_ARRAY_LEN(status_names) == DC_STATUS_COUNT, "status name table");

const char *dc_version(void) { return DC_VERSION_STRING; }

const char *dc_last_error(void) { return err_msg; }
dc_status dc_last_status(void) { return err_status; }
void dc_clear_error(void) {
    err_msg[0] = 0;
    err_status = DC_OK;
}

const char *dc_status_name(dc_status s) {
    return (unsigned)s < DC_STATUS_COUNT ? status_names[s] : "DC_ERR_UNKNOWN";
}

static void set_msg(const char *fmt, va_list ap) { vsnprintf(err_msg, sizeof err_msg, fmt, ap); }

dc_status dc_error(dc_status s, const char *fmt, ...) {
    err_status = s;
    va_list ap;
    va_start(ap, fmt);
    set_msg(fmt, ap);
    va_end(ap);
    return s;
}

void *dc_error_null(dc_status s, const char *fmt, ...) {
    err_status = s;
    va_list ap;
    va_start(ap, fmt);
    set_msg(fmt, ap);
    va_end(ap);
    return NULL;
}

void dc_error_prefix(const char *fmt, ...) {
    char old[sizeof err_msg], pre[256];
    memcpy(old, err_msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    /* the message may be cut at the buffer's end: that is intended */
    size_t np = strlen(pre), no = strlen(old);
    if (np + 2 >= sizeof err_msg) np = sizeof err_msg - 3;
    memcpy(err_msg, pre, np);
    memcpy(err_msg + np, ": ", 2);
    if (np + 2 + no >= sizeof err_msg) no = sizeof err_msg - np - 3;
    memcpy(err_msg + np + 2, old, no);
    err_msg[np + 2 + no] = 0;
}
