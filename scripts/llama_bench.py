"""The Python side of `cargo bench --bench generate`: llama.cpp (llama-cpp-python) on the
same GGUF file, the same prompt text and the same number of greedy tokens as candle.

Reads {"model": path, "prompt": text, "tokens": N, "threads": T, "rounds": R} on stdin and
prints {"prefill_tok_s", "decode_tok_s", "prompt_tokens", "generated"} (best of R rounds).
"""

import json
import sys
import time

from llama_cpp import Llama, __version__

job = json.load(sys.stdin)
llm = Llama(model_path=job["model"], n_ctx=1024, n_threads=job["threads"], verbose=False)
prompt = llm.tokenize(job["prompt"].encode(), add_bos=False, special=True)
best_prefill = best_decode = 0.0
generated = 0
for _ in range(job["rounds"] + 1):  # the first round warms up
    llm.reset()
    t = time.perf_counter()
    llm.eval(prompt)
    prefill = time.perf_counter() - t
    t = time.perf_counter()
    generated = 0
    for _ in range(job["tokens"]):
        token = llm.sample(top_k=1, temp=0.0)
        generated += 1
        if generated == job["tokens"]:
            break
        llm.eval([token])
    decode = time.perf_counter() - t
    best_prefill = max(best_prefill, len(prompt) / prefill)
    best_decode = max(best_decode, (generated - 1) / decode if generated > 1 else 0.0)
json.dump(
    {
        "llama_cpp_python": __version__,
        "prompt_tokens": len(prompt),
        "generated": generated,
        "prefill_tok_s": round(best_prefill, 1),
        "decode_tok_s": round(best_decode, 1),
    },
    sys.stdout,
)
