"""The Python side of `cargo bench --bench embed`: all-MiniLM-L6-v2 with sentence-transformers
on the same sentences, the same model files and the same batch size as the candle embedder.

Reads {"model_dir": ..., "sentences": [...], "batch": N, "rounds": R} on stdin and prints
{"load_s": ..., "sentences_per_s": ...} (the best of R rounds, after one warm-up round).
"""

import json
import sys
import time

import torch
from sentence_transformers import SentenceTransformer

job = json.load(sys.stdin)
started = time.perf_counter()
model = SentenceTransformer(job["model_dir"], device="cpu")
load_s = time.perf_counter() - started
sentences = job["sentences"]
model.encode(sentences, batch_size=job["batch"], normalize_embeddings=True)
best = 0.0
for _ in range(job["rounds"]):
    t = time.perf_counter()
    model.encode(sentences, batch_size=job["batch"], normalize_embeddings=True)
    best = max(best, len(sentences) / (time.perf_counter() - t))
json.dump(
    {"load_s": load_s, "sentences_per_s": best, "torch": torch.__version__, "threads": torch.get_num_threads()},
    sys.stdout,
)
