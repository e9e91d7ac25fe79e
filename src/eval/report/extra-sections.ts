// The sections of the optional run files: the eps sweep (sweep.json) and the
// image grid (grid.json).
import type { ImageGrid, Sweep } from '../result.js';
import type { Section } from './document.js';
import { countText, durationText, epsText } from './format.js';

export function sweepSection(s: Sweep): Section {
  const text =
    `Robust accuracy versus eps under ${s.attack} alone, on ${s.n} points (${durationText(s.seconds)}). ` +
    'This attack is cheaper than the full evaluation above, so its numbers tend to overstate robustness: ' +
    'read the curves for the trend and the results table for the reported numbers.';
  return {
    id: 'sweep',
    title: `Accuracy versus eps (${s.attack})`,
    blocks: [
      { kind: 'paragraph', text },
      { kind: 'figure', key: 'curves' },
      {
        kind: 'table',
        id: 'sweep',
        header: ['eps', ...s.curves.map((c) => c.model)],
        rows: s.eps.map((eps, i) => [epsText(eps), ...s.curves.map((c) => countText(c.accuracy[i]!))]),
      },
    ],
  };
}

export function gridSection(g: ImageGrid): Section {
  const name = (k: number): string => g.classNames[k]!;
  const text = `${g.points.length} test points at eps ${epsText(g.eps)}: the clean image, the adversarial example found against CARSO end to end, and CARSO's reconstructions of it, with the true and predicted labels.`;
  const rows = g.points.map((p) => [
    String(p.index),
    name(p.label),
    name(p.predictedClean),
    name(p.predictedAdversarialClassifier),
    name(p.predictedAdversarialCarso),
  ]);
  const header = ['Point', 'True', 'Clean: predicted', 'Adversarial: classifier', 'Adversarial: CARSO'];
  return {
    id: 'grid',
    title: 'Image grid',
    blocks: [
      { kind: 'paragraph', text },
      { kind: 'figure', key: 'grid', fallback: { kind: 'table', id: 'grid-labels', header, rows } },
    ],
  };
}
