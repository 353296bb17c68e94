// Node 24 (24.21 checked) corrupts its own heap when it decodes UTF-16LE from an odd number of
// bytes that start at an odd address (Buffer#ucs2Slice): glibc then aborts the process, later and
// somewhere else. busboy decodes every multipart text part sent with `charset=utf-16le` with
// ucs2Slice, from a view into the request body, so one request could kill the container. Node 20
// is not affected; Lambda's nodejs24.x may be. (Our own code decodes no UTF-16.)
//
// Until Node's own decoder is fixed, input at an odd address is decoded from an aligned copy:
// the same characters, one extra copy of a text field (bounded by the body limit). Importing this
// module installs the guard once per process.
type Ucs2Slice = (this: Buffer, start?: number, end?: number) => string;

const prototype = Buffer.prototype as unknown as { ucs2Slice: Ucs2Slice & { aligned?: true } };
const original = prototype.ucs2Slice;

if (!original.aligned) {
  const aligned: Ucs2Slice & { aligned?: true } = function (this: Buffer, start = 0, end = this.length) {
    if (this.byteOffset % 2 === 0) return original.call(this, start, end);
    // Buffer.from copies into fresh memory, which Node allocates at an aligned address.
    const copy = Buffer.from(this.subarray(start, end));
    return original.call(copy, 0, copy.length);
  };
  aligned.aligned = true;
  prototype.ucs2Slice = aligned;
}

export {};
