/**
 * Letters of other scripts (and a few Latin extensions) that pass for a Latin letter, mapped to the
 * letter they pass for. One table for the scanner's folding (scan/text.ts: a word that mixes
 * scripts is read as the Latin word it imitates) and the typosquat detector (registry/typosquat.ts,
 * which folds further: digits and the i/l family).
 */
export const LATIN_LOOKALIKES: Readonly<Record<string, string>> = {
  // Cyrillic
  а: 'a',
  в: 'b',
  е: 'e',
  ё: 'e',
  һ: 'h',
  і: 'i',
  ї: 'i',
  ј: 'j',
  к: 'k',
  м: 'm',
  н: 'h',
  о: 'o',
  р: 'p',
  с: 'c',
  т: 't',
  у: 'y',
  ү: 'y',
  х: 'x',
  ѕ: 's',
  ԁ: 'd',
  ԛ: 'q',
  ԝ: 'w',
  ӏ: 'l',
  // Greek
  α: 'a',
  β: 'b',
  ε: 'e',
  η: 'n',
  ι: 'i',
  κ: 'k',
  ν: 'v',
  ο: 'o',
  ρ: 'p',
  τ: 't',
  υ: 'u',
  χ: 'x',
  ω: 'w',
  // Latin extensions and others that pass for ASCII letters
  ɡ: 'g',
  ɑ: 'a',
  ı: 'i',
  ȷ: 'j',
  ℓ: 'l',
  ł: 'l',
  ø: 'o',
};
