"""``cellconsensus simulate``: a simulated crowd clicking ground-truth cells."""

from __future__ import annotations

import argparse

from ..io import read_truth, write_clicks, write_table
from ..simulate import simulate_crowd
from ..synthetic import make_truth

NAME = "simulate"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="simulate a crowd clicking ground-truth cells")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--truth", help="ground truth: Pascal VOC folder/XML, or CSV/Parquet")
    src.add_argument("--synthetic", type=int, metavar="N", help="use N built-in synthetic images")
    p.add_argument("--n-annotators", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--position-noise", type=float, default=0.1, help="click noise, fraction of cell size"
    )
    p.add_argument("--miss-rate", type=float, default=0.1)
    p.add_argument("--label-noise", type=float, default=0.1)
    p.add_argument("--spammer-fraction", type=float, default=0.0)
    p.add_argument("--double-click-rate", type=float, default=0.02)
    p.add_argument("-o", "--out", required=True, help="Clicks table to write (.csv or .parquet)")
    p.add_argument("--truth-out", help="with --synthetic: also write the truth table (.csv)")
    return p


def run(args: argparse.Namespace) -> int:
    truth = make_truth(args.synthetic, seed=args.seed) if args.synthetic else read_truth(args.truth)
    clicks = simulate_crowd(
        truth,
        args.n_annotators,
        seed=args.seed,
        position_noise=args.position_noise,
        miss_rate=args.miss_rate,
        label_noise=args.label_noise,
        spammer_fraction=args.spammer_fraction,
        double_click_rate=args.double_click_rate,
    )
    write_clicks(clicks, args.out)
    if args.truth_out:
        write_table(truth, args.truth_out)
    print(
        f"simulated {len(clicks)} clicks by {clicks['annotator_id'].nunique()} annotators "
        f"on {clicks['image_id'].nunique()} images -> {args.out}"
    )
    return 0
