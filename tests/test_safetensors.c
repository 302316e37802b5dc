/* safetensors: reading every dtype of Python-written reference files, writing byte for byte what
 * the Python reference writer writes (tests/golden/io, scripts/golden/gen_safetensors.py), round
 * trips in F32/F16/BF16 with metadata and strided views, and every malformed file or bad argument
 * answered with a status and a message naming the file, the tensor and the numbers.
 *
 *   test_safetensors [DIR]   writes deepc's files into DIR (default: a temporary directory) for
 *                            `gen_safetensors.py --check DIR`. Run from the repository root. */
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/dtype.h"
#include "io/safetensors.h"
#include "tmpfiles.h"

#define GOLD "tests/golden/io"

static const char *outdir;

static const char *out_path(const char *name) { return path_in(outdir, name); }

static bool same_float(float a, float b) {
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y || (isnan(a) && isnan(b));
}

static bool exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Number of entries of a directory whose name contains `part`. */
static int count_entries(const char *d, const char *part) {
    DIR *dp = opendir(d);
    int n = 0;
    if (!dp) return -1;
    for (struct dirent *e; (e = readdir(dp));) n += strstr(e->d_name, part) != NULL;
    closedir(dp);
    return n;
}

/* ---------------------------------------------------------------------------------------- */
/* reading the Python-written file of every dtype                                           */
/* ---------------------------------------------------------------------------------------- */

static void test_read_types(void) {
    dc_safetensors *st = dc_safetensors_open(GOLD "/types.safetensors");
    dc_safetensors *ref = dc_safetensors_open(GOLD "/types_f32.safetensors");
    CHECK(st && ref);
    if (!st || !ref) goto done;
    static const struct {
        const char *name;
        dc_dtype dtype;
    } want[] = {{"f32", DC_DTYPE_F32}, {"f16", DC_DTYPE_F16},   {"bf16", DC_DTYPE_BF16}, {"f64", DC_DTYPE_F64},
                {"i64", DC_DTYPE_I64}, {"i32", DC_DTYPE_I32},   {"i16", DC_DTYPE_I16},   {"i8", DC_DTYPE_I8},
                {"u8", DC_DTYPE_U8},   {"u16", DC_DTYPE_U16},   {"u32", DC_DTYPE_U32},   {"u64", DC_DTYPE_U64},
                {"bool", DC_DTYPE_BOOL}, {"scalar", DC_DTYPE_F64}, {"empty", DC_DTYPE_F32},
                {"nested.name/\xc3\xbc", DC_DTYPE_U8}};
    CHECK(dc_safetensors_count(st) == (int)DC_ARRAY_LEN(want) && dc_safetensors_count(ref) == dc_safetensors_count(st));
    /* the Python file lays the data out in reverse header order: names come in data order */
    CHECK(strcmp(dc_safetensors_name(st, 0), "nested.name/\xc3\xbc") == 0);
    CHECK(strcmp(dc_safetensors_name(st, 1), "empty") == 0); /* zero bytes at the same offset sorts first */
    CHECK(strcmp(dc_safetensors_name(st, dc_safetensors_count(st) - 1), "f32") == 0);
    for (size_t k = 0; k < DC_ARRAY_LEN(want); k++) {
        int i = dc_safetensors_find(st, want[k].name), j = dc_safetensors_find(ref, want[k].name);
        CHECK(i >= 0 && j >= 0);
        if (i < 0 || j < 0) continue;
        CHECK(strcmp(dc_safetensors_name(st, i), want[k].name) == 0);
        int64_t s1[DC_MAX_DIMS], s2[DC_MAX_DIMS];
        dc_dtype d1, d2;
        int r1 = dc_safetensors_shape(st, i, s1, &d1), r2 = dc_safetensors_shape(ref, j, s2, &d2);
        CHECK(r1 == r2 && r1 >= 1 && memcmp(s1, s2, (size_t)r1 * sizeof *s1) == 0);
        CHECK(d1 == want[k].dtype && d2 == DC_DTYPE_F32);
        dc_tensor *a = dc_safetensors_read(st, want[k].name), *b = dc_safetensors_read(ref, want[k].name);
        CHECK(a && b && dc_tensor_numel(a) == dc_tensor_numel(b) && dc_tensor_numel(a) == dc_st_numel(st, i));
        bool same = a && b;
        for (int64_t e = 0; same && e < dc_tensor_numel(a); e++) same = same_float(dc_tensor_data(a)[e], dc_tensor_data(b)[e]);
        if (!same) fprintf(stderr, "  tensor %s differs from its float32 reference\n", want[k].name);
        CHECK(same);
        /* read_into a tensor of the reported shape gives the same values */
        dc_tensor *c = dc_tensor_new(r1, s1);
        CHECK(c && dc_safetensors_read_into(st, want[k].name, c) == DC_OK);
        CHECK(c && a && memcmp(dc_tensor_data(c), dc_tensor_data(a), (size_t)dc_tensor_numel(a) * 4) == 0);
        dc_tensor_free(a);
        dc_tensor_free(b);
        dc_tensor_free(c);
    }
    /* spot checks of the conversions themselves, independent of the reference file */
    dc_tensor *h = dc_safetensors_read(st, "f16");
    if (h) {
        const float *v = dc_tensor_data(h);
        CHECK(v[0] == ldexpf(1, -24) && v[1] == ldexpf(1023, -24) && v[2] == ldexpf(1, -14)); /* subnormals, min normal */
        CHECK(v[3] == 1 && v[4] == -1 && v[5] == 65504 && isinf(v[6]) && v[6] > 0 && isinf(v[7]) && v[7] < 0);
        CHECK(v[8] == 0 && signbit(v[8]) && isnan(v[11]));
    }
    dc_tensor_free(h);
    dc_tensor *bf = dc_safetensors_read(st, "bf16");
    CHECK(bf && dc_tensor_data(bf)[0] == 1 && dc_tensor_data(bf)[1] == -3 && dc_tensor_data(bf)[2] == ldexpf(1, -133) &&
          dc_tensor_data(bf)[7] == 3.140625f);
    dc_tensor_free(bf);
    dc_tensor *f64 = dc_safetensors_read(st, "f64");
    CHECK(f64 && dc_tensor_data(f64)[0] == 0.1f && dc_tensor_data(f64)[2] == 0 && dc_tensor_data(f64)[3] == 16777216.0f);
    dc_tensor_free(f64);
    dc_tensor *i64 = dc_safetensors_read(st, "i64"), *u8 = dc_safetensors_read(st, "u8"), *bo = dc_safetensors_read(st, "bool");
    CHECK(i64 && dc_tensor_ndim(i64) == 2 && dc_tensor_data(i64)[0] == -16777216.0f && dc_tensor_data(i64)[3] == 42);
    CHECK(u8 && dc_tensor_data(u8)[3] == 255 && bo && dc_tensor_data(bo)[1] == 1 && dc_tensor_data(bo)[3] == 0);
    dc_tensor_free(i64);
    dc_tensor_free(u8);
    dc_tensor_free(bo);
    /* a 0-d tensor is [1]; a zero-size one reads as an empty tensor */
    dc_tensor *sc = dc_safetensors_read(st, "scalar"), *em = dc_safetensors_read(st, "empty");
    CHECK(sc && dc_tensor_ndim(sc) == 1 && dc_tensor_dim(sc, 0) == 1 && dc_tensor_data(sc)[0] == 7.5f);
    CHECK(em && dc_tensor_ndim(em) == 2 && dc_tensor_dim(em, 0) == 0 && dc_tensor_dim(em, 1) == 3 && dc_tensor_numel(em) == 0);
    {
        int64_t shp[DC_MAX_DIMS] = {0};
        int si = dc_safetensors_find(st, "scalar");
        CHECK(si >= 0 && dc_safetensors_shape(st, si, shp, NULL) == 1 && shp[0] == 1);
        /* saved back, the [1] tensor says it is [1]: deepc does not write it as a 0-d tensor */
        const char *nm[] = {"scalar"}, *sp = in_dir("scalar_back.safetensors");
        const dc_tensor *one[] = {sc};
        CHECK(sc && dc_safetensors_save(sp, 1, nm, one, DC_DTYPE_F32, 0, NULL, NULL) == DC_OK);
        char *text = slurp_n(sp, NULL);
        CHECK(text && strstr(text + 8, "\"shape\":[1]") && !strstr(text + 8, "\"shape\":[]"));
        free(text);
    }
    dc_tensor_free(sc);
    dc_tensor_free(em);
    /* metadata: \u escapes decoded to UTF-8 */
    CHECK(dc_safetensors_meta(st, "source") && strcmp(dc_safetensors_meta(st, "source"), "gen_safetensors.py") == 0);
    CHECK(dc_safetensors_meta(st, "note") && strcmp(dc_safetensors_meta(st, "note"), "gr\xc3\xbc\xc3\x9f" "e \"q\" \\ \n\t\x01") == 0);
    CHECK(dc_safetensors_meta(st, "absent") == NULL && dc_safetensors_meta(ref, "note") == NULL);
    /* queries out of range */
    CHECK(dc_safetensors_find(st, "nope") == -1 && dc_safetensors_name(st, -1) == NULL && dc_safetensors_name(st, 99) == NULL);
    CHECK(dc_safetensors_shape(st, 99, NULL, NULL) == -1 && dc_st_numel(st, -1) == -1);
    CHECK(strcmp(dc_st_path(st), GOLD "/types.safetensors") == 0);
done:
    dc_safetensors_close(st);
    dc_safetensors_close(ref);
}

/* ---------------------------------------------------------------------------------------- */
/* writing what the Python reference writes                                                 */
/* ---------------------------------------------------------------------------------------- */

static const char *const meta_keys[] = {"format", "note", "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87"};
static const char *const meta_vals[] = {
    "pt", "\xc3\xbc \xe2\x82\xac \xf0\x9f\x98\x80 \"quoted\" back\\slash\nnew\ttab\x01\x1f\x7f\b\f\r end",
    "\xd0\xb7\xd0\xbd\xd0\xb0\xd1\x87\xd0\xb5\xd0\xbd\xd0\xb8\xd0\xb5"};

static void test_write_reference(void) {
    /* the source values are the F32 reference file's */
    dc_safetensors *src = dc_safetensors_open(GOLD "/deepc_f32.safetensors");
    CHECK(src && dc_safetensors_count(src) == 4);
    if (!src) return;
    for (int k = 0; k < 3; k++) { /* the reader decodes the escapes the writer must produce */
        const char *v = dc_safetensors_meta(src, meta_keys[k]);
        CHECK(v && strcmp(v, meta_vals[k]) == 0);
    }
    int n = dc_safetensors_count(src);
    const char *names[4];
    dc_tensor *t[4] = {0};
    for (int i = 0; i < n; i++) {
        names[i] = dc_safetensors_name(src, i);
        t[i] = dc_safetensors_read(src, names[i]);
        CHECK(t[i] != NULL);
    }
    CHECK(strcmp(names[2], "layer.\xc3\xbc\"q\\") == 0);
    static const struct {
        dc_dtype dtype;
        const char *file;
    } out[] = {{DC_DTYPE_F32, "deepc_f32.safetensors"}, {DC_DTYPE_F16, "deepc_f16.safetensors"},
               {DC_DTYPE_BF16, "deepc_bf16.safetensors"}};
    for (size_t k = 0; k < DC_ARRAY_LEN(out); k++) {
        const char *p = out_path(out[k].file);
        char gold[256];
        snprintf(gold, sizeof gold, GOLD "/%s", out[k].file);
        CHECK(dc_safetensors_save(p, n, names, (const dc_tensor *const *)t, out[k].dtype, 3, meta_keys, meta_vals) == DC_OK);
        CHECK(same_bytes(p, gold));
        /* and deepc reads back the conversion of the source */
        dc_safetensors *back = dc_safetensors_open(p);
        dc_tensor *r = back ? dc_safetensors_read(back, "rounding") : NULL;
        CHECK(r && t[1] && dc_tensor_numel(r) == dc_tensor_numel(t[1]));
        bool same = r && t[1];
        for (int64_t e = 0; same && e < dc_tensor_numel(r); e++) {
            float s = dc_tensor_data(t[1])[e];
            float w = out[k].dtype == DC_DTYPE_F16 ? dc_f16_to_f32(dc_f32_to_f16(s))
                      : out[k].dtype == DC_DTYPE_BF16 ? dc_bf16_to_f32(dc_f32_to_bf16(s)) : s;
            same = same_float(dc_tensor_data(r)[e], w);
        }
        CHECK(same);
        dc_tensor_free(r);
        dc_safetensors_close(back);
    }
    for (int i = 0; i < n; i++) dc_tensor_free(t[i]);
    dc_safetensors_close(src);

    /* strided views: a transpose and a column slice of x [3, 4] = 0.5 * arange(12), as BF16 */
    float xv[12];
    for (int i = 0; i < 12; i++) xv[i] = 0.5f * (float)i;
    dc_tensor *x = dc_tensor_from(2, (int64_t[]){3, 4}, xv);
    dc_ctx *c = dc_ctx_new();
    dc_tensor *views[2] = {dc_transpose(c, x, 0, 1), dc_slice(c, x, 1, 1, 3)};
    CHECK(views[0] && views[1] && !dc_tensor_is_contiguous(views[0]) && !dc_tensor_is_contiguous(views[1]));
    const char *vnames[] = {"xT", "cols"}, *lk[] = {"layout"}, *lv[] = {"views"};
    const char *p = out_path("deepc_strided.safetensors");
    CHECK(dc_safetensors_save(p, 2, vnames, (const dc_tensor *const *)views, DC_DTYPE_BF16, 1, lk, lv) == DC_OK);
    CHECK(same_bytes(p, GOLD "/deepc_strided.safetensors"));
    dc_ctx_free(c);
    dc_tensor_free(x);

    /* a 0-d tensor through the internal writer, and a file without tensors or metadata */
    float s = 2.75f;
    dc_st_entry e = {"s", 0, NULL, &s};
    p = out_path("deepc_scalar.safetensors");
    CHECK(dc_st_write(p, &e, 1, DC_DTYPE_F32, 0, NULL, NULL) == DC_OK);
    CHECK(same_bytes(p, GOLD "/deepc_scalar.safetensors"));
    p = out_path("deepc_empty.safetensors");
    CHECK(dc_safetensors_save(p, 0, NULL, NULL, DC_DTYPE_F32, 0, NULL, NULL) == DC_OK);
    CHECK(same_bytes(p, GOLD "/deepc_empty.safetensors"));
    dc_safetensors *em = dc_safetensors_open(p);
    CHECK(em && dc_safetensors_count(em) == 0 && dc_safetensors_meta(em, "format") == NULL);
    dc_safetensors_close(em);
}

/* ---------------------------------------------------------------------------------------- */
/* round trips                                                                              */
/* ---------------------------------------------------------------------------------------- */

static dc_tensor *random_tensor(dc_rng *r, int ndim, const int64_t *shape) {
    dc_tensor *t = dc_tensor_new(ndim, shape);
    for (int64_t i = 0; t && i < dc_tensor_numel(t); i++) dc_tensor_data(t)[i] = 3.0f * dc_rng_normal(r);
    return t;
}

static void test_roundtrip(void) {
    dc_rng r;
    dc_rng_seed(&r, 42);
    /* a big tensor crosses the reader's and writer's chunks; a permuted view is gathered across them */
    dc_tensor *t[4] = {random_tensor(&r, 2, (int64_t[]){3, 4}), random_tensor(&r, 1, (int64_t[]){5}),
                       random_tensor(&r, 3, (int64_t[]){2, 3, 4}), random_tensor(&r, 2, (int64_t[]){300, 701})};
    dc_ctx *c = dc_ctx_new();
    dc_tensor *big_t = dc_transpose(c, t[3], 0, 1); /* [701, 300] */
    dc_tensor *perm = dc_permute(c, t[2], (int[]){2, 0, 1}); /* [4, 2, 3] */
    const dc_tensor *w[6] = {t[0], t[1], t[2], t[3], big_t, perm};
    const char *names[6] = {"dense.weight", "dense.bias", "conv", "big", "big.T", "perm"};
    const char *keys[] = {"epoch", "deepc.model"}, *vals[] = {"3", "{\"layers\": [\"Dense\"]}"};
    static const dc_dtype dts[] = {DC_DTYPE_F32, DC_DTYPE_F16, DC_DTYPE_BF16};
    static const char *const files[] = {"roundtrip_f32.safetensors", "roundtrip_f16.safetensors", "roundtrip_bf16.safetensors"};
    for (int k = 0; k < 3; k++) {
        const char *p = out_path(files[k]);
        CHECK(dc_safetensors_save(p, 6, names, w, dts[k], 2, keys, vals) == DC_OK);
        dc_safetensors *st = dc_safetensors_open(p);
        CHECK(st && dc_safetensors_count(st) == 6);
        if (!st) continue;
        CHECK(strcmp(dc_safetensors_meta(st, "epoch"), "3") == 0 && strcmp(dc_safetensors_meta(st, "deepc.model"), vals[1]) == 0);
        for (int i = 0; i < 6; i++) {
            CHECK(strcmp(dc_safetensors_name(st, i), names[i]) == 0); /* written in the given order */
            int64_t sh[DC_MAX_DIMS];
            dc_dtype dt;
            int nd = dc_safetensors_shape(st, i, sh, &dt);
            CHECK(nd == dc_tensor_ndim(w[i]) && memcmp(sh, dc_tensor_shape(w[i]), (size_t)nd * 8) == 0 && dt == dts[k]);
            dc_tensor *back = dc_safetensors_read(st, names[i]), *ref = dc_tensor_clone(w[i]); /* C order of the view */
            CHECK(back && ref && dc_tensor_numel(back) == dc_tensor_numel(ref));
            int64_t bad = -1;
            for (int64_t e = 0; back && ref && e < dc_tensor_numel(ref) && bad < 0; e++) {
                float v = dc_tensor_data(ref)[e], g = dc_tensor_data(back)[e];
                float want = k == 0 ? v : k == 1 ? dc_f16_to_f32(dc_f32_to_f16(v)) : dc_bf16_to_f32(dc_f32_to_bf16(v));
                double tol = k == 0 ? 0 : k == 1 ? ldexp(fabs(v), -11) + ldexp(1, -25) : ldexp(fabs(v), -8);
                if (!same_float(g, want) || fabs(g - v) > tol) bad = e;
            }
            if (bad >= 0) fprintf(stderr, "  %s: tensor %s element %lld wrong\n", files[k], names[i], (long long)bad);
            CHECK(bad < 0);
            dc_tensor_free(back);
            dc_tensor_free(ref);
        }
        /* read_into: shape and contiguity checked, the file's name and both shapes named */
        dc_tensor *dst = dc_tensor_new(2, (int64_t[]){4, 3}), *ok = dc_tensor_new(2, (int64_t[]){3, 4});
        CHECK_ERR(dc_safetensors_read_into(st, "dense.weight", dst), DC_ERR_SHAPE, files[k], "\"dense.weight\"", "[3, 4]", "[4, 3]");
        CHECK(dc_safetensors_read_into(st, "dense.weight", ok) == DC_OK);
        CHECK(k != 0 || memcmp(dc_tensor_data(ok), dc_tensor_data(t[0]), 12 * 4) == 0);
        dc_tensor *big = dc_tensor_new(2, (int64_t[]){3, 8}), *nc = dc_slice(c, big, 1, 0, 4);
        CHECK_ERR(dc_safetensors_read_into(st, "dense.weight", nc), DC_ERR_ARG, files[k], "not contiguous");
        CHECK_ERR(dc_safetensors_read_into(st, "nope", ok), DC_ERR_ARG, files[k], "\"nope\"");
        CHECK_NULL_ERR(dc_safetensors_read(st, "dense.bia"), files[k], "\"dense.bia\"", "6 tensors");
        float buf[5];
        CHECK_ERR(dc_st_read_f32(st, 1, buf, 4), DC_ERR_SHAPE, "\"dense.bias\"", "5 elements", "4");
        CHECK(dc_st_read_f32(st, 1, buf, 5) == DC_OK && dc_st_numel(st, 1) == 5);
        CHECK_ERR(dc_st_read_f32(st, 6, buf, 5), DC_ERR_ARG, "6");
        dc_tensor_free(dst);
        dc_tensor_free(ok);
        dc_tensor_free(big);
        dc_safetensors_close(st);
    }
    /* saving over an existing file replaces it */
    const char *p = out_path("replaced.safetensors");
    CHECK(dc_safetensors_save(p, 6, names, w, DC_DTYPE_F32, 2, keys, vals) == DC_OK);
    CHECK(dc_safetensors_save(p, 1, names + 1, w + 1, DC_DTYPE_F32, 0, NULL, NULL) == DC_OK);
    dc_safetensors *st = dc_safetensors_open(p);
    CHECK(st && dc_safetensors_count(st) == 1 && dc_safetensors_meta(st, "epoch") == NULL);
    dc_safetensors_close(st);
    dc_ctx_free(c);
    for (int i = 0; i < 4; i++) dc_tensor_free(t[i]);
}

/* ---------------------------------------------------------------------------------------- */
/* malformed files                                                                          */
/* ---------------------------------------------------------------------------------------- */

/* A file of an 8-byte size n, then the header text, then ndata data bytes (0, 1, 2, ...). */
static const char *st_sized(const char *name, uint64_t n, const char *header, size_t ndata) {
    static unsigned char buf[4096];
    size_t hl = strlen(header);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(n >> (8 * i));
    memcpy(buf + 8, header, hl);
    for (size_t i = 0; i < ndata; i++) buf[8 + hl + i] = (unsigned char)i;
    return write_file(name, buf, 8 + hl + ndata, false);
}
/* The same with the header's true size. */
static const char *st_file(const char *name, const char *header, size_t ndata) {
    return st_sized(name, strlen(header), header, ndata);
}

static void test_bad_files(void) {
    /* the file's frame */
    CHECK_NULL_ERR(dc_safetensors_open(write_file("short.st", "\x10\0\0\0\0", 5, false)), "short.st", "5 bytes", "too short");
    CHECK_NULL_ERR(dc_safetensors_open(st_sized("hsize.st", 1000, "{}", 10)), "hsize.st", "header size 1000", "12 bytes");
    CHECK_NULL_ERR(dc_safetensors_open(st_sized("hlimit.st", 100000001, "{}", 0)), "hlimit.st", "100000001", "100000000");
    CHECK_NULL_ERR(dc_safetensors_open(st_sized("hhuge.st", UINT64_MAX, "{}", 0)), "hhuge.st", "18446744073709551615");
    CHECK(dc_last_status() == DC_ERR_FORMAT);
    CHECK_NULL_ERR(dc_safetensors_open(st_file("array.st", "[1, 2]", 0)), "array.st", "start with '{'");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("lead.st", " {}", 0)), "lead.st", "start with '{'");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("empty.st", "", 0)), "empty.st", "0 header bytes");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("json.st", "{\"a\": ", 0)), "json.st", "not valid JSON", "of 6");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("trail.st", "{} x", 0)), "trail.st", "not valid JSON", "byte 3 of 4");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("utf8.st", "{\"\xff\": 1}", 0)), "utf8.st", "UTF-8", "0xff", "offset 2");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("ctl.st", "{\"a\x01\": 1}", 0)), "ctl.st", "control byte 0x01", "byte 3");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("ctl2.st", "{}\x0b", 0)), "ctl2.st", "not valid JSON");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("nul.st", "{\"a\\u0000b\": 1}", 0)), "nul.st", "\\u0000", "byte 3");
    /* entries */
#define T(body) "{\"w\": {" body "}}"
#define F32_34 "\"dtype\": \"F32\", \"shape\": [3, 4], "
    CHECK_NULL_ERR(dc_safetensors_open(st_file("notobj.st", "{\"w\": 5}", 0)), "notobj.st", "tensor \"w\"", "not an object");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("dtype.st", T("\"dtype\": \"F8_E4M3\", \"shape\": [1], \"data_offsets\": [0, 1]"), 1)),
                   "dtype.st", "tensor \"w\"", "\"F8_E4M3\"");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("nodtype.st", T("\"shape\": [1], \"data_offsets\": [0, 4]"), 4)), "nodtype.st",
                   "tensor \"w\"", "dtype");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("dtypenum.st", T("\"dtype\": 5, \"shape\": [1], \"data_offsets\": [0, 4]"), 4)),
                   "dtypenum.st", "tensor \"w\"", "dtype");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("shape.st", T("\"dtype\": \"F32\", \"shape\": 3, \"data_offsets\": [0, 12]"), 12)),
                   "shape.st", "tensor \"w\"", "\"shape\" array");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("float.st", T("\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 8]"), 8)),
                   "float.st", "tensor \"w\"", "shape holds 2.5");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("float1.st", T("\"dtype\": \"F32\", \"shape\": [2, 1.0], \"data_offsets\": [0, 8]"), 8)),
                   "float1.st", "tensor \"w\"", "shape holds 1.0");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("exp.st", T("\"dtype\": \"F32\", \"shape\": [1e1], \"data_offsets\": [0, 40]"), 40)),
                   "exp.st", "tensor \"w\"", "shape holds 1e1");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("lead0.st", T("\"dtype\": \"F32\", \"shape\": [02], \"data_offsets\": [0, 8]"), 8)),
                   "lead0.st", "tensor \"w\"", "shape holds 02");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("neg.st", T("\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]"), 4)),
                   "neg.st", "tensor \"w\"", "shape holds -1", "non-negative");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("str.st", T("\"dtype\": \"F32\", \"shape\": [\"3\"], \"data_offsets\": [0, 12]"), 12)),
                   "str.st", "tensor \"w\"", "shape element 0", "not a number");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("big53.st", T("\"dtype\": \"U8\", \"shape\": [9007199254740993], \"data_offsets\": [0, 1]"), 1)),
                   "big53.st", "tensor \"w\"", "shape holds 9007199254740993", "2^53");
    /* numbers reached through an escaped field name are checked on their parsed value */
    CHECK_NULL_ERR(dc_safetensors_open(st_file("esc.st", T("\"dtype\": \"F32\", \"sh\\u0061pe\": [1.5], \"data_offsets\": [0, 4]"), 4)),
                   "esc.st", "tensor \"w\"", "shape holds 1.5", "non-negative integer");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("esc2.st", T("\"dtype\": \"F32\", \"sh\\u0061pe\": [1e300], \"data_offsets\": [0, 4]"), 4)),
                   "esc2.st", "tensor \"w\"", "shape holds 1.0000000000000001e+300", "2^53");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("big53o.st", T("\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 9007199254740992]"), 1)),
                   "big53o.st", "tensor \"w\"", "data_offsets holds 9007199254740992", "2^53");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("dims.st", T("\"dtype\": \"U8\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 1]"), 1)),
                   "dims.st", "tensor \"w\"", "9 dimensions", "8");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("ovf.st", T("\"dtype\": \"U8\", \"shape\": [4294967296, 4294967296, 4294967296], "
                                                         "\"data_offsets\": [0, 1]"), 1)),
                   "ovf.st", "tensor \"w\"", "[4294967296, 4294967296, 4294967296]", "64 bits");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("ovf2.st", T("\"dtype\": \"F64\", \"shape\": [2147483648, 2147483648], "
                                                          "\"data_offsets\": [0, 8]"), 8)),
                   "ovf2.st", "tensor \"w\"", "F64 [2147483648, 2147483648]", "2^64");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("off1.st", T(F32_34 "\"data_offsets\": [0]"), 48)), "off1.st", "tensor \"w\"",
                   "data_offsets", "two integers");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("off3.st", T(F32_34 "\"data_offsets\": [0, 24, 48]"), 48)), "off3.st",
                   "tensor \"w\"", "two integers");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("offf.st", T(F32_34 "\"data_offsets\": [0, 48.0]"), 48)), "offf.st",
                   "tensor \"w\"", "data_offsets holds 48.0");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("offneg.st", T(F32_34 "\"data_offsets\": [-8, 40]"), 48)), "offneg.st",
                   "tensor \"w\"", "data_offsets holds -8");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("order.st", T(F32_34 "\"data_offsets\": [48, 0]"), 48)), "order.st",
                   "tensor \"w\"", "[48, 0]", "begin after");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("past.st", T(F32_34 "\"data_offsets\": [0, 48]"), 40)), "past.st", "tensor \"w\"",
                   "[0, 48]", "40 bytes");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("model.safetensors", T(F32_34 "\"data_offsets\": [0, 40]"), 40)),
                   "model.safetensors: tensor \"w\" data_offsets [0, 40] hold 40 bytes but F32 [3, 4] needs 48");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("twofield.st", T(F32_34 "\"shape\": [12], \"data_offsets\": [0, 48]"), 48)),
                   "twofield.st", "tensor \"w\"", "two \"shape\"");
    /* coverage of the data */
    CHECK_NULL_ERR(dc_safetensors_open(st_file("hole.st", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, "
                                                          "\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}}", 12)),
                   "hole.st", "[4, 8)", "tensor \"b\"", "[8, 12]");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("hole0.st", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8)),
                   "hole0.st", "[0, 4)", "tensor \"a\"");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("overlap.st", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
                                                             "\"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12)),
                   "overlap.st", "tensor \"b\"", "[4, 12]", "overlap", "tensor \"a\"", "[0, 8]");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("same.st", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, "
                                                          "\"b\": {\"dtype\": \"I32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4)),
                   "same.st", "overlap", "[0, 4]");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("tail.st", "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 8)),
                   "tail.st", "8 bytes", "[0, 4)");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("nodata.st", "{}", 4)), "nodata.st", "4 bytes", "[0, 0)");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("dup.st", "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}, "
                                                         "\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8)),
                   "dup.st", "tensor \"w\"", "twice");
    /* metadata */
    CHECK_NULL_ERR(dc_safetensors_open(st_file("meta.st", "{\"__metadata__\": \"x\"}", 0)), "meta.st", "__metadata__", "not an object");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("metanum.st", "{\"__metadata__\": {\"k\": 1}}", 0)), "metanum.st", "\"k\"", "not a string");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("meta2.st", "{\"__metadata__\": {}, \"__metadata__\": {}}", 0)), "meta2.st",
                   "two \"__metadata__\"");
    CHECK_NULL_ERR(dc_safetensors_open(st_file("metadup.st", "{\"__metadata__\": {\"k\": \"a\", \"k\": \"b\"}}", 0)), "metadup.st",
                   "\"k\"", "twice");
    /* valid corner cases are accepted: metadata anywhere, unknown fields, spaces/newline padding */
    dc_safetensors *st = dc_safetensors_open(
        st_file("okmeta.st", "{\"w\": {\"extra\": [1.5], \"data_offsets\": [0, 2], \"shape\": [], \"dtype\": \"BF16\"}, "
                             "\"__metadata__\": {\"k\": \"v\"}}\n  ", 2));
    CHECK(st && dc_safetensors_count(st) == 1 && strcmp(dc_safetensors_meta(st, "k"), "v") == 0);
    dc_safetensors_close(st);
    /* inexact integers and overflowing doubles: the tensor, the element and the value */
    unsigned char i64[8 * 2] = {0};
    i64[8] = 1, i64[10] = 0, i64[11] = 1; /* element 1 = 2^24 + 1 */
    char hdr[200];
    snprintf(hdr, sizeof hdr, "{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}");
    unsigned char file[8 + 200 + 16];
    size_t hl = strlen(hdr);
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(file + 8, hdr, hl);
    memcpy(file + 8 + hl, i64, 16);
    st = dc_safetensors_open(write_file("inexact.st", file, 8 + hl + 16, false));
    CHECK(st != NULL);
    CHECK_NULL_ERR(dc_safetensors_read(st, "ids"), "inexact.st", "tensor \"ids\"", "element 1 is I64 16777217");
    CHECK(dc_last_status() == DC_ERR_NUMERIC);
    dc_safetensors_close(st);
    double big[2] = {1.0, 1e300};
    snprintf(hdr, sizeof hdr, "{\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}");
    hl = strlen(hdr);
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(file + 8, hdr, hl);
    memcpy(file + 8 + hl, big, 16);
    st = dc_safetensors_open(write_file("f64big.st", file, 8 + hl + 16, false));
    dc_tensor *dst = dc_tensor_new(1, (int64_t[]){2});
    CHECK_ERR(dc_safetensors_read_into(st, "d", dst), DC_ERR_NUMERIC, "f64big.st", "tensor \"d\"", "element 1 is F64 1e+300");
    dc_tensor_free(dst);
    dc_safetensors_close(st);
    /* files that are not there or not files */
    CHECK_NULL_ERR(dc_safetensors_open("/nonexistent/dir/model.safetensors"), "/nonexistent/dir/model.safetensors");
    CHECK(dc_last_status() == DC_ERR_IO);
    CHECK_NULL_ERR(dc_safetensors_open(dir), dir, "not a regular file");
    CHECK(dc_last_status() == DC_ERR_IO);
    CHECK_NULL_ERR(dc_safetensors_open(NULL), "NULL");
    /* a shortened file after opening: the read fails with DC_ERR_IO, no crash */
    const char *p = st_file("cut.st", "{\"w\": {\"dtype\": \"F16\", \"shape\": [4], \"data_offsets\": [0, 8]}}", 8);
    st = dc_safetensors_open(p);
    CHECK(st != NULL);
    CHECK(truncate(p, 10) == 0);
    CHECK_NULL_ERR(dc_safetensors_read(st, "w"), "cut.st", "tensor \"w\"");
    CHECK(dc_last_status() == DC_ERR_IO);
    dc_safetensors_close(st);
#undef T
#undef F32_34
}

/* ---------------------------------------------------------------------------------------- */
/* writer errors                                                                            */
/* ---------------------------------------------------------------------------------------- */

static void test_write_errors(void) {
    float v[4] = {1, 2, 3, 4};
    dc_tensor *a = dc_tensor_from(1, (int64_t[]){4}, v), *b = dc_tensor_from(2, (int64_t[]){2, 2}, v);
    const dc_tensor *ts[2] = {a, b};
    const char *p = out_path("keep.safetensors");
    const char *ok_names[] = {"a", "b"};
    CHECK(dc_safetensors_save(p, 2, ok_names, ts, DC_DTYPE_F32, 0, NULL, NULL) == DC_OK);
    size_t n0;
    unsigned char *before = (unsigned char *)slurp_n(p, &n0);
    /* every refusal leaves the existing file as it was */
    const char *dup[] = {"w", "w"}, *empty[] = {"a", ""}, *meta[] = {"__metadata__", "b"}, *nul[] = {"a", NULL},
               *bad8[] = {"a", "b\xc3"};
    CHECK_ERR(dc_safetensors_save(p, 2, dup, ts, DC_DTYPE_F32, 0, NULL, NULL), DC_ERR_ARG, "keep.safetensors", "\"w\"", "twice");
    CHECK_ERR(dc_safetensors_save(p, 2, empty, ts, DC_DTYPE_F32, 0, NULL, NULL), DC_ERR_ARG, "keep.safetensors", "tensor 1", "empty");
    CHECK_ERR(dc_safetensors_save(p, 2, meta, ts, DC_DTYPE_F32, 0, NULL, NULL), DC_ERR_ARG, "tensor 0", "__metadata__");
    CHECK_ERR(dc_safetensors_save(p, 2, nul, ts, DC_DTYPE_F32, 0, NULL, NULL), DC_ERR_ARG, "tensor 1", "NULL");
    CHECK_ERR(dc_safetensors_save(p, 2, bad8, ts, DC_DTYPE_F32, 0, NULL, NULL), DC_ERR_ARG, "tensor 1", "UTF-8");
    CHECK_ERR(dc_safetensors_save(p, 2, ok_names, ts, DC_DTYPE_I32, 0, NULL, NULL), DC_ERR_ARG, "F32, F16 or BF16", "I32");
    const char *k2[] = {"k", "k"}, *v2[] = {"1", "2"}, *vnull[] = {"1", NULL};
    CHECK_ERR(dc_safetensors_save(p, 2, ok_names, ts, DC_DTYPE_F16, 2, k2, v2), DC_ERR_ARG, "metadata key \"k\"", "twice");
    CHECK_ERR(dc_safetensors_save(p, 2, ok_names, ts, DC_DTYPE_F16, 2, ok_names, vnull), DC_ERR_ARG, "metadata pair 1");
    const dc_tensor *tnull[2] = {a, NULL};
    CHECK_ERR(dc_safetensors_save(p, 2, ok_names, tnull, DC_DTYPE_F32, 0, NULL, NULL), DC_ERR_ARG, "tensor 1", "\"b\"", "NULL");
    dc_st_entry neg = {"n", 1, (int64_t[]){-3}, v};
    CHECK_ERR(dc_st_write(p, &neg, 1, DC_DTYPE_F32, 0, NULL, NULL), DC_ERR_ARG, "tensor \"n\"", "[-3]");
    dc_st_entry nodata = {"n", 1, (int64_t[]){3}, NULL};
    CHECK_ERR(dc_st_write(p, &nodata, 1, DC_DTYPE_F32, 0, NULL, NULL), DC_ERR_ARG, "tensor \"n\"", "no data");
    size_t n1;
    unsigned char *after = (unsigned char *)slurp_n(p, &n1);
    CHECK(before && after && n0 == n1 && memcmp(before, after, n0) == 0);
    free(before);
    free(after);
    /* a directory that does not exist: DC_ERR_IO, nothing created */
    CHECK_ERR(dc_safetensors_save("/nonexistent-deepc-dir/m.safetensors", 2, ok_names, ts, DC_DTYPE_F32, 0, NULL, NULL),
              DC_ERR_IO, "/nonexistent-deepc-dir/m.safetensors");
    CHECK(!exists("/nonexistent-deepc-dir"));
    /* the target is a directory: the rename fails, the temporary file is removed */
    char sub[256];
    snprintf(sub, sizeof sub, "%s/adir", dir);
    CHECK(mkdir(sub, 0700) == 0);
    CHECK_ERR(dc_safetensors_save(sub, 2, ok_names, ts, DC_DTYPE_BF16, 0, NULL, NULL), DC_ERR_IO, "adir");
    CHECK(count_entries(dir, ".tmp.") == 0);
    dc_tensor_free(a);
    dc_tensor_free(b);
}

int main(int argc, char **argv) {
    if (!tmp_dir_create()) return 1;
    outdir = dir;
    if (argc > 1) {
        outdir = argv[1];
        if (mkdir(outdir, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "cannot create %s: %s\n", outdir, strerror(errno));
            return 1;
        }
    }
    test_read_types();
    test_write_reference();
    test_roundtrip();
    test_bad_files();
    test_write_errors();
    tmp_dir_remove();
    return check_report("test_safetensors");
}
