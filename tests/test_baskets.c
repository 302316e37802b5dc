/* Baskets from Debian package indexes (dc_baskets_*): stanzas, continuation lines, version,
 * architecture and profile restrictions stripped, alternatives, later files replacing earlier
 * packages, gzip files; every malformed input answered with an error naming the file and line
 * that leaves the baskets unchanged; and the ranking metrics against hand-computed values. */
#include "check.h"

#include <stdlib.h>
#include <unistd.h>

#include "tmpfiles.h"

/* user's basket as a space-separated list of item names, in item-id order */
static const char *basket_str(const dc_baskets *b, const char *user) {
    static char out[512];
    out[0] = 0;
    for (int64_t u = 0; u < dc_baskets_users(b); u++) {
        if (strcmp(dc_baskets_user(b, u), user)) continue;
        const int64_t *it;
        int64_t n = dc_baskets_get(b, u, &it);
        for (int64_t j = 0; j < n; j++) {
            if (j) strcat(out, " ");
            strcat(out, dc_baskets_item(b, it[j]));
        }
        return out;
    }
    return "(no such user)";
}

static const char packages[] =
    "Package: 0ad\n"
    "Version: 0.0.26-3\n"
    "Depends: 0ad-data (>= 0.0.26), 0ad-data (<= 0.0.26-3), libc6 (>= 2.34), libenet7\n"
    "Pre-Depends: dpkg (>= 1.15.6~)\n"
    "Description: Real-time strategy game\n"
    " a continuation line: with a colon\n"
    "\n"
    "Package: python3-yaml\n"
    "Depends: python3 (<< 3.12), python3:any (>= 3.11~) | python3.11:any, libc6 (>= 2.14),\n"
    " libyaml-0-2\n"
    "\n"
    "package: self\n" /* field names are case-insensitive */
    "depends: self, libc6\n"
    "\n"
    "Package: lonely\n"
    "Description: no dependencies\n";

static void test_parse(void) {
    dc_baskets *b = dc_baskets_new();
    CHECK(dc_baskets_parse_packages(b, packages, strlen(packages), "mem", 0) == DC_OK);
    CHECK(dc_baskets_users(b) == 4);
    CHECK(!strcmp(dc_baskets_user(b, 0), "0ad") && !strcmp(dc_baskets_user(b, 3), "lonely"));
    /* items numbered by first appearance; duplicates once; versions and qualifiers gone */
    CHECK(!strcmp(basket_str(b, "0ad"), "0ad-data libc6 libenet7"));
    CHECK(!strcmp(basket_str(b, "python3-yaml"), "libc6 python3 libyaml-0-2"));
    CHECK(!strcmp(basket_str(b, "self"), "libc6")); /* no dependency on itself */
    CHECK(!strcmp(basket_str(b, "lonely"), ""));
    CHECK(dc_baskets_items(b) == 5);
    dc_baskets_free(b);

    /* Pre-Depends and every alternative */
    b = dc_baskets_new();
    CHECK(dc_baskets_parse_packages(b, packages, strlen(packages), "mem", DC_DEPENDS_PRE | DC_DEPENDS_ALL_ALTERNATIVES) ==
          DC_OK);
    CHECK(!strcmp(basket_str(b, "0ad"), "0ad-data libc6 libenet7 dpkg"));
    CHECK(!strcmp(basket_str(b, "python3-yaml"), "libc6 python3 python3.11 libyaml-0-2"));
    dc_baskets_free(b);
}

static void test_control_file(void) {
    /* a debian/control file: a Source stanza, comments, substitution variables, architecture
     * lists and build profiles, a trailing comma, CRLF line ends */
    static const char control[] = "# a comment\r\n"
                                  "Source: foo\r\n"
                                  "Build-Depends: debhelper-compat (= 13)\r\n"
                                  "\r\n"
                                  "Package: foo\r\n"
                                  "Depends: ${shlibs:Depends}, ${misc:Depends},\r\n"
                                  "# a comment inside\r\n"
                                  "         libfoo1 (= ${binary:Version}) [amd64 arm64] <!nocheck> <!cross>,\r\n"
                                  "         ${python3:Depends} | bar,\r\n"
                                  "\r\n";
    dc_baskets *b = dc_baskets_new();
    CHECK(dc_baskets_parse_packages(b, control, strlen(control), "control", 0) == DC_OK);
    CHECK(dc_baskets_users(b) == 1 && !strcmp(basket_str(b, "foo"), "libfoo1 bar"));
    dc_baskets_free(b);
}

static void test_files(void) {
    /* a later file replaces a package's basket; gzip files read as plain ones */
    const char *main_list = write_file("main_Packages.gz", packages, strlen(packages), true);
    const char *updates = WRITE("updates_Packages", "Package: 0ad\nDepends: libc6, libnew1\n\nPackage: extra\nDepends: libc6\n");
    dc_baskets *b = dc_baskets_new();
    CHECK(dc_baskets_read_packages(b, main_list, 0) == DC_OK);
    CHECK(dc_baskets_read_packages(b, updates, 0) == DC_OK);
    CHECK(dc_baskets_users(b) == 5 && dc_baskets_items(b) == 6);
    CHECK(!strcmp(basket_str(b, "0ad"), "libc6 libnew1"));
    CHECK(!strcmp(basket_str(b, "extra"), "libc6"));
    CHECK(!strcmp(dc_baskets_user(b, 0), "0ad")); /* it keeps its number */
    /* accessors out of range, NULL */
    CHECK_NULL_ERR(dc_baskets_user(b, 5), "user 5 of 5");
    CHECK_NULL_ERR(dc_baskets_item(b, -1), "item -1 of 6");
    const int64_t *it = (const int64_t *)1;
    CHECK(dc_baskets_get(b, 9, &it) == -1 && it == NULL);
    CHECK(dc_baskets_users(NULL) == 0 && dc_baskets_items(NULL) == 0);
    dc_baskets_free(NULL);

    CHECK_ERR(dc_baskets_read_packages(b, in_dir("missing_Packages"), 0), DC_ERR_IO, "missing_Packages", "cannot open");
    CHECK_ERR(dc_baskets_read_packages(NULL, updates, 0), DC_ERR_ARG, "must not be NULL");
    CHECK_ERR(dc_baskets_parse_packages(b, "", 0, "x", 8), DC_ERR_ARG, "x: unknown flags 0x8");
    /* a truncated gzip file */
    size_t n = 0;
    char *gz = slurp_n(main_list, &n);
    const char *cut = write_file("cut_Packages.gz", gz, n - 6, false);
    CHECK_ERR(dc_baskets_read_packages(b, cut, 0), DC_ERR_FORMAT, "cut_Packages.gz", "gzip");
    free(gz);
    CHECK(dc_baskets_users(b) == 5);
    /* an empty file is no package, no error */
    CHECK(dc_baskets_read_packages(b, WRITE("empty_Packages", ""), 0) == DC_OK && dc_baskets_users(b) == 5);
    dc_baskets_free(b);
}

/* text must fail with DC_ERR_FORMAT naming "bad:LINE" and containing word, leaving b as it was */
static void bad(dc_baskets *b, const char *text, const char *where, const char *word) {
    int64_t users = dc_baskets_users(b), items = dc_baskets_items(b);
    CHECK_ERR(dc_baskets_parse_packages(b, text, strlen(text), "bad", 0), DC_ERR_FORMAT, where, word);
    CHECK(dc_baskets_users(b) == users && dc_baskets_items(b) == items);
}

static void test_malformed(void) {
    dc_baskets *b = dc_baskets_new();
    CHECK(dc_baskets_parse_packages(b, packages, strlen(packages), "mem", 0) == DC_OK);
    bad(b, "Package: a\nno colon here\n", "bad:2:", "not a field line");
    bad(b, " leading continuation\n", "bad:1:", "continuation line");
    bad(b, "Package: a\n\n continuation after a blank line\n", "bad:3:", "continuation line");
    bad(b, ": value\n", "bad:1:", "empty field name");
    bad(b, "Pack age: a\n", "bad:1:", "holds a blank");
    bad(b, "Package: a\nPackage: b\n", "bad:2:", "Package repeated in the stanza of line 1");
    bad(b, "Package: a\nDepends: b\ndepends: c\n", "bad:3:", "depends repeated");
    bad(b, "Package: a\n\nVersion: 1\nDepends: b\n", "bad:3:", "without a Package field");
    bad(b, "Package: Upper\n", "bad:1:", "'Upper' is not a package name");
    bad(b, "Package: \n", "bad:1:", "is not a package name");
    bad(b, "Package: two words\n", "bad:1:", "'two words'");
    bad(b, "Package: a\nDepends: b,, c\n", "bad:2:", "empty dependency between commas");
    bad(b, "Package: a\nDepends: , b\n", "bad:2:", "empty dependency");
    bad(b, "Package: a\nDepends: b |\n", "bad:2:", "empty alternative");
    bad(b, "Package: a\nDepends: b | | c\n", "bad:2:", "empty alternative");
    bad(b, "Package: a\nDepends: b,\n c (>= 1\n", "bad:3:", "'(' after 'c' is not closed by ')'");
    bad(b, "Package: a\nDepends: b (>= 1), c [amd64\n", "bad:2:", "'[' after 'c'");
    bad(b, "Package: a\nDepends: b <!nocheck\n", "bad:2:", "'<' after 'b'");
    bad(b, "Package: a\nDepends: b (1.0)\n", "bad:2:", "bad version restriction '(1.0)'");
    bad(b, "Package: a\nDepends: b (>=)\n", "bad:2:", "bad version restriction");
    bad(b, "Package: a\nDepends: b (=> 1)\n", "bad:2:", "bad version restriction");
    bad(b, "Package: a\nDepends: b (>= 1) (>= 2)\n", "bad:2:", "unexpected '('");
    bad(b, "Package: a\nDepends: b [amd64] (>= 2)\n", "bad:2:", "unexpected '('");
    bad(b, "Package: a\nDepends: b c\n", "bad:2:", "unexpected 'c' after 'b'");
    bad(b, "Package: a\nDepends: B\n", "bad:2:", "'B' is not a package name");
    bad(b, "Package: a\nDepends: -b\n", "bad:2:", "'-b' is not a package name");
    bad(b, "Package: a\nDepends: b:\n", "bad:2:", "empty architecture qualifier");
    bad(b, "Package: a\nDepends: ${misc:Depends\n", "bad:2:", "malformed substitution variable");
    bad(b, "Package: a\nDepends: $\n", "bad:2:", "malformed substitution variable");
    bad(b, "Package: a\nDepends: b, c)\n", "bad:2:", "unexpected ')'");
    /* a NUL byte: a binary or compressed file */
    static const char nul[] = "Package: a\nDepends: b\0c\n";
    CHECK_ERR(dc_baskets_parse_packages(b, nul, sizeof nul - 1, "bin", 0), DC_ERR_FORMAT, "bin:2:", "NUL");
    /* the bytes of an lz4 file, as apt keeps its lists */
    static const char lz4[] = "\x04\x22\x4d\x18\x64\x40\xa7\x00\x00\x00\x80Package";
    CHECK_ERR(dc_baskets_parse_packages(b, lz4, sizeof lz4 - 1, "list.lz4", 0), DC_ERR_FORMAT, "list.lz4:1:", "NUL");
    /* an error late in a file adds nothing of its earlier stanzas */
    bad(b, "Package: fine\nDepends: libfine\n\nPackage: a\nDepends: b ((\n", "bad:5:", "'(' after 'b'");
    CHECK(!strcmp(basket_str(b, "fine"), "(no such user)"));
    CHECK(dc_baskets_users(b) == 4 && dc_baskets_items(b) == 5);
    dc_baskets_free(b);
}

static void test_rank_metrics(void) {
    /* 3 users, 5 items. User 0: item 2 held out, item 0 seen; unseen scores 1:.9 2:.8 3:.1
     * 4:.95 -> items 4 and 1 above: rank 2. User 1: item 4 held out, ties at 0.5 with items
     * 1 and 3 (lower indices first) -> rank 2; with k = 2 it misses. User 2: item 0 held out,
     * scoring highest: rank 0. */
    float s[] = {0.99f, 0.9f, 0.8f, 0.1f, 0.95f, /**/ 0.1f, 0.5f, 0.2f, 0.5f, 0.5f, /**/ 0.7f, 0.1f, 0.2f, 0.3f, 0.4f};
    float seen[] = {1, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 1};
    int64_t target[] = {2, 4, 0};
    dc_tensor *ts = dc_tensor_from(2, (int64_t[]){3, 5}, s), *tn = dc_tensor_from(2, (int64_t[]){3, 5}, seen);
    double hr, ndcg;
    CHECK(dc_rank_metrics(ts, tn, target, 10, &hr, &ndcg) == DC_OK);
    CHECK_NEAR(hr, 1.0, 1e-12);
    CHECK_NEAR(ndcg, (1 / log2(4.0) + 1 / log2(4.0) + 1) / 3, 1e-12);
    CHECK(dc_rank_metrics(ts, tn, target, 2, &hr, &ndcg) == DC_OK);
    CHECK_NEAR(hr, 1.0 / 3, 1e-12);
    CHECK_NEAR(ndcg, 1.0 / 3, 1e-12);
    CHECK(dc_rank_metrics(ts, tn, target, 3, &hr, &ndcg) == DC_OK);
    CHECK_NEAR(hr, 1.0, 1e-12);
    /* without seen, user 0's item 0 ranks too: rank 3 */
    CHECK(dc_rank_metrics(ts, NULL, target, 3, &hr, &ndcg) == DC_OK);
    CHECK_NEAR(hr, 2.0 / 3, 1e-12);
    CHECK_NEAR(ndcg, (1 / log2(4.0) + 1) / 3, 1e-12);

    CHECK_ERR(dc_rank_metrics(ts, tn, target, 0, &hr, &ndcg), DC_ERR_ARG, "k must be >= 1");
    CHECK_ERR(dc_rank_metrics(ts, tn, (int64_t[]){2, 5, 0}, 1, &hr, &ndcg), DC_ERR_ARG, "target[1] = 5");
    CHECK_ERR(dc_rank_metrics(ts, tn, (int64_t[]){0, 4, 0}, 1, &hr, &ndcg), DC_ERR_ARG, "user 0", "marked seen");
    CHECK_ERR(dc_rank_metrics(ts, NULL, target, 1, NULL, &ndcg), DC_ERR_ARG, "must not be NULL");
    dc_tensor *other = dc_tensor_new(2, (int64_t[]){3, 4});
    CHECK_ERR(dc_rank_metrics(ts, other, target, 1, &hr, &ndcg), DC_ERR_SHAPE, "[3, 5]");
    dc_tensor *flat = dc_tensor_new(1, (int64_t[]){5});
    CHECK_ERR(dc_rank_metrics(flat, NULL, target, 1, &hr, &ndcg), DC_ERR_SHAPE, "scores");
    dc_tensor_free(flat);
    dc_tensor_data(ts)[7] = NAN;
    CHECK_ERR(dc_rank_metrics(ts, tn, target, 1, &hr, &ndcg), DC_ERR_NUMERIC, "scores");
    dc_tensor_free(other);
    dc_tensor_free(ts);
    dc_tensor_free(tn);
}

int main(void) {
    if (!tmp_dir_create()) {
        perror("mkdtemp");
        return 1;
    }
    test_parse();
    test_control_file();
    test_files();
    test_malformed();
    test_rank_metrics();
    if (!tmp_dir_remove()) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_baskets");
}
