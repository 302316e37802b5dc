/* CSV reader under libFuzzer: dc_csv_load with the default options, with a header line and
 * the label picked by name, and dc_csv_column. Any answer is fine; a crash, a leak, an
 * out-of-bounds access, an error without a message naming the file, or a half-made output
 * left behind is not (abort() makes libFuzzer report it). */
#include "fuzz_file.h"

#include <deepc.h>
#include <string.h>

/* A result is either complete and consistent or absent with a message naming the file. */
static void check(dc_status s, const char *path, const dc_tensor *x, const dc_tensor *y) {
    if (s != DC_OK) {
        if (x || y || strncmp(dc_last_error(), path, strlen(path)) != 0) abort();
        return;
    }
    if (!x || dc_tensor_ndim(x) != 2 || dc_tensor_dim(x, 0) < 1 || dc_tensor_dim(x, 1) < 1) abort();
    if (!y || dc_tensor_ndim(y) != 1 || dc_tensor_dim(y, 0) != dc_tensor_dim(x, 0)) abort(); /* a label is asked for */
    if (dc_check_finite(x, "x") != DC_OK || (y && dc_check_finite(y, "y") != DC_OK)) abort(); /* NaN/Inf refused */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "csv");
    dc_tensor *x = NULL, *y = NULL;
    dc_clear_error();
    dc_status s = dc_csv_load(path, NULL, &x, &y);
    check(s, path, x, y);
    dc_tensor_free(x);
    dc_tensor_free(y);

    dc_csv_opts o = dc_csv_defaults();
    o.skip_rows = 1;
    o.label_name = "label";
    x = y = NULL;
    dc_clear_error();
    s = dc_csv_load(path, &o, &x, &y);
    check(s, path, x, y);
    dc_tensor_free(x);
    dc_tensor_free(y);

    dc_clear_error();
    dc_tensor *col = dc_csv_column(path, "label");
    if (!col && strncmp(dc_last_error(), path, strlen(path)) != 0) abort();
    if (col && (dc_tensor_ndim(col) != 1 || dc_check_finite(col, "column") != DC_OK)) abort();
    dc_tensor_free(col);
    return 0;
}
