export {
  encodeSafetensors,
  decodeSafetensors,
  readSafetensors,
  writeSafetensors,
  type Metadata,
  type SafetensorsContent,
} from './safetensors.js';
export { saveModule, loadModule } from './module-file.js';
