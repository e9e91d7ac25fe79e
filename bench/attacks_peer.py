#!/usr/bin/python3
"""PyTorch peer of bench/attacks.ts (needs Debian python3-torch: run with /usr/bin/python3).

APGD-CE (Croce & Hein 2020) written from attacks.md §4.3-4.4, the fra31
`autopgd_base.py` algorithm (the package itself is not installed): Linf or L2,
random start on the eps-sphere, step 2*eps halved at the integer checkpoints
(k0 = 0.22N, kmin = 0.06N, kdec = 0.03N) where the loss oscillated (<= rho*k
increases) or stalled, restart from the best point, momentum 0.75 from the
second step, x_best_adv = the last misclassified iterate. As AutoAttack runs
it: per batch of `bs` points, seeded at the start of each batch, only on the
points classified correctly; one forward pass on the result decides success.

Model: the reference CNN with the weights carso wrote (--weights, safetensors);
data: the first n Fashion-MNIST test images; labels: the data set's (--labels
data) or the model's clean predictions (--labels pred: every point attacked).
Prints JSON: wall and CPU seconds for each repeat, robust and clean counts.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures'))
from tiny_safetensors import read  # noqa: E402
from engine_peer import reference_cnn  # noqa: E402

FMNIST = '/usr/share/datasets/fashion-mnist'


def load_fmnist_test(n):
    with gzip.open(f'{FMNIST}/t10k-images-idx3-ubyte.gz') as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)[: n * 784].reshape(n, 1, 28, 28)
    with gzip.open(f'{FMNIST}/t10k-labels-idx1-ubyte.gz') as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return torch.from_numpy(x.astype(np.float32) / 255), torch.from_numpy(y.astype(np.int64))


def per_sample(v, like):
    return v.view(-1, *([1] * (like.dim() - 1)))


def project(v, x, eps, norm):
    if norm == 'Linf':
        return torch.clamp(torch.min(torch.max(v, x - eps), x + eps), 0.0, 1.0)
    d = v - x
    n = d.flatten(1).norm(dim=1)
    return torch.clamp(x + d / per_sample(n + 1e-12, x) * per_sample(torch.clamp(n, max=eps), x), 0.0, 1.0)


def ascent(g, norm):
    if norm == 'Linf':
        return torch.sign(g)
    return g / per_sample(g.flatten(1).norm(dim=1) + 1e-12, g)


def loss_and_grad(model, x_adv, y):
    x_adv = x_adv.detach().requires_grad_(True)
    logits = model(x_adv)
    loss = F.cross_entropy(logits, y, reduction='none')
    (g,) = torch.autograd.grad(loss.sum(), [x_adv])
    return logits.detach(), loss.detach(), g.detach()


def single_run(model, x, y, eps, n_iter, norm, rho=0.75):
    """One APGD run (fra31 attack_single_run): returns (x_best_adv, acc)."""
    B = x.shape[0]
    k = k0 = max(int(0.22 * n_iter), 1)
    k_min, k_dec = max(int(0.06 * n_iter), 1), max(int(0.03 * n_iter), 1)
    if norm == 'Linf':
        t = 2 * torch.rand(x.shape) - 1
        x_adv = x + eps * t / per_sample(t.flatten(1).abs().max(1)[0] + 1e-12, x)
    else:
        t = torch.randn(x.shape)
        x_adv = x + eps * t / per_sample(t.flatten(1).norm(dim=1) + 1e-12, x)
    x_adv = x_adv.clamp(0.0, 1.0)
    logits, loss, g = loss_and_grad(model, x_adv, y)
    acc = logits.argmax(1) == y
    x_best, x_best_adv, g_best, loss_best = x_adv.clone(), x_adv.clone(), g.clone(), loss.clone()
    loss_steps = torch.zeros(n_iter, B)
    step = per_sample(torch.full((B,), 2.0 * eps), x)
    x_prev = x_adv.clone()
    counter, loss_best_last_check = 0, loss_best.clone()
    reduced_last_check = torch.ones(B, dtype=torch.bool)
    for i in range(n_iter):
        a = 0.75 if i > 0 else 1.0
        momentum = x_adv - x_prev
        x_prev = x_adv
        z = project(x_adv + step * ascent(g, norm), x, eps, norm)
        x_adv = project(x_adv + (z - x_adv) * a + momentum * (1 - a), x, eps, norm)
        logits, loss, g = loss_and_grad(model, x_adv, y)
        ok = logits.argmax(1) == y
        acc &= ok
        x_best_adv[~ok] = x_adv[~ok]
        loss_steps[i] = loss
        up = loss > loss_best
        x_best[up], g_best[up], loss_best[up] = x_adv[up], g[up], loss[up]
        counter += 1
        if counter == k:
            # NOTE: index i-c-1 = -1 reads the last (still zero) row, as fra31.
            inc = sum((loss_steps[i - c] > loss_steps[i - c - 1]).float() for c in range(k))
            red = (inc <= k * rho) | (~reduced_last_check & (loss_best_last_check >= loss_best))
            reduced_last_check, loss_best_last_check = red, loss_best.clone()
            if red.any():
                step = torch.where(per_sample(red, x), step / 2.0, step)
                x_adv, g = x_adv.clone(), g.clone()
                x_adv[red], g[red] = x_best[red], g_best[red]
            k, counter = max(k - k_dec, k_min), 0
    return x_best_adv, acc


def apgd_ce(model, x, y, eps, n_iter, norm, seed):
    """fra31 perturb with 1 restart: only correctly classified points are attacked."""
    with torch.no_grad():
        acc = model(x).argmax(1) == y
    adv = x.clone()
    torch.manual_seed(seed)
    idx = acc.nonzero().squeeze(1)
    if idx.numel() > 0:
        adv_r, acc_r = single_run(model, x[idx], y[idx], eps, n_iter, norm)
        adv[idx[~acc_r]] = adv_r[~acc_r]
    with torch.no_grad():  # the decision pass (AutoAttack's forward on the attack's output)
        return model(adv).argmax(1) == y


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--weights', required=True)
    p.add_argument('--n', type=int, default=1000)
    p.add_argument('--bs', type=int, default=250)
    p.add_argument('--eps', type=float, default=0.1)
    p.add_argument('--iters', type=int, default=100)
    p.add_argument('--norm', default='Linf')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--labels', choices=['data', 'pred'], default='pred')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--repeats', type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = reference_cnn()
    tensors, _ = read(a.weights)
    model.load_state_dict(tensors)
    model.eval()
    X, Y = load_fmnist_test(a.n)
    with torch.no_grad():
        pred = torch.cat([model(X[s:s + a.bs]).argmax(1) for s in range(0, a.n, a.bs)])
    if a.labels == 'pred':
        Y = pred
    apgd_ce(model, X[:10], Y[:10], a.eps, 5, a.norm, a.seed)  # warm-up
    times, cpu, robust = [], [], 0
    for _ in range(a.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        robust = sum(int(apgd_ce(model, X[s:s + a.bs], Y[s:s + a.bs], a.eps, a.iters, a.norm, a.seed).sum())
                     for s in range(0, a.n, a.bs))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(json.dumps({'seconds': times, 'cpu': cpu, 'robust': robust, 'clean': int((pred == Y).sum()),
                      'torch': torch.__version__}))


if __name__ == '__main__':
    main()
