// multipart/form-data bodies as browsers send them and API Gateway delivers them (base64,
// `isBase64Encoded`), for the tests and the benchmark. No heavy imports: the bench children bundle it.

export type FormValue = string | { bytes: Buffer; filename: string; type: string };

/** The body of `fields` (a record, or entries to repeat a field) with `boundary`, and its content type. */
export function multipartBody(
  fields: Record<string, FormValue> | [string, FormValue][],
  boundary = `----test${Math.random().toString(16).slice(2)}`,
): {
  body: string;
  contentType: string;
  isBase64Encoded: true;
} {
  const parts: Buffer[] = [];
  for (const [name, value] of Array.isArray(fields) ? fields : Object.entries(fields)) {
    if (typeof value === 'string') {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
    } else {
      parts.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${value.filename}"\r\nContent-Type: ${value.type}\r\n\r\n`,
        ),
        value.bytes,
        Buffer.from('\r\n'),
      );
    }
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    body: Buffer.concat(parts).toString('base64'),
    contentType: `multipart/form-data; boundary=${boundary}`,
    isBase64Encoded: true,
  };
}
