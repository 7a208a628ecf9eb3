"""Read and write the safetensors container format with torch only.

Layout (https://github.com/huggingface/safetensors, format section of its README):

    bytes 0..8        little-endian u64 N, the header length
    bytes 8..8+N      UTF-8 JSON object: name -> {"dtype", "shape", "data_offsets": [begin, end]},
                      plus an optional "__metadata__" object of string -> string
    bytes 8+N..       the data buffer; offsets are relative to its first byte

The writer follows the reference serializer (safetensors/src/tensor.rs, `prepare`): tensors are
laid out back to back with no gaps, ordered by descending dtype rank (the order of the reference's
`Dtype` enum) and then by name, so a file with a single dtype is simply sorted by name; the header is
compact JSON with "__metadata__" first and the tensors in data order, padded with spaces to a multiple
of 8 bytes so every tensor starts 8-byte aligned.

The reader checks everything a file could get wrong before it trusts it (header size, JSON shape,
known dtypes, offsets inside the buffer, byte counts matching the shapes, no overlaps or holes), as the
reference `SafeTensors::deserialize` / `Metadata::validate` do.
"""

import json
import math
import struct
import sys

import torch

# name -> (torch dtype, element size in bytes, rank in the reference Dtype enum).
# The rank only orders tensors in a written file (higher first); values follow the enum order
# BOOL < U8 < I8 < I16 < F16 < BF16 < I32 < F32 < F64 < I64 (unsupported entries left out).
DTYPES = {
    "BOOL": (torch.bool, 1, 0),
    "U8": (torch.uint8, 1, 1),
    "I8": (torch.int8, 1, 2),
    "I16": (torch.int16, 2, 3),
    "F16": (torch.float16, 2, 4),
    "BF16": (torch.bfloat16, 2, 5),
    "I32": (torch.int32, 4, 6),
    "F32": (torch.float32, 4, 7),
    "F64": (torch.float64, 8, 8),
    "I64": (torch.int64, 8, 9),
}
TORCH_TO_NAME = {torch_dtype: name for name, (torch_dtype, _, _) in DTYPES.items()}

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the reference reader's cap

if sys.byteorder != "little":
    raise RuntimeError("safetensors_io assumes a little-endian host")


def _tensor_bytes(tensor):
    """Raw little-endian bytes of a tensor in C order."""
    flat = tensor.detach().to("cpu").contiguous().reshape(-1)
    if flat.numel() == 0:
        return b""
    if flat.dtype == torch.bool:
        flat = flat.to(torch.uint8)
    # Reinterpret the storage as bytes (numpy has no bfloat16, so view before converting).
    return flat.view(torch.uint8).numpy().tobytes()


def serialize(tensors, metadata=None):
    """Return the bytes of a safetensors file holding `tensors` (name -> tensor)."""
    if metadata is not None:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError("__metadata__ must map strings to strings")
    entries = []
    for name, tensor in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"bad tensor name {name!r}")
        if tensor.dtype not in TORCH_TO_NAME:
            raise TypeError(f"{name}: dtype {tensor.dtype} is not supported")
        entries.append((name, tensor))
    entries.sort(key=lambda item: (-DTYPES[TORCH_TO_NAME[item[1].dtype]][2], item[0]))

    header = {}
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name, tensor in entries:
        data = _tensor_bytes(tensor)
        header[name] = {
            "dtype": TORCH_TO_NAME[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)

    header_bytes = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    header_bytes += b" " * ((-len(header_bytes)) % 8)
    return struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(chunks)


def save_file(tensors, path, metadata=None):
    """Write `tensors` (name -> tensor) to `path`; returns the number of bytes written."""
    data = serialize(tensors, metadata)
    with open(path, "wb") as handle:
        handle.write(data)
    return len(data)


def parse_header(buffer):
    """Validate the header of a safetensors file; return (entries, metadata, data_start).

    entries: list of (name, dtype_name, shape, begin, end), ordered by begin.
    """
    if len(buffer) < 8:
        raise ValueError("file shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", buffer[:8])
    if header_len > MAX_HEADER_BYTES:
        raise ValueError(f"header length {header_len} exceeds the {MAX_HEADER_BYTES}-byte cap")
    if 8 + header_len > len(buffer):
        raise ValueError("header runs past the end of the file")
    try:
        header = json.loads(bytes(buffer[8 : 8 + header_len]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"header is not valid UTF-8 JSON: {error}") from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")

    metadata = header.pop("__metadata__", None)
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise ValueError("__metadata__ must be an object of strings")

    data_start = 8 + header_len
    data_len = len(buffer) - data_start
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{name}: entry must have exactly dtype, shape, data_offsets")
        dtype_name = info["dtype"]
        if dtype_name not in DTYPES:
            raise ValueError(f"{name}: unknown dtype {dtype_name!r}")
        shape = info["shape"]
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ValueError(f"{name}: shape must be a list of non-negative integers")
        offsets = info["data_offsets"]
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and o >= 0 for o in offsets)
        ):
            raise ValueError(f"{name}: data_offsets must be two non-negative integers")
        begin, end = offsets
        if not begin <= end <= data_len:
            raise ValueError(f"{name}: data_offsets [{begin}, {end}] outside the {data_len}-byte buffer")
        expected = math.prod(shape) * DTYPES[dtype_name][1]
        if end - begin != expected:
            raise ValueError(f"{name}: {end - begin} bytes for shape {shape} {dtype_name}, expected {expected}")
        entries.append((name, dtype_name, shape, begin, end))

    entries.sort(key=lambda entry: (entry[3], entry[4]))
    cursor = 0
    for name, _, _, begin, end in entries:
        if begin != cursor:
            raise ValueError(f"{name}: starts at {begin}, expected {cursor} (overlap or hole in the buffer)")
        cursor = end
    if cursor != data_len:
        raise ValueError(f"tensors cover {cursor} bytes of a {data_len}-byte buffer")
    return entries, metadata, data_start


def deserialize(buffer):
    """Parse safetensors bytes; return (tensors, metadata). Tensors own their memory."""
    entries, metadata, data_start = parse_header(buffer)
    tensors = {}
    for name, dtype_name, shape, begin, end in entries:
        torch_dtype = DTYPES[dtype_name][0]
        if end == begin:
            tensors[name] = torch.empty(shape, dtype=torch_dtype)
            continue
        raw = bytearray(buffer[data_start + begin : data_start + end])
        if torch_dtype == torch.bool:
            tensor = torch.frombuffer(raw, dtype=torch.uint8).to(torch.bool)
        else:
            tensor = torch.frombuffer(raw, dtype=torch_dtype)
        tensors[name] = tensor.reshape(shape).clone()
    return tensors, metadata


def load_file(path):
    """Read a safetensors file; return (tensors, metadata)."""
    with open(path, "rb") as handle:
        return deserialize(handle.read())
