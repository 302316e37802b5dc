/* Pictures in and out: every PNG variant of tests/data/images (made by make_fixtures.py, whose
 * sample formulas are computed again here) and the JPEG files against PIL's decoding of them;
 * channel, alpha and scale options; resizing against PyTorch's interpolate (bilinear with
 * align_corners=False, "nearest-exact"), which TensorFlow's resize matches; grids written and
 * read back; the folder loader on a temporary tree; and every bad input as an error naming the
 * file and the numbers. */
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tmpfiles.h"

#define IMG "tests/data/images/"

/* the formulas of make_fixtures.py */
static int v8(int x, int y, int c) { return (x * 37 + y * 11 + c * 71) & 255; }
static int v16(int x, int y, int c) { return (x * 9973 + y * 3571 + c * 12345) & 0xffff; }
static int alpha8(int x, int y) { return (x * 50 + y * 30 + 20) & 255; }
static int pal(int i, int c) { return c == 0 ? (i * 16) & 255 : c == 1 ? (255 - i * 16) & 255 : (i * 40) & 255; }
static int grey8(int r, int g, int b) { return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16; }

static dc_image_opts opts(int channels, bool scale) {
    dc_image_opts o = dc_image_defaults();
    o.channels = channels;
    o.scale = scale;
    return o;
}

/* t is [C, H, W] */
static float at(dc_tensor *t, int64_t c, int64_t y, int64_t x) {
    return dc_tensor_data(t)[(c * dc_tensor_dim(t, 1) + y) * dc_tensor_dim(t, 2) + x];
}

static bool has_shape(dc_tensor *t, int64_t c, int64_t h, int64_t w) {
    return t && dc_tensor_ndim(t) == 3 && dc_tensor_dim(t, 0) == c && dc_tensor_dim(t, 1) == h &&
           dc_tensor_dim(t, 2) == w;
}

/* largest |a - b| over two tensors of the same size (1e30 when the sizes differ) */
static double max_diff(dc_tensor *a, dc_tensor *b) {
    if (!a || !b || dc_tensor_numel(a) != dc_tensor_numel(b)) return 1e30;
    double m = 0;
    for (int64_t i = 0; i < dc_tensor_numel(a); i++) m = fmax(m, fabs(dc_tensor_data(a)[i] - dc_tensor_data(b)[i]));
    return m;
}

static void test_png_variants(void) {
    const int W = 5, H = 4;
    dc_tensor *t = dc_image_load(IMG "grey8.png", &(dc_image_opts){.channels = 0, .scale = false, .background = -1});
    CHECK(has_shape(t, 1, H, W));
    int bad = 0;
    for (int y = 0; t && y < H; y++)
        for (int x = 0; x < W; x++) bad += at(t, 0, y, x) != v8(x, y, 0);
    CHECK(bad == 0);
    dc_tensor_free(t);

    /* grey repeated as RGB, and scaled: exactly v / 255 */
    dc_image_opts rgb_scaled = opts(3, true);
    t = dc_image_load(IMG "grey8.png", &rgb_scaled);
    CHECK(has_shape(t, 3, H, W));
    bad = 0;
    for (int c = 0; t && c < 3; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) bad += at(t, c, y, x) != (float)v8(x, y, 0) / 255.0f;
    CHECK(bad == 0);
    dc_tensor_free(t);

    /* 2-bit grey expands to 0, 85, 170, 255 */
    dc_image_opts raw1 = opts(0, false);
    t = dc_image_load(IMG "grey2.png", &raw1);
    CHECK(has_shape(t, 1, H, W));
    bad = 0;
    for (int y = 0; t && y < H; y++)
        for (int x = 0; x < W; x++) bad += at(t, 0, y, x) != ((x + y) & 3) * 85;
    CHECK(bad == 0);
    dc_tensor_free(t);

    /* 16-bit keeps its precision: v / 257 on the 0..255 scale, v / 65535 scaled */
    t = dc_image_load(IMG "grey16.png", &raw1);
    CHECK(has_shape(t, 1, H, W));
    double m = 0;
    for (int y = 0; t && y < H; y++)
        for (int x = 0; x < W; x++) m = fmax(m, fabs(at(t, 0, y, x) - v16(x, y, 0) / 257.0));
    CHECK(m < 1e-4);
    dc_tensor_free(t);
    dc_image_opts rgb_raw = opts(0, false);
    t = dc_image_load(IMG "rgb16.png", &rgb_raw);
    CHECK(has_shape(t, 3, H, W));
    m = 0;
    for (int c = 0; t && c < 3; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) m = fmax(m, fabs(at(t, c, y, x) - v16(x, y, c) / 257.0));
    CHECK(m < 1e-4);
    dc_tensor_free(t);
    dc_image_opts s1 = opts(1, true);
    t = dc_image_load(IMG "rgb16.png", &s1);
    CHECK(has_shape(t, 1, H, W));
    m = 0;
    for (int y = 0; t && y < H; y++)
        for (int x = 0; x < W; x++) {
            double g = (v16(x, y, 0) * 19595.0 + v16(x, y, 1) * 38470.0 + v16(x, y, 2) * 7471.0) / 65536.0 / 65535.0;
            m = fmax(m, fabs(at(t, 0, y, x) - g));
        }
    CHECK(m < 1e-5);
    dc_tensor_free(t);

    /* RGB, and its grey as PIL's convert("L") gives it, exactly */
    t = dc_image_load(IMG "rgb8.png", &rgb_raw);
    CHECK(has_shape(t, 3, H, W));
    bad = 0;
    for (int c = 0; t && c < 3; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) bad += at(t, c, y, x) != v8(x, y, c);
    CHECK(bad == 0);
    dc_tensor_free(t);
    dc_image_opts grey_raw = opts(1, false);
    t = dc_image_load(IMG "rgb8.png", &grey_raw);
    dc_tensor *pil = dc_npy_load(IMG "rgb8.L.npy");
    CHECK(has_shape(t, 1, H, W) && max_diff(t, pil) == 0);
    bad = 0;
    for (int y = 0; t && y < H; y++)
        for (int x = 0; x < W; x++) bad += at(t, 0, y, x) != grey8(v8(x, y, 0), v8(x, y, 1), v8(x, y, 2));
    CHECK(bad == 0);
    dc_tensor_free(t);
    dc_tensor_free(pil);

    /* Adam7 interlacing: the same formula on 9 x 7 */
    t = dc_image_load(IMG "rgb8_interlaced.png", &rgb_raw);
    CHECK(has_shape(t, 3, 7, 9));
    bad = 0;
    for (int c = 0; t && c < 3; c++)
        for (int y = 0; y < 7; y++)
            for (int x = 0; x < 9; x++) bad += at(t, c, y, x) != v8(x, y, c);
    CHECK(bad == 0);
    dc_tensor_free(t);

    /* RGBA: alpha dropped by default, composited over a background when asked */
    t = dc_image_load(IMG "rgba8.png", &rgb_raw);
    CHECK(has_shape(t, 3, H, W));
    bad = 0;
    for (int c = 0; t && c < 3; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) bad += at(t, c, y, x) != v8(x, y, c);
    CHECK(bad == 0);
    dc_tensor_free(t);
    dc_image_opts white = opts(3, false);
    white.background = 1;
    t = dc_image_load(IMG "rgba8.png", &white);
    CHECK(has_shape(t, 3, H, W));
    m = 0;
    for (int c = 0; t && c < 3; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double a = alpha8(x, y) / 255.0;
                m = fmax(m, fabs(at(t, c, y, x) - (v8(x, y, c) * a + 255 * (1 - a))));
            }
    CHECK(m < 1e-3);
    dc_tensor_free(t);

    /* grey + alpha over black, as one channel */
    dc_image_opts black = opts(0, false);
    black.background = 0;
    t = dc_image_load(IMG "grey_alpha8.png", &black);
    CHECK(has_shape(t, 1, H, W));
    m = 0;
    for (int y = 0; t && y < H; y++)
        for (int x = 0; x < W; x++) m = fmax(m, fabs(at(t, 0, y, x) - v8(x, y, 0) * (alpha8(x, y) / 255.0)));
    CHECK(m < 1e-3);
    dc_tensor_free(t);

    /* a 4-bit palette with transparent entries: colours as the palette says, alpha dropped */
    t = dc_image_load(IMG "palette4.png", &rgb_raw);
    CHECK(has_shape(t, 3, H, W));
    bad = 0;
    for (int c = 0; t && c < 3; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) bad += at(t, c, y, x) != pal((x + 3 * y) % 16, c);
    CHECK(bad == 0);
    dc_tensor_free(t);
    white.background = 1;
    t = dc_image_load(IMG "palette4.png", &white);
    /* index 1 (x = 1, y = 0) has alpha 60 */
    CHECK(t && fabs(at(t, 0, 0, 1) - (pal(1, 0) * 60 / 255.0 + 255 * (1 - 60 / 255.0))) < 1e-3);
    /* index 5 (x = 2, y = 1) is opaque */
    CHECK(t && at(t, 1, 1, 2) == pal(5, 1));
    dc_tensor_free(t);
}

static void test_jpeg(void) {
    /* arithmetic.jpg and restart.jpg are colour.jpg recoded losslessly by jpegtran */
    const char *names[] = {"colour", "grey", "progressive", "cmyk", "arithmetic", "restart"};
    const char *expect[] = {"colour", "grey", "progressive", "cmyk", "colour", "colour"};
    for (int i = 0; i < 6; i++) {
        char jpg[128], npy[128];
        snprintf(jpg, sizeof jpg, IMG "%s.jpg", names[i]);
        snprintf(npy, sizeof npy, IMG "%s.npy", expect[i]);
        dc_image_opts o = opts(0, false);
        dc_tensor *t = dc_image_load(jpg, &o), *pil = dc_npy_load(npy);
        CHECK(t && pil && dc_tensor_ndim(t) == 3 && dc_tensor_dim(t, 0) == dc_tensor_dim(pil, 0) &&
              dc_tensor_dim(t, 1) == 12 && dc_tensor_dim(t, 2) == 16);
        double d = max_diff(t, pil);
        if (d != 0) fprintf(stderr, "  %s: largest difference from PIL %g\n", jpg, d);
        CHECK(d == 0);
        dc_tensor_free(t);
        dc_tensor_free(pil);
    }
    /* the same bytes from memory, resized on the way */
    size_t n;
    char *bytes = slurp_n(IMG "colour.jpg", &n);
    dc_image_opts o = opts(1, true);
    o.height = 6;
    o.width = 8;
    dc_tensor *t = dc_image_decode(bytes, n, "colour.jpg", &o);
    CHECK(has_shape(t, 1, 6, 8));
    for (int64_t i = 0; t && i < dc_tensor_numel(t); i++) CHECK(dc_tensor_data(t)[i] >= 0 && dc_tensor_data(t)[i] <= 1);
    dc_tensor_free(t);
    free(bytes);
}

static void test_resize(void) {
    float v[20];
    for (int i = 0; i < 20; i++) v[i] = 1.5f * (float)i;
    dc_tensor *x = dc_tensor_from(4, (int64_t[]){1, 1, 4, 5}, v);
    /* torch.nn.functional.interpolate of the same [1, 1, 4, 5] */
    static const float bl37[] = {1.25000012f, 2.10714293f, 3.1785717f,  4.25f,  5.32142878f, 6.39285755f, 7.25f,
                                 11.25f,      12.1071434f, 13.1785717f, 14.25f, 15.3214293f, 16.3928585f, 17.25f,
                                 21.25f,      22.1071434f, 23.1785717f, 24.25f, 25.3214283f, 26.3928585f, 27.2500019f};
    static const float bl22[] = {4.875f, 8.625f, 19.875f, 23.625f};
    static const float bl64[] = {0.1875f,  2.0625f,     3.9375f,     5.8125f,  3.9375f,     5.8125f,
                                 7.6875f,  9.5625f,     8.9375f,     10.8125f, 12.6875f,    14.5625f,
                                 13.9375f, 15.8125f,    17.6875f,    19.5625f, 18.9375019f, 20.8125f,
                                 22.6875f, 24.5625019f, 22.6875019f, 24.5625f, 26.4375f,    28.3125019f};
    static const float nn37[] = {0,     1.5f,  1.5f, 3,     4.5f, 4.5f, 6,     15, 16.5f, 16.5f, 18,
                                 19.5f, 19.5f, 21,   22.5f, 24,   24,   25.5f, 27, 27,    28.5f};
    static const float nn73[] = {0,  3,  6,  0,  3,     6,     7.5f,  10.5f, 13.5f, 15,   18,
                                 21, 15, 18, 21, 22.5f, 25.5f, 28.5f, 22.5f, 25.5f, 28.5f};
    struct {
        int64_t h, w;
        dc_resize_mode mode;
        const float *want;
    } cases[] = {{3, 7, DC_RESIZE_BILINEAR, bl37},
                 {2, 2, DC_RESIZE_BILINEAR, bl22},
                 {6, 4, DC_RESIZE_BILINEAR, bl64},
                 {3, 7, DC_RESIZE_NEAREST, nn37},
                 {7, 3, DC_RESIZE_NEAREST, nn73}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        dc_tensor *y = dc_image_resize(x, cases[k].h, cases[k].w, cases[k].mode);
        CHECK(y && dc_tensor_ndim(y) == 4 && dc_tensor_dim(y, 2) == cases[k].h && dc_tensor_dim(y, 3) == cases[k].w);
        double m = 0;
        for (int64_t i = 0; y && i < cases[k].h * cases[k].w; i++)
            m = fmax(m, fabs(dc_tensor_data(y)[i] - cases[k].want[i]));
        CHECK(m < 1e-5);
        dc_tensor_free(y);
    }
    /* the same size is a copy; two planes resize alike; a [H, W] tensor works too */
    dc_tensor *same = dc_image_resize(x, 4, 5, DC_RESIZE_BILINEAR);
    CHECK(max_diff(same, x) == 0);
    dc_tensor_free(same);
    float v2[40];
    for (int i = 0; i < 40; i++) v2[i] = v[i % 20];
    dc_tensor *x2 = dc_tensor_from(3, (int64_t[]){2, 4, 5}, v2);
    dc_tensor *y2 = dc_image_resize(x2, 3, 7, DC_RESIZE_BILINEAR);
    CHECK(y2 && dc_tensor_numel(y2) == 42);
    for (int i = 0; y2 && i < 42; i++) CHECK_NEAR(dc_tensor_data(y2)[i], bl37[i % 21], 1e-5);
    dc_tensor *x1 = dc_tensor_from(2, (int64_t[]){4, 5}, v);
    dc_tensor *y1 = dc_image_resize(x1, 2, 2, DC_RESIZE_BILINEAR);
    CHECK(y1 && dc_tensor_ndim(y1) == 2 && fabs(dc_tensor_data(y1)[3] - bl22[3]) < 1e-5);
    CHECK_NULL_ERR(dc_image_resize(x1, 0, 2, DC_RESIZE_BILINEAR), "0 x 2");
    CHECK_NULL_ERR(dc_image_resize(x1, 2, 70000, DC_RESIZE_NEAREST), "70000");
    CHECK_NULL_ERR(dc_image_resize(x1, 2, 2, (dc_resize_mode)7), "unknown mode 7");
    dc_tensor *v1 = dc_tensor_from(1, (int64_t[]){5}, v);
    CHECK_NULL_ERR(dc_image_resize(v1, 2, 2, DC_RESIZE_BILINEAR), "at least 2 axes");
    CHECK_NULL_ERR(dc_image_resize(NULL, 2, 2, DC_RESIZE_BILINEAR), "NULL");
    dc_tensor_free(v1);
    dc_tensor_free(x1);
    dc_tensor_free(y1);
    dc_tensor_free(x2);
    dc_tensor_free(y2);
    dc_tensor_free(x);
}

/* Writes a grid and reads it back: the tiles land where the layout says, with their values. */
static void test_grid_round_trip(void) {
    const int64_t N = 5, C = 3, H = 6, W = 7;
    dc_tensor *x = dc_tensor_new(4, (int64_t[]){N, C, H, W});
    float *d = dc_tensor_data(x);
    for (int64_t i = 0; i < dc_tensor_numel(x); i++) d[i] = (float)((i * 37) % 256) / 255.0f;
    dc_image_grid_opts g = dc_image_grid_defaults();
    g.cols = 3;
    g.padding = 2;
    g.pad_value = 0.5f;
    const char *path = in_dir("grid.png");
    CHECK(dc_image_grid_save(path, x, &g) == DC_OK);
    dc_image_opts o = opts(0, false);
    dc_tensor *back = dc_image_load(path, &o);
    /* 3 x 2 tiles: width 3 * 7 + 4 * 2 = 29, height 2 * 6 + 3 * 2 = 18 */
    CHECK(has_shape(back, 3, 18, 29));
    int bad = 0;
    for (int64_t n = 0; back && n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t y = 0; y < H; y++)
                for (int64_t xx = 0; xx < W; xx++) {
                    int64_t ty = 2 + (n / 3) * (H + 2), tx = 2 + (n % 3) * (W + 2);
                    bad += at(back, c, ty + y, tx + xx) != d[((n * C + c) * H + y) * W + xx] * 255.0f;
                }
    CHECK(bad == 0);
    /* padding and the empty sixth tile hold pad_value */
    CHECK(back && at(back, 0, 0, 0) == 128 && at(back, 1, 10, 25) == 128);
    dc_tensor_free(back);

    /* one grey image, padding 0: the picture alone; [-1, 1] mapped to 0..255 */
    dc_tensor *one = dc_tensor_new(3, (int64_t[]){1, 4, 5});
    for (int i = 0; i < 20; i++) dc_tensor_data(one)[i] = -1.0f + (float)i / 10.0f;
    g = dc_image_grid_defaults();
    g.padding = 0;
    g.lo = -1;
    g.hi = 1;
    CHECK(dc_image_grid_save(path, one, &g) == DC_OK);
    back = dc_image_load(path, &o);
    CHECK(has_shape(back, 1, 4, 5));
    bad = 0;
    for (int i = 0; back && i < 20; i++)
        bad += dc_tensor_data(back)[i] != (float)lrintf((dc_tensor_data(one)[i] + 1.0f) * 127.5f);
    CHECK(bad == 0);
    dc_tensor_free(back);
    /* lo == hi: the batch's own range, 0 .. 255 */
    g.lo = g.hi = 0;
    CHECK(dc_image_grid_save(path, one, &g) == DC_OK);
    back = dc_image_load(path, &o);
    CHECK(back && dc_tensor_data(back)[0] == 0 && dc_tensor_data(back)[19] == 255);
    dc_tensor_free(back);

    /* a caption: a strip of white text on black above the grid, as wide as 40 characters */
    g = dc_image_grid_defaults();
    g.caption = "epoch 3  frechet_distance=12.5\nsecond line: wraps when it is longer than the picture is wide";
    CHECK(dc_image_grid_save(path, x, &g) == DC_OK);
    back = dc_image_load(path, &o);
    CHECK(back != NULL);
    if (back) {
        int64_t bw = dc_tensor_dim(back, 2), bh = dc_tensor_dim(back, 1);
        /* 40 characters of 6 pixels and 2-pixel margins; grid 2 x 3 tiles (cols = ceil(sqrt(5))) */
        CHECK(bw == 40 * 6 + 4);
        int64_t grid_h = 2 * H + 3 * 2;
        int64_t cap_h = bh - grid_h;
        /* three lines of 9 pixels and a margin: the second line wraps once */
        CHECK(cap_h == 3 * 9 + 2);
        int ink = 0;
        for (int64_t y = 0; y < cap_h; y++)
            for (int64_t xx = 0; xx < bw; xx++) ink += at(back, 0, y, xx) == 255;
        CHECK(ink > 200);
        /* 'e' of "epoch": column 0 of its glyph (0x38) has rows 3..5 set, at x 2, y 2 */
        CHECK(at(back, 1, 2 + 3, 2) == 255 && at(back, 1, 2 + 2, 2) == 0);
    }
    dc_tensor_free(back);
    /* a caption on a light strip is black, at scale 2 */
    g.pad_value = 1;
    g.caption = "A";
    g.caption_scale = 2;
    CHECK(dc_image_grid_save(path, x, &g) == DC_OK);
    back = dc_image_load(path, &o);
    /* 'A' column 0 is 0x7E: rows 1..6; at scale 2 its top pixel is at y = 2 + 2 */
    CHECK(back && at(back, 0, 4, 2) == 0 && at(back, 0, 2, 2) == 255);
    dc_tensor_free(back);
    if (getenv("DC_IMAGE_KEEP")) {
        g = dc_image_grid_defaults();
        g.caption = " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
        g.caption_scale = 2;
        dc_image_grid_save(getenv("DC_IMAGE_KEEP"), x, &g);
    }

    /* errors */
    CHECK_ERR(dc_image_grid_save(NULL, x, NULL), DC_ERR_ARG, "required");
    dc_tensor *c2 = dc_tensor_new(4, (int64_t[]){1, 2, 3, 3});
    CHECK_ERR(dc_image_grid_save(path, c2, NULL), DC_ERR_SHAPE, "C 1 or 3", "[1, 2, 3, 3]");
    dc_tensor_data(one)[7] = NAN;
    CHECK_ERR(dc_image_grid_save(path, one, NULL), DC_ERR_NUMERIC, path);
    g = dc_image_grid_defaults();
    g.padding = -1;
    CHECK_ERR(dc_image_grid_save(path, x, &g), DC_ERR_ARG, "padding", "-1");
    g = dc_image_grid_defaults();
    g.lo = 2;
    g.hi = 1;
    CHECK_ERR(dc_image_grid_save(path, x, &g), DC_ERR_ARG, "lo 2", "hi 1");
    g = dc_image_grid_defaults();
    char *longcap = malloc(5000);
    memset(longcap, 'a', 4999);
    longcap[4999] = 0;
    g.caption = longcap;
    CHECK_ERR(dc_image_grid_save(path, x, &g), DC_ERR_ARG, "4999 bytes", "4096");
    free(longcap);
    dc_tensor *huge = dc_tensor_new(4, (int64_t[]){1, 1, 1, 70000});
    CHECK_ERR(dc_image_grid_save(path, huge, NULL), DC_ERR_ARG, "70004", "65535");
    dc_tensor_free(huge);
    dc_tensor_free(c2);
    dc_tensor_free(one);
    dc_tensor_free(x);
}

/* A PNG of w x h declared pixels with a correct IHDR and a tiny IDAT. */
static const char *png_with_dims(const char *name, uint32_t w, uint32_t h) {
    unsigned char b[64];
    size_t n = 0;
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    n = 8;
    unsigned char ihdr[4 + 4 + 13] = {0, 0,       0,       13,     'I', 'H', 'D', 'R', w >> 24, w >> 16, w >> 8,
                                      w, h >> 24, h >> 16, h >> 8, h,   8,   0,   0,   0,       0};
    memcpy(b + n, ihdr, sizeof ihdr);
    n += sizeof ihdr;
    uLong crc = crc32(0, ihdr + 4, 17);
    unsigned char c4[4] = {crc >> 24, crc >> 16, crc >> 8, crc};
    memcpy(b + n, c4, 4);
    n += 4;
    /* an IDAT of 10 zero bytes (bad zlib data, never reached when the size is refused) */
    unsigned char idat[8 + 10 + 4] = {0, 0, 0, 10, 'I', 'D', 'A', 'T'};
    crc = crc32(0, idat + 4, 14);
    idat[18] = crc >> 24, idat[19] = crc >> 16, idat[20] = crc >> 8, idat[21] = crc;
    memcpy(b + n, idat, sizeof idat);
    n += sizeof idat;
    return write_file(name, b, n, false);
}

static void test_bad_files(void) {
    dc_image_opts o = dc_image_defaults();
    /* not an image */
    const char *p = WRITE("hello.png", "hello, world");
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "not a PNG or JPEG", "68 65 6c 6c");
    CHECK(dc_last_status() == DC_ERR_FORMAT);
    p = WRITE("anim.png", "GIF89a\x01\x00\x01\x00");
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "a GIF image", "47 49 46 38");
    p = WRITE("icon.png", "<svg xmlns='http://www.w3.org/2000/svg'/>");
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "SVG");
    p = write_file("empty.jpg", "", 0, false);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "empty file (0 bytes)");
    CHECK_NULL_ERR(dc_image_load(in_dir("missing.png"), &o), "missing.png", "cannot open");
    CHECK(dc_last_status() == DC_ERR_IO);
    CHECK_NULL_ERR(dc_image_load(dir, &o), dir, "directory");
    CHECK_NULL_ERR(dc_image_load(NULL, &o), "NULL");

    /* options */
    dc_image_opts bad = dc_image_defaults();
    bad.channels = 2;
    CHECK_NULL_ERR(dc_image_load(IMG "rgb8.png", &bad), "channels", "got 2");
    bad = dc_image_defaults();
    bad.height = 5;
    CHECK_NULL_ERR(dc_image_load(IMG "rgb8.png", &bad), "5 x 0");
    bad = dc_image_defaults();
    bad.background = 2;
    CHECK_NULL_ERR(dc_image_load(IMG "rgb8.png", &bad), "background", "got 2");

    /* huge declared dimensions, refused before allocating */
    p = png_with_dims("wide.png", 100000, 10);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "100000 x 10", "65535 a side");
    p = png_with_dims("big.png", 60000, 60000);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "60000 x 60000 = 3600000000 pixels", "67108864");
    p = png_with_dims("small_file.png", 4000, 4000);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "truncated PNG", "4000 x 4000", "16000000 bytes", "55-byte file");
    dc_image_opts lim = dc_image_defaults();
    lim.max_pixels = 10;
    CHECK_NULL_ERR(dc_image_load(IMG "rgb8.png", &lim), "5 x 4 = 20 pixels", "limit of 10");
    p = png_with_dims("zero.png", 0, 5);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "PNG");

    /* PNG: cut short, a flipped byte in the pixel data, no IEND */
    size_t n;
    unsigned char *png = (unsigned char *)slurp_n(IMG "rgb8_interlaced.png", &n);
    p = write_file("cut.png", png, n / 2, false);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "truncated PNG", "ends at byte");
    p = write_file("cut_iend.png", png, n - 12, false);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "truncated PNG");
    p = write_file("cut_header.png", png, 20, false);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "truncated PNG");
    png[n / 2] ^= 0x40;
    p = write_file("flipped.png", png, n, false);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "corrupt PNG", "IDAT");
    png[n / 2] ^= 0x40;
    png[8 + 8 + 13] ^= 1; /* IHDR's CRC */
    p = write_file("bad_crc.png", png, n, false);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "corrupt PNG", "IHDR", "CRC");
    free(png);

    /* JPEG: cut short (in the pixel data, before EOI, in the header), a scan that stops early,
     * huge dimensions */
    unsigned char *jpg = (unsigned char *)slurp_n(IMG "colour.jpg", &n);
    size_t sos = 0; /* the start of the entropy-coded data: after the SOS header */
    for (size_t i = 2; i + 4 < n; i++)
        if (jpg[i] == 0xff && jpg[i + 1] == 0xda) {
            sos = i + 2 + ((size_t)jpg[i + 2] << 8 | jpg[i + 3]);
            break;
        }
    CHECK(sos > 0 && sos + 100 < n);
    p = write_file("cut.jpg", jpg, sos + (n - sos) / 2, false);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "truncated or corrupt JPEG", "16 x 12 pixels", "rows decoded",
                   "Premature end");
    p = write_file("cut_eoi.jpg", jpg, n - 2, false);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "JPEG", "Premature end");
    p = write_file("cut_header.jpg", jpg, 40, false);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "corrupt JPEG");
    unsigned char *prog = (unsigned char *)slurp_n(IMG "progressive.jpg", &n);
    p = write_file("cut_progressive.jpg", prog, n / 2, false);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "JPEG", "Premature end");
    free(prog);
    free(jpg);
    jpg = (unsigned char *)slurp_n(IMG "colour.jpg", &n);
    /* half the scan, then EOI: the decoder meets a marker inside its data */
    unsigned char *early = malloc(n);
    size_t half = sos + (n - sos) / 2;
    memcpy(early, jpg, half);
    early[half] = 0xff;
    early[half + 1] = 0xd9;
    p = write_file("early_eoi.jpg", early, half + 2, false);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "JPEG", "Corrupt JPEG data");
    free(early);
    /* SOF0's height and width set to 60000 */
    for (size_t i = 2; i + 9 < n; i++)
        if (jpg[i] == 0xff && jpg[i + 1] == 0xc0) {
            jpg[i + 5] = 60000 >> 8, jpg[i + 6] = 60000 & 255, jpg[i + 7] = 60000 >> 8, jpg[i + 8] = 60000 & 255;
            break;
        }
    p = write_file("huge.jpg", jpg, n, false);
    CHECK_NULL_ERR(dc_image_load(p, &o), p, "JPEG declares 60000 x 60000 = 3600000000 pixels");
    free(jpg);
}

/* A w x h grey PNG of one value, written with deepc's own grid writer. */
static void grey_png(const char *path, int64_t h, int64_t w, float value) {
    dc_tensor *t = dc_tensor_new(4, (int64_t[]){1, 1, h, w});
    dc_tensor_fill(t, value / 255.0f);
    dc_image_grid_opts g = dc_image_grid_defaults();
    g.padding = 0;
    if (dc_image_grid_save(path, t, &g)) fprintf(stderr, "grey_png: %s\n", dc_last_error());
    dc_tensor_free(t);
}

static const float class_value[3] = {40, 120, 200}; /* bird, cat, dog */

/* Every row's pixels tell its class: the label must say the same. */
static bool labels_match(const dc_image_dataset *d, const char *const *names) {
    const int64_t N = dc_tensor_dim(d->x, 0), row = dc_tensor_numel(d->x) / N;
    for (int64_t i = 0; i < N; i++) {
        int64_t label = (int64_t)dc_tensor_data(d->y)[i];
        const char *name = d->class_names[label];
        int k = strcmp(name, "bird") == 0 ? 0 : strcmp(name, "cat") == 0 ? 1 : 2;
        (void)names;
        float v = dc_tensor_data(d->x)[i * row + row / 2];
        if (fabs(v - class_value[k]) > 1e-3) return false;
    }
    return true;
}

static void test_folder(void) {
    char root[128];
    snprintf(root, sizeof root, "%s/tree", dir);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/bird %s/cat/sub %s/dog %s/.hidden %s/empty_class", root, root, root, root,
             root);
    CHECK(system(cmd) == 0);
    /* bird: 3 images of 6 x 6; cat: 4 of 10 x 7 (one in a sub-folder); dog: 3 JPEG-named PNGs */
    const char *bird[] = {"b1.png", "b2.png", "b3.PNG"}, *cat[] = {"c1.png", "c2.png", "c3.png", "sub/c0.png"},
               *dog[] = {"d1.jpg", "d2.jpeg", "d3.png"};
    char path[256];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/bird/%s", root, bird[i]);
        grey_png(path, 6, 6, class_value[0]);
        snprintf(path, sizeof path, "%s/dog/%s", root, dog[i]);
        grey_png(path, 8, 8, class_value[2]);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/cat/%s", root, cat[i]);
        grey_png(path, 7, 10, class_value[1]);
    }
    /* files that are not images, and an image without an image name: counted, or read */
    snprintf(path, sizeof path, "%s/notes.txt", root);
    write_file("tree/notes.txt", "not a class", 11, false);
    write_file("tree/cat/readme.txt", "cats", 4, false);
    write_file("tree/bird/icon.svg", "<svg/>", 6, false);
    write_file("tree/.hidden/x.txt", "x", 1, false);
    snprintf(path, sizeof path, "%s/dog/d4", root);
    grey_png(path, 8, 8, class_value[2]);

    dc_image_folder_opts o = dc_image_folder_defaults();
    o.image.height = 8;
    o.image.width = 8;
    o.image.channels = 1;
    o.seed = 42;
    dc_image_dataset d;
    CHECK(dc_image_folder_load(root, &o, &d) == DC_OK);
    CHECK(d.nclasses == 4 && d.class_names && strcmp(d.class_names[0], "bird") == 0 &&
          strcmp(d.class_names[1], "cat") == 0 && strcmp(d.class_names[2], "dog") == 0 &&
          strcmp(d.class_names[3], "empty_class") == 0);
    CHECK(d.x && dc_tensor_ndim(d.x) == 4 && dc_tensor_dim(d.x, 0) == 11 && dc_tensor_dim(d.x, 1) == 1 &&
          dc_tensor_dim(d.x, 2) == 8 && dc_tensor_dim(d.x, 3) == 8);
    CHECK(d.y && dc_tensor_numel(d.y) == 11 && d.skipped == 0 && d.ignored == 2);
    CHECK(d.x && labels_match(&d, NULL));
    int count[4] = {0};
    for (int64_t i = 0; d.y && i < 11; i++) count[(int)dc_tensor_data(d.y)[i]]++;
    CHECK(count[0] == 3 && count[1] == 4 && count[2] == 4 && count[3] == 0);
    /* shuffled: not in class order */
    bool sorted = true;
    for (int64_t i = 1; d.y && i < 11; i++) sorted &= dc_tensor_data(d.y)[i - 1] <= dc_tensor_data(d.y)[i];
    CHECK(!sorted);
    float first_order[11];
    memcpy(first_order, dc_tensor_data(d.y), sizeof first_order);
    dc_image_dataset_free(&d);

    /* no shuffle: class order, values 0..255 by default, RGB by default */
    dc_image_folder_opts plain = dc_image_folder_defaults();
    plain.shuffle = false;
    plain.image.height = plain.image.width = 4;
    CHECK(dc_image_folder_load(root, &plain, &d) == DC_OK);
    CHECK(d.x && dc_tensor_dim(d.x, 1) == 3 && dc_tensor_dim(d.x, 2) == 4);
    sorted = true;
    for (int64_t i = 1; d.y && i < dc_tensor_numel(d.y); i++)
        sorted &= dc_tensor_data(d.y)[i - 1] <= dc_tensor_data(d.y)[i];
    CHECK(sorted && d.x && dc_tensor_data(d.x)[0] == class_value[0]);
    dc_image_dataset_free(&d);

    /* the split: the same seed gives the same subsets; together they are the whole set */
    o.validation_split = 0.2;
    o.subset = DC_SUBSET_TRAINING;
    dc_image_dataset tr, va, tr2;
    CHECK(dc_image_folder_load(root, &o, &tr) == DC_OK);
    o.subset = DC_SUBSET_VALIDATION;
    CHECK(dc_image_folder_load(root, &o, &va) == DC_OK);
    o.subset = DC_SUBSET_TRAINING;
    CHECK(dc_image_folder_load(root, &o, &tr2) == DC_OK);
    /* floor(0.2 * 11) = 2 held out */
    CHECK(tr.y && va.y && dc_tensor_numel(tr.y) == 9 && dc_tensor_numel(va.y) == 2);
    CHECK(tr.y && tr2.y && max_diff(tr.x, tr2.x) == 0 && max_diff(tr.y, tr2.y) == 0);
    bool same_order = true;
    for (int i = 0; tr.y && va.y && i < 11; i++)
        same_order &= first_order[i] == (i < 9 ? dc_tensor_data(tr.y)[i] : dc_tensor_data(va.y)[i - 9]);
    CHECK(same_order);
    CHECK(tr.x && va.x && labels_match(&tr, NULL) && labels_match(&va, NULL));
    dc_image_dataset_free(&tr);
    dc_image_dataset_free(&va);
    dc_image_dataset_free(&tr2);
    /* another seed, another order */
    o.seed = 43;
    o.validation_split = 0;
    o.subset = DC_SUBSET_ALL;
    CHECK(dc_image_folder_load(root, &o, &d) == DC_OK);
    CHECK(d.y && memcmp(first_order, dc_tensor_data(d.y), sizeof first_order) != 0);
    dc_image_dataset_free(&d);

    /* max_per_class, and the classes the caller names, in its order */
    o.max_per_class = 2;
    o.class_names = (const char *const[]){"dog", "cat"};
    o.nclass_names = 2;
    CHECK(dc_image_folder_load(root, &o, &d) == DC_OK);
    CHECK(d.nclasses == 2 && strcmp(d.class_names[0], "dog") == 0 && d.y && dc_tensor_numel(d.y) == 4);
    CHECK(d.x && labels_match(&d, NULL));
    dc_image_dataset_free(&d);
    o.class_names = (const char *const[]){"dog", "cow"};
    CHECK_ERR(dc_image_folder_load(root, &o, &d), DC_ERR_ARG, "\"cow\" is not a sub-folder");
    CHECK(d.x == NULL && d.class_names == NULL);
    o.class_names = (const char *const[]){"dog", "dog"};
    CHECK_ERR(dc_image_folder_load(root, &o, &d), DC_ERR_ARG, "\"dog\" is named twice");
    o.class_names = NULL;
    o.max_per_class = 0;

    /* keeping the files' size: they differ, which is an error naming both files */
    dc_image_folder_opts keep = o;
    keep.image.height = keep.image.width = 0;
    keep.shuffle = false;
    CHECK_ERR(dc_image_folder_load(root, &keep, &d), DC_ERR_FORMAT, "10 x 7 pixels", "6 x 6", "resize");

    /* a broken image file: an error naming it, or skipped and counted */
    write_file("tree/cat/broken.png", "\x89PNG\r\n\x1a\n garbage", 16, false);
    CHECK_ERR(dc_image_folder_load(root, &o, &d), DC_ERR_FORMAT, "broken.png", "PNG");
    o.skip_bad = true;
    CHECK(dc_image_folder_load(root, &o, &d) == DC_OK);
    CHECK(d.skipped == 1 && strstr(d.first_error, "broken.png") && d.y && dc_tensor_numel(d.y) == 11);
    CHECK(d.x && labels_match(&d, NULL));
    dc_image_dataset_free(&d);
    o.skip_bad = false;

    /* options */
    o.validation_split = 0.2;
    o.subset = DC_SUBSET_ALL;
    CHECK_ERR(dc_image_folder_load(root, &o, &d), DC_ERR_ARG, "needs a subset");
    o.validation_split = 1;
    o.subset = DC_SUBSET_TRAINING;
    CHECK_ERR(dc_image_folder_load(root, &o, &d), DC_ERR_ARG, "validation_split", "[0, 1)");
    o.validation_split = 0.05;
    o.subset = DC_SUBSET_VALIDATION;
    CHECK_ERR(dc_image_folder_load(root, &o, &d), DC_ERR_ARG, "validation subset of 12 files", "empty");
    CHECK_ERR(dc_image_folder_load(NULL, &o, &d), DC_ERR_ARG, "required");

    /* roots without classes, or without images */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/noclass %s/noimages/a %s/noimages/b", dir, dir, dir);
    CHECK(system(cmd) == 0);
    write_file("noclass/x.png", "x", 1, false);
    write_file("noimages/a/x.txt", "x", 1, false);
    o = dc_image_folder_defaults();
    CHECK_ERR(dc_image_folder_load(in_dir("noclass"), &o, &d), DC_ERR_FORMAT, "noclass", "no class folders");
    CHECK_ERR(dc_image_folder_load(in_dir("noimages"), &o, &d), DC_ERR_FORMAT, "noimages", "no PNG or JPEG files",
              "2 class folders", "1 other");
    CHECK_ERR(dc_image_folder_load(in_dir("nowhere"), &o, &d), DC_ERR_IO, "nowhere");
}

int main(void) {
    if (!tmp_dir_create()) {
        fprintf(stderr, "test_image: cannot create a temporary directory\n");
        return 1;
    }
    test_png_variants();
    test_jpeg();
    test_resize();
    test_grid_round_trip();
    test_bad_files();
    test_folder();
    tmp_dir_remove();
    return check_report("test_image");
}
