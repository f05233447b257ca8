"""One demo-sized head's training step with the AdamW `train._objective` used before (one tensor at a time) and now
(fused), and what writing an epoch's resume state cost beside an epoch's steps.

Usage: python bench/bench_train_step.py [STEPS] (default 300). A linear EmbedderHead 1280 -> 1280 on random
unit vectors, batches of 64 (16 classes x 4), AnchorwiseNTXentLoss(0.1), one torch thread (as each head worker has).
Prints ms per step for both optimisers, the largest weight difference after STEPS steps, and the seconds of one
`last.pt` + RNG save against 50 steps (an epoch of the largest demo head). Figures are ratios from this one run."""
import sys, tempfile, time
from pathlib import Path
import torch
from memeclust.train import AnchorwiseNTXentLoss, EmbedderHead, _rng_state, _save

def steps(fused: bool, n: int) -> tuple[float, torch.Tensor]:
    "(seconds per step, final weights) of `n` steps from the same start and batches."
    head, loss_fn = EmbedderHead(1280, seed=0), AnchorwiseNTXentLoss(temperature=0.1)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=1e-4, fused=fused or None, foreach=None if fused else False)
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(n, 64, 1280, generator=g), dim=2)
    y = torch.arange(16).repeat_interleave(4)
    t0 = time.perf_counter()
    for i in range(n):
        loss = loss_fn(head(x[i]), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / n, head.proj.weight.detach().clone()

if __name__ == "__main__":
    torch.set_num_threads(1)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    old, w_old = steps(False, n)
    new, w_new = steps(True, n)
    head = EmbedderHead(1280)
    opt = torch.optim.AdamW(head.parameters(), fused=True)
    head(torch.randn(2, 1280)).sum().backward()
    opt.step()
    out = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    _save({"epoch": 1, "rng": _rng_state()}, out / "rng-rank0.pt")
    _save({"model": head.state_dict(), "optimizer": opt.state_dict(), "state": {}}, out / "last.pt")
    save = time.perf_counter() - t0
    print(f"{n} steps of a 1280 -> 1280 head, batch 64, 1 thread")
    print(f"AdamW one tensor at a time: {old * 1e3:.2f} ms/step; fused: {new * 1e3:.2f} ms/step; speed-up {old / new:.2f}x")
    print(f"largest weight difference after {n} steps: {float((w_old - w_new).abs().max()):.2e} (rounding order)")
    print(f"one epoch's resume state (last.pt + RNG): {save * 1e3:.0f} ms = {save / (50 * new):.0%} of a 50-step epoch")
