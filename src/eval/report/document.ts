// The report as data: sections of paragraphs, tables, lists and warnings,
// built once (sections.ts) and written twice, as markdown and as HTML, so the
// two files cannot say different things. A figure is drawn in HTML only; the
// markdown shows its fallback (or nothing).

export type Block =
  | { kind: 'paragraph'; text: string }
  | { kind: 'heading'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'warning'; text: string }
  /** `id` names the table in the HTML (tests and links find it by it). */
  | { kind: 'table'; id: string; header: string[]; rows: string[][] }
  | { kind: 'figure'; key: FigureKey; fallback?: Block };

/** The HTML-only pieces: the two plots and the image grid. */
export type FigureKey = 'bars' | 'curves' | 'grid';

export interface Section {
  /** Anchor in the HTML. */
  id: string;
  title: string;
  blocks: Block[];
}

export interface ReportDocument {
  title: string;
  sections: Section[];
}
