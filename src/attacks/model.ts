// Adapters from nn Modules to the attack-facing Model interface.
import type { Module } from '../nn/index.js';
import type { Model } from './types.js';

/**
 * A deterministic classifier as a Model. Calls go through `module.call`, so
 * forward hooks fire (CARSO taps activations through them).
 */
export function asModel(module: Module): Model {
  return { forward: (x) => module.call(x), stochastic: false };
}
