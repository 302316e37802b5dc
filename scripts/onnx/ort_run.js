#!/usr/bin/env node
// Runs an ONNX model under ONNX Runtime (npm's onnxruntime-node) on NumPy .npy inputs and writes
// each graph output as an .npy file. Used by the ONNX tests to check exported models.
//   node ort_run.js MODEL.onnx IN0.npy [IN1.npy ...] --out PREFIX   -> PREFIX0.npy, PREFIX1.npy, ...
// An input may also be a CSV of numbers without a header (one sample a row: [rows, columns]).
// The inputs feed the graph's inputs in order; their values are converted to each input's element
// type (float32, float64, int64, int32, bool). onnxruntime-node is looked up in
// $DEEPC_ORT_DIR/node_modules (default ~/.cache/deepc/onnxruntime, where scripts/deps.sh --onnx
// installs it). Exit 0: done; 1: an error (on stderr); 77: onnxruntime-node is not installed.
'use strict';
const fs = require('fs');
const path = require('path');
const os = require('os');

function die(msg) {
    process.stderr.write('ort_run: ' + msg + '\n');
    process.exit(1);
}

const DTYPES = { '<f4': 'float32', '<f8': 'float64', '<i8': 'int64', '<i4': 'int32', '|b1': 'bool', '|u1': 'uint8' };

function readNpy(file) {
    const b = fs.readFileSync(file);
    if (b.length < 10 || b.toString('latin1', 0, 6) !== '\x93NUMPY') die(file + ': not an .npy file');
    const major = b[6];
    const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
    const off = (major === 1 ? 10 : 12) + hlen;
    const header = b.toString('latin1', major === 1 ? 10 : 12, off);
    const descr = /'descr':\s*'([^']+)'/.exec(header);
    const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
    if (!descr || !shape || /'fortran_order':\s*True/.test(header)) die(file + ': unsupported .npy header ' + header.trim());
    const type = DTYPES[descr[1]];
    if (!type) die(file + ': unsupported dtype ' + descr[1]);
    const dims = shape[1].split(',').map(s => s.trim()).filter(s => s.length).map(Number);
    const n = dims.reduce((a, d) => a * d, 1);
    const body = b.subarray(off);
    const copy = new ArrayBuffer(body.length);
    new Uint8Array(copy).set(body);
    let data;
    switch (type) {
    case 'float32': data = new Float32Array(copy, 0, n); break;
    case 'float64': data = new Float64Array(copy, 0, n); break;
    case 'int64': data = new BigInt64Array(copy, 0, n); break;
    case 'int32': data = new Int32Array(copy, 0, n); break;
    default: data = new Uint8Array(copy, 0, n); break;
    }
    return { type, dims, data };
}

// A CSV of numbers (no header): one sample a row, as float32 [rows, columns].
function readCsv(file) {
    const rows = fs.readFileSync(file, 'utf8').split(/\r?\n/).filter(l => l.trim().length);
    const vals = rows.map((l, i) => l.split(',').map(v => {
        const x = Number(v);
        if (v.trim() === '' || !Number.isFinite(x)) die(file + ':' + (i + 1) + ': "' + v + '" is not a number');
        return x;
    }));
    const cols = vals.length ? vals[0].length : 0;
    vals.forEach((r, i) => { if (r.length !== cols) die(file + ':' + (i + 1) + ': ' + r.length + ' values, the first row has ' + cols); });
    return { type: 'float32', dims: [vals.length, cols], data: Float32Array.from(vals.flat()) };
}

function writeNpy(file, type, dims, data) {
    const descr = { float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4', bool: '|b1', uint8: '|u1' }[type];
    if (!descr) die('output of type ' + type + ' cannot be written as .npy');
    const shape = '(' + dims.join(', ') + (dims.length === 1 ? ',' : '') + ')';
    let h = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ', }';
    const pad = 64 - ((10 + h.length + 1) % 64);
    h = h + ' '.repeat(pad % 64) + '\n';
    const head = Buffer.alloc(10);
    head.write('\x93NUMPY', 0, 'latin1');
    head[6] = 1;
    head[7] = 0;
    head.writeUInt16LE(h.length, 8);
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    fs.writeFileSync(file, Buffer.concat([head, Buffer.from(h, 'latin1'), body]));
}

function convert(arr, to) {
    if (arr.type === to) return arr.data;
    const n = arr.data.length;
    const src = Array.from(arr.data, v => Number(v));
    switch (to) {
    case 'float32': return Float32Array.from(src);
    case 'float64': return Float64Array.from(src);
    case 'int64': return BigInt64Array.from(src, v => BigInt(Math.round(v)));
    case 'int32': return Int32Array.from(src);
    case 'bool': return Uint8Array.from(src, v => (v ? 1 : 0));
    default: die('cannot feed an input of type ' + to + ' (' + n + ' values)');
    }
}

async function main() {
    const args = process.argv.slice(2);
    let out = null;
    const files = [];
    for (let i = 0; i < args.length; i++) {
        if (args[i] === '--out') out = args[++i];
        else files.push(args[i]);
    }
    if (files.length < 1 || !out) die('usage: node ort_run.js MODEL.onnx IN0.npy [IN1.npy ...] --out PREFIX');
    const dir = process.env.DEEPC_ORT_DIR || path.join(os.homedir(), '.cache', 'deepc', 'onnxruntime');
    let ort;
    try {
        ort = require(path.join(dir, 'node_modules', 'onnxruntime-node'));
    } catch (e) {
        process.stderr.write('ort_run: onnxruntime-node is not installed under ' + dir + ' (scripts/deps.sh --onnx): skipped\n');
        process.exit(77);
    }
    const session = await ort.InferenceSession.create(files[0], { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
    const names = session.inputNames;
    if (files.length - 1 !== names.length) die(files[0] + ' takes ' + names.length + ' inputs (' + names.join(', ') + '), got ' + (files.length - 1));
    const feeds = {};
    for (let i = 0; i < names.length; i++) {
        const arr = /\.csv$/i.test(files[i + 1]) ? readCsv(files[i + 1]) : readNpy(files[i + 1]);
        let type = 'float32';
        const meta = session.inputMetadata && session.inputMetadata[i];
        if (meta && meta.type) type = meta.type;
        feeds[names[i]] = new ort.Tensor(type, convert(arr, type), arr.dims);
    }
    const res = await session.run(feeds);
    session.outputNames.forEach((name, k) => {
        const t = res[name];
        writeNpy(out + k + '.npy', t.type, t.dims, t.data);
    });
}

main().catch(e => die(String(e && e.message ? e.message : e)));
