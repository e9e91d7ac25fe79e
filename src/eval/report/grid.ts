// The image grid in HTML: per point a row with the clean image, the adversarial
// example and CARSO's reconstructions of it, captioned with class names.
import type { ImageGrid } from '../result.js';
import { escapeHtml } from './html.js';
import { imageDataUri } from './png.js';

type Point = ImageGrid['points'][number];

/** caption lines: [text, wrong?]; a wrong prediction is drawn in red. */
function figure(src: string, px: number, alt: string, lines: [string, boolean][]): string {
  const caption = lines.map(([t, wrong]) => (wrong ? `<span class="wrong">${escapeHtml(t)}</span>` : escapeHtml(t))).join('<br>');
  return `<figure><img src="${src}" width="${px}" height="${px}" alt="${escapeHtml(alt)}"><figcaption>${caption}</figcaption></figure>`;
}

function row(g: ImageGrid, p: Point, px: number): string {
  const name = (k: number): string => g.classNames[k]!;
  const image = (values: number[]): string => imageDataUri(values, g.channels as 1 | 3, g.size);
  const cells = [
    figure(image(p.clean), px, `point ${p.index}, clean`, [
      ['clean', false],
      [`true: ${name(p.label)}`, false],
      [`predicted: ${name(p.predictedClean)}`, p.predictedClean !== p.label],
    ]),
    figure(image(p.adversarial), px, `point ${p.index}, adversarial`, [
      ['adversarial', false],
      [`classifier: ${name(p.predictedAdversarialClassifier)}`, p.predictedAdversarialClassifier !== p.label],
      [`CARSO: ${name(p.predictedAdversarialCarso)}`, p.predictedAdversarialCarso !== p.label],
    ]),
    ...p.reconstructions.map((r, i) =>
      figure(image(r), px, `point ${p.index}, reconstruction ${i + 1}`, [[`reconstruction ${i + 1}`, false]]),
    ),
  ];
  return `<div class="grid-row" data-point="${p.index}">\n${cells.join('\n')}\n</div>`;
}

export function renderGrid(g: ImageGrid): string {
  // NOTE: small images (28 px) are scaled up with pixelated rendering so that pixels stay visible.
  const px = Math.min(160, Math.max(96, 4 * g.size));
  return `<div class="grid">\n${g.points.map((p) => row(g, p, px)).join('\n')}\n</div>`;
}
