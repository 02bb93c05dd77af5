// ProtoMsg (wire.md section 2) for the browser, on top of @msgpack/msgpack.
//
// The library writes small integers as fixints, but the wire contract says hdr.proto
// is ALWAYS a uint16 (0xcd + 2 bytes) and the `offset` prop ALWAYS an int64 (0xd3 +
// 8 bytes), with the keys in a fixed order and empty fields left out. So the
// envelope's maps are written here by hand and the library encodes the leaves
// (strings, prop values, the bin body). Decoding is the library's, made lenient the
// way the contract asks (nil = absent, body as bin or str).
import { encode, decode } from '@msgpack/msgpack';

export const PROTO = Object.freeze({
  SHELL: 0x0001,
  FILE_TRANSFER: 0x0002,
  PORT_FORWARD: 0x0003,
  CLIENT: 0x0004,
  MONITORING: 0x0010,
  CONFIG: 0x0011,
  UPDATE: 0x0012,
  COMMAND: 0x0013,
  CONTROL: 0xffff,
});

function mapHeader(n) {
  if (n < 16) return Uint8Array.of(0x80 | n);
  if (n < 0x10000) return Uint8Array.of(0xde, n >> 8, n & 0xff);
  throw new RangeError('map too large');
}

function uint16(v) {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`proto ${v} is not a uint16`);
  return Uint8Array.of(0xcd, v >> 8, v & 0xff);
}

function int64(v) {
  const out = new Uint8Array(9);
  out[0] = 0xd3;
  new DataView(out.buffer).setBigInt64(1, BigInt(v));
  return out;
}

function concat(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const textEncoder = new TextEncoder();

function toBytes(body) {
  if (body == null) return new Uint8Array(0);
  if (typeof body === 'string') return textEncoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new TypeError('body must be a string, Uint8Array or ArrayBuffer');
}

// Encodes {hdr: {proto, typ?, sid?, props?}, body?} byte for byte as the Go peer does.
export function encodeProtoMsg(msg) {
  const hdr = msg.hdr ?? {};
  const body = toBytes(msg.body);
  const props = hdr.props ? Object.entries(hdr.props).filter(([, v]) => v !== undefined) : [];
  const fields = [];
  fields.push(encode('proto'), uint16(hdr.proto));
  if (hdr.typ) fields.push(encode('typ'), encode(String(hdr.typ)));
  if (hdr.sid) fields.push(encode('sid'), encode(String(hdr.sid)));
  if (props.length > 0) {
    fields.push(encode('props'), mapHeader(props.length));
    for (const [k, v] of props) fields.push(encode(k), k === 'offset' ? int64(v) : encode(v));
  }
  const hdrCount = 1 + (hdr.typ ? 1 : 0) + (hdr.sid ? 1 : 0) + (props.length > 0 ? 1 : 0);
  const parts = [mapHeader(body.length > 0 ? 2 : 1), encode('hdr'), mapHeader(hdrCount), ...fields];
  if (body.length > 0) parts.push(encode('body'), encode(body));
  return concat(parts);
}

// Decodes one ProtoMsg; throws on anything that is not one.
// Returns {hdr: {proto, typ, sid, props}, body: Uint8Array}.
export function decodeProtoMsg(bytes) {
  const v = decode(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes);
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) {
    throw new TypeError('ProtoMsg is not a map');
  }
  const h = v.hdr;
  if (h === null || typeof h !== 'object' || Array.isArray(h)) throw new TypeError('ProtoMsg has no hdr');
  if (typeof h.proto !== 'number' || !Number.isInteger(h.proto)) throw new TypeError('hdr has no proto');
  const props = h.props && typeof h.props === 'object' && !Array.isArray(h.props) ? h.props : {};
  let body = v.body;
  if (body == null) body = new Uint8Array(0);
  else if (typeof body === 'string') body = textEncoder.encode(body);
  else if (!(body instanceof Uint8Array)) throw new TypeError('body is neither bin nor str');
  return {
    hdr: {
      proto: h.proto,
      typ: typeof h.typ === 'string' ? h.typ : '',
      sid: typeof h.sid === 'string' ? h.sid : '',
      props,
    },
    body,
  };
}

// Bodies of control and tether protocols are msgpack maps inside the bin.
export function encodeBody(value) {
  return encode(value);
}

export function decodeBody(bytes) {
  if (!bytes || bytes.length === 0) return {};
  return decode(bytes);
}
