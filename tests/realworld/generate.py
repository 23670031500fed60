"""Write the real-world benign corpus with the real ML libraries, the way their users save models and data.

Run it in a separate environment that has the libraries (never in the project's venv; torch CPU build):

    python3 -m venv /tmp/venv-gen
    /tmp/venv-gen/bin/pip install torch==2.13.0 numpy pandas pyarrow scipy scikit-learn xgboost lightgbm joblib \
        onnx safetensors gguf skops h5py keras transformers tokenizers lz4 zstandard
    KERAS_BACKEND=torch /tmp/venv-gen/bin/python tests/realworld/generate.py

It rewrites ``tests/realworld/corpus/generated/`` and ``tests/realworld/MANIFEST.json`` (every file, the library
call that wrote it, its size and SHA-256, and each library's version). Everything is tiny (a few KB per model) and
seeded. The suite only reads the committed files; CI installs none of these libraries. Files under
``corpus/joblib_historic/`` are copied from the joblib wheel, not written here (see PROVENANCE.md there).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import os
import pickle
import shutil
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")
warnings.filterwarnings("ignore")

HERE = Path(__file__).resolve().parent
OUT = Path(os.environ.get("AISEC_REALWORLD_OUT", HERE / "corpus" / "generated"))
sys.path.insert(0, str(HERE.parent.parent))  # for fixtures.chat_templates

LIBRARIES = ["numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "xgboost", "lightgbm", "joblib", "torch", "onnx",
             "safetensors", "gguf", "skops", "h5py", "keras", "transformers", "tokenizers", "lz4", "zstandard"]
ENTRIES: list[dict[str, Any]] = []
SKIPPED: dict[str, str] = {}


class MainModuleRecord:
    """A user class defined in the training script: it pickles as ``__main__.MainModuleRecord``."""

    def __init__(self) -> None:
        self.labels = ["a", "b"]


def record(rel: str, library: str, how: str) -> None:
    """Remember one written file for the manifest."""
    ENTRIES.append({"path": rel, "library": library, "how": how})


def write(rel: str, library: str, how: str, writer: Callable[[Path], Any]) -> None:
    """Create the parent folder, let ``writer`` write the file, and record it."""
    path = OUT / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    writer(path)
    record(rel, library, how)


def dump_pickle(obj: Any, protocol: int = pickle.DEFAULT_PROTOCOL) -> Callable[[Path], None]:
    """A writer that pickles ``obj`` with the standard library, as ``pickle.dump`` users do."""
    def run(path: Path) -> None:
        with path.open("wb") as fh:
            pickle.dump(obj, fh, protocol=protocol)
    return run


def section(name: str, body: Callable[[], None]) -> None:
    """Run one library's section; a library that is missing or fails is recorded as skipped, not hidden."""
    try:
        body()
    except Exception as exc:
        SKIPPED[name] = f"{type(exc).__name__}: {exc}"[:300]


def gen_numpy() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    arrays = {
        "float": rng.standard_normal((4, 3)),
        "int": np.arange(12, dtype=np.int64).reshape(3, 4),
        "structured": np.array([(1, 2.5, b"ab"), (2, 3.5, b"cd")], dtype=[("id", "<i4"), ("x", "<f8"), ("t", "S2")]),
        "datetime": np.array(["2024-01-01", "2024-06-30"], dtype="datetime64[D]"),
        "bool": np.array([True, False, True]),
        "complex": np.array([1 + 2j, 3 - 1j]),
    }
    for proto in (2, 3, 4, 5):
        write(f"numpy/arrays_protocol{proto}.pkl", "numpy", f"pickle.dump(dict of ndarrays, protocol={proto})",
              dump_pickle(arrays, proto))
    write("numpy/scalars.pkl", "numpy", "pickle.dump(numpy scalars float64/int32/bool_/datetime64/str_)",
          dump_pickle([np.float64(1.5), np.int32(3), np.bool_(True), np.datetime64("2024-01-01"), np.str_("x"),
                       np.float32(2.0), np.complex128(1j)]))
    write("numpy/matrix.pkl", "numpy", "pickle.dump(np.matrix)", dump_pickle(np.matrix([[1.0, 2.0], [3.0, 4.0]])))
    write("numpy/masked.pkl", "numpy", "pickle.dump(np.ma.masked_array)",
          dump_pickle(np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])))
    write("numpy/generators.pkl", "numpy", "pickle.dump(default_rng, RandomState, SeedSequence, bit generators)",
          dump_pickle({"rng": np.random.default_rng(1), "legacy": np.random.RandomState(2),
                       "seed": np.random.SeedSequence(3), "philox": np.random.Philox(4), "sfc": np.random.SFC64(5),
                       "mt": np.random.MT19937(6)}))
    write("numpy/dtypes.pkl", "numpy", "pickle.dump(np.dtype objects)",
          dump_pickle([np.dtype("f4"), np.dtype([("a", "<i8"), ("b", "<f4")]), np.dtype("datetime64[ns]"),
                       np.dtype("U5")]))
    write("numpy/float.npy", "numpy", "np.save(float array)", lambda p: np.save(p, arrays["float"]))
    write("numpy/structured.npy", "numpy", "np.save(structured array)", lambda p: np.save(p, arrays["structured"]))
    write("numpy/fortran.npy", "numpy", "np.save(Fortran-ordered array)",
          lambda p: np.save(p, np.asfortranarray(arrays["int"])))
    write("numpy/object.npy", "numpy", "np.save(object array of str/int/list, allow_pickle=True)",
          lambda p: np.save(p, np.array(["a", 1, [2, 3], None], dtype=object), allow_pickle=True))
    write("numpy/arrays.npz", "numpy", "np.savez(several arrays)",
          lambda p: np.savez(p, a=arrays["float"], b=arrays["int"], s=arrays["structured"]))
    write("numpy/arrays_compressed.npz", "numpy", "np.savez_compressed(several arrays)",
          lambda p: np.savez_compressed(p, a=arrays["float"], b=arrays["int"]))
    write("numpy/object.npz", "numpy", "np.savez(with an object array, allow_pickle)",
          lambda p: np.savez(p, a=arrays["float"], o=np.array([{"k": 1}, "x"], dtype=object)))


def _frame() -> Any:
    import numpy as np
    import pandas as pd

    return pd.DataFrame({
        "i": np.arange(4, dtype=np.int64),
        "f": [0.5, 1.5, np.nan, 3.0],
        "s": pd.array(["a", "b", None, "d"], dtype="str"),
        "s_pyarrow": pd.array(["w", "x", "y", None], dtype="string[pyarrow]"),
        "s_python": pd.array(["w", "x", "y", None], dtype="string[python]"),
        "cat": pd.Categorical(["lo", "hi", "lo", "mid"], categories=["lo", "mid", "hi"], ordered=True),
        "ts": pd.date_range("2024-01-01", periods=4, freq="D"),
        "ts_tz": pd.date_range("2024-01-01", periods=4, freq="h", tz="Europe/Paris"),
        "td": pd.to_timedelta([1, 2, 3, 4], unit="s"),
        "nullable_int": pd.array([1, None, 3, 4], dtype="Int64"),
        "nullable_bool": pd.array([True, None, False, True], dtype="boolean"),
        "period": pd.period_range("2024-01", periods=4, freq="M"),
        "interval": pd.interval_range(0, 4),
        "sparse": pd.arrays.SparseArray([0.0, 0.0, 1.0, 0.0]),
        "arrow_int": pd.array([1, 2, None, 4], dtype="int64[pyarrow]"),
    })


def gen_pandas() -> None:
    import numpy as np
    import pandas as pd

    df = _frame()
    write("pandas/frame.pkl", "pandas", "DataFrame.to_pickle (every common dtype, Arrow-backed strings)",
          df.to_pickle)
    for ext in ("gz", "bz2", "xz", "zip", "zst"):
        write(f"pandas/frame.pkl.{ext}", "pandas", f"DataFrame.to_pickle(compression inferred from .{ext})",
              df.to_pickle)
    write("pandas/frame_protocol2.pkl", "pandas", "DataFrame.to_pickle(protocol=2)",
          lambda p: df[["i", "f", "cat", "ts"]].to_pickle(p, protocol=2))
    write("pandas/series.pkl", "pandas", "Series.to_pickle",
          pd.Series([1.0, 2.0], index=["a", "b"], name="x").to_pickle)
    indexes = {
        "range": pd.RangeIndex(5), "index": pd.Index(["a", "b"]), "int": pd.Index([1, 2, 3]),
        "datetime": pd.DatetimeIndex(["2024-01-01", "2024-01-02"]), "timedelta": pd.TimedeltaIndex(["1D", "2D"]),
        "period": pd.period_range("2024Q1", periods=2, freq="Q"), "interval": pd.IntervalIndex.from_breaks([0, 1, 2]),
        "category": pd.CategoricalIndex(["x", "y", "x"]),
        "multi": pd.MultiIndex.from_product([["a", "b"], [1, 2]], names=["k", "n"]),
    }
    write("pandas/indexes.pkl", "pandas", "pickle.dump(every Index kind)", dump_pickle(indexes))
    write("pandas/categorical.pkl", "pandas", "pickle.dump(pd.Categorical)",
          dump_pickle(pd.Categorical(["a", "b", "a"])))
    write("pandas/scalars.pkl", "pandas", "pickle.dump(Timestamp, Timedelta, Period, Interval, NA, NaT, offsets)",
          dump_pickle([pd.Timestamp("2024-01-01", tz="UTC"), pd.Timedelta("1h"), pd.Period("2024-01", freq="M"),
                       pd.Interval(0, 1), pd.NA, pd.NaT, pd.offsets.MonthEnd(2), pd.DateOffset(days=1)]))
    write("pandas/multiindex_frame.pkl", "pandas", "to_pickle(DataFrame with MultiIndex columns and rows)",
          pd.DataFrame(np.arange(16).reshape(4, 4), index=indexes["multi"],
                       columns=pd.MultiIndex.from_product([["x", "y"], ["p", "q"]])).to_pickle)


def gen_pyarrow() -> None:
    import pyarrow as pa

    table = pa.table({"a": [1, 2, 3], "s": ["x", None, "z"], "l": [[1], [], [2, 3]],
                      "d": pa.array([1, 2, 3], pa.timestamp("ms", tz="UTC")),
                      "dict": pa.array(["a", "b", "a"]).dictionary_encode()})
    write("pyarrow/table.pkl", "pyarrow", "pickle.dump(pa.Table)", dump_pickle(table))
    write("pyarrow/objects.pkl", "pyarrow", "pickle.dump(pa.array, RecordBatch, schema, ChunkedArray, scalar)",
          dump_pickle([pa.array([1.0, None]), table.to_batches()[0], table.schema, table.column("s"),
                       pa.scalar(3), pa.decimal128(5, 2)]))


def gen_scipy() -> None:
    import numpy as np
    import scipy.sparse as sp

    dense = np.eye(5)
    mats = {"csr": sp.csr_matrix(dense), "csc": sp.csc_matrix(dense), "coo": sp.coo_matrix(dense),
            "lil": sp.lil_matrix(dense), "dok": sp.dok_matrix(dense), "csr_array": sp.csr_array(dense),
            "bsr": sp.bsr_matrix(dense), "dia": sp.dia_matrix(dense)}
    write("scipy/sparse.pkl", "scipy", "pickle.dump(every sparse format)", dump_pickle(mats))
    write("scipy/sparse.npz", "scipy", "scipy.sparse.save_npz(csr)", lambda p: sp.save_npz(p, mats["csr"]))


def _data() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    return x[::3], y[::3]


def gen_sklearn() -> None:
    import joblib
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        IsolationForest,
        RandomForestClassifier,
    )
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    x, y = _data()
    texts = ["the cat sat", "the dog ran", "a cat ran", "dogs and cats"]
    models = {
        "pipeline_logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(x, y),
        "random_forest": RandomForestClassifier(n_estimators=3, max_depth=2, random_state=0).fit(x, y),
        "gradient_boosting": GradientBoostingClassifier(n_estimators=3, max_depth=2, random_state=0).fit(x, y),
        "hist_gradient_boosting": HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(x, y),
        "isolation_forest": IsolationForest(n_estimators=3, random_state=np.random.RandomState(0)).fit(x),
        "kmeans": KMeans(n_clusters=3, n_init=1, random_state=0).fit(x),
        "svc": SVC(probability=False).fit(x, y),
        "tree": DecisionTreeClassifier(max_depth=2).fit(x, y),
        "tfidf": Pipeline([("tfidf", TfidfVectorizer()), ("clf", LogisticRegression())]).fit(texts, [0, 1, 0, 1]),
        "count_vectorizer": CountVectorizer(dtype=np.float64).fit(texts),
        "function_transformer": make_pipeline(FunctionTransformer(np.log1p, inverse_func=np.expm1),
                                              FunctionTransformer(np.clip, kw_args={"a_min": 0, "a_max": 5}),
                                              StandardScaler()).fit(x),
        "column_transformer": ColumnTransformer([("oh", OneHotEncoder(), [0]), ("sc", StandardScaler(), [1])]).fit(
            np.array([[0, 1.0], [1, 2.0], [2, 0.5]])),
    }
    for name, model in models.items():
        write(f"sklearn/{name}.pkl", "scikit-learn", f"pickle.dump({type(model).__name__})", dump_pickle(model))
    write("sklearn/random_forest.joblib", "scikit-learn", "joblib.dump(RandomForestClassifier)",
          lambda p: joblib.dump(models["random_forest"], p))
    write("sklearn/pipeline_logreg.joblib", "scikit-learn", "joblib.dump(Pipeline, compress=3)",
          lambda p: joblib.dump(models["pipeline_logreg"], p, compress=3))


def gen_xgboost() -> None:
    import joblib
    import xgboost as xgb

    x, y = _data()
    clf = xgb.XGBClassifier(n_estimators=2, max_depth=2, random_state=0).fit(x, y)
    reg = xgb.XGBRegressor(n_estimators=2, max_depth=2).fit(x, y)
    write("xgboost/model.json", "xgboost", "XGBClassifier.save_model(.json)", clf.save_model)
    write("xgboost/model.ubj", "xgboost", "XGBClassifier.save_model(.ubj)", clf.save_model)
    write("xgboost/classifier.pkl", "xgboost", "pickle.dump(XGBClassifier)", dump_pickle(clf))
    write("xgboost/regressor.joblib", "xgboost", "joblib.dump(XGBRegressor)", lambda p: joblib.dump(reg, p))
    write("xgboost/booster.pkl", "xgboost", "pickle.dump(Booster)", dump_pickle(clf.get_booster()))


def gen_lightgbm() -> None:
    import joblib
    import lightgbm as lgb

    x, y = _data()
    clf = lgb.LGBMClassifier(n_estimators=2, num_leaves=4, min_child_samples=2, verbose=-1).fit(x, y)
    write("lightgbm/model.txt", "lightgbm", "Booster.save_model(.txt)", clf.booster_.save_model)
    write("lightgbm/classifier.pkl", "lightgbm", "pickle.dump(LGBMClassifier)", dump_pickle(clf))
    write("lightgbm/classifier.joblib", "lightgbm", "joblib.dump(LGBMClassifier)", lambda p: joblib.dump(clf, p))
    write("lightgbm/booster.pkl", "lightgbm", "pickle.dump(Booster)", dump_pickle(clf.booster_))


def gen_joblib() -> None:
    import joblib
    import numpy as np

    obj = {"weights": np.arange(20, dtype=np.float32).reshape(4, 5), "names": ["a", "b"], "scale": np.float64(0.5),
           "big": np.linspace(0, 1, 300)}
    write("joblib/plain.joblib", "joblib", "joblib.dump(dict with arrays)", lambda p: joblib.dump(obj, p))
    for method in ("zlib", "gzip", "bz2", "lzma", "xz", "lz4"):
        write(f"joblib/compressed_{method}.joblib", "joblib", f"joblib.dump(compress=('{method}', 3))",
              lambda p, m=method: joblib.dump(obj, p, compress=(m, 3)))
    write("joblib/model.pkl.z", "joblib", "joblib.dump (compression inferred from .z)", lambda p: joblib.dump(obj, p))
    write("joblib/protocol2.joblib", "joblib", "joblib.dump(protocol=2)", lambda p: joblib.dump(obj, p, protocol=2))


def gen_torch() -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Dropout(0.1), nn.Linear(8, 3),
                          nn.LayerNorm(3))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(5, 4)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1)
    write("torch/state_dict.pt", "torch", "torch.save(model.state_dict())", lambda p: torch.save(model.state_dict(), p))
    write("torch/optimizer.pt", "torch", "torch.save(AdamW.state_dict())", lambda p: torch.save(opt.state_dict(), p))
    write("torch/checkpoint.pth", "torch", "torch.save({epoch, model, optimizer, scheduler, loss, rng state})",
          lambda p: torch.save({"epoch": 3, "model_state_dict": model.state_dict(), "optimizer": opt.state_dict(),
                                "scheduler": sched.state_dict(), "loss": 0.25, "rng": torch.get_rng_state(),
                                "dtype": torch.float16, "device": torch.device("cpu"), "shape": torch.Size([2, 3])},
                               p))
    write("torch/sequential_full.pt", "torch", "torch.save(nn.Sequential) (whole module, weights_only=False load)",
          lambda p: torch.save(model, p))
    write("torch/legacy_state_dict.pt", "torch", "torch.save(state_dict, _use_new_zipfile_serialization=False)",
          lambda p: torch.save(model.state_dict(), p, _use_new_zipfile_serialization=False))
    write("torch/tensors_dtypes.pt", "torch", "torch.save(tensors of several dtypes, a view, a sparse tensor)",
          lambda p: torch.save({"f16": torch.ones(2, dtype=torch.float16), "bf16": torch.ones(2, dtype=torch.bfloat16),
                                "i8": torch.arange(4, dtype=torch.int8), "bool": torch.tensor([True]),
                                "view": torch.arange(10.0)[2:5], "sparse": torch.eye(3).to_sparse()}, p))
    model.eval()
    write("torch/scripted.pt", "torch", "torch.jit.save(torch.jit.script(model))",
          lambda p: torch.jit.save(torch.jit.script(model), str(p)))
    write("torch/traced.pt", "torch", "torch.jit.save(torch.jit.trace(model, example))",
          lambda p: torch.jit.save(torch.jit.trace(model, torch.randn(2, 4)), str(p)))
    write("torch/pytorch_model.bin", "torch", "torch.save(state_dict) under the Hugging Face file name",
          lambda p: torch.save(model.state_dict(), p))


def gen_onnx() -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "W")
    b = numpy_helper.from_array(np.zeros(3, dtype=np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["H"]), helper.make_node("Add", ["H", "B"], ["Z"]),
         helper.make_node("Relu", ["Z"], ["Y"])],
        "tiny", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 3])], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="onnx.helper")
    onnx.checker.check_model(model)
    write("onnx/model.onnx", "onnx", "onnx.save_model", lambda p: onnx.save_model(model, str(p)))

    def external(path: Path) -> None:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model_external.onnx.data", size_threshold=0)
    write("onnx/model_external.onnx", "onnx", "onnx.save_model(save_as_external_data=True)", external)
    record("onnx/model_external.onnx.data", "onnx", "external tensor data of model_external.onnx")

    import torch

    def exported(path: Path) -> None:
        net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(dim=-1))
        torch.onnx.export(net, (torch.randn(1, 4),), str(path), dynamo=False)
    section("onnx.torch_export", lambda: write("onnx/torch_export.onnx", "torch", "torch.onnx.export", exported))


def gen_safetensors() -> None:
    import numpy as np
    import torch
    from safetensors.numpy import save_file as save_np
    from safetensors.torch import save_file as save_torch

    write("safetensors/model.safetensors", "safetensors", "safetensors.torch.save_file(with metadata)",
          lambda p: save_torch({"w": torch.randn(4, 3), "b": torch.zeros(3, dtype=torch.bfloat16)}, str(p),
                               metadata={"format": "pt"}))
    write("safetensors/numpy.safetensors", "safetensors", "safetensors.numpy.save_file",
          lambda p: save_np({"a": np.arange(6, dtype=np.int32), "e": np.zeros((0, 2), np.float32)}, str(p)))


def gen_keras() -> None:
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dropout(0.1), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    write("keras/model.keras", "keras", "model.save(.keras)", lambda p: model.save(p))
    write("keras/model.h5", "keras", "model.save(.h5) (legacy HDF5)", lambda p: model.save(p))
    write("keras/model.weights.h5", "keras", "model.save_weights(.weights.h5)", lambda p: model.save_weights(p))


def gen_gguf() -> None:
    import gguf
    import numpy as np

    from fixtures.chat_templates import CHATML, LLAMA3, MISTRAL

    for name, template in {"chatml": CHATML, "llama3": LLAMA3, "mistral": MISTRAL}.items():
        def run(path: Path, template: str = template) -> None:
            writer = gguf.GGUFWriter(str(path), "llama")
            writer.add_name(f"tiny-{name}")
            writer.add_context_length(32)
            writer.add_embedding_length(8)
            writer.add_block_count(1)
            writer.add_head_count(2)
            writer.add_tokenizer_model("gpt2")
            tokens = ["<s>", "</s>", "a", "b", "c"]
            writer.add_token_list(tokens)
            writer.add_token_types([3, 3, 1, 1, 1])
            writer.add_bos_token_id(0)
            writer.add_eos_token_id(1)
            writer.add_chat_template(template)
            writer.add_tensor("token_embd.weight", np.arange(40, dtype=np.float32).reshape(5, 8))
            writer.add_tensor("output_norm.weight", np.ones(8, dtype=np.float16))
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
            writer.close()
        write(f"gguf/tiny_{name}.gguf", "gguf", f"gguf.GGUFWriter(llama, chat template {name})", run)
    gen_gguf_types()


def gen_gguf_types() -> None:
    """One tensor of every ggml type the writer knows (quantized ones as seeded raw blocks), at the default and at a
    custom alignment: the data-section layout aisec computes from its own size table must match the writer's."""
    import gguf
    import numpy as np
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    for alignment in (None, 64):
        def run(path: Path, alignment: int | None = alignment) -> None:
            rng = np.random.default_rng(0)
            writer = gguf.GGUFWriter(str(path), "llama")
            writer.add_block_count(1)
            if alignment is not None:
                writer.add_custom_alignment(alignment)
            for qtype, (block, size) in sorted(GGML_QUANT_SIZES.items(), key=lambda item: item[0].value):
                name = f"blk.0.{qtype.name.lower()}.weight"
                if qtype == GGMLQuantizationType.F32:
                    writer.add_tensor(name, rng.standard_normal((3, 7)).astype(np.float32))
                elif qtype == GGMLQuantizationType.F16:
                    writer.add_tensor(name, rng.standard_normal((3, 7)).astype(np.float16))
                else:
                    per_row = 2 * size if block > 1 else 7 * size
                    writer.add_tensor(name, rng.integers(0, 255, (3, per_row), dtype=np.uint8), raw_dtype=qtype)
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
            writer.close()
        label = "default" if alignment is None else str(alignment)
        write(f"gguf/every_ggml_type_align_{label}.gguf", "gguf",
              f"gguf.GGUFWriter: one tensor of each type in GGML_QUANT_SIZES, alignment {label}", run)


def gen_hf_folder() -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from fixtures.chat_templates import CHATML

    folder = OUT / "hf_gpt2"
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=32, n_positions=32, bos_token_id=0,
                                           eos_token_id=0))
    model.save_pretrained(folder)
    vocab = {t: i for i, t in enumerate(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "[UNK]", *"abcdefgh"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", unk_token="[UNK]")
    fast.chat_template = CHATML
    fast.save_pretrained(folder)
    for path in sorted(folder.iterdir()):
        record(f"hf_gpt2/{path.name}", "transformers", "PreTrainedModel/PreTrainedTokenizerFast.save_pretrained")


def gen_skops() -> None:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = _data()
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(x, y)
    write("skops/pipeline.skops", "skops", "skops.io.dump(Pipeline)", lambda p: sio.dump(pipe, p))


def gen_intended() -> None:
    write("intended/main_class.pkl", "python", "pickle.dump(instance of a class defined in __main__)",
          dump_pickle(MainModuleRecord()))


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    for name, body in [("numpy", gen_numpy), ("pandas", gen_pandas), ("pyarrow", gen_pyarrow), ("scipy", gen_scipy),
                       ("scikit-learn", gen_sklearn), ("xgboost", gen_xgboost), ("lightgbm", gen_lightgbm),
                       ("joblib", gen_joblib), ("torch", gen_torch), ("onnx", gen_onnx),
                       ("safetensors", gen_safetensors), ("keras", gen_keras), ("gguf", gen_gguf),
                       ("transformers", gen_hf_folder), ("skops", gen_skops), ("intended", gen_intended)]:
        section(name, body)
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            versions[lib] = None
    files = []
    for entry in sorted(ENTRIES, key=lambda e: e["path"]):
        data = (OUT / entry["path"]).read_bytes()
        files.append({**entry, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    manifest = {"python": sys.version.split()[0], "versions": versions, "skipped": SKIPPED, "files": files}
    buf = io.StringIO()
    json.dump(manifest, buf, indent=1, sort_keys=True)
    (HERE / "MANIFEST.json").write_text(buf.getvalue() + "\n", encoding="utf-8")
    print(f"{len(files)} files, {sum(f['size'] for f in files)} bytes; skipped: {SKIPPED}")


if __name__ == "__main__":
    main()
