"""aisec's skops analyzer against skops itself: the same untrusted types on real files skops wrote.

``python benchmarks/bench_skops_agreement.py --python PY OUT_DIR``: PY is an interpreter with skops and
scikit-learn installed (not aisec's). It dumps every scikit-learn estimator skops can persist (fitted on iris) plus
functions, partials, random generators, sparse and masked arrays into OUT_DIR, asks ``skops.io.get_untrusted_types``
for each file, and compares with the ``skops.untrusted_type`` facts of aisec's analyzer (which imports no skops).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.skops import SkopsAnalyzer
from aisec.limits import Limits
from aisec.source import FileSource

_MAKE = '''
import collections, functools, operator, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np, scipy.sparse as sp, skops.io as sio
from sklearn.datasets import load_iris
from sklearn.utils import all_estimators
X, y = load_iris(return_X_y=True)
out = sys.argv[1]
for name, cls in all_estimators(type_filter=["classifier", "regressor", "transformer", "cluster"]):
    try:
        est = cls()
        try:
            est.fit(X, y)
        except Exception:
            est.fit(X)
        sio.dump(est, f"{out}/{name}.skops")
    except Exception:
        pass
extras = {"func_partial": {"f": np.sum, "p": functools.partial(np.add, 1), "op": operator.itemgetter(1)},
          "defaultdict": collections.defaultdict(list, {"a": [1]}), "rng": np.random.default_rng(0),
          "rs": np.random.RandomState(0), "sparse": sp.csr_matrix(np.eye(3)),
          "masked": np.ma.masked_array([1, 2], mask=[0, 1]), "types": [int, np.float32, slice(1, 2), b"x"]}
for key, value in extras.items():
    sio.dump(value, f"{out}/extra_{key}.skops")
'''
_TRUTH = '''
import json, sys, warnings
warnings.filterwarnings("ignore")
import skops.io as sio
print(json.dumps({f: sorted(sio.get_untrusted_types(file=f)) for f in sys.argv[1:]}))
'''


def main() -> int:
    """Make the corpus, compare, print the agreement; exit 1 on any difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="an interpreter with skops and scikit-learn")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    subprocess.run([args.python, "-c", _MAKE, str(args.out)], check=True)
    files = sorted(str(p) for p in args.out.glob("*.skops"))
    truth = json.loads(subprocess.run([args.python, "-c", _TRUTH, *files], check=True, capture_output=True,
                                      text=True).stdout)
    agree = 0
    for name in files:
        context = AnalysisContext(path=name, limits=Limits())
        with FileSource(Path(name), budget=1 << 30) as source:
            got = sorted({str(f.value) for f in SkopsAnalyzer().analyze(source, context)
                          if f.key == "skops.untrusted_type"})
        if got == truth[name] and not context.errors:
            agree += 1
        else:
            print(f"DIFF {Path(name).name}: aisec {got} skops {truth[name]} errors {context.errors}")
    with_untrusted = sum(1 for types in truth.values() if types)
    print(f"{agree}/{len(files)} files agree with skops.io.get_untrusted_types ({with_untrusted} hold untrusted types)")
    return 0 if agree == len(files) else 1


if __name__ == "__main__":
    sys.exit(main())
