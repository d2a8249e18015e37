"""A minimal PLY reader and writer (ascii, binary little/big endian) on NumPy arrays.

Enough for the benchmark files: KITTI-360 windows (vertex element with scalar fields)
and ScanNet meshes (vertex element plus a face element with a `list uchar int` field).
An element is returned as a dict of field name -> array: scalar fields are 1-D, list
fields 2-D when every list has the same length (triangles), else an object array.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clickenhance_model.errors import DatasetError

PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}  # fmt: skip
NUMPY_TO_PLY = {"i1": "char", "u1": "uchar", "i2": "short", "u2": "ushort",
                "i4": "int", "u4": "uint", "f4": "float", "f8": "double"}  # fmt: skip
FORMATS = {"ascii": "", "binary_little_endian": "<", "binary_big_endian": ">"}


@dataclass(frozen=True)
class PlyProperty:
    """One property of an element: its type, or for a list its count and item types."""

    name: str
    dtype: str  # numpy type code without byte order, e.g. "f4"
    count_dtype: str | None = None  # set for list properties


@dataclass(frozen=True)
class PlyElement:
    """An element declared in the header: name, number of rows and properties."""

    name: str
    count: int
    properties: tuple[PlyProperty, ...]


def read_ply(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Read every element of a PLY file into {element: {property: array}}.

    Raises DatasetError naming the file for a malformed header or truncated body.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DatasetError(f"{path}: cannot read PLY file ({error.strerror})") from error
    fmt, elements, body_start = _parse_header(data, path)
    if fmt == "ascii":
        return _read_ascii(data[body_start:], elements, path)
    return _read_binary(data, body_start, elements, FORMATS[fmt], path)


def _parse_header(data: bytes, path: Path) -> tuple[str, list[PlyElement], int]:
    """Parse the header; return format name, elements and the offset of the body."""
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise DatasetError(f"{path}: not a PLY file (missing 'ply' magic or 'end_header')")
    newline = data.find(b"\n", end)
    body_start = len(data) if newline < 0 else newline + 1
    fmt = None
    elements: list[tuple[str, int, list[PlyProperty]]] = []
    for line in data[:end].decode("ascii", errors="replace").splitlines()[1:]:
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format" and len(words) >= 2 and words[1] in FORMATS:
            fmt = words[1]
        elif words[0] == "element" and len(words) == 3 and words[2].isdigit():
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property" and elements and _property(words) is not None:
            elements[-1][2].append(_property(words))
        else:
            raise DatasetError(f"{path}: unsupported PLY header line {line.strip()!r}")
    if fmt is None:
        raise DatasetError(f"{path}: PLY header has no supported 'format' line")
    return fmt, [PlyElement(n, c, tuple(p)) for n, c, p in elements], body_start


def _property(words: list[str]) -> PlyProperty | None:
    """PlyProperty from a split 'property ...' header line, None if malformed."""
    if len(words) == 3 and words[1] in PLY_TYPES:
        return PlyProperty(words[2], PLY_TYPES[words[1]])
    if len(words) == 5 and words[1] == "list" and words[2] in PLY_TYPES and words[3] in PLY_TYPES:
        return PlyProperty(words[4], PLY_TYPES[words[3]], PLY_TYPES[words[2]])
    return None


def _read_binary(
    data: bytes, offset: int, elements: list[PlyElement], order: str, path: Path
) -> dict[str, dict[str, np.ndarray]]:
    """Read binary elements, each in one structured view when its lists have a fixed length."""
    result: dict[str, dict[str, np.ndarray]] = {}
    for element in elements:
        arrays, end = _read_binary_fixed(data, offset, element, order, path)
        if arrays is None:
            arrays, end = _read_binary_rows(data, offset, element, order, path)
        result[element.name] = arrays
        offset = end
    return result


def _read_binary_fixed(
    data: bytes, offset: int, element: PlyElement, order: str, path: Path
) -> tuple[dict[str, np.ndarray] | None, int]:
    """Read an element as one structured array; None if its lists vary in length."""
    fixed = _fixed_list_lengths(data, offset, element, order)
    if fixed is None:
        return None, offset
    fields = []
    for prop in element.properties:
        if prop.count_dtype is None:
            fields.append((prop.name, order + prop.dtype))
        else:
            fields.append((_count_field(prop.name), order + prop.count_dtype))
            fields.append((prop.name, order + prop.dtype, (fixed[prop.name],)))
    dtype = np.dtype(fields)
    if offset + dtype.itemsize * element.count > len(data):
        raise DatasetError(f"{path}: PLY body truncated in element '{element.name}'")
    rows = np.frombuffer(data, dtype=dtype, count=element.count, offset=offset)
    for prop in element.properties:
        if prop.count_dtype is not None and (rows[_count_field(prop.name)] != fixed[prop.name]).any():
            return None, offset
    arrays = {p.name: _native(rows[p.name]) for p in element.properties}
    return arrays, offset + dtype.itemsize * element.count


def _count_field(name: str) -> str:
    """Name of the hidden structured-dtype field holding a list property's length."""
    return f"__count_of_{name}"


def _native(array: np.ndarray) -> np.ndarray:
    """Copy of a (possibly byte-swapped) view in native byte order."""
    return array.astype(array.dtype.newbyteorder("="))


def _fixed_list_lengths(data: bytes, offset: int, element: PlyElement, order: str) -> dict[str, int] | None:
    """Guess each list's length from the first row (checked afterwards); None if not guessable."""
    lengths: dict[str, int] = {}
    if element.count == 0:
        return {p.name: 0 for p in element.properties if p.count_dtype is not None}
    for prop in element.properties:
        if prop.count_dtype is None:
            offset += np.dtype(prop.dtype).itemsize
            continue
        count_type = np.dtype(order + prop.count_dtype)
        if offset + count_type.itemsize > len(data):
            return None
        lengths[prop.name] = int(np.frombuffer(data, count_type, 1, offset)[0])
        offset += count_type.itemsize + lengths[prop.name] * np.dtype(prop.dtype).itemsize
    return lengths


def _read_binary_rows(
    data: bytes, offset: int, element: PlyElement, order: str, path: Path
) -> tuple[dict[str, np.ndarray], int]:
    """Row-by-row reading of an element whose lists vary in length (slow, rare)."""
    values: dict[str, list] = {p.name: [] for p in element.properties}
    try:
        for _ in range(element.count):
            for prop in element.properties:
                if prop.count_dtype is None:
                    item = np.dtype(order + prop.dtype)
                    values[prop.name].append(np.frombuffer(data, item, 1, offset)[0])
                    offset += item.itemsize
                    continue
                count_type = np.dtype(order + prop.count_dtype)
                n = int(np.frombuffer(data, count_type, 1, offset)[0])
                offset += count_type.itemsize
                values[prop.name].append(np.frombuffer(data, order + prop.dtype, n, offset).astype(prop.dtype))
                offset += n * np.dtype(prop.dtype).itemsize
    except ValueError as error:
        raise DatasetError(f"{path}: PLY body truncated in element '{element.name}'") from error
    return {p.name: _column(values[p.name], p) for p in element.properties}, offset


def _column(items: list, prop: PlyProperty) -> np.ndarray:
    """Stack parsed items of one property into a 1-D, 2-D or object array."""
    if prop.count_dtype is None:
        return np.asarray(items, dtype=prop.dtype)
    lengths = {len(item) for item in items}
    if len(lengths) <= 1:
        width = lengths.pop() if lengths else 0
        return np.asarray(items, dtype=prop.dtype).reshape(len(items), width)
    column = np.empty(len(items), dtype=object)
    for k, item in enumerate(items):
        column[k] = np.asarray(item, dtype=prop.dtype)
    return column


def _read_ascii(body: bytes, elements: list[PlyElement], path: Path) -> dict[str, dict[str, np.ndarray]]:
    """Read ascii elements: one row per line, lists as 'count item item ...'."""
    lines = body.decode("ascii", errors="replace").splitlines()
    result: dict[str, dict[str, np.ndarray]] = {}
    row = 0
    for element in elements:
        if row + element.count > len(lines):
            raise DatasetError(f"{path}: PLY body truncated in element '{element.name}'")
        values: dict[str, list] = {p.name: [] for p in element.properties}
        for line_number in range(row, row + element.count):
            words = lines[line_number].split()
            try:
                _parse_ascii_row(words, element, values)
            except (ValueError, IndexError) as error:
                raise DatasetError(f"{path}: bad PLY row {line_number + 1} of the body: {error}") from error
        row += element.count
        result[element.name] = {p.name: _column(values[p.name], p) for p in element.properties}
    return result


def _parse_ascii_row(words: list[str], element: PlyElement, values: dict[str, list]) -> None:
    """Append one ascii row's values to `values`; raise ValueError on a short/long row."""
    position = 0
    for prop in element.properties:
        if prop.count_dtype is None:
            values[prop.name].append(float(words[position]))
            position += 1
        else:
            n = int(words[position])
            values[prop.name].append([float(w) for w in words[position + 1 : position + 1 + n]])
            if len(values[prop.name][-1]) != n:
                raise ValueError(f"list '{prop.name}' shorter than its count {n}")
            position += 1 + n
    if position != len(words):
        raise ValueError(f"expected {position} values, found {len(words)}")


def write_ply(
    path: str | Path,
    elements: Mapping[str, Mapping[str, np.ndarray]],
    fmt: str = "binary_little_endian",
    comments: tuple[str, ...] = (),
    list_count_type: str = "uchar",
) -> None:
    """Write elements {name: {property: array}} as PLY; 2-D arrays become fixed-length lists.

    Property types follow the arrays' dtypes (float32 -> float, uint8 -> uchar, ...).
    """
    if fmt not in FORMATS:
        raise ValueError(f"PLY format must be one of {sorted(FORMATS)}, got {fmt!r}")
    header = ["ply", f"format {fmt} 1.0", *(f"comment {c}" for c in comments)]
    for name, props in elements.items():
        counts = {len(a) for a in props.values()}
        if len(counts) != 1:
            raise ValueError(f"element '{name}': properties have different lengths {sorted(counts)}")
        header.append(f"element {name} {counts.pop()}")
        for prop, array in props.items():
            code = np.dtype(array.dtype).str[1:]
            if code not in NUMPY_TO_PLY:
                raise ValueError(f"property '{prop}': dtype {array.dtype} has no PLY type")
            kind = NUMPY_TO_PLY[code]
            kind = kind if array.ndim == 1 else f"list {list_count_type} {kind}"
            header.append(f"property {kind} {prop}")
    header.append("end_header")
    with Path(path).open("wb") as stream:
        stream.write(("\n".join(header) + "\n").encode("ascii"))
        for props in elements.values():
            stream.write(_element_bytes(props, fmt, PLY_TYPES[list_count_type]))


def _element_bytes(props: Mapping[str, np.ndarray], fmt: str, count_code: str) -> bytes:
    """Body bytes of one element in the given format."""
    arrays = list(props.items())
    n = len(arrays[0][1])
    if fmt == "ascii":
        rows = []
        for i in range(n):
            words = []
            for _, array in arrays:
                if array.ndim == 1:
                    words.append(_ascii_value(array[i]))
                else:
                    words += [str(array.shape[1]), *(_ascii_value(v) for v in array[i])]
            rows.append(" ".join(words) + "\n")
        return "".join(rows).encode("ascii")
    order = FORMATS[fmt]
    fields = []
    for name, array in arrays:
        code = order + np.dtype(array.dtype).str[1:]
        if array.ndim == 1:
            fields.append((name, code))
        else:
            fields += [(_count_field(name), order + count_code), (name, code, (array.shape[1],))]
    rows = np.empty(n, dtype=np.dtype(fields))
    for name, array in arrays:
        rows[name] = array
        if array.ndim == 2:
            rows[_count_field(name)] = array.shape[1]
    return rows.tobytes()


def _ascii_value(value: np.generic) -> str:
    """Text form of one value: integers plainly, floats with round-trip precision."""
    return repr(float(value)) if np.issubdtype(type(value), np.floating) else str(int(value))
