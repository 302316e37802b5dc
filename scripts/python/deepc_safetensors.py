"""Reads and writes safetensors files with NumPy alone, for moving weights between deepc and
Python (PyTorch, JAX, Keras) on machines without the `safetensors` package.

    from deepc_safetensors import save_file, load_file
    save_file({k: v.numpy() for k, v in torch_model.state_dict().items()}, "net.safetensors")
    weights = load_file("model.safetensors")           # {name: np.ndarray}
    meta = load_metadata("model.safetensors")          # {"deepc.model": "...json..."}

The layout is the format's public one: an 8-byte little-endian header size, a JSON header
{name: {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}}, then the data,
little-endian and C order. bfloat16 has no NumPy dtype: it loads as float32.
"""
import json
import struct

import numpy as np

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
           "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}
_NAMES = {np.dtype(v).str.lstrip("<|"): k for k, v in _DTYPES.items()}


def save_file(tensors, path, metadata=None):
    """Writes {name: array} (any dtype above; float arrays stay as they are) to path."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        dtype = _NAMES.get(a.dtype.str.lstrip("<|"))
        if dtype is None:
            raise ValueError(f"{name}: dtype {a.dtype} has no safetensors name")
        raw = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for raw in blobs:
            f.write(raw)


def _read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ValueError(f"{path}: header size {n} runs past the end of the file")
    return json.loads(blob[8:8 + n]), memoryview(blob)[8 + n:]


def load_file(path):
    """{name: np.ndarray} of every tensor (BF16 converted to float32)."""
    header, data = _read(path)
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = data[b:end]
        if e["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            a = np.frombuffer(raw, _DTYPES[e["dtype"]])
        out[name] = a.reshape(e["shape"]).copy()
    return out


def load_metadata(path):
    """The "__metadata__" map ({} if none); deepc keeps its architecture under "deepc.model"."""
    return _read(path)[0].get("__metadata__", {})
