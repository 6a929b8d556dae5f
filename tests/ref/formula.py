"""Deterministic tensors both PyTorch and C can compute bit-exactly (no libm involved).

For stream s (an integer tag) and element i (0 <= i < 2^32):
    z = splitmix64_mix((s << 32 | i) + 0x9E3779B97F4A7C15)   (uint64, wrapping)
    u = (z >> 40) * 2^-24                                      (exact, in [0, 1))
Parameters of a layer with fan_in F: w = float32((2u - 1) * (g / sqrt(F))) computed in float64,
with g = 2 for weights (twice PyTorch's default range, so different images give clearly different
embeddings) and g = 1 for biases; images: x = float32(u). tests/test_parity.c has the C twin.
"""
import numpy as np
import torch

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)


def uniform01(stream, n):
    """float64 array of n values u in [0, 1) (each exactly representable in float32)."""
    out = np.empty(n, dtype=np.float64)
    chunk = 1 << 22
    with np.errstate(over="ignore"):
        for start in range(0, n, chunk):
            i = np.arange(start, min(n, start + chunk), dtype=np.uint64)
            z = (np.uint64(stream) << np.uint64(32)) | i
            z = z + GOLDEN
            z = (z ^ (z >> np.uint64(30))) * M1
            z = (z ^ (z >> np.uint64(27))) * M2
            z = z ^ (z >> np.uint64(31))
            out[start:start + len(i)] = (z >> np.uint64(40)).astype(np.float64) * (2.0 ** -24)
    return out


def weights(stream, shape, fan_in, gain=1.0):
    n = int(np.prod(shape))
    u = uniform01(stream, n)
    bound = gain / np.sqrt(np.float64(fan_in))
    return torch.from_numpy(((2.0 * u - 1.0) * bound).astype(np.float32).reshape(shape))


def images(stream, shape):
    n = int(np.prod(shape))
    return torch.from_numpy(uniform01(stream, n).astype(np.float32).reshape(shape))


def fill_model(model):
    """Fills every parameter of model: tensor number t of the state_dict uses stream t + 1,
    with the fan_in of its layer (weight.shape[1:] product); weights get gain 2, biases 1."""
    sd = model.state_dict()
    names = list(sd.keys())
    new = {}
    for t, name in enumerate(names):
        layer = name.rsplit(".", 1)[0]
        w = sd[layer + ".weight"]
        fan_in = int(np.prod(w.shape[1:]))
        gain = 2.0 if name.endswith(".weight") else 1.0
        new[name] = weights(t + 1, tuple(sd[name].shape), fan_in, gain)
    model.load_state_dict(new, strict=True)
    return names
