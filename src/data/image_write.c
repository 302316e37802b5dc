/* Images out: a batch as one PNG grid, with a caption drawn in a built-in 5x7 font, written
 * with libpng through dc_write_file_atomic.
 *
 * The picture is composed in memory as 8-bit samples (grey for one-channel images, else RGB):
 * a caption strip on top, then rows of tiles with `padding` pixels around and between them.
 * libpng's errors jump back to write_guarded, whose locals never change after its setjmp.
 */
#include "image.h"

#include "../tensor/tensor.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <string.h>

#define CAPTION_MAX 4096
#define CAPTION_MIN_CHARS 40

/* The classic 5x7 ASCII font (32..126): five column bytes per glyph, bit 0 the top row. */
static const unsigned char font5x7[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00}, {0x00, 0x00, 0x5F, 0x00, 0x00}, {0x00, 0x07, 0x00, 0x07, 0x00}, /* sp ! " */
    {0x14, 0x7F, 0x14, 0x7F, 0x14}, {0x24, 0x2A, 0x7F, 0x2A, 0x12}, {0x23, 0x13, 0x08, 0x64, 0x62}, /* # $ % */
    {0x36, 0x49, 0x55, 0x22, 0x50}, {0x00, 0x05, 0x03, 0x00, 0x00}, {0x00, 0x1C, 0x22, 0x41, 0x00}, /* & ' ( */
    {0x00, 0x41, 0x22, 0x1C, 0x00}, {0x14, 0x08, 0x3E, 0x08, 0x14}, {0x08, 0x08, 0x3E, 0x08, 0x08}, /* ) * + */
    {0x00, 0x50, 0x30, 0x00, 0x00}, {0x08, 0x08, 0x08, 0x08, 0x08}, {0x00, 0x60, 0x60, 0x00, 0x00}, /* , - . */
    {0x20, 0x10, 0x08, 0x04, 0x02}, {0x3E, 0x51, 0x49, 0x45, 0x3E}, {0x00, 0x42, 0x7F, 0x40, 0x00}, /* / 0 1 */
    {0x42, 0x61, 0x51, 0x49, 0x46}, {0x21, 0x41, 0x45, 0x4B, 0x31}, {0x18, 0x14, 0x12, 0x7F, 0x10}, /* 2 3 4 */
    {0x27, 0x45, 0x45, 0x45, 0x39}, {0x3C, 0x4A, 0x49, 0x49, 0x30}, {0x01, 0x71, 0x09, 0x05, 0x03}, /* 5 6 7 */
    {0x36, 0x49, 0x49, 0x49, 0x36}, {0x06, 0x49, 0x49, 0x29, 0x1E}, {0x00, 0x36, 0x36, 0x00, 0x00}, /* 8 9 : */
    {0x00, 0x56, 0x36, 0x00, 0x00}, {0x08, 0x14, 0x22, 0x41, 0x00}, {0x14, 0x14, 0x14, 0x14, 0x14}, /* ; < = */
    {0x00, 0x41, 0x22, 0x14, 0x08}, {0x02, 0x01, 0x51, 0x09, 0x06}, {0x32, 0x49, 0x79, 0x41, 0x3E}, /* > ? @ */
    {0x7E, 0x11, 0x11, 0x11, 0x7E}, {0x7F, 0x49, 0x49, 0x49, 0x36}, {0x3E, 0x41, 0x41, 0x41, 0x22}, /* A B C */
    {0x7F, 0x41, 0x41, 0x22, 0x1C}, {0x7F, 0x49, 0x49, 0x49, 0x41}, {0x7F, 0x09, 0x09, 0x09, 0x01}, /* D E F */
    {0x3E, 0x41, 0x49, 0x49, 0x7A}, {0x7F, 0x08, 0x08, 0x08, 0x7F}, {0x00, 0x41, 0x7F, 0x41, 0x00}, /* G H I */
    {0x20, 0x40, 0x41, 0x3F, 0x01}, {0x7F, 0x08, 0x14, 0x22, 0x41}, {0x7F, 0x40, 0x40, 0x40, 0x40}, /* J K L */
    {0x7F, 0x02, 0x0C, 0x02, 0x7F}, {0x7F, 0x04, 0x08, 0x10, 0x7F}, {0x3E, 0x41, 0x41, 0x41, 0x3E}, /* M N O */
    {0x7F, 0x09, 0x09, 0x09, 0x06}, {0x3E, 0x41, 0x51, 0x21, 0x5E}, {0x7F, 0x09, 0x19, 0x29, 0x46}, /* P Q R */
    {0x46, 0x49, 0x49, 0x49, 0x31}, {0x01, 0x01, 0x7F, 0x01, 0x01}, {0x3F, 0x40, 0x40, 0x40, 0x3F}, /* S T U */
    {0x1F, 0x20, 0x40, 0x20, 0x1F}, {0x3F, 0x40, 0x38, 0x40, 0x3F}, {0x63, 0x14, 0x08, 0x14, 0x63}, /* V W X */
    {0x07, 0x08, 0x70, 0x08, 0x07}, {0x61, 0x51, 0x49, 0x45, 0x43}, {0x00, 0x7F, 0x41, 0x41, 0x00}, /* Y Z [ */
    {0x02, 0x04, 0x08, 0x10, 0x20}, {0x00, 0x41, 0x41, 0x7F, 0x00}, {0x04, 0x02, 0x01, 0x02, 0x04}, /* \ ] ^ */
    {0x40, 0x40, 0x40, 0x40, 0x40}, {0x00, 0x01, 0x02, 0x04, 0x00}, {0x20, 0x54, 0x54, 0x54, 0x78}, /* _ ` a */
    {0x7F, 0x48, 0x44, 0x44, 0x38}, {0x38, 0x44, 0x44, 0x44, 0x20}, {0x38, 0x44, 0x44, 0x48, 0x7F}, /* b c d */
    {0x38, 0x54, 0x54, 0x54, 0x18}, {0x08, 0x7E, 0x09, 0x01, 0x02}, {0x0C, 0x52, 0x52, 0x52, 0x3E}, /* e f g */
    {0x7F, 0x08, 0x04, 0x04, 0x78}, {0x00, 0x44, 0x7D, 0x40, 0x00}, {0x20, 0x40, 0x44, 0x3D, 0x00}, /* h i j */
    {0x7F, 0x10, 0x28, 0x44, 0x00}, {0x00, 0x41, 0x7F, 0x40, 0x00}, {0x7C, 0x04, 0x18, 0x04, 0x78}, /* k l m */
    {0x7C, 0x08, 0x04, 0x04, 0x78}, {0x38, 0x44, 0x44, 0x44, 0x38}, {0x7C, 0x14, 0x14, 0x14, 0x08}, /* n o p */
    {0x08, 0x14, 0x14, 0x18, 0x7C}, {0x7C, 0x08, 0x04, 0x04, 0x08}, {0x48, 0x54, 0x54, 0x54, 0x20}, /* q r s */
    {0x04, 0x3F, 0x44, 0x40, 0x20}, {0x3C, 0x40, 0x40, 0x20, 0x7C}, {0x1C, 0x20, 0x40, 0x20, 0x1C}, /* t u v */
    {0x3C, 0x40, 0x30, 0x40, 0x3C}, {0x44, 0x28, 0x10, 0x28, 0x44}, {0x0C, 0x50, 0x50, 0x50, 0x3C}, /* w x y */
    {0x44, 0x64, 0x54, 0x4C, 0x44}, {0x00, 0x08, 0x36, 0x41, 0x00}, {0x00, 0x00, 0x7F, 0x00, 0x00}, /* z { | */
    {0x00, 0x41, 0x36, 0x08, 0x00}, {0x08, 0x04, 0x08, 0x10, 0x08},                                 /* } ~ */
};

dc_image_grid_opts dc_image_grid_defaults(void) {
    return (dc_image_grid_opts){.padding = 2, .pad_value = 0, .lo = 0, .hi = 1, .caption_scale = 1};
}

/* A caption laid out in lines: line i is text[start[i] .. start[i] + len[i]). */
typedef struct caption_layout {
    int64_t nlines;
    int64_t start[CAPTION_MAX + 1], len[CAPTION_MAX + 1];
} caption_layout;

/* Breaks text at '\n' and wraps lines longer than max_chars at their last space that fits
 * (a word longer than a line is cut). */
static void layout_caption(const char *text, int64_t max_chars, caption_layout *L) {
    L->nlines = 0;
    const int64_t n = (int64_t)strlen(text);
    for (int64_t i = 0;;) {
        int64_t end = i;
        while (end < n && text[end] != '\n') end++;
        /* the paragraph text[i .. end) in lines of at most max_chars; every line takes at
         * least one byte, so there are at most strlen + 1 lines */
        int64_t p = i;
        do {
            int64_t take = end - p;
            bool wrapped = take > max_chars;
            if (wrapped) {
                take = max_chars;
                for (int64_t k = max_chars; k > 0; k--)
                    if (text[p + k] == ' ') {
                        take = k;
                        break;
                    }
            }
            L->start[L->nlines] = p;
            L->len[L->nlines] = take;
            L->nlines++;
            p += take;
            if (wrapped)
                while (p < end && text[p] == ' ') p++; /* the spaces a line broke at */
        } while (p < end);
        if (end >= n) break;
        i = end + 1;
    }
}

typedef struct grid_canvas {
    int64_t width, height;
    int channels;       /* 1 or 3 */
    unsigned char *pix; /* height rows of width * channels bytes */
} grid_canvas;

static void draw_text(grid_canvas *cv, const char *text, int64_t len, int64_t x0, int64_t y0, int s,
                      unsigned char ink) {
    for (int64_t k = 0; k < len; k++) {
        unsigned char ch = (unsigned char)text[k];
        const unsigned char *g = font5x7[(ch >= 32 && ch <= 126 ? ch : '?') - 32];
        for (int col = 0; col < 5; col++)
            for (int row = 0; row < 7; row++) {
                if (!(g[col] >> row & 1)) continue;
                for (int dy = 0; dy < s; dy++)
                    for (int dx = 0; dx < s; dx++) {
                        int64_t x = x0 + (k * 6 + col) * s + dx, y = y0 + row * s + dy;
                        if (x < 0 || x >= cv->width || y < 0 || y >= cv->height) continue;
                        unsigned char *p = cv->pix + (y * cv->width + x) * cv->channels;
                        memset(p, ink, (size_t)cv->channels);
                    }
            }
    }
}

typedef struct png_write_state {
    const grid_canvas *cv;
    const char *path;
    char msg[256];
} png_write_state;

static void on_write_error(png_structp png, png_const_charp msg) {
    png_write_state *ws = png_get_error_ptr(png);
    snprintf(ws->msg, sizeof ws->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_write_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void write_body(png_structp png, png_infop info, FILE *f, const grid_canvas *cv) {
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)cv->width, (png_uint_32)cv->height, 8,
                 cv->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    const size_t stride = (size_t)cv->width * (size_t)cv->channels;
    for (int64_t y = 0; y < cv->height; y++) png_write_row(png, cv->pix + stride * (size_t)y);
    png_write_end(png, info);
}

/* The one place libpng jumps back to: false after a jump. */
static bool write_guarded(png_structp png, png_infop info, FILE *f, const grid_canvas *cv) {
    if (setjmp(png_jmpbuf(png))) return false;
    write_body(png, info, f, cv);
    return true;
}

static dc_status write_png(FILE *f, void *arg) {
    png_write_state *ws = arg;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, ws, on_write_error, on_write_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        return dc_error(DC_ERR_NOMEM, "%s: cannot create libpng's writer", ws->path);
    }
    bool ok = write_guarded(png, info, f, ws->cv);
    png_destroy_write_struct(&png, &info);
    return ok ? DC_OK : dc_error(DC_ERR_IO, "%s: writing the PNG failed: %s", ws->path, ws->msg);
}

static dc_status check_grid_opts(const dc_image_grid_opts *o, const char *path) {
    if (o->cols < 0) return dc_error(DC_ERR_ARG, "%s: grid cols must be >= 0, got %lld", path, (long long)o->cols);
    if (o->padding < 0 || o->padding > 1024)
        return dc_error(DC_ERR_ARG, "%s: grid padding must be 0..1024, got %lld", path, (long long)o->padding);
    if (!(o->pad_value >= 0 && o->pad_value <= 1))
        return dc_error(DC_ERR_ARG, "%s: grid pad_value must be in [0, 1], got %g", path, (double)o->pad_value);
    if (!isfinite(o->lo) || !isfinite(o->hi) || o->lo > o->hi)
        return dc_error(DC_ERR_ARG,
                        "%s: grid lo %g and hi %g must be finite with lo <= hi (lo == hi: the batch's range)", path,
                        (double)o->lo, (double)o->hi);
    if (o->caption_scale < 0 || o->caption_scale > 8)
        return dc_error(DC_ERR_ARG, "%s: grid caption_scale must be 1..8 (0 = 1), got %d", path, o->caption_scale);
    if (o->caption && strlen(o->caption) > CAPTION_MAX)
        return dc_error(DC_ERR_ARG, "%s: grid caption of %zu bytes is over the limit of %d", path, strlen(o->caption),
                        CAPTION_MAX);
    return DC_OK;
}

dc_status dc_image_grid_save(const char *path, const dc_tensor *images, const dc_image_grid_opts *o) {
    if (!path || !images) return dc_error(DC_ERR_ARG, "image_grid_save: path and images are required");
    dc_image_grid_opts d = dc_image_grid_defaults();
    if (!o) o = &d;
    dc_status s = check_grid_opts(o, path);
    if (s) return s;
    const dc_tensor *x = images;
    if (!(x->ndim == 4 && (x->shape[1] == 1 || x->shape[1] == 3)) && x->ndim != 3)
        return dc_error(DC_ERR_SHAPE, "%s: images must be [N, C, H, W] with C 1 or 3, or [N, H, W], got %s", path,
                        dc_tshape(x, 0));
    const int64_t N = x->shape[0], C = x->ndim == 4 ? x->shape[1] : 1, H = x->shape[x->ndim - 2],
                  W = x->shape[x->ndim - 1];
    if (N < 1 || H < 1 || W < 1) return dc_error(DC_ERR_SHAPE, "%s: images %s hold no picture", path, dc_tshape(x, 0));
    dc_status fin = dc_check_finite(x, path);
    if (fin) return fin;

    const int64_t pad = o->padding, scale = o->caption_scale ? o->caption_scale : 1;
    const int64_t cols = o->cols ? DC_MIN(o->cols, N) : (int64_t)ceil(sqrt((double)N)), rows = (N + cols - 1) / cols;
    /* sizes in double first: a tile count times a size may not fit anything smaller */
    double gw = (double)cols * (double)W + (double)(cols + 1) * (double)pad;
    double gh = (double)rows * (double)H + (double)(rows + 1) * (double)pad;
    const char *cap = o->caption && o->caption[0] ? o->caption : NULL;
    const int64_t margin = DC_MAX(pad, 2);
    double dw = gw;
    int64_t cap_h = 0;
    caption_layout *L = NULL;
    if (cap) {
        /* at least CAPTION_MIN_CHARS a line (or the whole caption's longest line when shorter) */
        int64_t longest = 0, run = 0;
        for (const char *c = cap;; c++) {
            if (!*c || *c == '\n') {
                longest = DC_MAX(longest, run);
                run = 0;
                if (!*c) break;
            } else {
                run++;
            }
        }
        dw = fmax(dw, (double)(DC_MIN(longest, CAPTION_MIN_CHARS) * 6 * scale + 2 * margin));
    }
    if (dw <= DC_IMAGE_MAX_SIDE && cap) {
        if (!(L = dc_alloc(sizeof *L))) return DC_ERR_NOMEM;
        layout_caption(cap, DC_MAX(((int64_t)dw - 2 * margin) / (6 * scale), 1), L);
        cap_h = L->nlines * 9 * scale + margin;
    }
    const double dh = gh + (double)cap_h;
    if (dw > DC_IMAGE_MAX_SIDE || dh > DC_IMAGE_MAX_SIDE || dw * dh > (double)DC_IMAGE_MAX_PIXELS) {
        dc_free(L);
        return dc_error(DC_ERR_ARG,
                        "%s: a grid of %lld x %lld tiles of %lld x %lld is %.0f x %.0f pixels, over the limit "
                        "of %d a side and %lld in all",
                        path, (long long)rows, (long long)cols, (long long)H, (long long)W, dw, dh, DC_IMAGE_MAX_SIDE,
                        (long long)DC_IMAGE_MAX_PIXELS);
    }
    const int64_t width = (int64_t)dw, height = (int64_t)dh;

    /* values -> bytes: lo..hi onto 0..255, or the batch's range when lo == hi */
    float *v = dc_alloc((size_t)x->numel * sizeof(float));
    grid_canvas cv = {.width = width, .height = height, .channels = C == 1 ? 1 : 3};
    cv.pix = v ? dc_alloc((size_t)(cv.width * cv.height * cv.channels)) : NULL;
    if (!v || !cv.pix) {
        dc_free(L);
        dc_free(v);
        dc_free(cv.pix);
        return DC_ERR_NOMEM;
    }
    dc_copy_strided(v, x);
    float lo = o->lo, hi = o->hi;
    if (lo == hi) {
        lo = hi = v[0];
        for (int64_t i = 1; i < x->numel; i++) {
            lo = DC_MIN(lo, v[i]);
            hi = DC_MAX(hi, v[i]);
        }
        if (lo == hi) hi = lo + 1; /* a constant batch shows as black */
    }
    const float k = 255.0f / (hi - lo);
    const unsigned char bg = (unsigned char)lrintf(o->pad_value * 255.0f);
    memset(cv.pix, bg, (size_t)(cv.width * cv.height * cv.channels));
    if (cap) {
        const unsigned char ink = o->pad_value > 0.5f ? 0 : 255;
        for (int64_t i = 0; i < L->nlines; i++)
            draw_text(&cv, cap + L->start[i], L->len[i], margin, margin + i * 9 * scale, (int)scale, ink);
    }
    for (int64_t n = 0; n < N; n++) {
        const int64_t ty = cap_h + pad + (n / cols) * (H + pad), tx = pad + (n % cols) * (W + pad);
        const float *img = v + n * C * H * W;
        for (int64_t c = 0; c < C; c++)
            for (int64_t yy = 0; yy < H; yy++)
                for (int64_t xx = 0; xx < W; xx++) {
                    float q = (img[(c * H + yy) * W + xx] - lo) * k;
                    q = q < 0 ? 0 : q > 255 ? 255 : q;
                    cv.pix[((ty + yy) * cv.width + tx + xx) * cv.channels + c] = (unsigned char)lrintf(q);
                }
    }
    dc_free(v);
    dc_free(L);
    png_write_state ws = {.cv = &cv, .path = path};
    s = dc_write_file_atomic(path, write_png, &ws);
    dc_free(cv.pix);
    return s;
}
