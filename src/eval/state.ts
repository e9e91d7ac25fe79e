// Resumable AutoAttack runs (fra31 `state.py`, extended). fra31 saves only the
// robust flags and the finished attacks, so a resumed run restarts the current
// attack and loses the earlier adversarial examples. Here one safetensors file
// holds everything the cascade needs to continue exactly where it stopped:
//
//   tensors:  adv [m, C, H, W] (x's dtype)  the adversarial example of each broken point
//             advIndex [m] int64            which points those are
//   metadata: format, fingerprint (settings + a hash of x and y), and the
//             bookkeeping as JSON: clean/robust/NaN flags, adversarial labels,
//             per-attack records, the current attack's batch plan and progress.
//
// It is rewritten atomically (temporary file + rename) after the clean pass,
// after every batch and after every attack, so a killed run leaves the last
// complete state behind.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { encodeSafetensors, readSafetensors, type SafetensorsContent } from '../io/index.js';
import { namingFile, writeFileAtomic } from '../util/fs.js';
import { Tensor, dispose, op, tensor, tidy } from '../tensor/index.js';
import type { AttackOptions } from '../attacks/index.js';
import { STOP_REASONS, type StopReason } from '../attacks/stop.js';
import type { CheckWarning } from './checks.js';

const FORMAT = 'carso-autoattack-state/1';
const INDEX_COPY = op('index_copy');

/** What one attack of the cascade did (cumulative over its batches). */
export interface AttackRecord {
  name: string;
  /** Robust accuracy over all n points after this attack (cumulative worst case). */
  robustAccuracy: number;
  /** k of n: points still robust after it. */
  robust: number;
  total: number;
  /** Points it ran on (robust when it started). */
  attacked: number;
  /** Points it broke (misclassified at the decision pass, threat model respected). */
  fooled: number;
  /** Points it claimed with an example outside the threat model: rejected, they stay robust. */
  rejected: number;
  /** Points it ran on whose loss or gradient went NaN/Inf. */
  nanGrad: number;
  /** Points it stopped attacking early, their gradients all NaN/Inf (attacks/stop.ts). */
  stopped: number;
  /** Model forward passes it spent, the cascade's decision pass per batch included. */
  queries: number;
  seconds: number;
  batches: number;
  /** False when no robust point was left for it (fra31 stops the cascade there). */
  ran: boolean;
  /** The options it was built with (createAttack). */
  settings: AttackOptions;
}

/** The current attack's batch plan: robust points when it started, in order, and batches finished. */
export interface AttackProgress {
  attack: number;
  order: number[];
  batchesDone: number;
}

/** What the gradient attacks record per point beyond success: the cascade's, and each batch outcome's. */
export interface PointEvidence {
  /** Per point: the largest distance an attack's iterate reached from its start (null: no gradient attack ran on it). */
  moved: (number | null)[];
  /** Per point: why an attack stopped attacking it early (attacks/stop.ts), or null. */
  stopped: (StopReason | null)[];
}

/** Everything a resumed cascade needs (plus xAdv, kept as a tensor). */
export interface CascadeState extends PointEvidence {
  clean: boolean[];
  robust: boolean[];
  nanGrad: boolean[];
  /** Predicted label of each point's current example (clean prediction where never broken). */
  yAdv: number[];
  records: AttackRecord[];
  /** Index of the next attack to start (when `current` is null). */
  next: number;
  current: AttackProgress | null;
  /** Warnings raised during the attacks (the pre-run checks are re-run on resume). */
  warnings: CheckWarning[];
  done: boolean;
}

/**
 * A fingerprint of a run: its settings and a SHA-256 of the data (x and y
 * bytes), so a state file is never resumed with other data or settings.
 */
export function fingerprint(settings: Readonly<Record<string, unknown>>, x: Tensor, y: Tensor): string {
  const h = createHash('sha256');
  h.update(x.toBytes());
  h.update(y.toBytes());
  return JSON.stringify({ ...settings, shape: x.shape, dtype: x.dtype, data: h.digest('hex') });
}

const bits = (flags: readonly boolean[]): string => flags.map((f) => (f ? '1' : '0')).join('');
const flags = (s: string): boolean[] => Array.from(s, (c) => c === '1');

/** Writes the state atomically; xAdv: [n, ...], only the rows of broken points are stored. */
export function saveState(path: string, fp: string, s: CascadeState, xAdv: Tensor): void {
  writeFileAtomic(path, encodeState(fp, s, xAdv));
}

/** The state file's bytes (safetensors parts), also what a sharded run's rank 0 sends the others. */
export function encodeState(fp: string, s: CascadeState, xAdv: Tensor): Uint8Array[] {
  const broken = s.robust.flatMap((r, i) => (!r && s.clean[i] === true ? [i] : []));
  const advIndex = tensor(broken, [broken.length], 'int64', xAdv.device);
  const adv = xAdv.index(advIndex);
  const json = { ...s, clean: bits(s.clean), robust: bits(s.robust), nanGrad: bits(s.nanGrad) };
  try {
    return encodeSafetensors({ adv, advIndex }, { format: FORMAT, fingerprint: fp, state: JSON.stringify(json) });
  } finally {
    dispose([adv, advIndex]);
  }
}

/**
 * Reads a state file written for the same fingerprint; returns the state and
 * the full xAdv: [n, ...] (x with the stored rows put back), owned by the
 * caller. Null when there is no file. Throws when the file is not a state file
 * or was made by another run (other settings or data), naming the difference.
 */
export function loadState(path: string, fp: string, x: Tensor): { state: CascadeState; xAdv: Tensor } | null {
  if (!existsSync(path)) return null;
  return namingFile('AutoAttack state', path, () => decodeState(readSafetensors(path), path, fp, x));
}

/** A state from safetensors content (`path` names it in errors); frees the content's tensors. */
export function decodeState(
  { tensors, metadata }: SafetensorsContent,
  path: string,
  fp: string,
  x: Tensor,
): { state: CascadeState; xAdv: Tensor } {
  try {
    if (metadata['format'] !== FORMAT)
      throw new Error(`${path}: not an AutoAttack state file (format '${metadata['format'] ?? 'none'}')`);
    const theirs = metadata['fingerprint'] ?? '{}';
    if (theirs !== fp)
      throw new Error(`${path}: the state was made by a different run (${differences(fp, theirs)}); use another state file`);
    const raw = JSON.parse(metadata['state'] ?? 'null') as SavedState;
    checkStateJson(raw, x.size(0));
    const clean = flags(raw.clean);
    const state: CascadeState = {
      ...raw,
      clean,
      robust: flags(raw.robust),
      nanGrad: flags(raw.nanGrad),
      // NOTE: states saved before these were recorded hold none
      moved: raw.moved ?? clean.map(() => null),
      stopped: raw.stopped ?? clean.map(() => null),
      records: raw.records.map((r) => ({ ...r, stopped: r.stopped ?? 0 })),
    };
    const adv = tensors.get('adv');
    const advIndex = tensors.get('advIndex');
    if (adv === undefined || advIndex === undefined) throw new Error(`${path}: state file has no adversarial examples`);
    const m = advIndex.numel;
    if (
      advIndex.dtype !== 'int64' ||
      advIndex.ndim !== 1 ||
      JSON.stringify(adv.shape) !== JSON.stringify([m, ...x.shape.slice(1)])
    )
      throw new Error(
        `adv [${adv.shape.join(', ')}] and advIndex [${advIndex.shape.join(', ')}] do not fit points [${x.shape.join(', ')}]`,
      );
    if (m > 0 && (advIndex.min().item() < 0 || advIndex.max().item() >= x.size(0)))
      throw new Error(`advIndex holds indices outside [0, ${x.size(0)})`);
    const xAdv =
      advIndex.size(0) === 0
        ? x.detach().clone()
        : tidy(() => INDEX_COPY.t(x.detach(), 0, advIndex.toDevice(x.device), adv.to(x.dtype).toDevice(x.device)));
    return { state, xAdv };
  } finally {
    dispose([...tensors.values()]);
  }
}

/** The state's JSON as saved: flags as bit strings; states saved before issue 13 lack moved and stopped. */
type SavedState = Omit<CascadeState, 'clean' | 'robust' | 'nanGrad' | 'moved' | 'stopped' | 'records'> &
  Record<'clean' | 'robust' | 'nanGrad', string> &
  Partial<Pick<CascadeState, 'moved' | 'stopped'>> & { records: (Omit<AttackRecord, 'stopped'> & { stopped?: number })[] };

const isInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** A list of n entries, each null or passing `ok`. */
const perPoint = (a: unknown, n: number, ok: (v: unknown) => boolean): boolean =>
  Array.isArray(a) && a.length === n && a.every((v) => v === null || ok(v));

/** The bookkeeping JSON of a state file for n points: every field a resumed cascade reads, with its type. */
function checkStateJson(raw: unknown, n: number): void {
  const r = raw as Record<string, unknown> | null;
  const bad = (what: string): never => {
    throw new Error(`state JSON: ${what}`);
  };
  if (typeof r !== 'object' || r === null) bad('not an object');
  for (const k of ['clean', 'robust', 'nanGrad'])
    if (typeof r![k] !== 'string' || !new RegExp(`^[01]{${n}}$`).test(r![k] as string)) bad(`${k} is not ${n} flags`);
  const yAdv = r!['yAdv'];
  if (!Array.isArray(yAdv) || yAdv.length !== n || !yAdv.every(isInt)) bad(`yAdv is not ${n} labels`);
  if (!Array.isArray(r!['records']) || !Array.isArray(r!['warnings'])) bad('records or warnings is not a list');
  if (!isInt(r!['next']) || typeof r!['done'] !== 'boolean') bad('next or done is missing');
  const cur = r!['current'] as Record<string, unknown> | null;
  if (cur !== null && (typeof cur !== 'object' || !isInt(cur['attack']) || !isInt(cur['batchesDone'])))
    bad('current is not an attack in progress');
  const order = cur?.['order'];
  if (cur !== null && (!Array.isArray(order) || !order.every((i) => isInt(i) && i < n)))
    bad(`current.order is not a list of point indices below ${n}`);
  // NOTE: moved and stopped may be absent (states saved before issue 13); present, they hold one entry per point
  const moved = r!['moved'];
  if (moved !== undefined && !perPoint(moved, n, (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0))
    bad(`moved is not ${n} distances or nulls`);
  const stopped = r!['stopped'];
  if (stopped !== undefined && !perPoint(stopped, n, (v) => STOP_REASONS.includes(v as StopReason)))
    bad(`stopped is not ${n} stop reasons or nulls`);
}

/** The top-level settings that differ between two fingerprints, for the error message. */
function differences(ours: string, theirs: string): string {
  const a = JSON.parse(ours) as Record<string, unknown>;
  let b: Record<string, unknown>;
  try {
    b = JSON.parse(theirs) as Record<string, unknown>;
  } catch {
    return 'unreadable fingerprint';
  }
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return keys
    .map((k) => (k === 'data' ? 'other images or labels' : `${k}: ${JSON.stringify(b[k])} there, ${JSON.stringify(a[k])} here`))
    .join('; ');
}
