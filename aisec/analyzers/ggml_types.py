"""GGML tensor types: elements per block and bytes per block, so a GGUF tensor's data size follows from its header."""

from __future__ import annotations

from collections.abc import Mapping

GGML_TYPE_SIZES: Mapping[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}
"""type id -> (name, elements per block, bytes per block), as the GGUF spec's reference writer lists them
(``gguf`` 0.19.0, ``gguf/constants.py`` ``GGML_QUANT_SIZES``; ids 4, 5, 31-33 and 36-38 were removed from ggml
and are unknown here). ``tests/analyzers/test_gguf_layout.py`` checks files written by that writer."""


def tensor_bytes(type_id: int, elements: int) -> int | None:
    """Bytes of a tensor's data, or None for a type this table does not know (its extent cannot be vouched for)."""
    entry = GGML_TYPE_SIZES.get(type_id)
    if entry is None:
        return None
    _, block, size = entry
    return -(-elements // block) * size
