// The reference CNN for 28x28 greyscale images (MNIST, Fashion-MNIST): three
// 3x3 convolutions (the last two stride 2) and one linear layer. It extends
// Sequential so its state-dict names are those of the PyTorch
//   nn.Sequential(Conv2d(1, 32, 3, 1, 1), ReLU(), Conv2d(32, 64, 3, 2, 1), ReLU(),
//                 Conv2d(64, 128, 3, 2, 1), ReLU(), Flatten(), Linear(128 * 7 * 7, 10))
// Children: "0" conv 1->32 (28x28), "1" ReLU, "2" conv 32->64 (14x14), "3" ReLU,
// "4" conv 64->128 (7x7), "5" ReLU, "6" Flatten, "7" Linear 6272->10; so the keys are
// 0.weight, 0.bias, 2.weight, 2.bias, 4.weight, 4.bias, 7.weight, 7.bias.
import { Conv2d, Flatten, Linear, ReLU, Sequential } from '../nn/index.js';

export class ReferenceCNN extends Sequential {
  /** x: [B, 1, 28, 28] in [0, 1] -> logits [B, classes]. */
  constructor(readonly classes = 10) {
    super(
      new Conv2d(1, 32, 3, { stride: 1, padding: 1 }),
      new ReLU(),
      new Conv2d(32, 64, 3, { stride: 2, padding: 1 }),
      new ReLU(),
      new Conv2d(64, 128, 3, { stride: 2, padding: 1 }),
      new ReLU(),
      new Flatten(),
      new Linear(128 * 7 * 7, classes),
    );
  }
}
