// The report document as one self-contained HTML file: inline CSS, inline SVG
// plots and PNG data URIs; no script and no URL (the Content-Security-Policy
// says so to the browser too).
import type { Block, FigureKey, ReportDocument } from './document.js';

export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

const CSS = `
body { font: 15px/1.45 system-ui, sans-serif; color: #1b1b1b; margin: 2rem auto; max-width: 1180px; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ddd; margin-top: 2.2rem; } h3 { font-size: 1.05rem; }
nav a { margin-right: 1rem; }
table { border-collapse: collapse; margin: 0.8rem 0; }
th, td { border: 1px solid #d4d4d4; padding: 0.3rem 0.6rem; text-align: left; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
#settings table { display: inline-table; vertical-align: top; margin-right: 1.2rem; }
.warning { background: #fff4e0; border-left: 4px solid #e69500; padding: 0.5rem 0.8rem; }
figure { margin: 0.8rem 0; }
.grid-row { display: flex; flex-wrap: wrap; gap: 0.8rem; margin-bottom: 1rem; align-items: flex-start; }
.grid-row figure { margin: 0; text-align: center; font-size: 0.8rem; }
.grid-row img { image-rendering: pixelated; border: 1px solid #ccc; display: block; }
.wrong { color: #b00020; font-weight: 600; }
`;

function block(b: Block, figures: Partial<Record<FigureKey, string>>): string {
  switch (b.kind) {
    case 'paragraph':
      return `<p>${escapeHtml(b.text)}</p>`;
    case 'heading':
      return `<h3>${escapeHtml(b.text)}</h3>`;
    case 'list':
      return `<ul>${b.items.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>`;
    case 'warning':
      return `<p class="warning"><strong>Warning</strong> ${escapeHtml(b.text)}</p>`;
    case 'table': {
      const row = (r: string[], tag: 'th' | 'td'): string =>
        `<tr>${r.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join('')}</tr>`;
      const body = b.rows.map((r) => row(r, 'td')).join('\n');
      return `<table id="${escapeHtml(b.id)}">\n<thead>${row(b.header, 'th')}</thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
    }
    case 'figure':
      return figures[b.key] ?? '';
  }
}

/** figures: the HTML of each figure (an inline <svg>, the image grid), placed where the document names it. */
export function renderHtml(doc: ReportDocument, figures: Partial<Record<FigureKey, string>>): string {
  const nav = doc.sections.map((s) => `<a href="#${escapeHtml(s.id)}">${escapeHtml(s.title)}</a>`).join('\n');
  const sections = doc.sections.map((s) =>
    [
      `<section id="${escapeHtml(s.id)}">`,
      `<h2>${escapeHtml(s.title)}</h2>`,
      ...s.blocks.map((b) => block(b, figures)),
      '</section>',
    ]
      .filter((x) => x !== '')
      .join('\n'),
  );
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(doc.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(doc.title)}</h1>`,
    `<nav>\n${nav}\n</nav>`,
    ...sections,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
