/**
 * Rules for returned content that look at sentences and lines rather than phrases: orders about
 * the model's own answer ("encode your reply in base64", "in your response, mention …") and
 * requests addressed to an assistant standing on a line of their own in third-party content
 * (task hijacking). Input is folded text (text.ts); one pass over its sentences and lines.
 */
import type { RawFinding } from './unicode.js';

/** How a sentence may open before its verb: politeness, connectives, and softened orders. */
const LEAD_IN = String.raw`(?:(?:please|kindly|also|and|now|then|finally|additionally|moreover|furthermore|lastly|next|so|remember\s+to|don't\s+forget\s+to|do\s+not\s+forget\s+to|make\s+sure\s+(?:to|that\s+you)|be\s+sure\s+to|don't\s+hesitate\s+to|do\s+not\s+hesitate\s+to|keep\s+in\s+mind\s+to|try\s+to|you\s+(?:should|must|need\s+to|have\s+to|will|may|can)|can\s+you|could\s+you|would\s+you|will\s+you|i\s+want\s+you\s+to|i\s+need\s+you\s+to|be\s+certain\s+to|consider|ensure\s+(?:that\s+)?(?:you\s+)?)[\s,]+){0,3}`;

const TRANSFORM_VERB = String.raw`(?:add|include|insert|integrate|incorporate|append|prepend|modify|change|edit|alter|adjust|encode|encrypt|translate|render|reverse|invert|rewrite|write|provide|express|replace|substitute|swap|convert|use|apply|shift|group|combine|merge|remove|delete|omit|drop|misspell|scramble|jumble|rearrange|anagram|introduce|enhance|augment|enrich|mention|end|begin|start|format|make|respond|reply|answer|output|print|say|state|embed|put|emphasi[sz]e|highlight|tease|hint|suggest|promote|recommend|structure|present|deliver|give|compose|craft|sign|finish|conclude|close|prefix|sprinkle|infuse|weave|inject|advertise|invite|encourage|thank|stress|urge|warn|remind|refer|link|direct|point|attach|allude|inform|spread|share|offer|plug|feature|showcase|list|mix|transform|spell|capitali[sz]e|uppercase|lowercase|separate|split|number|sort|shuffle|hide|conceal)`;

const OWN_OUTPUT = String.raw`\bthe\s+code\s+you\s+(?:develop|write|produce|generate|return)\b|\byour\s+(?:(?:own|entire|whole|final|next|generated)\s+)?(?:response|reply|answer|message|output|summary|responses|replies|answers|messages|explanation|elucidation|text|words|letters)\b|\byour\s+(?:answer|response|reply|message)'s\b`;

const IMPERATIVE_ABOUT_OUTPUT = new RegExp(String.raw`^${LEAD_IN}${TRANSFORM_VERB}\b`, 'u');
const MENTIONS_OWN_OUTPUT = new RegExp(OWN_OUTPUT, 'u');
const IN_YOUR_OUTPUT = new RegExp(
  String.raw`^(?:in|within|throughout|for|at\s+the\s+(?:end|start|beginning)\s+of)\s+your\s+(?:(?:own|entire|final|next)\s+)?(?:response|reply|answer|message|output|summary)s?\b`,
  'u',
);
const REPLY_HOW = new RegExp(
  String.raw`^${LEAD_IN}(?:reply|respond|answer|write\s+back|write\s+your\s+(?:reply|answer|response))\s+(?:only\s+)?(?:in|using|with|backwards?|in\s+reverse|entirely|exclusively)\b`,
  'u',
);

/** Verbs of requests people put to an assistant (the tasks a hijacker substitutes). */
const REQUEST_VERB = String.raw`(?:write|explain|describe|summari[sz]e|translate|analy[sz]e|compose|draft|suggest|recommend|classify|determine|break\s+down|show\s+me|help\s+me|tell\s+me|teach\s+me|give\s+me|generate|develop|outline|compare|calculate|solve|define|brainstorm|paraphrase|provide|recite|predict|evaluate|critique|proofread|implement|debug|convert|encode|encrypt|reverse|render|replace|substitute|shift|apply|group|combine|remove|introduce|misspell|scramble|jumble|rearrange|anagram|express|reply|respond|answer|rate|assess|identify|detect)`;
// "Provide your details" and "Explain our offer" address the reader about their own affairs: an
// assistant's task names its object without a possessive.
const REQUEST_LINE = new RegExp(
  String.raw`^${LEAD_IN}${REQUEST_VERB}\s+(?!your\b|our\b|us\b|yourself\b)(?:\w+\s+){1,}`,
  'u',
);
const QUESTION_LINE = new RegExp(
  String.raw`^(?:what|how|who|whom|which|why|when|where|can\s+you|could\s+you|would\s+you|will\s+you|is\s+(?:this|it|there|the)|are\s+there|do\s+you\s+know|what's|how's|who's)\b[^\n?]{8,}\?`,
  'u',
);

/** Splits folded text into sentences (bounded: at most 2,000 per text, each cut to 600 characters). */
function sentences(text: string): string[] {
  const out: string[] = [];
  // A stop ends a sentence only before a space or the end ("www.example.com" is one word).
  for (const match of text.matchAll(/(?:[^.!?\n]|[.!?](?=[^\s.!?]))+[.!?]*/g)) {
    const sentence = match[0].trim().replace(/^["'(\[\-–•*#>]+\s*/, '');
    if (sentence.length > 0) out.push(sentence.length > 600 ? sentence.slice(0, 600) : sentence);
    if (out.length >= 2000) break;
  }
  return out;
}

/** Orders about the model's own reply, in content that should hold none (span: the raw folded sentence). */
export function scanResponseManipulation(folded: string): RawFinding | null {
  for (const sentence of sentences(folded)) {
    const aimed =
      (IMPERATIVE_ABOUT_OUTPUT.test(sentence) && MENTIONS_OWN_OUTPUT.test(sentence)) ||
      IN_YOUR_OUTPUT.test(sentence) ||
      REPLY_HOW.test(sentence);
    if (aimed)
      return {
        rule: 'response-manipulation',
        severity: 'high',
        span: sentence,
        explanation:
          'Third-party content gives orders about how the model must write its reply (add, encode, translate, mention …): injected instructions.',
      };
  }
  return null;
}

/**
 * A request to an assistant standing alone on a line of third-party content (an email, a page):
 * "Explain how …", "What is the capital of …?". Lines of the content itself rarely read so. The span
 * is the raw folded line (the caller escapes it).
 */
export function scanTaskHijack(folded: string): RawFinding | null {
  // Documentation (markdown headings, code fences) is made of imperative lines: not a signal there.
  if (/(?:^|\n)(?:#{1,6} |```)/.test(folded)) return null;
  let lines = 0;
  for (const rawLine of folded.split('\n')) {
    if (++lines > 5000) break;
    if (rawLine.length > 400) continue;
    const line = rawLine
      .trim()
      .replace(/^["'(\[\-–•*#>]+\s*/, '')
      .replace(/["')\]]+$/, '');
    if (line.length < 12 || line.length > 300) continue;
    const words = line.split(/\s+/).length;
    if (words < 4) continue;
    // At most three sentences: a whole paragraph is the content, not an inserted request.
    if ((line.match(/[.!?](?:\s|$)/g) ?? []).length > 3) continue;
    if (REQUEST_LINE.test(line) || QUESTION_LINE.test(line))
      return {
        rule: 'task-hijack',
        severity: 'medium',
        span: line,
        explanation:
          'A request addressed to an assistant stands on its own line in third-party content: it may hijack the task the user gave.',
      };
  }
  return null;
}
