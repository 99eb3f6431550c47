#!/usr/bin/env python3
"""A plain PyTorch character LSTM of the default experiment's size, trained for a fixed wall time
on the same split, for the quality-per-time comparison in RESULTS.md.

    pip install torch      # only for this comparison; CI never runs it
    python3 experiments/pytorch/charlm_lstm.py --minutes 10 --out pytorch-curve.csv
    ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 python3 ...  # AVX2 only

Model: embedding 64 -> 2-layer LSTM 256 -> linear 65 (as experiments/charlm-shakespeare.toml).
Data: tiny-shakespeare, nanoGPT split (first int(0.9 N) characters train, the rest validation).
Training: batches of 32 random windows of 100 characters (+1 target), Adam (--lr, default 3e-3)
with global-norm clipping 5, torch.set_num_threads(2). Every --eval-every seconds of training
time (evaluation not counted) it scores the whole validation split the way `rnnlab eval` does:
non-overlapping windows of 100 characters, each from a zero state, mean cross-entropy in nats
per predicted character. Writes `train_seconds,step,chars_seen,valid_loss` rows.
"""

import argparse
import math
import pathlib
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]


class CharLstm(torch.nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, 64)
        self.lstm = torch.nn.LSTM(64, 256, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(256, vocab)

    def forward(self, x):
        return self.head(self.lstm(self.embed(x))[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--eval-every", type=float, default=60.0, help="seconds of training")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="pytorch-charlm-curve.csv")
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    # The instruction set ATen runs (ATEN_CPU_CAPABILITY=avx2 restricts it; with
    # MKL_ENABLE_INSTRUCTIONS=AVX2 and ONEDNN_MAX_CPU_ISA=AVX2 all of PyTorch stays on AVX2).
    print(f"PyTorch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}",
          flush=True)

    text = (ROOT / "datasets/text/tinyshakespeare.txt").read_text()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([index[c] for c in text], dtype=torch.long)
    cut = int(0.9 * len(data))
    train, valid = data[:cut], data[cut:]
    seq, batch = 100, 32
    starts = torch.arange(0, len(valid) - seq - 1 + 1, seq)
    vx = torch.stack([valid[s:s + seq] for s in starts])
    vy = torch.stack([valid[s + 1:s + seq + 1] for s in starts])

    model = CharLstm(len(chars))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.CrossEntropyLoss()

    def evaluate():
        model.eval()
        total, count = 0.0, 0
        with torch.inference_mode():
            for i in range(0, len(vx), 256):
                logits = model(vx[i:i + 256])
                total += torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), vy[i:i + 256].reshape(-1),
                    reduction="sum").item()
                count += vy[i:i + 256].numel()
        model.train()
        return total / count

    rows = ["train_seconds,step,chars_seen,valid_loss"]
    trained, step, next_eval = 0.0, 0, args.eval_every
    budget = args.minutes * 60
    while trained < budget:
        t0 = time.perf_counter()
        s = torch.randint(0, len(train) - seq - 1, (batch,))
        x = torch.stack([train[i:i + seq] for i in s])
        y = torch.stack([train[i + 1:i + seq + 1] for i in s])
        logits = model(x)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        trained += time.perf_counter() - t0
        step += 1
        if trained >= next_eval or trained >= budget:
            v = evaluate()
            rows.append(f"{trained:.1f},{step},{step * batch * seq},{v:.4f}")
            print(rows[-1], f"({v / math.log(2):.3f} bits/char)", flush=True)
            next_eval += args.eval_every
    pathlib.Path(args.out).write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
