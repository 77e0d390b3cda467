"""fascdetect: detect muscle twitches (fasciculations), cramps and movement in foot EMG/accelerometry."""

__version__ = "0.1.0"
