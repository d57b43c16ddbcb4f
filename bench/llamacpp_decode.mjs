// llama.cpp's decode speed at batch 1 (node-llama-cpp's prebuilt CPU build, reference/llamacpp):
// a 16-token prompt, then N greedy tokens; best of R runs. F32 KV cache, flash attention off, as lora4j.
//   node bench/llamacpp_decode.mjs MODEL.gguf [N=64] [R=3] [THREADS=2]  ->  {"decode_tokens_per_s": x, "prompt_tokens_per_s": y}
import {createRequire} from "node:module";
import path from "node:path";
import {fileURLToPath} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const {getLlama} = await import(createRequire(path.join(here, "../reference/llamacpp/package.json")).resolve("node-llama-cpp"));
const [file, n = "64", reps = "3", threads = "2"] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath: file});
let bestDecode = 0, bestPrompt = 0;
for (let r = 0; r <= Number(reps); r++) {
    const context = await model.createContext({contextSize: 256, sequences: 1, flashAttention: false, threads: Number(threads),
        experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"});
    const seq = context.getSequence();
    const prompt = Array.from({length: 16}, (_, i) => (i * 7919) % 500);
    const t0 = performance.now();
    let t1 = 0, count = 0;
    for await (const t of seq.evaluate(prompt, {temperature: 0, yieldEogToken: true})) {
        if (count === 0) t1 = performance.now(); // the prompt's pass and the first token
        if (++count > Number(n)) break;
    }
    const t2 = performance.now();
    if (r > 0) { // the first run warms up
        bestDecode = Math.max(bestDecode, Number(n) / ((t2 - t1) / 1000));
        bestPrompt = Math.max(bestPrompt, prompt.length / ((t1 - t0) / 1000));
    }
    await context.dispose();
}
process.stdout.write(JSON.stringify({decode_tokens_per_s: bestDecode, prompt_tokens_per_s: bestPrompt}) + "\n");
await model.dispose();
await llama.dispose();
