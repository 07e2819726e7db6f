"""Boolean functions in one place: the cube, truth tables (packing, hex, complements, canonical
forms), the cube's symmetries and complexity measures.

Example:
    >>> from counting.boolean import cube, named_truth_table, to_hex, fourier_degree
    >>> cube(1).tolist(), to_hex(named_truth_table("parity", 3), 3), fourier_degree(0x96, 3)
    ([[-1.0], [1.0]], '0x96', 3)
"""

from counting.boolean.cube import cube
from counting.boolean.measures import describe, fourier_degree, is_threshold, relevant_bits, total_influence, weight
from counting.boolean.symmetry import orbit_transport
from counting.boolean.tables import (canonical, complement, from_function, hex_digits, int_to_words, n_words,
                                     named_truth_table, pack, rows_to_hex, signs_of, to_hex, words_to_int)

__all__ = ["canonical", "complement", "cube", "describe", "fourier_degree", "from_function", "hex_digits",
           "int_to_words", "is_threshold", "n_words", "named_truth_table", "orbit_transport", "pack",
           "relevant_bits", "rows_to_hex", "signs_of", "to_hex", "total_influence", "weight", "words_to_int"]
