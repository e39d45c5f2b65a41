/**
 * The phrase rules: attack techniques written as bounded regular expressions over folded text
 * (text.ts: lower-case, invisible characters removed, look-alikes mapped). Each rule describes a
 * technique (how an attacker talks to the model), never one known sample; docs/scanning.md lists
 * them with their limits.
 *
 * Linear time: no pattern nests an unbounded quantifier; gaps between words are bounded
 * (`[^.!?\n]{0,60}`), so the work per position is bounded by a constant and a scan is linear in the
 * text (rules.test.ts runs long adversarial strings against every pattern).
 */
import type { Severity, TextKind } from './types.js';

/** One technique: patterns over folded text, a severity per kind of text, and what it means. */
export interface PhraseRule {
  readonly id: string;
  /** Severity where the rule applies; a kind left out is not scanned by this rule. */
  readonly severity: Partial<Readonly<Record<TextKind, Severity>>>;
  readonly explanation: string;
  readonly patterns: readonly RegExp[];
  /** Only for these field roles (default: every string). */
  readonly roles?: readonly FieldRole[];
}

/** What a string is in its value: free text, a parameter's description, or a name/enum value. */
export type FieldRole = 'text' | 'parameter' | 'name';

/** Builds a case-sensitive unicode RegExp from a raw template (the text is already lower-cased). */
function re(source: string): RegExp {
  return new RegExp(source, 'u');
}

/** A bounded gap inside one sentence. */
const gap = (n: number): string => `[^.!?\\n]{0,${n}}`;

const ANY_KIND = { definition: 'high', output: 'high' } as const;

const CREDENTIAL = String.raw`(?:api[ _-]?keys?|access[ _-]?tokens?|auth(?:entication)?[ _-]?tokens?|bearer tokens?|refresh tokens?|secret[ _-]?keys?|private[ _-]?keys?|ssh[ _-]?keys?|passwords?|passphrases?|passcodes?|credentials?|session (?:cookies?|tokens?)|cookies|seed phrases?|recovery phrases?|mnemonic|secrets|2fa codes?|otp codes?|one[- ]time codes?)`;

const SENSITIVE_PATH = String.raw`(?:~\/\.ssh|\.ssh\/|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|\bauthorized_keys\b|\bknown_hosts\b|(?:^|[\s'"\x60(\/])\.env(?:\.[a-z]{1,12})?\b|\bmcp\.json\b|\bclaude_desktop_config\b|\.cursor\/|\.aws\/(?:credentials|config)\b|\.netrc\b|\.npmrc\b|\.pypirc\b|\.git-credentials\b|\.docker\/config\.json|\.kube\/config\b|\/etc\/(?:passwd|shadow|sudoers)\b|\.(?:bash|zsh)_history\b|\.gnupg\b|\.config\/gcloud\b|\bwallet\.dat\b|\bkeychain\b|\blogin data\b|\bcookies\.sqlite\b|\.pgpass\b|\bcredentials\.json\b|\bsecrets?\.(?:ya?ml|json|toml|env)\b|\b[a-z]{2,12}:\/\/(?:credentials|secrets?|keys|tokens?)\b)`;

/** Tags and brackets that mark a block of text as instructions meant for the model. */
const INSTRUCTION_TAG = String.raw`(?:important|information|instructions?|system|secret|hidden|admin|critical|attention|override|directive|ai|assistant|llm|model|prompt|must[ _]read|mandatory)`;

export const PHRASE_RULES: readonly PhraseRule[] = [
  {
    id: 'instruction-override',
    severity: ANY_KIND,
    explanation: 'Tells the model to ignore or replace the instructions it was given: a prompt-injection attempt.',
    patterns: [
      re(
        String.raw`\b(?:ignore|disregard|forget|abandon|drop|skip)\s+(?:the\s+|your\s+)?(?:user's|users'|human's|original|initial|current|assigned|actual)\s+(?:request|task|question|query|instructions?|prompt|goal|job|assignment)`,
      ),
      re(
        String.raw`\b(?:ignore|disregard|forget|abandon|drop)\s+your\s+(?:task|job|goal|mission|request|assignment|objective|instructions|orders|programming|guidelines)\b`,
      ),
      re(String.raw`\b(?:new|updated|revised|additional|overriding)\s+(?:system\s+)?instructions?\b${gap(30)}:`),
      re(
        String.raw`\b(?:ignore|disregard|forget|override|bypass|abandon|discard|drop)\s+(?:(?:all|any|the|your|my|these|those|of|every|everything)\s+){0,3}(?:previous|prior|above|earlier|preceding|former|original|initial|existing|system|old|other)\s+(?:instructions?|prompts?|directions?|directives?|rules|guidelines|context|commands?|messages?|tasks?|guidance|constraints|orders|policies|text)`,
      ),
      re(
        String.raw`\b(?:ignore|disregard|forget)\s+(?:all\s+|everything\s+)?(?:you\s+(?:were|have\s+been)\s+told|what\s+you\s+were\s+told|(?:the|your)\s+(?:instructions|rules|guidelines|system\s+prompt|programming|training))`,
      ),
      re(
        String.raw`\b(?:ignore|disregard|forget)\s+(?:the|this|that|all\s+the)\s+(?:above|webpage|web\s+page|page|function|code|resume|document|data|actual\s+data|email|text|content|article|table|paper|input|question|task|file|message|site|post|comment|output|result|results|request)(?:\s+(?:above|below|content|text|itself))?\b\s*(?:and\b|[,:;.-])`,
      ),
      re(
        String.raw`\b(?:your|the)\s+(?:new|real|actual|true|updated|only)\s+(?:task|instructions?|goal|objective|mission|job|orders)\s+(?:is|are|will\s+be)\b`,
      ),
      re(String.raw`\b(?:new|updated|revised)\s+(?:system\s+)?instructions\s*:`),
      re(
        String.raw`\btask\s+(?:is\s+)?(?:complete|completed|done|finished)\b\s*[.!]?\s*(?:now|next|ignore|your|new)\b`,
      ),
      re(
        String.raw`\b(?:stop|cease)\s+(?:what\s+you\s+are\s+doing|your\s+current\s+task|following\s+(?:your|the)\s+instructions)`,
      ),
      // The same request in other languages (injections switch language to slip past filters).
      re(
        String.raw`\bignore[zr]\b|\bignorier(?:e|en)\b|\bignora(?:r)?\s+(?:la|las|el|los|le|tutte|todas?|todo)\b|\bignore\s+(?:la|las|el|los|as|os)\s|\bolvida\s+(?:todas?\s+)?(?:tus|las|sus)\b|\binstrucciones\s+anteriores\b|\bvorherigen?\s+anweisungen\b|\bvergiss\s+(?:alle|deine|die)\b|\bistruzioni\s+precedenti\b|\binstruções\s+anteriores\b|\bnegeer\s+(?:alle|de|vorige)\b|\bconsignes\s+précédentes\b|\binstructions\s+précédentes\b`,
      ),
      re(
        String.raw`игнорир|проигнорир|забудь\s+(?:все\s+)?(?:предыдущие|прежние|свои)|предыдущие\s+инструкции|忽略(?:之前|以前|先前|上述|前面|所有|上面)|无视(?:之前|以前|所有)|(?:以前|前|上記)の指示を無視|無視して|이전\s*지시|무시하고|تجاهل|अनदेखा\s+कर`,
      ),
    ],
  },
  {
    id: 'instruction-block',
    severity: ANY_KIND,
    explanation:
      'Wraps text in an <IMPORTANT>-style tag or bracket that marks it as instructions for the model, the classic hidden-instruction block.',
    patterns: [
      re(String.raw`<\s*\/?\s*${INSTRUCTION_TAG}(?:[ _-]?(?:message|note|notice|instructions?|mode))?\s*>`),
      re(String.raw`\[\s*${INSTRUCTION_TAG}(?:[ _-]?(?:message|note|notice|instructions?))?\s*\]`),
      re(String.raw`\{\{\s*${INSTRUCTION_TAG}\s*\}\}`),
    ],
  },
  {
    id: 'assistant-directive',
    severity: ANY_KIND,
    explanation:
      'Addresses the model directly with orders, or claims to speak for the user, developer or system: an instruction hidden in data.',
    patterns: [
      re(
        String.raw`\b(?:to|for|attention)\s+(?:the\s+|any\s+|all\s+)?(?:ai|llm|language\s+model|gpt|claude|assistant|agent|bot|chatbot)s?(?:\s+(?:assistants?|agents?|models?|systems?|bots?))?\s+(?:reading|summari[sz]ing|processing|parsing|analy[sz]ing|seeing|viewing|handling|browsing|crawling)\b`,
      ),
      re(
        String.raw`\b(?:ai|llm|gpt|claude)\s+(?:agents?|assistants?|models?|systems?|bots?)\s+(?:reading|processing|summari[sz]ing|parsing|analy[sz]ing|seeing)\s+(?:this|these|the)\b`,
      ),
      re(
        String.raw`\bif\s+you\s+are\s+(?:an?\s+)?(?:ai|llm|large\s+language\s+model|language\s+model|assistant|agent|bot|chatbot|gpt|claude|automated\s+(?:system|agent|assistant))\b`,
      ),
      re(
        String.raw`(?:^|[.!?\n(\[][ \t]*)(?:ai|assistant|agent|llm|model|claude|gpt|chatgpt|copilot)\s*[:,]\s*(?:you\b|please\b|now\b|ignore|disregard|forget|forward|send|open|call|run|execute|tell|say|reply|respond|must\b|do\s+not|don't|always|never|stop|visit|go\s+to|email|delete|include|add)`,
      ),
      re(
        String.raw`\byou\s+are\s+now\s+(?:dan\b|in\s+[\w-]{1,20}\s+mode|an?\s+(?:unrestricted|unfiltered|uncensored|different|new|evil)\b|unrestricted|unfiltered|jailbroken|free\s+(?:of|from)|no\s+longer\s+(?:bound|restricted|an?\s+assistant))`,
      ),
      re(
        String.raw`\b(?:respond|answer|reply|act|operate)\s+without\s+(?:any\s+)?(?:restrictions|filters|limits|limitations|rules|guardrails|censorship)\b`,
      ),
      re(
        String.raw`\bpretend\s+(?:that\s+)?(?:you\s+are|to\s+be|you're)\b|\bact\s+as\s+(?:if\s+you\s+(?:are|were)\s+)?(?:the|an?)\s+(?:admin|administrator|developer|root|system|superuser|unrestricted)\b`,
      ),
      re(String.raw`\b(?:hidden|secret|silent)\s+(?:requirement|instruction|directive|task|step|rule)s?\s*:`),
      re(
        String.raw`\b(?:include|print|output|repeat|send|paste|copy|share|write\s+out|append|attach)\s+${gap(30)}\byour\s+(?:full\s+|entire\s+|complete\s+)?(?:system\s+prompt|instructions|initial\s+prompt|hidden\s+prompt|system\s+message|rules)\b`,
      ),
      re(
        String.raw`\b(?:an?\s+)?(?:important|urgent|critical|special|private|secret)\s+(?:message|note|notice|instruction|request|update)\s+(?:from|by)\s+(?:the\s+|your\s+)?(?:user|admin|administrator|developer|system|operator|owner|creator)`,
      ),
      re(
        String.raw`\b(?:message|note)\s+(?:from\s+(?:the\s+|your\s+)?(?:user|developer|admin|system|operator)\s+)?(?:to|for)\s+(?:you|the\s+(?:ai|assistant|model|llm|agent))\b\s*[.:!]`,
      ),
      re(String.raw`\bsigned\s*,?\s*(?:the\s+|your\s+)?(?:user|admin|administrator|developer|system|operator)\b`),
      re(
        String.raw`\bbefore\s+(?:you\s+)?(?:can\s+|do\s+|start\s+|begin\s+)?(?:solve|solving|answer|answering|respond|responding|reply|replying|continue|continuing|proceed|proceeding|complete|completing|finish|finishing)\b`,
      ),
      re(
        String.raw`\byou\s+(?:must|should|need\s+to|have\s+to|are\s+(?:required|instructed|ordered)\s+to|will)\s+(?:strictly\s+|always\s+|now\s+|first\s+|immediately\s+){0,2}(?:adhere\s+to|follow|obey|comply\s+with|listen\s+to|execute)\s+(?:the\s+|these\s+|my\s+|this\s+|all\s+)?(?:following|instructions?|commands?|orders|steps|directions|me)\b`,
      ),
      re(
        String.raw`\b(?:dear|hey|hello|attention|note\s+to(?:\s+the)?)\s*,?\s+(?:ai|assistant|model|llm|agent|chatbot|gpt|claude|copilot)\b`,
      ),
      re(
        String.raw`\byou(?:'ve|\s+have)\s+been\s+(?:instructed|ordered|asked|authorized)\s+to\b|\bse\s+te\s+ha\s+(?:instruido|ordenado)\b`,
      ),
      re(
        String.raw`\bi(?:'m|\s+am)\s+(?:your|the)\s+(?:developer|creator|admin|administrator|owner|operator|programmer|master|maker|supervisor)\b`,
      ),
      re(
        String.raw`\bi(?:'m|\s+am)\s+not\s+[\w-]{1,40}\s*,\s*i(?:'m|\s+am)\s+(?:god|your|the|an?\s+(?:admin|developer))`,
      ),
      re(String.raw`\byou\s+must\s+(?:now\s+)?listen\s+to\s+(?:me|my)\b`),
      re(
        String.raw`\b(?:reveal|print|output|repeat|show|tell\s+me|give\s+me|disclose|leak|share)\s+(?:me\s+)?(?:your|the)\s+(?:system\s+prompt|initial\s+prompt|hidden\s+prompt|original\s+instructions|system\s+instructions|system\s+message|developer\s+message)`,
      ),
      re(
        String.raw`\btell\s+(?:me|us)\s+who\s+you\s+are\b|\b(?:state|say|tell\s+me|reveal)\s+(?:which|what)\s+(?:model|llm|ai)\s+you\s+are\b`,
      ),
    ],
  },
  {
    id: 'secrecy',
    severity: ANY_KIND,
    explanation: 'Asks the model to hide what it does from the user: legitimate tools never need that.',
    patterns: [
      re(
        String.raw`\b(?:do\s+not|don't|dont|never|must\s+not|should\s+not|without|avoid)\s+(?:explicitly\s+|ever\s+|directly\s+|actually\s+)?(?:tell(?:ing)?|mention(?:ing)?|inform(?:ing)?|notify(?:ing)?|alert(?:ing)?|reveal(?:ing)?|disclos(?:e|ing)|report(?:ing)?|let(?:ting)?|warn(?:ing)?|acknowledg(?:e|ing)|explain(?:ing)?|say(?:ing)?|show(?:ing)?|reference|referencing|bring(?:ing)?\s+up)\s+${gap(40)}\b(?:the\s+user|the\s+human|users?\b|the\s+client|the\s+operator|anyone|that\s+you|what\s+you|you(?:'re|\s+are)|this\s+(?:instruction|step|action|message|note|call|tool|request)|these\s+(?:instructions|steps)|it\s+to\s+the\s+user)`,
      ),
      re(
        String.raw`\b(?:keep|remain|stay)\s+(?:this|these|it|that|everything|them)?\s*(?:secret|hidden|confidential|between\s+us|undisclosed)\b`,
      ),
      re(
        String.raw`\b(?:silently|secretly|covertly|quietly|invisibly|discreetly|stealthily)\s+(?:\w+\s+){0,2}(?:send|read|call|run|include|add|copy|upload|forward|execute|pass|append|collect|access|transmit|post|share|exfiltrate)\b`,
      ),
      re(
        String.raw`\b(?:the\s+)?user\s+(?:must|should|will|does|need|can)\s*(?:not|n't)\s+(?:know|see|be\s+(?:told|informed|aware|notified)|notice|find\s+out|learn|suspect)\b`,
      ),
      re(
        String.raw`\b(?:hide|conceal)\s+(?:this|it|these|that|the\s+\w+)\s+(?:\w+\s+)?from\s+(?:the\s+)?(?:user|human|client)`,
      ),
      re(String.raw`\bpresent\s+(?:the\s+\w+\s+|it\s+|this\s+|them\s+)?as\s+if\b`),
    ],
  },
  {
    id: 'sensitive-path',
    severity: { definition: 'high', output: 'low' },
    explanation:
      'Names a credential store or secret file (SSH keys, .env, cloud or MCP client configs); a tool description has no reason to point the model at it.',
    patterns: [re(SENSITIVE_PATH)],
  },
  {
    id: 'credential-access',
    severity: ANY_KIND,
    explanation: 'Asks the model to read, collect or pass on credentials (keys, tokens, passwords).',
    patterns: [
      re(
        String.raw`\b(?:print|output|display|show|list|echo|reveal|dump|log|return|send|include)\s+${gap(40)}\b(?:environment\s+variables?|env\s+vars?)\b${gap(40)}\b(?:keys?|secrets?|tokens?|passwords?|credentials?)\b`,
      ),
      re(
        String.raw`\b(?:call|invoke|run|use|authenticate)\s+${gap(40)}\bwith\s+(?:the\s+|your\s+|their\s+|all\s+)?(?:user's\s+)?${CREDENTIAL}\b`,
      ),
      re(String.raw`\b(?:enter|type|submit|fill\s+in|input|provide)\s+(?:the\s+|their\s+)?user's\s+${CREDENTIAL}\b`),
      re(
        String.raw`\b(?:read|access|retrieve|fetch|obtain|collect|extract|steal|grab|harvest|dump|leak|exfiltrate|scrape|gather|copy)\s+${gap(40)}\b${CREDENTIAL}\b`,
      ),
      re(
        String.raw`\b(?:include|append|attach|embed|insert|put|add|paste|send|forward|upload|email|post|transmit)\s+${gap(30)}\b${CREDENTIAL}\b${gap(30)}\b(?:in|into|to|with|as)\s+(?:your|the|a|this|every|each)\s+(?:next\s+|final\s+)?(?:response|reply|answer|message|output|summary|notes?|parameter|argument|field|url|link|query\s+string|call|tool\s+call|report|comment|log)s?\b`,
      ),
    ],
  },
  {
    id: 'exfiltration',
    severity: ANY_KIND,
    explanation: 'Asks for data to be sent to an outside address (a URL, a mail address, a remote server).',
    patterns: [
      re(
        String.raw`\b(?:send|forward|upload|post|transmit|exfiltrate|e-?mail|mail|leak|deliver|submit|sync|copy|share|pipe|beam|relay|append|write|log|save|store|dump|paste|envía|envíalos|envialo|sende|envoie|envoyez)\w*(?!\s+(?:was|were|is|are|has|have|had|will|would|address|addresses|from)\b)\s+${gap(60)}\b(?:to|at|a|an|à)\s+(?:https?:\/\/|ftp:\/\/|www\.|[\w.+-]{1,64}@[\w-]{1,63}\.[\w.-]{1,63}|\d{1,3}(?:\.\d{1,3}){3}|\+\d[\d -]{6,16}\d|(?:an?\s+|the\s+|this\s+|that\s+|our\s+|my\s+)?(?:external|remote|third[- ]party|attacker|following|outside|backup|collection|logging)\s+(?:url|server|endpoint|address|email|webhook|domain|host|ip|site|inbox|api))`,
      ),
      re(
        String.raw`\b(?:include|append|attach|embed|encode|add|put)\s+${gap(60)}\b(?:in|into|to|as)\s+(?:the\s+|a\s+)?(?:url|query\s+string|query\s+parameter|link|image\s+(?:url|link|source)|markdown\s+image|webhook)\b`,
      ),
      re(
        String.raw`!\[[^\]\n]{0,80}\]\(\s*https?:\/\/[^)\s]{0,200}[?&][\w-]{1,40}=(?:\{\{?\s*[a-z_]|\$\{|%7b|<[a-z_]{1,40}>)`,
      ),
      re(
        String.raw`\b(?:curl|wget)\b[^\n]{0,80}(?:\s-d\b|\s--data|\s-f\b|\s--form|\s--upload-file|\s-t\b|\s--post-(?:data|file))`,
      ),
    ],
  },
  {
    id: 'fake-error',
    severity: ANY_KIND,
    explanation:
      'Claims the tool is unavailable or failed in order to steer the model to another action: a fake error.',
    patterns: [
      re(
        String.raw`\b(?:this|the|that)\s+(?:tool|function|service|server|endpoint|method)\s+(?:is|has\s+been|was)\s+(?:now\s+)?(?:no\s+longer\s+(?:available|supported|working|in\s+service|active)|(?:temporarily\s+|permanently\s+)?(?:unavailable|disabled|discontinued|retired|removed|moved|migrated|out\s+of\s+service|broken|offline|suspended))`,
      ),
      re(
        String.raw`\b(?:error|failure|failed|exception|unauthori[sz]ed|expired)\b[^\n]{0,60}\b(?:(?:you|the\s+(?:assistant|model|agent|ai))\s+(?:must|needs?\s+to|has\s+to|should)|in\s+order\s+to\s+continue|to\s+continue\s*,?(?:\s+(?:you|the\s+(?:assistant|model|agent|ai))\s+(?:must|needs?\s+to|has\s+to|should))?)\s+(?:first\s+|now\s+)?(?:call|use|invoke|run|execute|switch\s+to|send|provide|read)\b`,
      ),
    ],
  },
  {
    id: 'remote-code',
    severity: { definition: 'high', output: 'medium' },
    explanation: 'Asks for a script from the network to be piped into a shell: code the user never sees runs.',
    patterns: [
      re(
        String.raw`\b(?:curl|wget|iwr|invoke-webrequest)\b[^\n|]{0,200}\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b|\b(?:curl|wget)\b[^\n|]{0,200}\|\s*(?:sudo\s+)?(?:python3?|perl|ruby|node)\b|\biex\s*\(\s*(?:new-object|iwr|invoke-webrequest)`,
      ),
    ],
  },
  {
    id: 'role-marker',
    severity: ANY_KIND,
    explanation:
      'Contains chat-template or role markers (system/assistant turns, override modes) that try to pass text off as instructions from a higher authority.',
    patterns: [
      re(
        String.raw`<\|\s*(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id|begin_of_text)\s*\|>`,
      ),
      re(String.raw`\[\/?inst\]|<<\/?sys>>`),
      re(
        String.raw`(?:^|\n)[ \t]*#{1,6}[ \t]*(?:system|assistant|developer)(?:[ \t]+(?:message|prompt|instructions?|override))?[ \t]*:[ \t]*(?:\n|$)`,
      ),
      re(String.raw`(?:^|\n)[ \t]*#{1,6}\s*(?:system|assistant|developer)\s*:`),
      re(
        String.raw`(?:^|\n)[ \t]*(?:system|developer|admin|administrator)[ \t]*(?:message|prompt|note|notice)?[ \t]*:[ \t]*(?:you\b|ignore|from\s+now|new\b|override|the\s+assistant|the\s+user\s+(?:has|is|wants|asked)|assistant\b|your\b)`,
      ),
      re(
        String.raw`<\s*\/?\s*(?:system|developer|assistant)(?:[ _-]?(?:mode|message|prompt|override))?\s*>|<\\\s*system[ _-]?mode\s*>`,
      ),
      re(
        String.raw`\b(?:system|developer|admin|administrator|god|debug|maintenance|security\s+override|override|jailbreak|dan|unrestricted|root|sudo)\s+mode\s+(?:activated|enabled|engaged|on|initiated)\b`,
      ),
      re(String.raw`\b(?:now\s+)?entering\s+(?:[\w-]{1,40}\s+){0,3}(?:mode|override)\b`),
      re(String.raw`\b(?:developer|training\s+data|system|admin|security)\s+(?:data\s+)?override\b`),
      re(String.raw`\b(?:in|when\s+a\s+function\s+is\s+called\s+in)\s+override\s+mode\b`),
    ],
  },
  {
    id: 'tool-shadowing',
    severity: { definition: 'medium', output: 'medium' },
    explanation:
      'Tells the model how or when to use another tool, or to change what another tool returns: a definition that shadows other tools.',
    patterns: [
      re(
        String.raw`\bthe\s+[\x60'"]?[a-z][\w.-]{0,40}[\x60'"]?\s+(?:[\w.-]{1,40}\s+)?(?:tool|function)\s+(?:must|should|needs\s+to|has\s+to|will\s+now|is\s+required\s+to|shall)\b`,
      ),
      re(
        String.raw`\bwhen\s+this\s+(?:tool|server|function)\s+is\s+(?:available|present|installed|loaded|enabled|connected)\b`,
      ),
      re(
        String.raw`\b(?:before|after|when(?:ever)?|instead\s+of|prior\s+to|rather\s+than)\s+(?:using|calling|executing|running|invoking|you\s+(?:use|call|run|invoke))\s+(?:the\s+|any\s+|another\s+|other\s+)?(?!this\b|it\b|these\b)[\x60'"]?[a-z][\w.-]{0,60}[\x60'"]?\s+(?:tool|function|operation|command|server|api)\b`,
      ),
      re(
        String.raw`\b(?:use|call|invoke|run|execute|trigger)\s+(?:the\s+)?(?!this\b|it\b|that\b|these\b|a\b|an\b|any\b)[\x60'"]?[a-z][\w.-]{0,60}[\x60'"]?\s+(?:tool|function)\b`,
      ),
      re(
        String.raw`\bby\s+using\s+(?:the\s+)?(?!this\b)[\x60'"]?[a-z][\w.-]{0,60}_[\w.-]{0,60}[\x60'"]?(?:\s+tool)?\b`,
      ),
      re(
        String.raw`\b(?:other|another|all|any)\s+(?:tools?|servers?|functions?)\s+${gap(40)}\b(?:must|should|will|need\s+to|are\s+required\s+to)\b`,
      ),
      re(
        String.raw`\b(?:this\s+tool|it)\s+(?:replaces|supersedes|overrides|must\s+be\s+(?:used|called)\s+(?:instead|before|after))\b`,
      ),
      re(
        String.raw`\b(?:modify|change|replace|override|correct|alter|rewrite|update)\s+(?:the\s+)?(?:wrong\s+|incorrect\s+)?(?:results?|outputs?|values?|responses?|arguments?|parameters?)\s+(?:of|from|returned\s+by|with\s+(?:the\s+)?(?:response|result|output))\b`,
      ),
      re(String.raw`\b(?:the\s+)?[\w-]{1,40}\s+(?:mcp\s+)?server's\s+(?:tool|tools|function)\b`),
    ],
    roles: ['text', 'parameter'],
  },
  {
    id: 'preference-manipulation',
    severity: { definition: 'medium' },
    explanation:
      "Praises the tool or tells the model to always pick it: wording meant to win the model's tool choice, not to describe the tool.",
    patterns: [
      re(
        String.raw`\b(?:the\s+)?(?:best|greatest|finest|ultimate|number\s+one|#1|most\s+(?:powerful|reliable|accurate|trusted|advanced|capable|efficient|secure|popular|trustworthy))\s+(?:[\w-]{1,40}\s+){0,2}(?:tool|server|function|option|choice|solution|service|api|method|plugin|way)s?\b`,
      ),
      re(
        String.raw`\b(?:best|greatest|fastest|most\s+\w+|number\s+one|#1|top)\b${gap(40)}\bin\s+the\s+(?:world|universe|market|industry)\b`,
      ),
      re(
        String.raw`\b(?:always|only|exclusively)\s+(?:use|call|choose|pick|prefer|select|invoke|trust)\s+(?:this|me|it)\b`,
      ),
      re(
        String.raw`\b(?:just\s+|simply\s+)?(?:use|call|choose|prefer|select)\s+this\s+(?:tool|function|server)\s+(?:first|always|exclusively|instead|whenever|no\s+matter|for\s+(?:all|every|any))`,
      ),
      re(
        String.raw`\bthis\s+(?:tool|function|server)\s+(?:should|must)\s+(?:always|only)\s+be\s+(?:used|called|chosen|preferred|selected)`,
      ),
      re(
        String.raw`\b(?:do\s+not|don't|never)\s+(?:use|call|choose|trust)\s+(?:any\s+)?(?:other|another|alternative)\s+(?:tools?|servers?|functions?)`,
      ),
      re(String.raw`\b(?:better|superior)\s+(?:than|to)\s+(?:any|all|other|the\s+other)\b`),
      re(String.raw`\bprefer(?:red)?\s+(?:this\s+(?:tool|function)\s+|it\s+)?over\s+(?:all\s+|any\s+)?(?:other|any)\b`),
      re(
        String.raw`\bno\s+matter\s+(?:how\s+many|what|which)\s+(?:arguments|parameters|inputs|tools?|the\s+(?:request|task|input))\b`,
      ),
    ],
    roles: ['text', 'parameter'],
  },
  {
    id: 'out-of-scope-parameter',
    severity: { definition: 'medium' },
    explanation:
      'Asks the model for context a tool has no need of (its model name, system prompt, conversation history or list of tools), a way to exfiltrate it.',
    patterns: [
      re(
        String.raw`\b(?:name|version|identity|type|vendor|provider)\s+of\s+(?:the|your)\s+(?:llm|ai|language\s+model|model|assistant|agent|chatbot)\b`,
      ),
      re(
        String.raw`\b(?:the\s+)?(?:llm|model|assistant|ai|agent)\s+(?:that|which|who)\s+(?:is\s+)?(?:calls?|calling|uses?|using|invokes?|invoking|runs?|running)\s+(?:this|the)\s+(?:tool|function)\b`,
      ),
      re(
        String.raw`\b(?:your|the\s+(?:model's|assistant's|ai's|agent's|llm's))\s+(?:system\s+prompt|system\s+instructions|instructions|rules|guidelines|configuration|context\s+window)\b`,
      ),
      re(String.raw`\bsystem\s+prompt\b`),
      re(
        String.raw`\b(?:entire|full|whole|complete|previous|prior|earlier)\s+(?:conversation|chat|dialog(?:ue)?|message\s+history|context)\b|\b(?:conversation|chat)\s+(?:history|transcript|log)\b`,
      ),
      re(
        String.raw`\b(?:list|names?|set)\s+of\s+(?:all\s+)?(?:the\s+)?(?:available|other|installed|connected|enabled|your)\s+(?:tools|servers|functions|plugins)\b|\b(?:tools|functions)\s+(?:you\s+have|available\s+to\s+you)\b`,
      ),
    ],
    roles: ['parameter'],
  },
  {
    id: 'out-of-scope-parameter',
    severity: { definition: 'medium' },
    explanation:
      'Asks the model to pass along context a tool has no need of (the conversation, its prompt, the tool list, its model name), a way to exfiltrate it.',
    patterns: [
      re(
        String.raw`\b(?:include|pass|send|provide|attach|add|put|insert|append|copy|paste|fill|supply|give)\s+${gap(40)}\b(?:conversation|chat\s+history|message\s+history|system\s+prompt|previous\s+messages|prior\s+messages|earlier\s+messages|list\s+of\s+(?:available\s+|other\s+)?tools|tool\s+list|model\s+name)\b`,
      ),
      re(
        String.raw`\b(?:the\s+)?(?:user's|entire|full|whole)\s+(?:conversation|chat)\s+(?:so\s+far|history|until\s+now|up\s+to\s+now)\b`,
      ),
    ],
    roles: ['text'],
  },
];

/** Rules that only make sense in returned content (tool results, resources, relayed messages). */
export const OUTPUT_RULES: readonly PhraseRule[] = [
  {
    id: 'code-injection',
    severity: { output: 'high' },
    explanation: 'Third-party content tells the model to put given code into its answer or the code it writes.',
    patterns: [
      re(
        String.raw`\b(?:the\s+)?(?:following|below|subsequent|above|attached|given)\s+(?:code|snippet|script|program)(?:\s+(?:snippet|block|excerpt|section|fragment|sample|lines?|segment))?\b${gap(80)}\byour\s+(?:own\s+)?(?:code|implementation|solution|algorithm|codebase|response|program|answer|elucidation|script|logic|project|reply|output|explanation|work)`,
      ),
      re(
        String.raw`\byour\s+(?:own\s+)?(?:code|implementation|solution|algorithm|codebase|response|program|answer|elucidation|script|logic|project|reply)\b${gap(80)}\b(?:following|below|subsequent|above|attached|given)\s+(?:code|snippet|script)(?:\s+(?:snippet|block|excerpt|section|fragment|sample|lines?|segment))?\b`,
      ),
      re(String.raw`\bthe\s+code\s+you\s+(?:develop|write|produce|generate)\b`),
      re(
        String.raw`\b(?:code|snippet|script|block|excerpt)\s+(?:below|above|that\s+follows)\b${gap(60)}\byour\s+(?:own\s+)?(?:code|implementation|solution|algorithm|codebase|response|program|answer|script|reply|project)`,
      ),
    ],
  },
  {
    id: 'code-injection',
    severity: { output: 'medium' },
    explanation:
      'Third-party content presents code for the model to add or run ("the following code snippet"), without saying where: possibly injected code.',
    patterns: [
      re(
        String.raw`\b(?:following|below|subsequent)\s+(?:code|script|program)\s+(?:snippet|block|excerpt|section|fragment|sample|segment|lines?)\b`,
      ),
    ],
  },
  {
    id: 'phishing-lure',
    severity: { output: 'medium' },
    explanation:
      'Third-party content urges the reader to follow a link to reset a password, verify an account or claim a prize: a phishing lure the model may repeat.',
    patterns: [
      re(
        String.raw`\b(?:follow|click|visit|open|use|tap|go\s+to)\s+(?:on\s+)?(?:this|the|that|our|a)\s+(?:link|url|page|site|website)\b${gap(40)}\b(?:reset|verify|confirm|update|unlock|restore|secure|claim|validate|re-?activate)\b`,
      ),
      re(
        String.raw`\byour\s+(?:account|password|device|computer|card)\s+(?:has\s+been|is|was)\s+(?:compromised|hacked|locked|suspended|infected|breached)\b`,
      ),
    ],
  },
  {
    id: 'answer-manipulation',
    severity: { output: 'medium' },
    explanation:
      'Third-party content dictates what the model should answer (hypotheticals, persuasion, "state that …"): an attempt to steer the answer.',
    patterns: [
      re(
        String.raw`\b(?:concatenate|combine|join|put\s+together|assemble)\b${gap(50)}\b(?:strings?|parts?|pieces|fragments|variables|segments|halves)\b${gap(50)}\b(?:follow|execute|obey|answer|say|state|print|output|respond|run|carry\s+out|do\s+what)\b`,
      ),
      re(
        String.raw`\blet(?:'s|\s+us)\s+(?:just\s+)?(?:say|state|assume|pretend|imagine|admit|consider|suppose|claim|agree|declare|answer)\b`,
      ),
      re(
        String.raw`\b(?:we|you|one)\s+(?:might|could|should|would|will|must)\s+(?:then\s+)?(?:say|state|claim|assert|report|answer|respond|declare|conclude)\s*(?:that|:|the\b)`,
      ),
      re(
        String.raw`\b(?:state|say|claim|assert|answer|respond|report|declare|write|tell\s+(?:them|the\s+user))\s*:?\s+(?:that\s+)?(?:the\s+)?(?:output|answer|result|sum|total|conclusion|capital|value|response|correct\s+answer)(?:\s+of\s+(?:the\s+|this\s+)?[\w-]{1,40})?\s+(?:is|was|equals|should\s+be|could\s+be|will\s+be)\b`,
      ),
      re(String.raw`\b(?:the\s+)?(?:output|answer|result|response)\s+(?:could|should|would|will|must)\s+be\s+['"\d]`),
      re(String.raw`\bsuppose\s+we\b|\bif\s+we\s+were\s+to\s+ignore\b|\bwhere\s+we\s+ignore\b`),
      re(
        String.raw`\b(?:print|output|state|say|write|repeat|respond\s+with|reply\s+with|answer\s+with)\s+(?:the\s+following|exactly|only|verbatim)\b`,
      ),
      re(
        String.raw`\bas\s+an?\s+(?:authority|expert|admin|administrator|developer|specialist)\b${gap(60)}\b(?:i\s+(?:suggest|recommend|instruct|insist|advise)|you\s+(?:must|should))`,
      ),
      re(String.raw`\bconsider\s+the\s+(?:output|answer|result|response)\s+(?:as|to\s+be)\b`),
      re(
        String.raw`\b(?:common|standard|usual|customary|best)\s+practice\s+to\s+(?:say|state|respond|tell|claim|reply|answer)\b`,
      ),
      re(
        String.raw`\bi\s+(?:suggest|recommend|instruct|insist)\s+(?:that\s+)?you\s+(?:to\s+)?(?:consider|state|say|answer|respond|reply|output)\b`,
      ),
    ],
  },
];
