r"""Two scaling-law sweeps side by side: D_KL, MSE and wall time per scale.

    python benchmarks/compare_sweeps.py docs/scaling_laws/scaling_gaussian_cpu.json \
        docs/sweep_speed/scaling_gaussian_cpu.json

Prints a markdown table from the JSON files that examples/scaling_laws.py
writes: each scale's <D_KL> and <MSE> in both, their relative change, and
each model's wall seconds.
"""

import json
import sys


def main(before_path, after_path):
    before, after = (json.load(open(p))["rows"] for p in (before_path, after_path))
    print("| scale | D_KL before | D_KL after | change | MSE before | MSE after | change "
          "| wall before (s) | wall after (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for b, a in zip(before, after):
        assert b["scale"] == a["scale"], "the sweeps must have the same scales"
        print(f"| {a['scale']:g} | {b['kl']:.3g} | {a['kl']:.3g} | "
              f"{100 * (a['kl'] / b['kl'] - 1):+.1f}% | {b['mse']:.3g} | {a['mse']:.3g} | "
              f"{100 * (a['mse'] / b['mse'] - 1):+.1f}% | {b['wall_seconds']:.0f} | "
              f"{a['wall_seconds']:.0f} |")
    print(f"| sum | | | | | | | {sum(r['wall_seconds'] for r in before):.0f} | "
          f"{sum(r['wall_seconds'] for r in after):.0f} |")


if __name__ == "__main__":
    main(*sys.argv[1:3])
