// The Fashion-MNIST classifier of the demo and of the robust (adversarially
// trained) model: five 3x3 convolutions and a two-layer head, sized to train
// quickly on a 2-core CPU. Like ReferenceCNN it extends Sequential, so its
// state-dict names are those of the PyTorch
//   nn.Sequential(Conv2d(1, 16, 3, 1, 1), ReLU(), Conv2d(16, 32, 3, 2, 1), ReLU(),
//                 Conv2d(32, 64, 3, 2, 1), ReLU(), Conv2d(64, 64, 3, 1, 1), ReLU(),
//                 Conv2d(64, 128, 3, 2, 1), ReLU(), Flatten(),
//                 Linear(128 * 4 * 4, 256), ReLU(), Linear(256, 10))
//
//   child  layer                         output (x: [B, 1, 28, 28] in [0, 1])
//   0, 1   conv 1 -> 16, stride 1, ReLU    [B, 16, 28, 28]
//   2, 3   conv 16 -> 32, stride 2, ReLU   [B, 32, 14, 14]
//   4, 5   conv 32 -> 64, stride 2, ReLU   [B, 64, 7, 7]
//   6, 7   conv 64 -> 64, stride 1, ReLU   [B, 64, 7, 7]
//   8, 9   conv 64 -> 128, stride 2, ReLU  [B, 128, 4, 4]
//   10     flatten                         [B, 2048]
//   11, 12 linear 2048 -> 256, ReLU        [B, 256]
//   13     linear 256 -> classes           [B, classes]
// 661,194 parameters (10 classes); keys 0.weight, 0.bias, 2.*, 4.*, 6.*, 8.*, 11.*, 13.*.
//
// NOTE: why this shape. Full-resolution (28x28) layers dominate CPU time, above all
// the input gradient every attack step needs, so only the first conv runs there and
// it is narrow (16 channels); the capacity sits at 7x7 and 4x4 where it is cheap.
// Batch of 128, one thread (CPU ms, 2-core dev VM; ReferenceCNN in brackets):
// forward 17 (27), forward + parameter gradients 51 (78), + input gradient 56 (90).
// No BatchNorm, so train and eval mode compute the same function.
//
// Robustness check of this architecture (its PyTorch twin, one thread, 25 min):
// FGSM-RS training (eps 0.1, uniform start, step 0.125), Adam with one-cycle LR
// (max 3e-3), batch 128, 15 epochs -> 89.3% clean, 79.2% PGD-20 (eps 0.1, step
// 0.01, random start) on the 10k Fashion-MNIST test set.
import { Conv2d, Flatten, Linear, ReLU, Sequential } from '../nn/index.js';

export class FmnistCNN extends Sequential {
  /** x: [B, 1, 28, 28] in [0, 1] -> logits [B, classes]. */
  constructor(readonly classes = 10) {
    super(
      new Conv2d(1, 16, 3, { stride: 1, padding: 1 }),
      new ReLU(),
      new Conv2d(16, 32, 3, { stride: 2, padding: 1 }),
      new ReLU(),
      new Conv2d(32, 64, 3, { stride: 2, padding: 1 }),
      new ReLU(),
      new Conv2d(64, 64, 3, { stride: 1, padding: 1 }),
      new ReLU(),
      new Conv2d(64, 128, 3, { stride: 2, padding: 1 }),
      new ReLU(),
      new Flatten(),
      new Linear(128 * 4 * 4, 256),
      new ReLU(),
      new Linear(256, classes),
    );
  }
}
