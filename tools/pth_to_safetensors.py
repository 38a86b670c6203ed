#!/usr/bin/python3
"""Convert a PyTorch state-dict file (.pth), for example torchvision's ImageNet ResNet-50 weights, into a
gazeloc checkpoint: a safetensors file with the same tensor names, float32 (int64 for BN's
num_batches_tracked), laid out in name order, with `gazeloc.checksum` = XXH3-64 of the tensor bytes.

    /usr/bin/python3 tools/pth_to_safetensors.py resnet50-0676ba61.pth resnet50.safetensors

Uses Debian's python3-torch and python3-xxhash; writes atomically (temporary file, fsync, rename).
"""
import json
import os
import struct
import sys
import tempfile

import torch
import xxhash

DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.float64: "F64"}


def convert(state):
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    header, blobs, off = {}, [], 0
    for name in sorted(state):
        t = state[name]
        if not torch.is_tensor(t):
            raise SystemExit(f"pth_to_safetensors: error: entry '{name}' is not a tensor")
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        if t.dtype not in DTYPES:
            raise SystemExit(f"pth_to_safetensors: error: tensor '{name}' has unsupported dtype {t.dtype}")
        b = t.detach().cpu().contiguous().numpy().tobytes()  # little-endian host, checked in main()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    data = b"".join(blobs)
    header["__metadata__"] = {"gazeloc.checksum": xxhash.xxh3_64_hexdigest(data), "gazeloc.source": "pth"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    if sys.byteorder != "little":
        raise SystemExit("pth_to_safetensors: error: safetensors is little-endian; run this on a little-endian host")
    src, dst = sys.argv[1], sys.argv[2]
    out = convert(torch.load(src, map_location="cpu"))
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(dst)), prefix=".tmp.")
    with os.fdopen(fd, "wb") as f:
        f.write(out)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dst)


if __name__ == "__main__":
    main()
