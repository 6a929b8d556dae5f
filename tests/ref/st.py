"""Minimal safetensors reader/writer in pure Python (struct + json + numpy/torch), no extra package.

Layout: 8-byte little-endian header length, JSON header ("__metadata__" first, then each tensor's
dtype, shape and data_offsets), padded with spaces so the data starts 8-byte aligned, then the
tensors' little-endian bytes back to back in the given order.
"""
import json
import struct

import numpy as np
import torch

_NUMPY = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
_TORCH = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
          torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32", torch.int16: "I16",
          torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


def _tensor_bytes(t):
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def save(path, tensors, metadata=None):
    """tensors: ordered dict name -> torch.Tensor; metadata: dict str -> str (or None)."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, t in tensors.items():
        data = _tensor_bytes(t)
        header[name] = {"dtype": _TORCH[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load(path):
    """Returns (dict name -> torch.Tensor in data order, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    data = raw[8 + n:]
    out = {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = info["data_offsets"]
        shape = tuple(info["shape"])
        if info["dtype"] == "BF16":
            arr = np.frombuffer(data[b:e], dtype=np.int16).copy()
            t = torch.from_numpy(arr).view(torch.bfloat16).reshape(shape)
        else:
            arr = np.frombuffer(data[b:e], dtype=_NUMPY[info["dtype"]]).copy()
            t = torch.from_numpy(arr).reshape(shape)
        out[name] = t
    return out, meta
