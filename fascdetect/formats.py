"""The recording formats the readers accept, as one line of text for help and error messages.

Kept apart from ``fascdetect.io`` (which imports pyedflib, wfdb and numpy) so
that ``fascdetect analyze --help`` can name the formats without loading a reader.
"""

SUPPORTED = "EDF, EDF+, BDF, BDF+ (.edf/.bdf), WFDB (.hea/.dat) and CSV/text (time column + labelled channels)"
