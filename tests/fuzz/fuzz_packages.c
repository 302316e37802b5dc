/* Debian package index reader under libFuzzer: dc_baskets_read_packages on a file (plain or
 * gzip) and dc_baskets_parse_packages on the same bytes with every flag. Any answer is fine; a
 * crash, a leak, an out-of-bounds access, an error without a message naming the file, baskets
 * changed by a failed read, or a basket whose ids are not sorted, distinct items is not
 * (abort() makes libFuzzer report it). */
#include "fuzz_file.h"

#include <deepc.h>
#include <string.h>

/* Every basket holds sorted, distinct, valid item ids, and every name is non-empty. */
static void check_baskets(const dc_baskets *b) {
    int64_t items = dc_baskets_items(b);
    for (int64_t u = 0; u < dc_baskets_users(b); u++) {
        const int64_t *it;
        int64_t n = dc_baskets_get(b, u, &it);
        const char *name = dc_baskets_user(b, u);
        if (n < 0 || !name || !name[0]) abort();
        for (int64_t j = 0; j < n; j++)
            if (it[j] < 0 || it[j] >= items || (j && it[j] <= it[j - 1])) abort();
    }
    for (int64_t i = 0; i < items; i++) {
        const char *name = dc_baskets_item(b, i);
        if (!name || !name[0]) abort();
    }
}

/* A failed read names the file and leaves the baskets as they were. */
static void check(dc_status s, const char *name, const dc_baskets *b, int64_t users, int64_t items) {
    if (s != DC_OK) {
        if (s != DC_ERR_NOMEM && strncmp(dc_last_error(), name, strlen(name)) != 0) abort();
        if (s != DC_ERR_NOMEM && (dc_baskets_users(b) != users || dc_baskets_items(b) != items)) abort();
    }
    check_baskets(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "Packages");
    dc_baskets *b = dc_baskets_new();
    if (!b) return 0;
    dc_clear_error();
    check(dc_baskets_read_packages(b, path, DC_DEPENDS_PRE), path, b, 0, 0);
    /* again, from memory, into the same baskets: packages already read are replaced */
    static const unsigned flags[] = {0, DC_DEPENDS_ALL_ALTERNATIVES, DC_DEPENDS_PRE | DC_DEPENDS_ALL_ALTERNATIVES};
    for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
        int64_t users = dc_baskets_users(b), items = dc_baskets_items(b);
        dc_clear_error();
        check(dc_baskets_parse_packages(b, (const char *)data, size, "mem", flags[k]), "mem", b, users, items);
    }
    dc_baskets_free(b);
    return 0;
}
