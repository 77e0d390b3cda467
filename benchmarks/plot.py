"""F1 versus SNR for each detector: the figure the README shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def f1_vs_snr(summary: dict[str, Any], path: Path, title: str) -> Path:
    """Line per detector (fascdetect thick and black, peers thin and coloured); None points are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    tab = plt.get_cmap("tab10").colors
    peer_colours = iter(tab[:7] + tab[8:] + plt.get_cmap("Dark2").colors)  # tab10's grey is fascdetect's ACC line
    for name, row in summary["f1_by_snr"].items():
        pts = [(float(s), v) for s, v in row.items() if v is not None]
        if not pts:
            continue
        if name.startswith("fascdetect"):
            sensors = name.partition("[")[2].rstrip("]") or "emg"
            style = {"linewidth": 2.6, "marker": "o", "color": "black" if sensors != "acc" else "0.5",
                     "linestyle": {"emg": "-", "both": "--", "acc": ":"}[sensors]}
            label = {"emg": "fascdetect (EMG)", "both": "fascdetect (EMG + ACC)",
                     "acc": "fascdetect (ACC only; SNR of the vibration)"}[sensors]
        else:
            style = {"linewidth": 1.2, "marker": ".", "alpha": 0.9, "color": next(peer_colours)}
            label = name
        ax.plot(*zip(*pts), label=label, **style)
    ax.set_xlabel("twitch SNR (peak / RMS noise), dB")
    ax.set_ylabel("twitch F1")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
