/* Images in: a PNG or JPEG file, told by its magic bytes, decoded (image_png.c,
 * image_jpeg.c), converted to float [C, H, W] and optionally resized.
 *
 * Choices:
 *  - The whole file is read first (at most 1 GiB): its size then bounds what the decoders
 *    may believe of the header, and both libraries decode from memory.
 *  - Conversions follow what Keras's loaders give: colour to grey as PIL's convert("L")
 *    (integer weights, rounded, on 8-bit samples), alpha dropped unless a background is
 *    asked for, values 0..255 or divided by 255 (a division, not a multiply by 1/255, so that
 *    the values match torchvision's ToTensor and dc_idx_load's exactly).
 *  - Resizing is TensorFlow's resize without antialiasing (half-pixel centres), the same
 *    arithmetic in float, so that a Keras pipeline's values are reproduced.
 */
#define _POSIX_C_SOURCE 200809L /* fstat */
#include "image.h"

#include "../tensor/tensor.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

dc_image_opts dc_image_defaults(void) {
    return (dc_image_opts){.channels = 3, .scale = true, .background = -1, .resize = DC_RESIZE_BILINEAR};
}

dc_image_format dc_image_sniff(const unsigned char *h, size_t n) {
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 8 && memcmp(h, png, 8) == 0) return DC_IMAGE_PNG;
    if (n >= 3 && h[0] == 0xff && h[1] == 0xd8 && h[2] == 0xff) return DC_IMAGE_JPEG;
    return DC_IMAGE_UNKNOWN;
}

/* A name for content that is not PNG or JPEG, for the message: "a GIF image", ... */
static const char *other_format(const unsigned char *h, size_t n) {
    if (n >= 4 && memcmp(h, "GIF8", 4) == 0) return "a GIF image";
    if (n >= 2 && memcmp(h, "BM", 2) == 0) return "a BMP image";
    if (n >= 12 && memcmp(h, "RIFF", 4) == 0 && memcmp(h + 8, "WEBP", 4) == 0) return "a WebP image";
    if (n >= 4 && (memcmp(h, "II*\0", 4) == 0 || memcmp(h, "MM\0*", 4) == 0)) return "a TIFF image";
    if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b) return "gzip data";
    size_t i = 0;
    while (i < n && i < 64 && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' || h[i] == '\n')) i++;
    if (n - i >= 4 && (memcmp(h + i, "<svg", 4) == 0 || memcmp(h + i, "<?xm", 4) == 0)) return "an SVG or XML file";
    return NULL;
}

dc_status dc_image_check_size(const char *name, const char *format, int64_t width, int64_t height, int64_t max_pixels) {
    if (width <= 0 || height <= 0)
        return dc_error(DC_ERR_FORMAT, "%s: %s declares %lld x %lld pixels: a picture has at least one", name, format,
                        (long long)width, (long long)height);
    if (width > DC_IMAGE_MAX_SIDE || height > DC_IMAGE_MAX_SIDE)
        return dc_error(DC_ERR_FORMAT, "%s: %s declares %lld x %lld pixels, over the limit of %d a side", name, format,
                        (long long)width, (long long)height, DC_IMAGE_MAX_SIDE);
    if (width * height > max_pixels)
        return dc_error(DC_ERR_FORMAT, "%s: %s declares %lld x %lld = %lld pixels, over the limit of %lld (max_pixels)",
                        name, format, (long long)width, (long long)height, (long long)(width * height),
                        (long long)max_pixels);
    return DC_OK;
}

dc_status dc_image_read_file(const char *path, unsigned char **data, size_t *size) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return dc_error(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    const bool known = fstat(fileno(f), &st) == 0;
    if (known && S_ISDIR(st.st_mode)) {
        fclose(f);
        return dc_error(DC_ERR_IO, "%s: is a directory, not an image file", path);
    }
    if (known && S_ISREG(st.st_mode) && (uint64_t)st.st_size > DC_IMAGE_MAX_FILE) {
        fclose(f);
        return dc_error(DC_ERR_FORMAT, "%s: %llu bytes, over the image file limit of 1 GiB", path,
                        (unsigned long long)st.st_size);
    }
    /* a regular file's size sizes the buffer (one more byte finds the end); a pipe's content grows it */
    size_t cap = known && S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
    unsigned char *buf = dc_alloc(cap);
    size_t len = 0;
    dc_status s = buf ? DC_OK : DC_ERR_NOMEM;
    while (!s) {
        if (len > DC_IMAGE_MAX_FILE) {
            s = dc_error(DC_ERR_FORMAT, "%s: over the image file limit of 1 GiB", path);
            break;
        }
        if (len == cap) {
            unsigned char *more = dc_realloc(buf, cap * 2);
            if (!more) {
                s = DC_ERR_NOMEM;
                break;
            }
            buf = more;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) s = dc_error(DC_ERR_IO, "%s: read error after %zu bytes: %s", path, len, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (s) {
        dc_free(buf);
        return s;
    }
    *data = buf;
    *size = len;
    return DC_OK;
}

dc_status dc_image_check_opts(const dc_image_opts *o, const char *who) {
    if (o->channels != 0 && o->channels != 1 && o->channels != 3)
        return dc_error(DC_ERR_ARG, "%s: channels must be 0 (as the file), 1 (grey) or 3 (RGB), got %d", who,
                        o->channels);
    if (!(o->background <= 1))
        return dc_error(DC_ERR_ARG, "%s: background must be a grey level in [0, 1] or negative (drop alpha), got %g",
                        who, (double)o->background);
    if (o->height < 0 || o->width < 0 || (o->height == 0) != (o->width == 0))
        return dc_error(DC_ERR_ARG, "%s: height and width must both be > 0 (resize) or both 0 (keep), got %lld x %lld",
                        who, (long long)o->height, (long long)o->width);
    if (o->height > DC_IMAGE_MAX_SIDE || o->width > DC_IMAGE_MAX_SIDE)
        return dc_error(DC_ERR_ARG, "%s: size %lld x %lld is over the limit of %d a side", who, (long long)o->height,
                        (long long)o->width, DC_IMAGE_MAX_SIDE);
    if (o->resize != DC_RESIZE_BILINEAR && o->resize != DC_RESIZE_NEAREST)
        return dc_error(DC_ERR_ARG, "%s: unknown resize mode %d", who, (int)o->resize);
    if (o->max_pixels < 0)
        return dc_error(DC_ERR_ARG, "%s: max_pixels must be >= 0, got %lld", who, (long long)o->max_pixels);
    return DC_OK;
}

dc_status dc_image_decode_raw(const unsigned char *data, size_t size, const char *name, const dc_image_opts *o,
                              dc_raw_image *raw) {
    memset(raw, 0, sizeof *raw);
    int64_t max_pixels = o->max_pixels > 0 ? o->max_pixels : DC_IMAGE_MAX_PIXELS;
    if (size == 0) return dc_error(DC_ERR_FORMAT, "%s: empty file (0 bytes), not a PNG or JPEG image", name);
    switch (dc_image_sniff(data, size)) {
    case DC_IMAGE_PNG: return dc_png_decode(data, size, name, max_pixels, raw);
    case DC_IMAGE_JPEG: return dc_jpeg_decode(data, size, name, max_pixels, raw);
    default: break;
    }
    char hex[3 * 8 + 1] = "";
    for (size_t i = 0, len = 0; i < size && i < 8; i++)
        len += (size_t)snprintf(hex + len, sizeof hex - len, "%s%02x", i ? " " : "", data[i]);
    const char *what = other_format(data, size);
    if (what)
        return dc_error(DC_ERR_FORMAT, "%s: %s (first bytes %s), not PNG or JPEG, the formats deepc reads", name, what,
                        hex);
    return dc_error(DC_ERR_FORMAT, "%s: not a PNG or JPEG image (%zu bytes, first bytes %s)", name, size, hex);
}

void dc_image_out_shape(const dc_raw_image *raw, const dc_image_opts *o, int64_t shape[3]) {
    shape[0] = o->channels ? o->channels : raw->channels >= 3 ? 3 : 1;
    shape[1] = o->height > 0 ? o->height : raw->height;
    shape[2] = o->width > 0 ? o->width : raw->width;
}

/* 8-bit colour to grey as PIL's convert("L"): ITU-R 601-2 luma, weights / 65536, rounded */
static inline float grey8(unsigned r, unsigned g, unsigned b) {
    return (float)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}
static inline float greyf(float r, float g, float b) { return (r * 19595.0f + g * 38470.0f + b * 7471.0f) / 65536.0f; }

/* Fills planes[C][npix] (0..255 floats) from raw's interleaved samples. */
static void to_planes(const dc_raw_image *raw, int C, float bg, float *dst) {
    const int sc = raw->channels;
    const bool colour = sc >= 3, alpha = sc == 2 || sc == 4, blend = alpha && bg >= 0;
    const int64_t npix = raw->width * raw->height;
    const float bg255 = bg * 255.0f;
    const unsigned char *p = raw->pixels;
    for (int64_t i = 0; i < npix; i++) {
        float v[4];
        unsigned u[4] = {0, 0, 0, 0};
        if (raw->depth == 8) {
            for (int c = 0; c < sc; c++) v[c] = (float)(u[c] = p[c]);
            p += sc;
        } else {
            for (int c = 0; c < sc; c++) v[c] = (float)((unsigned)p[2 * c] << 8 | p[2 * c + 1]) / 257.0f;
            p += 2 * sc;
        }
        if (blend) {
            float a = v[sc - 1] / 255.0f;
            for (int c = 0; c < sc - 1; c++) v[c] = v[c] * a + bg255 * (1 - a);
        }
        if (C == 1) {
            float g = !colour ? v[0] : raw->depth == 8 && !blend ? grey8(u[0], u[1], u[2]) : greyf(v[0], v[1], v[2]);
            dst[i] = g;
        } else if (colour) {
            dst[i] = v[0];
            dst[npix + i] = v[1];
            dst[2 * npix + i] = v[2];
        } else {
            dst[i] = dst[npix + i] = dst[2 * npix + i] = v[0];
        }
    }
}

dc_status dc_image_convert(const dc_raw_image *raw, const dc_image_opts *o, const int64_t shape[3], float *dst) {
    const int C = (int)shape[0];
    const int64_t H = shape[1], W = shape[2];
    const bool resize = H != raw->height || W != raw->width;
    float *planes = dst;
    if (resize) {
        size_t bytes;
        if (!dc_mul_ok((size_t)(raw->width * raw->height), (size_t)C * sizeof(float), &bytes))
            return dc_error(DC_ERR_NOMEM, "image: %lld x %lld pixels are too many", (long long)raw->width,
                            (long long)raw->height);
        if (!(planes = dc_alloc(bytes))) return DC_ERR_NOMEM;
    }
    to_planes(raw, C, o->background, planes);
    if (resize) {
        dc_status s = dc_image_resize_planes(planes, C, raw->height, raw->width, dst, H, W, o->resize);
        dc_free(planes);
        if (s) return s;
    }
    if (o->scale) {
        /* a division, as torchvision's ToTensor and dc_idx_load do */
        for (int64_t i = 0, n = C * H * W; i < n; i++) dst[i] /= 255.0f;
    }
    return DC_OK;
}

dc_tensor *dc_image_decode(const void *data, size_t size, const char *name, const dc_image_opts *o) {
    dc_image_opts d = dc_image_defaults();
    if (!o) o = &d;
    if (!name) name = "image";
    if (!data && size) return dc_error_null(DC_ERR_ARG, "%s: data is NULL", name);
    if (dc_image_check_opts(o, name)) return NULL;
    dc_raw_image raw;
    if (dc_image_decode_raw(data, size, name, o, &raw)) return NULL;
    int64_t shape[3];
    dc_image_out_shape(&raw, o, shape);
    dc_tensor *t = dc_tensor_alloc(3, shape);
    if (t && dc_image_convert(&raw, o, shape, t->data)) {
        dc_tensor_free(t);
        t = NULL;
    }
    dc_free(raw.pixels);
    return t;
}

dc_tensor *dc_image_load(const char *path, const dc_image_opts *o) {
    if (!path) return dc_error_null(DC_ERR_ARG, "image_load: path is NULL");
    dc_image_opts d = dc_image_defaults();
    if (dc_image_check_opts(o ? o : &d, path)) return NULL;
    unsigned char *data;
    size_t size;
    if (dc_image_read_file(path, &data, &size)) return NULL;
    dc_tensor *t = dc_image_decode(data, size, path, o);
    dc_free(data);
    return t;
}

/* ---- resizing ---- */

/* TensorFlow's interpolation weights along one axis (compute_interpolation_weights with
 * half-pixel centres): output i reads lower[i] and upper[i] mixed by lerp[i]. */
static void bilinear_axis(int64_t in, int64_t out, int64_t *lower, int64_t *upper, float *lerp) {
    const float scale = (float)in / (float)out;
    for (int64_t i = 0; i < out; i++) {
        const float x = ((float)i + 0.5f) * scale - 0.5f;
        const float xf = floorf(x);
        lower[i] = DC_MAX((int64_t)xf, 0);
        upper[i] = DC_MIN((int64_t)ceilf(x), in - 1);
        lerp[i] = x - xf;
    }
}

/* TensorFlow's and PIL's nearest neighbour with half-pixel centres: floor((i + 0.5) * scale). */
static void nearest_axis(int64_t in, int64_t out, int64_t *idx) {
    const float scale = (float)in / (float)out;
    for (int64_t i = 0; i < out; i++) idx[i] = DC_MIN((int64_t)floorf(((float)i + 0.5f) * scale), in - 1);
}

dc_status dc_image_resize_planes(const float *src, int64_t nplanes, int64_t h, int64_t w, float *dst, int64_t oh,
                                 int64_t ow, dc_resize_mode mode) {
    if (oh == h && ow == w) {
        memcpy(dst, src, (size_t)(nplanes * h * w) * sizeof(float));
        return DC_OK;
    }
    /* the per-axis tables: lower, upper (int64) and lerp (float) for rows then columns */
    int64_t *ti = dc_alloc((size_t)(2 * (oh + ow)) * sizeof(int64_t) + (size_t)(oh + ow) * sizeof(float));
    if (!ti) return DC_ERR_NOMEM;
    int64_t *ylo = ti, *yhi = ylo + oh, *xlo = yhi + oh, *xhi = xlo + ow;
    float *ylerp = (float *)(xhi + ow), *xlerp = ylerp + oh;
    if (mode == DC_RESIZE_NEAREST) {
        nearest_axis(h, oh, ylo);
        nearest_axis(w, ow, xlo);
        for (int64_t p = 0; p < nplanes; p++) {
            const float *s = src + p * h * w;
            float *d = dst + p * oh * ow;
            for (int64_t y = 0; y < oh; y++)
                for (int64_t x = 0; x < ow; x++) d[y * ow + x] = s[ylo[y] * w + xlo[x]];
        }
    } else {
        bilinear_axis(h, oh, ylo, yhi, ylerp);
        bilinear_axis(w, ow, xlo, xhi, xlerp);
        for (int64_t p = 0; p < nplanes; p++) {
            const float *s = src + p * h * w;
            float *d = dst + p * oh * ow;
            for (int64_t y = 0; y < oh; y++) {
                const float *top = s + ylo[y] * w, *bot = s + yhi[y] * w;
                const float yl = ylerp[y];
                for (int64_t x = 0; x < ow; x++) {
                    /* the order of TensorFlow's compute_lerp: top, bottom, then between them */
                    const float tl = top[xlo[x]], tr = top[xhi[x]], bl = bot[xlo[x]], br = bot[xhi[x]];
                    const float t = tl + (tr - tl) * xlerp[x];
                    const float b = bl + (br - bl) * xlerp[x];
                    d[y * ow + x] = t + (b - t) * yl;
                }
            }
        }
    }
    dc_free(ti);
    return DC_OK;
}

dc_tensor *dc_image_resize(const dc_tensor *x, int64_t height, int64_t width, dc_resize_mode mode) {
    if (!x) return dc_error_null(DC_ERR_ARG, "image_resize: x is NULL");
    if (height < 1 || width < 1 || height > DC_IMAGE_MAX_SIDE || width > DC_IMAGE_MAX_SIDE)
        return dc_error_null(DC_ERR_ARG, "image_resize: size %lld x %lld must be 1..%d a side", (long long)height,
                             (long long)width, DC_IMAGE_MAX_SIDE);
    if (mode != DC_RESIZE_BILINEAR && mode != DC_RESIZE_NEAREST)
        return dc_error_null(DC_ERR_ARG, "image_resize: unknown mode %d", (int)mode);
    if (x->ndim < 2)
        return dc_error_null(DC_ERR_SHAPE, "image_resize: x %s needs at least 2 axes (..., H, W)", dc_tshape(x, 0));
    const int64_t h = x->shape[x->ndim - 2], w = x->shape[x->ndim - 1];
    if (h < 1 || w < 1) return dc_error_null(DC_ERR_SHAPE, "image_resize: x %s has an empty H or W", dc_tshape(x, 0));
    int64_t shape[DC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 2] = height;
    shape[x->ndim - 1] = width;
    dc_tensor *out = dc_tensor_alloc(x->ndim, shape);
    if (!out) return NULL;
    const int64_t nplanes = x->numel / (h * w);
    if (nplanes == 0) return out;
    const float *src = x->data;
    float *copy = NULL;
    if (!dc_tensor_is_contiguous(x)) {
        if (!(copy = dc_alloc((size_t)x->numel * sizeof(float)))) {
            dc_tensor_free(out);
            return NULL;
        }
        dc_copy_strided(copy, x);
        src = copy;
    }
    dc_status s = dc_image_resize_planes(src, nplanes, h, w, out->data, height, width, mode);
    dc_free(copy);
    if (s) {
        dc_tensor_free(out);
        return NULL;
    }
    return out;
}
