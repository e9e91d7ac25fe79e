// Where the shipped weights are: models/ at the package root, in a checkout and in
// an installed package alike (src/models and dist/models both sit two levels down).
//
//     loadModule(shippedFile('fmnist-cnn-pgd-at', 'model.safetensors'), createModel('fmnist-cnn'));
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SHIPPED_MODELS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');

/** A file of a shipped model's folder (e.g. 'fmnist-cnn-pgd-at', 'model.safetensors'); throws naming the path when absent. */
export function shippedFile(model: string, file: string): string {
  const path = join(SHIPPED_MODELS_DIR, model, file);
  if (!existsSync(path)) throw new Error(`no shipped file ${path} (the models/ folder of the carso package)`);
  return path;
}
