#!/usr/bin/python3
"""Times the Python reference of a saved AnomalyLens model scoring images: the same work as
TorchModel::analyse at the input size (no tiling), batched, under no_grad (AnoGAN: its latent
search with autograd on z). Prints images per second. Used by tests/bench/bench_models.cpp."""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import anomalylens_reference as ref  # noqa: E402


def score(net, kind, c, x):
    if kind == "anogan":
        lam = c["lambda"]
        with torch.no_grad():
            fx = net.D(x)[1]
        z = (torch.rand(x.shape[0], c["z_dim"]) * 2 - 1).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=c["mapping_lr"])
        for _ in range(c["mapping_steps"]):
            g = net.G(z)
            loss = ((1 - lam) * (x - g).abs().flatten(1).sum(1) + lam * (fx - net.D(g)[1]).abs().flatten(1).sum(1)).sum()
            z.grad = torch.autograd.grad(loss, [z])[0]
            opt.step()
            with torch.no_grad():
                z.clamp_(-1, 1)
        with torch.no_grad():
            g = net.G(z)
            return (x - g).abs().flatten(1).sum(1)
    with torch.no_grad():
        if kind == "fanogan":
            xr = net.G(net.E(x)[0])
            return (x - xr).pow(2).flatten(1).mean(1) + c["kappa"] * (net.D(x)[1] - net.D(xr)[1]).pow(2).flatten(1).mean(1)
        if kind == "sparsegan":
            h = net.G_en(x)
            return (h - net.G_en(net.G_de(h))).flatten(1).norm(2, dim=1)
        if kind == "a2bgan":
            _, _, bp, _ = net.translate(x)
            return (x - bp).abs().flatten(1).mean(1) / 2
        if kind == "adm":
            mask = torch.ones(x.shape[0], 1, *x.shape[2:])
            C = x.shape[1]
            translated = torch.cat([net.G_ct(*net.ctoc_input(x, t, mask)) for t in range(C)], 1)
            z = torch.cat([(x - translated).abs(), net.DR.reduce(x)], 1)
            e = ref.gmm_energy(ref.pixels(z), net.gmm["gmm_phi"], net.gmm["gmm_mu"], net.gmm["gmm_cov"])
            return torch.quantile(e.view(x.shape[0], -1), 0.99, dim=1)
    raise ValueError(kind)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--inputs", required=True)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)  # Debian's python3-torch starts with one
    with open(args.model) as f:
        card = json.load(f)
    weights = ref.read_safetensors(os.path.join(os.path.dirname(args.model), card["weights"]["file"]))
    kind, c = card["kind"], card["config"]
    net = ref.KINDS[kind](c)
    if kind == "adm":
        net.gmm = {k: weights.pop(k) for k in list(weights) if k.startswith("gmm_") or k == "hyperintensity_p99"}
    net.load_state_dict(weights, strict=True)
    net.eval()
    x = ref.read_safetensors(args.inputs)["x"]
    score(net, kind, c, x[: min(8, len(x))])  # warm-up, as the C++ side does
    t0 = time.perf_counter()
    for i in range(0, len(x), args.batch):
        score(net, kind, c, x[i:i + args.batch])
    print(f"{len(x) / (time.perf_counter() - t0):.3f}")


if __name__ == "__main__":
    main()
