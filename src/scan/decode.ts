/**
 * Encoded blobs: base64, hex, binary, URL-encoding and Morse code that decode to readable text.
 * The scanner rescans what they decode to (an instruction hidden in base64 is still an
 * instruction). Pure: atob/TextDecoder only. Bounded: at most MAX_BLOBS candidates per text, each
 * at most MAX_BLOB characters.
 */

/** One encoded run and the text it decodes to. */
export interface DecodedBlob {
  readonly encoding: 'base64' | 'hex' | 'binary' | 'url-encoding' | 'morse' | 'caesar';
  readonly raw: string;
  readonly decoded: string;
}

const MAX_BLOBS = 16;
const MAX_BLOB = 16 * 1024;

const BASE64 = /[A-Za-z0-9+/_-]{20,}={0,2}/g;
const HEX = /(?:[0-9a-fA-F]{2}){12,}|(?:\\x[0-9a-fA-F]{2}){6,}|(?:0x[0-9a-fA-F]{2}[\s,]{0,2}){6,}/g;
const BINARY = /(?:[01]{8}[\s,]{0,2}){6,}/g;
const URL_ENCODED = /(?:%[0-9a-fA-F]{2}[^%\s]{0,3}){6,}/g;
const MORSE = /(?:[.-]{1,7}[ /]{1,3}){5,}[.-]{1,7}/g;

const MORSE_TABLE: Readonly<Record<string, string>> = {
  '.-': 'a',
  '-...': 'b',
  '-.-.': 'c',
  '-..': 'd',
  '.': 'e',
  '..-.': 'f',
  '--.': 'g',
  '....': 'h',
  '..': 'i',
  '.---': 'j',
  '-.-': 'k',
  '.-..': 'l',
  '--': 'm',
  '-.': 'n',
  '---': 'o',
  '.--.': 'p',
  '--.-': 'q',
  '.-.': 'r',
  '...': 's',
  '-': 't',
  '..-': 'u',
  '...-': 'v',
  '.--': 'w',
  '-..-': 'x',
  '-.--': 'y',
  '--..': 'z',
  '-----': '0',
  '.----': '1',
  '..---': '2',
  '...--': '3',
  '....-': '4',
  '.....': '5',
  '-....': '6',
  '--...': '7',
  '---..': '8',
  '----.': '9',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

function bytesToText(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * True when `text` reads as natural language: printable, mostly letters and spaces, several words.
 * Binary data (images, hashes, keys) decodes to something that fails this.
 */
export function looksLikeText(text: string, minSpaces = 2): boolean {
  if (text.length < 8) return false;
  let printable = 0;
  let letters = 0;
  let spaces = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === ' ') spaces++;
    if (/\p{L}/u.test(ch)) letters++;
    if (ch === '\n' || ch === '\t' || (code >= 0x20 && code !== 0x7f && !(code >= 0x80 && code <= 0x9f))) printable++;
  }
  const length = [...text].length;
  return printable / length > 0.95 && letters / length > 0.5 && spaces >= minSpaces;
}

function decodeBase64(raw: string): string | null {
  let body = raw.replace(/=+$/, '');
  // Identifiers and paths match the alphabet too: a real blob mixes case and digits or symbols.
  if (!/[A-Z]/.test(body) || !/[a-z]/.test(body)) return null;
  if (body.includes('-') || body.includes('_')) {
    if (body.includes('+') || body.includes('/')) return null;
    body = body.replace(/-/g, '+').replace(/_/g, '/');
  }
  if (body.length % 4 === 1) return null;
  body += '='.repeat((4 - (body.length % 4)) % 4);
  try {
    const binary = atob(body);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytesToText(bytes);
  } catch {
    return null;
  }
}

function decodeHex(raw: string): string | null {
  const digits = raw.replace(/\\x|0x|[\s,]/g, '');
  if (digits.length % 2 !== 0) return null;
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  return bytesToText(bytes);
}

function decodeBinary(raw: string): string | null {
  const groups = raw.match(/[01]{8}/g) ?? [];
  return bytesToText(Uint8Array.from(groups.map((g) => parseInt(g, 2))));
}

function decodeUrl(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

function decodeMorse(raw: string): string | null {
  let out = '';
  for (const word of raw.trim().split(/\s*\/\s*|\s{2,}/)) {
    for (const letter of word.trim().split(/\s+/)) {
      const ch = MORSE_TABLE[letter];
      if (ch === undefined) return null;
      out += ch;
    }
    out += ' ';
  }
  return out.trim();
}

/** The most common English words: plain English prose is about 40% these, shifted text about 0%. */
const COMMON_WORDS = new Set(
  (
    'the of and to a in is it you that he was for on are with as i his they be at one have this from or had by ' +
    'not but what all were we when your can said there use an each which she do how their if will up other about ' +
    'out many then them these so some her would make like him into has look two more go see no could my than ' +
    'been who its now did get come made may part over new after also our me any only just should must say state ' +
    'previous instructions ignore output answer'
  ).split(' '),
);

function commonShare(words: readonly string[]): number {
  let common = 0;
  for (const word of words) if (COMMON_WORDS.has(word)) common++;
  return words.length === 0 ? 0 : common / words.length;
}

function shift(text: string, by: number): string {
  return text.replace(/[a-z]/g, (ch) => String.fromCharCode(((ch.charCodeAt(0) - 97 + by) % 26) + 97));
}

/** Runs of at least six words, checked for a Caesar shift when they read as no language. */
const WORD_RUN = /(?:[A-Za-z]{1,20}[\s,:;'"-]{1,3}){5,}[A-Za-z]{1,20}/g;

/**
 * A Caesar-shifted (ROT-n) run: words that contain almost no common English word, but do once
 * shifted back by some n. Only runs that fail the first test are shifted, so prose costs one pass.
 */
function findCaesar(text: string, found: DecodedBlob[]): void {
  WORD_RUN.lastIndex = 0;
  let tries = 0;
  for (let match = WORD_RUN.exec(text); match !== null && tries < MAX_BLOBS; match = WORD_RUN.exec(text)) {
    const raw = match[0].length > MAX_BLOB ? match[0].slice(0, MAX_BLOB) : match[0];
    const lower = raw.toLowerCase();
    const words = lower.match(/[a-z]+/g) ?? [];
    if (words.length < 6 || commonShare(words) > 0.1) continue;
    tries++;
    for (let by = 1; by < 26; by++) {
      const shifted = shift(lower, by);
      if (commonShare(shifted.match(/[a-z]+/g) ?? []) >= 0.3) {
        found.push({ encoding: 'caesar', raw, decoded: shifted });
        break;
      }
    }
  }
}

/** The encoded runs in `text` that decode to readable text (at most MAX_BLOBS). */
export function findEncodedText(text: string): DecodedBlob[] {
  const found: DecodedBlob[] = [];
  const tryAll = (pattern: RegExp, encoding: DecodedBlob['encoding'], decode: (raw: string) => string | null): void => {
    pattern.lastIndex = 0;
    let tries = 0;
    for (let match = pattern.exec(text); match !== null && tries < MAX_BLOBS; match = pattern.exec(text)) {
      tries++;
      const raw = match[0].length > MAX_BLOB ? match[0].slice(0, MAX_BLOB) : match[0];
      const decoded = decode(raw);
      if (decoded !== null && looksLikeText(decoded, encoding === 'morse' ? 1 : 2) && found.length < MAX_BLOBS)
        found.push({ encoding, raw, decoded });
    }
  };
  tryAll(BASE64, 'base64', decodeBase64);
  tryAll(HEX, 'hex', decodeHex);
  tryAll(BINARY, 'binary', decodeBinary);
  if (text.includes('%')) tryAll(URL_ENCODED, 'url-encoding', decodeUrl);
  if (text.includes('.-') || text.includes('-.')) tryAll(MORSE, 'morse', decodeMorse);
  findCaesar(text, found);
  return found.slice(0, MAX_BLOBS);
}
