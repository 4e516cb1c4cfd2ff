// How a user's value appears in an error message. Numbers print as themselves; anything else names its
// type, with strings quoted: a headDimV of '512' printed as 512 would make "expected 512, got 512".

const MAX_STRING = 40;

function article(word: string): string {
  return /^[aeio]/i.test(word) ? 'an' : 'a'; // "a Uint8Array", "an Int32Array", "an object"
}

/** A string in single quotes, control characters escaped, long ones cut. */
export function quote(s: string): string {
  const cut = s.length > MAX_STRING ? `${s.slice(0, MAX_STRING)}…` : s;
  return `'${JSON.stringify(cut).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}

/** `512`, `NaN`, `the string '512'`, `null`, `undefined`, `the boolean true`, `a Float32Array of length 3`, `an object`, … */
export function fmtValue(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return Object.is(v, -0) ? '-0' : String(v);
    case 'string':
      return `the string ${quote(v)}`;
    case 'boolean':
      return `the boolean ${v}`;
    case 'bigint':
      return `the bigint ${v}n`;
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default: {
      if (v === null) return 'null';
      if (Array.isArray(v)) return `an array of length ${v.length}`;
      const ctor = (v as object).constructor;
      const name = typeof ctor === 'function' && ctor.name ? ctor.name : 'object';
      if (name === 'Object' || name === 'object') return 'an object';
      if (ArrayBuffer.isView(v) && 'length' in v) return `${article(name)} ${name} of length ${(v as unknown as ArrayLike<unknown>).length}`;
      return `${article(name)} ${name}`;
    }
  }
}

/** Byte count for messages: exact, then in binary units (`73728000000 bytes (68.7 GiB)`). */
export function fmtBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = bytes;
  let unit = '';
  for (const u of units) {
    if (v < 1024) break;
    v /= 1024;
    unit = u;
  }
  return unit ? `${bytes} bytes (${v.toFixed(v < 10 ? 2 : 1)} ${unit})` : `${bytes} bytes`;
}
