"""Compare consensus strategies against ground truth, with a plot.

python examples/compare_strategies.py          # synthetic truth and crowd (seconds)
python examples/compare_strategies.py --real   # a crowd simulated over the LDC expert cells
"""

from __future__ import annotations

from _common import parser, real

from cellconsensus import make_truth, read_voc, simulate_crowd
from cellconsensus.compare import compare_strategies


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--annotators", type=int, default=5)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.real:
        truth = read_voc(sorted(real("ldc", "images").glob("*.xml"))[:300])
    else:
        truth = make_truth(n_images=40, seed=0)
    clicks = simulate_crowd(truth, args.annotators, seed=0, spammer_fraction=0.1)
    table = compare_strategies(clicks, truth=truth, auto_scale=True)
    table = table.sort_values("f1", ascending=False)
    print(table[["strategy", "n_cells", "precision", "recall", "f1", "label_accuracy"]])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.barh(table["strategy"], table["f1"], color="tab:blue")
    ax.invert_yaxis()
    ax.set(xlabel="F1 against the truth", xlim=(0, 1), title=f"{args.annotators} annotators")
    fig.tight_layout()
    fig.savefig(args.out / "strategies.png", dpi=100)
    print(f"wrote {args.out / 'strategies.png'}")


if __name__ == "__main__":
    main()
