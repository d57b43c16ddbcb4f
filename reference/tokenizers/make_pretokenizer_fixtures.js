// Pre-tokenizer fixtures: GPT-2's byte-level BPE (lora4j-core's fixtures/tokenizers/gpt2) with other
// pre-tokenizers in front of ByteLevel, as Falcon's file (Punctuation, Digits, a Split) and files trained with
// Hugging Face's quickstart (Whitespace, WhitespaceSplit) have them, and the ids Rust tokenizers gives on a
// varied corpus. Only the pre-tokenizer and the cases are written; the test puts the pre-tokenizer into the
// gpt2 fixture. Regenerate: cd reference/tokenizers && npm install && node make_pretokenizer_fixtures.js
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const FIXTURES = path.join(__dirname, '..', '..', 'lora4j-core', 'src', 'test', 'resources', 'fixtures', 'tokenizers');
const gpt2 = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'gpt2', 'tokenizer.json'), 'utf8'));
const byteLevel = (prefix, regex) => ({ type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: true, use_regex: regex });
const variants = {
  falcon: { type: 'Sequence', pretokenizers: [{ type: 'Punctuation', behavior: 'Contiguous' }, byteLevel(false, true),
    { type: 'Digits', individual_digits: false }, { type: 'Split', pattern: { Regex: '[0-9][0-9][0-9]' }, behavior: 'Isolated', invert: false }] },
  whitespace: { type: 'Sequence', pretokenizers: [{ type: 'Whitespace' }, byteLevel(true, false)] },
  'whitespace-split-punctuation': { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Punctuation', behavior: 'Isolated' },
    byteLevel(false, false)] },
  'punctuation-merged': { type: 'Sequence', pretokenizers: [{ type: 'Punctuation', behavior: 'MergedWithPrevious' }, byteLevel(false, false)] },
};
const corpus = [
  'Hello, world! How are you?',
  "It's a dog's life; they'll say we've I'm you'd.",
  '   leading spaces and trailing   ',
  'tabs\tand\nnewlines\n\n  mixed \t\n',
  'Numbers: 1234567890, 3.14159, -42, 1e-5, 12345',
  'Symbols $100 + 5% = <tag> ^caret^ `tick` |pipe| ~tilde~ @at #hash & *star* _under_',
  'Unicode: café, naïve, «guillemets», „Anführung“, 『括弧』、句読点。 ¡Hola! ¿Qué?',
  'Emoji: 😀🎉👍🏽 family 👨‍👩‍👧‍👦 flags 🇫🇷',
  'Code: def f(x):\n    return x ** 2  # square\n',
  'for (int i = 0; i < n; i++) { sum += a[i]; }',
  'URLs like https://example.com/path?q=1&b=2#frag and e-mail a.b@c.org',
  '!!!??? ... --- *** $$$ %%%',
  'snake_case and kebab-case and CamelCase',
  'non\u00a0breaking and zero\u200bwidth and ideographic\u3000space',
  'a',
  '',
  ' ',
];
(async () => {
  const out = {};
  for (const [name, pre] of Object.entries(variants)) {
    const j = JSON.parse(JSON.stringify(gpt2));
    j.pre_tokenizer = pre;
    const t = Tokenizer.fromString(JSON.stringify(j));
    const cases = [];
    for (const text of corpus) {
      const e = await t.encode(text, null, { addSpecialTokens: false });
      cases.push({ text, ids: e.getIds(), decoded: await t.decode(e.getIds(), false) });
    }
    out[name] = { pre_tokenizer: pre, cases };
    console.log(`${name}: ${cases.length} cases`);
  }
  fs.writeFileSync(path.join(FIXTURES, 'pretokenizers.json'), JSON.stringify(out, null, 1));
})();
