export {
  PyroostError,
  ERROR_TYPES,
  isPyroostError,
  describeValue,
  type ErrorCategory,
  type ErrorType,
  type ErrorTypeInfo,
  type ErrorContext,
  type PyroostErrorOptions,
  type PyroostErrorJson,
} from './pyroostError.js';
export { encodeJson, decodeJson, MAX_INPUT_DEPTH } from './json.js';
export {
  encodeFrame,
  decodeBody,
  FrameDecoder,
  DEFAULT_MAX_FRAME_BYTES,
  FRAME_HEADER_BYTES,
  type FrameDecoderOptions,
} from './frame.js';
export {
  PROTOCOL_VERSION,
  parseWorkerMessage,
  parseBatchItems,
  type Command,
  type TraceCarrier,
  type RequestMessage,
  type ReadyMessage,
  type StartupErrorMessage,
  type ResponseMessage,
  type WorkerMessage,
  type Timing,
  type BatchItem,
} from './messages.js';
