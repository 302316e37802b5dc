/* JPEG decoding with libjpeg(-turbo), from a file held in memory.
 *
 * libjpeg's default error handler prints and calls exit(); here errors jump back (longjmp)
 * with the library's message kept. The setjmp lives in a small function of its own
 * (jpeg_guarded) whose locals never change after it; the decoder and its buffers live in a
 * state struct owned by the caller, which frees them whatever happened.
 *
 * Choices:
 *  - libjpeg recovers from corrupt or truncated data with a warning and goes on, filling the
 *    rest with grey: here those warnings (premature end of file, bad Huffman or arithmetic
 *    code, corrupt data segments, extraneous bytes) are errors, since the picture would be
 *    wrong. Harmless ones (an unknown JFIF revision or Adobe transform, a bad ICC marker) are
 *    ignored. Nothing is ever printed.
 *  - The declared size is checked against the limits before decompression starts, libjpeg's
 *    memory for progressive coefficient buffers is capped to what that size needs, and more
 *    than 500 scans (a progressive file can loop over the whole picture once per scan) are
 *    refused.
 *  - Decoding uses libjpeg's defaults (accurate integer DCT, fancy upsampling), as PIL does, so
 *    values match PIL's. Grey files decode to one channel, colour to RGB, CMYK and YCCK to CMYK
 *    then RGB as PIL converts them (Adobe files store inverted CMYK).
 */
#include "image.h"

#include <stdio.h> /* jpeglib.h needs FILE */

#include <jerror.h>
#include <jpeglib.h>
#include <setjmp.h>
#include <string.h>

#define JPEG_MAX_SCANS 500

typedef struct jpeg_state {
    struct jpeg_error_mgr err; /* first: libjpeg hands back a pointer to it */
    jmp_buf jmp;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    bool created;
    const char *name;
    int64_t max_pixels;
    unsigned char *pixels;
    char msg[JMSG_LENGTH_MAX + 64];
} jpeg_state;

static void on_error_exit(j_common_ptr c) {
    jpeg_state *st = (jpeg_state *)c->err;
    c->err->format_message(c, st->msg);
    longjmp(st->jmp, 1);
}

/* level -1: a warning; corrupt-data warnings end the decoding, trace messages are dropped. */
static void on_emit_message(j_common_ptr c, int level) {
    if (level != -1) return;
    int code = c->err->msg_code;
    if (code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM || code == JWRN_BOGUS_ICC) return;
    on_error_exit(c);
}

static void on_output_message(j_common_ptr c) { (void)c; }

static void on_progress(j_common_ptr c) {
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (c->is_decompressor && d->input_scan_number > JPEG_MAX_SCANS) {
        jpeg_state *st = (jpeg_state *)c->err;
        snprintf(st->msg, sizeof st->msg, "more than %d scans", JPEG_MAX_SCANS);
        longjmp(st->jmp, 1);
    }
}

static inline unsigned char muldiv255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return (unsigned char)(((t >> 8) + t) >> 8);
}

/* CMYK samples (inverted when adobe) to RGB in place, as PIL's cmyk2rgb after its "CMYK;I". */
static void cmyk_to_rgb(unsigned char *p, int64_t npix, bool adobe) {
    unsigned char *o = p;
    for (int64_t i = 0; i < npix; i++, p += 4, o += 3) {
        unsigned c = p[0], m = p[1], y = p[2], k = p[3];
        if (adobe) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
        unsigned nk = 255 - k;
        o[0] = (unsigned char)(nk - muldiv255(c, nk));
        o[1] = (unsigned char)(nk - muldiv255(m, nk));
        o[2] = (unsigned char)(nk - muldiv255(y, nk));
    }
}

/* The decoding proper; libjpeg may jump out of it at any call. */
static dc_status jpeg_body(jpeg_state *st, const unsigned char *data, size_t size, dc_raw_image *out) {
    j_decompress_ptr ci = &st->cinfo;
    jpeg_create_decompress(ci);
    st->created = true;
    ci->progress = &st->progress;
    jpeg_mem_src(ci, data, (unsigned long)size);
    jpeg_read_header(ci, TRUE);
    const int64_t w = ci->image_width, h = ci->image_height;
    dc_status s = dc_image_check_size(st->name, "JPEG", w, h, st->max_pixels);
    if (s) return s;
    /* progressive files keep every component's coefficients (2 bytes a sample, at most 4
     * components at full size for the formats read here) */
    ci->mem->max_memory_to_use = (long)(w * h * 8 + (32 << 20));
    bool cmyk = false;
    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE: ci->out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK:
        ci->out_color_space = JCS_CMYK;
        cmyk = true;
        break;
    default: ci->out_color_space = JCS_RGB; break;
    }
    jpeg_start_decompress(ci);
    const int comps = ci->output_components;
    if ((int64_t)ci->output_width != w || (int64_t)ci->output_height != h ||
        comps != (cmyk                             ? 4
                  : ci->out_color_space == JCS_RGB ? 3
                                                   : 1))
        return dc_error(DC_ERR_FORMAT, "%s: JPEG of %lld x %lld pixels decodes to %u x %u x %d, which deepc cannot use",
                        st->name, (long long)w, (long long)h, ci->output_width, ci->output_height, comps);
    const size_t stride = (size_t)w * (size_t)comps;
    if (!(st->pixels = dc_alloc(stride * (size_t)h))) return DC_ERR_NOMEM;
    while (ci->output_scanline < ci->output_height) {
        JSAMPROW row = st->pixels + stride * ci->output_scanline;
        if (jpeg_read_scanlines(ci, &row, 1) != 1)
            return dc_error(DC_ERR_FORMAT, "%s: truncated JPEG: no data for row %u of %lld", st->name,
                            ci->output_scanline, (long long)h);
    }
    jpeg_finish_decompress(ci);
    if (cmyk) cmyk_to_rgb(st->pixels, w * h, ci->saw_Adobe_marker);
    *out = (dc_raw_image){.width = w, .height = h, .channels = cmyk ? 3 : comps, .depth = 8, .pixels = st->pixels};
    st->pixels = NULL;
    return DC_OK;
}

/* The one place libjpeg jumps back to: -1 after a jump, else jpeg_body's status. */
static int jpeg_guarded(jpeg_state *st, const unsigned char *data, size_t size, dc_raw_image *out) {
    if (setjmp(st->jmp)) return -1;
    return (int)jpeg_body(st, data, size, out);
}

dc_status dc_jpeg_decode(const unsigned char *data, size_t size, const char *name, int64_t max_pixels,
                         dc_raw_image *out) {
    memset(out, 0, sizeof *out);
    jpeg_state st;
    memset(&st, 0, sizeof st);
    st.name = name;
    st.max_pixels = max_pixels;
    st.cinfo.err = jpeg_std_error(&st.err);
    st.err.error_exit = on_error_exit;
    st.err.emit_message = on_emit_message;
    st.err.output_message = on_output_message;
    st.progress.progress_monitor = on_progress;
    int r = jpeg_guarded(&st, data, size, out);
    dc_status s;
    if (r < 0) {
        /* how far the decoder got (its output size is known once decompression started) */
        if (st.cinfo.output_height)
            s = dc_error(DC_ERR_FORMAT, "%s: truncated or corrupt JPEG (%u x %u pixels, %u of %u rows decoded): %s",
                         name, st.cinfo.output_width, st.cinfo.output_height, st.cinfo.output_scanline,
                         st.cinfo.output_height, st.msg);
        else
            s = dc_error(DC_ERR_FORMAT, "%s: corrupt JPEG: %s", name, st.msg);
    } else {
        s = (dc_status)r;
    }
    if (st.created) jpeg_destroy_decompress(&st.cinfo);
    dc_free(st.pixels);
    if (s) memset(out, 0, sizeof *out);
    return s;
}
