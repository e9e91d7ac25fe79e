// A chain of modules (torch.nn.Sequential): children named "0", "1", ...
import { tidy, type Tensor } from '../tensor/index.js';
import { Module } from './module.js';

export class Sequential extends Module {
  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Adds a module at the end, named by its index. */
  append(m: Module): this {
    this.addModule(String(this.length), m);
    return this;
  }

  get length(): number {
    return this.children().length;
  }

  /** The i-th module (negative counts from the end). */
  at(i: number): Module {
    const m = this.children().at(i);
    if (m === undefined) throw new Error(`Sequential.at(${i}): only ${this.length} modules`);
    return m;
  }

  /** Each child's `call` (so its hooks fire) in order; intermediates freed. */
  forward(x: Tensor): Tensor {
    return tidy(() => this.children().reduce((h, m) => m.call(h), x));
  }
}
