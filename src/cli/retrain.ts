// `carso demo --retrain`: the two shipped Fashion-MNIST models trained again
// from their recorded recipes (the classifier's card.json and the purifier's
// defaults), into <dir>/classifier and <dir>/purifier, resuming either when
// interrupted. Hours on a 2-core CPU (the cards give the measured times).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadDataset } from '../data/index.js';
import { manualSeed } from '../tensor/index.js';
import type { TrainConfig } from '../train/config.js';
import { train } from '../train/loop.js';
import { Carso } from '../carso/carso.js';
import { purifierDefaults } from '../carso/config.js';
import { GEOMETRIES, defaultTapNames } from '../carso/geometry.js';
import { trainPurifier } from '../carso/train.js';
import { SHIPPED_CLASSIFIER } from './eval.js';

/** Trains both models; returns their weight files. */
export function retrain(dir: string, seed: number, threads: number): { classifier: string; purifier: string } {
  const card = JSON.parse(readFileSync(join(dirname(SHIPPED_CLASSIFIER), 'card.json'), 'utf8')) as { recipe: TrainConfig };
  const recipe: TrainConfig = { ...card.recipe, seed, threads };
  console.error(`== training the classifier (${recipe.method}, ${recipe.epochs} epochs) into ${join(dir, 'classifier')}`);
  const r = train(recipe, { out: join(dir, 'classifier'), resume: true });
  const classifier = r.model;
  console.error(`== training the purifier into ${join(dir, 'purifier')}`);
  manualSeed(seed);
  const carso = new Carso(classifier, { geometry: GEOMETRIES['fashion-mnist'], taps: defaultTapNames(classifier) ?? [] });
  try {
    const ds = loadDataset('fashion-mnist', { split: 'train' });
    trainPurifier(carso, ds, { ...purifierDefaults('fashion-mnist'), seed }, { out: join(dir, 'purifier'), resume: true });
  } finally {
    carso.dispose();
    classifier.dispose();
  }
  return { classifier: join(dir, 'classifier', 'model.safetensors'), purifier: join(dir, 'purifier', 'purifier.safetensors') };
}
