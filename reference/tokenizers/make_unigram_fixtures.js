// Unigram tokenizer fixtures for lora4j's tests, with Hugging Face's Rust tokenizers (npm `tokenizers`) as
// the reference. No npm package ships a Unigram tokenizer.json (T5, XLM-R, ALBERT), so this script makes two
// in their layouts: a vocabulary of pieces with log-probability scores counted on a small corpus, and a
// SentencePiece `precompiled_charsmap` (the Precompiled normalizer) built here from NFKC and SentencePiece's
// nmt rules as a darts-clone double-array trie. Rust parses both, and its ids and decodes over a varied
// corpus are the fixtures. Regenerate: cd reference/tokenizers && npm install && node make_unigram_fixtures.js
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const ROOT = path.join(__dirname, '..', '..', 'lora4j-core', 'src', 'test', 'resources', 'fixtures', 'tokenizers');

// ---- the normalization rules: key (one or more code points) -> replacement ----
function rules() {
  const r = new Map();
  const ranges = [[0x00a0, 0x024f], [0x02b0, 0x02ff], [0x1d00, 0x1dbf], [0x2000, 0x215f], [0x2460, 0x24ff], [0x3000, 0x303f],
    [0x3300, 0x33ff], [0xfb00, 0xfb4f], [0xfe30, 0xfe6f], [0xff00, 0xffef], [0x1d400, 0x1d4ff]];
  for (const [a, b] of ranges)
    for (let cp = a; cp <= b; cp++) {
      const c = String.fromCodePoint(cp), n = c.normalize('NFKC');
      if (n !== c) r.set(c, n);
    }
  // SentencePiece's nmt rules: control characters removed, other spaces become " "
  for (let cp = 0x01; cp <= 0x1f; cp++) if (cp !== 0x09 && cp !== 0x0a && cp !== 0x0d) r.set(String.fromCodePoint(cp), '');
  r.set('\u007f', '');
  for (const cp of [0x09, 0x0a, 0x0d, 0x2028, 0x2029]) r.set(String.fromCodePoint(cp), ' ');
  for (const cp of [0x200b, 0x200c, 0x200d, 0xfeff]) r.set(String.fromCodePoint(cp), '');
  // multi-code-point keys: decomposed letters composed, as NFKC does
  for (const base of 'aeiouAEIOUnNcC') for (const mark of ['\u0300', '\u0301', '\u0302', '\u0303', '\u0308', '\u0327']) {
    const k = base + mark, n = k.normalize('NFKC');
    if (n !== k && n.length === 1) r.set(k, n);
  }
  // a key that is a prefix of another key: which one applies to the grapheme "ｅ\u0301" is Rust's call
  r.set('\uff45\u0301', '\u00e9');
  return r;
}

// ---- darts-clone double array: unit = offset << 10 | has_leaf << 8 | label; a leaf unit is 1 << 31 | value ----
function doubleArray(entries /* [bytes (Buffer), value] */) {
  const root = { children: new Map(), value: -1 };
  for (const [bytes, value] of entries) {
    let n = root;
    for (const b of bytes) {
      if (!n.children.has(b)) n.children.set(b, { children: new Map(), value: -1 });
      n = n.children.get(b);
    }
    n.value = value;
  }
  const units = [0], used = [true];
  const grow = n => { while (units.length <= n) { units.push(0); used.push(false); } };
  let search = 1;
  const place = (node, pos, label) => {
    const labels = [...node.children.keys()].sort((x, y) => x - y);
    const leaf = node.value >= 0;
    let base = search;
    for (;; base++) {
      if ((base ^ pos) >= 1 << 21) throw new Error('offset too large');
      grow(base | 255);
      if (leaf && used[base]) continue;
      if (labels.some(c => used[base ^ c])) continue;
      if (!leaf && labels.length > 0 && used[base ^ labels[0]]) continue;
      break;
    }
    while (used[search]) search++;
    units[pos] = ((base ^ pos) << 10) | (leaf ? 1 << 8 : 0) | label;
    if (leaf) { used[base] = true; units[base] = (0x80000000 | node.value) >>> 0; }
    for (const c of labels) used[base ^ c] = true;
    for (const c of labels) place(node.children.get(c), base ^ c, c);
  };
  place(root, 0, 0);
  return units.map(u => u >>> 0);
}

function charsmap() {
  const entries = [], normalized = [];
  let at = 0;
  for (const [key, value] of rules()) {
    const bytes = Buffer.from(value + '\0', 'utf8');
    entries.push([Buffer.from(key, 'utf8'), at]);
    normalized.push(bytes);
    at += bytes.length;
  }
  const units = doubleArray(entries);
  const trie = Buffer.alloc(4 * units.length);
  units.forEach((u, i) => trie.writeUInt32LE(u, 4 * i));
  const size = Buffer.alloc(4);
  size.writeUInt32LE(trie.length, 0);
  return Buffer.concat([size, trie, ...normalized]);
}

// ---- a Unigram vocabulary: pieces counted on a small corpus, scored by their log frequency ----
const trainingText = [
  'the cat sat on the mat and the dog sat on the log',
  'a quick brown fox jumps over the lazy dog while the cat watches',
  'once upon a time there was a little girl who lived in a small house',
  'she liked to play in the garden with her friends and her dog',
  'the sun was shining and the birds were singing in the trees',
  'numbers like 12 and 345 and 6789 appear in the text sometimes',
  'café naïve résumé über straße',
];
function unigramVocab(special, bytes) {
  const counts = new Map();
  const add = (p, c) => counts.set(p, (counts.get(p) || 0) + c);
  for (const t of trainingText)
    for (const w of t.split(' ')) {
      const cps = Array.from('▁' + w);
      for (let i = 0; i < cps.length; i++)
        for (let j = i + 1; j <= Math.min(cps.length, i + 8); j++) add(cps.slice(i, j).join(''), j - i === 1 ? 3 : 1);
    }
  const kept = [...counts.entries()].filter(([p, c]) => Array.from(p).length === 1 || c >= 2);
  const total = kept.reduce((s, [, c]) => s + c, 0);
  kept.sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  const vocab = special.map(s => [s, 0.0]);
  if (bytes) for (let b = 0; b < 256; b++) vocab.push(['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>', -30.0]);
  for (const [p, c] of kept) vocab.push([p, Math.log(c / total)]);
  return vocab;
}

const corpus = [
  'Hello, world!',
  'The quick brown fox jumps over the lazy dog.',
  "It's a dog's life; they'll say we've I'm you'd.",
  '   leading spaces and trailing   ',
  'tabs\tand\nnewlines\n\n  mixed \t\n',
  'Numbers: 1234567890, 3.14159, -42, 1e-5',
  'Unicode: café, naïve, Ångström, Straße, Ελληνικά, русский, 中文字符, 日本語, 한국어',
  'decomposed: cafe\u0301 nai\u0308ve, and ｅ\u0301 with a prefix key',
  'fullwidth ＡＢＣ１２３ and ligatures ﬁ ﬂ ﬃ, circled ① ⑳, ㎏ ㍻ ½',
  'Emoji: 😀🎉👍🏽 family 👨‍👩‍👧‍👦 flags 🇫🇷',
  'Code: def f(x):\n    return x ** 2  # square\n',
  'control\u0001chars\u007f and zero\u200bwidth and non\u00a0breaking\u3000spaces',
  'the cat sat on the mat',
  'once upon a time, in a small house...',
  'unseen wørds and ünïcödé',
  '</s> inside <s> text and a <mask> token',
  'a',
  '',
  ' ',
  'UPPER lower MiXeD',
  '<mask>at the start, and two  <mask>  spaces',
  'a long word without spaces: thecatsatonthematandthedogsatonthelog',
  '中文字符日本語한국어 in a run, then Ελληνικά',
  '\t\n  ',
];

function special(id, content, extra = {}) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...extra };
}
function template(single, specials) {
  const tokens = {};
  for (const [t, id] of specials) tokens[t] = { id: t, ids: [id], tokens: [t] };
  return { type: 'TemplateProcessing', single, pair: single.concat([{ Sequence: { id: 'B', type_id: 1 } }]), special_tokens: tokens };
}
const normalizer = map => ({ type: 'Sequence', normalizers: [{ type: 'Precompiled', precompiled_charsmap: map.toString('base64') },
  { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' }] });
const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true };

function variants() {
  const map = charsmap();
  // XLM-R's layout: <s> <pad> </s> <unk> first, <mask> last and lstrip; Metaspace; <s> $A </s>
  const xlmrVocab = unigramVocab(['<s>', '<pad>', '</s>', '<unk>'], false);
  xlmrVocab.push(['<mask>', 0.0]);
  const xlmr = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special(0, '<s>'), special(1, '<pad>'), special(2, '</s>'), special(3, '<unk>'), special(xlmrVocab.length - 1, '<mask>', { lstrip: true })],
    normalizer: normalizer(map), pre_tokenizer: metaspace,
    post_processor: template([{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      [['<s>', 0], ['</s>', 2]]),
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: 3, vocab: xlmrVocab, byte_fallback: false },
  };
  // T5's layout: <pad> </s> <unk>; WhitespaceSplit then Metaspace; $A </s>; here with byte fallback and its decoder
  const t5 = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>')],
    normalizer: normalizer(map), pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspace] },
    post_processor: template([{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }], [['</s>', 1]]),
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
      { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
    model: { type: 'Unigram', unk_id: 2, vocab: unigramVocab(['<pad>', '</s>', '<unk>'], true), byte_fallback: true },
  };
  return { 'unigram-xlmr': xlmr, 'unigram-t5': t5 };
}

(async () => {
  for (const [name, j] of Object.entries(variants())) {
    const dir = path.join(ROOT, name);
    fs.mkdirSync(dir, { recursive: true });
    const t = Tokenizer.fromString(JSON.stringify(j));
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(j));
    const out = [];
    for (const text of corpus) {
      const plain = await t.encode(text, null, { addSpecialTokens: false });
      const withSpecial = await t.encode(text);
      out.push({ text, ids: plain.getIds(), ids_with_special: withSpecial.getIds(), tokens: plain.getTokens(),
        decoded: await t.decode(withSpecial.getIds(), true) });
    }
    fs.writeFileSync(path.join(dir, 'cases.json'), JSON.stringify(out, null, 1));
    console.log(`${name}: ${out.length} cases written`);
  }
})();
