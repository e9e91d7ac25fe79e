// CARSO (Ballarin, Ansuini, Bortolussi, TMLR 2025): representation-conditional
// purification with a frozen classifier; see /work/shared/spec/carso.md.
export { Taps, type Capture, type TapSource } from './taps.js';
export {
  GEOMETRIES,
  FMNIST_CNN_TAPS,
  defaultTapNames,
  DECODER_CHANNELS,
  decoderSizes,
  imageCodeSize,
  checkGeometry,
  type CarsoGeometry,
  type DecoderGeometry,
} from './geometry.js';
export {
  TapCompressor,
  TapCompressors,
  FlatCatCompressor,
  convBlock,
  fcBlock,
  compressedShape,
  LEAKY_SLOPE,
} from './compressor.js';
export { Decoder, DecoderAdapter, DuplexLinearNeck, deconvBlock, makeInputCompressor, reparameterize } from './cvae.js';
export {
  Purifier,
  savePurifier,
  loadPurifier,
  readPurifierInfo,
  purifierInfo,
  checkPurifierFile,
  type PurifierOptions,
  type SavePurifierOptions,
  type PurifierFileInfo,
} from './purifier.js';
export {
  AUTHORS_PARTS,
  authorsFiles,
  authorsGeometry,
  authorsTapCount,
  readAuthorsPurifier,
  loadAuthorsTensors,
  saveAuthorsPurifier,
  type AuthorsFiles,
  type AuthorsPart,
} from './authors.js';
export {
  AGGREGATIONS,
  PEEL_LOG_CAP,
  aggregate,
  peel,
  peelReference,
  logitMean,
  probMean,
  countVotes,
  type Aggregation,
} from './aggregation.js';
export { Carso, type CarsoOptions, type CarsoLoadOptions, type TrainOutput } from './carso.js';
export {
  adversarialBatch,
  batchLayout,
  betaAt,
  betaScaled,
  chunkSize,
  endToEndModel,
  purifierLoss,
  referenceTrainingEps,
  type AdversarialSplit,
  type EndToEndChunk,
} from './objective.js';
export {
  BETA_SCHEDULES,
  E2E_ATTACKS,
  PAPER_EXTRAS,
  purifierDefaults,
  purifierConfigErrors,
  type BetaSchedule,
  type EndToEndAttack,
  type PurifierTrainConfig,
} from './config.js';
export { trainPurifier, type PurifierTrainOptions, type PurifierEpochMetrics, type PurifierTrainResult } from './train.js';
export {
  evaluateCarso,
  STAGE_NAMES,
  STOP_NON_FINITE,
  EOT_SAMPLES,
  EVAL_BUDGET,
  HIGH_EPS,
  PGD_EOT_STEP_PER_EPS,
  type CarsoEvalOptions,
  type EvalBudget,
  type Protocol,
} from './evaluate.js';
