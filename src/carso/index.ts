// CARSO (Ballarin, Ansuini, Bortolussi, TMLR 2025): representation-conditional
// purification with a frozen classifier; see /work/shared/spec/carso.md.
export { Taps, type Capture } from './taps.js';
export { GEOMETRIES, WRN_28_10_TAPS, DECODER_CHANNELS, decoderSizes, imageCodeSize, checkGeometry, type CarsoGeometry, type DecoderGeometry } from './geometry.js';
export { TapCompressor, TapCompressors, FlatCatCompressor, convBlock, fcBlock, compressedShape, LEAKY_SLOPE } from './compressor.js';
export { Decoder, DecoderAdapter, DuplexLinearNeck, deconvBlock, makeInputCompressor, reparameterize } from './cvae.js';
export { Purifier, savePurifier, loadPurifier, readPurifierInfo, type PurifierOptions, type PurifierFileInfo } from './purifier.js';
export { AGGREGATIONS, PEEL_LOG_CAP, aggregate, peel, peelReference, logitMean, probMean, type Aggregation } from './aggregation.js';
export { Carso, type CarsoOptions, type TrainOutput } from './carso.js';
