// llama.cpp as the reference for lora4j's GGUF files, through node-llama-cpp's prebuilt CPU build.
// One JSON request on stdin, one JSON answer on stdout:
//   {"model": F, "adapter": A|null, "ids": [...], "greedy": N}  -> {"tokens": [N greedy ids after ids]}
//   {"model": F, "adapter": A|null, "ids": [...], "logprobs": true} -> {"logprobs": [[vocab log-probs after ids[0..i]] for each i]}
//   {"model": F, "tokenize": [texts]} -> {"ids": [[ids of each text, no BOS, special tokens as text]]}
// The KV cache is F32 and flash attention off (llama.cpp's defaults, an F16 cache and flash attention "auto",
// change the numbers); given ids, llama.cpp adds no BOS.
import {getLlama} from "node-llama-cpp";

const request = JSON.parse(await new Promise(resolve => {
    let s = "";
    process.stdin.on("data", d => s += d);
    process.stdin.on("end", () => resolve(s));
}));
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath: request.model});
if (request.tokenize) {
    process.stdout.write(JSON.stringify({ids: request.tokenize.map(t => Array.from(model.tokenize(t, false)))}) + "\n");
    await model.dispose();
    await llama.dispose();
    process.exit(0);
}
const context = await model.createContext({
    contextSize: 256, sequences: 1, flashAttention: false, threads: 2,
    experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
    ...(request.adapter ? {lora: {adapters: [{filePath: request.adapter, scale: 1}]}} : {})
});
const sequence = context.getSequence();
let answer;
if (request.greedy) {
    const tokens = [];
    for await (const t of sequence.evaluate(request.ids, {temperature: 0, yieldEogToken: true})) {
        tokens.push(t);
        if (tokens.length >= request.greedy) break;
    }
    answer = {tokens};
} else {
    const vocab = model.tokens.length ?? model.fileInsights.vocabularySize;
    const out = await sequence.controlledEvaluate(request.ids.map(id => [id, {generateNext: {probabilities: true, options: {temperature: 1, topK: 0, topP: 1, minP: 0}}}]));
    answer = {logprobs: out.map(o => {
        const lp = new Array(vocab).fill(null);
        for (const [tok, p] of o.next.probabilities) lp[tok] = Math.log(p);
        return lp;
    })};
}
process.stdout.write(JSON.stringify(answer) + "\n");
await context.dispose();
await model.dispose();
await llama.dispose();
