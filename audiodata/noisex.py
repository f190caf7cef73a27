"""NOISEX-92 as distributed: its 15 recordings, its sample rate, and the paper's seven among them.

The paper (section 4) mixes the test fold with seven NOISEX-92 types: babble, F16, factory1,
factory2, Leopard, pink and "Destroyer". NOISEX-92 has two destroyer recordings, ``destroyerengine``
(engine room) and ``destroyerops`` (operations room), and the paper does not say which it used; the
default here is ``destroyerengine``; pass ``destroyer="destroyerops"`` (or list the names yourself) for
the other.
"""

FILES = ("babble", "buccaneer1", "buccaneer2", "destroyerengine", "destroyerops", "f16", "factory1", "factory2",
         "hfchannel", "leopard", "m109", "machinegun", "pink", "volvo", "white")
"""The 15 canonical NOISEX-92 recordings (file stems, lower-case)."""

SAMPLE_RATE = 19980
"""NOISEX-92's sample rate (Hz); used for a MATLAB .mat recording that does not state its own."""

PAPER_NOISES = ("babble", "f16", "factory1", "factory2", "leopard", "pink", "destroyer")
"""The paper's seven noise types, in its tables' column order, as the paper names them."""

DESTROYER_CHOICES = ("destroyerengine", "destroyerops")
DEFAULT_DESTROYER = "destroyerengine"


def resolve_paper_noises(available, destroyer=None):
    """The names among ``available`` (a folder's noise names) that stand for the paper's seven, in the
    paper's order.

    Each paper type is matched by its own name; "destroyer" is a recording named ``destroyer`` when the
    folder has one, else ``destroyer`` (default ``destroyerengine``, or ``destroyerops``). Raises
    ValueError naming the paper types that have no recording and listing what ``available`` holds.
    """
    names = {str(n).lower() for n in available}
    if destroyer is not None:
        destroyer = str(destroyer).lower()
        if destroyer not in DESTROYER_CHOICES + ("destroyer",):
            raise ValueError(f"destroyer: expected one of {', '.join(DESTROYER_CHOICES)}, got {destroyer!r}")
    elif "destroyer" in names:
        destroyer = "destroyer"
    else:
        destroyer = DEFAULT_DESTROYER
    wanted = [destroyer if t == "destroyer" else t for t in PAPER_NOISES]
    missing = [w for w in wanted if w not in names]
    if missing:
        hint = (f" (the paper's destroyer is {DEFAULT_DESTROYER} by default; choose {DESTROYER_CHOICES[1]} "
                "by naming the noises yourself)" if destroyer in missing else "")
        raise ValueError(f"the paper's noises need recordings named {', '.join(missing)}{hint}; "
                         f"found {', '.join(sorted(names)) or 'none'}")
    return tuple(wanted)
