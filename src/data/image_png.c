/* PNG decoding with libpng, from a file held in memory.
 *
 * libpng reports errors by longjmp. The setjmp lives in a small function of its own
 * (png_guarded) whose locals never change after it, and everything the decoding allocates is
 * kept in a state struct owned by its caller, so nothing is lost or indeterminate when libpng
 * jumps back; the caller frees what the state holds.
 *
 * Limits before allocating: the declared size against DC_IMAGE_MAX_SIDE and max_pixels, and the
 * bytes of pixel data the header implies against what the file can hold (deflate expands at
 * most 1032 times), so a small file claiming a huge picture fails without a huge allocation.
 * Every sample format is read: bit depths 1 to 16, palette (expanded to RGB), grey + alpha, a
 * tRNS chunk (turned into alpha), interlacing. libpng's warnings (an unknown chunk, a
 * questionable colour profile) do not stop the reading; its errors (a bad CRC of a critical
 * chunk, corrupt zlib data or checksum, too little data) do, and the file must end with IEND.
 */
#include "image.h"

#include <png.h>
#include <setjmp.h>
#include <string.h>

/* deflate's largest expansion: 258 bytes from 2 bits */
#define PNG_DEFLATE_RATIO 1032u

typedef struct png_state {
    const unsigned char *data;
    size_t size, pos;
    const char *name;
    int64_t max_pixels;
    png_structp png;
    png_infop info;
    unsigned char *pixels; /* the decoded rows, handed to the caller on success */
    png_bytep *rows;
    bool truncated; /* the reader ran out of data */
    char msg[256];  /* libpng's message or the reader's, after a jump */
} png_state;

static void on_error(png_structp png, png_const_charp msg) {
    png_state *st = png_get_error_ptr(png);
    if (!st->truncated) snprintf(st->msg, sizeof st->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void on_read(png_structp png, png_bytep out, size_t n) {
    png_state *st = png_get_io_ptr(png);
    if (n > st->size - st->pos) {
        st->truncated = true;
        snprintf(st->msg, sizeof st->msg, "the file ends at byte %zu, %zu more bytes were expected", st->size,
                 n - (st->size - st->pos));
        png_error(png, st->msg);
    }
    memcpy(out, st->data + st->pos, n);
    st->pos += n;
}

static const char *color_name(int color) {
    switch (color) {
    case PNG_COLOR_TYPE_GRAY: return "grey";
    case PNG_COLOR_TYPE_GRAY_ALPHA: return "grey+alpha";
    case PNG_COLOR_TYPE_PALETTE: return "palette";
    case PNG_COLOR_TYPE_RGB: return "RGB";
    case PNG_COLOR_TYPE_RGB_ALPHA: return "RGBA";
    default: return "unknown colour type";
    }
}

/* The decoding proper; libpng may jump out of it at any call. */
static dc_status png_body(png_state *st, dc_raw_image *out) {
    png_structp png = st->png;
    png_infop info = st->info;
    png_set_read_fn(png, st, on_read);
    /* the side limits are checked below with a message naming the numbers */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    dc_status s = dc_image_check_size(st->name, "PNG", w, h, st->max_pixels);
    if (s) return s;
    const uint64_t file_channels = png_get_channels(png, info);
    const uint64_t need = (uint64_t)h * (((uint64_t)w * file_channels * (uint64_t)depth + 7) / 8);
    if (need > (uint64_t)st->size * PNG_DEFLATE_RATIO)
        return dc_error(DC_ERR_FORMAT,
                        "%s: truncated PNG: %u x %u pixels of %d-bit %s need %llu bytes of pixel data, more than "
                        "the %zu-byte file can hold",
                        st->name, (unsigned)w, (unsigned)h, depth, color_name(color), (unsigned long long)need,
                        st->size);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const int ch = png_get_channels(png, info), bd = png_get_bit_depth(png, info);
    const size_t rowbytes = png_get_rowbytes(png, info);
    if (ch < 1 || ch > 4 || (bd != 8 && bd != 16) || rowbytes != (size_t)w * (size_t)ch * (size_t)(bd / 8))
        return dc_error(DC_ERR_FORMAT, "%s: PNG of %d-bit %s decodes to %d channels of %d bits, which deepc cannot use",
                        st->name, depth, color_name(color), ch, bd);
    st->pixels = dc_alloc(rowbytes * h);
    st->rows = dc_alloc(sizeof(png_bytep) * h);
    if (!st->pixels || !st->rows) return DC_ERR_NOMEM;
    for (png_uint_32 y = 0; y < h; y++) st->rows[y] = st->pixels + rowbytes * y;
    png_read_image(png, st->rows);
    png_read_end(png, NULL);
    *out = (dc_raw_image){.width = w, .height = h, .channels = ch, .depth = bd, .pixels = st->pixels};
    st->pixels = NULL;
    return DC_OK;
}

/* The one place libpng jumps back to: -1 after a jump, else png_body's status. */
static int png_guarded(png_state *st, dc_raw_image *out) {
    if (setjmp(png_jmpbuf(st->png))) return -1;
    return (int)png_body(st, out);
}

dc_status dc_png_decode(const unsigned char *data, size_t size, const char *name, int64_t max_pixels,
                        dc_raw_image *out) {
    memset(out, 0, sizeof *out);
    png_state st = {.data = data, .size = size, .name = name, .max_pixels = max_pixels};
    st.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, on_error, on_warning);
    if (st.png) st.info = png_create_info_struct(st.png);
    if (!st.png || !st.info) {
        png_destroy_read_struct(&st.png, NULL, NULL);
        return dc_error(DC_ERR_NOMEM, "%s: cannot create libpng's reader", name);
    }
    int r = png_guarded(&st, out);
    dc_status s;
    if (r < 0)
        s = st.truncated
                ? dc_error(DC_ERR_FORMAT, "%s: truncated PNG: %s", name, st.msg)
                : dc_error(DC_ERR_FORMAT, "%s: corrupt PNG (at byte %zu of %zu): %s", name, st.pos, size, st.msg);
    else
        s = (dc_status)r;
    png_destroy_read_struct(&st.png, &st.info, NULL);
    dc_free(st.pixels);
    dc_free(st.rows);
    if (s) memset(out, 0, sizeof *out);
    return s;
}
