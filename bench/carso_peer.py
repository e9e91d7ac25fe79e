#!/usr/bin/python3
"""PyTorch peer of bench/carso.ts (needs Debian python3-torch: run with /usr/bin/python3).

The CARSO inference pipeline (carso.md sections 2-4 and 6) written in plain
PyTorch on the Fashion-MNIST geometry: the FmnistCNN classifier (its PyTorch
nn.Sequential twin, src/models/fmnist-cnn.ts), forward hooks on its children
2, 4, 6, 8 (pre-ReLU conv outputs), the purifier of
test/fixtures/carso/gen_carso.py (GEOMS['grey'], condition 512, latent 128: the
same state-dict keys as carso's), N prior samples decoded in ONE batched call,
classified, and aggregated by the stable peel (src/carso/aggregation.ts).
Weights: the classifier and purifier files carso wrote (safetensors). The
inputs (x, y, fixed latents z) and carso's logits / input gradient on them come
in --check; the peer reports its max |diff| against them before timing.

Times, with fresh z ~ N(0, I) each call as carso's forward: forward (no grad)
and the input gradient of the summed CE of the aggregated logits. Prints one
JSON object: per iteration, for each repeat, wall and process CPU seconds and
minor page faults; and the check's diffs.
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'test', 'fixtures'))
sys.path.insert(0, os.path.join(HERE, '..', 'test', 'fixtures', 'carso'))
from tiny_safetensors import read  # noqa: E402
from gen_carso import FMNIST_CNN_TAPS, GEOMS, Purifier  # noqa: E402

TAP_CHILDREN = (2, 4, 6, 8)  # FMNIST_CNN_TAPS of src/carso/geometry.ts
PEEL_LOG_CAP = 80.0  # src/carso/aggregation.ts


def fmnist_cnn(classes=10):
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, 1, 1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(64, 64, 3, 1, 1), nn.ReLU(),
        nn.Conv2d(64, 128, 3, 2, 1), nn.ReLU(),
        nn.Flatten(), nn.Linear(128 * 4 * 4, 256), nn.ReLU(), nn.Linear(256, classes))


def peel(l):
    """Stable peel: l [N, B, K] -> S_k - logsumexp_{j != k} S_j, S_k = sum_i exp(l_ik), log S capped linearly."""
    _, B, K = l.shape
    log_s = torch.logsumexp(l, 0)
    capped = log_s.clamp(max=PEEL_LOG_CAP)
    s = capped.exp() * (log_s - capped + 1)
    idx = torch.arange(K)
    diag = idx.unsqueeze(0) == idx.unsqueeze(1)
    others = s.unsqueeze(1).expand(B, K, K).masked_fill(diag, float('-inf'))
    return s - torch.logsumexp(others, 2)


class Carso(nn.Module):
    def __init__(self, classifier, purifier, samples):
        super().__init__()
        self.classifier, self.purifier, self.samples = classifier, purifier, samples
        self.latent = purifier.neck.x_to_mu.out_features
        self._reps = None
        for i in TAP_CHILDREN:
            classifier[i].register_forward_hook(self._hook)

    def _hook(self, _m, _inp, out):
        if self._reps is not None:
            self._reps.append(out)

    def condition(self, x):
        self._reps = []
        try:
            self.classifier(x)  # the classifier's own logits on x are discarded
            reps = self._reps
        finally:
            self._reps = None
        return self.purifier.condition(reps)

    def forward(self, x, z=None):
        B = x.shape[0]
        if z is None:
            z = torch.randn(self.samples, B, self.latent)
        N = z.shape[0]
        c = self.condition(x)
        c_n = c.unsqueeze(0).expand(N, B, c.shape[1]).reshape(N * B, -1)
        x_hat = self.purifier.decoder([z.reshape(N * B, -1), c_n])
        return peel(self.classifier(x_hat).view(N, B, -1))


def timed(fn, iters, repeats, warmup):
    """Per iteration, for each repeat: wall and process CPU seconds, minor page faults (bench/carso.ts timedWallCpu)."""
    for _ in range(warmup):
        fn()
    wall, cpu, faults = [], [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(iters):
            fn()
        wall.append((time.perf_counter() - t0) / iters)
        cpu.append((time.process_time() - c0) / iters)
        faults.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / iters)
    return {'wall': wall, 'cpu': cpu, 'faults': faults}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--classifier', required=True)
    p.add_argument('--purifier', required=True)
    p.add_argument('--check', required=True, help='x, y, z and carso\'s logits and grad (safetensors)')
    p.add_argument('--samples', type=int, default=8)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--repeats', type=int, default=10)
    p.add_argument('--iters', type=int, default=3)
    p.add_argument('--warmup', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    classifier = fmnist_cnn()
    classifier.load_state_dict(read(a.classifier)[0])
    classifier.eval().requires_grad_(False)
    tensors, meta = read(a.purifier)
    info = json.loads(meta['purifier'])
    g = info['geometry']
    assert [list(t) for t in FMNIST_CNN_TAPS] == info['tapShapes'], info['tapShapes']
    assert g['decoderChannels'] == GEOMS['grey']['ch'], g['decoderChannels']
    purifier = Purifier(GEOMS['grey'], FMNIST_CNN_TAPS, g['condDim'], g['latentDim'])
    missing, unexpected = purifier.load_state_dict(tensors, strict=False)
    encoder = ('input_compressor.', 'joint_fcn_compressor.', 'neck.')
    assert not unexpected and all(k.startswith(encoder) for k in missing), (missing, unexpected)
    purifier.eval()
    carso = Carso(classifier, purifier, a.samples)

    ck, _ = read(a.check)
    x, y = ck['x'], ck['y']

    def input_grad(z=None):
        xr = x.clone().requires_grad_(True)
        logits = carso(xr, z)
        (g,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction='sum'), [xr])
        return logits.detach(), g

    with torch.no_grad():
        logits = carso(x, ck['z'])
    g_logits, g = input_grad(ck['z'])
    check = {
        'logits': float((logits - ck['logits']).abs().max()),
        'gradLogits': float((g_logits - ck['logits']).abs().max()),
        'grad': float((g - ck['grad']).abs().max()),
        'gradScale': float(ck['grad'].abs().max()),
    }

    def forward():
        with torch.no_grad():
            carso(x)

    res = {name: timed(fn, a.iters, a.repeats, a.warmup) for name, fn in [('forward', forward), ('inputGrad', input_grad)]}
    res.update(check=check, torch=torch.__version__, threads=torch.get_num_threads())
    print(json.dumps(res))


if __name__ == '__main__':
    main()
