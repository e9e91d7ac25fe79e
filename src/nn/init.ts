// Weight initialisation as torch.nn.init (PyTorch 1.13). Draws come from
// libtorch's default generator through aten::uniform_, so with the same
// manualSeed and the same construction order the parameters equal PyTorch's
// bit for bit (test/nn/init.test.ts checks this against fixtures).
import { empty, noGrad, op, type Tensor } from '../tensor/index.js';

const uniformOp = op('uniform_');

/** Fills t with U(lo, hi) in place, outside autograd. */
export function uniform_(t: Tensor, lo: number, hi: number): Tensor {
  noGrad(() => uniformOp.call(t, lo, hi, null));
  return t;
}

/** torch.nn.init._calculate_fan_in_and_fan_out's fan_in: size(1) * receptive field. */
export function fanIn(weight: Tensor): number {
  if (weight.ndim < 2) throw new Error(`fanIn: needs a weight with >= 2 dims, got [${weight.shape.join(', ')}]`);
  return weight.shape.slice(1).reduce((a, b) => a * b, 1);
}

/** kaiming_uniform_(mode='fan_in', nonlinearity='leaky_relu') with negative slope a. */
export function kaimingUniform_(weight: Tensor, a = 0): Tensor {
  if (weight.numel === 0) return weight; // PyTorch: a no-op (with a warning) on empty tensors
  // NOTE: the same floating-point steps as PyTorch (gain, std, bound) so bounds match to the last bit.
  const gain = Math.sqrt(2.0 / (1 + a ** 2));
  const bound = Math.sqrt(3.0) * (gain / Math.sqrt(fanIn(weight)));
  return uniform_(weight, -bound, bound);
}

/**
 * The default init of Linear and the convolutions (their reset_parameters):
 * weight ~ kaiming_uniform(a=sqrt(5)), i.e. U(+-1/sqrt(fan_in)); bias ~
 * U(+-1/sqrt(fan_in)). Returns fresh tensors; weight drawn first, as PyTorch.
 */
export function defaultLayerInit(weightShape: readonly number[], withBias: boolean, biasSize: number): [Tensor, Tensor | null] {
  const weight = kaimingUniform_(empty(weightShape), Math.sqrt(5));
  if (!withBias) return [weight, null];
  const fan = fanIn(weight);
  const bound = fan > 0 ? 1 / Math.sqrt(fan) : 0;
  return [weight, uniform_(empty([biasSize]), -bound, bound)];
}
