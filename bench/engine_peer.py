#!/usr/bin/python3
"""PyTorch peer of bench/engine.ts (needs Debian python3-torch: run with /usr/bin/python3).

Times the reference CNN (conv 32 s1 -> conv 64 s2 -> conv 128 s2 -> linear 10,
3x3 kernels, padding 1, ReLU) on the same shapes as the carso side:
forward, input gradient of the summed CE (an attack step), and a full SGD
(momentum 0.9) train step with mean CE. Prints one JSON object: seconds per
iteration for each repeat.
"""
import argparse, json, time
import torch
import torch.nn as nn
import torch.nn.functional as F


def reference_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, 1, 1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(64, 128, 3, 2, 1), nn.ReLU(),
        nn.Flatten(), nn.Linear(128 * 7 * 7, 10))


def timed(fn, iters, repeats, warmup):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        out.append((time.perf_counter() - t0) / iters)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--repeats', type=int, default=10)
    p.add_argument('--iters', type=int, default=5)
    p.add_argument('--warmup', type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = reference_cnn()
    x = torch.rand(a.batch, 1, 28, 28)
    y = torch.randint(0, 10, (a.batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def forward():
        with torch.no_grad():
            model(x)

    def input_grad():
        xr = x.clone().requires_grad_(True)
        loss = F.cross_entropy(model(xr), y, reduction='sum')
        torch.autograd.grad(loss, [xr])

    def train_step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    res = {name: timed(fn, a.iters, a.repeats, a.warmup)
           for name, fn in [('forward', forward), ('inputGrad', input_grad), ('trainStep', train_step)]}
    res['torch'] = torch.__version__
    res['threads'] = torch.get_num_threads()
    print(json.dumps(res))


if __name__ == '__main__':
    main()
