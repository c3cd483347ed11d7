"""``python -m dalnb.bench NAME [--key value ...]``"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from dalnb.bench import REGISTRY

KNOWN = ("body", "synth", "registration", "lifter", "rounds", "predict", "sources", "learning", "faults")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dalnb.bench", description=__doc__)
    ap.add_argument("name", choices=KNOWN)
    ap.add_argument("--device", default=None)
    ap.add_argument("--batches", default=None, help="comma-separated batch sizes (body)")
    ap.add_argument("--record", action="store_true", help="also append the JSON lines to benchmarks/NAME.jsonl")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="benchmark argument (YAML value), e.g. --set steps=500",
    )
    args = ap.parse_args(argv)
    if args.record:
        import os

        from dalnb.records import RECORD_DIR, RECORD_TO

        os.makedirs(RECORD_DIR, exist_ok=True)
        RECORD_TO.append(os.path.join(RECORD_DIR, f"{args.name}.jsonl"))
    logging.basicConfig(level=logging.WARNING)
    try:
        importlib.import_module(f"dalnb.bench.{args.name}")
    except ModuleNotFoundError as e:
        if e.name == f"dalnb.bench.{args.name}":
            print(f"benchmark {args.name!r} is not implemented yet", file=sys.stderr)
            return 2
        raise
    import yaml

    kwargs = {"device": args.device}
    for item in args.set:
        if "=" not in item:
            ap.error(f"--set {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        v = yaml.safe_load(v)
        kwargs[k] = tuple(v) if isinstance(v, list) else v
    if args.batches:
        kwargs["batches"] = tuple(int(b) for b in args.batches.split(","))
    REGISTRY[args.name](**kwargs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
