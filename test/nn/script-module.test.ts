// ScriptModule: a torch.jit.save file as a carso Module, against PyTorch (the same
// network run by Debian's torch in gen_torch_files.py): logits and input gradients,
// a training step through its named parameters, BatchNorm's train/eval and
// buffers, dtype moves, and errors that name the file.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { dispose, grad, noGrad, tidy, type Tensor } from '../../src/tensor/index.js';
import { ScriptModule } from '../../src/nn/index.js';
import { createModel } from '../../src/models/index.js';
import { loadModule, readSafetensors } from '../../src/io/index.js';
import { SGD } from '../../src/optim/index.js';
import { checkTensor } from '../helpers.js';
import { torchFiles, torchUnavailable } from '../fixtures.js';

const why = torchUnavailable();
let files = '';
before(() => {
  if (why === null) files = torchFiles();
});
const ref = (name: string): Map<string, Tensor> => readSafetensors(join(files, name)).tensors;

/** Logits and d(sum CE)/dx of a module on x. */
function logitsAndGrad(forward: (x: Tensor) => Tensor, x: Tensor, y: Tensor): [Tensor, Tensor] {
  return tidy(() => {
    const xr = x.clone().requiresGrad_();
    const logits = forward(xr);
    return [logits.detach(), grad(logits.crossEntropy(y, 'sum'), [xr])[0]!];
  });
}

describe('ScriptModule', { skip: why ?? false }, () => {
  test('logits and input gradients equal PyTorch, for the TorchScript file and for FmnistCNN loaded from the .pt state dict', () => {
    const r = ref('reference.safetensors');
    const scripted = ScriptModule.load(join(files, 'scripted.pt')).eval();
    const cnn = createModel('fmnist-cnn').eval();
    loadModule(join(files, 'plain.pt'), cnn);
    for (const [label, m] of [
      ['torchscript', scripted],
      ['state dict', cnn],
    ] as const) {
      const [logits, g] = logitsAndGrad((x) => m.call(x), r.get('x')!, r.get('y')!);
      // NOTE: 1e-5 (abs and rel): both sides run the same libtorch 1.13 kernels in float32 and agree
      // bit for bit on one machine; the bound allows another OpenBLAS kernel reassociating the
      // 2048-long dot products of the head (~sqrt(2048) * 6e-8 relative, a few 1e-6 on logits ~10).
      checkTensor(logits, r.get('logits')!, `${label} logits`, 1e-5, 1e-5);
      checkTensor(g, r.get('grad')!, `${label} input gradient`, 1e-5, 1e-5);
      dispose([logits, g]);
    }
    scripted.dispose();
    cnn.dispose();
    dispose([...r.values()]);
  });

  test('parameters by PyTorch name share storage with the module: one SGD step matches PyTorch', () => {
    const r = ref('reference.safetensors');
    const m = ScriptModule.load(join(files, 'scripted.pt')).eval();
    const names = m.namedParameters().map(([n]) => n);
    assert.deepEqual(
      names,
      ['0', '2', '4', '6', '8', '11', '13'].flatMap((i) => [`${i}.weight`, `${i}.bias`]),
    );
    const opt = new SGD(m.parameters(), { lr: 0.05 });
    opt.zeroGrad();
    tidy(() => m.call(r.get('x')!).crossEntropy(r.get('y')!).backward());
    opt.step();
    const after = noGrad(() => m.call(r.get('x')!));
    // NOTE: one step of lr 0.05 moves the weights by ~1e-4; the tolerance is the logits' above
    checkTensor(after, r.get('logits_after')!, 'logits after one SGD step', 1e-5, 1e-5);
    m.dispose();
    dispose([after, ...r.values()]);
  });

  test('BatchNorm: eval and train mode equal PyTorch; train-mode forwards update the buffers in place', () => {
    const r = ref('bn-reference.safetensors');
    const m = ScriptModule.load(join(files, 'bn-scripted.pt'));
    assert.deepEqual(
      m.namedBuffers().map(([n, t]) => `${n} ${t.dtype}`),
      ['bn.running_mean float32', 'bn.running_var float32', 'bn.num_batches_tracked int64'],
    );
    // NOTE: 1e-5: a 256-long dot product after BatchNorm, values of order 1
    const ev = noGrad(() => m.eval().call(r.get('x')!));
    checkTensor(ev, r.get('eval_logits')!, 'eval logits', 1e-5, 1e-5);
    const tr = noGrad(() => m.train().call(r.get('x')!));
    checkTensor(tr, r.get('train_logits')!, 'train logits', 1e-5, 1e-5);
    const buffers = new Map(m.namedBuffers());
    for (const k of ['running_mean', 'running_var', 'num_batches_tracked'])
      checkTensor(buffers.get(`bn.${k}`)!, r.get(k)!, `buffer ${k} after one train forward`, 1e-6, 1e-6);
    assert.equal(m.training, true);
    m.to('float64');
    assert.deepEqual(
      m.namedBuffers().map(([, t]) => t.dtype),
      ['float64', 'float64', 'int64'],
      'floating tensors converted, the counter kept',
    );
    const ev64 = noGrad(() => m.eval().call(r.get('x')!.to('float64')));
    assert.equal(ev64.dtype, 'float64');
    m.dispose();
    dispose([ev, tr, ev64, ...r.values()]);
  });

  test('a weight tied between two layers is one parameter under both names', () => {
    const m = ScriptModule.load(join(files, 'tied-scripted.pt'));
    const named = new Map(m.namedParameters());
    assert.deepEqual([...named.keys()], ['a.weight', 'a.bias', 'b.weight', 'b.bias']);
    assert.equal(named.get('a.weight'), named.get('b.weight'));
    assert.equal(m.parameters().length, 3, 'an optimiser steps the tied weight once');
    m.dispose();
  });

  test('errors name the file and the method; a state dict file is not a TorchScript module', () => {
    const m = ScriptModule.load(join(files, 'scripted.pt'));
    const x = tidy(() => m.parameters()[0]!.detach().clone()); // [16, 1, 3, 3]: not an image batch
    assert.throws(
      () => m.call(x),
      /scripted\.pt: jit 'forward'\(Tensor\[16, 1, 3, 3\] float32\) \[forward\(.*mat1 and mat2 shapes/s,
    );
    assert.throws(
      () => m.callMethod('predict', x),
      /scripted\.pt: no method 'predict' \(it has: forward, forward_taps, tap_names/,
    );
    assert.throws(() => ScriptModule.load(join(files, 'plain.pt')), /jitLoad\('.*plain\.pt'\): .*constants\.pkl/);
    m.dispose();
    assert.throws(() => m.callMethod('forward', x), /the TorchScript module was disposed/);
    x.dispose();
  });
});
