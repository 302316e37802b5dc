#!/usr/bin/python3
"""Writes the golden vectors of deepc's audio front end (src/data/audio*.c), which
tests/test_audio.c checks dc_log_mel, dc_mel_filterbank and dc_audio_resample against.

Usage: /usr/bin/python3 scripts/golden/gen_golden_audio.py [OUT_DIR]   (default tests/golden/audio).
Needs python3-numpy. When torchaudio imports (Debian's python3-torchaudio), every case is also
computed by torchaudio (transforms.MelSpectrogram, functional.melscale_fbanks,
functional.resample) and must agree with the NumPy reference, or the script fails.

The references are NumPy transcriptions in float64 of what torchaudio 0.13 computes:
  - mel_*: torch.stft(x, n_fft, hop, win_length, window (periodic, zero-padded to n_fft in the
    middle), center, pad_mode, onesided) -> |X|^power -> melscale_fbanks(n_fft // 2 + 1, f_min,
    f_max, n_mels, sample_rate, norm, mel_scale) -> log(mel + log_offset) (or the mel energies
    when log is 0). Stored: cfg, the signal x (float32 values), fb [n_freqs, n_mels] and
    y [frames, n_mels].
    cfg = [sample_rate, n_fft, win_length, hop_length, n_mels, f_min, f_max, window (0 Hann,
    1 Hamming, 2 rectangular), center, pad_mode (0 reflect, 1 zeros), power, mel_scale (0 HTK,
    1 Slaney), slaney_norm, log, log_offset].
  - resample_*: functional.resample(x, from, to) with its defaults (sinc_interp_hann,
    lowpass_filter_width 6, rolloff 0.99), written per output sample; where the kernel matrix
    torchaudio convolves with is small enough, also in torchaudio's own form (and by torchaudio)
    and checked to agree. Stored: cfg = [from, to, output length], x, and
    y at the output indices idx (all of them, or every 50th for long outputs).
Signals: seeded uniform or normal noise and linear chirps (float32). Each case has its own
seed (crc32 of its name); running the script again gives byte-identical files.
"""

import math
import os
import sys
import zlib

import numpy as np

try:
    import torch
    import torchaudio

    HAVE_TA = True
except ImportError:  # the NumPy reference alone
    HAVE_TA = False


def fmt(a):
    return " ".join("%.9g" % v for v in np.asarray(a, dtype=np.float64).reshape(-1))


def write_case(out_dir, name, what, tensors):
    lines = ["# deepc golden audio case %s: %s" % (name, what),
             "# made by scripts/golden/gen_golden_audio.py with NumPy %s%s" %
             (np.__version__, ", checked against torchaudio %s" % torchaudio.__version__ if HAVE_TA else "")]
    for tname, a in tensors:
        a = np.asarray(a)
        shape = list(a.shape) if a.ndim > 0 else [1]
        lines.append("%s %d %s" % (tname, len(shape), " ".join(str(d) for d in shape)))
        lines.append(fmt(a))
    path = os.path.join(out_dir, name + ".txt")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


def rng_for(name):
    return np.random.default_rng(zlib.crc32(name.encode("ascii")))


def chirp(n, sr, f0, f1, amp):
    t = np.arange(n) / sr
    T = n / sr
    phase = 2 * math.pi * (f0 * t + (f1 - f0) / (2 * T) * t * t)
    return (amp * np.sin(phase)).astype(np.float32)


# ---- mel spectrograms -------------------------------------------------------------------------

def hz_to_mel(f, scale):
    if scale == 0:
        return 2595.0 * math.log10(1.0 + f / 700.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return min_log_mel + math.log(f / min_log_hz) / logstep if f >= min_log_hz else f / f_sp


def mel_to_hz(m, scale):
    m = np.asarray(m, dtype=np.float64)
    if scale == 0:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def fbanks(n_freqs, f_min, f_max, n_mels, sr, norm, scale):
    all_freqs = np.linspace(0, sr // 2, n_freqs)
    m_pts = np.linspace(hz_to_mel(f_min, scale), hz_to_mel(f_max, scale), n_mels + 2)
    f_pts = mel_to_hz(m_pts, scale)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    fb = np.maximum(0.0, np.minimum(down, up))
    if norm:
        fb *= (2.0 / (f_pts[2:n_mels + 2] - f_pts[:n_mels]))[None, :]
    return fb


def window(kind, n):
    a = 2 * math.pi * np.arange(n) / n
    return [0.5 - 0.5 * np.cos(a), 0.54 - 0.46 * np.cos(a), np.ones(n)][kind]


def mel_numpy(x, c):
    sr, n_fft, win, hop, n_mels, f_min, f_max, wkind, center, pad_mode, power, scale, norm, log, eps = c
    x = x.astype(np.float64)
    if center:
        p = n_fft // 2
        x = np.pad(x, (p, p), mode="reflect" if pad_mode == 0 else "constant")
    w = np.zeros(n_fft)
    left = (n_fft - win) // 2
    w[left:left + win] = window(wkind, win)
    frames = 1 + (len(x) - n_fft) // hop
    idx = np.arange(frames)[:, None] * hop + np.arange(n_fft)[None, :]
    spec = np.abs(np.fft.rfft(x[idx] * w[None, :], axis=1)) ** power
    fb = fbanks(n_fft // 2 + 1, f_min, f_max, n_mels, sr, norm, scale)
    mel = spec @ fb
    return fb, (np.log(mel + eps) if log else mel)


def mel_torchaudio(x, c):
    sr, n_fft, win, hop, n_mels, f_min, f_max, wkind, center, pad_mode, power, scale, norm, log, eps = c
    wfn = [torch.hann_window, torch.hamming_window, torch.ones][wkind]
    t = torchaudio.transforms.MelSpectrogram(
        sample_rate=sr, n_fft=n_fft, win_length=win, hop_length=hop, f_min=f_min, f_max=f_max,
        n_mels=n_mels, window_fn=wfn, power=power, center=bool(center),
        pad_mode="reflect" if pad_mode == 0 else "constant", norm="slaney" if norm else None,
        mel_scale="slaney" if scale else "htk").double()
    mel = t(torch.from_numpy(x.astype(np.float64))).T.numpy()
    fb = t.mel_scale.fb.numpy()
    return fb, (np.log(mel + eps) if log else mel)


def mel_case(out_dir, name, what, x, cfg):
    fb, y = mel_numpy(x, cfg)
    if HAVE_TA:
        tfb, ty = mel_torchaudio(x, cfg)
        err_fb = np.max(np.abs(tfb - fb))
        err_y = np.max(np.abs(ty - y) / (1e-3 + np.abs(y)))
        # torchaudio makes its filter bank in float32 (then .double()): it differs in the 6th digit
        if err_fb > 1e-5 or err_y > 1e-4:
            sys.exit("%s: NumPy and torchaudio disagree: filter bank %g, output %g" % (name, err_fb, err_y))
        print("%s: torchaudio agrees: filter bank to %.1e, output to %.1e (relative)" % (name, err_fb, err_y))
    write_case(out_dir, name, what, [("cfg", np.array(cfg, dtype=np.float64)), ("x", x), ("fb", fb), ("y", y)])


# ---- resampling -------------------------------------------------------------------------------

def resample_numpy(x, orig, new, lpw=6, rolloff=0.99):
    g = math.gcd(orig, new)
    o, p = orig // g, new // g
    base = min(o, p) * rolloff
    width = math.ceil(lpw * o / base)
    idx = np.arange(-width, width + o, dtype=np.float64)[None, :] / o
    t = np.arange(0, -p, -1, dtype=np.float64)[:, None] / p + idx
    t *= base
    t = np.clip(t, -lpw, lpw)
    win = np.cos(t * math.pi / lpw / 2) ** 2
    t *= math.pi
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(t == 0, 1.0, np.sin(t) / t)
    k *= win * base / o  # [p, 2 width + o]
    n = len(x)
    xp = np.pad(x.astype(np.float64), (width, width + o))
    blocks = (len(xp) - k.shape[1]) // o + 1
    frames = xp[np.arange(blocks)[:, None] * o + np.arange(k.shape[1])[None, :]]
    y = (frames @ k.T).reshape(-1)
    return y[:int(math.ceil(p * n / o))]


def resample_direct(x, orig, new, lpw=6, rolloff=0.99):
    """The same sum written per output: y[j] = sum_m x[m] w(m / o - j / p), for rates whose
    kernel matrix [p, 2 width + o] would not fit in memory (nearly coprime rates)."""
    g = math.gcd(orig, new)
    o, p = orig // g, new // g
    base = min(o, p) * rolloff
    width = math.ceil(lpw * o / base)
    n = len(x)
    m_out = int(math.ceil(p * n / o))
    j = np.arange(m_out)
    q, k = j // p, j % p
    lo = k * o // p - width
    r = lo[:, None] + np.arange(2 * width + 2)[None, :]
    t = (r / o - k[:, None] / p) * base
    t = np.clip(t, -lpw, lpw)
    win = np.cos(t * math.pi / lpw / 2) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(t == 0, 1.0, np.sin(math.pi * t) / (math.pi * t))
    w *= win * base / o
    m = q[:, None] * o + r
    xs = np.where((m >= 0) & (m < n), x.astype(np.float64)[np.clip(m, 0, n - 1)], 0.0)
    return (w * xs).sum(axis=1)


def kernel_size(orig, new):
    g = math.gcd(orig, new)
    o, p = orig // g, new // g
    return p * (2 * math.ceil(6 * o / (min(o, p) * 0.99)) + o)


def resample_case(out_dir, name, what, x, orig, new, step=1):
    y = resample_direct(x, orig, new)
    if kernel_size(orig, new) <= 4 << 20:
        conv = resample_numpy(x, orig, new)
        if conv.shape != y.shape or np.max(np.abs(conv - y)) > 1e-9:
            sys.exit("%s: the two NumPy forms disagree" % name)
        if HAVE_TA:
            ty = torchaudio.functional.resample(torch.from_numpy(x.astype(np.float64)), orig, new).numpy()
            err = np.max(np.abs(ty - y)) if ty.shape == y.shape else float("inf")
            if err > 1e-6:
                sys.exit("%s: NumPy and torchaudio disagree: shapes %s %s, difference %g" % (name, ty.shape, y.shape, err))
            print("%s: torchaudio agrees to %.1e" % (name, err))
    idx = np.arange(0, len(y), step)
    if idx[-1] != len(y) - 1:
        idx = np.append(idx, len(y) - 1)
    write_case(out_dir, name, what, [("cfg", np.array([orig, new, len(y)], dtype=np.float64)), ("x", x),
                                     ("idx", idx), ("y", y[idx])])


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/audio"
    os.makedirs(out_dir, exist_ok=True)

    name = "mel_random_default"
    x = rng_for(name).uniform(-1, 1, 4000).astype(np.float32)
    mel_case(out_dir, name, "uniform noise, torchaudio's defaults but 40 mels, log(mel + 1e-6)", x,
             [16000, 400, 400, 200, 40, 0.0, 8000.0, 0, 1, 0, 2.0, 0, 0, 1, 1e-6])

    name = "mel_chirp_slaney"
    x = chirp(6000, 16000, 100.0, 7000.0, 0.5)
    mel_case(out_dir, name, "chirp 100 -> 7000 Hz, window 400 in n_fft 512, Slaney scale and norm", x,
             [16000, 512, 400, 160, 64, 20.0, 7600.0, 0, 1, 0, 2.0, 1, 1, 1, 1e-6])

    name = "mel_random_hamming_zero_pad_power1"
    x = (0.3 * rng_for(name).standard_normal(3000)).astype(np.float32)
    mel_case(out_dir, name, "normal noise, Hamming, centred with zeros, magnitude (power 1)", x,
             [22050, 256, 256, 100, 32, 50.0, 11025.0, 1, 1, 1, 1.0, 0, 0, 1, 1e-5])

    name = "mel_chirp_no_center_rect_nolog"
    x = chirp(2000, 8000, 3000.0, 200.0, 0.8)
    mel_case(out_dir, name, "falling chirp, not centred, rectangular window 160 in 200, mel energies", x,
             [8000, 200, 160, 80, 24, 0.0, 4000.0, 2, 0, 0, 2.0, 0, 0, 0, 1e-6])

    name = "mel_odd_nfft"
    x = rng_for(name).uniform(-0.5, 0.5, 1500).astype(np.float32)
    mel_case(out_dir, name, "uniform noise, odd n_fft 255, hop 64, Slaney scale without norm", x,
             [11025, 255, 255, 64, 20, 0.0, 5512.0, 0, 1, 0, 2.0, 1, 0, 1, 1e-6])

    name = "resample_22050_16000"
    x = rng_for(name).uniform(-1, 1, 2205).astype(np.float32)
    resample_case(out_dir, name, "uniform noise 22050 -> 16000 Hz", x, 22050, 16000)

    name = "resample_8000_11025"
    resample_case(out_dir, name, "chirp 8000 -> 11025 Hz", chirp(800, 8000, 50.0, 3900.0, 0.9), 8000, 11025)

    name = "resample_48000_16000"
    x = rng_for(name).uniform(-1, 1, 1200).astype(np.float32)
    resample_case(out_dir, name, "uniform noise 48000 -> 16000 Hz", x, 48000, 16000)

    name = "resample_44100_22051"
    x = rng_for(name).uniform(-1, 1, 900).astype(np.float32)
    resample_case(out_dir, name, "uniform noise 44100 -> 22051 Hz (coprime rates)", x, 44100, 22051)

    name = "resample_1000_767999"
    x = chirp(60, 1000, 10.0, 450.0, 0.7)
    resample_case(out_dir, name, "chirp 1000 -> 767999 Hz (a table too big to keep), every 50th output",
                  x, 1000, 767999, step=50)

    print("gen_golden_audio: wrote %s%s" % (out_dir, " (checked against torchaudio)" if HAVE_TA else ""))


if __name__ == "__main__":
    main()
