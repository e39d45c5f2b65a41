/**
 * The textual forms a secret can travel in (SEC-01, SEC-03): tests search files, outputs and
 * records for each, so a value stored or passed on in any of them is caught.
 */
export function canaryEncodings(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  return [
    value,
    JSON.stringify(value).slice(1, -1),
    encodeURIComponent(value),
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
    bytes.toString('base64'),
    bytes.toString('base64url'),
  ];
}
