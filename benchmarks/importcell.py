"""Import-time cells, run as a plain script so nothing but ``sys``/``time``/``resource`` is loaded.

    python benchmarks/importcell.py import base|ga|ga_sync|official
    python benchmarks/importcell.py models ga|ga_hooks|official

``import``: one import statement in a fresh interpreter (``base`` = aiohttp + attrs +
cattrs, the floor). ``models``: import the SDK's models and touch every one (``getattr`` of
each name in ``models.__all__``); ``ga_hooks`` also builds the wire structure and
unstructure hook of every attrs model, which is what the first use of each model costs
glean_async (pydantic builds its validators when the class is created).
Prints one JSON object: wall and CPU milliseconds, RSS before and after (MiB).
"""

import resource
import sys
import time

IMPORTS = {
    "base": "import aiohttp, attrs, cattrs",
    "ga": "from glean_async import Glean",
    "ga_sync": "from glean_async.sync import Glean",
    "official": "from glean.api_client import Glean",
}


def cpu_seconds():
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb():
    """Peak RSS of this process image in MiB: Linux ``VmHWM`` (reset at ``exec``, unlike
    ``ru_maxrss``, which keeps the forking parent's size), else ``ru_maxrss``."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def touch_ga(hooks):
    """Import glean_async's models and touch each; with ``hooks``, build its wire hooks."""
    import attrs

    import glean_async.models as models
    from glean_async import converter

    for name in models.__all__:
        model = getattr(models, name)
        if hooks and isinstance(model, type) and attrs.has(model):
            converter.get_structure_hook(model)
            converter.get_unstructure_hook(model)
    return len(models.__all__)


def touch_official():
    """Import the official SDK's models and touch each (loads its lazy modules)."""
    from glean.api_client import models

    for name in models.__all__:
        getattr(models, name)
    return len(models.__all__)


def main():
    workload, client = sys.argv[1], sys.argv[2]
    # the repository instead of this script's folder, whose modules could shadow others
    sys.path[0] = sys.argv[3] if len(sys.argv) > 3 else "."
    rss_before = rss_mb()
    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    if workload == "import":
        exec(IMPORTS[client], {})
        touched = 0
    elif client == "official":
        touched = touch_official()
    else:
        touched = touch_ga(client == "ga_hooks")
    wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    import json

    result = {
        "client": client,
        "workload": workload,
        "ms": wall * 1000,
        "cpu_ms": cpu * 1000,
        "rss_before_mb": rss_before,
        "peak_rss_mb": rss_mb(),
    }
    if touched:
        result["models"] = touched
    print(json.dumps(result))


if __name__ == "__main__":
    main()
