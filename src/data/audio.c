/* Sound files in: any format libsndfile reads, told by the content, mixed down to one channel
 * of float samples and optionally resampled (audio_resample.c).
 *
 * Choices:
 *  - libsndfile reads through its virtual I/O, from memory (dc_audio_decode) or from an open
 *    file (dc_audio_load), never by path: it would otherwise fall back to the file's name
 *    (.vox, .gsm, .raw) for content it does not recognise, and the format is to be told by
 *    the content alone. A file is read as libsndfile asks, not loaded whole.
 *  - libsndfile accepts a WAV whose data chunk declares more bytes than the file holds and
 *    reads what there is; a truncated file would then pass unnoticed. The chunks are walked
 *    here first, and such a WAV is refused, but for the sizes streaming writers leave in the
 *    header when they cannot seek back (0, 0x7ffff000, 0x7fffffff, 0xffffffff).
 *  - Lengths are checked before allocating: the declared frame count against max_seconds and
 *    2^31, and the samples buffer grows as frames are actually decoded (from at most 2^20
 *    frames), so a small file declaring hours of sound allocates nothing big.
 *  - Integer samples come scaled as libsndfile does by default (v / 2^(bits - 1), 8-bit WAV
 *    unsigned around 128), floating-point samples as stored; channels are averaged in double.
 */
#define _POSIX_C_SOURCE 200809L /* fstat, fseeko */
#include "audio.h"

#include "../tensor/tensor.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

dc_audio_opts dc_audio_defaults(void) {
    return (dc_audio_opts){.sample_rate = 0, .resample = DC_RESAMPLE_SINC, .max_seconds = 0};
}

/* Bytes for libsndfile: a buffer in memory (data) or an open file (f). */
typedef struct audio_src {
    const unsigned char *data;
    FILE *f;
    sf_count_t size, pos;
    sf_count_t fpos; /* where the file's stdio position is (reads seek only when it differs) */
    int err;         /* errno of a failed read of the file, 0 if none */
} audio_src;

static sf_count_t vio_get_filelen(void *user) { return ((audio_src *)user)->size; }

static sf_count_t vio_seek(sf_count_t offset, int whence, void *user) {
    audio_src *s = user;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->size : -1;
    if (base < 0) return -1;
    /* a corrupt header may ask for any offset: no overflow, nothing before the start */
    if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) return -1;
    s->pos = base + offset;
    return s->pos;
}

static sf_count_t vio_read(void *ptr, sf_count_t count, void *user) {
    audio_src *s = user;
    if (count <= 0 || s->pos >= s->size) return 0;
    if (count > s->size - s->pos) count = s->size - s->pos;
    if (s->data) {
        memcpy(ptr, s->data + s->pos, (size_t)count);
        s->pos += count;
        return count;
    }
    if (s->fpos != s->pos) {
        if (fseeko(s->f, (off_t)s->pos, SEEK_SET) != 0) {
            s->err = errno ? errno : EIO;
            s->fpos = -1;
            return 0;
        }
        s->fpos = s->pos;
    }
    size_t got = fread(ptr, 1, (size_t)count, s->f);
    if (got < (size_t)count && ferror(s->f)) s->err = errno ? errno : EIO;
    s->pos += (sf_count_t)got;
    s->fpos = s->pos;
    return (sf_count_t)got;
}

static sf_count_t vio_write(const void *ptr, sf_count_t count, void *user) {
    (void)ptr;
    (void)count;
    (void)user;
    return 0;
}

static sf_count_t vio_tell(void *user) { return ((audio_src *)user)->pos; }

/* n bytes at offset off into buf (fewer at the end); moves the source's position. */
static size_t src_pread(audio_src *s, sf_count_t off, void *buf, size_t n) {
    s->pos = off;
    sf_count_t got = vio_read(buf, (sf_count_t)n, s);
    return got > 0 ? (size_t)got : 0;
}

static uint32_t rd32(const unsigned char *p, bool le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}
static unsigned rd16(const unsigned char *p, bool le) {
    return le ? (unsigned)p[0] | (unsigned)p[1] << 8 : (unsigned)p[1] | (unsigned)p[0] << 8;
}

/* The data sizes streaming writers put in a WAV header they cannot go back to. */
static bool streaming_size(uint32_t n) { return n == 0 || n == 0x7ffff000u || n == 0x7fffffffu || n == 0xffffffffu; }

/* A RIFF/RIFX WAVE file whose data chunk declares more bytes than follow it is truncated
 * (see the top of the file). Other content, and chunk structures libsndfile will judge
 * itself, pass. */
static dc_status wav_check(audio_src *s, const char *name) {
    unsigned char h[12];
    if (src_pread(s, 0, h, 12) != 12) return DC_OK;
    const bool le = memcmp(h, "RIFF", 4) == 0;
    if ((!le && memcmp(h, "RIFX", 4) != 0) || memcmp(h + 8, "WAVE", 4) != 0) return DC_OK;
    unsigned channels = 0, bits = 0, block = 0;
    sf_count_t off = 12;
    for (int i = 0; i < 4096 && off <= s->size - 8; i++) {
        unsigned char c[24];
        if (src_pread(s, off, c, 8) != 8) break;
        const uint32_t len = rd32(c + 4, le);
        if (memcmp(c, "fmt ", 4) == 0 && len >= 16 && src_pread(s, off + 8, c + 8, 16) == 16) {
            channels = rd16(c + 10, le);
            block = rd16(c + 20, le);
            bits = rd16(c + 22, le);
        }
        if (memcmp(c, "data", 4) == 0) {
            const sf_count_t avail = s->size - (off + 8);
            if ((sf_count_t)len <= avail || streaming_size(len)) return DC_OK;
            char frames[96] = "";
            if (block > 0 && channels > 0)
                snprintf(frames, sizeof frames, " (%llu frames of %u channel%s x %u bits)",
                         (unsigned long long)(len / block), channels, channels == 1 ? "" : "s", bits);
            return dc_error(DC_ERR_FORMAT,
                            "%s: truncated WAV: its data chunk (at byte %lld) declares %lu bytes%s, but only %lld "
                            "bytes follow its header in the %lld-byte file",
                            name, (long long)off, (unsigned long)len, frames, (long long)avail, (long long)s->size);
        }
        off += 8 + (sf_count_t)len + (len & 1);
    }
    return DC_OK;
}

/* "52 49 46 46 ..." of the first bytes, with their text when they are printable. */
static void first_bytes(audio_src *s, char *out, size_t outsz) {
    unsigned char h[12];
    size_t n = src_pread(s, 0, h, sizeof h), len = 0;
    bool text = n > 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && len < outsz; i++) {
        len += (size_t)snprintf(out + len, outsz - len, "%s%02x", i ? " " : "", h[i]);
        if (!isprint(h[i]) && !isspace(h[i])) text = false;
    }
    if (text && len < outsz) {
        len += (size_t)snprintf(out + len, outsz - len, " \"");
        for (size_t i = 0; i < n && len + 4 < outsz; i++) out[len++] = isprint(h[i]) ? (char)h[i] : ' ';
        snprintf(out + len, outsz - len, "\", text");
    }
}

/* Decodes the opened source into a mono dc_alloc'd *out of *n frames at *rate Hz. */
static dc_status decode(audio_src *s, const char *name, double max_seconds, float **out, int64_t *n, int64_t *rate) {
    *out = NULL;
    *n = 0;
    if (s->size == 0) return dc_error(DC_ERR_FORMAT, "%s: empty file (0 bytes), not a sound file", name);
    dc_status st = wav_check(s, name);
    if (st) return st;
    s->pos = 0;
    SF_VIRTUAL_IO vio = {vio_get_filelen, vio_seek, vio_read, vio_write, vio_tell};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open_virtual(&vio, SFM_READ, &info, s);
    if (!sf) {
        if (s->err) return dc_error(DC_ERR_IO, "%s: read error: %s", name, strerror(s->err));
        const char *why = sf_strerror(NULL);
        char head[96];
        first_bytes(s, head, sizeof head);
        unsigned char h[12];
        const size_t hn = src_pread(s, 0, h, sizeof h);
        if (hn >= 12 && (memcmp(h, "RIFF", 4) == 0 || memcmp(h, "RIFX", 4) == 0) && memcmp(h + 8, "WAVE", 4) == 0)
            return dc_error(DC_ERR_FORMAT, "%s: corrupt or truncated WAV (%lld bytes): libsndfile: %s", name,
                            (long long)s->size, why);
        return dc_error(DC_ERR_FORMAT, "%s: not a sound file libsndfile reads (%lld bytes, first bytes %s): %s", name,
                        (long long)s->size, head, why);
    }
    int64_t limit = DC_AUDIO_MAX_FRAMES;
    if (info.channels < 1) {
        st = dc_error(DC_ERR_FORMAT, "%s: declares %d channels", name, info.channels);
        goto done;
    }
    if (info.samplerate < 1 || info.samplerate > DC_AUDIO_MAX_RATE) {
        st = dc_error(DC_ERR_FORMAT, "%s: declares a sample rate of %d Hz, outside 1..%d", name, info.samplerate,
                      DC_AUDIO_MAX_RATE);
        goto done;
    }
    *rate = info.samplerate;
    const double max_frames = floor(max_seconds * info.samplerate);
    if (max_frames < (double)limit) limit = (int64_t)max_frames;
    const bool known = info.frames >= 0 && info.frames != SF_COUNT_MAX;
    if (known && info.frames > limit) {
        st = dc_error(DC_ERR_FORMAT,
                      "%s: declares %lld frames (%.1f s at %d Hz), over the limit of %lld frames (max_seconds %g, at "
                      "most 2^31 frames)",
                      name, (long long)info.frames, (double)info.frames / info.samplerate, info.samplerate,
                      (long long)limit, max_seconds);
        goto done;
    }
    /* interleaved chunks of at most 16 Ki samples (or the declared length), averaged into the
     * growing output */
    const int ch = info.channels;
    int64_t chunk = DC_MAX(1, 16384 / ch);
    if (known && info.frames + 1 < chunk) chunk = info.frames + 1;
    float *buf = dc_alloc((size_t)(chunk * ch) * sizeof(float));
    int64_t cap = known ? DC_MIN(DC_MAX(info.frames, 1), (int64_t)1 << 20) : 65536, total = 0;
    float *y = buf ? dc_alloc((size_t)cap * sizeof(float)) : NULL;
    if (!buf || !y) {
        dc_free(buf);
        dc_free(y);
        st = DC_ERR_NOMEM;
        goto done;
    }
    for (;;) {
        /* one frame past the limit finds a sound too long when the length is not declared */
        const int64_t want = DC_MIN(chunk, limit + 1 - total);
        const sf_count_t got = want > 0 ? sf_readf_float(sf, buf, want) : 0;
        if (got <= 0) break;
        if (total + got > limit) {
            st = dc_error(DC_ERR_FORMAT,
                          "%s: longer than the limit of %lld frames (%.1f s at %d Hz; max_seconds %g, at most 2^31 "
                          "frames)",
                          name, (long long)limit, (double)limit / info.samplerate, info.samplerate, max_seconds);
            break;
        }
        if (total + got > cap) {
            int64_t ncap = DC_MIN(DC_MAX(cap * 2, total + got), limit);
            float *more = dc_realloc(y, (size_t)ncap * sizeof(float));
            if (!more) {
                st = DC_ERR_NOMEM;
                break;
            }
            y = more;
            cap = ncap;
        }
        for (int64_t i = 0; i < got * ch; i++)
            if (!isfinite(buf[i])) {
                st = dc_error(DC_ERR_FORMAT, "%s: sample %lld (channel %lld of frame %lld) is %s", name,
                              (long long)(total * ch + i), (long long)(i % ch), (long long)(total + i / ch),
                              isnan(buf[i]) ? "NaN" : "infinite");
                break;
            }
        if (st) break;
        if (ch == 1)
            memcpy(y + total, buf, (size_t)got * sizeof(float));
        else
            for (int64_t f = 0; f < got; f++) {
                double sum = 0;
                for (int c = 0; c < ch; c++) sum += buf[f * ch + c];
                y[total + f] = (float)(sum / ch);
            }
        total += got;
    }
    dc_free(buf);
    if (!st && s->err) st = dc_error(DC_ERR_IO, "%s: read error after %lld frames: %s", name, (long long)total,
                                     strerror(s->err));
    if (!st && known && total < info.frames) {
        const int e = sf_error(sf);
        st = dc_error(DC_ERR_FORMAT, "%s: truncated or corrupt: declares %lld frames, %lld decoded%s%s", name,
                      (long long)info.frames, (long long)total, e ? ": libsndfile: " : "", e ? sf_strerror(sf) : "");
    }
    if (!st && total == 0) st = dc_error(DC_ERR_FORMAT, "%s: holds no samples (%lld bytes)", name, (long long)s->size);
    if (st) {
        dc_free(y);
        goto done;
    }
    *out = y;
    *n = total;
done:
    sf_close(sf);
    return st;
}

static dc_status check_opts(const dc_audio_opts *o, const char *name) {
    if (o->sample_rate < 0 || o->sample_rate > DC_AUDIO_MAX_RATE)
        return dc_error(DC_ERR_ARG, "%s: sample_rate must be 0 (keep the file's) or 1..%d Hz, got %lld", name,
                        DC_AUDIO_MAX_RATE, (long long)o->sample_rate);
    if (o->resample != DC_RESAMPLE_SINC && o->resample != DC_RESAMPLE_LINEAR)
        return dc_error(DC_ERR_ARG, "%s: unknown resample mode %d", name, (int)o->resample);
    if (!(o->max_seconds >= 0) || !isfinite(o->max_seconds))
        return dc_error(DC_ERR_ARG, "%s: max_seconds must be finite and >= 0 (0: %g s), got %g", name,
                        DC_AUDIO_DEFAULT_MAX_SECONDS, o->max_seconds);
    return DC_OK;
}

/* Decodes, resamples and wraps up the samples of an opened source. */
static dc_tensor *load(audio_src *s, const char *name, const dc_audio_opts *o, int64_t *sample_rate) {
    float *y = NULL;
    int64_t n = 0, rate = 0;
    const double max_seconds = o->max_seconds > 0 ? o->max_seconds : DC_AUDIO_DEFAULT_MAX_SECONDS;
    if (decode(s, name, max_seconds, &y, &n, &rate)) return NULL;
    if (o->sample_rate > 0 && o->sample_rate != rate) {
        float *r = NULL;
        int64_t rn = 0;
        dc_status st = dc_audio_resample_raw(y, n, rate, o->sample_rate, o->resample, name, &r, &rn);
        dc_free(y);
        if (st) return NULL;
        y = r;
        n = rn;
        rate = o->sample_rate;
    }
    dc_tensor *t = dc_tensor_from(1, &n, y);
    dc_free(y);
    if (t && sample_rate) *sample_rate = rate;
    return t;
}

dc_tensor *dc_audio_decode(const void *data, size_t size, const char *name, const dc_audio_opts *o,
                           int64_t *sample_rate) {
    if (!name) name = "(memory)";
    if (!data && size > 0) return dc_error_null(DC_ERR_ARG, "%s: data is NULL", name);
    dc_audio_opts def = dc_audio_defaults();
    if (!o) o = &def;
    if (check_opts(o, name)) return NULL;
    if (size > (size_t)INT64_MAX) return dc_error_null(DC_ERR_ARG, "%s: %zu bytes are too many", name, size);
    audio_src s = {.data = data ? data : (const unsigned char *)"", .size = (sf_count_t)size};
    return load(&s, name, o, sample_rate);
}

/* A whole stream that is no regular file (a pipe) in memory, at most 2^31 bytes. */
static dc_status slurp(FILE *f, const char *path, unsigned char **data, size_t *size) {
    size_t cap = 65536, len = 0;
    unsigned char *buf = dc_alloc(cap);
    if (!buf) return DC_ERR_NOMEM;
    for (;;) {
        if (len == cap) {
            if (cap >= ((size_t)1 << 31)) {
                dc_free(buf);
                return dc_error(DC_ERR_FORMAT, "%s: over 2^31 bytes read from a stream", path);
            }
            unsigned char *more = dc_realloc(buf, cap * 2);
            if (!more) {
                dc_free(buf);
                return DC_ERR_NOMEM;
            }
            buf = more;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                dc_free(buf);
                return dc_error(DC_ERR_IO, "%s: read error after %zu bytes: %s", path, len, strerror(errno));
            }
            break;
        }
    }
    *data = buf;
    *size = len;
    return DC_OK;
}

dc_tensor *dc_audio_load(const char *path, const dc_audio_opts *o, int64_t *sample_rate) {
    if (!path) return dc_error_null(DC_ERR_ARG, "audio load: path is NULL");
    dc_audio_opts def = dc_audio_defaults();
    if (!o) o = &def;
    if (check_opts(o, path)) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return dc_error_null(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return dc_error_null(DC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    dc_tensor *t = NULL;
    if (S_ISDIR(st.st_mode)) {
        dc_error(DC_ERR_IO, "%s: is a directory, not a sound file", path);
    } else if (S_ISREG(st.st_mode)) {
        audio_src s = {.f = f, .size = (sf_count_t)st.st_size};
        t = load(&s, path, o, sample_rate);
    } else {
        unsigned char *data = NULL;
        size_t size = 0;
        if (!slurp(f, path, &data, &size)) {
            audio_src s = {.data = data, .size = (sf_count_t)size};
            t = load(&s, path, o, sample_rate);
            dc_free(data);
        }
    }
    fclose(f);
    return t;
}

dc_tensor *dc_audio_resample(const dc_tensor *x, int64_t from_rate, int64_t to_rate, dc_resample_mode mode) {
    if (!x) return dc_error_null(DC_ERR_ARG, "audio resample: x is NULL");
    if (from_rate < 1 || from_rate > DC_AUDIO_MAX_RATE || to_rate < 1 || to_rate > DC_AUDIO_MAX_RATE)
        return dc_error_null(DC_ERR_ARG, "audio resample: rates must be 1..%d Hz, got %lld -> %lld", DC_AUDIO_MAX_RATE,
                             (long long)from_rate, (long long)to_rate);
    if (mode != DC_RESAMPLE_SINC && mode != DC_RESAMPLE_LINEAR)
        return dc_error_null(DC_ERR_ARG, "audio resample: unknown mode %d", (int)mode);
    if (x->ndim != 1 || x->shape[0] < 1)
        return dc_error_null(DC_ERR_SHAPE, "audio resample: x must be a non-empty [frames] signal, got %s",
                             dc_tshape(x, 0));
    dc_tensor *c = dc_tensor_clone(x);
    if (!c) return NULL;
    if (from_rate == to_rate) return c;
    float *r = NULL;
    int64_t rn = 0;
    dc_status st = dc_audio_resample_raw(c->data, c->shape[0], from_rate, to_rate, mode, "audio resample", &r, &rn);
    dc_tensor_free(c);
    if (st) return NULL;
    dc_tensor *t = dc_tensor_from(1, &rn, r);
    dc_free(r);
    return t;
}
