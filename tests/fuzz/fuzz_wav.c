/* Sound files under libFuzzer: libsndfile's readers behind deepc's virtual I/O (from memory
 * through dc_audio_decode, and through an open file with dc_audio_load on every fourth input),
 * the WAV chunk walk that refuses truncated files, the length limits checked before
 * allocating (a header claiming hours of sound must fail without allocating them;
 * scripts/fuzz.sh runs with -malloc_limit_mb), the mixdown and the resampler, whose options
 * follow the input's size so that every path is taken. Every answer is a 1-D tensor of finite
 * samples at the asked rate, or NULL with a message naming the file; a short answer's log-mel
 * spectrogram is computed and must be finite too. */
#include "fuzz_file.h"

#include <deepc.h>
#include <math.h>
#include <string.h>

/* The codec libraries libsndfile calls leak on some corrupt files (libvorbis's
 * vorbis_info_init on a broken Ogg Vorbis header: xiph/vorbis#125; the same in libsndfile's
 * own tests, libsndfile#922): their allocations are not deepc's to free. Leaks whose stack
 * passes through them are suppressed (LeakSanitizer's hook); any other leak, libsndfile's
 * handles included, still fails the run. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libvorbis.so\nleak:libvorbisenc.so\nleak:libogg.so\nleak:libFLAC.so\nleak:libopus.so\n"
           "leak:libmpg123.so\nleak:libmp3lame.so\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* Streams of the codec libraries (Ogg Vorbis and Opus, FLAC, MPEG with or without an ID3
     * tag) spend each run setting up their decoders (libvorbis's codebooks, libFLAC's large
     * buffers), which is those libraries' code, not deepc's, and would slow the target far
     * below its floor: they are left to the libraries' own fuzzing. deepc reads them through
     * the same virtual I/O as the WAV, AIFF, AU, CAF, W64 and RF64 files fuzzed here (and
     * test_audio reads a FLAC file). */
    if (size >= 4 && (memcmp(data, "OggS", 4) == 0 || memcmp(data, "fLaC", 4) == 0 || memcmp(data, "ID3", 3) == 0 ||
                      (data[0] == 0xff && (data[1] & 0xe0) == 0xe0)))
        return 0;
    dc_audio_opts o = dc_audio_defaults();
    /* at most half a second at the file's rate keeps a run short */
    o.max_seconds = 0.5;
    if (size % 3 == 1) o.sample_rate = 16000;
    if (size % 3 == 2) o.sample_rate = 11025;
    o.resample = size % 2 ? DC_RESAMPLE_LINEAR : DC_RESAMPLE_SINC;
    const bool from_file = size % 4 == 0;
    const char *name = from_file ? fuzz_file(data, size, "wav") : "input.wav";
    dc_clear_error();
    int64_t rate = -1;
    dc_tensor *t = from_file ? dc_audio_load(name, &o, &rate) : dc_audio_decode(data, size, name, &o, &rate);
    if (!t) {
        if (strncmp(dc_last_error(), name, strlen(name)) != 0) abort();
        return 0;
    }
    if (dc_tensor_ndim(t) != 1 || dc_tensor_dim(t, 0) < 1) abort();
    if (rate < 1 || rate > 768000 || (o.sample_rate && rate != o.sample_rate)) abort();
    const float *v = dc_tensor_data(t);
    const int64_t n = dc_tensor_dim(t, 0);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) abort();
    if (n <= 4096) {
        dc_mel_opts m = dc_mel_defaults();
        m.sample_rate = rate;
        m.n_fft = 64;
        m.n_mels = 8;
        m.pad_mode = DC_STFT_PAD_ZERO;
        dc_tensor *s = dc_log_mel(t, &m);
        /* samples of any size (float files are not clipped) may overflow the power to Inf */
        if (!s && dc_last_status() != DC_ERR_ARG) abort();
        dc_tensor_free(s);
    }
    dc_tensor_free(t);
    return 0;
}
