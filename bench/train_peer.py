#!/usr/bin/python3
"""PyTorch peer of bench/train.ts (needs Debian python3-torch: run with /usr/bin/python3).

PGD adversarial training (Madry) of the reference CNN on the first
batches*batch Fashion-MNIST training images, in order: per batch, Linf PGD
(random start U(-eps, eps), `steps` signed steps of alpha on the summed CE,
projection to the eps-ball and [0, 1]) with the model in train mode, then an
SGD (momentum 0.9, wd 5e-4) step on the mean CE of the adversarial batch.
Prints JSON: seconds per epoch-equivalent for each repeat.
"""
import argparse, gzip, json, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from engine_peer import reference_cnn


def load_fmnist(n):
    with gzip.open('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16)[: n * 784].reshape(n, 1, 28, 28)
    with gzip.open('/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz') as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return torch.from_numpy(x.astype(np.float32) / 255), torch.from_numpy(y.astype(np.int64))


def pgd(model, x, y, eps, alpha, steps):
    xa = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        xa.requires_grad_(True)
        g, = torch.autograd.grad(F.cross_entropy(model(xa), y, reduction='sum'), [xa])
        xa = torch.min(torch.max(xa.detach() + alpha * g.sign(), x - eps), x + eps).clamp(0, 1)
    return xa


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--batches', type=int, default=10)
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--eps', type=float, default=0.1)
    p.add_argument('--repeats', type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    X, Y = load_fmnist(a.batch * a.batches)
    model = reference_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    alpha = 2.5 * a.eps / a.steps
    times = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        model.train()
        for b in range(a.batches):
            x, y = X[b * a.batch:(b + 1) * a.batch], Y[b * a.batch:(b + 1) * a.batch]
            xa = pgd(model, x, y, a.eps, alpha, a.steps)
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xa), y).backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    print(json.dumps({'epoch': times, 'torch': torch.__version__}))


if __name__ == '__main__':
    main()
