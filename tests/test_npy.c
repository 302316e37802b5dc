/* NumPy .npy and .npz: every reference file NumPy wrote (tests/golden/io, made by
 * scripts/golden/gen_npy.py) loads with the values it holds, dc_npy_save writes the bytes
 * np.save writes, every save dtype and archives of both kinds round-trip, and every broken
 * file or bad argument is answered with its status and a message naming the file and numbers.
 *
 *   test_npy [DIR]   also leaves the files deepc wrote in DIR, for
 *                    /usr/bin/python3 scripts/golden/gen_npy.py --check DIR */
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io/dtype.h"
#include "tmpfiles.h"

#define REF "tests/golden/io"
#define MAX_REFS 64
#define MAX_VALUES 64

static char out_dir[512]; /* where the files for gen_npy.py --check go */

/* ------------------------------------------------------------------------------------- */
/* helpers                                                                                */
/* ------------------------------------------------------------------------------------- */

typedef struct ref {
    char name[64]; /* "f4_2x3.npy" or "savez.npz/a" */
    dc_dtype dtype;
    int ndim;
    int64_t shape[DC_MAX_DIMS];
    int64_t numel;
    float v[MAX_VALUES];
} ref;

static ref refs[MAX_REFS];
static int nrefs;

/* Reads tests/golden/io/expected.txt (format in scripts/golden/gen_npy.py). */
static bool read_expected(void) {
    FILE *f = fopen(REF "/expected.txt", "r");
    if (!f) return false;
    char line[4096];
    bool ok = true;
    while (ok && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        if (nrefs == MAX_REFS) {
            ok = false;
            break;
        }
        ref *r = &refs[nrefs];
        char dt[16];
        int used = 0;
        ok = sscanf(line, "%63s %15s %d%n", r->name, dt, &r->ndim, &used) == 3 && r->ndim >= 0 && r->ndim <= DC_MAX_DIMS;
        r->dtype = dc_dtype_from_name(dt);
        ok = ok && r->dtype != DC_DTYPE_COUNT;
        char *p = line + used;
        r->numel = 1;
        for (int d = 0; ok && d < r->ndim; d++) {
            long long v;
            ok = sscanf(p, "%lld%n", &v, &used) == 1 && v >= 0;
            r->shape[d] = v;
            r->numel *= v;
            p += used;
        }
        ok = ok && r->numel <= MAX_VALUES;
        for (int64_t i = 0; ok && i < r->numel; i++) {
            char *end;
            r->v[i] = strtof(p, &end);
            ok = end != p;
            p = end;
        }
        nrefs++;
    }
    fclose(f);
    return ok && nrefs > 0;
}

static const ref *find_ref(const char *name) {
    for (int i = 0; i < nrefs; i++)
        if (!strcmp(refs[i].name, name)) return &refs[i];
    return NULL;
}

/* The tensor has the reference's shape (0-d as [1]) and exactly its values (bit for bit). */
static bool same_as_ref(const dc_tensor *t, const ref *r) {
    if (!t) return false;
    int nd = r->ndim ? r->ndim : 1;
    if (dc_tensor_ndim(t) != nd) return false;
    for (int d = 0; d < nd; d++)
        if (dc_tensor_dim(t, d) != (r->ndim ? r->shape[d] : 1)) return false;
    return dc_tensor_numel(t) == r->numel &&
           memcmp(dc_tensor_data((dc_tensor *)t), r->v, (size_t)r->numel * sizeof(float)) == 0;
}

static const char *out_path(const char *name) { return path_in(out_dir, name); }

/* An .npy file: magic, version major.0, the header length (uint16 or uint32 as the version
 * has it, or hl_override if >= 0), the dict text and a newline, then n data bytes. */
static size_t npy_bytes(unsigned char *out, int major, long hl_override, const char *dict, const void *data, size_t n) {
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    size_t dl = strlen(dict), pl = major == 1 ? 10 : 12, hl = hl_override >= 0 ? (size_t)hl_override : dl + 1;
    for (size_t k = 0; k < pl - 8; k++) out[8 + k] = (unsigned char)(hl >> (8 * k));
    memcpy(out + pl, dict, dl);
    out[pl + dl] = '\n';
    if (n) memcpy(out + pl + dl + 1, data, n);
    return pl + dl + 1 + n;
}

static const char *write_npy(const char *name, const char *dict, const void *data, size_t n) {
    static unsigned char buf[8192];
    size_t len = npy_bytes(buf, 1, -1, dict, data, n);
    return write_file(name, buf, len, false);
}

/* A zip archive of members, stored or deflated, with correct CRCs; returns its size. */
typedef struct zmember {
    const char *name;
    const void *data;
    size_t n;
    int method; /* 0 or 8 */
} zmember;

static void put16(unsigned char *p, unsigned v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void put32(unsigned char *p, uint32_t v) {
    put16(p, v & 0xffff);
    put16(p + 2, v >> 16);
}
static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t build_zip(unsigned char *out, const zmember *m, int k) {
    size_t pos = 0, offs[16], comp[16];
    for (int i = 0; i < k; i++) {
        size_t nl = strlen(m[i].name);
        unsigned char *h = out + pos;
        memset(h, 0, 30);
        put32(h, 0x04034b50);
        put16(h + 4, 20);
        put16(h + 8, (unsigned)m[i].method);
        put32(h + 14, (uint32_t)crc32(0, m[i].data, (uInt)m[i].n));
        put32(h + 22, (uint32_t)m[i].n);
        put16(h + 26, (unsigned)nl);
        memcpy(h + 30, m[i].name, nl);
        unsigned char *d = h + 30 + nl;
        if (m[i].method == 8) {
            z_stream zs;
            memset(&zs, 0, sizeof zs);
            deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
            zs.next_in = (unsigned char *)m[i].data;
            zs.avail_in = (uInt)m[i].n;
            zs.next_out = d;
            zs.avail_out = 1 << 16;
            deflate(&zs, Z_FINISH);
            comp[i] = zs.total_out;
            deflateEnd(&zs);
        } else {
            memcpy(d, m[i].data, m[i].n);
            comp[i] = m[i].n;
        }
        put32(h + 18, (uint32_t)comp[i]);
        offs[i] = pos;
        pos += 30 + nl + comp[i];
    }
    size_t cd = pos;
    for (int i = 0; i < k; i++) {
        size_t nl = strlen(m[i].name);
        unsigned char *h = out + pos;
        memset(h, 0, 46);
        put32(h, 0x02014b50);
        put16(h + 4, 20);
        put16(h + 6, 20);
        put16(h + 10, (unsigned)m[i].method);
        put32(h + 16, (uint32_t)crc32(0, m[i].data, (uInt)m[i].n));
        put32(h + 20, (uint32_t)comp[i]);
        put32(h + 24, (uint32_t)m[i].n);
        put16(h + 28, (unsigned)nl);
        put32(h + 42, (uint32_t)offs[i]);
        memcpy(h + 46, m[i].name, nl);
        pos += 46 + nl;
    }
    unsigned char *e = out + pos;
    memset(e, 0, 22);
    put32(e, 0x06054b50);
    put16(e + 8, (unsigned)k);
    put16(e + 10, (unsigned)k);
    put32(e + 12, (uint32_t)(pos - cd));
    put32(e + 16, (uint32_t)cd);
    return pos + 22;
}

static void put64(unsigned char *p, uint64_t v) {
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* One stored member whose central entry keeps its sizes and offset in a zip64 extra field
 * (xlen bytes of it: 24 hold all three), behind zip64 end records, as archives over 4 GiB
 * have them. */
static size_t build_zip64(unsigned char *out, const char *name, const void *data, size_t n, unsigned xlen) {
    size_t nl = strlen(name), pos = 0;
    uint32_t crc = (uint32_t)crc32(0, data, (uInt)n);
    unsigned char *h = out;
    memset(h, 0, 30);
    put32(h, 0x04034b50);
    put16(h + 4, 45);
    put32(h + 14, crc);
    put32(h + 18, (uint32_t)n);
    put32(h + 22, (uint32_t)n);
    put16(h + 26, (unsigned)nl);
    memcpy(h + 30, name, nl);
    memcpy(h + 30 + nl, data, n);
    pos = 30 + nl + n;
    size_t cd = pos;
    h = out + pos;
    memset(h, 0, 46);
    put32(h, 0x02014b50);
    put16(h + 4, 45);
    put16(h + 6, 45);
    put32(h + 16, crc);
    put32(h + 20, 0xFFFFFFFFu);
    put32(h + 24, 0xFFFFFFFFu);
    put16(h + 28, (unsigned)nl);
    put16(h + 30, 4 + xlen);
    put32(h + 42, 0xFFFFFFFFu);
    memcpy(h + 46, name, nl);
    unsigned char *x = h + 46 + nl;
    put16(x, 1);
    put16(x + 2, xlen);
    memset(x + 4, 0, xlen);
    if (xlen >= 8) put64(x + 4, n);
    if (xlen >= 16) put64(x + 12, n);
    if (xlen >= 24) put64(x + 20, 0);
    pos += 46 + nl + 4 + xlen;
    size_t cd_size = pos - cd, rec = pos;
    unsigned char *r = out + pos;
    memset(r, 0, 56 + 20 + 22);
    put32(r, 0x06064b50);
    put64(r + 4, 44);
    put64(r + 24, 1);
    put64(r + 32, 1);
    put64(r + 40, cd_size);
    put64(r + 48, cd);
    put32(r + 56, 0x07064b50);
    put64(r + 64, rec);
    put32(r + 72, 1);
    unsigned char *e = r + 76;
    put32(e, 0x06054b50);
    put16(e + 8, 0xFFFF);
    put16(e + 10, 0xFFFF);
    put32(e + 12, 0xFFFFFFFFu);
    put32(e + 16, 0xFFFFFFFFu);
    return pos + 76 + 22;
}

/* Offset of the first central directory entry (found through the end record). */
static size_t cd_offset(const unsigned char *z, size_t n) { return get32(z + n - 22 + 16); }

static int npz_load_count(const char *path) {
    int n = -1;
    char **names;
    dc_tensor **arrays;
    if (dc_npz_load(path, &n, &names, &arrays) != DC_OK) return -1;
    dc_npz_free(n, names, arrays);
    return n;
}

/* No "<path>.tmp.<pid>" file is left in the temporary directory. */
static bool no_tmp_files(void) {
    DIR *d = opendir(dir);
    if (!d) return false;
    bool clean = true;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) clean = false;
    closedir(d);
    return clean;
}

/* ------------------------------------------------------------------------------------- */
/* NumPy's files                                                                          */
/* ------------------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Every reference .npy loads as expected; saved back with its dtype it reloads the same, and
 * where np.save wrote it (little-endian, version 1.0, not 0-d) deepc's bytes are np.save's. */
static void test_reference_npy(void) {
    int loaded = 0, compared = 0;
    for (int i = 0; i < nrefs; i++) {
        const ref *r = &refs[i];
        if (!ends_with(r->name, ".npy")) continue;
        char path[300];
        snprintf(path, sizeof path, REF "/%s", r->name);
        dc_tensor *t = dc_npy_load(path);
        CHECK(same_as_ref(t, r));
        if (!same_as_ref(t, r)) fprintf(stderr, "  reference %s\n", r->name);
        loaded += t != NULL;
        const char *saved = out_path(r->name);
        CHECK(t && dc_npy_save(saved, t, r->dtype) == DC_OK);
        dc_tensor *back = dc_npy_load(saved);
        CHECK(same_as_ref(back, r));
        bool by_np_save = !strstr(r->name, "_be") && strncmp(r->name, "v2", 2) && strncmp(r->name, "v3", 2) && r->ndim > 0;
        if (by_np_save) {
            CHECK(same_bytes(saved, path));
            if (!same_bytes(saved, path)) fprintf(stderr, "  bytes of %s differ from np.save's\n", r->name);
            compared++;
        }
        dc_tensor_free(t);
        dc_tensor_free(back);
    }
    CHECK(loaded == 30);
    CHECK(compared == 17);
    /* the two files NumPy wrote that deepc must refuse */
    CHECK_NULL_ERR(dc_npy_load(REF "/fortran.npy"), REF "/fortran.npy", "Fortran-order arrays are not supported",
                   "np.ascontiguousarray");
    CHECK(dc_last_status() == DC_ERR_FORMAT);
    CHECK_NULL_ERR(dc_npy_load(REF "/i8_big.npy"), REF "/i8_big.npy", "element 1 (index [1])", "int64", "16777217",
                   "2^24");
    CHECK(dc_last_status() == DC_ERR_NUMERIC);
}

/* np.savez and np.savez_compressed archives load with their names and values; saved again by
 * dc_npz_save both ways (as float32) they reload the same. */
static void test_reference_npz(void) {
    const char *files[] = {"savez.npz", "savez_compressed.npz"};
    for (int f = 0; f < 2; f++) {
        char path[300];
        snprintf(path, sizeof path, REF "/%s", files[f]);
        int n = 0;
        char **names = NULL;
        dc_tensor **arrays = NULL;
        CHECK(dc_npz_load(path, &n, &names, &arrays) == DC_OK);
        CHECK(n == 4);
        int matched = 0;
        for (int i = 0; i < n; i++) {
            char key[128];
            snprintf(key, sizeof key, "%s/%s", files[f], names[i]);
            const ref *r = find_ref(key);
            CHECK(r && same_as_ref(arrays[i], r));
            matched += r && same_as_ref(arrays[i], r);
        }
        CHECK(matched == 4);
        if (f == 0 && n == 4) { /* deepc's own archives of the same arrays, both ways */
            const char *st = out_path("stored.npz"), *df = out_path("deflated.npz");
            CHECK(dc_npz_save(st, n, (const char *const *)names, (const dc_tensor *const *)arrays, false) == DC_OK);
            CHECK(dc_npz_save(df, n, (const char *const *)names, (const dc_tensor *const *)arrays, true) == DC_OK);
            const char *both[] = {st, df};
            for (int k = 0; k < 2; k++) {
                int m = 0;
                char **nm2 = NULL;
                dc_tensor **ar2 = NULL;
                CHECK(dc_npz_load(both[k], &m, &nm2, &ar2) == DC_OK);
                CHECK(m == n);
                for (int i = 0; i < m && i < n; i++) {
                    CHECK(!strcmp(nm2[i], names[i]));
                    CHECK(dc_tensor_numel(ar2[i]) == dc_tensor_numel(arrays[i]) &&
                          !memcmp(dc_tensor_data(ar2[i]), dc_tensor_data(arrays[i]),
                                  (size_t)dc_tensor_numel(arrays[i]) * sizeof(float)));
                }
                dc_npz_free(m, nm2, ar2);
                size_t len;
                unsigned char *z = (unsigned char *)slurp_n(both[k], &len);
                CHECK(z && len > 30 && z[8] == (k ? 8 : 0)); /* the first member's method */
                free(z);
            }
        }
        dc_npz_free(n, names, arrays);
    }
}

/* ------------------------------------------------------------------------------------- */
/* round trips                                                                            */
/* ------------------------------------------------------------------------------------- */

static void test_save_dtypes(void) {
    static const struct {
        dc_dtype t;
        const char *descr;
        float v[6];
    } cases[] = {
        {DC_DTYPE_F32, "'<f4'", {0.1f, -2.5f, 3.4e38f, -0.0f, 1e-40f, 7}},
        {DC_DTYPE_F64, "'<f8'", {0.1f, -2.5f, 3.4e38f, -0.0f, 1e-40f, 7}},
        {DC_DTYPE_F16, "'<f2'", {0.5f, -2, 65504, 0.0009765625f, -0.0f, 3}},
        {DC_DTYPE_I8, "'|i1'", {-128, 127, 0, -1, 5, 100}},
        {DC_DTYPE_I16, "'<i2'", {-32768, 32767, 0, -1, 300, 12}},
        {DC_DTYPE_I32, "'<i4'", {-16777216, 16777216, 0, -1, 65536, -7}},
        {DC_DTYPE_I64, "'<i8'", {-16777216, 16777216, 0, -1, 65536, -7}},
        {DC_DTYPE_U8, "'|u1'", {0, 255, 1, 128, 17, 3}},
        {DC_DTYPE_U16, "'<u2'", {0, 65535, 1, 256, 17, 3}},
        {DC_DTYPE_U32, "'<u4'", {0, 16777216, 1, 65536, 17, 3}},
        {DC_DTYPE_U64, "'<u8'", {0, 16777216, 1, 65536, 17, 3}},
        {DC_DTYPE_BOOL, "'|b1'", {0, 1, 1, 0, 0, 1}},
    };
    for (size_t c = 0; c < DC_ARRAY_LEN(cases); c++) {
        dc_tensor *t = dc_tensor_from(2, (int64_t[]){2, 3}, cases[c].v);
        char name[32];
        snprintf(name, sizeof name, "rt_%s.npy", dc_dtype_name(cases[c].t));
        const char *p = in_dir(name);
        CHECK(dc_npy_save(p, t, cases[c].t) == DC_OK);
        dc_tensor *back = dc_npy_load(p);
        CHECK(back && dc_tensor_ndim(back) == 2 && dc_tensor_dim(back, 0) == 2 && dc_tensor_dim(back, 1) == 3);
        for (int i = 0; back && i < 6; i++) {
            float want = cases[c].t == DC_DTYPE_F16 ? dc_f16_to_f32(dc_f32_to_f16(cases[c].v[i])) : cases[c].v[i];
            CHECK(memcmp(&dc_tensor_data(back)[i], &want, 4) == 0);
        }
        size_t len;
        unsigned char *b = (unsigned char *)slurp_n(p, &len);
        char want_descr[128];
        snprintf(want_descr, sizeof want_descr, "{'descr': %s, 'fortran_order': False, 'shape': (2, 3), }", cases[c].descr);
        CHECK(b && len == 128 + 6 * dc_dtype_size(cases[c].t) && !memcmp(b + 10, want_descr, strlen(want_descr)) &&
              b[127] == '\n');
        free(b);
        dc_tensor_free(t);
        dc_tensor_free(back);
    }
    dc_tensor *t = dc_tensor_new(1, (int64_t[]){2});
    CHECK_ERR(dc_npy_save(in_dir("bf.npy"), t, DC_DTYPE_BF16), DC_ERR_ARG, "bf.npy", "bfloat16");
    CHECK_ERR(dc_npy_save(in_dir("bad_dtype.npy"), t, DC_DTYPE_COUNT), DC_ERR_ARG, "bad_dtype.npy", "dtype");
    CHECK_ERR(dc_npy_save(NULL, t, DC_DTYPE_F32), DC_ERR_ARG, "path");
    CHECK_ERR(dc_npy_save(in_dir("null.npy"), NULL, DC_DTYPE_F32), DC_ERR_ARG, "null.npy", "NULL");
    dc_tensor_free(t);
}

/* Strided views are saved in C order; empty tensors and 8-d shapes round-trip. */
static void test_views_and_shapes(void) {
    dc_tensor *t = dc_npy_load(REF "/f4_3d.npy"); /* [2, 3, 4] */
    dc_ctx *c = dc_ctx_new();
    dc_tensor *v = t ? dc_permute(c, t, (const int[]){2, 0, 1}) : NULL; /* [4, 2, 3] */
    CHECK(v && !dc_tensor_is_contiguous(v));
    CHECK(v && dc_npy_save(out_path("permuted.npy"), v, DC_DTYPE_F32) == DC_OK);
    CHECK(v && dc_npy_save(in_dir("permuted_i16.npy"), v, DC_DTYPE_I16) == DC_ERR_NUMERIC); /* -2.5 is not whole */
    dc_tensor *back = dc_npy_load(out_path("permuted.npy"));
    CHECK(back && dc_tensor_dim(back, 0) == 4 && dc_tensor_dim(back, 1) == 2 && dc_tensor_dim(back, 2) == 3);
    int same = 0;
    for (int64_t a = 0; back && v && a < 4; a++)
        for (int64_t b = 0; b < 2; b++)
            for (int64_t d = 0; d < 3; d++) {
                int64_t idx[3] = {a, b, d};
                same += dc_tensor_get(back, idx) == dc_tensor_get(v, idx);
            }
    CHECK(same == 24);
    /* a view in an archive too */
    const dc_tensor *arr[] = {v};
    const char *nm[] = {"view"};
    CHECK(v && dc_npz_save(in_dir("view.npz"), 1, nm, arr, true) == DC_OK);
    int n = 0;
    char **names;
    dc_tensor **arrays;
    CHECK(dc_npz_load(in_dir("view.npz"), &n, &names, &arrays) == DC_OK && n == 1);
    CHECK(n == 1 && back && !memcmp(dc_tensor_data(arrays[0]), dc_tensor_data(back), 24 * sizeof(float)));
    if (n == 1) dc_npz_free(n, names, arrays);
    dc_tensor_free(back);
    dc_ctx_free(c);
    dc_tensor_free(t);
    /* empty tensors */
    dc_tensor *e = dc_tensor_new(2, (int64_t[]){3, 0});
    CHECK(e && dc_npy_save(in_dir("empty.npy"), e, DC_DTYPE_I64) == DC_OK);
    back = dc_npy_load(in_dir("empty.npy"));
    CHECK(back && dc_tensor_ndim(back) == 2 && dc_tensor_dim(back, 0) == 3 && dc_tensor_numel(back) == 0);
    dc_tensor_free(back);
    const dc_tensor *earr[] = {e};
    const char *enm[] = {"nothing"};
    CHECK(dc_npz_save(in_dir("empty.npz"), 1, enm, earr, true) == DC_OK);
    CHECK(npz_load_count(in_dir("empty.npz")) == 1);
    dc_tensor_free(e);
    /* an archive with no arrays, as np.savez() writes it */
    CHECK(dc_npz_save(in_dir("none.npz"), 0, NULL, NULL, false) == DC_OK);
    size_t len;
    unsigned char *z = (unsigned char *)slurp_n(in_dir("none.npz"), &len);
    CHECK(z && len == 22);
    free(z);
    CHECK(npz_load_count(in_dir("none.npz")) == 0);
}

/* 65536 members need zip64 end records: written and read back. */
static void test_many_members(void) {
    enum { N = 65536 };
    char **names = malloc(N * sizeof *names);
    const dc_tensor **arrays = malloc(N * sizeof *arrays);
    dc_tensor *one = dc_tensor_from(1, (int64_t[]){1}, (const float[]){42});
    for (int i = 0; i < N; i++) {
        names[i] = malloc(16);
        snprintf(names[i], 16, "a%d", i);
        arrays[i] = one;
    }
    const char *p = in_dir("many.npz");
    CHECK(dc_npz_save(p, N, (const char *const *)names, arrays, false) == DC_OK);
    int n = 0;
    char **nm;
    dc_tensor **ar;
    CHECK(dc_npz_load(p, &n, &nm, &ar) == DC_OK);
    CHECK(n == N && !strcmp(nm[N - 1], "a65535") && dc_tensor_data(ar[N - 1])[0] == 42);
    if (n == N) dc_npz_free(n, nm, ar);
    size_t len;
    unsigned char *z = (unsigned char *)slurp_n(p, &len);
    CHECK(z && len > 98 && get32(z + len - 22 - 20) == 0x07064b50 && z[len - 22 + 8] == 0xff); /* zip64 locator */
    free(z);
    CHECK_ERR(dc_npz_save(p, N + 1, (const char *const *)names, arrays, false), DC_ERR_ARG, "65537 arrays");
    for (int i = 0; i < N; i++) free(names[i]);
    free(names);
    free(arrays);
    dc_tensor_free(one);
}

/* ------------------------------------------------------------------------------------- */
/* broken .npy files                                                                      */
/* ------------------------------------------------------------------------------------- */

static void test_bad_npy(void) {
    const float six[6] = {1, 2, 3, 4, 5, 6};
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    unsigned char b[512];
    size_t n;
    /* accepted variants: keys in any order, double quotes, no trailing comma, Python 2 longs */
    dc_tensor *t = dc_npy_load(write_npy("variant.npy", "{\"shape\":(2,3),\"fortran_order\":False,\"descr\":\"<f4\"}", six, 24));
    CHECK(t && dc_tensor_dim(t, 1) == 3 && dc_tensor_data(t)[5] == 6);
    dc_tensor_free(t);
    t = dc_npy_load(write_npy("long.npy", "{'descr': '=f4', 'fortran_order': False, 'shape': (2L, 3L), }", six, 24));
    CHECK(t && dc_tensor_numel(t) == 6);
    dc_tensor_free(t);
    t = dc_npy_load(write_npy("zero_d.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", six, 4));
    CHECK(t && dc_tensor_ndim(t) == 1 && dc_tensor_dim(t, 0) == 1 && dc_tensor_data(t)[0] == 1);
    dc_tensor_free(t);
    /* the magic, the version and the header length */
    n = npy_bytes(b, 1, -1, ok, six, 24);
    b[5] = 'Z';
    CHECK_NULL_ERR(dc_npy_load(write_file("magic.npy", b, n, false)), "magic.npy", "not an .npy file", "NUMPZ");
    CHECK(dc_last_status() == DC_ERR_FORMAT);
    n = npy_bytes(b, 4, -1, ok, six, 24);
    CHECK_NULL_ERR(dc_npy_load(write_file("version.npy", b, n, false)), "version.npy", "version 4.0", "1.0, 2.0 and 3.0");
    n = npy_bytes(b, 1, -1, ok, six, 24);
    b[7] = 1;
    CHECK_NULL_ERR(dc_npy_load(write_file("minor.npy", b, n, false)), "minor.npy", "version 1.1");
    n = npy_bytes(b, 1, 1000, ok, six, 24);
    CHECK_NULL_ERR(dc_npy_load(write_file("hlen.npy", b, n, false)), "hlen.npy", "header length 1000", "goes past the end",
                   "94 bytes");
    n = npy_bytes(b, 2, 0x7fffffff, ok, NULL, 0);
    CHECK_NULL_ERR(dc_npy_load(write_file("hlen2.npy", b, n, false)), "hlen2.npy", "header length 2147483647");
    CHECK_NULL_ERR(dc_npy_load(write_file("short.npy", "\x93NUMPY\x01", 7, false)), "short.npy", "7 bytes are too short");
    CHECK_NULL_ERR(dc_npy_load(write_file("short2.npy", "\x93NUMPY\x02\x00\x10\x00", 10, false)), "short2.npy",
                   "10 bytes are too short", "version 2.0");
    n = npy_bytes(b, 2, -1, ok, six, 24); /* version 2.0 of the same is fine */
    t = dc_npy_load(write_file("v2.npy", b, n, false));
    CHECK(t && dc_tensor_data(t)[4] == 5);
    dc_tensor_free(t);
    /* the dict */
    struct {
        const char *file, *dict, *words[3];
    } bad[] = {
        {"brace.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", {"expected a quoted key or '}'", "found the end"}},
        {"open.npy", "'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", {"expected '{'", "header byte 0"}},
        {"missing.npy", "{'descr': '<f4', 'fortran_order': False, }", {"'shape' is missing"}},
        {"dup.npy", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", {"'descr' appears twice"}},
        {"unknown.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", {"unknown key 'x'"}},
        {"fo.npy", "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", {"True or False", "header byte 34"}},
        {"fo2.npy", "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2, 3), }", {"True or False"}},
        {"shape_str.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': ('2', 3), }", {"a whole number in the shape"}},
        {"shape_list.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }", {"a tuple '('"}},
        {"shape_int.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", {"shape (6) is not a tuple", "(6,)"}},
        {"shape_comma.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,, 3), }", {"a whole number"}},
        {"shape_junk.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2x, 3), }", {"',' or ')' after a dimension"}},
        {"descr_num.npy", "{'descr': 5, 'fortran_order': False, 'shape': (2, 3), }", {"a dtype string"}},
        {"escape.npy", "{'descr': '<f\\4', 'fortran_order': False, 'shape': (2, 3), }", {"without escapes"}},
        {"after.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } x", {"after the closing '}'"}},
        {"colon.npy", "{'descr' '<f4', 'fortran_order': False, 'shape': (2, 3), }", {"':' after a key"}},
        {"overflow.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }",
         {"shape (4294967296, 4294967296, 4)", "more elements"}},
        {"huge_dim.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
         {"dimension 0", "99999999999999999999", "64 bits"}},
        {"negative.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", {"dimension 1 is negative (-3)"}},
        {"ndim.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 6), }",
         {"9 dimensions", "at most 8"}},
        {"fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", {"Fortran-order", "np.ascontiguousarray"}},
        {"complex.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3), }", {"dtype '<c8' is not supported"}},
        {"object.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }", {"dtype '|O' is not supported"}},
        {"pipe_f4.npy", "{'descr': '|f4', 'fortran_order': False, 'shape': (2, 3), }", {"dtype '|f4'"}},
        {"struct.npy", "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (3,), }",
         {"structured dtype [('a', '<f4'), ('b', '<i4')]"}},
    };
    for (size_t i = 0; i < DC_ARRAY_LEN(bad); i++) {
        const char *p = write_npy(bad[i].file, bad[i].dict, six, 24);
        dc_clear_error();
        CHECK(dc_npy_load(p) == NULL && dc_last_status() == DC_ERR_FORMAT && strstr(dc_last_error(), bad[i].file));
        for (int w = 0; w < 3 && bad[i].words[w]; w++) {
            check_count++;
            if (!strstr(dc_last_error(), bad[i].words[w])) {
                check_fails++;
                fprintf(stderr, "%s: message lacks \"%s\": %s\n", bad[i].file, bad[i].words[w], dc_last_error());
            }
        }
    }
    /* the data */
    CHECK_NULL_ERR(dc_npy_load(write_npy("trunc.npy", ok, six, 20)), "trunc.npy", "truncated data", "(2, 3)", "'<f4'",
                   "needs 24 bytes", "holds 20");
    float seven[7] = {1, 2, 3, 4, 5, 6, 7};
    CHECK_NULL_ERR(dc_npy_load(write_npy("trailing.npy", ok, seven, 28)), "trailing.npy", "4 bytes of trailing data",
                   "needs 24 bytes", "holds 28");
    /* a header claiming 10^18 elements in a 100-byte file fails before any allocation */
    CHECK_NULL_ERR(dc_npy_load(write_npy("claim.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000), }", six, 8)),
                   "claim.npy", "needs 4000000000000000000 bytes", "holds 8");
    /* values float32 cannot hold */
    const double big[3] = {1, 2, 1e300};
    CHECK_NULL_ERR(dc_npy_load(write_npy("f8big.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", big, 24)),
                   "f8big.npy", "element 2 (index [2])", "e+300", "float32's range");
    CHECK(dc_last_status() == DC_ERR_NUMERIC);
    const uint64_t u[2] = {5, ((uint64_t)1 << 63) + 1}; /* 2^63 itself is a float32 */
    CHECK_NULL_ERR(dc_npy_load(write_npy("u8big.npy", "{'descr': '<u8', 'fortran_order': False, 'shape': (1, 2), }", u, 16)),
                   "u8big.npy", "element 1 (index [0, 1])", "uint64", "9223372036854775809");
    const unsigned char be[8] = {0, 0, 0, 1, 1, 0, 0, 1}; /* >i4: 1, 16777217 */
    CHECK_NULL_ERR(dc_npy_load(write_npy("i4be.npy", "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", be, 8)),
                   "i4be.npy", "element 1", "16777217");
    CHECK(dc_last_status() == DC_ERR_NUMERIC);
    /* files that are not there or not files */
    CHECK_NULL_ERR(dc_npy_load("/nonexistent/x.npy"), "/nonexistent/x.npy", "No such file");
    CHECK(dc_last_status() == DC_ERR_IO);
    CHECK_NULL_ERR(dc_npy_load(dir), dir, "directory");
    CHECK(dc_last_status() == DC_ERR_IO);
    CHECK_NULL_ERR(dc_npy_load(NULL), "path is NULL");
}

/* ------------------------------------------------------------------------------------- */
/* broken .npz archives                                                                   */
/* ------------------------------------------------------------------------------------- */

static dc_status load_bytes(const char *name, const unsigned char *z, size_t n) {
    int m = -1;
    char **names = (char **)1;
    dc_tensor **arrays = (dc_tensor **)1;
    dc_status s = dc_npz_load(write_file(name, z, n, false), &m, &names, &arrays);
    if (s == DC_OK) dc_npz_free(m, names, arrays);
    else if (m != 0 || names || arrays) return DC_ERR_STATE; /* failures hand nothing back */
    return s;
}

static void test_bad_npz(void) {
    static unsigned char z[1 << 16], good[1 << 16];
    unsigned char npy[512];
    const float six[6] = {1, 2, 3, 4, 5, 6};
    size_t nn = npy_bytes(npy, 1, -1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", six, 24);
    zmember two[] = {{"a.npy", npy, nn, 0}, {"b.npy", npy, nn, 8}};
    size_t n = build_zip(good, two, 2);
    CHECK(load_bytes("good.npz", good, n) == DC_OK);
    size_t tn;
    size_t cd = cd_offset(good, n), cd2 = cd + 46 + 5; /* second central entry */
    /* CRC-32 */
    memcpy(z, good, n);
    z[cd + 16] ^= 1;
    CHECK_ERR(load_bytes("crc.npz", z, n), DC_ERR_FORMAT, "crc.npz:a.npy", "CRC-32 mismatch");
    memcpy(z, good, n);
    z[30 + 5 + nn - 1] ^= 0x40; /* the last data byte of the stored member */
    CHECK_ERR(load_bytes("crc_data.npz", z, n), DC_ERR_FORMAT, "crc_data.npz:a.npy", "CRC-32 mismatch");
    memcpy(z, good, n);
    z[30 + 5 + 20] = 'X'; /* in the stored member's header: damage, not a parse error, is named */
    CHECK_ERR(load_bytes("crc_head.npz", z, n), DC_ERR_FORMAT, "crc_head.npz:a.npy", "CRC-32 mismatch");
    /* offsets and sizes */
    memcpy(z, good, n);
    put32(z + cd2 + 42, 0x7fffff00);
    CHECK_ERR(load_bytes("offset.npz", z, n), DC_ERR_FORMAT, "offset.npz", "member 'b.npy'", "offset 2147483392",
              "goes past the central directory");
    memcpy(z, good, n);
    put32(z + cd + 20, (uint32_t)nn + 1000); /* compressed size */
    put32(z + cd + 24, (uint32_t)nn + 1000);
    CHECK_ERR(load_bytes("size.npz", z, n), DC_ERR_FORMAT, "size.npz", "member 'a.npy'", "goes past");
    memcpy(z, good, n);
    put32(z + cd + 24, (uint32_t)nn + 4); /* stored, but the sizes differ */
    CHECK_ERR(load_bytes("stored_sizes.npz", z, n), DC_ERR_FORMAT, "stored_sizes.npz", "stored but declares");
    memcpy(z, good, n);
    put32(z + cd2 + 24, 100000000); /* a deflated member claiming 100 MB from a few bytes */
    CHECK_ERR(load_bytes("bomb.npz", z, n), DC_ERR_FORMAT, "bomb.npz", "member 'b.npy'", "100000000 uncompressed bytes",
              "more than deflate can expand to");
    memcpy(z, good, n);
    put32(z + cd2 + 24, (uint32_t)nn - 4); /* declares less than the deflate stream holds */
    CHECK_ERR(load_bytes("less.npz", z, n), DC_ERR_FORMAT, "less.npz:b.npy");
    memcpy(z, good, n);
    put32(z + cd2 + 24, (uint32_t)nn + 4); /* declares more */
    CHECK_ERR(load_bytes("more.npz", z, n), DC_ERR_FORMAT, "more.npz:b.npy");
    /* method, encryption, names */
    memcpy(z, good, n);
    put16(z + cd2 + 10, 12);
    CHECK_ERR(load_bytes("method.npz", z, n), DC_ERR_FORMAT, "method.npz", "member 'b.npy'", "compression method 12");
    memcpy(z, good, n);
    put16(z + cd + 8, 1);
    CHECK_ERR(load_bytes("encrypted.npz", z, n), DC_ERR_FORMAT, "encrypted.npz", "'a.npy' is encrypted");
    memcpy(z, good, n);
    z[30 + 5 + nn + 30] = 'c'; /* the local header of b.npy names c.npy */
    CHECK_ERR(load_bytes("lname.npz", z, n), DC_ERR_FORMAT, "lname.npz:b.npy", "local header names another file");
    memcpy(z, good, n);
    put32(z, 0x12345678); /* no local header where the directory points */
    CHECK_ERR(load_bytes("local.npz", z, n), DC_ERR_FORMAT, "local.npz:a.npy", "no local header at offset 0", "0x12345678");
    memcpy(z, good, n);
    put16(z + cd + 28, 60000); /* a name longer than the directory */
    CHECK_ERR(load_bytes("namelen.npz", z, n), DC_ERR_FORMAT, "namelen.npz", "60000-byte name", "goes past");
    /* the central directory and the end record */
    memcpy(z, good, n);
    put32(z + n - 22 + 12, 60); /* its size: too short for two entries */
    put32(z + n - 22 + 16, (uint32_t)(n - 22 - 60));
    CHECK_ERR(load_bytes("cd_short.npz", z, n), DC_ERR_FORMAT, "cd_short.npz", "60 bytes", "2 entries");
    memcpy(z, good, n);
    put32(z + n - 22 + 12, 95); /* two entries of 46 bytes fit in 95, but not with their names */
    CHECK_ERR(load_bytes("cd_cut.npz", z, n), DC_ERR_FORMAT, "cd_cut.npz", "(95 bytes) ends inside entry 1 of 2");
    memcpy(z, good, n);
    put32(z + n - 22 + 16, (uint32_t)n); /* the directory after the end record */
    CHECK_ERR(load_bytes("cd_off.npz", z, n), DC_ERR_FORMAT, "cd_off.npz", "goes past the end records");
    CHECK_ERR(load_bytes("trunc.npz", good, cd + 30), DC_ERR_FORMAT, "trunc.npz", "not a zip archive");
    CHECK_ERR(load_bytes("tiny.npz", good, 10), DC_ERR_FORMAT, "tiny.npz", "10 bytes are too short");
    memcpy(z, good, n);
    put16(z + n - 22 + 4, 1); /* disk 1 */
    CHECK_ERR(load_bytes("disk.npz", z, n), DC_ERR_FORMAT, "disk.npz", "multi-disk");
    memcpy(z, good, n);
    put16(z + n - 22 + 8, 70000 & 0xffff); /* entries here != entries in all */
    CHECK_ERR(load_bytes("entries.npz", z, n), DC_ERR_FORMAT, "entries.npz", "multi-disk");
    /* members that are not .npy arrays, and names that clash */
    zmember text[] = {{"x.npy", "hello, world", 12, 0}};
    tn = build_zip(z, text, 1);
    CHECK_ERR(load_bytes("text.npz", z, tn), DC_ERR_FORMAT, "text.npz:x.npy", "not an .npy member");
    zmember trunc[] = {{"t.npy", npy, nn - 4, 8}};
    tn = build_zip(z, trunc, 1);
    CHECK_ERR(load_bytes("member_trunc.npz", z, tn), DC_ERR_FORMAT, "member_trunc.npz:t.npy", "needs 24 bytes",
              "member holds 20");
    zmember clash[] = {{"a.npy", npy, nn, 0}, {"a", npy, nn, 0}};
    tn = build_zip(z, clash, 2);
    CHECK_ERR(load_bytes("clash.npz", z, tn), DC_ERR_FORMAT, "clash.npz", "two members load as the array 'a'");
    /* random bytes */
    static const char junk[] = "PK\x05\x06 this is not a zip archive at all";
    CHECK_ERR(load_bytes("random.npz", (const unsigned char *)junk, sizeof junk - 1), DC_ERR_FORMAT, "random.npz",
              "no end-of-central-directory record in its last 37 bytes");
    /* a zip64 end record whose locator points outside the file */
    memcpy(z, good, n);
    memmove(z + n - 22 + 20, z + n - 22, 22);
    put32(z + n - 22, 0x07064b50);
    put32(z + n - 22 + 4, 0);
    put32(z + n - 22 + 8, 0x7ffffff0);
    put32(z + n - 22 + 12, 0);
    put32(z + n - 22 + 16, 1);
    CHECK_ERR(load_bytes("z64.npz", z, n + 20), DC_ERR_FORMAT, "z64.npz", "zip64 end record", "2147483632");
    /* zip64: sizes and offset in the central entry's extra field, zip64 end records */
    tn = build_zip64(z, "big.npy", npy, nn, 24);
    int m = 0;
    char **names = NULL;
    dc_tensor **arrays = NULL;
    CHECK(dc_npz_load(write_file("zip64.npz", z, tn, false), &m, &names, &arrays) == DC_OK);
    CHECK(m == 1 && !strcmp(names[0], "big") && dc_tensor_numel(arrays[0]) == 6 && dc_tensor_data(arrays[0])[5] == 6);
    if (m == 1) dc_npz_free(m, names, arrays);
    tn = build_zip64(z, "big.npy", npy, nn, 16); /* the offset's 64-bit value is missing */
    CHECK_ERR(load_bytes("zip64_short.npz", z, tn), DC_ERR_FORMAT, "zip64_short.npz", "member 'big.npy'",
              "zip64 extra field of 16 bytes lacks a 64-bit value");
    /* missing files and arguments */
    CHECK_ERR(dc_npz_load("/nonexistent/a.npz", &m, &names, &arrays), DC_ERR_IO, "/nonexistent/a.npz");
    CHECK_ERR(dc_npz_load(dir, &m, &names, &arrays), DC_ERR_IO, "directory");
    CHECK_ERR(dc_npz_load(in_dir("good.npz"), NULL, &names, &arrays), DC_ERR_ARG, "NULL");
}

/* ------------------------------------------------------------------------------------- */
/* failed saves leave the old file                                                        */
/* ------------------------------------------------------------------------------------- */

static void test_bad_save(void) {
    const char *p = in_dir("keep.npy");
    dc_tensor *old = dc_tensor_from(1, (int64_t[]){3}, (const float[]){1, 2, 3});
    CHECK(dc_npy_save(p, old, DC_DTYPE_I8) == DC_OK);
    size_t n0, n1;
    unsigned char *before = (unsigned char *)slurp_n(p, &n0);
    dc_tensor *t = dc_tensor_from(2, (int64_t[]){2, 2}, (const float[]){1, 300, 3, 4});
    CHECK_ERR(dc_npy_save(p, t, DC_DTYPE_I8), DC_ERR_NUMERIC, "keep.npy", "element 1 (index [0, 1])", "300", "int8",
              "-128..127");
    dc_tensor_data(t)[1] = 2;
    dc_tensor_data(t)[3] = 1.5f;
    CHECK_ERR(dc_npy_save(p, t, DC_DTYPE_I8), DC_ERR_NUMERIC, "keep.npy", "element 3 (index [1, 1])", "1.5");
    CHECK_ERR(dc_npy_save(p, t, DC_DTYPE_BOOL), DC_ERR_NUMERIC, "keep.npy", "element 1", "is 2", "0 or 1");
    dc_tensor_data(t)[3] = -1;
    CHECK_ERR(dc_npy_save(p, t, DC_DTYPE_U16), DC_ERR_NUMERIC, "keep.npy", "element 3", "is -1", "uint16");
    dc_tensor_data(t)[3] = NAN;
    CHECK_ERR(dc_npy_save(p, t, DC_DTYPE_I32), DC_ERR_NUMERIC, "keep.npy", "element 3", "nan");
    unsigned char *after = (unsigned char *)slurp_n(p, &n1);
    CHECK(before && after && n0 == n1 && !memcmp(before, after, n0)); /* the old file is intact */
    free(before);
    free(after);
    CHECK_ERR(dc_npy_save(in_dir("new.npy"), t, DC_DTYPE_I8), DC_ERR_NUMERIC, "new.npy");
    CHECK(access(in_dir("new.npy"), F_OK) != 0); /* nothing written */
    CHECK(dc_npy_save(in_dir("nan.npy"), t, DC_DTYPE_F32) == DC_OK); /* floats keep NaN */
    dc_tensor *back = dc_npy_load(in_dir("nan.npy"));
    CHECK(back && isnan(dc_tensor_data(back)[3]));
    dc_tensor_free(back);
    CHECK_ERR(dc_npy_save("/nonexistent-dir/x.npy", t, DC_DTYPE_F32), DC_ERR_IO, "/nonexistent-dir/x.npy",
              "No such file or directory");
    /* archives */
    const dc_tensor *arr[] = {t, old};
    const char *same[] = {"w", "w"}, *empty[] = {"w", ""}, *ok[] = {"w", "v"};
    CHECK_ERR(dc_npz_save(in_dir("dup.npz"), 2, same, arr, false), DC_ERR_ARG, "dup.npz", "'w' is given twice");
    CHECK_ERR(dc_npz_save(in_dir("empty_name.npz"), 2, empty, arr, false), DC_ERR_ARG, "empty_name.npz", "array 1");
    const dc_tensor *with_null[] = {t, NULL};
    CHECK_ERR(dc_npz_save(in_dir("null.npz"), 2, ok, with_null, false), DC_ERR_ARG, "null.npz", "array 1 ('v') is NULL");
    CHECK_ERR(dc_npz_save(in_dir("neg.npz"), -1, ok, arr, false), DC_ERR_ARG, "neg.npz", "-1 arrays");
    CHECK_ERR(dc_npz_save("/nonexistent-dir/a.npz", 2, ok, arr, true), DC_ERR_IO, "/nonexistent-dir/a.npz");
    CHECK(access(in_dir("dup.npz"), F_OK) != 0);
    CHECK(no_tmp_files());
    dc_tensor_free(t);
    dc_tensor_free(old);
}

/* A member's name becomes a file name when an archive is unpacked (and np.load's keys are
 * often used as file names): one holding a path separator, or naming '.' or '..', is refused on
 * load naming the member, and on save naming the array, with nothing written. Names with dots
 * inside ("a..b") are plain names and still load and save. */
static void test_npz_member_names(void) {
    static unsigned char z[1 << 14];
    unsigned char npy[512];
    const float six[6] = {1, 2, 3, 4, 5, 6};
    size_t nn = npy_bytes(npy, 1, -1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", six, 24);
    const char *bad[] = {"../../evil.npy", "/etc/evil.npy", "dir/a.npy", "a\\b.npy", "..\\evil.npy", "..", "...npy",
                         "..npy", "."};
    for (size_t i = 0; i < DC_ARRAY_LEN(bad); i++) {
        zmember m[] = {{"ok.npy", npy, nn, 0}, {bad[i], npy, nn, 8}};
        size_t n = build_zip(z, m, 2);
        char member[64];
        snprintf(member, sizeof member, "'%s'", bad[i]);
        CHECK_ERR(load_bytes("names.npz", z, n), DC_ERR_FORMAT, "names.npz: member ", member, "not a plain file name");
    }
    zmember dots[] = {{"a..b.npy", npy, nn, 0}, {"c.d", npy, nn, 8}};
    size_t n = build_zip(z, dots, 2);
    int m = 0;
    char **names = NULL;
    dc_tensor **arrays = NULL;
    CHECK(dc_npz_load(write_file("dots.npz", z, n, false), &m, &names, &arrays) == DC_OK && m == 2);
    CHECK(m == 2 && !strcmp(names[0], "a..b") && !strcmp(names[1], "c.d"));
    dc_npz_free(m, names, arrays);

    dc_tensor *t = dc_tensor_from(1, (int64_t[]){2}, (const float[]){1, 2});
    const dc_tensor *arr[] = {t, t};
    const char *save_bad[] = {"../../evil", "/abs", "dir/a", "a\\b", "..", ".", "C:\\x"};
    for (size_t i = 0; i < DC_ARRAY_LEN(save_bad); i++) {
        const char *nm[] = {"ok", save_bad[i]};
        char quoted[64];
        snprintf(quoted, sizeof quoted, "array 1 ('%s')", save_bad[i]);
        CHECK_ERR(dc_npz_save(in_dir("evil.npz"), 2, nm, arr, i % 2 == 0), DC_ERR_ARG, "evil.npz: ", quoted,
                  "not a plain file name", "nothing was written");
        CHECK(access(in_dir("evil.npz"), F_OK) != 0);
    }
    const char *fine[] = {"a..b", "x.y"};
    CHECK(dc_npz_save(in_dir("fine.npz"), 2, fine, arr, false) == DC_OK);
    CHECK(npz_load_count(in_dir("fine.npz")) == 2);
    CHECK(no_tmp_files());
    dc_tensor_free(t);
}

/* 0-d arrays (NumPy scalars, shape ()): deepc's tensors have 1 to DC_MAX_DIMS dimensions, so a
 * 0-d array loads as shape [1] with its one value, in every dtype and inside archives too; and
 * what deepc saves says what it holds: the [1] tensor is written as shape (1,), never as a 0-d
 * array, so a loaded scalar saved back is a 1-element array (NumPy reads it as shape (1,)). */
static void test_zero_d(void) {
    const double d = -2.5;
    const int64_t i = 1234567;
    const unsigned char b = 1;
    dc_tensor *t = dc_npy_load(write_npy("s_f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", &d, 8));
    CHECK(t && dc_tensor_ndim(t) == 1 && dc_tensor_dim(t, 0) == 1 && dc_tensor_data(t)[0] == -2.5f);
    dc_tensor *ti = dc_npy_load(write_npy("s_i8.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (), }", &i, 8));
    CHECK(ti && dc_tensor_ndim(ti) == 1 && dc_tensor_numel(ti) == 1 && dc_tensor_data(ti)[0] == 1234567.0f);
    dc_tensor *tb = dc_npy_load(write_npy("s_b1.npy", "{'descr': '|b1', 'fortran_order': False, 'shape': (), }", &b, 1));
    CHECK(tb && dc_tensor_ndim(tb) == 1 && dc_tensor_data(tb)[0] == 1);
    /* 0-d with data missing or extra: the one element's size is checked as for any shape */
    CHECK_NULL_ERR(dc_npy_load(write_npy("s_short.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", &d, 4)),
                   "s_short.npy", "shape () of '<f8' needs 8 bytes");
    /* saved back: shape (1,), as np.save writes a 1-element array */
    const char *p = in_dir("s_back.npy");
    CHECK(t && dc_npy_save(p, t, DC_DTYPE_F64) == DC_OK);
    size_t tn = 0;
    char *text = slurp_n(p, &tn);
    CHECK(text && tn > 10 && strstr(text + 10, "'shape': (1,)") && !strstr(text + 10, "'shape': ()")); /* after the magic */
    free(text);
    dc_tensor *back = dc_npy_load(p);
    CHECK(back && dc_tensor_ndim(back) == 1 && dc_tensor_dim(back, 0) == 1 && dc_tensor_data(back)[0] == -2.5f);
    dc_tensor_free(back);
    /* in an archive */
    static unsigned char z[4096];
    unsigned char npy[256];
    size_t nn = npy_bytes(npy, 1, -1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", &d, 8);
    zmember m[] = {{"s.npy", npy, nn, 8}};
    size_t zn = build_zip(z, m, 1);
    int k = 0;
    char **names = NULL;
    dc_tensor **arrays = NULL;
    CHECK(dc_npz_load(write_file("s.npz", z, zn, false), &k, &names, &arrays) == DC_OK && k == 1);
    CHECK(k == 1 && dc_tensor_ndim(arrays[0]) == 1 && dc_tensor_dim(arrays[0], 0) == 1 && dc_tensor_data(arrays[0])[0] == -2.5f);
    dc_npz_free(k, names, arrays);
    dc_tensor_free(t);
    dc_tensor_free(ti);
    dc_tensor_free(tb);
}

int main(int argc, char **argv) {
    if (!tmp_dir_create()) return 1;
    if (argc > 1) {
        snprintf(out_dir, sizeof out_dir, "%s", argv[1]);
        if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "cannot make %s: %s\n", out_dir, strerror(errno));
            return 1;
        }
    } else snprintf(out_dir, sizeof out_dir, "%s", dir);
    CHECK(read_expected());
    test_reference_npy();
    test_reference_npz();
    test_save_dtypes();
    test_views_and_shapes();
    test_many_members();
    test_bad_npy();
    test_bad_npz();
    test_bad_save();
    test_npz_member_names();
    test_zero_d();
    if (!tmp_dir_remove()) return 1;
    return check_report("test_npy");
}
