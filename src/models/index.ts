// Model registry: architectures by name (what configs and the CLI refer to).
import type { Module } from '../nn/index.js';
import { ReferenceCNN } from './reference-cnn.js';

export { ReferenceCNN } from './reference-cnn.js';

const REGISTRY = {
  'reference-cnn': () => new ReferenceCNN(),
} satisfies Record<string, () => Module>;

export type ModelName = keyof typeof REGISTRY;
export const modelNames = Object.keys(REGISTRY) as ModelName[];

/** A freshly initialised model; throws listing the valid names for an unknown one. */
export function createModel(name: string): Module {
  if (!Object.hasOwn(REGISTRY, name)) throw new Error(`unknown model '${name}' (valid: ${modelNames.join(', ')})`);
  return REGISTRY[name as ModelName]();
}
