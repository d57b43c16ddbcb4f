// Rust tokenizers (npm `tokenizers`, the Hugging Face binding) on a tokenizer.json and a text file, one
// document a line ("\n" inside a line stands for a newline): load time, and single-call encode throughput
// (each document awaited before the next, no batch parallelism), best of five passes after one warm-up.
// Prints one JSON line, as `lora4j bench tokenize` does.
const fs = require('fs');
const path = require('path');
const req = require('module').createRequire(path.join(process.cwd(), 'noop.js'));
const { Tokenizer } = req('tokenizers');
(async () => {
  const [file, textFile] = process.argv.slice(2);
  let t0 = process.hrtime.bigint();
  const t = Tokenizer.fromFile(file);
  const load = Number(process.hrtime.bigint() - t0) / 1e6;
  const docs = fs.readFileSync(textFile, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => l.split('\\n').join('\n'));
  let best = Infinity, tokens = 0;
  for (let pass = 0; pass < 6; pass++) {
    t0 = process.hrtime.bigint();
    let n = 0;
    for (const d of docs) n += (await t.encode(d, null, { addSpecialTokens: false })).getIds().length;
    if (pass > 0) best = Math.min(best, Number(process.hrtime.bigint() - t0));
    tokens = n;
  }
  console.log(JSON.stringify({ impl: 'rust', load_ms: load, tokens, tokens_per_s: tokens / (best / 1e9) }));
})();
