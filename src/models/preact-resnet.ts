// PreActResNet-18 (He et al. 2016, "Identity Mappings in Deep Residual
// Networks") as in Wong et al. 2020 "Fast is better than free" (fast_adversarial)
// and Rice et al. 2020 "Overfitting in adversarially robust deep learning"
// (robust_overfitting), i.e. kuangliu/pytorch-cifar's preact_resnet.py, with
// the PyTorch state-dict names:
//
//   conv1.weight                                 conv 3x3, C_in -> 64, stride 1, pad 1, no bias
//   layer{1..4}.{j}.bn1.*  .conv1.weight         j = 0, 1; conv 3x3 stride s (first block) else 1, pad 1
//                 .bn2.*   .conv2.weight         conv 3x3, stride 1, pad 1
//   layer{2,3,4}.0.shortcut.0.weight             1x1 stride 2 projection (nn.Sequential with one conv)
//   bn.*  linear.{weight,bias}
//
// Widths 64, 128, 256, 512 with strides 1, 2, 2, 2. A block is
//   pre = relu(bn1(x)); short = shortcut ? shortcut(pre) : x
//   return conv2(relu(bn2(conv1(pre)))) + short
// (the shortcut runs first, so its hook fires before conv1's). Head: relu(bn) ->
// avg_pool2d(4) -> linear; 32x32 inputs only. ReLUs are functional (no modules), as
// in PyTorch. Those repositories normalise outside the model; here `normalization`
// optionally does it inside, so the model takes [0, 1] pixels like every other.
//
//     const net = new PreActResNet18({ normalization: CIFAR10_NORM }).eval();
//     const logits = net.call(x); // x: [B, 3, 32, 32] in [0, 1] -> [B, 10]
import { tidy, type Tensor } from '../tensor/index.js';
import { BatchNorm2d, Conv2d, Linear, Module, Sequential } from '../nn/index.js';
import { checkNormalization, normalizeInput, type Normalization } from './normalize.js';

export interface PreActResNetOptions {
  /** Output classes (default 10). */
  classes?: number;
  /** Input standardisation inside the model (default null: none, as the PyTorch original). */
  normalization?: Normalization | null;
  /** Image channels (default 3). */
  inputChannels?: number;
}

/** x: [B, in, H, W] -> [B, out, H/s, W/s]. */
export class PreActBlock extends Module {
  readonly bn1: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv2: Conv2d;
  /** Sequential(conv 1x1) when the stride or width changes, else null (identity). */
  readonly shortcut: Sequential | null;

  constructor(inChannels: number, outChannels: number, stride: 1 | 2) {
    super();
    // NOTE: registration order = PyTorch's (state-dict order, and the order conv weights draw from the RNG).
    this.bn1 = this.addModule('bn1', new BatchNorm2d(inChannels));
    this.conv1 = this.addModule('conv1', new Conv2d(inChannels, outChannels, 3, { stride, padding: 1, bias: false }));
    this.bn2 = this.addModule('bn2', new BatchNorm2d(outChannels));
    this.conv2 = this.addModule('conv2', new Conv2d(outChannels, outChannels, 3, { padding: 1, bias: false }));
    this.shortcut =
      stride === 1 && inChannels === outChannels
        ? null
        : this.addModule('shortcut', new Sequential(new Conv2d(inChannels, outChannels, 1, { stride, bias: false })));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const pre = this.bn1.call(x).relu();
      const short = this.shortcut === null ? x : this.shortcut.call(pre);
      return this.conv2.call(this.bn2.call(this.conv1.call(pre)).relu()).add(short);
    });
  }
}

export class PreActResNet18 extends Module {
  readonly classes: number;
  readonly normalization: Normalization | null;
  readonly inputChannels: number;
  readonly conv1: Conv2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;
  readonly bn: BatchNorm2d;
  readonly linear: Linear;

  constructor(opts: PreActResNetOptions = {}) {
    super();
    this.classes = opts.classes ?? 10;
    this.normalization = opts.normalization ?? null;
    this.inputChannels = opts.inputChannels ?? 3;
    for (const [k, v] of [
      ['classes', this.classes],
      ['inputChannels', this.inputChannels],
    ] as const)
      if (!Number.isInteger(v) || v < 1) throw new Error(`PreActResNet18: ${k} must be a positive integer, got ${v}`);
    if (this.normalization !== null) checkNormalization(this.normalization, this.inputChannels, 'PreActResNet18');

    this.conv1 = this.addModule('conv1', new Conv2d(this.inputChannels, 64, 3, { padding: 1, bias: false }));
    const stage = (name: string, cin: number, cout: number, stride: 1 | 2): Sequential =>
      this.addModule(name, new Sequential(new PreActBlock(cin, cout, stride), new PreActBlock(cout, cout, 1)));
    this.layer1 = stage('layer1', 64, 64, 1);
    this.layer2 = stage('layer2', 64, 128, 2);
    this.layer3 = stage('layer3', 128, 256, 2);
    this.layer4 = stage('layer4', 256, 512, 2);
    this.bn = this.addModule('bn', new BatchNorm2d(512));
    this.linear = this.addModule('linear', new Linear(512, this.classes));
  }

  /** x: [B, C_in, 32, 32] in [0, 1] -> logits [B, classes]. */
  forward(x: Tensor): Tensor {
    return tidy(() => {
      let h = this.conv1.call(normalizeInput(x, this.normalization)); // [B, 64, 32, 32]
      for (const layer of [this.layer1, this.layer2, this.layer3, this.layer4]) h = layer.call(h); // -> [B, 512, 4, 4]
      return this.linear.call(this.bn.call(h).relu().avgPool2d(4).flatten(1));
    });
  }
}
