// The report document as GitHub-flavoured markdown.
import type { Block, ReportDocument } from './document.js';

/** A table cell: pipes escaped, line breaks folded (a cell is one line). */
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

function block(b: Block): string | null {
  switch (b.kind) {
    case 'paragraph':
      return b.text;
    case 'heading':
      return `### ${b.text}`;
    case 'list':
      return b.items.map((i) => `- ${i}`).join('\n');
    case 'warning':
      return `> **Warning** ${b.text}`;
    case 'table':
      return [b.header, b.header.map(() => '---'), ...b.rows].map((r) => `| ${r.map(cell).join(' | ')} |`).join('\n');
    case 'figure':
      return b.fallback ? block(b.fallback) : null;
  }
}

export function renderMarkdown(doc: ReportDocument): string {
  const parts = [`# ${doc.title}`];
  for (const s of doc.sections) {
    parts.push(`## ${s.title}`);
    for (const b of s.blocks) {
      const text = block(b);
      if (text !== null) parts.push(text);
    }
  }
  return parts.join('\n\n') + '\n';
}
