#!/usr/bin/env python3
"""rnnlab's recurrent layers against PyTorch on the same shapes, interleaved, one run.

    pip install torch        # only for this measurement; CI never runs it
    python3 crates/models/benches/pytorch_compare.py [--rounds 3] [--reps 5] [--filter charlm]
        [--isa avx512|avx2|portable[,...]] [--generate]

Every (shape, implementation) runs in its own process under `/usr/bin/time -v`, so each gets its
own peak RSS; the processes alternate ours / PyTorch round by round (the order flips every round)
and each reports the median of `--reps` timed repetitions after a warm-up. The table shows the
median over rounds. PyTorch runs with `torch.set_num_threads(2)`; ours is the `recurrent` bench
binary in `RNNLAB_BENCH_ONLY=ours` mode (built with `cargo bench --workspace --no-run`, in
`CARGO_TARGET_DIR`, else the target directory `.ci/run` uses, `~/.cache/rnnlab/target`).

`--isa` runs both sides on one instruction-set path: ours with `RNNLAB_CPU_ISA`, PyTorch with
`ATEN_CPU_CAPABILITY`, `MKL_ENABLE_INSTRUCTIONS` and `ONEDNN_MAX_CPU_ISA` (each PyTorch worker
checks `torch.backends.cpu.get_cpu_capability()` and each of ours reports its path, so a
restriction that did not take is an error). Several comma-separated paths give one table each,
their rounds interleaved in the same run. Without `--isa` both sides run their best path.

Forward = inference (`torch.inference_mode()`; burn's plain device); train = forward + mean +
backward (weights' gradients included). `--generate` adds the batched generation benchmark
(char LM 64 → 2×LSTM 256 → 65, batch 256, greedy, 1,000 steps), chars/s.

PyTorch has no sLSTM: its side of the sLSTM shapes is `TorchSlstm` below, the xLSTM authors'
"vanilla" backend (NX-AI/xlstm, `blocks/slstm/src/vanilla`: a Python loop over the steps, one
matmul with the recurrent weights and the pointwise update per step, autograd for the
backward), which is what runs their sLSTM on a CPU (their fused kernels need CUDA).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

SHAPES = [
    # name, cell, d_input, d_hidden, n_layers, bidirectional, T, B (as in benches/recurrent.rs)
    ("charlm LSTM 2x256 in64 T100 B32", "lstm", 64, 256, 2, False, 100, 32),
    ("sentiment LSTM 128 in128 T200 B64", "lstm", 128, 128, 1, False, 200, 64),
    ("sentiment BiLSTM 128 in128 T200 B64", "lstm", 128, 128, 1, True, 200, 64),
    ("forecast GRU 64 in8 T48 B128", "gru", 8, 64, 1, False, 48, 128),
    ("bigger LSTM 512 in512 T50 B64", "lstm", 512, 512, 1, False, 50, 64),
    ("charlm sLSTM 2x256 in64 T100 B32", "slstm", 64, 256, 2, False, 100, 32),
    ("sentiment sLSTM 128 in128 T200 B64", "slstm", 128, 128, 1, False, 200, 64),
]


def torch_slstm(d_in, hidden, layers):
    """A stack of sLSTM layers as the xLSTM authors' vanilla backend runs one (see the module
    docs): the input projection for all steps, then per step `R h`, the pointwise update with
    the stabiliser, in a Python loop."""
    import torch
    import torch.nn.functional as F

    class Layer(torch.nn.Module):
        def __init__(self, d):
            super().__init__()
            k = hidden ** -0.5
            self.w = torch.nn.Parameter((torch.rand(4 * hidden, d) * 2 - 1) * k)
            self.r = torch.nn.Parameter((torch.rand(4 * hidden, hidden) * 2 - 1) * k)
            self.b = torch.nn.Parameter((torch.rand(4 * hidden) * 2 - 1) * k)

        def forward(self, x):
            b, t, _ = x.shape
            wx = (x @ self.w.T + self.b).transpose(0, 1)
            h = c = n = m = x.new_zeros(b, hidden)
            out = []
            for s in range(t):
                raw = wx[s] + h @ self.r.T
                i_raw, f_raw, z_raw, o_raw = raw.chunk(4, -1)
                lfm = m + F.logsigmoid(f_raw)
                m_new = i_raw if s == 0 else torch.max(i_raw, lfm)
                i = torch.exp(i_raw - m_new)
                f = torch.exp(lfm - m_new)
                c = f * c + i * torch.tanh(z_raw)
                n = f * n + i
                h = torch.sigmoid(o_raw) * c / n
                m = m_new
                out.append(h)
            return torch.stack(out, 1)

    class Stack(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(
                Layer(d_in if i == 0 else hidden) for i in range(layers))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return (x,)

    return Stack()


# What each path sets for PyTorch: ATen's kernels, MKL's BLAS and oneDNN's (LSTM/GRU cells).
TORCH_ISA = {
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512", "MKL_ENABLE_INSTRUCTIONS": "AVX512",
               "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
             "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "portable": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
                 "ONEDNN_MAX_CPU_ISA": "SSE41"},
}
# What `torch.backends.cpu.get_cpu_capability()` says on each path.
TORCH_CAPABILITY = {"avx512": "AVX512", "avx2": "AVX2", "portable": "DEFAULT"}


def capability():
    import torch

    return torch.backends.cpu.get_cpu_capability()


def worker(name, reps):
    """One shape in PyTorch: prints a JSON line with the medians."""
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(0)
    _, cell, d_in, hidden, layers, bidir, t, b = next(s for s in SHAPES if s[0] == name)
    if cell == "slstm":
        inf, train = (torch_slstm(d_in, hidden, layers) for _ in range(2))
    else:
        make = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        inf = make(d_in, hidden, num_layers=layers, bidirectional=bidir, batch_first=True)
        train = make(d_in, hidden, num_layers=layers, bidirectional=bidir, batch_first=True)
    x = torch.rand(b, t, d_in) * 2 - 1

    def fwd():
        with torch.inference_mode():
            inf(x)[0].sum().item()

    def step():
        train.zero_grad(set_to_none=True)
        train(x)[0].mean().backward()

    fwd()
    step()
    f, s = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        fwd()
        f.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        step()
        s.append(time.perf_counter() - t0)
    print(json.dumps({"shape": name, "fwd_ms": statistics.median(f) * 1e3,
                      "train_ms": statistics.median(s) * 1e3, "isa": capability()}))


def generate_worker(steps):
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(0)
    vocab, batch = 65, 256
    embed = torch.nn.Embedding(vocab, 64)
    lstm = torch.nn.LSTM(64, 256, num_layers=2, batch_first=True)
    head = torch.nn.Linear(256, vocab)

    def run(n):
        with torch.inference_mode():
            tokens = torch.zeros(batch, 1, dtype=torch.long)
            state = None
            for _ in range(n):
                out, state = lstm(embed(tokens), state)
                tokens = head(out[:, -1]).argmax(1, keepdim=True)
            tokens.sum().item()

    run(5)
    t0 = time.perf_counter()
    run(steps)
    print(json.dumps({"generate_chars_per_s": batch * steps / (time.perf_counter() - t0),
                      "isa": capability()}))


def measured(cmd, env=None):
    """Runs `cmd` under /usr/bin/time -v: (its JSON lines, peak RSS in MiB)."""
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1))
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return lines, rss / 1024


def bench_binary():
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/rnnlab/target"))
    out = subprocess.run(
        ["cargo", "bench", "--workspace", "--bench", "recurrent", "--no-run",
         "--message-format=json"], capture_output=True, text=True, check=True, env=env)
    for line in out.stdout.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "recurrent" \
                and msg.get("executable"):
            return msg["executable"]
    sys.exit("no recurrent bench binary")


def cpu():
    text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s*(.*)", text).group(1).strip()
    flags = re.search(r"Flags:\s*(.*)", text).group(1).split()
    simd = [f for f in flags if f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "amx_tile",
                                      "asimd")]
    return model, os.cpu_count(), simd


def checked(lines, who, isa):
    """The JSON lines of a run, after checking that it ran on the path asked for."""
    if isa is not None:
        want = isa if who == "ours" else TORCH_CAPABILITY[isa]
        got = lines[0].get("isa")
        if got != want:
            sys.exit(f"{who} ran on {got!r}, not the {want!r} asked for")
    return lines


def env_for(who, isa, extra=None):
    env = dict(extra or {})
    if isa is not None:
        env.update({"RNNLAB_CPU_ISA": isa} if who == "ours" else TORCH_ISA[isa])
    return env


def table(isa, shapes, res, gen, steps):
    print(f"\n### Path: {isa or 'best of each side'}\n")
    print("| shape | PyTorch fwd | ours fwd | fwd ratio | PyTorch train | ours train | train ratio "
          "| PyTorch RSS MiB | ours RSS MiB | RSS ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in shapes:
        med = {who: [statistics.median(v[i] for v in res[s[0]][who]) for i in range(3)]
               for who in ("ours", "torch")}
        (tf, tt, tr), (of, ot, orss) = med["torch"], med["ours"]
        print(f"| {s[0]} | {tf:.1f} | {of:.1f} | {tf / of:.2f}x | {tt:.1f} | {ot:.1f} | "
              f"{tt / ot:.2f}x | {tr:.0f} | {orss:.0f} | {orss / tr:.2f} |")
    if gen is not None:
        o, t = statistics.median(gen["ours"]), statistics.median(gen["torch"])
        print(f"\nbatched generation (2xLSTM256, batch 256, {steps} greedy steps): "
              f"PyTorch {t:,.0f} chars/s, ours {o:,.0f} chars/s ({o / t:.2f}x)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--filter", default="")
    ap.add_argument("--generate", action="store_true")
    ap.add_argument("--isa", default="",
                    help="comma-separated paths (avx512, avx2, portable); default: best of each")
    ap.add_argument("--worker")
    ap.add_argument("--generate-worker", type=int)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker, args.reps)
    if args.generate_worker:
        return generate_worker(args.generate_worker)
    isas = [i.strip() for i in args.isa.split(",") if i.strip()] or [None]
    for isa in isas:
        if isa is not None and isa not in TORCH_ISA:
            sys.exit(f"--isa {isa}: expected avx512, avx2 or portable")

    import torch

    exe = bench_binary()
    model, cores, simd = cpu()
    print(f"CPU: {model}, {cores} cores, flags: {' '.join(simd)}; PyTorch {torch.__version__} "
          f"(2 threads); {args.rounds} interleaved rounds x {args.reps} reps, medians in ms")
    shapes = [s for s in SHAPES if args.filter in s[0]]
    res = {isa: {s[0]: {"ours": [], "torch": []} for s in shapes} for isa in isas}
    steps = 1000
    gen = {isa: {"ours": [], "torch": []} for isa in isas} if args.generate else None
    for r in range(args.rounds):
        for isa in isas if r % 2 == 0 else isas[::-1]:
            for s in shapes:
                runs = [
                    ("ours", [exe], env_for("ours", isa, {
                        "RNNLAB_BENCH_ONLY": "ours", "RNNLAB_BENCH_FILTER": s[0],
                        "RNNLAB_BENCH_ROUNDS": str(args.reps)})),
                    ("torch", [sys.executable, __file__, "--worker", s[0], "--reps",
                               str(args.reps)], env_for("torch", isa)),
                ]
                for who, cmd, env in runs if r % 2 == 0 else runs[::-1]:
                    lines, rss = measured(cmd, env)
                    lines = checked(lines, who, isa)
                    res[isa][s[0]][who].append((lines[0]["fwd_ms"], lines[0]["train_ms"], rss))
            if gen is not None:
                runs = [("ours", [exe], env_for("ours", isa, {"RNNLAB_BENCH_ONLY": "generate"})),
                        ("torch", [sys.executable, __file__, "--generate-worker", str(steps)],
                         env_for("torch", isa))]
                for who, cmd, env in runs if r % 2 == 0 else runs[::-1]:
                    lines, _ = measured(cmd, env)
                    gen[isa][who].append(checked(lines, who, isa)[0]["generate_chars_per_s"])
    for isa in isas:
        table(isa, shapes, res[isa], gen[isa] if gen else None, steps)
    print("\nratio = PyTorch time / our time (above 1: ours is faster); RSS ratio = ours / PyTorch")


if __name__ == "__main__":
    main()
