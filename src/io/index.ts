export {
  encodeSafetensors,
  decodeSafetensors,
  readSafetensors,
  writeSafetensors,
  type Metadata,
  type SafetensorsContent,
} from './safetensors.js';
export { saveModule, loadModule, readWeights } from './module-file.js';
export { weightsFormat, type WeightsFormat } from './format.js';
export {
  readTorchFile,
  readTorchStateDict,
  findStateDict,
  torchUnpickleOptions,
  TensorRef,
  STATE_DICT_KEYS,
  type TorchFile,
} from './torch-file.js';
export { unpickle, type UnpickleOptions, type PickleFunction } from './pickle.js';
